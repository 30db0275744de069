// Turning a trap frame (boot/x86_64/exceptions.S) into the portable
// PanicReport, shared by the x86_64 platforms: each platform's
// `swiftlet_exception` calls `Traps.report` with its console and then ends
// the VM its own way. A fault inside the panic path (a second entry) gets a
// one-line note instead of a report.

import CPU
import Swiftlet

public enum Traps {
    nonisolated(unsafe) static var panicking = false

    /// Writes the report for `frame` to `console`. `readable` says whether 16
    /// bytes at an address may be read (for the backtrace).
    public static func report<S: ByteSink>(_ frame: UnsafeMutablePointer<swiftlet_trap_frame>, to console: inout S,
                                            readable: (UInt64) -> Bool) {
        let f = frame.pointee
        if panicking {
            console.write("\n*** PANIC while panicking (vector ")
            console.writeDecimal(Int(f.vector))
            console.write(")\n")
            return
        }
        panicking = true
        var report = PanicReport(vector: Int(f.vector))
        report.errorCode = f.error_code
        report.rip = f.rip
        report.rflags = f.rflags
        report.registers = registers(f)
        report.message = Kernel.panicReason
        report.threadName = Kernel.threadName
        if f.vector == 14 {
            report.faultAddress = cpu_read_cr2()
            report.stackOverflow = isGuardPage(report.faultAddress)
        }
        var trace: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64,
                    UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        withUnsafeMutableBytes(of: &trace) { raw in
            let buffer = raw.bindMemory(to: UInt64.self)
            let count = FrameWalker.walk(rip: f.rip, rbp: f.rbp, into: buffer) { readable($0) && !isGuardPage($0) && !isGuardPage($0 + 15) }
            report.write(to: &console, backtrace: UnsafeBufferPointer(rebasing: buffer[0..<count]))
        }
    }

    static func registers(_ f: swiftlet_trap_frame) -> GeneralRegisters {
        var r = GeneralRegisters()
        r.rax = f.rax; r.rbx = f.rbx; r.rcx = f.rcx; r.rdx = f.rdx
        r.rsi = f.rsi; r.rdi = f.rdi; r.rbp = f.rbp; r.rsp = f.rsp
        r.r8 = f.r8; r.r9 = f.r9; r.r10 = f.r10; r.r11 = f.r11
        r.r12 = f.r12; r.r13 = f.r13; r.r14 = f.r14; r.r15 = f.r15
        return r
    }

    /// The page below each stack (boot, exception, every thread's), which a
    /// blown stack runs into.
    public static func isGuardPage(_ address: UInt64) -> Bool {
        let page = address & ~0xFFF
        return page == UInt64(guard_boot()) || page == UInt64(guard_ist()) || Kernel.guardPageOwner(address) != nil
    }
}
