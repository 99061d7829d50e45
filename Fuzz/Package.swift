// swift-tools-version:6.0
import PackageDescription

/// libFuzzer targets for every parser fed by the network or by users. Built only by `scripts/fuzz` (with
/// `-sanitize=fuzzer,address`), never by the main package's `swift build`, so the main package needs no fuzzer
/// flags and stays usable as a dependency. One executable per target: `fuzz-NAME` reads `Corpus/NAME/`.
let targets: [(name: String, dependencies: [Target.Dependency])] = [
    ("frame", [.product(name: "TTProtocol", package: "tt-connect")]),
    ("inflate", [.product(name: "TTProtocol", package: "tt-connect")]),
    ("hello", [.product(name: "TTProtocol", package: "tt-connect")]),
    ("packet", [.product(name: "TTProtocol", package: "tt-connect")]),
    (
        "proxy-protocol",
        [
            .product(name: "TTServer", package: "tt-connect"),
            .product(name: "NIOCore", package: "swift-nio"),
        ]
    ),
    (
        "request-head",
        [
            .product(name: "TTProxy", package: "tt-connect"),
            .product(name: "NIOCore", package: "swift-nio"),
        ]
    ),
    ("htpasswd", [.product(name: "TTProxy", package: "tt-connect")]),
    ("scenario", [.product(name: "TTProxy", package: "tt-connect")]),
    ("config-file", [.product(name: "TTTransport", package: "tt-connect")]),
    ("no-proxy", [.product(name: "TTTransport", package: "tt-connect")]),
    ("logon-string", [.product(name: "TTClient", package: "tt-connect")]),
    ("endpoint", [.product(name: "TTTransport", package: "tt-connect")]),
]

let package = Package(
    name: "tt-connect-fuzz",
    platforms: [.macOS(.v13)],
    dependencies: [
        .package(name: "tt-connect", path: ".."),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
    ],
    targets: targets.map { target in
        .executableTarget(
            name: "fuzz-\(target.name)",
            dependencies: target.dependencies + ["CLibFuzzer"],
            path: "Sources/\(target.name)",
            swiftSettings: [.swiftLanguageMode(.v6)]
        )
    } + [
        // libFuzzer's driver entry point, which each target's main.swift calls.
        .target(name: "CLibFuzzer")
    ]
)
