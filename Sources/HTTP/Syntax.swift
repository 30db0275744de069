// Byte classes and small scanners of RFC 9110 5.6 / RFC 9112, on raw bytes:
// no String, no tables in memory (the token class is two 64-bit masks, so it
// costs no lazy global in Embedded Swift). Everything here is internal.

enum ASCII {
    static let tab: UInt8 = 0x09
    static let lf: UInt8 = 0x0A
    static let cr: UInt8 = 0x0D
    static let space: UInt8 = 0x20
    static let quote: UInt8 = 0x22
    static let hash: UInt8 = 0x23
    static let asterisk: UInt8 = 0x2A
    static let comma: UInt8 = 0x2C
    static let dot: UInt8 = 0x2E
    static let slash: UInt8 = 0x2F
    static let zero: UInt8 = 0x30
    static let colon: UInt8 = 0x3A
    static let semicolon: UInt8 = 0x3B
    static let equals: UInt8 = 0x3D
    static let questionMark: UInt8 = 0x3F
    static let backslash: UInt8 = 0x5C
}

extension UInt8 {
    /// tchar (RFC 9110 5.6.2): ALPHA, DIGIT and !#$%&'*+-.^_`|~
    @inline(__always) var isToken: Bool {
        let lowMask: UInt64 = 0x03FF_6CFA_0000_0000   // 0x00-0x3F
        let highMask: UInt64 = 0x57FF_FFFF_C7FF_FFFE  // 0x40-0x7F
        if self < 64 { return (lowMask >> UInt64(self)) & 1 != 0 }
        if self < 128 { return (highMask >> UInt64(self &- 64)) & 1 != 0 }
        return false
    }

    /// field-vchar, SP or HTAB (RFC 9110 5.5): anything but controls and DEL;
    /// obs-text (0x80-0xFF) is accepted as opaque data.
    @inline(__always) var isFieldValueByte: Bool { (self >= 0x20 && self != 0x7F) || self == ASCII.tab }

    /// Visible ASCII (VCHAR), the bytes a request-target is made of.
    @inline(__always) var isVisibleASCII: Bool { self > 0x20 && self < 0x7F }

    @inline(__always) var isWhitespace: Bool { self == ASCII.space || self == ASCII.tab }

    @inline(__always) var isDigit: Bool { self &- ASCII.zero < 10 }

    @inline(__always) var isLetter: Bool { (self | 0x20) &- 0x61 < 26 }

    /// Only letters fold: `| 0x20` on other bytes would map, say, CR onto '-'.
    @inline(__always) var asciiLowercased: UInt8 { isLetter ? self | 0x20 : self }

    /// The value of a hex digit, or nil.
    @inline(__always) var hexValue: Int? {
        if isDigit { return Int(self &- ASCII.zero) }
        let lower = self | 0x20
        if lower >= 0x61 && lower <= 0x66 { return Int(lower &- 0x61 &+ 10) }
        return nil
    }
}

/// A byte view with the small scanning helpers the parser needs. Indices are
/// positions in `bytes`; ranges are half-open.
struct Bytes {
    let bytes: UnsafeBufferPointer<UInt8>

    @inline(__always) subscript(_ i: Int) -> UInt8 { bytes[i] }

    /// Position of the first LF in range, or nil.
    @inline(__always) func firstLF(in range: Range<Int>) -> Int? {
        var i = range.lowerBound
        while i < range.upperBound {
            if bytes[i] == ASCII.lf { return i }
            i &+= 1
        }
        return nil
    }

    func first(_ byte: UInt8, in range: Range<Int>) -> Int? {
        var i = range.lowerBound
        while i < range.upperBound {
            if bytes[i] == byte { return i }
            i &+= 1
        }
        return nil
    }

    /// The range without leading and trailing SP/HTAB (OWS).
    func trimmed(_ range: Range<Int>) -> Range<Int> {
        var low = range.lowerBound, high = range.upperBound
        while low < high && bytes[low].isWhitespace { low &+= 1 }
        while high > low && bytes[high &- 1].isWhitespace { high &-= 1 }
        return low..<high
    }

    func allToken(_ range: Range<Int>) -> Bool {
        if range.isEmpty { return false }
        for i in range where !bytes[i].isToken { return false }
        return true
    }

    /// ASCII case-insensitive comparison with a literal (letters fold, nothing else does).
    func equalsIgnoringCase(_ range: Range<Int>, _ literal: StaticString) -> Bool {
        literal.withUTF8Buffer { text in
            guard range.count == text.count else { return false }
            var i = 0
            for position in range {
                if bytes[position].asciiLowercased != text[i].asciiLowercased { return false }
                i &+= 1
            }
            return true
        }
    }

    /// 1*DIGIT as a non-negative Int; nil when empty, not digits, or too large.
    func decimal(_ range: Range<Int>) -> Int? {
        if range.isEmpty { return nil }
        var value = 0
        for i in range {
            let byte = bytes[i]
            guard byte.isDigit else { return nil }
            let (times10, o1) = value.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times10.addingReportingOverflow(Int(byte &- ASCII.zero))
            if o1 || o2 { return nil }
            value = sum
        }
        return value
    }

    /// Calls `body` with each element of a comma-separated list (RFC 9110 5.6.1),
    /// OWS trimmed, empty elements skipped. Stops when `body` returns false.
    func forEachListElement(_ range: Range<Int>, _ body: (Range<Int>) -> Bool) {
        var low = range.lowerBound
        while low <= range.upperBound {
            let comma = first(ASCII.comma, in: low..<range.upperBound) ?? range.upperBound
            let element = trimmed(low..<comma)
            if !element.isEmpty && !body(element) { return }
            low = comma &+ 1
        }
    }
}

/// ASCII case-insensitive comparison of bytes with a literal.
func equalsIgnoringCase(_ bytes: ArraySlice<UInt8>, _ literal: StaticString) -> Bool {
    bytes.withUnsafeBufferPointer { Bytes(bytes: $0).equalsIgnoringCase(0..<$0.count, literal) }
}
