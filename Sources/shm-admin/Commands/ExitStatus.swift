import ArgumentParser

#if canImport(Glibc)
    import Glibc
#endif

extension ShmAdminCommand {
    /// `main()`, but bad usage exits 2 (docs/CLI.md "Errors"; argument-parser's default is 64).
    static func mainWithUsageStatus() -> Never {
        do {
            var command = try parseAsRoot()
            try command.run()
            Glibc.exit(0)
        } catch {
            let status = exitCode(for: error)
            if status == .validationFailure {
                let message = fullMessage(for: error)
                _ = Array((message + "\n").utf8).withUnsafeBytes { Terminal.write($0, to: 2) }
                Glibc.exit(2)
            }
            exit(withError: error)
        }
    }
}
