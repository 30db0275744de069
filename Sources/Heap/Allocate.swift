// Allocate: allocation, free and in-place reallocation on the control
// block, and the pointer validation that turns bad frees into `HeapError`s
// (its limits are listed in Heap.swift). All paths are O(1).
// Tests: Tests/HeapTests/HeapTests.swift.

/// A used block that passed validation, with both physical neighbours
/// (`prev == 0` for a region's first block). `block == 0` means validation
/// failed, and `info` then holds a `Verdict`.
struct UsedBlock {
    var block: UInt
    var info: UInt
    var next: UInt
    var nextInfo: UInt
    var prev: UInt
    var prevInfo: UInt

    static func failed(_ verdict: UInt) -> UsedBlock {
        UsedBlock(block: 0, info: verdict, next: 0, nextInfo: 0, prev: 0, prevInfo: 0)
    }

    @inline(always) var prevIsFree: Bool { prevInfo & Layout.free != 0 }
    @inline(always) var nextIsFree: Bool { nextInfo & Layout.free != 0 }
}

/// Why validation failed; kept off the hot path until the one throw.
enum Verdict {
    static let foreign: UInt = 1
    static let doubleFree: UInt = 2
    static let corrupted: UInt = 3

    @inline(never)
    static func error(_ verdict: UInt, _ address: UInt) -> HeapError {
        switch verdict {
        case doubleFree: return .doubleFree(address)
        case corrupted: return .corrupted(address)
        default: return .foreignPointer(address)
        }
    }
}

extension Control {
    // MARK: validation

    /// Index of the region whose blocks (sentinel excluded) contain `block`.
    @inline(always)
    func regionIndex(_ block: UInt) -> Int {
        var i = 0
        let count = regionCount
        while i < count {
            let first = regionFirst(i)
            if block &- first < regionSentinel(i) &- first { return i }
            i &+= 1
        }
        return -1
    }

    @inline(always)
    func validate(_ address: UInt) throws(HeapError) -> UsedBlock {
        let used = inspect(address)
        if used.block == 0 { throw Verdict.error(used.info, address) }
        return used
    }

    /// Checks that `address` is the payload of a live block whose neighbours
    /// agree with it, reading only memory inside the region it claims to be
    /// in. Region 0 is tried first without a loop: most heaps have one.
    @inline(always)
    func inspect(_ address: UInt) -> UsedBlock {
        let block = address &- Layout.header
        var first = regionFirst(0)
        var sentinel = regionSentinel(0)
        if block &- first >= sentinel &- first {
            let region = regionIndex(block)
            guard region > 0 else { return .failed(Verdict.foreign) }
            first = regionFirst(region)
            sentinel = regionSentinel(region)
        }
        guard address & 15 == 0 else { return .failed(Verdict.foreign) }
        let info = load(block &+ Layout.infoOffset)
        guard tagValid(block, info) else { return .failed(Verdict.foreign) }
        guard info & (Layout.free | Layout.cached) == 0 else { return .failed(Verdict.doubleFree) }
        let size = info & Layout.sizeMask
        let next = block &+ size
        // Bounds first: a neighbour's header is read only once it is in range.
        guard size >= Layout.minBlock, next <= sentinel else { return .failed(Verdict.corrupted) }
        let nextInfo = load(next &+ Layout.infoOffset)
        guard tagValid(next, nextInfo), load(next) == block else {
            return .failed(Verdict.corrupted)
        }
        let prev = load(block)
        var prevInfo: UInt = 0
        if prev != 0 {
            guard prev >= first, prev < block, prev & 15 == 0 else { return .failed(Verdict.corrupted) }
            prevInfo = load(prev &+ Layout.infoOffset)
            guard tagValid(prev, prevInfo), prev &+ (prevInfo & Layout.sizeMask) == block else {
                return .failed(Verdict.corrupted)
            }
        } else if block != first {
            return .failed(Verdict.corrupted)
        }
        return UsedBlock(
            block: block, info: info, next: next, nextInfo: nextInfo, prev: prev, prevInfo: prevInfo)
    }

    // MARK: allocation

    /// Out of line: `allocateFromLists` calls it twice (before and after a
    /// flush), and one copy of the TLSF path is enough.
    @inline(never)
    func allocate(_ need: UInt, _ alignment: UInt) -> UInt {
        alignment <= 16 ? allocateBlock(need) : allocateAligned(need, alignment)
    }

    /// The TLSF path of `Heap.allocate`, kept out of line so the quick-bin
    /// path stays small. Out of room, it gives the cached blocks back
    /// (coalescing) and tries once more.
    @inline(never)
    func allocateFromLists(_ need: UInt, _ alignment: UInt) -> UnsafeMutableRawPointer? {
        var block = allocate(need, alignment)
        if block == 0 && flushQuickBins() > 0 { block = allocate(need, alignment) }
        guard block != 0 else { return nil }
        return UnsafeMutableRawPointer(bitPattern: block &+ Layout.header)
    }

    /// The TLSF path of `Heap.free`, out of line for the same reason.
    func validateAndRelease(_ address: UInt) throws(HeapError) {
        let verdict = releaseIfValid(address)
        if verdict != 0 { throw Verdict.error(verdict, address) }
    }

    /// Validates the block at payload `address` and frees it: 0, or the
    /// `Verdict` that stopped it (nothing changed then). One out-of-line copy
    /// of validation + release, shared by free and the quick-bin flush.
    @inline(never)
    func releaseIfValid(_ address: UInt) -> UInt {
        let used = inspect(address)
        guard used.block != 0 else { return used.info }
        release(used)
        return 0
    }

    /// The common path (alignment <= 16). When the tail left after the split
    /// falls in the class the block came from, the tail simply takes the
    /// block's place in that list: no bitmap work.
    @inline(always)
    func allocateBlock(_ need: UInt) -> UInt {
        let index = fittingClass(need)
        guard index >= 0 else { return 0 }
        let block = head(index)
        let size = blockSize(block)
        let rest = size &- need
        var used = size
        if rest >= Layout.minBlock {
            let tail = block &+ need
            refile(block, index, as: tail, classIndex(rest))
            store(tail, block)
            writeInfo(tail, rest | Layout.free)
            store(block &+ size, tail)
            used = need
        } else {
            popHead(index, block)
        }
        writeInfo(block, used)
        accountAllocation(used)
        return block
    }

    /// Searches for room for the worst-case leading gap, then files the gap
    /// (0 or >= 32 bytes, so it can be a block) as a free block of its own.
    func allocateAligned(_ need: UInt, _ alignment: UInt) -> UInt {
        let block = takeFree(need &+ alignment &+ Layout.header)
        guard block != 0 else { return 0 }
        let size = blockSize(block)
        let payload = block &+ Layout.header
        var gap = ((payload &+ alignment &- 1) & ~(alignment &- 1)) &- payload
        if gap == Layout.header { gap &+= alignment }
        if gap == 0 {
            carve(block, size, need)
            return block
        }
        writeInfo(block, gap | Layout.free)
        link(block, gap)
        let aligned = block &+ gap
        store(aligned, block)
        carve(aligned, size &- gap, need)
        return aligned
    }

    /// Marks the free, unlinked `block` of `size` bytes used, giving the tail
    /// beyond `need` back as a free block when it can be one.
    func carve(_ block: UInt, _ size: UInt, _ need: UInt) {
        let used = keepHead(block, size, need)
        writeInfo(block, used)
        accountAllocation(used)
    }

    /// Splits the tail beyond `need` off the `size` bytes at `block` as a free
    /// block when it can be one, and returns the size `block` keeps. The caller
    /// writes `block`'s header.
    func keepHead(_ block: UInt, _ size: UInt, _ need: UInt) -> UInt {
        let rest = size &- need
        let after = block &+ size
        guard rest >= Layout.minBlock else {
            store(after, block)  // the aligned path may have moved the block's start
            return size
        }
        let tail = block &+ need
        store(tail, block)
        writeInfo(tail, rest | Layout.free)
        store(after, tail)
        link(tail, rest)
        return need
    }

    @inline(always)
    func accountAllocation(_ used: UInt) {
        let inUse = field(Control.usedOffset) &+ used &- Layout.header
        setField(Control.usedOffset, inUse)
        setField(Control.liveOffset, field(Control.liveOffset) &+ 1)
        if inUse > field(Control.peakOffset) { setField(Control.peakOffset, inUse) }
    }

    /// A block of `size` bytes moves between live and cached: only the byte
    /// count changes (cached blocks stay in the live count; `liveBlocks`
    /// subtracts them), which keeps the quick-bin paths short.
    @inline(always)
    func accountCaching(_ size: UInt, cached: Bool) {
        let payload = size &- Layout.header
        let inUse = cached ? field(Control.usedOffset) &- payload : field(Control.usedOffset) &+ payload
        setField(Control.usedOffset, inUse)
        setField(QuickBins.cachedOffset, cached ? field(QuickBins.cachedOffset) &+ 1 : field(QuickBins.cachedOffset) &- 1)
        if !cached && inUse > field(Control.peakOffset) { setField(Control.peakOffset, inUse) }
    }

    /// Live blocks: the live count less the blocks waiting in quick bins.
    var liveBlocks: UInt { field(Control.liveOffset) &- field(QuickBins.cachedOffset) }

    @inline(always)
    func accountRelease(_ size: UInt) {
        setField(Control.usedOffset, field(Control.usedOffset) &- (size &- Layout.header))
        setField(Control.liveOffset, field(Control.liveOffset) &- 1)
    }

    // MARK: free

    /// Frees a validated block, merging it with free neighbours. A merged
    /// block whose class did not change keeps its list position.
    @inline(always)
    func release(_ used: UsedBlock) {
        let block = used.block
        let size = used.info & Layout.sizeMask
        accountRelease(size)
        if used.prevIsFree {
            mergeIntoPrev(used)
        } else if used.nextIsFree {
            let next = used.next
            let nextSize = used.nextInfo & Layout.sizeMask
            let total = size &+ nextSize
            refile(next, classIndex(nextSize), as: block, classIndex(total))
            writeInfo(block, total | Layout.free)
            store(next &+ nextSize, block)
        } else {
            writeInfo(block, size | Layout.free)
            link(block, size)
        }
    }

    /// `release` when the previous block is free: `block` (and a free next
    /// block) are absorbed into it.
    @inline(always)
    func mergeIntoPrev(_ used: UsedBlock) {
        let prev = used.prev
        let prevSize = used.prevInfo & Layout.sizeMask
        var total = prevSize &+ (used.info & Layout.sizeMask)
        var after = used.next
        if used.nextIsFree {
            let nextSize = used.nextInfo & Layout.sizeMask
            unlink(used.next, nextSize)
            total &+= nextSize
            after = used.next &+ nextSize
        }
        // Leave a valid free-marked header so a second free says doubleFree.
        writeInfo(used.block, (used.info & Layout.lowMask) | Layout.free)
        writeInfo(prev, total | Layout.free)
        store(after, prev)
        let oldIndex = classIndex(prevSize)
        let index = classIndex(total)
        if index != oldIndex {
            unlinkAt(prev, oldIndex)
            linkAt(prev, index)
        }
    }

    // MARK: reallocation in place

    func shrink(_ used: UsedBlock, to need: UInt) {
        let current = used.info & Layout.sizeMask
        let rest = current &- need
        guard rest >= Layout.minBlock else { return }
        let block = used.block
        writeInfo(block, need)
        setField(Control.usedOffset, field(Control.usedOffset) &- rest)
        let tail = block &+ need
        store(tail, block)
        var tailSize = rest
        if used.nextIsFree {
            let nextSize = used.nextInfo & Layout.sizeMask
            unlink(used.next, nextSize)
            tailSize &+= nextSize
        }
        writeInfo(tail, tailSize | Layout.free)
        store(tail &+ tailSize, tail)
        link(tail, tailSize)
    }

    func growInPlace(_ used: UsedBlock, to need: UInt) -> Bool {
        guard used.nextIsFree else { return false }
        let current = used.info & Layout.sizeMask
        let nextSize = used.nextInfo & Layout.sizeMask
        let total = current &+ nextSize
        guard total >= need else { return false }
        unlink(used.next, nextSize)
        let size = keepHead(used.block, total, need)
        writeInfo(used.block, size)
        let inUse = field(Control.usedOffset) &+ (size &- current)
        setField(Control.usedOffset, inUse)
        if inUse > field(Control.peakOffset) { setField(Control.peakOffset, inUse) }
        return true
    }
}
