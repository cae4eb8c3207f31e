import HostScan
import Testing

@testable import Reclaim

@Suite struct RecordTests {
    @Test func aRecordReadsBackAsWritten() {
        let record = QuarantineRecord(
            id: "0123456789abcdef", name: "leak.1", mount: DeviceID(major: 0, minor: 40), inode: 77, kind: "shm",
            bytes: 4096, quarantinedAt: 1000.5, purgeAt: 87400.5, phase: .moving)
        #expect(QuarantineRecord(decoding: record.encoded()) == record)
        #expect(QuarantineRecord(decoding: Array("{}".utf8)) == nil)
    }
}
