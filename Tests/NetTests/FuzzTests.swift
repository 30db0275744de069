// Malformed input through the whole interface: every truncation of valid
// frames of each kind, seeded random byte flips, and random garbage. Nothing
// may trap or hang, every frame must be counted (delivered or dropped for a
// reason), and the interface must keep working afterwards.

@testable import Net
import TestSupport
import XCTest

final class FuzzTests: XCTestCase {
    let peer = IPv4Endpoint(address: ip("10.0.0.9"), port: 4000)

    func validFrames(_ host: Interface) -> [[UInt8]] {
        let us = host.address
        let udp = Build.udp(from: peer, to: IPv4Endpoint(address: us, port: 7), Array(0..<40))
        return [
            Build.ethernet(to: .broadcast, from: macPeer, type: 0x0806,
                           Build.arp(op: 1, sha: macPeer, spa: peer.address, tha: .zero, tpa: us)),
            Build.ethernet(to: host.mac, from: macPeer, type: 0x0806,
                           Build.arp(op: 2, sha: macPeer, spa: peer.address, tha: host.mac, tpa: us)),
            Build.udpFrame(to: host, from: macPeer, peer, port: 7, Array(0..<100)),
            Build.udpFrame(to: host, from: macPeer, peer, port: 8, [1, 2, 3]),
            Build.ethernet(to: host.mac, from: macPeer, type: 0x0800,
                           Build.ipv4(from: peer.address, to: us, protocol: 1, Build.icmp(type: 8, Array(0..<32)))),
            Build.ethernet(to: host.mac, from: macPeer, type: 0x0800,
                           Build.ipv4(from: peer.address, to: us, protocol: 1,
                                      Build.icmp(type: 3, code: 3, Build.ipv4(from: us, to: peer.address, protocol: 17,
                                          Build.udp(from: IPv4Endpoint(address: us, port: 7), to: peer, [1]))))),
            Build.ethernet(to: host.mac, from: macPeer, type: 0x0800,
                           Build.ipv4(from: peer.address, to: us, protocol: 17, fragment: 0x2000,
                                      options: [1, 1, 1, 0], Array(udp[0..<32]))),
            Build.ethernet(to: host.mac, from: macPeer, type: 0x0800,
                           Build.ipv4(from: peer.address, to: us, protocol: 17, fragment: 4, Array(udp[32...]))),
        ]
    }

    func host() throws -> (Interface, UDPSocket) {
        var limits = InterfaceLimits()
        limits.icmpErrorsPerSecond = 1_000_000
        let host = makeInterface(limits: limits)
        return (host, try host.bindUDP(port: 7))
    }

    /// Feeds `frames` and checks each was delivered, answered, or dropped with a reason.
    func feed(_ frames: [[UInt8]], to host: Interface, socket: UDPSocket) {
        for frame in frames {
            host.receive(frame, now: 0)
            while socket.receive() != nil {}
            _ = host.drain()
            _ = host.echoReply()
        }
        _ = host.poll(now: 0)
        XCTAssertEqual(host.counters.framesReceived, UInt64(frames.count))
    }

    func testEveryValidFrameIsAccepted() throws {
        let (h, socket) = try host()
        feed(validFrames(h), to: h, socket: socket)
        XCTAssertEqual(h.drops(.udpNoSocket), 1)
        XCTAssertEqual(h.counters.drops.total, 1, "only the closed port")
        XCTAssertEqual(h.counters.udpDelivered, 2, "one datagram whole, one reassembled")
        XCTAssertEqual(h.counters.echoRequestsAnswered, 1)
        XCTAssertNotNil(socket.pendingError)
    }

    func testEveryTruncation() throws {
        let (h, socket) = try host()
        var frames: [[UInt8]] = []
        for frame in validFrames(h) {
            for length in 0..<frame.count { frames.append(Array(frame[0..<length])) }
        }
        feed(frames, to: h, socket: socket)
        for reason in [DropReason.ethernetTruncated, .arpTruncated, .ipv4Truncated] {
            XCTAssertGreaterThan(h.drops(reason), 0, "\(reason)")
        }
        // Truncated IP datagrams never reach UDP or ICMP: their total length does not fit.
        XCTAssertEqual(h.counters.udpDelivered, 0)
    }

    func testRandomByteFlips() throws {
        let (h, socket) = try host()
        var random = SplitMix64(seed: 0xf11b)
        let valid = validFrames(h)
        var frames: [[UInt8]] = []
        for _ in 0..<20000 {
            var frame = valid[random.below(valid.count)]
            for _ in 0...random.below(4) {
                frame[random.below(frame.count)] = UInt8(truncatingIfNeeded: random.next())
            }
            frames.append(frame)
        }
        feed(frames, to: h, socket: socket)
        XCTAssertGreaterThan(h.counters.drops.total, 10000)
        for reason in [DropReason.ipv4Checksum, .udpChecksum, .icmpChecksum, .arpUnsupported, .ethernetNotForUs] {
            XCTAssertGreaterThan(h.drops(reason), 0, "\(reason)")
        }
    }

    func testRandomGarbage() throws {
        let (h, socket) = try host()
        var random = SplitMix64(seed: 7)
        var frames: [[UInt8]] = []
        for _ in 0..<5000 {
            var frame = (0..<random.below(200)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            if frame.count >= 14 && random.below(2) == 0 {
                // Aim past the Ethernet filter: our MAC and an interesting type.
                for i in 0..<6 { frame[i] = h.mac[i] }
                frame[12] = 0x08
                frame[13] = random.below(2) == 0 ? 0x00 : 0x06
                if frame.count > 14 && frame[13] == 0 { frame[14] = 0x45 }
            }
            frames.append(frame)
        }
        feed(frames, to: h, socket: socket)
        XCTAssertEqual(h.counters.drops.total, 5000)
    }

    func testStillWorksAfterAbuse() throws {
        try testRandomByteFlips()
        let (h, socket) = try host()
        feed(validFrames(h), to: h, socket: socket)
        XCTAssertEqual(h.counters.udpDelivered, 2)
    }
}
