import Testing

@testable import Doctor
@testable import HostScan

@Suite struct HistoryTests {
    @Test func ringKeepsTheNewestInOrder() {
        let ring = HistoryRing(capacity: 3)
        for index in 0..<5 { ring.record(HistorySample(time: Double(index), mounts: [], objects: [])) }
        #expect(ring.samples().map(\.time) == [2, 3, 4])
        #expect(ring.samples(since: 3).map(\.time) == [3, 4])
    }

    @Test func anHourAtTenSeconds() {
        #expect(Double(HistoryRing.defaultCapacity) * HistoryRing.interval >= 3600)
    }

    @Test func sampleOfASnapshot() {
        var host = Host()
        let device = host.mount(40, size: 100 * Host.mib, used: 30 * Host.mib)
        host.file("a", on: device, size: 10 * Host.mib, allocated: 4 * Host.mib)
        host.file("b", on: device, size: 20 * Host.mib, mappedBy: [42])
        host.segment(3, size: 8 * Host.mib)
        let sample = HistorySample.of(host.snapshot, graceSeconds: 600)
        #expect(sample.time == Host.now)
        #expect(
            sample.mounts == [.init(device: device, usedBytes: 30 * Host.mib, exposureBytes: 6 * Host.mib, orphans: 1)])
        #expect(
            sample.objects.map(\.href) == ["/api/v1/sections/b", "/api/v1/sysv/4026531839/3", "/api/v1/sections/a"])
    }

    /// Whatever the uptime and however many mounts and long names: under 8 MiB.
    @Test func boundedWorstCase() {
        var host = Host()
        for minor in 0..<100 {
            let device = host.mount(UInt32(minor), used: Int64(minor), server: minor == 0)
            for index in 0..<(minor < 2 ? 60 : 1) {
                host.file(String(repeating: "\u{e9}", count: 127) + "\(index)", on: device, size: Int64(index + minor))
            }
        }
        let ring = HistoryRing()
        let template = HistorySample.of(host.snapshot, graceSeconds: 600, now: 0)
        for step in 0..<(HistoryRing.defaultCapacity * 2) {
            var sample = template
            sample.time = Double(step)
            // Defeat the sharing of hrefs between samples: each sample's are new strings.
            sample.objects = sample.objects.map {
                .init(href: String($0.href.reversed()) + "\(step)", allocatedBytes: 1)
            }
            ring.record(sample)
        }
        #expect(ring.samples().count == HistoryRing.defaultCapacity)
        #expect(ring.samples().first!.mounts.count == HistorySample.mountLimit)
        #expect(ring.approximateBytes <= 8 << 20)
    }
}
