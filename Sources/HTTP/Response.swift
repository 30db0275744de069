// ResponseWriter: serializes an HTTP/1.1 response into an HTTPSink, in order:
// status line, fields, the framing and connection fields, the empty line,
// then the content (RFC 9112 4, 6, 7.1, 9.3). It keeps no copy of anything;
// numbers are formatted on the stack. The writer trusts its caller for the
// order of calls, but not for field values from elsewhere: `field(_:bytes:)`
// refuses CR, LF and other controls, so a value taken from a request cannot
// split the response.
// Always answers as HTTP/1.1 (RFC 9110 6.2: a server sends its own version);
// an HTTP/1.0 client gets `Connection: keep-alive` when the connection stays
// open, and a close-delimited body instead of chunks (1.0 has no chunked).
// Standard small responses: StandardResponses.swift. Tests: Tests/HTTPTests/ResponseTests.swift.

public struct ResponseWriter<Sink: HTTPSink> {
    public var sink: Sink
    /// Set by the endHead calls: the head said `Connection: close`, so the
    /// server must close after the body (always true for close-delimited bodies).
    public private(set) var closesConnection = false
    /// The body is being written as chunks.
    var chunked = false

    public init(_ sink: Sink) { self.sink = sink }

    // MARK: Head

    /// `HTTP/1.1 <code> <reason>` CRLF.
    public mutating func startHead(_ status: HTTPStatus) {
        write("HTTP/1.1 ")
        writeDecimal(status.code)
        write(" ")
        write(status.reason)
        write("\r\n")
    }

    public mutating func field(_ name: StaticString, _ value: StaticString) {
        write(name)
        write(": ")
        write(value)
        write("\r\n")
    }

    public mutating func field(_ name: StaticString, _ value: Int) {
        write(name)
        write(": ")
        writeDecimal(value)
        write("\r\n")
    }

    /// A field whose value comes from data: refused (`.invalidFieldValue`,
    /// nothing written) if it holds a control byte or starts or ends with whitespace.
    public mutating func field(_ name: StaticString, bytes value: UnsafeRawBufferPointer) throws(HTTPError) {
        for byte in value where !byte.isFieldValueByte { throw .invalidFieldValue }
        if let first = value.first, let last = value.last, first.isWhitespace || last.isWhitespace {
            throw .invalidFieldValue
        }
        write(name)
        write(": ")
        sink.write(value)
        write("\r\n")
    }

    public mutating func field(_ name: StaticString, bytes value: [UInt8]) throws(HTTPError) {
        var failure: HTTPError?
        value.withUnsafeBytes { raw in
            do throws(HTTPError) { try field(name, bytes: raw) } catch { failure = error }
        }
        if let failure { throw failure }
    }

    /// Ends the head of a response with `contentLength` bytes of content,
    /// written next with `body` (for HEAD requests and 304s: the length the
    /// content would have, and no body).
    public mutating func endHead(contentLength: Int, keepAlive: Bool, version: HTTPVersion = .http11) {
        field("Content-Length", contentLength)
        endHead(keepAlive: keepAlive, version: version)
    }

    /// Ends a head without framing fields: for 1xx, 204 and 304 responses,
    /// which never have content (RFC 9110 6.4.1).
    public mutating func endHead(keepAlive: Bool, version: HTTPVersion = .http11) {
        if !keepAlive {
            field("Connection", "close")
        } else if version == .http10 {
            field("Connection", "keep-alive")
        }
        closesConnection = !keepAlive
        write("\r\n")
    }

    /// Ends the head of a response whose content follows in `chunk` calls and
    /// `endChunks`. An HTTP/1.0 client cannot read chunks: it gets the
    /// content as is, ended by closing the connection (`closesConnection`).
    public mutating func endHeadChunked(keepAlive: Bool, version: HTTPVersion = .http11) {
        if version == .http10 {
            endHead(keepAlive: false, version: version)
            return
        }
        field("Transfer-Encoding", "chunked")
        chunked = true
        endHead(keepAlive: keepAlive, version: version)
    }

    // MARK: Content

    public mutating func body(_ bytes: UnsafeRawBufferPointer) { sink.write(bytes) }
    public mutating func body(_ bytes: [UInt8]) { bytes.withUnsafeBytes { sink.write($0) } }
    public mutating func body(_ text: StaticString) { write(text) }

    /// One chunk: hex size CRLF data CRLF. An empty chunk writes nothing
    /// (a zero size would end the body).
    public mutating func chunk(_ bytes: UnsafeRawBufferPointer) {
        guard chunked else { sink.write(bytes); return }
        guard !bytes.isEmpty else { return }
        writeHex(bytes.count)
        write("\r\n")
        sink.write(bytes)
        write("\r\n")
    }

    public mutating func chunk(_ bytes: [UInt8]) { bytes.withUnsafeBytes { chunk($0) } }

    /// The last chunk and an empty trailer section.
    public mutating func endChunks() {
        guard chunked else { return }
        write("0\r\n\r\n")
        chunked = false
    }

    // MARK: Bytes

    mutating func write(_ text: StaticString) {
        text.withUTF8Buffer { sink.write(UnsafeRawBufferPointer($0)) }
    }

    mutating func writeDecimal(_ value: Int) {
        precondition(value >= 0, "header numbers are non-negative")
        writeDigits(UInt(value), base: 10)
    }

    mutating func writeHex(_ value: Int) { writeDigits(UInt(value), base: 16) }

    /// Formats right to left into 20 bytes on the stack (UInt.max has 20 decimal digits).
    mutating func writeDigits(_ value: UInt, base: UInt) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { digits in
            var n = value
            var i = 20
            repeat {
                i -= 1
                let digit = UInt8(truncatingIfNeeded: n % base)
                digits[i] = digit < 10 ? ASCII.zero + digit : UInt8(ascii: "A") + digit - 10
                n /= base
            } while n > 0
            sink.write(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(digits)[i..<20]))
        }
    }
}
