import Foundation
import HTTPServer
import Testing

@Suite struct UnixSocketTests {
    @Test func servesOverAUnixSocketWithMode0600() throws {
        let path = temporaryPath("sock")
        defer { unlink(path) }
        try withServer(configure: { $0.endpoint = .unix(path: path) }, router: echoRouter()) { server in
            #expect(server.port == 0)
            var info = stat()
            #expect(lstat(path, &info) == 0)
            #expect(info.st_mode & S_IFMT == S_IFSOCK)
            #expect(info.st_mode & 0o777 == 0o600)
            let result = try Curl.run(["--unix-socket", path, "http://localhost/echo/u?q=1"])
            #expect(result.status == 0, "\(result.stderr)")
            let object = try jsonObject(result.stdout)
            #expect(object["name"] as? String == "u")
            #expect(object["remote"] as? String == "unix")
            #expect(object["loopback"] as? Bool == true)
        }
        var info = stat()
        #expect(lstat(path, &info) != 0, "the socket file is removed at stop")
    }

    @Test func staleSocketFileIsReplaced() throws {
        let path = temporaryPath("stale")
        defer { unlink(path) }
        // Leave a socket file behind, as a crashed server would.
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: path.utf8)
            raw[path.utf8.count] = 0
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        #expect(bound == 0)
        close(fd)
        try withServer(configure: { $0.endpoint = .unix(path: path) }, router: echoRouter()) { _ in
            let result = try Curl.run(["--unix-socket", path, "http://localhost/echo/s"])
            #expect(try jsonObject(result.stdout)["name"] as? String == "s")
        }
    }

    @Test func refusesToReplaceARegularFile() throws {
        let path = temporaryPath("file")
        _ = FileManager.default.createFile(atPath: path, contents: Data("keep me".utf8))
        defer { unlink(path) }
        let server = HTTPServer(
            configuration: HTTPServerConfiguration(endpoint: .unix(path: path)), handler: echoRouter().handler)
        #expect {
            try server.start()
        } throws: { error in
            (error as? HTTPServerError)?.code == .bind
        }
        #expect(FileManager.default.contents(atPath: path) == Data("keep me".utf8))
    }
}
