// boottime: prints the platform's boot timeline for `make bench`: the cycle
// counter's frequency (`cycle_hz HZ`, 0 if unknown), then one line per stage,
// `boot_stage NAME CYCLES` counted from the first instruction.

import Swiftlet

@main
struct BootTime {
    static func main() {
        Console.print("cycle_hz \(Kernel.cycleFrequency)")
        let entry = Kernel.bootStamp(.entry)
        for stage in Kernel.BootStage.allCases {
            Console.print("boot_stage \(stage.name) \(Kernel.bootStamp(stage) &- entry)")
        }
    }
}
