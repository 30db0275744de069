// hvt: page tables of our own, so that thread stacks can have guard pages.
// The monitor's tables (at 0x2000) are not mapped for the guest, so the
// first guard page request builds a copy of the ABI's identity map in heap
// memory - 0-0xFFFF absent, 0x10000-0xFFFFF read-only (the boot stack's
// guard), 4 KiB pages to 2 MiB, 2 MiB pages up to the end of RAM - and
// loads CR3 with it; X86's PageTables then splits and unmaps as on pc.
// An image that never spawns a thread never pays for this. The monitor
// still enforces the image's read-only segments from the host side.

import CPU
import Swiftlet
import X86

enum HvtPageTables {
    nonisolated(unsafe) static var installed = false

    static func install() -> Bool {
        if installed { return true }
        let memory = BootInfo.memorySize & ~UInt64(0x1F_FFFF)
        let gigabytes = Int((memory + (1 << 30) - 1) >> 30)
        guard gigabytes >= 1 && gigabytes <= 512 else { return false }
        let pages = 3 + gigabytes  // PML4, PDPT, the first 2 MiB's PT, one PD per GiB
        guard let raw = KernelHeap.allocate(size: pages * 4096, alignment: 4096) else { return false }
        raw.initializeMemory(as: UInt8.self, repeating: 0, count: pages * 4096)
        let pml4 = raw.assumingMemoryBound(to: UInt64.self)
        let pdpt = pml4 + 512, pt = pml4 + 1024, pd = pml4 + 1536
        func address(_ table: UnsafeMutablePointer<UInt64>) -> UInt64 { UInt64(UInt(bitPattern: table)) }
        let present: UInt64 = 1, writable: UInt64 = 2, huge: UInt64 = 0x80
        pml4[0] = address(pdpt) | present | writable
        for g in 0..<gigabytes { pdpt[g] = address(pd + g * 512) | present | writable }
        for page in 16..<512 { pt[page] = UInt64(page) << 12 | present | (page >= 256 ? writable : 0) }
        pd[0] = address(pt) | present | writable
        for large in 1..<Int(memory >> 21) { pd[large] = UInt64(large) << 21 | present | writable | huge }
        cpu_write_cr3(address(pml4))
        installed = true
        return true
    }
}

@_cdecl("swiftlet_platform_stack_guard")
func hvtStackGuard(_ page: UnsafeMutableRawPointer, _ guarded: Bool) -> Bool {
    HvtPageTables.install() && PageTables.setPresent(UInt(bitPattern: page), !guarded)
}
