// The platform interface (Sources/Swiftlet/Platform.swift) for hvt, and the
// panic path: the report goes out through PUTS a line at a time and the VM
// ends through HALT with Kernel.panicStatus.

import CPU
import Swiftlet
import X86

@_cdecl("swiftlet_platform_write")
func hvtWrite(_ bytes: UnsafePointer<UInt8>, _ count: Int) { Hypercall.puts(bytes, count) }

@_cdecl("swiftlet_platform_exit")
func hvtExit(_ status: Int32) -> Never { Hypercall.halt(status) }

@_cdecl("swiftlet_platform_ram_bytes")
func hvtRAMBytes() -> Int { Int(BootInfo.memorySize) }

/// The TSC at the rate the monitor announced in the boot info.
@_cdecl("swiftlet_platform_monotonic")
func hvtMonotonic() -> UInt64 { nanosecondsSinceBoot(hz: BootInfo.cycleHz) }

@_cdecl("swiftlet_platform_cycle_hz")
func hvtCycleHz() -> UInt64 { BootInfo.cycleHz }

/// The monitor announces the rate (KVM_GET_TSC_KHZ): nothing is measured here.
@_cdecl("swiftlet_platform_cycle_error_ppm")
func hvtCycleErrorPPM() -> UInt64 { 0 }

@_cdecl("swiftlet_platform_discover_devices")
func hvtDiscoverDevices() { HvtDevices.register(manifest: BootInfo.manifest) }

@_cdecl("swiftlet_platform_wall_clock")
func hvtWallClock() -> UInt64 { Hypercall.walltime() }

@_cdecl("swiftlet_platform_wait")
func hvtWait(_ nanoseconds: UInt64) -> UInt64 { Hypercall.poll(nanoseconds) }

@_cdecl("swiftlet_exception")
func hvtException(_ frame: UnsafeMutablePointer<swiftlet_trap_frame>) -> Never {
    var console = ConsoleBuffer()
    Traps.report(frame, to: &console) { address in
        address >= 0x10000 && address <= BootInfo.memorySize &- 16
    }
    console.flush()
    Hypercall.halt(Kernel.panicStatus)
}
