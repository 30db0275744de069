// Check: a full consistency walk of the TLSF heap, for tests and a debug
// command. O(heap blocks + free blocks); never writes. It cannot tell a
// corrupted payload from a valid one (payloads are the caller's), only
// headers, links, bitmaps and totals. Tests: Tests/HeapTests/HeapTests.swift.

extension Heap {
    /// Walks every block of every region and every free list; false on any
    /// inconsistency. A heap without regions is consistent.
    public func check() -> Bool {
        control == 0 ? true : Control(base: control).check()
    }
}

/// Totals gathered by the physical walk, compared with the running ones.
struct WalkTotals {
    var used: UInt = 0
    var live: UInt = 0
    var free: UInt = 0
    var freeBlocks = 0
    var cached: UInt = 0
    var cachedBlocks = 0
    var managed: UInt = 0
}

extension Control {
    func check() -> Bool {
        var walk = WalkTotals()
        guard regionCount >= 1, regionCount <= Control.maxRegions,
            regionFirst(0) == base &+ Control.size
        else { return false }
        for i in 0..<regionCount {
            guard checkRegion(i, &walk) else { return false }
        }
        guard walk.used == field(Control.usedOffset), walk.live == liveBlocks,
            walk.free &+ walk.cached == freeBytes, walk.managed == field(Control.managedOffset),
            field(Control.peakOffset) >= walk.used,
            let bins = checkQuickBins(), bins.blocks == walk.cachedBlocks, bins.bytes == walk.cached
        else { return false }
        return checkFreeLists(expectedBlocks: walk.freeBlocks, expectedBytes: walk.free)
    }

    /// Physical walk: back links, tags, no two adjacent free blocks,
    /// each free block filed in a non-empty class, sentinel at the end.
    func checkRegion(_ region: Int, _ walk: inout WalkTotals) -> Bool {
        let first = regionFirst(region)
        let sentinel = regionSentinel(region)
        guard first & 15 == 0, sentinel & 15 == 0, first < sentinel else { return false }
        var block = first
        var prev: UInt = 0
        var prevWasFree = false
        while true {
            let info = load(block &+ Layout.infoOffset)
            // Only one of the free and cached bits may be set among the flag bits.
            guard tagValid(block, info), load(block) == prev, info & 12 == 0, info & 3 != 3 else { return false }
            let size = info & Layout.sizeMask
            let isFree = info & Layout.free != 0
            let isCached = info & Layout.cached != 0
            if block == sentinel {
                guard size == 0, !isFree else { return false }
                break
            }
            guard size >= Layout.minBlock, size <= sentinel &- block else { return false }
            if isFree {
                guard !prevWasFree, !listIsEmpty(classIndex(size)) else { return false }
                walk.free &+= size
                walk.freeBlocks &+= 1
            } else if isCached {
                walk.cached &+= size
                walk.cachedBlocks &+= 1
            } else {
                walk.used &+= size &- Layout.header
                walk.live &+= 1
            }
            prev = block
            prevWasFree = isFree
            block &+= size
        }
        walk.managed &+= sentinel &+ Layout.header &- first
        return true
    }

    /// Every non-empty list: links are symmetric, members are free blocks of
    /// the list's class inside a region; the first-level bitmap agrees with
    /// the second-level ones; the lists hold exactly the free blocks the
    /// physical walk found.
    func checkFreeLists(expectedBlocks: Int, expectedBytes: UInt) -> Bool {
        let flMap = field(Control.flBitmapOffset)
        guard flMap &>> UInt(Layout.firstLevels) == 0 else { return false }
        var blocks = 0
        var bytes: UInt = 0
        for fl in 0..<Layout.firstLevels {
            let slMap = slBitmap(fl)
            guard slMap &>> 32 == 0, (slMap != 0) == (flMap & (1 &<< UInt(fl)) != 0)
            else { return false }
            for sl in 0..<32 where slMap & (1 &<< UInt(sl)) != 0 {
                let index = fl &<< 5 | sl
                var block = head(index)
                var prev: UInt = 0
                guard block != 0 else { return false }
                while block != 0 {
                    guard blocks < expectedBlocks, block & 15 == 0, regionIndex(block) >= 0
                    else { return false }
                    let info = load(block &+ Layout.infoOffset)
                    let size = info & Layout.sizeMask
                    guard tagValid(block, info), info & Layout.free != 0, classIndex(size) == index,
                        load(block &+ Layout.prevFreeOffset) == prev
                    else { return false }
                    blocks &+= 1
                    bytes &+= size
                    prev = block
                    block = load(block &+ Layout.nextFreeOffset)
                }
            }
        }
        return blocks == expectedBlocks && bytes == expectedBytes
    }
}
