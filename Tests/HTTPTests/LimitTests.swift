// Every limit exactly at its value (passes) and one byte or field past it
// (fails with its status), complete and arriving in pieces.

import HTTP
import XCTest

final class LimitTests: XCTestCase {
    /// "GET /aaa...a HTTP/1.1" with a request line of exactly `length` bytes.
    func requestLine(_ length: Int) -> String {
        "GET /" + String(repeating: "a", count: length - 14) + " HTTP/1.1"
    }

    func testRequestLine() {
        let limits = HTTPLimits(maxRequestLineBytes: 64)
        XCTAssertEqual(parse(requestLine(64) + "\r\nHost: h\r\n\r\n", limits: limits).requests.count, 1)
        XCTAssertEqual(parseBytewise(bytes(requestLine(64) + "\r\nHost: h\r\n\r\n"), limits: limits).requests.count, 1)
        XCTAssertEqual(failure(requestLine(65) + "\r\nHost: h\r\n\r\n", limits: limits), .requestLineTooLong)
        XCTAssertEqual(HTTPError.requestLineTooLong.status, .uriTooLong)
        // Refused before the line ends, so a client cannot make us buffer an endless line.
        XCTAssertEqual(parse(requestLine(66), limits: limits).error, .requestLineTooLong)
        XCTAssertNil(parse(requestLine(64) + "\r", limits: limits).error)
    }

    func testHeaderBytes() {
        let limits = HTTPLimits(maxHeaderBytes: 100)
        let start = "GET / HTTP/1.1\r\nHost: h\r\n"          // 25 bytes; the empty line adds 2
        func head(_ total: Int) -> String { start + "X: " + String(repeating: "v", count: total - 25 - 2 - 5) + "\r\n\r\n" }
        XCTAssertEqual(head(100).utf8.count, 100)
        XCTAssertEqual(parse(head(100), limits: limits).requests.count, 1)
        XCTAssertEqual(parseBytewise(bytes(head(100)), limits: limits).requests.count, 1)
        XCTAssertEqual(failure(head(101), limits: limits), .headerSectionTooLarge)
        XCTAssertEqual(HTTPError.headerSectionTooLarge.status.code, 431)
        // An unfinished head past the limit is refused without waiting for its end.
        XCTAssertEqual(parse(start + String(repeating: "X", count: 80), limits: limits).error, .headerSectionTooLarge)
    }

    func testHeaderCount() {
        let limits = HTTPLimits(maxHeaderCount: 5)
        func request(_ fields: Int) -> String {
            "GET / HTTP/1.1\r\nHost: h\r\n" + (1..<fields).map { "X-\($0): v\r\n" }.joined() + "\r\n"
        }
        XCTAssertEqual(parse(request(5), limits: limits).requests.first?.fields.count, 5)
        XCTAssertEqual(failure(request(6), limits: limits), .tooManyHeaderFields)
        XCTAssertEqual(HTTPError.tooManyHeaderFields.status.code, 431)
    }

    func testContentLengthBody() {
        let limits = HTTPLimits(maxBodyBytes: 16)
        func request(_ size: Int) -> String {
            "PUT /k HTTP/1.1\r\nHost: h\r\nContent-Length: \(size)\r\n\r\n" + String(repeating: "b", count: size)
        }
        XCTAssertEqual(parse(request(16), limits: limits).requests.first?.body.count, 16)
        XCTAssertEqual(failure(request(17), limits: limits), .bodyTooLarge)
        XCTAssertEqual(HTTPError.bodyTooLarge.status.code, 413)
    }

    func testChunkedBody() {
        let limits = HTTPLimits(maxBodyBytes: 16)
        let head = "PUT /k HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
        let at = head + "8\r\n12345678\r\n8\r\n12345678\r\n0\r\n\r\n"
        XCTAssertEqual(parse(at, limits: limits).requests.first?.body.count, 16)
        XCTAssertEqual(parseBytewise(bytes(at), limits: limits).requests.first?.body.count, 16)
        // The sum goes over with the second size line, before its data arrives.
        XCTAssertEqual(failure(head + "8\r\n12345678\r\n9\r\n", limits: limits), .bodyTooLarge)
    }

    func testChunkLine() {
        let limits = HTTPLimits(maxChunkLineBytes: 10)
        let head = "PUT /k HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
        XCTAssertEqual(parse(head + "1;abcdefgh\r\nx\r\n0\r\n\r\n", limits: limits).requests.count, 1)
        XCTAssertEqual(failure(head + "1;abcdefghi\r\nx\r\n0\r\n\r\n", limits: limits), .chunkLineTooLong)
    }

    func testTrailersHaveTheirOwnBudget() {
        let limits = HTTPLimits(maxHeaderBytes: 64, maxHeaderCount: 3)
        let head = "PUT /k HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"   // 56 bytes, 2 fields
        let threeTrailers = head + "0\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n"
        XCTAssertEqual(parse(threeTrailers, limits: limits).requests.count, 1)
        XCTAssertEqual(failure(head + "0\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n", limits: limits), .tooManyHeaderFields)
        let longTrailer = "T: " + String(repeating: "t", count: 57) + "\r\n\r\n"       // exactly 64
        XCTAssertEqual(parse(head + "0\r\n" + longTrailer, limits: limits).requests.count, 1)
        XCTAssertEqual(failure(head + "0\r\nT: t" + longTrailer.dropFirst(3), limits: limits), .headerSectionTooLarge)
    }

    func testLimitsAreClamped() {
        let limits = HTTPLimits(maxRequestLineBytes: 1000, maxHeaderBytes: 100)
        XCTAssertEqual(limits.maxRequestLineBytes, 100)
    }
}
