// The same application sources on the hosted platform: a Linux process with
// stdout console, argv arguments and a real exit status.

import Foundation
import XCTest

final class HostedTests: XCTestCase {
    func runHosted(_ program: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
        let path = repositoryRoot + "/.build/debug/\(program)"
        guard FileManager.default.isExecutableFile(atPath: path) else {
            XCTFail("\(path) is missing: run `make test` (swift build --build-tests builds it)")
            throw XCTSkip("no hosted binary")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/timeout")
        process.arguments = ["30", path] + arguments
        process.environment = ["SWIFTLET_MEM": "16"]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: output, as: UTF8.self))
    }

    func testHostedHelloPrintsArgumentsAndMemory() throws {
        let (status, output) = try runHosted("hello", ["alpha", "two words"])
        XCTAssertEqual(status, 0, output)
        XCTAssert(output.hasPrefix("Hello from Swiftlet!\narguments: 2\n  [0] alpha\n  [1] two words\n"), output)
        XCTAssert(output.contains("memory: 16384 KiB RAM, heap "), output)
        XCTAssert(output.contains(" KiB on demand, "), output)
    }

    func testHostedSwiftCheck() throws {
        let (status, output) = try runHosted("swiftcheck", [])
        XCTAssertEqual(status, 0, output)
        XCTAssert(output.contains("swiftcheck: 0 failures"), output)
    }

    func testHostedClockAndDevicelessApplications() throws {
        let clock = try runHosted("Clock", [])
        XCTAssertEqual(clock.status, 0, clock.output)
        let seconds = try XCTUnwrap(number(after: "wall_clock_s ", in: clock.output), clock.output)
        XCTAssertLessThan(abs(seconds - Int(Date().timeIntervalSince1970)), 5)
        // No devices on hosted yet: the device applications say so and exit 3.
        XCTAssertEqual(try runHosted("BlockTest", []).status, 3)
        XCTAssertEqual(try runHosted("NetEcho", []).status, 3)
    }

    func testHostedExitStatus() throws {
        XCTAssertEqual(try runHosted("fault", ["exit", "7"]).status, 7)
        XCTAssertEqual(try runHosted("fault", ["exit", "200"]).status, 200, "hosted carries any 8-bit status")
    }

    func testHostedDoubleFreeOfKernelHeapMemoryPanics() throws {
        // Hosted Swift objects come from glibc, so the fault app's double free
        // is glibc's to catch: it aborts the process.
        let (status, _) = try runHosted("fault", ["double-free"])
        XCTAssertNotEqual(status, 0)
    }
}
