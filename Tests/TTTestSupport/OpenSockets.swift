import Foundation

/// How many TCP sockets this process holds open to `port` (any state: connecting, connected, closing), read from
/// `/proc/self/fd` and `/proc/net/tcp{,6}`. Only this process's descriptors count, so tests running alongside do
/// not change the answer unless they use the same port.
public func socketsOfThisProcess(toPort port: Int) -> Int {
    let descriptors = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
    var inodes: Set<Substring> = []
    for descriptor in descriptors {
        guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\(descriptor)"),
            target.hasPrefix("socket:[")
        else { continue }
        inodes.insert(Substring(target.dropFirst("socket:[".count).dropLast()))
    }
    let wanted = String(format: ":%04X", port)
    var count = 0
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let text = (try? String(contentsOfFile: table, encoding: .utf8)) ?? ""
        for line in text.split(separator: "\n").dropFirst() {
            let fields = line.split(separator: " ")
            guard fields.count > 9, fields[2].hasSuffix(wanted), inodes.contains(fields[9]) else { continue }
            count += 1
        }
    }
    return count
}
