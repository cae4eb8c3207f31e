import ArgumentParser

/// `shm-admin show NAME`: one section with its views, mappers, holders, lock holders and leases
/// (`GET /api/v1/sections/{name}`), and a summary of its page map.
struct Show: HostCommand {
    static let configuration = CommandConfiguration(abstract: "Show one section: metadata, mappers, holders, locks.")

    @OptionGroup var hostOptions: HostOptions

    @Argument(help: "The section's name, or its href (/api/v1/sections/NAME).")
    var name: String

    @Flag(name: [.short, .customLong("bytes")], help: "Sizes in bytes instead of binary units.")
    var bytes = false

    @Flag(name: [.customShort("J"), .customLong("json")], help: "Print the API's JSON answer as it is.")
    var json = false

    func run(on host: any HostAPI) throws(Problem) {
        let name = SectionNames.fromArgument(name)
        let answer = try host.section(name)
        if json { return Terminal.out(answer + [10]) }
        guard let detail = Document.parse(answer) else { throw Problem.local("Bad answer", "the section is not JSON") }
        let pages = (try? host.pages(name, from: nil, to: nil)).flatMap(Document.parse)
        Terminal.out(DetailText.render(detail, pages: pages, bytes: bytes))
    }
}

enum SectionNames {
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
        let owner = SectionColumns.userName(detail["uid"].int)
        var fields: [(String, String)] = [
            ("NAME", Escape.text(detail["name"].string ?? "")),
            ("KIND", detail["kind"].string ?? "-"),
            ("MANAGED", (detail["managed"].bool ?? false) ? "yes" : "no"),
            ("NAMESPACE", detail["namespace"].string ?? "-"),
            ("PATH", Escape.text(detail["path"].string ?? "")),
            ("STATE", detail["state"].string ?? "-"),
            ("RESERVE", size("reserve")),
            ("SIZE", size("commit")),
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
