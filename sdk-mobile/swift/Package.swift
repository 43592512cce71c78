// swift-tools-version:5.9
// Swift package for Tributary. The binary target is the XCFramework built
// by sdk-mobile/scripts/build-xcframework (not built in CI here: no Xcode).
import PackageDescription

let package = Package(
    name: "Tributary",
    platforms: [.iOS(.v14), .macOS(.v12)],
    products: [.library(name: "Tributary", targets: ["Tributary"])],
    targets: [
        .binaryTarget(name: "TributaryFFICore", path: "../build/TributaryFFICore.xcframework"),
        // Generated bindings (TributaryFFI.swift, copied by build-xcframework).
        .target(name: "TributaryFFI", dependencies: ["TributaryFFICore"], path: "Sources/TributaryFFI"),
        // The hand-written facade.
        .target(name: "Tributary", dependencies: ["TributaryFFI"], path: "Sources/Tributary"),
    ]
)
