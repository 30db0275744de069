// The TCP header (RFC 9293 §3.1) and its options: parse with every field
// checked against the segment (data offset, option lengths, checksum over
// the IPv4 pseudo-header), emit with options padded to 32 bits.
// Options parsed: MSS (RFC 9293 §3.7.1), window scale and timestamps
// (RFC 7323), SACK-permitted and SACK blocks (RFC 2018, up to 4, kept
// inline so a header never allocates); unknown kinds are skipped.
// Sequence-number comparisons modulo 2^32 (RFC 9293 §3.4) are at the end.
// Tests: Tests/NetTests/TCPHeaderTests.swift.

public struct TCPFlags: OptionSet, Equatable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let fin = TCPFlags(rawValue: 0x01)
    public static let syn = TCPFlags(rawValue: 0x02)
    public static let rst = TCPFlags(rawValue: 0x04)
    public static let psh = TCPFlags(rawValue: 0x08)
    public static let ack = TCPFlags(rawValue: 0x10)
    public static let urg = TCPFlags(rawValue: 0x20)
}

public struct TCPTimestamps: Equatable {
    public var value: UInt32
    public var echoReply: UInt32
    public init(value: UInt32, echoReply: UInt32) {
        self.value = value
        self.echoReply = echoReply
    }
}

/// Up to four SACK blocks [start, end), stored inline.
public struct TCPSACKBlocks: Equatable {
    public static let capacity = 4
    public private(set) var count = 0
    private var starts: (UInt32, UInt32, UInt32, UInt32) = (0, 0, 0, 0)
    private var ends: (UInt32, UInt32, UInt32, UInt32) = (0, 0, 0, 0)

    public init() {}

    public subscript(index: Int) -> (start: UInt32, end: UInt32) {
        switch index {
        case 0: return (starts.0, ends.0)
        case 1: return (starts.1, ends.1)
        case 2: return (starts.2, ends.2)
        default: return (starts.3, ends.3)
        }
    }

    /// Adds a block; ignored when all four are used.
    public mutating func append(start: UInt32, end: UInt32) {
        switch count {
        case 0: starts.0 = start; ends.0 = end
        case 1: starts.1 = start; ends.1 = end
        case 2: starts.2 = start; ends.2 = end
        case 3: starts.3 = start; ends.3 = end
        default: return
        }
        count += 1
    }

    public static func == (a: TCPSACKBlocks, b: TCPSACKBlocks) -> Bool {
        guard a.count == b.count else { return false }
        for i in 0..<a.count where a[i] != b[i] { return false }
        return true
    }
}

/// The options we understand; each is nil/false/empty when absent.
public struct TCPOptions: Equatable {
    public var maximumSegmentSize: UInt16?
    /// The shift count, clamped to 14 on parse (RFC 7323 §2.3).
    public var windowScale: UInt8?
    public var sackPermitted = false
    public var timestamps: TCPTimestamps?
    public var sack = TCPSACKBlocks()

    public init() {}

    /// Bytes these options take on the wire, padded to a multiple of 4.
    var encodedLength: Int {
        var length = 0
        if maximumSegmentSize != nil { length += 4 }
        if windowScale != nil { length += 3 }
        if sackPermitted { length += 2 }
        if timestamps != nil { length += 10 }
        if sack.count > 0 { length += 2 + 8 * sack.count }
        return (length + 3) & ~3
    }
}

public struct TCPHeader: Equatable {
    public static let minimumLength = 20
    public static let maximumLength = 60

    public var sourcePort: UInt16
    public var destinationPort: UInt16
    public var sequenceNumber: UInt32
    public var acknowledgmentNumber: UInt32
    public var flags: TCPFlags
    public var window: UInt16
    public var urgentPointer: UInt16 = 0
    public var options = TCPOptions()
    /// Header bytes including options (the data offset times 4).
    public var headerLength: Int

    public init(sourcePort: UInt16, destinationPort: UInt16, sequenceNumber: UInt32, acknowledgmentNumber: UInt32,
                flags: TCPFlags, window: UInt16, options: TCPOptions = TCPOptions()) {
        self.sourcePort = sourcePort
        self.destinationPort = destinationPort
        self.sequenceNumber = sequenceNumber
        self.acknowledgmentNumber = acknowledgmentNumber
        self.flags = flags
        self.window = window
        self.options = options
        headerLength = TCPHeader.minimumLength + options.encodedLength
    }

    /// Parses and checks a whole segment (the IP payload, trimmed to the datagram).
    /// The data is `segment.dropping(headerLength)`. A `checksumTrusted` segment
    /// (the device vouches for it) is not summed.
    public static func parse(_ segment: UnsafeRawBufferPointer, source: IPv4Address, destination: IPv4Address,
                             checksumTrusted: Bool = false) throws(DropReason) -> TCPHeader {
        guard segment.count >= minimumLength else { throw .tcpTruncated }
        let headerLength = Int(segment[12] >> 4) * 4
        guard headerLength >= minimumLength else { throw .tcpHeaderLength }
        guard headerLength <= segment.count else { throw .tcpTruncated }
        if !checksumTrusted {
            var checksum = InternetChecksum.pseudoHeader(source: source, destination: destination,
                                                         protocol: IPProtocol.tcp, length: segment.count)
            checksum.add(segment)
            guard checksum.isValid else { throw .tcpChecksum }
        }
        var header = TCPHeader(sourcePort: segment.be16(0), destinationPort: segment.be16(2),
                               sequenceNumber: segment.be32(4), acknowledgmentNumber: segment.be32(8),
                               flags: TCPFlags(rawValue: segment[13] & 0x3f), window: segment.be16(14))
        header.urgentPointer = segment.be16(18)
        header.headerLength = headerLength
        header.options = try parseOptions(segment.slice(minimumLength..<headerLength))
        return header
    }

    private static func parseOptions(_ bytes: UnsafeRawBufferPointer) throws(DropReason) -> TCPOptions {
        var options = TCPOptions()
        var offset = 0
        while offset < bytes.count {
            let kind = bytes[offset]
            if kind == 0 { break }              // end of option list
            if kind == 1 { offset += 1; continue }  // no-operation
            guard offset + 1 < bytes.count else { throw .tcpOptions }
            let length = Int(bytes[offset + 1])
            guard length >= 2, offset + length <= bytes.count else { throw .tcpOptions }
            switch (kind, length) {
            case (2, 4): options.maximumSegmentSize = bytes.be16(offset + 2)
            case (3, 3): options.windowScale = min(bytes[offset + 2], 14)
            case (4, 2): options.sackPermitted = true
            case (8, 10): options.timestamps = TCPTimestamps(value: bytes.be32(offset + 2),
                                                             echoReply: bytes.be32(offset + 6))
            case (5, _):
                guard length >= 10, (length - 2) % 8 == 0 else { throw .tcpOptions }
                var block = offset + 2
                while block < offset + length {
                    options.sack.append(start: bytes.be32(block), end: bytes.be32(block + 4))
                    block += 8
                }
            case (2, _), (3, _), (4, _), (8, _): throw .tcpOptions
            default: break  // kinds we do not know: skipped by their length
            }
            offset += length
        }
        return options
    }

    /// Writes the header at the start of `segment` (exactly header plus data,
    /// data already in place at `headerLength`) with its checksum - or, for a
    /// device that completes it (`partialChecksum`), the pseudo-header's sum.
    public func emit(into segment: UnsafeMutableRawBufferPointer, source: IPv4Address, destination: IPv4Address,
                     partialChecksum: Bool = false) {
        segment.setBE16(sourcePort, at: 0)
        segment.setBE16(destinationPort, at: 2)
        segment.setBE32(sequenceNumber, at: 4)
        segment.setBE32(acknowledgmentNumber, at: 8)
        segment[12] = UInt8(truncatingIfNeeded: headerLength / 4) << 4
        segment[13] = flags.rawValue
        segment.setBE16(window, at: 14)
        segment.setBE16(0, at: 16)
        segment.setBE16(urgentPointer, at: 18)
        var offset = TCPHeader.minimumLength
        if let mss = options.maximumSegmentSize {
            segment[offset] = 2; segment[offset + 1] = 4
            segment.setBE16(mss, at: offset + 2)
            offset += 4
        }
        if let shift = options.windowScale {
            segment[offset] = 3; segment[offset + 1] = 3; segment[offset + 2] = shift
            offset += 3
        }
        if options.sackPermitted {
            segment[offset] = 4; segment[offset + 1] = 2
            offset += 2
        }
        if let timestamps = options.timestamps {
            segment[offset] = 8; segment[offset + 1] = 10
            segment.setBE32(timestamps.value, at: offset + 2)
            segment.setBE32(timestamps.echoReply, at: offset + 6)
            offset += 10
        }
        if options.sack.count > 0 {
            segment[offset] = 5; segment[offset + 1] = UInt8(2 + 8 * options.sack.count)
            for i in 0..<options.sack.count {
                segment.setBE32(options.sack[i].start, at: offset + 2 + 8 * i)
                segment.setBE32(options.sack[i].end, at: offset + 6 + 8 * i)
            }
            offset += 2 + 8 * options.sack.count
        }
        // Padding with end-of-list bytes (zeros) up to the data offset.
        segment.zero(offset..<headerLength)
        var checksum = InternetChecksum.pseudoHeader(source: source, destination: destination,
                                                     protocol: IPProtocol.tcp, length: segment.count)
        if partialChecksum {
            segment.setBE16(checksum.folded, at: 16)
            return
        }
        checksum.add(UnsafeRawBufferPointer(segment))
        segment.setBE16(checksum.value, at: 16)
    }
}

// MARK: sequence numbers (RFC 9293 §3.4: comparisons modulo 2^32)

extension UInt32 {
    /// self < other in sequence space.
    @inline(__always) func seqBefore(_ other: UInt32) -> Bool { Int32(bitPattern: self &- other) < 0 }
    @inline(__always) func seqAtOrBefore(_ other: UInt32) -> Bool { Int32(bitPattern: self &- other) <= 0 }
    @inline(__always) func seqAfter(_ other: UInt32) -> Bool { Int32(bitPattern: self &- other) > 0 }
    @inline(__always) func seqAtOrAfter(_ other: UInt32) -> Bool { Int32(bitPattern: self &- other) >= 0 }
    /// Bytes from `other` up to self (self must not be before other).
    @inline(__always) func seqDistance(from other: UInt32) -> Int { Int(self &- other) }
}
