// clock: prints the platform's clocks for the clock sanity tests:
// `wall_clock_s SECONDS`, `cycle_hz HZ`, and the monotonic clock before and
// after a 100 ms wait for device input (`monotonic_ns BEFORE AFTER`).

import Swiftlet

@main
struct Clock {
    static func main() {
        Console.print("wall_clock_s \(Kernel.wallClock / 1_000_000_000)")
        Console.print("cycle_hz \(Kernel.cycleFrequency)")
        let before = Kernel.monotonicClock
        _ = Devices.waitForInput(nanoseconds: 100_000_000)
        Console.print("monotonic_ns \(before) \(Kernel.monotonicClock)")
    }
}
