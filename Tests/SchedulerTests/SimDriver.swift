// SimDriver: a tiny simulated kernel for the scheduler core tests. Each
// thread runs a script of steps; the driver asks the core what to run
// (`next(now:)`), "runs" that thread by executing its steps until one
// blocks, yields or exits, and advances a simulated clock when the core is
// idle. It records a trace of marks and wake-ups, and audits the core's
// invariants after every decision, so whole programs replay exactly.

import Scheduler
import XCTest

enum Step {
    /// Appends "name:text" to the trace.
    case mark(String)
    case yield
    /// Sleeps for a duration relative to the simulated clock.
    case sleep(UInt64)
    case sleepUntil(UInt64)
    /// Waits with an optional relative timeout; logs the wake reason.
    case wait(WaitQueueID, timeout: UInt64?)
    case wake(WaitQueueID, count: Int)
    case lock(MutexID)
    case lockTimed(MutexID, timeout: UInt64)
    case unlock(MutexID)
    case acquire(SemaphoreID)
    case release(SemaphoreID)
    /// Joins the thread with this name; logs "name:join=value".
    case join(String)
    /// Spends simulated CPU time (the clock moves on).
    case work(UInt64)
    /// Runs arbitrary test code on behalf of the thread.
    case call((Sim, ThreadID) -> Void)
    case exit(Int)
}

final class Sim {
    let core = SchedulerCore()
    var now: UInt64 = 0
    var trace: [String] = []
    var errors: [SchedulerError] = []
    var ids: [String: ThreadID] = [:]
    var decisions = 0
    private var names: [ThreadID: String] = [:]
    private var scripts: [ThreadID: [Step]] = [:]
    private var pcs: [ThreadID: Int] = [:]
    /// Threads that blocked in a step whose wake-up must be logged on resume.
    private var logOnResume: Set<ThreadID> = []

    @discardableResult
    func spawn(_ name: String, _ steps: [Step]) -> ThreadID {
        let id = core.spawn(name: "sim")
        ids[name] = id
        names[id] = name
        scripts[id] = steps
        pcs[id] = 0
        return id
    }

    /// Runs until everything finished or nothing can ever run again.
    /// Returns the last decision (`.allFinished` or `.idle(until: nil)`).
    @discardableResult
    func run(maxDecisions: Int = 1_000_000, file: StaticString = #filePath, line: UInt = #line) -> Decision {
        while decisions < maxDecisions {
            let decision = core.next(now: now)
            decisions += 1
            guard audit(file: file, line: line) else { return .idle(until: nil) }  // stop at the first failure
            switch decision {
            case .run(let id): runThread(id)
            case .idle(until: let deadline?):
                XCTAssertGreaterThan(deadline, now, "idle with a due deadline", file: file, line: line)
                now = deadline
            case .idle(until: nil), .allFinished: return decision
            }
        }
        XCTFail("simulation did not settle", file: file, line: line)
        return .idle(until: nil)
    }

    /// False (after reporting) if an invariant is broken.
    func audit(file: StaticString = #filePath, line: UInt = #line) -> Bool {
        if let problem = core.check() {
            XCTFail("invariant: \(problem)", file: file, line: line)
            return false
        }
        if let deadline = core.nextDeadline, deadline <= now {
            XCTFail("a sleeper is past its deadline after next", file: file, line: line)
            return false
        }
        return true
    }

    private func log(_ id: ThreadID, _ text: String) { trace.append("\(names[id] ?? "?"):\(text)") }

    private func runThread(_ id: ThreadID) {
        if logOnResume.remove(id) != nil { log(id, describe(core.wakeReason(of: id))) }
        while var pc = pcs[id], let steps = scripts[id] {
            guard pc < steps.count else { finish(id, 0); return }
            let step = steps[pc]
            pc += 1
            pcs[id] = pc
            do {
                if try !perform(step, id) { return }
            } catch {
                errors.append(error as! SchedulerError)
            }
        }
    }

    /// Executes one step; false when the thread left the CPU.
    private func perform(_ step: Step, _ id: ThreadID) throws -> Bool {
        switch step {
        case .mark(let text): log(id, text)
        case .yield: try core.yield(); return false
        case .sleep(let duration): try core.sleep(until: now + duration); return false
        case .sleepUntil(let deadline): try core.sleep(until: deadline); return false
        case .wait(let queue, let timeout):
            try core.wait(on: queue, until: timeout.map { now + $0 })
            logOnResume.insert(id)
            return false
        case .wake(let queue, let count): try core.wake(queue, count: count)
        case .lock(let mutex): return try blockable(core.lock(mutex), id)
        case .lockTimed(let mutex, let timeout): return try blockable(core.lock(mutex, until: now + timeout), id)
        case .unlock(let mutex): try core.unlock(mutex)
        case .acquire(let semaphore): return try blockable(core.acquire(semaphore), id)
        case .release(let semaphore): try core.release(semaphore)
        case .join(let name):
            guard let target = ids[name] else { XCTFail("no thread \(name)"); return true }
            switch try core.join(target) {
            case .finished(let value): log(id, "join=\(value)")
            case .mustWait: logOnResume.insert(id); return false
            }
        case .work(let ticks): now += ticks
        case .call(let body): body(self, id)
        case .exit(let value): finish(id, value); return false
        }
        return true
    }

    private func blockable(_ result: AcquireResult, _ id: ThreadID) -> Bool {
        if result == .acquired { return true }
        logOnResume.insert(id)
        return false
    }

    private func finish(_ id: ThreadID, _ value: Int) {
        do {
            try core.exit(value: value)
        } catch {
            errors.append(error)
        }
        scripts[id] = nil
    }

    func describe(_ reason: WakeReason?) -> String {
        switch reason {
        case .signalled?: return "signalled"
        case .timedOut?: return "timedOut"
        case .joined(let value)?: return "join=\(value)"
        case nil: return "nil"
        }
    }
}
