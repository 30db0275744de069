// COM1 (16550 UART at 0x3F8): the pc console. Polled; no interrupts.

import CPU
import Swiftlet

enum Serial {
    static let port: UInt16 = 0x3F8

    static func initialize() {
        cpu_outb(port + 1, 0x00)  // no interrupts
        cpu_outb(port + 3, 0x80)  // DLAB on: divisor follows
        cpu_outb(port + 0, 0x01)  // 115200 baud
        cpu_outb(port + 1, 0x00)
        cpu_outb(port + 3, 0x03)  // 8 data bits, no parity, 1 stop bit
        cpu_outb(port + 2, 0xC7)  // FIFO on, cleared
    }

    @inline(__always)
    static func write(_ byte: UInt8) {
        // Transmit-holding-register empty; bounded so a missing UART cannot hang us.
        var spins = 0
        while cpu_inb(port + 5) & 0x20 == 0 && spins < 100_000 { spins += 1 }
        cpu_outb(port, byte)
    }
}
