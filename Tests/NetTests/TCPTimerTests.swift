// RFC 6298 arithmetic and its use: the estimator's formulas, clamping and
// backoff; exact retransmission times of data on a dead link; Karn's rule;
// RFC 6528 initial sequence numbers.

@testable import Net
import TestSupport
import XCTest

final class TCPTimerTests: XCTestCase {
    func testEstimatorFollowsRFC6298() {
        var rto = RTOEstimator(initial: second, minimum: 200 * millisecond, maximum: 60 * second)
        XCTAssertEqual(rto.timeout, second)
        rto.sample(100 * millisecond)
        XCTAssertEqual(rto.smoothed, 100 * millisecond)
        XCTAssertEqual(rto.variation, 50 * millisecond)
        XCTAssertEqual(rto.timeout, 300 * millisecond, "SRTT + 4 RTTVAR")
        rto.sample(50 * millisecond)
        XCTAssertEqual(rto.variation, 50 * millisecond, "3/4 * 50 + 1/4 * 50")
        XCTAssertEqual(rto.smoothed, 93_750_000, "7/8 * 100 + 1/8 * 50")
        XCTAssertEqual(rto.timeout, 293_750_000)
        for _ in 0..<20 { rto.sample(millisecond) }
        XCTAssertEqual(rto.timeout, 200 * millisecond, "clamped to the minimum")
        for _ in 0..<10 { rto.backOff() }
        XCTAssertEqual(rto.timeout, 60 * second, "backoff stops at the maximum")
        var standard = RTOEstimator(initial: second, minimum: second, maximum: 60 * second)
        standard.sample(10 * millisecond)
        XCTAssertEqual(standard.timeout, second, "RFC 6298's 1 s floor by default")
    }

    func testDataRetransmissionBacksOffExactlyAndKarnSkipsRetransmittedSamples() throws {
        let t = TCPPeer()
        let listener = try t.host.listen(port: 80)
        t.send(to: 80, seq: 1000, flags: Flag.syn)
        let synAck = try XCTUnwrap(t.sent().first)
        t.now = 100 * millisecond  // the handshake's round trip: RTO = 100 + 4 * 50 = 300 ms
        t.send(to: 80, seq: 1001, ack: synAck.seq &+ 1, flags: Flag.ack)
        let connection = try XCTUnwrap(listener.accept())
        XCTAssertEqual(connection.rto.timeout, 300 * millisecond)
        connection.send(Array(repeating: 7, count: 10))
        XCTAssertEqual(t.advance(to: second).map(\.data.count), [10])
        var times: [UInt64] = []
        var time = second
        while times.count < 4 {
            time = try XCTUnwrap(t.host.poll(now: time))
            let out = t.advance(to: time)
            XCTAssertEqual(out.count, 1)
            XCTAssertEqual(out.first?.seq, synAck.seq &+ 1, "the same segment again")
            times.append(time / millisecond)
        }
        XCTAssertEqual(times, [1300, 1900, 3100, 5500], "300 ms doubled each time")
        XCTAssertEqual(t.host.counters.tcpRetransmissions, 4)
        // Karn: the ACK of a retransmitted segment gives no sample; the backed-off RTO stays.
        t.now = 5600 * millisecond
        t.send(to: 80, seq: 1001, ack: synAck.seq &+ 11, flags: Flag.ack)
        XCTAssertEqual(connection.rto.smoothed, 100 * millisecond)
        XCTAssertEqual(connection.rto.timeout, 4800 * millisecond)
        XCTAssertNil(connection.retransmitDeadline, "everything acknowledged")
        // New data is timed again, and its sample ends the backoff.
        connection.send([1])
        _ = t.advance(to: 6 * second)
        t.now = 6 * second + 50 * millisecond
        t.send(to: 80, seq: 1001, ack: synAck.seq &+ 12, flags: Flag.ack)
        XCTAssertEqual(connection.rto.timeout, 293_750_000)
    }

    func testDataRetriesRunOutAsTimedOut() throws {
        var settings = fastSettings()
        settings.dataRetries = 3
        let t = TCPPeer(settings: settings)
        let listener = try t.host.listen(port: 80)
        t.send(to: 80, seq: 1000, flags: Flag.syn)
        let synAck = try XCTUnwrap(t.sent().first)
        t.send(to: 80, seq: 1001, ack: synAck.seq &+ 1, flags: Flag.ack)
        let connection = try XCTUnwrap(listener.accept())
        connection.send([1, 2, 3])
        var time: UInt64 = 0
        while connection.state != .closed, let next = t.host.poll(now: time), next < 100 * second {
            time = next
            _ = t.advance(to: time)
        }
        XCTAssertEqual(connection.error, .timedOut)
        XCTAssertEqual(t.host.counters.tcpRetransmissions, 3)
    }

    func testEstablishedKeepAliveProbesIdleConnectionAndGivesUp() throws {
        var settings = fastSettings()
        settings.keepAliveIdle = 10 * second
        settings.keepAliveInterval = second
        settings.keepAliveProbes = 3
        let t = TCPPeer(settings: settings)
        let listener = try t.host.listen(port: 80)
        t.send(to: 80, seq: 1000, flags: Flag.syn)
        let synAck = try XCTUnwrap(t.sent().first)
        t.send(to: 80, seq: 1001, ack: synAck.seq &+ 1, flags: Flag.ack)
        let connection = try XCTUnwrap(listener.accept())
        connection.keepAlive = true
        XCTAssertTrue(t.advance(to: millisecond).isEmpty)
        var probes: [UInt64] = []
        var resets = 0
        var time = millisecond
        while connection.state != .closed, let next = t.host.poll(now: time), next < 100 * second {
            time = next
            let out = t.advance(to: time)
            resets += out.filter { $0.flags == .rst }.count
            for segment in out where segment.flags == .ack {
                XCTAssertEqual(segment.seq, synAck.seq, "one below SND.NXT")
                XCTAssertEqual(segment.data, [])
                probes.append(time / second)
                // The peer answers only the first probe.
                if probes.count == 1 { t.send(to: 80, seq: 1001, ack: synAck.seq &+ 1, flags: Flag.ack) }
            }
        }
        XCTAssertEqual(probes, [10, 20, 21, 22], "idle 10 s, then after the answer 10 s more and 1 s apart")
        XCTAssertEqual(connection.error, .timedOut)
        XCTAssertEqual(time, 23 * second)
        XCTAssertEqual(resets, 1, "the dead peer is told, should it come back")
    }

    func testInitialSequenceNumbersAreKeyedAndAdvance() {
        let generator = ISNGenerator(key0: 1, key1: 2)
        let other = ISNGenerator(key0: 1, key1: 3)
        let a = IPv4Endpoint(address: ip("10.0.0.1"), port: 50000)
        let b = IPv4Endpoint(address: ip("10.0.0.2"), port: 80)
        let c = IPv4Endpoint(address: ip("10.0.0.2"), port: 81)
        let first = generator.isn(local: a, remote: b, now: 0)
        XCTAssertEqual(generator.isn(local: a, remote: b, now: 4000 * 1000), first &+ 1000, "the 4 us clock")
        XCTAssertNotEqual(generator.isn(local: a, remote: c, now: 0), first, "another connection, another offset")
        XCTAssertNotEqual(other.isn(local: a, remote: b, now: 0), first, "another key, another offset")
        // SipHash-2-4's published test vector: key 00..0f, message 00..0f.
        XCTAssertEqual(ISNGenerator.sipHash(0x0706_0504_0302_0100, 0x0f0e_0d0c_0b0a_0908,
                                            0x0706_0504_0302_0100, 0x0f0e_0d0c_0b0a_0908), 0x3f2a_cc7f_57c2_9bdb)
    }
}
