// The kernel heap: one TLSF heap over the regions the platform hands out, and
// (in images) the C allocation entry points the Embedded Swift runtime calls.
//
// The heap is filled on first use, pulling regions from the platform, so a
// platform can force it early (pc does, to time it) or leave it lazy (hosted).
// Misuse (double free, foreign pointer) is a panic: never silent corruption.

import Heap

public enum KernelHeap {
    nonisolated(unsafe) static var heap = Heap()
    nonisolated(unsafe) static var ready = false

    /// Pulls every region from the platform. Idempotent.
    public static func initialize() {
        if ready { return }
        ready = true
        var index = 0
        var start: UnsafeMutableRawPointer? = nil
        var size = 0
        while platformHeapRegion(index, &start, &size) {
            if let start { heap.addRegion(start, size: size) }
            index += 1
        }
    }

    public static var stats: HeapStats {
        initialize()
        return heap.stats
    }

    @inline(__always)
    public static func allocate(size: Int, alignment: Int) -> UnsafeMutableRawPointer? {
        if !ready { initialize() }
        return heap.allocate(size: size, alignment: alignment)
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
            return try heap.reallocate(pointer, size: size)
        } catch {
            report(error)
        }
    }

    static func report(_ error: HeapError) -> Never {
        var console = Console()
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
