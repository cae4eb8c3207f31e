import SystemPackage

#if canImport(Glibc)
    import Glibc
#endif

/// A whole small file (a token, a certificate, the OpenAPI document) as bytes, at most `limit`;
/// nil when it cannot be opened or read.
func readWholeFile(_ path: String, limit: Int = 16 << 20) -> [UInt8]? {
    guard let file = try? FileDescriptor.open(FilePath(path), .readOnly, options: [.closeOnExec]) else { return nil }
    defer { try? file.close() }
    var result: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while result.count < limit {
        guard let count = try? chunk.withUnsafeMutableBytes({ try file.read(into: $0) }) else {
            return result.isEmpty ? nil : result
        }
        if count == 0 { break }
        result.append(contentsOf: chunk[0..<min(count, limit - result.count)])
    }
    return result
}

/// Seconds from an arbitrary origin, never going back: for uptime and cache ages.
func monotonicSeconds() -> Double {
    var spec = timespec()
    clock_gettime(CLOCK_MONOTONIC, &spec)
    return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
}
