// Invariants: an O(n) audit of the scheduler core's structures, for tests
// and for a kernel debug build (never called on a hot path).
//
// It checks that every thread is in exactly the structures its phase says
// (run queue, one wait queue, timer heap, nowhere), that the intrusive lists
// are well linked with no duplicates, the timer heap is ordered, join links
// are mutual, the free list holds exactly the free slots, and that no
// wake-up can be lost (a mutex with waiters has an owner; a semaphore with
// waiters has no permits). It returns the first violation as a message
// rather than trapping, so a kernel can print it.
//
// Tests: Tests/SchedulerTests/SoakTests.swift.

extension SchedulerCore {
    /// nil if every invariant holds, else what is broken.
    public func check() -> StaticString? {
        var listed = [UInt8](repeating: 0, count: threads.count)
        if let problem = checkList(runQueue, phase: .runnable, marks: &listed) { return problem }
        var mutexesHeld = [Int](repeating: 0, count: threads.count)
        for (index, queue) in queues.enumerated() {
            if let problem = checkList(queue.waiters, phase: .blocked(queue: Int32(index)), marks: &listed) {
                return problem
            }
            if let problem = checkQueueOwnership(queue, held: &mutexesHeld) { return problem }
        }
        guard timers.isValid() else { return "timer heap order or positions broken" }
        for entry in timers.entries where threads[Int(entry.slot)].deadline != entry.deadline {
            return "timer entry disagrees with the thread's deadline"
        }
        var live = 0
        for slot in 0..<threads.count {
            if let problem = checkThread(Int32(slot), listed: listed[slot] != 0, held: mutexesHeld[slot]) {
                return problem
            }
            if isLive(threads[slot].phase) { live += 1 }
        }
        guard live == liveThreads else { return "live thread count wrong" }
        return checkFreeSlots()
    }

    private func isLive(_ phase: Phase) -> Bool {
        switch phase {
        case .free, .finished: return false
        default: return true
        }
    }

    /// Walks a list: links sound, every member in `phase`, none listed twice.
    private func checkList(_ list: ThreadList, phase: Phase, marks: inout [UInt8]) -> StaticString? {
        guard let slots = list.walk(threads) else { return "list links broken" }
        for slot in slots {
            guard threads[Int(slot)].phase == phase else { return "listed thread in the wrong phase" }
            guard marks[Int(slot)] == 0 else { return "thread in two lists" }
            marks[Int(slot)] = 1
        }
        return nil
    }

    private func checkQueueOwnership(_ queue: WaitQueueRecord, held: inout [Int]) -> StaticString? {
        switch queue.kind {
        case .plain:
            return nil
        case .mutex:
            if queue.owner < 0 { return queue.waiters.count == 0 ? nil : "unowned mutex has waiters" }
            guard isLive(threads[Int(queue.owner)].phase) else { return "mutex owned by a dead thread" }
            held[Int(queue.owner)] += 1
            return nil
        case .semaphore:
            guard queue.permits >= 0 else { return "negative permits" }
            return queue.permits > 0 && queue.waiters.count > 0 ? "semaphore has permits and waiters" : nil
        }
    }

    /// One slot: list membership, deadline and join links match its phase.
    private func checkThread(_ slot: Int32, listed: Bool, held: Int) -> StaticString? {
        let record = threads[Int(slot)]
        guard record.mutexesHeld == held else { return "mutexesHeld count wrong" }
        guard (record.deadline != nil) == timers.contains(slot) else { return "deadline without timer or back" }
        if !listed && (record.prev >= 0 || record.next >= 0) { return "unlisted thread has links" }
        switch record.phase {
        case .runnable, .blocked:
            guard listed else { return "runnable or blocked thread not in its list" }
            if case .runnable = record.phase, record.deadline != nil { return "runnable thread has a deadline" }
        case .running:
            guard slot == currentSlot, !listed, record.deadline == nil else { return "running thread misplaced" }
        case .sleeping:
            guard !listed, record.deadline != nil else { return "sleeper misplaced" }
        case .joining(let target):
            guard !listed, record.deadline == nil, threads[Int(target)].joiner == slot,
                isLive(threads[Int(target)].phase)
            else { return "join link broken" }
        case .finished, .free:
            guard !listed, record.deadline == nil, record.joiner < 0 else { return "dead thread still scheduled" }
        }
        if record.joiner >= 0 && threads[Int(record.joiner)].phase != .joining(target: slot) {
            return "joiner is not joining"
        }
        if currentSlot == slot && record.phase != .running { return "current thread not running" }
        return nil
    }

    private func checkFreeSlots() -> StaticString? {
        var seen = [Bool](repeating: false, count: threads.count)
        for slot in freeSlots {
            guard threads[Int(slot)].phase == .free, !seen[Int(slot)] else { return "free list wrong" }
            seen[Int(slot)] = true
        }
        for slot in 0..<threads.count where threads[slot].phase == .free && !seen[slot] {
            return "free slot missing from the free list"
        }
        return nil
    }
}
