/// /proc/PID/cgroup: which container a process runs in, and where its memory limit is.
enum CGroup {
    struct Membership: Equatable {
        /// The unified hierarchy's path (`0::PATH`), if the process has one other than `/`.
        var unifiedPath: String?
        /// cgroup v1's memory controller path (`N:memory:PATH`).
        var memoryPath: String?
        /// The path the identity is read from: the unified one, else memory's, else the first other than `/`.
        var identityPath: String
    }

    static func parse(_ text: String) -> Membership {
        var unified: String?
        var memory: String?
        var named: String?
        var other: String?
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard fields.count == 3 else { continue }
            let path = String(fields[2])
            if fields[0] == "0" && fields[1].isEmpty {
                unified = path
            } else if fields[1].split(separator: ",").contains("memory") {
                memory = path
            } else if fields[1] == "name=systemd" {
                named = path
            } else if path != "/" && other == nil {
                other = path
            }
        }
        let usefulUnified = unified == "/" ? nil : unified
        return Membership(
            unifiedPath: usefulUnified, memoryPath: memory,
            identityPath: usefulUnified ?? (memory != "/" ? memory : nil) ?? (named != "/" ? named : nil) ?? other
                ?? "/")
    }

    /// The runtime and ids a cgroup path names (the memory limit is read elsewhere). Kubernetes
    /// first (its paths also name the runtime beneath), then docker, podman, containerd, cri-o,
    /// then any systemd scope or service.
    static func container(path: String) -> Container {
        let segments = path.split(separator: "/").map(String.init)
        if segments.contains(where: { $0.contains("kubepods") }) {
            let pod = segments.lazy.compactMap(podUID).first
            return Container(runtime: .kubepods, id: segments.last.flatMap(containerID), pod: pod, cgroupPath: path)
        }
        for (index, segment) in segments.enumerated() {
            if segment == "docker", index + 1 < segments.count, isContainerID(segments[index + 1]) {
                return Container(runtime: .docker, id: segments[index + 1], cgroupPath: path)
            }
            let prefixes: [(String, Container.Runtime)] = [
                ("docker-", .docker), ("libpod-", .podman), ("cri-containerd-", .containerd), ("crio-", .crio),
            ]
            for (prefix, runtime) in prefixes where segment.hasPrefix(prefix) && segment.hasSuffix(".scope") {
                let id = String(segment.dropFirst(prefix.count).dropLast(".scope".count))
                if isContainerID(id) { return Container(runtime: runtime, id: id, cgroupPath: path) }
            }
        }
        if let last = segments.last, last.hasSuffix(".scope") || last.hasSuffix(".service") {
            return Container(runtime: .systemd, id: last, cgroupPath: path)
        }
        return Container(runtime: .none, cgroupPath: path)
    }

    /// The pod UID in `pod<uid>` (cgroupfs driver) or `kubepods-…-pod<uid_with_underscores>.slice` (systemd driver).
    static func podUID(_ segment: String) -> String? {
        let characters = Array(segment)
        guard
            let at = (0..<max(0, characters.count - 2)).reversed().first(where: {
                String(characters[$0..<$0 + 3]) == "pod"
            })
        else { return nil }
        var uid = String(characters[(at + 3)...].map { $0 == "_" ? "-" : $0 })
        if uid.hasSuffix(".slice") { uid.removeLast(".slice".count) }
        guard uid.count >= 32, uid.allSatisfy({ $0.isHexDigit || $0 == "-" }) else { return nil }
        return uid
    }

    /// A Kubernetes container's id from the last segment: `<id>`, `docker-<id>.scope`,
    /// `cri-containerd-<id>.scope` or `crio-<id>.scope`.
    static func containerID(_ segment: String) -> String? {
        var id = segment
        if id.hasSuffix(".scope") { id.removeLast(".scope".count) }
        for prefix in ["cri-containerd-", "crio-", "docker-", "containerd-"] where id.hasPrefix(prefix) {
            id.removeFirst(prefix.count)
        }
        return isContainerID(id) ? id : nil
    }

    /// 64 lowercase hex digits.
    static func isContainerID(_ text: String) -> Bool {
        text.utf8.count == 64 && text.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
    }

    /// A limit as `memory.max` (`max` or bytes) or v1's `memory.limit_in_bytes` (a page-rounded
    /// 2^63 - 1 for none) gives it; nil for no limit.
    static func memoryLimit(_ text: String) -> Int64? {
        let trimmed = text.filter { !$0.isWhitespace }
        guard trimmed != "max", let value = Int64(trimmed), value < (1 << 62) else { return nil }
        return value
    }
}
