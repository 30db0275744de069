// Threads on the hosted platform: the real scheduler, the real context
// switch (Sources/Context) and real stacks with PROT_NONE guard pages, in
// this test process. The XCTest thread becomes the thread "main" on first
// use; every test joins what it spawns, so the next one starts clean.
// Sleeps run on the real monotonic clock and are checked loosely.

import Glibc
import PlatformHosted
import Swiftlet
import Threads
import XCTest

final class ThreadsTests: XCTestCase {
    func testJoinReturnsEachThreadsValue() {
        let threads = (0..<5).map { i in Thread.spawn(name: "worker") { i * i }! }
        XCTAssertEqual(threads.map { $0.join() }, [0, 1, 4, 9, 16])
        XCTAssertEqual(threads.first?.name.description, "worker")
    }

    func testYieldIsRoundRobinInSpawnOrder() {
        var trace: [String] = []
        let threads = ["a", "b", "c"].map { name in
            Thread.spawn(name: "yielder") {
                for round in 0..<3 {
                    trace.append("\(name)\(round)")
                    Thread.yield()
                }
                return 0
            }!
        }
        for thread in threads { _ = thread.join() }
        XCTAssertEqual(trace, ["a0", "b0", "c0", "a1", "b1", "c1", "a2", "b2", "c2"])
    }

    func testSleepersWakeInDeadlineOrderAndNotEarly() {
        var woke: [Int] = []
        let start = Kernel.monotonicClock
        let threads = [30, 10, 20].map { ms in
            Thread.spawn(name: "sleeper") {
                Thread.sleep(nanoseconds: UInt64(ms) * 1_000_000)
                woke.append(ms)
                return Int(Kernel.monotonicClock - start) / 1_000_000
            }!
        }
        let elapsed = threads.map { $0.join() }
        XCTAssertEqual(woke, [10, 20, 30])
        for (ms, took) in zip([30, 10, 20], elapsed) {
            XCTAssertGreaterThanOrEqual(took, ms)
            XCTAssertLessThan(took, ms + 1000)
        }
    }

    func testMutexKeepsACriticalSectionThatYields() {
        let mutex = Mutex()
        var counter = 0, inside = 0, overlap = false
        let threads = (0..<4).map { _ in
            Thread.spawn(name: "adder") {
                for _ in 0..<50 {
                    mutex.withLock {
                        inside += 1
                        overlap = overlap || inside > 1
                        let seen = counter
                        Thread.yield()
                        counter = seen + 1
                        inside -= 1
                    }
                }
                return 0
            }!
        }
        for thread in threads { _ = thread.join() }
        XCTAssertEqual(counter, 200)
        XCTAssertFalse(overlap)
        XCTAssertTrue(mutex.tryLock())
        mutex.unlock()
    }

    func testSemaphoreTimesOutThenIsSignalled() {
        let semaphore = Semaphore()
        XCTAssertFalse(semaphore.wait(until: Kernel.monotonicClock + 5_000_000), "nobody signals: the wait times out")
        let signaller = Thread.spawn(name: "signaller") {
            Thread.sleep(nanoseconds: 2_000_000)
            semaphore.signal()
            return 0
        }!
        XCTAssertTrue(semaphore.wait(until: Kernel.monotonicClock + 10_000_000_000))
        _ = signaller.join()
    }

    func testWaitQueueWakesOneThenAll() {
        let queue = WaitQueue()
        var woken: [Int] = []
        let threads = (0..<3).map { i in
            Thread.spawn(name: "waiter") {
                XCTAssertTrue(queue.wait())
                woken.append(i)
                return 0
            }!
        }
        Thread.yield()  // all three are waiting now
        XCTAssertEqual(queue.waiterCount, 3)
        XCTAssertTrue(queue.wakeOne())
        Thread.yield()
        XCTAssertEqual(woken, [0])
        XCTAssertEqual(queue.wakeAll(), 2)
        for thread in threads { _ = thread.join() }
        XCTAssertEqual(woken, [0, 1, 2])
        XCTAssertFalse(queue.wakeOne())
    }

    /// The device event interface on hosted: a pipe's read end is the device.
    func testDeviceEventWakesTheWaitingThread() throws {
        var ends: [Int32] = [0, 0]
        XCTAssertEqual(pipe(&ends), 0)
        XCTAssertEqual(fcntl(ends[0], F_SETFL, O_NONBLOCK), 0, "a device is polled, never read blocking")
        defer { close(ends[0]); close(ends[1]) }
        let event = try XCTUnwrap(HostedEvents.register(descriptor: ends[0]))
        defer { HostedEvents.unregister(descriptor: ends[0]) }

        XCTAssertFalse(Events.wait(for: event, until: Kernel.monotonicClock + 3_000_000), "nothing written: timeout")
        let reader = Thread.spawn(name: "reader") {
            var byte: UInt8 = 0
            while read(ends[0], &byte, 1) != 1 {
                guard Events.wait(for: event, until: Kernel.monotonicClock + 10_000_000_000) else { return -1 }
            }
            return Int(byte)
        }!
        Thread.yield()  // the reader finds the pipe empty and waits
        let writer = Thread.spawn(name: "writer") {
            Thread.sleep(nanoseconds: 2_000_000)
            var byte: UInt8 = 42
            return write(ends[1], &byte, 1)
        }!
        XCTAssertEqual(writer.join(), 1)
        XCTAssertEqual(reader.join(), 42)
    }

    func testThousandsOfThreadsAndStacksAreReused() {
        let before = Kernel.memory.heap.inUse
        for _ in 0..<3 {
            let threads = (0..<1000).map { i in
                Thread.spawn(name: "many") {
                    Thread.yield()
                    return i
                }!
            }
            XCTAssertEqual(threads.map { $0.join() }.reduce(0, +), 999 * 1000 / 2)
        }
        // The stacks went back to the heap, except the few kept for reuse.
        let kept = Kernel.memory.heap.inUse - before
        XCTAssertLessThan(kept, 8 * (Thread.defaultStackSize + 8192) + (1 << 20), "\(kept) bytes still used")
    }

    func testDetachedThreadIsReapedWhenItEnds() {
        var ran = false
        Thread.spawn(name: "detached") {
            ran = true
            return 0
        }!.detach()
        Thread.sleep(nanoseconds: 1_000_000)
        XCTAssertTrue(ran)
    }
}
