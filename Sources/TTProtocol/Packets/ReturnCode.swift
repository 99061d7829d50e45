/// The result code (RC) of a response. Unknown codes are representable, so new codes never break callers.
public struct ReturnCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt16

    public init(rawValue: UInt16) { self.rawValue = rawValue }

    public static let requestOK = ReturnCode(rawValue: 0)
    public static let notLoggedIn = ReturnCode(rawValue: 1)
    public static let loginRejected = ReturnCode(rawValue: 2)
    public static let unknownFunction = ReturnCode(rawValue: 3)
    public static let badRequest = ReturnCode(rawValue: 4)
    public static let serverBusy = ReturnCode(rawValue: 5)
    public static let internalError = ReturnCode(rawValue: 6)

    /// The human name of PROTOCOL.md (`Request OK`), or `RC <code>` for codes this build does not know.
    public var description: String {
        switch self {
        case .requestOK: "Request OK"
        case .notLoggedIn: "Not logged in"
        case .loginRejected: "Login rejected"
        case .unknownFunction: "Unknown function"
        case .badRequest: "Bad request"
        case .serverBusy: "Server busy"
        case .internalError: "Internal error"
        default: "RC \(rawValue)"
        }
    }
}
