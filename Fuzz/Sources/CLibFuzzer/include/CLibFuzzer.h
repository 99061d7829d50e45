#ifndef CLIBFUZZER_H
#define CLIBFUZZER_H

#include <stddef.h>
#include <stdint.h>

/// libFuzzer's driver, for programs with a `main` of their own: SwiftPM gives every executable a Swift `main`, so
/// each fuzz target's main.swift hands its arguments and its test function to the driver (libFuzzer's own `main`
/// does exactly this). Provided by the libFuzzer runtime that `-sanitize=fuzzer` links.
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*test_one_input)(const uint8_t *data, size_t size));

#endif
