import HostScan

/// Objects of a mount that count as orphans for the `orphans` check and reclaim: no process but
/// the server maps, holds or locks them, and they were not modified (mtime or ctime) for the grace
/// period. Names are never evidence.
public enum Orphans {
    public static func idle(on mount: ShmMount, _ snapshot: HostSnapshot, graceSeconds: Double, now: Double)
        -> [MountEntry]
    {
        mount.entries.filter { entry in
            !snapshot.isInUse(mount.objectID(entry))
                && now - max(entry.facts.modifiedAt, entry.facts.changedAt) >= graceSeconds
        }
    }
}

/// Byte counts as a person reads them: `128 MiB`, `6.5 GiB`.
enum Bytes {
    static func text(_ bytes: Int64) -> String {
        let units = ["bytes", "KiB", "MiB", "GiB", "TiB", "PiB"]
        var value = Double(bytes)
        var unit = 0
        while abs(value) >= 1024 && unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        if unit == 0 { return "\(bytes) bytes" }
        let rounded = (value * 10).rounded() / 10
        let text = rounded == rounded.rounded() ? String(Int64(rounded)) : String(rounded)
        return text + " " + units[unit]
    }

    /// A size to suggest: at least twice `bytes`, a power of two of MiB, at least 256 MiB.
    static func suggestion(atLeast bytes: Int64) -> String {
        var mebibytes: Int64 = 256
        while mebibytes * 1024 * 1024 < bytes * 2 { mebibytes *= 2 }
        return mebibytes >= 1024 ? "\(mebibytes / 1024)g" : "\(mebibytes)m"
    }

    static func percent(_ part: Int64, of whole: Int64) -> Double {
        whole > 0 ? (Double(part) * 1000 / Double(whole)).rounded() / 10 : 0
    }
}

/// Fixes that depend on where the mount lives.
enum Fixes {
    /// How to give a mount more room, for the runtime that made it.
    static func grow(_ mount: ShmMount, to size: String) -> String {
        let container = mount.container
        switch container.runtime {
        case .docker, .containerd, .podman:
            let which = container.id.map { " " + String($0.prefix(12)) } ?? ""
            return
                "Give the container\(which) a larger /dev/shm: docker run --shm-size=\(size) (podman the same), "
                + "or shm_size: \(size) in its compose service; it takes effect when the container is recreated."
        case .kubepods, .crio:
            let pod = container.pod.map { " of pod " + $0 } ?? ""
            return
                "Mount an emptyDir with medium: Memory and sizeLimit: \(size.uppercased())i at /dev/shm in the pod spec\(pod) "
                + "(the runtime's default /dev/shm is 64 MiB), and count it in the container's memory limit."
        case .systemd, .none:
            return
                "Grow the tmpfs: mount -o remount,size=\(size.uppercased()) \(mount.path) (and the size= option in /etc/fstab "
                + "so it lasts); if this runs in a container, docker run --shm-size=\(size) (compose shm_size: \(size); "
                + "Kubernetes: an emptyDir with medium: Memory and sizeLimit at /dev/shm)."
        }
    }
}
