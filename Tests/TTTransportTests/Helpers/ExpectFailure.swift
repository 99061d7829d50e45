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
