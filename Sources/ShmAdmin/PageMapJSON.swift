import HTTPServer
import JSON
import SectionRegistry

extension Render {
    /// A page map's JSON, written straight into one buffer sized for the worst case: a map can hold a
    /// million runs, and the walk that found them is the only part of the answer that should take time
    /// (a tree of `JSONValue`s allocated for every member; appending literal strings to an array went
    /// through String's UTF-8 view for every run).
    static func pageMap(_ map: PageMap) -> [UInt8] {
        let bound = PageMapWriter.headBound + map.runs.count * PageMapWriter.runBound
        return [UInt8](unsafeUninitializedCapacity: bound) { buffer, count in
            count = PageMapWriter.pairs.withUnsafeBufferPointer { pairs in
                write(map, into: PageMapWriter(buffer.baseAddress!, pairs: pairs.baseAddress!))
                    - buffer.baseAddress!
            }
        }
    }

    /// Writes the whole map and returns where the text ends.
    private static func write(_ map: PageMap, into writer: PageMapWriter) -> UnsafeMutablePointer<UInt8> {
        var out = writer
        out.literal("{\"pageSize\":")
        out.integer(map.pageSize)
        out.literal(",\"reserve\":")
        out.integer(map.reserve)
        out.literal(",\"commit\":")
        out.integer(map.commit)
        out.literal(",\"allocatedBytes\":")
        out.integer(map.allocatedBytes)
        out.literal(",\"dataBytes\":")
        out.integer(map.dataBytes)
        out.literal(",\"runs\":[")
        for index in map.runs.indices {
            let run = map.runs[index]
            out.literal(index == 0 ? "{\"offset\":" : ",{\"offset\":")
            out.integer(run.offset)
            out.literal(",\"length\":")
            out.integer(run.length)
            switch run.state {
            case .data: out.literal(",\"state\":\"data\"}")
            case .committed: out.literal(",\"state\":\"committed\"}")
            case .reserved: out.literal(",\"state\":\"reserved\"}")
            }
        }
        out.literal(map.truncated ? "],\"truncated\":true}" : "],\"truncated\":false}")
        return out.end
    }
}

/// Writes JSON text at a pointer into room the caller has made: no bounds checks, no reallocation.
struct PageMapWriter {
    /// The most the members around the runs take: their names (93 bytes) and five integers of up to 20
    /// characters.
    static let headBound = 93 + 5 * 20
    /// The most one run takes: `,{"offset":N,"length":N,"state":"committed"}` with 20-character integers.
    static let runBound = 2 + 9 + 20 + 10 + 20 + 22

    private var at: UnsafeMutablePointer<UInt8>
    private let pairs: UnsafePointer<UInt16>

    /// Writes from `start`, with the table of digit pairs (`PageMapWriter.pairs`) at `pairs`.
    init(_ start: UnsafeMutablePointer<UInt8>, pairs: UnsafePointer<UInt16>) {
        at = start
        self.pairs = pairs
    }

    /// Where the text written so far ends.
    var end: UnsafeMutablePointer<UInt8> { at }

    @inline(__always)
    mutating func literal(_ text: StaticString) {
        at.update(from: text.utf8Start, count: text.utf8CodeUnitCount)
        at += text.utf8CodeUnitCount
    }

    /// The decimal digits of `value`, two at a time from the table.
    @inline(__always)
    mutating func integer(_ value: Int64) {
        at = JSONWriter.writeInteger(value, at: at, pairs: pairs)
    }

    static let pairs = JSONWriter.digitPairs
}
