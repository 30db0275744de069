// The fault-injecting link middleware: option parsing, and what each fault
// does to frames in both directions over an in-memory device.

import NetHost
import Swiftlet
import XCTest

/// Frames in two queues: `incoming` for receive, `sent` for transmit.
final class QueueDevice: NetworkDevice {
    static let nameBytes: UnsafeMutablePointer<UInt8> = {
        let bytes = Array("net0\0".utf8)
        let p = UnsafeMutablePointer<UInt8>.allocate(capacity: bytes.count)
        p.initialize(from: bytes, count: bytes.count)
        return p
    }()
    var incoming: [[UInt8]] = []
    var sent: [[UInt8]] = []
    var name: RawArgument { RawArgument(cString: QueueDevice.nameBytes) }
    var mac: MACAddress { MACAddress(2, 0, 0, 0, 0, 1) }
    var mtu: Int { 1500 }
    var event: DeviceEvent { DeviceEvent(bit: 0) }
    /// Frames marked trusted when received (as a tap with offloads marks them).
    var trusted = false
    func receive(into buffer: UnsafeMutableRawBufferPointer) throws(DeviceError) -> ReceivedFrame? {
        guard !incoming.isEmpty else { return nil }
        let frame = incoming.removeFirst()
        frame.withUnsafeBytes { buffer.copyMemory(from: $0) }
        return ReceivedFrame(length: frame.count, checksumTrusted: trusted)
    }
    func transmit(_ frame: UnsafeRawBufferPointer, segmentSize: Int) throws(DeviceError) { sent.append(Array(frame)) }
}

/// 60-byte frames numbered in their first payload bytes.
func numberedFrames(_ count: Int) -> [[UInt8]] {
    (0..<count).map { i in Array(repeating: 0xEE, count: 14) + [UInt8(i >> 8), UInt8(i & 0xFF)] + Array(repeating: 0, count: 44) }
}

func number(_ frame: [UInt8]) -> Int { Int(frame[14]) << 8 | Int(frame[15]) }

func receiveAll(_ device: FaultyNetworkDevice) -> [[UInt8]] {
    var frames: [[UInt8]] = []
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1514, alignment: 8)
    defer { buffer.deallocate() }
    while let frame = try? device.receive(into: buffer) { frames.append(Array(buffer[0..<frame.length])) }
    return frames
}

func faults(_ text: String) throws -> LinkFaults? {
    try LinkFaults.parse(arguments: ["--ipv4=10.0.0.2/24", text].map { Array($0.utf8) })
}

final class LinkFaultsTests: XCTestCase {
    func testParsesRatesAndSeed() throws {
        let f = try XCTUnwrap(faults("--net-faults=loss=5,reorder=0.5,duplicate=100,corrupt=0.25,seed=42"))
        XCTAssertEqual([f.loss, f.reorder, f.duplicate, f.corrupt], [500, 50, 10_000, 25])
        XCTAssertEqual(f.seed, 42)
        XCTAssertNil(try faults("--net=tap0"))
    }

    func testRejectsMalformedOptions() {
        for bad in ["--net-faults=", "--net-faults=loss", "--net-faults=loss=101", "--net-faults=loss=1.234",
                    "--net-faults=jitter=5", "--net-faults=loss=-1", "--net-faults=seed=x", "--net-faults=loss=5,",
                    "--net-faults=loss=."] {
            XCTAssertThrowsError(try faults(bad), bad)
        }
        XCTAssertThrowsError(try LinkFaults.parse(arguments: ["--net-faults=loss=1", "--net-faults=loss=2"].map { Array($0.utf8) }))
    }

    func testNoFaultsPassesFramesThroughInOrder() throws {
        let inner = QueueDevice()
        let device = FaultyNetworkDevice(inner, faults: LinkFaults())
        inner.incoming = numberedFrames(100)
        XCTAssertEqual(receiveAll(device), numberedFrames(100))
        for frame in numberedFrames(100) { try frame.withUnsafeBytes { try device.transmit($0) } }
        XCTAssertEqual(inner.sent, numberedFrames(100))
        XCTAssertEqual(device.inbound, LinkFaultCounters(frames: 100))
    }

    func testLossRateIsCloseToTheSetting() throws {
        var settings = LinkFaults()
        settings.loss = 500
        settings.seed = 7
        let inner = QueueDevice()
        let device = FaultyNetworkDevice(inner, faults: settings)
        inner.incoming = numberedFrames(10_000)
        let received = receiveAll(device)
        XCTAssertEqual(received.count + device.inbound.dropped, 10_000)
        XCTAssertTrue((400...600).contains(device.inbound.dropped), "\(device.inbound.dropped) of 10,000 dropped")
        // The survivors keep their order.
        XCTAssertEqual(received.map(number), received.map(number).sorted())
    }

    func testSameSeedSameFaults() {
        var settings = LinkFaults()
        (settings.loss, settings.reorder, settings.duplicate, settings.corrupt, settings.seed) = (500, 500, 500, 500, 99)
        func run() -> [[UInt8]] {
            let inner = QueueDevice()
            inner.incoming = numberedFrames(2_000)
            return receiveAll(FaultyNetworkDevice(inner, faults: settings))
        }
        XCTAssertEqual(run(), run())
    }

    func testReorderDeliversEveryFrameOnceOutOfOrder() {
        var settings = LinkFaults()
        settings.reorder = 10_000
        let inner = QueueDevice()
        let device = FaultyNetworkDevice(inner, faults: settings)
        inner.incoming = numberedFrames(9)
        let order = receiveAll(device).map(number)
        XCTAssertEqual(order, [1, 0, 3, 2, 5, 4, 7, 6, 8])  // the last one is let go when nothing newer comes
        XCTAssertEqual(device.inbound.reordered, 5)
    }

    func testHeldOutboundFrameLeavesAtTheEndOfTheBatch() throws {
        var settings = LinkFaults()
        settings.reorder = 10_000
        let inner = QueueDevice()
        let device = FaultyNetworkDevice(inner, faults: settings)
        let frames = numberedFrames(3)
        for frame in frames { try frame.withUnsafeBytes { try device.transmit($0) } }
        XCTAssertEqual(inner.sent.map(number), [1, 0])
        try device.endTransmitBatch()
        XCTAssertEqual(inner.sent.map(number), [1, 0, 2])
        try device.endTransmitBatch()
        XCTAssertEqual(inner.sent.count, 3)
    }

    func testDuplicateAndCorrupt() throws {
        var settings = LinkFaults()
        (settings.duplicate, settings.corrupt) = (10_000, 10_000)
        let inner = QueueDevice()
        let device = FaultyNetworkDevice(inner, faults: settings)
        let frames = numberedFrames(50)
        inner.incoming = frames
        let received = receiveAll(device)
        XCTAssertEqual(received.count, 100)
        for (index, frame) in received.enumerated() {
            let original = frames[index / 2]
            XCTAssertEqual(Array(frame[0..<14]), Array(original[0..<14]), "the Ethernet header is left alone")
            XCTAssertEqual(zip(frame, original).filter { $0 != $1 }.count, 1, "exactly one byte changed")
        }
        for frame in frames { try frame.withUnsafeBytes { try device.transmit($0) } }
        XCTAssertEqual(inner.sent.count, 100)
        XCTAssertEqual(device.outbound.corrupted, 50)
        XCTAssertEqual(device.outbound.duplicated, 50)
    }

    /// A frame the device vouches for keeps that through holds and
    /// duplicates; a corrupted one loses it, so the stack's checksum catches it.
    func testCorruptedFramesAreNoLongerTrusted() throws {
        var settings = LinkFaults()
        (settings.corrupt, settings.duplicate, settings.reorder, settings.seed) = (5_000, 3_000, 3_000, 3)
        let inner = QueueDevice()
        inner.trusted = true
        let device = FaultyNetworkDevice(inner, faults: settings)
        // The number twice, the second inverted: one flipped byte cannot make another frame.
        let frames = numberedFrames(200).map { frame in
            var frame = frame
            (frame[16], frame[17]) = (~frame[14], ~frame[15])
            return frame
        }
        inner.incoming = frames
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1514, alignment: 8)
        defer { buffer.deallocate() }
        var trusted = 0, untrusted = 0
        while let frame = try device.receive(into: buffer) {
            let bytes = Array(buffer[0..<frame.length])
            let intact = frames.contains(bytes)
            XCTAssertEqual(frame.checksumTrusted, intact, "trusted exactly when intact")
            if frame.checksumTrusted { trusted += 1 } else { untrusted += 1 }
        }
        XCTAssertGreaterThan(trusted, 50)
        XCTAssertGreaterThan(untrusted, 50)
        XCTAssertEqual(device.enableOffloads(), NetworkOffloads(), "faults see frames as they cross the link")
    }
}
