// The hvt platform's boot sequence, entered from boot/hvt/entry.S on our own
// stack and GDT: IDT/TSS, the boot info (command line, memory, TSC rate),
// heap, then the application's main; its status leaves through HALT
// (once every thread has finished).

import CPU
import HvtABI
import Swiftlet
import X86

@_extern(c, "main")
func applicationMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32

enum BootInfo {
    nonisolated(unsafe) static var memorySize: UInt64 = 0
    nonisolated(unsafe) static var cycleHz: UInt64 = 0
    nonisolated(unsafe) static var manifest: UInt64 = 0
}

@_cdecl("swiftlet_hvt_start")
func hvtStart(_ bootInfo: UInt64) -> Never {
    let stamps = boot_stamps()!
    Interrupts.initialize()
    stamps[Kernel.BootStage.console.rawValue] = cpu_rdtsc()
    let info = UnsafeRawPointer(bitPattern: UInt(bootInfo))!
    BootInfo.memorySize = info.load(fromByteOffset: HvtABI.BootInfo.memSize, as: UInt64.self)
    BootInfo.cycleHz = info.load(fromByteOffset: HvtABI.BootInfo.cpuCycleFreq, as: UInt64.self)
    BootInfo.manifest = info.load(fromByteOffset: HvtABI.BootInfo.manifest, as: UInt64.self)
    let cmdline = info.load(fromByteOffset: HvtABI.BootInfo.cmdline, as: UInt64.self)
    if let source = UnsafePointer<UInt8>(bitPattern: UInt(cmdline)) {
        var console = ConsoleBuffer()
        BootArguments.copy(source, skipFirstWord: false, console: &console)
    }
    // The heap: everything from the end of the image to the end of usable RAM.
    let kernelEnd = info.load(fromByteOffset: HvtABI.BootInfo.kernelEnd, as: UInt64.self)
    BootHeapRegions.add(max(kernelEnd, UInt64(image_end())), BootInfo.memorySize)
    stamps[Kernel.BootStage.bootInfo.rawValue] = cpu_rdtsc()
    KernelHeap.initialize()
    stamps[Kernel.BootStage.allocator.rawValue] = cpu_rdtsc()
    stamps[Kernel.BootStage.main.rawValue] = cpu_rdtsc()
    Kernel.mainReturned(applicationMain(0, nil))
}
