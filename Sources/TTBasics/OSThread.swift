import Glibc

/// A thread of the operating system's own, for work that blocks (in `poll(2)`, on a semaphore) and so must stay
/// off Swift's cooperative pool: POSIX threads directly, as Foundation's `Thread` is not in FoundationEssentials.
public enum OSThread {
    /// Why a thread could not be started: the system's words (`Resource temporarily unavailable`).
    public struct StartFailure: Error, CustomStringConvertible {
        public let description: String
    }

    /// Runs `body` on a new detached thread named `name` (Linux keeps the first 15 bytes, shown by `top -H`).
    public static func detach(name: String, _ body: @escaping @Sendable () -> Void) throws(StartFailure) {
        let result = create(Start(name: name, body: body))
        guard result == 0 else { throw StartFailure(description: String(cString: strerror(result))) }
    }

    /// `pthread_create` for `start`, detached; the error number when it fails.
    private static func create(_ start: Start) -> Int32 {
        let context = Unmanaged.passRetained(start).toOpaque()
        var thread = pthread_t()
        let result = pthread_create(&thread, nil, threadMain, context)
        if result == 0 {
            pthread_detach(thread)
        } else {
            Unmanaged<Start>.fromOpaque(context).release()
        }
        return result
    }

    /// Blocks the calling thread for `duration` (resumed after signals, so the whole duration passes).
    public static func sleep(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        guard seconds > 0 || attoseconds > 0 else { return }
        var request = timespec(tv_sec: Int(seconds), tv_nsec: Int(attoseconds / 1_000_000_000))
        var remaining = timespec()
        while nanosleep(&request, &remaining) != 0, errno == EINTR { request = remaining }
    }

    /// Names the calling thread. `pthread_setname_np` is a GNU extension Swift's Glibc module does not declare;
    /// look it up (RTLD_DEFAULT is a null handle), as tt-server does with `mallopt`.
    fileprivate static func setName(_ name: String) {
        typealias SetName = @convention(c) (pthread_t, UnsafePointer<CChar>) -> Int32
        guard let symbol = dlsym(nil, "pthread_setname_np") else { return }
        _ = unsafeBitCast(symbol, to: SetName.self)(
            pthread_self(),
            String(decoding: name.utf8.prefix(15), as: UTF8.self)
        )
    }

    fileprivate final class Start: Sendable {
        let name: String
        let body: @Sendable () -> Void
        init(name: String, body: @escaping @Sendable () -> Void) {
            self.name = name
            self.body = body
        }
    }
}

/// The new thread's entry point: runs the ``OSThread/Start`` that `detach` retained for it.
private func threadMain(_ raw: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
    guard let raw else { return nil }
    let start = Unmanaged<OSThread.Start>.fromOpaque(raw).takeRetainedValue()
    OSThread.setName(start.name)
    start.body()
    return nil
}
