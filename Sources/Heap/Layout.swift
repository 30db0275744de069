// Layout: block header constants, raw memory access and the TLSF size-class
// mapping for the heap (see Heap.swift for the block layout and detection
// limits). 64-bit only. Tests: Tests/HeapTests/HeapTests.swift.

enum Layout {
    static let granule: UInt = 16
    static let header: UInt = 16
    /// A free block must hold its header plus two list links.
    static let minBlock: UInt = 32

    static let free: UInt = 1
    /// In a QuickBins bin: neither live nor in a TLSF list.
    static let cached: UInt = 2

    /// Bits 0..39 of `info` hold size | flags; bits 40..63 hold the tag.
    static let tagShift: UInt = 40
    static let lowMask: UInt = (1 &<< 40) &- 1
    static let sizeMask: UInt = lowMask & ~UInt(15)
    static let maxBlock: UInt = sizeMask

    static let infoOffset: UInt = 8
    static let nextFreeOffset: UInt = 16
    static let prevFreeOffset: UInt = 24

    /// Second level: 32 lists per power of two. Below 512 bytes the classes
    /// are exact 16-byte steps (first level 0); first level `f >= 1` covers
    /// sizes [2^(f+8), 2^(f+9)). 32 first levels reach 2^40.
    static let firstLevels = 32
    static let classCount = 1024

    /// splitmix64's finaliser: spreads a seed over all bits.
    static func mix(_ x: UInt) -> UInt {
        var z = x &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z &>> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z &>> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z &>> 31)
    }
}

// MARK: raw memory

@inline(__always)
func load(_ address: UInt) -> UInt {
    UnsafeRawPointer(bitPattern: address).unsafelyUnwrapped.load(as: UInt.self)
}

@inline(__always)
func store(_ address: UInt, _ value: UInt) {
    UnsafeMutableRawPointer(bitPattern: address).unsafelyUnwrapped
        .storeBytes(of: value, as: UInt.self)
}

// MARK: size classes

/// The class a free block of `size` bytes is filed under.
@inline(__always)
func classIndex(_ size: UInt) -> Int {
    if size < 512 { return Int(bitPattern: size &>> 4) }
    let msb = UInt(bitPattern: 63 &- size.leadingZeroBitCount)
    let sl = (size &>> (msb &- 5)) & 31
    return Int(bitPattern: (msb &- 8) &<< 5 | sl)
}

/// The first class whose every block holds `size` bytes: `size` rounded up
/// to the next class boundary. May be >= classCount for huge sizes.
@inline(__always)
func searchIndex(_ size: UInt) -> Int {
    if size < 512 { return Int(bitPattern: size &>> 4) }
    let msb = UInt(bitPattern: 63 &- size.leadingZeroBitCount)
    return classIndex(size &+ ((1 &<< (msb &- 5)) &- 1))
}

/// Block size for a request of `size` bytes (already range-checked).
@inline(__always)
func requestBlockSize(_ size: UInt) -> UInt {
    let rounded = (size &+ Layout.header &+ 15) & ~UInt(15)
    return rounded < Layout.minBlock ? Layout.minBlock : rounded
}
