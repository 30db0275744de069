// Ending the VM with a status the host can read: QEMU's isa-debug-exit device
// (iobase 0xf4). Writing v makes QEMU exit with (v << 1) | 1. The mapping:
//   application status s in 0...124 -> v = s + 1   (QEMU exits 2s+3)
//   any other application status    -> v = 126     (QEMU exits 253: "out of range")
//   panic                           -> v = 127     (QEMU exits 255: Kernel.panicStatus)
// v = 0 is never written, so QEMU's own 1 (its errors) and 0 (triple fault,
// reset with -no-reboot) never look like a guest status.
// Sources/Tools/Runner/GuestExit.swift decodes it back.

import CPU
import Swiftlet

enum DebugExit {
    static let port: UInt16 = 0xF4

    static func exit(status: Int32) -> Never {
        let value: UInt32
        if status == Kernel.panicStatus {
            value = 127
        } else if status >= 0 && status <= Kernel.maxExitStatus {
            value = UInt32(status) + 1
        } else {
            value = 126
        }
        cpu_outl(port, value)
        // No debug-exit device: say so, then triple-fault (QEMU -no-reboot stops).
        var console = ConsoleBuffer()
        console.write("\nswiftlet: no isa-debug-exit device at 0xf4; exit status ")
        console.writeDecimal(Int(status))
        console.write(" lost, resetting\n")
        cpu_lidt(nil, 0)
        cpu_triple_fault()
    }
}
