// The platform interface (Sources/Swiftlet/Platform.swift) for pc.

import CPU
import Swiftlet
import X86

@_cdecl("swiftlet_platform_write")
func pcWrite(_ bytes: UnsafePointer<UInt8>, _ count: Int) {
    for i in 0..<count { Serial.write(bytes[i]) }
}

@_cdecl("swiftlet_platform_exit")
func pcExit(_ status: Int32) -> Never { DebugExit.exit(status: status) }

@_cdecl("swiftlet_platform_argc")
func pcArgumentCount() -> Int { BootArguments.argumentCount }

@_cdecl("swiftlet_platform_argv")
func pcArgument(_ index: Int) -> UnsafePointer<UInt8>? { BootArguments.argument(index) }

@_cdecl("swiftlet_platform_ram_bytes")
func pcRAMBytes() -> Int { BootInfo.ramBytes }

@_cdecl("swiftlet_platform_heap_region")
func pcHeapRegion(_ index: Int, _ start: UnsafeMutablePointer<UnsafeMutableRawPointer?>,
                  _ size: UnsafeMutablePointer<Int>) -> Bool {
    guard let region = BootHeapRegions.region(index) else { return false }
    start.pointee = region.0
    size.pointee = region.1
    return true
}

@_cdecl("swiftlet_platform_boot_stamp")
func pcBootStamp(_ stage: Int) -> UInt64 {
    guard stage >= 0 && stage < 8 else { return 0 }
    return boot_stamps()![stage]
}

@_cdecl("swiftlet_platform_cycle_hz")
func pcCycleHz() -> UInt64 { TSC.frequency }
