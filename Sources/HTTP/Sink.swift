// Where the serializer writes: any HTTPSink. A [UInt8] grows as needed;
// BufferSink fills caller-provided memory (a transmit buffer) and never
// allocates. No Foundation, no existentials: writers are generic over it.

public protocol HTTPSink {
    mutating func write(_ bytes: UnsafeRawBufferPointer)
}

extension Array: HTTPSink where Element == UInt8 {
    public mutating func write(_ bytes: UnsafeRawBufferPointer) {
        bytes.withMemoryRebound(to: UInt8.self) { append(contentsOf: $0) }
    }
}

/// Fills a fixed buffer. The first write that does not fit sets `overflowed`,
/// and from then on every write is dropped: a response is either complete or
/// visibly failed, never silently missing a piece in the middle.
public struct BufferSink: HTTPSink {
    public let buffer: UnsafeMutableRawBufferPointer
    public private(set) var count = 0
    public private(set) var overflowed = false

    public init(_ buffer: UnsafeMutableRawBufferPointer) { self.buffer = buffer }

    /// The bytes written so far.
    public var written: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: buffer[0..<count]) }

    public mutating func write(_ bytes: UnsafeRawBufferPointer) {
        guard !overflowed, bytes.count <= buffer.count - count else { overflowed = true; return }
        guard let source = bytes.baseAddress, let destination = buffer.baseAddress else { return }
        (destination + count).copyMemory(from: source, byteCount: bytes.count)
        count += bytes.count
    }
}
