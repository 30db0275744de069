// Heap: a TLSF (two-level segregated fit) allocator for Swiftlet.
//
// It manages raw memory regions handed to it by `addRegion` and never calls
// the platform, so the same code runs freestanding (Embedded Swift, where it
// sits under the Swift runtime and therefore must never allocate) and hosted
// (tests and benchmarks). Allocation, free and in-place reallocation are O(1):
// a size class is found with find-first-set on two bitmaps (good fit: the
// request is rounded up to the next class boundary so any block of the class
// found fits), free lists are doubly linked, and free coalesces immediately
// with both physical neighbours, so no two free blocks are ever adjacent.
//
// Block layout (16-byte header, 16-byte granule, 32-byte minimum block):
//   +0  prevPhys  address of the previous block in the region (0 for the first)
//   +8  info      size | free flag (bit 0) | tag (bits 40..63)
//   +16 payload   (a free block keeps its free-list links here)
// Every region ends with a 16-byte used "sentinel" header of size 0, which
// stops coalescing and the block walk.
//
// The control block (bitmaps, 1024 list heads, region table, totals, quick
// bins: about 10 KiB) is placed at the start of the first region, so `init()` touches no
// memory and `addRegion` writes only the control block's fixed 832 bytes,
// one list head and two block headers. Consequences: the first region must
// hold the control block and one block (smaller ones before it are ignored),
// and once a region is added, copies of a `Heap` value share one heap: treat
// `Heap` as a handle and keep one copy.
//
// Detection. `free`, `reallocate` and `usableSize` validate the pointer before
// touching anything: it must be 16-aligned and its header must lie inside a
// region; the header's 24-bit tag (a keyed hash of the block address, size and
// flags with a per-heap secret) must match and mark a live block. Blocks of
// 1 KiB and more (and everything `reallocate` touches) also get their
// neighbours checked: the next physical block must have a valid tag and point
// back at this block; a free previous block must have a valid tag and end
// exactly at this block. Smaller blocks go to the quick bins (QuickBins.swift)
// on free and get the neighbour check when they leave them: one that fails
// is kept out of the lists and `check()` reports it. A block freed twice still
// carries a valid header marked free or cached (also when it was merged into
// its predecessor), so the second free reports `.doubleFree` instead of
// corrupting the lists.
// Limits, by design:
//   - a pointer is freed twice after its memory was handed out again at the
//     same address: the second free releases the new owner's block (ABA);
//   - a forged header passes with odds about 2^-24 per header, and the
//     neighbour checks must be forged too, so a random pointer into a block
//     is accepted only with negligible probability; a caller that knows the
//     secret can forge headers (the secret is not a security boundary);
//   - writes after free into a free block's links, or overflows that rewrite
//     a neighbour's header with its own old contents, are only found by
//     `check()`;
//   - the default secret is derived from the first region's address; pass
//     `init(secret:)` a random seed for better odds.
// Other limits: 64-bit targets only; one block is at most 1 TiB - 16 (larger
// regions are truncated); at most `maxRegions` regions (a region that starts
// exactly where an earlier one ends is merged into it and does not count);
// a block that `reallocate` moves gets 16-byte alignment; not thread-safe
// (the caller serialises).
//
// Tests: Tests/HeapTests/HeapTests.swift. Bench: bench/heap/run.sh.

/// Figures about a heap. `inUse` counts usable bytes of live blocks,
/// `freeBytes` counts whole free blocks (their headers included), and
/// `largestFree` is the payload of the largest free block.
public struct HeapStats {
    public var totalBytes: Int
    public var inUse: Int
    public var peakInUse: Int
    public var freeBytes: Int
    public var largestFree: Int
    /// Live allocation count.
    public var allocations: Int

    public init(
        totalBytes: Int, inUse: Int, peakInUse: Int, freeBytes: Int,
        largestFree: Int, allocations: Int
    ) {
        self.totalBytes = totalBytes
        self.inUse = inUse
        self.peakInUse = peakInUse
        self.freeBytes = freeBytes
        self.largestFree = largestFree
        self.allocations = allocations
    }
}

/// What a rejected `free`/`reallocate`/`usableSize` found; the payload is the
/// offending pointer's address. The kernel turns these into a panic.
public enum HeapError: Error, Equatable {
    case doubleFree(UInt)
    case foreignPointer(UInt)
    case corrupted(UInt)
}

public struct Heap {
    public static let maxAlignment = 4096
    public static let maxRegions = Control.maxRegions
    /// Largest request `allocate` will try; anything above returns nil. Keeps
    /// all size arithmetic far away from overflow.
    public static let maxRequest = Int(Layout.maxBlock) - 4 * maxAlignment
    /// Bytes of the first region taken by the control block.
    public static let controlBytes = Int(Control.size)

    /// Address of the control block; 0 until the first region arrives.
    var control: UInt = 0
    /// Tag key before the control block exists.
    var seed: UInt
    var seedIsFinal: Bool

    public init() {
        seed = 0x2545_F491_4F6C_DD1D
        seedIsFinal = false
    }

    /// A heap whose header tags are keyed by `secret` (e.g. from a boot-time
    /// cycle counter) instead of the first region's address.
    public init(secret: UInt64) {
        seed = Layout.mix(UInt(secret))
        seedIsFinal = true
    }

    // MARK: allocation API

    /// nil on exhaustion, size <= 0, size > `maxRequest`, or an alignment that
    /// is not a power of two in 1...`maxAlignment`.
    public mutating func allocate(size: Int, alignment: Int = 16) -> UnsafeMutableRawPointer? {
        // Quick-bin path first: a small size with at most 16-byte alignment
        // (both unsigned compares also reject size 0 and alignment 0).
        let small = UInt(bitPattern: size &- 1) < QuickBins.sizeLimit &- 2 * Layout.header
        if small && UInt(bitPattern: alignment &- 1) < 16 && alignment & (alignment &- 1) == 0 && control != 0 {
            let c = Control(base: control)
            let need = requestBlockSize(UInt(bitPattern: size))
            let cached = c.takeCached(need)
            if cached != 0 { return UnsafeMutableRawPointer(bitPattern: cached &+ Layout.header) }
            return c.allocateFromLists(need, UInt(bitPattern: alignment))
        }
        guard control != 0, UInt(bitPattern: size &- 1) < UInt(Heap.maxRequest),
            UInt(bitPattern: alignment &- 1) < UInt(Heap.maxAlignment),
            alignment & (alignment &- 1) == 0
        else { return nil }
        // Big or strongly aligned: quick bins never hold such blocks.
        return Control(base: control).allocateFromLists(requestBlockSize(UInt(bitPattern: size)),
                                                        UInt(bitPattern: alignment))
    }

    public mutating func free(_ pointer: UnsafeMutableRawPointer) throws(HeapError) {
        let c = try controlFor(pointer)
        let address = UInt(bitPattern: pointer)
        if c.cacheIfSmall(address) { return }
        try c.validateAndRelease(address)
    }

    /// realloc semantics: shrinks in place, grows in place into a free next
    /// block, else moves (16-byte alignment) and frees the old block. nil on
    /// exhaustion or an absurd size, leaving the old block untouched. A size
    /// of 0 shrinks to the minimum block rather than freeing.
    public mutating func reallocate(
        _ pointer: UnsafeMutableRawPointer, size: Int
    ) throws(HeapError) -> UnsafeMutableRawPointer? {
        let c = try controlFor(pointer)
        let address = UInt(bitPattern: pointer)
        let used = try c.validate(address)
        guard size >= 0, size <= Heap.maxRequest else { return nil }
        let need = requestBlockSize(UInt(bitPattern: size))
        let current = used.info & Layout.sizeMask
        if need <= current {
            c.shrink(used, to: need)
            return pointer
        }
        if c.growInPlace(used, to: need) { return pointer }
        guard let moved = allocate(size: size) else { return nil }
        moved.copyMemory(from: pointer, byteCount: Int(current &- Layout.header))
        // `allocate` may have split the old block's free neighbour: `free`
        // validates afresh.
        try free(pointer)
        return moved
    }

    public func usableSize(_ pointer: UnsafeMutableRawPointer) throws(HeapError) -> Int {
        let used = try controlFor(pointer).validate(UInt(bitPattern: pointer))
        return Int((used.info & Layout.sizeMask) &- Layout.header)
    }

    @inline(always)
    func controlFor(_ pointer: UnsafeMutableRawPointer) throws(HeapError) -> Control {
        guard control != 0 else { throw .foreignPointer(UInt(bitPattern: pointer)) }
        return Control(base: control)
    }

    // MARK: figures

    /// Flushes the quick bins first, so `largestFree` is exact.
    public var stats: HeapStats {
        guard control != 0 else {
            return HeapStats(
                totalBytes: 0, inUse: 0, peakInUse: 0, freeBytes: 0, largestFree: 0, allocations: 0)
        }
        let c = Control(base: control)
        c.flushQuickBins()
        return HeapStats(
            totalBytes: Int(bitPattern: c.field(Control.managedOffset)),
            inUse: Int(bitPattern: c.field(Control.usedOffset)),
            peakInUse: Int(bitPattern: c.field(Control.peakOffset)),
            freeBytes: Int(bitPattern: c.freeBytes),
            largestFree: c.largestFreePayload(),
            allocations: Int(bitPattern: c.liveBlocks))
    }

    /// Number of regions currently managed (merged regions count once).
    public var regions: Int { control == 0 ? 0 : Control(base: control).regionCount }

    /// Number of free blocks (walks the free lists: for tests and debugging).
    public func freeBlockCount() -> Int {
        guard control != 0 else { return 0 }
        let c = Control(base: control)
        c.flushQuickBins()
        return c.freeBlockCount()
    }

    // MARK: regions

    /// Adds a region of free memory. O(1): only the region's first and last
    /// 16 bytes are written (plus the control block's fixed part for the first
    /// region). Regions too small for a block, overlapping a managed region,
    /// or beyond `maxRegions` are ignored. Returns the bytes actually managed
    /// (for the first region: without the control block).
    @discardableResult
    public mutating func addRegion(_ start: UnsafeMutableRawPointer, size: Int) -> Int {
        guard size > 0 else { return 0 }
        let raw = UInt(bitPattern: start)
        guard raw <= UInt.max &- Layout.granule else { return 0 }
        var first = (raw &+ 15) & ~UInt(15)
        let (rawEnd, overflow) = raw.addingReportingOverflow(UInt(size))
        let end = (overflow ? UInt.max : rawEnd) & ~UInt(15)
        let smallest = Layout.minBlock &+ Layout.header
        if control == 0 {
            guard end > first, end &- first >= Control.size &+ smallest else { return 0 }
            control = first
            Control(base: first).initialise(secret: seedIsFinal ? seed : Layout.mix(seed ^ first))
            first &+= Control.size
        }
        guard end > first, end &- first >= smallest else { return 0 }
        // One block is at most maxBlock: truncate (also near the address top).
        let (limit, past) = first.addingReportingOverflow(Layout.maxBlock &+ Layout.header)
        return Control(base: control).addBlocks(first, past ? end : min(end, limit))
    }
}

extension Control {
    /// Zeroes only what must start at zero - the fixed fields, the
    /// second-level bitmaps and the quick-bin counts - with memset: list
    /// heads, bin heads and the region table are read only where bitmaps and
    /// counts say so.
    func initialise(secret: UInt) {
        zero(Control.fieldsOffset, Control.regionsOffset)
        zero(QuickBins.countsOffset, Control.size)
        setField(Control.secretOffset, secret)
    }

    func zero(_ from: UInt, _ to: UInt) {
        UnsafeMutableRawPointer(bitPattern: base &+ from).unsafelyUnwrapped
            .initializeMemory(as: UInt8.self, repeating: 0, count: Int(to &- from))
    }

    /// Files [first, end) as a new region, or appends it to a region that ends
    /// exactly at `first`. Returns the bytes added.
    func addBlocks(_ first: UInt, _ end: UInt) -> Int {
        guard !overlapsManaged(first, end) else { return 0 }
        if appendToRegion(first, end) { return Int(end &- first) }
        let count = regionCount
        guard count < Control.maxRegions else { return 0 }
        let sentinel = end &- Layout.header
        let size = sentinel &- first
        store(first, 0)
        writeInfo(first, size | Layout.free)
        store(sentinel, first)
        writeInfo(sentinel, 0)
        link(first, size)
        let entry = Control.regionsOffset &+ UInt(bitPattern: count) &<< 4
        setField(entry, first)
        setField(entry &+ 8, sentinel)
        setField(Control.regionCountOffset, UInt(bitPattern: count &+ 1))
        setField(Control.managedOffset, field(Control.managedOffset) &+ (end &- first))
        return Int(end &- first)
    }

    /// Whether [first, end) meets the control block or any region.
    func overlapsManaged(_ first: UInt, _ end: UInt) -> Bool {
        if first < base &+ Control.size && base < end { return true }
        for i in 0..<regionCount {
            let regionEnd = regionSentinel(i) &+ Layout.header
            if first < regionEnd && regionFirst(i) < end { return true }
        }
        return false
    }

    /// Extends a region that ends exactly at `first`: its sentinel becomes the
    /// start of the new free block, merged with a free block before it.
    func appendToRegion(_ first: UInt, _ end: UInt) -> Bool {
        for i in 0..<regionCount where regionSentinel(i) &+ Layout.header == first {
            let oldSentinel = regionSentinel(i)
            let newSentinel = end &- Layout.header
            var block = oldSentinel
            var size = newSentinel &- oldSentinel
            let prev = load(oldSentinel)
            if sizeFlags(prev) & Layout.free != 0 {
                let prevSize = blockSize(prev)
                guard prevSize &+ size <= Layout.maxBlock else { return false }
                unlink(prev, prevSize)
                block = prev
                size &+= prevSize
            } else if size > Layout.maxBlock {
                return false
            }
            writeInfo(block, size | Layout.free)
            store(newSentinel, block)
            writeInfo(newSentinel, 0)
            link(block, size)
            setField(Control.regionsOffset &+ UInt(bitPattern: i) &<< 4 &+ 8, newSentinel)
            setField(Control.managedOffset, field(Control.managedOffset) &+ (end &- first))
            return true
        }
        return false
    }

    /// Whole free blocks: everything managed that is neither a live block
    /// (payload and header) nor a region's sentinel.
    var freeBytes: UInt {
        field(Control.managedOffset) &- field(Control.usedOffset)
            &- (liveBlocks &+ UInt(bitPattern: regionCount)) &* Layout.header
    }

    /// Payload of the largest free block: the largest block of the highest
    /// non-empty class (sizes vary within a class).
    func largestFreePayload() -> Int {
        var best: UInt = 0
        let flMap = field(Control.flBitmapOffset)
        if flMap != 0 {
            let fl = 63 &- flMap.leadingZeroBitCount
            let sl = 63 &- slBitmap(fl).leadingZeroBitCount
            var block = head(fl &<< 5 | sl)
            while block != 0 {
                best = max(best, blockSize(block))
                block = load(block &+ Layout.nextFreeOffset)
            }
        }
        return best == 0 ? 0 : Int(bitPattern: best &- Layout.header)
    }

    func freeBlockCount() -> Int {
        var count = 0
        for index in 0..<Layout.classCount where !listIsEmpty(index) {
            var block = head(index)
            while block != 0 {
                count &+= 1
                block = load(block &+ Layout.nextFreeOffset)
            }
        }
        return count
    }
}
