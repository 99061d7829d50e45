import ArgumentParser

/// `tt-bench free-port`: prints a port on 127.0.0.1 that was free a moment ago, for peers (squid, tinyproxy)
/// that cannot listen on port 0 and report the port back.
struct FreePort: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "free-port", abstract: "Print a free loopback port.")

    func run() throws {
        let (_, port) = try Socket.listenLoopback(backlog: 1)
        print(port)
    }
}
