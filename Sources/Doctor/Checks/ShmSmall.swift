import HostScan

/// `shm-small`: a container's mount of 64 MiB or less that is half used, or any mount smaller than
/// its largest object's size.
public struct ShmSmall: DoctorCheck {
    public static let id = "shm-small"
    public static let smallSize: Int64 = 64 << 20

    public init() {}

    static func isContainer(_ container: Container) -> Bool {
        switch container.runtime {
        case .docker, .containerd, .crio, .podman, .kubepods: true
        case .systemd, .none: false
        }
    }

    public func findings(_ input: DoctorInput) -> [Finding] {
        input.snapshot.mounts.compactMap { mount in
            guard let capacity = mount.capacity, capacity.sizeBytes > 0 else { return nil }
            let largest = mount.entries.max { $0.facts.size < $1.facts.size }
            let tooSmallForObject = largest.map { $0.facts.size > capacity.sizeBytes } ?? false
            let smallAndBusy =
                Self.isContainer(mount.container) && capacity.sizeBytes <= Self.smallSize
                && capacity.usedBytes * 2 >= capacity.sizeBytes
            guard tooSmallForObject || smallAndBusy else { return nil }
            var subjects = [Hrefs.mount(mount.device)]
            var evidence: [String: Evidence] = [
                "mount": .text(mount.device.description), "sizeBytes": .int(capacity.sizeBytes),
                "usedBytes": .int(capacity.usedBytes), "container": .text(mount.container.runtime.rawValue),
            ]
            let detail: String
            if let largest, tooSmallForObject {
                subjects.append(Hrefs.file(largest.name, of: mount))
                evidence["largestObjectBytes"] = .int(largest.facts.size)
                detail =
                    "\(largest.name) is \(Bytes.text(largest.facts.size)) long but the tmpfs holds only "
                    + "\(Bytes.text(capacity.sizeBytes)): writing all of it ends in SIGBUS."
            } else {
                detail =
                    "The container's /dev/shm is \(Bytes.text(capacity.sizeBytes)) (the runtime's default) and "
                    + "\(Bytes.percent(capacity.usedBytes, of: capacity.sizeBytes)) % used."
            }
            let wanted = max(capacity.sizeBytes, largest?.facts.size ?? 0)
            return Finding(
                id: Self.id, severity: .warning, title: "Shared memory on \(mount.device) is too small",
                detail: detail, subjects: subjects, evidence: evidence,
                fix: Fixes.grow(mount, to: Bytes.suggestion(atLeast: wanted)), scope: mount.device.description)
        }
    }
}
