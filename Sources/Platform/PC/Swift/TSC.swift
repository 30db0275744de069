// The TSC's frequency, measured once on demand against the PIT (8254) for
// 10 ms: channel 0 counts down at 1.193182 MHz and is read back with latch
// commands, which works on microvm too (it has no port 0x61 gate for channel 2).
// Only the boot-time report asks for it, so boot does not pay the 10 ms.
// Interrupts stay disabled, so channel 0's IRQ is never delivered.

import CPU
import Swiftlet

enum TSC {
    nonisolated(unsafe) static var cached: UInt64 = 0

    static var frequency: UInt64 {
        if cached == 0 { cached = calibrate() }
        return cached
    }

    static func readPIT() -> UInt16 {
        cpu_outb(0x43, 0x00)  // latch channel 0
        let low = UInt16(cpu_inb(0x40))
        return low | UInt16(cpu_inb(0x40)) << 8
    }

    static func calibrate() -> UInt64 {
        let pitHz: UInt64 = 1_193_182
        let window: UInt16 = 11_932  // 10 ms, well inside one 65536-tick period
        cpu_outb(0x43, 0x34)         // channel 0, lo/hi byte, mode 2, binary
        cpu_outb(0x40, 0)
        cpu_outb(0x40, 0)            // reload 65536
        let start = readPIT()
        let startTSC = cpu_rdtsc()
        var elapsed: UInt16 = 0
        var spins = 0
        while elapsed < window && spins < 10_000_000 {
            elapsed = start &- readPIT()
            spins += 1
        }
        let cycles = cpu_rdtsc() &- startTSC
        // No PIT (the counter never moved): the frequency stays unknown.
        guard elapsed >= window else { return 0 }
        return cycles * pitHz / UInt64(elapsed)
    }
}
