import Foundation

/// The TCP sockets this process holds open to `port` (any state: connecting, connected, closing), by inode, read
/// from `/proc/self/fd` and `/proc/net/tcp{,6}`. Only this process's descriptors count; compare with the set taken
/// before a test's own connection, so sockets another test left to a port number now reused do not count.
public func socketsOfThisProcess(toPort port: Int) -> Set<Substring> {
    socketsOfThisProcess { _, remote, _ in remote.hasSuffix(String(format: ":%04X", port)) }
}

/// The connections this process accepted on `port` and still holds a descriptor of (a server's sessions, the
/// listener not counted), by inode: a server that leaked a closed session's descriptor would keep it here.
public func acceptedSocketsOfThisProcess(onPort port: Int) -> Set<Substring> {
    // State 0A is LISTEN.
    socketsOfThisProcess { local, _, state in local.hasSuffix(String(format: ":%04X", port)) && state != "0A" }
}

/// The sockets of this process whose `/proc/net/tcp{,6}` line satisfies `matches(local, remote, state)`.
private func socketsOfThisProcess(matching matches: (Substring, Substring, Substring) -> Bool) -> Set<Substring> {
    let descriptors = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
    var inodes: Set<Substring> = []
    for descriptor in descriptors {
        guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\(descriptor)"),
            target.hasPrefix("socket:[")
        else { continue }
        inodes.insert(Substring(target.dropFirst("socket:[".count).dropLast()))
    }
    var found: Set<Substring> = []
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        for line in readWhole(table).split(separator: "\n").dropFirst() {
            let fields = line.split(separator: " ")
            guard fields.count > 9, matches(fields[1], fields[2], fields[3]), inodes.contains(fields[9]) else {
                continue
            }
            found.insert(fields[9])
        }
    }
    return found
}

/// A /proc file read to its end with read(2): such files report size 0, and a flood test elsewhere in the
/// process can leave thousands of lines in /proc/net/tcp.
func readWhole(_ path: String) -> String {
    let descriptor = open(path, O_RDONLY | O_CLOEXEC)
    guard descriptor >= 0 else { return "" }
    defer { close(descriptor) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 64 * 1024)
    // Bounded: /proc/net/tcp of a loopback test machine stays far below 64 MiB.
    while bytes.count < 64 * 1024 * 1024 {
        let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
        if count < 0, errno == EINTR { continue }
        guard count > 0 else { break }
        bytes += chunk[0..<count]
    }
    return String(decoding: bytes, as: UTF8.self)
}
