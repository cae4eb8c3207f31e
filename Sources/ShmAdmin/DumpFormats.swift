import HTTPServer
import JSON

#if canImport(Glibc)
    import Glibc
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
            ("data", .string(Base64.encoded(bytes))),
        ])
    }
}

/// What a raw dump of `count` bytes from `offset` sends for the request's `Range` header: the part
/// (status, first byte, size, headers), or the 416 answer when it asks for none of them.
struct RawPart {
    var status = 200
    var start: Int64
    var size: Int64
    var headers: [(String, String)] = [("Accept-Ranges", "bytes")]

    enum Choice {
        case part(RawPart)
        case unsatisfiable(HTTPResponse)
    }

    /// `commit` is the object's size, for the problem's `commit` member.
    static func of(_ request: HTTPRequest, offset: Int64, count: Int64, commit: Int64) -> Choice {
        var part = RawPart(start: offset, size: count)
        switch ByteRange(header: request.headers["Range"], length: count) {
        case .whole: break
        case .unsatisfiable:
            return .unsatisfiable(
                HTTPResponse.problem(
                    Problems.rangeNotSatisfiable("the Range is outside the \(count) bytes asked for", commit: commit)
                ).adding("Content-Range", "bytes */\(count)"))
        case .part(let first, let last):
            part.status = 206
            part.start = offset + first
            part.size = last - first + 1
            part.headers.append(("Content-Range", "bytes \(first)-\(last)/\(count)"))
        }
        return .part(part)
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
