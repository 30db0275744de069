// One command-line argument as a view of its NUL-terminated UTF-8 bytes, which
// the platform keeps for the whole run.

public struct RawArgument {
    public let utf8: UnsafeBufferPointer<UInt8>

    public init(cString: UnsafePointer<UInt8>) {
        var length = 0
        while cString[length] != 0 { length += 1 }
        utf8 = UnsafeBufferPointer(start: cString, count: length)
    }

    public var string: String { String(decoding: utf8, as: UTF8.self) }

    /// Compares the bytes without building a String.
    public static func == (argument: RawArgument, text: StaticString) -> Bool {
        text.withUTF8Buffer { argument.utf8.elementsEqual($0) }
    }
}
