import Foundation

/// What an unprivileged reader saw while a test wrote secret files (``watchAsUnprivilegedReader(_:marker:while:)``).
public struct UnprivilegedReadReport: Sendable {
    /// The reader's first line: its user id (65534 when it really ran as nobody).
    public var userID: String?
    /// Files the reader could read while their first line held the marker.
    public var leaks: [String]
    /// How often it went through the whole directory; it must have polled throughout for the check to mean much.
    public var polls: Int
    /// Everything it printed, for failure messages.
    public var output: String
}

/// Polls every file of the directory (hidden ones too) with shell builtins, so thousands of times a second, until
/// `stop` appears or 60 s pass; prints `LEAK FILE` for a readable file whose first line contains the marker ($2).
private let readerScript = """
    id -u
    IFS= read -r canary < "$1/canary" && echo "$canary"
    end=$((SECONDS + 60)); polls=0
    while [ ! -e "$1/stop" ] && [ "$SECONDS" -lt "$end" ]; do
      for f in "$1"/.* "$1"/*; do
        [ -f "$f" ] || continue
        { IFS= read -r line < "$f"; } 2>/dev/null && case $line in *"$2"*) echo "LEAK $f";; esac
      done
      polls=$((polls + 1))
    done
    echo "polls $polls"
    """

/// Runs `body` (which writes secret files into `directory`) while another user, nobody (uid and gid 65534, through
/// `setpriv`), polls the directory for a readable file holding `marker`: the check that a secret is private from
/// its first byte, temporary files included. Makes `directory` world-readable (0755) with a world-readable canary
/// the reader must see first, so a reader that cannot read anything does not pass as "no leak". Needs root.
public func watchAsUnprivilegedReader(
    _ directory: String,
    marker: String,
    isolation: isolated (any Actor)? = #isolation,
    while body: () async throws -> Void
) async throws -> UnprivilegedReadReport {
    try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: directory)
    _ = FileManager.default.createFile(
        atPath: "\(directory)/canary",
        contents: Data("canary-readable\n".utf8),
        attributes: [.posixPermissions: 0o644]
    )
    let watcher = try RunningProcess(
        URL(fileURLWithPath: "/usr/bin/setpriv"),
        [
            "--reuid=65534", "--regid=65534", "--clear-groups", "/bin/bash", "-c", readerScript, "reader", directory,
            marker,
        ]
    )
    return try await withStarted(watcher) { watcher in
        // The reader is unprivileged and really reads what others may read.
        try await watcher.waitForOutput(containing: "canary-readable")
        try await body()
        _ = FileManager.default.createFile(atPath: "\(directory)/stop", contents: nil)
        try await watcher.waitForOutput(containing: "polls ")
        let output = watcher.outputSoFar
        let lines = output.split(separator: "\n")
        return UnprivilegedReadReport(
            userID: lines.first.map(String.init),
            leaks: lines.filter { $0.hasPrefix("LEAK ") }.map { String($0.dropFirst(5)) },
            polls: lines.first { $0.hasPrefix("polls ") }.flatMap { Int($0.dropFirst(6)) } ?? 0,
            output: output
        )
    }
}
