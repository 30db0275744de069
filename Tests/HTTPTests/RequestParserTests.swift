// The request line, field lines, splitting, pipelining and keep-alive.

import HTTP
import XCTest

final class RequestParserTests: XCTestCase {
    let get = "GET /index.html?x=1 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: test/1.0\r\nAccept: */*\r\n\r\n"

    func testSimpleGet() throws {
        let request = try XCTUnwrap(single(get))
        XCTAssertEqual(request.method, .get)
        XCTAssertEqual(text(request.methodName), "GET")
        XCTAssertEqual(request.version, .http11)
        XCTAssertEqual(request.targetText, "/index.html?x=1")
        XCTAssertEqual(text(request.path), "/index.html")
        XCTAssertEqual(request.query.map { text($0) }, "x=1")
        XCTAssertEqual(request.fields.count, 3)
        XCTAssertEqual(text(request.name(of: request.fields[1])), "User-Agent")
        XCTAssertEqual(text(request.value(of: request.fields[1])), "test/1.0")
        XCTAssertEqual(request.header("HOST"), "example.com")
        XCTAssertEqual(request.header("accept"), "*/*")
        XCTAssertNil(request.header("cookie"))
        XCTAssertTrue(request.body.isEmpty)
        XCTAssertTrue(request.keepAlive)
        XCTAssertFalse(request.expectsContinue)
        XCTAssertEqual(text(request.head), get)
    }

    func testMethods() throws {
        let cases: [(String, HTTPMethod)] = [("GET", .get), ("HEAD", .head), ("POST", .post), ("PUT", .put),
                                             ("DELETE", .delete), ("OPTIONS", .options), ("TRACE", .trace),
                                             ("PATCH", .patch), ("PURGE", .other), ("get", .other), ("X-Y_Z!", .other)]
        for (name, method) in cases {
            let request = try XCTUnwrap(single("\(name) / HTTP/1.1\r\nHost: h\r\n\r\n"), name)
            XCTAssertEqual(request.method, method, name)
            XCTAssertEqual(text(request.methodName), name)
        }
    }

    func testTargetForms() throws {
        XCTAssertEqual(single("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n")?.targetText, "*")
        XCTAssertEqual(single("GET http://h:8/a?b HTTP/1.1\r\nHost: h\r\n\r\n")?.targetText, "http://h:8/a?b")
        XCTAssertEqual(single("CONNECT h.example:443 HTTP/1.1\r\nHost: h\r\n\r\n")?.targetText, "h.example:443")
        XCTAssertNil(single("GET / HTTP/1.1\r\nHost: h\r\n\r\n")?.query)
    }

    func testValuesAreTrimmedAndMayBeEmptyOrObsText() throws {
        let request = try XCTUnwrap(single("GET / HTTP/1.1\r\nHost:h\r\nX-A: \t a b \t\r\nX-B:\r\nX-C: caf\u{e9}\r\n\r\n"))
        XCTAssertEqual(request.header("host"), "h")
        XCTAssertEqual(request.header("x-a"), "a b")
        XCTAssertEqual(request.header("x-b"), "")
        XCTAssertEqual(request.header("x-c"), "caf\u{e9}")
    }

    func testHTTP10() throws {
        let request = try XCTUnwrap(single("GET / HTTP/1.0\r\n\r\n"))
        XCTAssertEqual(request.version, .http10)
        XCTAssertFalse(request.keepAlive)
        // A later 1.x is answered as 1.1.
        XCTAssertEqual(single("GET / HTTP/1.7\r\nHost: h\r\n\r\n")?.version, .http11)
    }

    func testKeepAliveDecisions() {
        let cases: [(String, String, Bool)] = [
            ("1.1", "", true), ("1.1", "Connection: close\r\n", false), ("1.1", "Connection: Keep-Alive\r\n", true),
            ("1.1", "Connection: keep-alive, CLOSE\r\n", false), ("1.1", "Connection: upgrade,  close \r\n", false),
            ("1.0", "", false), ("1.0", "Connection: keep-alive\r\n", true), ("1.0", "Connection: KEEP-ALIVE\r\n", true),
            ("1.0", "Connection: keep-alive\r\nConnection: close\r\n", false), ("1.0", "Connection: te\r\n", false),
        ]
        for (version, fields, keepAlive) in cases {
            let request = single("GET / HTTP/\(version)\r\nHost: h\r\n\(fields)\r\n")
            XCTAssertEqual(request?.keepAlive, keepAlive, "\(version) \(fields)")
        }
    }

    func testEveryTwoPieceSplitAndByteByByteGiveTheSameResult() {
        let inputs = [get, "POST /kv/a HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello",
                      "PUT /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3;e=1\r\nabc\r\nA\r\n0123456789\r\n0\r\nT: v\r\n\r\n",
                      "GET / HTTP/1.1\nHost: h\n\n" + get + "GET /bad HTTP/1.1\r\nHost h\r\n\r\n"]
        for input in inputs {
            let data = bytes(input)
            let whole = parse(data)
            XCTAssertFalse(whole.requests.isEmpty)
            XCTAssertEqual(parseBytewise(data), whole, input)
            for cut in 0...data.count {
                XCTAssertEqual(parse(data, cuts: [cut]), whole, "cut \(cut) of \(input)")
            }
        }
    }

    func testPipelinedRequestsInOneBuffer() {
        let post = "POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nxyz"
        let input = get + post + get + "GET /partial HTTP/1.1\r\nHo"
        let outcome = parse(input)
        XCTAssertNil(outcome.error)
        XCTAssertEqual(outcome.requests.map(\.targetText), ["/index.html?x=1", "/a", "/index.html?x=1"])
        XCTAssertEqual(outcome.requests[1].bodyText, "xyz")
        XCTAssertEqual(outcome.consumed, get.utf8.count * 2 + post.utf8.count)
    }

    func testRequestsArriveAsFed() throws {
        var parser = RequestParser()
        parser.feed(bytes(get + "GET /2 HTTP/1.1\r\n"))
        XCTAssertEqual(try parser.nextRequest()?.targetText, "/index.html?x=1")
        XCTAssertNil(try parser.nextRequest())
        XCTAssertEqual(parser.bufferedCount, 17)
        parser.feed(bytes("Host: h\r\n\r\n"))
        XCTAssertEqual(try parser.nextRequest()?.targetText, "/2")
        XCTAssertNil(try parser.nextRequest())
        XCTAssertEqual(parser.bufferedCount, 0)
    }

    func testEmptyLinesBeforeARequestAreSkipped() {
        let outcome = parse("\r\n\n\r\n" + get + "\r\n" + get)
        XCTAssertNil(outcome.error)
        XCTAssertEqual(outcome.requests.count, 2)
        XCTAssertEqual(text(outcome.requests[0].head), get)
    }

    func testBareLFEndsLines() throws {
        let request = try XCTUnwrap(single("GET /lf HTTP/1.1\nHost: h\nX: y\n\n"))
        XCTAssertEqual(request.targetText, "/lf")
        XCTAssertEqual(request.header("x"), "y")
    }

    func testRequestLineErrors() {
        let cases: [(String, HTTPError)] = [
            ("GET /\r\n\r\n", .invalidRequestLine),
            ("GET\r\n\r\n", .invalidRequestLine),
            ("GET  / HTTP/1.1\r\n\r\n", .invalidRequestLine),
            (" GET / HTTP/1.1\r\n\r\n", .invalidRequestLine),
            ("GET / \r\n\r\n", .invalidRequestLine),
            ("GET / HTTP/1.1 \r\n\r\n", .invalidVersion),
            ("GET\t/ HTTP/1.1\r\n\r\n", .invalidRequestLine),
            ("G(T / HTTP/1.1\r\n\r\n", .invalidMethod),
            ("G\u{e9}T / HTTP/1.1\r\n\r\n", .invalidMethod),
            ("GET / http/1.1\r\n\r\n", .invalidVersion),
            ("GET / HTTP/1\r\n\r\n", .invalidVersion),
            ("GET / HTTP/1.10\r\n\r\n", .invalidVersion),
            ("GET / HTTP/x.1\r\n\r\n", .invalidVersion),
            ("GET / HTTP/2.0\r\n\r\n", .unsupportedVersion),
            ("GET / HTTP/0.9\r\n\r\n", .unsupportedVersion),
            ("GET /a#frag HTTP/1.1\r\n\r\n", .invalidTarget),
            ("GET /caf\u{e9} HTTP/1.1\r\n\r\n", .invalidTarget),
            ("GET /a\u{7f} HTTP/1.1\r\n\r\n", .invalidTarget),
            ("GET * HTTP/1.1\r\n\r\n", .invalidTarget),
            ("GET index.html HTTP/1.1\r\n\r\n", .invalidTarget),
            ("GET 1http://h/ HTTP/1.1\r\n\r\n", .invalidTarget),
            ("CONNECT /x HTTP/1.1\r\n\r\n", .invalidTarget),
            ("CONNECT host HTTP/1.1\r\n\r\n", .invalidTarget),
            ("GET /\r HTTP/1.1\r\n\r\n", .invalidTarget),
            ("GET / HTTP/1.1\r\r\n\r\n", .invalidVersion),
            ("\u{0}GET / HTTP/1.1\r\n\r\n", .invalidMethod),
        ]
        for (input, error) in cases {
            XCTAssertEqual(failure(input), error, input.debugDescription)
        }
    }

    func testFieldLineErrors() {
        let cases: [(String, HTTPError)] = [
            ("Host: h\r\nX : y\r\n", .invalidFieldName),
            ("Host: h\r\nX\t: y\r\n", .invalidFieldName),
            ("Host: h\r\n: y\r\n", .invalidFieldName),
            ("Host: h\r\nNoColon\r\n", .invalidFieldName),
            ("Host: h\r\nX(y): z\r\n", .invalidFieldName),
            ("Host: h\r\nX: a\r\n b\r\n", .obsoleteLineFolding),
            ("Host: h\r\nX: a\r\n\tb\r\n", .obsoleteLineFolding),
            (" Host: h\r\n", .obsoleteLineFolding),
            ("Host: h\r\nX: a\u{0}b\r\n", .invalidFieldValue),
            ("Host: h\r\nX: a\rb\r\n", .invalidFieldValue),
            ("Host: h\r\nX: a\u{7f}\r\n", .invalidFieldValue),
            ("Host: h\r\nX: a\r\r\n", .invalidFieldValue),
        ]
        for (fields, error) in cases {
            XCTAssertEqual(failure("GET / HTTP/1.1\r\n\(fields)\r\n"), error, fields.debugDescription)
        }
    }

    func testHost() {
        XCTAssertEqual(failure("GET / HTTP/1.1\r\nX: y\r\n\r\n"), .missingHost)
        XCTAssertEqual(failure("GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n"), .multipleHosts)
        XCTAssertEqual(failure("GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n"), .multipleHosts)
        XCTAssertNotNil(single("GET / HTTP/1.1\r\nHost:\r\n\r\n"))   // an empty Host is valid
    }

    func testTheParserStopsAfterAnError() {
        var parser = RequestParser()
        parser.feed(bytes("BAD\r\n\r\n" + get))
        XCTAssertThrowsError(try parser.nextRequest())
        parser.feed(bytes(get))
        XCTAssertThrowsError(try parser.nextRequest()) { XCTAssertEqual($0 as? HTTPError, .invalidRequestLine) }
        XCTAssertEqual(parser.error, .invalidRequestLine)
        XCTAssertEqual(parser.consumedCount, 0)
    }

    func testStatusesOfErrors() {
        XCTAssertEqual(HTTPError.invalidTarget.status.code, 400)
        XCTAssertEqual(HTTPError.requestLineTooLong.status.code, 414)
        XCTAssertEqual(HTTPError.headerSectionTooLarge.status.code, 431)
        XCTAssertEqual(HTTPError.tooManyHeaderFields.status.code, 431)
        XCTAssertEqual(HTTPError.bodyTooLarge.status.code, 413)
        XCTAssertEqual(HTTPError.unsupportedTransferCoding.status.code, 501)
        XCTAssertEqual(HTTPError.unsupportedVersion.status.code, 505)
        XCTAssertEqual(HTTPError.unsupportedExpectation.status.code, 417)
    }
}
