import HostScan

/// What the doctor's checks look at, gathered by the caller: one host snapshot (the scan is reused,
/// never redone), the configuration, the history ring's samples and what the registry and the
/// unlink watcher know.
public struct DoctorInput: Sendable {
    public var snapshot: HostSnapshot
    public var configuration: DoctorConfiguration
    /// Oldest first.
    public var history: [HistorySample]
    /// Names of managed sections whose object is gone (version 1's `state: missing`).
    public var missingSections: [String]
    /// Unlinks of mapped objects seen recently (the `deleted-while-mapped` store's records).
    public var recentUnlinks: [UnlinkRecord]
    /// Seconds since the epoch: the clock for ages and windows.
    public var now: Double

    public init(
        snapshot: HostSnapshot, configuration: DoctorConfiguration, history: [HistorySample] = [],
        missingSections: [String] = [], recentUnlinks: [UnlinkRecord] = [], now: Double? = nil
    ) {
        self.snapshot = snapshot
        self.configuration = configuration
        self.history = history
        self.missingSections = missingSections
        self.recentUnlinks = recentUnlinks
        self.now = now ?? snapshot.wallTime
    }
}

/// What the checks need from the server's configuration and the host's `etc/`.
public struct DoctorConfiguration: Sendable, Equatable {
    /// `--grace`: how long an object must be idle to count as an orphan.
    public var graceSeconds: Double
    /// logind's effective `RemoveIPC` and where it came from.
    public var logind: LogindSettings
    /// `SYS_UID_MAX` of `login.defs`.
    public var systemUIDMax: UInt32

    public init(graceSeconds: Double = 600, logind: LogindSettings = .init(), systemUIDMax: UInt32 = 999) {
        self.graceSeconds = graceSeconds
        self.logind = logind
        self.systemUIDMax = systemUIDMax
    }

    /// Reads logind.conf (with its drop-ins) and login.defs under `rootDirectory` (`--root-dir`).
    public static func read(rootDirectory: String, graceSeconds: Double) -> DoctorConfiguration {
        DoctorConfiguration(
            graceSeconds: graceSeconds, logind: LogindSettings.read(rootDirectory: rootDirectory),
            systemUIDMax: LoginDefs.systemUIDMax(rootDirectory: rootDirectory))
    }
}
