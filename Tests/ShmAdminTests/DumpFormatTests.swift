import Foundation
import HTTPServer
import Testing

@testable import ShmAdmin

#if canImport(Glibc)
    import Glibc
#endif

/// One window of a file for `hexdump -C -s OFFSET -n LENGTH`.
struct HexCase: Sendable, CustomTestStringConvertible {
    var label: String
    var file: [UInt8]
    var offset: Int
    var length: Int

    var testDescription: String { "\(label) (\(length) bytes at \(offset) of \(file.count))" }

    static let pattern = (0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 / 256) }

    static let all: [HexCase] = [
        HexCase(label: "empty", file: pattern, offset: 0, length: 0),
        HexCase(label: "empty inside", file: pattern, offset: 37, length: 0),
        HexCase(label: "one byte", file: pattern, offset: 0, length: 1),
        HexCase(label: "one printable byte", file: Array("A".utf8), offset: 0, length: 1),
        HexCase(label: "15 bytes", file: pattern, offset: 0, length: 15),
        HexCase(label: "16 bytes", file: pattern, offset: 0, length: 16),
        HexCase(label: "17 bytes", file: pattern, offset: 0, length: 17),
        HexCase(label: "8 and 9 bytes", file: pattern, offset: 0, length: 9),
        HexCase(label: "every byte value", file: (0..<256).map { UInt8($0) }, offset: 0, length: 256),
        HexCase(label: "all zeros, long run", file: [UInt8](repeating: 0, count: 4096), offset: 0, length: 4096),
        HexCase(label: "two equal rows", file: [UInt8](repeating: 0x41, count: 32), offset: 0, length: 32),
        HexCase(
            label: "run ending in a partial row", file: [UInt8](repeating: 0x41, count: 16 * 5 + 7), offset: 0,
            length: 16 * 5 + 7),
        HexCase(
            label: "run then a different partial row",
            file: [UInt8](repeating: 0x41, count: 48) + [UInt8](repeating: 0x42, count: 5), offset: 0, length: 53),
        HexCase(
            label: "run, other row, run again",
            file: [UInt8](repeating: 0, count: 64) + Array("0123456789abcdef".utf8) + [UInt8](repeating: 0, count: 64),
            offset: 0, length: 144),
        HexCase(
            label: "row, other, same as first",
            file: [UInt8](repeating: 0x41, count: 16) + [UInt8](repeating: 0x42, count: 16)
                + [UInt8](repeating: 0x41, count: 16), offset: 0, length: 48),
        HexCase(
            label: "text with controls",
            file: Array("Hello, world!\n\tTabs\u{7F} and bytes: ".utf8) + [0x80, 0xFF, 0x1F],
            offset: 0, length: 35),
        HexCase(label: "odd offset", file: pattern, offset: 5, length: 40),
        HexCase(label: "offset 3, zeros", file: [UInt8](repeating: 0, count: 512), offset: 3, length: 100),
        HexCase(label: "offset 17, one byte", file: pattern, offset: 17, length: 1),
        HexCase(label: "offset 4095, to the end", file: pattern, offset: 4095, length: 1),
        HexCase(label: "offset 1000, long", file: pattern, offset: 1000, length: 3000),
        HexCase(
            label: "unaligned run ending in a partial row", file: [UInt8](repeating: 0x5A, count: 300), offset: 9,
            length: 250),
    ]
}

/// `Hexdump` is byte for byte what the real `hexdump -C -s OFF -n LEN FILE` prints; the
/// JSON forms (hex rows, base64) have the shapes of docs/API-DETAILS.md; `ByteRange` reads `Range`.
@Suite struct DumpFormatTests {
    static let hexdump = "/usr/bin/hexdump"

    /// The real tool's output for a window of `path`.
    static func realHexdump(_ path: String, offset: Int64, length: Int) throws -> [UInt8] {
        let (status, output) = try run(Self.hexdump, ["-C", "-s", String(offset), "-n", String(length), path])
        guard status == 0 else { throw HarnessError("hexdump exited with \(status)") }
        return output
    }

    static func temporaryFile(_ bytes: [UInt8]) throws -> String {
        let path = "/tmp/t-api-\(getpid())-\(UInt64.random(in: 0...UInt64.max))-hex"
        guard FileManager.default.createFile(atPath: path, contents: Data(bytes)) else {
            throw HarnessError("cannot create \(path)")
        }
        return path
    }

    static func show(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

    @Test(arguments: HexCase.all)
    func canonicalEqualsHexdump(_ sample: HexCase) throws {
        let path = try Self.temporaryFile(sample.file)
        defer { unlink(path) }
        let expected = try Self.realHexdump(path, offset: Int64(sample.offset), length: sample.length)
        let window = Array(sample.file[sample.offset..<sample.offset + sample.length])
        let ours = Hexdump.text(window, offset: Int64(sample.offset))
        #expect(ours == expected, "ours:\n\(Self.show(ours))\nhexdump -C:\n\(Self.show(expected))")
        if sample.length > 0 { #expect(!expected.isEmpty, "hexdump printed nothing: the comparison proves nothing") }
    }

    /// Offsets past 4 GiB get more than eight hex digits, as `%08x` does; a sparse file holds them.
    @Test(arguments: [
        (0xFFFF_FFF0 as Int64, 64), (0xFFFF_FFF8, 48), (0x1_0000_0000, 16), (0x1_0000_0003, 29), (0x1_0000_0000, 0),
        (0xF_FFFF_FFF0, 40), (0x1_0000_0000, 200),
    ])
    func canonicalPastFourGiBEqualsHexdump(offset: Int64, length: Int) throws {
        let path = "/tmp/t-api-\(getpid())-\(UInt64.random(in: 0...UInt64.max))-sparse"
        let fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw HarnessError("open \(path): errno \(errno)") }
        defer {
            close(fd)
            unlink(path)
        }
        let size: Int64 = 0x10_0000_0000 + 4096
        guard ftruncate(fd, off_t(size)) == 0 else { throw HarnessError("ftruncate: errno \(errno)") }
        // Some bytes on each side of the 4 GiB and 64 GiB lines, the rest a hole of zeros.
        for base: Int64 in [0xFFFF_FFF0, 0x1_0000_0005, 0xF_FFFF_FFFA] {
            let text = Array("hello, sparse world \u{1}\u{2}".utf8)
            guard pwrite(fd, text, text.count, off_t(base)) == text.count else { throw HarnessError("pwrite") }
        }
        let expected = try Self.realHexdump(path, offset: offset, length: length)
        let window = preadAll(fd, offset: offset, count: length)
        #expect(window.count == length)
        let ours = Hexdump.text(window, offset: offset)
        #expect(ours == expected, "ours:\n\(Self.show(ours))\nhexdump -C:\n\(Self.show(expected))")
    }

    @Test func canonicalLinesHaveTheFixedLayout() {
        let text = Self.show(Hexdump.text(Array("0123456789abcdefXYZ".utf8), offset: 0x20))
        #expect(
            text == """
                00000020  30 31 32 33 34 35 36 37  38 39 61 62 63 64 65 66  |0123456789abcdef|
                00000030  58 59 5a                                          |XYZ|
                00000033

                """)
    }

    // MARK: - Streamed, block by block

    /// Random rows with runs of equal rows (zeros, one repeated row) of many lengths, so that `*` lines
    /// start, continue and end on every side of a block boundary.
    static func runs(rows: Int, seed: UInt64) -> [UInt8] {
        var generator = SplitMix(seed)
        var bytes: [UInt8] = []
        while bytes.count < rows * 16 {
            switch generator.next() % 4 {
            case 0: bytes += [UInt8](repeating: 0, count: 16 * Int(1 + generator.next() % 40))
            case 1:
                let row = (0..<16).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
                for _ in 0..<(1 + generator.next() % 5) { bytes += row }
            default:
                let count = 16 * Int(1 + generator.next() % 6)
                bytes += (0..<count).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
            }
        }
        return Array(bytes.prefix(rows * 16 + Int(seed % 16)))
    }

    /// The text written into buffers of every awkward size is the whole text: lines and `*` runs cut by a
    /// buffer's end carry over whole. Sizes below one line, around one line, and 256 KiB (the server's).
    @Test(arguments: [1, 2, 3, 17, 76, 77, 78, 86, 87, 88, 100, 4093, 65_536, 256 * 1024])
    func writerInAnyBlockSizeWritesTheWholeText(block: Int) {
        for (bytes, offset) in [
            (Self.runs(rows: 3000, seed: 1), 0 as Int64), (Self.runs(rows: 3000, seed: 7), 0xFFFF_F000),
            (Array(HexCase.pattern.prefix(37)), 5), ([UInt8](repeating: 0, count: 100_000), 16),
        ] {
            let whole = Hexdump.text(bytes, offset: offset)
            let dump = Hexdump(bytes, offset: offset)
            #expect(dump.length == UInt64(whole.count))
            let streamed = dump.collect(block: block)
            #expect(streamed == whole, "block \(block), \(bytes.count) bytes at \(offset)")
        }
    }

    /// Against the real tool, over more than one 256 KiB block of text, with `*` runs across the boundaries.
    @Test(arguments: [(0, 3), (0x7FFF_FF00, 11), (0x1_0000_0000 - 40_000 * 16, 12)] as [(Int64, UInt64)])
    func streamedAcrossBlocksEqualsHexdump(offset: Int64, seed: UInt64) throws {
        let bytes = Self.runs(rows: 40_000, seed: seed)
        let path = "/tmp/t-api-\(getpid())-\(UInt64.random(in: 0...UInt64.max))-blocks"
        let fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw HarnessError("open \(path): errno \(errno)") }
        defer {
            close(fd)
            unlink(path)
        }
        guard pwrite(fd, bytes, bytes.count, off_t(offset)) == bytes.count else { throw HarnessError("pwrite") }
        let expected = try Self.realHexdump(path, offset: offset, length: bytes.count)
        #expect(expected.count > 2 * 256 * 1024, "the text should span several blocks")
        #expect(expected.split(separator: UInt8(ascii: "\n")).filter { $0 == [UInt8(ascii: "*")] }.count > 1000)
        let response = HTTPResponse(status: 200, body: .stream(Hexdump(bytes, offset: offset)))
        #expect(response.bodyLength == UInt64(expected.count))
        for block in [256 * 1024, 4096, 87] {
            let ours = Hexdump(bytes, offset: offset).collect(block: block) ?? []
            #expect(ours == expected, "block \(block): first difference at \(Self.firstDifference(ours, expected))")
        }
    }

    static func firstDifference(_ a: [UInt8], _ b: [UInt8]) -> Int {
        (0..<min(a.count, b.count)).first { a[$0] != b[$0] } ?? min(a.count, b.count)
    }

    @Test func emptyDumpIsEmpty() {
        #expect(Hexdump([], offset: 100).length == 0)
        #expect(Hexdump([], offset: 100).collect() == [])
    }

    // MARK: - The fast path (16-byte lines at eight-digit offsets)

    /// Known answers: a run of zeros, a row repeated with a period of 16 (squeezed) and of 32 (not:
    /// only a line equal to the one just before it becomes `*`), and every byte value's character.
    @Test func fastPathKnownAnswers() {
        #expect(
            Self.show(Hexdump.text([UInt8](repeating: 0, count: 4096), offset: 0)) == """
                00000000  00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00  |................|
                *
                00001000

                """)
        let a = Array("ABCDEFGHIJKLMNOP".utf8)
        let b = Array("abcdefghijklmnop".utf8)
        #expect(
            Self.show(Hexdump.text(a + a + a + b + b + a, offset: 0x7FFF_FF00)) == """
                7fffff00  41 42 43 44 45 46 47 48  49 4a 4b 4c 4d 4e 4f 50  |ABCDEFGHIJKLMNOP|
                *
                7fffff30  61 62 63 64 65 66 67 68  69 6a 6b 6c 6d 6e 6f 70  |abcdefghijklmnop|
                *
                7fffff50  41 42 43 44 45 46 47 48  49 4a 4b 4c 4d 4e 4f 50  |ABCDEFGHIJKLMNOP|
                7fffff60

                """)
        #expect(
            Self.show(Hexdump.text(a + b + a + b + Array(a.prefix(3)), offset: 3)) == """
                00000003  41 42 43 44 45 46 47 48  49 4a 4b 4c 4d 4e 4f 50  |ABCDEFGHIJKLMNOP|
                00000013  61 62 63 64 65 66 67 68  69 6a 6b 6c 6d 6e 6f 70  |abcdefghijklmnop|
                00000023  41 42 43 44 45 46 47 48  49 4a 4b 4c 4d 4e 4f 50  |ABCDEFGHIJKLMNOP|
                00000033  61 62 63 64 65 66 67 68  69 6a 6b 6c 6d 6e 6f 70  |abcdefghijklmnop|
                00000043  41 42 43                                          |ABC|
                00000046

                """)
        let controls: [UInt8] = [
            0x00, 0x1F, 0x20, 0x21, 0x7E, 0x7F, 0x80, 0x9F, 0xA0, 0xFE, 0xFF, 0x2E, 0x41, 0x7A, 0x0A, 0x09,
        ]
        #expect(
            Self.show(Hexdump.text(controls, offset: 0)) == """
                00000000  00 1f 20 21 7e 7f 80 9f  a0 fe ff 2e 41 7a 0a 09  |.. !~.......Az..|
                00000010

                """)
    }

    /// Random bytes (no `*` at all), zeros (one line, `*`, the end) and repetitive rows, of odd lengths and
    /// at odd offsets, against the real tool; the last case ends one byte short of 4 GiB, so its every offset
    /// is still eight digits (the fast path) up to the closing `ffffffff`.
    @Test(
        arguments: [
            ("random", 0 as Int64, 65_536), ("random", 7, 65_536 + 9), ("random", 0, 15), ("random", 1, 16),
            ("random", 0x1_0000_0000 - 16_001, 16_000), ("zeros", 0, 100_000), ("zeros", 5, 33),
            ("repeating", 0, 16 * 999 + 15), ("repeating", 11, 5000),
        ] as [(String, Int64, Int)])
    func fastPathEqualsHexdump(kind: String, offset: Int64, length: Int) throws {
        var generator = SplitMix(UInt64(length) &* 31 &+ UInt64(offset))
        let bytes: [UInt8] =
            switch kind {
            case "random": (0..<length).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
            case "zeros": [UInt8](repeating: 0, count: length)
            default: (0..<length).map { UInt8(truncatingIfNeeded: ($0 / 48) % 3) &* 0x35 }  // rows A A A B B B C C C
            }
        let path = "/tmp/t-api-\(getpid())-\(UInt64.random(in: 0...UInt64.max))-fast"
        let fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw HarnessError("open \(path): errno \(errno)") }
        defer {
            close(fd)
            unlink(path)
        }
        guard pwrite(fd, bytes, bytes.count, off_t(offset)) == bytes.count else { throw HarnessError("pwrite") }
        let expected = try Self.realHexdump(path, offset: offset, length: length)
        #expect(!expected.isEmpty)
        #expect(
            Hexdump.text(bytes, offset: offset) == expected,
            "first difference at \(Self.firstDifference(Hexdump.text(bytes, offset: offset), expected))")
        for block in [256 * 1024, 79, 80, 1] {
            let ours = Hexdump(bytes, offset: offset).collect(block: block) ?? []
            #expect(ours == expected, "block \(block): first difference at \(Self.firstDifference(ours, expected))")
        }
    }

    // MARK: - JSON forms

    @Test func hexRowsShape() {
        let bytes: [UInt8] = Array("Hello, world!\n".utf8) + [0x00, 0x1F, 0x20, 0x7E, 0x7F, 0x80, 0xFF]
        let value = DumpFormat.hexRows(bytes, offset: 4096)
        #expect(value.keys == ["offset", "length", "rows"])
        #expect(value["offset"]?.int == 4096)
        #expect(value["length"]?.int == Int64(bytes.count))
        let rows = value["rows"]?.array ?? []
        #expect(rows.count == 2)
        #expect(rows.first?.keys == ["offset", "hex", "ascii"])
        #expect(rows.first?["offset"]?.int == 4096)
        #expect(rows.first?["hex"]?.string == "48 65 6c 6c 6f 2c 20 77 6f 72 6c 64 21 0a 00 1f")
        #expect(rows.first?["ascii"]?.string == "Hello, world!...")
        #expect(rows.last?["offset"]?.int == 4112)
        #expect(rows.last?["hex"]?.string == "20 7e 7f 80 ff")
        #expect(rows.last?["ascii"]?.string == " ~...")
    }

    @Test(arguments: [0, 1, 15, 16, 17, 32, 33, 1000])
    func hexRowsCountAndSizes(count: Int) {
        let bytes = Array(HexCase.pattern.prefix(count))
        let rows = DumpFormat.hexRows(bytes, offset: 7)["rows"]?.array ?? []
        #expect(rows.count == (count + 15) / 16)
        for (index, row) in rows.enumerated() {
            let expected = min(16, count - index * 16)
            #expect(row["offset"]?.int == Int64(7 + index * 16))
            #expect(row["hex"]?.string?.split(separator: " ").count == expected)
            #expect(row["hex"]?.string?.utf8.count == expected * 3 - 1)
            #expect(row["ascii"]?.string?.utf8.count == expected)
        }
    }

    @Test(arguments: [
        ("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("hello", "aGVsbG8="),
        ("\u{0}\u{FF}", "AMO/"),
    ])
    func base64Shape(text: String, encoded: String) {
        let bytes = Array(text.utf8)
        let value = DumpFormat.base64(bytes, offset: 12)
        #expect(value.keys == ["offset", "length", "data"])
        #expect(value["offset"]?.int == 12)
        #expect(value["length"]?.int == Int64(bytes.count))
        #expect(value["data"]?.string == encoded)
    }

    @Test func base64RoundTripsEveryByte() {
        let bytes = (0..<256).map { UInt8($0) }
        let data = DumpFormat.base64(bytes, offset: 0)["data"]?.string ?? ""
        #expect(Data(base64Encoded: data).map { [UInt8]($0) } == bytes)
    }

    @Test func formatLimits() {
        #expect(DumpFormat.hex.limit == 16 << 20)
        #expect(DumpFormat.base64.limit == 16 << 20)
        #expect(DumpFormat.hexdump.limit == 64 << 20)
        #expect(DumpFormat.raw.limit == nil)
        #expect(DumpFormat.allCases.map(\.rawValue) == ["hex", "hexdump", "base64", "raw"])
    }

    // MARK: - Range

    enum Expected: Sendable, Equatable, CustomStringConvertible {
        case whole, part(Int64, Int64), unsatisfiable

        init(_ range: ByteRange) {
            switch range {
            case .whole: self = .whole
            case .part(let start, let end): self = .part(start, end)
            case .unsatisfiable: self = .unsatisfiable
            }
        }

        var description: String {
            switch self {
            case .whole: "whole"
            case .part(let start, let end): "\(start)-\(end)"
            case .unsatisfiable: "unsatisfiable"
            }
        }
    }

    @Test(
        arguments: [
            (nil, 100, Expected.whole),
            ("bytes=0-9", 100, .part(0, 9)),
            ("bytes=0-0", 100, .part(0, 0)),
            ("bytes=5-", 100, .part(5, 99)),
            ("bytes=99-", 100, .part(99, 99)),
            ("bytes=-3", 100, .part(97, 99)),
            ("bytes=-100", 100, .part(0, 99)),
            ("bytes=-500", 100, .part(0, 99)),
            ("bytes=90-200", 100, .part(90, 99)),
            ("bytes= 2-4 ", 100, .part(2, 4)),
            // an invalid range (last before first) is ignored: the whole body
            ("bytes=10-5", 100, .whole),
            // beyond the length, or an empty suffix
            ("bytes=100-", 100, .unsatisfiable),
            ("bytes=100-200", 100, .unsatisfiable),
            ("bytes=1000-1001", 100, .unsatisfiable),
            ("bytes=-0", 100, .unsatisfiable),
            ("bytes=0-0", 0, .unsatisfiable),
            ("bytes=-5", 0, .unsatisfiable),
            // several ranges: one range only is served, so the header is ignored
            ("bytes=0-1,5-6", 100, .whole),
            ("bytes=0-1, 5-6", 100, .whole),
            // garbage is ignored
            ("bytes=", 100, .whole), ("bytes=-", 100, .whole), ("bytes=abc", 100, .whole), ("bytes=a-b", 100, .whole),
            ("bytes=1-x", 100, .whole), ("bytes=x-1", 100, .whole), ("bytes 0-9", 100, .whole),
            ("items=0-9", 100, .whole),
            ("0-9", 100, .whole), ("", 100, .whole), ("bytes=--1", 100, .whole), ("bytes=1--2", 100, .whole),
        ] as [(String?, Int64, Expected)])
    func byteRange(header: String?, length: Int64, expected: Expected) {
        #expect(Expected(ByteRange(header: header, length: length)) == expected, "\(header ?? "no Range") of \(length)")
    }
}

/// A small deterministic generator (SplitMix64) for test data.
struct SplitMix {
    var state: UInt64
    init(_ seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
