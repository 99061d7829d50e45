/// Polls `condition` every 10 ms until it holds or `timeout` passes (bounded): whether it held.
public func waitUntil(
    timeout: Duration = .seconds(10),
    _ condition: @Sendable () -> Bool
) async throws -> Bool {
    let deadline = ContinuousClock.now + timeout
    while !condition() {
        guard ContinuousClock.now < deadline else { return false }
        try await Task.sleep(for: .milliseconds(10))
    }
    return true
}
