// Bytes.swift: bounds-checked little-endian reads over untrusted bytes, and
// overflow-aware address arithmetic, for the image and manifest parsers.
// Every read returns nil instead of trapping; nothing here allocates.
// Tests: Tests/MonitorCoreTests (indirectly, through every parser test).

/// A read-only view over untrusted bytes whose accessors never trap.
struct ByteView {
    let buffer: UnsafeRawBufferPointer

    init(_ buffer: UnsafeRawBufferPointer) { self.buffer = buffer }

    var count: Int { buffer.count }

    /// The range `[offset, offset + length)` as Ints, if it lies inside the buffer.
    func range(offset: UInt64, length: UInt64) -> Range<Int>? {
        let (end, overflow) = offset.addingReportingOverflow(length)
        guard !overflow, end <= UInt64(buffer.count) else { return nil }
        // Both are <= count <= Int.max, so the conversions are exact.
        return Int(offset)..<Int(end)
    }

    private func load<T: FixedWidthInteger>(_ offset: Int, as type: T.Type) -> T? {
        guard offset >= 0, offset <= buffer.count, buffer.count - offset >= MemoryLayout<T>.size else { return nil }
        return T(littleEndian: buffer.loadUnaligned(fromByteOffset: offset, as: T.self))
    }

    func u8(_ offset: Int) -> UInt8? { load(offset, as: UInt8.self) }
    func u16(_ offset: Int) -> UInt16? { load(offset, as: UInt16.self) }
    func u32(_ offset: Int) -> UInt32? { load(offset, as: UInt32.self) }
    func u64(_ offset: Int) -> UInt64? { load(offset, as: UInt64.self) }

    /// True if the bytes at `offset` equal `expected` (false if out of range).
    func matches(_ expected: [UInt8], at offset: Int) -> Bool {
        guard offset >= 0, offset <= buffer.count, buffer.count - offset >= expected.count else { return false }
        for (i, byte) in expected.enumerated() where buffer[offset + i] != byte { return false }
        return true
    }
}

/// Checked arithmetic and number formatting shared by the parsers.
enum Numbers {
    /// `value` rounded up to a multiple of `alignment` (a power of two), or nil on overflow.
    static func alignUp(_ value: UInt64, _ alignment: UInt64) -> UInt64? {
        let (sum, overflow) = value.addingReportingOverflow(alignment - 1)
        return overflow ? nil : sum & ~(alignment - 1)
    }

    static func isPowerOfTwo(_ value: UInt64) -> Bool { value != 0 && value & (value - 1) == 0 }

    /// `0x1234`-style rendering for error messages.
    static func hex(_ value: UInt64) -> String { "0x" + String(value, radix: 16) }

    /// A plain decimal number (digits only, at least one) no larger than `max`.
    static func parseDecimal<S: Collection>(_ digits: S, max: UInt64) -> UInt64? where S.Element == UInt8 {
        guard !digits.isEmpty else { return nil }
        var value: UInt64 = 0
        for byte in digits {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            let (times10, o1) = value.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times10.addingReportingOverflow(UInt64(byte - UInt8(ascii: "0")))
            guard !o1, !o2, sum <= max else { return nil }
            value = sum
        }
        return value
    }
}
