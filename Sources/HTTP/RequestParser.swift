// RequestParser: the sans-IO, incremental HTTP/1.1 request parser (RFC 9112).
// Feed it bytes as they arrive, split anywhere (one at a time works); ask for
// requests until it answers nil; bytes past a complete request stay buffered
// for the next one (pipelining). It never reads a socket or a clock: the
// server owns I/O and timeouts.
//
// Memory: the buffer holds only bytes not yet consumed - the head being read
// (at most HTTPLimits.maxHeaderBytes), a partial chunk-size or trailer line,
// and body bytes that arrived since the last call (moved into the body at the
// next call). Incomplete lines are searched from where the last search
// stopped, so a head that arrives byte by byte costs O(length), not O(length²).
//
// Choices (RFC 9112 leaves them to the recipient):
// - A bare LF ends a line like CRLF (2.2 MAY); a bare CR anywhere is refused
//   (it is a control byte inside the element). Tolerating LF is safe for an
//   origin server; a proxy reusing this parser would have to refuse it, since
//   a front end that disagrees about line ends is how requests get smuggled.
// - Empty lines before a request line are skipped (2.2 SHOULD).
// - The request line is split on single spaces only (no tabs, no runs of SP).
// - HTTP/1.1 without Host, or any request with two Host lines: 400 (3.2 MUST).
// - A request line past the limit answers 414, not 400.
// - After an error the parser has stopped: `nextRequest` throws the same error
//   again and `feed` drops its bytes. The server answers and closes.
// Framing rules: Framing.swift; chunked bodies and trailers: Chunked.swift.
// Tests: Tests/HTTPTests/.

public struct RequestParser {
    public let limits: HTTPLimits

    /// Received bytes; everything before `start` is consumed and is dropped
    /// when the next bytes are fed.
    var buffer: [UInt8] = []
    /// First byte not yet consumed: the message start while its head (or the
    /// trailer section) is read, else the next unread byte.
    var start = 0
    /// First byte of the line being read.
    var lineStart = 0
    /// Where the search for the next LF resumes (lineStart...buffer.count).
    var scan = 0
    var phase = Phase.requestLine
    var message = MessageState()
    /// Field ranges of the head being read. Its capacity survives from request
    /// to request, so a request's field list costs one allocation, not a
    /// series of growth steps.
    var scratchFields: [HTTPField] = []
    var failure: HTTPError?
    var received = 0

    /// Bytes that belong to the requests returned so far (and to empty lines
    /// skipped before them). Never more than the bytes fed.
    public private(set) var consumedCount = 0

    enum Phase: Equatable {
        case requestLine
        case fields
        /// Body bytes still to come: a Content-Length body or one chunk's data.
        case data(remaining: Int, chunked: Bool)
        case chunkSize
        /// The CRLF after a chunk's data.
        case chunkDataEnd
        case trailers
    }

    public init(limits: HTTPLimits = HTTPLimits()) {
        self.limits = limits
    }

    /// Bytes fed but not yet part of a returned request.
    public var bufferedCount: Int { received - consumedCount }

    /// The error that stopped the parser, if any.
    public var error: HTTPError? { failure }

    /// Whether a server should send `100 Continue` now: the head of a request
    /// with `Expect: 100-continue` is complete, passed every check (a body
    /// over the limit has already thrown 413), and its body is still due.
    public var needsContinue: Bool {
        failure == nil && message.expectsContinue && !message.continueSent
            && phase != .requestLine && phase != .fields
    }

    /// Records that `100 Continue` went out, so `needsContinue` turns false.
    public mutating func markContinueSent() { message.continueSent = true }

    public mutating func feed(_ bytes: UnsafeRawBufferPointer) {
        guard failure == nil, !bytes.isEmpty else { return }
        dropConsumedBytes()
        bytes.withMemoryRebound(to: UInt8.self) { buffer.append(contentsOf: $0) }
        received &+= bytes.count
    }

    public mutating func feed(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { feed($0) }
    }

    /// The next complete request, or nil until more bytes arrive. Call it
    /// until it returns nil after every `feed`: limits are checked here, so a
    /// caller that only feeds lets the buffer grow.
    public mutating func nextRequest() throws(HTTPError) -> HTTPRequest? {
        if let failure { throw failure }
        // A second reference to the storage: the steps read it through a
        // pointer while they update the positions in self.
        let bytes = buffer
        var result: Result<HTTPRequest?, HTTPError> = .success(nil)
        bytes.withUnsafeBufferPointer { pointer in
            do throws(HTTPError) {
                result = .success(try advance(Bytes(bytes: pointer)))
            } catch {
                result = .failure(error)
            }
        }
        switch result {
        case .success(let request): return request
        case .failure(let error):
            failure = error
            buffer = []
            throw error
        }
    }

    /// Runs the phases until a request is complete or the bytes run out.
    mutating func advance(_ b: Bytes) throws(HTTPError) -> HTTPRequest? {
        while true {
            switch phase {
            case .requestLine:
                guard try readRequestLine(b) else { return nil }
            case .fields:
                guard let line = try nextFieldLine(b) else { return nil }
                if line.isEmpty {
                    if let request = try finishHead(b) { return request }
                } else {
                    try readField(b, line, trailer: false)
                }
            case .data(let remaining, let chunked):
                let take = min(b.bytes.count - start, remaining)
                if take > 0 {
                    message.body.append(contentsOf: UnsafeBufferPointer(rebasing: b.bytes[start..<start + take]))
                    consume(to: start + take)
                }
                if take < remaining {
                    phase = .data(remaining: remaining - take, chunked: chunked)
                    return nil
                }
                if !chunked { return complete(b) }
                phase = .chunkDataEnd
            case .chunkSize:
                guard try readChunkSizeLine(b) else { return nil }
            case .chunkDataEnd:
                guard try readChunkDataEnd(b) else { return nil }
            case .trailers:
                guard let line = try nextFieldLine(b) else { return nil }
                if line.isEmpty {
                    consume(to: lineStart)
                    return complete(b)
                }
                try readField(b, line, trailer: true)
            }
        }
    }

    // MARK: Lines

    /// The content of a line that ends with the LF at `lf`: a CR before it is
    /// part of the line end, not of the content.
    @inline(__always) func content(_ b: Bytes, from low: Int, lf: Int) -> Range<Int> {
        lf > low && b[lf - 1] == ASCII.cr ? low..<(lf - 1) : low..<lf
    }

    /// Everything up to `position` is consumed.
    @inline(__always) mutating func consume(to position: Int) {
        start = position
        lineStart = position
        scan = position
    }

    /// The next line of the head or trailer section that began at `start`,
    /// without its line end, or nil while it is incomplete. The section's
    /// byte limit is checked on complete and incomplete lines alike, so the
    /// outcome does not depend on how the bytes were split.
    mutating func nextFieldLine(_ b: Bytes) throws(HTTPError) -> Range<Int>? {
        let end = b.bytes.count
        guard let lf = b.firstLF(in: scan..<end) else {
            scan = end
            if end - start > limits.maxHeaderBytes { throw .headerSectionTooLarge }
            return nil
        }
        if lf + 1 - start > limits.maxHeaderBytes { throw .headerSectionTooLarge }
        let line = content(b, from: lineStart, lf: lf)
        lineStart = lf + 1
        scan = lineStart
        return line
    }

    // MARK: Request line (RFC 9112 3)

    /// Reads `method SP request-target SP HTTP-version`; false while incomplete.
    mutating func readRequestLine(_ b: Bytes) throws(HTTPError) -> Bool {
        let end = b.bytes.count
        while true {
            guard let lf = b.firstLF(in: scan..<end) else {
                scan = end
                // One byte of slack: a CR that may turn out to be part of the line end.
                if end - start > limits.maxRequestLineBytes + 1 { throw .requestLineTooLong }
                return false
            }
            let line = content(b, from: start, lf: lf)
            if line.isEmpty {
                consume(to: lf + 1)
                consumedCount = received - (end - start)
                continue
            }
            if line.count > limits.maxRequestLineBytes { throw .requestLineTooLong }
            try parseRequestLine(b, line)
            lineStart = lf + 1
            scan = lineStart
            phase = .fields
            return true
        }
    }

    mutating func parseRequestLine(_ b: Bytes, _ line: Range<Int>) throws(HTTPError) {
        guard let space1 = b.first(ASCII.space, in: line),
              let space2 = b.first(ASCII.space, in: (space1 + 1)..<line.upperBound)
        else { throw .invalidRequestLine }
        let method = line.lowerBound..<space1
        let target = (space1 + 1)..<space2
        let version = (space2 + 1)..<line.upperBound
        if method.isEmpty || target.isEmpty || version.isEmpty { throw .invalidRequestLine }

        guard b.allToken(method) else { throw .invalidMethod }
        message.method = HTTPMethod(b, method)
        message.version = try parseVersion(b, version)
        try checkTarget(b, target, method: message.method)
        message.methodEnd = space1 - start
        message.target = (target.lowerBound - start)..<(target.upperBound - start)
    }

    /// `HTTP/` DIGIT `.` DIGIT, case-sensitive (RFC 9112 2.3).
    func parseVersion(_ b: Bytes, _ range: Range<Int>) throws(HTTPError) -> HTTPVersion {
        let low = range.lowerBound
        guard range.count == 8, b.equalsExactly(low..<(low + 5), "HTTP/"),
              b[low + 5].isDigit, b[low + 6] == ASCII.dot, b[low + 7].isDigit
        else { throw .invalidVersion }
        guard b[low + 5] == UInt8(ascii: "1") else { throw .unsupportedVersion }
        // A later 1.x is answered as 1.1, the highest minor version we speak (RFC 9110 6.2).
        return b[low + 7] == ASCII.zero ? .http10 : .http11
    }

    /// The four target forms (RFC 9112 3.2), each only where it is allowed.
    /// Bytes must be visible ASCII without '#': a fragment is never sent, and
    /// URIs have no spaces, controls or raw non-ASCII bytes.
    func checkTarget(_ b: Bytes, _ range: Range<Int>, method: HTTPMethod) throws(HTTPError) {
        for i in range where !b[i].isVisibleASCII || b[i] == ASCII.hash { throw .invalidTarget }
        let first = b[range.lowerBound]
        if method == .connect {
            // authority-form: host ":" port, nothing else.
            if first == ASCII.slash || b.first(ASCII.colon, in: range) == nil || b.first(ASCII.slash, in: range) != nil {
                throw .invalidTarget
            }
            return
        }
        if first == ASCII.slash { return }                                   // origin-form
        if first == ASCII.asterisk {                                         // asterisk-form
            if range.count == 1 && method == .options { return }
            throw .invalidTarget
        }
        // absolute-form: scheme ":" ..., scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )
        guard first.isLetter, let colon = b.first(ASCII.colon, in: range) else { throw .invalidTarget }
        for i in range.lowerBound..<colon {
            let byte = b[i]
            if !(byte.isLetter || byte.isDigit || byte == UInt8(ascii: "+") || byte == UInt8(ascii: "-")
                 || byte == ASCII.dot) { throw .invalidTarget }
        }
    }

    // MARK: Field lines (RFC 9112 5)

    /// Checks one field line; head fields are kept and interpreted, trailer
    /// fields are only checked (they may not change framing: RFC 9110 6.5.1).
    mutating func readField(_ b: Bytes, _ line: Range<Int>, trailer: Bool) throws(HTTPError) {
        message.fieldCount += 1
        if message.fieldCount > limits.maxHeaderCount { throw .tooManyHeaderFields }
        // obs-fold, or whitespace between the request line and the first field.
        if b[line.lowerBound].isWhitespace { throw .obsoleteLineFolding }
        guard let colon = b.first(ASCII.colon, in: line) else { throw .invalidFieldName }
        let name = line.lowerBound..<colon
        guard b.allToken(name) else { throw .invalidFieldName }
        let value = b.trimmed((colon + 1)..<line.upperBound)
        for i in value where !b[i].isFieldValueByte { throw .invalidFieldValue }
        if trailer { return }
        try interpretField(b, name: name, value: value)
        scratchFields.append(HTTPField(name: (name.lowerBound - start)..<(name.upperBound - start),
                                       value: (value.lowerBound - start)..<(value.upperBound - start)))
    }

    // MARK: Completion

    /// Hands the finished request out and starts the next message.
    mutating func complete(_ b: Bytes) -> HTTPRequest {
        let m = message
        let request = HTTPRequest(method: m.method, version: m.version, keepAlive: m.keepAlive,
                                  expectsContinue: m.expectsContinue, head: m.head, fields: m.fields,
                                  body: m.body, methodEnd: m.methodEnd, targetRange: m.target)
        message = MessageState()
        phase = .requestLine
        consumedCount = received - (b.bytes.count - start)
        return request
    }

    /// Drops consumed bytes before new ones are appended. Cheap when all is
    /// consumed (the usual case); otherwise only when the dead prefix is at
    /// least half the buffer, which keeps the copying amortised O(1) per byte.
    mutating func dropConsumedBytes() {
        guard start > 0 else { return }
        if start == buffer.count {
            buffer.removeAll(keepingCapacity: true)
        } else if start * 2 >= buffer.count {
            buffer.removeSubrange(0..<start)
        } else {
            return
        }
        lineStart -= start
        scan -= start
        start = 0
    }
}

/// What the parser learns about the message being read.
struct MessageState {
    var method = HTTPMethod.get
    var methodEnd = 0
    var target = 0..<0
    var version = HTTPVersion.http11
    var head: [UInt8] = []
    var fields: [HTTPField] = []
    var body: [UInt8] = []
    var fieldCount = 0
    // Framing (Framing.swift).
    var contentLength: Int?
    var transferEncoding = false
    var chunkedCount = 0
    var lastCodingIsChunked = false
    var unknownCoding = false
    var hostCount = 0
    var connectionClose = false
    var connectionKeepAlive = false
    var keepAlive = false
    var expectsContinue = false
    var continueSent = false
}
