import Glibc

/// Our own words for failures that lower layers describe badly: Foundation's "The operation could not be
/// completed. (NSCocoaErrorDomain error 256.)" names neither the cause nor the path, and SwiftNIO's
/// "bind(descriptor:ptr:bytes:): Address already in use) (errno: 98)" is a system call's signature.
public enum SystemErrorText {
    /// Why the file at `path` could not be read, asked of the system itself: `No such file or directory`,
    /// `Permission denied`, `Is a directory`, or that its contents are not text.
    public static func readFailure(_ path: String) -> String {
        var status = stat()
        guard stat(path, &status) == 0 else { return describe(errno: errno) }
        if status.st_mode & S_IFMT == S_IFDIR { return describe(errno: EISDIR) }
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return describe(errno: errno) }
        close(descriptor)
        return "it can be opened but not read as UTF-8 text"
    }

    /// The system's words for an error that carries an errno in its description (SwiftNIO's `IOError`:
    /// `… (errno: 98)`), else the description itself.
    public static func describe(_ error: any Error) -> String {
        let text = String(describing: error)
        guard let marker = text.ranges(of: "(errno: ").last else { return text }
        let digits = text[marker.upperBound...].prefix { $0.isNumber }
        guard let code = Int32(digits) else { return text }
        return describe(errno: code)
    }

    /// `strerror(code)`: `Address already in use`.
    public static func describe(errno code: Int32) -> String {
        String(cString: strerror(code))
    }
}
