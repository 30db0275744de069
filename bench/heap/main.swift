// Heap benchmark: TLSF heap (Sources/Heap) against glibc malloc/free in the
// same process. Hosted only. Prints `NAME VALUE UNIT` lines on stdout and a
// checksum on stderr (it keeps the optimiser from deleting the work).
//
// Build and run (what bench/heap/run.sh does, from the repo root):
//   mkdir -p build/bench
//   swiftc -O -wmo -parse-as-library -swift-version 5 -module-name Heap \
//     -emit-module -emit-module-path build/bench/Heap.swiftmodule \
//     -c Sources/Heap/*.swift -o build/bench/Heap.o
//   swiftc -O -parse-as-library -swift-version 5 -I build/bench \
//     bench/heap/main.swift build/bench/Heap.o -o build/bench/heap_bench
//   build/bench/heap_bench
// Heap is a separate module, so every allocate/free is a real call, as it is
// for the kernel (and as malloc/free are for glibc).
//
// Limits: timings are wall-clock medians on a shared machine; the pair
// workload is one synthetic pattern (ring of 64 live blocks, 16..512 bytes).
// glibc's speed here comes from its per-thread cache, which defers
// coalescing; the heap coalesces on every free and validates every pointer.
// run.sh therefore also reports glibc with that cache off.

import Glibc
import Heap

/// Monotonic clock in nanoseconds.
func nowNs() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
}

func median(_ xs: [Double]) -> Double {
    let s = xs.sorted()
    return s[s.count / 2]
}

/// `value` with two decimals, without Foundation.
func format(_ value: Double) -> String {
    let hundredths = Int((value * 100).rounded())
    let frac = hundredths % 100
    return "\(hundredths / 100).\(frac < 10 ? "0" : "")\(frac)"
}

func report(_ name: String, _ value: Double, _ unit: String) {
    print("\(name) \(format(value)) \(unit)")
}

var checksum: UInt = 0

// MARK: init

/// Median time of `Heap()` + `addRegion` over a fresh 1 GiB mapping.
func benchInit(runs: Int = 21) -> Double {
    let size = 1 << 30
    var times: [Double] = []
    for _ in 0..<runs {
        guard
            let region = mmap(
                nil, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0),
            region != MAP_FAILED
        else { fatalError("mmap failed") }
        let t0 = nowNs()
        var heap = Heap()
        let added = heap.addRegion(region, size: size)
        let t1 = nowNs()
        checksum &+= UInt(added) &+ UInt(heap.stats.largestFree)
        munmap(region, size)
        times.append(Double(t1 - t0) / 1000)
    }
    return median(times)
}

// MARK: pairs

let ringSize = 64
let steps = 5_000_000

/// The same size sequence for both allocators: 16...512 bytes.
struct SizeStream {
    var state: UInt64 = 0x9E37_79B9_7F4A_7C15
    @inline(__always) mutating func next() -> Int {
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        return 16 + Int(truncatingIfNeeded: state % 497)
    }
}

/// What the pair workload needs of an allocator; generic, so each use is
/// specialised and measures the allocator, not an indirection.
protocol PairAllocator {
    mutating func allocate(_ size: Int) -> UnsafeMutableRawPointer
    mutating func release(_ pointer: UnsafeMutableRawPointer)
}

struct TLSF: PairAllocator {
    var heap = Heap()
    init(region: UnsafeMutableRawPointer, size: Int) { heap.addRegion(region, size: size) }
    @inline(__always) mutating func allocate(_ size: Int) -> UnsafeMutableRawPointer {
        heap.allocate(size: size).unsafelyUnwrapped
    }
    @inline(__always) mutating func release(_ pointer: UnsafeMutableRawPointer) {
        do { try heap.free(pointer) } catch { fatalError("heap free failed: \(error)") }
    }
}

struct GlibcMalloc: PairAllocator {
    @inline(__always) mutating func allocate(_ size: Int) -> UnsafeMutableRawPointer { malloc(size).unsafelyUnwrapped }
    @inline(__always) mutating func release(_ pointer: UnsafeMutableRawPointer) { Glibc.free(pointer) }
}

/// ns per free+allocate pair: a ring of live blocks, each step frees the
/// oldest and allocates the next size of the shared sequence.
func pairs<A: PairAllocator>(_ allocator: inout A) -> Double {
    var sizes = SizeStream()
    let ring = UnsafeMutablePointer<UnsafeMutableRawPointer>.allocate(capacity: ringSize)
    defer { ring.deallocate() }
    for i in 0..<ringSize {
        let p = allocator.allocate(sizes.next())
        p.storeBytes(of: UInt8(truncatingIfNeeded: i), as: UInt8.self)
        ring[i] = p
    }
    var sum: UInt = 0
    let t0 = nowNs()
    var slot = 0
    for step in 0..<steps {
        let old = ring[slot]
        sum &+= UInt(old.load(as: UInt8.self))
        allocator.release(old)
        let p = allocator.allocate(sizes.next())
        p.storeBytes(of: UInt8(truncatingIfNeeded: step), as: UInt8.self)
        ring[slot] = p
        slot = slot == ringSize - 1 ? 0 : slot + 1
    }
    let t1 = nowNs()
    for i in 0..<ringSize { allocator.release(ring[i]) }
    checksum &+= sum
    return Double(t1 - t0) / Double(steps)
}

@main
struct HeapBench {
    static func main() {
        report("heap_init_1gib_us", benchInit(), "us")

        let regionSize = 64 << 20
        let region = UnsafeMutableRawPointer.allocate(byteCount: regionSize, alignment: 4096)
        memset(region, 0, regionSize)  // fault the pages in before timing
        var heapRuns: [Double] = []
        var glibcRuns: [Double] = []
        for _ in 0..<9 {
            var tlsf = TLSF(region: region, size: regionSize)
            heapRuns.append(pairs(&tlsf))
            guard tlsf.heap.check(), tlsf.heap.stats.allocations == 0 else { fatalError("heap inconsistent") }
            var glibc = GlibcMalloc()
            glibcRuns.append(pairs(&glibc))
        }
        region.deallocate()
        let heapNs = median(heapRuns)
        let glibcNs = median(glibcRuns)
        report("heap_pair_ns", heapNs, "ns")
        report("glibc_pair_ns", glibcNs, "ns")
        report("heap_pair_vs_glibc", heapNs / glibcNs, "ratio")
        fputs("checksum \(checksum)\n", stderr)
    }
}
