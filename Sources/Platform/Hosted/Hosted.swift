// The hosted platform: Swiftlet's platform interface for a Linux process, so
// the same application source runs natively (fast runs, XCTest, profiling).
//
// Console: stdout (through stdio, so it interleaves with `print`). Arguments:
// argv without the program name and the leading device options (files and
// taps: HostedOptions.swift, HostedDevices.swift). Memory: one anonymous mapping of
// SWIFTLET_MEM MiB (default 64) feeds the kernel heap (and thread stacks);
// Swift objects in a hosted process come from glibc malloc, not from that
// heap. Idle: poll(2) over the descriptors registered as device events.

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

/// The application's arguments: argv after the program name and the device
/// options (HostedOptions.swift), which the platform takes.
@_cdecl("swiftlet_platform_argc")
func hostedArgumentCount() -> Int { max(Int(CommandLine.argc) - 1 - HostedDevices.attached.consumed, 0) }

@_cdecl("swiftlet_platform_argv")
func hostedArgument(_ index: Int) -> UnsafePointer<UInt8>? {
    let first = 1 + HostedDevices.attached.consumed
    guard index >= 0 && index + first < Int(CommandLine.argc), let arg = CommandLine.unsafeArgv[index + first] else {
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

/// The devices the options attached (HostedDevices.swift), in option order.
@_cdecl("swiftlet_platform_discover_devices")
func hostedDiscoverDevices() {
    for device in HostedDevices.attached.block { Devices.register(device) }
    for device in HostedDevices.attached.network { Devices.register(device) }
}

@_cdecl("swiftlet_platform_cycle_error_ppm")
func hostedCycleErrorPPM() -> UInt64 { 0 }

/// Thread stacks come from the kernel heap's anonymous mapping: a guard page
/// is a PROT_NONE page of it.
@_cdecl("swiftlet_platform_stack_guard")
func hostedStackGuard(_ page: UnsafeMutableRawPointer, _ guarded: Bool) -> Bool {
    if guarded { GuardPageReport.install() }
    return mprotect(page, 4096, guarded ? PROT_NONE : PROT_READ | PROT_WRITE) == 0
}

/// A thread's stack overflow on hosted: SIGSEGV in a guard page, caught on
/// an alternate signal stack, gives the same panic report as pc and hvt
/// (no backtrace) and status 255. Other faults keep the default action.
enum GuardPageReport {
    nonisolated(unsafe) static var installed = false

    static func install() {
        if installed { return }
        installed = true
        let size = 64 << 10
        var stack = stack_t(ss_sp: malloc(size), ss_flags: 0, ss_size: size)
        sigaltstack(&stack, nil)
        var action = sigaction()
        action.__sigaction_handler.sa_sigaction = { _, info, context in
            let address = UInt64(UInt(bitPattern: info?.pointee._sifields._sigfault.si_addr))
            guard let name = Kernel.guardPageOwner(address) else {
                signal(SIGSEGV, SIG_DFL)  // not ours: the fault repeats with the default action
                return
            }
            var report = PanicReport(vector: 14)
            report.faultAddress = address
            report.stackOverflow = true
            report.threadName = name
            if let g = context?.assumingMemoryBound(to: ucontext_t.self).pointee.uc_mcontext.gregs {
                // gregs order (sys/ucontext.h): r8-r15, rdi, rsi, rbp, rbx, rdx, rax, rcx, rsp, rip, eflags, csgsfs, err
                func u(_ v: Int64) -> UInt64 { UInt64(bitPattern: v) }
                var r = GeneralRegisters()
                (r.r8, r.r9, r.r10, r.r11, r.r12, r.r13, r.r14, r.r15) = (u(g.0), u(g.1), u(g.2), u(g.3), u(g.4), u(g.5), u(g.6), u(g.7))
                (r.rdi, r.rsi, r.rbp, r.rbx, r.rdx, r.rax, r.rcx, r.rsp) = (u(g.8), u(g.9), u(g.10), u(g.11), u(g.12), u(g.13), u(g.14), u(g.15))
                report.registers = r
                report.rip = u(g.16)
                report.rflags = u(g.17)
                report.errorCode = u(g.19)
            }
            fflush(stdout)
            var console = ConsoleBuffer()
            report.write(to: &console, backtrace: UnsafeBufferPointer(start: nil, count: 0))
            console.flush()
            fflush(stdout)
            _exit(Kernel.panicStatus)
        }
        action.sa_flags = SA_SIGINFO | SA_ONSTACK
        sigaction(SIGSEGV, &action, nil)
    }
}

/// Device events on hosted: file descriptors (taps, files, pipes), each one
/// bit of the ready set, reported when readable.
public enum HostedEvents {
    nonisolated(unsafe) static var descriptors: [Int32] = []

    /// The event for `descriptor` becoming readable; nil past 64 descriptors.
    public static func register(descriptor: Int32) -> DeviceEvent? {
        if let bit = descriptors.firstIndex(of: descriptor) { return DeviceEvent(bit: bit) }
        guard descriptors.count < 64 else { return nil }
        descriptors.append(descriptor)
        return DeviceEvent(bit: descriptors.count - 1)
    }

    public static func unregister(descriptor: Int32) {
        if let bit = descriptors.firstIndex(of: descriptor) { descriptors[bit] = -1 }
    }
}

/// ppoll(2) is not in Swift's Glibc module: poll(2) in whole milliseconds
/// (rounded up) when descriptors are registered, nanosleep(2) otherwise.
@_cdecl("swiftlet_platform_wait")
func hostedWait(_ nanoseconds: UInt64) -> UInt64 {
    if HostedEvents.descriptors.isEmpty {
        if nanoseconds == UInt64.max { return 0 }
        var delay = timespec(tv_sec: Int(nanoseconds / 1_000_000_000), tv_nsec: Int(nanoseconds % 1_000_000_000))
        nanosleep(&delay, nil)
        return 0
    }
    var fds = HostedEvents.descriptors.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
    let milliseconds = nanoseconds == UInt64.max ? -1 : Int32(min((nanoseconds + 999_999) / 1_000_000, UInt64(Int32.max)))
    guard poll(&fds, nfds_t(fds.count), milliseconds) > 0 else { return 0 }
    var ready: UInt64 = 0
    for (bit, fd) in fds.enumerated() where fd.revents != 0 { ready |= 1 << UInt64(bit) }
    return ready
}
#endif
