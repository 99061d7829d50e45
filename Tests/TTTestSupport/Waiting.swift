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
    // Fields: sl local_address rem_address st …; the local port is hex after the colon, st 0A is LISTEN.
    let portHex = String(format: "%04X", port)
    return ["/proc/net/tcp", "/proc/net/tcp6"].contains { table in
        readWhole(table).split(separator: "\n").dropFirst().contains { line in
            let fields = line.split(separator: " ")
            return fields.count > 3 && fields[1].hasSuffix(":" + portHex) && fields[3] == "0A"
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
