import JSON

/// What a handler returns: a value that knows the response it becomes (as Hummingbird's
/// `ResponseGenerator`). `HTTPResponse` is one; a `JSONRepresentable` value that declares this
/// conformance becomes a 200 JSON response by itself; `JSONResponse` gives it another status.
public protocol ResponseRepresentable {
    func response() -> HTTPResponse
}

extension HTTPResponse: ResponseRepresentable {
    public func response() -> HTTPResponse { self }
}

extension ResponseRepresentable where Self: JSONRepresentable {
    /// 200 with this value as the JSON body.
    public func response() -> HTTPResponse { .json(self) }
}

/// A JSON value answered with a status of its choosing (`201` for something created).
public struct JSONResponse<Value: JSONRepresentable>: ResponseRepresentable {
    public var status: Int
    public var value: Value

    public init(status: Int = 200, _ value: Value) {
        self.status = status
        self.value = value
    }

    public func response() -> HTTPResponse { .json(status: status, value) }
}
