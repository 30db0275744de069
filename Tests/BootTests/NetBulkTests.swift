// Bulk TCP between Linux and Swiftlet's stack, as the issue asks: a
// 100 MB stream to the echo service comes back byte-identical (SHA-256) -
// 100 MB in each direction at once - on a clean link and again with 5%
// loss, reordering and duplication in both directions, put on the link by
// the guest's own fault middleware (`--net-faults=`; this kernel has no
// netem). hosted and pc (virtio-net, QEMU TCG); hvt moves little (this
// machine's KVM emulates the guest). Each run also checks the middleware's
// exit report: the faults really happened; the clean runs, that the
// offloads were on (hosted: 64 KiB frames both ways; pc: segmentation by
// virtio-net).

import Foundation
import XCTest

/// `python3 SCRIPT BYTES SECONDS`: streams BYTES seeded pseudo-random bytes
/// to 10.0.0.2:7 while reading the echo back (SHA-256 of both, never the
/// whole stream in memory), then sends the UDP "STOP" (ten times: the link may
/// drop some). Prints "identical N"
/// or what differed, and the rate.
let bulkClient = """
        import hashlib, random, socket, sys, threading, time
        total, limit = int(sys.argv[1]), float(sys.argv[2])
        rng = random.Random(1)
        c = socket.create_connection(("10.0.0.2", 7), timeout=limit)
        c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        sent = hashlib.sha256()
        def send():
            left = total
            while left > 0:
                chunk = rng.randbytes(min(left, 1 << 16))
                sent.update(chunk)
                c.sendall(chunk)
                left -= len(chunk)
            c.shutdown(socket.SHUT_WR)
        start = time.monotonic()
        sender = threading.Thread(target=send)
        sender.start()
        got, count = hashlib.sha256(), 0
        try:
            while True:
                chunk = c.recv(1 << 20)
                if not chunk:
                    break
                got.update(chunk)
                count += len(chunk)
        except socket.timeout:
            print("timed out after", count, "bytes")
        sender.join()
        seconds = time.monotonic() - start
        c.close()
        same = count == total and got.digest() == sent.digest()
        print(("identical %d" if same else "different %d") % count, "in %.1f s (%.1f MB/s each way)" % (seconds, count / seconds / 1e6))
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for _ in range(10):  # the link may drop some: the first that arrives ends the guest
            s.sendto(b"STOP", ("10.0.0.2", 7))
            time.sleep(0.2)
        """

extension XCTestCase {
    /// Echoes `bytes` through the guest; with `faults`, the guest's link drops, reorders
    /// and duplicates 5% of the frames each way.
    func checkBulkEcho(_ platform: String, bytes: Int, faults: Bool, seconds: Int,
                       guest: (_ arguments: [String]) -> [String]) throws {
        let script = NSTemporaryDirectory() + "swiftlet-bulk-\(getpid())-\(UUID().uuidString).py"
        try bulkClient.write(toFile: script, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: script) }
        var arguments = ["--ipv4=10.0.0.2/24"]
        if faults { arguments.append("--net-faults=loss=5,reorder=5,duplicate=5,seed=7") }
        let started = try startNamespacedGuest("swiftlet-bulk-\(platform)", guest: guest(arguments), timeout: seconds + 30)
        let client = try started.run(["python3", script, String(bytes), String(seconds)], timeout: seconds + 10)
        XCTAssert(client.output.contains("identical \(bytes) "), "\(platform): \(client.output)")
        print("\(platform) bulk echo \(faults ? "with faults" : "clean"): \(client.output)")
        let result = started.finish(40)
        XCTAssertEqual(result?.status, 0, "\(platform): \(result?.output ?? "no result")")
        // A hosted tap has the kernel's offloads and virtio-net (QEMU's tap) segmentation;
        // the fault middleware keeps them off.
        let offloads = faults ? nil : ["hosted": "TCP segmentation, merged receive", "pc": "TCP segmentation"][platform]
        let output = result?.output ?? ""
        if let offloads {
            XCTAssert(output.contains("(offloads: \(offloads))"), "\(platform): \(output)")
        } else {
            XCTAssertFalse(output.contains("(offloads:"), "\(platform): \(output)")
        }
        guard faults else { return }
        // "net-faults NAME in (seed 7): F frames, D dropped, C corrupted, U duplicated, R reordered"
        let reports = (result?.output ?? "").split(separator: "\n").filter { $0.hasPrefix("net-faults ") }
        XCTAssertEqual(reports.count, 2, "\(platform): \(result?.output ?? "")")
        for report in reports {
            let numbers = report.split(separator: ":").last!.split(separator: ",").map { Int($0.split(separator: " ")[0]) ?? -1 }
            XCTAssertEqual(numbers.count, 5, String(report))
            guard numbers.count == 5, numbers[0] > 0 else { continue }
            for (index, name) in [(1, "dropped"), (3, "duplicated"), (4, "reordered")] {
                // Near 5% over a large run; over a few hundred frames, at least present.
                let share = Double(numbers[index]) / Double(numbers[0])
                let band = numbers[0] >= 5_000 ? 0.03...0.07 : 0.001...0.2
                XCTAssert(band.contains(share), "\(platform): \(name) \(share) of frames: \(report)")
            }
        }
    }
}

final class NetBulkTests: XCTestCase {
    static let bytes = 100_000_000

    func hosted(_ arguments: [String]) -> [String] {
        [repositoryRoot + "/.build/debug/EchoService", "--net:service=tap0"] + arguments
    }

    func pc(_ arguments: [String]) -> [String] {
        [repositoryRoot + "/.build/debug/swiftlet", "run", "--machine", "pc", "--timeout", "600", "--net", "tap0",
         imagePath("echo"), "--"] + arguments
    }

    func testHostedClean() throws { try checkBulkEcho("hosted", bytes: Self.bytes, faults: false, seconds: 300, guest: hosted) }
    func testHostedFaults() throws { try checkBulkEcho("hosted", bytes: Self.bytes, faults: true, seconds: 300, guest: hosted) }
    func testPCClean() throws { try checkBulkEcho("pc", bytes: Self.bytes, faults: false, seconds: 500, guest: pc) }
    func testPCFaults() throws { try checkBulkEcho("pc", bytes: Self.bytes, faults: true, seconds: 500, guest: pc) }
}

final class HvtNetBulkTests: HvtTestCase {
    func testHvtFaults() throws {
        try checkBulkEcho("hvt", bytes: 200_000, faults: true, seconds: 120) { arguments in
            [Self.monitor, "--mem=16", "--net:service=tap0", imagePath("echo", platform: "hvt")] + arguments
        }
    }
}
