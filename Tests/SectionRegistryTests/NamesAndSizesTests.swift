import Testing

@testable import SectionRegistry

@Suite("Names and sizes")
struct NamesAndSizesTests {
    static let hostileNames: [(String, String)] = [
        ("", "empty"),
        (".", "dot"),
        ("..", "dot-dot"),
        ("a/b", "slash"),
        ("/abc", "leading slash"),
        ("a\\b", "backslash"),
        ("a\u{0}b", "NUL"),
        ("a\nb", "newline"),
        ("a\tb", "tab"),
        ("\u{1b}[31m", "escape"),
        ("a\u{7f}", "DEL"),
        ("a\u{85}", "C1 next line"),
        ("a\u{9f}", "C1 last"),
        (String(repeating: "a", count: 256), "256 bytes"),
        (String(repeating: "€", count: 86), "86 three-byte characters: 258 bytes"),
        (String(repeating: "é", count: 127) + "ab", "257 bytes of two-byte characters"),
        (String(decoding: [0x61, 0xff, 0x62], as: UTF8.self), "invalid UTF-8 (0xff)"),
        (String(decoding: [0xc3, 0x28], as: UTF8.self), "invalid UTF-8 (bad continuation)"),
        (String(decoding: [0xed, 0xa0, 0x80], as: UTF8.self), "invalid UTF-8 (surrogate)"),
    ]

    @Test("hostile names are refused with .invalidName", arguments: hostileNames)
    func hostileName(_ name: String, _ why: String) {
        let error = expectError(.invalidName) { try SectionName(name) }
        #expect(SectionName.problem(with: name) != nil, "\(why)")
        #expect(error?.message.contains("invalid section name") == true)
    }

    static let goodNames: [String] = [
        "a", "orders", "with space", "dots.in.middle", "...", ".hidden", "-dash", "UPPER_lower-09",
        "日本語", "emoji🙂",
        String(repeating: "a", count: 255),
        String(repeating: "€", count: 85),  // 255 bytes of three-byte characters
        String(repeating: "é", count: 127) + "a",  // 255 bytes
        String(repeating: "🙂", count: 63) + "abc",  // 252 + 3 bytes
    ]

    @Test("valid names are accepted unchanged", arguments: goodNames)
    func goodName(_ name: String) throws {
        #expect(name.utf8.count <= 255)
        let section = try SectionName(name)
        #expect(section.value == name)
        #expect(SectionName.problem(with: name) == nil)
    }

    @Test("a 255-byte multi-byte name really works in /dev/shm, one more byte does not")
    func longestNameOnDisk() throws {
        let box = try Sandbox()
        defer { box.close() }
        let registry = try box.registry()
        let filler = String(repeating: "€", count: (255 - box.prefix.utf8.count) / 3)
        let padded =
            box.prefix + filler + String(repeating: "x", count: 255 - box.prefix.utf8.count - filler.utf8.count)
        #expect(padded.utf8.count == 255)
        let name = try SectionName(padded)
        let (info, created) = try registry.create(CreateRequest(name: name, reserve: 4096))
        #expect(created)
        #expect(info.name == padded)
        #expect(fileExists(Sandbox.shm + "/" + padded))
        expectError(.invalidName) { try SectionName(padded + "x") }
    }

    @Test("sem.* names are semaphores and cannot be created as sections")
    func semaphoreNames() throws {
        #expect(try SectionName("sem.x").isSemaphoreName)
        #expect(try !SectionName("semx").isSemaphoreName)
        let box = try Sandbox()
        defer { box.close() }
        let registry = try box.registry()
        expectError(.invalidName) { try registry.make(SectionName("sem." + box.prefix + "s"), reserve: 4096) }
        #expect(!fileExists(Sandbox.shm + "/sem." + box.prefix + "s"))
    }

    @Test(
        "roundUp to pages",
        arguments: [
            (Int64(0), Int64?(0)), (1, 4096), (4095, 4096), (4096, 4096), (4097, 8192), (Int64.max, nil),
            (Int64.max - 4095, Int64.max - 4095), (Int64.max - 4094, nil),
        ])
    func roundUp(_ value: Int64, _ expected: Int64?) {
        #expect(ByteSize.roundUp(value, toMultipleOf: 4096) == expected)
    }

    @Test(
        "describe sizes for messages",
        arguments: [(Int64(0), "0 B"), (1023, "1023 B"), (1024, "1 KiB"), (1536, "1.5 KiB"), (1 << 30, "1 GiB")])
    func describe(_ value: Int64, _ text: String) {
        #expect(ByteSize.describe(value) == text)
    }

    static let managedSizes: [(reserve: Int64, commit: Int64?, reserveInForce: Int64, commitInForce: Int64)] = [
        (1, nil, 4096, 4096),
        (4096, nil, 4096, 4096),
        (5000, nil, 8192, 8192),
        (5000, 1, 8192, 4096),
        (5000, 0, 8192, 0),
        (64 * 1024 + 1, 100, 69632, 4096),
    ]

    @Test("managed reserve and commit are rounded up to pages", arguments: managedSizes)
    func pageRounding(_ sizes: (reserve: Int64, commit: Int64?, reserveInForce: Int64, commitInForce: Int64)) throws {
        try #require(page == 4096, "the table assumes 4 KiB pages")
        let box = try Sandbox()
        defer { box.close() }
        let registry = try box.registry()
        let name = try box.sectionName("r")
        let info = try registry.make(name, reserve: sizes.reserve, commit: sizes.commit)
        #expect(info.reserve == sizes.reserveInForce)
        #expect(info.commit == sizes.commitInForce)
        #expect(fileStatus(box.path("r"))?.st_size == Int(sizes.commitInForce))
    }

    static let badCreates: [(reserve: Int64, commit: Int64?, code: SectionError.Kind)] = [
        (0, nil, .invalidSize),
        (-4096, nil, .invalidSize),
        (Int64.max, 4096, .invalidSize),
        (4096, -1, .invalidSize),
        (4096, 8192, .invalidArgument),  // commit past reserve
        (4096, 4097, .invalidArgument),
    ]

    @Test("impossible reserve/commit pairs are refused and leave nothing", arguments: badCreates)
    func badSizes(_ sizes: (reserve: Int64, commit: Int64?, code: SectionError.Kind)) throws {
        let box = try Sandbox()
        defer { box.close() }
        let registry = try box.registry()
        expectError(sizes.code) {
            try registry.make(box.sectionName("bad"), reserve: sizes.reserve, commit: sizes.commit)
        }
        #expect(box.leftovers().isEmpty)
    }
}
