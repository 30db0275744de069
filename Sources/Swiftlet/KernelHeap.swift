// The kernel heap: one TLSF heap over the regions the platform hands out, and
// (in images) the C allocation entry points the Embedded Swift runtime calls.
//
// The heap is filled on first use, pulling regions from the platform, so a
// platform can force it early (pc does, to time it) or leave it lazy (hosted).
// Memory is committed on demand: of each region, the heap first gets only the
// part up to the next 2 MiB boundary; the rest waits in a reserve and joins in
// 2 MiB-aligned steps when an allocation would fail. So boot writes no page
// the loader has not touched (under QEMU a first touch of a 2 MiB range can
// cost milliseconds of host huge-page allocation), and a guest's host memory
// grows with what it uses.
// Misuse (double free, foreign pointer) is a panic: never silent corruption.

import Heap

public enum KernelHeap {
    nonisolated(unsafe) static var heap = Heap()
    nonisolated(unsafe) static var ready = false
    /// Memory not yet given to the heap: [start, end) pairs, in fixed storage
    /// (the heap cannot allocate its own bookkeeping).
    nonisolated(unsafe) static var reserve: (UInt, UInt, UInt, UInt, UInt, UInt, UInt, UInt) = (0, 0, 0, 0, 0, 0, 0, 0)
    static let reserveSlots = 4
    static let step: UInt = 2 << 20

    /// Pulls every region from the platform. Idempotent.
    public static func initialize() {
        if ready { return }
        ready = true
        var index = 0
        var start: UnsafeMutableRawPointer? = nil
        var size = 0
        while platformHeapRegion(index, &start, &size) {
            if let start { add(UInt(bitPattern: start), size: UInt(size)) }
            index += 1
        }
    }

    /// Gives the heap the region's head up to a 2 MiB boundary and reserves
    /// the rest (all of it when the reserve is full).
    static func add(_ start: UInt, size: UInt) {
        let end = start &+ size
        let boundary = (start &+ step) & ~(step &- 1)
        if boundary < end, let slot = freeReserveSlot() {
            setReserve(slot, start: boundary, end: end)
            heap.addRegion(UnsafeMutableRawPointer(bitPattern: start)!, size: Int(boundary &- start))
        } else {
            heap.addRegion(UnsafeMutableRawPointer(bitPattern: start)!, size: Int(size))
        }
    }

    /// Moves the next 2 MiB-aligned part big enough for `size` bytes from the
    /// reserve into the heap; false when the reserve is empty.
    static func grow(for size: Int) -> Bool {
        for slot in 0..<reserveSlots {
            let (start, end) = reserved(slot)
            guard start < end else { continue }
            let want = (UInt(size) &+ 2 &* UInt(Heap.maxAlignment) &+ step &- 1) & ~(step &- 1)
            let cut = end &- start <= want ? end : start &+ want
            setReserve(slot, start: cut, end: end)
            heap.addRegion(UnsafeMutableRawPointer(bitPattern: start)!, size: Int(cut &- start))
            return true
        }
        return false
    }

    /// Bytes still in the reserve.
    public static var reservedBytes: Int {
        var total: UInt = 0
        for slot in 0..<reserveSlots {
            let (start, end) = reserved(slot)
            total &+= end &- start
        }
        return Int(total)
    }

    static func reserved(_ slot: Int) -> (UInt, UInt) {
        withUnsafeBytes(of: &reserve) { ($0.load(fromByteOffset: slot * 16, as: UInt.self),
                                          $0.load(fromByteOffset: slot * 16 + 8, as: UInt.self)) }
    }

    static func setReserve(_ slot: Int, start: UInt, end: UInt) {
        withUnsafeMutableBytes(of: &reserve) {
            $0.storeBytes(of: start, toByteOffset: slot * 16, as: UInt.self)
            $0.storeBytes(of: end, toByteOffset: slot * 16 + 8, as: UInt.self)
        }
    }

    static func freeReserveSlot() -> Int? {
        for slot in 0..<reserveSlots where reserved(slot).0 >= reserved(slot).1 { return slot }
        return nil
    }

    public static var stats: HeapStats {
        initialize()
        return heap.stats
    }

    @inline(__always)
    public static func allocate(size: Int, alignment: Int) -> UnsafeMutableRawPointer? {
        if !ready { initialize() }
        if let p = heap.allocate(size: size, alignment: alignment) { return p }
        return allocateGrowing(size: size, alignment: alignment)
    }

    @inline(never)
    static func allocateGrowing(size: Int, alignment: Int) -> UnsafeMutableRawPointer? {
        // A request no growth can satisfy commits nothing.
        guard size <= reservedBytes &+ heap.stats.largestFree else { return nil }
        while grow(for: size) {
            if let p = heap.allocate(size: size, alignment: alignment) { return p }
        }
        return nil
    }

    public static func free(_ pointer: UnsafeMutableRawPointer) {
        do {
            try heap.free(pointer)
        } catch {
            report(error)
        }
    }

    public static func reallocate(_ pointer: UnsafeMutableRawPointer, size: Int) -> UnsafeMutableRawPointer? {
        do {
            while true {
                if let p = try heap.reallocate(pointer, size: size) { return p }
                if !grow(for: size) { return nil }
            }
        } catch {
            report(error)
        }
    }

    static func report(_ error: HeapError) -> Never {
        var console = ConsoleBuffer()
        switch error {
        case .doubleFree(let address):
            console.write("\nheap: double free of ")
            console.writeHex(UInt64(address))
        case .foreignPointer(let address):
            console.write("\nheap: free of a pointer the heap never handed out: ")
            console.writeHex(UInt64(address))
        case .corrupted(let address):
            console.write("\nheap: corrupted block header at ")
            console.writeHex(UInt64(address))
        }
        console.write("\n")
        Kernel.panic("heap misuse")
    }
}

// The C allocation entry points of the images (posix_memalign, malloc, free...)
// live in Sources/Runtime/alloc.c: Swift may not define runtime-reserved names.
// These are what they call.

@_cdecl("swiftlet_heap_allocate")
public func swiftletHeapAllocate(_ size: Int, _ alignment: Int) -> UnsafeMutableRawPointer? {
    KernelHeap.allocate(size: max(size, 1), alignment: max(alignment, 16))
}

@_cdecl("swiftlet_heap_reallocate")
public func swiftletHeapReallocate(_ pointer: UnsafeMutableRawPointer, _ size: Int) -> UnsafeMutableRawPointer? {
    KernelHeap.reallocate(pointer, size: max(size, 1))
}

@_cdecl("swiftlet_heap_free")
public func swiftletHeapFree(_ pointer: UnsafeMutableRawPointer) {
    KernelHeap.free(pointer)
}
