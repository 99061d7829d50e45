import TTTransport
import Testing

struct UnexpectedSuccess: Error {}

/// Runs `body` on its own thread and returns the ``TransportError`` it throws; records an issue and throws
/// when it succeeds or throws something else.
func transportFailure(
    sourceLocation: SourceLocation = #_sourceLocation,
    _ body: @escaping @Sendable () throws -> Void
) async throws -> TransportError {
    let result: Result<Void, any Error> = try await onThread { Result { try body() } }
    switch result {
    case .success:
        Issue.record("expected a TransportError, but the operation succeeded", sourceLocation: sourceLocation)
        throw UnexpectedSuccess()
    case .failure(let error as TransportError):
        return error
    case .failure(let error):
        Issue.record("expected a TransportError, got \(error)", sourceLocation: sourceLocation)
        throw error
    }
}

/// Like ``transportFailure(sourceLocation:_:)``, also returning how long `body` ran, measured on its own
/// thread so a busy machine's scheduling delays around it do not count.
func timedTransportFailure(
    sourceLocation: SourceLocation = #_sourceLocation,
    _ body: @escaping @Sendable () throws -> Void
) async throws -> (error: TransportError, elapsed: Duration) {
    let result: (Result<Void, any Error>, Duration) = try await onThread {
        let started = ContinuousClock.now
        let result = Result { try body() }
        return (result, ContinuousClock.now - started)
    }
    switch result.0 {
    case .success:
        Issue.record("expected a TransportError, but the operation succeeded", sourceLocation: sourceLocation)
        throw UnexpectedSuccess()
    case .failure(let error as TransportError):
        return (error, result.1)
    case .failure(let error):
        Issue.record("expected a TransportError, got \(error)", sourceLocation: sourceLocation)
        throw error
    }
}
