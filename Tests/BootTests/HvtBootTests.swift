// Boot tests of hvt images under our monitor, swiftlet-hvt, on /dev/kvm:
// hello, arguments, exit status, faults, wall clock, block I/O checked from
// the host, and frames exchanged with a tap inside a network namespace the
// test creates. They skip, saying why, only where /dev/kvm cannot create a VM.

import Foundation
import XCTest

/// Runs a program under timeout(1) and returns its status and output.
func runProgram(_ arguments: [String], timeout: Int = 60) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/timeout")
    process.arguments = ["--kill-after=5", "\(timeout)"] + arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    process.standardInput = FileHandle.nullDevice
    try process.run()
    let output = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: output, as: UTF8.self))
}

class HvtTestCase: XCTestCase {
    static let monitor = repositoryRoot + "/.build/debug/swiftlet-hvt"
    nonisolated(unsafe) static var kvmProblem: String?? = nil

    /// Why this machine cannot run hvt guests, or nil when it can.
    static func probeKVM() throws -> String? {
        if let known = kvmProblem { return known }
        let floor = imagePath("floor", platform: "hvt")
        let result = try runProgram([monitor, "--mem=2", floor], timeout: 30)
        let problem: String? = result.output.contains("/dev/kvm") || result.output.contains("KVM")
            ? result.output.trimmingCharacters(in: .whitespacesAndNewlines) : nil
        kvmProblem = .some(problem)
        return problem
    }

    override func setUpWithError() throws {
        for path in [Self.monitor, imagePath("hello", platform: "hvt")] where !FileManager.default.fileExists(atPath: path) {
            XCTFail("\(path) is missing: run `make test`")
            throw XCTSkip("missing \(path)")
        }
        if let problem = try Self.probeKVM() {
            throw XCTSkip("KVM cannot create a VM here: \(problem)")
        }
    }

    func hvt(_ app: String, _ arguments: [String] = [], options: [String] = ["--mem=8"]) throws -> (status: Int32, output: String) {
        try runProgram([Self.monitor] + options + [imagePath(app, platform: "hvt")] + arguments)
    }
}

final class HvtBootTests: HvtTestCase {
    func testHelloPrintsArgumentsAndMemory() throws {
        let result = try hvt("hello", ["alpha", "beta"])
        XCTAssertEqual(result.status, 0, result.output)
        XCTAssert(result.output.hasPrefix("Hello from Swiftlet!\narguments: 2\n  [0] alpha\n  [1] beta\n"), result.output)
        XCTAssert(result.output.contains("memory: 8192 KiB RAM"), result.output)
    }

    func testHelloRunsInTwoMiB() throws {
        let result = try hvt("hello", options: ["--mem=2"])
        XCTAssertEqual(result.status, 0, result.output)
        XCTAssert(result.output.contains("memory: 2048 KiB RAM"), result.output)
    }

    func testExitStatusReachesTheHost() throws {
        for status in [0, 7, 200] {
            XCTAssertEqual(try hvt("fault", ["exit", "\(status)"]).status, Int32(status))
        }
    }

    func testFaultsPrintAPanicReportAndEndWith255() throws {
        let expectations = [
            ("null", "page fault (#PF) (vector 14), error 0x2 (write, page not present, kernel)"),
            ("overflow", "Swift runtime trap"),
            ("stack-overflow", "<- stack guard page: stack overflow"),
            ("double-free", "*** PANIC: kernel: heap misuse"),
        ]
        for (fault, text) in expectations {
            let result = try hvt("fault", [fault])
            XCTAssertEqual(result.status, 255, "\(fault): \(result.output)")
            XCTAssert(result.output.contains(text), "\(fault): \(result.output)")
            XCTAssert(result.output.contains("backtrace: 0x"), "\(fault): \(result.output)")
        }
    }

    func testWriteToCodeStopsTheVM() throws {
        let result = try hvt("fault", ["write-code"])
        XCTAssertEqual(result.status, 1, result.output)
        XCTAssert(result.output.contains("swiftlet-hvt: the guest wrote to read-only memory at 0x"), result.output)
    }

    func testWallClockAndCycleRate() throws {
        let result = try hvt("clock")
        XCTAssertEqual(result.status, 0, result.output)
        let guest = try XCTUnwrap(number(after: "wall_clock_s ", in: result.output), result.output)
        XCTAssertLessThan(abs(guest - Int(Date().timeIntervalSince1970)), 300, "guest clock \(guest)")
        let hz = try XCTUnwrap(number(after: "cycle_hz ", in: result.output), result.output)
        XCTAssertGreaterThan(hz, 100_000_000, "TSC rate from the boot info")
        // POLL waited 100 ms with nothing attached: the monotonic clock saw it.
        let line = try XCTUnwrap(result.output.split(separator: "\n").first { $0.hasPrefix("monotonic_ns ") })
        let values = line.split(separator: " ").dropFirst().compactMap { UInt64($0) }
        XCTAssertEqual(values.count, 2, String(line))
        if values.count == 2 {
            XCTAssertGreaterThan(values[0], 0)
            XCTAssertGreaterThanOrEqual(values[1] - values[0], 90_000_000, String(line))
            XCTAssertLessThan(values[1] - values[0], 5_000_000_000, String(line))
        }
    }

    func testMalformedImageIsOneLineAndStatusOne() throws {
        let result = try runProgram([Self.monitor, "--mem=8", "/bin/ls"])
        XCTAssertEqual(result.status, 1, result.output)
        XCTAssertEqual(result.output.split(separator: "\n").count, 1, result.output)
        XCTAssert(result.output.hasPrefix("swiftlet-hvt: /bin/ls: "), result.output)
    }
}

// Block and net helpers shared with the hosted device tests (HostedDeviceTests.swift).
extension XCTestCase {
    /// A zero-filled temporary disk image, removed when the test ends.
    func disk(bytes: Int) throws -> String {
        let path = NSTemporaryDirectory() + "swiftlet-disk-\(getpid())-\(UUID().uuidString).img"
        XCTAssert(FileManager.default.createFile(atPath: path, contents: Data(count: bytes)))
        addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
        return path
    }

    /// A network namespace of this test's own, deleted when the test ends;
    /// skips the test when none can be created.
    func makeNamespace(_ prefix: String) throws -> String {
        let namespace = "\(prefix)-\(getpid())"
        guard try runProgram(["ip", "netns", "add", namespace]).status == 0 else {
            throw XCTSkip("cannot create a network namespace (needs root and iproute2)")
        }
        addTeardownBlock { _ = try? runProgram(["ip", "netns", "del", namespace]) }
        // Its own loopback up: Foundation's Process (the runner) wants a socket pair on it.
        _ = try runProgram(["ip", "netns", "exec", namespace, "ip", "link", "set", "lo", "up"])
        return namespace
    }

    /// Adds tap0 (MTU 9000, up) inside `namespace`.
    func addTap(in namespace: String) throws {
        for command in [["ip", "tuntap", "add", "tap0", "mode", "tap"], ["ip", "link", "set", "tap0", "mtu", "9000"],
                        ["ip", "link", "set", "tap0", "up"]] {
            let result = try runProgram(["ip", "netns", "exec", namespace] + command)
            XCTAssertEqual(result.status, 0, result.output)
        }
    }

    /// `frameSender` in a temporary file, removed when the test ends.
    func writeFrameSender() throws -> String {
        let script = NSTemporaryDirectory() + "swiftlet-sender-\(getpid())-\(UUID().uuidString).py"
        try frameSender.write(toFile: script, atomically: true, encoding: .utf8)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: script) }
        return script
    }
}

/// A blktest run that verified `sectors` sectors of `sectorSize` bytes on
/// the disk `name`, and its pattern found in the image at `path` by the host.
func checkBlockTest(_ result: (status: Int32, output: String), disk name: String, sectors: Int, sectorSize: Int,
                    image path: String, _ context: String = "", file: StaticString = #filePath, line: UInt = #line) throws {
    XCTAssertEqual(result.status, 0, "\(context) \(result.output)", file: file, line: line)
    XCTAssert(result.output.contains("blktest: \(name): \(sectors) sectors of \(sectorSize) bytes"),
              "\(context) \(result.output)", file: file, line: line)
    XCTAssert(result.output.contains("wrote and verified \(sectors) sectors; bad requests refused"),
              "\(context) \(result.output)", file: file, line: line)
    try checkPattern(path, file: file, line: line)
}

/// blktest's pattern, checked in the disk image: the little-endian word at offset o is o * K + 0x5EED.
func checkPattern(_ path: String, file: StaticString = #filePath, line: UInt = #line) throws {
    let data = try XCTUnwrap(FileManager.default.contents(atPath: path), file: file, line: line)
    var wrong = 0
    data.withUnsafeBytes { raw in
        for offset in stride(from: 0, to: raw.count, by: 8) {
            let word = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
            if word != UInt64(offset) &* 0x9E37_79B9_7F4A_7C15 &+ 0x5EED { wrong += 1 }
        }
    }
    XCTAssertEqual(wrong, 0, "words of the disk image that do not hold the pattern", file: file, line: line)
}

/// Sends `count` frames of EtherType 0x88B5 and a STOP frame on `tap` and
/// counts the reflections (addresses swapped, payload intact):
/// `python3 SCRIPT TAP COUNT` prints "reflected N".
let frameSender = """
    import socket, struct, sys, time
    iface, count = sys.argv[1], int(sys.argv[2])
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x88B5))
    s.bind((iface, 0))
    s.settimeout(0.5)
    src, dst = bytes.fromhex("02aabbccddee"), bytes.fromhex("02deadbeef01")
    got = 0
    deadline = time.time() + 40
    for i in range(count + 1):
        payload = (b"STOP" if i == count else b"PING") + struct.pack("!I", i) + bytes(i % 1400)
        reflected = False
        while not reflected and time.time() < deadline:
            s.send(dst + src + b"\\x88\\xb5" + payload)  # resent until the guest answers
            try:
                while True:
                    data = s.recv(2048)
                    if data[:6] == src and data[6:12] == dst and data[14:] == payload:
                        reflected = True
                        break
            except socket.timeout:
                pass
        if reflected:
            got += 1
    print("reflected", got)
    """

final class HvtBlockTests: HvtTestCase {
    func testBlockWriteReadAndHostCheck() throws {
        let path = try disk(bytes: 16 << 10)
        let result = try hvt("blktest", options: ["--mem=8", "--block:storage=\(path)"])
        try checkBlockTest(result, disk: "storage", sectors: 32, sectorSize: 512, image: path)
    }

    func testBlockWith4096ByteSectors() throws {
        let path = try disk(bytes: 32 << 10)
        let result = try hvt("blktest", options: ["--mem=8", "--block:storage=\(path)", "--block-sector-size:storage=4096"])
        XCTAssertEqual(result.status, 0, result.output)
        XCTAssert(result.output.contains("8 sectors of 4096 bytes"), result.output)
        try checkPattern(path)
    }

    func testDeclaredDeviceMustBeAttachedAndAttachedMustBeDeclared() throws {
        let missing = try hvt("blktest")
        XCTAssertEqual(missing.status, 1, missing.output)
        XCTAssert(missing.output.contains("storage"), missing.output)
        let path = try disk(bytes: 4096)
        let undeclared = try hvt("hello", options: ["--mem=8", "--block:storage=\(path)"])
        XCTAssertEqual(undeclared.status, 1, undeclared.output)
    }
}

final class HvtNetTests: HvtTestCase {
    /// /proc/PID/status of the swiftlet-hvt process whose command line contains `text`.
    static func procStatus(ofCommandContaining text: String) -> String? {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        for pid in entries where Int(pid) != nil {
            guard let raw = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { continue }
            let arguments = raw.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            guard arguments.first?.hasSuffix("swiftlet-hvt") == true, arguments.contains(where: { $0.contains(text) }) else { continue }
            return try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        }
        return nil
    }

    func testFramesAreReflectedThroughATapInANamespace() throws {
        let namespace = try makeNamespace("swiftlet-hvt")
        // A tap that does not exist is an error, never created on the fly.
        let missing = try runProgram(["ip", "netns", "exec", namespace, Self.monitor, "--mem=8",
                                      "--net:service=tap0", imagePath("netecho", platform: "hvt")])
        XCTAssertEqual(missing.status, 1, missing.output)
        XCTAssert(missing.output.contains("cannot attach tap tap0"), missing.output)
        try addTap(in: namespace)
        let script = try writeFrameSender()

        final class Outcome: @unchecked Sendable { var result: (status: Int32, output: String)? }
        let guest = Outcome()
        let guestDone = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            guest.result = try? runProgram(["ip", "netns", "exec", namespace, Self.monitor, "--mem=8",
                                            "--net:service=tap0", imagePath("netecho", platform: "hvt")], timeout: 60)
            guestDone.signal()
        }
        // While the guest runs, the monitor is under its seccomp filter.
        // (It installs the filter just before the first guest instruction: poll for it.)
        var found: String?
        for _ in 0..<100 {
            found = Self.procStatus(ofCommandContaining: "netecho.elf")
            if found?.contains("Seccomp:\t2") == true { break }
            Thread.sleep(forTimeInterval: 0.1)
        }
        let status = try XCTUnwrap(found, "monitor process not found")
        XCTAssert(status.contains("Seccomp:\t2"), status)
        XCTAssert(status.contains("NoNewPrivs:\t1"), status)
        let sender = try runProgram(["ip", "netns", "exec", namespace, "python3", script, "tap0", "50"], timeout: 60)
        XCTAssertEqual(sender.status, 0, sender.output)
        XCTAssert(sender.output.contains("reflected 51"), sender.output)
        XCTAssertEqual(guestDone.wait(timeout: .now() + 70), .success)
        XCTAssertEqual(guest.result?.status, 0, guest.result?.output ?? "no guest result")
        // The guest sees the tap's MTU.
        XCTAssert(guest.result?.output.contains("netecho: service mtu 9000 mac ") == true, guest.result?.output ?? "")
    }
}
