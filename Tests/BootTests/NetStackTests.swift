// Swiftlet's IPv4 stack (Sources/Net) against Linux: the udpecho
// application on hosted (tap), pc (virtio-net over PCI and MMIO, QEMU TCG)
// and hvt (our monitor), each on a tap inside a network namespace the test
// creates, where Linux has 10.0.0.1/24 and the guest 10.0.0.2/24: Linux's
// ping gets its replies (ARP resolved both ways), and UDP datagrams up to
// 65,507 bytes come back intact (IPv4 fragmentation and reassembly both
// ways; hvt with small ones only - this machine's KVM emulates the guest).

import Foundation
import XCTest

/// Sends datagrams of `sizes` bytes to 10.0.0.2:7 (3 tries each), then
    /// STOP; prints "echoed N" for the ones that came back intact.
let udpEchoClient = """
        import os, socket, sys
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(3)
        echoed = 0
        for size in map(int, sys.argv[1].split(",")):
            data = os.urandom(size)
            for attempt in range(3):
                s.sendto(data, ("10.0.0.2", 7))
                try:
                    got, _ = s.recvfrom(70000)
                    if got == data:
                        echoed += 1
                        break
                except socket.timeout:
                    pass
        s.sendto(b"STOP", ("10.0.0.2", 7))
        print("echoed", echoed)
        """

extension XCTestCase {
    /// Runs `guest` (udpecho on tap0) in a namespace of its own and checks it with ping and UDP.
    func checkUDPEcho(_ platform: String, sizes: [Int], guest: [String]) throws {
        let namespace = try makeNamespace("swiftlet-ip-\(platform)")
        try addTap(in: namespace)
        // Linux and the guest must agree on the MTU (QEMU tells virtio-net guests 1500).
        for command in [["ip", "link", "set", "tap0", "mtu", "1500"], ["ip", "addr", "add", "10.0.0.1/24", "dev", "tap0"]] {
            let result = try runProgram(["ip", "netns", "exec", namespace] + command)
            XCTAssertEqual(result.status, 0, result.output)
        }
        let script = NSTemporaryDirectory() + "swiftlet-udp-\(getpid())-\(UUID().uuidString).py"
        try udpEchoClient.write(toFile: script, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: script) }

        final class Outcome: @unchecked Sendable { var result: (status: Int32, output: String)? }
        let outcome = Outcome()
        let done = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            outcome.result = try? runProgram(["ip", "netns", "exec", namespace] + guest, timeout: 90)
            done.signal()
        }
        // The guest boots meanwhile: ping until it answers (bounded), then count.
        var answered = false
        for _ in 0..<20 where !answered {
            answered = try runProgram(["ip", "netns", "exec", namespace, "ping", "-c", "1", "-W", "1", "10.0.0.2"]).status == 0
        }
        XCTAssert(answered, "\(platform): no ping reply")
        let ping = try runProgram(["ip", "netns", "exec", namespace, "ping", "-c", "3", "-i", "0.2", "-W", "2", "10.0.0.2"])
        XCTAssert(ping.output.contains("3 received"), "\(platform): \(ping.output)")
        let udp = try runProgram(["ip", "netns", "exec", namespace, "python3", script,
                                  sizes.map(String.init).joined(separator: ",")], timeout: 80)
        XCTAssert(udp.output.contains("echoed \(sizes.count)"), "\(platform): \(udp.output)")
        XCTAssertEqual(done.wait(timeout: .now() + 100), .success, platform)
        XCTAssertEqual(outcome.result?.status, 0, "\(platform): \(outcome.result?.output ?? "no result")")
        XCTAssert(outcome.result?.output.contains(" 10.0.0.2 port 7") == true, "\(platform): \(outcome.result?.output ?? "")")
    }
}

final class NetStackTests: XCTestCase {
    static let largeSizes = [0, 1, 100, 1472, 1473, 4000, 8972, 30000, 65507]

    func testHosted() throws {
        let program = repositoryRoot + "/.build/debug/UDPEcho"
        guard FileManager.default.isExecutableFile(atPath: program) else { return XCTFail("\(program) is missing: run `make test`") }
        try checkUDPEcho("hosted", sizes: Self.largeSizes, guest: [program, "--net:service=tap0", "--ipv4=10.0.0.2/24"])
    }

    func testPCOverPCIAndMMIO() throws {
        let runner = repositoryRoot + "/.build/debug/swiftlet"
        for machine in ["pc", "microvm"] {
            try checkUDPEcho(machine, sizes: Self.largeSizes,
                      guest: [runner, "run", "--machine", machine, "--timeout", "80", "--net", "tap0", imagePath("udpecho"),
                              "--", "--ipv4=10.0.0.2/24"])
        }
    }

    func testBadConfigurationIsOneLineAndStatus4() throws {
        let program = repositoryRoot + "/.build/debug/UDPEcho"
        let namespace = try makeNamespace("swiftlet-ip-bad")
        try addTap(in: namespace)
        for bad in ["--ipv4=10.0.0.300/24", "--ipv4=10.0.0.2", "--ipv4=10.0.0.2/33"] {
            let result = try runProgram(["ip", "netns", "exec", namespace, program, "--net:service=tap0", bad])
            XCTAssertEqual(result.status, 4, "\(bad): \(result.output)")
            XCTAssert(result.output.hasPrefix("udpecho: --ipv4"), "\(bad): \(result.output)")
        }
    }
}

final class HvtNetStackTests: HvtTestCase {
    func testHvt() throws {
        try checkUDPEcho("hvt", sizes: [0, 100, 1472, 3000],
                                  guest: [Self.monitor, "--mem=16", "--net:service=tap0", imagePath("udpecho", platform: "hvt"),
                                          "--ipv4=10.0.0.2/24"])
    }
}
