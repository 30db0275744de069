// Data transfer rules against a scripted peer and between two stacks:
// delayed ACKs, Nagle (and noDelay), out-of-order reassembly, the receive
// window closing and reopening, zero-window probes with backoff, and the
// receive API's nil / [] (end of stream) distinction.

@testable import Net
import TestSupport
import XCTest

final class TCPDataTests: XCTestCase {
    /// A passive open; the handshake ACK at `now` carries `window`.
    func passive(_ t: TCPPeer, window: UInt16 = 65535) throws -> (TCPConnection, UInt32) {
        try t.passiveOpen(options: [2, 4, 0x05, 0xb4], window: window)
    }

    func testEstablishedDataIsAckedAfterTheDelayOrEverySecondSegment() throws {
        let t = TCPPeer()
        let (connection, next) = try passive(t)
        t.send(to: 80, seq: 1001, ack: next, flags: Flag.ack, Array(repeating: 1, count: 100))
        XCTAssertTrue(t.sent().isEmpty, "one segment: the ACK waits")
        XCTAssertEqual(t.host.poll(now: 0), 40 * millisecond)
        XCTAssertTrue(t.advance(to: 39 * millisecond).isEmpty)
        let delayed = t.advance(to: 40 * millisecond)
        XCTAssertEqual(delayed.map(\.ack), [1101])
        t.send(to: 80, seq: 1101, ack: next, flags: Flag.ack, Array(repeating: 2, count: 100))
        XCTAssertTrue(t.sent().isEmpty)
        t.send(to: 80, seq: 1201, ack: next, flags: Flag.ack, Array(repeating: 3, count: 100))
        XCTAssertTrue(t.sent().isEmpty, "a burst's ACK waits for the end of the batch (the next poll)")
        XCTAssertEqual(t.advance(to: t.now).map(\.ack), [1301], "the second segment is acknowledged at the next poll")
        XCTAssertEqual(connection.receive(), Array(repeating: 1, count: 100) + Array(repeating: 2, count: 100)
                       + Array(repeating: 3, count: 100))
        XCTAssertNil(connection.receive(), "nothing yet, not the end")
    }

    func testEstablishedOutOfOrderIsAckedAtOnceAndReassembled() throws {
        let t = TCPPeer()
        let (connection, next) = try passive(t)
        t.send(to: 80, seq: 1101, ack: next, flags: Flag.ack, Array(repeating: 2, count: 100))
        XCTAssertEqual(t.sent().map(\.ack), [1001], "a duplicate ACK for the hole")
        XCTAssertNil(connection.receive())
        t.send(to: 80, seq: 1001, ack: next, flags: Flag.ack, Array(repeating: 1, count: 100))
        XCTAssertEqual(t.sent().map(\.ack), [1201], "the hole filled: acknowledged at once")
        // A duplicate and a partly new segment: only the new part counts.
        t.send(to: 80, seq: 1151, ack: next, flags: Flag.ack, Array(repeating: 2, count: 50) + [3, 3])
        XCTAssertEqual(t.sent().map(\.ack), [1203])
        XCTAssertEqual(connection.receive(), Array(repeating: 1, count: 100) + Array(repeating: 2, count: 100) + [3, 3])
        t.send(to: 80, seq: 1203, ack: next, flags: Flag.fin | Flag.ack)
        XCTAssertEqual(connection.receive(), [], "end of stream after the FIN")
    }

    func testNagleHoldsSmallSegmentsUntilAcknowledged() throws {
        let t = TCPPeer()
        let (connection, next) = try passive(t)
        connection.send([1])
        XCTAssertEqual(t.advance(to: millisecond).map(\.data), [[1]], "nothing in flight: goes at once")
        connection.send([2, 3])
        XCTAssertTrue(t.advance(to: 2 * millisecond).isEmpty, "held while [1] is unacknowledged")
        connection.send([4])
        t.send(to: 80, seq: 1001, ack: next &+ 1, flags: Flag.ack)
        XCTAssertEqual(t.sent().map(\.data), [[2, 3, 4]], "sent together once acknowledged")
        connection.noDelay = true
        connection.send([5])
        XCTAssertEqual(t.advance(to: 3 * millisecond).map(\.data), [[5]], "noDelay: no waiting")
        // Full segments are never held.
        connection.noDelay = false
        connection.send(Array(repeating: 9, count: 1460 * 2 + 10))
        XCTAssertEqual(t.advance(to: 4 * millisecond).map(\.data.count), [1460, 1460])
    }

    func testEstablishedZeroWindowIsProbedWithBackoffUntilItOpens() throws {
        let t = TCPPeer()
        let (connection, next) = try passive(t, window: 0)
        XCTAssertEqual(connection.rto.timeout, 200 * millisecond)
        connection.send(Array(repeating: 5, count: 100))
        XCTAssertTrue(t.advance(to: second).isEmpty, "the window is closed")
        var probes: [UInt64] = []
        var time = second
        while probes.count < 4 {
            time = try XCTUnwrap(t.host.poll(now: time))
            let out = t.advance(to: time)
            XCTAssertEqual(out.map(\.data.count), [1])
            XCTAssertEqual(out.first?.seq, next)
            probes.append(time / millisecond)
            t.send(to: 80, seq: 1001, ack: next, flags: Flag.ack, window: 0)  // still closed
        }
        XCTAssertEqual(probes, [1200, 1600, 2400, 4000], "persist intervals double from the RTO")
        XCTAssertEqual(t.host.counters.tcpWindowProbes, 4)
        XCTAssertEqual(connection.state, .established, "probes never give up while answered")
        t.send(to: 80, seq: 1001, ack: next, flags: Flag.ack, window: 1000)
        let out = t.sent()
        XCTAssertEqual(out.map(\.data.count), [100])
        XCTAssertEqual(out.first?.seq, next)
        XCTAssertNil(connection.persistDeadline)
    }

    func testReceiverWindowClosesAndReopens() throws {
        var settings = fastSettings()
        settings.receiveBuffer = 1000
        let t = TCPPeer(settings: settings)
        let (connection, next) = try passive(t)
        t.send(to: 80, seq: 1001, ack: next, flags: Flag.ack, Array(repeating: 1, count: 600))
        t.send(to: 80, seq: 1601, ack: next, flags: Flag.ack, Array(repeating: 2, count: 400))
        let full = try XCTUnwrap(t.advance(to: t.now).last)
        XCTAssertEqual(full.ack, 2001)
        XCTAssertEqual(full.header.window, 0)
        // A probe into the closed window is refused and answered with the window.
        t.send(to: 80, seq: 2001, ack: next, flags: Flag.ack, [3])
        let answer = try XCTUnwrap(t.sent().first)
        XCTAssertEqual(answer.ack, 2001)
        XCTAssertEqual(answer.header.window, 0)
        // Reading a little does not reopen a silly window; reading half does, with an update.
        XCTAssertEqual(connection.receive(capacity: 100)?.count, 100)
        XCTAssertTrue(t.advance(to: millisecond).isEmpty)
        XCTAssertEqual(connection.receive(capacity: 500)?.count, 500)
        let update = try XCTUnwrap(t.advance(to: 2 * millisecond).first)
        XCTAssertEqual(update.ack, 2001)
        XCTAssertEqual(update.header.window, 600)
    }

    func testZeroWindowBetweenTwoStacksRecovers() throws {
        var settings = fastSettings()
        settings.receiveBuffer = 8192
        var limits = InterfaceLimits()
        limits.tcp = settings
        let a = makeInterface(mac: macA, address: "10.0.0.1", limits: limits)
        let b = makeInterface(mac: macB, address: "10.0.0.2", limits: limits)
        let link = SimulatedLink(a, b)
        let listener = try b.listen(port: 80)
        let client = try a.connect(to: IPv4Endpoint(address: b.address, port: 80), now: 0)
        var accepted: TCPConnection?
        XCTAssertTrue(link.run { accepted = accepted ?? listener.accept(); return accepted != nil })
        let server = try XCTUnwrap(accepted)
        let data = (0..<40_000).map { UInt8(truncatingIfNeeded: $0 * 7) }
        var sent = 0
        // The server does not read: the window closes and the client probes.
        link.run(steps: 300) {
            sent += data[sent...].withUnsafeBytes { client.send($0) }
            return false
        }
        XCTAssertEqual(server.available, 8192)
        XCTAssertEqual(client.sndWnd, 0)
        XCTAssertGreaterThan(a.counters.tcpWindowProbes, 2)
        var got: [UInt8] = []
        XCTAssertTrue(link.run(steps: 2000) {
            sent += data[sent...].withUnsafeBytes { client.send($0) }
            while let bytes = server.receive(capacity: 3000), !bytes.isEmpty { got += bytes }
            return got.count == data.count
        })
        XCTAssertEqual(got, data)
    }
}
