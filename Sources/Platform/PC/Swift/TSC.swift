// The TSC's frequency, measured once on demand against PIT channel 2 (10 ms).
// Only the boot-time report asks for it, so boot does not pay the 10 ms.

import CPU
import Swiftlet

enum TSC {
    nonisolated(unsafe) static var cached: UInt64 = 0

    static var frequency: UInt64 {
        if cached == 0 { cached = calibrate() }
        return cached
    }

    static func calibrate() -> UInt64 {
        let pitHz: UInt64 = 1_193_182
        let ticks: UInt64 = 11_932  // 10 ms
        cpu_outb(0x61, (cpu_inb(0x61) & ~0x02) | 0x01)  // gate channel 2 on, speaker off
        cpu_outb(0x43, 0xB0)                            // channel 2, lo/hi byte, mode 0
        cpu_outb(0x42, UInt8(ticks & 0xFF))
        cpu_outb(0x42, UInt8(ticks >> 8))
        let start = cpu_rdtsc()
        var spins = 0
        while cpu_inb(0x61) & 0x20 == 0 && spins < 50_000_000 { spins += 1 }
        let cycles = cpu_rdtsc() &- start
        // No PIT (the loop ended at once or never): the frequency stays unknown.
        if spins == 0 || spins >= 50_000_000 { return 0 }
        return cycles * pitHz / ticks
    }
}
