// The runner's exit-status decoding, QEMU command lines and PVH image copies.

import Foundation
import XCTest
@testable import Runner

final class RunnerTests: XCTestCase {
    func testDecodingTheDebugExitMapping() {
        XCTAssertEqual(GuestExit.decode(qemuStatus: 3, timedOut: false), .exited(0))
        XCTAssertEqual(GuestExit.decode(qemuStatus: 5, timedOut: false), .exited(1))
        XCTAssertEqual(GuestExit.decode(qemuStatus: 251, timedOut: false), .exited(124))
        XCTAssertEqual(GuestExit.decode(qemuStatus: 253, timedOut: false), .statusOutOfRange)
        XCTAssertEqual(GuestExit.decode(qemuStatus: 255, timedOut: false), .panicked)
    }

    func testQEMUsOwnStatusesAreNeverGuestStatuses() {
        XCTAssertEqual(GuestExit.decode(qemuStatus: 0, timedOut: false), .noStatus, "triple fault")
        XCTAssertEqual(GuestExit.decode(qemuStatus: 1, timedOut: false), .qemuFailed(1))
        XCTAssertEqual(GuestExit.decode(qemuStatus: 2, timedOut: false), .qemuFailed(2))
        XCTAssertEqual(GuestExit.decode(qemuStatus: 3, timedOut: true), .timedOut)
    }

    func testHostStatuses() {
        XCTAssertEqual(GuestExit.exited(42).hostStatus, 42)
        XCTAssertEqual(GuestExit.panicked.hostStatus, 255)
        XCTAssertEqual(GuestExit.noStatus.hostStatus, 254)
        XCTAssertEqual(GuestExit.timedOut.hostStatus, 124)
    }

    func testCommandLineQuotesArgumentsForTheKernelSplitter() {
        var configuration = QEMUConfiguration()
        configuration.machine = .q35
        configuration.memoryMiB = 2
        configuration.arguments = ["plain", "two words", "it's", ""]
        let line = configuration.commandLine(kernel: "k.elf")
        XCTAssertEqual(line.first, "qemu-system-x86_64")
        XCTAssertEqual(line[line.firstIndex(of: "-M")! + 1], "q35")
        XCTAssertEqual(line[line.firstIndex(of: "-m")! + 1], "2")
        XCTAssertEqual(line[line.firstIndex(of: "-append")! + 1], #"plain 'two words' 'it'\''s' ''"#)
        XCTAssert(line.contains("isa-debug-exit,iobase=0xf4,iosize=0x04"))
        XCTAssertFalse(line.contains("-S"))
    }

    func testAttachedDeviceOptions() {
        let disk = AttachedDevice.parse("disk.img,ro,bus=pci-legacy", block: true)
        XCTAssertNotNil(disk)
        XCTAssertNil(AttachedDevice.parse("", block: true))
        XCTAssertNil(AttachedDevice.parse("disk.img,bus=isa", block: true))
        XCTAssertNil(AttachedDevice.parse("disk.img,mac=02:00:00:00:00:01", block: true), "mac is for nets")
        XCTAssertNil(AttachedDevice.parse("tap0,ro", block: false), "ro is for disks")

        var configuration = QEMUConfiguration()
        configuration.machine = .pc
        configuration.devices = [disk!, AttachedDevice.parse("tap0,mac=02:00:00:00:00:01", block: false)!]
        let line = configuration.commandLine(kernel: "k.elf").joined(separator: " ")
        XCTAssert(line.contains("-device virtio-blk-pci,disable-modern=on,drive=disk0"), line)
        XCTAssert(line.contains("-drive id=disk0,file=disk.img,format=raw,if=none,readonly=on"), line)
        XCTAssert(line.contains("-netdev tap,id=net1,ifname=tap0,script=no,downscript=no -device virtio-net-pci,netdev=net1,mac=02:00:00:00:00:01"), line)
        XCTAssertNil(configuration.deviceProblem)
        XCTAssertEqual(configuration.effectiveBoot, .multiboot)

        // microvm: MMIO, announced on the command line, which QEMU writes only for PVH boots.
        configuration.machine = .microvm
        XCTAssertNotNil(configuration.deviceProblem, "a PCI bus asked for on microvm")
        configuration.devices = [AttachedDevice(.block(path: "d.img", readOnly: false))]
        XCTAssertNil(configuration.deviceProblem)
        XCTAssertEqual(configuration.effectiveBoot, .pvh)
        let micro = configuration.commandLine(kernel: "k.elf").joined(separator: " ")
        XCTAssert(micro.contains("-M microvm,acpi=off"), micro)
        XCTAssert(micro.contains("-device virtio-blk-device,drive=disk0 -global virtio-mmio.force-legacy=off"), micro)
    }

    func testPVHCopyHasNoMultibootHeader() throws {
        var bytes = Data(count: 4096)
        let header: [UInt32] = [0x1BAD_B002, 0x0001_0003, 0 &- (0x1BAD_B002 &+ 0x0001_0003)]
        // A decoy magic with a wrong checksum must not be taken for the header.
        bytes.replaceSubrange(64..<68, with: withUnsafeBytes(of: UInt32(0x1BAD_B002).littleEndian, Array.init))
        for (i, word) in header.enumerated() {
            bytes.replaceSubrange(256 + i * 4..<260 + i * 4, with: withUnsafeBytes(of: word.littleEndian, Array.init))
        }
        XCTAssertEqual(QEMURunner.multibootHeaderOffset(bytes), 256)
        let path = NSTemporaryDirectory() + "runner-test-\(getpid()).elf"
        _ = FileManager.default.createFile(atPath: path, contents: bytes)
        defer { try? FileManager.default.removeItem(atPath: path) }
        XCTAssertEqual(try QEMURunner.prepare(image: path, boot: .multiboot), path)
        let copy = try QEMURunner.prepare(image: path, boot: .pvh)
        defer { try? FileManager.default.removeItem(atPath: copy) }
        let patched = try XCTUnwrap(FileManager.default.contents(atPath: copy))
        XCTAssertNil(QEMURunner.multibootHeaderOffset(patched))
        XCTAssertEqual(patched.count, bytes.count)
    }

    func testPVHNeedsAMultibootImage() {
        let path = NSTemporaryDirectory() + "runner-test-empty-\(getpid()).elf"
        _ = FileManager.default.createFile(atPath: path, contents: Data(count: 100))
        defer { try? FileManager.default.removeItem(atPath: path) }
        XCTAssertThrowsError(try QEMURunner.prepare(image: path, boot: .pvh))
        XCTAssertThrowsError(try QEMURunner.prepare(image: "/nonexistent/image.elf", boot: .pvh))
    }
}
