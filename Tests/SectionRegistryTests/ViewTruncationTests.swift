import Foundation
import Testing

@testable import SectionRegistry

#if canImport(Glibc)
    import Glibc
#endif

/// Views read and write through process_vm_readv/writev, so a range another process truncated away
/// is an error, never a SIGBUS that kills the server.
@Suite("Views under truncation by another process")
struct ViewTruncationTests {
    @Test("a view survives another process truncating the object: .outOfRange, and the process lives")
    func survivesTruncation() throws {
        let box = try Sandbox()
        defer { box.close() }
        let registry = try box.registry()
        let name = try box.sectionName("v")
        try registry.make(name, reserve: 16 * page, commit: 16 * page)
        let view = try registry.mapView(named: name, access: .rw)
        try registry.writeView(named: name, id: view.id, offset: 0, Array("soon gone"))
        let peer = try PythonPeer()
        defer { peer.stop() }
        try peer.run("truncate \(name) 0")
        #expect(fileStatus(box.path("v"))?.st_size == 0)
        let readError = expectError(.outOfRange) {
            try registry.readView(named: name, id: view.id, offset: 0, length: 9)
        }
        #expect(readError?.section == name.value)
        expectError(.outOfRange) { try registry.writeView(named: name, id: view.id, offset: 0, Array("x")) }
        expectError(.outOfRange) { try registry.readView(named: name, id: view.id, offset: 15 * page, length: page) }
        #expect(try registry.writeView(named: name, id: view.id, offset: 0, Array("x"), partial: true).written == 0)
        // Half the object comes back: the pages are new (zeros), the rest is still out of range.
        try peer.run("truncate \(name) \(8 * page)")
        #expect(
            try registry.readView(named: name, id: view.id, offset: 0, length: 9) == [UInt8](repeating: 0, count: 9))
        expectError(.outOfRange) { try registry.readView(named: name, id: view.id, offset: 8 * page, length: 1) }
        #expect(try registry.section(named: name).commit == 8 * page)
    }

    @Test("reading and writing through a view while another process truncates it back and forth never crashes")
    func survivesTruncationRace() throws {
        let box = try Sandbox()
        defer { box.close() }
        let registry = try box.registry()
        let name = try box.sectionName("v")
        let size = 64 * page
        try registry.make(name, reserve: size)
        let view = try registry.mapView(named: name, access: .rw)
        let peer = try PythonPeer()
        defer { peer.stop() }
        try peer.send("flap \(name) 20000 \(size)")
        var (reads, writes, refused) = (0, 0, 0)
        let deadline = Date().addingTimeInterval(10)
        var finished = false
        var iterations = 0
        while !finished && Date() < deadline && iterations < 200_000 {
            iterations += 1
            do {
                if iterations % 2 == 0 {
                    _ = try registry.readView(named: name, id: view.id, offset: 0, length: size)
                    reads += 1
                } else {
                    _ = try registry.writeView(
                        named: name, id: view.id, offset: size - 8, Array("raceraces"), partial: true)
                    writes += 1
                }
            } catch let error as SectionError {
                #expect(error.kind == .outOfRange, "\(error)")
                refused += 1
            }
            if iterations % 64 == 0 { finished = (try? peer.reply(to: "flap", timeout: 0.001)) != nil }
        }
        #expect(finished, "the truncating peer finished within the time")
        #expect(refused > 0, "the race was real: some transfers met a truncated object")
        #expect(reads + writes + refused == iterations)
        // Still alive, and the view still works once the object is whole again.
        #expect(try registry.readView(named: name, id: view.id, offset: 0, length: 1).count == 1)
    }
}
