// ARP packets (RFC 826) for Ethernet and IPv4 only: the fixed 28-byte form
// (hardware type 1, protocol 0x0800, lengths 6 and 4, operation 1 or 2).
// Anything else is refused as unsupported. The resolution engine is in
// ARPCache.swift; this file only reads and writes packets.
// Tests: Tests/NetTests/WireTests.swift.

public struct ARPPacket: Equatable {
    public static let length = 28

    public enum Operation: UInt16 {
        case request = 1
        case reply = 2
    }

    public var operation: Operation
    public var senderHardwareAddress: EthernetAddress
    public var senderProtocolAddress: IPv4Address
    public var targetHardwareAddress: EthernetAddress
    public var targetProtocolAddress: IPv4Address

    public init(operation: Operation, senderHardwareAddress: EthernetAddress, senderProtocolAddress: IPv4Address,
                targetHardwareAddress: EthernetAddress, targetProtocolAddress: IPv4Address) {
        self.operation = operation
        self.senderHardwareAddress = senderHardwareAddress
        self.senderProtocolAddress = senderProtocolAddress
        self.targetHardwareAddress = targetHardwareAddress
        self.targetProtocolAddress = targetProtocolAddress
    }

    /// Parses an ARP packet (bytes after the Ethernet header; trailing padding is ignored).
    public static func parse(_ bytes: UnsafeRawBufferPointer) throws(DropReason) -> ARPPacket {
        guard bytes.count >= length else { throw .arpTruncated }
        guard bytes.be16(0) == 1, bytes.be16(2) == EtherType.ipv4, bytes[4] == 6, bytes[5] == 4,
              let operation = Operation(rawValue: bytes.be16(6)) else { throw .arpUnsupported }
        return ARPPacket(operation: operation,
                         senderHardwareAddress: EthernetAddress(reading: bytes, at: 8),
                         senderProtocolAddress: IPv4Address(reading: bytes, at: 14),
                         targetHardwareAddress: EthernetAddress(reading: bytes, at: 18),
                         targetProtocolAddress: IPv4Address(reading: bytes, at: 24))
    }

    /// Writes the 28 bytes at the start of `bytes`.
    public func emit(into bytes: UnsafeMutableRawBufferPointer) {
        bytes.setBE16(1, at: 0)
        bytes.setBE16(EtherType.ipv4, at: 2)
        bytes[4] = 6
        bytes[5] = 4
        bytes.setBE16(operation.rawValue, at: 6)
        senderHardwareAddress.write(to: bytes, at: 8)
        senderProtocolAddress.write(to: bytes, at: 14)
        targetHardwareAddress.write(to: bytes, at: 18)
        targetProtocolAddress.write(to: bytes, at: 24)
    }
}
