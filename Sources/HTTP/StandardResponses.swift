// Complete small responses for the statuses a server sends on its own: the
// parser's errors (400, 413, 414, 417, 431, 501, 505), 404, 405 with Allow,
// 500, and the interim 100 Continue. The body is one line of text/plain -
// "404 Not Found\n" - so that a person with curl sees what happened, at a
// cost of a few dozen bytes.
// Tests: Tests/HTTPTests/ResponseTests.swift.

extension ResponseWriter {
    /// `<code> <reason>\n` as the whole response: head and, unless `headOnly`
    /// (the answer to a HEAD request), body. `allow` adds the Allow field a
    /// 405 must carry (RFC 9110 15.5.6), e.g. "GET, HEAD".
    public mutating func simpleResponse(_ status: HTTPStatus, keepAlive: Bool, version: HTTPVersion = .http11,
                                        headOnly: Bool = false, allow: StaticString? = nil) {
        startHead(status)
        if let allow { field("Allow", allow) }
        if status.forbidsContent {
            endHead(keepAlive: keepAlive, version: version)
            return
        }
        field("Content-Type", "text/plain")
        // "NNN " + reason + "\n"
        endHead(contentLength: 4 + status.reason.utf8CodeUnitCount + 1, keepAlive: keepAlive, version: version)
        if headOnly { return }
        writeDecimal(status.code)
        write(" ")
        write(status.reason)
        write("\n")
    }

    /// The same, shaped by the request it answers (version, keep-alive, HEAD).
    public mutating func simpleResponse(_ status: HTTPStatus, to request: HTTPRequest, allow: StaticString? = nil) {
        simpleResponse(status, keepAlive: request.keepAlive, version: request.version,
                       headOnly: request.method == .head, allow: allow)
    }

    /// The answer to a request the parser refused; the connection then closes.
    public mutating func error(_ error: HTTPError) {
        simpleResponse(error.status, keepAlive: false)
    }

    public mutating func notFound(to request: HTTPRequest) { simpleResponse(.notFound, to: request) }

    public mutating func methodNotAllowed(to request: HTTPRequest, allow: StaticString) {
        simpleResponse(.methodNotAllowed, to: request, allow: allow)
    }

    /// 500: the server broke, so it does not trust the connection either.
    public mutating func internalServerError() { simpleResponse(.internalServerError, keepAlive: false) }

    /// The interim response to `Expect: 100-continue` (see RequestParser.needsContinue).
    public mutating func continueResponse() { write("HTTP/1.1 100 Continue\r\n\r\n") }
}
