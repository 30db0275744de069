// Device events: how a device (a virtio queue, an hvt device handle, a
// hosted tap or file descriptor) wakes the threads waiting for it.
//
// Each event is one bit of the ready set the platform's wait returns
// (`swiftlet_platform_wait`: hvt's POLL ready set is exactly this, indexed
// by device handle). A thread that found its device empty calls
// `Events.wait(for:until:)`; the scheduler wakes it when the platform
// reports the bit - when it idles, and, while other threads keep running,
// at the first scheduling point a millisecond or more after its last poll.
// Readiness is level-triggered and a wake-up is a hint: the woken thread
// tries its device again.
// Limits: 64 events (the width of the ready set).

import Scheduler
import Swiftlet

public enum Events {
    nonisolated(unsafe) static var queues: [WaitQueueID?] = []
    /// Bits some thread waits for.
    nonisolated(unsafe) static var waiting: UInt64 = 0

    /// Blocks the current thread until the platform reports `event` (true)
    /// or the monotonic clock reaches `deadline` (false).
    public static func wait(for event: DeviceEvent, until deadline: UInt64? = nil) -> Bool {
        let core = Scheduling.core
        let queue = self.queue(event.bit)
        waiting |= 1 << UInt64(event.bit)
        do { try core.wait(on: queue, until: deadline) } catch { Scheduling.misuse(error) }
        let signalled = blockIfNeeded(.mustWait)
        if core.waiterCount(queue) == 0 { waiting &= ~(1 << UInt64(event.bit)) }
        return signalled
    }

    /// Wakes every thread waiting for a bit of `ready` (for the scheduler and
    /// for platforms that learn of readiness outside their wait).
    public static func deliver(_ ready: UInt64) {
        var bits = ready & waiting
        guard bits != 0 else { return }
        let core = Scheduling.core
        waiting &= ~bits
        while bits != 0 {
            let bit = bits.trailingZeroBitCount
            bits &= bits &- 1
            if let queue = queues[bit] { _ = try? core.wakeAll(queue) }
        }
    }

    static func queue(_ bit: Int) -> WaitQueueID {
        while queues.count < 64 { queues.append(nil) }
        if let queue = queues[bit] { return queue }
        let queue = Scheduling.core.makeWaitQueue()
        queues[bit] = queue
        return queue
    }
}
