// swiftcheck: exercises the Swift features an image's runtime support must
// carry - classes and deinit, closures, generics, Array, Dictionary, Set,
// String comparison/hashing/counting, Int.random (arc4random_buf), Double
// rounding (libm) and optionals - and prints one `ok NAME` line per check.
// Exits 0 when every check passed, 1 otherwise. The boot tests run it.

import Swiftlet

final class Counter {
    nonisolated(unsafe) static var live = 0
    var value: Int
    init(_ value: Int) { self.value = value; Counter.live += 1 }
    deinit { Counter.live -= 1 }
}

protocol Shape: AnyObject { var area: Int { get } }
final class Square: Shape { let side: Int; init(side: Int) { self.side = side }; var area: Int { side * side } }
final class Rectangle: Shape { let w: Int, h: Int; init(w: Int, h: Int) { self.w = w; self.h = h }; var area: Int { w * h } }

@main
struct SwiftCheck {
    nonisolated(unsafe) static var failures = 0

    static func check(_ name: StaticString, _ condition: Bool) {
        if condition {
            Console.print("ok \(name)")
        } else {
            Console.print("FAILED \(name)")
            failures += 1
        }
    }

    static func main() {
        do {
            let counters = (0..<10).map { Counter($0) }
            check("classes", Counter.live == 10 && counters.reduce(0) { $0 + $1.value } == 45)
        }
        check("deinit", Counter.live == 0)

        var total = 0
        let add: (Int) -> Void = { total += $0 }
        for i in 1...100 { add(i) }
        check("closures", total == 5050)

        let shapes: [any Shape] = [Square(side: 3), Rectangle(w: 2, h: 5)]
        check("existentials", shapes.map { $0.area } == [9, 10])

        var array = Array(0..<1000)
        array.removeAll { $0 % 3 == 0 }
        array.sort(by: >)
        check("array", array.count == 666 && array.first == 998 && array.last == 1)

        var dictionary: [String: Int] = [:]
        for word in ["alpha", "beta", "gamma", "beta", "alpha", "alpha"] { dictionary[word, default: 0] += 1 }
        check("dictionary", dictionary["alpha"] == 3 && dictionary["beta"] == 2 && dictionary["gamma"] == 1
              && dictionary["delta"] == nil)

        let set = Set((0..<500).map { $0 % 50 })
        check("set", set.count == 50 && set.contains(49) && !set.contains(50))

        let composed = "Grüße, " + "Swiftlet" + "!"
        check("string", composed == "Grüße, Swiftlet!" && composed.count == 16 && composed.utf8.count == 18
              && composed.hasPrefix("Grü") && composed.split(separator: ",").count == 2)
        check("string interpolation", "\(42) \(-7) \(true)" == "42 -7 true")

        let randoms = (0..<64).map { _ in Int.random(in: 0..<1_000_000) }
        check("random", Set(randoms).count > 1 && randoms.allSatisfy { $0 >= 0 && $0 < 1_000_000 })

        let x = 2.5
        check("libm", x.rounded(.up) == 3.0 && x.rounded(.down) == 2.0 && (-x).rounded() == -3.0
              && (9.0).squareRoot() == 3.0)

        let maybe: Int? = array.first { $0 > 10_000 }
        check("optionals", maybe == nil && (array.first { $0 < 5 } ?? -1) == 4)

        // 8 MiB in one block: more than the heap starts with on pc, so it grows.
        let big = [UInt8](repeating: 7, count: 8 << 20)
        check("large allocation", big.count == 8 << 20 && big[big.count - 1] == 7)
        let memory = Kernel.memory
        Console.print("heap: \(memory.heap.totalBytes / 1024) KiB + \(memory.heapReserve / 1024) KiB on demand")
        // On pc every object above came from the kernel heap; hosted ones from glibc.
        check("heap statistics", memory.heap.totalBytes > 0 && memory.heap.inUse <= memory.heap.peakInUse
              && memory.heap.peakInUse <= memory.heap.totalBytes)

        Console.print("swiftcheck: \(failures) failures")
        Kernel.exit(failures == 0 ? 0 : 1)
    }
}
