import Foundation

/// The TCP sockets this process holds open to `port` (any state: connecting, connected, closing), by inode, read
/// from `/proc/self/fd` and `/proc/net/tcp{,6}`. Only this process's descriptors count; compare with the set taken
/// before a test's own connection, so sockets another test left to a port number now reused do not count.
public func socketsOfThisProcess(toPort port: Int) -> Set<Substring> {
    let descriptors = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
    var inodes: Set<Substring> = []
    for descriptor in descriptors {
        guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\(descriptor)"),
            target.hasPrefix("socket:[")
        else { continue }
        inodes.insert(Substring(target.dropFirst("socket:[".count).dropLast()))
    }
    let wanted = String(format: ":%04X", port)
    var found: Set<Substring> = []
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        for line in readWhole(table).split(separator: "\n").dropFirst() {
            let fields = line.split(separator: " ")
            guard fields.count > 9, fields[2].hasSuffix(wanted), inodes.contains(fields[9]) else { continue }
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
