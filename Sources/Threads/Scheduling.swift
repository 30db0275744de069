// The kernel side of the cooperative scheduler: it joins the sans-IO
// `SchedulerCore` (Sources/Scheduler) to the context switch
// (Sources/Context), to thread stacks and to the platform's idle wait.
//
// The scheduler starts on first use: the code running then (the
// application's main, or a hosted test) becomes the thread "main" on the
// stack it already has. Every other thread gets a stack from the kernel heap
// with a guard page below it (the platform unmaps it), so an overflow faults
// into the panic report with the thread's name. A finished thread's stack is
// freed by whichever thread runs next (nobody frees the stack it runs on).
// When nothing is runnable the scheduler blocks in the platform until the
// next deadline or device event (Events); with no deadline and no device
// waiter that would be forever, so it panics ("deadlock") instead.
// When main returns, the unikernel exits with main's status once the last
// thread has finished (`Scheduling.finish`).
// Limits: one vCPU, no preemption (a thread runs until it blocks, yields or
// exits). Saved stack pointers live in raw memory: a Swift `inout` held
// across a switch would trip the exclusivity checks of hosted builds.

import Scheduler
import Swiftlet

@_extern(c, "swiftlet_context_switch")
func contextSwitch(_ save: UnsafeMutablePointer<UInt>, _ resume: UInt)

@_extern(c, "swiftlet_context_prepare")
func contextPrepare(_ stackTop: UnsafeMutableRawPointer, _ entry: @convention(c) (UnsafeMutableRawPointer?) -> Void,
                    _ argument: UnsafeMutableRawPointer?) -> UInt

/// What the kernel keeps per thread beyond the core's record.
final class ThreadControl {
    let name: StaticString
    /// The allocation: guard page first, then the stack (nil for main).
    var stack: UnsafeMutableRawPointer?
    let stackBytes: Int
    var body: (() -> Int)?

    init(name: StaticString, stack: UnsafeMutableRawPointer?, stackBytes: Int, body: (() -> Int)?) {
        self.name = name
        self.stack = stack
        self.stackBytes = stackBytes
        self.body = body
    }
}

enum Scheduling {
    static let pageSize = 4096
    static let spawnHeadroom = 64 << 10
    /// By thread slot; a reaped slot keeps its control until a spawn reuses it.
    nonisolated(unsafe) static var controls: [ThreadControl?] = []
    /// The slot whose stack the CPU is on.
    nonisolated(unsafe) static var onCPU: Int = 0
    /// A finished thread's stack, freed by the next thread to run.
    nonisolated(unsafe) static var stackToFree: UnsafeMutableRawPointer? = nil
    /// Device events are polled at least this often while threads keep running.
    static let devicePollInterval: UInt64 = 1_000_000
    nonisolated(unsafe) static var lastDevicePoll: UInt64 = 0

    /// Saved stack pointers of switched-out threads, by slot (raw memory:
    /// the switch writes into it, and it must cost no checks).
    nonisolated(unsafe) static var stackPointers: UnsafeMutablePointer<UInt>? = nil
    nonisolated(unsafe) static var stackPointerSlots = 0

    /// The core, created on first use and never freed. Kept as a raw
    /// pointer (statically initialised, unlike an object reference) and
    /// borrowed without reference counting on the hot paths (`withCore`):
    /// a switch then costs no lazy-global check and no atomic operation.
    nonisolated(unsafe) static var corePointer: UnsafeMutableRawPointer? = nil

    static var core: SchedulerCore {
        guard let corePointer else { return start() }
        return Unmanaged<SchedulerCore>.fromOpaque(corePointer).takeUnretainedValue()
    }

    @inline(__always)
    static func withCore<R>(_ body: (SchedulerCore) -> R) -> R {
        guard let corePointer else { return body(start()) }
        return Unmanaged<SchedulerCore>.fromOpaque(corePointer)._withUnsafeGuaranteedRef(body)
    }

    static func start() -> SchedulerCore {
        let core = SchedulerCore()
        corePointer = Unmanaged.passRetained(core).toOpaque()
        let main = core.spawn(name: "main")
        _ = core.next(now: 0)
        install(ThreadControl(name: "main", stack: nil, stackBytes: 0, body: nil), at: main)
        onCPU = Int(main.index)
        mainSlot = onCPU
        SchedulerHooks.install(finish: { finish(status: $0) }, currentName: { currentName },
                               guardOwner: { guardOwner($0) })
        return core
    }

    static func install(_ control: ThreadControl, at thread: ThreadID) {
        let slot = Int(thread.index)
        while controls.count <= slot { controls.append(nil) }
        controls[slot] = control
        if slot >= stackPointerSlots {
            let slots = max(16, 2 * stackPointerSlots, slot + 1)
            let table = UnsafeMutablePointer<UInt>.allocate(capacity: slots)
            table.initialize(repeating: 0, count: slots)
            if let old = stackPointers {
                table.update(from: old, count: stackPointerSlots)
                old.deallocate()
            }
            stackPointers = table
            stackPointerSlots = slots
        }
    }

    /// The running thread's name.
    static var currentName: StaticString? {
        onCPU < controls.count ? controls[onCPU]?.name : nil
    }

    // MARK: Threads

    static func spawn(name: StaticString, stackSize: Int, body: @escaping () -> Int) -> ThreadID? {
        let core = self.core
        let bytes = (max(stackSize, pageSize) + pageSize - 1) & ~(pageSize - 1)
        // Spawning may double the core's and our tables (and allocates the
        // control block): a stack that would leave no room for that is refused.
        let tables = 2 * (core.slotCount + 1) * (SchedulerCore.bytesPerSlot + MemoryLayout<ThreadControl?>.stride)
        guard let stack = allocateStack(bytes: bytes, headroom: max(spawnHeadroom, 2 * tables)) else { return nil }
        let thread = core.spawn(name: name)
        let control = ThreadControl(name: name, stack: stack, stackBytes: bytes, body: body)
        install(control, at: thread)
        let entry: @convention(c) (UnsafeMutableRawPointer?) -> Void = { argument in
            Scheduling.run(slot: Int(bitPattern: argument))
        }
        stackPointers![Int(thread.index)] = contextPrepare(stack + pageSize + bytes, entry,
                                                 UnsafeMutableRawPointer(bitPattern: Int(thread.index)))
        return thread
    }

    /// A new thread's first code, on its own stack.
    static func run(slot: Int) -> Never {
        freeFinishedStack()
        let body = controls[slot]!.body!
        exitCurrent(body())
    }

    static func exitCurrent(_ value: Int) -> Never {
        let core = self.core
        do { try core.exit(value: value) } catch { misuse(error) }
        if onCPU == mainSlot { exitStatus = Int32(truncatingIfNeeded: value) }
        let control = controls[onCPU]!
        control.body = nil
        stackToFree = control.stack
        stackToFreeBytes = control.stackBytes
        control.stack = nil
        reschedule()
        Kernel.panic("scheduler: a finished thread was resumed")
    }

    /// Main's end: the unikernel exits with `status` once every other thread has finished.
    static func finish(status: Int32) -> Never {
        guard core.liveThreads > 1 else { Kernel.exit(status) }
        exitCurrent(Int(status))
    }

    /// The unikernel's status when the last thread finishes: main's value.
    nonisolated(unsafe) static var exitStatus: Int32 = 0
    nonisolated(unsafe) static var mainSlot = 0

    // MARK: Switching

    /// Runs whatever the core picks next; returns when the calling thread is
    /// picked again. The core must already know why the caller stopped.
    static func reschedule() {
        withCore { core in
            while true {
                let now = core.nextDeadline != nil || Events.waiting != 0 ? Kernel.monotonicClock : 0
                if Events.waiting != 0 && now &- lastDevicePoll >= devicePollInterval && core.runnableCount > 0 {
                    lastDevicePoll = now
                    Events.deliver(platformWait(0))
                }
                switch core.next(now: now) {
                case .run(let thread):
                    switchTo(Int(thread.index))
                    return
                case .idle(let until):
                    idle(until: until, now: now)
                case .allFinished:
                    Kernel.exit(exitStatus)
                }
            }
        }
    }

    static func switchTo(_ slot: Int) {
        let from = onCPU
        guard slot != from else { return }
        onCPU = slot
        let table = stackPointers.unsafelyUnwrapped
        contextSwitch(table + from, table[slot])
        if stackToFree != nil { freeFinishedStack() }
    }

    static func idle(until deadline: UInt64?, now: UInt64) {
        let timeout: UInt64
        if let deadline {
            timeout = deadline > now ? deadline - now : 0
        } else if Events.waiting != 0 {
            timeout = UInt64.max
        } else {
            Kernel.panic("deadlock: every thread is blocked and nothing can wake one")
        }
        lastDevicePoll = now
        Events.deliver(platformWait(timeout))
    }

    // MARK: Stacks

    /// A stack of `bytes` with its guard page below, leaving `headroom` bytes
    /// of heap free; a cached one of the same size when there is one.
    static func allocateStack(bytes: Int, headroom: Int) -> UnsafeMutableRawPointer? {
        if let index = stackCache.lastIndex(where: { $0.bytes == bytes }) { return stackCache.remove(at: index).stack }
        if let stack = KernelHeap.allocate(size: bytes + pageSize, alignment: pageSize) {
            if let probe = KernelHeap.allocate(size: headroom, alignment: 16) {
                KernelHeap.free(probe)
                if platformStackGuard(stack, true) { return stack }
            }
            KernelHeap.free(stack)
        }
        // Short of memory: give the cached stacks back and try once more.
        if stackCache.isEmpty { return nil }
        while let cached = stackCache.popLast() { release(cached.stack) }
        return allocateStack(bytes: bytes, headroom: headroom)
    }

    /// Recently finished threads' stacks, guard pages still in place: a
    /// spawn of the same size reuses one without touching the page tables
    /// (or, hosted, calling mprotect). Given back when memory runs short.
    nonisolated(unsafe) static var stackCache: [(stack: UnsafeMutableRawPointer, bytes: Int)] = []
    static let stackCacheLimit = 8
    nonisolated(unsafe) static var stackToFreeBytes = 0

    static func freeFinishedStack() {
        guard let stack = stackToFree else { return }
        stackToFree = nil
        if stackCache.count < stackCacheLimit {
            stackCache.append((stack, stackToFreeBytes))
        } else {
            release(stack)
        }
    }

    static func release(_ stack: UnsafeMutableRawPointer) {
        _ = platformStackGuard(stack, false)
        KernelHeap.free(stack)
    }

    /// Whether `address` lies in the guard page of a live thread's stack.
    static func guardOwner(_ address: UInt64) -> StaticString? {
        let page = UInt(truncatingIfNeeded: address) & ~UInt(pageSize - 1)
        for case let control? in controls {
            if let stack = control.stack, UInt(bitPattern: stack) == page { return control.name }
        }
        return nil
    }

    static func misuse(_ error: SchedulerError) -> Never {
        switch error {
        case .noCurrentThread: Kernel.panic("threads: no current thread")
        case .noSuchThread: Kernel.panic("threads: no such thread (already joined or detached?)")
        case .joinSelf: Kernel.panic("threads: a thread joined itself")
        case .alreadyJoined: Kernel.panic("threads: thread already joined or detached")
        case .joinCycle: Kernel.panic("threads: join cycle (deadlock)")
        case .noSuchObject: Kernel.panic("threads: unknown mutex, semaphore or wait queue")
        case .notOwner: Kernel.panic("threads: unlock of a mutex the thread does not own")
        case .alreadyOwner: Kernel.panic("threads: lock of a mutex the thread already owns")
        case .holdsMutex: Kernel.panic("threads: thread exited holding a mutex")
        case .invalidCount: Kernel.panic("threads: semaphore count out of range")
        }
    }
}
