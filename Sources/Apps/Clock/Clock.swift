// clock: prints the platform's clocks for the clock sanity tests:
// `wall_clock_s SECONDS`, `cycle_hz HZ ERROR_PPM`, and the monotonic clock
// before and after a 100 ms sleep (`monotonic_ns BEFORE AFTER`).

import Swiftlet
import Threads

@main
struct Clock {
    static func main() {
        Console.print("wall_clock_s \(Kernel.wallClock / 1_000_000_000)")
        Console.print("cycle_hz \(Kernel.cycleFrequency) \(Kernel.cycleFrequencyError)")
        let before = Kernel.monotonicClock
        Thread.sleep(nanoseconds: 100_000_000)
        Console.print("monotonic_ns \(before) \(Kernel.monotonicClock)")
    }
}
