// ICMP for IPv4 (RFC 792): the 8-byte header (type, code, checksum, four
// type-specific bytes) with its checksum over the whole message. Echo uses
// the four bytes as identifier and sequence; destination unreachable quotes
// the offending IP header and its first 8 payload bytes. What to answer and
// when (never to errors or broadcasts, rate limits) is in InterfaceInput.swift.
// Limits: no redirects, timestamps, or time-exceeded generation.
// Tests: Tests/NetTests/WireTests.swift, InputTests.swift.

public struct ICMPv4Header: Equatable {
    public static let length = 8

    public enum Kind {
        public static let echoReply: UInt8 = 0
        public static let destinationUnreachable: UInt8 = 3
        public static let echoRequest: UInt8 = 8
        public static let timeExceeded: UInt8 = 11
    }

    public enum UnreachableCode {
        public static let network: UInt8 = 0
        public static let host: UInt8 = 1
        public static let `protocol`: UInt8 = 2
        public static let port: UInt8 = 3
        public static let fragmentationNeeded: UInt8 = 4
    }

    public var type: UInt8
    public var code: UInt8
    /// The four bytes after the checksum (identifier and sequence for echo).
    public var rest: UInt32

    public init(type: UInt8, code: UInt8, rest: UInt32 = 0) {
        self.type = type
        self.code = code
        self.rest = rest
    }

    public static func echo(request: Bool, identifier: UInt16, sequence: UInt16) -> ICMPv4Header {
        ICMPv4Header(type: request ? Kind.echoRequest : Kind.echoReply, code: 0,
                     rest: UInt32(identifier) << 16 | UInt32(sequence))
    }

    public var identifier: UInt16 { UInt16(truncatingIfNeeded: rest >> 16) }
    public var sequence: UInt16 { UInt16(truncatingIfNeeded: rest) }

    /// Error messages (RFC 1122 §3.2.2): never answered with another error.
    public var isError: Bool {
        switch type {
        case 3, 4, 5, 11, 12: return true
        default: return false
        }
    }

    /// Parses and checks a whole ICMP message (the IP payload); its body is `message.dropping(8)`.
    public static func parse(_ message: UnsafeRawBufferPointer) throws(DropReason) -> ICMPv4Header {
        guard message.count >= length else { throw .icmpTruncated }
        guard InternetChecksum.of(message) == 0 else { throw .icmpChecksum }
        return ICMPv4Header(type: message[0], code: message[1], rest: message.be32(4))
    }

    /// Writes the header at the start of `message`, whose body is already in
    /// place after it, and the checksum over the whole message.
    public func emit(into message: UnsafeMutableRawBufferPointer) {
        message[0] = type
        message[1] = code
        message.setBE16(0, at: 2)
        message.setBE32(rest, at: 4)
        message.setBE16(InternetChecksum.of(UnsafeRawBufferPointer(message)), at: 2)
    }
}
