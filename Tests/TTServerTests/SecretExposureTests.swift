import Foundation
import TTTestSupport
import Testing

extension SerializedSuites {
    /// `tt-server add-user` under umask 022, watched by an unprivileged reader polling the directory: no file
    /// there ever shows it a password hash (finding: the temporary file used to be readable until after rename).
    @Suite("Secret files are private from the first byte")
    struct SecretExposureTests {
        private let binary = BuiltProducts.executable("tt-server")

        /// Polls every file of the directory (hidden ones too) with shell builtins, so thousands of times a
        /// second, until `stop` appears or 60 s pass; prints `LEAK` for a readable file holding a hash.
        private static let reader = """
            id -u
            IFS= read -r canary < "$1/canary" && echo "$canary"
            end=$((SECONDS + 60)); polls=0
            while [ ! -e "$1/stop" ] && [ "$SECONDS" -lt "$end" ]; do
              for f in "$1"/.* "$1"/*; do
                [ -f "$f" ] || continue
                { IFS= read -r line < "$f"; } 2>/dev/null && case $line in *pbkdf2*) echo "LEAK $f";; esac
              done
              polls=$((polls + 1))
            done
            echo "polls $polls"
            """

        @Test(
            "add-user under umask 022 never lets another user read a hash",
            .enabled(if: geteuid() == 0, "needs root to run the reader as nobody")
        )
        func addUserWatched() async throws {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("exposure-\(UUID())").path
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: directory) }
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: directory)
            _ = FileManager.default.createFile(
                atPath: "\(directory)/canary",
                contents: Data("canary-readable\n".utf8),
                attributes: [.posixPermissions: 0o644]
            )
            let watcher = try RunningProcess(
                URL(fileURLWithPath: "/usr/bin/setpriv"),
                [
                    "--reuid=65534", "--regid=65534", "--clear-groups", "/bin/bash", "-c", Self.reader, "reader",
                    directory,
                ]
            )
            // The reader is unprivileged and really reads what others may read.
            try await watcher.waitForOutput(containing: "canary-readable")
            #expect(watcher.outputSoFar.hasPrefix("65534\n"))

            let users = "\(directory)/users"
            for index in 0..<30 {
                let result = try await runProcess(
                    URL(fileURLWithPath: "/bin/sh"),
                    [
                        "-c", "umask 022; exec \"$0\" add-user \"user$1\" --users \"$2\" --iterations 1000",
                        binary.path, "\(index)", users,
                    ],
                    input: Data("password-\(index)\n".utf8)
                )
                #expect(result.status == 0, "\(result.allOutput)")
            }
            _ = FileManager.default.createFile(atPath: "\(directory)/stop", contents: nil)
            try await watcher.waitForOutput(containing: "polls ")
            await watcher.stop()
            let output = watcher.outputSoFar
            #expect(!output.contains("LEAK"), "\(output)")
            let polls = output.split(separator: "\n").first { $0.hasPrefix("polls ") }.flatMap { Int($0.dropFirst(6)) }
            #expect((polls ?? 0) > 30, "the reader must have polled throughout: \(output)")
            let attributes = try FileManager.default.attributesOfItem(atPath: users)
            #expect(attributes[.posixPermissions] as? Int == 0o600)
            let text = try String(contentsOfFile: users, encoding: .utf8)
            #expect(text.split(separator: "\n").count == 30)
        }
    }
}
