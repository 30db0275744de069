// Cooperative threads and their synchronisation, the application's API:
// `Thread` (spawn, join, detach, yield, sleep, exit), `Mutex`, `Semaphore`
// and `WaitQueue`. Deadlines are on `Kernel.monotonicClock` (nanoseconds).
//
// Threads run one at a time on the one vCPU and switch only when the
// running one blocks, yields or exits: code between those points needs no
// locking. A `Mutex` is for critical sections that block inside (I/O,
// sleeps). Misuse (joining twice, unlocking a mutex one does not own,
// exiting with a mutex held) is a kernel panic naming it.
// Mutex, Semaphore and WaitQueue are handles: copies name the same object.
// Limits: mutexes, semaphores and wait queues are never freed (their
// bookkeeping lives as long as the unikernel); no priorities.

import Scheduler
import Swiftlet

public struct Thread: Equatable {
    let id: ThreadID
    public let name: StaticString

    init(_ id: ThreadID, name: StaticString) {
        self.id = id
        self.name = name
    }

    public static func == (a: Thread, b: Thread) -> Bool { a.id == b.id }

    /// The default stack: small, because an overflow hits the guard page
    /// loudly instead of corrupting memory; deep recursion asks for more.
    public static let defaultStackSize = 16 << 10

    /// Starts `body` on a new thread (at the back of the run queue) with a
    /// stack of `stackSize` bytes and a guard page below it. `body`'s result
    /// is what `join` returns. nil when there is no memory for the stack.
    public static func spawn(name: StaticString, stackSize: Int = defaultStackSize,
                             _ body: @escaping () -> Int) -> Thread? {
        Scheduling.spawn(name: name, stackSize: stackSize, body: body).map { Thread($0, name: name) }
    }

    /// The running thread.
    public static var current: Thread {
        let core = Scheduling.core
        let id = core.current!
        return Thread(id, name: core.name(of: id)!)
    }

    /// Waits for the thread to finish and returns its result.
    public func join() -> Int {
        let core = Scheduling.core
        let result: JoinResult
        do { result = try core.join(id) } catch { Scheduling.misuse(error) }
        switch result {
        case .finished(let value):
            return value
        case .mustWait:
            Scheduling.reschedule()
            guard case .joined(let value) = core.wakeReason(of: core.current!) else {
                Kernel.panic("threads: join woke without a result")
            }
            return value
        }
    }

    /// Nobody will join the thread: it is reaped when it finishes.
    public func detach() {
        do { try Scheduling.core.detach(id) } catch { Scheduling.misuse(error) }
    }

    /// Lets every other runnable thread run once.
    public static func yield() {
        Scheduling.withCore { core in
            if Events.waiting == 0 && core.nextDeadline == nil {
                // The common case needs neither the clock nor a device poll.
                if let next = core.handOff() { Scheduling.switchTo(Int(next.index)) }
                return
            }
            do throws(SchedulerError) { try core.yield() } catch { Scheduling.misuse(error) }
            Scheduling.reschedule()
        }
    }

    public static func sleep(nanoseconds: UInt64) {
        sleep(until: Kernel.monotonicClock &+ nanoseconds)
    }

    public static func sleep(until deadline: UInt64) {
        do { try Scheduling.core.sleep(until: deadline) } catch { Scheduling.misuse(error) }
        Scheduling.reschedule()
    }

    /// Ends the running thread with `value` (main's value becomes the exit
    /// status once every thread has finished).
    public static func exit(_ value: Int) -> Never {
        Scheduling.exitCurrent(value)
    }
}

/// Blocks the current thread in `operation` if the core says so; true when
/// it got what it waited for, false when the deadline passed first.
func blockIfNeeded(_ result: AcquireResult) -> Bool {
    guard result == .mustWait else { return true }
    Scheduling.reschedule()
    let core = Scheduling.core
    return core.wakeReason(of: core.current!) == .signalled
}

/// A mutual-exclusion lock for code that blocks while holding it. FIFO
/// hand-off: an unlock gives the lock to the longest waiter.
public struct Mutex {
    let id: MutexID

    public init() { id = Scheduling.core.makeMutex() }

    public func lock() { _ = lock(until: nil) }

    /// false when `deadline` passed before the lock was free.
    public func lock(until deadline: UInt64?) -> Bool {
        let result: AcquireResult
        do { result = try Scheduling.core.lock(id, until: deadline) } catch { Scheduling.misuse(error) }
        return blockIfNeeded(result)
    }

    public func tryLock() -> Bool {
        do { return try Scheduling.core.tryLock(id) } catch { Scheduling.misuse(error) }
    }

    public func unlock() {
        do { try Scheduling.core.unlock(id) } catch { Scheduling.misuse(error) }
    }

    public func withLock<T>(_ body: () -> T) -> T {
        lock()
        defer { unlock() }
        return body()
    }
}

/// A counting semaphore; waiters are served in arrival order.
public struct Semaphore {
    let id: SemaphoreID

    public init(permits: Int = 0) {
        do { id = try Scheduling.core.makeSemaphore(permits: permits) } catch { Scheduling.misuse(error) }
    }

    /// Takes a permit; false when `deadline` passed first.
    @discardableResult
    public func wait(until deadline: UInt64? = nil) -> Bool {
        let result: AcquireResult
        do { result = try Scheduling.core.acquire(id, until: deadline) } catch { Scheduling.misuse(error) }
        return blockIfNeeded(result)
    }

    public func signal() {
        do { try Scheduling.core.release(id) } catch { Scheduling.misuse(error) }
    }
}

/// Threads waiting for a condition the code that changes it announces.
public struct WaitQueue {
    let id: WaitQueueID

    public init() { id = Scheduling.core.makeWaitQueue() }

    /// Blocks until woken (true) or until `deadline` passes (false).
    @discardableResult
    public func wait(until deadline: UInt64? = nil) -> Bool {
        do { try Scheduling.core.wait(on: id, until: deadline) } catch { Scheduling.misuse(error) }
        return blockIfNeeded(.mustWait)
    }

    /// Wakes the longest waiter; false when nobody waits.
    @discardableResult
    public func wakeOne() -> Bool {
        (try? Scheduling.core.wake(id)) == 1
    }

    @discardableResult
    public func wakeAll() -> Int {
        (try? Scheduling.core.wakeAll(id)) ?? 0
    }

    public var waiterCount: Int { Scheduling.core.waiterCount(id) }
}
