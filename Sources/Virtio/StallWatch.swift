// StallWatch: a queue the device has stopped serving gets notified again.
//
// Why: publishing buffers is "store avail.idx, full fence, load avail_event";
// the device's side is "store avail_event, full fence, load avail.idx". If
// either fence is missing, both may read the other's old value, each decide
// the other will act, and the queue stalls with buffers published. QEMU's
// TCG before 8.1 leaves a single-vCPU guest's fences out of the code it
// generates (tcg_gen_mb elided without CF_PARALLEL, while the device runs on
// another host thread), so on QEMU 7.2 this happens - rarely, but a stalled
// transmit queue wedges the network for good. Linux guests are rescued by
// their transmit watchdog; ours: whoever waits on a queue wakes at least
// every `interval`, and notifies again when the device made no progress.
// A notification with nothing new is harmless (suppression is only an
// optimisation). With KVM or hardware the fences hold and the watch only
// costs a wake-up per interval of a slow device.

import Swiftlet

struct StallWatch {
    static let interval: UInt64 = 10_000_000

    /// When the queue last made progress (or was last notified again).
    private(set) var since: UInt64

    init(now: UInt64) { since = now }

    mutating func progressed(now: UInt64) { since = now }

    /// The latest a waiter may sleep until (never past `deadline`).
    func wakeUp(before deadline: UInt64?) -> UInt64 {
        min(deadline ?? UInt64.max, since &+ StallWatch.interval)
    }

    /// True once per `interval` without progress: time to notify again.
    mutating func stalled(now: UInt64) -> Bool {
        guard now &- since >= StallWatch.interval else { return false }
        since = now
        return true
    }
}
