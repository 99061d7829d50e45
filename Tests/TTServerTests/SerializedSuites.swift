import Testing

/// Suites that spawn child processes or measure time run one at a time.
///
/// Spawning a child with Foundation's `Process` can briefly block the test process's cooperative threads (the
/// pipe collectors wait on semaphores, and children inherit pipe ends), which would make short deadlines in
/// a concurrently running timing test fire early.
@Suite(.serialized)
enum SerializedSuites {}
