import Foundation
import Synchronization
import Testing

@testable import TTProtocol

/// Many threads at once through the per-frame path and the handshake, each with codecs of its own, as 64 client
/// threads or a server's event loops use them: OpenSSL contexts, the zlib stream pool and the stack-held part
/// lists must not cross between threads. Bounded: a fixed count per thread and a deadline.
@Suite("Concurrency stress")
struct ConcurrencyStressTests {
    @Test("32 threads handshake and exchange frames of every deflate shape at once; every frame round-trips")
    func concurrentSessions() throws {
        let threads = 32
        let sessionsPerThread = 8
        let framesPerSession = 60
        let deadline = ContinuousClock.now + .seconds(60)
        // Payload sizes that land in each DeflateShape pool and the standard one.
        let payloads = [0, 60, 200, 400, 900, 3000].map { recordLikeBytes($0, seed: UInt32($0) + 7) }
        let identity = ServerIdentity.generate()
        let failures = Mutex<[String]>([])
        let frames = Atomic<Int>(0)
        let done = DispatchGroup()
        let start = DispatchSemaphore(value: 0)
        for thread in 0..<threads {
            done.enter()
            Thread.detachNewThread {
                defer { done.leave() }
                start.wait()
                do {
                    for session in 0..<sessionsPerThread where ContinuousClock.now < deadline {
                        let (client, server) = try handshake(identity: identity)
                        for frame in 0..<framesPerSession {
                            let payload = payloads[(thread + session + frame) % payloads.count]
                            let request = RequestPacket(function: .echo, payload: payload)
                            let received = try server.decode(frame: client.encode(.request(request)))
                            guard case .request(let echoed) = received, echoed.payload == payload else {
                                throw StressFailure.mismatch("request \(frame) of thread \(thread)")
                            }
                            let response = ResponsePacket(
                                rc: .requestOK,
                                count: UInt32(payload.count),
                                payload: payload
                            )
                            let answered = try client.decode(frame: server.encode(.response(response)))
                            guard case .response(let answer) = answered, answer.payload == payload else {
                                throw StressFailure.mismatch("response \(frame) of thread \(thread)")
                            }
                            frames.add(2, ordering: .relaxed)
                        }
                    }
                } catch {
                    failures.withLock { $0.append("thread \(thread): \(error)") }
                }
            }
        }
        for _ in 0..<threads { start.signal() }
        #expect(done.wait(timeout: .now() + 120) == .success, "the stress threads did not finish in 120 s")
        #expect(failures.withLock { $0 } == [])
        #expect(frames.load(ordering: .relaxed) > 0)
    }
}

private enum StressFailure: Error {
    case mismatch(String)
}

/// A client and server codec pair from a real handshake with `identity`.
private func handshake(identity: ServerIdentity) throws -> (client: PacketCodec, server: PacketCodec) {
    let client = ClientHandshake()
    let (serverHello, serverKeys) = try ServerHandshake(identity: identity).respond(to: client.hello)
    let (clientKeys, serverIdentity) = try client.finish(serverHello: serverHello)
    guard serverIdentity == identity.publicKey else { throw StressFailure.mismatch("server identity") }
    return (try PacketCodec(keys: clientKeys), try PacketCodec(keys: serverKeys))
}
