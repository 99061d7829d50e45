// swift-tools-version:6.0
import PackageDescription

/// Writes the seed corpora of Fuzz/Corpus/ (`scripts/fuzz --seeds`): binary seeds come from the protocol's own
/// code and test vectors. A package of its own because the fuzz package links every executable with libFuzzer's
/// `main`.
let package = Package(
    name: "tt-connect-fuzz-seeds",
    platforms: [.macOS(.v13)],
    dependencies: [.package(name: "tt-connect", path: "../..")],
    targets: [
        .executableTarget(
            name: "make-seeds",
            dependencies: [.product(name: "TTProtocol", package: "tt-connect")],
            path: "Sources/make-seeds",
            swiftSettings: [.swiftLanguageMode(.v6)]
        )
    ]
)
