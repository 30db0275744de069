// The application's view of the kernel: arguments, exit, memory, clocks, boot
// timeline.
//
// This is the API an application imports (`import Swiftlet`); it is the same on
// every platform. Console output goes through `Console.print` or Swift's `print`,
// devices through `Devices`.

@_exported import Heap

public enum Kernel {
    /// The status every panic ends with (CPU exception, Swift trap, heap misuse).
    public static let panicStatus: Int32 = 255
    /// The largest application status every platform reports exactly (pc's
    /// isa-debug-exit carries 7 bits, shared with QEMU's own codes: see README).
    public static let maxExitStatus: Int32 = 124

    /// The arguments from the boot loader's or monitor's command line (no program name).
    public static var arguments: [String] {
        rawArguments.map { $0.string }
    }

    /// The arguments as views of their UTF-8 bytes: no String is built, which
    /// keeps ~11 KB of Embedded String code out of images that do not need it.
    public static var rawArguments: [RawArgument] {
        (0..<platformArgumentCount()).compactMap { index in
            platformArgument(index).map { RawArgument(cString: $0) }
        }
    }

    /// Ends the unikernel with `status`, once the frames already sent have
    /// left the network devices. hvt and hosted carry any 8-bit status;
    /// pc carries 0...maxExitStatus exactly and reports others as "out of
    /// range" (the runner exits 125 for them).
    public static func exit(_ status: Int32) -> Never {
        Devices.beforeExit?()
        platformExit(status)
        fatalError("platform exit returned")
    }

    /// For platforms, when the application's main returns `status`: the
    /// unikernel ends with it once every other thread has finished too.
    public static func mainReturned(_ status: Int32) -> Never {
        if let finish = SchedulerHooks.finish { finish(status) }
        exit(status)
    }

    /// The running thread's name, for panic reports (nil when the
    /// application never used threads).
    public static var threadName: StaticString? { SchedulerHooks.currentName?() }

    /// The thread whose stack guard page holds `address`, for panic reports.
    public static func guardPageOwner(_ address: UInt64) -> StaticString? { SchedulerHooks.guardOwner?(address) }

    /// Ends the unikernel with a panic report naming `reason`.
    public static func panic(_ reason: StaticString) -> Never {
        panicReason = reason
        platformAbort()
        fatalError("platform abort returned")
    }

    /// The reason given to the last `panic`, for the platform's report.
    nonisolated(unsafe) public private(set) static var panicReason: StaticString? = nil

    public struct MemoryInfo {
        /// Usable RAM the platform was given.
        public var ram: Int
        /// The kernel heap (on pc and hvt it serves every allocation).
        public var heap: HeapStats
        /// Memory the heap takes on when it runs out (committed in 2 MiB steps).
        public var heapReserve: Int
    }

    public static var memory: MemoryInfo {
        MemoryInfo(ram: platformRAMBytes(), heap: KernelHeap.stats, heapReserve: KernelHeap.reservedBytes)
    }

    /// Boot stages the platforms time-stamp with their cycle counter, in order.
    public enum BootStage: Int, CaseIterable {
        case entry = 0, bssCleared, pageTables, longMode, console, bootInfo, allocator, main
        public var name: StaticString {
            switch self {
            case .entry: return "entry"
            case .bssCleared: return "bss"
            case .pageTables: return "page_tables"
            case .longMode: return "long_mode"
            case .console: return "console_idt"
            case .bootInfo: return "boot_info"
            case .allocator: return "allocator"
            case .main: return "main"
            }
        }
    }

    /// Cycle-counter stamp of a boot stage (0 when the platform does not record it).
    public static func bootStamp(_ stage: BootStage) -> UInt64 { platformBootStamp(stage.rawValue) }

    /// Monotonic nanoseconds (pc and hvt: the TSC at its measured or announced rate).
    public static var monotonicClock: UInt64 { platformMonotonic() }

    /// Nanoseconds since the Unix epoch, from the platform's wall clock (0 when it has none).
    public static var wallClock: UInt64 { platformWallClock() }

    /// The cycle counter's frequency in Hz, or 0 when the platform does not know it.
    public static var cycleFrequency: UInt64 { platformCycleHz() }

    /// Bound on `cycleFrequency`'s relative error, parts per million: pc
    /// measures the TSC against the PIT; hvt and hosted are told the rate (0).
    public static var cycleFrequencyError: UInt64 { platformCycleErrorPPM() }
}

/// What the kernel asks of the scheduler (the Threads module), installed when
/// the scheduler starts: an image that never uses threads links none of it.
package enum SchedulerHooks {
    nonisolated(unsafe) static var finish: ((Int32) -> Never)? = nil
    nonisolated(unsafe) static var currentName: (() -> StaticString?)? = nil
    nonisolated(unsafe) static var guardOwner: ((UInt64) -> StaticString?)? = nil

    package static func install(finish: @escaping (Int32) -> Never, currentName: @escaping () -> StaticString?,
                               guardOwner: @escaping (UInt64) -> StaticString?) {
        self.finish = finish
        self.currentName = currentName
        self.guardOwner = guardOwner
    }
}
