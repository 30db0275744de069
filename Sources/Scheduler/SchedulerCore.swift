// SchedulerCore: the portable, sans-IO core of Swiftlet's cooperative
// scheduler for one vCPU.
//
// It never switches stacks, reads a clock or calls the platform. The kernel
// calls it at every scheduling point with the current time (`next(now:)`)
// and performs the context switch the returned `Decision` names; the
// operations a running thread makes (yield, sleep, wait, join, exit, lock...)
// are calls on the core made by the kernel on the current thread's behalf.
// State changes only through these methods, so tests drive it with a
// simulated clock and get exact, repeatable orders.
//
// Policy: one FIFO run queue, round-robin. A thread that stops running
// without blocking (yield, or `next` called while it is still running, i.e.
// preemption) goes to the back of the run queue before due timers are
// fired, so both paths give the same order. Due deadlines fire in
// (deadline, set-order) order and the woken threads join the back of the
// run queue in that order.
// Costs: spawn, yield, wake-one, exit, join, lock/unlock O(1) amortised;
// sleep and timed waits O(log n); `next` O(log n) per timer fired.
// Wait queues, mutexes and semaphores (WaitQueues.swift) live as
// long as the core (never destroyed); threads are reaped when joined, or at
// exit when detached.
// Limits: one CPU (no locking inside; the caller serialises, e.g. with
// interrupts off); priorities and CPU accounting are not modelled; a thread
// blocked forever with no deadline is only reported as `.idle(until: nil)`.
//
// Tests: Tests/SchedulerTests/.

public final class SchedulerCore {
    var threads = RecordTable()
    var freeSlots: [Int32] = []
    var runQueue = ThreadList()
    var timers = TimerHeap()
    var queues: [WaitQueueRecord] = []
    var currentSlot: Int32 = -1
    /// Threads not finished and not reaped.
    public private(set) var liveThreads = 0

    /// Slots in use or free for reuse (finished threads keep theirs until reaped).
    public var slotCount: Int { threads.count }

    /// What the core's tables take per thread slot, so a kernel can check
    /// before a spawn that they can still grow (Swift traps when an array
    /// cannot; nothing else here allocates after `spawn`).
    public static let bytesPerSlot = MemoryLayout<ThreadRecord>.stride + MemoryLayout<TimerHeap.Entry>.stride
        + 2 * MemoryLayout<Int32>.stride

    public init() {}

    deinit { threads.release() }

    // MARK: Queries

    /// The running thread, if any.
    public var current: ThreadID? { currentSlot >= 0 ? id(of: currentSlot) : nil }

    /// Threads waiting in the run queue.
    public var runnableCount: Int { runQueue.count }

    /// The earliest pending deadline.
    public var nextDeadline: UInt64? { timers.min?.deadline }

    /// nil for an unknown or reaped thread.
    public func state(of thread: ThreadID) -> ThreadState? {
        guard let slot = slot(of: thread) else { return nil }
        let record = threads[Int(slot)]
        switch record.phase {
        case .free: return nil
        case .runnable: return .runnable
        case .running: return .running
        case .sleeping: return .sleeping(until: record.deadline ?? 0)
        case .blocked(let queue): return .blocked(on: blockReason(queue), until: record.deadline)
        case .joining(let target): return .joining(id(of: target))
        case .finished(let value): return .finished(value: value)
        }
    }

    /// Why the thread's last block ended (nil if it never blocked).
    public func wakeReason(of thread: ThreadID) -> WakeReason? {
        slot(of: thread).flatMap { threads[Int($0)].wakeReason }
    }

    public func name(of thread: ThreadID) -> StaticString? {
        slot(of: thread).map { threads[Int($0)].name }
    }

    // MARK: Thread life

    /// A new runnable thread at the back of the run queue.
    public func spawn(name: StaticString) -> ThreadID {
        let slot: Int32
        if let reused = freeSlots.popLast() {
            slot = reused
        } else {
            slot = Int32(threads.count)
            threads.append(ThreadRecord())
            timers.growSlots(to: threads.count)
        }
        let generation = threads[Int(slot)].generation
        threads[Int(slot)] = ThreadRecord(generation: generation, phase: .runnable, name: name)
        runQueue.append(slot, threads)
        liveThreads += 1
        return id(of: slot)
    }

    /// Ends the current thread with `value`. Its joiner (if any) wakes with
    /// `.joined(value)` and the thread is reaped; a detached thread is
    /// reaped; otherwise it stays `.finished` until joined.
    public func exit(value: Int) throws(SchedulerError) {
        let slot = try runningSlot()
        guard threads[Int(slot)].mutexesHeld == 0 else { throw .holdsMutex }
        currentSlot = -1
        liveThreads -= 1
        let joiner = threads[Int(slot)].joiner
        if joiner >= 0 {
            makeRunnable(joiner, reason: .joined(value))
            reap(slot)
        } else if threads[Int(slot)].detached {
            reap(slot)
        } else {
            threads[Int(slot)].phase = .finished(value)
        }
    }

    /// Waits for `target` to finish. Returns its value at once if it has
    /// finished (and reaps it); otherwise blocks the current thread.
    public func join(_ target: ThreadID) throws(SchedulerError) -> JoinResult {
        let caller = try runningSlot()
        guard let slot = slot(of: target) else { throw .noSuchThread }
        guard slot != caller else { throw .joinSelf }
        guard threads[Int(slot)].joiner < 0, !threads[Int(slot)].detached else { throw .alreadyJoined }
        if case .finished(let value) = threads[Int(slot)].phase {
            reap(slot)
            return .finished(value)
        }
        guard !joinChainReaches(caller, from: slot) else { throw .joinCycle }
        threads[Int(slot)].joiner = caller
        block(caller, phase: .joining(target: slot), deadline: nil)
        return .mustWait
    }

    /// Nobody will join `thread`: it is reaped when it exits (now, if it
    /// has already finished).
    public func detach(_ thread: ThreadID) throws(SchedulerError) {
        guard let slot = slot(of: thread) else { throw .noSuchThread }
        guard threads[Int(slot)].joiner < 0, !threads[Int(slot)].detached else { throw .alreadyJoined }
        if case .finished = threads[Int(slot)].phase {
            reap(slot)
        } else {
            threads[Int(slot)].detached = true
        }
    }

    // MARK: Scheduling points

    /// The current thread goes to the back of the run queue.
    public func yield() throws(SchedulerError) {
        let slot = try runningSlot()
        currentSlot = -1
        makeRunnable(slot, reason: nil)
    }

    /// `yield()` followed by `next(now:)` in one step when no deadline is
    /// pending (so no time is needed): the current thread goes to the back
    /// of the run queue and the head becomes current - the same order the
    /// two calls give. nil, with nothing changed, when there is no current
    /// thread, a deadline is pending (use the two calls) or no other thread
    /// is runnable (the current one just goes on).
    public func handOff() -> ThreadID? {
        guard currentSlot >= 0, timers.count == 0, let next = runQueue.popFirst(threads) else { return nil }
        let slot = currentSlot
        threads[Int(slot)].phase = .runnable
        runQueue.append(slot, threads)
        threads[Int(next)].phase = .running
        currentSlot = next
        return id(of: next)
    }

    /// Blocks the current thread until `deadline` (it then wakes with
    /// `.timedOut`). A deadline already past wakes it at the next `next`.
    public func sleep(until deadline: UInt64) throws(SchedulerError) {
        let slot = try runningSlot()
        block(slot, phase: .sleeping, deadline: deadline)
    }

    /// Fires every deadline <= `now`, then picks the thread to run.
    public func next(now: UInt64) -> Decision {
        if currentSlot >= 0 {
            // Preempted (or the kernel did not report a yield): round-robin.
            let slot = currentSlot
            currentSlot = -1
            makeRunnable(slot, reason: nil)
        }
        if timers.count > 0 { fireTimers(now: now) }
        if let slot = runQueue.popFirst(threads) {
            threads[Int(slot)].phase = .running
            currentSlot = slot
            return .run(id(of: slot))
        }
        return liveThreads == 0 ? .allFinished : .idle(until: timers.min?.deadline)
    }

    // MARK: Internals

    func id(of slot: Int32) -> ThreadID {
        ThreadID(index: UInt32(slot), generation: threads[Int(slot)].generation)
    }

    /// The slot of a live or finished thread; nil for unknown or stale ids.
    func slot(of thread: ThreadID) -> Int32? {
        guard thread.index < UInt32(threads.count) else { return nil }
        let record = threads[Int(thread.index)]
        guard record.generation == thread.generation, record.phase != .free else { return nil }
        return Int32(thread.index)
    }

    func runningSlot() throws(SchedulerError) -> Int32 {
        guard currentSlot >= 0 else { throw .noCurrentThread }
        return currentSlot
    }

    /// Takes the current thread off the CPU into `phase` (its list
    /// membership, if any, is the caller's job), with an optional deadline.
    func block(_ slot: Int32, phase: Phase, deadline: UInt64?) {
        threads[Int(slot)].phase = phase
        threads[Int(slot)].deadline = deadline
        if let deadline { timers.insert(slot: slot, deadline: deadline) }
        if slot == currentSlot { currentSlot = -1 }
    }

    /// Back of the run queue; cancels a pending deadline. `reason` nil
    /// keeps the last wake reason (a yield is not a wake-up).
    func makeRunnable(_ slot: Int32, reason: WakeReason?) {
        if threads[Int(slot)].deadline != nil {
            timers.remove(slot: slot)
            threads[Int(slot)].deadline = nil
        }
        if let reason { threads[Int(slot)].wakeReason = reason }
        threads[Int(slot)].phase = .runnable
        runQueue.append(slot, threads)
    }

    private func fireTimers(now: UInt64) {
        while let entry = timers.popDue(now: now) {
            let slot = entry.slot
            if case .blocked(let queue) = threads[Int(slot)].phase {
                // A timed-out waiter leaves its queue: a later wake cannot find it.
                queues[Int(queue)].waiters.remove(slot, threads)
            }
            makeRunnable(slot, reason: .timedOut)
        }
    }

    private func reap(_ slot: Int32) {
        let generation = threads[Int(slot)].generation &+ 1
        threads[Int(slot)] = ThreadRecord(generation: generation)
        freeSlots.append(slot)
    }

    /// True if following "is joining" links from `start` reaches `target`.
    private func joinChainReaches(_ target: Int32, from start: Int32) -> Bool {
        var slot = start
        while case .joining(let next) = threads[Int(slot)].phase {
            if next == target { return true }
            slot = next
        }
        return false
    }
}
