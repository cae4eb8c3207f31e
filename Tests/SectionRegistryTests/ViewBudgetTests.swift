import Testing

@testable import SectionRegistry

/// The server's views share a budget of address space (`ViewTable.maximumBytes` and `maximumCount`):
/// views of huge reserves are refused once it is spent, instead of starving every later allocation.
@Suite("View budget")
struct ViewBudgetTests {
    @Test("views past the address-space budget are refused with insufficientSpace; unmapping gives room back")
    func budget() throws {
        let box = try Sandbox()
        defer { box.close() }
        let registry = try box.registry()
        let name = try box.sectionName("huge")
        let quarter = ViewTable.maximumBytes / 4
        try registry.make(name, reserve: quarter, commit: page)
        let views = try (0..<4).map { _ in try registry.mapView(named: name, access: .ro) }
        #expect(views.allSatisfy { $0.length == quarter })
        #expect(throws: SectionError.self) { try registry.mapView(named: name, access: .ro) }
        do {
            _ = try registry.mapView(named: name, length: page, access: .ro)
            Issue.record("a page more than the budget was mapped")
        } catch {
            #expect(error.kind == .insufficientSpace)
        }
        try registry.unmapView(named: name, id: views[0].id)
        let again = try registry.mapView(named: name, access: .ro)
        #expect(again.length == quarter)
        try registry.delete(named: name, force: true)
        let other = try box.sectionName("after")
        try registry.make(other, reserve: ViewTable.maximumBytes, commit: page)
        #expect(try registry.mapView(named: other, access: .ro).length == ViewTable.maximumBytes)
        try registry.delete(named: other, force: true)
    }

    @Test("a view larger than the whole budget is refused before mmap")
    func tooLarge() throws {
        let box = try Sandbox()
        defer { box.close() }
        let registry = try box.registry()
        let name = try box.sectionName("vast")
        try registry.make(name, reserve: ViewTable.maximumBytes + page, commit: page)
        do {
            _ = try registry.mapView(named: name, access: .ro)
            Issue.record("a view past the budget was mapped")
        } catch {
            #expect(error.kind == .insufficientSpace)
            #expect(error.message.contains("unmap views first"))
        }
        #expect(try registry.views(of: name).isEmpty)
    }
}
