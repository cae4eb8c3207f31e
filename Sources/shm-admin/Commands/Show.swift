import ArgumentParser

/// `shm-admin show NAME`: one section with its views, mappers, holders, lock holders and leases
/// (`GET /api/v1/sections/{name}`), and a summary of its page map. `show HREF`: any object of the
/// inventory (another mount's, a System V segment, a memfd or unlinked object) at its href.
struct Show: HostCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Show one section or object: metadata, mappers (with their rss/pss), holders, locks.",
        discussion: """
            NAME is a section of the shared-memory directory. Any object of ls --all is shown by its href \
            (the HREF column): /api/v1/mounts/MOUNT/sections/NAME, /api/v1/sysv/IPC/SHMID or \
            /api/v1/unlinked/DEV:INODE.
            """)

    @OptionGroup var hostOptions: HostOptions

    @Argument(help: "The section's name, or an object's href (/api/v1/sections/NAME, /api/v1/mounts/…, …).")
    var name: String

    @Flag(name: [.short, .customLong("bytes")], help: "Sizes in bytes instead of binary units.")
    var bytes = false

    @Flag(name: [.customShort("J"), .customLong("json")], help: "Print the API's JSON answer as it is.")
    var json = false

    var wholeHost: Bool { SectionNames.hostHref(name) != nil }

    func run(on host: any HostAPI) throws(Problem) {
        if let href = SectionNames.hostHref(name) {
            let answer = try host.object(href)
            if json { return Terminal.out(answer + [10]) }
            guard let detail = Document.parse(answer) else {
                throw Problem.local("Bad answer", "the object is not JSON")
            }
            return Terminal.out(DetailText.render(detail, pages: nil, bytes: bytes))
        }
        let name = SectionNames.fromArgument(name)
        let answer = try host.section(name)
        if json { return Terminal.out(answer + [10]) }
        guard let detail = Document.parse(answer) else { throw Problem.local("Bad answer", "the section is not JSON") }
        let pages = (try? host.pages(name, from: nil, to: nil)).flatMap(Document.parse)
        Terminal.out(DetailText.render(detail, pages: pages, bytes: bytes))
    }
}

enum SectionNames {
    /// The path of an href of the whole host (`/api/v1/mounts/…`, `/api/v1/sysv/…`,
    /// `/api/v1/unlinked/…`), from `/api/v1/` on (a full URL works too); nil for anything else.
    static func hostHref(_ text: String) -> String? {
        guard let range = text.firstRange(of: "/api/v1/") else { return nil }
        let path = String(text[range.lowerBound...])
        let kinds = ["/api/v1/mounts/", "/api/v1/sysv/", "/api/v1/unlinked/"]
        return kinds.contains { path.hasPrefix($0) } ? path : nil
    }

    /// A name as given, or the name at the end of an href (percent-decoded). `\xNN`, as the tables
    /// print odd bytes, stands for that byte: a valid name holds no backslash, so a name copied from
    /// `ls` works as it is.
    static func fromArgument(_ text: String) -> String {
        let prefix = "/api/v1/sections/"
        guard let range = text.firstRange(of: prefix) else { return unescaped(text) }
        return percentDecoded(String(text[range.upperBound...]))
    }

    static func unescaped(_ text: String) -> String {
        guard text.contains("\\x") else { return text }
        var bytes: [UInt8] = []
        var input = Array(text.utf8)[...]
        while let byte = input.popFirst() {
            if byte == UInt8(ascii: "\\"), input.first == UInt8(ascii: "x"), input.count >= 3,
                let value = UInt8(String(decoding: input.dropFirst().prefix(2), as: UTF8.self), radix: 16)
            {
                bytes.append(value)
                input = input.dropFirst(3)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    static func percentDecoded(_ text: String) -> String {
        var bytes: [UInt8] = []
        var input = Array(text.utf8)[...]
        while let byte = input.popFirst() {
            if byte == UInt8(ascii: "%"), input.count >= 2,
                let value = UInt8(String(decoding: input.prefix(2), as: UTF8.self), radix: 16)
            {
                bytes.append(value)
                input = input.dropFirst(2)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// `show`'s text: the section's members one per line, then a small table for each list that has rows.
enum DetailText {
    static func render(_ detail: Document, pages: Document?, bytes: Bool) -> String {
        func size(_ key: String) -> String { Cell.bytes(detail[key].int).rendered(bytes: bytes) }
        func text(_ key: String) -> String { Escape.text(detail[key].string ?? "-") }
        let owner = SectionColumns.userName(detail["uid"].int)
        var fields: [(String, String)] = [
            ("NAME", Escape.text(detail["name"].string ?? "")),
            ("KIND", detail["kind"].string ?? "-"),
            ("MANAGED", (detail["managed"].bool ?? false) ? "yes" : "no"),
            ("NAMESPACE", detail["namespace"].string ?? "-"),
            ("PATH", Escape.text(detail["path"].string ?? "")),
            ("STATE", detail["state"].string ?? "-"),
            ("RESERVE", size("reserve")),
            ("SIZE", size(detail["commit"].int == nil && detail["size"].int != nil ? "size" : "commit")),
            ("ALLOC", size("allocatedBytes")),
            ("DATA", size("dataBytes")),
            ("PERMS", SectionColumns.permissions(detail["mode"].string) + " (\(detail["mode"].string ?? "-"))"),
            ("OWNER", "\(owner) (uid \(detail["uid"].string ?? "-"), gid \(detail["gid"].string ?? "-"))"),
            ("CREATED", detail["createdAt"].string ?? "-"),
            ("MODIFIED", detail["modifiedAt"].string ?? "-"),
            ("VIEWS", detail["views"].string ?? "-"),
            ("MAPPERS", detail["mappers"].string ?? "-"),
            ("ORPHAN", (detail["orphan"].bool ?? false) ? "yes" : "no"),
        ]
        if let mount = detail["mount"].string {
            fields.append(("MOUNT", Escape.text(mount)))
            fields.append(("UNBACKED", size("unbackedBytes")))
        } else if detail["container"].members.count > 0 {
            fields.append(("UNBACKED", size("unbackedBytes")))
        }
        // Members of the whole host's objects (API-HOST.md), which sections of version 1 do not have.
        if detail["container"].members.count > 0 {
            fields.append(("CONTAINER", InventoryColumns.container(detail["container"])))
            fields.append(("HOLDERS", text("holders")))
        }
        if detail["shmid"].int != nil {
            fields += [
                ("KEY", SysVText.key(detail["key"].int)), ("SHMID", text("shmid")), ("IPC", text("ipc")),
                ("NATTCH", text("nattch")), ("CPID", text("cpid")), ("LPID", text("lpid")),
                ("RSS", size("rssBytes")), ("SWAP", size("swapBytes")),
                ("ATTACHED", text("attachedAt")), ("DETACHED", text("detachedAt")), ("CHANGED", text("changedAt")),
            ]
        }
        let labels = detail["labels"].members.sorted { $0.key < $1.key }
        if !labels.isEmpty {
            fields.append(
                ("LABELS", labels.map { Escape.text("\($0.key)=\($0.value.string ?? "")") }.joined(separator: " ")))
        }
        if let pages { fields.append(("PAGES", PageText.summary(pages, bytes: bytes))) }
        let width = fields.map(\.0.count).max() ?? 0
        var out = fields.map { $0.0.padding(to: width) + "  " + $0.1 + "\n" }.joined()
        func section(_ title: String, _ key: String, _ columns: [(String, Bool, (Document) -> String)]) {
            let rows = detail[key].array
            guard !rows.isEmpty else { return }
            out += "\n" + title + ":\n"
            out += TableText.lines(
                header: columns.map(\.0), cells: rows.map { row in columns.map { $0.2(row) } },
                rightAligned: columns.map(\.1), aligned: true, colour: Terminal.colour)
        }
        func text(_ key: String) -> (Document) -> String { { Escape.text($0[key].string ?? "-") } }
        func memory(_ key: String) -> (Document) -> String { { Cell.bytes($0[key].int).rendered(bytes: bytes) } }
        section(
            "mappers", "mapperList",
            [
                ("PID", true, text("pid")), ("COMMAND", false, text("command")), ("START", false, text("start")),
                ("END", false, text("end")), ("OFFSET", true, text("offset")), ("ACCESS", false, text("access")),
                ("RSS", true, memory("rssBytes")), ("PSS", true, memory("pssBytes")),
            ])
        section(
            "holders", "holderList",
            [("PID", true, text("pid")), ("COMMAND", false, text("command")), ("FD", true, text("fd"))])
        section(
            "lock holders", "lockHolders",
            [("PID", true, text("pid")), ("MODE", false, text("mode")), ("TYPE", false, text("type"))])
        section(
            "leases", "leases",
            [("LEASE", false, text("lease")), ("MODE", false, text("mode")), ("EXPIRES", false, text("expiresAt"))])
        section(
            "views", "viewList",
            [
                ("ID", false, text("id")), ("OFFSET", true, text("offset")), ("LENGTH", true, text("length")),
                ("ACCESS", false, text("access")), ("ADDRESS", false, text("address")),
            ])
        return out
    }
}

enum SysVText {
    /// A System V key as ipcs prints it: `0x%08x`.
    static func key(_ value: Int64?) -> String {
        guard let value else { return "-" }
        let hex = String(UInt32(truncatingIfNeeded: value), radix: 16)
        return "0x" + String(repeating: "0", count: max(0, 8 - hex.count)) + hex
    }
}
