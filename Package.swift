// swift-tools-version: 6.2
import PackageDescription

let package = Package(
    name: "batch",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "BatchStore", targets: ["BatchStore"]),
        .library(name: "BatchWorker", targets: ["BatchWorker"]),
        .library(name: "BatchBackends", targets: ["BatchBackends"]),
        .executable(name: "batch", targets: ["batch"]),
        .executable(name: "batchd", targets: ["batchd"]),
    ],
    dependencies: [
        .package(url: "https://github.com/groue/GRDB.swift.git", exact: "7.10.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", exact: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", exact: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", exact: "2.13.0"),
        .package(url: "https://github.com/swiftlang/swift-subprocess.git", exact: "1.0.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", exact: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", exact: "2.4.1"),
        .package(url: "https://github.com/apple/swift-nio.git", exact: "2.101.3"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", exact: "2.28.1"),
    ],
    targets: [
        .target(
            name: "BatchStore",
            dependencies: [
                "CSQLite",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
            ],
            plugins: ["BuildCommit"]
        ),
        // sqlite3_config, which Swift cannot call (it is variadic): the
        // store turns SQLite's memory statistics off, whose global mutex
        // every allocation of every connection took.
        .target(name: "CSQLite", path: "Sources/CSQLite", linkerSettings: [.linkedLibrary("sqlite3")]),
        // Writes the git commit being built into BatchStore (`BatchVersion.commit`).
        .plugin(name: "BuildCommit", capability: .buildTool()),
        // libpq, PostgreSQL's C client: synchronous like the store seam, and
        // it reads URLs, key=value strings, PG* variables, ~/.pgpass and
        // sslmode as psql does. Loaded with dlopen when a PostgreSQL store is
        // first opened (its types from libpq-dev's header): linked, its
        // libraries cost every process about 6 MiB, SQLite users included.
        .target(name: "CLibPQ", path: "Sources/CLibPQ"),
        // The PostgreSQL backend: a target of its own, so only it links libpq.
        .target(name: "BatchPostgres", dependencies: ["BatchStore", "CLibPQ"]),
        // Every backend, and the factory that opens the one a location names.
        .target(name: "BatchBackends", dependencies: ["BatchStore", "BatchPostgres"]),
        // posix_spawn with PR_SET_PDEATHSIG (commands die with a SIGKILLed
        // daemon), which needs a step in the child that Swift cannot write;
        // and the Linux calls Swift's Glibc module does not import (pipe2,
        // pidfd_open, pidfd_send_signal, eventfd, mallopt).
        .target(name: "CSpawn", path: "Sources/CSpawn"),
        .target(
            name: "BatchWorker",
            dependencies: [
                "BatchStore", "CSpawn",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Subprocess", package: "swift-subprocess"),
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),
        .executableTarget(
            name: "batchd",
            dependencies: [
                "BatchStore", "BatchBackends", "BatchWorker", "CSpawn",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            linkerSettings: staticRuntime
        ),
        // `batch ui`: the web dashboard, on Hummingbird (an HTTP server made
        // for this, running as a Service); its pages are Swift strings, in the binary.
        .target(
            name: "BatchDashboard",
            dependencies: [
                "BatchStore",
                .product(name: "Hummingbird", package: "hummingbird"),
            ]
        ),
        .executableTarget(
            name: "batch",
            dependencies: [
                "BatchStore", "BatchBackends", "BatchDashboard",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            linkerSettings: staticRuntime
        ),
        // Built (and run) by the tests, so the library API it shows keeps working.
        .executableTarget(
            name: "square-numbers",
            dependencies: ["BatchStore", "BatchBackends", "BatchWorker", .product(name: "Logging", package: "swift-log")],
            path: "Examples/SquareNumbers"
        ),
        .testTarget(
            name: "BatchTests",
            dependencies: [
                "BatchStore", "BatchWorker", "BatchPostgres", "BatchBackends", "batch", "batchd", "square-numbers",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycleTestKit", package: "swift-service-lifecycle"),
            ]
        ),
    ]
)

// Release builds of the two tools link the Swift runtime and Foundation into
// the binary: the dynamic loader then resolves a dozen fewer libraries at
// every start (`batch --version` 6 ms against 11-13, a one-item job 19-21 ms
// against 25-27, measured in turns), and a process maps less (the
// submitter's peak 31 against 33 MiB on a million items). Set here rather
// than by `--static-swift-stdlib`, so every release build of them (the
// manual pages' plugin builds them too) is the same.
var staticRuntime: [LinkerSetting] {
    let release = BuildSettingCondition.when(platforms: [.linux], configuration: .release)
    // A module compiled without the flag names Foundation's dynamic
    // libraries, which bring ICU with them; the static ones need it named.
    let libraries = ["FoundationInternationalization", "FoundationEssentials", "CoreFoundation", "_FoundationCShims",
                     "_FoundationCollections", "_FoundationICU", "stdc++"]
    return [.unsafeFlags(["-static-stdlib"], release)] + libraries.map { .linkedLibrary($0, release) }
}
