// The UDP header (RFC 768): ports, length, and the checksum over the IPv4
// pseudo-header, header and data. On IPv4 a zero checksum means "none"
// and is accepted; a computed zero is sent as 0xffff. The socket table is
// in UDPSocket.swift. Limits: IPv4 only; no UDP-Lite.
// Tests: Tests/NetTests/WireTests.swift.

public struct UDPHeader: Equatable {
    public static let length = 8

    public var sourcePort: UInt16
    public var destinationPort: UInt16
    /// Header plus data, as the length field says.
    public var length: Int

    public init(sourcePort: UInt16, destinationPort: UInt16, payloadLength: Int) {
        self.sourcePort = sourcePort
        self.destinationPort = destinationPort
        length = UDPHeader.length + payloadLength
    }

    public var payloadLength: Int { length - UDPHeader.length }

    /// Parses and checks a datagram (the IP payload). The data is
    /// `datagram.slice(8..<length)`; IP payload bytes after `length` are ignored.
    public static func parse(_ datagram: UnsafeRawBufferPointer, source: IPv4Address, destination: IPv4Address,
                             checksumTrusted: Bool = false) throws(DropReason) -> UDPHeader {
        guard datagram.count >= length else { throw .udpTruncated }
        let header = UDPHeader(sourcePort: datagram.be16(0), destinationPort: datagram.be16(2),
                               payloadLength: Int(datagram.be16(4)) - length)
        guard header.length >= length, header.length <= datagram.count else { throw .udpLength }
        if datagram.be16(6) != 0 && !checksumTrusted {
            var checksum = InternetChecksum.pseudoHeader(source: source, destination: destination,
                                                         protocol: IPProtocol.udp, length: header.length)
            checksum.add(datagram.slice(0..<header.length))
            guard checksum.isValid else { throw .udpChecksum }
        }
        return header
    }

    /// Writes the header at the start of `datagram` (exactly `length` bytes,
    /// data already in place) and its checksum.
    public func emit(into datagram: UnsafeMutableRawBufferPointer, source: IPv4Address, destination: IPv4Address) {
        datagram.setBE16(sourcePort, at: 0)
        datagram.setBE16(destinationPort, at: 2)
        datagram.setBE16(UInt16(truncatingIfNeeded: length), at: 4)
        datagram.setBE16(0, at: 6)
        var checksum = InternetChecksum.pseudoHeader(source: source, destination: destination,
                                                     protocol: IPProtocol.udp, length: length)
        checksum.add(UnsafeRawBufferPointer(datagram.slice(0..<length)))
        let value = checksum.value
        datagram.setBE16(value == 0 ? 0xffff : value, at: 6)
    }
}
