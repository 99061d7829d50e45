public import Foundation

/// Waits until `condition` holds, looking every 10 ms for at most `timeout`; returns whether it came to hold.
///
/// For a test that must let something happen first (a request in flight, a retry begun): a fixed sleep waits too
/// long on a quiet machine and not long enough on a loaded one. Assert the result: `#expect(await waitUntil { … })`.
@discardableResult
public func waitUntil(
    timeout: Duration = .seconds(10),
    isolation: isolated (any Actor)? = #isolation,
    _ condition: () -> Bool
) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while !condition() {
        guard ContinuousClock.now < deadline else { return false }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return true
}

/// Waits until a socket listens on `port` (any local address, IPv4 or IPv6), for at most `timeout`; returns
/// whether one did.
///
/// It reads the kernel's socket tables (`/proc/net/tcp`, `/proc/net/tcp6`) instead of connecting, so a server
/// that takes one connection only (`openssl s_server -naccept 1`) keeps it for the test.
public func waitUntilListening(
    port: Int,
    timeout: Duration = .seconds(10),
    isolation: isolated (any Actor)? = #isolation
) async -> Bool {
    await waitUntil(timeout: timeout) { isListening(port: port) }
}

/// Whether a socket listens on `port` now (any local address, IPv4 or IPv6), from the kernel's socket tables.
public func isListening(port: Int) -> Bool {
    socketTablesContain { local, _, state in local.hasSuffix(":" + hexPort(port)) && state == "0A" }
}

/// Whether a socket on this machine is connected (state ESTABLISHED) to `port`, from the kernel's socket tables.
///
/// The client end of a connection leaves ESTABLISHED (for CLOSE_WAIT) once the kernel has taken in the peer's
/// close. That can come well after the peer's `close` returned on a loaded machine: loopback delivery may be left to
/// `ksoftirqd`, and a relay or proxy passes a close on from a thread of its own. A test that needs the client to
/// see a close waits for this to turn false.
public func hasEstablishedConnection(toPort port: Int) -> Bool {
    socketTablesContain { _, remote, state in remote.hasSuffix(":" + hexPort(port)) && state == "01" }
}

/// The port as the socket tables write it: four upper-case hex digits.
private func hexPort(_ port: Int) -> String { String(format: "%04X", port) }

/// Whether a line of `/proc/net/tcp` or `/proc/net/tcp6` satisfies `matches(local, remote, state)`.
private func socketTablesContain(_ matches: (Substring, Substring, Substring) -> Bool) -> Bool {
    // Fields: sl local_address rem_address st …; an address ends in ":" and its port in hex, st 0A is LISTEN.
    ["/proc/net/tcp", "/proc/net/tcp6"].contains { table in
        readWhole(table).split(separator: "\n").dropFirst().contains { line in
            let fields = line.split(separator: " ")
            return fields.count > 3 && matches(fields[1], fields[2], fields[3])
        }
    }
}

/// Starts a child that is told its port (`socat`, `openssl s_server`: they cannot bind port 0 and report it) and
/// waits, for at most `timeout`, until it listens; another port is tried when it exits or does not listen
/// (``withFreeLoopbackPort(attempts:isolation:_:)``).
public func startListeningProcess(
    _ executable: URL,
    timeout: Duration = .seconds(30),
    isolation: isolated (any Actor)? = #isolation,
    arguments: (Int) -> [String]
) async throws -> (process: RunningProcess, port: Int) {
    try await withFreeLoopbackPort { port in
        let process = try RunningProcess(executable, arguments(port))
        await waitUntil(timeout: timeout) { !process.isRunning || isListening(port: port) }
        if process.isRunning, isListening(port: port) { return (process, port) }
        let output = process.outputSoFar
        await process.stop()
        throw ProcessRunError(
            description: "\(executable.lastPathComponent) did not listen on 127.0.0.1:\(port): \(output)"
        )
    }
}
