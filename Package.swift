// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "hworker-ses",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "hworker-ses", targets: ["hworker-ses"]),
        .library(name: "HworkerMail", targets: ["HworkerMail"]),
        .library(name: "HworkerQueue", targets: ["HworkerQueue"]),
        .library(name: "HworkerSES", targets: ["HworkerSES"]),
    ],
    targets: [
        // C libraries from Debian, wrapped as system-library targets.
        .systemLibrary(
            name: "CHiredis", pkgConfig: "hiredis", providers: [.apt(["libhiredis-dev"])]),
        // OpenSSL behind a small TLS interface (its headers only: TLS.c loads libssl.so.3
        // when a client first opens an https connection), the variadic prctl, and the
        // shared-memory atomics.
        .target(
            name: "CSupport",
            linkerSettings: [.linkedLibrary("rt"), .linkedLibrary("pthread"), .linkedLibrary("dl")]
        ),

        .target(name: "HworkerRedis", dependencies: ["CHiredis", "CSupport"]),
        .target(name: "HworkerMail"),
        .target(name: "HworkerQueue", dependencies: ["HworkerRedis", "HworkerMail"]),
        // Optimized in debug builds too: SigV4's SHA-256 runs on every send, and unoptimized
        // it takes about a millisecond, which the tests' rate checks would see as jitter.
        .target(
            name: "HworkerSES", dependencies: ["HworkerMail", "CSupport"],
            swiftSettings: [.unsafeFlags(["-O"], .when(configuration: .debug))]),
        .target(name: "HworkerRate", dependencies: ["CSupport"]),
        .target(
            name: "HworkerDaemon",
            dependencies: ["HworkerQueue", "HworkerSES", "HworkerRate", "HworkerRedis", "CSupport"]
        ),
        .executableTarget(name: "hworker-ses", dependencies: ["HworkerDaemon"]),
        // Measurements for scripts/bench that use the library directly; not installed.
        .executableTarget(
            name: "hworker-bench", dependencies: ["HworkerQueue", "HworkerRate", "HworkerRedis"]),

        .target(
            name: "HworkerTestSupport", dependencies: ["HworkerRedis"],
            path: "Tests/HworkerTestSupport"),
        .testTarget(name: "HworkerMailTests", dependencies: ["HworkerMail", "HworkerTestSupport"]),
        .testTarget(name: "HworkerSESTests", dependencies: ["HworkerSES", "HworkerTestSupport"]),
        .testTarget(
            name: "HworkerQueueTests", dependencies: ["HworkerQueue", "HworkerTestSupport"]),
        .testTarget(name: "HworkerRateTests", dependencies: ["HworkerRate", "HworkerTestSupport"]),
        .testTarget(
            name: "HworkerDaemonTests", dependencies: ["HworkerDaemon", "HworkerTestSupport"]),
    ]
)
