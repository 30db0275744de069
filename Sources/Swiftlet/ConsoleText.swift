// Formatted console output without String: `Console.print("heap \(n) bytes")`
// formats integers, static text and raw arguments straight into the
// console's line buffer and hands each line to the platform in one write
// (one hypercall on hvt). No allocation, no String, no copy of the buffer:
// it works in early-boot paths, keeps Swift's String interpolation
// machinery (~18 KB of Embedded stdlib code) out of images that do not
// otherwise need it, and stays cheap where every instruction is emulated.
// The pieces go into one shared buffer as the interpolation is evaluated,
// so a `Console.print` inside an interpolated value interleaves with it.
// Tests: Tests/SwiftletTests/ConsoleTextTests.swift.

public struct ConsoleText: ExpressibleByStringInterpolation {
    public typealias StringLiteralType = StaticString

    /// The line being formatted (single vCPU, cooperative: one at a time).
    nonisolated(unsafe) static var line = ConsoleBuffer()

    public init(stringLiteral literal: StaticString) {
        ConsoleText.line.append(literal)
    }

    public init(stringInterpolation: StringInterpolation) {}

    public struct StringInterpolation: StringInterpolationProtocol {
        public init(literalCapacity: Int, interpolationCount: Int) {}

        public mutating func appendLiteral(_ literal: StaticString) { ConsoleText.line.append(literal) }
        public mutating func appendInterpolation(_ text: StaticString) { ConsoleText.line.append(text) }
        public mutating func appendInterpolation(_ value: Int) { ConsoleText.line.writeDecimal(value) }
        public mutating func appendInterpolation(_ value: UInt) { ConsoleText.line.writeDecimal(value) }
        public mutating func appendInterpolation(_ value: some FixedWidthInteger) {
            if value < 0 {
                ConsoleText.line.writeDecimal(Int(truncatingIfNeeded: value))
            } else {
                ConsoleText.line.writeDecimal(UInt(truncatingIfNeeded: value))
            }
        }
        /// `\(hex: value)`: 0x and at least `digits` hex digits.
        public mutating func appendInterpolation(hex value: UInt64, digits: Int = 1) {
            ConsoleText.line.writeHex(value, digits: digits)
        }
        /// A MAC address as six colon-separated hex pairs.
        public mutating func appendInterpolation(_ mac: MACAddress) {
            withUnsafeBytes(of: mac.bytes) { bytes in
                for (i, byte) in bytes.enumerated() {
                    if i > 0 { ConsoleText.line.write(0x3A) }
                    ConsoleText.line.write(hexDigit(byte >> 4))
                    ConsoleText.line.write(hexDigit(byte & 0xF))
                }
            }
        }
        public mutating func appendInterpolation(_ argument: RawArgument) {
            ConsoleText.line.write(bytes: argument.utf8)
        }
        public mutating func appendInterpolation(_ text: String) {
            var copy = text
            copy.withUTF8 { ConsoleText.line.write(bytes: $0) }
        }

        func hexDigit(_ nibble: UInt8) -> UInt8 { nibble < 10 ? 0x30 + nibble : 0x57 + nibble }
    }

    /// The formatted bytes not yet written, taken out of the line (for tests).
    static func takePending() -> [UInt8] {
        let count = line.count
        let pending = withUnsafeBytes(of: &line.storage) { Array($0.prefix(count)) }
        line.count = 0
        return pending
    }
}

extension Console {
    /// Writes `text` and a newline to the console.
    public static func print(_ text: ConsoleText) {
        ConsoleText.line.write(0x0A)  // flushes
    }
}

/// Console output collected in 128 bytes on the stack and written to the
/// platform console a line at a time (one hypercall on hvt) - and whenever
/// the buffer fills. Allocation-free: the panic paths use it too.
public struct ConsoleBuffer: ByteSink {
    var storage: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64,
                  UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) =
        (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    var count = 0

    public init() {}

    public mutating func write(_ byte: UInt8) {
        if count == 128 { flush() }
        withUnsafeMutableBytes(of: &storage) { $0[count] = byte }
        count += 1
        if byte == 0x0A { flush() }
    }

    /// Copies in chunks (not byte by byte) and flushes when full or when the
    /// bytes end with a newline.
    public mutating func write(bytes: UnsafeBufferPointer<UInt8>) {
        var rest = bytes
        while !rest.isEmpty {
            if count == 128 { flush() }
            let n = min(128 - count, rest.count)
            let at = count
            withUnsafeMutableBytes(of: &storage) { storage in
                (storage.baseAddress! + at).copyMemory(from: rest.baseAddress!, byteCount: n)
            }
            count += n
            rest = UnsafeBufferPointer(rebasing: rest[n...])
        }
        if bytes.last == 0x0A { flush() }
    }

    mutating func append(_ text: StaticString) {
        text.withUTF8Buffer { write(bytes: $0) }
    }

    public mutating func flush() {
        guard count > 0 else { return }
        let n = count
        withUnsafeBytes(of: &storage) { platformWrite($0.baseAddress!.assumingMemoryBound(to: UInt8.self), n) }
        count = 0
    }
}
