// Congestion control against a scripted peer: the initial window and slow
// start (RFC 5681 §3.1), fast retransmit on the third duplicate ACK, NewReno
// partial and full ACKs (RFC 6582), and the collapse after a timeout.

@testable import Net
import TestSupport
import XCTest

final class TCPCongestionTests: XCTestCase {
    /// A passive open with the peer's MSS 500 (so windows are easy to count) and no timestamps.
    func passive(_ t: TCPPeer) throws -> (TCPConnection, UInt32) {
        try t.passiveOpen(options: [2, 4, 0x01, 0xf4])
    }

    func ack(_ t: TCPPeer, _ value: UInt32) { t.send(to: 80, seq: 1001, ack: value, flags: Flag.ack) }

    func testEstablishedSlowStartGrowsByOneSegmentPerAck() throws {
        let t = TCPPeer()
        let (connection, next) = try passive(t)
        XCTAssertEqual(connection.congestionWindow, 2000, "RFC 5681's initial window: 4 segments of 500")
        connection.send(Array(repeating: 1, count: 10_000))
        XCTAssertEqual(t.advance(to: millisecond).count, 4)
        ack(t, next &+ 500)
        XCTAssertEqual(connection.congestionWindow, 2500)
        XCTAssertEqual(t.sent().count, 2, "one segment acknowledged, two more may go")
    }

    func testEstablishedThirdDuplicateAckRetransmitsAndNewRenoRecovers() throws {
        let t = TCPPeer()
        let (connection, next) = try passive(t)
        connection.send(Array(repeating: 1, count: 10_000))
        XCTAssertEqual(t.advance(to: millisecond).map(\.seq), [next, next &+ 500, next &+ 1000, next &+ 1500])
        // The first segment was lost. The first two duplicate ACKs each let one new segment out (RFC 3042).
        t.now = 10 * millisecond
        ack(t, next)
        XCTAssertEqual(t.sent().map(\.seq), [next &+ 2000])
        ack(t, next)
        XCTAssertEqual(t.sent().map(\.seq), [next &+ 2500])
        XCTAssertEqual(connection.congestionWindow, 2000, "limited transmit leaves cwnd alone")
        // The third: fast retransmit of the hole.
        ack(t, next)
        XCTAssertEqual(t.sent().map(\.seq), [next], "the hole resent at once")
        XCTAssertTrue(connection.inRecovery)
        XCTAssertEqual(connection.slowStartThreshold, 1500, "half of the 3000 in flight")
        XCTAssertEqual(connection.congestionWindow, 3000, "ssthresh + 3 segments")
        XCTAssertEqual(t.host.counters.tcpRetransmissions, 1)
        // A further duplicate inflates the window by one segment: one more new segment.
        ack(t, next)
        XCTAssertEqual(t.sent().map(\.seq), [next &+ 3000])
        // A partial ACK (the third segment was lost too): resent at once, still recovering.
        ack(t, next &+ 1000)
        XCTAssertEqual(t.sent().first?.seq, next &+ 1000)
        XCTAssertTrue(connection.inRecovery)
        XCTAssertEqual(t.host.counters.tcpRetransmissions, 2)
        // The full ACK (everything sent before recovery began) ends it, with cwnd at ssthresh.
        ack(t, next &+ 3000)
        XCTAssertFalse(connection.inRecovery)
        XCTAssertEqual(connection.congestionWindow, 1500)
        XCTAssertLessThan(t.now, connection.rto.timeout, "all of it before any timeout")
    }

    func testEstablishedTimeoutCollapsesTheWindow() throws {
        let t = TCPPeer()
        let (connection, next) = try passive(t)
        connection.send(Array(repeating: 1, count: 10_000))
        XCTAssertEqual(t.advance(to: millisecond).count, 4)
        let retransmitted = t.advance(to: millisecond + 200 * millisecond)
        XCTAssertEqual(retransmitted.map(\.seq), [next], "one segment after a timeout")
        XCTAssertEqual(connection.congestionWindow, 500)
        XCTAssertEqual(connection.slowStartThreshold, 1000)
        // The receiver held the rest: one ACK covers all four, and slow start resumes.
        ack(t, next &+ 2000)
        XCTAssertEqual(t.sent().map(\.seq), [next &+ 2000, next &+ 2500])
    }
}
