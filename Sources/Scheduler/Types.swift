// Scheduler types: the identifiers, states, decisions and errors that the
// sans-IO scheduler core (SchedulerCore.swift) hands to the kernel.
//
// Identifiers are plain values made only by a core. A `ThreadID` carries a
// generation so that an id kept after its thread was reaped (and its slot
// reused) is detected instead of naming the new thread. Queue, mutex and
// semaphore ids are indices that are never reused (the objects live as long
// as the core); an id from another core instance is not detected beyond a
// range and kind check.
// Nothing here touches the platform; everything compiles in Embedded mode.
//
// Tests: Tests/SchedulerTests/.

/// A thread of one `SchedulerCore`: slot index plus the slot's generation at
/// spawn time, so a stale id (thread reaped, slot reused) never matches.
public struct ThreadID: Hashable {
    public let index: UInt32
    public let generation: UInt32

    init(index: UInt32, generation: UInt32) {
        self.index = index
        self.generation = generation
    }
}

/// A plain FIFO wait queue made by `SchedulerCore.makeWaitQueue()`.
public struct WaitQueueID: Hashable {
    let index: Int32
}

/// A cooperative mutex made by `SchedulerCore.makeMutex()`.
public struct MutexID: Hashable {
    let index: Int32
}

/// A counting semaphore made by `SchedulerCore.makeSemaphore(permits:)`.
public struct SemaphoreID: Hashable {
    let index: Int32
}

/// What a blocked thread waits for.
public enum BlockReason: Equatable {
    case queue(WaitQueueID)
    case mutex(MutexID)
    case semaphore(SemaphoreID)
}

/// The state of a live or finished (not yet reaped) thread. A reaped
/// thread has no state: `state(of:)` returns nil for its id.
public enum ThreadState: Equatable {
    /// In the run queue.
    case runnable
    /// The current thread.
    case running
    /// In the timer heap until `until`.
    case sleeping(until: UInt64)
    /// In a wait queue, and in the timer heap when `until` is not nil.
    case blocked(on: BlockReason, until: UInt64?)
    /// Waiting for `ThreadID` to finish (`join`).
    case joining(ThreadID)
    /// Exited with `value`, waiting to be joined.
    case finished(value: Int)
}

/// Why a thread's last block ended.
public enum WakeReason: Equatable {
    /// Woken by `wake`, a mutex hand-off or a semaphore permit: for a mutex
    /// or semaphore the thread now holds the lock or the permit.
    case signalled
    /// Its deadline passed: a sleep ended, or a timed wait gave up (the
    /// thread was removed from the queue and holds nothing).
    case timedOut
    /// The thread it joined finished with this value.
    case joined(Int)
}

/// What the kernel must do after `SchedulerCore.next(now:)`.
public enum Decision: Equatable {
    /// Switch to this thread (it is now `current`).
    case run(ThreadID)
    /// Nothing is runnable: halt until `until` (nil: no deadline is pending;
    /// only an external `wake`/`release` can make a thread runnable).
    case idle(until: UInt64?)
    /// No thread is live any more (all finished or reaped).
    case allFinished
}

/// Result of an operation that may have to block the current thread.
/// `.mustWait`: the current thread is now blocked and `current` is nil; the
/// kernel must call `next(now:)`. When the thread runs again its
/// `wakeReason` says whether it got what it waited for.
public enum AcquireResult: Equatable {
    case acquired
    case mustWait
}

/// Result of `join`.
public enum JoinResult: Equatable {
    /// The target had finished: here is its exit value (it is now reaped).
    case finished(Int)
    /// The caller is blocked until the target exits; it then wakes with
    /// `WakeReason.joined(value)`.
    case mustWait
}

/// Misuse of the scheduler, reported instead of trapping.
public enum SchedulerError: Error, Equatable {
    /// The operation acts on the current thread and there is none.
    case noCurrentThread
    /// Unknown or stale thread id (never spawned here, or already reaped).
    case noSuchThread
    /// A thread tried to join itself.
    case joinSelf
    /// The target already has a joiner (or was detached).
    case alreadyJoined
    /// Joining would close a cycle of joiners (a deadlock).
    case joinCycle
    /// Unknown queue, mutex or semaphore id.
    case noSuchObject
    /// `unlock` by a thread that does not own the mutex.
    case notOwner
    /// `lock` by the thread that already owns the mutex (it would deadlock).
    case alreadyOwner
    /// `exit` while the thread still owns a mutex.
    case holdsMutex
    /// A semaphore count would be negative or overflow.
    case invalidCount
}
