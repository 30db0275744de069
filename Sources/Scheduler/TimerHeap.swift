// TimerHeap: the scheduler's deadlines, a binary min-heap of thread slots
// keyed by (deadline, sequence). The sequence number grows with every
// insertion, so equal deadlines pop in the order they were set (FIFO) and
// the core stays deterministic.
//
// Each slot's position in the heap is kept in `positions`, so a timed
// waiter that is signalled before its deadline is removed in O(log n)
// instead of leaving a stale entry behind (stale entries would pile up and
// make `min` report deadlines nobody waits for). Insert, remove and pop are
// O(log n); `min` is O(1). A slot is in the heap at most once.
// Limits: slots are Int32; the sequence is a UInt64 (never wraps in practice).
//
// Tests: Tests/SchedulerTests/TimerHeapTests.swift.

struct TimerHeap {
    struct Entry {
        var deadline: UInt64
        var sequence: UInt64
        var slot: Int32

        func precedes(_ other: Entry) -> Bool {
            deadline != other.deadline ? deadline < other.deadline : sequence < other.sequence
        }
    }

    private(set) var entries: [Entry] = []
    /// Heap index of each slot, -1 when the slot has no deadline.
    private var positions: [Int32] = []
    private var nextSequence: UInt64 = 0

    var count: Int { entries.count }
    var min: Entry? { entries.first }

    func contains(_ slot: Int32) -> Bool {
        Int(slot) < positions.count && positions[Int(slot)] >= 0
    }

    /// Makes room for slots 0..<slotCount (called when the core adds a
    /// slot), including heap entries for all of them: `insert` then never
    /// allocates, so a sleep cannot fail for lack of memory.
    mutating func growSlots(to slotCount: Int) {
        while positions.count < slotCount { positions.append(-1) }
        if entries.capacity < slotCount { entries.reserveCapacity(Swift.max(slotCount, 2 * entries.capacity)) }
    }

    mutating func insert(slot: Int32, deadline: UInt64) {
        let entry = Entry(deadline: deadline, sequence: nextSequence, slot: slot)
        nextSequence &+= 1
        entries.append(entry)
        place(entries.count - 1)
        siftUp(entries.count - 1)
    }

    /// Removes the slot's entry if it has one.
    mutating func remove(slot: Int32) {
        guard contains(slot) else { return }
        let index = Int(positions[Int(slot)])
        positions[Int(slot)] = -1
        let last = entries.removeLast()
        guard index < entries.count else { return }
        entries[index] = last
        place(index)
        // The moved entry may belong above or below its new place.
        siftUp(index)
        siftDown(Int(positions[Int(last.slot)]))
    }

    /// Removes and returns the earliest entry if it is due (deadline <= now).
    mutating func popDue(now: UInt64) -> Entry? {
        guard let first = entries.first, first.deadline <= now else { return nil }
        remove(slot: first.slot)
        return first
    }

    private mutating func place(_ index: Int) {
        positions[Int(entries[index].slot)] = Int32(index)
    }

    private mutating func swapAt(_ a: Int, _ b: Int) {
        entries.swapAt(a, b)
        place(a)
        place(b)
    }

    private mutating func siftUp(_ start: Int) {
        var child = start
        while child > 0 {
            let parent = (child - 1) / 2
            guard entries[child].precedes(entries[parent]) else { return }
            swapAt(child, parent)
            child = parent
        }
    }

    private mutating func siftDown(_ start: Int) {
        var parent = start
        while true {
            let left = 2 * parent + 1
            guard left < entries.count else { return }
            let right = left + 1
            var best = left
            if right < entries.count && entries[right].precedes(entries[left]) { best = right }
            guard entries[best].precedes(entries[parent]) else { return }
            swapAt(parent, best)
            parent = best
        }
    }

    /// Heap order and position table agree (for `SchedulerCore.check()`).
    func isValid() -> Bool {
        for (index, entry) in entries.enumerated() {
            if Int(entry.slot) >= positions.count || positions[Int(entry.slot)] != Int32(index) { return false }
            if index > 0 && entry.precedes(entries[(index - 1) / 2]) { return false }
        }
        var indexed = 0
        for position in positions where position >= 0 { indexed += 1 }
        return indexed == entries.count
    }
}
