// The connection state machine (RFC 9293 §3.10) against a scripted peer:
// opens (active, passive, simultaneous), closes (orderly, simultaneous,
// TIME-WAIT), RSTs for closed ports, RST and SYN acceptance with challenge
// ACKs (RFC 5961), the backlog limit, abort. Named test<State><Event>.

@testable import Net
import TestSupport
import XCTest

final class TCPStateTests: XCTestCase {
    /// A passive open on port 80 from the peer (ISN 1000, MSS 1460): the accepted connection and our next sequence number.
    func passive(_ t: TCPPeer, window: UInt16 = 65535) throws -> (TCPConnection, UInt32) {
        try t.passiveOpen(options: [2, 4, 0x05, 0xb4], window: window)
    }

    // MARK: opening

    func testListenSynSendsSynAckThenAckEstablishes() throws {
        let t = TCPPeer()
        let listener = try t.host.listen(port: 80)
        t.send(to: 80, seq: 1000, flags: Flag.syn, options: [2, 4, 0x03, 0xe8])  // MSS 1000
        let out = t.sent()
        XCTAssertEqual(out.count, 1)
        let synAck = try XCTUnwrap(out.first)
        XCTAssertEqual(synAck.flags, [.syn, .ack])
        XCTAssertEqual(synAck.ack, 1001)
        XCTAssertEqual(synAck.header.options.maximumSegmentSize, 1460)
        XCTAssertNil(listener.accept(), "not established yet")
        t.send(to: 80, seq: 1001, ack: synAck.seq &+ 1, flags: Flag.ack)
        let connection = try XCTUnwrap(listener.accept())
        XCTAssertEqual(connection.state, .established)
        XCTAssertEqual(connection.remote, t.peer)
        XCTAssertEqual(connection.sendMSS, 1000, "the peer's MSS bounds ours")
        XCTAssertTrue(t.sent().isEmpty)
    }

    func testSynSentSynAckEstablishes() throws {
        let t = TCPPeer()
        let connection = try t.host.connect(to: t.peer, now: 0)
        XCTAssertEqual(connection.state, .synSent)
        let syn = try XCTUnwrap(t.sent().first)
        XCTAssertEqual(syn.flags, .syn)
        XCTAssertEqual(syn.header.options.maximumSegmentSize, 1460)
        XCTAssertEqual(syn.header.destinationPort, 4000)
        XCTAssertTrue(TCPTable.ephemeralPorts.contains(syn.header.sourcePort))
        t.send(to: syn.header.sourcePort, seq: 5000, ack: syn.seq &+ 1, flags: Flag.syn | Flag.ack)  // no MSS: 536
        XCTAssertEqual(connection.state, .established)
        XCTAssertEqual(connection.sendMSS, 536)
        let ack = try XCTUnwrap(t.sent().first)
        XCTAssertEqual(ack.flags, .ack)
        XCTAssertEqual(ack.seq, syn.seq &+ 1)
        XCTAssertEqual(ack.ack, 5001)
    }

    func testSynSentBadAckGetsReset() throws {
        let t = TCPPeer()
        let connection = try t.host.connect(to: t.peer, now: 0)
        let syn = try XCTUnwrap(t.sent().first)
        t.send(to: syn.header.sourcePort, seq: 5000, ack: syn.seq &+ 99, flags: Flag.syn | Flag.ack)
        let reset = try XCTUnwrap(t.sent().first)
        XCTAssertEqual(reset.flags, .rst)
        XCTAssertEqual(reset.seq, syn.seq &+ 99)
        XCTAssertEqual(connection.state, .synSent, "a forged SYN-ACK does not end the attempt")
        XCTAssertEqual(t.host.drops(.tcpBadAck), 1)
    }

    func testSynSentSynIsSimultaneousOpen() throws {
        let t = TCPPeer()
        let connection = try t.host.connect(to: t.peer, from: 6000, now: 0)
        let syn = try XCTUnwrap(t.sent().first)
        t.send(to: 6000, seq: 5000, flags: Flag.syn)
        XCTAssertEqual(connection.state, .synReceived)
        let synAck = try XCTUnwrap(t.sent().first)
        XCTAssertEqual(synAck.flags, [.syn, .ack])
        XCTAssertEqual(synAck.seq, syn.seq, "the same SYN again, now with an ACK")
        XCTAssertEqual(synAck.ack, 5001)
        t.send(to: 6000, seq: 5001, ack: syn.seq &+ 1, flags: Flag.ack)
        XCTAssertEqual(connection.state, .established)
    }

    func testSimultaneousOpenBetweenTwoStacks() throws {
        var limits = InterfaceLimits()
        limits.tcp = fastSettings()
        let a = makeInterface(mac: macA, address: "10.0.0.1", limits: limits)
        let b = makeInterface(mac: macB, address: "10.0.0.2", limits: limits)
        let link = SimulatedLink(a, b)
        // Resolve ARP first so both SYNs leave in the same step and cross.
        try a.ping(b.address, id: 1, seq: 1, [], now: 0)
        link.run { a.echoReply() != nil }
        let x = try a.connect(to: IPv4Endpoint(address: b.address, port: 5000), from: 6000, now: link.now)
        let y = try b.connect(to: IPv4Endpoint(address: a.address, port: 6000), from: 5000, now: link.now)
        link.step()
        XCTAssertEqual(x.state, .synReceived)
        XCTAssertEqual(y.state, .synReceived)
        XCTAssertTrue(link.run { x.state == .established && y.state == .established })
        x.send([1, 2, 3])
        XCTAssertTrue(link.run { y.available == 3 })
    }

    func testSynReceivedDuplicateSynResendsSynAck() throws {
        let t = TCPPeer()
        _ = try t.host.listen(port: 80)
        t.send(to: 80, seq: 1000, flags: Flag.syn)
        let first = try XCTUnwrap(t.sent().first)
        t.send(to: 80, seq: 1000, flags: Flag.syn)
        let again = try XCTUnwrap(t.sent().first)
        XCTAssertEqual(again.flags, [.syn, .ack])
        XCTAssertEqual(again.seq, first.seq)
        XCTAssertEqual(t.host.tcpConnectionCount, 1)
    }

    func testSynReceivedBadAckGetsReset() throws {
        let t = TCPPeer()
        let listener = try t.host.listen(port: 80)
        t.send(to: 80, seq: 1000, flags: Flag.syn)
        let synAck = try XCTUnwrap(t.sent().first)
        t.send(to: 80, seq: 1001, ack: synAck.seq &+ 5, flags: Flag.ack)
        let reset = try XCTUnwrap(t.sent().first)
        XCTAssertEqual(reset.flags, .rst)
        XCTAssertEqual(reset.seq, synAck.seq &+ 5)
        XCTAssertNil(listener.accept())
    }

    func testListenAckGetsReset() throws {
        let t = TCPPeer()
        _ = try t.host.listen(port: 80)
        t.send(to: 80, seq: 1, ack: 777, flags: Flag.ack)
        let reset = try XCTUnwrap(t.sent().first)
        XCTAssertEqual(reset.flags, .rst)
        XCTAssertEqual(reset.seq, 777)
        t.send(to: 80, seq: 1, flags: Flag.rst)
        XCTAssertTrue(t.sent().isEmpty, "a RST is never answered")
    }

    func testListenBacklogFullDropsSyn() throws {
        let t = TCPPeer()
        let listener = try t.host.listen(port: 80, backlog: 2)
        for port: UInt16 in [4001, 4002, 4003] {
            t.send(to: 80, seq: 1000, flags: Flag.syn, from: IPv4Endpoint(address: t.peer.address, port: port))
        }
        XCTAssertEqual(t.sent().count, 2, "two SYN-ACKs; the third SYN is dropped, not reset")
        XCTAssertEqual(t.host.drops(.tcpBacklogFull), 1)
        // Once one is accepted there is room again.
        t.send(to: 80, seq: 1001, ack: t.host.tcp.connections[0].iss &+ 1, flags: Flag.ack,
               from: IPv4Endpoint(address: t.peer.address, port: 4001))
        XCTAssertNotNil(listener.accept())
        t.send(to: 80, seq: 1000, flags: Flag.syn, from: IPv4Endpoint(address: t.peer.address, port: 4003))
        XCTAssertEqual(t.sent().first?.flags, [.syn, .ack])
    }

    // MARK: closed ports and resets

    func testClosedSynGetsResetAck() throws {
        let t = TCPPeer()
        t.send(to: 81, seq: 1000, flags: Flag.syn, [1, 2, 3])
        let reset = try XCTUnwrap(t.sent().first)
        XCTAssertEqual(reset.flags, [.rst, .ack])
        XCTAssertEqual(reset.seq, 0)
        XCTAssertEqual(reset.ack, 1004, "SEG.SEQ + SEG.LEN, the SYN counted")
        t.send(to: 81, seq: 1000, ack: 42, flags: Flag.ack)
        XCTAssertEqual(t.sent().first?.seq, 42)
        XCTAssertEqual(t.host.drops(.tcpNoConnection), 2)
        XCTAssertEqual(t.host.counters.tcpResetsSent, 2)
    }

    func testSynSentResetIsRefused() throws {
        var limits = InterfaceLimits()
        limits.tcp = fastSettings()
        let a = makeInterface(mac: macA, address: "10.0.0.1", limits: limits)
        let b = makeInterface(mac: macB, address: "10.0.0.2", limits: limits)
        let link = SimulatedLink(a, b)
        let connection = try a.connect(to: IPv4Endpoint(address: b.address, port: 81), now: 0)
        XCTAssertTrue(link.run { connection.state == .closed })
        XCTAssertEqual(connection.error, .refused)
        XCTAssertEqual(connection.receive(), [], "a closed connection reads as end of stream")
        XCTAssertEqual(connection.send([1]), 0)
        _ = a.poll(now: link.now)
        XCTAssertEqual(a.tcpConnectionCount, 0)
    }

    func testEstablishedExactResetCloses() throws {
        let t = TCPPeer()
        let (connection, _) = try passive(t)
        t.send(to: 80, seq: 1001, flags: Flag.rst)
        XCTAssertEqual(connection.state, .closed)
        XCTAssertEqual(connection.error, .reset)
        XCTAssertTrue(t.sent().isEmpty)
    }

    func testEstablishedInWindowResetGetsChallengeAck() throws {
        let t = TCPPeer()
        let (connection, next) = try passive(t)
        t.send(to: 80, seq: 1500, flags: Flag.rst)
        XCTAssertEqual(connection.state, .established)
        let challenge = try XCTUnwrap(t.sent().first)
        XCTAssertEqual(challenge.flags, .ack)
        XCTAssertEqual(challenge.seq, next)
        XCTAssertEqual(challenge.ack, 1001)
        XCTAssertEqual(t.host.counters.tcpChallengeACKs, 1)
        // Out of the window entirely: silently dropped.
        t.send(to: 80, seq: 1001 &+ 200_000, flags: Flag.rst)
        XCTAssertTrue(t.sent().isEmpty)
        XCTAssertEqual(connection.state, .established)
        // The real peer answers the challenge with the exact sequence number.
        t.send(to: 80, seq: challenge.ack, flags: Flag.rst)
        XCTAssertEqual(connection.error, .reset)
    }

    func testEstablishedSynGetsChallengeAck() throws {
        let t = TCPPeer()
        let (connection, next) = try passive(t)
        t.send(to: 80, seq: 1200, flags: Flag.syn)
        XCTAssertEqual(connection.state, .established, "a SYN never resets (RFC 5961 §4)")
        let challenge = try XCTUnwrap(t.sent().first)
        XCTAssertEqual(challenge.flags, .ack)
        XCTAssertEqual(challenge.seq, next)
        XCTAssertEqual(t.host.drops(.tcpChallenged), 1)
    }

    func testChallengeAcksAreRateLimited() throws {
        var settings = fastSettings()
        settings.challengeACKsPerSecond = 3
        let t = TCPPeer(settings: settings)
        _ = try passive(t)
        for i in 0..<10 { t.send(to: 80, seq: 1100 + UInt32(i), flags: Flag.rst) }
        XCTAssertEqual(t.sent().count, 3)
        XCTAssertEqual(t.host.drops(.tcpChallengeRateLimited), 7)
    }

    func testEstablishedAckOfUnsentDataIsAnsweredAndDropped() throws {
        let t = TCPPeer()
        let (connection, next) = try passive(t)
        t.send(to: 80, seq: 1001, ack: next &+ 10, flags: Flag.ack, [1, 2])
        XCTAssertEqual(connection.available, 0, "dropped with its data")
        let ack = try XCTUnwrap(t.sent().first)
        XCTAssertEqual(ack.ack, 1001)
        XCTAssertEqual(t.host.drops(.tcpBadAck), 1)
    }

    func testEstablishedOutOfWindowBareAcksAreAnsweredAtALimitedRate() throws {
        let t = TCPPeer()
        let (_, next) = try passive(t)
        // A keep-alive style probe (one below RCV.NXT) is answered...
        t.send(to: 80, seq: 1000, ack: next, flags: Flag.ack)
        XCTAssertEqual(t.sent().map(\.ack), [1001])
        // ...but not again within 500 ms, so two stacks cannot ping-pong ACKs.
        t.now = 100 * millisecond
        t.send(to: 80, seq: 1000, ack: next, flags: Flag.ack)
        XCTAssertTrue(t.sent().isEmpty)
        t.now = 600 * millisecond
        t.send(to: 80, seq: 1000, ack: next, flags: Flag.ack)
        XCTAssertEqual(t.sent().count, 1)
        // Old data is always answered: the peer needs that ACK to move on.
        t.send(to: 80, seq: 901, ack: next, flags: Flag.ack, Array(repeating: 0, count: 100))
        XCTAssertEqual(t.sent().map(\.ack), [1001])
    }

    func testEstablishedAbortSendsReset() throws {
        let t = TCPPeer()
        let (connection, next) = try passive(t)
        connection.abort()
        XCTAssertEqual(connection.state, .closed)
        XCTAssertEqual(connection.error, .aborted)
        let reset = try XCTUnwrap(t.advance(to: 1).first)
        XCTAssertEqual(reset.flags, .rst)
        XCTAssertEqual(reset.seq, next)
        XCTAssertEqual(t.host.tcpConnectionCount, 0)
    }

    // MARK: closing

    func testCloseWaitAndLastAck() throws {
        let t = TCPPeer()
        let (connection, next) = try passive(t)
        t.send(to: 80, seq: 1001, ack: next, flags: Flag.fin | Flag.ack)
        XCTAssertEqual(connection.state, .closeWait)
        XCTAssertEqual(t.sent().first?.ack, 1002, "the FIN is acknowledged at once")
        XCTAssertEqual(connection.receive(), [])
        connection.close()
        XCTAssertEqual(connection.state, .lastAck)
        let fin = try XCTUnwrap(t.advance(to: 1).first)
        XCTAssertEqual(fin.flags, [.fin, .ack])
        XCTAssertEqual(fin.seq, next)
        t.send(to: 80, seq: 1002, ack: next &+ 1, flags: Flag.ack)
        XCTAssertEqual(connection.state, .closed)
        XCTAssertNil(connection.error)
    }

    func testFinWaitToTimeWaitExpiresAfterTwoMSL() throws {
        let t = TCPPeer()
        let (connection, next) = try passive(t)
        connection.close()
        XCTAssertEqual(connection.state, .finWait1)
        XCTAssertEqual(t.advance(to: 1).first?.flags, [.fin, .ack])
        t.send(to: 80, seq: 1001, ack: next &+ 1, flags: Flag.ack)
        XCTAssertEqual(connection.state, .finWait2)
        t.now = 100 * millisecond
        t.send(to: 80, seq: 1001, ack: next &+ 1, flags: Flag.fin | Flag.ack)
        XCTAssertEqual(connection.state, .timeWait)
        XCTAssertEqual(t.sent().first?.ack, 1002)
        // A repeated FIN is acknowledged again.
        t.send(to: 80, seq: 1001, ack: next &+ 1, flags: Flag.fin | Flag.ack)
        XCTAssertEqual(t.sent().first?.ack, 1002)
        XCTAssertEqual(t.host.poll(now: t.now), 100 * millisecond + second, "TIME-WAIT's deadline")
        _ = t.advance(to: 100 * millisecond + second - 1)
        XCTAssertEqual(connection.state, .timeWait)
        _ = t.advance(to: 100 * millisecond + second)
        XCTAssertEqual(connection.state, .closed)
        XCTAssertNil(connection.error)
        XCTAssertEqual(t.host.tcpConnectionCount, 0)
    }

    func testFinWait1FinIsSimultaneousClose() throws {
        let t = TCPPeer()
        let (connection, next) = try passive(t)
        connection.close()
        _ = t.advance(to: 1)
        // The peer's FIN crosses ours: it does not acknowledge our FIN yet.
        t.send(to: 80, seq: 1001, ack: next, flags: Flag.fin | Flag.ack)
        XCTAssertEqual(connection.state, .closing)
        t.send(to: 80, seq: 1002, ack: next &+ 1, flags: Flag.ack)
        XCTAssertEqual(connection.state, .timeWait)
    }

    func testSimultaneousCloseBetweenTwoStacks() throws {
        var limits = InterfaceLimits()
        limits.tcp = fastSettings()
        let a = makeInterface(mac: macA, address: "10.0.0.1", limits: limits)
        let b = makeInterface(mac: macB, address: "10.0.0.2", limits: limits)
        let link = SimulatedLink(a, b)
        let listener = try b.listen(port: 80)
        let x = try a.connect(to: IPv4Endpoint(address: b.address, port: 80), now: 0)
        var y: TCPConnection?
        XCTAssertTrue(link.run { y = y ?? listener.accept(); return y != nil && x.state == .established })
        let server = try XCTUnwrap(y)
        x.close()
        server.close()
        link.step()
        XCTAssertEqual(x.state, .closing)
        XCTAssertEqual(server.state, .closing)
        XCTAssertTrue(link.run { x.state == .timeWait && server.state == .timeWait })
        XCTAssertTrue(link.run(steps: 200) { x.state == .closed && server.state == .closed })
        XCTAssertNil(x.error)
        XCTAssertNil(server.error)
    }

    func testSynSentRetriesRunOutAsTimedOut() throws {
        let t = TCPPeer()
        let connection = try t.host.connect(to: t.peer, now: 0)
        var times: [UInt64] = []
        var time: UInt64 = 0
        while connection.state != .closed && time < 200 * second {
            time = t.host.poll(now: time) ?? 200 * second
            if t.advance(to: time).contains(where: { $0.flags == .syn }) { times.append(time / millisecond) }
        }
        // Initial RTO 1 s, doubled each time (RFC 6298 §5.5): 1, 3, 7, 15, 31, 63 s; the next
        // timeout is capped at the 60 s maximum, and at 123 s the seventh expiry gives up.
        XCTAssertEqual(times, [1000, 3000, 7000, 15000, 31000, 63000])
        XCTAssertEqual(connection.error, .timedOut)
        XCTAssertEqual(time, 123 * second)
    }

    // MARK: robustness

    func testRandomSegmentsNeverTrap() throws {
        // Well-formed segments (valid checksums) with random fields against every state the
        // connection wanders into: nothing may trap, and the stack keeps working afterwards.
        var random = SplitMix64(seed: 2024)
        for round in 0..<20 {
            let t = TCPPeer()
            let (connection, next) = try passive(t)
            connection.send(Array(repeating: 7, count: 3000))
            if round % 3 == 0 { connection.close() }
            for step in 0..<500 {
                let near = random.below(2) == 0
                let seq = near ? 1001 &+ UInt32(random.below(200_000)) &- 100_000 : UInt32(truncatingIfNeeded: random.next())
                let ack = near ? next &+ UInt32(random.below(8000)) &- 4000 : UInt32(truncatingIfNeeded: random.next())
                let optionKinds: [[UInt8]] = [[], [2, 4, 0, 1], [3, 3, 14], [4, 2], [8, 10, 0, 0, 0, 1, 0, 0, 0, 0],
                                              [5, 10, 0, 0, 0, 1, 0, 0, 0, 9], timestampOption(UInt32(step), 0)]
                t.send(to: 80, seq: seq, ack: ack, flags: UInt8(random.below(64)),
                       window: UInt16(truncatingIfNeeded: random.next()),
                       options: optionKinds[random.below(optionKinds.count)],
                       Array(repeating: 1, count: random.below(3) == 0 ? random.below(1400) : 0))
                if step % 50 == 0 { _ = t.advance(to: t.now + UInt64(random.below(3000)) * millisecond) }
                _ = connection.receive()
                _ = t.sent()
            }
            _ = t.advance(to: t.now + 1000 * second)
            XCTAssertEqual(t.host.counters.framesReceived, 500 + 3, "round \(round)")
        }
        let t = TCPPeer()
        XCTAssertNotNil(try passive(t).0)
    }
}
