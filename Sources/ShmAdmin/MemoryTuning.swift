import CShmLinux

#if canImport(Glibc)
    import Glibc
#endif

/// glibc malloc settings for a long-running server: two arenas and fixed mmap and trim
/// thresholds keep RSS flat over days, where glibc's defaults (an arena per thread, thresholds
/// that move) let it creep up. Why these numbers: bench/ANALYSIS.md, section 8.
public enum MemoryTuning {
    /// Applies them, unless MALLOC_ARENA_MAX, MALLOC_MMAP_THRESHOLD_ or MALLOC_TRIM_THRESHOLD_ in
    /// the environment ask for glibc's own: mallopt(3).
    public static func applyServerDefaults() {
        let names: [String] = ["MALLOC_ARENA_MAX", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_"]
        let overridden = names.contains {
            getenv($0) != nil
        }
        if !overridden { _ = cshm_tune_malloc(2, 4 << 20, 16 << 20) }
    }
}
