// The TSC's and the local APIC timer's frequencies, measured once on demand
// against the PIT (8254) over 10 ms: channel 0 counts down at 1.193182 MHz
// and is read back with latch commands, which works on microvm too (it has
// no port 0x61 gate for channel 2). The first sleep or clock read pays the
// 10 ms, not boot.
// The error bound is what the measurement cannot see: each PIT read is
// bracketed by TSC reads (the read happened somewhere in between), plus one
// PIT tick of quantisation over the window. Interrupts stay disabled and
// the PIC is masked (LocalAPIC.enable), so channel 0's IRQ is never taken.

import CPU
import Swiftlet

enum TSC {
    nonisolated(unsafe) static var cached: UInt64 = 0
    nonisolated(unsafe) static var errorPPM: UInt64 = 0

    static var frequency: UInt64 {
        if cached == 0 { calibrate() }
        return cached
    }

    static func readPIT() -> UInt16 {
        cpu_outb(0x43, 0x00)  // latch channel 0
        let low = UInt16(cpu_inb(0x40))
        return low | UInt16(cpu_inb(0x40)) << 8
    }

    /// A PIT reading with the TSC just before and after it, and the local
    /// APIC timer's count in between.
    static func sample() -> (pit: UInt16, before: UInt64, after: UInt64, apic: UInt32) {
        let before = cpu_rdtsc()
        let pit = readPIT()
        let apic = LocalAPIC.currentCount
        return (pit, before, cpu_rdtsc(), apic)
    }

    static func calibrate() {
        let pitHz: UInt64 = 1_193_182
        let window: UInt16 = 11_932  // 10 ms, well inside one 65536-tick period
        LocalAPIC.enable()
        LocalAPIC.startCounting()
        cpu_outb(0x43, 0x34)         // channel 0, lo/hi byte, mode 2, binary
        cpu_outb(0x40, 0)
        cpu_outb(0x40, 0)            // reload 65536
        let start = sample()
        var end = start
        var elapsed: UInt16 = 0
        var spins = 0
        while elapsed < window && spins < 10_000_000 {
            end = sample()
            elapsed = start.pit &- end.pit
            spins += 1
        }
        // No PIT (the counter never moved): the frequencies stay unknown.
        guard elapsed >= window else { return }
        let ticks = UInt64(elapsed)
        let cycles = (end.before &+ end.after) / 2 &- (start.before &+ start.after) / 2
        cached = cycles * pitHz / ticks
        LocalAPIC.hz = UInt64(start.apic &- end.apic) * pitHz / ticks
        let blur = (start.after &- start.before &+ end.after &- end.before) / 2
        errorPPM = blur &* 1_000_000 / max(cycles, 1) &+ 1_000_000 / ticks &+ 1
    }
}
