// The platform interface (Sources/Swiftlet/Platform.swift) for pc, plus the
// runtime's entropy source.

import CPU
import Swiftlet

@_cdecl("swiftlet_platform_write")
func pcWrite(_ bytes: UnsafePointer<UInt8>, _ count: Int) {
    for i in 0..<count { Serial.write(bytes[i]) }
}

@_cdecl("swiftlet_platform_exit")
func pcExit(_ status: Int32) -> Never { DebugExit.exit(status: status) }

@_cdecl("swiftlet_platform_argc")
func pcArgumentCount() -> Int { BootInfo.arguments }

@_cdecl("swiftlet_platform_argv")
func pcArgument(_ index: Int) -> UnsafePointer<UInt8>? { BootInfo.argument(index) }

@_cdecl("swiftlet_platform_ram_bytes")
func pcRAMBytes() -> Int { BootInfo.ramBytes }

@_cdecl("swiftlet_platform_heap_region")
func pcHeapRegion(_ index: Int, _ start: UnsafeMutablePointer<UnsafeMutableRawPointer?>,
                  _ size: UnsafeMutablePointer<Int>) -> Bool {
    guard let region = BootInfo.heapRegion(index) else { return false }
    start.pointee = region.0
    size.pointee = region.1
    return true
}

@_cdecl("swiftlet_platform_boot_stamp")
func pcBootStamp(_ stage: Int) -> UInt64 {
    guard stage >= 0 && stage < 8 else { return 0 }
    return pc_boot_tsc()![stage]
}

@_cdecl("swiftlet_platform_cycle_hz")
func pcCycleHz() -> UInt64 { TSC.frequency }

/// Entropy for Hashable seeding and Int.random: RDRAND where the CPU has it,
/// otherwise the TSC mixed through splitmix64 (not cryptographic).
@_cdecl("arc4random_buf")
func pcRandomBytes(_ buffer: UnsafeMutableRawPointer, _ count: Int) {
    var i = 0
    while i < count {
        var word = Entropy.next()
        withUnsafeBytes(of: &word) { bytes in
            for b in bytes where i < count {
                buffer.storeBytes(of: b, toByteOffset: i, as: UInt8.self)
                i += 1
            }
        }
    }
}

enum Entropy {
    nonisolated(unsafe) static var hasRDRAND: Bool? = nil
    nonisolated(unsafe) static var state: UInt64 = 0

    static func next() -> UInt64 {
        if hasRDRAND == nil {
            var a: UInt32 = 0, b: UInt32 = 0, c: UInt32 = 0, d: UInt32 = 0
            cpu_cpuid(1, 0, &a, &b, &c, &d)
            hasRDRAND = c & (1 << 30) != 0
        }
        if hasRDRAND == true {
            var value: UInt64 = 0
            for _ in 0..<10 where cpu_rdrand64(&value) != 0 { return value }
        }
        state = state &+ cpu_rdtsc() &+ 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
