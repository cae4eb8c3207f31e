// swift-tools-version:6.0
import PackageDescription

// The data path, one target per layer (docs/ARCHITECTURE.md):
// shm-admin (CLI) → ShmAdmin (routes, auth, JSON, metrics, events) → HTTPServer (libmicrohttpd in Swift)
//                                                                 ↘ SectionRegistry (core; System/ the syscalls)
//                                                                     → CShmLinux (GNU calls)
//                                                                 ↘ Doctor (checks → findings) → HostScan (the whole host, read-only from /proc)
//                                                                 ↘ Reclaim (orphans → quarantine, crash-safe) → HostScan
// SectionRegistry and HostScan make their system calls through SystemSeam.
// JSON (the one writer, the strict parser, the value model) sits under SectionRegistry, HTTPServer and ShmAdmin.
let package = Package(
    name: "shm-admin",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "shm-admin", targets: ["shm-admin"]),
        .library(name: "SectionRegistry", targets: ["SectionRegistry"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
    ],
    targets: [
        .systemLibrary(
            name: "CHttpd",
            pkgConfig: "libmicrohttpd",
            providers: [.apt(["libmicrohttpd-dev"])]
        ),
        // libcurl for the command line's remote mode (http://, https:// and unix: URLs, streamed
        // bodies), loaded with dlopen on the first remote request: its headers at build time
        // (libcurl4-openssl-dev), libcurl.so.4 only when used.
        .target(name: "CCurl", linkerSettings: [.linkedLibrary("dl")]),
        .target(
            name: "CShmLinux",
            cSettings: [.define("_GNU_SOURCE")]
        ),
        .target(name: "JSON"),
        // The system-call seam (`syscall`, `SystemCallError`, the test faults) shared by the registry and the host scan.
        .target(name: "SystemSeam", dependencies: [.product(name: "SystemPackage", package: "swift-system")]),
        .target(
            name: "SectionRegistry",
            dependencies: ["CShmLinux", "JSON", "SystemSeam", .product(name: "SystemPackage", package: "swift-system")]
        ),
        // Read-only observation of the whole host from /proc: mounts, containers, System V, memfd and
        // unlinked objects, one shared snapshot at most a second old.
        .target(
            name: "HostScan",
            dependencies: ["CShmLinux", "SystemSeam", .product(name: "SystemPackage", package: "swift-system")]
        ),
        // Pure checks over (snapshot, configuration, history) → findings, one type per check id.
        .target(name: "Doctor", dependencies: ["HostScan"]),
        // Reclaim with quarantine (API-HOST.md "Reclaim"): the crash-safe, race-safe protocol, its
        // records in the state directory and the recovery at a start; no HTTP (the command line's
        // local mode calls it too).
        .target(
            name: "Reclaim",
            dependencies: [
                "HostScan", "JSON", "SystemSeam", "CShmLinux", .product(name: "SystemPackage", package: "swift-system"),
            ]
        ),
        .target(
            name: "HTTPServer",
            dependencies: [
                "CHttpd", "JSON", .product(name: "Logging", package: "swift-log"),
                .product(name: "SystemPackage", package: "swift-system"),
            ]
        ),
        .target(
            name: "ShmAdmin",
            dependencies: [
                "HTTPServer", "JSON", "SectionRegistry", "HostScan", "Doctor", "Reclaim", "CShmLinux", "SystemSeam",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            // static/ and openapi.json compiled in: the binary serves them from anywhere (issue 15).
            plugins: ["EmbedDashboard"]
        ),
        .executableTarget(name: "EmbedFiles"),
        .plugin(name: "EmbedDashboard", capability: .buildTool(), dependencies: ["EmbedFiles"]),
        .executableTarget(
            name: "shm-admin",
            dependencies: [
                "ShmAdmin", "SectionRegistry", "JSON", "CCurl",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            // lld, which gold is not: pack-relative-relocs (DT_RELR, glibc 2.36) makes the PIE's 44,000
            // relative relocations 9 KB instead of a 1 MB `.rela.dyn` that the loader reads whole at
            // every start (idle server RSS -0.8 MiB; bench/ANALYSIS.md, "Fifth session").
            linkerSettings: [.unsafeFlags(["-use-ld=lld", "-Xlinker", "-z", "-Xlinker", "pack-relative-relocs"])]
        ),
        .testTarget(name: "JSONTests", dependencies: ["JSON"]),
        .testTarget(
            name: "SectionRegistryTests",
            dependencies: ["SectionRegistry", "SystemSeam", .product(name: "SystemPackage", package: "swift-system")]
        ),
        .testTarget(name: "HTTPServerTests", dependencies: ["HTTPServer", "JSON"]),
        .testTarget(name: "CommandLineTests", dependencies: ["shm-admin"]),
        .testTarget(name: "SystemSeamTests", dependencies: ["SystemSeam"]),
        .testTarget(name: "HostScanTests", dependencies: ["HostScan", "SystemSeam"]),
        .testTarget(name: "DoctorTests", dependencies: ["Doctor", "HostScan"]),
        .testTarget(
            name: "ReclaimTests",
            dependencies: [
                "Reclaim", "HostScan", "SystemSeam", .product(name: "SystemPackage", package: "swift-system"),
            ]
        ),
        .testTarget(
            name: "ShmAdminTests",
            dependencies: [
                "ShmAdmin", "SectionRegistry", "HTTPServer", "JSON", "HostScan", "Doctor",
                .product(name: "SystemPackage", package: "swift-system"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
