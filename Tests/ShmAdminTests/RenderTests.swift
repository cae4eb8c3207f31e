import Testing

@testable import ShmAdmin

#if canImport(Glibc)
    import Glibc
#endif

@Suite struct RenderTests {
    /// What gmtime_r makes of `seconds`, as the RFC 3339 text the renderer must write.
    static func reference(_ seconds: Int64) -> String {
        var time = time_t(seconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        func pad(_ value: Int32, _ width: Int) -> String {
            let digits = String(value)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2))Z"
    }

    @Test func timestampsAgreeWithGmtime() {
        var generator = SystemRandomNumberGenerator()
        // Day boundaries, leap days, the epoch, before it, and far ahead; then random instants.
        var samples: [Int64] = [
            0, -1, 86_399, 86_400, 951_782_400, 951_868_799, 1_709_164_800, 4_107_542_400, 253_402_300_799,
            -2_208_988_800, -62_135_596_800,
        ]
        for _ in 0..<5_000 { samples.append(Int64.random(in: -62_135_596_800...253_402_300_799, using: &generator)) }
        for second in samples {
            #expect(Render.timestamp(Double(second)) == Self.reference(second), "\(second)")
        }
        #expect(Render.timestamp(1_795_463_870.25, milliseconds: true) == "2026-11-23T19:57:50.250Z")
        #expect(Render.timestamp(1_795_463_870.9999, milliseconds: true) == "2026-11-23T19:57:50.999Z")
    }

    @Test(
        arguments: [(0o600, "0600"), (0o1777, "1777"), (0, "0000"), (0o7, "0007"), (0o644, "0644")]
            as [(UInt32, String)])
    func modesHaveFourOctalDigits(mode: UInt32, text: String) {
        let written = withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 12) { buffer in
            String(decoding: buffer[0..<Render.writeOctal(mode, at: buffer.baseAddress!)], as: UTF8.self)
        }
        #expect(written == text)
    }
}
