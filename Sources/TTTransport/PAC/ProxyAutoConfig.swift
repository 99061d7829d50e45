import CPacParser
import TTBasics

/// One entry of a PAC answer that tt-connect can use.
public enum ProxyAutoConfigEntry: Sendable, Hashable, CustomStringConvertible {
    /// `DIRECT`: connect to the server itself.
    case direct
    /// `PROXY host:port` or `HTTP host:port` (plain), `HTTPS host:port` (TLS to the proxy).
    case proxy(HTTPProxy)

    public var description: String {
        switch self {
        case .direct: "DIRECT"
        case .proxy(let proxy): "\(proxy.scheme == .https ? "HTTPS" : "PROXY") \(proxy.endpoint)"
        }
    }
}

/// A proxy auto-configuration (PAC) script's answer for one target: the entries to try, in order.
///
/// The script comes from a file or an http(s):// URL (fetched with libcurl, never through a proxy) and is
/// evaluated by libpacparser (``evaluate(script:target:)``) as `FindProxyForURL("https://HOST:PORT/", "HOST")`:
/// the tunnel carries our own protocol, and https:// is the URL scheme a browser would ask about for a CONNECT
/// tunnel. There is no WPAD discovery (docs/TRANSPORT.md says why).
public struct ProxyAutoConfig: Sendable, Hashable {
    /// Where the script came from (a path or URL), for messages: the password of a URL is redacted
    /// (``redacted(location:)``).
    public var source: String
    /// Where the script came from as given, a URL's password included: to load it again, never to show.
    public var location: String
    /// The script's raw answer, e.g. `PROXY a:3128; PROXY b:8080; DIRECT`.
    public var answer: String
    /// The usable entries in the script's order.
    public var entries: [ProxyAutoConfigEntry]
    /// Entries left out because tt-connect cannot use them (`SOCKS host:port`).
    public var skipped: [String]

    /// An answer built by hand (or by another PAC evaluator); ``resolve(location:target:deadline:)`` makes one
    /// from a script. `source` is where the script came from; it is kept as ``location`` and shown redacted.
    public init(source: String, answer: String, entries: [ProxyAutoConfigEntry], skipped: [String] = []) {
        self.location = source
        self.source = Self.redacted(location: source)
        self.answer = answer
        self.entries = entries
        self.skipped = skipped
    }

    /// The largest script accepted (real ones are a few KiB); more is not a PAC file.
    static let sizeLimit = 1024 * 1024
    /// The longest answer accepted from `FindProxyForURL`; a longer one is refused, not cut.
    static let answerLimit = 64 * 1024
    /// How many usable entries of an answer are tried; the rest are left out (and said so).
    static let entryLimit = 8
    /// How much memory an evaluation may add to what its child process inherits.
    static let memoryLimit = 256 * 1024 * 1024
    /// How long an evaluation may take when the caller gives no deadline.
    static let defaultTimeout = Duration.seconds(15)

    /// Loads the script at `location` (a path, `file://` or `http[s]://` URL) and evaluates it for `target`,
    /// fetching and evaluating within `deadline`; `interrupter` stops either from another thread at once.
    /// - Throws: ``TransportError`` of category ``TransportError/Category/configuration`` naming the script
    ///   when it cannot be read or fetched, does not evaluate, or answers nothing usable;
    ///   ``TransportError/Category/timedOut`` when the fetch or the evaluation outlasts `deadline`;
    ///   `CancellationError` when `interrupter` stopped it.
    public static func resolve(
        location: String,
        target: Endpoint,
        deadline: Deadline,
        interrupter: ConnectionInterrupter? = nil
    ) throws -> ProxyAutoConfig {
        do {
            let script = try load(location, deadline: deadline, interrupter: interrupter)
            var pac = try evaluate(
                script: script,
                source: redacted(location: location),
                target: target,
                deadline: deadline,
                interrupter: interrupter
            )
            pac.location = location
            return pac
        } catch  where interrupter?.isInterrupted ?? false {
            throw CancellationError()
        }
    }

    /// ``resolve(location:target:deadline:interrupter:)`` for async code: the fetch and the evaluation block, so
    /// they run on a thread of their own, never on the cooperative pool. Cancelling the calling task stops them
    /// within about 20 ms: the fetch is aborted, the evaluating child process killed and reaped.
    /// - Throws: as the blocking one; `CancellationError` when the task was cancelled.
    public static func resolve(location: String, target: Endpoint, deadline: Deadline) async throws -> ProxyAutoConfig {
        let interrupter = ConnectionInterrupter()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Self, any Error>) in
                do {
                    try OSThread.detach(name: "tt-pac") {
                        continuation.resume(
                            with: Result {
                                try resolve(
                                    location: location,
                                    target: target,
                                    deadline: deadline,
                                    interrupter: interrupter
                                )
                            }
                        )
                    }
                } catch {
                    continuation.resume(
                        throwing: TransportError(
                            stage: .proxyConnect,
                            category: .internalError,
                            message: "cannot evaluate the PAC file \(location): no thread for it (\(error))"
                        )
                    )
                }
            }
        } onCancel: {
            interrupter.interrupt()
        }
    }

    /// Evaluates PAC `script` for `target` in a child process (libpacparser runs nowhere else): killed when
    /// `deadline` passes (15 s when it never does), when it uses more than 256 MiB or its CPU time, or when its
    /// answer is over 64 KiB, or when `interrupter` is interrupted (checked every 20 ms). No lock is held
    /// meanwhile, so evaluations run side by side.
    /// - Throws: ``TransportError`` naming the script: ``TransportError/Category/timedOut`` when it ran out of
    ///   time, ``TransportError/Category/configuration`` otherwise; `CancellationError` when interrupted.
    public static func evaluate(
        script: String,
        source: String,
        target: Endpoint,
        deadline: Deadline = .never,
        interrupter: ConnectionInterrupter? = nil
    ) throws -> ProxyAutoConfig {
        // Messages name the source; a library caller may pass a URL with its password.
        let source = redacted(location: source)
        let url = "https://\(target.hostForURL):\(target.port)/"
        let timeout = deadline.remaining ?? defaultTimeout
        var result = [CChar](repeating: 0, count: answerLimit + 1)
        var error = [CChar](repeating: 0, count: 1024)
        let outcome = withExtendedLifetime(interrupter) {
            CPacParser_evaluate(
                script,
                url,
                target.host,
                Int32(clamping: max(0, timeout.wholeMilliseconds)),
                UInt(memoryLimit),
                UInt(max(1, timeout.wholeMillisecondsRoundedUp / 1000 + 1)),
                interrupter == nil ? nil : isInterrupted,
                interrupter.map { Unmanaged.passUnretained($0).toOpaque() },
                &result,
                result.count,
                &error,
                error.count
            )
        }
        let detail = Self.scriptError(Self.text(error))
        switch outcome {
        case CPacParser_OK:
            break
        case CPacParser_CANCELLED:
            throw CancellationError()
        case CPacParser_TIMED_OUT:
            throw TransportError(
                stage: .proxyConnect,
                category: .timedOut,
                message: "the PAC file \(source) did not answer within \(timeout.readable) (--timeout): "
                    + "FindProxyForURL was stopped; the script loops or waits, ask its author"
            )
        case CPacParser_TOO_LARGE:
            throw TransportError.configuration(
                "the PAC file \(source) answered more than \(answerLimit / 1024) KiB for \(target): "
                    + "that is no list of proxies"
            )
        case CPacParser_RESOURCE_LIMIT:
            throw TransportError.configuration(
                "the PAC file \(source) was stopped: it used more than \(memoryLimit / 1024 / 1024) MiB or its "
                    + "CPU time (\(detail))"
            )
        case CPacParser_SCRIPT_ERROR:
            throw TransportError.configuration(
                "the PAC file \(source) cannot be evaluated"
                    + (detail.isEmpty ? "" : " (\(detail))")
                    + ": it must define FindProxyForURL(url, host) in JavaScript"
            )
        default:
            throw TransportError(
                stage: .proxyConnect,
                category: .internalError,
                message: "the PAC file \(source) could not be evaluated: \(detail)"
            )
        }
        let answer = String(Self.text(result).trimmingWhitespace())
        return try parse(answer: answer, source: source, target: target)
    }

    /// `location` as a message may show it: an http(s):// URL's password (`http://user:pass@host/proxy.pac`,
    /// which libcurl sends as Basic authentication) replaced by `<redacted>`, as ``HTTPProxy`` shows a proxy URL.
    public static func redacted(location: String) -> String {
        let lowered = location.lowercased()
        guard lowered.hasPrefix("http://") || lowered.hasPrefix("https://") else { return location }
        return HTTPProxy.redacted(location)
    }

    /// `CPacParser_evaluate`'s cancellation check; `context` is an unretained ``ConnectionInterrupter``.
    private static let isInterrupted: @convention(c) (UnsafeMutableRawPointer?) -> Int32 = { context in
        guard let context else { return 0 }
        return Unmanaged<ConnectionInterrupter>.fromOpaque(context).takeUnretainedValue().isInterrupted ? 1 : 0
    }

    /// pacparser's report as one line: `JSERROR: PAC script:2:` and the error on the next line become
    /// `line 2: SyntaxError: …`; its own trailer (`pacparser.c: …: Failed to evaluate the pac script.`) goes when
    /// something more specific came before it. Each line is escaped: the script's text may be anything.
    static func scriptError(_ text: String) -> String {
        var parts: [String] = []
        for line in text.split(whereSeparator: \.isNewline) {
            let line = line.trimmingWhitespace()
            guard !line.isEmpty else { continue }
            if line.hasPrefix("pacparser.c:"), !parts.isEmpty { continue }
            let position = "JSERROR: PAC script:"
            if line.hasPrefix(position) {
                let number = line.dropFirst(position.count).split(separator: ":").first.map(String.init) ?? ""
                parts.append("line \(PrintableBytes.escaped(Array(number.utf8), limit: 12)):")
                continue
            }
            parts.append(PrintableBytes.escaped(Array(line.utf8), limit: 300))
        }
        return parts.joined(separator: " ")
    }

    /// The text of a NUL-terminated C buffer.
    private static func text(_ buffer: [CChar]) -> String {
        let bytes = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Parses `FindProxyForURL`'s answer: entries separated by `;`, each `DIRECT` or `KIND host:port`.
    /// Entries it cannot use are listed escaped (the script's text may hold terminal control sequences), the
    /// first ``entryLimit`` of them; the others are only counted.
    static func parse(answer: String, source: String, target: Endpoint) throws -> ProxyAutoConfig {
        var entries: [ProxyAutoConfigEntry] = []
        var skipped: [String] = []
        var unlisted = 0
        var beyondLimit = 0
        func skip(_ item: Substring) {
            guard skipped.count < entryLimit else {
                unlisted += 1
                return
            }
            skipped.append(PrintableBytes.escaped(Array(item.trimmingWhitespace().utf8), limit: 100))
        }
        for item in answer.split(separator: ";") {
            let words = item.split(whereSeparator: \.isWhitespace)
            guard let kind = words.first?.uppercased() else { continue }
            if kind == "DIRECT", words.count == 1 {
                if entries.count < entryLimit { entries.append(.direct) } else { beyondLimit += 1 }
                continue
            }
            guard words.count == 2, ["PROXY", "HTTP", "HTTPS"].contains(kind) else {
                skip(item)
                continue
            }
            guard entries.count < entryLimit else {
                beyondLimit += 1
                continue
            }
            do {
                let scheme = kind == "HTTPS" ? "https" : "http"
                entries.append(.proxy(try HTTPProxy(parsing: "\(scheme)://\(words[1])")))
            } catch {
                skip(item)
            }
        }
        if unlisted > 0 {
            skipped.append("\(unlisted) more entries tt-connect cannot use")
        }
        if beyondLimit > 0 {
            skipped.append("\(beyondLimit) more entries: only the first \(entryLimit) are tried")
        }
        let shown = PrintableBytes.escaped(Array(answer.utf8), limit: 200)
        guard !entries.isEmpty else {
            throw TransportError.configuration(
                "the PAC file \(source) answered \"\(shown)\" for \(target): no entry tt-connect can use "
                    + "(it uses PROXY, HTTP, HTTPS and DIRECT entries)"
            )
        }
        return ProxyAutoConfig(source: source, answer: shown, entries: entries, skipped: skipped)
    }

    private static func load(
        _ location: String,
        deadline: Deadline,
        interrupter: ConnectionInterrupter?
    ) throws -> String {
        let lowered = location.lowercased()
        if lowered.hasPrefix("http://") || lowered.hasPrefix("https://") {
            return try PacFetcher.fetch(location, deadline: deadline, interrupter: interrupter)
        }
        let path = lowered.hasPrefix("file://") ? String(location.dropFirst("file://".count)) : location
        // A regular file of at most sizeLimit bytes, read no further: a FIFO, a device (/dev/zero) or a huge
        // file is refused with the reason instead of being read whole first.
        let file: FilePermissions.CheckedFile?
        do {
            file = try FilePermissions.readChecking(path, what: "the PAC file", limit: sizeLimit)
        } catch {
            throw TransportError.configuration(error.description)
        }
        guard let file else {
            throw TransportError.configuration("cannot read the PAC file \(path): it does not exist")
        }
        guard let text = String(validating: file.bytes, as: UTF8.self) else {
            throw TransportError.configuration("the PAC file \(path) is not a PAC script (not UTF-8 text)")
        }
        return text
    }
}
