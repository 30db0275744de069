// The parts of the platform interface (Sources/Swiftlet/Platform.swift) that
// pc and hvt implement the same way, from the shared boot storage: arguments,
// heap regions and boot time stamps. Each platform adds the rest.

import CPU

@_cdecl("swiftlet_platform_argc")
func x86ArgumentCount() -> Int { BootArguments.argumentCount }

@_cdecl("swiftlet_platform_argv")
func x86Argument(_ index: Int) -> UnsafePointer<UInt8>? { BootArguments.argument(index) }

@_cdecl("swiftlet_platform_heap_region")
func x86HeapRegion(_ index: Int, _ start: UnsafeMutablePointer<UnsafeMutableRawPointer?>,
                   _ size: UnsafeMutablePointer<Int>) -> Bool {
    guard let region = BootHeapRegions.region(index) else { return false }
    start.pointee = region.0
    size.pointee = region.1
    return true
}

/// TSC cycles since the first boot instruction as nanoseconds at `hz` (0 Hz: 0).
public func nanosecondsSinceBoot(hz: UInt64) -> UInt64 {
    guard hz > 0 else { return 0 }
    let cycles = cpu_rdtsc() &- boot_stamps()![0]
    // Whole seconds, then the remainder: no 128-bit division (no __udivti3 in
    // the image), exact for any rate below 18 GHz.
    return cycles / hz &* 1_000_000_000 &+ (cycles % hz) &* 1_000_000_000 / hz
}

@_cdecl("swiftlet_platform_boot_stamp")
func x86BootStamp(_ stage: Int) -> UInt64 {
    guard stage >= 0 && stage < 8 else { return 0 }
    return boot_stamps()![stage]
}
