// Thread benchmark (hosted, -O): Swiftlet's cooperative threads against
// POSIX threads in the same process. Prints `NAME VALUE UNIT` lines.
//   swiftlet_switch_ns        one context switch: two threads yielding to each other
//   swiftlet_create_join_ns   spawn a thread (16 KiB stack + guard page), run it, join it
//   pthread_switch_ns         one hand-off between two pthreads through a mutex and a
//                             condition variable (each hand-off is a kernel switch); on
//                             this nested VM a cross-CPU wake-up dominates, so bench/run
//                             also runs `threadbench pthread` under `taskset -c 0`
//   pthread_create_join_ns    pthread_create + pthread_join
//   switch_ratio_pthread      pthread hand-off time / Swiftlet switch time
// `threadbench yield N` / `threadbench create N` run one workload only, for
// callgrind instruction counts (bench/run subtracts two N to drop start-up);
// `threadbench pthread` prints only pthread_switch_ns.

import Glibc
import PlatformHosted
import Swiftlet
import Threads

func nowNs() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
}

func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }

func fixed(_ value: Double) -> String {
    let hundredths = Int((value * 100).rounded())
    let fraction = hundredths % 100
    return "\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction)"
}

/// Two threads yield to each other `rounds` times each: 2 * rounds switches.
func yieldPingPong(rounds: Int) {
    let other = Thread.spawn(name: "yielder") {
        for _ in 0..<rounds { Thread.yield() }
        return 0
    }!
    for _ in 0..<rounds { Thread.yield() }
    _ = other.join()
}

func createJoin(count: Int) {
    for i in 0..<count {
        let thread = Thread.spawn(name: "short") { i }!
        precondition(thread.join() == i)
    }
}

/// Shared state of the pthread ping-pong (C-style: pthread entry points take raw pointers).
final class PingPong {
    var mutex = pthread_mutex_t()
    var condition = pthread_cond_t()
    var turn = 0
    let rounds: Int
    init(rounds: Int) {
        self.rounds = rounds
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&condition, nil)
    }

    /// Waits for `me`'s turn, passes it on; `rounds` times.
    func play(_ me: Int) {
        pthread_mutex_lock(&mutex)
        for _ in 0..<rounds {
            while turn != me { pthread_cond_wait(&condition, &mutex) }
            turn = 1 - me
            pthread_cond_signal(&condition)
        }
        pthread_mutex_unlock(&mutex)
    }
}

/// 2 * rounds hand-offs between two pthreads.
func pthreadPingPong(rounds: Int) {
    let game = PingPong(rounds: rounds)
    var thread = pthread_t()
    let context = Unmanaged.passRetained(game).toOpaque()
    pthread_create(&thread, nil, { raw in
        Unmanaged<PingPong>.fromOpaque(raw!).takeRetainedValue().play(1)
        return nil
    }, context)
    game.play(0)
    pthread_join(thread, nil)
}

func pthreadCreateJoin(count: Int) {
    for _ in 0..<count {
        var thread = pthread_t()
        pthread_create(&thread, nil, { _ in nil }, nil)
        pthread_join(thread, nil)
    }
}

/// Median nanoseconds per operation over `runs` timed runs.
func measure(runs: Int = 7, operations: Int, _ body: () -> Void) -> Double {
    body()  // warm-up
    var samples: [Double] = []
    for _ in 0..<runs {
        let start = nowNs()
        body()
        samples.append(Double(nowNs() - start) / Double(operations))
    }
    return median(samples)
}

let arguments = CommandLine.arguments
if arguments.count == 2 && arguments[1] == "pthread" {
    print("pthread_switch_ns \(fixed(measure(operations: 2 * 20_000) { pthreadPingPong(rounds: 20_000) }))")
    exit(0)
}
if arguments.count == 3, let n = Int(arguments[2]) {
    switch arguments[1] {
    case "yield": yieldPingPong(rounds: n)
    case "create": createJoin(count: n)
    default: print("usage: threadbench [yield N | create N | pthread]"); exit(2)
    }
    exit(0)
}

let rounds = 200_000
let switchNs = measure(operations: 2 * rounds) { yieldPingPong(rounds: rounds) }
let createNs = measure(operations: 20_000) { createJoin(count: 20_000) }
let pthreadSwitchNs = measure(operations: 2 * 20_000) { pthreadPingPong(rounds: 20_000) }
let pthreadCreateNs = measure(operations: 2_000) { pthreadCreateJoin(count: 2_000) }
print("swiftlet_switch_ns \(fixed(switchNs)) ns")
print("swiftlet_create_join_ns \(fixed(createNs)) ns")
print("pthread_switch_ns \(fixed(pthreadSwitchNs)) ns")
print("pthread_create_join_ns \(fixed(pthreadCreateNs)) ns")
print("switch_ratio_pthread \(fixed(pthreadSwitchNs / switchNs)) ratio")

print("create_join_ratio_pthread \(fixed(pthreadCreateNs / createNs)) ratio")
