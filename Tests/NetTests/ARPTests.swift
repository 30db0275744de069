// ARP through the interface: answering requests, learning (RFC 826 merge),
// resolution with retries, failure dropping the waiting frames, the queue
// limit, cache expiry and eviction, gratuitous ARP and conflicts.

@testable import Net
import XCTest

final class ARPTests: XCTestCase {
    let peer = ip("10.0.0.9")

    func request(for target: IPv4Address, from sender: IPv4Address = ip("10.0.0.9"),
                 mac: EthernetAddress = macPeer) -> [UInt8] {
        Build.ethernet(to: .broadcast, from: mac, type: 0x0806,
                       Build.arp(op: 1, sha: mac, spa: sender, tha: .zero, tpa: target))
    }

    func reply(from sender: IPv4Address = ip("10.0.0.9"), mac: EthernetAddress = macPeer, to host: Interface) -> [UInt8] {
        Build.ethernet(to: host.mac, from: mac, type: 0x0806,
                       Build.arp(op: 2, sha: mac, spa: sender, tha: host.mac, tpa: host.address))
    }

    func testAnswersRequestsForOurAddressAndLearnsTheSender() throws {
        let host = makeInterface()
        host.receive(request(for: host.address))
        let frames = host.drain()
        XCTAssertEqual(frames.count, 1)
        // Reply: to the asker, padded to 60 bytes, sender = us, target = asker.
        let expected = Build.ethernet(to: macPeer, from: macA, type: 0x0806,
                                      Build.arp(op: 2, sha: macA, spa: host.address, tha: macPeer, tpa: peer))
        XCTAssertEqual(frames[0], expected + [UInt8](repeating: 0, count: 18))
        XCTAssertEqual(host.counters.arpRepliesSent, 1)
        XCTAssertEqual(host.arp.lookup(peer, now: 0), macPeer)
    }

    func testRequestsForOthersAreNotAnsweredNorLearned() {
        let host = makeInterface()
        host.receive(request(for: ip("10.0.0.77")))
        XCTAssertTrue(host.drain().isEmpty)
        XCTAssertNil(host.arp.lookup(peer, now: 0))
        XCTAssertEqual(host.drops(.arpNotForUs), 1)
    }

    func testSendingResolvesThenFlushesInOrder() throws {
        let host = makeInterface()
        let socket = try host.bindUDP(port: 5000)
        let destination = IPv4Endpoint(address: peer, port: 7)
        try host.send(socket, to: destination, [1], now: 0)
        try host.send(socket, to: destination, [2], now: 1)
        var frames = host.drain()
        XCTAssertEqual(frames.count, 1, "one request, the datagrams wait")
        let arp = try frames[0].withUnsafeBytes { try ARPPacket.parse($0.slice(14..<$0.count)) }
        XCTAssertEqual(arp.operation, .request)
        XCTAssertEqual(arp.targetProtocolAddress, peer)
        XCTAssertEqual(Array(frames[0][0..<6]), macBytes(.broadcast))
        host.receive(reply(to: host), now: 5)
        frames = host.drain()
        XCTAssertEqual(frames.count, 2)
        XCTAssertEqual(frames.map { Array($0[0..<6]) }, [macBytes(macPeer), macBytes(macPeer)])
        XCTAssertEqual(frames.map { $0[42] }, [1, 2], "in the order they were sent")
        // Now cached: the next one goes at once.
        try host.send(socket, to: destination, [3], now: 10)
        XCTAssertEqual(host.drain().count, 1)
    }

    func testRetriesThenFailsAndDropsTheWaitingFrames() throws {
        let host = makeInterface()
        let socket = try host.bindUDP()
        try host.send(socket, to: IPv4Endpoint(address: peer, port: 7), [1, 2, 3], now: 0)
        try host.send(socket, to: IPv4Endpoint(address: peer, port: 7), [4], now: 0)
        XCTAssertEqual(host.poll(now: 0), second)
        XCTAssertEqual(host.drain().count, 1)
        XCTAssertEqual(host.poll(now: second - 1), second)
        XCTAssertTrue(host.drain().isEmpty)
        XCTAssertEqual(host.poll(now: second), 2 * second)
        XCTAssertEqual(host.drain().count, 1, "second request")
        XCTAssertEqual(host.poll(now: 2 * second), 3 * second)
        XCTAssertEqual(host.drain().count, 1, "third request")
        XCTAssertNil(host.poll(now: 3 * second), "gave up: nothing scheduled")
        XCTAssertTrue(host.drain().isEmpty)
        XCTAssertEqual(host.counters.arpRequestsSent, 3)
        XCTAssertEqual(host.drops(.arpResolutionFailed), 2)
        XCTAssertEqual(host.pending.count, 0)
        // A late reply is still learned (it is addressed to us), with nothing left to send.
        host.receive(reply(to: host), now: 4 * second)
        XCTAssertTrue(host.drain().isEmpty)
    }

    func testQueueLimit() throws {
        var limits = InterfaceLimits()
        limits.arpPendingFrames = 3
        let host = makeInterface(limits: limits)
        let socket = try host.bindUDP()
        for i in 0..<3 { try host.send(socket, to: IPv4Endpoint(address: peer, port: 7), [UInt8(i)], now: 0) }
        XCTAssertThrowsError(try host.send(socket, to: IPv4Endpoint(address: peer, port: 7), [9], now: 0)) {
            XCTAssertEqual($0 as? SendError, .queueFull)
        }
        XCTAssertEqual(host.drops(.arpQueueFull), 1)
        // A fragmented datagram needing more slots than are free is refused whole.
        XCTAssertThrowsError(try host.send(socket, to: IPv4Endpoint(address: ip("10.0.0.10"), port: 7),
                                           [UInt8](repeating: 0, count: 3000), now: 0))
        host.receive(reply(to: host))
        XCTAssertEqual(host.drain().filter { $0[12] == 0x08 && $0[13] == 0x00 }.count, 3)
    }

    func testCacheEntriesExpire() throws {
        var limits = InterfaceLimits()
        limits.arpEntryLifetime = 60 * second
        let host = makeInterface(limits: limits)
        host.receive(request(for: host.address), now: 0)
        _ = host.drain()
        let socket = try host.bindUDP()
        try host.send(socket, to: IPv4Endpoint(address: peer, port: 7), [1], now: 60 * second - 1)
        XCTAssertEqual(host.drain().count, 1, "cached: sent at once")
        try host.send(socket, to: IPv4Endpoint(address: peer, port: 7), [1], now: 60 * second)
        let frames = host.drain()
        XCTAssertEqual(frames.count, 1)
        XCTAssertEqual(Array(frames[0][12..<14]), [0x08, 0x06], "expired: resolving again")
    }

    func testGratuitousARPUpdatesOnlyKnownEntries() {
        let host = makeInterface()
        let other = EthernetAddress(0x02, 0, 0, 0, 0, 0x77)
        // Gratuitous (sender = target = its own address): not for us, unknown sender, ignored.
        host.receive(request(for: peer, from: peer, mac: other))
        XCTAssertNil(host.arp.lookup(peer, now: 0))
        host.receive(request(for: host.address))
        XCTAssertEqual(host.arp.lookup(peer, now: 0), macPeer)
        host.receive(request(for: peer, from: peer, mac: other))
        XCTAssertEqual(host.arp.lookup(peer, now: 0), other, "merged")
        XCTAssertEqual(host.drops(.arpNotForUs), 1)
    }

    func testConflictsProbesAndNonsenseSenders() {
        let host = makeInterface()
        host.receive(request(for: host.address, from: host.address))
        XCTAssertEqual(host.drops(.arpAddressConflict), 1)
        // A probe (RFC 5227: sender 0.0.0.0) gets a reply but teaches nothing.
        host.receive(request(for: host.address, from: .any))
        XCTAssertEqual(host.drain().count, 1)
        XCTAssertTrue(host.arp.entries.isEmpty)
        // Off-link, broadcast, or multicast-MAC senders are not learned.
        host.receive(request(for: host.address, from: ip("192.168.0.1")))
        host.receive(request(for: host.address, from: ip("10.0.0.255")))
        host.receive(request(for: host.address, mac: EthernetAddress(0x01, 0, 0x5e, 0, 0, 1)))
        XCTAssertTrue(host.arp.entries.isEmpty)
    }

    func testAnnounceSendsGratuitousRequest() throws {
        let host = makeInterface()
        host.announce(now: 0)
        let frame = try XCTUnwrap(host.drain().first)
        let arp = try frame.withUnsafeBytes { try ARPPacket.parse($0.slice(14..<$0.count)) }
        XCTAssertEqual(arp.senderProtocolAddress, host.address)
        XCTAssertEqual(arp.targetProtocolAddress, host.address)
    }

    func testCacheEvictsTheEntryClosestToExpiryAndKeepsResolutions() {
        var cache = ARPCache(capacity: 2, lifetime: 100, requestInterval: 10, requestAttempts: 2)
        XCTAssertEqual(cache.update(ip("10.0.0.1"), macA, now: 0, create: true), .cached)
        XCTAssertEqual(cache.update(ip("10.0.0.2"), macB, now: 5, create: true), .cached)
        XCTAssertEqual(cache.update(ip("10.0.0.3"), macPeer, now: 6, create: true), .cached)
        XCTAssertNil(cache.lookup(ip("10.0.0.1"), now: 7), "oldest evicted")
        XCTAssertEqual(cache.resolve(ip("10.0.0.4"), now: 7), .started)
        XCTAssertEqual(cache.resolve(ip("10.0.0.4"), now: 8), .inProgress)
        XCTAssertEqual(cache.resolve(ip("10.0.0.5"), now: 8), .started)
        XCTAssertEqual(cache.resolve(ip("10.0.0.6"), now: 8), .cacheFull, "resolutions are never evicted")
        XCTAssertEqual(cache.update(ip("10.0.0.7"), macA, now: 8, create: true), .notCached)
        XCTAssertEqual(cache.deadline, 17)
        XCTAssertEqual(cache.nextEvent(now: 17), .retry(ip("10.0.0.4")))
        XCTAssertEqual(cache.nextEvent(now: 18), .retry(ip("10.0.0.5")))
        XCTAssertNil(cache.nextEvent(now: 18))
        XCTAssertEqual(cache.update(ip("10.0.0.5"), macB, now: 20, create: false), .completed)
        XCTAssertEqual(cache.nextEvent(now: 27), .failed(ip("10.0.0.4")))
        XCTAssertNil(cache.deadline)
    }
}
