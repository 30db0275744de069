// Chunked request bodies: sizes, extensions, trailers, and their errors.

import HTTP
import XCTest

final class ChunkedTests: XCTestCase {
    func chunked(_ body: String) -> String {
        "POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n" + body
    }

    func testChunks() {
        XCTAssertEqual(single(chunked("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"))?.bodyText, "hello world")
        XCTAssertEqual(single(chunked("0\r\n\r\n"))?.body, [])
    }

    func testHexSizesInAnyCaseWithLeadingZeros() {
        let data = String(repeating: "x", count: 0x1a) + String(repeating: "y", count: 0xB)
        let body = "1a\r\n" + String(repeating: "x", count: 0x1a) + "\r\n000B\r\n" + String(repeating: "y", count: 0xB)
            + "\r\n00000000000000000000\r\n\r\n"
        XCTAssertEqual(single(chunked(body))?.bodyText, data)
    }

    func testOddSizesAndBigChunks() {
        var body = ""
        var expected = ""
        for size in [1, 3, 7, 255, 4097] {
            let piece = String(repeating: Character(UnicodeScalar(UInt8(0x61 + size % 26))), count: size)
            body += String(size, radix: 16) + "\r\n" + piece + "\r\n"
            expected += piece
        }
        let data = bytes(chunked(body + "0\r\n\r\n"))
        let whole = parse(data)
        XCTAssertEqual(whole.requests.first?.bodyText, expected)
        XCTAssertEqual(parseBytewise(data), whole)
    }

    func testExtensionsAreIgnored() {
        let body = "3;name\r\nabc\r\n2 ; a=b ;c=\"q \\\" ;\"\r\nde\r\n1;x=y;z\r\nf\r\n0;last=\"1\"\r\n\r\n"
        XCTAssertEqual(single(chunked(body))?.bodyText, "abcdef")
    }

    func testTrailersAreCheckedAndDropped() throws {
        let request = try XCTUnwrap(single(chunked("2\r\nok\r\n0\r\nChecksum: 1234\r\nX-Other: y\r\n\r\n")))
        XCTAssertEqual(request.bodyText, "ok")
        XCTAssertNil(request.header("checksum"))
        XCTAssertEqual(failure(chunked("0\r\nBad Name: 1\r\n\r\n")), .invalidFieldName)
        XCTAssertEqual(failure(chunked("0\r\nX: 1\r\n folded\r\n\r\n")), .obsoleteLineFolding)
    }

    func testPipelinedAfterChunked() {
        let outcome = parse(chunked("1\r\na\r\n0\r\n\r\n") + chunked("1\r\nb\r\n0\r\n\r\n"))
        XCTAssertEqual(outcome.requests.map(\.bodyText), ["a", "b"])
    }

    func testBareLFInChunkFraming() {
        XCTAssertEqual(single(chunked("2\nok\n0\n\n"))?.bodyText, "ok")
    }

    func testChunkErrors() {
        let cases: [(String, HTTPError)] = [
            ("\r\n", .invalidChunkSize),
            ("x\r\n", .invalidChunkSize),
            ("-1\r\n", .invalidChunkSize),
            ("0x10\r\n", .invalidChunkExtension),
            (" 1\r\na\r\n", .invalidChunkSize),
            ("1 \r\na\r\n", .invalidChunkExtension),
            ("1;\r\na\r\n", .invalidChunkExtension),
            ("1;a=\r\na\r\n", .invalidChunkExtension),
            ("1;a=\"x\r\na\r\n", .invalidChunkExtension),
            ("1;a b\r\na\r\n", .invalidChunkExtension),
            ("1;a=b c\r\na\r\n", .invalidChunkExtension),
            ("1;a=\u{0}\r\na\r\n", .invalidChunkExtension),
            ("1\r\nabc\r\n", .missingChunkTerminator),
            ("1\r\na\rX", .missingChunkTerminator),
            ("1\r\na\r\r\n", .missingChunkTerminator),
            ("10000000000000000\r\n", .invalidChunkSize),
            ("FFFFFFFFFFFFFFFFFFFF\r\n", .invalidChunkSize),
            ("7FFFFFFFFFFFFFFF\r\n", .bodyTooLarge),
        ]
        for (body, error) in cases {
            XCTAssertEqual(failure(chunked(body)), error, body.debugDescription)
        }
    }
}
