import Glibc

/// Numeric `host:port` text for a socket address, IPv6 in brackets.
enum SocketAddressText {
    static func describe(_ address: UnsafePointer<sockaddr>, length: socklen_t) -> String? {
        var host = [CChar](repeating: 0, count: Int(NI_MAXHOST))
        var service = [CChar](repeating: 0, count: Int(NI_MAXSERV))
        let result = getnameinfo(
            address,
            length,
            &host,
            socklen_t(host.count),
            &service,
            socklen_t(service.count),
            NI_NUMERICHOST | NI_NUMERICSERV
        )
        guard result == 0 else { return nil }
        let hostText = text(host)
        let port = Int(text(service)) ?? 0
        return Endpoint(host: hostText, port: port).description
    }

    private static func text(_ characters: [CChar]) -> String {
        String(decoding: characters.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
