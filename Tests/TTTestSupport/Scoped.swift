/// Something a test starts (a server, a proxy, a peer) and must stop, and wait for, before the test ends.
public protocol StoppableTestResource: Sendable {
    /// Stops the resource and waits until it has stopped. Calling it twice is harmless.
    func stop() async
}

/// Runs `body` with `resource` and stops it afterwards, awaited, whether `body` returns or throws.
///
/// ```swift
/// try await withStarted(TestProxy.start()) { proxy in
///     … use proxy …
/// }   // the proxy is stopped here, before the test goes on or ends
/// ```
///
/// A detached `defer { Task { await x.stop() } }` may never run before the test process exits, so servers,
/// proxies and their child processes outlived the test run; this does not.
public func withStarted<Resource: StoppableTestResource, Result>(
    _ resource: Resource,
    isolation: isolated (any Actor)? = #isolation,
    _ body: (Resource) async throws -> Result
) async throws -> Result {
    do {
        let result = try await body(resource)
        await resource.stop()
        return result
    } catch {
        await resource.stop()
        throw error
    }
}

extension TestServer: StoppableTestResource {}
extension TestProxy: StoppableTestResource {}
extension EchoServer: StoppableTestResource {}
extension PartialAnswerServer: StoppableTestResource {}
extension RealSquid: StoppableTestResource {}
extension RealTinyproxy: StoppableTestResource {}
extension InspectingSquid: StoppableTestResource {}

/// Runs `body` with a started child process and stops it afterwards (SIGTERM, then SIGKILL), awaited, whether
/// `body` returns or throws.
public func withStarted<Result>(
    _ process: RunningProcess,
    isolation: isolated (any Actor)? = #isolation,
    _ body: (RunningProcess) async throws -> Result
) async throws -> Result {
    do {
        let result = try await body(process)
        await process.stop()
        return result
    } catch {
        await process.stop()
        throw error
    }
}
