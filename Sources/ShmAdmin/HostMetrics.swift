import HostScan

/// The series API-HOST.md adds to /metrics ("Metrics (additions)") that the host scan gives, in
/// the Prometheus text format, after version 1's.
enum HostMetrics {
    static func render(_ snapshot: HostSnapshot, version: String, sectionCap: Int = 1000) -> String {
        var out = ""
        func header(_ name: String, _ help: String) { out += "# HELP \(name) \(help)\n# TYPE \(name) gauge\n" }
        header("shm_admin_build_info", "Always 1; the version and revision of this build.")
        out += "shm_admin_build_info{version=\"\(Metrics.escape(version))\",revision=\"unknown\"} 1\n"

        let gauges: [(String, String, (ShmMount) -> Int64?)] = [
            ("shm_admin_mount_size_bytes", "Size of each shared-memory mount.", { $0.capacity?.sizeBytes }),
            ("shm_admin_mount_used_bytes", "Bytes in use on each shared-memory mount.", { $0.capacity?.usedBytes }),
            ("shm_admin_mount_free_bytes", "Free bytes of each shared-memory mount.", { $0.capacity?.freeBytes }),
            (
                "shm_admin_mount_exposure_bytes", "Bytes of each mount's objects with no memory behind them.",
                { $0.exposureBytes }
            ),
        ]
        for (name, help, value) in gauges {
            header(name, help)
            for mount in snapshot.mounts {
                guard let number = value(mount) else { continue }
                out += "\(name){\(labels(mount))} \(number)\n"
            }
        }

        var counts: [String: (Int, Int64)] = [:]
        for mount in snapshot.mounts {
            for entry in mount.entries {
                let kind = entry.name.hasPrefix("sem.") ? "semaphore" : "shm"
                counts["\(kind)|\(mount.device)", default: (0, 0)].0 += 1
                counts["\(kind)|\(mount.device)", default: (0, 0)].1 += entry.facts.allocatedBytes
            }
        }
        for object in HostObjects.unlinked(snapshot) + HostObjects.sysv(snapshot) {
            let key = "\(object.kind.rawValue)|\(object.mount?.description ?? "")"
            counts[key, default: (0, 0)].0 += 1
            counts[key, default: (0, 0)].1 += object.allocatedBytes
        }
        let sortedCounts = counts.sorted { $0.key < $1.key }
        header("shm_admin_objects", "Shared-memory objects on the host, by kind and mount (empty for none).")
        for (key, (count, _)) in sortedCounts { out += "shm_admin_objects{\(kindMount(key))} \(count)\n" }
        header("shm_admin_object_bytes", "Memory in use by shared-memory objects, by kind and mount.")
        for (key, (_, bytes)) in sortedCounts { out += "shm_admin_object_bytes{\(kindMount(key))} \(bytes)\n" }

        // Straight from the mounts' entries: a host of tens of thousands of objects is scraped
        // every 15 s, and these two need neither hrefs nor holders.
        header(
            "shm_admin_orphan_bytes", "Memory held by objects no process but shm-admin maps, holds or locks, by mount.")
        var unbacked: [(name: String, mount: DeviceID, bytes: Int64)] = []
        for mount in snapshot.mounts.sorted(by: { $0.device < $1.device }) {
            var orphanBytes: Int64 = 0
            for entry in mount.entries {
                if !snapshot.isInUse(mount.objectID(entry)) { orphanBytes += entry.facts.allocatedBytes }
                if entry.facts.unbackedBytes > 0 {
                    unbacked.append((entry.name, mount.device, entry.facts.unbackedBytes))
                }
            }
            out += "shm_admin_orphan_bytes{mount=\"\(mount.device)\"} \(orphanBytes)\n"
        }
        header(
            "shm_admin_unbacked_bytes",
            "Bytes of an object with no memory behind them (size - allocated), for objects that have some; largest first, capped like the per-section series."
        )
        let largestFirst = unbacked.sorted { ($1.bytes, $0.mount, $0.name) < ($0.bytes, $1.mount, $1.name) }
        for object in largestFirst.prefix(sectionCap) {
            out += "shm_admin_unbacked_bytes{section=\"\(Metrics.escape(object.name))\",mount=\"\(object.mount)\"} "
            out += "\(object.bytes)\n"
        }

        header("shm_admin_sysv_segments", "System V segments on the host, in every IPC namespace seen.")
        out += "shm_admin_sysv_segments \(snapshot.sysv.count)\n"
        if let limit = snapshot.sysvLimits.shmmni {
            header("shm_admin_sysv_limit_segments", "The kernel's limit on System V segments (kernel.shmmni).")
            out += "shm_admin_sysv_limit_segments \(limit)\n"
        }
        return out
    }

    /// `mount`, `path` and `container` (`RUNTIME:ID`, the runtime alone without an id, empty for none).
    static func labels(_ mount: ShmMount) -> String {
        let container = mount.container
        let name =
            container.runtime == .none ? "" : container.runtime.rawValue + (container.id.map { ":" + $0 } ?? "")
        return "mount=\"\(mount.device)\",path=\"\(Metrics.escape(mount.path))\",container=\"\(Metrics.escape(name))\""
    }

    private static func kindMount(_ key: String) -> String {
        let parts = key.split(separator: "|", omittingEmptySubsequences: false)
        return "kind=\"\(parts[0])\",mount=\"\(parts[1])\""
    }
}
