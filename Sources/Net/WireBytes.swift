// Big-endian field access over raw buffers, shared by every wire format.
// Limits: these helpers trust their offsets. Only parsers that have already
// checked the buffer's length call them on untrusted bytes, so no accessor
// can run past a buffer (debug builds still bounds-check every byte).
// Tests: Tests/NetTests/WireTests.swift, through every parser.

extension UnsafeRawBufferPointer {
    @inline(__always)
    func be16(_ offset: Int) -> UInt16 {
        UInt16(self[offset]) << 8 | UInt16(self[offset + 1])
    }

    @inline(__always)
    func be32(_ offset: Int) -> UInt32 {
        UInt32(be16(offset)) << 16 | UInt32(be16(offset + 2))
    }

    /// A view of `range`, indexed from 0.
    @inline(__always)
    func slice(_ range: Range<Int>) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: self[range])
    }

    /// The bytes from `offset` to the end, indexed from 0.
    @inline(__always)
    func dropping(_ offset: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: self[offset...])
    }
}

extension UnsafeMutableRawBufferPointer {
    @inline(__always)
    func setBE16(_ value: UInt16, at offset: Int) {
        self[offset] = UInt8(truncatingIfNeeded: value >> 8)
        self[offset + 1] = UInt8(truncatingIfNeeded: value)
    }

    @inline(__always)
    func setBE32(_ value: UInt32, at offset: Int) {
        setBE16(UInt16(truncatingIfNeeded: value >> 16), at: offset)
        setBE16(UInt16(truncatingIfNeeded: value), at: offset + 2)
    }

    @inline(__always)
    func slice(_ range: Range<Int>) -> UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(rebasing: self[range])
    }

    @inline(__always)
    func dropping(_ offset: Int) -> UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(rebasing: self[offset...])
    }

    /// Copies `source` to `offset` (the caller has checked that it fits).
    @inline(__always)
    func copy(_ source: UnsafeRawBufferPointer, to offset: Int) {
        guard source.count > 0 else { return }
        UnsafeMutableRawBufferPointer(rebasing: self[offset..<offset + source.count]).copyMemory(from: source)
    }

    @inline(__always)
    func zero(_ range: Range<Int>) {
        guard !range.isEmpty else { return }
        UnsafeMutableRawBufferPointer(rebasing: self[range]).initializeMemory(as: UInt8.self, repeating: 0)
    }
}
