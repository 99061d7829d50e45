// Declarations only (include/CLibFuzzer.h); the definitions come from the libFuzzer runtime.
