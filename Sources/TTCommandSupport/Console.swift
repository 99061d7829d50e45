import Glibc

/// Line output for the tools, written with `write(2)` and no buffer, so `check` shows each stage as it
/// completes even when standard output is a pipe, and threads never interleave within a line.
package enum Console {
    /// Writes `text` and a newline to standard output.
    package static func line(_ text: String) {
        write(text + "\n", to: STDOUT_FILENO)
    }

    /// Writes `text` and a newline to standard error.
    package static func error(_ text: String) {
        write(text + "\n", to: STDERR_FILENO)
    }

    /// Writes `text` as is (no newline added) to `descriptor`, retrying short writes.
    package static func write(_ text: String, to descriptor: Int32) {
        let bytes = Array(text.utf8)
        bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = Glibc.write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
                if written < 0, errno == EINTR { continue }
                if written <= 0 { return }
                offset += written
            }
        }
    }
}
