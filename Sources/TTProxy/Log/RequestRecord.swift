import struct FoundationEssentials.Date

/// Counts and reports one request for the access log; lives on the client channel's event loop.
final class RequestRecord {
    let client: String
    let requestLine: String
    let time = ContinuousClock.now
    let date: Date
    var status = 0
    var outcome = "client-closed"
    var bytesUp = 0
    var bytesDown = 0
    /// The user whose password was accepted.
    var user: String?
    private var sink: AccessLogSink?

    init(client: String, requestLine: String, sink: @escaping AccessLogSink) {
        self.client = client
        self.requestLine = AccessLogEntry.sanitize(requestLine)
        self.date = Date()
        self.sink = sink
    }

    /// Writes the entry once; later calls do nothing.
    func finish() {
        guard let sink else { return }
        self.sink = nil
        sink(
            AccessLogEntry(
                time: date,
                client: client,
                requestLine: requestLine,
                status: status,
                outcome: outcome,
                bytesUp: bytesUp,
                bytesDown: bytesDown,
                duration: ContinuousClock.now - time,
                user: user
            )
        )
    }
}

@available(*, unavailable)
extension RequestRecord: Sendable {}
