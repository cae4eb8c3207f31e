import ArgumentParser
import JSON
import SectionRegistry

#if canImport(Glibc)
    import Glibc
#endif

/// `shm-admin ls`: the sections of the shared-memory directory, as `GET /api/v1/sections` lists them.
struct Ls: HostCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the sections of the shared-memory directory.",
        discussion: "Like lsipc -m for POSIX shared memory; -J prints GET /api/v1/sections' answer.")

    @OptionGroup var hostOptions: HostOptions
    @OptionGroup var table: TableOptions

    @Option(help: "Only this kind: shm or semaphore.")
    var kind: SectionKind?

    @Flag(
        inversion: .prefixedNo,
        help: "Only sections that no other process maps or holds open (--no-orphan: the others).")
    var orphan: Bool?

    @Flag(inversion: .prefixedNo, help: "Only managed sections (--no-managed: only foreign ones).")
    var managed: Bool?

    @Option(name: .short, help: "Only names containing this text.")
    var q: String?

    @Option(help: "Only sections owned by this user (a name or a uid).")
    var uid: String?

    func validate() throws { _ = try uid.map(Self.userID) }

    func run(on host: any HostAPI) throws(Problem) {
        if table.listColumns { return Terminal.out(SectionColumns.shape.columnList) }
        let answer = try host.sections(SectionFilter(managed: managed, kind: kind, orphan: orphan, query: q))
        let owner = try? uid.map(Self.userID)
        if table.json && owner == nil { return Terminal.out(answer + [10]) }
        guard let document = Document.parse(answer) else {
            throw Problem.local("Bad answer", "the listing is not JSON")
        }
        var sections = document["sections"].array
        if let owner = owner ?? nil {
            sections = sections.filter { $0["uid"].int == Int64(owner) }
            // The API has no owner filter: the listing's own shape, of the sections kept.
            let kept = JSONValue.object([
                ("sections", .array(sections.map(\.value))), ("total", .int(Int64(sections.count))),
            ])
            if table.json { return Terminal.out(kept.jsonBytes() + [10]) }
        }
        Terminal.out(usage { () throws(ValidationError) in try table.render(sections, SectionColumns.shape) })
    }

    /// A uid given as a number or a user name.
    static func userID(_ text: String) throws -> uid_t {
        if let number = uid_t(text) { return number }
        guard let entry = getpwnam(text) else { throw ValidationError("--uid: no user '\(text)'") }
        return entry.pointee.pw_uid
    }
}

extension SectionKind: ExpressibleByArgument {}

/// A usage error found while printing (a bad -o column): exit 2 as argument-parser's own are.
func usage<T>(_ body: () throws(ValidationError) -> T) -> T {
    do throws(ValidationError) { return try body() } catch {
        Terminal.error(error.message)
        exit(2)
    }
}
