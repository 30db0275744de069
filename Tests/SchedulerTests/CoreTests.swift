// CoreTests: thread life and scheduling order of SchedulerCore: round-robin
// fairness, preemption, sleeps and deadline order, idle reporting, join,
// detach, stale ids and misuse errors. Deterministic: simulated clock only.

import Scheduler
import XCTest

final class CoreTests: XCTestCase {
    func testEmptyCoreIsAllFinished() {
        let core = SchedulerCore()
        XCTAssertEqual(core.next(now: 0), .allFinished)
        XCTAssertNil(core.current)
    }

    func testSpawnOrderIsRunOrder() {
        let sim = Sim()
        for name in ["a", "b", "c"] { sim.spawn(name, [.mark("run")]) }
        XCTAssertEqual(sim.run(), .allFinished)
        XCTAssertEqual(sim.trace, ["a:run", "b:run", "c:run"])
    }

    func testRoundRobinWithYields() {
        let sim = Sim()
        for name in ["a", "b", "c", "d"] {
            sim.spawn(name, [.mark("1"), .yield, .mark("2"), .yield, .mark("3")])
        }
        sim.run()
        XCTAssertEqual(sim.trace, [
            "a:1", "b:1", "c:1", "d:1",
            "a:2", "b:2", "c:2", "d:2",
            "a:3", "b:3", "c:3", "d:3",
        ])
    }

    func testFairnessManyThreadsExactOrder() {
        let sim = Sim()
        let n = 50, rounds = 20
        for i in 0..<n {
            var steps: [Step] = []
            for r in 0..<rounds { steps += [.mark("\(r)"), .yield] }
            sim.spawn("t\(i)", steps)
        }
        sim.run()
        var expected: [String] = []
        for r in 0..<rounds { for i in 0..<n { expected.append("t\(i):\(r)") } }
        XCTAssertEqual(sim.trace, expected)
    }

    func testHandOffGivesTheOrderOfYieldThenNext() throws {
        // Two cores, same threads: one driven by handOff, one by yield + next.
        let fast = SchedulerCore(), slow = SchedulerCore()
        for name in ["a", "b", "c"] as [StaticString] { _ = fast.spawn(name: name); _ = slow.spawn(name: name) }
        guard case .run = fast.next(now: 0), case .run = slow.next(now: 0) else { return XCTFail("nothing ran") }
        for _ in 0..<10 {
            let picked = try XCTUnwrap(fast.handOff())
            try slow.yield()
            XCTAssertEqual(slow.next(now: 0), .run(picked))
            XCTAssertEqual(fast.state(of: picked), .running)
            XCTAssertNil(fast.check())
        }
    }

    func testHandOffDeclinesWhenAloneOrWhenADeadlineIsPending() throws {
        let core = SchedulerCore()
        XCTAssertNil(core.handOff(), "no current thread")
        let a = core.spawn(name: "a")
        XCTAssertEqual(core.next(now: 0), .run(a))
        XCTAssertNil(core.handOff(), "alone: a goes on")
        XCTAssertEqual(core.current, a)
        let b = core.spawn(name: "b")
        XCTAssertEqual(core.handOff(), b)
        try core.sleep(until: 100)  // b sleeps: a deadline is pending
        XCTAssertEqual(core.next(now: 0), .run(a))
        _ = core.spawn(name: "c")
        XCTAssertNil(core.handOff(), "a deadline is pending: the caller must use yield + next")
        XCTAssertEqual(core.current, a)
        XCTAssertNil(core.check())
    }

    func testPreemptionGoesToBackLikeYield() {
        let core = SchedulerCore()
        let a = core.spawn(name: "a"), b = core.spawn(name: "b")
        XCTAssertEqual(core.next(now: 0), .run(a))
        XCTAssertEqual(core.state(of: a), .running)
        // The kernel calls next without a yield (timer preemption).
        XCTAssertEqual(core.next(now: 1), .run(b))
        XCTAssertEqual(core.state(of: a), .runnable)
        XCTAssertEqual(core.next(now: 2), .run(a))
        // Alone, a preempted thread runs again.
        XCTAssertNoThrow(try core.exit(value: 0))
        XCTAssertEqual(core.next(now: 3), .run(b))
        XCTAssertEqual(core.next(now: 4), .run(b))
    }

    func testYieldingThreadPrecedesThreadsWokenByTimers() {
        // A yield and a preemption both put the thread back before due timers fire.
        let core = SchedulerCore()
        let sleeper = core.spawn(name: "s"), worker = core.spawn(name: "w")
        XCTAssertEqual(core.next(now: 0), .run(sleeper))
        try! core.sleep(until: 5)
        XCTAssertEqual(core.next(now: 0), .run(worker))
        XCTAssertEqual(core.next(now: 5), .run(worker))
        XCTAssertEqual(core.next(now: 5), .run(sleeper))
        XCTAssertEqual(core.wakeReason(of: sleeper), .timedOut)
    }

    func testSleepsWakeInDeadlineOrder() {
        let sim = Sim()
        let durations: [UInt64] = [30, 10, 50, 20, 40]
        for (i, d) in durations.enumerated() { sim.spawn("t\(i)", [.sleep(d), .call({ s, _ in s.trace.append("t\(i)@\(s.now)") })]) }
        sim.run()
        XCTAssertEqual(sim.trace, ["t1@10", "t3@20", "t0@30", "t4@40", "t2@50"])
    }

    func testEqualDeadlinesWakeInFifoOrder() {
        let sim = Sim()
        // Sleeps set in the order c, a, b (spawn order a, b, c but c sleeps first).
        sim.spawn("a", [.yield, .sleepUntil(100), .mark("woke")])
        sim.spawn("b", [.yield, .yield, .sleepUntil(100), .mark("woke")])
        sim.spawn("c", [.sleepUntil(100), .mark("woke")])
        sim.spawn("d", [.sleepUntil(99), .mark("woke")])
        sim.run()
        XCTAssertEqual(sim.trace, ["d:woke", "c:woke", "a:woke", "b:woke"])
    }

    func testAllDueSleepersWakeInOneNext() {
        let core = SchedulerCore()
        let ids = (0..<5).map { _ in core.spawn(name: "t") }
        for (i, id) in ids.enumerated() {
            XCTAssertEqual(core.next(now: 0), .run(id))
            try! core.sleep(until: UInt64(10 - i))
        }
        XCTAssertEqual(core.next(now: 0), .idle(until: 6))
        // Jump well past every deadline: all wake, earliest first.
        XCTAssertEqual(core.next(now: 1000), .run(ids[4]))
        XCTAssertNil(core.nextDeadline)
        XCTAssertEqual(core.runnableCount, 4)
        for id in ids.reversed().dropFirst() { XCTAssertEqual(core.next(now: 1000), .run(id)) }
    }

    func testIdleReportsEarliestDeadlineAndNilWhenNoneCanWake() {
        let core = SchedulerCore()
        let a = core.spawn(name: "a"), b = core.spawn(name: "b")
        let queue = core.makeWaitQueue()
        XCTAssertEqual(core.next(now: 0), .run(a))
        try! core.sleep(until: 70)
        XCTAssertEqual(core.next(now: 0), .run(b))
        try! core.sleep(until: 40)
        XCTAssertEqual(core.next(now: 10), .idle(until: 40))
        XCTAssertEqual(core.next(now: 39), .idle(until: 40))
        XCTAssertEqual(core.next(now: 40), .run(b))
        try! core.wait(on: queue)
        XCTAssertEqual(core.next(now: 41), .idle(until: 70))
        XCTAssertEqual(core.next(now: 70), .run(a))
        try! core.wait(on: queue)
        XCTAssertEqual(core.next(now: 71), .idle(until: nil))
        XCTAssertEqual(core.liveThreads, 2)
        // An external wake (an interrupt, say) makes one runnable again.
        XCTAssertEqual(try core.wake(queue), 1)
        XCTAssertEqual(core.next(now: 72), .run(b))
    }

    func testPastDeadlineSleepActsLikeYield() {
        let core = SchedulerCore()
        let a = core.spawn(name: "a"), b = core.spawn(name: "b")
        XCTAssertEqual(core.next(now: 50), .run(a))
        try! core.sleep(until: 10)
        XCTAssertEqual(core.next(now: 50), .run(b))
        XCTAssertEqual(core.next(now: 50), .run(a))
    }

    func testExitAndAllFinished() {
        let core = SchedulerCore()
        let a = core.spawn(name: "a")
        XCTAssertEqual(core.name(of: a).map { "\($0)" }, "a")
        XCTAssertEqual(core.next(now: 0), .run(a))
        try! core.exit(value: 7)
        XCTAssertNil(core.current)
        XCTAssertEqual(core.state(of: a), .finished(value: 7))
        XCTAssertEqual(core.liveThreads, 0)
        XCTAssertEqual(core.next(now: 0), .allFinished)
    }

    func testOperationsWithoutCurrentThreadThrow() {
        let core = SchedulerCore()
        let a = core.spawn(name: "a")
        XCTAssertThrowsError(try core.yield()) { XCTAssertEqual($0 as? SchedulerError, .noCurrentThread) }
        XCTAssertThrowsError(try core.sleep(until: 1)) { XCTAssertEqual($0 as? SchedulerError, .noCurrentThread) }
        XCTAssertThrowsError(try core.exit(value: 0)) { XCTAssertEqual($0 as? SchedulerError, .noCurrentThread) }
        XCTAssertThrowsError(try core.join(a)) { XCTAssertEqual($0 as? SchedulerError, .noCurrentThread) }
        XCTAssertThrowsError(try core.wait(on: core.makeWaitQueue())) {
            XCTAssertEqual($0 as? SchedulerError, .noCurrentThread)
        }
        XCTAssertNil(core.check())
    }

    // MARK: Join

    func testJoinAfterTargetFinished() {
        let sim = Sim()
        sim.spawn("child", [.exit(42)])
        sim.spawn("parent", [.yield, .join("child"), .mark("done")])
        sim.run()
        XCTAssertEqual(sim.trace, ["parent:join=42", "parent:done"])
        XCTAssertNil(sim.core.state(of: sim.ids["child"]!), "joined thread is reaped")
    }

    func testJoinBeforeTargetFinishedBlocksUntilExit() {
        let sim = Sim()
        sim.spawn("parent", [.join("child"), .mark("done")])
        sim.spawn("child", [.mark("working"), .sleep(10), .mark("exiting"), .exit(-3)])
        sim.spawn("other", [.call({ s, _ in
            XCTAssertEqual(s.core.state(of: s.ids["parent"]!), .joining(s.ids["child"]!))
        })])
        sim.run()
        XCTAssertEqual(sim.trace, ["child:working", "child:exiting", "parent:join=-3", "parent:done"])
        XCTAssertEqual(sim.now, 10)
        XCTAssertEqual(sim.core.wakeReason(of: sim.ids["parent"]!), .joined(-3))
        XCTAssertEqual(sim.core.state(of: sim.ids["parent"]!), .finished(value: 0))
    }

    func testJoinSelfAndDoubleJoinAreErrors() {
        let core = SchedulerCore()
        let a = core.spawn(name: "a"), b = core.spawn(name: "b"), c = core.spawn(name: "c")
        XCTAssertEqual(core.next(now: 0), .run(a))
        XCTAssertThrowsError(try core.join(a)) { XCTAssertEqual($0 as? SchedulerError, .joinSelf) }
        XCTAssertEqual(try core.join(c), .mustWait)
        XCTAssertEqual(core.next(now: 0), .run(b))
        XCTAssertThrowsError(try core.join(c)) { XCTAssertEqual($0 as? SchedulerError, .alreadyJoined) }
        XCTAssertEqual(core.state(of: b), .running, "a failed join does not block")
        try! core.exit(value: 1)
        XCTAssertEqual(core.next(now: 0), .run(c))
        try! core.exit(value: 2)
        XCTAssertEqual(core.next(now: 0), .run(a))
        XCTAssertEqual(core.wakeReason(of: a), .joined(2))
        // The target was reaped by the first join: a second join finds a stale id.
        XCTAssertThrowsError(try core.join(c)) { XCTAssertEqual($0 as? SchedulerError, .noSuchThread) }
        XCTAssertEqual(try core.join(b), .finished(1))
        XCTAssertThrowsError(try core.join(b)) { XCTAssertEqual($0 as? SchedulerError, .noSuchThread) }
        XCTAssertNil(core.check())
    }

    func testJoinCycleIsRefused() {
        let core = SchedulerCore()
        let a = core.spawn(name: "a"), b = core.spawn(name: "b"), c = core.spawn(name: "c")
        XCTAssertEqual(core.next(now: 0), .run(a))
        XCTAssertEqual(try core.join(b), .mustWait)
        XCTAssertEqual(core.next(now: 0), .run(b))
        XCTAssertEqual(try core.join(c), .mustWait)
        XCTAssertEqual(core.next(now: 0), .run(c))
        XCTAssertThrowsError(try core.join(a)) { XCTAssertEqual($0 as? SchedulerError, .joinCycle) }
        XCTAssertEqual(core.current, c)
        XCTAssertNil(core.check())
    }

    func testStaleThreadIDAfterSlotReuse() {
        let core = SchedulerCore()
        let parent = core.spawn(name: "p"), child = core.spawn(name: "c")
        XCTAssertEqual(core.next(now: 0), .run(parent))
        try! core.yield()
        XCTAssertEqual(core.next(now: 0), .run(child))
        try! core.exit(value: 5)
        XCTAssertEqual(core.next(now: 0), .run(parent))
        XCTAssertEqual(try core.join(child), .finished(5))
        let reused = core.spawn(name: "r")
        XCTAssertEqual(reused.index, child.index, "slot reused")
        XCTAssertNotEqual(reused, child)
        XCTAssertNil(core.state(of: child))
        XCTAssertNil(core.wakeReason(of: child))
        XCTAssertNil(core.name(of: child))
        XCTAssertEqual(core.state(of: reused), .runnable)
        XCTAssertThrowsError(try core.join(child)) { XCTAssertEqual($0 as? SchedulerError, .noSuchThread) }
        XCTAssertThrowsError(try core.detach(child)) { XCTAssertEqual($0 as? SchedulerError, .noSuchThread) }
        // An id from another core (out of range) is unknown too.
        let other = SchedulerCore()
        for _ in 0..<10 { _ = other.spawn(name: "x") }
        let foreign = other.spawn(name: "y")
        XCTAssertNil(core.state(of: foreign))
        XCTAssertThrowsError(try core.join(foreign)) { XCTAssertEqual($0 as? SchedulerError, .noSuchThread) }
    }

    func testDetach() {
        let core = SchedulerCore()
        let a = core.spawn(name: "a"), b = core.spawn(name: "b"), c = core.spawn(name: "c")
        try! core.detach(b)
        XCTAssertThrowsError(try core.detach(b)) { XCTAssertEqual($0 as? SchedulerError, .alreadyJoined) }
        XCTAssertEqual(core.next(now: 0), .run(a))
        XCTAssertThrowsError(try core.join(b)) { XCTAssertEqual($0 as? SchedulerError, .alreadyJoined) }
        try! core.exit(value: 0)
        XCTAssertEqual(core.next(now: 0), .run(b))
        try! core.exit(value: 0)
        XCTAssertNil(core.state(of: b), "detached thread reaped at exit")
        XCTAssertEqual(core.state(of: a), .finished(value: 0))
        try! core.detach(a)
        XCTAssertNil(core.state(of: a), "finished thread reaped by detach")
        XCTAssertEqual(core.next(now: 0), .run(c))
        XCTAssertThrowsError(try core.join(c)) { XCTAssertEqual($0 as? SchedulerError, .joinSelf) }
        XCTAssertNil(core.check())
    }
}
