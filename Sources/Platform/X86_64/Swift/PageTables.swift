// Stack guard pages in the x86_64 identity map that CR3 points at (pc: the
// boot tables; hvt: our own, see PlatformHvt's PageTables): a guard page is
// a 4 KiB page made not-present. A 2 MiB page holding one is first split
// into 512 4 KiB pages with the same rights, in a page table taken from the
// kernel heap (never given back: the split stays). Tables are reached through
// the identity map (physical == virtual), so only addresses mapped by 2 MiB
// or 4 KiB pages below 512 GiB are handled.

import CPU
import Swiftlet

public enum PageTables {
    static let present: UInt64 = 1 << 0
    static let huge: UInt64 = 1 << 7
    static let addressMask: UInt64 = 0x000F_FFFF_FFFF_F000
    /// Present, writable, user, write-through, cache-disable, and no-execute:
    /// what a 4 KiB entry keeps of the 2 MiB entry it splits.
    static let inheritedBits: UInt64 = 0x1F | (1 << 63)

    static func table(_ entry: UInt64) -> UnsafeMutablePointer<UInt64> {
        UnsafeMutablePointer(bitPattern: UInt(entry & addressMask))!
    }

    /// Makes the 4 KiB page at `address` present or not; false when the
    /// address is not mapped the way this expects or no page table is free.
    public static func setPresent(_ address: UInt, _ isPresent: Bool) -> Bool {
        let a = UInt64(address)
        let pml4 = table(cpu_read_cr3())
        let pml4e = pml4[Int((a >> 39) & 511)]
        guard pml4e & present != 0 else { return false }
        let pdpte = table(pml4e)[Int((a >> 30) & 511)]
        guard pdpte & present != 0, pdpte & huge == 0 else { return false }
        let pd = table(pdpte)
        let pdIndex = Int((a >> 21) & 511)
        var pde = pd[pdIndex]
        guard pde & present != 0 else { return false }
        if pde & huge != 0 {
            guard let raw = KernelHeap.allocate(size: 4096, alignment: 4096) else { return false }
            let pt = raw.assumingMemoryBound(to: UInt64.self)
            let base = pde & addressMask & ~0x1F_FFFF
            let bits = pde & inheritedBits
            for i in 0..<512 { pt[i] = (base &+ UInt64(i) &* 4096) | bits }
            pde = UInt64(UInt(bitPattern: raw)) | (pde & 0x1F)
            pd[pdIndex] = pde
            cpu_write_cr3(cpu_read_cr3())  // drop the 2 MiB translation
        }
        let pt = table(pde)
        let index = Int((a >> 12) & 511)
        pt[index] = isPresent ? pt[index] | present : pt[index] & ~present
        cpu_invlpg(address)
        return true
    }
}
