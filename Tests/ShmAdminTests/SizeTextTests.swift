import Testing

@testable import ShmAdmin

/// Sizes as the API and the command line take them (API.md "Names and sizes").
@Suite struct SizeTextTests {
    static let sizes: [(String, Int64?)] = [
        ("0", 0),
        ("1", 1),
        ("4096", 4096),
        ("64KiB", 64 << 10),
        ("64K", 64 << 10),
        ("64MiB", 64 << 20),
        ("64M", 64 << 20),
        ("1GiB", 1 << 30),
        ("1G", 1 << 30),
        ("1TiB", 1 << 40),
        ("1T", 1 << 40),
        ("64 KiB", 64 << 10),
        ("007KiB", 7 << 10),
        ("8388607TiB", 8_388_607 << 40),  // the largest whole TiB below 2^63
        ("9223372036854775807", Int64.max),
        // Refused.
        ("", nil),
        ("KiB", nil),
        (" 64KiB", nil),
        ("64  KiB", nil),
        ("6 4KiB", nil),
        ("-1", nil),
        ("-64KiB", nil),
        ("+64", nil),
        ("1.5GiB", nil),
        ("0.5K", nil),
        ("1e3", nil),
        ("0x40", nil),
        ("64kib", nil),
        ("64k", nil),
        ("64KB", nil),
        ("64B", nil),
        ("64PiB", nil),
        ("64Ki", nil),
        ("GiB64", nil),
        ("٦٤", nil),  // Arabic-Indic digits
        ("9223372036854775808", nil),  // 2^63
        ("99999999999999999999999", nil),
        ("8388608TiB", nil),  // 2^63 exactly
        ("8589934592GiB", nil),  // 2^63 exactly
        ("9007199254740992KiB", nil),  // 2^63 exactly
        ("18446744073709551615", nil),  // 2^64 - 1
    ]

    @Test("SizeText.parse: units, spaces, overflow, signs, fractions, unknown units", arguments: sizes)
    func parseSize(_ text: String, _ expected: Int64?) {
        if let expected {
            #expect(throws: Never.self) { try SizeText.parse(text, field: "reserve") }
            #expect((try? SizeText.parse(text, field: "reserve")) == expected)
        } else {
            #expect(throws: SizeText.Invalid.self) { try SizeText.parse(text, field: "reserve") }
            let message = (try? SizeText.parse(text, field: "reserve")).map { _ in "" } ?? refusal(text)
            #expect(message.contains("reserve"), "the message names the field")
        }
    }

    @Test("SizeText.validate refuses negative counts", arguments: [Int64.min, -1, 0, 1, Int64.max])
    func validateCount(_ value: Int64) {
        if value < 0 {
            #expect(throws: SizeText.Invalid.self) { try SizeText.validate(value, field: "commit") }
        } else {
            #expect((try? SizeText.validate(value, field: "commit")) == value)
        }
    }

    func refusal(_ text: String) -> String {
        do throws(SizeText.Invalid) {
            _ = try SizeText.parse(text, field: "reserve")
            return ""
        } catch {
            return error.description
        }
    }
}
