import Foundation
import Testing

@testable import ShmAdmin

/// A python3 process that maps a file of /dev/shm until it is stopped.
private final class PythonMapper {
    let process = Process()
    let input = Pipe()
    let output = Pipe()

    init(path: String) throws {
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = [
            "-c",
            "import mmap, os, sys\nfd = os.open(sys.argv[1], os.O_RDWR)\nm = mmap.mmap(fd, 4096)\nos.close(fd)\n"
                + "print('ready', flush=True)\nsys.stdin.read()\n",
            path,
        ]
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        let line = output.fileHandleForReading.availableData
        guard String(decoding: line, as: UTF8.self).hasPrefix("ready") else {
            stop()
            throw HarnessError("python3 did not map \(path)")
        }
    }

    func stop() {
        try? input.fileHandleForWriting.close()
        process.waitUntilExit()
    }
}

@Suite("What the doctor's own work costs")
struct DoctorServiceTests {
    @Test("an unlink costs a pass over /proc only for an object the last pass saw mapped by another process")
    func unlinksMakePassesOnlyForMappedObjects() throws {
        let box = try APIHarness()
        defer { box.close() }
        let doctor = box.api.doctor
        let host = box.api.host
        try box.makeFile(box.name("plain"), size: 4096)
        try box.makeFile(box.name("mapped"), size: 4096)
        let mapper = try PythonMapper(path: box.path("mapped"))
        defer { mapper.stop() }
        _ = host.freshSnapshot()
        let passes = host.passesRun

        unlink(box.path("plain"))
        doctor.noteUnlink(of: box.name("plain"), at: Date().timeIntervalSince1970)
        Thread.sleep(forTimeInterval: 1.0)  // the pass would come a quarter of a second later
        #expect(host.passesRun == passes, "an object nobody else mapped is not worth a pass")

        // A burst of unlinks of a mapped object (a program cleaning up) shares one pass.
        unlink(box.path("mapped"))
        for _ in 0..<50 { doctor.noteUnlink(of: box.name("mapped"), at: Date().timeIntervalSince1970) }
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline
            && !doctor.unlinks.recent(now: Date().timeIntervalSince1970).contains(where: {
                $0.name == box.name("mapped")
            })
        {
            Thread.sleep(forTimeInterval: 0.05)
        }
        let recorded = doctor.unlinks.recent(now: Date().timeIntervalSince1970).first { $0.name == box.name("mapped") }
        #expect(recorded?.pids == [mapper.process.processIdentifier])
        Thread.sleep(forTimeInterval: 1.5)  // a second pass would have come by now
        #expect(host.passesRun == passes + 1)
    }
}
