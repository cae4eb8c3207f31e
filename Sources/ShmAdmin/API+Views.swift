import HTTPServer
import JSON
import SectionRegistry

extension API {
    func mapView(_ request: HTTPRequest) throws -> JSONResponse<ViewJSON> {
        let name = try sectionName(request)
        let body = try JSONBody(request, allowed: ["offset", "length", "access"])
        guard let accessText = try body.string("access") else {
            throw APIFailure(Problems.invalid("'access' is required"))
        }
        guard let access = Access(rawValue: accessText) else {
            throw APIFailure(Problems.invalid("'access' must be 'ro' or 'rw'"))
        }
        let view = try registry.mapView(
            named: name, offset: try body.integer("offset") ?? 0, length: try body.integer("length"), access: access)
        return JSONResponse(status: 201, ViewJSON(view: view))
    }

    func listViews(_ request: HTTPRequest) throws -> ViewsJSON {
        let name = try sectionName(request)
        let views = try registry.views(of: name)
        let mappers = try registry.mappers(of: name)
        return ViewsJSON(views: views, mappers: mappers)
    }

    func unmapView(_ request: HTTPRequest) throws -> HTTPResponse {
        try registry.unmapView(named: try sectionName(request), id: request.parameter("id") ?? "")
        return .empty()
    }

    func moveView(_ request: HTTPRequest) throws -> ViewJSON {
        let name = try sectionName(request)
        let body = try JSONBody(request, allowed: ["oldAddress", "newAddress"])
        guard let old = try body.string("oldAddress") else {
            throw APIFailure(Problems.invalid("'oldAddress' is required: the view's current address"))
        }
        let target = try body.string("newAddress").map(Self.address)
        let view = try registry.moveView(
            named: name, id: request.parameter("id") ?? "", from: try Self.address(old), to: target)
        return ViewJSON(view: view)
    }

    /// `"0x7f12a4000000"` → the address; 422 for anything else.
    static func address(_ text: String) throws(APIFailure) -> UInt {
        let digits = text.hasPrefix("0x") || text.hasPrefix("0X") ? text.dropFirst(2) : Substring(text)
        guard !digits.isEmpty, digits.count <= 16, let value = UInt(digits, radix: 16) else {
            throw APIFailure(Problems.invalid("'\(text.prefix(40))' is not an address such as \"0x7f12a4000000\""))
        }
        return value
    }

    func lock(_ request: HTTPRequest) throws -> HTTPResponse {
        let name = try sectionName(request)
        let body = try JSONBody(request, allowed: ["mode", "timeoutMs", "ttlMs"])
        guard let modeText = try body.string("mode"), let mode = LockMode(rawValue: modeText) else {
            throw APIFailure(Problems.invalid("'mode' must be 'exclusive' or 'shared'"))
        }
        let timeout = try body.integer("timeoutMs") ?? 0
        let ttl = try body.integer("ttlMs") ?? 30_000
        guard (0...60_000).contains(timeout), (1...3_600_000).contains(ttl) else {
            throw APIFailure(Problems.invalid("'timeoutMs' must be 0 to 60000 and 'ttlMs' 1 to 3600000"))
        }
        let lease: LeaseInfo
        do throws(SectionError) {
            lease = try registry.acquireLease(named: name, mode: mode, timeout: 0, ttl: Double(ttl) / 1000)
        } catch {
            guard error.kind == .lockTimeout, timeout > 0 else { throw error }
            // Held by someone else: wait off the server's workers (with one worker per CPU, a few clients
            // waiting for locks would otherwise stop the server answering anyone, /healthz included).
            return offTheWorkers(request) { [self] in
                let lease = try registry.acquireLease(
                    named: name, mode: mode, timeout: Double(timeout) / 1000, ttl: Double(ttl) / 1000)
                return .json(status: 201, LeaseJSON(lease: lease))
            }
        }
        return .json(status: 201, LeaseJSON(lease: lease))
    }

    func unlock(_ request: HTTPRequest) throws -> HTTPResponse {
        try registry.releaseLease(named: try sectionName(request), lease: request.parameter("lease") ?? "")
        return .empty()
    }
}
