// HeapTests: deterministic tests of the TLSF heap in Sources/Heap, against
// a model of live blocks (bounds, alignment, overlap, contents, stats),
// plus coalescing, exhaustion, detection of bad frees and multiple regions.
// Randomness comes from a seeded splitmix64, so failures replay exactly.

import Heap
import TestSupport
import XCTest

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

extension SplitMix64 {
    /// 1 ... 2^maxLog, log-distributed: a random octave, then uniform in it.
    mutating func logSize(maxLog: Int) -> Int {
        let low = 1 << below(maxLog)
        return low + below(low + 1)
    }
}

/// Raw memory for a test heap, freed when the test ends.
final class Arena {
    let base: UnsafeMutableRawPointer
    let size: Int
    init(_ size: Int) {
        self.size = size
        base = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 4096)
    }
    deinit { base.deallocate() }
    func contains(_ p: UnsafeMutableRawPointer, _ n: Int) -> Bool {
        p >= base && p + n <= base + size
    }
}

struct LiveBlock {
    var pointer: UnsafeMutableRawPointer
    var size: Int
    var usable: Int
    var alignment: Int
    var pattern: UInt8
}

/// Live blocks kept sorted by address, so overlap is a neighbour check.
struct Model {
    var blocks: [LiveBlock] = []
    var usableSum = 0

    func index(of p: UnsafeMutableRawPointer) -> Int {
        var lo = 0
        var hi = blocks.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if blocks[mid].pointer < p { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    /// Inserts, failing if the block or its 16-byte header overlaps another.
    mutating func insert(_ b: LiveBlock, file: StaticString = #filePath, line: UInt = #line) {
        let i = index(of: b.pointer)
        if i > 0 {
            let prev = blocks[i - 1]
            XCTAssertLessThanOrEqual(prev.pointer + prev.usable, b.pointer - 16, "overlap", file: file, line: line)
        }
        if i < blocks.count {
            XCTAssertLessThanOrEqual(b.pointer + b.usable, blocks[i].pointer - 16, "overlap", file: file, line: line)
        }
        blocks.insert(b, at: i)
        usableSum += b.usable
    }

    mutating func remove(at i: Int) -> LiveBlock {
        let b = blocks.remove(at: i)
        usableSum -= b.usable
        return b
    }
}

func fill(_ b: LiveBlock) {
    memset(b.pointer, Int32(b.pattern), b.size)
}

/// Reference bytes for `intact`: memcmp keeps debug-build tests fast.
let reference = UnsafeMutableRawPointer.allocate(byteCount: 1 << 17, alignment: 16)

/// Whether the first `count` bytes of `p` all equal `pattern`.
func intact(_ p: UnsafeMutableRawPointer, _ count: Int, _ pattern: UInt8) -> Bool {
    precondition(count <= 1 << 17)
    memset(reference, Int32(pattern), count)
    return memcmp(p, reference, count) == 0
}

final class HeapTests: XCTestCase {

    // MARK: randomised against a model

    func testRandomisedAgainstModel() throws {
        // Small enough that the mix sometimes runs out, exercising failure paths.
        let arenaA = Arena(6 << 20)
        let arenaB = Arena(2 << 20)
        var heap = Heap()
        heap.addRegion(arenaA.base, size: arenaA.size)
        heap.addRegion(arenaB.base, size: arenaB.size)
        XCTAssertEqual(heap.regions, 2)
        let initial = heap.stats
        var rng = SplitMix64(state: 0x5EED)
        var model = Model()
        var failures = 0
        var allocs = 0
        var reallocs = 0

        func inArena(_ b: LiveBlock) -> Bool {
            arenaA.contains(b.pointer - 16, b.usable + 16) || arenaB.contains(b.pointer - 16, b.usable + 16)
        }

        for step in 0..<200_000 {
            let roll = rng.below(100)
            let wantAlloc = model.blocks.count < 40 || (model.blocks.count < 1000 && roll < 45)
            if wantAlloc {
                let size = rng.logSize(maxLog: 16)
                let alignment = 1 << rng.below(13)
                guard let p = heap.allocate(size: size, alignment: alignment) else {
                    failures += 1
                    continue
                }
                let usable = try heap.usableSize(p)
                XCTAssertGreaterThanOrEqual(usable, size)
                XCTAssertEqual(Int(bitPattern: p) % alignment, 0)
                let b = LiveBlock(
                    pointer: p, size: size, usable: usable, alignment: alignment,
                    pattern: UInt8(truncatingIfNeeded: rng.next() | 1))
                XCTAssertTrue(inArena(b))
                fill(b)
                model.insert(b)
                allocs += 1
            } else if roll < 80 {
                let b = model.remove(at: rng.below(model.blocks.count))
                XCTAssertTrue(intact(b.pointer, b.size, b.pattern), "contents at free, step \(step)")
                try heap.free(b.pointer)
            } else {
                let i = rng.below(model.blocks.count)
                let old = model.remove(at: i)
                XCTAssertTrue(intact(old.pointer, old.size, old.pattern), "contents at realloc")
                let newSize = rng.logSize(maxLog: 16)
                reallocs += 1
                if let q = try heap.reallocate(old.pointer, size: newSize) {
                    XCTAssertTrue(intact(q, min(old.size, newSize), old.pattern), "realloc prefix, step \(step)")
                    let moved = q != old.pointer
                    let b = LiveBlock(
                        pointer: q, size: newSize, usable: try heap.usableSize(q),
                        alignment: moved ? min(old.alignment, 16) : old.alignment, pattern: old.pattern)
                    XCTAssertGreaterThanOrEqual(b.usable, newSize)
                    XCTAssertEqual(Int(bitPattern: q) % b.alignment, 0)
                    XCTAssertTrue(inArena(b))
                    fill(b)
                    model.insert(b)
                } else {
                    failures += 1
                    model.insert(old)  // untouched on failure
                    XCTAssertTrue(intact(old.pointer, old.size, old.pattern))
                }
            }
            let s = heap.stats
            XCTAssertEqual(s.inUse, model.usableSum)
            XCTAssertEqual(s.allocations, model.blocks.count)
            if step % 997 == 0 { XCTAssertTrue(heap.check(), "check at step \(step)") }
        }
        XCTAssertGreaterThan(allocs, 50_000)
        XCTAssertGreaterThan(reallocs, 20_000)
        XCTAssertGreaterThan(failures, 0, "the mix should hit exhaustion sometimes")
        XCTAssertLessThan(failures, 20_000)
        XCTAssertGreaterThan(heap.stats.peakInUse, 0)

        while !model.blocks.isEmpty {
            let b = model.remove(at: rng.below(model.blocks.count))
            XCTAssertTrue(intact(b.pointer, b.size, b.pattern))
            try heap.free(b.pointer)
        }
        let end = heap.stats
        XCTAssertTrue(heap.check())
        XCTAssertEqual(end.inUse, 0)
        XCTAssertEqual(end.allocations, 0)
        XCTAssertEqual(end.freeBytes, initial.freeBytes)
        XCTAssertEqual(end.largestFree, initial.largestFree)
        XCTAssertEqual(heap.freeBlockCount(), heap.regions, "one free block per region")
    }

    // MARK: alignment

    func testEveryAlignment() throws {
        let arena = Arena(4 << 20)
        var heap = Heap()
        heap.addRegion(arena.base + 16, size: arena.size - 16)  // start off page alignment
        var pointers: [UnsafeMutableRawPointer] = []
        var alignment = 1
        while alignment <= Heap.maxAlignment {
            for size in [1, 15, 16, 17, 100, 4096, 5000] {
                let p = try XCTUnwrap(heap.allocate(size: size, alignment: alignment), "align \(alignment)")
                XCTAssertEqual(Int(bitPattern: p) % max(alignment, 16), 0)
                XCTAssertGreaterThanOrEqual(try heap.usableSize(p), size)
                memset(p, 0xA5, size)
                pointers.append(p)
            }
            XCTAssertTrue(heap.check())
            alignment *= 2
        }
        for bad in [0, 3, 6, 24, 48, 8192, -16, Int.min] {
            XCTAssertNil(heap.allocate(size: 64, alignment: bad), "alignment \(bad)")
        }
        for p in pointers { try heap.free(p) }
        XCTAssertTrue(heap.check())
        XCTAssertEqual(heap.freeBlockCount(), 1)
        XCTAssertEqual(heap.stats.inUse, 0)
    }

    // MARK: coalescing

    func testCoalescingInEveryOrder() throws {
        let arena = Arena(1 << 20)
        var heap = Heap()
        heap.addRegion(arena.base, size: arena.size)
        let whole = heap.stats.largestFree
        XCTAssertEqual(whole, arena.size - Heap.controlBytes - 32)  // one header + the sentinel

        func allocateMany() -> [UnsafeMutableRawPointer] {
            var rng = SplitMix64(state: 42)
            var ps: [UnsafeMutableRawPointer] = []
            for _ in 0..<300 { ps.append(heap.allocate(size: 1 + rng.below(700))!) }
            return ps
        }
        var orders: [[Int]] = []
        orders.append(Array(0..<300))
        orders.append(Array((0..<300).reversed()))
        orders.append(Array(stride(from: 0, to: 300, by: 2)) + Array(stride(from: 1, to: 300, by: 2)))
        orders.append(Array(stride(from: 1, to: 300, by: 3)) + Array(stride(from: 0, to: 300, by: 3))
                + Array(stride(from: 2, to: 300, by: 3)))
        var rng = SplitMix64(state: 7)
        var shuffled = Array(0..<300)
        for i in stride(from: 299, to: 0, by: -1) { shuffled.swapAt(i, rng.below(i + 1)) }
        orders.append(shuffled)

        for order in orders {
            let ps = allocateMany()
            for (n, i) in order.enumerated() {
                try heap.free(ps[i])
                if n % 50 == 0 { XCTAssertTrue(heap.check()) }
            }
            XCTAssertTrue(heap.check())
            XCTAssertEqual(heap.stats.largestFree, whole)
            XCTAssertEqual(heap.freeBlockCount(), 1)
        }
    }

    // MARK: exhaustion

    func testExhaustionAndRecovery() throws {
        let arena = Arena(256 << 10)
        var heap = Heap()
        heap.addRegion(arena.base, size: arena.size)
        let initial = heap.stats
        for size in [1, 48, 1000, 40_000] {
            var ps: [UnsafeMutableRawPointer] = []
            while let p = heap.allocate(size: size) {
                memset(p, 0x5A, size)
                ps.append(p)
            }
            XCTAssertFalse(ps.isEmpty)
            XCTAssertTrue(heap.check())
            XCTAssertLessThan(heap.stats.largestFree, size + size / 16 + 32)
            let count = ps.count
            for p in ps { try heap.free(p) }
            XCTAssertEqual(heap.stats.freeBytes, initial.freeBytes)
            XCTAssertEqual(heap.stats.largestFree, initial.largestFree)
            ps.removeAll()
            while let p = heap.allocate(size: size) { ps.append(p) }
            XCTAssertEqual(ps.count, count, "same capacity after recovery")
            for p in ps.reversed() { try heap.free(p) }
        }
        // Whole-heap sized requests: the largest free block is allocatable.
        let big = try XCTUnwrap(heap.allocate(size: initial.largestFree))
        XCTAssertNil(heap.allocate(size: 1))
        try heap.free(big)
        XCTAssertNil(heap.allocate(size: initial.largestFree + 1))
        XCTAssertTrue(heap.check())
    }

    func testAbsurdSizesReturnNil() throws {
        let arena = Arena(1 << 20)
        var heap = Heap()
        heap.addRegion(arena.base, size: arena.size)
        for size in [0, -1, Int.min, Int.max, Int.max - 15, Int.max - 4096, 1 << 62, 1 << 40,
            Heap.maxRequest, Heap.maxRequest + 1, arena.size]
        {
            XCTAssertNil(heap.allocate(size: size), "size \(size)")
            XCTAssertNil(heap.allocate(size: size, alignment: 4096), "size \(size)")
        }
        let p = try XCTUnwrap(heap.allocate(size: 100))
        memset(p, 0x11, 100)
        for size in [Int.max, Int.max - 15, 1 << 62, -1, arena.size] {
            XCTAssertNil(try heap.reallocate(p, size: size))
            XCTAssertTrue(intact(p, 100, 0x11))
        }
        XCTAssertTrue(heap.check())
        try heap.free(p)
        var empty = Heap()
        XCTAssertNil(empty.allocate(size: 16))
        XCTAssertTrue(empty.check())
    }

    // MARK: detection

    func testDoubleFreeDetected() throws {
        let arena = Arena(1 << 20)
        var heap = Heap()
        heap.addRegion(arena.base, size: arena.size)
        let a = heap.allocate(size: 64)!
        let b = heap.allocate(size: 64)!
        let c = heap.allocate(size: 64)!
        let d = heap.allocate(size: 64)!

        try heap.free(b)  // plain free
        XCTAssertThrowsError(try heap.free(b)) { XCTAssertEqual($0 as? HeapError, .doubleFree(UInt(bitPattern: b))) }
        try heap.free(c)  // merged into b's free block
        XCTAssertThrowsError(try heap.free(c)) { XCTAssertEqual($0 as? HeapError, .doubleFree(UInt(bitPattern: c))) }
        XCTAssertThrowsError(try heap.free(b)) { XCTAssertEqual($0 as? HeapError, .doubleFree(UInt(bitPattern: b))) }
        try heap.free(a)  // merges with the next free block
        XCTAssertThrowsError(try heap.free(a)) { XCTAssertEqual($0 as? HeapError, .doubleFree(UInt(bitPattern: a))) }
        XCTAssertThrowsError(try heap.usableSize(a))
        XCTAssertThrowsError(try heap.reallocate(a, size: 10))
        XCTAssertTrue(heap.check())
        try heap.free(d)
        XCTAssertThrowsError(try heap.free(d))
        XCTAssertTrue(heap.check())
        XCTAssertEqual(heap.freeBlockCount(), 1)

        // Still fully usable.
        let e = try XCTUnwrap(heap.allocate(size: 5000))
        try heap.free(e)
        XCTAssertEqual(heap.stats.allocations, 0)
        XCTAssertTrue(heap.check())
    }

    func testForeignPointersDetected() throws {
        let arena = Arena(1 << 20)
        var heap = Heap()
        let added = heap.addRegion(arena.base, size: arena.size)
        XCTAssertEqual(added, arena.size - Heap.controlBytes)
        let a = heap.allocate(size: 256)!
        let b = heap.allocate(size: 256)!
        memset(a, 0, 256)
        memset(b, 0xFF, 256)

        func expectForeign(_ p: UnsafeMutableRawPointer, _ why: String) {
            XCTAssertThrowsError(try heap.free(p), why) { error in
                switch error as? HeapError {
                case .foreignPointer?, .corrupted?: break
                default: XCTFail("\(why): \(error)")
                }
            }
            XCTAssertThrowsError(try heap.usableSize(p), why)
            XCTAssertThrowsError(try heap.reallocate(p, size: 8), why)
            XCTAssertTrue(heap.check(), why)
        }

        var local: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        withUnsafeMutableBytes(of: &local) { expectForeign($0.baseAddress! + 16, "stack") }
        expectForeign(a + 16, "middle of a zeroed block")
        expectForeign(a + 128, "middle of a zeroed block")
        expectForeign(b + 32, "middle of a 0xFF block")
        expectForeign(a + 8, "misaligned")
        expectForeign(a + 1, "misaligned")
        expectForeign(arena.base + arena.size, "just past the region")
        expectForeign(arena.base + arena.size + 16, "past the region")
        expectForeign(arena.base, "region start (control block)")
        expectForeign(arena.base + 256, "inside the control block")
        expectForeign(arena.base + Heap.controlBytes, "first block header")
        expectForeign(arena.base - 4096, "before the region")

        // A copy of a real header elsewhere is rejected: tags are keyed by address.
        (a + 64 - 16).copyMemory(from: b - 16, byteCount: 16)
        expectForeign(a + 64, "copied header")

        // Everything still works.
        XCTAssertEqual(try heap.usableSize(a), 256)
        try heap.free(a)
        try heap.free(b)
        XCTAssertTrue(heap.check())
        XCTAssertEqual(heap.stats.largestFree, arena.size - Heap.controlBytes - 32)
    }

    func testHeaderOverflowIsReported() throws {
        let arena = Arena(64 << 10)
        var heap = Heap()
        heap.addRegion(arena.base, size: arena.size)
        // Blocks too big for the quick bins: every free checks both neighbours.
        let a = heap.allocate(size: 1024)!
        let b = heap.allocate(size: 1024)!
        let usable = try heap.usableSize(a)
        memset(a, 0x41, usable + 12)  // a classic overflow into b's header
        XCTAssertThrowsError(try heap.free(b)) { XCTAssertEqual($0 as? HeapError, .foreignPointer(UInt(bitPattern: b))) }
        XCTAssertThrowsError(try heap.free(a)) { XCTAssertEqual($0 as? HeapError, .corrupted(UInt(bitPattern: a))) }
        XCTAssertFalse(heap.check())
    }

    func testHeaderOverflowBehindACachedBlockIsCaughtWhenItLeavesTheCache() throws {
        let arena = Arena(64 << 10)
        var heap = Heap()
        heap.addRegion(arena.base, size: arena.size)
        let a = heap.allocate(size: 64)!
        let b = heap.allocate(size: 64)!
        memset(a, 0x41, try heap.usableSize(a) + 12)
        XCTAssertThrowsError(try heap.free(b)) { XCTAssertEqual($0 as? HeapError, .foreignPointer(UInt(bitPattern: b))) }
        try heap.free(a)  // a's own header is intact: cached, its neighbour checked later
        XCTAssertFalse(heap.check())
        let free = heap.stats.freeBytes  // flushes: a is kept out of the lists, not merged
        XCTAssertFalse(heap.check(), "the damaged neighbourhood stays reported")
        XCTAssertEqual(heap.stats.freeBytes, free)
        XCTAssertNotNil(heap.allocate(size: 64), "the rest of the heap keeps working")
    }

    func testNeighbourMismatchIsReported() throws {
        let arena = Arena(64 << 10)
        var heap = Heap()
        heap.addRegion(arena.base, size: arena.size)
        let a = heap.allocate(size: 1024)!
        let b = heap.allocate(size: 1024)!
        let c = heap.allocate(size: 1024)!
        // c's back link now names a real block that does not end at c.
        (c - 16).storeBytes(of: UInt(bitPattern: a - 16), as: UInt.self)
        XCTAssertThrowsError(try heap.free(c)) { XCTAssertEqual($0 as? HeapError, .corrupted(UInt(bitPattern: c))) }
        XCTAssertThrowsError(try heap.free(b)) { XCTAssertEqual($0 as? HeapError, .corrupted(UInt(bitPattern: b))) }
        XCTAssertFalse(heap.check())
        // Repairing the link makes the heap whole again.
        (c - 16).storeBytes(of: UInt(bitPattern: b - 16), as: UInt.self)
        XCTAssertTrue(heap.check())
        for p in [b, a, c] { try heap.free(p) }
        XCTAssertEqual(heap.freeBlockCount(), 1)
    }

    func testQuickBinsReuseSameSizeAndFlushOnExhaustion() throws {
        let arena = Arena(64 << 10)
        var heap = Heap()
        heap.addRegion(arena.base, size: arena.size)
        let p = heap.allocate(size: 100)!
        try heap.free(p)
        XCTAssertEqual(heap.allocate(size: 100), p, "a same-size allocation reuses the cached block")
        try heap.free(p)
        XCTAssertThrowsError(try heap.free(p)) { XCTAssertEqual($0 as? HeapError, .doubleFree(UInt(bitPattern: p))) }
        XCTAssertThrowsError(try heap.reallocate(p, size: 10))
        XCTAssertTrue(heap.check())
        // Fill the heap with small blocks, free them all (most land in bins),
        // then one allocation of nearly everything must still succeed.
        var blocks: [UnsafeMutableRawPointer] = []
        while let q = heap.allocate(size: 48) { blocks.append(q) }
        for q in blocks { try heap.free(q) }
        XCTAssertTrue(heap.check())
        let whole = Heap.maxRequest < arena.size ? 0 : arena.size - Heap.controlBytes - 64
        XCTAssertNotNil(heap.allocate(size: whole), "flushing the bins coalesced the region")
    }

    func testHeapWithoutRegions() throws {
        var heap = Heap()
        var local = (UInt64(0), UInt64(0), UInt64(0), UInt64(0))
        try withUnsafeMutableBytes(of: &local) { raw in
            let p = raw.baseAddress! + 16
            XCTAssertThrowsError(try heap.free(p))
            XCTAssertThrowsError(try heap.usableSize(p))
            XCTAssertThrowsError(try heap.reallocate(p, size: 8))
        }
        XCTAssertNil(heap.allocate(size: 1))
        XCTAssertEqual(heap.stats.totalBytes, 0)
        XCTAssertEqual(heap.freeBlockCount(), 0)
        XCTAssertTrue(heap.check())
    }

    // MARK: regions

    func testMultipleRegionsAndTinyRegions() throws {
        let arena = Arena(1 << 20)
        var heap = Heap()
        // Three non-contiguous regions carved out of one arena, with holes.
        // The first region also holds the control block in front of its blocks.
        let r1 = arena.base + Heap.controlBytes
        let r2 = arena.base + (300 << 10)
        let r3 = arena.base + (700 << 10) + 8  // misaligned start
        XCTAssertEqual(heap.addRegion(arena.base, size: (200 << 10) + Heap.controlBytes), 200 << 10)
        XCTAssertEqual(heap.addRegion(r2, size: 100 << 10), 100 << 10)
        XCTAssertEqual(heap.addRegion(r3, size: 200 << 10), (200 << 10) - 16)
        // Too small, empty, overlapping: ignored.
        XCTAssertEqual(heap.addRegion(arena.base + (900 << 10), size: 0), 0)
        XCTAssertEqual(heap.addRegion(arena.base + (900 << 10), size: 47), 0)
        XCTAssertEqual(heap.addRegion(arena.base + (900 << 10) + 1, size: 48), 0)
        XCTAssertEqual(heap.addRegion(r2 + 4096, size: 8192), 0)
        XCTAssertEqual(heap.addRegion(r1 - 4096, size: 8192), 0)
        XCTAssertEqual(heap.regions, 3)
        XCTAssertEqual(heap.stats.totalBytes, (500 << 10) - 16)
        XCTAssertTrue(heap.check())

        func regionOf(_ p: UnsafeMutableRawPointer, _ n: Int) -> Int? {
            if p - 16 >= r1 && p + n <= r1 + (200 << 10) { return 1 }
            if p - 16 >= r2 && p + n <= r2 + (100 << 10) { return 2 }
            if p - 16 >= r3 && p + n <= r3 + (200 << 10) { return 3 }
            return nil
        }
        var used: Set<Int> = []
        var ps: [UnsafeMutableRawPointer] = []
        while let p = heap.allocate(size: 3000) {
            let r = try XCTUnwrap(regionOf(p, 3000))
            used.insert(r)
            ps.append(p)
        }
        XCTAssertEqual(used, [1, 2, 3])
        XCTAssertTrue(heap.check())
        for p in ps { try heap.free(p) }
        XCTAssertEqual(heap.freeBlockCount(), 3)
        XCTAssertEqual(heap.stats.largestFree, (200 << 10) - 32)

        // A region that starts where another ends is merged into it.
        let r4 = r2 + (100 << 10)
        XCTAssertEqual(heap.addRegion(r4, size: 50 << 10), 50 << 10)
        XCTAssertEqual(heap.regions, 3)
        XCTAssertEqual(heap.freeBlockCount(), 3)
        XCTAssertTrue(heap.check())
        // r1 and r3 are taken whole first, so only the merged r2 can hold this.
        let w1 = try XCTUnwrap(heap.allocate(size: (200 << 10) - 48))
        let w3 = try XCTUnwrap(heap.allocate(size: (200 << 10) - 48))
        XCTAssertEqual(Set([regionOf(w1, 16), regionOf(w3, 16)]), [1, 3])
        let big = try XCTUnwrap(heap.allocate(size: (150 << 10) - 32))
        XCTAssertTrue(big - 16 >= r2 && big + (150 << 10) - 32 <= r4 + (50 << 10))
        for p in [big, w1, w3] { try heap.free(p) }
        XCTAssertTrue(heap.check())
    }

    func testRegionLimit() throws {
        let arena = Arena((Heap.maxRegions + 8) * 8192)
        var heap = Heap()
        XCTAssertEqual(heap.addRegion(arena.base, size: 4096), 0, "too small for the control block")
        XCTAssertEqual(heap.regions, 0)
        XCTAssertNil(heap.allocate(size: 16))
        XCTAssertEqual(heap.addRegion(arena.base, size: 32768), 32768 - Heap.controlBytes)
        for i in 1..<(Heap.maxRegions + 4) {
            let added = heap.addRegion(arena.base + (i + 4) * 8192, size: 4096)
            XCTAssertEqual(added, i < Heap.maxRegions ? 4096 : 0)
        }
        XCTAssertEqual(heap.regions, Heap.maxRegions)
        XCTAssertTrue(heap.check())
    }

    // MARK: reallocate

    func testReallocateInPlaceAndMoving() throws {
        let arena = Arena(1 << 20)
        var heap = Heap()
        heap.addRegion(arena.base, size: arena.size)
        let a = heap.allocate(size: 100)!
        memset(a, 0x33, 100)
        // Grows in place into the free remainder after it.
        let a2 = try XCTUnwrap(try heap.reallocate(a, size: 3000))
        XCTAssertEqual(a2, a)
        XCTAssertTrue(intact(a2, 100, 0x33))
        memset(a2, 0x34, 3000)
        // Shrinks in place.
        let a3 = try XCTUnwrap(try heap.reallocate(a2, size: 40))
        XCTAssertEqual(a3, a)
        XCTAssertEqual(try heap.usableSize(a3), 48)
        XCTAssertTrue(intact(a3, 40, 0x34))
        // Blocked by a neighbour: moves, prefix kept, old block freed.
        let b = heap.allocate(size: 16)!
        let a4 = try XCTUnwrap(try heap.reallocate(a3, size: 500))
        XCTAssertNotEqual(a4, a3)
        XCTAssertTrue(intact(a4, 40, 0x34))
        XCTAssertThrowsError(try heap.free(a3))
        XCTAssertEqual(heap.stats.allocations, 2)
        // Size 0 keeps a minimal block.
        let a5 = try XCTUnwrap(try heap.reallocate(a4, size: 0))
        XCTAssertEqual(try heap.usableSize(a5), 16)
        try heap.free(a5)
        try heap.free(b)
        XCTAssertTrue(heap.check())
        XCTAssertEqual(heap.freeBlockCount(), 1)
    }

    // MARK: stats

    func testStats() throws {
        let arena = Arena(1 << 20)
        var heap = Heap()
        XCTAssertEqual(heap.stats.totalBytes, 0)
        XCTAssertEqual(heap.stats.largestFree, 0)
        heap.addRegion(arena.base, size: arena.size)
        let s0 = heap.stats
        let managed = arena.size - Heap.controlBytes
        XCTAssertEqual(s0.totalBytes, managed)
        XCTAssertEqual(s0.freeBytes, managed - 16)
        XCTAssertEqual(s0.largestFree, managed - 32)
        let a = heap.allocate(size: 1000)!
        let b = heap.allocate(size: 3000)!
        let s1 = heap.stats
        XCTAssertEqual(s1.inUse, try heap.usableSize(a) + heap.usableSize(b))
        XCTAssertEqual(s1.allocations, 2)
        XCTAssertEqual(s1.freeBytes + s1.inUse + 16 * 2, s0.freeBytes)
        try heap.free(a)
        XCTAssertEqual(heap.stats.peakInUse, s1.inUse)
        try heap.free(b)
        XCTAssertEqual(heap.stats.inUse, 0)
        XCTAssertEqual(heap.stats.peakInUse, s1.inUse)
    }

    func testSecretKeysTheTags() throws {
        let arena = Arena(64 << 10)
        var h1 = Heap(secret: 1)
        h1.addRegion(arena.base, size: arena.size)
        let p1 = try XCTUnwrap(h1.allocate(size: 64))
        let info1 = (p1 - 8).load(as: UInt64.self)
        try h1.free(p1)
        XCTAssertTrue(h1.check())
        // The same block in a heap with another secret gets another tag.
        var h2 = Heap(secret: 2)
        h2.addRegion(arena.base, size: arena.size)
        let p2 = try XCTUnwrap(h2.allocate(size: 64))
        XCTAssertEqual(p1, p2)
        let info2 = (p2 - 8).load(as: UInt64.self)
        XCTAssertEqual(info1 & 0xFF_FFFF_FFFF, info2 & 0xFF_FFFF_FFFF)
        XCTAssertNotEqual(info1, info2)
        try h2.free(p2)
        XCTAssertTrue(h2.check())
    }
}
