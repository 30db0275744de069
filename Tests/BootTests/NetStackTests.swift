// Swiftlet's TCP/IP stack (Sources/Net) against Linux: the echo service
// (Sources/Apps/EchoService) on hosted (tap), pc (virtio-net over PCI and
// MMIO, QEMU TCG) and hvt (our monitor), each on a tap inside a network
// namespace the test creates, where Linux has 10.0.0.1/24 and the guest
// 10.0.0.2/24: Linux's ping gets its replies (ARP resolved both ways), UDP
// datagrams up to 65,507 bytes come back intact (IPv4 fragmentation and
// reassembly both ways), and Linux TCP connections get their bytes back
// identical (SHA-256). hvt moves small amounts only: this machine's KVM
// emulates the guest.

import Foundation
import XCTest

/// `python3 SCRIPT SIZES TCPBYTES`: sends datagrams of SIZES bytes to
/// 10.0.0.2:7 (3 tries each) and prints "echoed N" for the ones that came
/// back intact; then TCPBYTES random bytes over two TCP connections at once
/// ("tcp identical" when both came back with the same SHA-256); then STOP.
let echoClient = """
        import hashlib, os, socket, sys, threading
        def tcp(count, results):
            data = os.urandom(count)
            c = socket.create_connection(("10.0.0.2", 7), timeout=20)
            sender = threading.Thread(target=lambda: (c.sendall(data), c.shutdown(socket.SHUT_WR)))
            sender.start()
            got = bytearray()
            while True:
                chunk = c.recv(65536)
                if not chunk:
                    break
                got += chunk
            sender.join()
            c.close()
            results.append(hashlib.sha256(got).digest() == hashlib.sha256(data).digest())
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
        print("echoed", echoed)
        results = []
        clients = [threading.Thread(target=tcp, args=(int(sys.argv[2]), results)) for _ in range(2)]
        for t in clients: t.start()
        for t in clients: t.join()
        print("tcp identical" if results == [True, True] else "tcp broken %s" % results)
        s.sendto(b"STOP", ("10.0.0.2", 7))
        """

/// A guest started on tap0 inside a network namespace of its own (Linux 10.0.0.1/24,
/// MTU 1500), already answering ping; `finish` waits (bounded) for its end.
struct NamespacedGuest {
    let namespace: String
    let finish: (_ seconds: Int) -> (status: Int32, output: String)?

    /// Runs `command` inside the guest's namespace.
    func run(_ command: [String], timeout: Int = 60) throws -> (status: Int32, output: String) {
        try runProgram(["ip", "netns", "exec", namespace] + command, timeout: timeout)
    }
}

extension XCTestCase {
    /// Starts `guest` (its network device on tap0, 10.0.0.2) in a new namespace
    /// named after `prefix`, and pings it until it answers (bounded).
    func startNamespacedGuest(_ prefix: String, guest: [String], timeout: Int = 90) throws -> NamespacedGuest {
        let namespace = try makeNamespace(prefix)
        try addTap(in: namespace)
        // Linux and the guest must agree on the MTU (QEMU tells virtio-net guests 1500).
        for command in [["ip", "link", "set", "tap0", "mtu", "1500"], ["ip", "addr", "add", "10.0.0.1/24", "dev", "tap0"]] {
            let result = try runProgram(["ip", "netns", "exec", namespace] + command)
            XCTAssertEqual(result.status, 0, result.output)
        }
        final class Outcome: @unchecked Sendable { var result: (status: Int32, output: String)? }
        let outcome = Outcome()
        let done = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            outcome.result = try? runProgram(["ip", "netns", "exec", namespace] + guest, timeout: timeout)
            done.signal()
        }
        let started = NamespacedGuest(namespace: namespace) { seconds in
            done.wait(timeout: .now() + .seconds(seconds)) == .success ? outcome.result : nil
        }
        // The guest boots meanwhile.
        var answered = false
        for _ in 0..<20 where !answered {
            answered = try started.run(["ping", "-c", "1", "-W", "1", "10.0.0.2"]).status == 0
        }
        XCTAssert(answered, "\(prefix): no ping reply")
        return started
    }

    /// Runs `guest` (the echo service on tap0) in a namespace of its own and checks it with ping, UDP and TCP.
    func checkEchoService(_ platform: String, sizes: [Int], tcpBytes: Int, guest: [String]) throws {
        let script = NSTemporaryDirectory() + "swiftlet-udp-\(getpid())-\(UUID().uuidString).py"
        try echoClient.write(toFile: script, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: script) }
        let started = try startNamespacedGuest("swiftlet-ip-\(platform)", guest: guest)
        let ping = try started.run(["ping", "-c", "3", "-i", "0.2", "-W", "2", "10.0.0.2"])
        XCTAssert(ping.output.contains("3 received"), "\(platform): \(ping.output)")
        let client = try started.run(["python3", script, sizes.map(String.init).joined(separator: ","), String(tcpBytes)],
                                     timeout: 80)
        XCTAssert(client.output.contains("echoed \(sizes.count)"), "\(platform): \(client.output)")
        XCTAssert(client.output.contains("tcp identical"), "\(platform): \(client.output)")
        let result = started.finish(100)
        XCTAssertEqual(result?.status, 0, "\(platform): \(result?.output ?? "no result")")
        XCTAssert(result?.output.contains(" 10.0.0.2 port 7") == true, "\(platform): \(result?.output ?? "")")
    }
}

final class NetStackTests: XCTestCase {
    static let largeSizes = [0, 1, 100, 1472, 1473, 4000, 8972, 30000, 65507]

    func testHosted() throws {
        let program = repositoryRoot + "/.build/debug/EchoService"
        guard FileManager.default.isExecutableFile(atPath: program) else { return XCTFail("\(program) is missing: run `make test`") }
        try checkEchoService("hosted", sizes: Self.largeSizes, tcpBytes: 4 << 20,
                             guest: [program, "--net:service=tap0", "--ipv4=10.0.0.2/24"])
    }

    func testPCOverPCIAndMMIO() throws {
        let runner = repositoryRoot + "/.build/debug/swiftlet"
        for machine in ["pc", "microvm"] {
            try checkEchoService(machine, sizes: Self.largeSizes, tcpBytes: 1 << 20,
                      guest: [runner, "run", "--machine", machine, "--timeout", "80", "--net", "tap0", imagePath("echo"),
                              "--", "--ipv4=10.0.0.2/24"])
        }
    }

    func testBadConfigurationIsOneLineAndStatus4() throws {
        let program = repositoryRoot + "/.build/debug/EchoService"
        let namespace = try makeNamespace("swiftlet-ip-bad")
        try addTap(in: namespace)
        for bad in ["--ipv4=10.0.0.300/24", "--ipv4=10.0.0.2", "--ipv4=10.0.0.2/33"] {
            let result = try runProgram(["ip", "netns", "exec", namespace, program, "--net:service=tap0", bad])
            XCTAssertEqual(result.status, 4, "\(bad): \(result.output)")
            XCTAssert(result.output.hasPrefix("echo: --ipv4"), "\(bad): \(result.output)")
        }
    }
}

final class HvtNetStackTests: HvtTestCase {
    func testHvt() throws {
        try checkEchoService("hvt", sizes: [0, 100, 1472, 3000], tcpBytes: 20_000,
                             guest: [Self.monitor, "--mem=16", "--net:service=tap0", imagePath("echo", platform: "hvt"),
                                          "--ipv4=10.0.0.2/24"])
    }
}
