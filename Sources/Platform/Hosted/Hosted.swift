// The hosted platform: Swiftlet's platform interface for a Linux process, so
// the same application source runs natively (fast runs, XCTest, profiling).
//
// Console: stdout (through stdio, so it interleaves with `print`). Arguments:
// argv without the program name. Memory: one anonymous mapping of
// SWIFTLET_MEM MiB (default 64) feeds the kernel heap; Swift objects in a
// hosted process come from glibc malloc, not from that heap.

#if canImport(Glibc)
import Glibc
import Swiftlet

enum Hosted {
    static let defaultMemoryMiB = 64

    static var memoryBytes: Int {
        guard let text = getenv("SWIFTLET_MEM"), let mib = Int(String(cString: text)), mib > 0 else {
            return defaultMemoryMiB << 20
        }
        return mib << 20
    }
}

@_cdecl("swiftlet_platform_write")
func hostedWrite(_ bytes: UnsafePointer<UInt8>, _ count: Int) {
    _ = fwrite(bytes, 1, count, stdout)
}

@_cdecl("swiftlet_platform_exit")
func hostedExit(_ status: Int32) {
    fflush(stdout)
    exit(status)
}

@_cdecl("swiftlet_platform_abort")
func hostedAbort() {
    let reason = Kernel.panicReason.map { "\($0)" } ?? "panic"
    fflush(stdout)
    fputs("\n*** PANIC: kernel: \(reason)\n*** exit status \(Kernel.panicStatus)\n", stderr)
    exit(Kernel.panicStatus)
}

@_cdecl("swiftlet_platform_argc")
func hostedArgumentCount() -> Int { max(Int(CommandLine.argc) - 1, 0) }

@_cdecl("swiftlet_platform_argv")
func hostedArgument(_ index: Int) -> UnsafePointer<UInt8>? {
    guard index >= 0 && index + 1 < Int(CommandLine.argc), let arg = CommandLine.unsafeArgv[index + 1] else {
        return nil
    }
    return UnsafeRawPointer(arg).assumingMemoryBound(to: UInt8.self)
}

@_cdecl("swiftlet_platform_ram_bytes")
func hostedRAMBytes() -> Int { Hosted.memoryBytes }

@_cdecl("swiftlet_platform_heap_region")
func hostedHeapRegion(_ index: Int, _ start: UnsafeMutablePointer<UnsafeMutableRawPointer?>,
                      _ size: UnsafeMutablePointer<Int>) -> Bool {
    guard index == 0 else { return false }
    let bytes = Hosted.memoryBytes
    let memory = mmap(nil, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
    guard let memory, memory != MAP_FAILED else { return false }
    start.pointee = memory
    size.pointee = bytes
    return true
}

@_cdecl("swiftlet_platform_boot_stamp")
func hostedBootStamp(_ stage: Int) -> UInt64 { 0 }

@_cdecl("swiftlet_platform_cycle_hz")
func hostedCycleHz() -> UInt64 { 0 }

@_cdecl("swiftlet_platform_monotonic")
func hostedMonotonic() -> UInt64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return UInt64(now.tv_sec) &* 1_000_000_000 &+ UInt64(now.tv_nsec)
}

@_cdecl("swiftlet_platform_wall_clock")
func hostedWallClock() -> UInt64 {
    var now = timespec()
    clock_gettime(CLOCK_REALTIME, &now)
    return UInt64(now.tv_sec) &* 1_000_000_000 &+ UInt64(now.tv_nsec)
}

@_cdecl("swiftlet_platform_discover_devices")
func hostedDiscoverDevices() {}

/// No devices yet on hosted (taps and files come with issue 5): just sleep.
@_cdecl("swiftlet_platform_wait")
func hostedWait(_ nanoseconds: UInt64) -> UInt64 {
    var delay = timespec(tv_sec: Int(nanoseconds / 1_000_000_000), tv_nsec: Int(nanoseconds % 1_000_000_000))
    nanosleep(&delay, nil)
    return 0
}
#endif
