import Foundation
import Testing

@testable import SectionRegistry

#if canImport(Glibc)
    import Glibc
#endif

@Suite("Views")
struct ViewTests {
    @Test("a view maps the whole reserve by default and is listed")
    func mapDefault() throws {
        let box = try Sandbox()
        defer { box.close() }
        let registry = try box.registry()
        let name = try box.sectionName("v")
        try registry.make(name, reserve: 16 * page, commit: 2 * page)
        let view = try registry.mapView(named: name, access: .rw)
        #expect(view.offset == 0)
        #expect(view.length == 16 * page)
        #expect(view.access == .rw)
        #expect(view.section == name.value)
        #expect(view.address % UInt(page) == 0)
        let mapping = ownMappings().first { $0.start == view.address }
        #expect(mapping?.end == view.address + UInt(16 * page))
        #expect(mapping?.line.hasSuffix(box.path("v")) == true)
        #expect(mapping?.line.contains("rw-s") == true, "MAP_SHARED, read-write")
        #expect(try registry.views(of: name).map(\.id) == [view.id])
        #expect(try registry.detail(named: name).views.map(\.id) == [view.id])
        #expect(try registry.section(named: name).views == 1)
        #expect(try registry.section(named: name).mappers == 0, "our own views are not mappers")
        let readOnly = try registry.mapView(named: name, offset: page, length: 100, access: .ro)
        #expect(readOnly.length == page, "lengths are rounded up to pages")
        #expect(readOnly.offset == page)
        #expect(ownMappings().first { $0.start == readOnly.address }?.line.contains("r--s") == true)
        #expect(try registry.section(named: name).views == 2)
    }

    @Test("two views of one section alias each other, the core's data and python's")
    func viewsAlias() throws {
        let box = try Sandbox()
        defer { box.close() }
        let registry = try box.registry()
        let name = try box.sectionName("v")
        try registry.make(name, reserve: 4 * page)
        let first = try registry.mapView(named: name, access: .rw)
        let second = try registry.mapView(named: name, access: .rw)
        #expect(first.address != second.address)
        #expect(first.id != second.id)
        try registry.writeView(named: name, id: first.id, offset: 3 * page + 7, Array("through the first"))
        #expect(
            try registry.readView(named: name, id: second.id, offset: 3 * page + 7, length: 17)
                == Array("through the first"))
        #expect(try registry.read(named: name, offset: 3 * page + 7, length: 17) == Array("through the first"))
        try registry.write(named: name, offset: 0, Array("pwrite"))
        #expect(try registry.readView(named: name, id: first.id, offset: 0, length: 6) == Array("pwrite"))
        let peer = try PythonPeer()
        defer { peer.stop() }
        try peer.run("attach \(name)")
        #expect(try peer.run("read \(3 * page + 7) 17") == Array("through the first").hex)
        try peer.run("write 64 " + Array("python").hex)
        #expect(try registry.readView(named: name, id: second.id, offset: 64, length: 6) == Array("python"))
    }

    @Test("a view at an offset sees the section from there")
    func offsetView() throws {
        let box = try Sandbox()
        defer { box.close() }
        let registry = try box.registry()
        let name = try box.sectionName("v")
        try registry.make(name, reserve: 8 * page)
        try registry.write(named: name, offset: 2 * page, Array("page two"))
        let view = try registry.mapView(named: name, offset: 2 * page, access: .rw)
        #expect(view.length == 6 * page)
        #expect(try registry.readView(named: name, id: view.id, offset: 0, length: 8) == Array("page two"))
        try registry.writeView(named: name, id: view.id, offset: page, Array("three"))
        #expect(try registry.read(named: name, offset: 3 * page, length: 5) == Array("three"))
        expectError(.outOfRange) { try registry.readView(named: name, id: view.id, offset: 6 * page - 1, length: 2) }
    }

    @Test("a view sees later grows without being remapped")
    func viewSeesGrow() throws {
        let box = try Sandbox()
        defer { box.close() }
        let registry = try box.registry()
        let name = try box.sectionName("v")
        try registry.make(name, reserve: 8 * page, commit: page)
        let view = try registry.mapView(named: name, access: .rw)
        expectError(.outOfRange) { try registry.readView(named: name, id: view.id, offset: 2 * page, length: 1) }
        expectError(.outOfRange) { try registry.writeView(named: name, id: view.id, offset: 2 * page, Array("x")) }
        _ = try registry.grow(named: name, .commit(4 * page))
        try registry.write(named: name, offset: 3 * page, Array("grown"))
        #expect(try registry.readView(named: name, id: view.id, offset: 3 * page, length: 5) == Array("grown"))
        #expect(try registry.views(of: name).first?.address == view.address)
        let written = try registry.writeView(
            named: name, id: view.id, offset: 4 * page - 2, Array("abcd"), partial: true)
        #expect(written.written == 2)
        #expect(written.requested == 4)
    }

    @Test("moveView keeps the bytes and the sharing and changes the address")
    func moveToKernelAddress() throws {
        let box = try Sandbox()
        defer { box.close() }
        let registry = try box.registry()
        let name = try box.sectionName("v")
        try registry.make(name, reserve: 4 * page)
        let view = try registry.mapView(named: name, access: .rw)
        try registry.writeView(named: name, id: view.id, offset: 100, Array("before the move"))
        let moved = try registry.moveView(named: name, id: view.id, from: view.address, to: nil)
        #expect(moved.id == view.id)
        #expect(moved.address != view.address)
        #expect(moved.length == view.length)
        #expect(!isMapped(view.address, to: box.path("v")), "the old range is gone")
        #expect(ownMappings().first { $0.start == moved.address }?.line.hasSuffix(box.path("v")) == true)
        #expect(try registry.readView(named: name, id: view.id, offset: 100, length: 15) == Array("before the move"))
        #expect(try registry.views(of: name).first?.address == moved.address)
        // Still the shared object, not a private copy: another process's write shows through.
        let peer = try PythonPeer()
        defer { peer.stop() }
        try peer.run("attach \(name)")
        try peer.run("write 200 " + Array("after").hex)
        #expect(try registry.readView(named: name, id: view.id, offset: 200, length: 5) == Array("after"))
        try registry.writeView(named: name, id: view.id, offset: 300, Array("moved write"))
        #expect(try peer.run("read 300 11") == Array("moved write").hex)
    }

    @Test("moveView to a chosen free address lands exactly there")
    func moveToChosenAddress() throws {
        let box = try Sandbox()
        defer { box.close() }
        let registry = try box.registry()
        let name = try box.sectionName("v")
        try registry.make(name, reserve: 4 * page)
        let view = try registry.mapView(named: name, access: .rw)
        try registry.writeView(named: name, id: view.id, offset: 0, Array("chosen"))
        var moved: ViewInfo?
        var current = view.address
        for _ in 0..<5 where moved == nil {
            // Find a free range, give it back, and ask for it (another thread may take it meanwhile: retry).
            let probe = mmap(nil, Int(4 * page), PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
            try #require(probe != MAP_FAILED)
            let target = UInt(bitPattern: probe)
            munmap(probe, Int(4 * page))
            do {
                moved = try registry.moveView(named: name, id: view.id, from: current, to: target)
                #expect(moved?.address == target)
            } catch {
                guard error.kind == .addressInUse else { throw error }
                current = try registry.views(of: name).first?.address ?? current
            }
        }
        let result = try #require(moved)
        #expect(try registry.readView(named: name, id: view.id, offset: 0, length: 6) == Array("chosen"))
        #expect(!isMapped(view.address, to: box.path("v")) || view.address == result.address)
    }

    @Test("moveView refuses a wrong old address, an occupied or unaligned target, and changes nothing")
    func moveRefusals() throws {
        let box = try Sandbox()
        defer { box.close() }
        let registry = try box.registry()
        let name = try box.sectionName("v")
        try registry.make(name, reserve: 2 * page)
        let view = try registry.mapView(named: name, access: .rw)
        try registry.writeView(named: name, id: view.id, offset: 0, Array("stay"))
        expectError(.addressInUse) {
            try registry.moveView(named: name, id: view.id, from: view.address + UInt(page), to: nil)
        }
        // An occupied target: an anonymous mapping of ours with a sentinel.
        let occupied = mmap(nil, Int(2 * page), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        try #require(occupied != MAP_FAILED)
        defer { munmap(occupied, Int(2 * page)) }
        occupied!.storeBytes(of: 0x5a, as: UInt8.self)
        expectError(.addressInUse) {
            try registry.moveView(named: name, id: view.id, from: view.address, to: UInt(bitPattern: occupied))
        }
        #expect(occupied!.load(as: UInt8.self) == 0x5a, "the occupant was not replaced")
        expectError(.invalidArgument) {
            try registry.moveView(named: name, id: view.id, from: view.address, to: UInt(bitPattern: occupied) + 1)
        }
        #expect(try registry.views(of: name).first?.address == view.address)
        #expect(try registry.readView(named: name, id: view.id, offset: 0, length: 4) == Array("stay"))
        expectError(.viewNotFound) { try registry.moveView(named: name, id: "v999999", from: view.address, to: nil) }
    }

    @Test("unmapView removes the mapping; the id is gone afterwards")
    func unmap() throws {
        let box = try Sandbox()
        defer { box.close() }
        let registry = try box.registry()
        let name = try box.sectionName("v")
        let other = try box.sectionName("other")
        try registry.make(name, reserve: 2 * page)
        try registry.make(other, reserve: 2 * page)
        let view = try registry.mapView(named: name, access: .ro)
        expectError(.viewNotFound) { try registry.readView(named: other, id: view.id, offset: 0, length: 1) }
        expectError(.viewNotFound) { try registry.unmapView(named: other, id: view.id) }
        #expect(isMapped(view.address, to: box.path("v")))
        try registry.unmapView(named: name, id: view.id)
        #expect(!isMapped(view.address, to: box.path("v")))
        #expect(try registry.views(of: name).isEmpty)
        #expect(try registry.section(named: name).views == 0)
        expectError(.viewNotFound) { try registry.readView(named: name, id: view.id, offset: 0, length: 1) }
        expectError(.viewNotFound) { try registry.unmapView(named: name, id: view.id) }
    }

    @Test("read-only views refuse writes; foreign sections get only read-only views; semaphores none")
    func accessRules() throws {
        let box = try Sandbox()
        defer { box.close() }
        let registry = try box.registry()
        let name = try box.sectionName("v")
        try registry.make(name, reserve: 2 * page)
        let readOnly = try registry.mapView(named: name, access: .ro)
        expectError(.readOnlyView) { try registry.writeView(named: name, id: readOnly.id, offset: 0, Array("no")) }
        #expect(try registry.read(named: name, offset: 0, length: 2) == [0, 0])
        try makeFile(box.path("foreign"), size: Int(page))
        let foreign = try box.sectionName("foreign")
        expectError(.notManaged) { try registry.mapView(named: foreign, access: .rw) }
        let foreignView = try registry.mapView(named: foreign, access: .ro)
        #expect(foreignView.length == page, "a foreign section's views end at its commit")
        try makeFile(Sandbox.shm + "/sem." + box.name("s"), size: 32)
        expectError(.semaphore) { try registry.mapView(named: SectionName("sem." + box.name("s")), access: .rw) }
    }

    static let badViews: [(offset: Int64, length: Int64?)] = [
        (1, nil), (-page, nil), (page / 2, page), (8 * page, nil), (9 * page, page), (0, 9 * page),
        (7 * page, 2 * page), (0, 0), (0, -1),
    ]

    @Test("a view must be page-aligned, inside the reserve and not empty", arguments: badViews)
    func badView(_ shape: (offset: Int64, length: Int64?)) throws {
        let box = try Sandbox()
        defer { box.close() }
        let registry = try box.registry()
        let name = try box.sectionName("v")
        try registry.make(name, reserve: 8 * page, commit: page)
        expectError(.invalidArgument) {
            try registry.mapView(named: name, offset: shape.offset, length: shape.length, access: .ro)
        }
        #expect(try registry.views(of: name).isEmpty)
    }
}
