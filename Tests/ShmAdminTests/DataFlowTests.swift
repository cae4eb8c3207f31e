import Foundation
import HTTPServer
import Testing

@testable import ShmAdmin

#if canImport(Glibc)
    import Glibc
#endif

/// Data, views and locks through the router on the real /dev/shm.
@Suite struct DataFlowTests {
    static let payload: [UInt8] = Array("Hello, world!\n".utf8) + [0x00, 0xFF]

    /// A section `d` (reserve 64 KiB, commit 8 KiB) with `payload` at offset 100.
    static func prepared(reserve: String = "\"64KiB\"", commit: String = "8192") throws -> (APIHarness, String) {
        let box = try APIHarness()
        box.create("d", reserve: reserve, commit: commit)
        return (box, "/api/v1/sections/\(box.name("d"))")
    }

    @Test func putThenGetInEachFormat() throws {
        let (box, base) = try Self.prepared()
        defer { box.close() }
        let put = box.call("PUT", base + "/data", query: [("offset", "100")], body: Self.payload)
        #expect(put.status == 200)
        #expect(put.json == ["offset": 100, "written": 16, "requested": 16])
        #expect(readBytes(box.path("d"), offset: 100, count: 16) == Self.payload)

        let window = [("offset", "96"), ("length", "32")]
        let expected = [UInt8](repeating: 0, count: 4) + Self.payload + [UInt8](repeating: 0, count: 12)

        let hex = box.call("GET", base + "/data", query: window + [("format", "hex")])
        #expect(hex.status == 200)
        #expect(hex.json == DumpFormat.hexRows(expected, offset: 96))
        #expect(hex.json["rows"]?[0]?["hex"]?.string == "00 00 00 00 48 65 6c 6c 6f 2c 20 77 6f 72 6c 64")
        #expect(box.call("GET", base + "/data", query: window).json == hex.json, "hex is the default format")

        let base64 = box.call("GET", base + "/data", query: window + [("format", "base64")])
        #expect(base64.json["offset"]?.int == 96)
        #expect(base64.json["length"]?.int == 32)
        #expect(base64.json["data"]?.string.flatMap { Data(base64Encoded: $0) }.map { [UInt8]($0) } == expected)

        let hexdump = box.call("GET", base + "/data", query: window + [("format", "hexdump")])
        #expect(hexdump.headers["Content-Type"]?.hasPrefix("text/plain") == true)
        let real = try run("/usr/bin/hexdump", ["-C", "-s", "96", "-n", "32", box.path("d")])
        #expect(
            hexdump.bodyBytes == real.output,
            "\(hexdump.text)\nvs hexdump -C:\n\(String(decoding: real.output, as: UTF8.self))")

        let raw = box.call("GET", base + "/data", query: window + [("format", "raw")])
        #expect(raw.status == 200)
        #expect(raw.headers["Content-Type"] == "application/octet-stream")
        #expect(raw.headers["Accept-Ranges"] == "bytes")
        // Up to 1 MiB a raw dump is read whole, so a truncation racing it is a clean 416.
        #expect(raw.bodyBytes == expected)
    }

    /// Past 1 MiB a raw dump streams from the object (no copy through Swift); up to it, it is read whole.
    @Test func largeRawDumpsStreamFromTheObject() throws {
        let (box, base) = try Self.prepared(reserve: "\"4MiB\"", commit: "\"2MiB\"")
        defer { box.close() }
        _ = box.call("PUT", base + "/data", query: [("offset", "1048600")], body: Self.payload)
        let large = box.call("GET", base + "/data", query: [("offset", "24"), ("format", "raw")])
        #expect(large.status == 200)
        guard case .file(let region) = large.body else {
            Issue.record("a raw dump over 1 MiB is not streamed from the object")
            return
        }
        #expect(region.offset == 24)
        #expect(region.length == 2 * 1_048_576 - 24)
        #expect(preadAll(region.descriptor, offset: 1_048_600, count: 16) == Self.payload)
        let small = box.call(
            "GET", base + "/data", query: [("offset", "24"), ("length", "1048576"), ("format", "raw")])
        guard case .bytes(let bytes) = small.body else {
            Issue.record("a raw dump of 1 MiB is not read whole")
            return
        }
        #expect(bytes.count == 1_048_576)
    }

    @Test func wholeCommitByDefaultAndEmptyDumps() throws {
        let (box, base) = try Self.prepared()
        defer { box.close() }
        let whole = box.call("GET", base + "/data")
        #expect(whole.json["length"]?.int == 8192)
        #expect(whole.json["rows"]?.array?.count == 512)
        let tail = box.call("GET", base + "/data", query: [("offset", "8000"), ("format", "base64")])
        #expect(tail.json["length"]?.int == 192)
        let empty = box.call("GET", base + "/data", query: [("offset", "8192"), ("length", "0")])
        #expect(empty.status == 200)
        #expect(empty.json["rows"] == [])
        let emptyDump = box.call("GET", base + "/data", query: [("length", "0"), ("format", "hexdump")])
        #expect(emptyDump.status == 200)
        #expect(emptyDump.bodyBytes.isEmpty, "hexdump -C -n 0 prints nothing")
    }

    @Test func rawHonoursRange() throws {
        let (box, base) = try Self.prepared()
        defer { box.close() }
        _ = box.call("PUT", base + "/data", query: [("offset", "100")], body: Self.payload)
        let window = [("offset", "100"), ("length", "16"), ("format", "raw")]
        let part = box.call("GET", base + "/data", query: window, headers: [("Range", "bytes=7-11")])
        #expect(part.status == 206)
        #expect(part.headers["Content-Range"] == "bytes 7-11/16")
        #expect(part.bodyBytes == Array("world".utf8))
        let suffix = box.call("GET", base + "/data", query: window, headers: [("Range", "bytes=-2")])
        #expect(suffix.headers["Content-Range"] == "bytes 14-15/16")
        let beyond = box.call("GET", base + "/data", query: window, headers: [("Range", "bytes=16-")])
        #expect(beyond.status == 416)
        #expect(beyond.headers["Content-Range"] == "bytes */16")
        let ignored = box.call("GET", base + "/data", query: window, headers: [("Range", "bytes=0-1,4-5")])
        #expect(ignored.status == 200)
        #expect(ignored.bodyLength == 16)
    }

    @Test(arguments: ["hex", "hexdump", "base64", "raw"])
    func rangesOutsideTheCommitAre416(format: String) throws {
        let (box, base) = try Self.prepared()
        defer { box.close() }
        for window in [
            [("offset", "8000"), ("length", "500")], [("offset", "8193")], [("offset", "9000"), ("length", "0")],
            [("offset", "9223372036854775807"), ("length", "10")],
        ] {
            let response = box.call("GET", base + "/data", query: window + [("format", format)])
            #expect(response.status == 416, "\(window) \(format): \(response.text)")
            #expect(response.problemType == "/problems/range-not-satisfiable")
            #expect(response.json["commit"]?.int == 8192)
        }
    }

    @Test func writesOutsideTheCommitWriteNothingUnlessPartial() throws {
        let (box, base) = try Self.prepared()
        defer { box.close() }
        let outside = box.call("PUT", base + "/data", query: [("offset", "8190")], body: [1, 2, 3, 4])
        #expect(outside.status == 416)
        #expect(outside.json["commit"]?.int == 8192)
        #expect(readBytes(box.path("d"), offset: 8190, count: 2) == [0, 0], "a refused write wrote")
        #expect(fileStatus(box.path("d")).map { Int64($0.st_size) } == 8192)

        let partial = box.call(
            "PUT", base + "/data", query: [("offset", "8190"), ("partial", "true")], body: [1, 2, 3, 4])
        #expect(partial.status == 200)
        #expect(partial.json == ["offset": 8190, "written": 2, "requested": 4])
        #expect(readBytes(box.path("d"), offset: 8190, count: 2) == [1, 2])

        #expect(box.call("PUT", base + "/data", body: [1]).status == 400, "offset is required")
        #expect(box.call("PUT", base + "/data", query: [("offset", "-1")], body: [1]).status == 400)
        let json = box.call("PUT", base + "/data", query: [("offset", "0")], json: "{}")
        #expect(json.status == 415)
        let text = box.call(
            "PUT", base + "/data", query: [("offset", "0")], body: Array("hi".utf8), contentType: "text/plain")
        #expect(text.status == 200, "any type but JSON is bytes")
        #expect(box.call("PUT", base + "/data", query: [("offset", "0")], body: []).json["written"]?.int == 0)
    }

    @Test func dumpsRefuseBadQueriesAndOverLimits() throws {
        let (box, base) = try Self.prepared()
        defer { box.close() }
        #expect(box.call("GET", base + "/data", query: [("format", "xml")]).status == 400)
        #expect(box.call("GET", base + "/data", query: [("offset", "-5")]).status == 400)
        #expect(box.call("GET", base + "/data", query: [("length", "x")]).status == 400)
        let tooMuch = box.call("GET", base + "/data", query: [("length", "\((16 << 20) + 1)"), ("format", "hex")])
        #expect(tooMuch.status == 422)
        #expect(box.call("GET", "/api/v1/sections/\(box.name("none"))/data").status == 404)
    }

    @Test func viewsMapWriteMoveAndUnmap() throws {
        let (box, base) = try Self.prepared()
        defer { box.close() }
        let mapped = box.call("POST", base + "/views", json: #"{"access":"rw"}"#)
        #expect(mapped.status == 201)
        let view = mapped.json
        #expect(view.keys == ["id", "offset", "length", "access", "address"])
        #expect(view["offset"]?.int == 0)
        #expect(view["length"]?.int == 65536, "a view spans the reserve by default")
        #expect(view["access"]?.string == "rw")
        #expect(view["address"]?.string?.wholeMatch(of: /0x[0-9a-f]+/) != nil)
        guard let id = view["id"]?.string, let address = view["address"]?.string else { return }
        #expect(id.hasPrefix("v"))

        let write = box.call("PUT", base + "/views/\(id)/data", query: [("offset", "8")], body: Array("abc".utf8))
        #expect(write.json == ["offset": 8, "written": 3, "requested": 3])
        #expect(readBytes(box.path("d"), offset: 8, count: 3) == Array("abc".utf8), "a view write reaches the object")
        let read = box.call(
            "GET", base + "/views/\(id)/data", query: [("offset", "8"), ("length", "3"), ("format", "raw")])
        #expect(read.bodyBytes == Array("abc".utf8))
        #expect(
            box.call("GET", base + "/views/\(id)/data", query: [("offset", "8190"), ("length", "4")]).status == 416)

        let listed = box.call("GET", base + "/views").json
        #expect(listed["views"]?.array?.compactMap { $0["id"]?.string } == [id])
        #expect(listed["mappers"]?.array != nil)
        #expect(box.call("GET", base).json["views"]?.int == 1)

        let readOnly = box.call("POST", base + "/views", json: #"{"access":"ro","offset":4096}"#)
        #expect(readOnly.status == 201)
        #expect(readOnly.json["length"]?.int == 61440)
        if let other = readOnly.json["id"]?.string {
            let refused = box.call("PUT", base + "/views/\(other)/data", query: [("offset", "0")], body: [1])
            #expect(refused.status == 409)
            #expect(refused.problemType == "/problems/read-only-view")
        }

        let wrongOld = box.call("POST", base + "/views/\(id)/move", json: #"{"oldAddress":"0x1000"}"#)
        #expect(wrongOld.status == 409)
        #expect(
            box.call("POST", base + "/views/\(id)/move", json: #"{"oldAddress":"\#(address)","newAddress":"0x1001"}"#)
                .status == 422)
        #expect(box.call("POST", base + "/views/\(id)/move", json: #"{"oldAddress":"nowhere"}"#).status == 422)
        #expect(box.call("POST", base + "/views/\(id)/move", json: "{}").status == 422)
        let moved = box.call("POST", base + "/views/\(id)/move", json: #"{"oldAddress":"\#(address)"}"#)
        #expect(moved.status == 200, "\(moved.text)")
        #expect(moved.json["id"]?.string == id)
        #expect(moved.json["length"]?.int == 65536)
        let again = box.call(
            "GET", base + "/views/\(id)/data", query: [("offset", "8"), ("length", "3"), ("format", "raw")])
        #expect(again.bodyBytes == Array("abc".utf8), "the bytes survive the move")

        #expect(box.call("DELETE", base + "/views/\(id)").status == 204)
        let gone = box.call("DELETE", base + "/views/\(id)")
        #expect(gone.status == 404)
        #expect(gone.problemType == "/problems/view-not-found")
        #expect(box.call("GET", base + "/views/\(id)/data").status == 404)
    }

    @Test(arguments: [
        (#"{}"#, 422), (#"{"access":"rx"}"#, 422), (#"{"access":"rw","offset":100}"#, 422),
        (#"{"access":"rw","offset":131072}"#, 422), (#"{"access":"rw","length":0}"#, 422),
        (#"{"access":"rw","length":131072}"#, 422), (#"{"access":"rw","colour":1}"#, 400),
    ])
    func viewRefusals(body: String, status: Int) throws {
        let (box, base) = try Self.prepared()
        defer { box.close() }
        #expect(box.call("POST", base + "/views", json: body).status == status, "\(body)")
    }

    @Test func locksLeaseAndRefuseASecondExclusive() throws {
        let (box, base) = try Self.prepared()
        defer { box.close() }
        let first = box.call("POST", base + "/lock", json: #"{"mode":"exclusive","ttlMs":60000}"#)
        #expect(first.status == 201)
        #expect(first.json["mode"]?.string == "exclusive")
        #expect(first.json["expiresAt"]?.string?.wholeMatch(of: /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/) != nil)
        guard let lease = first.json["lease"]?.string else { return }
        #expect(lease.hasPrefix("l"))

        let second = box.call("POST", base + "/lock", json: #"{"mode":"exclusive","timeoutMs":0}"#)
        #expect(second.status == 423)
        #expect(second.problemType == "/problems/lock-timeout")
        // The lease's lock is this process's OFD lock, found through /proc/locks and fdinfo.
        let holders = second.json["holders"]?.array ?? []
        #expect(holders.contains { $0["pid"]?.int == Int64(getpid()) && $0["mode"]?.string == "exclusive" })
        #expect(holders.allSatisfy { $0.keys == ["pid", "mode"] })
        #expect(box.call("POST", base + "/lock", json: #"{"mode":"shared","timeoutMs":50}"#).status == 423)
        let lockedDump = box.call("GET", base + "/data", query: [("lock", "true"), ("lockTimeoutMs", "0")])
        #expect(lockedDump.status == 423)
        let lockedWrite = box.call(
            "PUT", base + "/data", query: [("offset", "0"), ("lock", "true"), ("lockTimeoutMs", "0")], body: [9])
        #expect(lockedWrite.status == 423)
        #expect(readBytes(box.path("d"), offset: 0, count: 1) == [0])
        #expect(box.call("GET", base).json["leases"]?.array?.count == 1)

        #expect(box.call("DELETE", base + "/lock/\(lease)").status == 204)
        let released = box.call("DELETE", base + "/lock/\(lease)")
        #expect(released.status == 404)
        #expect(released.problemType == "/problems/lease-not-found")
        #expect(box.call("GET", base + "/data", query: [("lock", "true"), ("length", "1")]).status == 200)
        #expect(box.call("PUT", base + "/data", query: [("offset", "0"), ("lock", "true")], body: [9]).status == 200)

        let shared = box.call("POST", base + "/lock", json: #"{"mode":"shared"}"#)
        #expect(shared.status == 201)
        #expect(box.call("POST", base + "/lock", json: #"{"mode":"shared"}"#).status == 201)
        #expect(
            box.call("GET", base + "/data", query: [("lock", "true"), ("length", "1")]).status == 200,
            "a shared dump shares")
        #expect(box.call("POST", base + "/lock", json: #"{"mode":"exclusive"}"#).status == 423)
    }

    /// A raw dump with `?lock=true` streams later: the shared lock lasts as long as the response's
    /// descriptor, i.e. for the whole stream.
    @Test func aLockedRawDumpHoldsTheLockUntilItsStreamEnds() throws {
        let (box, base) = try Self.prepared(reserve: "\"4MiB\"", commit: "\"2MiB\"")  // over 1 MiB: streamed
        defer { box.close() }
        let raw = [("format", "raw"), ("lock", "true"), ("lockTimeoutMs", "0")]
        do {
            let streaming = box.call("GET", base + "/data", query: raw)
            #expect(streaming.status == 200)
            #expect(box.call("POST", base + "/lock", json: #"{"mode":"exclusive"}"#).status == 423)
            #expect(box.call("POST", base + "/lock", json: #"{"mode":"shared"}"#).status == 201)
            withExtendedLifetime(streaming) {}
        }
        let lease = box.call("GET", base).json["leases"]?[0]?["lease"]?.string ?? ""
        #expect(box.call("DELETE", base + "/lock/\(lease)").status == 204)
        // The response is gone, and its descriptor with it.
        #expect(box.call("POST", base + "/lock", json: #"{"mode":"exclusive"}"#).status == 201)
        #expect(box.call("GET", base + "/data", query: raw).status == 423)
    }

    @Test(arguments: [
        (#"{"mode":"weird"}"#, 422), (#"{}"#, 422), (#"{"mode":"shared","timeoutMs":60001}"#, 422),
        (#"{"mode":"shared","ttlMs":0}"#, 422), (#"{"mode":"shared","ttlMs":3600001}"#, 422),
        (#"{"mode":"shared","timeoutMs":-1}"#, 422), (#"{"mode":"shared","until":1}"#, 400),
    ])
    func lockRefusals(body: String, status: Int) throws {
        let (box, base) = try Self.prepared()
        defer { box.close() }
        #expect(box.call("POST", base + "/lock", json: body).status == status, "\(body)")
    }

    @Test func deleteTakesViewsAndLeasesAlong() throws {
        let (box, base) = try Self.prepared()
        defer { box.close() }
        #expect(box.call("POST", base + "/views", json: #"{"access":"rw"}"#).status == 201)
        #expect(box.call("POST", base + "/lock", json: #"{"mode":"exclusive"}"#).status == 201)
        #expect(box.call("DELETE", base).status == 204)
        #expect(fileStatus(box.path("d")) == nil)
        #expect(box.call("GET", base + "/views").status == 404)
    }
}
