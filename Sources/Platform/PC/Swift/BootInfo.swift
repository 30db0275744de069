// Reads what the loader handed over - Multiboot v1 info or a PVH hvm_start_info -
// into boot-time storage (boot/x86_64/storage.S): the command line and the
// heap's share of the usable RAM regions. Runs before the heap exists, so it copies what it
// keeps: the loader's structures become heap memory afterwards.
//
// Code that runs once is costly under QEMU TCG (every new translation block is
// compiled), so the boot path stays short and branch-light.

import CPU
import Swiftlet
import X86

enum BootInfo {
    static let multibootMagic: UInt32 = 0x2BAD_B002
    static let pvhMagic: UInt32 = 0x336E_C578
    /// Everything above is out of the boot page tables' 4 GiB identity map.
    static let mappedLimit: UInt64 = 0x1_0000_0000

    nonisolated(unsafe) static var ramBytes = 0

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
        let imageStart = UInt64(image_start()), imageEnd = UInt64(image_end())
        BootHeapRegions.add(begin, min(end, imageStart))
        BootHeapRegions.add(max(begin, imageEnd), end)
    }

    /// Copies the command line at physical `address`, if there is one.
    static func copyCommandLine(_ address: UInt64, skipFirstWord: Bool) {
        guard address != 0, address < mappedLimit,
              let source = UnsafePointer<UInt8>(bitPattern: UInt(address)) else { return }
        var console = ConsoleBuffer()
        BootArguments.copy(source, skipFirstWord: skipFirstWord, console: &console)
    }
}
