// QuickBins: a small cache of recently freed small blocks in front of TLSF,
// so a free followed by an allocation of the same size is a list push and
// pop instead of a coalesce and a split (glibc's tcache does the same).
//
// Block sizes below 1 KiB have exact 16-byte bins of at most 16 blocks. A
// bin is walked for exactly its count of blocks, never to a null link, so a
// new control block zeroes the counts but not the heads (on an emulating CPU,
// zeroing costs as much as the rest of the set-up).
// A cached block stays a block of its own (marked `cached` in a tagged
// header, its neighbours do not merge with it) and counts as free in the
// statistics. Misuse detection is unchanged: a cached block is not live,
// so a second free of it reports `.doubleFree`. The bins are flushed into
// TLSF - coalescing everything - before an allocation fails and before
// statistics are read, so exhaustion and `largestFree` stay exact.
// Tests: Tests/HeapTests/HeapTests.swift.

enum QuickBins {
    /// Blocks smaller than this are cached, one bin per 16-byte size.
    static let sizeLimit: UInt = 1024
    static let bins: UInt = sizeLimit &>> 4
    static let depth: UInt = 16
    static let headsOffset: UInt = Control.regionsOffset &+ UInt(Control.maxRegions) &* 16
    static let countsOffset: UInt = headsOffset &+ bins &* 8  // bin sizes
    static let cachedOffset: UInt = countsOffset &+ bins &* 8  // blocks in all bins
    /// The control block's end; blocks start there, so it stays 16-aligned.
    static let end: UInt = (cachedOffset &+ 8 &+ 15) & ~UInt(15)
}

extension Control {
    @inline(always) func binHead(_ bin: UInt) -> UInt { field(QuickBins.headsOffset &+ bin &<< 3) }
    @inline(always) func binCount(_ bin: UInt) -> UInt { field(QuickBins.countsOffset &+ bin &<< 3) }

    @inline(always)
    func setBin(_ bin: UInt, head: UInt, count: UInt) {
        setField(QuickBins.headsOffset &+ bin &<< 3, head)
        setField(QuickBins.countsOffset &+ bin &<< 3, count)
    }

    /// Caches the block at payload `address` if it is a small live block of
    /// the first region whose bin has room; false otherwise (the caller then
    /// takes the full path, which also reports any misuse). This checks the
    /// block's own header only (alignment, region, tag, live); its neighbours
    /// are checked when it leaves the cache.
    @inline(always)
    func cacheIfSmall(_ address: UInt) -> Bool {
        let block = address &- Layout.header
        let first = regionFirst(0)
        guard address & 15 == 0, block &- first < regionSentinel(0) &- first else { return false }
        let info = load(block &+ Layout.infoOffset)
        let size = info & Layout.sizeMask
        guard size < QuickBins.sizeLimit, tagValid(block, info),
              info & (Layout.free | Layout.cached) == 0 else { return false }
        let bin = size &>> 4
        let count = binCount(bin)
        guard count < QuickBins.depth else { return false }
        accountCaching(size, cached: true)
        writeInfo(block, size | Layout.cached)
        store(block &+ Layout.nextFreeOffset, binHead(bin))  // stale when count == 0: never read
        setBin(bin, head: block, count: count &+ 1)
        return true
    }

    /// A cached block of exactly `need` bytes (< sizeLimit), marked used; or 0.
    @inline(always)
    func takeCached(_ need: UInt) -> UInt {
        let bin = need &>> 4
        let count = binCount(bin)
        guard count != 0 else { return 0 }
        let block = binHead(bin)
        setBin(bin, head: load(block &+ Layout.nextFreeOffset), count: count &- 1)
        writeInfo(block, need)
        accountCaching(need, cached: false)
        return block
    }

    /// Gives every cached block back to TLSF (with coalescing), validating
    /// its neighbours as a free would. A block that fails (a neighbour's header
    /// was overwritten meanwhile) is left out of both the bins and TLSF, so
    /// `check()` reports the damage instead of the lists absorbing it.
    /// Returns how many blocks went back.
    @discardableResult
    func flushQuickBins() -> Int {
        guard field(QuickBins.cachedOffset) != 0 else { return 0 }
        setField(QuickBins.cachedOffset, 0)
        var flushed = 0
        var bin: UInt = 2
        while bin < QuickBins.bins {
            var block = binHead(bin)
            let size = bin &<< 4
            var left = binCount(bin)
            while left != 0 {
                left &-= 1
                let next = load(block &+ Layout.nextFreeOffset)
                // Back to a live block (still in the live count), then the
                // ordinary free path.
                writeInfo(block, size)
                setField(Control.usedOffset, field(Control.usedOffset) &+ (size &- Layout.header))
                if releaseIfValid(block &+ Layout.header) == 0 {
                    flushed &+= 1
                } else {
                    accountRelease(size)
                    writeInfo(block, size | Layout.cached)
                }
                block = next
            }
            setBin(bin, head: 0, count: 0)
            bin &+= 1
        }
        return flushed
    }

    /// `check()`'s part: every bin holds `count` cached blocks of its size
    /// inside a region; returns the total of blocks and bytes, or nil.
    func checkQuickBins() -> (blocks: Int, bytes: UInt)? {
        var blocks = 0
        var bytes: UInt = 0
        var total: UInt = 0
        for bin in UInt(0)..<QuickBins.bins {
            var block = binHead(bin)
            let count = binCount(bin)
            guard count <= QuickBins.depth, count == 0 || bin >= 2 else { return nil }
            for _ in 0..<count {
                let info = load(block &+ Layout.infoOffset)
                guard block & 15 == 0, regionIndex(block) >= 0,
                      tagValid(block, info), info & Layout.lowMask == bin &<< 4 | Layout.cached
                else { return nil }
                block = load(block &+ Layout.nextFreeOffset)
            }
            total &+= count
            blocks &+= Int(count)
            bytes &+= count &* (bin &<< 4)
        }
        guard total == field(QuickBins.cachedOffset) else { return nil }
        return (blocks, bytes)
    }
}
