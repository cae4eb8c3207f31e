import Foundation

@testable import HostScan

#if canImport(Glibc)
    import Glibc
#endif

/// A prepared `--proc-dir` (and `--root-dir`) tree in a temporary directory: files, links and
/// directories as the kernel would show them, so each format is tested without root.
final class FakeProc {
    let root: String
    var proc: String { root + "/proc" }
    var host: String { root + "/host" }

    init() throws {
        var template = Array("/tmp/hostscan-test-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw CocoaError(.fileWriteUnknown) }
        root = String(cString: made)
        try FileManager.default.createDirectory(atPath: proc, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: host, withIntermediateDirectories: true)
    }

    func remove() { try? FileManager.default.removeItem(atPath: root) }

    /// The device the temporary directory is on, so that fake mounts' files pass the device check.
    var realDevice: DeviceID {
        var info = stat()
        stat(root, &info)
        return DeviceID(UInt64(info.st_dev))
    }

    func write(_ path: String, _ text: String) throws {
        let full = root + "/" + path
        try FileManager.default.createDirectory(
            atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try text.write(toFile: full, atomically: false, encoding: .utf8)
    }

    func link(_ path: String, to target: String) throws {
        let full = root + "/" + path
        try FileManager.default.createDirectory(
            atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: full, withDestinationPath: target)
    }

    func directory(_ path: String) throws {
        try FileManager.default.createDirectory(atPath: root + "/" + path, withIntermediateDirectories: true)
    }

    /// A process: its namespaces, mountinfo (a tmpfs at /dev/shm on each of `shmDevices`, stacked
    /// in order), cgroup file and command.
    func process(
        _ pid: Int32, mountNamespace: UInt64, ipcNamespace: UInt64 = 4_026_531_839, shmDevices: [DeviceID],
        cgroup: String = "0::/\n", command: String = "proc"
    ) throws {
        let base = "proc/\(pid)"
        try link(base + "/ns/mnt", to: "mnt:[\(mountNamespace)]")
        try link(base + "/ns/ipc", to: "ipc:[\(ipcNamespace)]")
        var mountinfo = "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
        for (index, device) in shmDevices.enumerated() {
            mountinfo += "\(30 + index) 22 \(device) / /dev/shm rw,nosuid,nodev - tmpfs shm rw,size=65536k\n"
        }
        try write(base + "/mountinfo", mountinfo)
        try write(base + "/cgroup", cgroup)
        try write(base + "/comm", command + "\n")
        try write(base + "/maps", "55d0c0a00000-55d0c0a21000 r-xp 00000000 08:01 1234   /usr/bin/\(command)\n")
        try directory(base + "/fd")
        try directory(base + "/root/dev/shm")
    }

    func configuration(shmDirectory: String? = nil) -> HostScanConfiguration {
        HostScanConfiguration(
            procDirectory: proc, rootDirectory: host, shmDirectory: shmDirectory ?? root + "/own-shm", maximumAge: 1)
    }
}
