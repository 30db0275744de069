// Ethernet II framing (IEEE 802.3 clause 3.2.6 with an EtherType): a 14-byte
// header, destination, source, EtherType. Frames carry no FCS here (devices
// strip and add it). Limits: no 802.1Q/802.1ad tags (such frames are dropped
// with their own reason), no 802.3 length/LLC frames (dropped as unknown type).
// Tests: Tests/NetTests/WireTests.swift, FuzzTests.swift.

public enum EtherType {
    public static let ipv4: UInt16 = 0x0800
    public static let arp: UInt16 = 0x0806
    public static let vlan: UInt16 = 0x8100
    public static let qinq: UInt16 = 0x88a8
}

public struct EthernetHeader: Equatable {
    public static let length = 14
    /// Shortest frame on the wire without FCS: shorter frames are padded on output.
    public static let minimumFrameLength = 60

    public var destination: EthernetAddress
    public var source: EthernetAddress
    public var etherType: UInt16

    public init(destination: EthernetAddress, source: EthernetAddress, etherType: UInt16) {
        self.destination = destination
        self.source = source
        self.etherType = etherType
    }

    /// Parses the header of `frame`; the payload is `frame.dropping(EthernetHeader.length)`.
    public static func parse(_ frame: UnsafeRawBufferPointer) throws(DropReason) -> EthernetHeader {
        guard frame.count >= length else { throw .ethernetTruncated }
        let header = EthernetHeader(destination: EthernetAddress(reading: frame, at: 0),
                                    source: EthernetAddress(reading: frame, at: 6),
                                    etherType: frame.be16(12))
        // EtherType values below 0x0600 are 802.3 lengths; tags are refused by name.
        if header.etherType == EtherType.vlan || header.etherType == EtherType.qinq { throw .ethernetVLAN }
        return header
    }

    /// Writes the 14 header bytes at the start of `frame`.
    public func emit(into frame: UnsafeMutableRawBufferPointer) {
        destination.write(to: frame, at: 0)
        source.write(to: frame, at: 6)
        frame.setBE16(etherType, at: 12)
    }
}
