// The threads application (Sources/Apps/ThreadCheck) on every platform: pc
// under QEMU TCG, hvt under our monitor, hosted as a process. One set of
// checks, run through each platform's launcher: ping-pong, mutex, sleeps
// against the host's wall clock, exit status after the last thread, many
// sleeping threads, stack overflow into a guard page, deadlock report.

import Foundation
import Runner
import XCTest

typealias Launch = (_ arguments: [String]) throws -> (status: Int32, output: String)

func checkThreadScenarios(_ platform: String, _ launch: Launch,
                          file: StaticString = #filePath, line: UInt = #line) throws {
    func run(_ arguments: [String]) throws -> (status: Int32, output: String, seconds: Double) {
        let start = Date()
        let result = try launch(arguments)
        return (result.status, result.output, Date().timeIntervalSince(start))
    }
    func lines(_ output: String, _ prefix: String) -> [String] {
        output.split(separator: "\n").map(String.init).filter { $0.hasPrefix(prefix) }
    }

    let pingPong = try run(["pingpong", "200"])
    XCTAssertEqual(pingPong.status, 0, "\(platform): \(pingPong.output)", file: file, line: line)
    XCTAssert(pingPong.output.contains("pingpong: 200 rounds in "), "\(platform): \(pingPong.output)", file: file, line: line)

    let mutex = try run(["mutex", "25"])
    XCTAssertEqual(mutex.status, 0, "\(platform): \(mutex.output)", file: file, line: line)
    XCTAssert(mutex.output.contains("mutex: counter 100\n"), "\(platform): \(mutex.output)", file: file, line: line)

    // Three sleepers wake in deadline order, each no earlier than asked; the
    // guest's clock agrees loosely with the host's (a clock running at half
    // or double speed would not fit between these bounds).
    let sleep = try run(["sleep", "300", "100", "200"])
    XCTAssertEqual(sleep.status, 0, "\(platform): \(sleep.output)", file: file, line: line)
    let woke = lines(sleep.output, "sleep: ").compactMap { line -> (Int, Int)? in
        let words = line.split(separator: " ")
        guard words.count >= 7, let ms = Int(words[1]), let us = Int(words[6]) else { return nil }
        return (ms, us)
    }
    XCTAssertEqual(woke.map(\.0), [100, 200, 300], "\(platform): \(sleep.output)", file: file, line: line)
    for (ms, us) in woke {
        XCTAssertGreaterThanOrEqual(us, ms * 1000, "\(platform): woke early", file: file, line: line)
        XCTAssertLessThan(us, ms * 1000 + 1_000_000, "\(platform): woke late", file: file, line: line)
    }
    XCTAssertGreaterThanOrEqual(sleep.seconds, 0.3, "\(platform): the host saw a shorter run", file: file, line: line)
    XCTAssertLessThan(sleep.seconds, 5, "\(platform): the host saw a much longer run", file: file, line: line)

    // main ends with 9 while three workers still sleep: all three finish, then the status.
    let exit = try run(["exit", "9"])
    XCTAssertEqual(exit.status, 9, "\(platform): \(exit.output)", file: file, line: line)
    XCTAssertEqual(lines(exit.output, "exit: worker"), ["exit: worker 10 ms done", "exit: worker 20 ms done",
                                                        "exit: worker 30 ms done"], "\(platform): \(exit.output)",
                   file: file, line: line)

    let many = try run(["many", "500", "16"])
    XCTAssertEqual(many.status, 0, "\(platform): \(many.output)", file: file, line: line)
    XCTAssert(many.output.contains("many: 500 threads slept at once with 16 KiB stacks"), "\(platform): \(many.output)",
              file: file, line: line)

    let overflow = try run(["overflow"])
    XCTAssertEqual(overflow.status, 255, "\(platform): \(overflow.output)", file: file, line: line)
    XCTAssertFalse(overflow.output.contains("this is a bug"), "\(platform)", file: file, line: line)
    XCTAssert(overflow.output.contains("    thread: deep-recursion\n"), "\(platform): \(overflow.output)", file: file, line: line)
    XCTAssert(overflow.output.contains("<- stack guard page: stack overflow"), "\(platform): \(overflow.output)",
              file: file, line: line)

    let deadlock = try run(["deadlock"])
    XCTAssertEqual(deadlock.status, 255, "\(platform): \(deadlock.output)", file: file, line: line)
    XCTAssert(deadlock.output.contains("deadlock: every thread is blocked"), "\(platform): \(deadlock.output)",
              file: file, line: line)

    let usage = try run(["pingpong", "x"])
    XCTAssertEqual(usage.status, 2, "\(platform): \(usage.output)", file: file, line: line)
}

final class PCThreadBootTests: XCTestCase {
    func testThreadScenariosOnPC() throws {
        try checkThreadScenarios("pc") { arguments in
            let result = try boot("threads", arguments)
            return (result.exit.hostStatus, result.output)
        }
    }

    func testThreadsOnPCThroughPVHAndQ35() throws {
        for (machine, protocolKind) in [(Machine.microvm, BootProtocol.pvh), (.q35, .multiboot)] {
            let result = try boot("threads", ["sleep", "20", "10"], machine: machine, protocol: protocolKind)
            XCTAssertEqual(result.exit, .exited(0), "\(machine) \(protocolKind): \(result.output)")
        }
    }

    func testClockReportsTheCalibrationError() throws {
        let result = try boot("clock")
        XCTAssertEqual(result.exit, .exited(0), result.output)
        let line = try XCTUnwrap(result.output.split(separator: "\n").first { $0.hasPrefix("cycle_hz ") }, result.output)
        let fields = line.split(separator: " ").compactMap { Int($0) }
        XCTAssertEqual(fields.count, 2, String(line))
        XCTAssertGreaterThan(fields.first ?? 0, 100_000_000, "TSC rate measured against the PIT")
        XCTAssert((1..<10_000).contains(fields.last ?? 0), "calibration error bound in ppm: \(line)")
    }
}

final class HvtThreadBootTests: HvtTestCase {
    func testThreadScenariosOnHvt() throws {
        try checkThreadScenarios("hvt") { arguments in
            try self.hvt("threads", arguments, options: ["--mem=32"])
        }
    }
}

final class HostedThreadTests: XCTestCase {
    func testThreadScenariosHosted() throws {
        let path = repositoryRoot + "/.build/debug/threads"
        guard FileManager.default.isExecutableFile(atPath: path) else {
            XCTFail("\(path) is missing: run `make test`")
            return
        }
        try checkThreadScenarios("hosted") { arguments in
            try runProgram(["env", "SWIFTLET_MEM=64", "SWIFT_BACKTRACE=enable=no", path] + arguments)
        }
    }
}
