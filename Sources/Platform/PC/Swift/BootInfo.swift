// Reads what the loader handed over - Multiboot v1 info or a PVH hvm_start_info -
// into boot-time storage (entry.S .bss): the command line, split into
// arguments, and the usable RAM regions. Runs before the heap exists, so it
// copies everything it keeps: the loader's structures may become heap memory.

import CPU
import Swiftlet

enum BootInfo {
    enum Loader { case multiboot, pvh }

    static let multibootMagic: UInt32 = 0x2BAD_B002
    static let pvhMagic: UInt32 = 0x336E_C578
    /// Everything above is out of the boot page tables' 4 GiB identity map.
    static let mappedLimit: UInt64 = 0x1_0000_0000

    nonisolated(unsafe) static var loader = Loader.multiboot
    nonisolated(unsafe) static var argumentCount = 0
    nonisolated(unsafe) static var regionCount = 0
    nonisolated(unsafe) static var heapRegionCount = 0
    nonisolated(unsafe) static var ramBytes = 0

    static func parse(magic: UInt32, info: UInt32) {
        let base = UnsafeRawPointer(bitPattern: UInt(info))
        guard let base else { Kernel.panic("boot: no boot information from the loader") }
        // PVH first: microvm leaves the Multiboot magic in EAX on PVH entry too.
        if base.load(as: UInt32.self) == pvhMagic {
            loader = .pvh
            parsePVH(base)
        } else if magic == multibootMagic {
            loader = .multiboot
            parseMultiboot(base)
        } else {
            Kernel.panic("boot: neither a Multiboot nor a PVH loader")
        }
        if regionCount == 0 { Kernel.panic("boot: the loader gave no memory map") }
        carveHeapRegions()
    }

    // Multiboot v1 info: flags @0, mem_lower @4, mem_upper @8, cmdline @16, mmap_length @44, mmap_addr @48.
    static func parseMultiboot(_ mbi: UnsafeRawPointer) {
        let flags = mbi.load(as: UInt32.self)
        if flags & (1 << 6) != 0 {
            let length = Int(mbi.load(fromByteOffset: 44, as: UInt32.self))
            let start = UInt(mbi.load(fromByteOffset: 48, as: UInt32.self))
            var offset = 0
            while offset + 24 <= length, let entry = UnsafeRawPointer(bitPattern: start + UInt(offset)) {
                let size = Int(entry.loadUnaligned(as: UInt32.self))
                let address = entry.loadUnaligned(fromByteOffset: 4, as: UInt64.self)
                let bytes = entry.loadUnaligned(fromByteOffset: 12, as: UInt64.self)
                if entry.loadUnaligned(fromByteOffset: 20, as: UInt32.self) == 1 { addRegion(address, bytes) }
                offset += size + 4
            }
        } else if flags & 1 != 0 {
            addRegion(0, UInt64(mbi.load(fromByteOffset: 4, as: UInt32.self)) * 1024)
            addRegion(0x10_0000, UInt64(mbi.load(fromByteOffset: 8, as: UInt32.self)) * 1024)
        }
        if flags & (1 << 2) != 0 {
            // Multiboot loaders put the kernel's path first (GRUB, QEMU): skip it.
            copyCommandLine(mbi.load(fromByteOffset: 16, as: UInt32.self), skipFirstWord: true)
        }
    }

    // hvm_start_info: version @4, cmdline_paddr @24, memmap_paddr @40, memmap_entries @48 (version >= 1).
    // Memory map entries: addr @0, size @8, type @16 (1 = RAM), 24 bytes each.
    static func parsePVH(_ info: UnsafeRawPointer) {
        let version = info.load(fromByteOffset: 4, as: UInt32.self)
        let cmdline = info.load(fromByteOffset: 24, as: UInt64.self)
        if cmdline != 0 && cmdline < mappedLimit { copyCommandLine(UInt32(cmdline), skipFirstWord: false) }
        guard version >= 1 else { return }
        let table = info.load(fromByteOffset: 40, as: UInt64.self)
        let count = Int(info.load(fromByteOffset: 48, as: UInt32.self))
        guard table != 0, table < mappedLimit, let entries = UnsafeRawPointer(bitPattern: UInt(table)) else { return }
        for i in 0..<min(count, 1024) {
            let entry = entries + i * 24
            if entry.load(fromByteOffset: 16, as: UInt32.self) == 1 {
                addRegion(entry.load(as: UInt64.self), entry.load(fromByteOffset: 8, as: UInt64.self))
            }
        }
    }

    static func addRegion(_ start: UInt64, _ size: UInt64) {
        guard size > 0 else { return }
        ramBytes += Int(truncatingIfNeeded: size)
        guard regionCount < Int(PC_REGIONS_MAX) else { return }
        let table = pc_region_table()!
        table[regionCount * 2] = start
        table[regionCount * 2 + 1] = size
        regionCount += 1
    }

    /// Heap memory: RAM below the mapped limit, minus page 0 (unmapped) and the image.
    static func carveHeapRegions() {
        let ram = pc_region_table()!
        let imageStart = UInt64(pc_image_start()), imageEnd = UInt64(pc_image_end())
        for i in 0..<regionCount {
            var start = max(ram[i * 2], 0x1000)
            let end = min(ram[i * 2] &+ ram[i * 2 + 1], mappedLimit)
            guard start < end else { continue }
            if start < imageEnd && end > imageStart {
                addHeapRegion(start, imageStart)
                start = max(start, imageEnd)
            }
            addHeapRegion(start, end)
        }
    }

    static func addHeapRegion(_ start: UInt64, _ end: UInt64) {
        guard start < end, heapRegionCount < Int(PC_REGIONS_MAX) else { return }
        let table = pc_heap_region_table()!
        table[heapRegionCount * 2] = start
        table[heapRegionCount * 2 + 1] = end - start
        heapRegionCount += 1
    }

    static func copyCommandLine(_ address: UInt32, skipFirstWord: Bool) {
        guard address != 0, let source = UnsafePointer<UInt8>(bitPattern: UInt(address)) else { return }
        let buffer = UnsafeMutableBufferPointer(start: pc_cmdline()!, count: Int(PC_CMDLINE_MAX) + 1)
        var length = 0
        while length < Int(PC_CMDLINE_MAX) && source[length] != 0 {
            buffer[length] = source[length]
            length += 1
        }
        buffer[length] = 0
        if source[length] != 0 {
            var console = SerialSink()
            console.write("boot: command line longer than 8192 bytes, truncated\n")
        }
        splitArguments(buffer, skipFirstWord: skipFirstWord)
    }

    static func splitArguments(_ buffer: UnsafeMutableBufferPointer<UInt8>, skipFirstWord: Bool) {
        // The argv table doubles as the offsets table, then is rewritten in place to pointers.
        let argv = UnsafeMutableRawPointer(pc_argv_table()!)
        let starts = UnsafeMutableBufferPointer(start: argv.assumingMemoryBound(to: Int.self), count: Int(PC_ARGV_MAX))
        var count: Int
        do {
            count = try CommandLineSplitter.split(buffer, starts: starts)
        } catch {
            switch error { case .tooManyArguments(let kept): count = kept }
            var console = SerialSink()
            console.write("boot: more than 128 arguments, the rest dropped\n")
        }
        let first = skipFirstWord && count > 0 ? 1 : 0
        for i in first..<max(first, count) {
            starts[i - first] = Int(bitPattern: UInt(bitPattern: buffer.baseAddress!) + UInt(starts[i]))
        }
        argumentCount = count - first
    }

    static func argument(_ index: Int) -> UnsafePointer<UInt8>? {
        guard index >= 0 && index < argumentCount else { return nil }
        return pc_argv_table()![index]
    }

    static func heapRegion(_ index: Int) -> (UnsafeMutableRawPointer?, Int)? {
        guard index >= 0 && index < heapRegionCount else { return nil }
        let table = pc_heap_region_table()!
        return (UnsafeMutableRawPointer(bitPattern: UInt(table[index * 2])), Int(table[index * 2 + 1]))
    }
}
