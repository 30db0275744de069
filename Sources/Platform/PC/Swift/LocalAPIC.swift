// The pc's idle: the local APIC timer in one-shot mode wakes a `hlt`.
//
// Interrupts are off everywhere except inside that `hlt` (cooperative
// threads need no preemption), so the interrupt stub (swiftlet_irq in
// boot/x86_64/exceptions.S: EOI, iretq) runs only there. The 8259 PICs
// are remapped to vectors 32-47 and masked, so a firmware-programmed PIT
// tick can never arrive as an exception vector. The timer counts at the
// rate measured with the TSC (TSC.swift); a wait longer than the 32-bit
// counter allows wakes early and the scheduler simply waits again.
// Limits: the xAPIC at its reset address 0xFEE00000 (QEMU never moves it).

import CPU
import Swiftlet

enum LocalAPIC {
    static let base: UInt = 0xFEE0_0000
    static let timerVector: UInt32 = 48
    static let spuriousVector: UInt32 = 63
    static let masked: UInt32 = 1 << 16
    enum Register {
        static let spurious: UInt = 0xF0, lvtTimer: UInt = 0x320, initialCount: UInt = 0x380
        static let currentCount: UInt = 0x390, divide: UInt = 0x3E0
    }

    nonisolated(unsafe) static var enabled = false
    nonisolated(unsafe) static var hz: UInt64 = 0
    nonisolated(unsafe) static var interruptsSeen: UInt64 = 0

    static func read(_ register: UInt) -> UInt32 { cpu_mmio_read32(base + register) }
    static func write(_ register: UInt, _ value: UInt32) { cpu_mmio_write32(base + register, value) }

    static var currentCount: UInt32 { read(Register.currentCount) }

    static func enable() {
        if enabled { return }
        enabled = true
        maskPICs()
        write(Register.spurious, 0x100 | spuriousVector)  // software-enable the APIC
        write(Register.divide, 0xB)                       // count at the bus rate (divide by 1)
        write(Register.lvtTimer, masked | timerVector)
    }

    /// Free-running for calibration: masked, from the top of the counter.
    static func startCounting() { write(Register.initialCount, 0xFFFF_FFFF) }

    /// ICW1-4: vectors 32-47, cascade on IRQ 2, 8086 mode; then mask every IRQ.
    static func maskPICs() {
        for (port, value) in [(0x20, 0x11), (0xA0, 0x11), (0x21, 0x20), (0xA1, 0x28), (0x21, 4), (0xA1, 2),
                              (0x21, 1), (0xA1, 1), (0x21, 0xFF), (0xA1, 0xFF)] as [(UInt16, UInt8)] {
            cpu_outb(port, value)
        }
    }

    /// Halts until the timer fires after `nanoseconds` (at most one counter's worth).
    static func sleep(nanoseconds: UInt64) {
        let rate = TSC.frequency != 0 ? hz : 0
        if rate == 0 { Kernel.panic("pc: no PIT-calibrated APIC timer to sleep on") }
        let ns = min(nanoseconds, 60_000_000_000)
        let count = ns / 1_000_000_000 &* rate &+ (ns % 1_000_000_000) &* rate / 1_000_000_000
        write(Register.lvtTimer, timerVector)
        write(Register.initialCount, UInt32(clamping: max(count, 1)))
        cpu_wait_for_interrupt()
        write(Register.initialCount, 0)
        write(Register.lvtTimer, masked | timerVector)
    }
}

/// The scheduler's idle and poll: the APIC timer and `hlt`, or just the
/// interrupts already pending; any interrupt since the last call reports
/// every device's event bit (Sources/Platform/PC/Virtio/Devices.swift).
@_cdecl("swiftlet_platform_wait")
func pcWait(_ nanoseconds: UInt64) -> UInt64 {
    if nanoseconds == 0 { cpu_take_pending_interrupts() } else { LocalAPIC.sleep(nanoseconds: nanoseconds) }
    let count = cpu_interrupt_count()
    defer { LocalAPIC.interruptsSeen = count }
    return count != LocalAPIC.interruptsSeen ? device_events() : 0
}
