// The pc platform's boot sequence, entered from boot/pc/entry.S in long mode:
// console, IDT/TSS, boot info, heap, then the application's main.

import CPU
import Swiftlet
import X86

@_extern(c, "main")
func applicationMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32

@_cdecl("swiftlet_pc_start")
func pcStart(_ magic: UInt32, _ info: UInt32) -> Never {
    let stamps = boot_stamps()!
    Serial.initialize()
    Interrupts.initialize()
    stamps[Kernel.BootStage.console.rawValue] = cpu_rdtsc()
    BootInfo.parse(magic: magic, info: info)
    unmapNullPage()
    stamps[Kernel.BootStage.bootInfo.rawValue] = cpu_rdtsc()
    KernelHeap.initialize()
    stamps[Kernel.BootStage.allocator.rawValue] = cpu_rdtsc()
    stamps[Kernel.BootStage.main.rawValue] = cpu_rdtsc()
    Kernel.mainReturned(applicationMain(0, nil))
}

/// Page 0 was mapped only for the loader's structures (already copied).
func unmapNullPage() {
    pc_low_page_table()![0] = 0
    cpu_invlpg(0)
}
