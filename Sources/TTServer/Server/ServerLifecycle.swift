import Glibc
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
    /// The `file` label of its reload gauges.
    public var file: ServerMetrics.ReloadedFile
    /// Reads the source again and puts it in place; reports what changed, in words fit for a log (counts, never
    /// secrets). Throwing keeps what was in place.
    public var perform: @Sendable () async throws -> ReloadReport

    public init(
        name: String,
        file: ServerMetrics.ReloadedFile,
        perform: @escaping @Sendable () async throws -> ReloadReport
    ) {
        self.name = name
        self.file = file
        self.perform = perform
    }
}

/// What a reload that took effect says: its changes, and a warning when they look like a mistake.
public struct ReloadReport: Sendable, Hashable {
    /// What changed, for the `notice` line.
    public var changes: String
    /// Logged at `warning` level instead when set (a reload that removed most users, say).
    public var warning: String?

    public init(changes: String, warning: String? = nil) {
        self.changes = changes
        self.warning = warning
    }
}

/// Runs every ``ReloadAction`` on each `SIGHUP`, in order, logs each result and records it in the reload gauges
/// (``ServerMetrics/reloaded(_:succeeded:at:)``); a failing action is logged at error level and leaves the others
/// and the running sessions alone. Stops with the group's graceful shutdown.
public struct ReloadService: Service {
    private let signals: UnixSignalsSequence
    private let actions: [ReloadAction]
    private let metrics: ServerMetrics
    private let logger: Logger

    /// - Parameters:
    ///   - signals: A sequence already trapping `SIGHUP` (create it before anything announces that the process is
    ///     up, so an early `SIGHUP` is not the default action, which ends the process).
    ///   - metrics: Gets each action's outcome; every file counts as loaded when the service starts (the server
    ///     does not start without them).
    public init(signals: UnixSignalsSequence, actions: [ReloadAction], metrics: ServerMetrics, logger: Logger) {
        self.signals = signals
        self.actions = actions
        self.metrics = metrics
        self.logger = logger
    }

    public func run() async throws {
        for action in actions { metrics.reloaded(action.file, succeeded: true, at: Self.now()) }
        for await _ in signals.cancelOnGracefulShutdown() {
            logger.info("SIGHUP received, reloading", metadata: ["actions": "\(actions.map(\.name))"])
            for action in actions {
                do {
                    let report = try await action.perform()
                    metrics.reloaded(action.file, succeeded: true, at: Self.now())
                    if let warning = report.warning {
                        logger.warning(
                            "reloaded, but \(warning)",
                            metadata: ["what": "\(action.name)", "changes": "\(report.changes)"]
                        )
                    } else {
                        logger.notice("reloaded", metadata: ["what": "\(action.name)", "changes": "\(report.changes)"])
                    }
                } catch {
                    metrics.reloaded(action.file, succeeded: false, at: Self.now())
                    logger.error(
                        "reload failed, keeping the previous one",
                        metadata: ["what": "\(action.name)", "error": "\(error)"]
                    )
                }
            }
        }
    }

    /// Wall-clock seconds since 1970, as Prometheus timestamps go.
    private static func now() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }
}
