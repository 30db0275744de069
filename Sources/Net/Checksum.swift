// The Internet checksum (RFC 1071), shared by IPv4, ICMP, UDP and later TCP.
// The one's-complement sum is independent of byte order (RFC 1071 §2(B)), so
// words are summed as the machine loads them, eight bytes at a time into a
// 64-bit accumulator with end-around carry (§2(C)), and swapped once at the end.
// Limits: every piece added except the last must have an even length (all
// headers do; the payload comes last); `add(word:)` takes host-order values.
// Tests: Tests/NetTests/ChecksumTests.swift.

public struct InternetChecksum {
    /// The running sum in machine byte order, not yet folded.
    private var sum: UInt64 = 0

    public init() {}

    /// Adds bytes as a sequence of 16-bit big-endian words (a trailing odd byte is zero-padded).
    public mutating func add(_ bytes: UnsafeRawBufferPointer) {
        var offset = 0
        let count = bytes.count
        while count - offset >= 8 {
            addCarrying(bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
            offset += 8
        }
        if count - offset >= 4 {
            addCarrying(UInt64(bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self)))
            offset += 4
        }
        if count - offset >= 2 {
            addCarrying(UInt64(bytes.loadUnaligned(fromByteOffset: offset, as: UInt16.self)))
            offset += 2
        }
        if offset < count {
            // The pad byte is zero: in memory [b, 0], whatever the machine's byte order.
            addCarrying(UInt64(UInt16(littleEndian: UInt16(bytes[offset]))))
        }
    }

    /// Adds one 16-bit field given as its numeric (host-order) value.
    public mutating func add(word: UInt16) {
        addCarrying(UInt64(word.bigEndian))
    }

    /// Adds a 32-bit field given as its numeric value (two words).
    public mutating func add(word32: UInt32) {
        add(word: UInt16(truncatingIfNeeded: word32 >> 16))
        add(word: UInt16(truncatingIfNeeded: word32))
    }

    @inline(__always)
    private mutating func addCarrying(_ value: UInt64) {
        let (result, overflow) = sum.addingReportingOverflow(value)
        sum = result &+ (overflow ? 1 : 0)
    }

    /// The folded one's-complement sum, as a host-order value.
    public var folded: UInt16 {
        var s = (sum & 0xffff_ffff) + (sum >> 32)
        s = (s & 0xffff_ffff) + (s >> 32)
        s = (s & 0xffff) + (s >> 16)
        s = (s & 0xffff) + (s >> 16)
        return UInt16(bigEndian: UInt16(truncatingIfNeeded: s))
    }

    /// The value to store in a checksum field (host order): the complement of the sum.
    public var value: UInt16 { ~folded }

    /// True when the data summed so far includes a correct checksum field (it sums to all ones).
    public var isValid: Bool { folded == 0xffff }

    /// The checksum field value for `bytes`.
    public static func of(_ bytes: UnsafeRawBufferPointer) -> UInt16 {
        var checksum = InternetChecksum()
        checksum.add(bytes)
        return checksum.value
    }

    /// A sum started with the IPv4 pseudo-header of UDP and TCP (RFC 768, RFC 793).
    public static func pseudoHeader(source: IPv4Address, destination: IPv4Address,
                                    protocol number: UInt8, length: Int) -> InternetChecksum {
        var checksum = InternetChecksum()
        checksum.add(word32: source.value)
        checksum.add(word32: destination.value)
        checksum.add(word: UInt16(number))
        checksum.add(word: UInt16(truncatingIfNeeded: length))
        return checksum
    }
}
