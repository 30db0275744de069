// ThreadTable: per-thread records and the intrusive FIFO lists (run queue,
// wait queues) threaded through them.
//
// A thread is in at most one list at a time (runnable: the run queue;
// blocked: its wait queue), so one prev/next pair per record suffices and
// append, pop and removal from the middle (a timed-out waiter) are O(1)
// with no allocation and no duplicates possible. Slots of reaped threads
// are reused (LIFO free list) with their generation bumped.
// Limits: at most Int32.max slots; a generation wraps after 2^32 reuses of
// one slot, after which a very old stale id would match again.
//
// Tests: Tests/SchedulerTests/ (through SchedulerCore).

/// Internal phase of a slot; `ThreadState` is derived from it.
enum Phase: Equatable {
    case free
    case runnable
    case running
    case sleeping
    case blocked(queue: Int32)
    case joining(target: Int32)
    case finished(Int)
}

struct ThreadRecord {
    var generation: UInt32 = 0
    var phase: Phase = .free
    var name: StaticString = ""
    /// Set while the slot is in the timer heap.
    var deadline: UInt64? = nil
    var wakeReason: WakeReason? = nil
    /// Slot of the thread blocked in `join` on this one, -1 if none.
    var joiner: Int32 = -1
    var detached = false
    /// Mutexes currently owned (an exit while holding one is refused).
    var mutexesHeld = 0
    var prev: Int32 = -1
    var next: Int32 = -1
}

/// The thread records, in memory the table manages itself: the scheduler's
/// hot paths touch them several times per switch, and a Swift Array would
/// check uniqueness (copy-on-write) on every write. Indices are checked.
/// Owned by one SchedulerCore, which frees it (`release`).
struct RecordTable: RandomAccessCollection {
    private var base: UnsafeMutablePointer<ThreadRecord>? = nil
    private(set) var count = 0
    private var capacity = 0

    var startIndex: Int { 0 }
    var endIndex: Int { count }

    subscript(index: Int) -> ThreadRecord {
        unsafeAddress {
            precondition(index >= 0 && index < count, "thread slot out of range")
            return UnsafePointer(base.unsafelyUnwrapped + index)
        }
        nonmutating unsafeMutableAddress {
            precondition(index >= 0 && index < count, "thread slot out of range")
            return base.unsafelyUnwrapped + index
        }
    }

    mutating func append(_ record: ThreadRecord) {
        if count == capacity {
            let grown = Swift.max(16, 2 * capacity)
            let memory = UnsafeMutablePointer<ThreadRecord>.allocate(capacity: grown)
            if let base {
                memory.moveInitialize(from: base, count: count)
                base.deallocate()
            }
            base = memory
            capacity = grown
        }
        (base.unsafelyUnwrapped + count).initialize(to: record)
        count += 1
    }

    func release() {
        guard let base else { return }
        base.deinitialize(count: count)
        base.deallocate()
    }
}

/// Head of an intrusive FIFO list of thread slots.
struct ThreadList {
    private(set) var head: Int32 = -1
    private(set) var tail: Int32 = -1
    private(set) var count = 0

    mutating func append(_ slot: Int32, _ threads: RecordTable) {
        threads[Int(slot)].prev = tail
        threads[Int(slot)].next = -1
        if tail >= 0 { threads[Int(tail)].next = slot } else { head = slot }
        tail = slot
        count += 1
    }

    mutating func popFirst(_ threads: RecordTable) -> Int32? {
        guard head >= 0 else { return nil }
        let slot = head
        remove(slot, threads)
        return slot
    }

    /// Unlinks `slot`, which must be in this list.
    mutating func remove(_ slot: Int32, _ threads: RecordTable) {
        let prev = threads[Int(slot)].prev
        let next = threads[Int(slot)].next
        if prev >= 0 { threads[Int(prev)].next = next } else { head = next }
        if next >= 0 { threads[Int(next)].prev = prev } else { tail = prev }
        threads[Int(slot)].prev = -1
        threads[Int(slot)].next = -1
        count -= 1
    }

    /// The slots in order, or nil if the links are inconsistent (broken
    /// back links, a cycle, or a count mismatch). For `check()` and tests.
    func walk(_ threads: RecordTable) -> [Int32]? {
        var out: [Int32] = []
        var slot = head
        var prev: Int32 = -1
        while slot >= 0 {
            guard Int(slot) < threads.count, threads[Int(slot)].prev == prev, out.count < count else { return nil }
            out.append(slot)
            prev = slot
            slot = threads[Int(slot)].next
        }
        return prev == tail && out.count == count ? out : nil
    }
}
