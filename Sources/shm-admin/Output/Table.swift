import ArgumentParser
import SectionRegistry

/// One table model for every listing subcommand, after `lsblk` and `lsipc`: named columns with a
/// help line, each rendering a cell from one JSON object of the API's answer (so local and remote
/// tables are made by the same code from the same members).
///
/// A listing is a `TableShape` (its columns and the default set) and the rows it gets from an
/// answer. The version 1.1 listings (`ls --all` with MOUNT CONTAINER UNBACKED, `mounts`, `doctor`,
/// `quarantine ls`) are new shapes over their endpoints' objects; nothing here changes for them.
struct Column: Sendable {
    enum Kind {
        /// Left-aligned text, escaped (`Escape.text`).
        case text
        /// Left-aligned sentences (a doctor's finding): spaces kept, except in raw output.
        case prose
        /// A byte count: binary units (`1.5G`), or bytes with `-b`; right-aligned.
        case bytes
        /// A plain number; right-aligned.
        case number
    }

    let name: String
    let help: String
    let kind: Kind
    let value: @Sendable (Document) -> Cell

    init(_ name: String, _ kind: Kind, _ help: String, _ value: @escaping @Sendable (Document) -> Cell) {
        self.name = name
        self.kind = kind
        self.help = help
        self.value = value
    }

    /// A column showing one member as it is (a string, or a number).
    static func member(_ name: String, _ key: String, _ kind: Kind, _ help: String) -> Column {
        let key = MemberKey(key)
        return Column(name, kind, help) { row in
            switch kind {
            case .text: .text(row[key].string ?? "")
            case .prose: .prose(row[key].string ?? "")
            case .bytes: .bytes(row[key].int)
            case .number: .number(row[key].int)
            }
        }
    }
}

enum Cell: Sendable {
    case text(String)
    case prose(String)
    case bytes(Int64?)
    case number(Int64?)

    /// The cell as printed; `raw` output escapes the spaces of sentences too.
    func rendered(bytes exact: Bool, raw: Bool = false) -> String {
        switch self {
        case .text(let text): Escape.text(text)
        case .prose(let text): raw ? Escape.text(text) : Escape.prose(text)
        case .bytes(let value): value.map { exact ? String($0) : Units.binary($0) } ?? "-"
        case .number(let value): value.map(String.init) ?? "-"
        }
    }

    /// Order for `--sort`: numbers by value, text by its bytes.
    static func ascending(_ lhs: Cell, _ rhs: Cell) -> Bool {
        switch (lhs, rhs) {
        case (.text(let a), .text(let b)), (.prose(let a), .prose(let b)):
            return Array(a.utf8).lexicographicallyPrecedes(Array(b.utf8))
        case (.bytes(let a), .bytes(let b)), (.number(let a), .number(let b)),
            (.bytes(let a), .number(let b)), (.number(let a), .bytes(let b)):
            return (a ?? Int64.min) < (b ?? Int64.min)
        default: return false
        }
    }
}

struct TableShape: Sendable {
    let columns: [Column]
    let defaults: [String]

    func column(_ name: String) -> Column? { columns.first { $0.name.lowercased() == name.lowercased() } }

    /// The columns `-o` asks for: a list, or `+COL,…` added to the defaults.
    func selected(_ output: String?) throws(ValidationError) -> [Column] {
        guard let output, !output.isEmpty else { return defaults.compactMap(column) }
        let adding = output.hasPrefix("+")
        let names = (adding ? String(output.dropFirst()) : output).split(separator: ",").map(String.init)
        var chosen = adding ? defaults.compactMap(column) : []
        for name in names {
            guard let found = column(name) else {
                throw ValidationError(
                    "unknown column '\(name)'; --list-columns lists them: \(columns.map(\.name).joined(separator: " "))"
                )
            }
            chosen.append(found)
        }
        return chosen
    }

    /// `--list-columns`: each column's name and what it shows.
    var columnList: String {
        let width = columns.map(\.name.count).max() ?? 0
        return columns.map { $0.name.padding(to: width) + "  " + $0.help + "\n" }.joined()
    }
}

/// `-o`, `-b`, `-r`, `-n`, `-J`, `--sort`, `--list-columns`, as `lsblk` spells them.
struct TableOptions: ParsableArguments {
    @Option(
        name: [.short, .customLong("output")], help: "Columns to show, comma-separated; +COL,… adds to the default.")
    var output: String?

    @Flag(name: .customLong("list-columns"), help: "List the columns and what they show.")
    var listColumns = false

    @Flag(name: [.short, .customLong("bytes")], help: "Sizes in bytes instead of binary units.")
    var bytes = false

    @Flag(name: [.short, .customLong("raw")], help: "No alignment: one space between columns (names stay escaped).")
    var raw = false

    @Flag(name: [.short, .customLong("noheadings")], help: "No header line.")
    var noHeadings = false

    @Flag(name: [.customShort("J"), .customLong("json")], help: "Print the API's JSON answer as it is.")
    var json = false

    @Option(help: "Sort the rows by this column.")
    var sort: String?

    /// The table's text for `rows`, as bytes for standard output.
    func render(_ rows: [Document], _ shape: TableShape) throws(ValidationError) -> [UInt8] {
        let columns = try shape.selected(output)
        var ordered = rows
        if let sort {
            guard let key = shape.column(sort) else { throw ValidationError("unknown --sort column '\(sort)'") }
            let keys = ordered.map(key.value)
            ordered = zip(keys, ordered).sorted { Cell.ascending($0.0, $1.0) }.map(\.1)
        }
        // The flags read once: a property wrapper's getter is not free, and a listing has 100,000 cells.
        let (exact, raw) = (bytes, raw)
        // Rows are independent: a long listing's cells are made on every core.
        let cells = ordered.concurrentMap { row in columns.map { $0.value(row).rendered(bytes: exact, raw: raw) } }
        return TableText.bytes(
            header: noHeadings ? nil : columns.map(\.name), cells: cells,
            rightAligned: columns.map { $0.kind == .bytes || $0.kind == .number }, aligned: !raw,
            colour: Terminal.colour)
    }
}

enum TableText {
    /// Cells are escaped (`Escape.text`) or numbers: ASCII, so a cell's width is its count of bytes.
    /// Written as bytes: a listing of 10,000 sections is 100,000 cells.
    static func lines(header: [String]?, cells: [[String]], rightAligned: [Bool], aligned: Bool, colour: Bool) -> String
    {
        String(
            decoding: bytes(header: header, cells: cells, rightAligned: rightAligned, aligned: aligned, colour: colour),
            as: UTF8.self)
    }

    /// The same as bytes, for standard output: a listing's megabyte is not validated as UTF-8 again.
    static func bytes(header: [String]?, cells: [[String]], rightAligned: [Bool], aligned: Bool, colour: Bool)
        -> [UInt8]
    {
        let all = (header.map { [$0] } ?? []) + cells
        guard let first = all.first else { return [] }
        var widths = [Int](repeating: 0, count: first.count)
        if aligned {
            for row in all {
                for (index, cell) in row.enumerated() { widths[index] = max(widths[index], cell.utf8.count) }
            }
        }
        let space = UInt8(ascii: " ")
        let lineBound = widths.reduce(first.count, +) + 8
        let capacity = all.reduce(16) { total, row in
            total + max(lineBound, row.reduce(row.count + 8) { $0 + $1.utf8.count })
        }
        return [UInt8](unsafeUninitializedCapacity: capacity) { out, written in
            var at = 0
            func put(_ text: String) {
                var text = text
                text.withUTF8 { bytes in
                    guard let source = bytes.baseAddress else { return }
                    precondition(at + bytes.count <= out.count, "table text past its computed size")
                    out.baseAddress!.advanced(by: at).initialize(from: source, count: bytes.count)
                    at += bytes.count
                }
            }
            func pad(_ count: Int) {
                guard count > 0 else { return }
                precondition(at + count <= out.count, "table text past its computed size")
                out.baseAddress!.advanced(by: at).initialize(repeating: space, count: count)
                at += count
            }
            for (number, row) in all.enumerated() {
                let bold = number == 0 && header != nil && colour
                if bold { put("\u{1B}[1m") }
                for (index, cell) in row.enumerated() {
                    if index > 0 { pad(1) }
                    let padding = aligned ? widths[index] - cell.utf8.count : 0
                    if aligned && rightAligned[index] {
                        pad(padding)
                        put(cell)
                    } else {
                        put(cell)
                        if index != row.count - 1 { pad(padding) }
                    }
                }
                if bold { put("\u{1B}[0m") }
                pad(1)
                out[at - 1] = UInt8(ascii: "\n")
            }
            written = at
        }
    }
}

extension String {
    func padding(to width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }
}

/// Names and labels as shown: printable ASCII as it is; a space, a quote, a backslash, a control
/// character or any byte of a multi-byte character as `\xNN`, so a name is never printed raw (no
/// terminal escapes, no broken columns) and `printf '%b'` gives it back.
enum Escape {
    static func text(_ text: String) -> String {
        if isAllPlain(text) { return text }
        var out = ""
        for byte in text.utf8 {
            if isPlain(byte) {
                out.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                let hex = String(byte, radix: 16)
                out += "\\x" + (hex.count == 1 ? "0" + hex : hex)
            }
        }
        return out
    }

    /// Sentences: printable ASCII and spaces as they are, anything else as `\xNN`.
    static func prose(_ text: String) -> String {
        guard !text.utf8.allSatisfy({ (0x20...0x7e).contains($0) }) else { return text }
        var out = ""
        for byte in text.utf8 {
            if (0x20...0x7e).contains(byte) {
                out.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                let hex = String(byte, radix: 16)
                out += "\\x" + (hex.count == 1 ? "0" + hex : hex)
            }
        }
        return out
    }

    /// Whether every byte `isPlain`, read from the string's contiguous UTF-8 (a table has 100,000 cells).
    static func isAllPlain(_ text: String) -> Bool {
        text.utf8.withContiguousStorageIfAvailable { $0.allSatisfy(isPlain) } ?? text.utf8.allSatisfy(isPlain)
    }

    /// Printable ASCII but a quote or a backslash: shown as it is.
    static func isPlain(_ byte: UInt8) -> Bool {
        (0x21...0x7e).contains(byte) && byte != UInt8(ascii: "\"") && byte != UInt8(ascii: "'")
            && byte != UInt8(ascii: "\\")
    }
}

/// Sizes in binary units as `lsblk` prints them: `512B`, `4K`, `1.5G`.
enum Units {
    static func binary(_ value: Int64) -> String {
        if value < 1024 { return "\(value)B" }
        let units = ["K", "M", "G", "T", "P", "E"]
        var exponent = 0
        var scaled = Double(value) / 1024
        while scaled >= 1024 && exponent < units.count - 1 {
            scaled /= 1024
            exponent += 1
        }
        var tenths = Int64((scaled * 10).rounded())
        if tenths >= 10240 && exponent < units.count - 1 {
            exponent += 1
            tenths = Int64((scaled / 1024 * 10).rounded())
        }
        let whole = tenths / 10
        let fraction = tenths % 10
        return fraction == 0 ? "\(whole)\(units[exponent])" : "\(whole).\(fraction)\(units[exponent])"
    }
}
