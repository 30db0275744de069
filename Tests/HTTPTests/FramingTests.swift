// Content-Length, Transfer-Encoding and the smuggling rules; Expect.

import HTTP
import XCTest

final class FramingTests: XCTestCase {
    func post(_ fields: String, _ body: String = "", version: String = "1.1") -> String {
        "POST /p HTTP/\(version)\r\nHost: h\r\n\(fields)\r\n\(body)"
    }

    func testContentLengthBody() throws {
        let request = try XCTUnwrap(single(post("Content-Length: 11\r\n", "hello world")))
        XCTAssertEqual(request.bodyText, "hello world")
        XCTAssertEqual(single(post("Content-Length: 0\r\n"))?.body, [])
        XCTAssertEqual(single(post("Content-Length: 007\r\n", "1234567"))?.bodyText, "1234567")
    }

    func testBodyWaitsForAllItsBytes() throws {
        var parser = RequestParser()
        parser.feed(bytes(post("Content-Length: 10\r\n", "12345")))
        XCTAssertNil(try parser.nextRequest())
        parser.feed(bytes("6789"))
        XCTAssertNil(try parser.nextRequest())
        parser.feed(bytes("0GET"))
        XCTAssertEqual(try parser.nextRequest()?.bodyText, "1234567890")
        XCTAssertNil(try parser.nextRequest())
        XCTAssertEqual(parser.bufferedCount, 3)
    }

    func testIdenticalContentLengthsAreOneLength() {
        XCTAssertEqual(single(post("Content-Length: 3, 3\r\n", "abc"))?.bodyText, "abc")
        XCTAssertEqual(single(post("Content-Length: 3\r\nContent-Length: 3\r\n", "abc"))?.bodyText, "abc")
    }

    func testContentLengthErrors() {
        let cases: [(String, HTTPError)] = [
            ("Content-Length: 3\r\nContent-Length: 4\r\n", .conflictingContentLength),
            ("Content-Length: 3, 4\r\n", .conflictingContentLength),
            ("Content-Length: -1\r\n", .invalidContentLength),
            ("Content-Length: +3\r\n", .invalidContentLength),
            ("Content-Length: 0x10\r\n", .invalidContentLength),
            ("Content-Length: 1 2\r\n", .invalidContentLength),
            ("Content-Length:\r\n", .invalidContentLength),
            ("Content-Length: ,\r\n", .invalidContentLength),
            ("Content-Length: 99999999999999999999\r\n", .invalidContentLength),
            ("Content-Length: 9223372036854775808\r\n", .invalidContentLength),
            ("Content-Length: 9223372036854775807\r\n", .bodyTooLarge),
        ]
        for (fields, error) in cases {
            XCTAssertEqual(failure(post(fields)), error, fields.debugDescription)
        }
    }

    func testSmugglingCombinationsAreRefused() {
        let cases: [(String, HTTPError)] = [
            ("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n", .transferEncodingWithContentLength),
            ("Transfer-Encoding: chunked\r\nContent-Length: 5\r\n", .transferEncodingWithContentLength),
            ("Transfer-Encoding: chunked\r\nContent-Length: 0\r\n", .transferEncodingWithContentLength),
            ("Transfer-Encoding: chunked, chunked\r\n", .invalidTransferEncoding),
            ("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", .invalidTransferEncoding),
            ("Transfer-Encoding: chunked, gzip\r\n", .invalidTransferEncoding),
            ("Transfer-Encoding: gzip\r\n", .invalidTransferEncoding),
            ("Transfer-Encoding:\r\n", .invalidTransferEncoding),
            ("Transfer-Encoding: chunked;x=1\r\n", .invalidTransferEncoding),
            ("Transfer-Encoding: \"chunked\"\r\n", .invalidTransferEncoding),
            ("Transfer-Encoding: chunkedx\r\n", .invalidTransferEncoding),
            ("Transfer-Encoding: gzip, chunked\r\n", .unsupportedTransferCoding),
            ("Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n", .unsupportedTransferCoding),
        ]
        for (fields, error) in cases {
            XCTAssertEqual(failure(post(fields, "0\r\n\r\n")), error, fields.debugDescription)
        }
        XCTAssertEqual(failure(post("Transfer-Encoding: chunked\r\n", "0\r\n\r\n", version: "1.0")),
                       .transferEncodingInHTTP10)
    }

    func testTransferEncodingNamesFoldCaseAndListsMayHaveEmptyElements() {
        XCTAssertEqual(single(post("Transfer-Encoding: ChUnKeD\r\n", "1\r\na\r\n0\r\n\r\n"))?.bodyText, "a")
        XCTAssertEqual(single(post("Transfer-Encoding: , chunked ,\r\n", "1\r\na\r\n0\r\n\r\n"))?.bodyText, "a")
    }

    func testNoFramingMeansNoBody() {
        let outcome = parse(post("") + "GET / HTTP/1.1\r\nHost: h\r\n\r\n")
        XCTAssertEqual(outcome.requests.count, 2)
        XCTAssertEqual(outcome.requests[0].body, [])
    }

    func testExpectContinue() throws {
        var parser = RequestParser()
        parser.feed(bytes(post("Expect: 100-Continue\r\nContent-Length: 4\r\n")))
        XCTAssertNil(try parser.nextRequest())
        XCTAssertTrue(parser.needsContinue)
        parser.markContinueSent()
        XCTAssertFalse(parser.needsContinue)
        parser.feed(bytes("data"))
        let request = try XCTUnwrap(try parser.nextRequest())
        XCTAssertTrue(request.expectsContinue)
        XCTAssertFalse(parser.needsContinue)

        // Not for HTTP/1.0, nor without a body to wait for.
        XCTAssertEqual(single(post("Expect: 100-continue\r\nContent-Length: 1\r\n", "x", version: "1.0"))?.expectsContinue, false)
        XCTAssertEqual(single(post("Expect: 100-continue\r\n"))?.expectsContinue, false)
        XCTAssertEqual(failure(post("Expect: 200-ok\r\nContent-Length: 1\r\n", "x")), .unsupportedExpectation)
    }

    func testTooLargeBodyIsRefusedBeforeItArrives() {
        var parser = RequestParser(limits: HTTPLimits(maxBodyBytes: 10))
        parser.feed(bytes(post("Expect: 100-continue\r\nContent-Length: 11\r\n")))
        XCTAssertThrowsError(try parser.nextRequest()) { XCTAssertEqual($0 as? HTTPError, .bodyTooLarge) }
        XCTAssertFalse(parser.needsContinue)
    }
}
