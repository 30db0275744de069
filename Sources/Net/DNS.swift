// A DNS stub resolver for A records (RFC 1035), sans-IO over UDP:
//   - names: labels of 1...63 printable bytes, at most 255 bytes in wire form,
//     one trailing dot allowed, no escapes; compared case-insensitively;
//   - queries: one question, RD set;
//   - responses: the ID and the question must match ours; compression
//     pointers must point strictly before the label run that holds them, so
//     loops and forward or out-of-range pointers are impossible (each is
//     refused); every record is checked against the message's end; CNAME
//     chains are followed within the answer section (8 links at most) and
//     only records on the chain are used; the answer's TTL is the smallest
//     on the chain (RFC 2181 §8: a TTL with the top bit set counts as 0).
// `DNSQuery` asks the servers in turn, `tries` rounds, each try given
// `tryTimeout`, all within `timeout`: a datagram to send (`takeDatagram`),
// datagrams received (`receive`), a deadline (`poll`), then `result`.
// SERVFAIL, REFUSED, NOTIMP and FORMERR move on to the next server at once;
// NXDOMAIN, an answer and a truncated (TC) reply end the query.
// The caller draws the ID from its random source and sends from a random
// port (RFC 5452); a malformed or mismatched datagram is counted and ignored,
// so a forged one cannot end the query.
// Limits: A records only, no TCP fallback (TC is reported), no EDNS(0), no
// cache, no search list; authority and additional sections are not read.
// Tests: Tests/NetTests/DNSTests.swift.

public enum DNSError: Error, Equatable {
    /// The name cannot be asked (empty label, label over 63 or name over 255 bytes, odd bytes).
    case invalidName
    case noServers
    /// No usable answer within the deadline or the tries.
    case timedOut
    /// NXDOMAIN: the name does not exist.
    case nameError
    /// The name exists but has no A record (or the chain of CNAMEs ends without one).
    case noAddresses
    /// Every server failed (the last RCODE: 1 FORMERR, 2 SERVFAIL, 4 NOTIMP, 5 REFUSED, ...).
    case serverFailure(rcode: UInt8)
    /// The answer did not fit a UDP message (TC): it needs TCP.
    case truncated
    /// Only malformed replies came back before the deadline.
    case malformedResponse
}

extension DNSError {
    public var message: StaticString {
        switch self {
        case .invalidName: return "not a valid host name"
        case .noServers: return "no DNS server (give --dns=ADDR, or use DHCP)"
        case .timedOut: return "no answer from the DNS servers"
        case .nameError: return "no such name"
        case .noAddresses: return "the name has no IPv4 address"
        case .serverFailure: return "the DNS servers failed"
        case .truncated: return "the answer needs DNS over TCP"
        case .malformedResponse: return "malformed DNS answers"
        }
    }
}

/// Why a received datagram was not used.
public enum DNSDropReason: Int, Error, CaseIterable {
    /// Not from a server we asked, or not from port 53.
    case unexpectedSource
    /// Shorter than its header or than a section says.
    case truncated
    /// Not a response, or not a standard query's.
    case notResponse
    case wrongID
    /// Not exactly our question (name, type and class).
    case wrongQuestion
    /// A label over 63 bytes, a name over 255, an unknown label type.
    case malformedName
    /// A compression pointer that does not point backwards.
    case badPointer
    /// A record whose data runs past the message or does not fit its type.
    case malformedRecord
}

public struct DNSAnswer: Equatable {
    public var addresses: [IPv4Address]
    /// Seconds: the smallest TTL of the records used.
    public var ttl: UInt32
}

public struct DNSSettings {
    public var tryTimeout: UInt64 = 2 * Interface.second
    /// Times through the server list.
    public var rounds = 2
    /// For the whole query.
    public var timeout: UInt64 = 10 * Interface.second

    public init() {}
}

// MARK: wire format

public enum DNSMessage {
    public static let port: UInt16 = 53
    static let headerLength = 12
    static let maximumName = 255
    static let maximumChain = 8
    static let typeA: UInt16 = 1
    static let typeCNAME: UInt16 = 5
    static let classIN: UInt16 = 1

    /// The wire form of `name` ("example.com" -> 7 example 3 com 0), or nil when it cannot be asked.
    public static func encodeName<Name: Collection>(_ name: Name) -> [UInt8]? where Name.Element == UInt8 {
        // Each label's length byte is written when the label ends.
        var wire: [UInt8] = [0]
        var lengthIndex = 0
        for byte in name {
            if byte == UInt8(ascii: ".") {
                let length = wire.count - lengthIndex - 1
                guard length > 0 else { return nil }  // "", "a..b", ".a"
                wire[lengthIndex] = UInt8(length)
                lengthIndex = wire.count
                wire.append(0)
                continue
            }
            guard byte > 0x20, byte < 0x7f else { return nil }
            wire.append(byte)
            guard wire.count - lengthIndex - 1 <= 63 else { return nil }
        }
        let last = wire.count - lengthIndex - 1
        if last > 0 {
            wire[lengthIndex] = UInt8(last)
            wire.append(0)
        } else if lengthIndex == 0 {
            return nil  // the empty name
        }
        // Otherwise a trailing dot: the 0 already there is the root.
        return wire.count <= maximumName ? wire : nil
    }

    /// A standard query for `name`'s A records (RD set).
    public static func query(identifier: UInt16, name wire: [UInt8]) -> [UInt8] {
        var bytes: [UInt8] = [UInt8(identifier >> 8), UInt8(identifier & 0xff), 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]
        bytes += wire
        bytes += [0, UInt8(typeA), 0, UInt8(classIN)]
        return bytes
    }

    /// What a response says about our question.
    public struct Response: Equatable {
        public var rcode: UInt8
        public var truncated: Bool
        /// The A records at the end of the CNAME chain, and the smallest TTL on it.
        public var addresses: [IPv4Address]
        public var ttl: UInt32
    }

    /// Checks a response to the query `identifier` for `name` (wire form) and reads its answer.
    public static func parseResponse(_ bytes: UnsafeRawBufferPointer, identifier: UInt16,
                                     name: [UInt8]) throws(DNSDropReason) -> Response {
        guard bytes.count >= headerLength else { throw .truncated }
        let flags = bytes.be16(2)
        // QR set, opcode QUERY.
        guard flags & 0x8000 != 0, (flags >> 11) & 0xf == 0 else { throw .notResponse }
        guard bytes.be16(0) == identifier else { throw .wrongID }
        guard bytes.be16(4) == 1 else { throw .wrongQuestion }
        let answers = Int(bytes.be16(6))
        var (question, offset) = try readName(bytes, at: headerLength)
        guard offset + 4 <= bytes.count else { throw .truncated }
        guard sameName(question, name), bytes.be16(offset) == typeA, bytes.be16(offset + 2) == classIN else {
            throw .wrongQuestion
        }
        offset += 4
        var response = Response(rcode: UInt8(flags & 0xf), truncated: flags & 0x0200 != 0, addresses: [], ttl: 0)
        // A truncated message may end anywhere in its records: nothing more to read.
        guard !response.truncated, response.rcode == 0 else { return response }
        var aRecords: [(owner: [UInt8], address: IPv4Address, ttl: UInt32)] = []
        var aliases: [(owner: [UInt8], target: [UInt8], ttl: UInt32)] = []
        for _ in 0..<answers {
            let (owner, fixed) = try readName(bytes, at: offset)
            guard fixed + 10 <= bytes.count else { throw .truncated }
            let type = bytes.be16(fixed)
            let recordClass = bytes.be16(fixed + 2)
            let rawTTL = bytes.be32(fixed + 4)
            let ttl = rawTTL & 0x8000_0000 != 0 ? 0 : rawTTL
            let dataStart = fixed + 10
            let dataEnd = dataStart + Int(bytes.be16(fixed + 8))
            guard dataEnd <= bytes.count else { throw .truncated }
            if recordClass == classIN && type == typeA {
                guard dataEnd - dataStart == 4 else { throw .malformedRecord }
                aRecords.append((owner, IPv4Address(reading: bytes, at: dataStart), ttl))
            } else if recordClass == classIN && type == typeCNAME {
                let (target, end) = try readName(bytes, at: dataStart)
                guard end == dataEnd else { throw .malformedRecord }
                aliases.append((owner, target, ttl))
            }
            offset = dataEnd
        }
        // Follow the chain from our name; records off the chain are not ours to use.
        question = name
        var ttl = UInt32.max
        for _ in 0...maximumChain {
            let matching = aRecords.filter { sameName($0.owner, question) }
            if !matching.isEmpty {
                response.addresses = matching.map { $0.address }
                ttl = matching.reduce(ttl) { min($0, $1.ttl) }
                break
            }
            guard let alias = aliases.first(where: { sameName($0.owner, question) }) else { break }
            ttl = min(ttl, alias.ttl)
            question = alias.target
        }
        response.ttl = response.addresses.isEmpty ? 0 : ttl
        return response
    }

    /// Reads a possibly compressed name at `offset`: its wire form (lower case)
    /// and where the bytes after it start.
    static func readName(_ bytes: UnsafeRawBufferPointer, at offset: Int) throws(DNSDropReason) -> ([UInt8], Int) {
        var name: [UInt8] = []
        var position = offset
        var runStart = offset
        var end: Int?
        while true {
            guard position < bytes.count else { throw .truncated }
            let length = Int(bytes[position])
            switch length >> 6 {
            case 0 where length == 0:
                name.append(0)
                return (name, end ?? position + 1)
            case 0:
                guard position + 1 + length <= bytes.count else { throw .truncated }
                // The name so far, this label, and the root still to come.
                guard name.count + 1 + length + 1 <= maximumName else { throw .malformedName }
                name.append(UInt8(length))
                for index in position + 1...position + length { name.append(lowercased(bytes[index])) }
                position += 1 + length
            case 3:
                guard position + 2 <= bytes.count else { throw .truncated }
                let target = Int(bytes.be16(position) & 0x3fff)
                // Strictly before this run of labels: every jump goes back, so no loop.
                guard target < runStart else { throw .badPointer }
                if end == nil { end = position + 2 }
                position = target
                runStart = target
            default:
                throw .malformedName  // 0x40 and 0x80: extended label types (RFC 6891 retired them)
            }
        }
    }

    static func lowercased(_ byte: UInt8) -> UInt8 {
        byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte + 32 : byte
    }

    /// Wire-form names, ignoring ASCII case (RFC 4343).
    static func sameName(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        for index in a.indices where lowercased(a[index]) != lowercased(b[index]) { return false }
        return true
    }
}

// MARK: the query

public final class DNSQuery {
    public let identifier: UInt16
    public let servers: [IPv4Address]
    public let settings: DNSSettings
    /// Our name in wire form.
    public let name: [UInt8]
    public private(set) var result: Result<DNSAnswer, DNSError>?
    public private(set) var counters = MessageCounters<DNSDropReason>()

    private var tries = 0
    private var nextServer = 0
    /// Servers asked at least once (answers are taken from any of them).
    private var asked: [IPv4Address] = []
    /// Servers that answered with a failure: skipped from then on.
    private var failed: [IPv4Address] = []
    private var lastFailure: UInt8 = 0
    private var sawMalformed = false
    private var tryDeadline: UInt64?
    private var overallDeadline: UInt64?
    private var outbound: OutboundDatagram?

    /// A query for the A records of `name` (its text, "example.com"). `identifier` should be random (RFC 5452).
    public init(name: [UInt8], servers: [IPv4Address], identifier: UInt16,
                settings: DNSSettings = DNSSettings()) throws(DNSError) {
        guard let wire = DNSMessage.encodeName(name) else { throw .invalidName }
        guard !servers.isEmpty else { throw .noServers }
        self.name = wire
        self.servers = servers
        self.identifier = identifier
        self.settings = settings
    }

    public convenience init(name: String, servers: [IPv4Address], identifier: UInt16,
                            settings: DNSSettings = DNSSettings()) throws(DNSError) {
        try self.init(name: Array(name.utf8), servers: servers, identifier: identifier, settings: settings)
    }

    public var isDone: Bool { result != nil }

    /// Sends the first try on the first call, the next when a try times out,
    /// ends the query at its deadline; returns when to call again (nil: done).
    public func poll(now: UInt64) -> UInt64? {
        guard result == nil else { return nil }
        if overallDeadline == nil { overallDeadline = now &+ settings.timeout }
        if let overall = overallDeadline, now >= overall {
            finish(.failure(sawMalformed ? .malformedResponse : .timedOut))
            return nil
        }
        if tryDeadline.map({ now >= $0 }) ?? true { sendNextTry(now: now) }
        guard result == nil else { return nil }
        return earliest(tryDeadline, overallDeadline)
    }

    public func takeDatagram() -> OutboundDatagram? {
        defer { outbound = nil }
        return outbound
    }

    /// A datagram received on our port from `source`.
    public func receive(_ payload: UnsafeRawBufferPointer, from source: IPv4Endpoint, now: UInt64) {
        guard result == nil else { return }
        counters.received &+= 1
        let response: DNSMessage.Response
        do throws(DNSDropReason) {
            guard source.port == DNSMessage.port, asked.contains(source.address) else { throw .unexpectedSource }
            response = try DNSMessage.parseResponse(payload, identifier: identifier, name: name)
        } catch {
            counters.count(error)
            // Only replies that pass the ID and question checks say anything about the servers.
            if error != .unexpectedSource && error != .wrongID && error != .wrongQuestion { sawMalformed = true }
            return
        }
        if response.truncated { return finish(.failure(.truncated)) }
        switch response.rcode {
        case 0:
            if response.addresses.isEmpty { return finish(.failure(.noAddresses)) }
            finish(.success(DNSAnswer(addresses: response.addresses, ttl: response.ttl)))
        case 3:
            finish(.failure(.nameError))
        default:
            // This server cannot help: on to the next at once.
            lastFailure = response.rcode
            if !failed.contains(source.address) { failed.append(source.address) }
            tryDeadline = now
            _ = poll(now: now)
        }
    }

    private func finish(_ outcome: Result<DNSAnswer, DNSError>) {
        result = outcome
        tryDeadline = nil
        outbound = nil
    }

    private func sendNextTry(now: UInt64) {
        guard failed.count < servers.count else { return finish(.failure(.serverFailure(rcode: lastFailure))) }
        guard tries < settings.rounds * servers.count else {
            return finish(.failure(sawMalformed ? .malformedResponse : .timedOut))
        }
        var server = servers[nextServer % servers.count]
        while failed.contains(server) {
            nextServer += 1
            server = servers[nextServer % servers.count]
        }
        nextServer += 1
        tries += 1
        if !asked.contains(server) { asked.append(server) }
        outbound = OutboundDatagram(destination: IPv4Endpoint(address: server, port: DNSMessage.port),
                                    payload: DNSMessage.query(identifier: identifier, name: name))
        counters.sent &+= 1
        tryDeadline = now &+ settings.tryTimeout
    }
}
