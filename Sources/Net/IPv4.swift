// The IPv4 header (RFC 791 §3.1): parse with every field checked against the
// buffer (version, IHL, total length, header checksum), emit without options.
// Options in received packets are skipped, never interpreted. TTL is not
// checked on input (RFC 1122 §3.2.1.7: a host must not drop for a low TTL);
// we send with 64. Routing, input and output policy live in Interface*.swift;
// reassembly in Reassembly.swift. Tests: Tests/NetTests/WireTests.swift.

public enum IPProtocol {
    public static let icmp: UInt8 = 1
    public static let tcp: UInt8 = 6
    public static let udp: UInt8 = 17
}

public struct IPv4Header: Equatable {
    public static let minimumLength = 20
    public static let maximumDatagram = 65535

    /// Bytes of header, options included (20 when we emit).
    public var headerLength: Int = IPv4Header.minimumLength
    public var typeOfService: UInt8 = 0
    /// Header plus payload.
    public var totalLength: Int
    public var identification: UInt16 = 0
    public var dontFragment = false
    public var moreFragments = false
    /// In bytes (a multiple of 8).
    public var fragmentOffset = 0
    public var timeToLive: UInt8 = 64
    public var protocolNumber: UInt8
    public var source: IPv4Address
    public var destination: IPv4Address

    public init(source: IPv4Address, destination: IPv4Address, protocolNumber: UInt8, payloadLength: Int) {
        self.source = source
        self.destination = destination
        self.protocolNumber = protocolNumber
        totalLength = IPv4Header.minimumLength + payloadLength
    }

    public var payloadLength: Int { totalLength - headerLength }
    public var isFragment: Bool { moreFragments || fragmentOffset != 0 }

    /// Parses the header at the start of `packet`. The datagram is
    /// `packet.slice(0..<totalLength)` (bytes after it are link padding).
    /// `quoted` parses the copy inside an ICMP error: only the header and a few
    /// payload bytes are present, and the checksum is not checked (RFC 1812 §4.3.2.3
    /// lets routers send it modified).
    public static func parse(_ packet: UnsafeRawBufferPointer, quoted: Bool = false) throws(DropReason) -> IPv4Header {
        guard packet.count >= minimumLength else { throw .ipv4Truncated }
        guard packet[0] >> 4 == 4 else { throw .ipv4Version }
        let headerLength = Int(packet[0] & 0x0f) * 4
        guard headerLength >= minimumLength else { throw .ipv4HeaderLength }
        guard headerLength <= packet.count else { throw .ipv4Truncated }
        let totalLength = Int(packet.be16(2))
        guard totalLength >= headerLength else { throw .ipv4TotalLength }
        if !quoted {
            guard totalLength <= packet.count else { throw .ipv4Truncated }
            var checksum = InternetChecksum()
            checksum.add(packet.slice(0..<headerLength))
            guard checksum.isValid else { throw .ipv4Checksum }
        }
        let fragment = packet.be16(6)
        var header = IPv4Header(source: IPv4Address(reading: packet, at: 12),
                                destination: IPv4Address(reading: packet, at: 16),
                                protocolNumber: packet[9], payloadLength: 0)
        header.headerLength = headerLength
        header.typeOfService = packet[1]
        header.totalLength = totalLength
        header.identification = packet.be16(4)
        header.dontFragment = fragment & 0x4000 != 0
        header.moreFragments = fragment & 0x2000 != 0
        header.fragmentOffset = Int(fragment & 0x1fff) * 8
        header.timeToLive = packet[8]
        return header
    }

    /// Writes a 20-byte header (no options) with its checksum at the start of `packet`.
    /// Emitting sets `headerLength` to 20 and keeps `totalLength` as given.
    public func emit(into packet: UnsafeMutableRawBufferPointer) {
        packet[0] = 0x45
        packet[1] = typeOfService
        packet.setBE16(UInt16(truncatingIfNeeded: totalLength), at: 2)
        packet.setBE16(identification, at: 4)
        let flags: UInt16 = (dontFragment ? 0x4000 : 0) | (moreFragments ? 0x2000 : 0)
        packet.setBE16(flags | UInt16(truncatingIfNeeded: fragmentOffset / 8) & 0x1fff, at: 6)
        packet[8] = timeToLive
        packet[9] = protocolNumber
        packet.setBE16(0, at: 10)
        source.write(to: packet, at: 12)
        destination.write(to: packet, at: 16)
        packet.setBE16(InternetChecksum.of(UnsafeRawBufferPointer(packet.slice(0..<20))), at: 10)
    }
}
