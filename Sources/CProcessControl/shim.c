// prctl wrappers live in include/CProcessControl.h (static inline); this file gives SwiftPM a source.
