// Formatted console output without String: `Console.print("heap \(n) bytes")`
// formats integers, static text and raw arguments straight into a small
// stack buffer and hands each line to the platform in one write (one
// hypercall on hvt). No allocation, so it works in panic and early-boot
// paths, and it keeps Swift's String interpolation machinery (~18 KB of
// Embedded stdlib code) out of images that do not otherwise need it.
// Tests: Tests/SwiftletTests/ConsoleTextTests.swift.

public struct ConsoleText: ExpressibleByStringInterpolation {
    public typealias StringLiteralType = StaticString
    var buffer: LineBuffer

    public init(stringLiteral literal: StaticString) {
        buffer = LineBuffer()
        buffer.append(literal)
    }

    public init(stringInterpolation: StringInterpolation) {
        buffer = stringInterpolation.buffer
    }

    public struct StringInterpolation: StringInterpolationProtocol {
        var buffer = LineBuffer()

        public init(literalCapacity: Int, interpolationCount: Int) {}

        public mutating func appendLiteral(_ literal: StaticString) { buffer.append(literal) }
        public mutating func appendInterpolation(_ text: StaticString) { buffer.append(text) }
        public mutating func appendInterpolation(_ value: Int) { buffer.writeDecimal(value) }
        public mutating func appendInterpolation(_ value: UInt) { buffer.writeDecimal(value) }
        public mutating func appendInterpolation(_ value: some FixedWidthInteger) {
            if value < 0 { buffer.writeDecimal(Int(truncatingIfNeeded: value)) } else { buffer.writeDecimal(UInt(truncatingIfNeeded: value)) }
        }
        /// `\(hex: value)`: 0x and at least `digits` hex digits.
        public mutating func appendInterpolation(hex value: UInt64, digits: Int = 1) {
            buffer.writeHex(value, digits: digits)
        }
        public mutating func appendInterpolation(_ argument: RawArgument) {
            buffer.write(bytes: argument.utf8)
        }
        public mutating func appendInterpolation(_ text: String) {
            var copy = text
            copy.withUTF8 { buffer.write(bytes: $0) }
        }
    }
}

extension Console {
    /// Writes `text` and a newline to the console.
    public static func print(_ text: ConsoleText) {
        var line = text.buffer
        line.write(0x0A)
        line.flush()
    }
}

/// Collects output in 128 bytes on the stack and writes it to the platform
/// console whenever it fills and at the end of a line.
struct LineBuffer: ByteSink {
    var storage: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64,
                  UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) =
        (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    var count = 0

    init() {}

    mutating func write(_ byte: UInt8) {
        if count == 128 { flush() }
        withUnsafeMutableBytes(of: &storage) { $0[count] = byte }
        count += 1
    }

    mutating func append(_ text: StaticString) {
        text.withUTF8Buffer { write(bytes: $0) }
    }

    mutating func flush() {
        let n = count
        withUnsafeBytes(of: &storage) { platformWrite($0.baseAddress!.assumingMemoryBound(to: UInt8.self), n) }
        count = 0
    }
}
