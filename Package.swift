// swift-tools-version:6.0
// The hosted side of Swiftlet: portable modules in normal Swift, the hosted
// platform, the tools, and the tests. Freestanding images are built by the
// Makefile (swiftc/clang/ld.lld), not by SwiftPM. No package dependencies.

import PackageDescription

let extern: [SwiftSetting] = [.enableExperimentalFeature("Extern")]
// Kernel modules run as they do in the images (Embedded Swift has no dynamic
// exclusivity checks): a context switch leaves accesses of the switched-out
// thread open, which the hosted runtime's per-OS-thread checks would misread.
let kernel: [SwiftSetting] = [.unsafeFlags(["-enforce-exclusivity=unchecked", "-cross-module-optimization"])]

let package = Package(
    name: "Swiftlet",
    products: [
        .executable(name: "swiftlet", targets: ["SwiftletTool"]),
        .executable(name: "hello", targets: ["Hello"]),
        .executable(name: "fault", targets: ["Fault"]),
        .executable(name: "swiftcheck", targets: ["SwiftCheck"]),
        .executable(name: "threads", targets: ["ThreadCheck"]),
        .executable(name: "swiftlet-hvt", targets: ["SwiftletHvt"]),
    ],
    targets: [
        // Portable kernel modules (also built in Embedded mode by the Makefile).
        .target(name: "Heap", path: "Sources/Heap", swiftSettings: kernel),
        .target(name: "Scheduler", path: "Sources/Scheduler", swiftSettings: kernel),
        // The x86_64 context switch, shared with the images (the Makefile assembles the same file).
        .target(name: "Context", path: "Sources/Context"),
        .target(name: "Swiftlet", dependencies: ["Heap"], path: "Sources/Swiftlet", swiftSettings: extern + kernel),
        // Cooperative threads: the scheduler core joined to the context switch and the platform.
        .target(name: "Threads", dependencies: ["Swiftlet", "Scheduler", "Context"], path: "Sources/Threads",
                swiftSettings: extern + kernel),
        // virtio: split virtqueues, the transport interface, the block and net drivers (portable, sans-IO core).
        .target(name: "Virtio", dependencies: ["Swiftlet"], path: "Sources/Virtio",
                swiftSettings: kernel + [.enableExperimentalFeature("Volatile")]),
        // The TCP/IP stack: wire formats, ARP, IPv4, ICMP, UDP, the sans-IO interface, pcap (portable).
        .target(name: "Net", path: "Sources/Net", swiftSettings: kernel),
        // A platform's network device driving the stack, for services.
        .target(name: "NetHost", dependencies: ["Net", "Swiftlet", "Threads"], path: "Sources/NetHost"),
        // Blocking TCP/UDP sockets on threads over NetHost.
        .target(name: "Sockets", dependencies: ["Net", "NetHost", "Swiftlet", "Threads"], path: "Sources/Sockets"),
        // HTTP/1.1: the sans-IO request parser with limits and the response serializer (portable).
        .target(name: "HTTP", path: "Sources/HTTP", swiftSettings: kernel),
        // The hosted platform.
        .target(name: "PlatformHosted", dependencies: ["Swiftlet", "CTap"], path: "Sources/Platform/Hosted"),
        // Tap interfaces for host processes (the hosted platform and our monitor): ioctls with struct ifreq.
        .target(name: "CTap", path: "Sources/Platform/Host/CTap"),
        // Applications, hosted builds.
        .executableTarget(name: "Hello", dependencies: ["Swiftlet", "PlatformHosted"], path: "Sources/Apps/Hello"),
        .executableTarget(name: "Fault", dependencies: ["Swiftlet", "PlatformHosted"], path: "Sources/Apps/Fault"),
        .executableTarget(name: "SwiftCheck", dependencies: ["Swiftlet", "PlatformHosted"], path: "Sources/Apps/SwiftCheck"),
        .executableTarget(name: "Clock", dependencies: ["Swiftlet", "Threads", "PlatformHosted"], path: "Sources/Apps/Clock"),
        .executableTarget(name: "BlockTest", dependencies: ["Swiftlet", "PlatformHosted"], path: "Sources/Apps/BlockTest",
                          exclude: ["manifest"]),
        .executableTarget(name: "ThreadCheck", dependencies: ["Swiftlet", "Threads", "PlatformHosted"],
                          path: "Sources/Apps/ThreadCheck"),
        .executableTarget(name: "EchoService", dependencies: ["Swiftlet", "Net", "Sockets", "Threads", "PlatformHosted"],
                          path: "Sources/Apps/EchoService", exclude: ["manifest"]),
        .executableTarget(name: "Fetch", dependencies: ["Swiftlet", "Net", "Sockets", "PlatformHosted"],
                          path: "Sources/Apps/Fetch", exclude: ["manifest"]),
        .executableTarget(name: "HTTPService", dependencies: ["Swiftlet", "Net", "NetHost", "HTTP", "PlatformHosted"],
                          path: "Sources/Apps/HTTPService", exclude: ["manifest"]),
        .executableTarget(name: "NetEcho", dependencies: ["Swiftlet", "Threads", "PlatformHosted"], path: "Sources/Apps/NetEcho",
                          exclude: ["manifest"]),
        // The hvt ABI shared by the hvt guest platform and our monitor.
        .target(name: "HvtABI", path: "Sources/HvtABI"),
        // Our hvt monitor: image loading and option parsing (portable core).
        .target(name: "MonitorCore", dependencies: ["HvtABI"], path: "Sources/Monitor/Core"),
        // Our hvt monitor: /dev/kvm, devices, seccomp (C shim for what Swift cannot call).
        .target(name: "CKVM", path: "Sources/Monitor/CKVM"),
        // A fully static executable: the dynamic loader and the shared Swift runtime would
        // cost the monitor 1-4 ms per start (solo5-hvt starts in ~1 ms; so does this).
        .executableTarget(name: "SwiftletHvt", dependencies: ["MonitorCore", "CKVM", "CTap", "HvtABI"],
                          path: "Sources/Monitor/swiftlet-hvt", linkerSettings: [.unsafeFlags(["-static-executable"])]),
        // Tooling: running images under QEMU.
        .target(name: "Runner", path: "Sources/Tools/Runner"),
        .executableTarget(name: "SwiftletTool", dependencies: ["Runner"], path: "Sources/Tools/swiftlet"),
        // Benchmarks (make bench).
        .executableTarget(name: "ThreadBench", dependencies: ["Swiftlet", "Threads", "PlatformHosted"],
                          path: "bench/threads", exclude: ["idle.py"]),
        // Tests.
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(name: "HeapTests", dependencies: ["Heap", "TestSupport"]),
        .testTarget(name: "SchedulerTests", dependencies: ["Scheduler", "TestSupport"]),
        .testTarget(name: "ContextTests", dependencies: ["Context"]),
        .testTarget(name: "VirtioTests", dependencies: ["Virtio", "Swiftlet", "PlatformHosted", "TestSupport"],
                    swiftSettings: [.enableExperimentalFeature("Volatile")]),
        .testTarget(name: "ThreadsTests", dependencies: ["Threads", "Swiftlet", "PlatformHosted"]),
        .testTarget(name: "NetTests", dependencies: ["Net", "TestSupport"]),
        .testTarget(name: "SwiftletTests", dependencies: ["Swiftlet", "PlatformHosted", "TestSupport"]),
        .testTarget(name: "RunnerTests", dependencies: ["Runner"]),
        .testTarget(name: "NetHostTests", dependencies: ["NetHost", "Swiftlet", "PlatformHosted"]),
        .testTarget(name: "SocketsTests", dependencies: ["Sockets", "NetHost", "Net", "Threads", "Swiftlet", "PlatformHosted"]),
        .testTarget(name: "HTTPTests", dependencies: ["HTTP", "TestSupport"]),
        .testTarget(name: "MonitorCoreTests", dependencies: ["MonitorCore", "HvtABI", "TestSupport"]),
        .testTarget(name: "BootTests", dependencies: ["Runner"]),
    ],
    swiftLanguageModes: [.v5]
)
