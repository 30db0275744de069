// The HTTP service (Sources/Apps/HTTPService) against Linux's curl, on hosted
// (tap), pc (virtio-net, QEMU TCG) and hvt (our monitor), each on a tap in a
// network namespace of its own (startNamespacedGuest, NetStackTests.swift):
// the page, the key-value store's PUT/GET/DELETE (a value larger than the
// TCP send buffer included, sent with Expect: 100-continue), 405 with Allow,
// 431 for an oversized header, two requests on one kept-alive connection,
// and POST /stop ending the guest with status 0. Every curl is bounded by
// --max-time 10.

import Foundation
import XCTest

extension XCTestCase {
    /// Checks `guest` (httpd on tap0 as 10.0.0.2) with curl; `largeValue` bytes go through PUT and GET.
    func checkHTTPService(_ platform: String, largeValue: Int, guest: [String]) throws {
        let started = try startNamespacedGuest("swiftlet-http-\(platform)", guest: guest)
        func curl(_ arguments: [String], _ path: String) throws -> String {
            try started.run(["curl", "-s", "-i", "--max-time", "10"] + arguments + ["http://10.0.0.2" + path], timeout: 20).output
        }
        func expect(_ output: String, _ parts: String..., line: UInt = #line) {
            for part in parts { XCTAssert(output.contains(part), "\(platform): \(part) missing in \(output)", line: line) }
        }

        expect(try curl([], "/"), "HTTP/1.1 200 OK", "Content-Type: text/html", "Hello from Swiftlet")
        expect(try curl(["-I"], "/"), "HTTP/1.1 200 OK")
        expect(try curl(["-X", "PUT", "--data-binary", "first value"], "/kv/a"), "HTTP/1.1 201 Created")
        expect(try curl(["-X", "PUT", "--data-binary", "second value"], "/kv/a"), "HTTP/1.1 204 No Content")
        expect(try curl([], "/kv/a"), "HTTP/1.1 200 OK", "Content-Length: 12", "\r\n\r\nsecond value")
        expect(try curl(["-X", "DELETE"], "/kv/a"), "HTTP/1.1 204 No Content")
        expect(try curl([], "/kv/a"), "HTTP/1.1 404 Not Found")
        expect(try curl(["-X", "DELETE"], "/kv/a"), "HTTP/1.1 404 Not Found")
        expect(try curl(["-X", "PATCH"], "/kv/a"), "HTTP/1.1 405 Method Not Allowed", "Allow: GET, HEAD, PUT, DELETE")
        expect(try curl(["-X", "POST"], "/"), "HTTP/1.1 405 Method Not Allowed", "Allow: GET, HEAD")
        expect(try curl([], "/elsewhere"), "HTTP/1.1 404 Not Found")
        expect(try curl(["-H", "X-Big: " + String(repeating: "x", count: 20_000)], "/"),
               "HTTP/1.1 431 Request Header Fields Too Large", "Connection: close")

        // A value larger than the 64 KiB send buffer: the response waits in the pending buffer.
        let value = Data((0..<largeValue).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 >> 8) })
        let file = NSTemporaryDirectory() + "swiftlet-http-\(getpid())-\(UUID().uuidString)"
        try value.write(to: URL(fileURLWithPath: file))
        defer { try? FileManager.default.removeItem(atPath: file); try? FileManager.default.removeItem(atPath: file + ".got") }
        expect(try curl(["-X", "PUT", "--data-binary", "@" + file], "/kv/large"), "HTTP/1.1 201 Created")
        _ = try started.run(["curl", "-s", "--max-time", "10", "-o", file + ".got", "http://10.0.0.2/kv/large"], timeout: 20)
        XCTAssertEqual(try? Data(contentsOf: URL(fileURLWithPath: file + ".got")), value, "\(platform): large value differs")

        // Two URLs: curl keeps the connection and sends the second request on it.
        let twice = try started.run(["curl", "-s", "-v", "--max-time", "10", "http://10.0.0.2/", "http://10.0.0.2/kv/none"],
                                    timeout: 20).output
        expect(twice, "Hello from Swiftlet", "404 Not Found")
        XCTAssert(twice.contains("e-using existing") || twice.contains("eusing existing"), "\(platform): no reuse: \(twice)")

        expect(try curl(["-X", "POST"], "/stop"), "HTTP/1.1 200 OK")
        let result = started.finish(30)
        XCTAssertEqual(result?.status, 0, "\(platform): \(result?.output ?? "no result")")
        XCTAssert(result?.output.contains("httpd: stopped") == true, "\(platform): \(result?.output ?? "")")
    }
}

final class HTTPServiceTests: XCTestCase {
    func testHosted() throws {
        let program = repositoryRoot + "/.build/debug/HTTPService"
        guard FileManager.default.isExecutableFile(atPath: program) else { return XCTFail("\(program) is missing: run `make test`") }
        try checkHTTPService("hosted", largeValue: 300_000, guest: [program, "--net:service=tap0", "--ipv4=10.0.0.2/24"])
    }

    func testPC() throws {
        try checkHTTPService("pc", largeValue: 300_000,
                             guest: [repositoryRoot + "/.build/debug/swiftlet", "run", "--machine", "pc", "--timeout", "80",
                                     "--net", "tap0", imagePath("httpd"), "--", "--ipv4=10.0.0.2/24"])
    }
}

final class HvtHTTPServiceTests: HvtTestCase {
    func testHvt() throws {
        try checkHTTPService("hvt", largeValue: 100_000,
                             guest: [Self.monitor, "--mem=16", "--net:service=tap0", imagePath("httpd", platform: "hvt"),
                                     "--ipv4=10.0.0.2/24"])
    }
}
