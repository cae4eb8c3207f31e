/// A value that knows its JSON and writes it with the one writer: a response body, a record, an event.
///
/// ```swift
/// struct Point: JSONRepresentable {
///     var x: Int64, y: Int64
///     func write(to json: inout JSONWriter) {
///         json.beginObject()
///         json.key("x"); json.int(x)
///         json.key("y"); json.int(y)
///         json.endObject()
///     }
/// }
/// Point(x: 1, y: 2).jsonBytes()  // {"x":1,"y":2}
/// ```
public protocol JSONRepresentable {
    /// Writes this value (one JSON value, whole) at the writer's end.
    func write(to json: inout JSONWriter)
}

extension JSONRepresentable {
    /// The compact UTF-8 JSON text of this value; `capacity` is a first guess at its size.
    public func jsonBytes(capacity: Int = 256) -> [UInt8] {
        var json = JSONWriter(capacity: capacity)
        write(to: &json)
        return json.finish()
    }
}
