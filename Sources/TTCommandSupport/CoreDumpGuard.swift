import CProcessControl
import Glibc

/// Keeps passwords out of core files: every tt-connect executable marks itself not dumpable at start.
///
/// A core file (or a debugger attached by another process of the same user) holds whatever is in memory,
/// passwords included: a test core of tt-connect held 6–10 copies. `prctl(PR_SET_DUMPABLE, 0)` makes the kernel
/// write no core for the process and refuse `ptrace` attaches from other processes of the same user (root keeps
/// `CAP_SYS_PTRACE`). Set `TT_ALLOW_CORE_DUMPS=1` in the environment to keep the process dumpable when
/// debugging a crash.
package enum CoreDumpGuard {
    /// The environment variable that keeps core dumps enabled.
    package static let allowVariable = "TT_ALLOW_CORE_DUMPS"

    /// Marks the process not dumpable, unless `TT_ALLOW_CORE_DUMPS=1` is set.
    package static func apply() {
        if let value = getenv(allowVariable), String(cString: value) == "1" { return }
        _ = CProcessControl_setDumpable(0)
    }

    /// Whether the process may be dumped right now (`prctl(PR_GET_DUMPABLE)`).
    package static var isDumpable: Bool {
        CProcessControl_getDumpable() == 1
    }
}
