// The fields that decide how a request is framed and whether the connection
// stays open (RFC 9112 6, 9.3; RFC 9110 7.2, 8.6, 10.1.1), and the decision
// taken once the head is complete. Every ambiguity is refused, never
// resolved: a server that picks one reading of Transfer-Encoding plus
// Content-Length, or of two different lengths, can be made to see a
// different request boundary than a proxy in front of it (smuggling).
// Tests: Tests/HTTPTests/FramingTests.swift.

extension RequestParser {
    /// Records what a head field means for framing and the connection.
    mutating func interpretField(_ b: Bytes, name: Range<Int>, value: Range<Int>) throws(HTTPError) {
        switch name.count {
        case 4 where b.equalsIgnoringCase(name, "host"):
            message.hostCount += 1
            if message.hostCount > 1 { throw .multipleHosts }
        case 6 where b.equalsIgnoringCase(name, "expect"):
            try interpretExpect(b, value)
        case 10 where b.equalsIgnoringCase(name, "connection"):
            b.forEachListElement(value) { option in
                if b.equalsIgnoringCase(option, "close") { message.connectionClose = true }
                if b.equalsIgnoringCase(option, "keep-alive") { message.connectionKeepAlive = true }
                return true
            }
        case 14 where b.equalsIgnoringCase(name, "content-length"):
            try interpretContentLength(b, value)
        case 17 where b.equalsIgnoringCase(name, "transfer-encoding"):
            try interpretTransferEncoding(b, value)
        default:
            break
        }
    }

    /// `Content-Length: 1*DIGIT`; a list or repeated field of one same value
    /// is that value (RFC 9110 8.6 allows it), different values are refused.
    mutating func interpretContentLength(_ b: Bytes, _ value: Range<Int>) throws(HTTPError) {
        var error: HTTPError?
        var any = false
        var length = message.contentLength
        b.forEachListElement(value) { element in
            any = true
            guard let n = b.decimal(element) else { error = .invalidContentLength; return false }
            if let known = length, known != n { error = .conflictingContentLength; return false }
            length = n
            return true
        }
        if let error { throw error }
        if !any { throw .invalidContentLength }
        message.contentLength = length
    }

    /// Transfer codings, across every Transfer-Encoding line in order. Only
    /// chunked is understood; it must come last and once (RFC 9112 6.1, 7).
    mutating func interpretTransferEncoding(_ b: Bytes, _ value: Range<Int>) throws(HTTPError) {
        message.transferEncoding = true
        var invalid = false
        b.forEachListElement(value) { element in
            // A coding may carry parameters (`gzip;q=1`): the name ends at ';'.
            let name = b.trimmed(element.lowerBound..<(b.first(ASCII.semicolon, in: element) ?? element.upperBound))
            guard b.allToken(name) else { invalid = true; return false }
            let chunked = b.equalsIgnoringCase(name, "chunked")
            if chunked {
                message.chunkedCount += 1
                // chunked takes no parameters.
                if name.upperBound != element.upperBound { invalid = true; return false }
            } else {
                message.unknownCoding = true
            }
            message.lastCodingIsChunked = chunked
            return true
        }
        if invalid { throw .invalidTransferEncoding }
    }

    /// `Expect: 100-continue` is the only expectation defined; a client asking
    /// for anything else gets 417.
    mutating func interpretExpect(_ b: Bytes, _ value: Range<Int>) throws(HTTPError) {
        var other = false
        b.forEachListElement(value) { element in
            if b.equalsIgnoringCase(element, "100-continue") { message.expectsContinue = true } else { other = true }
            return true
        }
        if other { throw .unsupportedExpectation }
    }

    /// The head is complete (the empty line ended at `lineStart`): checks the
    /// rules that need every field, keeps the head, and picks the body's
    /// framing. Returns the request when it has no body.
    mutating func finishHead(_ b: Bytes) throws(HTTPError) -> HTTPRequest? {
        let m = message
        if m.version == .http11 && m.hostCount == 0 { throw .missingHost }

        var chunked = false
        if m.transferEncoding {
            // HTTP/1.0 has no transfer codings: the framing is faulty (RFC 9112 6.1).
            if m.version == .http10 { throw .transferEncodingInHTTP10 }
            if m.contentLength != nil { throw .transferEncodingWithContentLength }
            if !m.lastCodingIsChunked || m.chunkedCount > 1 { throw .invalidTransferEncoding }
            if m.unknownCoding { throw .unsupportedTransferCoding }
            chunked = true
        }
        let length = m.contentLength ?? 0
        if length > limits.maxBodyBytes { throw .bodyTooLarge }

        message.keepAlive = m.version == .http11 ? !m.connectionClose : m.connectionKeepAlive && !m.connectionClose
        // 100 Continue is never sent to an HTTP/1.0 client (RFC 9110 15.2), nor when no body is due.
        message.expectsContinue = m.expectsContinue && m.version == .http11 && (chunked || length > 0)
        message.head = Array(UnsafeBufferPointer(rebasing: b.bytes[start..<lineStart]))
        message.fields = scratchFields
        scratchFields.removeAll(keepingCapacity: true)
        consume(to: lineStart)

        if chunked {
            phase = .chunkSize
        } else if length > 0 {
            // Reserve what is announced, within reason: the bytes may never come.
            message.body.reserveCapacity(min(length, 64 * 1024))
            phase = .data(remaining: length, chunked: false)
        } else {
            return complete(b)
        }
        return nil
    }
}
