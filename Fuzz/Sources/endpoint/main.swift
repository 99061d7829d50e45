import CLibFuzzer

#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

// SwiftPM makes this file the program's `main`; it runs libFuzzer's driver on `fuzz` as libFuzzer's own `main`
// would. `fuzz` is also exported as LLVMFuzzerTestOneInput, which the libFuzzer runtime links against; the
// closure keeps the compiler from emitting that C symbol a second time here.
var arguments = CommandLine.argc
var values: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&arguments, &values) { fuzz($0, $1) })
