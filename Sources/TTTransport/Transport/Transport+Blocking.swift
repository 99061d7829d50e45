import Glibc

extension Transport {
    /// Waits for bytes and reads what is available into `buffer`.
    /// - Returns: the number of bytes read; `0` means the peer finished sending.
    /// - Throws: ``TransportError`` (``TransportError/Category/timedOut`` when `deadline` passes first).
    public func receiveSome(into buffer: UnsafeMutableRawBufferPointer, deadline: Deadline) throws -> Int {
        precondition(buffer.count > 0, "receiveSome needs room for at least one byte")
        while true {
            switch try readSome(into: buffer) {
            case .bytes(let count): return count
            case .endOfStream: return 0
            case .wouldBlock:
                guard try Poll.wait(pollDescriptor, for: Int16(POLLIN), until: deadline) else {
                    throw timedOut("waiting for data from")
                }
            }
        }
    }

    /// Waits for bytes and returns up to `maxCount` of them; an empty array means the peer finished sending.
    public func receiveSome(maxCount: Int, deadline: Deadline) throws -> [UInt8] {
        var result = [UInt8](repeating: 0, count: maxCount)
        let count = try result.withUnsafeMutableBytes { try receiveSome(into: $0, deadline: deadline) }
        result.removeSubrange(count...)
        return result
    }

    /// Receives exactly `count` bytes.
    /// - Throws: ``TransportError`` ``TransportError/Category/connectionClosed`` when the stream ends first,
    ///   ``TransportError/Category/timedOut`` when `deadline` passes first.
    public func receiveExactly(_ count: Int, deadline: Deadline) throws -> [UInt8] {
        var result = [UInt8](repeating: 0, count: count)
        var filled = 0
        try result.withUnsafeMutableBytes { whole in
            while filled < count {
                let received = try receiveSome(
                    into: UnsafeMutableRawBufferPointer(rebasing: whole[filled...]),
                    deadline: deadline
                )
                guard received > 0 else {
                    throw TransportError(
                        stage: .io,
                        category: .connectionClosed,
                        message: "\(peerName) closed the connection after \(filled) of \(count) expected bytes"
                    )
                }
                filled += received
            }
        }
        return result
    }

    /// Sends all of `bytes`, waiting for the peer to make room as needed.
    /// - Parameter firstByteWritten: called once, as soon as the connection took any byte (a failure after it
    ///   means the peer may have part of the bytes: what the client's exactly-once rule needs to know).
    /// - Throws: ``TransportError`` (``TransportError/Category/timedOut`` when `deadline` passes first).
    public func sendAll(
        _ bytes: some Collection<UInt8>,
        deadline: Deadline,
        firstByteWritten: () -> Void = {}
    ) throws {
        let contiguous = Array(bytes)
        try contiguous.withUnsafeBytes { whole in
            var sent = 0
            while sent < whole.count {
                let written = try writeSome(UnsafeRawBufferPointer(rebasing: whole[sent...]))
                if written > 0 {
                    if sent == 0 { firstByteWritten() }
                    sent += written
                } else if try !Poll.wait(pollDescriptor, for: Int16(POLLOUT), until: deadline) {
                    throw timedOut("sending to")
                }
            }
        }
    }

    /// `host:port` of the server, plus the proxy when there is one, for messages.
    var peerName: String {
        if let proxy = report.proxy {
            return "\(report.target) (through proxy \(proxy))"
        }
        return "\(report.target)"
    }

    private func timedOut(_ activity: String) -> TransportError {
        TransportError(
            stage: .io,
            category: .timedOut,
            message: "timed out \(activity) \(peerName)"
        )
    }
}
