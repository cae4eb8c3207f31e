import Foundation

/// Runs `curl` (installed on the test machine) and returns its exit status, stdout and stderr.
/// Every call is bounded by `--max-time` and by a watchdog that terminates the process.
struct Curl {
    struct Result {
        var status: Int32
        var stdout: Data
        var stderr: String
        var text: String { String(decoding: stdout, as: UTF8.self) }
    }

    static func run(_ arguments: [String], maxTime: Int = 20, input: Data? = nil) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        process.arguments = ["--silent", "--show-error", "--max-time", "\(maxTime)"] + arguments
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        let stdinPipe = Pipe()
        process.standardInput = stdinPipe
        try process.run()
        if let input { stdinPipe.fileHandleForWriting.write(input) }
        try stdinPipe.fileHandleForWriting.close()
        // Read both pipes concurrently with the process so a large output cannot deadlock it.
        let errorData = ReadBox()
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async {
            errorData.set(err.fileHandleForReading.readDataToEndOfFile())
            group.leave()
        }
        let outputData = out.fileHandleForReading.readDataToEndOfFile()
        _ = group.wait(timeout: .now() + .seconds(maxTime + 10))
        process.waitUntilExit()
        return Result(
            status: process.terminationStatus, stdout: outputData,
            stderr: String(decoding: errorData.get(), as: UTF8.self))
    }

    final class ReadBox: @unchecked Sendable {
        private let lock = NSLock()
        private var data = Data()
        func set(_ value: Data) { lock.withLock { data = value } }
        func get() -> Data { lock.withLock { data } }
    }
}
