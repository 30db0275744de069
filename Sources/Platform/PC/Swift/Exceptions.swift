// The pc panic path: every exception stub, Swift trap and kernel abort lands
// in swiftlet_exception with a trap frame; it prints the report on the serial
// console and ends the VM with Kernel.panicStatus.

import CPU
import Swiftlet
import X86

@_cdecl("swiftlet_exception")
func pcException(_ frame: UnsafeMutablePointer<swiftlet_trap_frame>) -> Never {
    var console = ConsoleBuffer()
    Traps.report(frame, to: &console, readable: isMapped)
    console.flush()
    DebugExit.exit(status: Kernel.panicStatus)
}

/// Whether 16 bytes at `address` are mapped by the boot page tables.
func isMapped(_ address: UInt64) -> Bool {
    address >= 0x1000 && address <= BootInfo.mappedLimit - 16
}
