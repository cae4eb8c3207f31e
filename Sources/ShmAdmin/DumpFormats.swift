import HTTPServer

#if canImport(Glibc)
    import Glibc
#endif

#if canImport(FoundationEssentials)
    import FoundationEssentials
#endif

/// The text forms of a range of section bytes.
enum DumpFormat: String, CaseIterable {
    case hex, hexdump, base64, raw

    /// The most a request may ask for in this format (raw streams and has none).
    var limit: Int64? {
        switch self {
        case .hex, .base64: 16 << 20
        case .hexdump: 64 << 20
        case .raw: nil
        }
    }

    /// The most a raw dump through a view may ask for: its bytes are copied from the mapping.
    static let viewRawLimit: Int64 = 64 << 20

    /// Raw dumps up to this size are read whole before answering; larger ones are streamed.
    static let rawReadAtOnce: Int64 = 1 << 20

    private static let digits = Array("0123456789abcdef".utf8)

    /// `{"offset","length","rows":[{"offset","hex","ascii"}]}` with 16-byte rows.
    static func hexRows(_ bytes: [UInt8], offset: Int64) -> JSONValue {
        var rows: [JSONValue] = []
        rows.reserveCapacity(bytes.count / 16 + 1)
        var start = 0
        while start < bytes.count {
            let row = bytes[start..<min(start + 16, bytes.count)]
            var hex: [UInt8] = []
            hex.reserveCapacity(48)
            var ascii: [UInt8] = []
            for (index, byte) in row.enumerated() {
                if index > 0 { hex.append(32) }
                hex.append(digits[Int(byte >> 4)])
                hex.append(digits[Int(byte & 15)])
                ascii.append((0x20...0x7e).contains(byte) ? byte : 46)
            }
            rows.append(
                .object([
                    ("offset", .int(offset + Int64(start))), ("hex", .string(String(decoding: hex, as: UTF8.self))),
                    ("ascii", .string(String(decoding: ascii, as: UTF8.self))),
                ]))
            start += 16
        }
        return .object([("offset", .int(offset)), ("length", .int(Int64(bytes.count))), ("rows", .array(rows))])
    }

    static func base64(_ bytes: [UInt8], offset: Int64) -> JSONValue {
        .object([
            ("offset", .int(offset)), ("length", .int(Int64(bytes.count))),
            ("data", .string(Data(bytes).base64EncodedString())),
        ])
    }

    /// The two lowercase hex digits of every byte value.
    private static let hexPairs: [UInt16] = (0..<256).map { value in
        UInt16(digits[value >> 4]) | UInt16(digits[value & 15]) << 8
    }

    /// The longest line: a 16-digit offset, two spaces, 16 × 3 hex columns, the middle space,
    /// " |", 16 characters, "|\n".
    private static let longestLine = 16 + 2 + 48 + 1 + 2 + 16 + 2

    /// Byte for byte what `hexdump -C -s OFFSET -n COUNT` prints for these bytes, `*` lines included.
    /// Written into one buffer sized up front: this runs over up to 64 MiB a request.
    static func canonical(_ bytes: [UInt8], offset: Int64) -> [UInt8] {
        guard !bytes.isEmpty else { return [] }
        let rows = (bytes.count + 15) / 16
        return bytes.withUnsafeBufferPointer { input in
            [UInt8](unsafeUninitializedCapacity: rows * longestLine + longestLine) { out, count in
                var at = 0
                var squeezing = false
                var start = 0
                while start < input.count {
                    let length = min(16, input.count - start)
                    if length == 16, start >= 16,
                        memcmp(input.baseAddress! + start, input.baseAddress! + start - 16, 16) == 0
                    {
                        if !squeezing {
                            out[at] = 42  // "*"
                            out[at + 1] = 10
                            at += 2
                            squeezing = true
                        }
                        start += 16
                        continue
                    }
                    squeezing = false
                    at = writeOffset(offset + Int64(start), into: out, at: at)
                    out[at] = 32
                    out[at + 1] = 32
                    at += 2
                    for index in 0..<16 {
                        if index < length {
                            let pair = hexPairs[Int(input[start + index])]
                            out[at] = UInt8(truncatingIfNeeded: pair)
                            out[at + 1] = UInt8(truncatingIfNeeded: pair >> 8)
                        } else {
                            out[at] = 32
                            out[at + 1] = 32
                        }
                        out[at + 2] = 32
                        at += 3
                        if index == 7 {
                            out[at] = 32
                            at += 1
                        }
                    }
                    out[at] = 32
                    out[at + 1] = 124  // " |"
                    at += 2
                    for index in 0..<length {
                        let byte = input[start + index]
                        out[at] = (0x20...0x7e).contains(byte) ? byte : 46
                        at += 1
                    }
                    out[at] = 124  // "|"
                    out[at + 1] = 10
                    at += 2
                    start += 16
                }
                at = writeOffset(offset + Int64(input.count), into: out, at: at)
                out[at] = 10
                count = at + 1
            }
        }
    }

    /// `%08x`: at least eight lowercase hex digits.
    private static func writeOffset(_ value: Int64, into out: UnsafeMutableBufferPointer<UInt8>, at start: Int) -> Int {
        var width = 8
        while width < 16 && (UInt64(value) >> UInt64(4 * width)) != 0 { width += 1 }
        for index in 0..<width {
            out[start + index] = digits[Int((UInt64(value) >> UInt64(4 * (width - 1 - index))) & 15)]
        }
        return start + width
    }
}

/// A `Range: bytes=…` header over a body of `length` bytes (one range; others are ignored).
enum ByteRange {
    case whole
    case part(start: Int64, end: Int64)  // inclusive end
    case unsatisfiable

    init(header: String?, length: Int64) {
        guard let header, header.hasPrefix("bytes=") else {
            self = .whole
            return
        }
        let spec = header.dropFirst(6).trimmingCharacters(in: " ")
        guard !spec.contains(","), let dash = spec.firstIndex(of: "-") else {
            self = .whole
            return
        }
        let first = spec[..<dash]
        let last = spec[spec.index(after: dash)...]
        if first.isEmpty {
            guard let suffix = Int64(last), suffix > 0 else {
                self = Int64(last) == 0 ? .unsatisfiable : .whole  // "bytes=-0" asks for nothing
                return
            }
            self = length == 0 ? .unsatisfiable : .part(start: max(0, length - suffix), end: length - 1)
            return
        }
        guard let start = Int64(first), last.isEmpty || Int64(last) != nil else {
            self = .whole
            return
        }
        let end = last.isEmpty ? length - 1 : min(Int64(last)!, length - 1)
        if let given = Int64(last), given < start {
            self = .whole
            return
        }
        self = start >= length ? .unsatisfiable : .part(start: start, end: end)
    }
}
