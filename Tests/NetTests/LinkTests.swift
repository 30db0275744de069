// Two interfaces back to back through SimulatedLink: ping, UDP of many sizes
// (fragmented on send above the MTU), port unreachable, and the same traffic
// under seeded loss, reordering, duplication and corruption, where whatever
// arrives must be intact and corrupted frames must be caught by checksums.

@testable import Net
import TestSupport
import XCTest

final class LinkTests: XCTestCase {
    func pair(mtu: Int = 1500, limits: InterfaceLimits = InterfaceLimits()) -> (Interface, Interface) {
        (makeInterface(mac: macA, address: "10.0.0.1", mtu: mtu, limits: limits),
         makeInterface(mac: macB, address: "10.0.0.2", mtu: mtu, limits: limits))
    }

    /// A payload that names itself: 4 bytes of index, 4 of length, then a pattern from both.
    func payload(_ index: Int, _ length: Int) -> [UInt8] {
        var random = SplitMix64(seed: UInt64(index) &* 0x9e37 &+ UInt64(length))
        var bytes = (0..<length).map { _ in UInt8(truncatingIfNeeded: random.next()) }
        for i in 0..<min(4, length) { bytes[i] = UInt8(truncatingIfNeeded: index >> (8 * i)) }
        return bytes
    }

    func testPing() throws {
        let (a, b) = pair()
        let link = SimulatedLink(a, b)
        let data: [UInt8] = Array("swiftlet ping".utf8)
        try a.ping(b.address, id: 0x77, seq: 1, data, now: link.now)
        var reply: (EchoReply, [UInt8])?
        XCTAssertTrue(link.run { reply = reply ?? a.echoReply(); return reply != nil })
        XCTAssertEqual(reply?.0, EchoReply(source: b.address, identifier: 0x77, sequence: 1, length: data.count))
        XCTAssertEqual(reply?.1, data)
        XCTAssertEqual(b.counters.echoRequestsAnswered, 1)
        // b learned a from the request (RFC 826: it was the target), so its reply needed no ARP of its own.
        XCTAssertEqual(b.counters.arpRequestsSent, 0)
        // A big ping crosses as fragments both ways.
        let big = payload(9, 4000)
        try a.ping(b.address, id: 0x77, seq: 2, big, now: link.now)
        reply = nil
        XCTAssertTrue(link.run { reply = reply ?? a.echoReply(); return reply != nil })
        XCTAssertEqual(reply?.1, big)
        XCTAssertEqual(b.counters.datagramsReassembled, 1)
        XCTAssertEqual(a.counters.datagramsReassembled, 1)
    }

    func testUDPManySizesArriveIntact() throws {
        let (a, b) = pair()
        let link = SimulatedLink(a, b)
        let sender = try a.bindUDP()
        let receiver = try b.bindUDP(port: 9000)
        let sizes = [0, 1, 2, 7, 8, 17, 100, 1471, 1472, 1473, 1480, 2000, 2952, 2953, 8000, 30000, 65507]
        let destination = IPv4Endpoint(address: b.address, port: 9000)
        for (index, size) in sizes.enumerated() {
            try a.send(sender, to: destination, payload(index, size), now: link.now)
            var got: (UDPReceived, [UInt8])?
            XCTAssertTrue(link.run { got = got ?? receiver.receive(); return got != nil }, "size \(size)")
            XCTAssertEqual(got?.1, payload(index, size), "size \(size)")
            XCTAssertEqual(got?.0.source, IPv4Endpoint(address: a.address, port: sender.port))
        }
        // 1472 fits one 1500-byte frame, 1473 needs two fragments.
        XCTAssertGreaterThan(a.counters.fragmentsSent, 0)
        XCTAssertThrowsError(try a.send(sender, to: destination, payload(0, 65508), now: link.now)) {
            XCTAssertEqual($0 as? SendError, .messageTooLong)
        }
        XCTAssertEqual(b.counters.drops.total, 0)
    }

    func testSmallMTUFragments() throws {
        let (a, b) = pair(mtu: 68)
        let link = SimulatedLink(a, b)
        let sender = try a.bindUDP()
        let receiver = try b.bindUDP(port: 1)
        let data = payload(1, 1000)
        // 21 fragments cannot all wait for ARP (16 slots): refused, but resolution starts.
        XCTAssertThrowsError(try a.send(sender, to: IPv4Endpoint(address: b.address, port: 1), data, now: 0)) {
            XCTAssertEqual($0 as? SendError, .queueFull)
        }
        XCTAssertTrue(link.run { a.arp.lookup(b.address, now: link.now) != nil })
        try a.send(sender, to: IPv4Endpoint(address: b.address, port: 1), data, now: link.now)
        var got: [UInt8]?
        XCTAssertTrue(link.run { got = got ?? receiver.receive()?.1; return got != nil })
        XCTAssertEqual(got, data)
        XCTAssertEqual(a.counters.fragmentsSent, 21, "1008 bytes in 48-byte pieces")
    }

    func testPortUnreachableComesBack() throws {
        let (a, b) = pair()
        let link = SimulatedLink(a, b)
        let sender = try a.bindUDP(port: 1234)
        try a.send(sender, to: IPv4Endpoint(address: b.address, port: 99), [1, 2, 3], now: 0)
        XCTAssertTrue(link.run { sender.pendingError != nil })
        XCTAssertEqual(sender.takeError(), ICMPError(type: 3, code: 3, reporter: b.address,
                                                     destination: IPv4Endpoint(address: b.address, port: 99)))
        XCTAssertEqual(b.drops(.udpNoSocket), 1)
        XCTAssertEqual(b.counters.icmpErrorsSent, 1)
    }

    func testGatewayCarriesOffLinkTraffic() throws {
        // b plays the router for a: datagrams for 192.0.2.1 go to b's MAC (and b, a host, drops them).
        let a = makeInterface(mac: macA, address: "10.0.0.1", gateway: "10.0.0.2")
        let b = makeInterface(mac: macB, address: "10.0.0.2")
        let link = SimulatedLink(a, b)
        let socket = try a.bindUDP()
        try a.send(socket, to: IPv4Endpoint(address: ip("192.0.2.1"), port: 7), [1], now: 0)
        XCTAssertTrue(link.run { b.drops(.ipv4NotForUs) == 1 })
    }

    /// Many datagrams under faults: what arrives is intact and complete, nothing crashes.
    func runFaulty(seed: UInt64, faults: SimulatedLink.Faults, sizes: [Int]) throws -> (Int, SimulatedLink, Interface) {
        let (a, b) = pair()
        let link = SimulatedLink(a, b, faults: faults, seed: seed)
        let sender = try a.bindUDP()
        let receiver = try b.bindUDP(port: 9000)
        var received = 0
        for (index, size) in sizes.enumerated() {
            // Sending can meet a full ARP queue while resolution is being lost: that is a refusal, not a loss.
            try? a.send(sender, to: IPv4Endpoint(address: b.address, port: 9000), payload(index, size), now: link.now)
            link.run(steps: 3) { false }
            while let (info, bytes) = receiver.receive() {
                check(bytes, sizes: sizes, seed: seed)
                XCTAssertEqual(info.datagramLength, bytes.count)
                received += 1
            }
        }
        link.run(steps: 500) { false }
        while let (_, bytes) = receiver.receive() {
            check(bytes, sizes: sizes, seed: seed)
            received += 1
        }
        return (received, link, b)
    }

    /// A received datagram must be exactly one that was sent (its first 4 bytes name it).
    func check(_ bytes: [UInt8], sizes: [Int], seed: UInt64) {
        guard bytes.count >= 4 else { return XCTFail("runt datagram (seed \(seed))") }
        let index = Int(bytes[0]) | Int(bytes[1]) << 8 | Int(bytes[2]) << 16 | Int(bytes[3]) << 24
        guard index < sizes.count else { return XCTFail("unknown datagram \(index) (seed \(seed))") }
        XCTAssertEqual(bytes, payload(index, sizes[index]), "datagram \(index) (seed \(seed))")
    }

    func testFaultyLinkDeliversOnlyIntactData() throws {
        let sizes = (0..<300).map { [4, 64, 512, 1472, 1600, 4000][$0 % 6] }
        var totalReceived = 0
        var caught: UInt64 = 0
        for seed in UInt64(1)...6 {
            let faults = SimulatedLink.Faults(loss: 50, duplication: 50, reordering: 100, corruption: 100)
            let (received, link, b) = try runFaulty(seed: seed, faults: faults, sizes: sizes)
            XCTAssertGreaterThan(link.corrupted, 0)
            XCTAssertGreaterThan(link.lost + link.duplicated + link.reordered, 0)
            totalReceived += received
            caught += b.drops(.udpChecksum) + b.drops(.ipv4Checksum) + b.drops(.ethernetNotForUs)
                + b.drops(.icmpChecksum) + b.drops(.ethernetUnknownType) + b.drops(.arpUnsupported)
        }
        XCTAssertGreaterThan(totalReceived, 900, "most datagrams still arrive")
        XCTAssertGreaterThan(caught, 0, "corruption was caught")
    }

    func testCorruptionOnlyIsAlwaysCaught() throws {
        // Every frame corrupted by one bit: nothing that arrives may differ from what was sent.
        let sizes = (0..<200).map { 10 + $0 * 7 }
        let (_, link, b) = try runFaulty(seed: 99, faults: SimulatedLink.Faults(corruption: 1000), sizes: sizes)
        XCTAssertGreaterThan(link.corrupted, 100)
        XCTAssertGreaterThan(b.counters.drops.total, 0)
    }
}
