// The hosted platform's devices: the hosted BlockTest on a temporary file
// (512- and 4096-byte sectors, the image checked on the host like hvt's), a
// read-only file, the device options' errors (status 1, one line) and the
// arguments that follow them, and the hosted NetEcho reflecting frames on a
// tap inside a network namespace the test creates (skipped, saying why,
// only when no namespace can be created). Every run is under timeout(1).

import Foundation
import XCTest

final class HostedDeviceTests: XCTestCase {
    func hosted(_ program: String) throws -> String {
        let path = repositoryRoot + "/.build/debug/\(program)"
        guard FileManager.default.isExecutableFile(atPath: path) else {
            XCTFail("\(path) is missing: run `make test` (swift build --build-tests builds it)")
            throw XCTSkip("no hosted binary")
        }
        return path
    }

    func blockTest(_ options: [String]) throws -> (status: Int32, output: String) {
        try runProgram([try hosted("BlockTest")] + options, timeout: 60)
    }

    func testBlockWriteReadAndHostCheck() throws {
        let path = try disk(bytes: 16 << 10)
        let result = try blockTest(["--block:storage=\(path)"])
        try checkBlockTest(result, disk: "storage", sectors: 32, sectorSize: 512, image: path)
    }

    func testBlockWith4096ByteSectors() throws {
        let path = try disk(bytes: 32 << 10)
        let result = try blockTest(["--block-sector-size:storage=4096", "--block:storage=\(path)"])
        XCTAssertEqual(result.status, 0, result.output)
        XCTAssert(result.output.contains("blktest: storage: 8 sectors of 4096 bytes"), result.output)
        try checkPattern(path)
    }

    /// A file the process cannot write is attached read-only: blktest's
    /// first write is refused and the file stays as it was. (root may write
    /// any file: then the program runs as nobody.)
    func testUnwritableFileIsAttachedReadOnly() throws {
        let path = try disk(bytes: 16 << 10)
        XCTAssertEqual(chmod(path, 0o444), 0)
        let asUser = getuid() == 0 ? ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] : []
        let result = try runProgram(asUser + [try hosted("BlockTest"), "--block:storage=\(path)"], timeout: 60)
        XCTAssertEqual(result.status, 1, result.output)
        XCTAssert(result.output.contains("blktest: storage: 32 sectors of 512 bytes\nblktest: I/O failed"), result.output)
        XCTAssertEqual(FileManager.default.contents(atPath: path), Data(count: 16 << 10))
    }

    func testBadDeviceOptionsAreOneLineAndStatusOne() throws {
        let good = try disk(bytes: 4096)
        let odd = try disk(bytes: 1000)
        let cases: [([String], String)] = [
            (["--block:storage=/nonexistent/disk.img"], "--block:storage: cannot open /nonexistent/disk.img: No such file or directory"),
            (["--blocks:storage=\(good)"], "unknown device option '--blocks:storage=\(good)'"),
            (["--net-speed:service=10"], "unknown device option '--net-speed:service=10'"),
            (["--block:storage"], "--block:storage: expected --block:NAME=PATH"),
            (["--block:storage=\(odd)"], "is 1000 bytes, not a whole number of 512-byte sectors"),
            (["--block:storage=\(good)", "--block-sector-size:storage=8192"], "is 4096 bytes, not a whole number of 8192-byte sectors"),
            (["--block:storage=\(good)", "--block-sector-size:storage=1000"], "the sector size must be a power of two from 512 to 32768"),
            (["--block-sector-size:other=4096", "--block:storage=\(good)"], "--block-sector-size:other given without --block:other=PATH"),
            (["--block:storage=\(good)", "--block:storage=\(good)"], "device 'storage' attached more than once"),
            (["--net:service=tap0", "--net-mac:service=02:00:00:00:00"], "expected a MAC address like 02:00:00:00:00:01"),
        ]
        for (options, message) in cases {
            let result = try blockTest(options + ["argument"])
            XCTAssertEqual(result.status, 1, "\(options): \(result.output)")
            XCTAssert(result.output.hasPrefix("BlockTest: "), "\(options): \(result.output)")
            XCTAssert(result.output.contains(message), "\(options): \(result.output)")
            XCTAssertEqual(result.output.split(separator: "\n").count, 1, "\(options): \(result.output)")
        }
    }

    func testArgumentsAfterTheDeviceOptionsReachTheApplication() throws {
        let path = try disk(bytes: 4096)
        let hello = try hosted("hello")
        let plain = try runProgram([hello, "--block:storage=\(path)", "alpha", "two words", "--net:x=y"])
        XCTAssertEqual(plain.status, 0, plain.output)
        XCTAssert(plain.output.hasPrefix("Hello from Swiftlet!\narguments: 3\n  [0] alpha\n  [1] two words\n  [2] --net:x=y\n"),
                  plain.output)
        // "--" ends the device options; what follows is the application's, even if it looks like one.
        let marked = try runProgram([hello, "--block:storage=\(path)", "--", "--block:a=b"])
        XCTAssertEqual(marked.status, 0, marked.output)
        XCTAssert(marked.output.hasPrefix("Hello from Swiftlet!\narguments: 1\n  [0] --block:a=b\n"), marked.output)
    }

    func testFramesAreReflectedThroughATapInANamespace() throws {
        let netEcho = try hosted("NetEcho")
        let namespace = try makeNamespace("swiftlet-hosted")
        // A tap that does not exist is an error, never created on the fly.
        let missing = try runProgram(["ip", "netns", "exec", namespace, netEcho, "--net:service=tap0"])
        XCTAssertEqual(missing.status, 1, missing.output)
        XCTAssertEqual(missing.output, "NetEcho: --net:service: cannot attach tap tap0: No such device\n")
        try addTap(in: namespace)
        let script = try writeFrameSender()

        final class Outcome: @unchecked Sendable { var result: (status: Int32, output: String)? }
        let echo = Outcome()
        let echoDone = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            echo.result = try? runProgram(["ip", "netns", "exec", namespace, netEcho, "--net:service=tap0",
                                           "--net-mac:service=02:00:00:00:00:2a"], timeout: 60)
            echoDone.signal()
        }
        // The sender resends each frame until it is reflected, so NetEcho's start needs no wait here.
        let sender = try runProgram(["ip", "netns", "exec", namespace, "python3", script, "tap0", "50"], timeout: 60)
        XCTAssertEqual(sender.status, 0, sender.output)
        XCTAssert(sender.output.contains("reflected 51"), sender.output)
        XCTAssertEqual(echoDone.wait(timeout: .now() + 70), .success)
        XCTAssertEqual(echo.result?.status, 0, echo.result?.output ?? "no NetEcho result")
        // NetEcho sees the tap's MTU and the MAC address the option gave.
        XCTAssert(echo.result?.output.contains("netecho: service mtu 9000 mac 02:00:00:00:00:2a\n") == true,
                  echo.result?.output ?? "")
    }
}
