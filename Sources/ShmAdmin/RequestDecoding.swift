import HTTPServer
import JSON
import SectionRegistry

/// A JSON request body, checked: JSON content type, an object, only the allowed members.
struct JSONBody {
    private let members: [String: JSONValue]

    /// Parses `request`'s body. An empty body is `{}` when `optional`.
    init(_ request: HTTPRequest, allowed: Set<String>, optional: Bool = false) throws(APIFailure) {
        if request.body.isEmpty && optional {
            members = [:]
            return
        }
        let type = request.headers["Content-Type"]?.lowercased() ?? ""
        let mediaType = type.split(separator: ";").first.map { $0.trimmingCharacters(in: " \t") } ?? ""
        guard mediaType == "application/json" || (mediaType.hasPrefix("application/") && mediaType.hasSuffix("+json"))
        else {
            throw APIFailure(
                Problems.unsupportedMediaType(
                    "this endpoint takes application/json, not '\(mediaType.isEmpty ? "nothing" : String(mediaType.prefix(100)))'"
                ))
        }
        let value: JSONValue
        do { value = try StrictJSON.parse(request.body) } catch {
            throw APIFailure(Problems.badRequest("malformed JSON: \(error.message)"))
        }
        guard case .object(let pairs) = value else {
            throw APIFailure(Problems.badRequest("the body must be a JSON object"))
        }
        var table: [String: JSONValue] = [:]
        for (key, member) in pairs {
            guard allowed.contains(key) else {
                throw APIFailure(
                    Problems.badRequest(
                        "unknown field '\(key.prefix(64))'; allowed: \(allowed.sorted().joined(separator: ", "))"))
            }
            table[key] = member
        }
        members = table
    }

    func has(_ key: String) -> Bool { members[key] != nil && members[key] != .null }

    func string(_ key: String) throws(APIFailure) -> String? {
        switch members[key] {
        case nil, .null?: return nil
        case .string(let text)?: return text
        default: throw APIFailure(Problems.badRequest("'\(key)' must be a string"))
        }
    }

    func bool(_ key: String) throws(APIFailure) -> Bool? {
        switch members[key] {
        case nil, .null?: return nil
        case .bool(let flag)?: return flag
        default: throw APIFailure(Problems.badRequest("'\(key)' must be true or false"))
        }
    }

    /// An array of strings.
    func strings(_ key: String) throws(APIFailure) -> [String]? {
        switch members[key] {
        case nil, .null?: return nil
        case .array(let values)?:
            var strings: [String] = []
            for value in values {
                guard case .string(let text) = value else {
                    throw APIFailure(Problems.badRequest("'\(key)' must be an array of strings"))
                }
                strings.append(text)
            }
            return strings
        default: throw APIFailure(Problems.badRequest("'\(key)' must be an array of strings"))
        }
    }

    /// A duration: a string such as `"250ms"`, `"90s"`, `"10m"`, `"24h"`, or whole seconds; seconds.
    func duration(_ key: String) throws(APIFailure) -> Double? {
        switch members[key] {
        case nil, .null?: return nil
        case .int(let seconds)? where seconds >= 0: return Double(seconds)
        case .string(let text)?:
            guard let seconds = DurationText.seconds(text) else {
                throw APIFailure(
                    Problems.invalid(
                        "'\(key)' must be a duration such as \"90s\", \"10m\" or \"24h\", not '\(text.prefix(32))'"))
            }
            return seconds
        case .int?: throw APIFailure(Problems.invalid("'\(key)' must not be negative"))
        default: throw APIFailure(Problems.badRequest("'\(key)' must be a duration string or whole seconds"))
        }
    }

    /// A plain integer member (offsets, lengths, milliseconds).
    func integer(_ key: String) throws(APIFailure) -> Int64? {
        switch members[key] {
        case nil, .null?: return nil
        case .int(let number)?: return number
        case .double?: throw APIFailure(Problems.invalid("'\(key)' must be a whole number within 64 bits"))
        default: throw APIFailure(Problems.badRequest("'\(key)' must be a number"))
        }
    }

    /// A size member: a byte count or a string with a binary unit. Anything else is 422.
    func size(_ key: String) throws(APIFailure) -> Int64? {
        do throws(SizeText.Invalid) {
            switch members[key] {
            case nil, .null?: return nil
            case .int(let number)?: return try SizeText.validate(number, field: key)
            case .string(let text)?: return try SizeText.parse(text, field: key)
            case .double(let number)?:
                throw SizeText.Invalid(description: "\(key) \(number) is not a whole number of bytes within 64 bits")
            default:
                throw SizeText.Invalid(description: "\(key) must be a byte count or a string such as \"64MiB\"")
            }
        } catch {
            throw APIFailure(Problems.invalidSize(error.description))
        }
    }

    func labels(_ key: String) throws(APIFailure) -> [String: String]? {
        switch members[key] {
        case nil, .null?: return nil
        case .object(let pairs)?:
            var labels: [String: String] = [:]
            for (name, value) in pairs {
                guard case .string(let text) = value else {
                    throw APIFailure(Problems.badRequest("label '\(name.prefix(64))' must be a string"))
                }
                labels[name] = text
            }
            return labels
        default: throw APIFailure(Problems.badRequest("'\(key)' must be an object of strings"))
        }
    }
}

/// Typed query parameters; a malformed value is 400.
struct Query {
    let request: HTTPRequest

    func integer(_ key: String, default fallback: Int64? = nil, range: ClosedRange<Int64>? = nil) throws(APIFailure)
        -> Int64?
    {
        guard let text = request.query[key] else { return fallback }
        guard let value = Int64(text), range.map({ $0.contains(value) }) ?? true else {
            let bounds = range.map { " between \($0.lowerBound) and \($0.upperBound)" } ?? ""
            throw APIFailure(Problems.badRequest("query parameter '\(key)' must be a whole number\(bounds)"))
        }
        return value
    }

    func bool(_ key: String) throws(APIFailure) -> Bool? {
        guard let text = request.query[key] else { return nil }
        switch text.lowercased() {
        case "true", "1", "yes": return true
        case "false", "0", "no": return false
        default: throw APIFailure(Problems.badRequest("query parameter '\(key)' must be true or false"))
        }
    }

    func choice(_ key: String, _ allowed: [String]) throws(APIFailure) -> String? {
        guard let text = request.query[key] else { return nil }
        guard allowed.contains(text) else {
            throw APIFailure(
                Problems.badRequest("query parameter '\(key)' must be one of \(allowed.joined(separator: ", "))"))
        }
        return text
    }
}

extension StringProtocol {
    /// Drops leading and trailing Unicode scalars found in `set` (by scalar: "\r\n" is two of them).
    func trimmingCharacters(in set: String) -> String {
        let unwanted = Set(set.unicodeScalars)
        var scalars = Substring(self).unicodeScalars[...]
        while let first = scalars.first, unwanted.contains(first) { scalars = scalars.dropFirst() }
        while let last = scalars.last, unwanted.contains(last) { scalars = scalars.dropLast() }
        return String(String.UnicodeScalarView(scalars))
    }
}

/// The section named by the route's `{name}`, validated (422 otherwise).
func sectionName(_ request: HTTPRequest) throws(APIFailure) -> SectionName {
    try validName(request.parameter("name") ?? "")
}

func validName(_ text: String) throws(APIFailure) -> SectionName {
    do { return try SectionName(text) } catch { throw APIFailure(Problems.from(error)) }
}
