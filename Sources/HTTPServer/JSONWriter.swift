/// Writes compact JSON text straight into bytes, for large regular documents (a listing of ten
/// thousand sections, a page map of a million runs) where a `JSONValue` tree would allocate for every
/// member of every element before a byte is written.
///
/// ```swift
/// var json = JSONWriter()
/// json.beginObject()
/// json.key("name"); json.string("a")
/// json.key("sizes"); json.beginArray(); json.int(1); json.int(2); json.endArray()
/// json.endObject()
/// json.finish()  // {"name":"a","sizes":[1,2]}
/// ```
///
/// Every value is followed by a comma, which the next `end…` (or `bytes`) takes back: no state is kept
/// per level. Keys and values must alternate correctly; the writer does not check.
public struct JSONWriter {
    private var out: [UInt8] = []

    public init(capacity: Int = 256) {
        out.reserveCapacity(capacity)
    }

    /// The text written (complete once every object and array is ended); the writer is left empty.
    public mutating func finish() -> [UInt8] {
        if out.last == UInt8(ascii: ",") { out.removeLast() }
        defer { out = [] }
        return out
    }

    public mutating func beginObject() { out.append(UInt8(ascii: "{")) }
    public mutating func endObject() { close(UInt8(ascii: "}")) }
    public mutating func beginArray() { out.append(UInt8(ascii: "[")) }
    public mutating func endArray() { close(UInt8(ascii: "]")) }

    /// A member name written in the code: plain ASCII that needs no escaping, copied as is.
    public mutating func key(_ name: StaticString) {
        out.append(UInt8(ascii: "\""))
        name.withUTF8Buffer { out.append(contentsOf: $0) }
        out.append(UInt8(ascii: "\""))
        out.append(UInt8(ascii: ":"))
    }

    /// A member name from data (a label's key): escaped as JSON needs.
    public mutating func key(data name: String) {
        JSONValue.writeString(name, to: &out)
        out.append(UInt8(ascii: ":"))
    }

    public mutating func string(_ value: String) {
        JSONValue.writeString(value, to: &out)
        out.append(UInt8(ascii: ","))
    }

    /// A string value made of ASCII bytes that need no escaping (digits, punctuation), written as is.
    public mutating func asciiString(_ write: (inout [UInt8]) -> Void) {
        out.append(UInt8(ascii: "\""))
        write(&out)
        out.append(UInt8(ascii: "\""))
        out.append(UInt8(ascii: ","))
    }

    public mutating func int(_ value: Int64) {
        JSONValue.writeInteger(value, to: &out)
        out.append(UInt8(ascii: ","))
    }

    public mutating func bool(_ value: Bool) {
        let text: StaticString = value ? "true," : "false,"
        text.withUTF8Buffer { out.append(contentsOf: $0) }
    }

    public mutating func null() {
        let text: StaticString = "null,"
        text.withUTF8Buffer { out.append(contentsOf: $0) }
    }

    /// Any value, as `JSONValue.serialized()` writes it.
    public mutating func value(_ value: JSONValue) {
        value.write(to: &out)
        out.append(UInt8(ascii: ","))
    }

    private mutating func close(_ bracket: UInt8) {
        // A string ends in a quote and a number in a digit: a trailing comma is always a separator.
        if out.last == UInt8(ascii: ",") { out[out.count - 1] = bracket } else { out.append(bracket) }
        out.append(UInt8(ascii: ","))
    }
}
