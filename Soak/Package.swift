// swift-tools-version:6.0
import PackageDescription

// A separate package so the main build never compiles the soak driver (like Benchmarks/). It needs only the
// client library, not SwiftNIO. scripts/soak builds it with `swift build --package-path Soak` and runs it.
let strictSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "tt-connect-soak",
    platforms: [.macOS(.v13)],
    dependencies: [
        .package(name: "tt-connect", path: "..")
    ],
    targets: [
        .executableTarget(
            name: "tt-soak",
            dependencies: [
                .product(name: "TTClient", package: "tt-connect"),
                .product(name: "TTProtocol", package: "tt-connect"),
                .product(name: "TTTransport", package: "tt-connect"),
            ],
            swiftSettings: strictSettings
        )
    ]
)
