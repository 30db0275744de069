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

@_cdecl("swiftlet_platform_boot_stamp")
func x86BootStamp(_ stage: Int) -> UInt64 {
    guard stage >= 0 && stage < 8 else { return 0 }
    return boot_stamps()![stage]
}
