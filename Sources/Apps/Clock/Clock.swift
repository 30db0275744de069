// clock: prints the platform's wall clock and cycle-counter rate, for the
// clock sanity tests: `wall_clock_s SECONDS` and `cycle_hz HZ`.

import Swiftlet

@main
struct Clock {
    static func main() {
        Console.print("wall_clock_s \(Kernel.wallClock / 1_000_000_000)")
        Console.print("cycle_hz \(Kernel.cycleFrequency)")
    }
}
