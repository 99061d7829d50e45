import Foundation
import TTProtocol

// Writes the seed corpora of Fuzz/Corpus/ (run by `scripts/fuzz --seeds` from the repository root): frames, hellos
// and packets from the test vectors of docs/PROTOCOL.md, and small meaningful inputs for the text parsers.

let corpus = URL(fileURLWithPath: CommandLine.arguments.dropFirst().first ?? "Fuzz/Corpus")

func write(_ target: String, _ name: String, _ bytes: [UInt8]) {
    let folder = corpus.appendingPathComponent(target)
    try! FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    try! Data(bytes).write(to: folder.appendingPathComponent(name))
}
func write(_ target: String, _ name: String, _ text: String) { write(target, name, Array(text.utf8)) }

// The test-vector session: fixed ephemeral keys, random and identity.
let client = try ClientHandshake(ephemeralPrivateKey: Array(0x00...0x1F), random: Array(0x20...0x3F))
let server = try ServerHandshake(
    identity: try ServerIdentity(privateKey: Array(0x60...0x7F)),
    ephemeralPrivateKey: Array(0x40...0x5F)
)
let (serverHello, _) = try server.respond(to: client.hello)
let (clientKeys, _) = try client.finish(serverHello: serverHello)
write("hello", "client-hello", client.hello)
write("hello", "server-hello", serverHello)
write("hello", "http-request", "GET / HTTP/1.1\r\n")

let login = try RequestPacket(
    function: .login,
    payload: LoginPayload(user: "batch", password: "batch").serialize()
)
let packets: [(String, Packet)] = [
    ("ping", .request(RequestPacket(function: .ping))),
    ("login", .request(login)),
    ("echo", .request(RequestPacket(function: .echo, flags: 1, optArgs: 7, payload: Array("hello".utf8)))),
    ("logout", .request(RequestPacket(function: .logout))),
    ("response-ok", .response(ResponsePacket(rc: .requestOK))),
    (
        "response-payload",
        .response(
            ResponsePacket(
                rc: .requestOK,
                feedback: 3,
                elapsedMilliseconds: 12,
                avail: 1,
                count: 2,
                payload: [1, 2, 3]
            )
        )
    ),
]
for (name, packet) in packets {
    write("packet", name, packet.serialize())
    write("inflate", name, GzipCodec().compress(packet.serialize()))
}
write("packet", "login-payload", try LoginPayload(user: "ünïcode", password: "p:w@d").serialize())
// Several gzip members in one body, as large packets are compressed in parallel.
let multiMember = GzipCodec(parallelThreshold: 64, minimumChunkSize: 64)
write("inflate", "multi-member", multiMember.compress(Array(repeating: 0x41, count: 300)))
write("inflate", "zeros-64k", GzipCodec().compress(Array(repeating: 0, count: 64 << 10)))

// A session's first frames, sealed in order with the client's keys, as the server receives them.
let codec = try PacketCodec(keys: clientKeys)
var session: [UInt8] = []
for (name, packet) in packets where name != "response-ok" && name != "response-payload" {
    let frame = try codec.encode(packet)
    if session.isEmpty { write("frame", "first-\(name)", frame) }
    session += frame
}
write("frame", "session", session)

// PROXY protocol v1 and v2 headers as HAProxy sends them, followed by a ClientHello.
let v2Signature: [UInt8] = [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A]
func v2(command: UInt8, family: UInt8, block: [UInt8]) -> [UInt8] {
    v2Signature + [0x20 | command, family, UInt8(block.count >> 8), UInt8(block.count & 0xFF)] + block
}
let ipv4Block: [UInt8] = [203, 0, 113, 7, 127, 0, 0, 1, 0x10, 0x92, 0x13, 0x88]
let ipv6Block: [UInt8] =
    [0x20, 0x01, 0x0D, 0xB8] + Array(repeating: 0, count: 11) + [1]
    + Array(repeating: 0, count: 15) + [1] + [0x10, 0x92, 0x13, 0x88]
let tlv: [UInt8] = [0x04, 0x00, 0x03, 0x61, 0x62, 0x63]
write("proxy-protocol", "v1-tcp4", Array("PROXY TCP4 203.0.113.7 127.0.0.1 4242 5000\r\n".utf8) + client.hello)
write("proxy-protocol", "v1-tcp6", "PROXY TCP6 2001:db8::1 ::1 4242 5000\r\n")
write("proxy-protocol", "v1-unknown", "PROXY UNKNOWN\r\n")
write("proxy-protocol", "v2-tcp4", v2(command: 1, family: 0x11, block: ipv4Block) + client.hello)
write("proxy-protocol", "v2-tcp6-tlv", v2(command: 1, family: 0x21, block: ipv6Block + tlv))
write("proxy-protocol", "v2-local", v2(command: 0, family: 0x00, block: []))
write("proxy-protocol", "v2-udp4", v2(command: 1, family: 0x12, block: ipv4Block))
// --proxy-protocol-from lists, for the trust-list check the same target runs on its input read as text.
write("proxy-protocol", "trust-list", "10.0.0.0/8, 127.0.0.1/32,2001:db8::/32, ::1/128")
write("proxy-protocol", "trust-list-mapped", "::ffff:127.0.0.0/104,0.0.0.0/0")

// CONNECT heads as tt-proxy receives them.
write("request-head", "connect", "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n")
write(
    "request-head",
    "connect-auth-pipelined",
    "\r\nCONNECT [::1]:5000 HTTP/1.1\r\nHost: [::1]:5000\r\nProxy-Authorization: Basic YWxpY2U6c2VjcmV0\r\n"
        + "User-Agent: curl/8.5.0\r\n\r\nTTFW\u{0}\u{1}"
)
write("request-head", "two-heads-lf", "CONNECT a:1 HTTP/1.0\nHost: a\n\nCONNECT b:2 HTTP/1.1\n\n")
write("request-head", "get", "GET http://example.com/ HTTP/1.1\r\nHost:  example.com \t\r\n\r\n")
// 200 bytes that are not UTF-8 in a 227-byte head: decoded, each becomes U+FFFD (three bytes).
write(
    "request-head",
    "not-utf8",
    Array("CONNECT ex".utf8) + [UInt8](repeating: 0xFF, count: 200) + Array(":443 HTTP/1.1\r\n\r\n".utf8)
)

// htpasswd lines of each kind htpasswd writes.
let htpasswd = [
    "bcrypt": "alice:$2y$05$tbeI6nqrysmgs0cUKk1ILePwNxU1SDzzoa0lz7xkYbyPRvqeB0FMK",
    "apr1": "bob:$apr1$GQxSHb5K$e7BbRKPHhV36gxJkubWdN/",
    "sha1": "carol:{SHA}5LoL+DLUnINkq9rfJoO1bRA0OYY=",
    "sha512":
        "dave:$6$xRIrn8HKKS2gUm9E$M8eBwq2Mg1oKTiRI77scoO2zLNPmA1TzQxAYCuAPrtwwfUk1sXEzF1F3jFfgJQUUTtuVBPTIAu7A.CqJR2j/2.",
    "sha256-rounds": "erin:$5$rounds=1000$saltsalt$bnAOMyxKlgrZMfi.vMdM9H94TOMdX1jCqzBVBNnSvB3",
    "md5": "frank:$1$saltsalt$qjXMvbEw8oaL.CzflDugX/",
    "des": "gina:abJnggxhB/yWI",
    "plain": "hank:secret",
]
for (name, line) in htpasswd { write("htpasswd", name, line + "\n") }
write("htpasswd", "file", "# users\n\n" + htpasswd.values.sorted().joined(separator: "\r\n") + ":comment\n")

// Config files (docs/CONFIG.md).
write(
    "config-file",
    "full",
    """
    # Lines starting with # or ; are comments.
    [connection prod]
    server     = tape.example.com
    port       = 5000
    proxy      = http://proxy.corp:3128
    proxy-auth = any
    proxy-user = CORP\\bob:secret
    server-key = SHA256:aIlNWPGPLDTUnrL0sRDgQs0PMVCk3DkkPX9jvVmMB4M

    ; IPv6
    [connection "lab"]
    server = [::1]
    proxy = https://u:p@[2001:db8::1]:8443
    PROXY-AUTH = digest

    """
)
write("config-file", "minimal", "[connection a]\nserver = 127.0.0.1\n")

// Logon strings (-S).
for (name, logon) in [
    ("full", "fred:-secret@tape.example.com:5000"), ("ipv6", "batch:batch@[::1]:5000"), ("user-only", "fred"),
    ("server-only", "@host"), ("colon-password", "u:p:w@h:1"), ("empty", ""),
] {
    write("logon-string", name, logon)
}

// HOST:PORT as -S, positional arguments and config files give it; odd hosts that once reached another port.
for (name, endpoint) in [
    ("name", "tape.example.com:5000"), ("ipv4", "127.0.0.1:5000"), ("ipv6-zone", "[fe80::1%eth0]:5000"),
    ("fragment", "127.0.0.1#x:5000"), ("path", "tapes.invalid/x:5000"), ("numeric", "2130706433:5000"),
    ("no-port", "host"),
] {
    write("endpoint", name, endpoint)
}

// NO_PROXY value, HTTPS_PROXY value, then targets.
write(
    "no-proxy",
    "mixed",
    "example.com, .corp, *.internal:8443, 10.0.0.0/8, 192.168.1.1, [2001:db8::1]:443, ::1\n"
        + "http://user:pass@proxy.example:3128\nexample.com:443\nwww.corp\n10.1.2.3:5000\n[2001:db8::1]:443\nother.org"
)
write("no-proxy", "star", "*\nhttps://proxy:443\nanything:1")
write("no-proxy", "cidr6", "2001:db8::/32,fe80::1%eth0\nproxy\n[2001:db8:1::5]:80\n[fe80::1]:22")

// Scenario files: every fixture shipped with tt-proxy.
let fixtures = URL(fileURLWithPath: "proxy-fixtures")
for name in try FileManager.default.contentsOfDirectory(atPath: fixtures.path) where name.hasSuffix(".scenario") {
    write("scenario", name, Array(try Data(contentsOf: fixtures.appendingPathComponent(name))))
}
print("seeds written to \(corpus.path)")
