import Testing

@testable import shm_admin

/// The pieces of the shell subcommands' output that need no host: units, escaping, permissions,
/// durations, table layout, the event-stream reader.
@Suite struct OutputTests {
    @Test(arguments: [
        (Int64(0), "0B"), (1023, "1023B"), (1024, "1K"), (1536, "1.5K"), (4096, "4K"), (65536, "64K"),
        (1_048_575, "1M"), (1_048_576, "1M"), (1_572_864, "1.5M"), (1 << 30, "1G"), (1_717_986_918, "1.6G"),
        (1 << 40, "1T"), (Int64.max, "8E"),
    ])
    func binaryUnitsAsLsblkPrintsThem(value: Int64, text: String) {
        #expect(Units.binary(value) == text)
    }

    @Test(arguments: [
        ("orders", "orders"), ("odd name", #"odd\x20name"#), (#"quo"te"#, #"quo\x22te"#), ("sq'x", #"sq\x27x"#),
        ("é", #"\xc3\xa9"#), ("ctl\u{1}x", #"ctl\x01x"#), ("esc\u{1B}[31m", #"esc\x1b[31m"#), ("tab\t", #"tab\x09"#),
        (#"back\slash"#, #"back\x5cslash"#), ("", ""),
    ])
    func namesAreEscapedAndComeBack(name: String, shown: String) {
        #expect(Escape.text(name) == shown)
        #expect(SectionNames.fromArgument(shown) == name)
    }

    @Test func hrefsAndPercentEncoding() {
        #expect(SectionNames.fromArgument("/api/v1/sections/odd%20name") == "odd name")
        #expect(SectionNames.fromArgument("http://127.0.0.1:8080/api/v1/sections/a%2Fb") == "a/b")
        #expect(URLText.percentEncoded("odd name/é") == "odd%20name%2F%C3%A9")
    }

    @Test(arguments: [
        ("0600", "rw-------"), ("0644", "rw-r--r--"), ("0666", "rw-rw-rw-"), ("1777", "rwxrwxrwt"),
        ("4755", "rwsr-xr-x"), ("2640", "rw-r-S---"), ("bogus", "-"),
    ])
    func permissionsAsLsShowsThem(mode: String, text: String) {
        #expect(SectionColumns.permissions(mode) == text)
    }

    @Test func durations() throws {
        #expect(try parseDuration("250ms") == 0.25)
        #expect(try parseDuration("5s") == 5)
        #expect(try parseDuration("10m") == 600)
        #expect(try parseDuration("24h") == 86_400)
        #expect(try parseDuration("1.5") == 1.5)
        #expect(throws: (any Error).self) { try parseDuration("soon") }
        #expect(throws: (any Error).self) { try parseDuration("-1s") }
    }

    @Test func agesInTheLargestWholeUnit() {
        #expect(SectionColumns.age(since: 0) == SectionColumns.duration(SectionColumns.now))
        // whole seconds, as the text has them
        #expect(SectionColumns.age(since: Double(SectionColumns.now) - 90.5) == "91s")
        #expect(SectionColumns.age(since: nil) == "-" && SectionColumns.age(since: .nan) == "-")
        #expect(SectionColumns.age(since: Double(SectionColumns.now) + 60) == "0s")
        #expect(SectionColumns.age(since: nil) == "-")
    }

    @Test func tableLayout() {
        let text = TableText.lines(
            header: ["NAME", "SIZE", "LABELS"], cells: [["a", "4K", "x=1"], ["longer", "1.5M", ""]],
            rightAligned: [false, true, false], aligned: true, colour: false)
        #expect(text == "NAME   SIZE LABELS\na        4K x=1\nlonger 1.5M \n")
        let raw = TableText.lines(
            header: nil, cells: [["a", "4K"], ["longer", "1.5M"]], rightAligned: [false, true], aligned: false,
            colour: false)
        #expect(raw == "a 4K\nlonger 1.5M\n")
        let bold = TableText.lines(header: ["A"], cells: [], rightAligned: [false], aligned: true, colour: true)
        #expect(bold == "\u{1B}[1mA\u{1B}[0m\n")
    }

    @Test func columnSelection() throws {
        let shape = SectionColumns.shape
        #expect(try shape.selected(nil).map(\.name) == shape.defaults)
        #expect(try shape.selected("name,size").map(\.name) == ["NAME", "SIZE"])
        #expect(try shape.selected("+RESERVE").map(\.name) == shape.defaults + ["RESERVE"])
        #expect(throws: (any Error).self) { try shape.selected("NAME,NOPE") }
    }

    @Test func eventStreamDataSplitAnywhere() {
        let stream = Array(
            ": keep-alive\n\nid: 1\nevent: created\ndata: {\"a\":1}\n\nid: 2\r\ndata: {\"b\":2}\r\n\r\n".utf8)
        for cut in 0...stream.count {
            var parser = EventStreamParser()
            var got: [[UInt8]] = []
            stream[..<cut].withUnsafeBytes { got += parser.feed($0) }
            stream[cut...].withUnsafeBytes { got += parser.feed($0) }
            #expect(got == [Array(#"{"a":1}"#.utf8), Array(#"{"b":2}"#.utf8)], "cut at \(cut)")
        }
    }

    @Test func listingPagesJoin() {
        let pages = [
            Array(#"{"sections":[{"n":1},{"n":2}],"total":3}"#.utf8), Array(#"{"sections":[{"n":3}],"total":3}"#.utf8),
        ]
        #expect(ListingPages.join(pages, total: 3) == Array(#"{"sections":[{"n":1},{"n":2},{"n":3}],"total":3}"#.utf8))
    }

    @Test func requestBodies() {
        var body = JSONText()
        body.member("name", string: "q\"\\\u{1}")
        body.member("reserve", int: 4096)
        body.member("labels", labels: ["b": "2", "a": "1"])
        #expect(
            String(decoding: body.bytes, as: UTF8.self)
                == #"{"name":"q\"\\\u0001","reserve":4096,"labels":{"a":"1","b":"2"}}"#)
    }

    @Test func problemLines() {
        var problem = Problem(
            status: 409, title: "Section is mapped by other processes", detail: "section 'x' is mapped")
        problem.pids = [12, 34]
        #expect(problem.line == "Section is mapped by other processes: section 'x' is mapped (pids: 12, 34)")
        var timeout = Problem(status: 423, title: "Lock not acquired", detail: "not within 300 ms")
        timeout.holders = [(7, "exclusive"), (-1, "shared")]
        #expect(
            timeout.line == "Lock not acquired: not within 300 ms (held by pid 7 (exclusive), unknown pid (shared))")
    }
}

@Suite struct WatchOutputTests {
    static func event(_ json: String) -> Document { Document.parse(Array(json.utf8))! }

    @Test func namedSectionsShowTheirEventsAndRescansOnly() {
        let wanted: Set = ["a"]
        #expect(EventText.shown(Self.event(#"{"type":"created","section":"a"}"#), wanted: wanted))
        #expect(!EventText.shown(Self.event(#"{"type":"created","section":"b"}"#), wanted: wanted))
        #expect(EventText.shown(Self.event(#"{"type":"rescan","section":null}"#), wanted: wanted))
        #expect(
            !EventText.shown(Self.event(#"{"type":"mount-removed","section":null,"mount":"0:43"}"#), wanted: wanted))
        #expect(EventText.shown(Self.event(#"{"type":"mount-removed","section":null}"#), wanted: []))
    }

    @Test func listsAndObjectsAreWrittenOut() {
        let line = EventText.line(
            Self.event(
                #"{"id":3,"type":"mount-added","section":null,"source":"external","time":"T","mount":"0:43","pids":[7,9]}"#
            ))
        #expect(line == "T mount-added - external mount=0:43 pids=7,9\n")
    }
}
