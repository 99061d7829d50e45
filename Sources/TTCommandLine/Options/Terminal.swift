import Glibc
import TTCommandSupport

/// The controlling terminal, `/dev/tty`: questions are asked and answered there, not on standard input and
/// output, which may carry data (`tt-connect pipe`) or be redirected (`--json > file`).
final class Terminal {
    /// The open `/dev/tty`, for output drawn in place (the doctor's rows in `setup`).
    let descriptor: Int32

    /// The longest answer read; a terminal line is short, and input is bounded like any other.
    static let maximumAnswer = 4096

    /// Opens `/dev/tty`, or `nil` when the process has no controlling terminal.
    init?() {
        let descriptor = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY)
        guard descriptor >= 0 else { return nil }
        self.descriptor = descriptor
    }

    deinit { close(descriptor) }

    /// Writes `text` to the terminal.
    func say(_ text: String) {
        Console.write(text, to: descriptor)
    }

    /// Prints `prompt` and reads one line; `nil` at end of input (Ctrl-D).
    /// Without `echo` the answer is not shown: echo is off before the prompt appears, so nothing typed after
    /// it is shown or discarded, and it is back on afterwards, also when reading fails or a signal ends the
    /// program (``PasswordPrompt/readLineWithoutEcho(from:showingEnter:limit:prompt:)``).
    func ask(_ prompt: String, echo: Bool = true) -> String? {
        guard echo else {
            defer { say("\n") }
            return PasswordPrompt.readLineWithoutEcho(
                from: descriptor,
                showingEnter: false,
                limit: Self.maximumAnswer,
                prompt: { say(prompt) }
            ).map { String(decoding: $0, as: UTF8.self) }
        }
        say(prompt)
        var bytes: [UInt8] = []
        var byte: UInt8 = 0
        while bytes.count < Self.maximumAnswer {
            let count = read(descriptor, &byte, 1)
            if count < 0, errno == EINTR { continue }
            guard count == 1 else { return bytes.isEmpty ? nil : String(decoding: bytes, as: UTF8.self) }
            if byte == UInt8(ascii: "\n") { break }
            bytes.append(byte)
        }
        if bytes.last == UInt8(ascii: "\r") { bytes.removeLast() }
        return String(decoding: bytes, as: UTF8.self)
    }
}
