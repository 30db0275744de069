// RFC 2018 against a scripted peer: SACK-permitted negotiation, the blocks
// a receiver sends (latest first), and recovery that resends a second hole
// on a duplicate ACK, before any partial ACK, and never resends a hole twice.

@testable import Net
import TestSupport
import XCTest

final class TCPSACKTests: XCTestCase {
    func sackOption(_ blocks: [(UInt32, UInt32)]) -> [UInt8] {
        blocks.isEmpty ? [] : [1, 1, 5, UInt8(2 + 8 * blocks.count)] + blocks.flatMap { be32($0.0) + be32($0.1) }
    }

    /// A passive open with SACK-permitted and MSS 500 (no timestamps, no window scaling).
    func passive(_ t: TCPPeer, sack: Bool = true) throws -> (TCPConnection, UInt32) {
        try t.passiveOpen(options: [2, 4, 0x01, 0xf4] + (sack ? [4, 2] : [])) { synAck in
            XCTAssertEqual(synAck.header.options.sackPermitted, sack)
        }
    }

    func blocks(_ seen: Seen?) -> [[UInt32]] {
        guard let sack = seen?.header.options.sack else { return [] }
        return (0..<sack.count).map { [sack[$0].start, sack[$0].end] }
    }

    func testEstablishedOutOfOrderDataIsReportedLatestBlockFirst() throws {
        let t = TCPPeer()
        let (connection, next) = try passive(t)
        XCTAssertTrue(connection.sackOn)
        t.send(to: 80, seq: 1101, ack: next, flags: Flag.ack, Array(repeating: 2, count: 100))
        XCTAssertEqual(blocks(t.sent().first), [[1101, 1201]])
        t.send(to: 80, seq: 1301, ack: next, flags: Flag.ack, Array(repeating: 4, count: 100))
        XCTAssertEqual(blocks(t.sent().first), [[1301, 1401], [1101, 1201]], "the newest block leads")
        t.send(to: 80, seq: 1001, ack: next, flags: Flag.ack, Array(repeating: 1, count: 100))
        let ack = try XCTUnwrap(t.sent().first)
        XCTAssertEqual(ack.ack, 1201)
        XCTAssertEqual(blocks(ack), [[1301, 1401]])
        t.send(to: 80, seq: 1201, ack: next, flags: Flag.ack, Array(repeating: 3, count: 100))
        let last = try XCTUnwrap(t.sent().first)
        XCTAssertEqual(last.ack, 1401)
        XCTAssertEqual(blocks(last), [], "no holes, no blocks")
    }

    func testWithoutSackPermittedNoBlocks() throws {
        let t = TCPPeer()
        let (connection, next) = try passive(t, sack: false)
        XCTAssertFalse(connection.sackOn)
        t.send(to: 80, seq: 1101, ack: next, flags: Flag.ack, [1])
        XCTAssertEqual(blocks(t.sent().first), [])
    }

    func testEstablishedSackResendsTheSecondHoleOnADuplicateAck() throws {
        let t = TCPPeer()
        let (connection, next) = try passive(t)
        let ackFor: (UInt32, [(UInt32, UInt32)]) -> Void = { value, sacked in
            t.send(to: 80, seq: 1001, ack: value, flags: Flag.ack,
                   options: self.sackOption(sacked.map { (next &+ $0.0, next &+ $0.1) }))
        }
        connection.send(Array(repeating: 1, count: 20_000))
        XCTAssertEqual(t.advance(to: millisecond).count, 4)
        // Slow start to eight segments in flight: 2000..6000.
        var inFlight: [UInt32] = []
        for acked: UInt32 in [500, 1000, 1500, 2000] {
            ackFor(next &+ acked, [])
            inFlight += t.sent().map { $0.seq &- next }
        }
        XCTAssertEqual(inFlight, [2000, 2500, 3000, 3500, 4000, 4500, 5000, 5500])
        // 2000 and 3000 are lost. Two duplicates bring limited transmit, the third recovery.
        ackFor(next &+ 2000, [(2500, 3000)])
        ackFor(next &+ 2000, [(3500, 4000), (2500, 3000)])
        XCTAssertEqual(t.sent().map { $0.seq &- next }, [6000, 6500])
        ackFor(next &+ 2000, [(3500, 4500), (2500, 3000)])
        XCTAssertEqual(t.sent().map { $0.seq &- next }, [2000], "fast retransmit of the first hole")
        // The fourth duplicate: SACK shows three segments above 3000, so 3000 is lost too.
        ackFor(next &+ 2000, [(3500, 5000), (2500, 3000)])
        XCTAssertEqual(t.sent().map { $0.seq &- next }, [3000], "the second hole, without waiting for a partial ACK")
        XCTAssertEqual(t.host.counters.tcpRetransmissions, 2)
        // No hole left below SACKed data: the duplicate inflates the window instead.
        ackFor(next &+ 2000, [(3500, 5500), (2500, 3000)])
        XCTAssertTrue(t.sent().isEmpty)
        // The partial ACK for the first resend finds the second already resent: nothing is sent twice.
        ackFor(next &+ 3000, [(3500, 5500)])
        XCTAssertEqual(t.sent().filter { $0.seq &- next < 6000 }.count, 0)
        XCTAssertEqual(t.host.counters.tcpRetransmissions, 2)
        ackFor(next &+ 7000, [])
        XCTAssertFalse(connection.inRecovery)
        XCTAssertTrue(connection.scoreboard.isEmpty)
    }
}
