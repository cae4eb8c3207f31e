import Foundation
import HTTPServer
import Logging
import Testing

@Suite(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/openssl")))
struct TLSTests {
    /// A fresh self-signed certificate for 127.0.0.1, made with the openssl CLI.
    static func makeCertificate() throws -> (directory: String, tls: HTTPServerConfiguration.TLS) {
        let directory = temporaryPath("tls")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = [
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
            "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", "\(directory)/key.pem", "-out",
            "\(directory)/cert.pem",
        ]
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        let tls = HTTPServerConfiguration.TLS(
            certificatePEM: try String(contentsOfFile: "\(directory)/cert.pem", encoding: .utf8),
            privateKeyPEM: try String(contentsOfFile: "\(directory)/key.pem", encoding: .utf8))
        return (directory, tls)
    }

    @Test func servesHTTPS() throws {
        let (directory, tls) = try Self.makeCertificate()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try withServer(configure: { $0.tls = tls }, router: echoRouter()) { server in
            let url = "https://127.0.0.1:\(server.port)/echo/secure"
            let result = try Curl.run(["--cacert", "\(directory)/cert.pem", url])
            #expect(result.status == 0, "\(result.stderr)")
            let object = try jsonObject(result.stdout)
            #expect(object["tls"] as? Bool == true)
            #expect(object["name"] as? String == "secure")
            let plain = try Curl.run(["http://127.0.0.1:\(server.port)/echo/plain"], maxTime: 5)
            #expect(plain.status != 0 || !plain.text.contains("plain"))
        }
    }

    @Test func badKeyIsAStartError() {
        let tls = HTTPServerConfiguration.TLS(certificatePEM: "not a certificate", privateKeyPEM: "not a key")
        var configuration = HTTPServerConfiguration.loopback()
        configuration.tls = tls
        var quiet = Logger(label: "test.tls")
        quiet.logLevel = .critical
        let server = HTTPServer(configuration: configuration, logger: quiet, handler: echoRouter().handler)
        #expect {
            try server.start()
        } throws: { error in
            // libmicrohttpd's own reason (from GnuTLS) is part of the message.
            guard let error = error as? HTTPServerError else { return false }
            return error.code == .daemonStart && error.description.contains("certificate")
        }
        #expect(!server.isRunning)
    }
}
