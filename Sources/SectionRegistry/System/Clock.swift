#if canImport(Glibc)
    import Glibc
#endif

/// Seconds since the epoch, from the realtime clock: clock_gettime(2) CLOCK_REALTIME.
func wallClockNow() -> Double {
    var spec = timespec()
    clock_gettime(CLOCK_REALTIME, &spec)
    return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
}

/// Seconds from an arbitrary origin, never going back, for timeouts and ages:
/// clock_gettime(2) CLOCK_MONOTONIC.
func monotonicNow() -> Double {
    var spec = timespec()
    clock_gettime(CLOCK_MONOTONIC, &spec)
    return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
}

/// Sleeps for `seconds`, through interruptions: nanosleep(2).
func sleepSeconds(_ seconds: Double) {
    guard seconds > 0 else { return }
    var request = timespec(tv_sec: Int(seconds), tv_nsec: Int((seconds - Double(Int(seconds))) * 1e9))
    var remaining = timespec()
    while nanosleep(&request, &remaining) == -1 && errno == EINTR { request = remaining }
}

/// The system page size: sysconf(3) _SC_PAGESIZE.
let systemPageSize = Int64(sysconf(Int32(_SC_PAGESIZE)))
