import ArgumentParser
import JSON
import SectionRegistry

#if canImport(Glibc)
    import Glibc
#endif

/// `shm-admin ls`: the sections of the shared-memory directory, as `GET /api/v1/sections` lists them;
/// with `--all` every shared-memory object of the host, as `GET /api/v1/inventory` lists them.
struct Ls: HostCommand {
    static let configuration = CommandConfiguration(
        commandName: "ls",
        abstract: "List the sections of the shared-memory directory, or with --all every shared-memory object.",
        discussion: """
            Like lsipc -m for POSIX shared memory; -J prints GET /api/v1/sections' answer. With --all: every \
            kind (shm, semaphore, sysv, memfd, unlinked) on every mount (every container's /dev/shm), \
            largest first, with MOUNT CONTAINER UNBACKED; -J prints GET /api/v1/inventory's answer.
            """)

    @OptionGroup var hostOptions: HostOptions
    @OptionGroup var table: TableOptions

    @Flag(name: [.customShort("a"), .long], help: "Every shared-memory object of the host (the inventory).")
    var all = false

    @Option(help: "Only this kind: shm or semaphore; with --all also sysv, memfd or unlinked.")
    var kind: String?

    @Option(help: "With --all: only objects of this mount (MAJ:MIN, or host for the shared-memory directory).")
    var mount: String?

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

    var wholeHost: Bool { all }

    static let sectionKinds = ["shm", "semaphore"]
    static let allKinds = ["shm", "semaphore", "sysv", "memfd", "unlinked"]

    func validate() throws {
        _ = try uid.map(Self.userID)
        if let kind, !(all ? Self.allKinds : Self.sectionKinds).contains(kind) {
            throw ValidationError(
                "--kind must be one of \((all ? Self.allKinds : Self.sectionKinds).joined(separator: ", "))"
                    + (all ? "" : " (sysv, memfd and unlinked with --all)"))
        }
        if mount != nil && !all { throw ValidationError("--mount lists another mount's objects: add --all") }
    }

    func run(on host: any HostAPI) throws(Problem) {
        if all { return try inventory(on: host) }
        if table.listColumns { return Terminal.out(SectionColumns.shape.columnList) }
        let filter = SectionFilter(
            managed: managed, kind: kind.flatMap(SectionKind.init(rawValue:)), orphan: orphan, query: q)
        let owner = try? uid.map(Self.userID)
        if table.json && owner == nil { return Terminal.out(try host.sections(filter) + [10]) }
        // -J of the sections kept writes their JSON again: read from the JSON, not from local rows.
        var sections = table.json ? try host.sectionsJSON(filter) : try host.sectionRows(filter)
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

    /// `--all`: the inventory, filtered by the API (kind, mount, orphan, text, owner); `--managed`
    /// here, since the inventory has no such filter.
    private func inventory(on host: any HostAPI) throws(Problem) {
        if table.listColumns { return Terminal.out(InventoryColumns.shape.columnList) }
        let owner = (try? uid.map(Self.userID)) ?? nil
        let answer = try host.inventory(
            InventoryFilter(kind: kind, mount: mount, orphan: orphan, query: q, uid: owner.map { Int64($0) }))
        if table.json && managed == nil { return Terminal.out(answer + [10]) }
        guard let document = Document.parse(answer) else {
            throw Problem.local("Bad answer", "the inventory is not JSON")
        }
        var objects = document["objects"].array
        if let managed {
            objects = objects.filter { ($0["managed"].bool ?? false) == managed }
            if table.json { return Terminal.out(Self.inventory(of: objects, like: document).jsonBytes() + [10]) }
        }
        Terminal.out(usage { () throws(ValidationError) in try table.render(objects, InventoryColumns.shape) })
    }

    /// The inventory's own shape for `objects`: their count, and `byKind` and `byMount` counted again
    /// over them (every kind and mount of `answer` kept, in its order).
    static func inventory(of objects: [Document], like answer: Document) -> JSONValue {
        func counts(_ key: String, _ member: String) -> JSONValue {
            .object(
                answer[key].members.map { entry in
                    let mine = objects.filter { $0[member].string == entry.key }
                    return (
                        entry.key,
                        .object([
                            ("count", .int(Int64(mine.count))),
                            ("bytes", .int(mine.reduce(0) { $0 + ($1["allocatedBytes"].int ?? 0) })),
                        ])
                    )
                })
        }
        return .object([
            ("objects", .array(objects.map(\.value))), ("total", .int(Int64(objects.count))),
            ("byKind", counts("byKind", "kind")), ("byMount", counts("byMount", "mount")),
        ])
    }

    /// A uid given as a number or a user name.
    static func userID(_ text: String) throws -> uid_t {
        if let number = uid_t(text) { return number }
        guard let entry = getpwnam(text) else { throw ValidationError("--uid: no user '\(text)'") }
        return entry.pointee.pw_uid
    }
}

/// A usage error found while printing (a bad -o column): exit 2 as argument-parser's own are.
func usage<T>(_ body: () throws(ValidationError) -> T) -> T {
    do throws(ValidationError) { return try body() } catch {
        Terminal.error(error.message)
        exit(2)
    }
}
