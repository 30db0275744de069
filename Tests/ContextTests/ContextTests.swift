// The shared x86_64 context switch (Sources/Context/context.S), exercised for
// real: contexts on their own stacks ping-pong with the test, locals survive
// switches, and each context keeps its own floating-point control state.

import Context
import Glibc
import XCTest

/// Contexts for one test, with their stacks (kept alive by the test). The
/// saved stack pointers live in raw memory, not in Swift properties: a switch
/// suspends the caller in the middle of its call, and an `inout` access to a
/// property would still be open when another context reads it (Swift's
/// exclusivity checks, which follow the OS thread, would stop the program).
final class Contexts {
    let slots = UnsafeMutablePointer<UInt>.allocate(capacity: 9)  // [0]: the test, then contexts
    var count = 0
    var stacks: [UnsafeMutableRawPointer] = []
    var trace: [Int] = []

    /// A new context running `entry(self)` on a fresh 64 KiB stack; its index.
    func make(_ entry: @convention(c) (UnsafeMutableRawPointer?) -> Void) -> Int {
        let stack = UnsafeMutableRawPointer.allocate(byteCount: 64 << 10, alignment: 16)
        stacks.append(stack)
        count += 1
        slots[count] = swiftlet_context_prepare(stack + (64 << 10), entry, Unmanaged.passUnretained(self).toOpaque())
        return count - 1
    }

    func run(_ index: Int) { swiftlet_context_switch(slots, slots[index + 1]) }
    func back(from index: Int) { swiftlet_context_switch(slots + index + 1, slots[0]) }

    deinit {
        for stack in stacks { stack.deallocate() }
        slots.deallocate()
    }
}

func contexts(_ raw: UnsafeMutableRawPointer?) -> Contexts {
    Unmanaged<Contexts>.fromOpaque(raw!).takeUnretainedValue()
}

final class ContextTests: XCTestCase {
    func testPingPongKeepsOrderAndLocals() {
        let c = Contexts()
        let worker = c.make { raw in
            let c = contexts(raw)
            var local = 1000  // lives on the worker's stack across switches
            for i in 0..<100 {
                c.trace.append(i)
                local += i
                c.back(from: 0)
            }
            c.trace.append(local)
            c.back(from: 0)
        }
        var mine = 7
        for i in 0..<100 {
            c.run(worker)
            mine += 1
            XCTAssertEqual(c.trace.last, i)
        }
        c.run(worker)
        XCTAssertEqual(c.trace.last, 1000 + (0..<100).reduce(0, +))
        XCTAssertEqual(mine, 107)
    }

    func testThreeContextsRoundRobin() {
        let c = Contexts()
        let entry: @convention(c) (UnsafeMutableRawPointer?) -> Void = { raw in
            let c = contexts(raw)
            let me = c.trace.count  // 0, 1, 2 by start order
            for round in 0..<50 {
                c.trace.append(me * 1000 + round)
                c.back(from: me)
            }
            while true { c.back(from: me) }
        }
        let ids = [c.make(entry), c.make(entry), c.make(entry)]
        c.trace.removeAll()
        for id in ids { c.run(id) }  // each records round 0 (and learns its index)
        XCTAssertEqual(c.trace, [0, 1000, 2000])
        c.trace.removeAll()
        for round in 1..<50 {
            for id in ids { c.run(id) }
            XCTAssertEqual(c.trace.suffix(3), [round, 1000 + round, 2000 + round])
        }
    }

    // Glibc's FE_* constants import ambiguously (enum and macro): spell them.
    static let toNearest: Int32 = 0, upward: Int32 = 0x800, towardZero: Int32 = 0xC00

    func testFloatingPointControlStateIsPerContext() {
        let c = Contexts()
        let worker = c.make { raw in
            let c = contexts(raw)
            c.trace.append(Int(fegetround()))   // the fresh context's default
            fesetround(ContextTests.upward)
            c.back(from: 0)
            c.trace.append(Int(fegetround()))   // still upward after the main ran
            c.back(from: 0)
        }
        fesetround(Self.towardZero)
        c.run(worker)
        XCTAssertEqual(c.trace.first, Int(Self.toNearest), "a new context starts with the default modes")
        XCTAssertEqual(fegetround(), Self.towardZero, "the worker's change stayed in the worker")
        c.run(worker)
        XCTAssertEqual(c.trace.last, Int(Self.upward))
        fesetround(Self.toNearest)
    }
}
