// The pc panic path: every exception stub, Swift trap and kernel abort lands
// in swiftlet_pc_exception with a trap frame; it prints the portable
// PanicReport and ends the VM with Kernel.panicStatus. A fault inside this
// path (a second entry) skips the report and exits at once.

import CPU
import Swiftlet

nonisolated(unsafe) var panicking = false

@_cdecl("swiftlet_pc_exception")
func pcException(_ frame: UnsafeMutablePointer<swiftlet_trap_frame>) -> Never {
    var console = SerialSink()
    if panicking {
        console.write("\n*** PANIC while panicking (vector ")
        console.writeDecimal(Int(frame.pointee.vector))
        console.write(")\n")
        DebugExit.exit(status: Kernel.panicStatus)
    }
    panicking = true
    let f = frame.pointee
    var report = PanicReport(vector: Int(f.vector))
    report.errorCode = f.error_code
    report.rip = f.rip
    report.rflags = f.rflags
    report.registers = registers(f)
    report.message = Kernel.panicReason
    if f.vector == 14 {
        report.faultAddress = cpu_read_cr2()
        report.stackOverflow = isGuardPage(report.faultAddress)
    }
    var trace: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64,
                UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) =
        (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    withUnsafeMutableBytes(of: &trace) { raw in
        let buffer = raw.bindMemory(to: UInt64.self)
        let count = FrameWalker.walk(rip: f.rip, rbp: f.rbp, into: buffer, readable: isReadable)
        report.write(to: &console, backtrace: UnsafeBufferPointer(rebasing: buffer[0..<count]))
    }
    DebugExit.exit(status: Kernel.panicStatus)
}

func registers(_ f: swiftlet_trap_frame) -> GeneralRegisters {
    var r = GeneralRegisters()
    r.rax = f.rax; r.rbx = f.rbx; r.rcx = f.rcx; r.rdx = f.rdx
    r.rsi = f.rsi; r.rdi = f.rdi; r.rbp = f.rbp; r.rsp = f.rsp
    r.r8 = f.r8; r.r9 = f.r9; r.r10 = f.r10; r.r11 = f.r11
    r.r12 = f.r12; r.r13 = f.r13; r.r14 = f.r14; r.r15 = f.r15
    return r
}

func isGuardPage(_ address: UInt64) -> Bool {
    let page = address & ~0xFFF
    return page == UInt64(pc_guard_boot()) || page == UInt64(pc_guard_ist())
}

/// Whether 16 bytes at `address` are mapped by the boot page tables.
func isReadable(_ address: UInt64) -> Bool {
    address >= 0x1000 && address <= BootInfo.mappedLimit - 16
        && !isGuardPage(address) && !isGuardPage(address + 15)
}
