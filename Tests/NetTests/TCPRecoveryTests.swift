// RACK-TLP (RFC 8985, TCPRecovery.swift) against a scripted peer and over a
// lossy simulated link: a lost retransmission and a loss with one segment
// SACKed above it are found by RACK after rtt + reo_wnd, reordering within
// reo_wnd is not mistaken for loss, a tail loss is found by the probe long
// before the RTO, and a lossy bulk transfer spends far less simulated time
// waiting for timeouts than without RACK-TLP.

@testable import Net
import TestSupport
import XCTest

final class TCPRecoveryTests: XCTestCase {
    /// A passive open with SACK-permitted and MSS 500 (no timestamps).
    func passive(_ t: TCPPeer) throws -> (TCPConnection, UInt32) {
        try t.passiveOpen(options: [2, 4, 0x01, 0xf4, 4, 2])
    }

    /// The peer acknowledges `value` (relative to `next`) with SACK blocks (relative too).
    func ack(_ t: TCPPeer, _ next: UInt32, _ value: UInt32, _ sacked: [(UInt32, UInt32)] = []) {
        let option: [UInt8] = sacked.isEmpty ? []
            : [1, 1, 5, UInt8(2 + 8 * sacked.count)] + sacked.flatMap { be32(next &+ $0.0) + be32(next &+ $0.1) }
        t.send(to: 80, seq: 1001, ack: next &+ value, flags: Flag.ack, options: option)
    }

    func sent(_ t: TCPPeer, _ next: UInt32) -> [UInt32] { t.sent().filter { !$0.data.isEmpty }.map { $0.seq &- next } }

    /// Opens a connection and gets an RTT sample of `rtt` (min_RTT, SRTT) with one segment.
    func warmed(_ t: TCPPeer, rtt: UInt64) throws -> (TCPConnection, UInt32) {
        let (connection, next) = try passive(t)
        connection.send(Array(repeating: 1, count: 500))
        XCTAssertEqual(t.advance(to: t.now).map { $0.seq &- next }, [0])
        t.now += rtt
        ack(t, next, 500)
        return (connection, next &+ 500)
    }

    func testLossWithOneSegmentSACKedAboveIsFoundAfterRTTAndReorderingWindow() throws {
        let t = TCPPeer()
        t.now = 100 * millisecond
        let (connection, next) = try warmed(t, rtt: 20 * millisecond)
        XCTAssertTrue(connection.rackOn)
        connection.send(Array(repeating: 1, count: 1000))
        _ = t.advance(to: 130 * millisecond)  // two segments: 0 is lost, 500 arrives
        // One SACKed segment is no duplicate-ACK loss; RACK waits rtt + min_RTT/4 = 25 ms from the send.
        t.now = 150 * millisecond
        ack(t, next, 0, [(500, 1000)])
        XCTAssertEqual(sent(t, next), [])
        // reo_wnd = min(min_RTT / 4, SRTT); SRTT is 2.5 ms here (the handshake's RTT was 0).
        let due = 130 * millisecond + 20 * millisecond + min(5 * millisecond, try XCTUnwrap(connection.rto.smoothed))
        XCTAssertEqual(connection.rack.reorderDeadline, due)
        XCTAssertEqual(connection.deadline, due)
        XCTAssertTrue(t.advance(to: due - 1).isEmpty)
        XCTAssertEqual(t.advance(to: due).map { $0.seq &- next }, [0], "RACK's reordering timer")
        XCTAssertTrue(connection.inRecovery)
        XCTAssertEqual(connection.rack.timeouts, 0)
        ack(t, next, 1000)
        XCTAssertFalse(connection.inRecovery)
    }

    func testReorderingWithinTheWindowIsNoLoss() throws {
        let t = TCPPeer()
        t.now = 100 * millisecond
        let (connection, next) = try warmed(t, rtt: 20 * millisecond)
        connection.send(Array(repeating: 1, count: 1000))
        _ = t.advance(to: 130 * millisecond)
        t.now = 150 * millisecond
        ack(t, next, 0, [(500, 1000)])
        // The first segment was only late: it arrives before the reordering window ends.
        t.now = 153 * millisecond
        ack(t, next, 1000)
        XCTAssertNil(connection.rack.reorderDeadline)
        XCTAssertTrue(t.advance(to: 160 * millisecond).isEmpty)
        XCTAssertEqual(t.host.counters.tcpRetransmissions, 0)
        XCTAssertFalse(connection.inRecovery)
        XCTAssertTrue(connection.rack.reordering, "seen: a later segment arrived first")
    }

    func testLostRetransmissionIsResentWithoutTimeout() throws {
        let t = TCPPeer()
        t.now = 100 * millisecond
        let (connection, next) = try warmed(t, rtt: 20 * millisecond)
        connection.send(Array(repeating: 1, count: 10_000))
        // Slow start from 2500 bytes: five segments at 130 ms; the first is lost.
        XCTAssertEqual(t.advance(to: 130 * millisecond).map { $0.seq &- next }, [0, 500, 1000, 1500, 2000])
        t.now = 150 * millisecond
        ack(t, next, 0, [(500, 1000)])
        ack(t, next, 0, [(500, 1500)])
        ack(t, next, 0, [(500, 2000)])  // three SACKed above: fast retransmit
        XCTAssertEqual(sent(t, next).filter { $0 < 2500 }, [0])
        XCTAssertTrue(connection.inRecovery)
        // A further duplicate: the window lets new data out after the retransmission.
        ack(t, next, 0, [(500, 2500)])
        _ = t.sent()
        // The retransmission is lost; data sent after it arrives: RACK sees the retransmission
        // lost once rtt + reo_wnd (1 ms in recovery) has passed since it went.
        t.now = 171 * millisecond
        ack(t, next, 0, [(500, 3000)])
        let retry = try XCTUnwrap(connection.rack.reorderDeadline)
        XCTAssertLessThan(retry, 175 * millisecond)
        XCTAssertTrue(t.advance(to: retry).filter { !$0.data.isEmpty }.map { $0.seq &- next }.contains(0),
                      "the lost retransmission, again")
        XCTAssertLessThan(t.now, 180 * millisecond)
        XCTAssertEqual(connection.rack.timeouts, 0)
        XCTAssertEqual(t.host.counters.tcpRetransmissions, 2)
        XCTAssertTrue(connection.inRecovery)
    }

    func testTailLossIsProbedLongBeforeTheTimeout() throws {
        let t = TCPPeer()
        t.now = 100 * millisecond
        let (connection, next) = try warmed(t, rtt: 2 * millisecond)
        connection.send(Array(repeating: 1, count: 2000))
        XCTAssertEqual(t.advance(to: 110 * millisecond).map { $0.seq &- next }, [0, 500, 1000, 1500])
        // The first two arrive, the last two (the tail) are lost: no more ACKs come.
        t.now = 112 * millisecond
        ack(t, next, 1000)
        // PTO: 2 SRTT, at least 10 ms - long before the 200 ms RTO.
        let probeAt = try XCTUnwrap(connection.rack.probeDeadline)
        XCTAssertEqual(probeAt, 122 * millisecond)
        XCTAssertLessThan(probeAt, try XCTUnwrap(connection.retransmitDeadline))
        XCTAssertEqual(t.advance(to: probeAt).map { $0.seq &- next }, [1500], "the last segment again")
        XCTAssertEqual(connection.rack.probes, 1)
        XCTAssertNil(connection.rack.probeDeadline, "one probe per flight")
        // Its SACK shows 1000 lost: RACK resends it at once (the probe was sent long after it).
        t.now = 124 * millisecond
        ack(t, next, 1000, [(1500, 2000)])
        XCTAssertEqual(sent(t, next), [1000])
        ack(t, next, 2000)
        XCTAssertEqual(connection.unacknowledged, 0)
        XCTAssertEqual(connection.rack.timeouts, 0)
    }

    func testProbeSendsNewDataWhenThePeerWindowAllows() throws {
        let t = TCPPeer()
        t.now = 100 * millisecond
        let (connection, next) = try warmed(t, rtt: 2 * millisecond)
        connection.send(Array(repeating: 1, count: 5000))
        XCTAssertEqual(t.advance(to: 110 * millisecond).count, 5, "cwnd 2500")
        let probeAt = try XCTUnwrap(connection.rack.probeDeadline)
        XCTAssertEqual(t.advance(to: probeAt).map { $0.seq &- next }, [2500], "a new segment beyond cwnd")
    }

    // MARK: over a lossy link

    /// Sends 4 MiB up and 2 MiB down through 5% loss, reordering and duplication each way
    /// on a 1 ms step (an RTT of about 2 ms); returns simulated time, RTO expiries and probes.
    func lossyTransfer(rack: Bool, seed: UInt64, step: UInt64 = millisecond) throws -> (time: UInt64, timeouts: Int, probes: Int) {
        var settings = fastSettings()
        settings.rack = rack
        var limits = InterfaceLimits()
        limits.tcp = settings
        let a = makeInterface(mac: macA, address: "10.0.0.1", limits: limits)
        let b = makeInterface(mac: macB, address: "10.0.0.2", limits: limits)
        let link = SimulatedLink(a, b, faults: .init(loss: 50, duplication: 50, reordering: 50), seed: seed)
        let listener = try b.listen(port: 80)
        let client = try a.connect(to: IPv4Endpoint(address: b.address, port: 80), now: link.now)
        var server: TCPConnection?
        for _ in 0..<10_000 where server == nil || client.state != .established {
            link.step(advance: millisecond)
            server = server ?? listener.accept()
        }
        let accepted = try XCTUnwrap(server)
        let start = link.now
        let up = [UInt8](repeating: 7, count: 4 << 20), down = [UInt8](repeating: 9, count: 2 << 20)
        var upSent = 0, downSent = 0, upGot = 0, downGot = 0
        var buffer = [UInt8](repeating: 0, count: 65536)
        func drain(_ connection: TCPConnection) -> Int {
            var total = 0
            while let n = buffer.withUnsafeMutableBytes({ connection.receive(into: $0) }), n > 0 {
                XCTAssertTrue(buffer[0] == (connection === client ? 9 : 7))
                total += n
            }
            return total
        }
        for _ in 0..<200_000 {
            if upSent < up.count { upSent += up[upSent...].withUnsafeBytes { client.send($0) } }
            if downSent < down.count { downSent += down[downSent...].withUnsafeBytes { accepted.send($0) } }
            upGot += drain(accepted)
            downGot += drain(client)
            if upGot == up.count && downGot == down.count { break }
            link.step(advance: step)
        }
        XCTAssertEqual(upGot, up.count)
        XCTAssertEqual(downGot, down.count)
        XCTAssertNil(client.error)
        XCTAssertNil(accepted.error)
        return (link.now - start, client.rack.timeouts + accepted.rack.timeouts, client.rack.probes + accepted.rack.probes)
    }

    func testLossyTransferSpendsLessTimeInTimeouts() throws {
        for seed: UInt64 in [7, 8, 9] { for step in [millisecond] {
            let before = try lossyTransfer(rack: false, seed: seed, step: step)
            let after = try lossyTransfer(rack: true, seed: seed, step: step)
            print("step \(step / millisecond) ms seed \(seed): without RACK-TLP \(Double(before.time) / 1e9) s, \(before.timeouts) RTOs; "
                  + "with \(Double(after.time) / 1e9) s, \(after.timeouts) RTOs, \(after.probes) probes")
            XCTAssertLessThan(after.time * 3, before.time * 2, "at least 1.5 times faster")
            XCTAssertLessThan(after.timeouts * 2, before.timeouts)
        } }
    }
}
