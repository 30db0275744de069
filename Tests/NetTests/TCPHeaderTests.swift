// The TCP header: round trips through emit and parse, agreement with the
// byte-by-byte builder, every malformed form dropped with its reason (and
// through a whole interface: truncations and bit flips never trap), and
// sequence-number comparisons across the wrap.

@testable import Net
import TestSupport
import XCTest

final class TCPHeaderTests: XCTestCase {
    let src = IPv4Endpoint(address: ip("10.0.0.9"), port: 4000)
    let dst = IPv4Endpoint(address: ip("10.0.0.1"), port: 80)

    func parse(_ bytes: [UInt8]) throws -> TCPHeader {
        let result: Result<TCPHeader, DropReason> = bytes.withUnsafeBytes { raw in
            do { return .success(try TCPHeader.parse(raw, source: src.address, destination: dst.address)) }
            catch { return .failure(error as! DropReason) }
        }
        return try result.get()
    }

    func reason(_ bytes: [UInt8]) -> DropReason? {
        do { _ = try parse(bytes); return nil } catch { return error as? DropReason }
    }

    func testEmitMatchesBuilderAndParsesBack() throws {
        var header = TCPHeader(sourcePort: 4000, destinationPort: 80, sequenceNumber: 0xdead_beef,
                               acknowledgmentNumber: 0x0102_0304, flags: [.ack, .psh], window: 4321)
        let payload: [UInt8] = Array(0..<13)
        var bytes = [UInt8](repeating: 0xee, count: 20 + payload.count)
        bytes.replaceSubrange(20..., with: payload)
        bytes.withUnsafeMutableBytes { header.emit(into: $0, source: src.address, destination: dst.address) }
        XCTAssertEqual(bytes, Build.tcp(from: src, to: dst, seq: 0xdead_beef, ack: 0x0102_0304, flags: 0x18,
                                        window: 4321, payload))
        header.headerLength = 20
        XCTAssertEqual(try parse(bytes), header)
    }

    func testAllOptionsRoundTrip() throws {
        var options = TCPOptions()
        options.maximumSegmentSize = 1460
        options.windowScale = 7
        options.sackPermitted = true
        options.timestamps = TCPTimestamps(value: 0x1122_3344, echoReply: 0x5566_7788)
        let header = TCPHeader(sourcePort: 1, destinationPort: 2, sequenceNumber: 3, acknowledgmentNumber: 0,
                               flags: .syn, window: 65535, options: options)
        XCTAssertEqual(header.headerLength, 40, "4 + 3 + 2 + 10 = 19 option bytes, padded to 20")
        var bytes = [UInt8](repeating: 0xee, count: header.headerLength)
        bytes.withUnsafeMutableBytes { header.emit(into: $0, source: src.address, destination: dst.address) }
        XCTAssertEqual(try parse(bytes), header)
        // An ACK with a timestamp and three SACK blocks: 10 + 26 = 36 option bytes.
        var ackOptions = TCPOptions()
        ackOptions.timestamps = TCPTimestamps(value: 1, echoReply: 2)
        for i: UInt32 in 0..<3 { ackOptions.sack.append(start: 0xffff_ff00 &+ 100 * i, end: 0xffff_ff00 &+ 100 * i &+ 50) }
        let ack = TCPHeader(sourcePort: 1, destinationPort: 2, sequenceNumber: 3, acknowledgmentNumber: 4,
                            flags: .ack, window: 5, options: ackOptions)
        XCTAssertEqual(ack.headerLength, 56)
        var ackBytes = [UInt8](repeating: 0xee, count: ack.headerLength)
        ackBytes.withUnsafeMutableBytes { ack.emit(into: $0, source: src.address, destination: dst.address) }
        XCTAssertEqual(try parse(ackBytes), ack)
    }

    func testParsesOptionsFromTheWire() throws {
        // NOP padding, MSS, window scale 20 (clamped to 14), SACK-permitted, a SACK block, timestamps.
        let options: [UInt8] = [1, 2, 4, 0x05, 0xb4, 1, 3, 3, 20, 4, 2, 5, 10, 0, 0, 0, 1, 0, 0, 0, 2,
                                8, 10, 0, 0, 0, 9, 0, 0, 0, 8]
        let header = try parse(Build.tcp(from: src, to: dst, seq: 1, flags: Flag.syn, options: options))
        XCTAssertEqual(header.options.maximumSegmentSize, 1460)
        XCTAssertEqual(header.options.windowScale, 14)
        XCTAssertTrue(header.options.sackPermitted)
        XCTAssertEqual(header.options.timestamps, TCPTimestamps(value: 9, echoReply: 8))
        var blocks = TCPSACKBlocks()
        blocks.append(start: 1, end: 2)
        XCTAssertEqual(header.options.sack, blocks)
        XCTAssertEqual(header.headerLength, 52)
        // End-of-list stops parsing: what follows is padding.
        let ended = try parse(Build.tcp(from: src, to: dst, seq: 1, flags: Flag.syn, options: [0, 2, 4, 1, 1]))
        XCTAssertNil(ended.options.maximumSegmentSize)
    }

    func testMalformedSegmentsAreDroppedWithTheirReason() {
        let good = Build.tcp(from: src, to: dst, seq: 7, flags: Flag.ack, [1, 2, 3])
        XCTAssertNil(reason(good))
        XCTAssertEqual(reason(Array(good[0..<19])), .tcpTruncated)
        var flipped = good
        flipped[22] ^= 0x40
        XCTAssertEqual(reason(flipped), .tcpChecksum)
        // Data offset below 5 words, and beyond the segment.
        var offset = good
        offset[12] = 0x40
        XCTAssertEqual(reason(offset), .tcpHeaderLength)
        offset[12] = 0x70
        XCTAssertEqual(reason(offset), .tcpTruncated)
        // Option lengths: 0, 1, past the header, and a known kind with the wrong length.
        for options: [UInt8] in [[254, 0, 0, 0], [254, 1, 0, 0], [254, 9, 0, 0], [2, 3, 0, 0], [8, 6, 0, 0, 0, 0, 0, 0],
                                 [1, 1, 1, 2], [5, 2, 0, 0], [5, 6, 0, 0, 0, 0, 0, 0]] {
            XCTAssertEqual(reason(Build.tcp(from: src, to: dst, seq: 1, flags: Flag.syn, options: options)),
                           .tcpOptions, "\(options)")
        }
    }

    func testMalformedSegmentsThroughTheInterface() throws {
        let t = TCPPeer()
        _ = try t.host.listen(port: 80)
        let frame = Build.ethernet(to: t.host.mac, from: macPeer, type: 0x0800,
                                   Build.ipv4(from: t.peer.address, to: t.host.address, protocol: 6,
                                              Build.tcp(from: t.peer, to: IPv4Endpoint(address: t.host.address, port: 80),
                                                        seq: 1, flags: Flag.syn, options: [2, 4, 5, 0xb4], [9, 9])))
        var frames: [[UInt8]] = []
        // Every truncation of the IP datagram, with its total length fixed up so IPv4 accepts it.
        for length in 34..<frame.count {
            var cut = Array(frame[0..<length])
            cut[16] = UInt8((length - 14) >> 8)
            cut[17] = UInt8((length - 14) & 0xff)
            cut[24] = 0; cut[25] = 0
            let sum = referenceChecksum(Array(cut[14..<34]))
            cut[24] = UInt8(sum >> 8); cut[25] = UInt8(sum & 0xff)
            frames.append(cut)
        }
        var random = SplitMix64(seed: 7)
        for _ in 0..<2000 {
            var bad = frame
            // One bit: always caught (two flips can cancel out in a one's-complement sum).
            bad[34 + random.below(bad.count - 34)] ^= UInt8(1 << random.below(8))
            frames.append(bad)
        }
        for f in frames { t.host.receive(f, now: 0); _ = t.host.drain() }
        XCTAssertEqual(t.host.counters.framesReceived, UInt64(frames.count + 1))
        XCTAssertGreaterThan(t.host.drops(.tcpTruncated), 0)
        XCTAssertGreaterThan(t.host.drops(.tcpChecksum), 1000)
        XCTAssertEqual(t.host.counters.tcpSegmentsReceived, 0, "nothing malformed got through")
        // The listener still works.
        t.send(to: 80, seq: 1, flags: Flag.syn)
        XCTAssertEqual(t.sent().first?.flags, [.syn, .ack])
    }

    func testSequenceComparisonsWrap() {
        XCTAssertTrue(UInt32(0xffff_fff0).seqBefore(0x10))
        XCTAssertTrue(UInt32(0x10).seqAfter(0xffff_fff0))
        XCTAssertTrue(UInt32(5).seqAtOrBefore(5))
        XCTAssertFalse(UInt32(5).seqBefore(5))
        XCTAssertEqual(UInt32(0x10).seqDistance(from: 0xffff_fff0), 0x20)
    }
}
