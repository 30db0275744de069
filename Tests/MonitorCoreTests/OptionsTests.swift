// Tests for MonitorOptions.parse (the swiftlet-hvt command line) and checkDevices.

import HvtABI
import XCTest
@testable import MonitorCore

final class OptionsTests: XCTestCase {
    private func parse(_ arguments: [String], file: StaticString = #filePath, line: UInt = #line) -> MonitorOptions? {
        do {
            return try MonitorOptions.parse(arguments)
        } catch {
            XCTFail("rejected \(arguments): \(error)", file: file, line: line)
            return nil
        }
    }

    private func assertRejects(_ arguments: [String], _ expected: OptionsError,
                               file: StaticString = #filePath, line: UInt = #line) {
        do {
            let options = try MonitorOptions.parse(arguments)
            XCTFail("accepted \(arguments): \(options)", file: file, line: line)
        } catch {
            XCTAssertEqual(error, expected, file: file, line: line)
            XCTAssertFalse(error.description.contains("\n"), file: file, line: line)
        }
    }

    // MARK: forms

    func testKernelAlone() throws {
        let o = try XCTUnwrap(parse(["hello.hvt"]))
        XCTAssertEqual(o.action, .run)
        XCTAssertEqual(o.kernel, "hello.hvt")
        XCTAssertEqual(o.memoryMiB, HvtABI.memoryDefaultMiB)
        XCTAssertEqual(o.memoryBytes, 512 << 20)
        XCTAssertEqual(o.blocks, [])
        XCTAssertEqual(o.nets, [])
        XCTAssertEqual(o.arguments, [])
        XCTAssertEqual(o.commandLine, "")
    }

    func testEveryOption() throws {
        let o = try XCTUnwrap(parse([
            "--mem=64", "--block:storage=/tmp/disk.img", "--block-sector-size:storage=4096",
            "--net:service0=tap0", "--net-mac:service0=02:00:0a:0B:fe:01", "--block:logs=/var/log=x.img",
            "--net:admin=@3", "kernel.hvt", "a", "b c", "--mem=3",
        ]))
        XCTAssertEqual(o.memoryMiB, 64)
        XCTAssertEqual(o.memoryBytes, 64 << 20)
        XCTAssertEqual(o.blocks, [
            .init(name: "storage", path: "/tmp/disk.img", sectorSize: 4096),
            .init(name: "logs", path: "/var/log=x.img", sectorSize: 512),
        ])
        XCTAssertEqual(o.nets, [
            .init(name: "service0", tap: "tap0", mac: [0x02, 0x00, 0x0A, 0x0B, 0xFE, 0x01]),
            .init(name: "admin", tap: "@3", mac: nil),
        ])
        XCTAssertEqual(o.block(named: "logs")?.path, "/var/log=x.img")
        XCTAssertEqual(o.net(named: "admin")?.fileDescriptor, 3)
        XCTAssertNil(o.net(named: "service0")?.fileDescriptor)
        XCTAssertNil(o.block(named: "service0"))
        XCTAssertEqual(o.kernel, "kernel.hvt")
        XCTAssertEqual(o.arguments, ["a", "b c", "--mem=3"])
        XCTAssertEqual(o.commandLine, "a b c --mem=3")
    }

    func testOptionOrderDoesNotMatter() throws {
        let o = try XCTUnwrap(parse(["--net-mac:n=2:0:0:0:0:1", "--block-sector-size:b=1024", "--block:b=disk",
                                     "--net:n=tap1", "k"]))
        XCTAssertEqual(o.blocks, [.init(name: "b", path: "disk", sectorSize: 1024)])
        XCTAssertEqual(o.nets, [.init(name: "n", tap: "tap1", mac: [2, 0, 0, 0, 0, 1])])
    }

    func testDoubleDashEndsOptions() throws {
        let o = try XCTUnwrap(parse(["--mem=8", "--", "-odd-name.hvt", "--", "--help"]))
        XCTAssertEqual(o.kernel, "-odd-name.hvt")
        XCTAssertEqual(o.arguments, ["--", "--help"])
        XCTAssertEqual(o.memoryMiB, 8)
        XCTAssertEqual(try XCTUnwrap(parse(["--", "--help"])).kernel, "--help")
    }

    func testOptionsAfterKernelBelongToTheGuest() throws {
        let o = try XCTUnwrap(parse(["k", "--bogus", "--block:x=y", "--help"]))
        XCTAssertEqual(o.action, .run)
        XCTAssertEqual(o.blocks, [])
        XCTAssertEqual(o.arguments, ["--bogus", "--block:x=y", "--help"])
    }

    func testHelpAndVersionWinBeforeKernel() throws {
        XCTAssertEqual(try MonitorOptions.parse(["--help"]).action, .help)
        XCTAssertEqual(try MonitorOptions.parse(["--version"]).action, .version)
        XCTAssertEqual(try MonitorOptions.parse(["--bogus", "--mem=x", "--help", "k"]).action, .help)
        XCTAssertEqual(try MonitorOptions.parse(["--version", "--help"]).action, .version)
        XCTAssertEqual(try MonitorOptions.parse(["--help", "--version"]).action, .help)
    }

    func testUsageMentionsEveryOption() {
        for option in ["--mem=MiB", "--block:NAME=PATH", "--block-sector-size:NAME=N", "--net:NAME=TAP",
                       "--net-mac:NAME=MAC", "--help", "--version", "KERNEL"] {
            XCTAssertTrue(MonitorOptions.usage.contains(option), option)
        }
        XCTAssertTrue(MonitorOptions.usage.hasSuffix("\n"))
    }

    // MARK: memory

    func testMemoryIsRoundedDownToTwoMiB() throws {
        for (given, expected) in [(2, 2), (3, 2), (5, 4), (513, 512), (4096, 4096), (4097, 4096)] {
            let o = try XCTUnwrap(parse(["--mem=\(given)", "k"]))
            XCTAssertEqual(o.memoryMiB, expected, "\(given)")
            XCTAssertEqual(o.requestedMemoryMiB, given)
            XCTAssertEqual(o.memoryBytes, UInt64(expected) << 20)
        }
    }

    func testMemoryLimits() {
        assertRejects(["--mem=0", "k"], .memoryTooSmall(option: "--mem=0"))
        assertRejects(["--mem=1", "k"], .memoryTooSmall(option: "--mem=1"))
        assertRejects(["--mem=4098", "k"], .memoryTooLarge(option: "--mem=4098"))
        assertRejects(["--mem=99999999999999999999999", "k"], .memoryTooLarge(option: "--mem=99999999999999999999999"))
        assertRejects(["--mem=18446744073709551615", "k"], .memoryTooLarge(option: "--mem=18446744073709551615"))
        XCTAssertEqual(OptionsError.memoryTooLarge(option: "--mem=5000").description,
                       "--mem=5000: guest memory must be at most 4096 MiB")
    }

    func testMalformedMemory() {
        for value in ["", "abc", "-5", "+5", "5M", " 5", "5 ", "0x10", "1e3", "5.5", "٥"] {
            assertRejects(["--mem=\(value)", "k"], .badMemory("--mem=\(value)"))
        }
        assertRejects(["--mem", "64", "k"], .unknownOption("--mem"))
        assertRejects(["--mem=64", "--mem=128", "k"], .duplicateOption("--mem"))
    }

    // MARK: block devices

    func testSectorSizes() throws {
        for size in [512, 1024, 2048, 4096, 8192, 16384, 32768] {
            let o = try XCTUnwrap(parse(["--block:d=f", "--block-sector-size:d=\(size)", "k"]))
            XCTAssertEqual(o.blocks.first?.sectorSize, size)
        }
        for value in ["0", "1", "256", "511", "1000", "65536", "131072", "", "x", "-512", "0512x", "99999999999999999999"] {
            let option = "--block-sector-size:d=\(value)"
            assertRejects(["--block:d=f", option, "k"], .badSectorSize(option: option))
        }
    }

    func testSectorSizeNeedsItsDevice() {
        assertRejects(["--block-sector-size:d=4096", "k"], .sectorSizeWithoutDevice(name: "d"))
        assertRejects(["--net:d=tap0", "--block-sector-size:d=4096", "k"], .sectorSizeWithoutDevice(name: "d"))
        assertRejects(["--block:d=f", "--block-sector-size:d=4096", "--block-sector-size:d=512", "k"],
                      .duplicateOption("--block-sector-size:d"))
    }

    func testMalformedBlockOptions() {
        assertRejects(["--block:storage", "k"], .malformed(option: "--block:storage", expected: "--block:NAME=PATH"))
        assertRejects(["--block:storage=", "k"], .malformed(option: "--block:storage=", expected: "--block:NAME=PATH"))
        assertRejects(["--block:=disk", "k"], .badDeviceName(option: "--block:=disk"))
        assertRejects(["--block:a b=disk", "k"], .badDeviceName(option: "--block:a b=disk"))
        assertRejects(["--block:a:b=disk", "k"], .badDeviceName(option: "--block:a:b=disk"))
        let long = String(repeating: "n", count: 68)
        assertRejects(["--block:\(long)=disk", "k"], .badDeviceName(option: "--block:\(long)=disk"))
        XCTAssertNotNil(parse(["--block:\(String(repeating: "n", count: 67))=disk", "k"]))
        assertRejects(["--block-sector-size:d", "k"],
                      .malformed(option: "--block-sector-size:d", expected: "--block-sector-size:NAME=N"))
    }

    // MARK: net devices

    func testMACs() throws {
        let o = try XCTUnwrap(parse(["--net:n=tap0", "--net-mac:n=FF:ee:0:1:a:B0", "k"]))
        XCTAssertEqual(o.nets.first?.mac, [0xFF, 0xEE, 0x00, 0x01, 0x0A, 0xB0])
        for value in ["", "02:00:00:00:00", "02:00:00:00:00:01:02", "0g:00:00:00:00:01", "002:00:00:00:00:01",
                      "02-00-00-00-00-01", "02:00:00:00:00:", ":02:00:00:00:00", "02::00:00:00:01", "020000000001",
                      "02:00:00:00:00:01 "] {
            let option = "--net-mac:n=\(value)"
            assertRejects(["--net:n=tap0", option, "k"], .badMAC(option: option))
        }
    }

    func testMACNeedsItsDevice() {
        assertRejects(["--net-mac:n=02:00:00:00:00:01", "k"], .macWithoutDevice(name: "n"))
        assertRejects(["--net:n=tap0", "--net-mac:n=02:00:00:00:00:01", "--net-mac:n=02:00:00:00:00:02", "k"],
                      .duplicateOption("--net-mac:n"))
        assertRejects(["--net-mac:n", "k"], .malformed(option: "--net-mac:n", expected: "--net-mac:NAME=MAC"))
    }

    func testTaps() throws {
        XCTAssertEqual(try XCTUnwrap(parse(["--net:n=@0", "k"])).nets.first?.fileDescriptor, 0)
        XCTAssertEqual(try XCTUnwrap(parse(["--net:n=@2147483647", "k"])).nets.first?.fileDescriptor, Int32.max)
        XCTAssertNotNil(parse(["--net:n=\(String(repeating: "t", count: 15))", "k"]))
        for value in ["", "@", "@x", "@-1", "@2147483648", "@3x", String(repeating: "t", count: 16), "tap/0", "tap 0"] {
            let option = "--net:n=\(value)"
            assertRejects([option, "k"], .badTap(option: option))
        }
        assertRejects(["--net:n", "k"], .malformed(option: "--net:n", expected: "--net:NAME=TAP"))
    }

    // MARK: other errors

    func testDuplicateDeviceNames() {
        assertRejects(["--block:x=a", "--block:x=b", "k"], .duplicateDevice(name: "x"))
        assertRejects(["--block:x=a", "--net:x=tap0", "k"], .duplicateDevice(name: "x"))
        assertRejects(["--net:x=tap0", "--net:x=tap1", "k"], .duplicateDevice(name: "x"))
        XCTAssertEqual(OptionsError.duplicateDevice(name: "x").description, "device 'x' attached more than once")
    }

    func testUnknownOptions() {
        for option in ["--foo", "-m", "-", "--block=x", "--net", "--mem:64", "--Help", "--blocks:x=y"] {
            assertRejects([option, "k"], .unknownOption(option))
        }
        XCTAssertEqual(OptionsError.unknownOption("--foo").description, "unknown option '--foo' (see --help)")
    }

    func testMissingKernel() {
        assertRejects([], .missingKernel)
        assertRejects(["--mem=64"], .missingKernel)
        assertRejects(["--"], .missingKernel)
        assertRejects([""], .missingKernel)
        assertRejects(["--block:x=y", "--"], .missingKernel)
    }

    // MARK: guest command line

    func testCommandLineJoining() throws {
        XCTAssertEqual(try XCTUnwrap(parse(["k", "one"])).commandLine, "one")
        XCTAssertEqual(try XCTUnwrap(parse(["k", "a", "", "b"])).commandLine, "a  b")
        XCTAssertEqual(try XCTUnwrap(parse(["k", "x=1", "caf\u{E9}"])).commandLine, "x=1 caf\u{E9}")
    }

    func testCommandLineLengthLimit() throws {
        let max = HvtABI.commandLineMax  // 8191
        XCTAssertEqual(try XCTUnwrap(parse(["k", String(repeating: "a", count: max)])).commandLine.utf8.count, max)
        XCTAssertNotNil(parse(["k", String(repeating: "a", count: max - 2), "b"]))  // 8189 + 1 + 1
        assertRejects(["k", String(repeating: "a", count: max + 1)], .commandLineTooLong(length: max + 1))
        assertRejects(["k", String(repeating: "a", count: max - 1), "b"], .commandLineTooLong(length: max + 1))
        // Bytes, not characters: 4096 two-byte characters are 8192 bytes.
        assertRejects(["k", String(repeating: "\u{E9}", count: 4096)], .commandLineTooLong(length: 8192))
        XCTAssertEqual(OptionsError.commandLineTooLong(length: 8192).description,
                       "guest command line is 8192 bytes, at most 8191 are allowed")
    }

    func testNulInGuestArgument() {
        assertRejects(["k", "a\u{0}b"], .nulInArgument)
    }

    func testDescriptionsAreSingleLines() {
        let errors: [OptionsError] = [
            .unknownOption("--x"), .missingKernel, .duplicateOption("--mem"), .badMemory("--mem=x"),
            .memoryTooSmall(option: "--mem=1"), .memoryTooLarge(option: "--mem=9999"),
            .malformed(option: "--block:x", expected: "--block:NAME=PATH"), .badDeviceName(option: "--block:=x"),
            .duplicateDevice(name: "x"), .badSectorSize(option: "--block-sector-size:x=1"),
            .sectorSizeWithoutDevice(name: "x"), .badMAC(option: "--net-mac:x=1"), .macWithoutDevice(name: "x"),
            .badTap(option: "--net:x="), .nulInArgument, .commandLineTooLong(length: 9000),
        ]
        for error in errors {
            XCTAssertFalse(error.description.isEmpty)
            XCTAssertFalse(error.description.contains("\n"), error.description)
        }
    }

    // MARK: checkDevices

    private func manifest(_ entries: [ManifestBuilder.Entry]) throws -> Manifest {
        try Manifest.parse(noteDescriptor: ManifestBuilder(entries).descriptor())
    }

    func testAllDevicesAttached() throws {
        let m = try manifest([.block("storage"), .net("service0")])
        let o = try XCTUnwrap(parse(["--net:service0=tap0", "--block:storage=disk.img", "k"]))
        XCTAssertNoThrow(try o.checkDevices(against: m))
        XCTAssertNoThrow(try XCTUnwrap(parse(["k"])).checkDevices(against: try manifest([])))
    }

    func testDeclaredDeviceNotAttached() throws {
        let m = try manifest([.block("storage"), .net("service0")])
        let noBlock = try XCTUnwrap(parse(["--net:service0=tap0", "k"]))
        XCTAssertThrowsError(try noBlock.checkDevices(against: m)) { error in
            XCTAssertEqual(error as? DeviceError, .notAttached(name: "storage", kind: .block))
            XCTAssertEqual("\(error)", "device 'storage' declared in the manifest is not attached (--block:storage=PATH)")
        }
        let noNet = try XCTUnwrap(parse(["--block:storage=disk.img", "k"]))
        XCTAssertThrowsError(try noNet.checkDevices(against: m)) { error in
            XCTAssertEqual(error as? DeviceError, .notAttached(name: "service0", kind: .net))
            XCTAssertEqual("\(error)", "device 'service0' declared in the manifest is not attached (--net:service0=TAP)")
        }
    }

    func testAttachedDeviceNotDeclared() throws {
        let m = try manifest([.block("storage")])
        let extra = try XCTUnwrap(parse(["--block:storage=disk.img", "--net:foo=tap0", "k"]))
        XCTAssertThrowsError(try extra.checkDevices(against: m)) { error in
            XCTAssertEqual(error as? DeviceError, .notDeclared(name: "foo", kind: .net, declaredAs: nil))
            XCTAssertEqual("\(error)", "--net:foo: the image declares no net device 'foo'")
        }
        let extraBlock = try XCTUnwrap(parse(["--block:storage=disk.img", "--block:more=x", "k"]))
        XCTAssertThrowsError(try extraBlock.checkDevices(against: m)) { error in
            XCTAssertEqual("\(error)", "--block:more: the image declares no block device 'more'")
        }
    }

    func testAttachedWithTheWrongKind() throws {
        let m = try manifest([.block("storage"), .net("service0")])
        let o = try XCTUnwrap(parse(["--block:storage=disk.img", "--block:service0=x", "k"]))
        XCTAssertThrowsError(try o.checkDevices(against: m)) { error in
            XCTAssertEqual(error as? DeviceError, .notDeclared(name: "service0", kind: .block, declaredAs: .net))
            XCTAssertEqual("\(error)",
                           "--block:service0: the image declares no block device 'service0' ('service0' is a net device)")
        }
    }

    func testUndeclaredAttachmentIsReportedBeforeMissingOnes() throws {
        let m = try manifest([.block("storage")])
        let o = try XCTUnwrap(parse(["--net:foo=tap0", "k"]))
        XCTAssertThrowsError(try o.checkDevices(against: m)) { error in
            XCTAssertEqual(error as? DeviceError, .notDeclared(name: "foo", kind: .net, declaredAs: nil))
        }
    }
}
