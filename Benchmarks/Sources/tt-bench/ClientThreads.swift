import Glibc

/// The load generators' client threads, joined before the command returns.
///
/// A detached thread that has signalled "done" has not yet exited: its thread-specific destructors, among them
/// libcrypto's, which free the thread's DRBGs, still run after its last line. If the main thread returns then,
/// `exit` runs libcrypto's atexit cleanup (`OPENSSL_cleanup`, OpenSSL 3.0) at the same time, which can free the
/// state those destructors walk: a SIGSEGV inside libcrypto in a run that had finished. `join` waits until every
/// thread has really gone.
struct ClientThreads: ~Copyable {
    private var threads: [pthread_t] = []

    /// Starts `body` on a new joinable thread.
    mutating func start(_ body: @escaping @Sendable () -> Void) throws {
        let context = Unmanaged.passRetained(Body(body)).toOpaque()
        var thread = pthread_t()
        let result = pthread_create(&thread, nil, clientThreadMain, context)
        guard result == 0 else {
            Unmanaged<Body>.fromOpaque(context).release()
            throw BenchError.system("pthread_create", errno: result)
        }
        threads.append(thread)
    }

    /// Waits until every started thread has exited, destructors included.
    consuming func join() {
        for thread in threads { pthread_join(thread, nil) }
    }

    fileprivate final class Body: Sendable {
        let run: @Sendable () -> Void
        init(_ run: @escaping @Sendable () -> Void) { self.run = run }
    }
}

private func clientThreadMain(_ raw: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
    guard let raw else { return nil }
    Unmanaged<ClientThreads.Body>.fromOpaque(raw).takeRetainedValue().run()
    return nil
}
