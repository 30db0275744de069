// Boot tests: the real pc images under QEMU TCG on microvm, pc and q35, through
// Multiboot and PVH, asserting on serial output and the decoded exit status.
// `make test` builds the images first (SWIFTLET_IMAGES points at build/).

import Foundation
import XCTest
import Runner

let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent().path

func imagePath(_ name: String, platform: String = "pc") -> String {
    let build = ProcessInfo.processInfo.environment["SWIFTLET_IMAGES"] ?? repositoryRoot + "/build"
    return "\(build)/\(platform)/\(name).elf"
}

/// Boots an image; fails the test (rather than skipping) when the image is missing.
func boot(_ app: String, _ arguments: [String] = [], machine: Machine = .microvm,
          protocol boot: BootProtocol = .multiboot, memoryMiB: Int = 32, devices: [AttachedDevice] = [],
          file: StaticString = #filePath, line: UInt = #line) throws -> RunResult {
    let image = imagePath(app)
    guard FileManager.default.fileExists(atPath: image) else {
        XCTFail("\(image) is missing: run `make test` (it builds the images)", file: file, line: line)
        throw XCTSkip("no image")
    }
    var configuration = QEMUConfiguration()
    configuration.machine = machine
    configuration.boot = boot
    configuration.memoryMiB = memoryMiB
    configuration.arguments = arguments
    configuration.devices = devices
    configuration.timeoutSeconds = 60
    return try QEMURunner.run(image: image, configuration: configuration)
}

final class HelloBootTests: XCTestCase {
    func testHelloOnEveryMachineThroughMultibootAndPVH() throws {
        for machine in Machine.allCases {
            for protocolKind in BootProtocol.allCases {
                let context = "\(machine) \(protocolKind)"
                let result = try boot("hello", ["alpha", "two words", "x='y'"], machine: machine, protocol: protocolKind)
                XCTAssertEqual(result.exit, .exited(0), "\(context): \(result.output)")
                let lines = result.output.split(separator: "\n").map(String.init)
                XCTAssert(lines.contains("Hello from Swiftlet!"), "\(context): \(result.output)")
                XCTAssert(lines.contains("arguments: 3"), "\(context): \(result.output)")
                XCTAssert(lines.contains("  [0] alpha"), "\(context)")
                XCTAssert(lines.contains("  [1] two words"), "\(context)")
                XCTAssert(lines.contains("  [2] x='y'"), "\(context)")
                // 32 MiB guest: the memory map's usable RAM is a little under 32 MiB.
                let ram = try XCTUnwrap(memoryKiB(result.output), context)
                XCTAssert(ram > 30 * 1024 && ram <= 32 * 1024, "\(context): \(ram) KiB")
            }
        }
    }

    func testHelloWithoutArguments() throws {
        let result = try boot("hello")
        XCTAssertEqual(result.exit, .exited(0), result.output)
        XCTAssert(result.output.contains("arguments: 0\n"), result.output)
    }

    func testHelloBootsInTwoMiB() throws {
        for protocolKind in BootProtocol.allCases {
            let result = try boot("hello", ["small"], protocol: protocolKind, memoryMiB: 2)
            XCTAssertEqual(result.exit, .exited(0), "\(protocolKind): \(result.output)")
            XCTAssert(result.output.contains("[0] small"), result.output)
        }
    }

    func testMemoryMapFeedsTheHeap() throws {
        let result = try boot("hello", memoryMiB: 256)
        XCTAssertEqual(result.exit, .exited(0), result.output)
        let ram = try XCTUnwrap(memoryKiB(result.output))
        XCTAssert(ram > 250 * 1024 && ram <= 256 * 1024, "\(ram) KiB")
        // The heap starts small and holds the rest in reserve: together, nearly all RAM.
        let heap = try XCTUnwrap(number(after: "heap ", in: result.output))
        let reserve = try XCTUnwrap(number(after: "KiB + ", in: result.output))
        XCTAssert(heap < 4 * 1024, "heap starts with \(heap) KiB")
        XCTAssert(heap + reserve > 240 * 1024 && heap + reserve < ram, "heap \(heap) + \(reserve) KiB of \(ram) KiB")
    }

    func memoryKiB(_ output: String) -> Int? { number(after: "memory: ", in: output) }
}

func number(after prefix: String, in output: String) -> Int? {
    guard let range = output.range(of: prefix) else { return nil }
    return Int(output[range.upperBound...].prefix { $0.isNumber })
}

final class RuntimeBootTests: XCTestCase {
    /// Classes, closures, collections, String, random and libm inside the image.
    func testSwiftRuntimeSupportInTheImage() throws {
        for machine in [Machine.microvm, .q35] {
            let result = try boot("swiftcheck", machine: machine)
            XCTAssertEqual(result.exit, .exited(0), result.output)
            for check in ["classes", "deinit", "closures", "existentials", "array", "dictionary", "set", "string",
                          "string interpolation", "random", "libm", "optionals", "large allocation", "heap statistics"] {
                XCTAssert(result.output.contains("ok \(check)\n"), "\(machine) \(check): \(result.output)")
            }
            XCTAssert(result.output.contains("swiftcheck: 0 failures"), result.output)
            // The 8 MiB block came from memory the heap took on from its reserve.
            let heap = try XCTUnwrap(number(after: "heap: ", in: result.output), result.output)
            XCTAssert(heap > 8 * 1024, "heap grew to \(heap) KiB")
        }
    }
}

final class ExitStatusBootTests: XCTestCase {
    func testApplicationStatusReachesTheHostExactly() throws {
        for status in [0, 1, 7, 42, 124] {
            let result = try boot("fault", ["exit", "\(status)"])
            XCTAssertEqual(result.exit, .exited(Int32(status)), result.output)
        }
    }

    func testStatusOutOfRangeIsReportedAsSuch() throws {
        let result = try boot("fault", ["exit", "200"])
        XCTAssertEqual(result.exit, .statusOutOfRange, result.output)
    }

    func testUnknownFaultArgumentIsAUsageError() throws {
        let result = try boot("fault", ["no-such-fault"])
        XCTAssertEqual(result.exit, .exited(2), result.output)
        XCTAssert(result.output.contains("unknown fault no-such-fault"), result.output)
    }
}

final class FaultBootTests: XCTestCase {
    /// Boots `fault <which>` and checks it panicked with a full report.
    func panic(_ which: String, machine: Machine = .microvm, protocol kind: BootProtocol = .multiboot,
               file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let result = try boot("fault", [which], machine: machine, protocol: kind)
        XCTAssertEqual(result.exit, .panicked, result.output, file: file, line: line)
        for part in ["fault: triggering \(which)", "*** PANIC: ", "    rip 0x", "    rax 0x", "r15 0x",
                     "    backtrace: 0x", "*** exit status 255"] {
            XCTAssert(result.output.contains(part), "missing \(part): \(result.output)", file: file, line: line)
        }
        XCTAssertFalse(result.output.contains("survived"), result.output, file: file, line: line)
        return result.output
    }

    func testPageFault() throws {
        let output = try panic("page-fault")
        XCTAssert(output.contains("page fault (#PF) (vector 14), error 0x2 (write, page not present, kernel)"), output)
        XCTAssert(output.contains("address (cr2): 0x0000004000000008\n"), output)
    }

    func testNullDereferenceFaultsOnPageZero() throws {
        let output = try panic("null", machine: .pc, protocol: .pvh)
        XCTAssert(output.contains("address (cr2): 0x0000000000000008\n"), output)
    }

    func testCodeIsReadOnly() throws {
        let output = try panic("write-code")
        XCTAssert(output.contains("page fault (#PF) (vector 14), error 0x3 (write, protection violation, kernel)"), output)
    }

    func testDivideError() throws {
        let output = try panic("divide", machine: .q35)
        XCTAssert(output.contains("*** PANIC: divide error (#DE) (vector 0)\n"), output)
    }

    func testSwiftOverflowTrap() throws {
        let output = try panic("overflow")
        XCTAssert(output.contains("*** PANIC: Swift runtime trap"), output)
    }

    func testSwiftBoundsAndNilUnwrapTraps() throws {
        XCTAssert(try panic("bounds", protocol: .pvh).contains("Swift runtime trap"))
        XCTAssert(try panic("unwrap").contains("Swift runtime trap"))
    }

    func testStackOverflowHitsTheGuardPage() throws {
        let output = try panic("stack-overflow")
        XCTAssert(output.contains("page fault (#PF) (vector 14)"), output)
        XCTAssert(output.contains("<- stack guard page: stack overflow"), output)
    }

    func testDoubleFreeIsDetected() throws {
        let output = try panic("double-free")
        XCTAssert(output.contains("heap: double free of 0x"), output)
        XCTAssert(output.contains("*** PANIC: kernel: heap misuse"), output)
    }
}
