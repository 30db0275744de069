// The IDT (CPU exceptions 0-31, stubs in boot/x86_64/exceptions.S) and the TSS
// whose IST1 stack catches double faults, page faults (so a blown stack still
// gets a report), NMIs and machine checks. Shared by pc and hvt.

import CPU

public enum Interrupts {
    static let tssSelector: UInt16 = 0x18

    public static func initialize() {
        installTSS()
        let idt = UnsafeMutableRawPointer(idt_base()!)
        for vector in 0..<32 {
            let ist: UInt8 = (vector == 2 || vector == 8 || vector == 14 || vector == 18) ? 1 : 0
            writeGate(idt + vector * 16, handler: isr_entry(Int32(vector)), ist: ist)
        }
        cpu_lidt(idt, 32 * 16 - 1)
    }

    static func writeGate(_ gate: UnsafeMutableRawPointer, handler: UInt64, ist: UInt8) {
        gate.storeBytes(of: UInt16(truncatingIfNeeded: handler), as: UInt16.self)
        gate.storeBytes(of: 0x08, toByteOffset: 2, as: UInt16.self)          // kernel code segment
        gate.storeBytes(of: ist, toByteOffset: 4, as: UInt8.self)
        gate.storeBytes(of: 0x8E, toByteOffset: 5, as: UInt8.self)           // present, DPL 0, interrupt gate
        gate.storeBytes(of: UInt16(truncatingIfNeeded: handler >> 16), toByteOffset: 6, as: UInt16.self)
        gate.storeBytes(of: UInt32(truncatingIfNeeded: handler >> 32), toByteOffset: 8, as: UInt32.self)
        gate.storeBytes(of: 0, toByteOffset: 12, as: UInt32.self)
    }

    static func installTSS() {
        let tss = UnsafeMutableRawPointer(tss_base()!)
        tss.storeBytes(of: UInt64(stack_ist_top()), toByteOffset: 0x24, as: UInt64.self)  // IST1
        tss.storeBytes(of: 104, toByteOffset: 102, as: UInt16.self)                      // no I/O bitmap
        let base = UInt64(UInt(bitPattern: tss))
        let limit: UInt64 = 103
        let gdt = gdt_base()!
        gdt[3] = (limit & 0xFFFF) | ((base & 0xFF_FFFF) << 16) | (0x89 << 40) | ((base >> 24) & 0xFF) << 56
        gdt[4] = base >> 32
        cpu_ltr(tssSelector)
    }
}
