// A virtio-mmio device as a kernel command-line word announces it, the way
// Linux reads them and QEMU's microvm writes them:
//   virtio_mmio.device=<size>@<base>:<irq>[:<id>]
// with `size` and `base` in C notation (0x hex or decimal) and an optional
// K/M/G suffix on the size. Anything else is refused (nil), never guessed.
// Tests: Tests/VirtioTests/MMIODeclarationTests.swift.

import Swiftlet

public struct VirtioMMIODeclaration: Equatable {
    public let size: UInt64
    public let base: UInt64
    public let interrupt: Int

    public init(size: UInt64, base: UInt64, interrupt: Int) {
        self.size = size
        self.base = base
        self.interrupt = interrupt
    }

    public init?(_ argument: RawArgument) {
        let prefix: StaticString = "virtio_mmio.device="
        let bytes = argument.utf8
        let skip = prefix.utf8CodeUnitCount
        guard bytes.count > skip, prefix.withUTF8Buffer({ bytes.prefix(skip).elementsEqual($0) }) else { return nil }
        var parser = NumberParser(bytes: UnsafeBufferPointer(rebasing: bytes[skip...]))
        guard var size = parser.number() else { return nil }
        switch parser.peek {
        case UInt8(ascii: "K"), UInt8(ascii: "k"): size <<= 10; parser.index += 1
        case UInt8(ascii: "M"), UInt8(ascii: "m"): size <<= 20; parser.index += 1
        case UInt8(ascii: "G"), UInt8(ascii: "g"): size <<= 30; parser.index += 1
        default: break
        }
        guard parser.take(UInt8(ascii: "@")), let base = parser.number(), parser.take(UInt8(ascii: ":")),
              let irq = parser.number(), irq < 256, size > 0, base <= UInt64.max - size else { return nil }
        // An optional platform device id follows; nothing else may.
        if parser.take(UInt8(ascii: ":")) { guard parser.number() != nil else { return nil } }
        guard parser.atEnd else { return nil }
        self.init(size: size, base: base, interrupt: Int(irq))
    }
}

/// Unsigned numbers in C notation from a byte string, with overflow refused.
struct NumberParser {
    let bytes: UnsafeBufferPointer<UInt8>
    var index = 0

    init(bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    var atEnd: Bool { index >= bytes.count }
    var peek: UInt8 { atEnd ? 0 : bytes[index] }

    mutating func take(_ byte: UInt8) -> Bool {
        guard peek == byte else { return false }
        index += 1
        return true
    }

    mutating func number() -> UInt64? {
        var radix: UInt64 = 10
        if peek == UInt8(ascii: "0"), index + 1 < bytes.count, bytes[index + 1] | 0x20 == UInt8(ascii: "x") {
            radix = 16
            index += 2
        }
        var value: UInt64 = 0
        var digits = 0
        while !atEnd {
            let byte = bytes[index]
            let digit: UInt64
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt64(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f") where radix == 16: digit = UInt64(byte - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F") where radix == 16: digit = UInt64(byte - UInt8(ascii: "A") + 10)
            default: return digits > 0 ? value : nil
            }
            let (shifted, overflow) = value.multipliedReportingOverflow(by: radix)
            guard !overflow, shifted <= UInt64.max - digit else { return nil }
            value = shifted + digit
            digits += 1
            index += 1
        }
        return digits > 0 ? value : nil
    }
}
