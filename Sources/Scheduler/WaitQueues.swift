// WaitQueues: FIFO wait queues of the scheduler core, and the mutexes and
// semaphores built on them.
//
// Every blocking object is one `WaitQueueRecord`: a plain queue (woken by
// `wake`), a mutex (owner + waiters) or a semaphore (permits + waiters).
// Waiters are served strictly in arrival order. Mutex unlock and semaphore
// release hand the lock/permit directly to the first waiter before it even
// runs, so a thread arriving later cannot steal it (no barging): a waiter
// that wakes with `.signalled` owns what it waited for. A waiter whose
// deadline passes is removed from the queue by `next(now:)` and wakes with
// `.timedOut`, owning nothing. Waking, unlocking and releasing do not need
// a current thread except `unlock` (ownership is checked), so interrupt
// paths in the kernel can call `wake` and `release`.
// Limits: objects are never destroyed (ids are never reused); mutexes are
// not recursive (`lock` by the owner throws `.alreadyOwner`); no priority
// inheritance.
//
// Tests: Tests/SchedulerTests/WaitQueueTests.swift, SyncTests.swift.

struct WaitQueueRecord {
    enum Kind { case plain, mutex, semaphore }
    let kind: Kind
    var waiters = ThreadList()
    /// Mutex owner slot, -1 when unlocked.
    var owner: Int32 = -1
    /// Semaphore permits available.
    var permits = 0
}

extension SchedulerCore {
    // MARK: Plain wait queues

    public func makeWaitQueue() -> WaitQueueID {
        WaitQueueID(index: addQueue(WaitQueueRecord(kind: .plain)))
    }

    /// Blocks the current thread on `queue` until woken by `wake`
    /// (`.signalled`) or until `deadline` passes (`.timedOut`).
    public func wait(on queue: WaitQueueID, until deadline: UInt64? = nil) throws(SchedulerError) {
        let index = try queueIndex(queue.index, kind: .plain)
        try enqueueCurrent(on: index, until: deadline)
    }

    /// Wakes up to `count` waiters, oldest first, with `.signalled`.
    /// Returns how many were woken.
    @discardableResult
    public func wake(_ queue: WaitQueueID, count: Int = 1) throws(SchedulerError) -> Int {
        let index = try queueIndex(queue.index, kind: .plain)
        var woken = 0
        while woken < count, let slot = queues[Int(index)].waiters.popFirst(threads) {
            makeRunnable(slot, reason: .signalled)
            woken += 1
        }
        return woken
    }

    @discardableResult
    public func wakeAll(_ queue: WaitQueueID) throws(SchedulerError) -> Int {
        try wake(queue, count: Int.max)
    }

    public func waiterCount(_ queue: WaitQueueID) -> Int {
        (try? queueIndex(queue.index, kind: .plain)).map { queues[Int($0)].waiters.count } ?? 0
    }

    // MARK: Mutex

    public func makeMutex() -> MutexID {
        MutexID(index: addQueue(WaitQueueRecord(kind: .mutex)))
    }

    /// Takes the mutex for the current thread, or blocks it (FIFO) until an
    /// unlock hands the mutex over (`.signalled`) or `deadline` passes.
    public func lock(_ mutex: MutexID, until deadline: UInt64? = nil) throws(SchedulerError) -> AcquireResult {
        let index = try queueIndex(mutex.index, kind: .mutex)
        let caller = try runningSlot()
        let owner = queues[Int(index)].owner
        if owner == caller { throw .alreadyOwner }
        if owner < 0 {
            setOwner(of: index, to: caller)
            return .acquired
        }
        try enqueueCurrent(on: index, until: deadline)
        return .mustWait
    }

    /// Takes the mutex if it is free; never blocks.
    public func tryLock(_ mutex: MutexID) throws(SchedulerError) -> Bool {
        let index = try queueIndex(mutex.index, kind: .mutex)
        let caller = try runningSlot()
        guard queues[Int(index)].owner < 0 else { return false }
        setOwner(of: index, to: caller)
        return true
    }

    /// Releases the mutex owned by the current thread, handing it to the
    /// first waiter if there is one.
    public func unlock(_ mutex: MutexID) throws(SchedulerError) {
        let index = try queueIndex(mutex.index, kind: .mutex)
        let caller = try runningSlot()
        guard queues[Int(index)].owner == caller else { throw .notOwner }
        threads[Int(caller)].mutexesHeld -= 1
        queues[Int(index)].owner = -1
        if let next = queues[Int(index)].waiters.popFirst(threads) {
            setOwner(of: index, to: next)
            makeRunnable(next, reason: .signalled)
        }
    }

    public func owner(of mutex: MutexID) -> ThreadID? {
        guard let index = try? queueIndex(mutex.index, kind: .mutex) else { return nil }
        let owner = queues[Int(index)].owner
        return owner >= 0 ? id(of: owner) : nil
    }

    // MARK: Semaphore

    public func makeSemaphore(permits: Int) throws(SchedulerError) -> SemaphoreID {
        guard permits >= 0 else { throw .invalidCount }
        return SemaphoreID(index: addQueue(WaitQueueRecord(kind: .semaphore, permits: permits)))
    }

    /// Takes a permit, or blocks (FIFO) until a release hands one over
    /// (`.signalled`) or `deadline` passes.
    public func acquire(_ semaphore: SemaphoreID, until deadline: UInt64? = nil) throws(SchedulerError) -> AcquireResult {
        let index = try queueIndex(semaphore.index, kind: .semaphore)
        _ = try runningSlot()
        if queues[Int(index)].permits > 0 {
            queues[Int(index)].permits -= 1
            return .acquired
        }
        try enqueueCurrent(on: index, until: deadline)
        return .mustWait
    }

    /// Returns a permit: to the first waiter if any, else to the count.
    public func release(_ semaphore: SemaphoreID) throws(SchedulerError) {
        let index = try queueIndex(semaphore.index, kind: .semaphore)
        if let next = queues[Int(index)].waiters.popFirst(threads) {
            makeRunnable(next, reason: .signalled)
            return
        }
        guard queues[Int(index)].permits < Int.max else { throw .invalidCount }
        queues[Int(index)].permits += 1
    }

    public func permits(of semaphore: SemaphoreID) -> Int? {
        (try? queueIndex(semaphore.index, kind: .semaphore)).map { queues[Int($0)].permits }
    }

    // MARK: Internals

    func blockReason(_ index: Int32) -> BlockReason {
        switch queues[Int(index)].kind {
        case .plain: return .queue(WaitQueueID(index: index))
        case .mutex: return .mutex(MutexID(index: index))
        case .semaphore: return .semaphore(SemaphoreID(index: index))
        }
    }

    private func addQueue(_ record: WaitQueueRecord) -> Int32 {
        queues.append(record)
        return Int32(queues.count - 1)
    }

    private func queueIndex(_ index: Int32, kind: WaitQueueRecord.Kind) throws(SchedulerError) -> Int32 {
        guard index >= 0, Int(index) < queues.count, queues[Int(index)].kind == kind else { throw .noSuchObject }
        return index
    }

    private func enqueueCurrent(on index: Int32, until deadline: UInt64?) throws(SchedulerError) {
        let slot = try runningSlot()
        queues[Int(index)].waiters.append(slot, threads)
        block(slot, phase: .blocked(queue: index), deadline: deadline)
    }

    private func setOwner(of index: Int32, to slot: Int32) {
        queues[Int(index)].owner = slot
        threads[Int(slot)].mutexesHeld += 1
    }
}
