// swift-tools-version:6.2
import PackageDescription

/// Settings every Swift target of ours shares: Swift 6 language mode (strict concurrency) plus
/// explicit `Sendable` on public types, as swift-log does. SwiftPM accepts this unsafe flag in a package used as a
/// dependency (the README's `branch: "main"` line); `scripts/check-dependency` proves it.
let strictSettings: [SwiftSetting] = [
    // Every warning in our code fails the compiler itself, also in files an incremental build does not recompile
    // (they could not have compiled with one). SwiftPM drops warning settings of remote packages.
    .treatAllWarnings(as: .error),
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .unsafeFlags(["-require-explicit-sendable"]),
]

let nio: [Target.Dependency] = [
    .product(name: "NIOCore", package: "swift-nio"),
    .product(name: "NIOPosix", package: "swift-nio"),
]
let logging: Target.Dependency = .product(name: "Logging", package: "swift-log")
let argumentParser: Target.Dependency = .product(name: "ArgumentParser", package: "swift-argument-parser")
let coreMetrics: Target.Dependency = .product(name: "CoreMetrics", package: "swift-metrics")
let prometheus: Target.Dependency = .product(name: "Prometheus", package: "swift-prometheus")
let serviceLifecycle: Target.Dependency = .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")
let unixSignals: Target.Dependency = .product(name: "UnixSignals", package: "swift-service-lifecycle")
let nioHTTP1: Target.Dependency = .product(name: "NIOHTTP1", package: "swift-nio")

/// How the four tools are linked in release builds (docs/PACKAGING.md, "Sizes"): about 1.4 MB off each.
/// - `-z pack-relative-relocs` (DT_RELR): the ~41,000 relative relocations of a position-independent tool (Swift
///   metadata is full of pointers) take 8 KB instead of 980 KB. glibc loads them from 2.36 on; `scripts/package`
///   puts that into the package's `Depends`. GNU ld does it (gold, swiftc's default, cannot). lld could too, but
///   where two static archives define the same symbol it may take the later one: with a module naming Foundation it
///   took a specialization from libFoundation.a rather than libFoundationEssentials.a and pulled in ICU (tt-proxy
///   62 MB). GNU ld searches the archives in order, as gold does.
/// - `--no-export-dynamic`: swiftc exports every global symbol of our modules and their dependencies, which kept
///   them from `--gc-sections` and put 350 KB of names into the dynamic symbol table; nothing looks them up.
let releaseLinking: [LinkerSetting] = [
    .unsafeFlags(
        ["-use-ld=bfd", "-Xlinker", "-z", "-Xlinker", "pack-relative-relocs", "-Xlinker", "--no-export-dynamic"],
        .when(platforms: [.linux], configuration: .release)
    )
]

let package = Package(
    name: "tt-connect",
    // Linux only (Glibc calls throughout; README "Use it as a library"), so no Apple platform minimum is claimed.
    products: [
        .library(name: "TTProtocol", targets: ["TTProtocol"]),
        .library(name: "TTTransport", targets: ["TTTransport"]),
        .library(name: "TTClient", targets: ["TTClient"]),
        .library(name: "TTServer", targets: ["TTServer"]),
        .library(name: "TTProxy", targets: ["TTProxy"]),
        .executable(name: "tt-connect", targets: ["tt-connect"]),
        .executable(name: "tt-ping", targets: ["tt-ping"]),
        .executable(name: "tt-server", targets: ["tt-server"]),
        .executable(name: "tt-proxy", targets: ["tt-proxy"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        // Server-side TLS (tt-server accepts TLS and raw on one port); docs/SERVER.md "TLS".
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        // tt-server's metrics (swift-metrics API, Prometheus text on the admin listener) and its lifecycle.
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
    ],
    targets: [
        // C shims: typed wrappers over variadic C APIs and macro constants Swift cannot import.
        // libssl/libcrypto: the TLS facts (version, cipher, certificate) of libcurl's OpenSSL session.
        .target(
            name: "CCurl",
            linkerSettings: [.linkedLibrary("curl"), .linkedLibrary("ssl"), .linkedLibrary("crypto")]
        ),
        .target(name: "CZlib", linkerSettings: [.linkedLibrary("z")]),
        .target(name: "CCrypto", linkerSettings: [.linkedLibrary("crypto")]),
        .target(name: "CProcessControl"),
        // tt-proxy's relay of established tunnels: recv/send or splice(2) between the sockets on one epoll thread.
        .target(name: "CTunnelRelay"),
        // libpacparser (PAC evaluation), serialised behind one lock: its JavaScript context is global.
        .target(name: "CPacParser", linkerSettings: [.linkedLibrary("pacparser")]),
        // Why Kerberos gave no token (no ticket, expired, unknown service): MIT GSSAPI, loaded at run time.
        .target(name: "CGSSProbe"),

        // Value helpers every module shares: host:port parsing, printable peer bytes, durations. No I/O except the
        // secret-file helpers (FilePermissions, SecretFileWriter), the one way every module reads and writes secrets.
        .target(name: "TTBasics", swiftSettings: strictSettings),
        // Pure protocol: packets, framing, gzip-9 + AES-256-GCM codec, handshake. No I/O.
        .target(name: "TTProtocol", dependencies: ["TTBasics", "CZlib", "CCrypto"], swiftSettings: strictSettings),
        // Byte transports: direct TCP and HTTP CONNECT through libcurl; proxy configuration.
        .target(
            name: "TTTransport",
            dependencies: ["TTBasics", "CCurl", "CPacParser", "CGSSProbe", logging],
            swiftSettings: strictSettings
        ),
        // Framework client: handshake, login, requests, reconnect, logon string, API trace log.
        .target(
            name: "TTClient",
            dependencies: ["TTBasics", "TTProtocol", "TTTransport"],
            swiftSettings: strictSettings
        ),
        // The one fair queue of password checks both servers use (tt-server's Login, tt-proxy's Basic auth), with
        // the fairness key of a client address. A target of its own: it needs NIO, which TTBasics must not.
        .target(
            name: "TTPasswordChecks",
            dependencies: [.product(name: "NIOConcurrencyHelpers", package: "swift-nio")] + nio,
            swiftSettings: strictSettings
        ),
        // NIO channel helpers both servers share (the lingering close). Its own target: TTBasics must not use NIO.
        .target(
            name: "TTChannelSupport",
            dependencies: [.product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: strictSettings
        ),
        // SwiftNIO framework server.
        .target(
            name: "TTServer",
            dependencies: [
                "TTBasics", "TTChannelSupport", "TTPasswordChecks", "TTProtocol", "CCrypto", logging,
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
                coreMetrics, nioHTTP1, serviceLifecycle, unixSignals,
            ]
                + nio,
            swiftSettings: strictSettings
        ),
        // SwiftNIO CONNECT proxy with a scenario engine for misbehaving proxies.
        .target(
            name: "TTProxy",
            dependencies: ["TTBasics", "TTChannelSupport", "TTPasswordChecks", "CCrypto", "CTunnelRelay"] + nio,
            swiftSettings: strictSettings
        ),
        // What every executable shares: exit codes (usage is 2, not ArgumentParser's 64), console output.
        .target(
            name: "TTCommandSupport",
            dependencies: ["CProcessControl", "CCrypto", "TTBasics", argumentParser],
            swiftSettings: strictSettings
        ),
        // The client tools' commands and option groups (proxy flags, logon string, stage printer).
        .target(
            name: "TTCommandLine",
            dependencies: [
                "TTBasics", "TTClient", "TTProtocol", "TTTransport", "TTCommandSupport", argumentParser, logging,
                "CCurl", "CZlib",
            ],
            swiftSettings: strictSettings
        ),

        .executableTarget(
            name: "tt-connect",
            dependencies: ["TTCommandLine", "TTCommandSupport"],
            swiftSettings: strictSettings,
            linkerSettings: releaseLinking
        ),
        .executableTarget(
            name: "tt-ping",
            dependencies: ["TTCommandLine", "TTCommandSupport"],
            swiftSettings: strictSettings,
            linkerSettings: releaseLinking
        ),
        .executableTarget(
            name: "tt-server",
            dependencies: [
                "TTServer", "TTBasics", "TTProtocol", "TTCommandSupport", "CZlib", argumentParser, logging,
                .product(name: "NIOCore", package: "swift-nio"), prometheus, serviceLifecycle, unixSignals,
            ],
            swiftSettings: strictSettings,
            linkerSettings: releaseLinking
        ),
        .executableTarget(
            name: "tt-proxy",
            dependencies: [
                "TTProxy", "TTCommandSupport", argumentParser, .product(name: "NIOCore", package: "swift-nio"),
                serviceLifecycle, unixSignals, logging,
            ],
            swiftSettings: strictSettings,
            linkerSettings: releaseLinking
        ),

        // Shared by tests: start servers/proxies on ephemeral loopback ports, run built binaries, find peers.
        .target(
            name: "TTTestSupport",
            dependencies: ["TTServer", "TTProxy", "TTProtocol", logging] + nio,
            path: "Tests/TTTestSupport",
            swiftSettings: strictSettings
        ),
        .testTarget(name: "TTBasicsTests", dependencies: ["TTBasics"], swiftSettings: strictSettings),
        .testTarget(name: "TTProtocolTests", dependencies: ["TTProtocol"], swiftSettings: strictSettings),
        .testTarget(
            name: "TTTransportTests",
            dependencies: ["TTTransport", "TTTestSupport"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "TTServerTests",
            dependencies: [
                "TTServer", "TTBasics", "TTPasswordChecks", "TTProtocol", "TTTestSupport", logging,
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"), prometheus, coreMetrics,
                // Handlers tested the NIO way: EmbeddedChannel and ByteToMessageDecoderVerifier.
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOTestUtils", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
                + nio,
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "TTProxyTests",
            dependencies: [
                "TTProxy", "TTTestSupport", .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOTestUtils", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "TTClientTests",
            dependencies: [
                "TTBasics", "TTClient", "TTCommandLine", "TTCommandSupport", "TTProtocol", "TTTransport",
                "TTTestSupport",
                argumentParser, "TTServer", .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "TTCommandLineTests",
            dependencies: [
                "TTClient", "TTCommandLine", "TTCommandSupport", "TTProtocol", "TTTransport", "TTTestSupport",
                argumentParser, "TTServer",
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(name: "EndToEndTests", dependencies: ["TTTestSupport"], swiftSettings: strictSettings),
    ]
)
