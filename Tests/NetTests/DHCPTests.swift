// The DHCP client against a scripted server whose replies are built byte by
// byte from RFC 2131/2132: the full exchange, NAK, retransmission backoff,
// renew/rebind/expiry, replies that must be ignored, option overload, a
// seeded mutation soak, the client on a real Interface over SimulatedLink,
// and the static/DHCP choice on the command line.

@testable import Net
import TestSupport
import XCTest

/// What the client sent, decoded independently of the module.
struct ClientMessage {
    var op: UInt8, xid: UInt32, secs: UInt16, flags: UInt16
    var ciaddr: IPv4Address, chaddr: [UInt8]
    var options: [UInt8: [UInt8]]
    var type: UInt8? { options[53]?.first }

    init(_ bytes: [UInt8]) {
        func be32(_ i: Int) -> UInt32 { UInt32(bytes[i]) << 24 | UInt32(bytes[i + 1]) << 16 | UInt32(bytes[i + 2]) << 8 | UInt32(bytes[i + 3]) }
        op = bytes[0]
        xid = be32(4)
        secs = UInt16(bytes[8]) << 8 | UInt16(bytes[9])
        flags = UInt16(bytes[10]) << 8 | UInt16(bytes[11])
        ciaddr = IPv4Address(value: be32(12))
        chaddr = Array(bytes[28..<34])
        XCTAssertEqual(be32(236), 0x6382_5363)
        options = [:]
        var i = 240
        while i < bytes.count && bytes[i] != 255 {
            if bytes[i] == 0 { i += 1; continue }
            options[bytes[i]] = Array(bytes[i + 2..<i + 2 + Int(bytes[i + 1])])
            i += 2 + Int(bytes[i + 1])
        }
        XCTAssertGreaterThanOrEqual(bytes.count, 300)
    }
}

enum DHCPBuild {
    static func option(_ code: UInt8, _ value: [UInt8]) -> [UInt8] { [code, UInt8(value.count)] + value }
    static func option(_ code: UInt8, address: String) -> [UInt8] { option(code, ipBytes(ip(address))) }
    static func option(_ code: UInt8, seconds: UInt32) -> [UInt8] {
        option(code, [UInt8(seconds >> 24), UInt8((seconds >> 16) & 255), UInt8((seconds >> 8) & 255), UInt8(seconds & 255)])
    }

    /// A BOOTREPLY: fixed fields, cookie, `options` as given, then END unless `end` is false.
    static func reply(xid: UInt32, mac: EthernetAddress, yiaddr: String = "0.0.0.0", options: [[UInt8]],
                      op: UInt8 = 2, htype: UInt8 = 1, hlen: UInt8 = 6, cookie: [UInt8] = [99, 130, 83, 99],
                      end: Bool = true, file: [UInt8] = []) -> [UInt8] {
        var bytes: [UInt8] = [op, htype, hlen, 0] + ipBytes(IPv4Address(value: xid)) + [0, 0, 0x80, 0]
        bytes += ipBytes(.any) + ipBytes(ip(yiaddr)) + ipBytes(ip("10.0.0.1")) + ipBytes(.any)
        bytes += macBytes(mac) + [UInt8](repeating: 0, count: 10)
        bytes += [UInt8](repeating: 0, count: 64)
        bytes += file + [UInt8](repeating: 0, count: 128 - file.count)
        bytes += cookie
        for o in options { bytes += o }
        if end { bytes.append(255) }
        return bytes
    }

    /// OFFER or ACK (type 2 or 5) with the usual options; `extra` appended.
    static func lease(_ type: UInt8, xid: UInt32, mac: EthernetAddress, yiaddr: String = "10.0.0.50",
                      server: String = "10.0.0.1", lease: UInt32 = 3600, extra: [[UInt8]] = []) -> [UInt8] {
        reply(xid: xid, mac: mac, yiaddr: yiaddr, options: [
            option(53, [type]), option(54, address: server), option(51, seconds: lease),
            option(1, address: "255.255.255.0"), option(3, address: "10.0.0.1"),
            option(6, ipBytes(ip("10.0.0.1")) + ipBytes(ip("10.0.0.2"))),
        ] + extra)
    }

    static func nak(xid: UInt32, mac: EthernetAddress, server: String = "10.0.0.1") -> [UInt8] {
        reply(xid: xid, mac: mac, options: [option(53, [6]), option(54, address: server)])
    }
}

let serverEndpoint = IPv4Endpoint(address: ip("10.0.0.1"), port: 67)

extension DHCPClient {
    func receive(_ bytes: [UInt8], from source: IPv4Endpoint = serverEndpoint, now: UInt64) {
        bytes.withUnsafeBytes { receive($0, from: source, now: now) }
    }

    /// The datagram sent, decoded.
    func sent() -> (OutboundDatagram, ClientMessage)? {
        guard let datagram = takeDatagram() else { return nil }
        return (datagram, ClientMessage(datagram.payload))
    }

    func events() -> [DHCPEvent] {
        var all: [DHCPEvent] = []
        while let event = takeEvent() { all.append(event) }
        return all
    }
}

final class DHCPTests: XCTestCase {
    let broadcast67 = IPv4Endpoint(address: .broadcast, port: 67)

    /// A client bound to 10.0.0.50/24 (lease `lease` s) at `now`, with its ACK's xid.
    func boundClient(lease: UInt32 = 3600, extra: [[UInt8]] = [], now: UInt64 = 0,
                     settings: DHCPSettings = DHCPSettings()) -> DHCPClient {
        let client = DHCPClient(mac: macA, settings: settings, seed: 7)
        _ = client.poll(now: now)
        let discover = client.sent()!.1
        client.receive(DHCPBuild.lease(2, xid: discover.xid, mac: macA, lease: lease, extra: extra), now: now)
        let request = client.sent()!.1
        client.receive(DHCPBuild.lease(5, xid: request.xid, mac: macA, lease: lease, extra: extra), now: now)
        XCTAssertEqual(client.state, .bound)
        return client
    }

    func testFullExchange() throws {
        let client = DHCPClient(mac: macA, seed: 1)
        XCTAssertEqual(client.state, .initial)
        let first = client.poll(now: 5 * second)
        let (discoverDatagram, discover) = try XCTUnwrap(client.sent())
        XCTAssertEqual(discoverDatagram.destination, broadcast67)
        XCTAssertEqual(discover.op, 1)
        XCTAssertEqual(discover.type, 1)
        XCTAssertEqual(discover.flags, 0x8000, "broadcast flag")
        XCTAssertEqual(discover.ciaddr, .any)
        XCTAssertEqual(discover.chaddr, macBytes(macA))
        XCTAssertEqual(discover.options[61], [1] + macBytes(macA))
        XCTAssertEqual(Set(discover.options[55] ?? []), [1, 3, 6, 51, 58, 59, 26])
        XCTAssertEqual(client.state, .selecting)
        XCTAssertNotNil(first)

        // The first acceptable offer wins; a second offer is ignored.
        client.receive(DHCPBuild.lease(2, xid: discover.xid, mac: macA), now: 6 * second)
        let (requestDatagram, request) = try XCTUnwrap(client.sent())
        XCTAssertEqual(requestDatagram.destination, broadcast67)
        XCTAssertEqual(request.type, 3)
        XCTAssertEqual(request.xid, discover.xid)
        XCTAssertEqual(request.secs, 1)
        XCTAssertEqual(request.flags, 0x8000)
        XCTAssertEqual(request.options[50], ipBytes(ip("10.0.0.50")))
        XCTAssertEqual(request.options[54], ipBytes(ip("10.0.0.1")))
        XCTAssertEqual(client.state, .requesting)
        client.receive(DHCPBuild.lease(2, xid: discover.xid, mac: macA, yiaddr: "10.0.0.77", server: "10.0.0.9"),
                       now: 6 * second)
        XCTAssertEqual(client.counters[.unexpected], 1)
        XCTAssertNil(client.takeDatagram())

        client.receive(DHCPBuild.lease(5, xid: request.xid, mac: macA,
                                       extra: [DHCPBuild.option(26, [0x05, 0xdc])]), now: 7 * second)
        XCTAssertEqual(client.state, .bound)
        let lease = try XCTUnwrap(client.lease)
        XCTAssertEqual(client.events(), [.bound(lease)])
        XCTAssertEqual(lease.ipv4, try IPv4Configuration(address: ip("10.0.0.50"), prefixLength: 24, gateway: ip("10.0.0.1")))
        XCTAssertEqual(lease.dnsServers, [ip("10.0.0.1"), ip("10.0.0.2")])
        XCTAssertEqual(lease.server, ip("10.0.0.1"))
        XCTAssertEqual(lease.mtu, 1500)
        XCTAssertEqual(lease.leaseTime, 3600)
        XCTAssertEqual(lease.renewalTime, 1800)
        XCTAssertEqual(lease.rebindingTime, 3150)
        // Lease times count from the exchange's first message (RFC 2131 §4.4.1).
        XCTAssertEqual(lease.renewAt, 5 * second + 1800 * second)
        XCTAssertEqual(lease.rebindAt, 5 * second + 3150 * second)
        XCTAssertEqual(lease.expiresAt, 5 * second + 3600 * second)
        XCTAssertEqual(client.poll(now: 7 * second), lease.renewAt)
        XCTAssertNil(client.takeDatagram())
        XCTAssertEqual(client.counters.sent, 2)
    }

    func testServerTimesAndInfiniteLease() throws {
        let client = boundClient(lease: 1000, extra: [DHCPBuild.option(58, seconds: 100), DHCPBuild.option(59, seconds: 200)])
        XCTAssertEqual(client.lease?.renewalTime, 100)
        XCTAssertEqual(client.lease?.rebindingTime, 200)
        // Out of order T1/T2 fall back to the defaults.
        let odd = boundClient(lease: 1000, extra: [DHCPBuild.option(58, seconds: 900), DHCPBuild.option(59, seconds: 2000)])
        XCTAssertEqual(odd.lease?.rebindingTime, 875)
        XCTAssertEqual(odd.lease?.renewalTime, 500)
        let forever = boundClient(lease: UInt32.max)
        XCTAssertEqual(forever.lease?.expiresAt, UInt64.max)
        XCTAssertNil(forever.poll(now: 1_000_000 * second))
        XCTAssertNil(forever.takeDatagram())
    }

    func testNAKRestartsFromInit() throws {
        let client = DHCPClient(mac: macA, seed: 2)
        _ = client.poll(now: 0)
        let discover = try XCTUnwrap(client.sent()).1
        client.receive(DHCPBuild.lease(2, xid: discover.xid, mac: macA), now: 0)
        let request = try XCTUnwrap(client.sent()).1
        // A NAK from another server is not ours to obey.
        client.receive(DHCPBuild.nak(xid: request.xid, mac: macA, server: "10.0.0.9"), now: 0)
        XCTAssertEqual(client.counters[.wrongServer], 1)
        XCTAssertEqual(client.state, .requesting)
        client.receive(DHCPBuild.nak(xid: request.xid, mac: macA), now: second)
        XCTAssertEqual(client.state, .initial)
        XCTAssertEqual(client.events(), [])
        XCTAssertEqual(client.poll(now: second), 2 * second, "restartDelay")
        XCTAssertNil(client.takeDatagram())
        _ = client.poll(now: 2 * second)
        let again = try XCTUnwrap(client.sent()).1
        XCTAssertEqual(again.type, 1)
        XCTAssertNotEqual(again.xid, discover.xid)
        XCTAssertEqual(client.state, .selecting)
    }

    func testRetransmissionBackoff() throws {
        func schedule(seed: UInt64) -> [UInt64] {
            let client = DHCPClient(mac: macA, seed: seed)
            var now: UInt64 = 0
            var times: [UInt64] = []
            var xids: [UInt32] = []
            for _ in 0..<7 {
                let next = client.poll(now: now)!
                let message = client.sent()!.1
                XCTAssertEqual(message.type, 1)
                xids.append(message.xid)
                times.append(next - now)
                // Nothing happens before the deadline.
                XCTAssertEqual(client.poll(now: next - 1), next)
                XCTAssertNil(client.takeDatagram())
                now = next
            }
            // Five DISCOVERs share an xid; then the client starts over with a new one.
            XCTAssertEqual(Set(xids[0..<5]).count, 1)
            XCTAssertNotEqual(xids[5], xids[0])
            XCTAssertEqual(xids[5], xids[6])
            return times
        }
        let times = schedule(seed: 42)
        let bases: [UInt64] = [4, 8, 16, 32, 64, 4, 8]
        for (time, base) in zip(times, bases) {
            XCTAssertGreaterThanOrEqual(time, (base - 1) * second, "\(times)")
            XCTAssertLessThanOrEqual(time, (base + 1) * second, "\(times)")
        }
        XCTAssertEqual(schedule(seed: 42), times, "deterministic from the seed")
        XCTAssertNotEqual(schedule(seed: 43), times, "jittered")
        XCTAssertTrue(times.contains { $0 % second != 0 })

        // REQUESTING gives up after five REQUESTs too.
        let client = DHCPClient(mac: macA, seed: 3)
        _ = client.poll(now: 0)
        let xid = client.sent()!.1.xid
        client.receive(DHCPBuild.lease(2, xid: xid, mac: macA), now: 0)
        XCTAssertEqual(client.sent()?.1.type, 3)
        var deadline = client.poll(now: 0)!
        for _ in 0..<4 {
            deadline = client.poll(now: deadline)!
            XCTAssertEqual(client.sent()?.1.type, 3)
        }
        _ = client.poll(now: deadline)
        XCTAssertEqual(client.sent()?.1.type, 1)
        XCTAssertEqual(client.state, .selecting)
    }

    func testRenewRebindExpire() throws {
        let client = boundClient(lease: 1000)
        let lease = try XCTUnwrap(client.lease)
        _ = client.events()
        XCTAssertEqual(client.poll(now: 499 * second), 500 * second)
        // T1: a unicast REQUEST to the server, from our address, without the SELECTING options.
        var next = try XCTUnwrap(client.poll(now: 500 * second))
        let (datagram, renew) = try XCTUnwrap(client.sent())
        XCTAssertEqual(client.state, .renewing)
        XCTAssertEqual(datagram.destination, serverEndpoint)
        XCTAssertEqual(renew.type, 3)
        XCTAssertEqual(renew.ciaddr, ip("10.0.0.50"))
        XCTAssertEqual(renew.flags, 0)
        XCTAssertNil(renew.options[50])
        XCTAssertNil(renew.options[54])
        // Half the time to T2 (875 s), at least 60 s.
        XCTAssertEqual(next, 500 * second + 375 * second / 2)
        var intervals: [UInt64] = []
        var now = next
        while now < lease.rebindAt {
            next = try XCTUnwrap(client.poll(now: now))
            XCTAssertEqual(try XCTUnwrap(client.takeDatagram()).destination, serverEndpoint)
            intervals.append(next - now)
            now = next
        }
        // 93.75 s (half of 187.5), then the 60 s floor, then cut short by T2.
        XCTAssertEqual(intervals, [375 * second / 4, 60 * second, 33_750 * millisecond])
        XCTAssertEqual(client.state, .renewing)
        // T2: REBINDING broadcasts.
        _ = client.poll(now: now)
        XCTAssertEqual(client.state, .rebinding)
        let rebind = try XCTUnwrap(client.takeDatagram())
        XCTAssertEqual(rebind.destination, broadcast67)
        XCTAssertEqual(ClientMessage(rebind.payload).ciaddr, ip("10.0.0.50"))
        // Nobody answers: at expiry the address goes, and DISCOVER starts again.
        now = try XCTUnwrap(client.poll(now: now))  // 875 s + 62.5 s, then the 60 s floor, then the end
        XCTAssertEqual(now, 937_500 * millisecond)
        while true {
            let next = try XCTUnwrap(client.poll(now: now))
            guard client.state == .rebinding else { break }
            XCTAssertEqual(client.takeDatagram()?.destination, broadcast67)
            now = next
        }
        XCTAssertEqual(now, lease.expiresAt)
        XCTAssertEqual(client.events(), [.lost])
        XCTAssertNil(client.lease)
        XCTAssertEqual(client.state, .selecting)
        XCTAssertEqual(client.sent()?.1.type, 1)
    }

    func testRenewalAnswered() throws {
        let client = boundClient(lease: 1000)
        _ = client.events()
        _ = client.poll(now: 500 * second)
        let renew = try XCTUnwrap(client.sent()).1
        // The same lease for longer: renewed, times from the renewal.
        client.receive(DHCPBuild.lease(5, xid: renew.xid, mac: macA, lease: 1000), now: 501 * second)
        let renewed = try XCTUnwrap(client.lease)
        XCTAssertEqual(client.events(), [.renewed(renewed)])
        XCTAssertEqual(renewed.renewAt, 1000 * second)
        XCTAssertEqual(client.state, .bound)

        // While REBINDING another server may answer, with another address: a new binding.
        _ = client.poll(now: renewed.rebindAt)
        let rebind = try XCTUnwrap(client.sent()).1
        XCTAssertEqual(client.state, .rebinding)
        client.receive(DHCPBuild.lease(5, xid: rebind.xid, mac: macA, yiaddr: "10.0.0.60", server: "10.0.0.2"),
                       from: IPv4Endpoint(address: ip("10.0.0.2"), port: 67), now: renewed.rebindAt)
        let moved = try XCTUnwrap(client.lease)
        XCTAssertEqual(moved.ipv4.address, ip("10.0.0.60"))
        XCTAssertEqual(moved.server, ip("10.0.0.2"))
        XCTAssertEqual(client.events(), [.bound(moved)])

        // A NAK while RENEWING drops the lease at once.
        _ = client.poll(now: moved.renewAt)
        let again = try XCTUnwrap(client.sent()).1
        client.receive(DHCPBuild.nak(xid: again.xid, mac: macA, server: "10.0.0.2"),
                       from: IPv4Endpoint(address: ip("10.0.0.2"), port: 67), now: moved.renewAt)
        XCTAssertEqual(client.events(), [.lost])
        XCTAssertNil(client.lease)
        XCTAssertEqual(client.state, .initial)
    }

    func testUnusableRepliesAreIgnored() throws {
        let client = DHCPClient(mac: macA, seed: 5)
        _ = client.poll(now: 0)
        let xid = client.sent()!.1.xid
        let good = DHCPBuild.lease(2, xid: xid, mac: macA)
        let cases: [([UInt8], DHCPDropReason, IPv4Endpoint)] = [
            (DHCPBuild.lease(2, xid: xid &+ 1, mac: macA), .notOurs, serverEndpoint),
            (DHCPBuild.lease(2, xid: xid, mac: macB), .notOurs, serverEndpoint),
            (good, .unexpected, IPv4Endpoint(address: ip("10.0.0.1"), port: 68)),
            (Array(good[0..<239]), .truncated, serverEndpoint),
            (DHCPBuild.reply(xid: xid, mac: macA, options: [], op: 1), .notDHCPReply, serverEndpoint),
            (DHCPBuild.reply(xid: xid, mac: macA, options: [], htype: 6), .notDHCPReply, serverEndpoint),
            (DHCPBuild.reply(xid: xid, mac: macA, options: [], hlen: 16), .notDHCPReply, serverEndpoint),
            (DHCPBuild.reply(xid: xid, mac: macA, options: [], cookie: [99, 130, 83, 98]), .notDHCPReply, serverEndpoint),
            // No END; an option running past the end; a length wrong for the type.
            (DHCPBuild.reply(xid: xid, mac: macA, options: [[53, 1, 2]], end: false), .malformedOption, serverEndpoint),
            (DHCPBuild.reply(xid: xid, mac: macA, options: [[53, 1, 2], [6, 8, 10, 0, 0, 1]], end: false),
             .malformedOption, serverEndpoint),
            (DHCPBuild.reply(xid: xid, mac: macA, options: [[53, 1, 2], [51, 2, 0, 1]]), .malformedOption, serverEndpoint),
            (DHCPBuild.reply(xid: xid, mac: macA, options: [[53, 1, 2], [6, 6, 1, 2, 3, 4, 5, 6]]), .malformedOption, serverEndpoint),
            (DHCPBuild.reply(xid: xid, mac: macA, options: [[53, 1, 2], [6, 0]]), .malformedOption, serverEndpoint),
            (DHCPBuild.reply(xid: xid, mac: macA, options: [[53, 1, 2], [52, 1, 4]]), .malformedOption, serverEndpoint),
            (DHCPBuild.reply(xid: xid, mac: macA, options: [[53, 1, 2], [53, 1, 2]]), .duplicateOption, serverEndpoint),
            (DHCPBuild.reply(xid: xid, mac: macA, options: [[51, 4, 0, 0, 0, 1]]), .badMessageType, serverEndpoint),
            (DHCPBuild.reply(xid: xid, mac: macA, options: [[53, 1, 1]]), .badMessageType, serverEndpoint),
            (DHCPBuild.reply(xid: xid, mac: macA, options: [[53, 1, 9]]), .badMessageType, serverEndpoint),
            // Parsed, but not usable: no server identifier, no lease time, a bad mask, a bad address.
            (DHCPBuild.reply(xid: xid, mac: macA, yiaddr: "10.0.0.50",
                             options: [[53, 1, 2], DHCPBuild.option(51, seconds: 60)]), .unusable, serverEndpoint),
            (DHCPBuild.reply(xid: xid, mac: macA, yiaddr: "10.0.0.50",
                             options: [[53, 1, 2], DHCPBuild.option(54, address: "10.0.0.1")]), .unusable, serverEndpoint),
            (DHCPBuild.lease(2, xid: xid, mac: macA, extra: []).replacingMask("255.0.255.0"), .unusable, serverEndpoint),
            (DHCPBuild.lease(2, xid: xid, mac: macA, yiaddr: "10.0.0.255"), .unusable, serverEndpoint),
            (DHCPBuild.lease(2, xid: xid, mac: macA, yiaddr: "0.0.0.0"), .unusable, serverEndpoint),
            (DHCPBuild.lease(2, xid: xid, mac: macA, lease: 0), .unusable, serverEndpoint),
            // An ACK while SELECTING.
            (DHCPBuild.lease(5, xid: xid, mac: macA), .unexpected, serverEndpoint),
        ]
        for (bytes, reason, source) in cases {
            let before = client.counters[reason]
            client.receive(bytes, from: source, now: second)
            XCTAssertEqual(client.counters[reason], before + 1, "\(reason)")
            XCTAssertEqual(client.state, .selecting)
            XCTAssertNil(client.takeDatagram())
        }
        XCTAssertEqual(client.counters.dropped, UInt64(cases.count))
        client.receive(good, now: second)
        XCTAssertEqual(client.state, .requesting)
    }

    func testRoutersAndMaskFallbacks() throws {
        // The first router that is on-link becomes the gateway; without a mask the class decides.
        let client = DHCPClient(mac: macA, seed: 9)
        _ = client.poll(now: 0)
        let xid = client.sent()!.1.xid
        client.receive(DHCPBuild.reply(xid: xid, mac: macA, yiaddr: "172.16.5.5", options: [
            [53, 1, 2], DHCPBuild.option(54, address: "172.16.0.1"), DHCPBuild.option(51, seconds: 600),
            DHCPBuild.option(3, ipBytes(ip("192.168.0.1")) + ipBytes(ip("172.16.0.254"))),
        ]), now: 0)
        let request = try XCTUnwrap(client.sent()).1
        client.receive(DHCPBuild.reply(xid: request.xid, mac: macA, yiaddr: "172.16.5.5", options: [
            [53, 1, 5], DHCPBuild.option(54, address: "172.16.0.1"), DHCPBuild.option(51, seconds: 600),
            DHCPBuild.option(3, ipBytes(ip("192.168.0.1"))), DHCPBuild.option(3, ipBytes(ip("172.16.0.254"))),
            DHCPBuild.option(6, ipBytes(ip("1.1.1.1")) + ipBytes(ip("1.1.1.2")) + ipBytes(ip("1.1.1.3")) + ipBytes(ip("1.1.1.4"))),
        ]), now: 0)
        let lease = try XCTUnwrap(client.lease)
        XCTAssertEqual(lease.ipv4.network.prefixLength, 16)
        XCTAssertEqual(lease.ipv4.gateway, ip("172.16.0.254"))
        XCTAssertEqual(lease.dnsServers.count, 3)
    }

    func testOptionOverload() throws {
        let client = DHCPClient(mac: macA, seed: 11)
        _ = client.poll(now: 0)
        let xid = client.sent()!.1.xid
        // Server identifier and lease time in the file field (overload = 1).
        let file = DHCPBuild.option(54, address: "10.0.0.1") + DHCPBuild.option(51, seconds: 600) + [255]
        client.receive(DHCPBuild.reply(xid: xid, mac: macA, yiaddr: "10.0.0.50",
                                       options: [[53, 1, 2], [52, 1, 1]], file: file), now: 0)
        XCTAssertEqual(client.state, .requesting)
        // The file field without END is malformed; overload again inside the file field is a duplicate.
        let bad = DHCPClient(mac: macA, seed: 11)
        _ = bad.poll(now: 0)
        bad.receive(DHCPBuild.reply(xid: xid, mac: macA, yiaddr: "10.0.0.50", options: [[53, 1, 2], [52, 1, 1]],
                                    file: [UInt8](repeating: 0, count: 128)), now: 0)
        bad.receive(DHCPBuild.reply(xid: xid, mac: macA, yiaddr: "10.0.0.50", options: [[53, 1, 2], [52, 1, 1]],
                                    file: [52, 1, 2, 255]), now: 0)
        XCTAssertEqual(bad.counters[.malformedOption], 1)
        XCTAssertEqual(bad.counters[.duplicateOption], 1)
        XCTAssertEqual(bad.state, .selecting)
    }

    func testMutatedRepliesNeverTrap() {
        var random = SplitMix64(seed: 2026)
        let client = DHCPClient(mac: macA, seed: 1)
        _ = client.poll(now: 0)
        let xid = client.sent()!.1.xid
        let good = DHCPBuild.lease(2, xid: xid, mac: macA, extra: [DHCPBuild.option(26, [5, 220])])
        for _ in 0..<20_000 {
            var bytes = good
            for _ in 0..<(1 + random.below(4)) {
                // Mostly the options (where the parser works hardest), sometimes anywhere.
                switch random.below(3) {
                case 0 where bytes.count > 240:
                    bytes[240 + random.below(bytes.count - 240)] = UInt8(truncatingIfNeeded: random.next())
                case 1: bytes.removeLast(random.below(bytes.count))
                default: bytes[random.below(bytes.count)] ^= UInt8(1 << random.below(8))
                }
            }
            let parsed: DHCPMessage? = bytes.withUnsafeBytes { try? DHCPMessage.parse($0) }
            _ = parsed
            let probe = DHCPClient(mac: macA, seed: 1)
            _ = probe.poll(now: 0)
            _ = probe.takeDatagram()
            probe.receive(bytes, now: 0)
        }
        client.receive(good, now: 0)
        XCTAssertEqual(client.state, .requesting)
    }

    // MARK: on an interface

    func testDriverBindsAnInterface() throws {
        let unconfigured = try Interface(configuration: InterfaceConfiguration(mac: macA, ipv4: .unconfigured))
        let server = makeInterface(mac: macB, address: "10.0.0.1")
        let link = SimulatedLink(unconfigured, server)
        let serverSocket = try server.bindUDP(port: 67)
        let driver = try DHCPDriver(interface: unconfigured, seed: 99)
        var observed: [DHCPEvent] = []
        var requestsSeen: [(IPv4Endpoint, ClientMessage)] = []
        func serve() throws {
            while let (info, bytes) = serverSocket.receive() {
                let message = ClientMessage(bytes)
                requestsSeen.append((info.source, message))
                let type: UInt8 = message.type == 1 ? 2 : 5
                let reply = DHCPBuild.lease(type, xid: message.xid, mac: macA, lease: 100)
                // Broadcast, as the flag asks, until the client has an address.
                let to = message.ciaddr.isUnspecified ? IPv4Endpoint(address: .broadcast, port: 68)
                    : IPv4Endpoint(address: message.ciaddr, port: 68)
                try server.send(serverSocket, to: to, reply, now: link.now)
            }
        }
        XCTAssertTrue(link.run {
            _ = driver.poll(now: link.now) { observed.append($0) }
            try? serve()
            return driver.lease != nil
        })
        XCTAssertEqual(requestsSeen.map { $0.0 }, [IPv4Endpoint(address: .any, port: 68), IPv4Endpoint(address: .any, port: 68)])
        XCTAssertEqual(unconfigured.address, ip("10.0.0.50"))
        XCTAssertEqual(unconfigured.configuration.ipv4.gateway, ip("10.0.0.1"))
        XCTAssertEqual(observed.count, 1)
        // Now an ordinary host: it answers a ping.
        try server.ping(ip("10.0.0.50"), id: 1, seq: 1, [1, 2, 3], now: link.now)
        XCTAssertTrue(link.run { server.echoReply() != nil })

        // The renewal goes unicast from our new address (through ARP) and is answered.
        link.now = 50 * second
        XCTAssertTrue(link.run {
            _ = driver.poll(now: link.now) { observed.append($0) }
            try? serve()
            return observed.count == 2
        })
        XCTAssertEqual(requestsSeen.last?.0, IPv4Endpoint(address: ip("10.0.0.50"), port: 68))
        XCTAssertEqual(observed.last, .renewed(driver.lease!))

        // Nobody answers any more: at expiry the interface loses its address.
        server.close(serverSocket)
        link.now = driver.lease!.expiresAt - second
        XCTAssertTrue(link.run(steps: 200) {
            _ = driver.poll(now: link.now) { observed.append($0) }
            return observed.last == .lost
        })
        XCTAssertFalse(unconfigured.configuration.ipv4.isConfigured)
        XCTAssertEqual(unconfigured.address, .any)
        XCTAssertEqual(driver.client.state, .selecting)
    }

    func testReconfigureDropsOldState() throws {
        let a = makeInterface(mac: macA, address: "10.0.0.1")
        let b = makeInterface(mac: macB, address: "10.0.0.2")
        let link = SimulatedLink(a, b)
        let listener = try b.listen(port: 80)
        let connection = try a.connect(to: IPv4Endpoint(address: b.address, port: 80), now: 0)
        XCTAssertTrue(link.run { listener.accept() != nil })
        XCTAssertNotNil(a.arp.lookup(b.address, now: link.now))
        let udp = try a.bindUDP(port: 5000)
        // Gateway only: nothing is lost.
        a.reconfigure(ipv4: try IPv4Configuration(address: ip("10.0.0.1"), prefixLength: 24, gateway: ip("10.0.0.2")),
                      now: link.now)
        XCTAssertEqual(connection.state, .established)
        XCTAssertNotNil(a.arp.lookup(b.address, now: link.now))
        // A new address: connections from the old one end, ARP starts afresh, a gratuitous ARP goes out.
        let arpsBefore = a.counters.arpRequestsSent
        a.reconfigure(ipv4: try IPv4Configuration(address: ip("10.0.0.3"), prefixLength: 24), now: link.now)
        XCTAssertEqual(connection.state, .closed)
        XCTAssertEqual(connection.error, .aborted)
        XCTAssertNil(a.arp.lookup(b.address, now: link.now))
        XCTAssertEqual(a.counters.arpRequestsSent, arpsBefore + 1)
        XCTAssertTrue(udp.isOpen)
        let sink = try b.bindUDP(port: 9)
        try a.send(udp, to: IPv4Endpoint(address: b.address, port: 9), [1], now: link.now)
        var got: (UDPReceived, [UInt8])?
        XCTAssertTrue(link.run { got = got ?? sink.receive(); return got != nil })
        XCTAssertEqual(got?.0.source, IPv4Endpoint(address: ip("10.0.0.3"), port: 5000))
        // Without an address: ARP is ignored, unicast is not for us, only broadcasts arrive.
        a.reconfigure(ipv4: .unconfigured, now: link.now)
        XCTAssertThrowsError(try a.send(udp, to: IPv4Endpoint(address: b.address, port: 9), [1], now: link.now))
        try a.send(udp, to: IPv4Endpoint(address: .broadcast, port: 9), [2], now: link.now)
        let frame = try XCTUnwrap(a.drain().last)
        XCTAssertEqual(Array(frame[26..<30]), [0, 0, 0, 0], "sent from 0.0.0.0")
        let ignored = a.drops(.arpNotForUs)
        a.receive(Build.ethernet(to: .broadcast, from: macB, type: 0x0806,
                                 Build.arp(op: 1, sha: macB, spa: b.address, tha: .zero, tpa: .any)))
        XCTAssertEqual(a.drops(.arpNotForUs), ignored + 1)
        XCTAssertEqual(a.drain().count, 0)
    }

    // MARK: command line

    func testAddressingChoice() throws {
        func parse(_ arguments: [String]) throws(ConfigurationError) -> NetworkConfiguration {
            try NetworkConfiguration.parse(arguments: arguments.map { Array($0.utf8) })
        }
        XCTAssertEqual(try parse(["app"]), NetworkConfiguration(addressing: .dhcp))
        XCTAssertEqual(try parse(["--ipv4=10.0.0.2/24", "--ipv4-gateway=10.0.0.1"]).addressing,
                       .static(try IPv4Configuration(address: ip("10.0.0.2"), prefixLength: 24, gateway: ip("10.0.0.1"))))
        XCTAssertThrowsError(try parse(["--ipv4-gateway=10.0.0.1"]))
    }
}

extension Array where Element == UInt8 {
    /// A copy with the subnet mask option's value replaced (the builder's own layout).
    func replacingMask(_ mask: String) -> [UInt8] {
        var copy = self
        var i = 240
        while i < copy.count && copy[i] != 255 {
            if copy[i] == 1 { copy.replaceSubrange(i + 2..<i + 6, with: ipBytes(ip(mask))); break }
            i += 2 + Int(copy[i + 1])
        }
        return copy
    }
}
