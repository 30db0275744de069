// SoakTests: scale (10,000 threads spawned, slept and joined) and a seeded
// randomized soak that drives the core with random operations and audits
// every invariant after each step. Failures replay exactly from the seed.

@testable import Scheduler
import TestSupport
import XCTest


final class SoakTests: XCTestCase {
    func testTenThousandThreadsSpawnSleepJoin() {
        let n = 10_000
        let core = SchedulerCore()
        let start = Date()
        let main = core.spawn(name: "main")
        XCTAssertEqual(core.next(now: 0), .run(main))
        var children: [ThreadID] = []
        for _ in 0..<n { children.append(core.spawn(name: "child")) }
        try! core.yield()
        // Every child sleeps; deadlines are scrambled (many equal ones) so the
        // heap does real work; main then joins them in spawn order.
        var deadlineOf: [ThreadID: UInt64] = [:]
        for (i, child) in children.enumerated() {
            XCTAssertEqual(core.next(now: 0), .run(child))
            let deadline = UInt64((i &* 7919) % 1000) + 1
            deadlineOf[child] = deadline
            try! core.sleep(until: deadline)
        }
        XCTAssertEqual(core.next(now: 0), .run(main))
        var joined = 0
        var now: UInt64 = 0
        var lastWake: (UInt64, Int) = (0, -1)
        for (i, child) in children.enumerated() {
            if try! core.join(child) == .mustWait {
                // Run the world until main is back: children wake and exit.
                while core.current != main {
                    switch core.next(now: now) {
                    case .run(let t) where t != main:
                        let d = deadlineOf[t]!
                        XCTAssertLessThanOrEqual(d, now)
                        // Deadline order, FIFO among equal deadlines.
                        let index = Int(t.index) - 1
                        XCTAssertTrue(lastWake < (d, index), "wake order")
                        lastWake = (d, index)
                        try! core.exit(value: i)
                    case .run: break
                    case .idle(until: let d?): now = d
                    default: XCTFail("unexpected decision"); return
                    }
                }
                XCTAssertEqual(core.wakeReason(of: main), .joined(i))
            }
            joined += 1
        }
        XCTAssertEqual(joined, n)
        XCTAssertEqual(core.liveThreads, 1)
        XCTAssertNil(core.check())
        XCTAssertLessThan(Date().timeIntervalSince(start), 2.0)
        // Slots are reused: 10,000 more threads do not grow the table.
        for _ in 0..<n { _ = core.spawn(name: "again") }
        XCTAssertEqual(core.threads.count, n + 1)
    }

    func testManyThreadsRoundRobinInSimulation() {
        let sim = Sim()
        // The driver audits every invariant (O(n)) after each decision, so
        // this stays at 500 threads; the 10,000-thread test above skips it.
        let n = 500
        for i in 0..<n { sim.spawn("t\(i)", [.sleep(UInt64(n - i)), .mark("up"), .yield, .exit(i)]) }
        XCTAssertEqual(sim.run(), .allFinished)
        XCTAssertEqual(sim.now, UInt64(n))
        XCTAssertEqual(sim.trace, (0..<n).reversed().map { "t\($0):up" })
    }

    /// Random operations on the current thread and from "interrupts",
    /// with a full audit after each step.
    func testRandomizedSoakKeepsInvariants() {
        for seed: UInt64 in [1, 2, 3, 0xDEAD_BEEF] {
            soak(seed: seed, steps: 4_000)
        }
    }

    private func soak(seed: UInt64, steps: Int) {
        var rng = SplitMix64(state: seed)
        let core = SchedulerCore()
        let queues = (0..<3).map { _ in core.makeWaitQueue() }
        let mutexes = (0..<2).map { _ in core.makeMutex() }
        let semaphore = try! core.makeSemaphore(permits: 1)
        var known: [ThreadID] = []
        var now: UInt64 = 0
        var seen: [String: Int] = [:]
        for _ in 0..<4 { known.append(core.spawn(name: "seed")) }
        for step in 0..<steps {
            let decision = core.next(now: now)
            if let problem = core.check() { return XCTFail("seed \(seed) step \(step): \(problem)") }
            if let deadline = core.nextDeadline, deadline <= now {
                return XCTFail("seed \(seed) step \(step): sleeper past its deadline")
            }
            switch decision {
            case .run(let id):
                XCTAssertEqual(core.current, id)
                seen["run", default: 0] += 1
                if let reason = core.wakeReason(of: id) { seen["\(reason)".prefix(6).description, default: 0] += 1 }
                act(core, &rng, now: now, queues: queues, mutexes: mutexes, semaphore: semaphore, known: &known)
            case .idle(until: let deadline?):
                seen["idle", default: 0] += 1
                XCTAssertGreaterThan(deadline, now)
                now = deadline
            case .idle(until: nil), .allFinished:
                seen["stuck", default: 0] += 1
                // Keep the world alive: an interrupt wakes someone or a new thread starts.
                if core.liveThreads == 0 || rng.below(2) == 0 {
                    known.append(core.spawn(name: "boot"))
                } else {
                    for queue in queues { _ = try! core.wakeAll(queue) }
                    try? core.release(semaphore)
                }
            }
            // An "interrupt" now and then, and time moves on.
            if rng.below(10) == 0 { _ = try! core.wake(queues[rng.below(3)], count: rng.below(3)) }
            now += UInt64(rng.below(3))
            if let problem = core.check() { return XCTFail("seed \(seed) step \(step) after act: \(problem)") }
        }
        // The soak must actually reach every kind of wake-up and decision.
        for key in ["run", "idle", "signa", "timedO", "joined"] {
            XCTAssertGreaterThan(seen.first { $0.key.hasPrefix(key) }?.value ?? 0, 10, "seed \(seed): few \(key)")
        }
    }

    private func act(
        _ core: SchedulerCore, _ rng: inout SplitMix64, now: UInt64,
        queues: [WaitQueueID], mutexes: [MutexID], semaphore: SemaphoreID, known: inout [ThreadID]
    ) {
        let me = core.current!
        let deadline = rng.below(2) == 0 ? nil : Optional(now + UInt64(rng.below(20)))
        let mutex = mutexes[rng.below(mutexes.count)]
        // Never exit or block while holding a mutex (except on another mutex): release first.
        if core.owner(of: mutexes[0]) == me || core.owner(of: mutexes[1]) == me, rng.below(3) != 0 {
            if core.owner(of: mutex) == me { try! core.unlock(mutex) }
            return
        }
        switch rng.below(12) {
        case 0: try! core.yield()
        case 1: try! core.sleep(until: now + UInt64(rng.below(30)))
        case 2: try! core.wait(on: queues[rng.below(3)], until: deadline)
        case 3: _ = try! core.wake(queues[rng.below(3)], count: rng.below(4))
        case 4 where known.count < 300: known.append(core.spawn(name: "child"))
        case 5:
            do {
                try core.exit(value: Int(me.index))
            } catch {
                XCTAssertEqual(error, .holdsMutex)
            }
        case 6:
            let target = known[rng.below(known.count)]
            do {
                _ = try core.join(target)
            } catch {
                XCTAssertTrue([.noSuchThread, .joinSelf, .alreadyJoined, .joinCycle].contains(error))
            }
        case 7:
            do {
                _ = try core.lock(mutex, until: deadline)
            } catch {
                XCTAssertEqual(error, .alreadyOwner)
            }
        case 8:
            do {
                try core.unlock(mutex)
            } catch {
                XCTAssertEqual(error, .notOwner)
            }
        case 9: _ = try! core.acquire(semaphore, until: deadline)
        case 10: try! core.release(semaphore)
        default:
            let target = known[rng.below(known.count)]
            do {
                try core.detach(target)
            } catch {
                XCTAssertTrue([.noSuchThread, .alreadyJoined].contains(error))
            }
        }
    }
}
