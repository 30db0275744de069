// TimerHeapTests: the (deadline, sequence) min-heap against a sorted model,
// with removals from the middle, equal deadlines in insertion order, and
// position-table consistency after every operation.

@testable import Scheduler
import TestSupport
import XCTest

final class TimerHeapTests: XCTestCase {
    func testEqualDeadlinesPopInInsertionOrder() {
        var heap = TimerHeap()
        heap.growSlots(to: 8)
        for slot: Int32 in [5, 2, 7, 0] { heap.insert(slot: slot, deadline: 10) }
        heap.insert(slot: 3, deadline: 9)
        var order: [Int32] = []
        while let entry = heap.popDue(now: 10) { order.append(entry.slot) }
        XCTAssertEqual(order, [3, 5, 2, 7, 0])
        XCTAssertNil(heap.min)
    }

    func testPopDueStopsAtNow() {
        var heap = TimerHeap()
        heap.growSlots(to: 3)
        heap.insert(slot: 0, deadline: 5)
        heap.insert(slot: 1, deadline: 6)
        XCTAssertEqual(heap.popDue(now: 5)?.slot, 0)
        XCTAssertNil(heap.popDue(now: 5))
        XCTAssertEqual(heap.min?.deadline, 6)
        XCTAssertTrue(heap.contains(1))
        XCTAssertFalse(heap.contains(0))
        heap.remove(slot: 0)  // absent: no effect
        XCTAssertEqual(heap.count, 1)
    }

    func testRandomAgainstModel() {
        var rng = SplitMix64(state: 77)
        var heap = TimerHeap()
        let slots = 200
        heap.growSlots(to: slots)
        var model: [Int32: (UInt64, Int)] = [:]  // slot -> (deadline, insertion number)
        var inserted = 0
        for _ in 0..<20_000 {
            let slot = Int32(rng.below(slots))
            switch rng.below(3) {
            case 0 where model[slot] == nil:
                let deadline = UInt64(rng.below(50))
                heap.insert(slot: slot, deadline: deadline)
                model[slot] = (deadline, inserted)
                inserted += 1
            case 1:
                heap.remove(slot: slot)
                model[slot] = nil
            default:
                let now = UInt64(rng.below(50))
                let expected = model.filter { $0.value.0 <= now }.sorted { $0.value < $1.value }.map(\.key)
                var got: [Int32] = []
                while let entry = heap.popDue(now: now) { got.append(entry.slot) }
                XCTAssertEqual(got, expected)
                for slot in got { model[slot] = nil }
            }
            XCTAssertTrue(heap.isValid())
            XCTAssertEqual(heap.count, model.count)
        }
    }
}
