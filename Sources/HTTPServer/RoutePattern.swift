/// A parsed route pattern such as `/api/v1/sections/{name}/views/{id}/move`.
///
/// Segments are literal text, `{name}` (exactly one non-empty decoded path segment), or, as the last
/// segment only, `{name...}` (one or more remaining segments, joined with `/`, e.g. for static files).
/// Matching is on segments decoded one by one (`HTTPRequest.pathSegments`): a `%2F` stays inside its
/// segment, so `/sections/a%2Fgrow` is the section `a/grow`, never the `grow` route of section `a`.
public struct RoutePattern: Sendable, Hashable, CustomStringConvertible {
    enum Segment: Sendable, Hashable {
        case literal(String)
        case parameter(String)
        case rest(String)
    }

    /// The pattern as written.
    public let description: String
    let segments: [Segment]

    /// Parses `pattern`; it must start with `/`. A malformed pattern is a programming error.
    public init(_ pattern: String) {
        precondition(pattern.hasPrefix("/"), "route pattern must start with '/': \(pattern)")
        description = pattern
        let parts = Self.split(pattern)
        segments = parts.enumerated().map { index, part in
            guard part.hasPrefix("{"), part.hasSuffix("}"), part.count > 2 else { return .literal(part) }
            let name = String(part.dropFirst().dropLast())
            if name.hasSuffix("...") {
                precondition(index == parts.count - 1, "{name...} must be the last segment: \(pattern)")
                return .rest(String(name.dropLast(3)))
            }
            return .parameter(name)
        }
    }

    /// Whether every segment is literal text (no `{name}`).
    var isLiteral: Bool {
        segments.allSatisfy {
            if case .literal = $0 { return true }
            return false
        }
    }

    /// The parameter values when the decoded `path` matches, else nil.
    public func match(_ path: String) -> [String: String]? {
        match(segments: Self.split(path))
    }

    /// The parameter values when the path made of `parts` (each segment decoded on its own) matches.
    public func match(segments parts: [String]) -> [String: String]? {
        var parameters: [String: String] = [:]
        for (index, segment) in segments.enumerated() {
            switch segment {
            case .literal(let text):
                guard index < parts.count, parts[index] == text else { return nil }
            case .parameter(let name):
                guard index < parts.count, !parts[index].isEmpty else { return nil }
                parameters[name] = parts[index]
            case .rest(let name):
                let rest = parts[index...]
                guard !rest.isEmpty, !rest.contains(where: \.isEmpty) else { return nil }
                parameters[name] = rest.joined(separator: "/")
                return parameters
            }
        }
        return parts.count == segments.count ? parameters : nil
    }

    /// Orders matching patterns: at the first differing segment, literal beats `{name}` beats `{name...}`.
    func isMoreSpecific(than other: RoutePattern) -> Bool {
        for (mine, theirs) in zip(segments, other.segments) where mine.rank != theirs.rank {
            return mine.rank > theirs.rank
        }
        return segments.count > other.segments.count
    }

    /// `/a/b` → `["a", "b"]`; `/` → `[""]`; `/a/` → `["a", ""]`.
    static func split(_ path: String) -> [String] {
        path.split(separator: "/", omittingEmptySubsequences: false).dropFirst().map(String.init)
    }
}

extension RoutePattern.Segment {
    var rank: Int {
        switch self {
        case .literal: 2
        case .parameter: 1
        case .rest: 0
        }
    }
}
