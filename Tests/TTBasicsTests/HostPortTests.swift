import TTBasics
import Testing

private let numeric = HostPortError.Problem.invalidHostName(
    "a numeric address must be written as four decimal numbers, like 127.0.0.1"
)

@Suite("host:port parsing and printing")
struct HostPortTests {
    @Test(
        "valid forms parse into host and port and print back with IPv6 in brackets",
        arguments: [
            ("127.0.0.1:5000", nil, false, "127.0.0.1", 5000, "127.0.0.1:5000"),
            ("tape.example:1", nil, false, "tape.example", 1, "tape.example:1"),
            ("tape.example", 5000, false, "tape.example", 5000, "tape.example:5000"),
            ("localhost:65535", nil, false, "localhost", 65535, "localhost:65535"),
            ("[::1]:443", nil, false, "::1", 443, "[::1]:443"),
            ("[fe80::1%eth0]:7", nil, false, "fe80::1%eth0", 7, "[fe80::1%eth0]:7"),
            ("[::1]", 3128, false, "::1", 3128, "[::1]:3128"),
            ("[::]:0", nil, true, "::", 0, "[::]:0"),
            ("0.0.0.0:0", nil, true, "0.0.0.0", 0, "0.0.0.0:0"),
            ("host:080", nil, false, "host", 80, "host:80"),
            ("tapes.example.:5000", nil, false, "tapes.example.", 5000, "tapes.example.:5000"),
            ("my_host-1.example:5000", nil, false, "my_host-1.example", 5000, "my_host-1.example:5000"),
            ("[::ffff:127.0.0.1]:5000", nil, false, "::ffff:127.0.0.1", 5000, "[::ffff:127.0.0.1]:5000"),
        ] as [(String, Int?, Bool, String, Int, String)]
    )
    func valid(text: String, defaultPort: Int?, allowsPortZero: Bool, host: String, port: Int, printed: String) throws {
        let parsed = try HostPort(parsing: text, defaultPort: defaultPort, allowsPortZero: allowsPortZero)
        #expect(parsed.host == host)
        #expect(parsed.port == port)
        #expect(parsed.description == printed)
        #expect(try HostPort(parsing: parsed.description, allowsPortZero: allowsPortZero) == parsed)
    }

    @Test(
        "invalid forms name the specific problem and the text",
        arguments: [
            ("tape.example", nil, false, HostPortError.Problem.missingPort),
            ("[::1]", nil, false, .missingPort),
            ("host:0", nil, false, .invalidPort("0", lowest: 1)),
            ("host:65536", nil, true, .invalidPort("65536", lowest: 0)),
            ("host:", 5000, false, .invalidPort("", lowest: 1)),
            ("host:+80", nil, false, .invalidPort("+80", lowest: 1)),
            ("host:http", nil, false, .invalidPort("http", lowest: 1)),
            ("host:0000080", nil, false, .invalidPort("0000080", lowest: 1)),
            (":5000", nil, false, .emptyHost),
            ("", 5000, false, .emptyHost),
            ("[]:80", nil, false, .emptyHost),
            ("[::1:5000", nil, false, .unclosedBracket),
            ("[::1]5000", nil, false, .textAfterBracket),
            ("[host]:80", nil, false, .bracketedNonIPv6),
            ("::1:5000", nil, false, .unbracketedIPv6),
            ("::1", 5000, false, .unbracketedIPv6),
            ("user@host:80", nil, false, .invalidHostCharacter("@")),
            ("ho st:80", nil, false, .invalidHostCharacter(" ")),
            ("host/path:80", nil, false, .invalidHostCharacter("/")),
            ("127.0.0.1#x:80", nil, false, .invalidHostCharacter("#")),
            ("127.0.0.1?x:80", nil, false, .invalidHostCharacter("?")),
            ("tapes\\x:80", nil, false, .invalidHostCharacter("\\")),
            ("t\u{e4}pes:80", nil, false, .invalidHostCharacter("\u{e4}")),
            ("tapes\u{0}:80", nil, false, .invalidHostCharacter("\u{0}")),
            ("[::1%]:80", nil, false, .invalidHostName("the IPv6 zone after '%' is empty")),
            ("[::1%a/b]:80", nil, false, .invalidHostCharacter("/")),
            ("[::g]:80", nil, false, .invalidHostCharacter("g")),
            ("[1:2:3]:80", nil, false, .invalidHostName("'1:2:3' is not an IPv6 address")),
            ("2130706433:80", nil, false, numeric),
            ("127.1:80", nil, false, numeric),
            ("0x7f.1:80", nil, false, numeric),
            ("a..b:80", nil, false, .invalidHostName("it has an empty label ('..', or a leading dot)")),
            (".a:80", nil, false, .invalidHostName("it has an empty label ('..', or a leading dot)")),
            ("-a.b:80", nil, false, .invalidHostName("a label cannot start or end with '-'")),
            (
                String(repeating: "a", count: 64) + ":80", nil, false,
                .invalidHostName("a label has at most 63 characters")
            ),
        ] as [(String, Int?, Bool, HostPortError.Problem)]
    )
    func invalid(text: String, defaultPort: Int?, allowsPortZero: Bool, problem: HostPortError.Problem) {
        let error = #expect(throws: HostPortError.self) {
            try HostPort(parsing: text, defaultPort: defaultPort, allowsPortZero: allowsPortZero)
        }
        #expect(error?.problem == problem)
        #expect(error?.text == text)
        #expect(error?.description.hasPrefix("'\(text)': ") == true)
    }

    @Test("error messages say what to write instead")
    func messages() {
        #expect(HostPortError(text: "h", problem: .missingPort).description == "'h': it has no port; write HOST:PORT")
        #expect(
            HostPortError(text: "h:0", problem: .invalidPort("0", lowest: 1)).reason
                == "invalid port '0': write a number from 1 to 65535"
        )
        #expect(HostPortError(text: "::1:5", problem: .unbracketedIPv6).reason.contains("[::1]:5000"))
    }

    @Test("a host given with brackets is stored without them; only IPv6 prints with them")
    func parts() {
        #expect(HostPort(host: "[::1]", port: 1) == HostPort(host: "::1", port: 1))
        #expect(HostPort(host: "::1", port: 1).bracketedHost == "[::1]")
        #expect(HostPort(host: "::1", port: 1).isIPv6)
        #expect(HostPort(host: "10.0.0.1", port: 7).description == "10.0.0.1:7")
        #expect(!HostPort(host: "10.0.0.1", port: 7).isIPv6)
    }
}
