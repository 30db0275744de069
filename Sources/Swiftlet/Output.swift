// Allocation-free text output: the console, panic reports and boot messages
// write through a ByteSink, so they still work when the heap is broken.
// Tests: Tests/SwiftletTests/PanicReportTests.swift.

public protocol ByteSink {
    mutating func write(_ byte: UInt8)
    /// Writes many bytes; the default writes them one at a time.
    mutating func write(bytes: UnsafeBufferPointer<UInt8>)
}

extension ByteSink {
    // Out of line: panic reports write dozens of literals; one loop serves them all.
    @inline(never)
    public mutating func write(_ text: StaticString) {
        text.withUTF8Buffer { for b in $0 { write(b) } }
    }

    public mutating func write(bytes: UnsafeBufferPointer<UInt8>) {
        for b in bytes { write(b) }
    }

    /// `0x` and `digits` hex digits, zero-padded (more if the value needs them).
    @inline(never)
    public mutating func writeHex(_ value: UInt64, digits: Int = 16) {
        write("0x")
        let needed = max(1, (64 - value.leadingZeroBitCount + 3) / 4)
        let width = max(digits, needed)
        var shift = (width - 1) * 4
        while shift >= 0 {
            let nibble = UInt8(truncatingIfNeeded: value >> UInt64(shift)) & 0xF
            write(nibble < 10 ? 0x30 + nibble : 0x57 + nibble)
            shift -= 4
        }
    }

    public mutating func writeDecimal(_ value: Int) {
        if value < 0 { write(UInt8(ascii: "-")) }
        writeDecimal(value.magnitude)
    }

    public mutating func writeDecimal(_ value: UInt) {
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes: room for 20 digits
        var count = 0
        var v = value
        withUnsafeMutableBytes(of: &digits) { buf in
            repeat {
                buf[count] = 0x30 + UInt8(v % 10)
                v /= 10
                count += 1
            } while v != 0
            while count > 0 { count -= 1; write(buf[count]) }
        }
    }
}

/// The platform console: `Console.print` (ConsoleText.swift) and, for
/// allocation-free formatted writes, `ConsoleBuffer`.
public enum Console {}
