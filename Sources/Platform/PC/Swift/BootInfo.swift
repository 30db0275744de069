// Reads what the loader handed over - Multiboot v1 info or a PVH hvm_start_info -
// into boot-time storage (entry.S .bss): the command line and the heap's share
// of the usable RAM regions. Runs before the heap exists, so it copies what it
// keeps: the loader's structures become heap memory afterwards.
//
// Code that runs once is costly under QEMU TCG (every new translation block is
// compiled), so the boot path stays short and branch-light: the command line
// is only split into arguments when the application first asks for them.

import CPU
import Swiftlet

enum BootInfo {
    static let multibootMagic: UInt32 = 0x2BAD_B002
    static let pvhMagic: UInt32 = 0x336E_C578
    /// Everything above is out of the boot page tables' 4 GiB identity map.
    static let mappedLimit: UInt64 = 0x1_0000_0000

    nonisolated(unsafe) static var heapRegionCount = 0
    nonisolated(unsafe) static var ramBytes = 0
    nonisolated(unsafe) static var commandLineLength = -1  // -1: no command line
    nonisolated(unsafe) static var skipFirstWord = false
    nonisolated(unsafe) static var argumentCount = -1      // -1: not split yet

    static func parse(magic: UInt32, info: UInt32) {
        guard let base = UnsafeRawPointer(bitPattern: UInt(info)) else {
            Kernel.panic("boot: no boot information from the loader")
        }
        // PVH first: microvm leaves the Multiboot magic in EAX on PVH entry too.
        if base.load(as: UInt32.self) == pvhMagic {
            parsePVH(base)
        } else if magic == multibootMagic {
            parseMultiboot(base)
        } else {
            Kernel.panic("boot: neither a Multiboot nor a PVH loader")
        }
        if ramBytes == 0 { Kernel.panic("boot: the loader gave no memory map") }
    }

    // Multiboot v1 info: flags @0, mem_lower @4, mem_upper @8, cmdline @16, mmap_length @44, mmap_addr @48.
    // Memory map entries: size @0 (of the rest), base @4, length @12, type @20 (1 = RAM).
    static func parseMultiboot(_ mbi: UnsafeRawPointer) {
        let flags = mbi.load(as: UInt32.self)
        if flags & (1 << 6) != 0 {
            let length = UInt(mbi.load(fromByteOffset: 44, as: UInt32.self))
            let table = UInt(mbi.load(fromByteOffset: 48, as: UInt32.self))
            var offset: UInt = 0
            while offset &+ 24 <= length, let entry = UnsafeRawPointer(bitPattern: table &+ offset) {
                if entry.loadUnaligned(fromByteOffset: 20, as: UInt32.self) == 1 {
                    addRAM(entry.loadUnaligned(fromByteOffset: 4, as: UInt64.self),
                           entry.loadUnaligned(fromByteOffset: 12, as: UInt64.self))
                }
                offset &+= UInt(entry.loadUnaligned(as: UInt32.self)) &+ 4
            }
        } else if flags & 1 != 0 {
            addRAM(0, UInt64(mbi.load(fromByteOffset: 4, as: UInt32.self)) &* 1024)
            addRAM(0x10_0000, UInt64(mbi.load(fromByteOffset: 8, as: UInt32.self)) &* 1024)
        }
        if flags & (1 << 2) != 0 {
            // Multiboot loaders put the kernel's path first (GRUB, QEMU): skip it.
            copyCommandLine(UInt64(mbi.load(fromByteOffset: 16, as: UInt32.self)), skipFirstWord: true)
        }
    }

    // hvm_start_info: version @4, cmdline_paddr @24, memmap_paddr @40, memmap_entries @48 (version >= 1).
    // Memory map entries: addr @0, size @8, type @16 (1 = RAM), 24 bytes each.
    static func parsePVH(_ info: UnsafeRawPointer) {
        copyCommandLine(info.load(fromByteOffset: 24, as: UInt64.self), skipFirstWord: false)
        guard info.load(fromByteOffset: 4, as: UInt32.self) >= 1 else { return }
        let table = info.load(fromByteOffset: 40, as: UInt64.self)
        let count = min(Int(info.load(fromByteOffset: 48, as: UInt32.self)), 1024)
        guard table < mappedLimit, let entries = UnsafeRawPointer(bitPattern: UInt(table)) else { return }
        var entry = entries
        for _ in 0..<count {
            if entry.load(fromByteOffset: 16, as: UInt32.self) == 1 {
                addRAM(entry.load(as: UInt64.self), entry.load(fromByteOffset: 8, as: UInt64.self))
            }
            entry += 24
        }
    }

    /// Counts a RAM region and gives the heap its part below the mapped limit,
    /// minus page 0 (unmapped) and the image.
    static func addRAM(_ start: UInt64, _ size: UInt64) {
        ramBytes &+= Int(truncatingIfNeeded: size)
        let begin = max(start, 0x1000)
        let end = min(start &+ size, mappedLimit)
        let imageStart = UInt64(pc_image_start()), imageEnd = UInt64(pc_image_end())
        addHeapRegion(begin, min(end, imageStart))
        addHeapRegion(max(begin, imageEnd), end)
    }

    static func addHeapRegion(_ start: UInt64, _ end: UInt64) {
        guard start < end, heapRegionCount < Int(PC_REGIONS_MAX) else { return }
        let table = pc_heap_region_table()!
        table[heapRegionCount &* 2] = start
        table[heapRegionCount &* 2 &+ 1] = end &- start
        heapRegionCount &+= 1
    }

    static func heapRegion(_ index: Int) -> (UnsafeMutableRawPointer?, Int)? {
        guard index >= 0 && index < heapRegionCount else { return nil }
        let table = pc_heap_region_table()!
        return (UnsafeMutableRawPointer(bitPattern: UInt(table[index * 2])), Int(table[index * 2 + 1]))
    }

    // MARK: The command line

    static func copyCommandLine(_ address: UInt64, skipFirstWord skip: Bool) {
        guard address != 0, address < mappedLimit,
              let source = UnsafePointer<UInt8>(bitPattern: UInt(address)) else { return }
        let buffer = pc_cmdline()!
        var length = 0
        while length < Int(PC_CMDLINE_MAX) && source[length] != 0 {
            buffer[length] = source[length]
            length &+= 1
        }
        buffer[length] = 0
        commandLineLength = length
        skipFirstWord = skip
        if source[length] != 0 {
            var console = SerialSink()
            console.write("boot: command line longer than 8192 bytes, truncated\n")
        }
    }

    static var arguments: Int {
        if argumentCount < 0 { splitArguments() }
        return argumentCount
    }

    static func argument(_ index: Int) -> UnsafePointer<UInt8>? {
        guard index >= 0 && index < arguments else { return nil }
        return pc_argv_table()![index]
    }

    /// Splits the copied command line in place; the argv table holds word
    /// offsets first, then is rewritten to pointers.
    static func splitArguments() {
        argumentCount = 0
        guard commandLineLength >= 0 else { return }
        let buffer = UnsafeMutableBufferPointer(start: pc_cmdline()!, count: commandLineLength + 1)
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
}
