import Foundation

// tt-soak: the request driver of scripts/soak. Subcommands:
//   drive      clients on every route for a while; one summary line per figure, and a ledger of the
//              non-idempotent requests it sent
//   verify     reads that ledger and the servers' --request-log files: which non-idempotent request ran twice
//   free-port  prints a loopback port that was free a moment ago (for servers restarted on the same port)
let arguments = Array(CommandLine.arguments.dropFirst())
do {
    switch arguments.first {
    case "drive": try Drive(Arguments(arguments.dropFirst())).run()
    case "verify": try Verify(Arguments(arguments.dropFirst())).run()
    case "free-port": print(try FreePort.pick())
    default:
        FileHandle.standardError.write(Data("usage: tt-soak drive|verify|free-port [options]\n".utf8))
        exit(2)
    }
} catch {
    FileHandle.standardError.write(Data("tt-soak: \(error)\n".utf8))
    exit(1)
}
