// The input path with hand-built frames: Ethernet filtering, IPv4 checks
// and delivery rules, ICMP echo and errors (and when not to send them), UDP
// sockets and queues, routing on output.

@testable import Net
import XCTest

final class InputTests: XCTestCase {
    let peer = ip("10.0.0.9")
    lazy var peerEndpoint = IPv4Endpoint(address: peer, port: 4000)

    /// A host that already knows the peer's MAC (so answers go out at once).
    func host(limits: InterfaceLimits = InterfaceLimits()) -> Interface {
        let host = makeInterface(limits: limits)
        host.receive(Build.ethernet(to: host.mac, from: macPeer, type: 0x0806,
                                    Build.arp(op: 2, sha: macPeer, spa: peer, tha: host.mac, tpa: host.address)))
        return host
    }

    func ipFrame(_ host: Interface, to destination: IPv4Address? = nil, from source: IPv4Address? = nil,
                 protocol proto: UInt8, fragment: UInt16 = 0, id: UInt16 = 0x1234, _ payload: [UInt8],
                 mac: EthernetAddress? = nil) -> [UInt8] {
        Build.ethernet(to: mac ?? host.mac, from: macPeer, type: 0x0800,
                       Build.ipv4(from: source ?? peer, to: destination ?? host.address, protocol: proto, id: id,
                                  fragment: fragment, payload))
    }

    // MARK: Ethernet and IPv4 filtering

    func testFramesNotForUs() {
        let h = host()
        h.receive(ipFrame(h, protocol: 17, [], mac: macB))
        XCTAssertEqual(h.drops(.ethernetNotForUs), 1)
        h.receive(ipFrame(h, protocol: 17, [], mac: EthernetAddress(0x01, 0, 0x5e, 0, 0, 1)))
        XCTAssertEqual(h.drops(.ethernetNotForUs), 2)
        h.receive(Build.ethernet(to: h.mac, from: macPeer, type: 0x86dd, [1, 2, 3]))
        XCTAssertEqual(h.drops(.ethernetUnknownType), 1)
        h.receive(Build.ethernet(to: h.mac, from: macPeer, type: 0x8100, [0, 1, 8, 0]))
        XCTAssertEqual(h.drops(.ethernetVLAN), 1)
        h.receive(ipFrame(h, to: ip("10.0.0.2"), protocol: 17, []))
        XCTAssertEqual(h.drops(.ipv4NotForUs), 1, "a host does not forward")
        for source in ["255.255.255.255", "10.0.0.255", "224.0.0.1", "10.0.0.1"] {
            h.receive(ipFrame(h, from: ip(source), protocol: 17, []))
        }
        XCTAssertEqual(h.drops(.ipv4BadSource), 4)
        XCTAssertTrue(h.drain().isEmpty)
    }

    // MARK: ICMP

    func testEchoRequestIsAnswered() throws {
        let h = host()
        let data: [UInt8] = Array(0..<56)
        h.receive(ipFrame(h, protocol: 1, Build.icmp(type: 8, rest: [0xbe, 0xef, 0, 7], data)))
        let frames = h.drain()
        XCTAssertEqual(frames.count, 1)
        let reply = frames[0]
        XCTAssertEqual(Array(reply[0..<6]), macBytes(macPeer))
        let ipHeader = try reply.withUnsafeBytes { try IPv4Header.parse($0.slice(14..<$0.count)) }
        XCTAssertEqual(ipHeader.source, h.address)
        XCTAssertEqual(ipHeader.destination, peer)
        XCTAssertEqual(Array(reply[34...]), Build.icmp(type: 0, rest: [0xbe, 0xef, 0, 7], data))
        XCTAssertEqual(h.counters.echoRequestsAnswered, 1)
    }

    func testBroadcastEchoIsIgnored() {
        let h = host()
        h.receive(ipFrame(h, to: .broadcast, protocol: 1, Build.icmp(type: 8, [1]), mac: .broadcast))
        h.receive(ipFrame(h, to: ip("10.0.0.255"), protocol: 1, Build.icmp(type: 8, [1]), mac: .broadcast))
        XCTAssertTrue(h.drain().isEmpty)
        XCTAssertEqual(h.drops(.icmpBroadcastEcho), 2)
    }

    func testBadICMP() {
        let h = host()
        var message = Build.icmp(type: 8, [1, 2, 3])
        message[8] ^= 1
        h.receive(ipFrame(h, protocol: 1, message))
        h.receive(ipFrame(h, protocol: 1, [8, 0, 0]))
        h.receive(ipFrame(h, protocol: 1, Build.icmp(type: 13, [])))
        XCTAssertEqual(h.drops(.icmpChecksum), 1)
        XCTAssertEqual(h.drops(.icmpTruncated), 1)
        XCTAssertEqual(h.drops(.icmpIgnored), 1)
        XCTAssertTrue(h.drain().isEmpty)
    }

    func testPortUnreachableQuotesHeaderAndEightBytes() throws {
        let h = host()
        let datagram = Build.udp(from: peerEndpoint, to: IPv4Endpoint(address: h.address, port: 9), Array(0..<20))
        let packet = Build.ipv4(from: peer, to: h.address, protocol: 17, datagram)
        h.receive(Build.ethernet(to: h.mac, from: macPeer, type: 0x0800, packet))
        XCTAssertEqual(h.drops(.udpNoSocket), 1)
        let frames = h.drain()
        XCTAssertEqual(frames.count, 1)
        let icmp = Array(frames[0][34...])
        XCTAssertEqual(icmp, Build.icmp(type: 3, code: 3, Array(packet[0..<28])))
        XCTAssertEqual(h.counters.icmpErrorsSent, 1)
    }

    func testProtocolUnreachable() {
        let h = host()
        h.receive(ipFrame(h, protocol: 99, [1, 2, 3]))
        XCTAssertEqual(h.drops(.ipv4UnknownProtocol), 1)
        let frames = h.drain()
        XCTAssertEqual(frames.count, 1)
        XCTAssertEqual(frames.first.map { Array($0[34..<36]) }, [3, 2])
    }

    func testNoICMPErrorsForBroadcastsErrorsOrUnknownSources() {
        let h = host()
        let udpTo9 = Build.udp(from: peerEndpoint, to: IPv4Endpoint(address: .broadcast, port: 9), [1])
        h.receive(ipFrame(h, to: .broadcast, protocol: 17, udpTo9, mac: .broadcast))
        let fromNobody = Build.udp(from: IPv4Endpoint(address: .any, port: 68),
                                   to: IPv4Endpoint(address: h.address, port: 9), [1])
        h.receive(ipFrame(h, from: .any, protocol: 17, fromNobody))
        // An ICMP error about something: never answered with an error (and unknown ICMP is not "unreachable").
        h.receive(ipFrame(h, protocol: 1, Build.icmp(type: 3, code: 1, [UInt8](repeating: 0, count: 28))))
        XCTAssertTrue(h.drain().isEmpty)
        XCTAssertEqual(h.counters.icmpErrorsSent, 0)
    }

    func testICMPErrorsAreRateLimited() {
        var limits = InterfaceLimits()
        limits.icmpErrorsPerSecond = 3
        let h = host(limits: limits)
        let frame = Build.udpFrame(to: h, from: macPeer, peerEndpoint, port: 9, [1])
        for i in 0..<10 { h.receive(frame, now: UInt64(i) * millisecond) }
        XCTAssertEqual(h.drain().count, 3)
        XCTAssertEqual(h.drops(.icmpRateLimited), 7)
        h.receive(frame, now: second)
        XCTAssertEqual(h.drain().count, 1, "a new second, a new budget")
    }

    func testUnreachableReachesTheSendingSocket() throws {
        let h = host()
        let socket = try h.bindUDP(port: 5353)
        try h.send(socket, to: IPv4Endpoint(address: peer, port: 53), [1, 2, 3], now: 0)
        let sent = try XCTUnwrap(h.drain().first)
        let quote = Array(sent[14..<(14 + 28)])
        h.receive(ipFrame(h, protocol: 1, Build.icmp(type: 3, code: 3, quote)))
        XCTAssertEqual(socket.takeError(), ICMPError(type: 3, code: 3, reporter: peer,
                                                     destination: IPv4Endpoint(address: peer, port: 53)))
        XCTAssertNil(socket.takeError())
        XCTAssertEqual(h.counters.icmpErrorsReceived, 1)
        // Quotes too short, or about other ports, are ignored without harm.
        h.receive(ipFrame(h, protocol: 1, Build.icmp(type: 3, code: 3, Array(quote[0..<24]))))
        h.receive(ipFrame(h, protocol: 1, Build.icmp(type: 3, code: 3, Array(quote[0..<10]))))
        XCTAssertNil(socket.pendingError)
    }

    // MARK: UDP

    func testUDPDeliveryAndQueueLimit() throws {
        var limits = InterfaceLimits()
        limits.udpReceiveQueueDatagrams = 2
        let h = host(limits: limits)
        let socket = try h.bindUDP(port: 7)
        for i in 0..<3 { h.receive(Build.udpFrame(to: h, from: macPeer, peerEndpoint, port: 7, [UInt8(i), 42])) }
        XCTAssertEqual(h.drops(.udpQueueFull), 1)
        XCTAssertEqual(h.counters.udpDelivered, 2)
        let first = try XCTUnwrap(socket.receive())
        XCTAssertEqual(first.0.source, peerEndpoint)
        XCTAssertEqual(first.1, [0, 42])
        // A small buffer truncates and says so.
        let second = try XCTUnwrap(socket.receive(capacity: 1))
        XCTAssertEqual(second.1, [1])
        XCTAssertEqual(second.0.datagramLength, 2)
        XCTAssertNil(socket.receive())
    }

    func testUDPEmptyDatagramAndNoChecksum() throws {
        let h = host()
        let socket = try h.bindUDP(port: 7)
        h.receive(Build.udpFrame(to: h, from: macPeer, peerEndpoint, port: 7, []))
        let datagram = Build.udp(from: peerEndpoint, to: IPv4Endpoint(address: h.address, port: 7), [5], checksum: false)
        h.receive(ipFrame(h, protocol: 17, datagram))
        XCTAssertEqual(socket.receive()?.1, [])
        XCTAssertEqual(socket.receive()?.1, [5])
    }

    func testBindRules() throws {
        var limits = InterfaceLimits()
        limits.udpSockets = 3
        let h = makeInterface(limits: limits)
        let a = try h.bindUDP(port: 7)
        XCTAssertThrowsError(try h.bindUDP(port: 7)) { XCTAssertEqual($0 as? SocketError, .addressInUse) }
        let b = try h.bindUDP()
        let c = try h.bindUDP()
        XCTAssertTrue((49152...65535).contains(b.port) && b.port != c.port)
        XCTAssertThrowsError(try h.bindUDP()) { XCTAssertEqual($0 as? SocketError, .tooManySockets) }
        h.close(a)
        XCTAssertFalse(a.isOpen)
        XCTAssertThrowsError(try h.send(a, to: peerEndpoint, [1], now: 0)) {
            XCTAssertEqual($0 as? SendError, .socketClosed)
        }
        XCTAssertNoThrow(try h.bindUDP(port: 7))
    }

    // MARK: output routing

    func testRouting() throws {
        let h = makeInterface(gateway: "10.0.0.254")
        let socket = try h.bindUDP()
        try h.send(socket, to: IPv4Endpoint(address: ip("8.8.8.8"), port: 53), [1], now: 0)
        var arp = try XCTUnwrap(h.drain().first)
        XCTAssertEqual(arp.withUnsafeBytes { try? ARPPacket.parse($0.slice(14..<$0.count)).targetProtocolAddress },
                       ip("10.0.0.254"), "off-link goes to the gateway")
        try h.send(socket, to: IPv4Endpoint(address: .broadcast, port: 67), [1], now: 0)
        try h.send(socket, to: IPv4Endpoint(address: ip("10.0.0.255"), port: 67), [1], now: 0)
        arp = h.drain().last ?? []
        XCTAssertEqual(h.queuedFrames, 0)
        XCTAssertEqual(Array(arp[0..<6]), macBytes(.broadcast), "broadcast needs no ARP")
        let noGateway = makeInterface()
        let s2 = try noGateway.bindUDP()
        for (address, port, error) in [("8.8.8.8", UInt16(53), SendError.noRoute), ("0.0.0.0", 1, .noRoute),
                                       ("10.0.0.1", 1, .noRoute), ("10.0.0.0", 1, .noRoute),
                                       ("127.0.0.1", 1, .noRoute), ("224.0.0.1", 1, .noRoute),
                                       ("10.0.0.2", 0, .invalidPort)] {
            XCTAssertThrowsError(try noGateway.send(s2, to: IPv4Endpoint(address: ip(address), port: port), [1], now: 0)) {
                XCTAssertEqual($0 as? SendError, error, address)
            }
        }
        XCTAssertThrowsError(try noGateway.send(s2, to: IPv4Endpoint(address: ip("10.0.0.2"), port: 1),
                                                [UInt8](repeating: 0, count: 65508), now: 0)) {
            XCTAssertEqual($0 as? SendError, .messageTooLong)
        }
    }

    func testTransmitQueueLimitAndBusyDevice() throws {
        var limits = InterfaceLimits()
        limits.transmitQueueFrames = 4
        let h = host(limits: limits)
        let socket = try h.bindUDP()
        for i in 0..<4 { try h.send(socket, to: peerEndpoint, [UInt8(i)], now: 0) }
        XCTAssertThrowsError(try h.send(socket, to: peerEndpoint, [9], now: 0)) {
            XCTAssertEqual($0 as? SendError, .queueFull)
        }
        XCTAssertEqual(h.drops(.transmitQueueFull), 1)
        // The device takes two, then is busy: the rest stay queued, in order.
        var taken = 0
        XCTAssertEqual(h.transmit { _ in taken += 1; return taken <= 2 }, 2)
        XCTAssertEqual(h.queuedFrames, 2)
        XCTAssertEqual(h.drain().map { $0[42] }, [2, 3])
    }
}
