import Doctor
import HostScan
import JSON
import Testing

@testable import ShmAdmin

@Suite struct DoctorJSONTests {
    @Test(
        arguments: [
            ("250ms", 0.25), ("90s", 90), ("10m", 600), ("24h", 86400), ("42", 42), ("1.5h", 5400),
        ] as [(String, Double)])
    func durations(text: String, seconds: Double) {
        #expect(DurationText.seconds(text) == seconds)
    }

    @Test(arguments: ["", "soon", "-1", "-5m", "10d", "m", "infs"])
    func notDurations(text: String) {
        #expect(DurationText.seconds(text) == nil)
    }

    @Test func reportShape() throws {
        let finding = Finding(
            id: "sigbus-exposure", severity: .critical, title: "T", detail: "D", subjects: ["/api/v1/sections/a"],
            evidence: ["freeBytes": .int(6), "exposureBytes": .int(128), "pids": .list([.int(1)]), "x": .null],
            fix: "F", scope: "0:40")
        let info = Finding(
            id: "missing-sections", severity: .info, title: "I", detail: "", subjects: [], evidence: [:], fix: "")
        let text = String(
            decoding: DoctorReportJSON(checkedAt: 0, findings: [finding, info]).jsonBytes(), as: UTF8.self)
        #expect(
            text
                == #"{"checkedAt":"1970-01-01T00:00:00Z","findings":[{"id":"sigbus-exposure","severity":"critical","title":"T","detail":"D","subjects":["/api/v1/sections/a"],"evidence":{"exposureBytes":128,"freeBytes":6,"pids":[1],"x":null},"fix":"F"},{"id":"missing-sections","severity":"info","title":"I","detail":"","subjects":[],"evidence":{},"fix":""}],"summary":{"critical":1,"warning":0,"info":1}}"#
        )
    }

    @Test func historyShape() {
        let device = HistorySample.MountSample(
            device: .init(major: 0, minor: 40), usedBytes: 10, exposureBytes: 2, orphans: 0)
        let samples = [1.0, 11.0].map {
            HistorySample(time: $0, mounts: [device], objects: [.init(href: "/api/v1/sections/a", allocatedBytes: 5)])
        }
        let text = String(decoding: HistoryJSON(samples: samples).jsonBytes(), as: UTF8.self)
        #expect(
            text
                == #"{"interval":10,"mounts":{"0:40":[[1.0,10,2],[11.0,10,2]]},"sections":{"/api/v1/sections/a":[[1.0,5],[11.0,5]]}}"#
        )
    }
}
