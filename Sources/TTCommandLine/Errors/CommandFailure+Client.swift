package import TTClient
package import TTCommandSupport
package import TTTransport

extension CommandFailure {
    /// A client failure, with the exit code of its category.
    package init(_ error: FrameworkClientError) {
        self.init(exitCode: error.category.exitCode, message: error.commandLineMessage)
    }

    /// A transport failure, with the exit code of its category (a closed connection counts as the server
    /// being unreachable, as it does for the client).
    package init(_ error: TransportError) {
        self.init(FrameworkClientError(error))
    }
}
