// Two stacks back to back through SimulatedLink: handshake and close over
// the real path, and bulk transfers in both directions under seeded loss,
// reordering, duplication and corruption, checking every byte and that the
// simulated time stays bounded.

@testable import Net
import TestSupport
import XCTest

final class TCPLinkTests: XCTestCase {
    /// The last transfer's client, for checks on its state.
    var lastClient: TCPConnection?

    func pair(settings: TCPSettings = fastSettings(), tcpSegmentation: Int = 0) -> (Interface, Interface) {
        var limits = InterfaceLimits()
        limits.tcp = settings
        return (makeInterface(mac: macA, address: "10.0.0.1", limits: limits, tcpSegmentation: tcpSegmentation),
                makeInterface(mac: macB, address: "10.0.0.2", limits: limits, tcpSegmentation: tcpSegmentation))
    }

    func pattern(_ count: Int, seed: UInt64) -> [UInt8] {
        var random = SplitMix64(seed: seed)
        var bytes = [UInt8](repeating: 0, count: count)
        var i = 0
        while i < count {
            let word = random.next()
            for k in 0..<min(8, count - i) { bytes[i + k] = UInt8(truncatingIfNeeded: word >> (8 * k)) }
            i += 8
        }
        return bytes
    }

    /// Opens a connection from a to b port 80; returns (client, server).
    func open(_ link: SimulatedLink) throws -> (TCPConnection, TCPConnection) {
        let listener = try link.b.listen(port: 80)
        let client = try link.a.connect(to: IPv4Endpoint(address: link.b.address, port: 80), now: link.now)
        var server: TCPConnection?
        XCTAssertTrue(link.run(steps: 3000) { server = server ?? listener.accept(); return server != nil && client.state == .established })
        return (client, try XCTUnwrap(server))
    }

    func testHandshakeDataAndOrderlyClose() throws {
        let (a, b) = pair()
        let link = SimulatedLink(a, b)
        let (client, server) = try open(link)
        XCTAssertEqual(client.state, .established)
        XCTAssertEqual(server.state, .established)
        XCTAssertEqual(client.sendMSS, 1448, "1460 less 12 bytes of timestamp option")
        XCTAssertTrue(client.timestampsOn && server.timestampsOn && client.windowScaling && server.windowScaling)
        XCTAssertEqual(client.send(Array("hello".utf8)), 5)
        var got: [UInt8] = []
        XCTAssertTrue(link.run { got += server.receive() ?? []; return got.count == 5 })
        XCTAssertEqual(got, Array("hello".utf8))
        XCTAssertNil(server.receive(), "nothing yet")
        client.close()
        XCTAssertTrue(link.run { server.state == .closeWait })
        XCTAssertEqual(server.receive(), [], "end of stream")
        server.send(Array("bye".utf8))
        server.close()
        XCTAssertTrue(link.run { server.state == .closed && client.state == .timeWait })
        XCTAssertNil(server.error)
        XCTAssertTrue(link.run(steps: 200) { client.state == .closed })
        XCTAssertNil(client.error)
        XCTAssertEqual(a.tcpConnectionCount + b.tcpConnectionCount, 0)
    }

    /// Sends `count` bytes each way at once and checks both streams arrive whole.
    func transfer(_ count: Int, faults: SimulatedLink.Faults, seed: UInt64, steps: Int,
                  settings: TCPSettings = fastSettings(), tcpSegmentation: Int = 0,
                  segmentation: Segmentation = .cut) throws -> SimulatedLink {
        let (a, b) = pair(settings: settings, tcpSegmentation: tcpSegmentation)
        let link = SimulatedLink(a, b, faults: faults, seed: seed, segmentation: segmentation)
        let (client, server) = try open(link)
        lastClient = client
        let up = pattern(count, seed: seed), down = pattern(count / 2, seed: seed + 100)
        var upSent = 0, downSent = 0
        var upGot: [UInt8] = [], downGot: [UInt8] = []
        upGot.reserveCapacity(count)
        let done = link.run(steps: steps) {
            if upSent < up.count { upSent += up[upSent...].withUnsafeBytes { client.send($0) } }
            if downSent < down.count { downSent += down[downSent...].withUnsafeBytes { server.send($0) } }
            if upSent == up.count { client.shutdownWrite() }
            if downSent == down.count { server.shutdownWrite() }
            while let bytes = server.receive(), !bytes.isEmpty { upGot += bytes }
            while let bytes = client.receive(), !bytes.isEmpty { downGot += bytes }
            return server.isEndOfStream && client.isEndOfStream
        }
        XCTAssertTrue(done, "seed \(seed): \(upGot.count)/\(up.count) up, \(downGot.count)/\(down.count) down")
        XCTAssertTrue(upGot == up, "seed \(seed): upstream bytes differ at \((0..<min(upGot.count, up.count)).first { upGot[$0] != up[$0] } ?? -1) of \(upGot.count)")
        XCTAssertTrue(downGot == down, "seed \(seed): downstream bytes differ")
        XCTAssertNil(client.error)
        XCTAssertNil(server.error)
        return link
    }

    func testBulkTransferCleanLink() throws {
        let link = try transfer(2 << 20, faults: .init(), seed: 1, steps: 3000)
        XCTAssertEqual(link.a.counters.tcpRetransmissions + link.b.counters.tcpRetransmissions, 0)
        // 2 MiB at 64 KiB per 20 ms round trip: well under a simulated second.
        XCTAssertLessThan(link.now, 2 * second)
    }

    func testBulkTransferWithWindowScaling() throws {
        var settings = fastSettings()
        settings.sendBuffer = 256 * 1024
        settings.receiveBuffer = 256 * 1024
        let link = try transfer(4 << 20, faults: .init(), seed: 4, steps: 3000, settings: settings)
        // 4 MiB up and 2 MiB down; the 64-frame transmit queues, not the windows, set the pace.
        XCTAssertLessThan(link.now, 2 * second)
        XCTAssertGreaterThan(lastClient?.maxSndWnd ?? 0, 65535, "the peer's scaled window")
    }

    // MARK: segmentation offload (a device that cuts our large frames, or merges the peer's)

    static let segmentationLimit = 65_535 + 14

    func testBulkTransferWithSegmentationOffload() throws {
        var settings = fastSettings()
        settings.sendBuffer = 256 * 1024
        settings.receiveBuffer = 256 * 1024
        let link = try transfer(4 << 20, faults: .init(), seed: 5, steps: 3000, settings: settings,
                                tcpSegmentation: TCPLinkTests.segmentationLimit)
        XCTAssertEqual(link.a.counters.tcpRetransmissions + link.b.counters.tcpRetransmissions, 0)
        // Each large frame counts as the segments the device makes of it.
        XCTAssertGreaterThan(link.a.counters.tcpSegmentsSent, 4 * link.a.counters.framesQueued,
                             "most data left in frames of many segments")
    }

    func testBulkTransferWithMergedReceive() throws {
        var settings = fastSettings()
        settings.sendBuffer = 256 * 1024
        settings.receiveBuffer = 256 * 1024
        let link = try transfer(4 << 20, faults: .init(), seed: 6, steps: 3000, settings: settings,
                                tcpSegmentation: TCPLinkTests.segmentationLimit, segmentation: .merged)
        XCTAssertGreaterThan(link.merged, 20, "frames of many segments arrived whole, checksums trusted")
        XCTAssertEqual(link.b.drops(.tcpChecksum), 0)
    }

    /// Lost or corrupted large frames are many segments lost at once;
    /// what goes again goes one MSS at a time.
    func testBulkTransferWithSegmentationOverAFaultyLink() throws {
        var settings = fastSettings()
        settings.sendBuffer = 256 * 1024
        settings.receiveBuffer = 256 * 1024
        let faults = SimulatedLink.Faults(loss: 20, duplication: 20, reordering: 50, corruption: 20)
        for (seed, mode) in [(UInt64(7), Segmentation.cut), (8, .merged), (9, .cut), (10, .merged)] {
            let link = try transfer(1 << 20, faults: faults, seed: seed, steps: 100_000, settings: settings,
                                    tcpSegmentation: TCPLinkTests.segmentationLimit, segmentation: mode)
            XCTAssertGreaterThan(link.lost + link.corrupted, 0, "seed \(seed): the link did nothing")
        }
    }

    func testRetransmissionsAreSingleSegments() throws {
        var settings = fastSettings()
        settings.sendBuffer = 256 * 1024
        settings.receiveBuffer = 256 * 1024
        let (a, b) = pair(settings: settings, tcpSegmentation: TCPLinkTests.segmentationLimit)
        let link = SimulatedLink(a, b)
        let (client, server) = try open(link)
        let data = pattern(200_000, seed: 11)
        XCTAssertEqual(data.withUnsafeBytes { client.send($0) }, data.count)
        _ = a.poll(now: link.now)
        let first = a.drainSegmenting()
        XCTAssertTrue(first.contains { $0.segmentSize == client.sendMSS }, "new data went as large frames")
        // Everything sent is lost; the timeout resends from SND.UNA one MSS at a time.
        var resent: [(frame: [UInt8], segmentSize: Int)] = []
        for _ in 0..<200 where resent.isEmpty {
            link.now += 10 * millisecond
            _ = a.poll(now: link.now)
            resent = a.drainSegmenting()
        }
        XCTAssertFalse(resent.isEmpty, "a retransmission")
        XCTAssertTrue(resent.allSatisfy { $0.segmentSize == 0 && $0.frame.count <= 1514 })
        for (frame, size) in resent + first { segment(frame, segmentSize: size, mode: .cut).forEach { b.receive($0, now: link.now) } }
        var got: [UInt8] = []
        XCTAssertTrue(link.run(steps: 3000) { got += server.receive() ?? []; return got.count == data.count })
        XCTAssertTrue(got == data)
    }

    /// A bottleneck that drops whole bursts when the windows outgrow its
    /// queue (what a tap device does to a fast sender): both directions
    /// must keep going, whatever the burst pattern.
    func testBulkTransferThroughACongestedBottleneck() throws {
        var settings = fastSettings()
        settings.sendBuffer = 256 * 1024
        settings.receiveBuffer = 256 * 1024
        for (seed, rate, queue) in [(UInt64(1), 8, 16), (2, 2, 4), (3, 16, 8), (4, 1, 2), (5, 4, 64)] {
            let faults = SimulatedLink.Faults(reordering: 5, rate: rate, queue: queue)
            let link = try transfer(2 << 20, faults: faults, seed: seed, steps: 100_000, settings: settings)
            XCTAssertGreaterThan(link.lost, 0, "seed \(seed): the bottleneck dropped nothing")
        }
    }

    func testBulkTransferLossyLink() throws {
        for seed in UInt64(1)...3 {
            let faults = SimulatedLink.Faults(loss: 50, duplication: 20, reordering: 50, corruption: 20)
            let link = try transfer(1 << 20, faults: faults, seed: seed, steps: 60_000)
            // About 90 frames lost per run; retransmission timeouts (200 ms minimum) dominate the time.
            XCTAssertLessThan(link.now, 30 * second)
            // SACK blocks on data segments never push a segment past the MTU.
            XCTAssertEqual(link.a.counters.fragmentsSent + link.b.counters.fragmentsSent, 0)
            XCTAssertGreaterThan(link.lost, 0)
            XCTAssertGreaterThan(link.corrupted, 0)
            XCTAssertGreaterThan(link.a.counters.tcpRetransmissions, 0)
            XCTAssertGreaterThan(link.a.drops(.tcpChecksum) + link.b.drops(.tcpChecksum)
                                 + link.a.drops(.ipv4Checksum) + link.b.drops(.ipv4Checksum), 0)
        }
    }
}
