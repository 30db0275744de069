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

@_cdecl("swiftlet_platform_ram_bytes")
func pcRAMBytes() -> Int { BootInfo.ramBytes }

/// The TSC calibrated against the PIT (10 ms, on first use).
@_cdecl("swiftlet_platform_monotonic")
func pcMonotonic() -> UInt64 { nanosecondsSinceBoot(hz: TSC.frequency) }

@_cdecl("swiftlet_platform_cycle_hz")
func pcCycleHz() -> UInt64 { TSC.frequency }

@_cdecl("swiftlet_platform_cycle_error_ppm")
func pcCycleErrorPPM() -> UInt64 { TSC.frequency == 0 ? 0 : TSC.errorPPM }

/// The boot page tables already hold the whole 4 GiB identity map.
@_cdecl("swiftlet_platform_stack_guard")
func pcStackGuard(_ page: UnsafeMutableRawPointer, _ guarded: Bool) -> Bool {
    PageTables.setPresent(UInt(bitPattern: page), !guarded)
}
