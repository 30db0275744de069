// WaitQueueTests: plain wait queues of SchedulerCore: FIFO signal-one,
// signal-all, timeouts (a timed-out waiter leaves the queue and is never
// woken twice), a signalled timed waiter's deadline is cancelled, and bad
// ids are reported.

@testable import Scheduler
import XCTest

final class WaitQueueTests: XCTestCase {
    func testSignalOneWakesOldestFirst() {
        let sim = Sim()
        let q = sim.core.makeWaitQueue()
        for name in ["a", "b", "c"] { sim.spawn(name, [.wait(q, timeout: nil), .mark("after")]) }
        sim.spawn("waker", [
            .call({ s, _ in XCTAssertEqual(s.core.waiterCount(q), 3) }),
            .wake(q, count: 1), .yield, .wake(q, count: 1), .wake(q, count: 1), .yield,
            .call({ s, _ in XCTAssertEqual(try! s.core.wake(q), 0, "empty queue wakes nobody") }),
        ])
        XCTAssertEqual(sim.run(), .allFinished)
        XCTAssertEqual(sim.trace, [
            "a:signalled", "a:after", "b:signalled", "b:after", "c:signalled", "c:after",
        ])
    }

    func testSignalAllAndCountedWake() {
        let core = SchedulerCore()
        let q = core.makeWaitQueue()
        let ids = (0..<6).map { _ in core.spawn(name: "w") }
        for id in ids {
            XCTAssertEqual(core.next(now: 0), .run(id))
            try! core.wait(on: q)
            XCTAssertEqual(core.state(of: id), .blocked(on: .queue(q), until: nil))
        }
        XCTAssertEqual(core.next(now: 0), .idle(until: nil))
        XCTAssertEqual(try core.wake(q, count: 2), 2)
        XCTAssertEqual(try core.wake(q, count: 0), 0)
        XCTAssertEqual(try core.wakeAll(q), 4)
        XCTAssertEqual(try core.wakeAll(q), 0)
        for id in ids {
            XCTAssertEqual(core.next(now: 0), .run(id))
            XCTAssertEqual(core.wakeReason(of: id), .signalled)
            try! core.exit(value: 0)
        }
        XCTAssertEqual(core.next(now: 0), .allFinished)
    }

    func testTimedOutWaiterLeavesQueueAndIsNotWokenTwice() {
        let core = SchedulerCore()
        let q = core.makeWaitQueue()
        let a = core.spawn(name: "a"), b = core.spawn(name: "b"), c = core.spawn(name: "c")
        XCTAssertEqual(core.next(now: 0), .run(a))
        try! core.wait(on: q, until: 10)
        XCTAssertEqual(core.state(of: a), .blocked(on: .queue(q), until: 10))
        XCTAssertEqual(core.next(now: 0), .run(b))
        try! core.wait(on: q)
        XCTAssertEqual(core.next(now: 0), .run(c))
        try! core.sleep(until: 100)
        XCTAssertEqual(core.next(now: 5), .idle(until: 10))
        XCTAssertEqual(core.next(now: 10), .run(a))
        XCTAssertEqual(core.wakeReason(of: a), .timedOut)
        XCTAssertEqual(core.waiterCount(q), 1, "a left the queue")
        // The signal goes to b, not to a again.
        XCTAssertEqual(try core.wake(q), 1)
        XCTAssertEqual(core.state(of: b), .runnable)
        XCTAssertEqual(try core.wakeAll(q), 0)
        XCTAssertEqual(core.wakeReason(of: a), .timedOut)
        XCTAssertEqual(core.next(now: 11), .run(b))
        XCTAssertEqual(core.wakeReason(of: b), .signalled)
        XCTAssertNil(core.check())
    }

    func testSignalledTimedWaiterCancelsItsDeadline() {
        let core = SchedulerCore()
        let q = core.makeWaitQueue()
        let a = core.spawn(name: "a"), b = core.spawn(name: "b")
        XCTAssertEqual(core.next(now: 0), .run(a))
        try! core.wait(on: q, until: 50)
        XCTAssertEqual(core.next(now: 0), .run(b))
        XCTAssertEqual(core.nextDeadline, 50)
        XCTAssertEqual(try core.wake(q), 1)
        XCTAssertNil(core.nextDeadline, "no stale timer left behind")
        try! core.wait(on: q)
        XCTAssertEqual(core.next(now: 1), .run(a))
        XCTAssertEqual(core.wakeReason(of: a), .signalled)
        try! core.yield()
        // Past a's old deadline nothing fires: a stays runnable and signalled.
        XCTAssertEqual(core.next(now: 100), .run(a))
        XCTAssertEqual(core.wakeReason(of: a), .signalled)
        XCTAssertEqual(core.state(of: b), .blocked(on: .queue(q), until: nil))
    }

    func testSimulatedProducerConsumerWithTimeouts() {
        let sim = Sim()
        let q = sim.core.makeWaitQueue()
        sim.spawn("fast", [.wait(q, timeout: 100), .mark("got")])
        sim.spawn("slow", [.wait(q, timeout: 5), .mark("gave up"), .wait(q, timeout: nil)])
        sim.spawn("producer", [.sleep(20), .wake(q, count: 10), .mark("woke all")])
        sim.run()
        XCTAssertEqual(sim.trace, [
            "slow:timedOut", "slow:gave up", "producer:woke all",
            "fast:signalled", "fast:got", "slow:signalled",
        ])
    }

    func testBadQueueIDs() {
        let core = SchedulerCore()
        let mutex = core.makeMutex()
        // A queue id that names a mutex (only possible by forging) is refused.
        let forged = WaitQueueID(index: mutex.index)
        XCTAssertThrowsError(try core.wake(forged)) { XCTAssertEqual($0 as? SchedulerError, .noSuchObject) }
        XCTAssertThrowsError(try core.wake(WaitQueueID(index: 99))) {
            XCTAssertEqual($0 as? SchedulerError, .noSuchObject)
        }
        XCTAssertEqual(core.waiterCount(WaitQueueID(index: -1)), 0)
        XCTAssertNil(core.owner(of: MutexID(index: 5)))
        XCTAssertNil(core.permits(of: SemaphoreID(index: mutex.index)))
    }
}
