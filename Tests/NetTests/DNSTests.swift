// The DNS stub resolver: name encoding limits, responses built byte by byte
// (compression, pointer loops and forward pointers, truncation, wrong ID or
// question, CNAME chains, RCODEs), retries and server rotation on a
// simulated clock, a seeded mutation soak, and --dns on the command line.

@testable import Net
import TestSupport
import XCTest

/// A response, assembled from its parts so each test can break one.
struct DNSReply {
    var id: UInt16 = 0x1234
    var flags: UInt16 = 0x8180  // QR, RD, RA, NOERROR
    var questionName: [UInt8] = DNSReply.wire("www.example.com")
    var questionCount: UInt16 = 1
    var qtype: UInt16 = 1
    var answers: [[UInt8]] = []

    static func wire(_ name: String) -> [UInt8] {
        var bytes: [UInt8] = []
        for label in name.split(separator: ".") { bytes += [UInt8(label.utf8.count)] + Array(label.utf8) }
        return bytes + [0]
    }

    /// A record: owner (raw, possibly a pointer), type, TTL, data.
    static func record(_ owner: [UInt8], type: UInt16 = 1, ttl: UInt32 = 300, _ data: [UInt8]) -> [UInt8] {
        owner + be16(type) + be16(1) + be16(UInt16(ttl >> 16)) + be16(UInt16(ttl & 0xffff))
            + be16(UInt16(data.count)) + data
    }

    /// A pointer to `offset` (12: the question name).
    static func pointer(_ offset: Int) -> [UInt8] { [UInt8(0xc0 | offset >> 8), UInt8(offset & 0xff)] }

    var bytes: [UInt8] {
        be16(id) + be16(flags) + be16(questionCount) + be16(UInt16(answers.count)) + be16(0) + be16(0)
            + questionName + be16(qtype) + be16(1) + answers.flatMap { $0 }
    }
}

let dns1 = ip("10.0.0.53")
let dns2 = ip("10.0.0.54")

extension DNSQuery {
    func receive(_ bytes: [UInt8], from server: IPv4Address = dns1, port: UInt16 = 53, now: UInt64 = 0) {
        bytes.withUnsafeBytes { receive($0, from: IPv4Endpoint(address: server, port: port), now: now) }
    }
}

final class DNSTests: XCTestCase {
    func query(_ name: String = "www.example.com", servers: [IPv4Address] = [dns1],
               settings: DNSSettings = DNSSettings()) -> DNSQuery {
        let query = try! DNSQuery(name: name, servers: servers, identifier: 0x1234, settings: settings)
        _ = query.poll(now: 0)
        return query
    }

    func parse(_ reply: DNSReply, name: String = "www.example.com") throws(DNSDropReason) -> DNSMessage.Response {
        let wire = DNSMessage.encodeName(name.utf8)!
        let bytes = reply.bytes
        let result: Result<DNSMessage.Response, DNSDropReason> = bytes.withUnsafeBytes { buffer in
            do throws(DNSDropReason) {
                return .success(try DNSMessage.parseResponse(buffer, identifier: 0x1234, name: wire))
            } catch { return .failure(error) }
        }
        return try result.get()
    }

    func testNames() {
        XCTAssertEqual(DNSMessage.encodeName("www.Example.com".utf8), [3] + Array("www".utf8) + [7] + Array("Example".utf8) + [3] + Array("com".utf8) + [0])
        XCTAssertEqual(DNSMessage.encodeName("a.".utf8), [1, 97, 0])
        let label63 = String(repeating: "x", count: 63)
        XCTAssertNotNil(DNSMessage.encodeName("\(label63).com".utf8))
        XCTAssertNil(DNSMessage.encodeName("\(label63)x.com".utf8))
        // 255 bytes in wire form is the limit: 4 labels of 63 = 256 with the root, 3 x 63 + 61 fits.
        let l61 = String(repeating: "y", count: 61)
        XCTAssertEqual(DNSMessage.encodeName("\(label63).\(label63).\(label63).\(l61)".utf8)?.count, 255)
        XCTAssertNil(DNSMessage.encodeName("\(label63).\(label63).\(label63).\(l61)y".utf8))
        for bad in ["", ".", "..", "a..b", ".a", "a b", "a\tb", "a.b..", "caf\u{e9}.com"] {
            XCTAssertNil(DNSMessage.encodeName(bad.utf8), bad)
            XCTAssertThrowsError(try DNSQuery(name: bad, servers: [dns1], identifier: 1))
        }
        XCTAssertThrowsError(try DNSQuery(name: "a", servers: [], identifier: 1)) {
            XCTAssertEqual($0 as? DNSError, .noServers)
        }
    }

    func testQueryBytes() throws {
        let query = try DNSQuery(name: "www.example.com", servers: [dns1], identifier: 0xbeef)
        XCTAssertEqual(query.poll(now: 0), 2 * second)
        let datagram = try XCTUnwrap(query.takeDatagram())
        XCTAssertEqual(datagram.destination, IPv4Endpoint(address: dns1, port: 53))
        XCTAssertEqual(datagram.payload, [0xbe, 0xef, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]
                       + DNSReply.wire("www.example.com") + [0, 1, 0, 1])
    }

    func testAnswerWithCompression() throws {
        var reply = DNSReply()
        reply.answers = [DNSReply.record(DNSReply.pointer(12), [93, 184, 216, 34]),
                         DNSReply.record(DNSReply.pointer(12), ttl: 60, [93, 184, 216, 35])]
        let response = try parse(reply)
        XCTAssertEqual(response.addresses, [ip("93.184.216.34"), ip("93.184.216.35")])
        XCTAssertEqual(response.ttl, 60)
        // Case does not matter (RFC 4343), and a pointer into the middle of a name is fine.
        var mixed = DNSReply()
        mixed.questionName = DNSReply.wire("WWW.example.COM")
        mixed.answers = [DNSReply.record([3] + Array("www".utf8) + DNSReply.pointer(16), [1, 2, 3, 4])]
        XCTAssertEqual(try parse(mixed).addresses, [ip("1.2.3.4")])

        let query = query()
        query.receive(reply.bytes)
        XCTAssertEqual(query.result, .success(DNSAnswer(addresses: [ip("93.184.216.34"), ip("93.184.216.35")], ttl: 60)))
        XCTAssertTrue(query.isDone)
        XCTAssertNil(query.poll(now: second))
    }

    func testBadPointers() {
        func reason(_ owner: [UInt8]) -> DNSDropReason? {
            var reply = DNSReply()
            reply.answers = [DNSReply.record(owner, [1, 2, 3, 4])]
            do { _ = try parse(reply); return nil } catch { return error }
        }
        let answerStart = 12 + 17 + 4
        XCTAssertEqual(reason(DNSReply.pointer(answerStart)), .badPointer, "to itself")
        XCTAssertEqual(reason(DNSReply.pointer(answerStart + 2)), .badPointer, "forward")
        XCTAssertEqual(reason(DNSReply.pointer(0x3fff)), .badPointer, "out of range")
        // A loop through two pointers: a label, then a pointer back to the label.
        XCTAssertEqual(reason([1, 97] + DNSReply.pointer(answerStart)), .badPointer)
        XCTAssertEqual(reason([0x40]), .malformedName)
        var cut = DNSReply()
        cut.answers = [[0xc0]]
        XCTAssertThrowsError(try parse(cut)) { XCTAssertEqual($0 as? DNSDropReason, .truncated) }
        // A name past 255 bytes through repeated pointers to a long name.
        var long = DNSReply()
        let label = String(repeating: "z", count: 63)
        long.questionName = DNSReply.wire("\(label).\(label).\(label)")
        long.answers = [DNSReply.record([63] + Array(label.utf8) + DNSReply.pointer(12), [1, 2, 3, 4])]
        XCTAssertThrowsError(try parse(long, name: "\(label).\(label).\(label)")) {
            XCTAssertEqual($0 as? DNSDropReason, .malformedName)
        }
    }

    func testCNAMEChain() throws {
        var reply = DNSReply()
        let alias = DNSReply.wire("edge.cdn.net")
        reply.answers = [
            // An unrelated A record first: never used.
            DNSReply.record(DNSReply.wire("evil.example"), [6, 6, 6, 6]),
            DNSReply.record(DNSReply.pointer(12), type: 5, ttl: 3600, alias),
            DNSReply.record(DNSReply.wire("edge.cdn.net"), type: 5, ttl: 120, DNSReply.wire("host.cdn.net")),
            DNSReply.record(DNSReply.wire("HOST.cdn.net"), ttl: 500, [10, 1, 1, 1]),
        ]
        let response = try parse(reply)
        XCTAssertEqual(response.addresses, [ip("10.1.1.1")])
        XCTAssertEqual(response.ttl, 120)
        // A chain that ends without an address: NODATA.
        reply.answers.removeLast()
        let query = query()
        query.receive(reply.bytes)
        XCTAssertEqual(query.result, .failure(.noAddresses))
        // A CNAME loop stops after the chain limit.
        var loop = DNSReply()
        loop.answers = [DNSReply.record(DNSReply.pointer(12), type: 5, DNSReply.wire("b.example")),
                        DNSReply.record(DNSReply.wire("b.example"), type: 5, DNSReply.wire("www.example.com"))]
        XCTAssertEqual(try parse(loop).addresses, [])
        // CNAME data that does not end where the record does, and A data of the wrong length.
        var odd = DNSReply()
        odd.answers = [DNSReply.record(DNSReply.pointer(12), type: 5, DNSReply.wire("b.example") + [0])]
        XCTAssertThrowsError(try parse(odd)) { XCTAssertEqual($0 as? DNSDropReason, .malformedRecord) }
        odd.answers = [DNSReply.record(DNSReply.pointer(12), [1, 2, 3])]
        XCTAssertThrowsError(try parse(odd)) { XCTAssertEqual($0 as? DNSDropReason, .malformedRecord) }
        odd.answers = [Array(DNSReply.record(DNSReply.pointer(12), [1, 2, 3, 4]).dropLast())]
        XCTAssertThrowsError(try parse(odd)) { XCTAssertEqual($0 as? DNSDropReason, .truncated) }
        // A TTL with the top bit set counts as 0.
        var negative = DNSReply()
        negative.answers = [DNSReply.record(DNSReply.pointer(12), ttl: 0x8000_0001, [1, 2, 3, 4])]
        XCTAssertEqual(try parse(negative).ttl, 0)
    }

    func testMismatchesAreIgnored() {
        let query = query()
        var good = DNSReply()
        good.answers = [DNSReply.record(DNSReply.pointer(12), [1, 2, 3, 4])]
        var wrongID = good
        wrongID.id = 0x4321
        var wrongName = good
        wrongName.questionName = DNSReply.wire("www.example.org")
        var wrongType = good
        wrongType.qtype = 28
        var noQuestion = good
        noQuestion.questionCount = 0
        var notResponse = good
        notResponse.flags = 0x0100
        var otherOpcode = good
        otherOpcode.flags = 0x8000 | 2 << 11
        let cases: [([UInt8], IPv4Address, UInt16, DNSDropReason)] = [
            (wrongID.bytes, dns1, 53, .wrongID),
            (wrongName.bytes, dns1, 53, .wrongQuestion),
            (wrongType.bytes, dns1, 53, .wrongQuestion),
            (noQuestion.bytes, dns1, 53, .wrongQuestion),
            (notResponse.bytes, dns1, 53, .notResponse),
            (otherOpcode.bytes, dns1, 53, .notResponse),
            (Array(good.bytes[0..<11]), dns1, 53, .truncated),
            (good.bytes, dns2, 53, .unexpectedSource),
            (good.bytes, dns1, 5353, .unexpectedSource),
        ]
        for (bytes, server, port, reason) in cases {
            let before = query.counters[reason]
            query.receive(bytes, from: server, port: port)
            XCTAssertEqual(query.counters[reason], before + 1, "\(reason)")
            XCTAssertNil(query.result)
        }
        query.receive(good.bytes)
        XCTAssertEqual(query.result, .success(DNSAnswer(addresses: [ip("1.2.3.4")], ttl: 300)))
    }

    func testRCodesAndTruncation() {
        var reply = DNSReply()
        reply.flags = 0x8183
        var q = query()
        q.receive(reply.bytes)
        XCTAssertEqual(q.result, .failure(.nameError))

        reply.flags = 0x8380  // TC
        reply.answers = [DNSReply.record(DNSReply.pointer(12), [1, 2, 3, 4])]
        q = query()
        q.receive(Array(reply.bytes.dropLast(3)))
        XCTAssertEqual(q.result, .failure(.truncated))

        // SERVFAIL moves on to the next server at once; when all fail, serverFailure.
        q = query(servers: [dns1, dns2])
        XCTAssertEqual(q.takeDatagram()?.destination.address, dns1)
        reply = DNSReply()
        reply.flags = 0x8182
        q.receive(reply.bytes, now: 100 * millisecond)
        XCTAssertNil(q.result)
        XCTAssertEqual(q.takeDatagram()?.destination.address, dns2)
        XCTAssertEqual(q.poll(now: 100 * millisecond), 2100 * millisecond)
        reply.flags = 0x8185  // REFUSED
        q.receive(reply.bytes, from: dns2, now: 200 * millisecond)
        XCTAssertEqual(q.result, .failure(.serverFailure(rcode: 5)))
        XCTAssertNil(q.takeDatagram())
    }

    func testRetriesRotateServers() {
        var settings = DNSSettings()
        settings.tryTimeout = 2 * second
        settings.rounds = 2
        settings.timeout = 60 * second
        let q = try! DNSQuery(name: "www.example.com", servers: [dns1, dns2], identifier: 0x1234, settings: settings)
        var now: UInt64 = 0
        var sent: [(UInt64, IPv4Address)] = []
        while let next = q.poll(now: now) {
            if let datagram = q.takeDatagram() { sent.append((now, datagram.destination.address)) }
            now = next
        }
        XCTAssertEqual(sent.map { $0.0 }, [0, 2, 4, 6].map { $0 * second })
        XCTAssertEqual(sent.map { $0.1 }, [dns1, dns2, dns1, dns2])
        XCTAssertEqual(now, 8 * second)
        XCTAssertEqual(q.result, .failure(.timedOut))
        XCTAssertEqual(q.counters.sent, 4)

        // The overall deadline cuts the tries short; a late answer from the first server still counts.
        settings.timeout = 5 * second
        let late = try! DNSQuery(name: "www.example.com", servers: [dns1, dns2], identifier: 0x1234, settings: settings)
        XCTAssertEqual(late.poll(now: 0), 2 * second)
        XCTAssertEqual(late.poll(now: 2 * second), 4 * second)
        XCTAssertEqual(late.takeDatagram()?.destination.address, dns2)
        XCTAssertEqual(late.poll(now: 4 * second), 5 * second)
        var reply = DNSReply()
        reply.answers = [DNSReply.record(DNSReply.pointer(12), [9, 9, 9, 9])]
        late.receive(reply.bytes, from: dns1, now: 4500 * millisecond)
        XCTAssertEqual(late.result, .success(DNSAnswer(addresses: [ip("9.9.9.9")], ttl: 300)))

        let cut = try! DNSQuery(name: "www.example.com", servers: [dns1, dns2], identifier: 0x1234, settings: settings)
        _ = cut.poll(now: 0)
        _ = cut.poll(now: 2 * second)
        _ = cut.poll(now: 4 * second)
        // Only a malformed reply came: that is what the caller hears.
        var broken = reply
        broken.answers = [DNSReply.record(DNSReply.pointer(12), [9, 9, 9])]
        cut.receive(broken.bytes, now: 4 * second)
        XCTAssertNil(cut.poll(now: 5 * second))
        XCTAssertEqual(cut.result, .failure(.malformedResponse))
    }

    func testMutatedResponsesNeverTrap() {
        var random = SplitMix64(seed: 53)
        var good = DNSReply()
        good.answers = [DNSReply.record(DNSReply.pointer(12), type: 5, DNSReply.wire("a.example")),
                        DNSReply.record(DNSReply.wire("a.example"), [1, 2, 3, 4])]
        let base = good.bytes
        let wire = DNSMessage.encodeName("www.example.com".utf8)!
        var parsed = 0
        for _ in 0..<50_000 {
            var bytes = base
            for _ in 0..<(1 + random.below(3)) {
                switch random.below(3) {
                case 0: bytes[random.below(bytes.count)] = UInt8(truncatingIfNeeded: random.next())
                case 1: bytes.removeLast(random.below(bytes.count))
                default: bytes[random.below(bytes.count)] ^= UInt8(1 << random.below(8))
                }
            }
            let ok: Bool = bytes.withUnsafeBytes { (try? DNSMessage.parseResponse($0, identifier: 0x1234, name: wire)) != nil }
            if ok { parsed += 1 }
        }
        XCTAssertGreaterThan(parsed, 0)
    }

    // MARK: command line

    func testDNSOption() throws {
        func parse(_ arguments: [String]) throws(ConfigurationError) -> NetworkConfiguration {
            try NetworkConfiguration.parse(arguments: arguments.map { Array($0.utf8) })
        }
        let config = try parse(["--dns=10.0.0.53", "x", "--ipv4=10.0.0.2/24", "--dns=1.1.1.1", "--dns-other=1"])
        XCTAssertEqual(config.dnsServers, [dns1, ip("1.1.1.1")])
        XCTAssertEqual(config.addressing, .static(try IPv4Configuration(address: ip("10.0.0.2"), prefixLength: 24)))
        XCTAssertEqual(try parse(["--dns=8.8.8.8"]).addressing, .dhcp)
        let cases: [([String], ConfigurationError)] = [
            (["--dns"], .missingValue(.dns)),
            (["--dns="], .missingValue(.dns)),
            (["--dnsx=1.1.1.1"], .missingValue(.dns)),
            (["--dns=1.1.1"], .malformedAddress(.dns)),
            (["--dns=0.0.0.0"], .unusableDNSServer),
            (["--dns=255.255.255.255"], .unusableDNSServer),
            (["--dns=224.0.0.251"], .unusableDNSServer),
            (["--dns=127.0.0.1"], .unusableDNSServer),
            (["--dns=1.1.1.1", "--dns=1.1.1.1"], .duplicateDNSServer),
            (["--dns=1.1.1.1", "--dns=1.1.1.2", "--dns=1.1.1.3", "--dns=1.1.1.4"], .tooManyDNSServers),
            (["--dns=1.1.1.1", "--ipv4=10.0.0.2"], .malformedPrefix),
        ]
        for (arguments, expected) in cases {
            XCTAssertThrowsError(try parse(arguments), "\(arguments)") {
                XCTAssertEqual($0 as? ConfigurationError, expected, "\(arguments)")
                XCTAssertFalse(($0 as? ConfigurationError)?.message.isEmpty ?? true)
            }
        }
    }
}
