import Testing

@testable import Doctor

@Suite struct ConfigurationTests {
    @Test func noFilesMeansSystemdDefaults() throws {
        let tree = try RootTree()
        defer { tree.remove() }
        #expect(LogindSettings.read(rootDirectory: tree.root) == LogindSettings(removeIPC: true, source: nil))
        #expect(LoginDefs.systemUIDMax(rootDirectory: tree.root) == 999)
    }

    @Test func mainFileThenDropInsInNameOrder() throws {
        let tree = try RootTree()
        defer { tree.remove() }
        try tree.write("/etc/systemd/logind.conf", "[Login]\n#RemoveIPC=yes\nRemoveIPC=no\n")
        #expect(LogindSettings.read(rootDirectory: tree.root).removeIPC == false)
        // A later directory's drop-in still applies when no earlier one has its name.
        try tree.write("/usr/lib/systemd/logind.conf.d/10-vendor.conf", "[Login]\nRemoveIPC=yes\n")
        #expect(LogindSettings.read(rootDirectory: tree.root).removeIPC == true)
        // File-name order across directories: 20-local (in /etc) comes after 10-vendor.
        try tree.write("/etc/systemd/logind.conf.d/20-local.conf", "[Login]\n RemoveIPC = off \n")
        let settings = LogindSettings.read(rootDirectory: tree.root)
        #expect(
            settings == LogindSettings(removeIPC: false, source: tree.root + "/etc/systemd/logind.conf.d/20-local.conf")
        )
        // 30-run in /run wins by name; a setting in another section or a bad value is ignored.
        try tree.write(
            "/run/systemd/logind.conf.d/30-run.conf", "[Other]\nRemoveIPC=no\n[Login]\nRemoveIPC=yes\nRemoveIPC=maybe\n"
        )
        #expect(LogindSettings.read(rootDirectory: tree.root).removeIPC == true)
    }

    @Test func earlierDirectoryMasksTheSameName() throws {
        let tree = try RootTree()
        defer { tree.remove() }
        try tree.write("/etc/systemd/logind.conf", "[Login]\nRemoveIPC=no\n")
        try tree.write("/usr/lib/systemd/logind.conf.d/50-x.conf", "[Login]\nRemoveIPC=yes\n")
        try tree.write("/usr/local/lib/systemd/logind.conf.d/50-x.conf", "[Login]\nRemoveIPC=no\n")
        #expect(LogindSettings.read(rootDirectory: tree.root).removeIPC == false)
        // Linked to /dev/null in /etc: masked, nothing from it.
        try tree.link("/etc/systemd/logind.conf.d/50-x.conf", to: "/dev/null")
        try tree.write("/usr/local/lib/systemd/logind.conf.d/50-x.conf", "[Login]\nRemoveIPC=yes\n")
        #expect(LogindSettings.read(rootDirectory: tree.root).removeIPC == false)
        // Only *.conf counts.
        try tree.write("/etc/systemd/logind.conf.d/90-z.conf.disabled", "[Login]\nRemoveIPC=yes\n")
        #expect(LogindSettings.read(rootDirectory: tree.root).removeIPC == false)
    }

    @Test func loginDefs() throws {
        let tree = try RootTree()
        defer { tree.remove() }
        try tree.write("/etc/login.defs", "# SYS_UID_MAX 100\nUID_MIN 1000\nSYS_UID_MAX\t\t499\n")
        #expect(LoginDefs.systemUIDMax(rootDirectory: tree.root) == 499)
        let configuration = DoctorConfiguration.read(rootDirectory: tree.root, graceSeconds: 60)
        #expect(configuration.systemUIDMax == 499)
        #expect(configuration.logind.removeIPC)
        #expect(configuration.graceSeconds == 60)
    }
}
