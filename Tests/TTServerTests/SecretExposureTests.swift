import Foundation
import TTTestSupport
import Testing

extension SerializedSuites {
    /// `tt-server add-user` under umask 022, watched by an unprivileged reader polling the directory: no file
    /// there ever shows it a password hash (finding: the temporary file used to be readable until after rename).
    @Suite("Secret files are private from the first byte")
    struct SecretExposureTests {
        private let binary = BuiltProducts.executable("tt-server")

        @Test(
            "add-user under umask 022 never lets another user read a hash",
            .enabled(if: geteuid() == 0, "needs root to run the reader as nobody")
        )
        func addUserWatched() async throws {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("exposure-\(UUID())").path
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let users = "\(directory)/users"
            let report = try await watchAsUnprivilegedReader(directory, marker: "pbkdf2") {
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
            }
            #expect(report.userID == "65534")
            #expect(report.leaks.isEmpty, "\(report.output)")
            #expect(report.polls > 30, "the reader must have polled throughout: \(report.output)")
            let attributes = try FileManager.default.attributesOfItem(atPath: users)
            #expect(attributes[.posixPermissions] as? Int == 0o600)
            let text = try String(contentsOfFile: users, encoding: .utf8)
            #expect(text.split(separator: "\n").count == 30)
        }
    }
}
