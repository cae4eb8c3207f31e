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

    @Test func rfc3339ReadsBackWhatTheRendererWrites() {
        var generator = SystemRandomNumberGenerator()
        var samples: [Int64] = [0, -1, 86_399, 951_782_400, 951_868_799, 253_402_300_799, -62_135_596_800]
        for _ in 0..<2_000 { samples.append(Int64.random(in: -62_135_596_800...253_402_300_799, using: &generator)) }
        for second in samples {
            #expect(RFC3339.seconds(Self.reference(second)) == Double(second), "\(second)")
        }
    }

    @Test(
        arguments: [
            ("2026-12-07T02:00:00Z", 1_796_608_800), ("2026-12-07t02:00:00z", 1_796_608_800),
            ("2026-12-07T02:00:00.25Z", 1_796_608_800.25), ("2026-12-07T03:30:00+01:30", 1_796_608_800),
            ("2026-12-06T21:00:00-05:00", 1_796_608_800), ("2024-02-29T00:00:00Z", 1_709_164_800),
            ("2016-12-31T23:59:60Z", 1_483_228_800),
        ] as [(String, Double)])
    func rfc3339Accepts(text: String, seconds: Double) {
        #expect(RFC3339.seconds(text) == seconds)
    }

    @Test(
        arguments: [
            "", "yesterday", "2026-12-07", "2026-12-07T02:00:00", "2026-12-07 02:00:00Z", "2026-13-07T02:00:00Z",
            "2026-02-29T00:00:00Z", "2026-12-07T24:00:00Z", "2026-12-07T02:60:00Z", "2026-12-07T02:00:00.Z",
            "2026-12-07T02:00:00Zjunk", "2026-12-07T02:00:00+0100", "2026-12-07T02:00:00+24:00",
            "+2026-12-07T02:00:00Z",
            "2026-1-07T02:00:00Z", "２026-12-07T02:00:00Z",
        ])
    func rfc3339Refuses(text: String) {
        #expect(RFC3339.seconds(text) == nil)
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
