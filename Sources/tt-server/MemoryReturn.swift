import Glibc

/// Makes freed frame buffers go back to the system.
///
/// glibc raises its mmap threshold each time a large mmapped block is freed, so after a burst of 16 MiB frames
/// later ones come from the heap, whose top rarely shrinks: RSS stayed at 1.2 GiB seconds after the sessions
/// that caused it had closed. A fixed threshold keeps every buffer of 128 KiB or more in its own mapping, which
/// `free` unmaps at once.
enum MemoryReturn {
    static func configure() {
        // <malloc.h> is not part of Swift's Glibc module; look `mallopt` up (RTLD_DEFAULT is a null handle).
        typealias Mallopt = @convention(c) (Int32, Int32) -> Int32
        let mmapThreshold: Int32 = -3  // M_MMAP_THRESHOLD
        guard let symbol = dlsym(nil, "mallopt") else { return }
        _ = unsafeBitCast(symbol, to: Mallopt.self)(mmapThreshold, 128 << 10)
    }
}
