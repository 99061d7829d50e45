// swift-tools-version:6.0
import PackageDescription

// A separate package so the main build never compiles benchmarks (as swift-nio does). Build it with
// `swift build -c release --package-path Benchmarks`; scripts/bench runs everything.
let strictSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "tt-connect-benchmarks",
    platforms: [.macOS(.v13)],
    dependencies: [
        .package(name: "tt-connect", path: ".."),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        // The raw C baseline: the same zlib and OpenSSL calls as the codec, in a plain C loop.
        .target(name: "CRawCodec", linkerSettings: [.linkedLibrary("z"), .linkedLibrary("crypto")]),
        .executableTarget(
            name: "tt-bench",
            dependencies: [
                "CRawCodec",
                .product(name: "TTProtocol", package: "tt-connect"),
                .product(name: "TTClient", package: "tt-connect"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strictSettings
        ),
    ]
)
