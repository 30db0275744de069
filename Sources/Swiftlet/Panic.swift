// Panic reports: what every CPU exception, Swift runtime trap and kernel-detected
// fault prints before the unikernel ends with `Kernel.panicStatus`.
//
// Portable and allocation-free: the platform fills a PanicReport from its trap
// frame and writes it to the console. The frame-pointer walker reads memory
// only through a caller-supplied predicate, so a corrupt stack cannot fault
// the panic path. Tests: Tests/SwiftletTests/PanicReportTests.swift.

public struct GeneralRegisters: Equatable {
    public var rax: UInt64 = 0, rbx: UInt64 = 0, rcx: UInt64 = 0, rdx: UInt64 = 0
    public var rsi: UInt64 = 0, rdi: UInt64 = 0, rbp: UInt64 = 0, rsp: UInt64 = 0
    public var r8: UInt64 = 0, r9: UInt64 = 0, r10: UInt64 = 0, r11: UInt64 = 0
    public var r12: UInt64 = 0, r13: UInt64 = 0, r14: UInt64 = 0, r15: UInt64 = 0
    public init() {}
}

public struct PanicReport {
    /// Vectors beyond the CPU's 0...31.
    public static let swiftTrapVector = 256
    public static let kernelPanicVector = 257

    public var vector: Int
    public var errorCode: UInt64 = 0
    public var rip: UInt64 = 0
    public var rflags: UInt64 = 0
    /// CR2 (the faulting address) for page faults.
    public var faultAddress: UInt64 = 0
    public var registers = GeneralRegisters()
    /// Set when the faulting address lies in a stack guard page.
    public var stackOverflow = false
    /// The current thread's name, when there is one.
    public var threadName: StaticString? = nil
    /// A kernel panic's reason (vector 257).
    public var message: StaticString? = nil

    public init(vector: Int) { self.vector = vector }

    /// Writes the report; `backtrace` holds return addresses, innermost first.
    public func write<S: ByteSink>(to out: inout S, backtrace: UnsafeBufferPointer<UInt64>) {
        out.write("\n*** PANIC: ")
        writeTitle(to: &out)
        out.write("\n")
        if let threadName {
            out.write("    thread: ")
            out.write(threadName)
            out.write("\n")
        }
        if vector == 14 {
            out.write("    address (cr2): ")
            out.writeHex(faultAddress)
            out.write(stackOverflow ? "  <- stack guard page: stack overflow\n" : "\n")
        }
        out.write("    rip ")
        out.writeHex(rip)
        out.write("  rsp ")
        out.writeHex(registers.rsp)
        out.write("  rflags ")
        out.writeHex(rflags)
        out.write("\n")
        let r = registers
        writeRow(&out, "rax", r.rax, "rbx", r.rbx, "rcx", r.rcx)
        writeRow(&out, "rdx", r.rdx, "rsi", r.rsi, "rdi", r.rdi)
        writeRow(&out, "rbp", r.rbp, "r8 ", r.r8, "r9 ", r.r9)
        writeRow(&out, "r10", r.r10, "r11", r.r11, "r12", r.r12)
        writeRow(&out, "r13", r.r13, "r14", r.r14, "r15", r.r15)
        out.write("    backtrace:")
        if backtrace.isEmpty { out.write(" (none)") }
        for address in backtrace {
            out.write(" ")
            out.writeHex(address, digits: 1)
        }
        out.write("\n*** exit status ")
        out.writeDecimal(Int(Kernel.panicStatus))
        out.write("\n")
    }

    func writeTitle<S: ByteSink>(to out: inout S) {
        switch vector {
        case PanicReport.swiftTrapVector:
            out.write("Swift runtime trap (overflow, bounds, precondition, fatalError or nil unwrap)")
            return
        case PanicReport.kernelPanicVector:
            out.write("kernel: ")
            out.write(message ?? "panic")
            return
        default:
            out.write(PanicReport.exceptionName(vector))
            out.write(" (vector ")
            out.writeDecimal(vector)
            out.write(")")
        }
        if PanicReport.hasErrorCode(vector) {
            out.write(", error ")
            out.writeHex(errorCode, digits: 1)
            if vector == 14 { writePageFaultCause(to: &out) }
        }
    }

    func writePageFaultCause<S: ByteSink>(to out: inout S) {
        out.write(errorCode & 0x10 != 0 ? " (instruction fetch" : errorCode & 2 != 0 ? " (write" : " (read")
        out.write(errorCode & 1 != 0 ? ", protection violation" : ", page not present")
        out.write(errorCode & 4 != 0 ? ", user)" : ", kernel)")
    }

    @inline(never)
    func writeRow<S: ByteSink>(_ out: inout S, _ n1: StaticString, _ v1: UInt64,
                               _ n2: StaticString, _ v2: UInt64, _ n3: StaticString, _ v3: UInt64) {
        out.write("    "); out.write(n1); out.write(" "); out.writeHex(v1)
        out.write("  "); out.write(n2); out.write(" "); out.writeHex(v2)
        out.write("  "); out.write(n3); out.write(" "); out.writeHex(v3)
        out.write("\n")
    }

    public static func hasErrorCode(_ vector: Int) -> Bool {
        switch vector {
        case 8, 10, 11, 12, 13, 14, 17, 21, 29, 30: return true
        default: return false
        }
    }

    public static func exceptionName(_ vector: Int) -> StaticString {
        switch vector {
        case 0: return "divide error (#DE)"
        case 1: return "debug (#DB)"
        case 2: return "non-maskable interrupt (NMI)"
        case 3: return "breakpoint (#BP)"
        case 4: return "overflow (#OF)"
        case 5: return "bound range exceeded (#BR)"
        case 6: return "invalid opcode (#UD)"
        case 7: return "device not available (#NM)"
        case 8: return "double fault (#DF)"
        case 10: return "invalid TSS (#TS)"
        case 11: return "segment not present (#NP)"
        case 12: return "stack-segment fault (#SS)"
        case 13: return "general protection fault (#GP)"
        case 14: return "page fault (#PF)"
        case 16: return "x87 floating-point error (#MF)"
        case 17: return "alignment check (#AC)"
        case 18: return "machine check (#MC)"
        case 19: return "SIMD floating-point error (#XM)"
        case 20: return "virtualization exception (#VE)"
        case 21: return "control protection (#CP)"
        default: return "reserved exception"
        }
    }
}

/// Walks a frame-pointer chain ([rbp] = caller's rbp, [rbp+8] = return address).
public enum FrameWalker {
    /// Stores up to `into.count` return addresses, starting with `rip` if nonzero.
    /// `readable(address)` must say whether 16 bytes at `address` can be read.
    public static func walk(rip: UInt64, rbp: UInt64, into: UnsafeMutableBufferPointer<UInt64>,
                            readable: (UInt64) -> Bool) -> Int {
        var count = 0
        if rip != 0 && count < into.count { into[count] = rip; count += 1 }
        var frame = rbp
        while count < into.count, frame != 0, frame & 7 == 0, readable(frame) {
            let pointer = UnsafeRawPointer(bitPattern: UInt(frame))!
            let next = pointer.load(as: UInt64.self)
            let returnAddress = pointer.load(fromByteOffset: 8, as: UInt64.self)
            if returnAddress == 0 { break }
            into[count] = returnAddress
            count += 1
            if next <= frame { break }  // the stack grows down: callers sit higher
            frame = next
        }
        return count
    }
}
