import HTTPServer
import SectionRegistry

#if canImport(Glibc)
    import Glibc
#endif

extension API {
    static let contentTypes: [String: String] = [
        "html": "text/html; charset=utf-8", "css": "text/css; charset=utf-8",
        "js": "text/javascript; charset=utf-8", "mjs": "text/javascript; charset=utf-8",
        "json": "application/json", "svg": "image/svg+xml", "png": "image/png", "ico": "image/x-icon",
        "woff2": "font/woff2", "txt": "text/plain; charset=utf-8",
    ]

    /// A file of the dashboard. The path is checked segment by segment (no `.`, `..`, hidden or
    /// empty segments, no backslash), then looked up among the files built into the binary, or, with
    /// `--static-dir`, resolved there: nothing outside the static directory is served.
    func staticFile(_ relative: String) throws -> HTTPResponse {
        let notFound = APIFailure(
            Problems.make(404, "not-found", "Not found", "no dashboard file '\(relative.prefix(200))'"))
        let segments = relative.split(separator: "/", omittingEmptySubsequences: false)
        guard !segments.isEmpty,
            segments.allSatisfy({ !$0.isEmpty && !$0.hasPrefix(".") && !$0.contains("\\") && !$0.contains("\0") })
        else { throw notFound }
        let type = Self.contentTypes[String(relative.split(separator: ".").last ?? "")] ?? "application/octet-stream"
        guard let staticDirectory else {
            guard let embedded = EmbeddedFiles.dashboard(relative) else { throw notFound }
            return Self.dashboardHeaders(.bytes(embedded.bytes, contentType: type))
        }
        let path = staticDirectory + "/" + relative
        guard let resolved = realpath(path, nil) else { throw notFound }
        defer { free(resolved) }
        let real = String(cString: resolved)
        guard real.hasPrefix(staticDirectory + "/") else { throw notFound }
        let fd = open(real, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { throw notFound }
        var info = stat()
        guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
            close(fd)
            throw notFound
        }
        return Self.dashboardHeaders(
            HTTPResponse.file(FileRegion(adopting: fd, length: UInt64(info.st_size)), contentType: type))
    }

    private static func dashboardHeaders(_ response: HTTPResponse) -> HTTPResponse {
        response
            .adding("Cache-Control", "no-cache")
            .adding("X-Content-Type-Options", "nosniff")
            .adding(
                "Content-Security-Policy",
                "default-src 'self'; connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'")
    }

    func openAPI() throws -> HTTPResponse {
        guard let openAPIPath else { return .json(encoded: EmbeddedFiles.openAPI.bytes) }
        guard let bytes = readWholeFile(openAPIPath) else {
            throw APIFailure(
                Problems.make(404, "not-found", "Not found", "openapi.json is not installed at \(openAPIPath)"))
        }
        return .json(encoded: bytes)
    }
}

extension StaticString {
    /// A copy of the literal's UTF-8 bytes.
    var bytes: [UInt8] { Array(UnsafeBufferPointer(start: utf8Start, count: utf8CodeUnitCount)) }
}
