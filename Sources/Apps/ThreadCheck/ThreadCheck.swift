// threads: the cooperative-thread test application. Its first argument picks
// one scenario; the boot tests assert on its output and exit status.
//   pingpong N      two threads hand a token back and forth N times (semaphores)
//   sleep MS...     one thread per interval sleeps it; they must finish in order
//   mutex N         4 threads add 1 to a counter N times each, yielding inside the lock
//   exit S          main ends with Thread.exit(S) while 3 workers still sleep: the
//                   unikernel must exit with S after their last line
//   many N KIB      spawns up to N threads with KIB-KiB stacks that all sleep at once
//   idle S          sleeps S seconds (for the idle-CPU benchmark)
//   overflow        a thread recurses into its stack's guard page (panic report)
//   deadlock        main waits on a semaphore nobody signals (panic report)
// Exit 0 when the scenario's own checks hold, 1 when one fails, 2 on a bad command line.

import Swiftlet
import Threads

@main
struct ThreadCheck {
    static func main() {
        let arguments = Kernel.rawArguments
        guard let which = arguments.first else { usage() }
        let numbers = arguments.dropFirst().map { number($0) }
        if which == "pingpong" {
            pingPong(rounds: numbers.first ?? 1000)
        } else if which == "sleep" {
            sleeps(milliseconds: numbers)
        } else if which == "mutex" {
            mutex(iterations: numbers.first ?? 100)
        } else if which == "exit" {
            exitAfterWorkers(status: numbers.first ?? 0)
        } else if which == "many" {
            many(limit: numbers.first ?? 1000, stackKiB: numbers.count > 1 ? numbers[1] : 16)
        } else if which == "idle" {
            Console.print("idle: sleeping")
            Thread.sleep(nanoseconds: UInt64(numbers.first ?? 1) * 1_000_000_000)
            Console.print("idle: awake")
        } else if which == "overflow" {
            let thread = Thread.spawn(name: "deep-recursion") { recurse(0, limit: opaque(Int.max)) }!
            Console.print("threads: joined \(thread.join()) (this is a bug)")
            Kernel.exit(1)
        } else if which == "deadlock" {
            Semaphore().wait()
            Console.print("threads: woke from a deadlock (this is a bug)")
            Kernel.exit(1)
        } else {
            usage()
        }
    }

    static func usage() -> Never {
        Console.print("usage: threads pingpong N | sleep MS... | mutex N | exit S | many N KIB | idle S | overflow | deadlock")
        Kernel.exit(2)
    }

    static func number(_ argument: RawArgument) -> Int {
        var value = 0
        for byte in argument.utf8 {
            guard byte >= 48 && byte <= 57 && value < 1_000_000_000 else { usage() }
            value = value * 10 + Int(byte - 48)
        }
        return value
    }

    static func check(_ ok: Bool, _ what: StaticString) {
        if !ok {
            Console.print("threads: FAILED: \(what)")
            Kernel.exit(1)
        }
    }

    static func pingPong(rounds: Int) {
        let ping = Semaphore(), pong = Semaphore()
        var trace: [UInt8] = []
        let a = Thread.spawn(name: "ping") {
            for _ in 0..<rounds { trace.append(1); pong.signal(); ping.wait() }
            return 1
        }!
        let b = Thread.spawn(name: "pong") {
            for _ in 0..<rounds { pong.wait(); trace.append(2); ping.signal() }
            return 2
        }!
        let start = Kernel.monotonicClock
        check(a.join() == 1 && b.join() == 2, "join results")
        let elapsed = Kernel.monotonicClock &- start
        check(trace.count == 2 * rounds, "every round ran")
        for (i, who) in trace.enumerated() { check(who == UInt8(1 + i % 2), "strict alternation") }
        Console.print("pingpong: \(rounds) rounds in \(elapsed) ns, strictly alternating")
    }

    static func sleeps(milliseconds: [Int]) {
        var finished: [Int] = []
        var threads: [Thread] = []
        let start = Kernel.monotonicClock
        for ms in milliseconds {
            threads.append(Thread.spawn(name: "sleeper") {
                Thread.sleep(until: start &+ UInt64(ms) &* 1_000_000)
                let slept = Kernel.monotonicClock &- start
                Console.print("sleep: \(ms) ms thread woke after \(slept / 1000) us")
                finished.append(ms)
                return ms
            }!)
        }
        for (thread, ms) in zip(threads, milliseconds) { check(thread.join() == ms, "join result") }
        check(finished == milliseconds.sorted(), "threads woke in deadline order")
        Console.print("sleep: all \(milliseconds.count) threads woke in deadline order")
    }

    static func mutex(iterations: Int) {
        let lock = Mutex()
        var counter = 0
        var threads: [Thread] = []
        for _ in 0..<4 {
            threads.append(Thread.spawn(name: "adder") {
                for _ in 0..<iterations {
                    lock.withLock {
                        let seen = counter
                        Thread.yield()  // the others run here, and must wait for the lock
                        counter = seen + 1
                    }
                }
                return 0
            }!)
        }
        for thread in threads { _ = thread.join() }
        check(counter == 4 * iterations, "no update lost under the mutex")
        Console.print("mutex: counter \(counter)")
    }

    static func exitAfterWorkers(status: Int) {
        for ms in [30, 10, 20] {
            Thread.spawn(name: "worker") {
                Thread.sleep(nanoseconds: UInt64(ms) * 1_000_000)
                Console.print("exit: worker \(ms) ms done")
                return 0
            }!.detach()
        }
        Console.print("exit: main ends with \(status)")
        Thread.exit(status)
    }

    static func many(limit: Int, stackKiB: Int) {
        var threads: [Thread] = []
        threads.reserveCapacity(limit)
        var asleep = 0, most = 0
        var wakeAt: UInt64 = 0
        while threads.count < limit {
            guard let thread = Thread.spawn(name: "sleeper", stackSize: stackKiB << 10, {
                asleep += 1
                most = max(most, asleep)
                Thread.sleep(until: wakeAt)
                asleep -= 1
                return 0
            }) else { break }
            threads.append(thread)
        }
        wakeAt = Kernel.monotonicClock &+ 100_000_000
        for thread in threads { _ = thread.join() }
        check(most == threads.count, "every thread slept at the same time")
        let memory = Kernel.memory
        Console.print("many: \(most) threads slept at once with \(stackKiB) KiB stacks in \(memory.ram >> 20) MiB")
    }

    @inline(never) static func opaque(_ v: Int) -> Int { v }

    @inline(never) static func recurse(_ depth: Int, limit: Int) -> Int {
        var frame: (Int, Int, Int, Int) = (depth, depth, depth, depth)
        let result = depth < limit ? recurse(depth + 1, limit: limit) : 0
        return withUnsafeMutableBytes(of: &frame) { $0.count } + result
    }
}
