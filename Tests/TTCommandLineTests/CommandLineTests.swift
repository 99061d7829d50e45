import ArgumentParser
import Foundation
import TTClient
import TTTransport
import Testing

@testable import TTCommandLine
@testable import TTCommandSupport

@Suite("TTCommandLine pieces")
struct CommandLineTests {
    @Test("a stage line pads the name and right-aligns the time")
    func stageLine() {
        let line = StageLine(
            stage: "proxy",
            ok: true,
            duration: .microseconds(400),
            detail: "connected to 127.0.0.1:3128"
        )
        #expect(line.text == "✓ proxy        0.4 ms  connected to 127.0.0.1:3128")
        let failed = StageLine(stage: "handshake", ok: false, duration: .seconds(12), detail: "x")
        #expect(failed.text == "✗ handshake   12.00 s  x")
    }

    @Test("ping statistics print like TMSS10Ping, without round-trip line when nothing came back")
    func pingStatistics() {
        let some = PingStatistics(
            transmitted: 4,
            roundTrips: [.microseconds(310), .microseconds(380), .microseconds(360)]
        )
        #expect(
            some.summary(address: "127.0.0.1") == [
                "--- 127.0.0.1 TMSS10Ping statistics ---",
                "4 packets transmitted, 3 received, 25% packet loss",
                "round-trip min/avg/max = 0.31/0.35/0.38 ms",
            ]
        )
        #expect(
            PingStatistics(transmitted: 2).summary(address: "h") == [
                "--- h TMSS10Ping statistics ---", "2 packets transmitted, 0 received, 100% packet loss",
            ]
        )
    }

    @Test("bad flags exit 2 (not ArgumentParser's 64) and --help exits 0")
    func usageExitCodes() {
        #expect(CommandRunner.run(TTConnectCommand.self, arguments: ["--proxy-auth", "kerberos"]) == 2)
        #expect(CommandRunner.run(TTConnectCommand.self, arguments: ["--proxy-header", "no colon"]) == 2)
        #expect(CommandRunner.run(TTConnectCommand.self, arguments: ["--server-key", "MD5:abc"]) == 2)
        #expect(CommandRunner.run(TTConnectCommand.self, arguments: ["--timeout", "0"]) == 2)
        #expect(CommandRunner.run(TTConnectCommand.self, arguments: ["--proxy", "p:1", "--no-proxy"]) == 2)
        #expect(CommandRunner.run(TTPingCommand.self, arguments: ["-c", "-1", "h"]) == 2)
        #expect(CommandRunner.run(TTPingCommand.self, arguments: ["-P", "70000", "h"]) == 2)
        #expect(CommandRunner.run(TTConnectCommand.self, arguments: ["forward", "--listen", "127.0.0.1", "h:1"]) == 2)
        #expect(CommandRunner.run(TTConnectCommand.self, arguments: ["--help"]) == 0)
    }

    @Test("--listen accepts port 0; targets still need a real port")
    func listenEndpoint() throws {
        #expect(try ForwardCommand.listenEndpoint("127.0.0.1:0").port == 0)
        #expect(try ForwardCommand.listenEndpoint("[::1]:8022").description == "[::1]:8022")
        #expect(throws: (any Error).self) { try ForwardCommand.listenEndpoint("127.0.0.1") }
    }

    @Test("the route: --proxy always applies, an environment proxy never for loopback, --no-proxy wins")
    func routes() throws {
        let options = try ProxyOptions.parse(["--proxy", "http://127.0.0.1:3128"])
        let target = Endpoint(host: "127.0.0.1", port: 5000)
        let explicit = try options.resolveRoute(
            to: target,
            entry: nil,
            environment: [:],
            options: options.httpOptions()
        )
        #expect(explicit.reason.hasPrefix("proxy http://127.0.0.1:3128"))
        let environment = try ProxyOptions.parse([]).resolveRoute(
            to: target,
            entry: nil,
            environment: ["HTTPS_PROXY": "http://proxy.example:8080"],
            options: options.httpOptions()
        )
        #expect(environment.reason.contains("loopback target"))
        let none = try ProxyOptions.parse(["--no-proxy"])
        #expect(
            try none.resolveRoute(
                to: target,
                entry: nil,
                environment: ["HTTPS_PROXY": "http://p:1"],
                options: options.httpOptions()
            ).reason == "direct connection: --no-proxy"
        )
    }
}

@Suite("proxy credentials from the command line, the environment and the config file")
struct ProxyCredentialOptionTests {
    static let target = Endpoint(host: "127.0.0.1", port: 5000)

    static func proxy(
        _ arguments: [String],
        entry: ConnectionEntry? = nil,
        environment: [String: String] = [:]
    )
        throws -> HTTPProxy?
    {
        let options = try ProxyOptions.parse(arguments)
        let route = try options.resolveRoute(
            to: target,
            entry: entry.map { ($0, "config") },
            environment: environment,
            options: options.httpOptions()
        ).route
        if case .proxy(let proxy, _) = route { return proxy }
        return nil
    }

    @Test("--proxy-user : (curl's idiom) is accepted: an empty user, Kerberos ticket only")
    func colonMeansTicket() throws {
        let proxy = try Self.proxy(["--proxy", "127.0.0.1:3128", "--proxy-user", ":"])
        #expect(proxy?.credentials == ProxyCredentials(user: "", password: ""))
        #expect(throws: (any Error).self) { try ProxyOptions.parse(["--proxy-user", ":secret"]) }
    }

    @Test("TT_PROXY_PASSWORD fills a user without a password; an explicit password wins")
    func environmentPassword() throws {
        let environment = ["TT_PROXY_PASSWORD": "From-Env-1"]
        let filled = try Self.proxy(
            ["--proxy", "127.0.0.1:3128", "--proxy-user", "bob"],
            environment: environment
        )
        #expect(filled?.credentials == ProxyCredentials(user: "bob", password: "From-Env-1"))
        let explicit = try Self.proxy(
            ["--proxy", "127.0.0.1:3128", "--proxy-user", "bob:given"],
            environment: environment
        )
        #expect(explicit?.credentials?.password == "given")
        var entry = ConnectionEntry(name: "c")
        entry.proxy = try HTTPProxy(parsing: "127.0.0.1:3128")
        entry.proxyCredentials = ProxyCredentials(parsing: "carol")
        #expect(try Self.proxy([], entry: entry, environment: environment)?.credentials?.password == "From-Env-1")
    }

    @Test("--proxy-pac and --no-proxy contradict each other")
    func pacAndNoProxy() {
        #expect(throws: (any Error).self) { try ProxyOptions.parse(["--proxy-pac", "x.pac", "--no-proxy"]) }
    }
}

@Suite("pipe exit codes")
struct PipeExitCodeTests {
    @Test("a tunnel that breaks while relaying through a proxy is a proxy gateway failure (6), not exit 8")
    func brokenTunnelThroughProxy() {
        let error = TransportError(stage: .io, category: .connectionClosed, message: "receiving from x failed")
        let proxy = HTTPProxy(endpoint: Endpoint(host: "127.0.0.1", port: 3128))
        let throughProxy = PipeCommand.relayFailure(error, route: .proxy(proxy, HTTPProxyOptions()))
        #expect(throughProxy.exitCode == 6)
        #expect(throughProxy.message.contains("proxy 127.0.0.1:3128"))
        #expect(PipeCommand.relayFailure(error, route: .direct).exitCode == 8)
        // A PAC route names its proxy only once opened: the transport's report says which one.
        let pac = ProxyAutoConfigRoute(
            pac: ProxyAutoConfig(source: "p.pac", answer: "PROXY 127.0.0.1:3128", entries: [.proxy(proxy)], skipped: [])
        )
        let throughPac = PipeCommand.relayFailure(
            error,
            route: .autoConfigured(pac, HTTPProxyOptions()),
            through: proxy.endpoint
        )
        #expect(throughPac.exitCode == 6)
    }
}

@Suite("Library messages name values; the command line adds its flags")
struct CommandLineHintTests {
    @Test("login, proxy credentials and proxy TLS failures get the flag that sets the value, others nothing")
    func hints() {
        let login = FrameworkClientError(
            stage: .login,
            category: .loginRejected,
            message: "login as fred rejected; check the user name and password"
        )
        #expect(login.commandLineMessage.hasSuffix("(the logon string -S user:password@server:port)"))
        let proxyAuth = FrameworkClientError(
            stage: .proxyTunnel,
            category: .proxyAuthenticationRequired,
            message: "proxy requires authentication, and no proxy credentials were given"
        )
        #expect(proxyAuth.commandLineMessage.contains("--proxy-user USER:PASS"))
        let tls = FrameworkClientError(stage: .proxyConnect, category: .proxyProtocolViolation, message: "TLS failed")
        #expect(tls.commandLineMessage.contains("--proxy-cacert FILE"))
        #expect(tls.commandLineMessage.contains("--proxy-insecure"))
        let other = FrameworkClientError(stage: .request, category: .timedOut, message: "no answer")
        #expect(other.commandLineMessage == "no answer")
        #expect(CommandFailure(login).message == login.commandLineMessage)
    }

    @Test("proxy resolution names the settings, never a flag (the route test checks --no-proxy on the command line)")
    func proxyResolutionNamesNoFlag() throws {
        let target = Endpoint(host: "server.example", port: 5000)
        let direct = try ProxyConfiguration.resolve(target: target, flags: ProxyFlags(noProxy: true), environment: [:])
        #expect(!direct.reason.contains("--"))
        do throws(TransportError) {
            _ = try ProxyConfiguration.resolve(
                target: target,
                flags: ProxyFlags(proxy: "socks5://p:1"),
                environment: [:]
            )
            Issue.record("a socks5:// proxy was accepted")
        } catch {
            #expect(error.category == .configuration)
            #expect(!error.message.contains("--"))
        }
    }
}

@Suite("Issue 22: relay endings, report rate limit, usage wording")
struct RelayEndingAndWordingTests {
    @Test("a tunnel that returned nothing after raw bytes is the inspecting-proxy case (13); others say so")
    func relayEndings() {
        let target = Endpoint(host: "10.0.0.1", port: 22)
        let inspected = RelayEnding(
            progress: RelayResult(bytesToPeer: 21, bytesFromPeer: 0),
            target: target,
            proxy: "http://proxy:3128",
            wrapped: false
        )
        #expect(inspected.inspectionFailure?.exitCode == 13)
        #expect(
            inspected.inspectionFailure?.message
                == "the proxy closed the tunnel as soon as data was sent: it may allow only TLS; "
                + "`tt-connect check --tls never -x http://proxy:3128 10.0.0.1:22` tells"
        )
        var wrapped = inspected
        wrapped.wrapped = true
        #expect(wrapped.inspectionFailure == nil)
        #expect(
            wrapped.emptyNote
                == "the tunnel through http://proxy:3128 to 10.0.0.1:22 ended before anything came back (21 bytes sent)"
        )
        let direct = RelayEnding(
            progress: RelayResult(bytesToPeer: 1, bytesFromPeer: 0),
            target: target,
            proxy: nil,
            wrapped: false
        )
        #expect(direct.inspectionFailure == nil)
        #expect(direct.emptyNote == "the connection to 10.0.0.1:22 ended before anything came back (1 byte sent)")
        let answered = RelayEnding(
            progress: RelayResult(bytesToPeer: 5, bytesFromPeer: 7),
            target: target,
            proxy: "http://proxy:3128",
            wrapped: false
        )
        #expect(answered.emptyNote == nil && answered.inspectionFailure == nil)
        #expect(answered.counts == "5 bytes out, 7 in")
        // Few bytes, input finished first (a peeking squid waits for the end of the input): still the verdict.
        let peeked = RelayEnding(
            progress: RelayResult(bytesToPeer: 6, bytesFromPeer: 0, inputFinished: true),
            target: target,
            proxy: "http://proxy:3128",
            wrapped: false
        )
        #expect(peeked.inspectionFailure?.exitCode == 13)
        // More than a proxy reads before deciding went, and the tunnel ended after that: a sink that is done.
        let sink = RelayEnding(
            progress: RelayResult(bytesToPeer: 268_435_456, bytesFromPeer: 0, inputFinished: true),
            target: target,
            proxy: "http://proxy:3128",
            wrapped: false
        )
        #expect(sink.inspectionFailure == nil)
        #expect(
            sink.emptyNote
                == "the tunnel through http://proxy:3128 to 10.0.0.1:22 ended with nothing back after all the input "
                + "went (268435456 bytes)"
        )
    }

    @Test("forward's connection reports: a burst per window, the held-back ones counted in the next")
    func rateLimit() {
        var limit = LogRateLimit(burst: 2, window: .seconds(10))
        let start = ContinuousClock.now
        #expect(limit.admit(now: start) == 0)
        #expect(limit.admit(now: start + .seconds(1)) == 0)
        #expect(limit.admit(now: start + .seconds(2)) == nil)
        #expect(limit.admit(now: start + .seconds(3)) == nil)
        #expect(limit.admit(now: start + .seconds(11)) == 2)
        #expect(limit.admit(now: start + .seconds(12)) == 0)
    }

    @Test("usage wording: negative values and subcommand typos")
    func usageWording() {
        #expect(UsageWording.negativeValue(["--timeout", "-1", "host"])?.option == "--timeout")
        #expect(UsageWording.negativeValue(["-c", "-0.5"])?.value == "-0.5")
        #expect(UsageWording.negativeValue(["--timeout", "1"]) == nil)
        #expect(UsageWording.closest(to: "chek", among: ["check", "ping", "pipe", "forward"]) == "check")
        #expect(UsageWording.closest(to: "frward", among: ["check", "ping", "pipe", "forward"]) == "forward")
        // pign is as close to ping as to pipe: no guess.
        #expect(UsageWording.closest(to: "pign", among: ["check", "ping", "pipe", "forward"]) == nil)
        #expect(UsageWording.closest(to: "example.com", among: ["check", "ping", "pipe", "forward"]) == nil)
        #expect(
            UsageWording.message(for: "Unexpected argument 'x'", arguments: ["chek", "x"], of: TTConnectCommand.self)
                == "'chek' is not a subcommand of tt-connect; did you mean check?"
        )
    }
}
