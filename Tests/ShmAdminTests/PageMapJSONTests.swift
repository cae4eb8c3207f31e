import HTTPServer
import JSON
import Testing

@testable import SectionRegistry
@testable import ShmAdmin

/// The page map's hand-written JSON is byte for byte what the `JSONValue` tree of the same members
/// gives, at every integer width and for every state.
@Suite struct PageMapJSONTests {
    static func viaTree(_ map: PageMap) -> [UInt8] {
        JSONValue.object([
            ("pageSize", .int(map.pageSize)), ("reserve", .int(map.reserve)), ("commit", .int(map.commit)),
            ("allocatedBytes", .int(map.allocatedBytes)), ("dataBytes", .int(map.dataBytes)),
            (
                "runs",
                .array(
                    map.runs.map {
                        .object([
                            ("offset", .int($0.offset)), ("length", .int($0.length)),
                            ("state", .string($0.state.rawValue)),
                        ])
                    })
            ),
            ("truncated", .bool(map.truncated)),
        ]).serialized()
    }

    /// 0, every power of ten and the numbers either side of it, up to Int64.max, and a few negatives.
    static let integers: [Int64] = {
        var values: [Int64] = [0, 1, 9, Int64.max, Int64.max - 1, -1, -10, -99, -100, Int64.min + 1]
        var power: Int64 = 10
        while true {
            values += [power - 1, power, power + 1]
            let (next, overflow) = power.multipliedReportingOverflow(by: 10)
            if overflow { break }
            power = next
        }
        return values
    }()

    @Test(arguments: [false, true])
    func sameBytesAsTheTree(truncated: Bool) {
        let states: [PageState] = [.data, .committed, .reserved]
        let runs = Self.integers.enumerated().map { index, value in
            PageRun(offset: value, length: Self.integers[(index * 7) % Self.integers.count], state: states[index % 3])
        }
        let map = PageMap(
            pageSize: 4096, reserve: Int64.max, commit: 0, allocatedBytes: 1 << 40, dataBytes: 999_999,
            runs: runs, truncated: truncated)
        let ours = PageMapJSON(map: map).response().bodyBytes
        #expect(String(decoding: ours, as: UTF8.self) == String(decoding: Self.viaTree(map), as: UTF8.self))
    }

    @Test func extremeHeadAndNoRuns() {
        for value in [Int64.max, Int64.min, 0] {
            let map = PageMap(
                pageSize: value, reserve: value, commit: value, allocatedBytes: value, dataBytes: value, runs: [],
                truncated: false)
            #expect(PageMapJSON(map: map).response().bodyBytes == Self.viaTree(map))
        }
    }
}
