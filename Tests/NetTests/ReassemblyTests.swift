// Fragment reassembly through the interface with hand-cut fragments: any
// order, duplicates, overlaps, conflicting ends, timeouts, the memory budget,
// the datagram limit, oversize and malformed fragments.

@testable import Net
import TestSupport
import XCTest

final class ReassemblyTests: XCTestCase {
    let peer = IPv4Endpoint(address: ip("10.0.0.9"), port: 4000)

    struct Piece {
        var offset: Int
        var bytes: [UInt8]
        var more: Bool
    }

    /// A UDP datagram to port 7 cut into pieces of `size` bytes (a multiple of 8).
    func cut(_ data: [UInt8], size: Int, host: Interface) -> [Piece] {
        let datagram = Build.udp(from: peer, to: IPv4Endpoint(address: host.address, port: 7), data)
        return stride(from: 0, to: datagram.count, by: size).map {
            Piece(offset: $0, bytes: Array(datagram[$0..<min($0 + size, datagram.count)]),
                  more: $0 + size < datagram.count)
        }
    }

    func frame(_ piece: Piece, host: Interface, id: UInt16 = 77) -> [UInt8] {
        let word = UInt16(piece.offset / 8) | (piece.more ? 0x2000 : 0)
        return Build.ethernet(to: host.mac, from: macPeer, type: 0x0800,
                              Build.ipv4(from: peer.address, to: host.address, protocol: 17, id: id,
                                         fragment: word, piece.bytes))
    }

    func setUp(limits: InterfaceLimits = InterfaceLimits()) throws -> (Interface, UDPSocket) {
        let host = makeInterface(limits: limits)
        return (host, try host.bindUDP(port: 7))
    }

    func data(_ count: Int, seed: UInt64 = 5) -> [UInt8] {
        var random = SplitMix64(seed: seed)
        return (0..<count).map { _ in UInt8(truncatingIfNeeded: random.next()) }
    }

    func testInOrderReverseAndRandomOrder() throws {
        var random = SplitMix64(seed: 815)
        for order in 0..<12 {
            let (host, socket) = try setUp()
            let payload = data(3000, seed: UInt64(order))
            var pieces = cut(payload, size: 512, host: host)
            if order == 1 { pieces.reverse() }
            if order > 1 { pieces.shuffle(using: &random) }
            for piece in pieces { host.receive(frame(piece, host: host)) }
            XCTAssertEqual(socket.receive()?.1, payload, "order \(order)")
            XCTAssertEqual(host.counters.datagramsReassembled, 1)
            XCTAssertEqual(host.reassembler.datagramsHeld, 0)
            XCTAssertEqual(host.reassembler.bytesInUse, 0)
        }
    }

    func testDuplicatesAreDroppedFirstCopyWins() throws {
        let (host, socket) = try setUp()
        let payload = data(100)
        let pieces = cut(payload, size: 48, host: host)
        host.receive(frame(pieces[0], host: host))
        var forged = pieces[0]
        forged.bytes[20] ^= 0xff
        host.receive(frame(forged, host: host))
        host.receive(frame(pieces[1], host: host))
        host.receive(frame(pieces[1], host: host))
        host.receive(frame(pieces[2], host: host))
        XCTAssertEqual(host.drops(.fragmentDuplicate), 2)
        XCTAssertEqual(socket.receive()?.1, payload)
        // A duplicate after completion starts a new datagram that then times out.
        host.receive(frame(pieces[1], host: host))
        _ = host.poll(now: 30 * second)
        XCTAssertEqual(host.drops(.reassemblyTimeout), 1)
    }

    func testOverlapsDiscardTheDatagram() throws {
        let (host, socket) = try setUp()
        let payload = data(100)
        let pieces = cut(payload, size: 48, host: host)
        host.receive(frame(pieces[0], host: host))
        // 8 bytes into the first piece: overlapping.
        host.receive(frame(Piece(offset: 40, bytes: Array(repeating: 1, count: 16), more: true), host: host))
        XCTAssertEqual(host.drops(.fragmentOverlap), 1)
        XCTAssertEqual(host.reassembler.datagramsHeld, 0)
        host.receive(frame(pieces[1], host: host))
        host.receive(frame(pieces[2], host: host))
        XCTAssertNil(socket.receive(), "the first piece went with the discarded datagram")
    }

    func testConflictingEndsDiscardTheDatagram() throws {
        let (host, _) = try setUp()
        host.receive(frame(Piece(offset: 0, bytes: Array(repeating: 0, count: 16), more: true), host: host))
        host.receive(frame(Piece(offset: 32, bytes: [1, 2], more: false), host: host))
        host.receive(frame(Piece(offset: 40, bytes: [1, 2], more: false), host: host))
        XCTAssertEqual(host.drops(.fragmentOverlap), 1)
        // Data beyond a known end, or a last fragment ending before data held.
        host.receive(frame(Piece(offset: 0, bytes: Array(repeating: 0, count: 16), more: false), host: host, id: 2))
        host.receive(frame(Piece(offset: 8, bytes: Array(repeating: 0, count: 16), more: true), host: host, id: 3))
        host.receive(frame(Piece(offset: 40, bytes: Array(repeating: 0, count: 16), more: true), host: host, id: 3))
        host.receive(frame(Piece(offset: 24, bytes: [0], more: false), host: host, id: 3))
        XCTAssertEqual(host.drops(.fragmentOverlap), 2)
    }

    func testMissingFragmentTimesOut() throws {
        let (host, socket) = try setUp()
        let pieces = cut(data(200), size: 64, host: host)
        for piece in pieces.dropLast() { host.receive(frame(piece, host: host), now: 5 * second) }
        XCTAssertEqual(host.poll(now: 5 * second), 35 * second)
        XCTAssertEqual(host.poll(now: 35 * second - 1), 35 * second)
        XCTAssertNil(host.poll(now: 35 * second))
        XCTAssertEqual(host.drops(.reassemblyTimeout), 1)
        XCTAssertEqual(host.reassembler.bytesInUse, 0)
        host.receive(frame(pieces.last!, host: host), now: 35 * second)
        XCTAssertNil(socket.receive())
    }

    func testMemoryBudgetEvictsOldestThenRefuses() throws {
        var limits = InterfaceLimits()
        limits.reassemblyBudget = 4000
        let (host, socket) = try setUp(limits: limits)
        let first = cut(data(3000, seed: 1), size: 1024, host: host)
        let second = cut(data(3000, seed: 2), size: 1024, host: host)
        host.receive(frame(first[0], host: host, id: 1), now: 0)
        host.receive(frame(first[1], host: host, id: 1), now: 0)
        host.receive(frame(second[0], host: host, id: 2), now: 1)
        host.receive(frame(second[1], host: host, id: 2), now: 1)
        XCTAssertEqual(host.drops(.reassemblyBudget), 1, "the older datagram made room")
        XCTAssertLessThanOrEqual(host.reassembler.bytesInUse, 4000)
        host.receive(frame(second[2], host: host, id: 2), now: 2)
        XCTAssertEqual(socket.receive()?.1, data(3000, seed: 2))
        // A datagram that cannot fit alone is refused.
        var tight = InterfaceLimits()
        tight.reassemblyBudget = 1000
        let (small, _) = try setUp(limits: tight)
        for piece in cut(data(3000), size: 512, host: small) { small.receive(frame(piece, host: small)) }
        XCTAssertGreaterThan(small.drops(.reassemblyBudget), 0)
        XCTAssertLessThanOrEqual(small.reassembler.bytesInUse, 1000)
        XCTAssertEqual(small.counters.datagramsReassembled, 0)
    }

    func testDatagramLimitEvictsOldest() throws {
        var limits = InterfaceLimits()
        limits.reassemblyDatagrams = 2
        let (host, _) = try setUp(limits: limits)
        for id in 1...3 {
            host.receive(frame(Piece(offset: 0, bytes: Array(repeating: 0, count: 16), more: true), host: host,
                               id: UInt16(id)), now: UInt64(id))
        }
        XCTAssertEqual(host.drops(.reassemblyEvicted), 1)
        XCTAssertEqual(host.reassembler.datagramsHeld, 2)
    }

    func testOversizeAndMalformedFragments() throws {
        let (host, _) = try setUp()
        // Offset 65528 + 16 bytes + 20 header > 65535.
        host.receive(frame(Piece(offset: 65528, bytes: Array(repeating: 0, count: 16), more: false), host: host))
        XCTAssertEqual(host.drops(.fragmentOversize), 1)
        // Offset 65512 + 8 bytes + 20 = 65540: also too large, the largest legal start is 65496 + 19 bytes.
        host.receive(frame(Piece(offset: 65512, bytes: Array(repeating: 0, count: 8), more: false), host: host))
        XCTAssertEqual(host.drops(.fragmentOversize), 2)
        // Non-final fragments must carry a non-empty multiple of 8.
        host.receive(frame(Piece(offset: 0, bytes: Array(repeating: 0, count: 12), more: true), host: host))
        host.receive(frame(Piece(offset: 0, bytes: [], more: true), host: host))
        XCTAssertEqual(host.drops(.fragmentMalformed), 2)
        XCTAssertEqual(host.reassembler.datagramsHeld, 0)
    }

    func testLargestDatagramReassembles() throws {
        let (host, socket) = try setUp()
        let payload = data(65535 - 28)
        for piece in cut(payload, size: 1480, host: host).reversed() { host.receive(frame(piece, host: host)) }
        XCTAssertEqual(socket.receive()?.1, payload)
    }
}
