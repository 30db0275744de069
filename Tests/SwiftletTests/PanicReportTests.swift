// PanicReport formatting, FrameWalker and the allocation-free number output.

import XCTest
@testable import Swiftlet

struct TextSink: ByteSink {
    var bytes: [UInt8] = []
    mutating func write(_ byte: UInt8) { bytes.append(byte) }
    var text: String { String(decoding: bytes, as: UTF8.self) }
}

final class PanicReportTests: XCTestCase {
    func format(_ report: PanicReport, backtrace: [UInt64] = []) -> String {
        var sink = TextSink()
        backtrace.withUnsafeBufferPointer { report.write(to: &sink, backtrace: $0) }
        return sink.text
    }

    func testPageFaultReportNamesCauseAddressAndRegisters() {
        var report = PanicReport(vector: 14)
        report.errorCode = 0x2
        report.faultAddress = 0xDEAD_0000_0008
        report.rip = 0x10_4242
        report.registers.rax = 0x1122_3344_5566_7788
        report.registers.r15 = 0xF
        report.registers.rsp = 0x12_9F00
        let text = format(report, backtrace: [0x10_4242, 0x10_0206])
        XCTAssert(text.contains("*** PANIC: page fault (#PF) (vector 14), error 0x2 (write, page not present, kernel)"), text)
        XCTAssert(text.contains("address (cr2): 0x0000dead00000008\n"), text)
        XCTAssert(text.contains("rip 0x0000000000104242  rsp 0x0000000000129f00"), text)
        XCTAssert(text.contains("rax 0x1122334455667788"), text)
        XCTAssert(text.contains("r15 0x000000000000000f"), text)
        XCTAssert(text.contains("backtrace: 0x104242 0x100206\n"), text)
        XCTAssert(text.hasSuffix("*** exit status 255\n"), text)
    }

    func testPageFaultCauses() {
        var report = PanicReport(vector: 14)
        report.errorCode = 0x11
        XCTAssert(format(report).contains("(instruction fetch, protection violation, kernel)"))
        report.errorCode = 0x4
        XCTAssert(format(report).contains("(read, page not present, user)"))
    }

    func testGuardPageHitSaysStackOverflow() {
        var report = PanicReport(vector: 14)
        report.stackOverflow = true
        report.threadName = "worker"
        let text = format(report)
        XCTAssert(text.contains("<- stack guard page: stack overflow"), text)
        XCTAssert(text.contains("thread: worker\n"), text)
    }

    func testExceptionsWithoutErrorCodeOmitIt() {
        let text = format(PanicReport(vector: 0))
        XCTAssert(text.contains("*** PANIC: divide error (#DE) (vector 0)\n"), text)
        XCTAssertFalse(text.contains("error 0x"))
        XCTAssertFalse(text.contains("cr2"))
        XCTAssert(text.contains("backtrace: (none)"))
    }

    func testGeneralProtectionShowsErrorCode() {
        var report = PanicReport(vector: 13)
        report.errorCode = 0x18
        XCTAssert(format(report).contains("general protection fault (#GP) (vector 13), error 0x18\n"))
    }

    func testSwiftTrapAndKernelPanicTitles() {
        XCTAssert(format(PanicReport(vector: PanicReport.swiftTrapVector)).contains("*** PANIC: Swift runtime trap"))
        var report = PanicReport(vector: PanicReport.kernelPanicVector)
        report.message = "heap misuse"
        XCTAssert(format(report).contains("*** PANIC: kernel: heap misuse\n"))
    }

    func testEveryVectorHasAName() {
        for vector in 0..<32 where ![9, 15].contains(vector) && vector < 22 {
            XCTAssertNotEqual("\(PanicReport.exceptionName(vector))", "reserved exception", "vector \(vector)")
        }
        XCTAssertEqual("\(PanicReport.exceptionName(31))", "reserved exception")
    }

    func testHexAndDecimalOutput() {
        var sink = TextSink()
        sink.writeHex(0)
        sink.write(" ")
        sink.writeHex(0xABC, digits: 1)
        sink.write(" ")
        sink.writeHex(UInt64.max, digits: 4)
        sink.write(" ")
        sink.writeDecimal(-1234)
        sink.write(" ")
        sink.writeDecimal(UInt.max)
        sink.write(" ")
        sink.writeDecimal(0)
        XCTAssertEqual(sink.text, "0x0000000000000000 0xabc 0xffffffffffffffff -1234 18446744073709551615 0")
    }

    /// A fake stack: frames at increasing addresses, each [saved rbp, return address].
    func testFrameWalkerFollowsTheChainAndStopsAtZero() {
        var stack = [UInt64](repeating: 0, count: 16)
        stack.withUnsafeMutableBufferPointer { memory in
            let base = UInt64(UInt(bitPattern: memory.baseAddress!))
            memory[0] = base + 32; memory[1] = 0xA1     // frame 0 -> frame at +32
            memory[4] = base + 64; memory[5] = 0xA2     // frame 1 -> frame at +64
            memory[8] = 0; memory[9] = 0xA3             // outermost: saved rbp 0
            var out = [UInt64](repeating: 0, count: 8)
            let count = out.withUnsafeMutableBufferPointer { buffer in
                FrameWalker.walk(rip: 0x99, rbp: base, into: buffer) { $0 >= base && $0 + 16 <= base + 128 }
            }
            XCTAssertEqual(Array(out[0..<count]), [0x99, 0xA1, 0xA2, 0xA3])
        }
    }

    func testFrameWalkerRefusesUnreadableLoopingAndMisalignedFrames() {
        var stack = [UInt64](repeating: 0, count: 8)
        stack.withUnsafeMutableBufferPointer { memory in
            let base = UInt64(UInt(bitPattern: memory.baseAddress!))
            memory[0] = base; memory[1] = 0xB1          // points at itself: must stop
            var out = [UInt64](repeating: 0, count: 8)
            var count = out.withUnsafeMutableBufferPointer { buffer in
                FrameWalker.walk(rip: 0, rbp: base, into: buffer) { _ in true }
            }
            XCTAssertEqual(Array(out[0..<count]), [0xB1])
            count = out.withUnsafeMutableBufferPointer { buffer in
                FrameWalker.walk(rip: 0, rbp: base + 3, into: buffer) { _ in true }
            }
            XCTAssertEqual(count, 0, "misaligned frame pointer")
            count = out.withUnsafeMutableBufferPointer { buffer in
                FrameWalker.walk(rip: 0x1, rbp: base, into: buffer) { _ in false }
            }
            XCTAssertEqual(Array(out[0..<count]), [0x1], "unreadable frame is not read")
        }
    }

    func testFrameWalkerStopsWhenTheBufferIsFull() {
        var stack = [UInt64](repeating: 0, count: 64)
        stack.withUnsafeMutableBufferPointer { memory in
            let base = UInt64(UInt(bitPattern: memory.baseAddress!))
            for i in stride(from: 0, to: 62, by: 2) { memory[i] = base + UInt64(i + 2) * 8; memory[i + 1] = UInt64(i + 1) }
            var out = [UInt64](repeating: 0, count: 4)
            let count = out.withUnsafeMutableBufferPointer { buffer in
                FrameWalker.walk(rip: 0, rbp: base, into: buffer) { $0 >= base && $0 + 16 <= base + 512 }
            }
            XCTAssertEqual(count, 4)
        }
    }
}
