// SyncTests: the cooperative Mutex and Semaphore of SchedulerCore: FIFO
// hand-off under contention (no barging), misuse errors, timed lock, and
// semaphore counting with FIFO waiters.

@testable import Scheduler
import XCTest

final class SyncTests: XCTestCase {
    func testMutexHandOffOrderUnderContention() {
        let sim = Sim()
        let m = sim.core.makeMutex()
        for name in ["a", "b", "c", "d"] {
            sim.spawn(name, [.lock(m), .mark("in"), .yield, .mark("out"), .unlock(m), .mark("gone")])
        }
        sim.run()
        // a holds it across its yield; b, c, d queue in arrival order; each
        // unlock hands the lock to the next waiter directly.
        XCTAssertEqual(sim.trace, [
            "a:in", "a:out", "a:gone",
            "b:signalled", "b:in", "b:out", "b:gone",
            "c:signalled", "c:in", "c:out", "c:gone",
            "d:signalled", "d:in", "d:out", "d:gone",
        ])
        XCTAssertTrue(sim.errors.isEmpty)
    }

    func testUnlockHandsOffSoLaterArrivalCannotSteal() {
        let core = SchedulerCore()
        let m = core.makeMutex()
        let owner = core.spawn(name: "o"), waiter = core.spawn(name: "w"), thief = core.spawn(name: "t")
        XCTAssertEqual(core.next(now: 0), .run(owner))
        XCTAssertEqual(try core.lock(m), .acquired)
        XCTAssertEqual(core.next(now: 0), .run(waiter))
        XCTAssertEqual(try core.lock(m), .mustWait)
        XCTAssertEqual(core.state(of: waiter), .blocked(on: .mutex(m), until: nil))
        XCTAssertEqual(core.next(now: 0), .run(thief))
        try! core.yield()
        XCTAssertEqual(core.next(now: 0), .run(owner))
        try! core.unlock(m)
        XCTAssertEqual(core.owner(of: m), waiter, "handed off before the waiter runs")
        try! core.yield()
        XCTAssertEqual(core.next(now: 0), .run(thief))
        XCTAssertEqual(try core.tryLock(m), false)
        XCTAssertEqual(try core.lock(m), .mustWait)
        XCTAssertEqual(core.next(now: 0), .run(waiter))
        XCTAssertEqual(core.wakeReason(of: waiter), .signalled)
        try! core.unlock(m)
        XCTAssertEqual(core.owner(of: m), thief)
        XCTAssertNil(core.check())
    }

    func testMutexMisuse() {
        let core = SchedulerCore()
        let m = core.makeMutex()
        let a = core.spawn(name: "a"), b = core.spawn(name: "b")
        XCTAssertEqual(core.next(now: 0), .run(a))
        XCTAssertThrowsError(try core.unlock(m)) { XCTAssertEqual($0 as? SchedulerError, .notOwner) }
        XCTAssertEqual(try core.tryLock(m), true)
        XCTAssertThrowsError(try core.lock(m)) { XCTAssertEqual($0 as? SchedulerError, .alreadyOwner) }
        XCTAssertThrowsError(try core.exit(value: 0)) { XCTAssertEqual($0 as? SchedulerError, .holdsMutex) }
        XCTAssertEqual(core.state(of: a), .running)
        try! core.yield()
        XCTAssertEqual(core.next(now: 0), .run(b))
        XCTAssertThrowsError(try core.unlock(m)) { XCTAssertEqual($0 as? SchedulerError, .notOwner) }
        XCTAssertEqual(core.owner(of: m), a)
        XCTAssertThrowsError(try core.lock(MutexID(index: 42))) {
            XCTAssertEqual($0 as? SchedulerError, .noSuchObject)
        }
        XCTAssertNil(core.check())
    }

    func testTimedLockGivesUpWithoutOwning() {
        let sim = Sim()
        let m = sim.core.makeMutex()
        sim.spawn("holder", [.lock(m), .sleep(100), .unlock(m)])
        sim.spawn("impatient", [.lockTimed(m, timeout: 10), .call({ s, me in
            XCTAssertNotEqual(s.core.owner(of: m), me)
        })])
        sim.spawn("patient", [.lockTimed(m, timeout: 1000), .call({ s, me in
            XCTAssertEqual(s.core.owner(of: m), me)
        }), .unlock(m)])
        sim.run()
        XCTAssertEqual(sim.trace, ["impatient:timedOut", "patient:signalled"])
        XCTAssertNil(sim.core.owner(of: sim.core.makeMutex()))
        XCTAssertTrue(sim.errors.isEmpty)
    }

    func testSemaphoreCountsPermits() {
        let core = SchedulerCore()
        let s = try! core.makeSemaphore(permits: 2)
        let ids = (0..<4).map { _ in core.spawn(name: "t") }
        XCTAssertEqual(core.next(now: 0), .run(ids[0]))
        XCTAssertEqual(try core.acquire(s), .acquired)
        XCTAssertEqual(try core.acquire(s), .acquired)
        XCTAssertEqual(core.permits(of: s), 0)
        XCTAssertEqual(try core.acquire(s), .mustWait)
        XCTAssertEqual(core.next(now: 0), .run(ids[1]))
        XCTAssertEqual(try core.acquire(s), .mustWait)
        XCTAssertEqual(core.next(now: 0), .run(ids[2]))
        // A release goes to the oldest waiter, not to the count.
        try! core.release(s)
        XCTAssertEqual(core.permits(of: s), 0)
        XCTAssertEqual(core.state(of: ids[0]), .runnable)
        XCTAssertEqual(core.state(of: ids[1]), .blocked(on: .semaphore(s), until: nil))
        try! core.release(s)
        try! core.release(s)
        try! core.release(s)
        XCTAssertEqual(core.permits(of: s), 2)
        XCTAssertEqual(try core.acquire(s), .acquired)
        XCTAssertEqual(core.permits(of: s), 1)
        XCTAssertNil(core.check())
    }

    func testSemaphoreBoundsConcurrencyInSimulation() {
        let sim = Sim()
        let s = try! sim.core.makeSemaphore(permits: 2)
        var inside = 0, maxInside = 0
        for i in 0..<6 {
            sim.spawn("w\(i)", [
                .acquire(s),
                .call({ _, _ in inside += 1; maxInside = max(maxInside, inside) }),
                .sleep(10),
                .call({ _, _ in inside -= 1 }),
                .mark("done"),
                .release(s),
            ])
        }
        sim.run()
        XCTAssertEqual(maxInside, 2)
        XCTAssertEqual(sim.now, 30)
        XCTAssertEqual(sim.trace.filter { $0.hasSuffix("done") }, (0..<6).map { "w\($0):done" })
        XCTAssertEqual(sim.core.permits(of: s), 2)
    }

    func testSemaphoreMisuse() {
        let core = SchedulerCore()
        XCTAssertThrowsError(try core.makeSemaphore(permits: -1)) {
            XCTAssertEqual($0 as? SchedulerError, .invalidCount)
        }
        let s = try! core.makeSemaphore(permits: Int.max)
        XCTAssertThrowsError(try core.release(s)) { XCTAssertEqual($0 as? SchedulerError, .invalidCount) }
        XCTAssertThrowsError(try core.acquire(s)) { XCTAssertEqual($0 as? SchedulerError, .noCurrentThread) }
    }
}
