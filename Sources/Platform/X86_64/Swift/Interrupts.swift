// Loads the IDT (CPU exceptions 0-31 and interrupts 32-63, stubs in
// boot/x86_64/exceptions.S) and the TSS whose IST1 stack catches double
// faults, page faults (so a blown stack still gets a report), NMIs and
// machine checks. Both tables are complete at link time
// (boot/x86_64/storage.S). Shared by pc and hvt.

import CPU

public enum Interrupts {
    static let tssSelector: UInt16 = 0x18

    public static func initialize() {
        cpu_lidt(idt_base(), 64 * 16 - 1)
        cpu_ltr(tssSelector)
    }
}
