// DHCP, DNS and an active TCP open against real Linux peers: the fetch
// unikernel (Sources/Apps/Fetch), given no address, gets a lease from
// dnsmasq, resolves web.test with dnsmasq's DNS, and GETs a random file from
// Python's http.server - all on a tap inside a namespace the test creates.
// The body must come back whole (length and FNV-1a 64 computed here).
// hosted, pc (QEMU TCG, virtio-net) and hvt (our monitor).

import Foundation
import XCTest

extension XCTestCase {
    /// Starts `command` in `namespace` in the background, ended at teardown.
    func startBackground(_ command: [String], in namespace: String, seconds: Int = 300) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/ip")
        process.arguments = ["netns", "exec", namespace, "timeout", String(seconds)] + command
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        addTeardownBlock {
            process.terminate()
            process.waitUntilExit()
        }
    }

    func checkFetch(_ platform: String, guest: (_ url: String) -> [String]) throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/sbin/dnsmasq") else {
            throw XCTSkip("dnsmasq is missing (apt-get install dnsmasq-base; .ci/run installs it)")
        }
        let namespace = try makeNamespace("swiftlet-fetch-\(platform)")
        try addTap(in: namespace)
        for command in [["ip", "link", "set", "tap0", "mtu", "1500"], ["ip", "addr", "add", "10.0.0.1/24", "dev", "tap0"]] {
            XCTAssertEqual(try runProgram(["ip", "netns", "exec", namespace] + command).status, 0)
        }
        let directory = NSTemporaryDirectory() + "swiftlet-fetch-\(getpid())-\(platform)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: directory) }
        var body = [UInt8](repeating: 0, count: 300_000)
        var generator = SystemRandomNumberGenerator()
        for index in body.indices { body[index] = UInt8.random(in: 0...255, using: &generator) }
        try Data(body).write(to: URL(fileURLWithPath: directory + "/blob"))
        let hash = body.reduce(UInt64(0xcbf2_9ce4_8422_2325)) { ($0 ^ UInt64($1)) &* 0x100_0000_01b3 }

        try startBackground(["dnsmasq", "--no-daemon", "--conf-file=/dev/null", "--interface=tap0", "--bind-interfaces",
                             "--dhcp-range=10.0.0.50,10.0.0.60,255.255.255.0,120", "--dhcp-option=option:router,10.0.0.1",
                             "--dhcp-leasefile=\(directory)/leases", "--no-resolv", "--no-hosts",
                             "--address=/web.test/10.0.0.1", "--address=/invalid/", "--user=root"], in: namespace)
        try startBackground(["python3", "-m", "http.server", "--bind", "10.0.0.1", "--directory", directory, "8000"],
                            in: namespace)
        Thread.sleep(forTimeInterval: 1)  // both listening
        let result = try runProgram(["ip", "netns", "exec", namespace] + guest("http://web.test:8000/blob"), timeout: 120)
        XCTAssertEqual(result.status, 0, "\(platform): \(result.output)")
        let lease = #/fetch: DHCP 10\.0\.0\.(5\d|60)/24 gateway 10\.0\.0\.1 dns 10\.0\.0\.1 lease 120 s/#
        XCTAssertNotNil(result.output.firstMatch(of: lease), "\(platform): \(result.output)")
        XCTAssert(result.output.contains("fetch: web.test is 10.0.0.1"), "\(platform): \(result.output)")
        XCTAssert(result.output.contains("fetch: HTTP/1.0 200 OK"), "\(platform): \(result.output)")
        let digest = String(hash, radix: 16)
        let padded = String(repeating: "0", count: 16 - digest.count) + digest
        XCTAssert(result.output.contains("fetch: body 300000 bytes fnv1a64 \(padded)"), "\(platform): \(result.output)")
        // A name that does not exist (dnsmasq answers NXDOMAIN for .invalid): one clear line and status 5.
        let missing = try runProgram(["ip", "netns", "exec", namespace] + guest("http://nowhere.invalid/"), timeout: 120)
        XCTAssertEqual(missing.status, 5, "\(platform): \(missing.output)")
        XCTAssert(missing.output.contains("fetch: cannot resolve nowhere.invalid: no such name"), "\(platform): \(missing.output)")
    }
}

final class FetchTests: XCTestCase {
    func testHosted() throws {
        try checkFetch("hosted") { [repositoryRoot + "/.build/debug/Fetch", "--net:service=tap0", $0] }
    }

    func testPC() throws {
        try checkFetch("pc") {
            [repositoryRoot + "/.build/debug/swiftlet", "run", "--machine", "pc", "--timeout", "100", "--net", "tap0",
             imagePath("fetch"), "--", $0]
        }
    }

    func testBadURL() throws {
        let result = try runProgram([repositoryRoot + "/.build/debug/Fetch", "ftp://x/"])
        XCTAssertEqual(result.status, 7, result.output)
        XCTAssert(result.output.contains("fetch: usage: fetch http://HOST[:PORT]/PATH"), result.output)
    }
}

final class HvtFetchTests: HvtTestCase {
    func testHvt() throws {
        try checkFetch("hvt") { [Self.monitor, "--mem=16", "--net:service=tap0", imagePath("fetch", platform: "hvt"), $0] }
    }
}
