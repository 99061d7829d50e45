public import Logging
public import ServiceLifecycle
public import UnixSignals

/// A ``FrameworkServer`` as a swift-service-lifecycle service: it runs until the group's graceful shutdown
/// (SIGTERM, SIGINT), which drains it: health turns 503, the listeners close, in-flight requests finish within
/// ``ServerConfiguration/shutdownGracePeriod`` and idle sessions are closed at once, so their clients reconnect
/// to another server of the fleet.
public struct FrameworkServerService: Service {
    private let server: FrameworkServer
    private let onRunning: @Sendable () -> Void

    /// - Parameter onRunning: Called once the group runs, i.e. once its signal handlers are installed: a parent
    ///   that waits for what it prints may signal at once and gets a graceful shutdown.
    public init(_ server: FrameworkServer, onRunning: @escaping @Sendable () -> Void = {}) {
        self.server = server
        self.onRunning = onRunning
    }

    public func run() async throws {
        onRunning()
        let server = self.server
        try await withGracefulShutdownHandler {
            try await server.run()
        } onGracefulShutdown: {
            Task { await server.shutdown() }
        }
    }
}

/// The admin listener as a service: it answers until the group's graceful shutdown reaches it. Put it first in
/// the group, so that it is shut down last and reports 503 while the framework server drains.
public struct AdminService: Service {
    private let admin: AdminServer

    public init(_ admin: AdminServer) {
        self.admin = admin
    }

    public func run() async throws {
        try? await gracefulShutdown()
        await admin.close()
    }
}

/// One thing `SIGHUP` reloads: the users file, and whatever else gets added (a TLS certificate, say).
public struct ReloadAction: Sendable {
    /// What is reloaded, for the log line (`users file`).
    public var name: String
    /// Reads the source again and puts it in place; returns what changed, in words fit for a log (counts, never
    /// secrets). Throwing keeps what was in place.
    public var perform: @Sendable () async throws -> String

    public init(name: String, perform: @escaping @Sendable () async throws -> String) {
        self.name = name
        self.perform = perform
    }
}

/// Runs every ``ReloadAction`` on each `SIGHUP`, in order, and logs each result; a failing action is logged and
/// leaves the others and the running sessions alone. Stops with the group's graceful shutdown.
public struct ReloadService: Service {
    private let signals: UnixSignalsSequence
    private let actions: [ReloadAction]
    private let logger: Logger

    /// - Parameter signals: A sequence already trapping `SIGHUP` (create it before anything announces that
    ///   the process is up, so an early `SIGHUP` is not the default action, which ends the process).
    public init(signals: UnixSignalsSequence, actions: [ReloadAction], logger: Logger) {
        self.signals = signals
        self.actions = actions
        self.logger = logger
    }

    public func run() async throws {
        for await _ in signals.cancelOnGracefulShutdown() {
            logger.info("SIGHUP received, reloading", metadata: ["actions": "\(actions.map(\.name))"])
            for action in actions {
                do {
                    let changes = try await action.perform()
                    logger.notice("reloaded", metadata: ["what": "\(action.name)", "changes": "\(changes)"])
                } catch {
                    logger.error(
                        "reload failed, keeping the previous one",
                        metadata: ["what": "\(action.name)", "error": "\(error)"]
                    )
                }
            }
        }
    }
}
