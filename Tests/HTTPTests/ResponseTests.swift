// The serializer, byte for byte: heads, framing, chunks, standard responses,
// the Date field, and the fixed-buffer sink.

import HTTP
import XCTest

final class ResponseTests: XCTestCase {
    func written(_ build: (inout ResponseWriter<[UInt8]>) -> Void) -> String {
        var writer = ResponseWriter([UInt8]())
        build(&writer)
        return text(writer.sink)
    }

    func testContentLengthResponse() {
        let out = written { w in
            w.startHead(.ok)
            w.field("Content-Type", "text/html")
            w.endHead(contentLength: 5, keepAlive: true)
            w.body("<p/>\n")
        }
        XCTAssertEqual(out, "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 5\r\n\r\n<p/>\n")
    }

    func testConnectionFields() {
        var writer = ResponseWriter([UInt8]())
        writer.startHead(.noContent)
        writer.endHead(keepAlive: false)
        XCTAssertEqual(text(writer.sink), "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n")
        XCTAssertTrue(writer.closesConnection)

        let keep10 = written { w in
            w.startHead(.created)
            w.endHead(contentLength: 0, keepAlive: true, version: .http10)
        }
        XCTAssertEqual(keep10, "HTTP/1.1 201 Created\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n")
    }

    func testChunkedResponse() {
        let out = written { w in
            w.startHead(.ok)
            w.endHeadChunked(keepAlive: true)
            w.chunk(bytes("hello"))
            w.chunk([])
            w.chunk(Array(repeating: 0x2E, count: 300))
            w.endChunks()
        }
        XCTAssertEqual(out, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n12C\r\n"
                       + String(repeating: ".", count: 300) + "\r\n0\r\n\r\n")
        // The serializer's output is what the parser reads back (chunk sizes in upper-case hex).
        let echoed = parse("POST / HTTP/1.1\r\nHost: h\r\n" + out.split(separator: "\r\n", maxSplits: 1)[1])
        XCTAssertEqual(echoed.requests.first?.body.count, 305)
    }

    func testChunkedToHTTP10IsCloseDelimited() {
        var writer = ResponseWriter([UInt8]())
        writer.startHead(.ok)
        writer.endHeadChunked(keepAlive: true, version: .http10)
        writer.chunk(bytes("raw"))
        writer.endChunks()
        XCTAssertEqual(text(writer.sink), "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nraw")
        XCTAssertTrue(writer.closesConnection)
    }

    func testFieldValuesFromDataAreChecked() throws {
        var writer = ResponseWriter([UInt8]())
        try writer.field("Location", bytes: bytes("/kv/a b"))
        XCTAssertThrowsError(try writer.field("Location", bytes: bytes("/x\r\nSet-Cookie: y")))
        XCTAssertThrowsError(try writer.field("Location", bytes: bytes(" /x")))
        XCTAssertThrowsError(try writer.field("Location", bytes: [0x2F, 0x00]))
        XCTAssertEqual(text(writer.sink), "Location: /kv/a b\r\n")
        writer.field("X-Count", 1234567890)
        writer.field("X-Zero", 0)
        XCTAssertEqual(text(writer.sink), "Location: /kv/a b\r\nX-Count: 1234567890\r\nX-Zero: 0\r\n")
    }

    func testStandardErrors() {
        let expected: [(HTTPError, String)] = [
            (.invalidFieldName, "400 Bad Request"), (.bodyTooLarge, "413 Content Too Large"),
            (.requestLineTooLong, "414 URI Too Long"), (.tooManyHeaderFields, "431 Request Header Fields Too Large"),
            (.unsupportedExpectation, "417 Expectation Failed"), (.unsupportedTransferCoding, "501 Not Implemented"),
            (.unsupportedVersion, "505 HTTP Version Not Supported"),
        ]
        for (error, line) in expected {
            let out = written { $0.error(error) }
            XCTAssertEqual(out, "HTTP/1.1 \(line)\r\nContent-Type: text/plain\r\nContent-Length: \(line.utf8.count + 1)\r\n"
                           + "Connection: close\r\n\r\n\(line)\n")
        }
        XCTAssertEqual(written { $0.internalServerError() },
                       "HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/plain\r\nContent-Length: 26\r\n"
                       + "Connection: close\r\n\r\n500 Internal Server Error\n")
    }

    func testResponsesShapedByTheRequest() throws {
        let get = try XCTUnwrap(single("GET /nope HTTP/1.1\r\nHost: h\r\n\r\n"))
        XCTAssertEqual(written { $0.notFound(to: get) },
                       "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 14\r\n\r\n404 Not Found\n")
        let head10 = try XCTUnwrap(single("HEAD /kv HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"))
        XCTAssertEqual(written { $0.methodNotAllowed(to: head10, allow: "GET, PUT, DELETE") },
                       "HTTP/1.1 405 Method Not Allowed\r\nAllow: GET, PUT, DELETE\r\nContent-Type: text/plain\r\n"
                       + "Content-Length: 23\r\nConnection: keep-alive\r\n\r\n")
        XCTAssertEqual(written { $0.simpleResponse(.notModified, keepAlive: true) }, "HTTP/1.1 304 Not Modified\r\n\r\n")
        XCTAssertEqual(written { $0.continueResponse() }, "HTTP/1.1 100 Continue\r\n\r\n")
    }

    func testDateField() {
        let cases: [(Int, String)] = [
            (0, "Thu, 01 Jan 1970 00:00:00 GMT"), (784_111_777, "Sun, 06 Nov 1994 08:49:37 GMT"),
            (951_782_400, "Tue, 29 Feb 2000 00:00:00 GMT"), (1_700_000_000, "Tue, 14 Nov 2023 22:13:20 GMT"),
            (4_107_542_399, "Sun, 28 Feb 2100 23:59:59 GMT"), (4_133_980_799, "Fri, 31 Dec 2100 23:59:59 GMT"), (-1, "Wed, 31 Dec 1969 23:59:59 GMT"),
        ]
        for (seconds, date) in cases {
            XCTAssertEqual(written { $0.dateField(secondsSince1970: seconds) }, "Date: \(date)\r\n")
        }
    }

    func testBufferSink() {
        var storage = [UInt8](repeating: 0, count: 32)
        storage.withUnsafeMutableBytes { raw in
            var writer = ResponseWriter(BufferSink(raw))
            writer.startHead(.ok)                       // 17 bytes
            XCTAssertEqual(writer.sink.count, 17)
            writer.field("Content-Type", "text/plain")  // name and ": " fit (31), the value does not
            XCTAssertTrue(writer.sink.overflowed)
            writer.body("x")                            // would fit, but the response is already broken
            XCTAssertEqual(writer.sink.count, 31)
            XCTAssertEqual(text(Array(writer.sink.written)), "HTTP/1.1 200 OK\r\nContent-Type: ")
        }
    }
}
