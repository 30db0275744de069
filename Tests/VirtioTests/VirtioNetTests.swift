// VirtioNet against SimulatedNIC: configuration (MAC, MTU, link), feature
// choice, frames received intact with the receive ring kept full, transmit
// with header, waiting for transmit slots, size limits, trusted checksums
// for NEEDS_CSUM and DATA_VALID frames, legacy header layouts, interrupt use, and
// malformed used entries on either queue, queues stalled by missed notifications.

import Foundation
import Swiftlet
import TestSupport
import XCTest
@testable import Virtio

final class VirtioNetTests: XCTestCase {
    typealias F = SimulatedNIC.Feature

    func start(_ nic: SimulatedNIC) -> (VirtioNet?, Harness<SimulatedNIC>) {
        let harness = Harness(nic)
        return (VirtioNet(transport: nic, name: deviceName, wait: harness.wait), harness)
    }

    func frame(_ length: Int, seed: UInt64) -> [UInt8] {
        var random = SplitMix64(seed: seed)
        return (0..<length).map { _ in UInt8(truncatingIfNeeded: random.next()) }
    }

    func receive(_ net: VirtioNet, capacity: Int = 9100) throws -> [UInt8]? {
        try receiveFrame(net, capacity: capacity)?.bytes
    }

    func receiveFrame(_ net: VirtioNet, capacity: Int = 9100) throws -> (bytes: [UInt8], trusted: Bool)? {
        var buffer = [UInt8](repeating: 0, count: capacity)
        guard let frame = try buffer.withUnsafeMutableBytes({ try net.receive(into: $0) }) else { return nil }
        return (Array(buffer[0..<frame.length]), frame.checksumTrusted)
    }

    func send(_ net: VirtioNet, _ frame: [UInt8]) throws {
        try frame.withUnsafeBytes { try net.transmit($0) }
    }

    // MARK: configuration

    func testConfigurationAndFeatures() throws {
        let nic = SimulatedNIC(features: F.mac | F.status | F.mtu | F.checksum | F.mergeableBuffers | (1 << 17)
                                   | (1 << 7) | (1 << 11))
        let net = try XCTUnwrap(start(nic).0)
        XCTAssertEqual(net.mac, MACAddress(0x52, 0x54, 0x00, 0x12, 0x34, 0x56))
        XCTAssertEqual(net.mtu, 1500)
        XCTAssertEqual(net.event, nic.event)
        XCTAssertTrue(net.linkUp)
        nic.config[6] = 0
        XCTAssertFalse(net.linkUp, "the link state is read when asked")
        XCTAssertEqual(nic.statusLog, [0, 1, 3, 11, 15])
        XCTAssertEqual(nic.driverFeatures, VirtioFeature.version1 | F.mac | F.status | F.mtu | F.checksum | F.hostTSO4,
                       "CSUM and HOST_TSO4 (segmentation), no MRG_RXBUF, control queue or GUEST_ECN")
        XCTAssertEqual(nic.rings[0]?.size, 256)
        XCTAssertEqual(nic.rings[1]?.size, 256)
        XCTAssertEqual(nic.receiveBuffersPosted, 256, "the receive ring is filled at start-up")
        XCTAssertEqual(nic.notifications[0], 1)
        XCTAssertEqual(nic.allViolations, [])
    }

    func testJumboMTU() throws {
        let nic = SimulatedNIC(mtu: 9000)
        let net = try XCTUnwrap(start(nic).0)
        XCTAssertEqual(net.mtu, 9000)
        XCTAssertGreaterThan(nic.receiveBuffersPosted, 100)
        XCTAssertLessThanOrEqual(net.receiveBuffers.count * net.receiveBuffers.stride, VirtioNet.bufferBudget)
        let big = frame(9014, seed: 1)
        try send(net, big)
        XCTAssertEqual(nic.transmitted.last, big)
        nic.deliver(big)
        XCTAssertEqual(try receive(net), big)
        XCTAssertThrowsError(try send(net, frame(9015, seed: 2))) { XCTAssertEqual($0 as? DeviceError, .invalidRequest) }
        XCTAssertEqual(nic.allViolations, [])
    }

    func testTooSmallMTUIsDeclined() throws {
        let nic = SimulatedNIC(mtu: 60)
        let net = try XCTUnwrap(start(nic).0)
        XCTAssertEqual(net.mtu, 1500)
        XCTAssertEqual(nic.driverFeatures & F.mtu, 0)
        XCTAssertEqual(nic.allViolations, [])
    }

    func testWithoutMACOrStatus() throws {
        let nic = SimulatedNIC(features: 0, linkUp: false)
        let net = try XCTUnwrap(start(nic).0)
        XCTAssertEqual(net.mac.bytes.0 & 0x03, 0x02, "locally administered, unicast")
        XCTAssertNotEqual(net.mac, MACAddress(0x52, 0x54, 0x00, 0x12, 0x34, 0x56))
        XCTAssertTrue(net.linkUp, "without STATUS the link counts as up")
        XCTAssertEqual(net.mtu, 1500)
    }

    func testRefusals() {
        let noVersion1 = SimulatedNIC()
        noVersion1.deviceFeatures &= ~VirtioFeature.version1
        XCTAssertNil(start(noVersion1).0)
        let noTransmitQueue = SimulatedNIC()
        noTransmitQueue.queueMax = [256]
        XCTAssertNil(start(noTransmitQueue).0)
        XCTAssertTrue(noTransmitQueue.statusLog.contains { $0 & VirtioStatus.failed != 0 })
        XCTAssertEqual(noTransmitQueue.statusLog.last, 0, "reset before the queue memory went back")
        let refused = SimulatedNIC()
        refused.refuseFeaturesOK = true
        XCTAssertNil(start(refused).0)
    }

    // MARK: receive

    func testThousandsOfFramesArriveIntactAndTheRingNeverRunsDry() throws {
        let nic = SimulatedNIC()
        let net = try XCTUnwrap(start(nic).0)
        let posted = nic.receiveBuffersPosted
        var random = SplitMix64(seed: 7)
        for i in 0..<5000 {
            let sent = frame(60 + random.below(1455), seed: UInt64(i))
            nic.deliver(sent)
            XCTAssertEqual(try receive(net), sent)
            XCTAssertNil(try receive(net))
            XCTAssertEqual(nic.receiveBuffersPosted, posted)
        }
        XCTAssertEqual(nic.droppedByDevice, 0)
        XCTAssertEqual(net.droppedFrames, 0)
        XCTAssertEqual(nic.allViolations, [])
    }

    func testBurstsLargerThanTheRingAreAllDelivered() throws {
        let nic = SimulatedNIC(queueMax: 64)
        let net = try XCTUnwrap(start(nic).0)
        let frames = (0..<300).map { frame(64 + $0, seed: UInt64($0)) }
        for sent in frames { nic.deliver(sent) }
        XCTAssertEqual(nic.incoming.count, 300 - 64, "the device holds what does not fit")
        var received: [[UInt8]] = []
        while let got = try receive(net) { received.append(got) }
        XCTAssertEqual(received, frames)
        XCTAssertEqual(nic.receiveBuffersPosted, 64)
    }

    func testAFrameLargerThanTheCallersBufferIsDropped() throws {
        let nic = SimulatedNIC()
        let net = try XCTUnwrap(start(nic).0)
        nic.deliver(frame(1000, seed: 1))
        let next = frame(200, seed: 2)
        nic.deliver(next)
        XCTAssertThrowsError(try receive(net, capacity: 500)) { XCTAssertEqual($0 as? DeviceError, .invalidRequest) }
        XCTAssertEqual(try receive(net, capacity: 500), next)
        XCTAssertEqual(net.droppedFrames, 1)
        XCTAssertEqual(nic.receiveBuffersPosted, 256)
    }

    func testCompletionsShorterThanTheHeaderAreDropped() throws {
        let nic = SimulatedNIC()
        let net = try XCTUnwrap(start(nic).0)
        let chain = nic.receiveChains.removeFirst()
        nic.rings[0]?.complete(chain, length: 12)
        XCTAssertNil(try receive(net))
        XCTAssertEqual(net.droppedFrames, 1)
        XCTAssertEqual(nic.receiveBuffersPosted, 256, "the buffer went back")
    }

    func testReceiveInterruptsWithEventIndex() throws {
        let nic = SimulatedNIC(features: F.mac | VirtioFeature.ringEventIndex)
        let net = try XCTUnwrap(start(nic).0)
        XCTAssertEqual(nic.rings[0]?.eventIndex, true)
        for i in 0..<600 {
            let raised = nic.interruptsRaised
            nic.deliver(frame(100, seed: UInt64(i)))
            XCTAssertEqual(nic.interruptsRaised, raised + 1, "frame \(i) interrupts: the driver drained to nil")
            XCTAssertNotNil(try receive(net))
            XCTAssertNil(try receive(net))
        }
        XCTAssertEqual(nic.allViolations, [])
    }

    /// Frames the device left with a partial checksum (NEEDS_CSUM, as a host
    /// stack with checksum offload sends them) or checked (DATA_VALID) come
    /// up unchanged and trusted, so the stack skips its check; others do not.
    func testOffloadedChecksumsAreTrusted() throws {
        let nic = SimulatedNIC(features: F.mac | F.guestChecksum)
        let net = try XCTUnwrap(start(nic).0)
        XCTAssertNotEqual(nic.driverFeatures & F.guestChecksum, 0)
        for (seed, flags, trusted) in [(UInt64(1), UInt8(1), true), (2, 2, true), (3, 0, false)] {
            let sent = frame(100, seed: seed)
            nic.deliver(sent, offload: .init(flags: flags, start: 34, offset: 6))
            let got = try XCTUnwrap(receiveFrame(net))
            XCTAssertEqual(got.bytes, sent, "flags \(flags): the frame is not touched")
            XCTAssertEqual(got.trusted, trusted, "flags \(flags)")
        }
    }

    func testChecksumFlagsWithoutGuestChecksumAreIgnored() throws {
        let nic = SimulatedNIC(features: F.mac)
        let net = try XCTUnwrap(start(nic).0)
        nic.deliver(frame(100, seed: 1), offload: .init(flags: 1, start: 34, offset: 6))
        XCTAssertEqual(try receiveFrame(net)?.trusted, false)
    }

    // MARK: transmit

    func testTransmitSendsAZeroHeaderAndTheFrame() throws {
        let nic = SimulatedNIC()
        let net = try XCTUnwrap(start(nic).0)
        let raised = nic.interruptsRaised
        let frames = (0..<1000).map { frame(14 + $0 % 1501, seed: UInt64($0)) }
        for sent in frames { try send(net, sent) }
        XCTAssertEqual(nic.transmitted, frames)
        XCTAssertTrue(nic.transmitHeaders.allSatisfy { $0 == [UInt8](repeating: 0, count: 12) })
        XCTAssertEqual(nic.interruptsRaised, raised, "transmit completions are collected without interrupts")
        XCTAssertEqual(nic.allViolations, [])
    }

    func testTransmitWaitsForAFreeSlot() throws {
        let nic = SimulatedNIC(queueMax: 16)
        let (driver, harness) = start(nic)
        let net = try XCTUnwrap(driver)
        nic.holdTransmit = true
        let frames = (0..<40).map { frame(100, seed: UInt64($0)) }
        for sent in frames[0..<16] { try send(net, sent) }
        XCTAssertEqual(nic.waits, 0, "16 slots: no wait yet")
        XCTAssertEqual(nic.rings[1]?.availFlags, 1, "no transmit interrupts wanted")
        var flagsWhileWaiting: [UInt16] = []
        harness.beforeWait = { flagsWhileWaiting.append(nic.rings[1]?.availFlags ?? 9) }
        for sent in frames[16...] { try send(net, sent) }
        XCTAssertEqual(nic.waits, 2)
        XCTAssertEqual(flagsWhileWaiting, [0, 0], "interrupts wanted while a sender waits")
        XCTAssertEqual(nic.transmitted, frames)
        XCTAssertEqual(nic.allViolations, [])
    }

    // MARK: TCP segmentation (CSUM + HOST_TSO4)

    /// An Ethernet + IPv4 + TCP frame (32-byte TCP header) of `length` bytes.
    func tcpFrame(_ length: Int, seed: UInt64) -> [UInt8] {
        var bytes = frame(length, seed: seed)
        bytes[14] = 0x45
        bytes[14 + 20 + 12] = 8 << 4
        return bytes
    }

    func testSegmentationNeedsChecksumOffloadToo() throws {
        let nic = SimulatedNIC(features: F.mac | F.hostTSO4)
        let net = try XCTUnwrap(start(nic).0)
        XCTAssertEqual(nic.driverFeatures & (F.hostTSO4 | F.checksum), 0)
        XCTAssertEqual(net.enableOffloads(), NetworkOffloads())
        let large = tcpFrame(3000, seed: 1)
        XCTAssertThrowsError(try large.withUnsafeBytes { try net.transmit($0, segmentSize: 1448) })
        XCTAssertEqual(nic.transmitted, [])
    }

    /// Modern and legacy (10-byte header in its own descriptor) devices alike.
    func testSegmentedFramesCarryTheirHeader() throws {
        for legacy in [false, true] {
            let nic = SimulatedNIC(legacy: legacy, features: F.mac | F.checksum | F.hostTSO4)
            let net = try XCTUnwrap(start(nic).0)
            XCTAssertEqual(nic.driverFeatures & (F.hostTSO4 | F.checksum), F.hostTSO4 | F.checksum)
            XCTAssertEqual(net.enableOffloads(), NetworkOffloads(tcpSegmentation: NetworkOffloads.largestFrame))
            let large = tcpFrame(NetworkOffloads.largestFrame, seed: 2), small = frame(100, seed: 3)
            try large.withUnsafeBytes { try net.transmit($0, segmentSize: 1448) }
            try send(net, small)
            XCTAssertEqual(nic.transmitted, [large, small])
            // flags NEEDS_CSUM, gso_type TCPV4, hdr_len 66, gso_size 1448, csum_start 34, csum_offset 16
            XCTAssertEqual(nic.transmitHeaders.first.map { Array($0.prefix(10)) }, [1, 1, 66, 0, 0xA8, 0x05, 34, 0, 16, 0])
            XCTAssertEqual(nic.transmitHeaders.last, [UInt8](repeating: 0, count: legacy ? 10 : 12),
                           "an ordinary frame's header is zero")
            for bad in [Array(large.prefix(40)), large + [0]] {
                XCTAssertThrowsError(try bad.withUnsafeBytes { try net.transmit($0, segmentSize: 1448) })
            }
            XCTAssertEqual(nic.allViolations, [], "legacy: \(legacy)")
        }
    }

    /// Two large buffers and every small one in flight: the next large
    /// frame waits for a buffer and for ring descriptors, then both kinds
    /// come back to their own pools.
    func testSegmentationBuffersWaitAndComeBack() throws {
        let nic = SimulatedNIC(features: F.mac | F.checksum | F.hostTSO4, queueMax: 16)
        let (driver, _) = start(nic)
        let net = try XCTUnwrap(driver)
        _ = net.enableOffloads()
        nic.holdTransmit = true
        var sent: [[UInt8]] = []
        for round in 0..<3 {
            for index in 0..<16 {
                let small = frame(60 + index, seed: UInt64(round * 100 + index))
                try send(net, small)
                sent.append(small)
            }
            for index in 0..<3 {
                let large = tcpFrame(20_000 + index, seed: UInt64(round * 100 + 50 + index))
                try large.withUnsafeBytes { try net.transmit($0, segmentSize: 1000) }
                sent.append(large)
            }
        }
        try net.flush()
        XCTAssertEqual(nic.transmitted, sent)
        XCTAssertGreaterThan(nic.waits, 0)
        XCTAssertEqual(nic.allViolations, [])
    }

    /// A device that missed the notifications (QEMU TCG's lost wake-up,
    /// StallWatch.swift) hears the one a waiting sender repeats after an
    /// interval without progress.
    func testAStalledTransmitQueueIsNotifiedAgain() throws {
        let nic = SimulatedNIC(queueMax: 16)
        let (driver, harness) = start(nic)
        let net = try XCTUnwrap(driver)
        nic.deafQueues = [1]
        nic.waitsSleep = true
        let frames = (0..<20).map { frame(100, seed: UInt64($0)) }
        for sent in frames[0..<16] { try send(net, sent) }
        XCTAssertEqual(nic.transmitted, [], "every notification missed")
        harness.beforeWait = { nic.deafQueues = [] }  // from now on the device would hear one
        for sent in frames[16...] { try send(net, sent) }
        XCTAssertEqual(nic.transmitted, frames)
        XCTAssertEqual(net.renotifications, 1)
        XCTAssertEqual(nic.allViolations, [])
    }

    /// The receive side: the device is out of buffers and missed the
    /// notifications of the re-posted ones; a receive that finds nothing for
    /// an interval notifies again, and the frames the device held come in.
    func testAStalledReceiveQueueIsNotifiedAgain() throws {
        let nic = SimulatedNIC(queueMax: 16)
        let (driver, _) = start(nic)
        let net = try XCTUnwrap(driver)
        let frames = (0..<24).map { frame(80, seed: UInt64($0)) }
        nic.deafQueues = [0]
        for sent in frames { nic.deliver(sent) }  // 16 fill the ring, 8 wait in the device
        var got: [[UInt8]] = []
        while let frame = try receive(net) { got.append(frame) }
        XCTAssertEqual(got.count, 16)
        nic.deafQueues = []
        usleep(UInt32(StallWatch.interval / 1000) + 1000)
        while let frame = try receive(net) { got.append(frame) }
        XCTAssertEqual(got.count, frames.count)
        XCTAssert(got == frames, "in order and intact")
        XCTAssertEqual(net.renotifications, 1)
        XCTAssertEqual(nic.allViolations, [])
    }

    func testFlushWaitsUntilEveryFrameHasLeft() throws {
        let nic = SimulatedNIC(queueMax: 16)
        let (driver, _) = start(nic)
        let net = try XCTUnwrap(driver)
        nic.holdTransmit = true
        let frames = (0..<5).map { frame(200, seed: UInt64($0)) }
        for sent in frames { try send(net, sent) }
        XCTAssertEqual(nic.waits, 0)
        try net.flush()
        XCTAssertEqual(nic.waits, 1, "flush slept until the device took the held frames")
        XCTAssertEqual(nic.transmitted, frames)
        try net.flush()
        XCTAssertEqual(nic.waits, 1, "nothing in flight: flush returns at once")
        XCTAssertEqual(nic.allViolations, [])
    }

    func testFrameSizesAreChecked() throws {
        let nic = SimulatedNIC()
        let net = try XCTUnwrap(start(nic).0)
        for bad in [[], frame(1515, seed: 1)] {
            XCTAssertThrowsError(try send(net, bad)) { XCTAssertEqual($0 as? DeviceError, .invalidRequest) }
        }
        try send(net, frame(1514, seed: 2))
        XCTAssertEqual(nic.transmitted.count, 1)
    }

    // MARK: legacy

    func testLegacyWithoutAnyLayoutSeparatesHeaders() throws {
        let nic = SimulatedNIC(legacy: true, features: F.mac)
        let net = try XCTUnwrap(start(nic).0)
        XCTAssertEqual(nic.statusLog, [0, 1, 3, 7])
        XCTAssertEqual(net.headerLength, 10)
        XCTAssertEqual(nic.receiveBuffersPosted, 128, "two descriptors per buffer")
        let sent = frame(700, seed: 1)
        try send(net, sent)
        XCTAssertEqual(nic.transmitted, [sent])
        XCTAssertEqual(nic.transmitHeaders, [[UInt8](repeating: 0, count: 10)])
        nic.deliver(sent)
        XCTAssertEqual(try receive(net), sent)
        XCTAssertEqual(nic.allViolations, [])
    }

    func testLegacyWithAnyLayoutUsesOneDescriptor() throws {
        let nic = SimulatedNIC(legacy: true, features: F.mac | F.anyLayout)
        let net = try XCTUnwrap(start(nic).0)
        XCTAssertEqual(net.headerLength, 10)
        XCTAssertEqual(nic.receiveBuffersPosted, 256)
        XCTAssertEqual(nic.receiveChains.first?.segments.count, 1)
    }

    // MARK: malformed used rings

    func testMalformedReceiveEntryStopsTheDevice() throws {
        let nic = SimulatedNIC()
        let net = try XCTUnwrap(start(nic).0)
        nic.complete(0, id: 300, length: 20)
        XCTAssertThrowsError(try receive(net)) { XCTAssertEqual($0 as? DeviceError, .ioError) }
        XCTAssertThrowsError(try receive(net)) { XCTAssertEqual($0 as? DeviceError, .ioError) }
        XCTAssertThrowsError(try send(net, frame(60, seed: 1))) { XCTAssertEqual($0 as? DeviceError, .ioError) }
        XCTAssertEqual(nic.statusLog.last, 0, "reset")
        XCTAssertEqual(net.receiveQueue.fault, .badID)
    }

    func testMalformedTransmitEntryStopsTheDevice() throws {
        let nic = SimulatedNIC()
        let net = try XCTUnwrap(start(nic).0)
        nic.holdTransmit = true
        try send(net, frame(60, seed: 1))
        try send(net, frame(60, seed: 2))
        let entry = try XCTUnwrap(nic.held.entries.first)
        nic.complete(1, id: UInt32(entry.head), length: 0)
        nic.complete(1, id: UInt32(entry.head), length: 0)
        XCTAssertThrowsError(try send(net, frame(60, seed: 3))) { XCTAssertEqual($0 as? DeviceError, .ioError) }
        XCTAssertEqual(net.transmitQueue.fault, .notInFlight, "a duplicate completion")
        XCTAssertThrowsError(try receive(net)) { XCTAssertEqual($0 as? DeviceError, .ioError) }
        XCTAssertEqual(nic.transmitted.count, 2)
    }

    func testReceiveLengthBeyondTheBufferIsMalformed() throws {
        let nic = SimulatedNIC()
        let net = try XCTUnwrap(start(nic).0)
        let chain = nic.receiveChains.removeFirst()
        nic.rings[0]?.complete(chain, length: chain.writableBytes + 1)
        XCTAssertThrowsError(try receive(net)) { XCTAssertEqual($0 as? DeviceError, .ioError) }
        XCTAssertEqual(net.receiveQueue.fault, .lengthTooLarge)
    }
}
