// virtio on pc under QEMU TCG with real devices: virtio-blk over legacy,
// modern and transitional PCI (pc, q35) and over MMIO versions 1 and 2
// (microvm), checked by blktest in the guest and by the host reading the
// disk image; virtio-net reflecting frames sent from a tap inside a network
// namespace the test creates.

import Foundation
import Runner
import XCTest

let transports: [(Machine, VirtioBus)] = [(.pc, .pciLegacy), (.pc, .pciModern), (.q35, .pci), (.microvm, .mmio),
                                          (.microvm, .mmioLegacy)]

final class VirtioBlockBootTests: XCTestCase {
    func testPatternWrittenAndReadBackOnEveryTransport() throws {
        for (machine, bus) in transports {
            let context = "\(machine) \(bus)"
            let path = try disk(bytes: 64 << 10)
            let result = try boot("blktest", machine: machine, devices: [AttachedDevice(.block(path: path, readOnly: false), bus: bus)])
            try checkBlockTest((result.exit.hostStatus, result.output), disk: "virtio-blk0", sectors: 128, sectorSize: 512,
                               image: path, context)
        }
    }

    func testReadOnlyDiskRefusesWritesAndStaysUntouched() throws {
        let path = try disk(bytes: 16 << 10)
        let result = try boot("blktest", machine: .pc, devices: [AttachedDevice(.block(path: path, readOnly: true))])
        XCTAssertEqual(result.exit, .exited(1), result.output)
        XCTAssert(result.output.contains("blktest: I/O failed"), result.output)
        XCTAssertEqual(FileManager.default.contents(atPath: path), Data(count: 16 << 10), "a read-only disk was written")
    }

    func testNoDeviceAndTwoDevices() throws {
        XCTAssertEqual(try boot("blktest", machine: .pc).exit, .exited(3), "no disk: status 3")
        let first = try disk(bytes: 8 << 10), second = try disk(bytes: 8 << 10)
        let result = try boot("blktest", machine: .q35, devices: [AttachedDevice(.block(path: first, readOnly: false)),
                                                                   AttachedDevice(.block(path: second, readOnly: false))])
        XCTAssertEqual(result.exit, .exited(0), result.output)
        try checkPattern(first)  // blktest writes the first disk only
        XCTAssertEqual(FileManager.default.contents(atPath: second), Data(count: 8 << 10))
    }
}

final class VirtioNetBootTests: XCTestCase {
    func testFramesAreReflectedOnPCIAndMMIO() throws {
        let runner = repositoryRoot + "/.build/debug/swiftlet"
        guard FileManager.default.isExecutableFile(atPath: runner) else { return XCTFail("\(runner) is missing: run `make test`") }
        for (machine, bus) in [(Machine.pc, VirtioBus.pciLegacy), (.q35, .pciModern), (.microvm, .mmio)] {
            let context = "\(machine) \(bus)"
            let namespace = try makeNamespace("swiftlet-pc-\(machine)")
            try addTap(in: namespace)
            let sender = try writeFrameSender()
            final class Outcome: @unchecked Sendable { var result: (status: Int32, output: String)? }
            let guest = Outcome()
            let done = DispatchSemaphore(value: 0)
            DispatchQueue.global().async {
                guest.result = try? runProgram(["ip", "netns", "exec", namespace, runner, "run", "--machine", machine.rawValue,
                                                "--timeout", "60", "--net", "tap0,bus=\(bus.rawValue)",
                                                imagePath("netecho")], timeout: 70)
                done.signal()
            }
            let sent = try runProgram(["ip", "netns", "exec", namespace, "python3", sender, "tap0", "50"], timeout: 60)
            XCTAssertEqual(sent.status, 0, "\(context): \(sent.output)")
            XCTAssert(sent.output.contains("reflected 51"), "\(context): \(sent.output)")
            XCTAssertEqual(done.wait(timeout: .now() + 80), .success, context)
            XCTAssertEqual(guest.result?.status, 0, "\(context): \(guest.result?.output ?? "no result")")
            XCTAssert(guest.result?.output.contains("netecho: virtio-net0 mtu ") == true, "\(context): \(guest.result?.output ?? "")")
            _ = try? runProgram(["ip", "netns", "del", namespace])
        }
    }
}
