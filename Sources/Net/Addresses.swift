// Link and network addresses: EthernetAddress (48-bit MAC), IPv4Address,
// IPv4Network (address and prefix), IPv4Endpoint (address and port).
// Text forms: "a.b.c.d" parsed from bytes (strict: four decimal parts,
// 0...255, no leading zeros, no other characters) and formatted back.
// Limits: IPv4 only. EthernetAddress is our own so that Net imports no
// platform; Swiftlet's MACAddress converts through its six bytes.
// Tests: Tests/NetTests/AddressTests.swift.

public struct EthernetAddress: Equatable, Hashable {
    /// The 48 bits, first byte on the wire in bits 40...47.
    public let value: UInt64

    public init(value: UInt64) { self.value = value & 0xffff_ffff_ffff }

    public init(_ b0: UInt8, _ b1: UInt8, _ b2: UInt8, _ b3: UInt8, _ b4: UInt8, _ b5: UInt8) {
        self.init(value: UInt64(b0) << 40 | UInt64(b1) << 32 | UInt64(b2) << 24
                  | UInt64(b3) << 16 | UInt64(b4) << 8 | UInt64(b5))
    }

    public static let broadcast = EthernetAddress(value: 0xffff_ffff_ffff)
    public static let zero = EthernetAddress(value: 0)

    public var isBroadcast: Bool { value == 0xffff_ffff_ffff }
    /// The group bit (multicast and broadcast).
    public var isMulticast: Bool { value & (1 << 40) != 0 }

    /// Byte `index` (0...5) in wire order.
    public subscript(index: Int) -> UInt8 { UInt8(truncatingIfNeeded: value >> UInt64(40 - 8 * index)) }

    /// Reads six bytes at `offset` (the caller has checked the length).
    init(reading bytes: UnsafeRawBufferPointer, at offset: Int) {
        self.init(value: UInt64(bytes.be16(offset)) << 32 | UInt64(bytes.be32(offset + 2)))
    }

    func write(to bytes: UnsafeMutableRawBufferPointer, at offset: Int) {
        bytes.setBE16(UInt16(truncatingIfNeeded: value >> 32), at: offset)
        bytes.setBE32(UInt32(truncatingIfNeeded: value), at: offset + 2)
    }
}

extension EthernetAddress: CustomStringConvertible {
    public var description: String {
        let digits: StaticString = "0123456789abcdef"
        var text = ""
        for index in 0..<6 {
            if index > 0 { text += ":" }
            let byte = self[index]
            digits.withUTF8Buffer { hex in
                text.unicodeScalars.append(Unicode.Scalar(hex[Int(byte >> 4)]))
                text.unicodeScalars.append(Unicode.Scalar(hex[Int(byte & 15)]))
            }
        }
        return text
    }
}

public struct IPv4Address: Equatable, Hashable, Comparable {
    /// The address as a number: "1.2.3.4" is 0x01020304.
    public let value: UInt32

    public init(value: UInt32) { self.value = value }

    public init(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) {
        value = UInt32(a) << 24 | UInt32(b) << 16 | UInt32(c) << 8 | UInt32(d)
    }

    /// Parses "a.b.c.d" exactly; nil for anything else.
    public init?<Text: Collection>(parsing text: Text) where Text.Element == UInt8 {
        var result: UInt32 = 0
        var parts = 0
        var part: UInt32 = 0
        var digits = 0
        var leadingZero = false
        for byte in text {
            if byte == UInt8(ascii: ".") {
                guard digits > 0, parts < 3 else { return nil }
                result = result << 8 | part
                parts += 1
                part = 0
                digits = 0
                continue
            }
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            // "01" is octal to inet_aton and decimal to others: refuse the ambiguity.
            if digits == 1 && leadingZero { return nil }
            if digits == 0 { leadingZero = byte == UInt8(ascii: "0") }
            part = part * 10 + UInt32(byte - UInt8(ascii: "0"))
            digits += 1
            guard part <= 255 else { return nil }
        }
        guard parts == 3, digits > 0 else { return nil }
        value = result << 8 | part
    }

    public init?(_ text: String) { self.init(parsing: text.utf8) }

    public static let any = IPv4Address(value: 0)
    public static let broadcast = IPv4Address(value: 0xffff_ffff)

    public var isUnspecified: Bool { value == 0 }
    public var isBroadcast: Bool { value == 0xffff_ffff }
    /// 224.0.0.0/4.
    public var isMulticast: Bool { value >> 28 == 0xe }
    /// 127.0.0.0/8.
    public var isLoopback: Bool { value >> 24 == 127 }

    public static func < (a: IPv4Address, b: IPv4Address) -> Bool { a.value < b.value }

    init(reading bytes: UnsafeRawBufferPointer, at offset: Int) { value = bytes.be32(offset) }

    func write(to bytes: UnsafeMutableRawBufferPointer, at offset: Int) { bytes.setBE32(value, at: offset) }
}

extension IPv4Address: CustomStringConvertible {
    public var description: String {
        "\(value >> 24).\((value >> 16) & 255).\((value >> 8) & 255).\(value & 255)"
    }
}

/// A network: its prefix length and the address with the host bits cleared.
public struct IPv4Network: Equatable {
    public let address: IPv4Address
    public let prefixLength: Int

    /// nil when `prefixLength` is not 0...32. Host bits of `address` are cleared.
    public init?(address: IPv4Address, prefixLength: Int) {
        guard prefixLength >= 0 && prefixLength <= 32 else { return nil }
        self.prefixLength = prefixLength
        self.address = IPv4Address(value: address.value & IPv4Network.mask(prefixLength))
    }

    static func mask(_ prefixLength: Int) -> UInt32 {
        prefixLength == 0 ? 0 : ~UInt32(0) << UInt32(32 - prefixLength)
    }

    public var mask: IPv4Address { IPv4Address(value: IPv4Network.mask(prefixLength)) }

    public func contains(_ host: IPv4Address) -> Bool {
        host.value & IPv4Network.mask(prefixLength) == address.value
    }

    /// The directed broadcast address, or nil for /31 and /32 (RFC 3021: no broadcast there).
    public var broadcast: IPv4Address? {
        prefixLength >= 31 ? nil : IPv4Address(value: address.value | ~IPv4Network.mask(prefixLength))
    }
}

extension IPv4Network: CustomStringConvertible {
    public var description: String { "\(address)/\(prefixLength)" }
}

/// An IPv4 address and a transport port.
public struct IPv4Endpoint: Equatable, Hashable {
    public var address: IPv4Address
    public var port: UInt16

    public init(address: IPv4Address, port: UInt16) {
        self.address = address
        self.port = port
    }
}

extension IPv4Endpoint: CustomStringConvertible {
    public var description: String { "\(address):\(port)" }
}
