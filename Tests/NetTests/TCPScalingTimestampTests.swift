// RFC 7323 against a scripted peer: window-scale and timestamp negotiation
// (on only when both SYNs carry them), scaled windows each way (never on a
// SYN), PAWS, and RTT samples from timestamp echoes even for retransmitted
// segments (where Karn's rule alone would give none).

@testable import Net
import TestSupport
import XCTest

func be32(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8((v >> 16) & 255), UInt8((v >> 8) & 255), UInt8(v & 255)] }
func timestampOption(_ value: UInt32, _ echo: UInt32) -> [UInt8] { [1, 1, 8, 10] + be32(value) + be32(echo) }

final class TCPScalingTimestampTests: XCTestCase {
    func settings(receiveBuffer: Int = 200_000) -> TCPSettings {
        var settings = fastSettings()
        settings.receiveBuffer = receiveBuffer
        return settings
    }

    func testSynSentNegotiatesScaleAndTimestamps() throws {
        let t = TCPPeer(settings: settings())
        let connection = try t.host.connect(to: t.peer, from: 6000, now: 0)
        let syn = try XCTUnwrap(t.sent().first)
        XCTAssertEqual(syn.header.options.windowScale, 2, "200000 >> 2 fits 16 bits")
        XCTAssertEqual(syn.header.window, 65535, "a SYN's window is never scaled")
        let ours = try XCTUnwrap(syn.header.options.timestamps)
        XCTAssertEqual(ours.echoReply, 0)
        t.send(to: 6000, seq: 5000, ack: syn.seq &+ 1, flags: Flag.syn | Flag.ack, window: 1000,
               options: [2, 4, 0x05, 0xb4, 1, 3, 3, 3] + timestampOption(500, ours.value))
        XCTAssertEqual(connection.state, .established)
        XCTAssertEqual(connection.sndWnd, 1000, "the SYN-ACK's window is not scaled")
        XCTAssertEqual(connection.sendMSS, 1448)
        let ack = try XCTUnwrap(t.sent().first)
        XCTAssertEqual(ack.header.window, UInt16(200_000 >> 2))
        XCTAssertEqual(ack.header.options.timestamps?.echoReply, 500)
        t.send(to: 6000, seq: 5001, ack: syn.seq &+ 1, flags: Flag.ack, window: 1000,
               options: timestampOption(501, ours.value))
        XCTAssertEqual(connection.sndWnd, 8000, "1000 << 3")
    }

    func testListenWithoutPeerOptionsAnswersWithout() throws {
        let t = TCPPeer(settings: settings())
        let listener = try t.host.listen(port: 80)
        t.send(to: 80, seq: 1000, flags: Flag.syn, window: 2000)
        let synAck = try XCTUnwrap(t.sent().first)
        XCTAssertNil(synAck.header.options.windowScale)
        XCTAssertNil(synAck.header.options.timestamps)
        XCTAssertEqual(synAck.header.window, 65535)
        t.send(to: 80, seq: 1001, ack: synAck.seq &+ 1, flags: Flag.ack, window: 2000)
        let connection = try XCTUnwrap(listener.accept())
        XCTAssertFalse(connection.windowScaling)
        XCTAssertFalse(connection.timestampsOn)
        XCTAssertEqual(connection.sndWnd, 2000, "not scaled")
        XCTAssertEqual(connection.sendMSS, 536, "no MSS option")
        connection.send([1])
        let data = try XCTUnwrap(t.advance(to: 1).first)
        XCTAssertEqual(data.header.window, 65535, "the field's limit without scaling")
        XCTAssertNil(data.header.options.timestamps)
    }

    /// A passive open with timestamps (peer clock 100) and window scaling; returns the connection, our next seq and our TSval.
    func passive(_ t: TCPPeer) throws -> (TCPConnection, UInt32, UInt32) {
        let listener = try t.host.listen(port: 80)
        t.send(to: 80, seq: 1000, flags: Flag.syn, options: [2, 4, 0x05, 0xb4, 1, 3, 3, 0] + timestampOption(100, 0))
        let synAck = try XCTUnwrap(t.sent().first)
        let ours = try XCTUnwrap(synAck.header.options.timestamps)
        XCTAssertEqual(ours.echoReply, 100)
        XCTAssertEqual(synAck.header.options.windowScale, 2)
        t.send(to: 80, seq: 1001, ack: synAck.seq &+ 1, flags: Flag.ack, options: timestampOption(100, ours.value))
        return (try XCTUnwrap(listener.accept()), synAck.seq &+ 1, ours.value)
    }

    func testEstablishedOldTimestampIsDroppedByPAWS() throws {
        let t = TCPPeer(settings: settings())
        let (connection, next, ours) = try passive(t)
        t.send(to: 80, seq: 1001, ack: next, flags: Flag.ack | Flag.psh, options: timestampOption(200, ours), [1, 2])
        XCTAssertEqual(connection.tsRecent, 200)
        t.send(to: 80, seq: 1003, ack: next, flags: Flag.ack | Flag.psh, options: timestampOption(150, ours), [3, 4])
        XCTAssertEqual(t.host.drops(.tcpPAWS), 1)
        let ack = try XCTUnwrap(t.sent().last)
        XCTAssertEqual(ack.ack, 1003, "the old duplicate is answered, not taken")
        XCTAssertEqual(ack.header.options.timestamps?.echoReply, 200)
        XCTAssertEqual(connection.receive(), [1, 2])
    }

    func testTimestampEchoTimesRetransmissions() throws {
        let t = TCPPeer(settings: settings())
        let (connection, next, _) = try passive(t)
        XCTAssertEqual(connection.rto.smoothed, 0, "the handshake's echo: a 0 ms round trip")
        connection.send([1, 2, 3])
        XCTAssertEqual(t.advance(to: second).count, 1)
        let again = try XCTUnwrap(t.advance(to: second + 200 * millisecond).first)
        XCTAssertEqual(again.seq, next, "retransmitted after 200 ms")
        t.now = second + 250 * millisecond
        t.send(to: 80, seq: 1001, ack: next &+ 3, flags: Flag.ack,
               options: timestampOption(300, try XCTUnwrap(again.header.options.timestamps).value))
        // A 50 ms sample from the retransmission's own timestamp: 7/8 * 0 + 1/8 * 50 ms.
        XCTAssertEqual(connection.rto.smoothed, 6_250_000)
    }
}
