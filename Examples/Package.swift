// swift-tools-version:6.2
import PackageDescription

// Programs that use tt-connect as a library, the way another package would: only the TTClient product.
let package = Package(
    name: "tt-connect-examples",
    dependencies: [.package(name: "tt-connect", path: "..")],
    targets: [
        // An async client: through a proxy, log in, ping, echo (scripts/run-example runs it on loopback).
        .executableTarget(
            name: "async-ping",
            dependencies: [.product(name: "TTClient", package: "tt-connect")],
            swiftSettings: [.swiftLanguageMode(.v6)]
        )
    ]
)
