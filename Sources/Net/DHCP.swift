// DHCPv4 messages (RFC 2131 §2, options from RFC 2132): the client's
// DISCOVER and REQUEST built as UDP payloads, and the server's OFFER, ACK
// and NAK parsed with every field checked: op, htype/hlen (Ethernet only),
// the magic cookie, each option's length against the buffer and against
// its type (fixed-size options exact, address lists in 4-byte steps), an
// END option required, option overload (RFC 2132 §9.3) followed into the
// file and sname fields. Malformed input throws a DHCPDropReason; nothing
// here traps on any input. The state machine is in DHCPClient.swift.
// Limits: only the options a host needs are kept; a fixed-size option seen
// twice is refused rather than concatenated (RFC 3396 only matters for the
// address lists, which are appended); no client FQDN or vendor options.
// Tests: Tests/NetTests/DHCPTests.swift.

/// Why a received DHCP message was not used.
public enum DHCPDropReason: Int, Error, CaseIterable {
    /// Shorter than the fixed header and magic cookie.
    case truncated
    /// Not a BOOTREPLY, not Ethernet (htype 1, hlen 6), or no magic cookie.
    case notDHCPReply
    /// An option runs past its field, has the wrong length for its type, or no END.
    case malformedOption
    /// A fixed-size option given twice.
    case duplicateOption
    /// No message type option, or one a client never receives.
    case badMessageType
    /// Another exchange's transaction ID, or another client's hardware address.
    case notOurs
    /// Valid, but not a message this state waits for (or not from port 67).
    case unexpected
    /// An OFFER or ACK we cannot use: no server identifier or lease time, an
    /// address that cannot name a host, a non-contiguous subnet mask.
    case unusable
    /// A reply from a server other than the one we chose.
    case wrongServer
}

public enum DHCPMessageType: UInt8 {
    case discover = 1, offer, request, decline, ack, nak, release, inform
}

/// The options a host uses (RFC 2132 numbers in the comments).
public struct DHCPOptions: Equatable {
    public var messageType: DHCPMessageType?
    public var subnetMask: IPv4Address?          // 1
    public var routers: [IPv4Address] = []       // 3
    public var dnsServers: [IPv4Address] = []    // 6
    public var mtu: Int?                         // 26
    public var leaseTime: UInt32?                // 51 (seconds; 0xffffffff is infinite)
    public var serverIdentifier: IPv4Address?    // 54
    public var renewalTime: UInt32?              // 58, T1
    public var rebindingTime: UInt32?            // 59, T2

    public init() {}
}

enum DHCPOption {
    static let pad: UInt8 = 0
    static let subnetMask: UInt8 = 1
    static let routers: UInt8 = 3
    static let dnsServers: UInt8 = 6
    static let mtu: UInt8 = 26
    static let requestedAddress: UInt8 = 50
    static let leaseTime: UInt8 = 51
    static let overload: UInt8 = 52
    static let messageType: UInt8 = 53
    static let serverIdentifier: UInt8 = 54
    static let parameterRequestList: UInt8 = 55
    static let renewalTime: UInt8 = 58
    static let rebindingTime: UInt8 = 59
    static let clientIdentifier: UInt8 = 61
    static let end: UInt8 = 255
}

/// One BOOTP/DHCP message (RFC 2131 figure 1).
public struct DHCPMessage: Equatable {
    public static let serverPort: UInt16 = 67
    public static let clientPort: UInt16 = 68
    /// Fixed fields up to and including the magic cookie.
    static let headerLength = 240
    static let magicCookie: UInt32 = 0x6382_5363
    /// Relays may drop BOOTP messages shorter than this (RFC 1542 §2.1): we pad to it.
    static let minimumLength = 300
    static let broadcastFlag: UInt16 = 0x8000
    /// Field offsets: sname and file may carry options (overload).
    static let snameField = 44..<108
    static let fileField = 108..<236

    public var isReply = true
    public var transactionID: UInt32 = 0
    public var seconds: UInt16 = 0
    public var broadcast = false
    public var clientAddress = IPv4Address.any       // ciaddr
    public var yourAddress = IPv4Address.any         // yiaddr
    public var clientHardwareAddress = EthernetAddress.zero
    public var options = DHCPOptions()

    public init() {}

    /// Parses a UDP payload. Only replies are accepted: a client never uses requests.
    public static func parse(_ bytes: UnsafeRawBufferPointer) throws(DHCPDropReason) -> DHCPMessage {
        guard bytes.count >= headerLength else { throw .truncated }
        guard bytes[0] == 2, bytes[1] == 1, bytes[2] == 6, bytes.be32(236) == magicCookie else { throw .notDHCPReply }
        var message = DHCPMessage()
        message.transactionID = bytes.be32(4)
        message.seconds = bytes.be16(8)
        message.broadcast = bytes.be16(10) & broadcastFlag != 0
        message.clientAddress = IPv4Address(reading: bytes, at: 12)
        message.yourAddress = IPv4Address(reading: bytes, at: 16)
        message.clientHardwareAddress = EthernetAddress(reading: bytes, at: 28)
        var seen = OptionSet64()
        let overload = try parseOptions(bytes.dropping(headerLength), into: &message.options, seen: &seen, main: true)
        // RFC 2132 §9.3: file first, then sname.
        if overload & 1 != 0 {
            _ = try parseOptions(bytes.slice(fileField), into: &message.options, seen: &seen, main: false)
        }
        if overload & 2 != 0 {
            _ = try parseOptions(bytes.slice(snameField), into: &message.options, seen: &seen, main: false)
        }
        guard let type = message.options.messageType,
              type == .offer || type == .ack || type == .nak else { throw .badMessageType }
        return message
    }

    /// Which fixed-size options were seen (by number, below 64).
    struct OptionSet64 {
        var bits: UInt64 = 0
        mutating func insert(_ code: UInt8) -> Bool {
            guard code < 64 else { return true }
            let bit = UInt64(1) << UInt64(code)
            defer { bits |= bit }
            return bits & bit == 0
        }
    }

    /// Reads one field's options up to END; returns the overload value (0 outside the options field).
    private static func parseOptions(_ field: UnsafeRawBufferPointer, into options: inout DHCPOptions,
                                     seen: inout OptionSet64, main: Bool) throws(DHCPDropReason) -> UInt8 {
        var overload: UInt8 = 0
        var offset = 0
        while true {
            guard offset < field.count else { throw .malformedOption }  // no END
            let code = field[offset]
            if code == DHCPOption.end { return overload }
            if code == DHCPOption.pad {
                offset += 1
                continue
            }
            guard offset + 2 <= field.count else { throw .malformedOption }
            let length = Int(field[offset + 1])
            let start = offset + 2
            guard start + length <= field.count else { throw .malformedOption }
            let value = field.slice(start..<start + length)
            offset = start + length
            switch code {
            case DHCPOption.routers:
                try appendAddresses(value, to: &options.routers)
                continue
            case DHCPOption.dnsServers:
                try appendAddresses(value, to: &options.dnsServers)
                continue
            case DHCPOption.subnetMask, DHCPOption.leaseTime, DHCPOption.serverIdentifier,
                 DHCPOption.renewalTime, DHCPOption.rebindingTime, DHCPOption.mtu,
                 DHCPOption.messageType, DHCPOption.overload:
                break
            default:
                continue  // unknown to us: its length was checked, that is all
            }
            guard seen.insert(code) else { throw .duplicateOption }
            switch code {
            case DHCPOption.messageType:
                guard length == 1, let type = DHCPMessageType(rawValue: value[0]) else { throw .badMessageType }
                options.messageType = type
            case DHCPOption.overload:
                // Only the options field may say so, and only 1...3.
                guard main, length == 1, (1...3).contains(value[0]) else { throw .malformedOption }
                overload = value[0]
            case DHCPOption.mtu:
                guard length == 2 else { throw .malformedOption }
                options.mtu = Int(value.be16(0))
            default:
                guard length == 4 else { throw .malformedOption }
                let word = value.be32(0)
                switch code {
                case DHCPOption.subnetMask: options.subnetMask = IPv4Address(value: word)
                case DHCPOption.leaseTime: options.leaseTime = word
                case DHCPOption.serverIdentifier: options.serverIdentifier = IPv4Address(value: word)
                case DHCPOption.renewalTime: options.renewalTime = word
                default: options.rebindingTime = word
                }
            }
        }
    }

    /// Address lists: at least one address, whole addresses only; a repeat appends (RFC 3396).
    private static func appendAddresses(_ value: UnsafeRawBufferPointer,
                                        to list: inout [IPv4Address]) throws(DHCPDropReason) {
        guard value.count >= 4, value.count % 4 == 0 else { throw .malformedOption }
        var offset = 0
        while offset < value.count {
            list.append(IPv4Address(reading: value, at: offset))
            offset += 4
        }
    }

    /// A client message (BOOTREQUEST) as a UDP payload: the fixed fields, then
    /// the options `extra` writes (after the message type), END, padding.
    static func request(type: DHCPMessageType, transactionID: UInt32, seconds: UInt16, broadcast: Bool,
                        clientAddress: IPv4Address, mac: EthernetAddress,
                        _ extra: (inout [UInt8]) -> Void) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: headerLength)
        bytes.withUnsafeMutableBytes { out in
            out[0] = 1      // BOOTREQUEST
            out[1] = 1      // Ethernet
            out[2] = 6
            out.setBE32(transactionID, at: 4)
            out.setBE16(seconds, at: 8)
            out.setBE16(broadcast ? broadcastFlag : 0, at: 10)
            clientAddress.write(to: out, at: 12)
            mac.write(to: out, at: 28)
            out.setBE32(magicCookie, at: 236)
        }
        bytes += [DHCPOption.messageType, 1, type.rawValue]
        // The client identifier names us by hardware address (RFC 2132 §9.14, type 1).
        bytes += [DHCPOption.clientIdentifier, 7, 1]
        for index in 0..<6 { bytes.append(mac[index]) }
        extra(&bytes)
        bytes.append(DHCPOption.end)
        if bytes.count < minimumLength { bytes += [UInt8](repeating: 0, count: minimumLength - bytes.count) }
        return bytes
    }
}

extension Array where Element == UInt8 {
    /// Appends an option holding one address.
    mutating func appendDHCPOption(_ code: UInt8, address: IPv4Address) {
        let v = address.value
        self += [code, 4, UInt8(truncatingIfNeeded: v >> 24), UInt8(truncatingIfNeeded: v >> 16),
                 UInt8(truncatingIfNeeded: v >> 8), UInt8(truncatingIfNeeded: v)]
    }
}

extension IPv4Address {
    /// The prefix length of a contiguous mask ("255.255.255.0" -> 24), nil otherwise.
    var maskPrefixLength: Int? {
        let ones = value.leadingZeroBitCount == 0 ? (~value).leadingZeroBitCount : 0
        return IPv4Network.mask(ones) == value ? ones : nil
    }

    /// RFC 791's class A/B/C prefix, for a server that sends no mask (RFC 1122 §3.3.1.1 obsolete, still common).
    var classfulPrefixLength: Int {
        switch value >> 29 {
        case 0...3: return 8    // 0xxx
        case 4, 5: return 16    // 10xx
        default: return 24      // 110x (classes D/E are refused as addresses anyway)
        }
    }
}
