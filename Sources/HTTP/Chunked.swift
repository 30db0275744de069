// The chunked transfer coding of request bodies (RFC 9112 7.1):
//   chunk-size [ chunk-ext ] CRLF, chunk-data CRLF, ..., "0" [ chunk-ext ] CRLF,
//   trailer section, CRLF.
// Sizes are hex, any case, leading zeros allowed; a size that overflows Int is
// 400, a sum over HTTPLimits.maxBodyBytes is 413 as soon as its line arrives.
// Extensions are checked against the grammar and ignored. Trailer fields are
// checked like head fields, with their own byte and count budget, and dropped
// (RFC 9110 6.5.1 lets a recipient discard them; none of ours matters).
// Tests: Tests/HTTPTests/ChunkedTests.swift.

extension RequestParser {
    /// Reads a chunk-size line; false while incomplete.
    mutating func readChunkSizeLine(_ b: Bytes) throws(HTTPError) -> Bool {
        let end = b.bytes.count
        guard let lf = b.firstLF(in: scan..<end) else {
            scan = end
            // One byte of slack for a CR that may belong to the line end.
            if end - start > limits.maxChunkLineBytes + 1 { throw .chunkLineTooLong }
            return false
        }
        let line = content(b, from: start, lf: lf)
        if line.count > limits.maxChunkLineBytes { throw .chunkLineTooLong }
        let size = try parseChunkSize(b, line)
        if size > limits.maxBodyBytes - message.body.count { throw .bodyTooLarge }
        consume(to: lf + 1)
        if size == 0 {
            // The last chunk: the trailer section starts here, with its own field budget.
            message.fieldCount = 0
            phase = .trailers
        } else {
            if message.body.isEmpty { message.body.reserveCapacity(min(size, 64 * 1024)) }
            phase = .data(remaining: size, chunked: true)
        }
        return true
    }

    /// The size of a chunk-size line, after checking its extensions.
    func parseChunkSize(_ b: Bytes, _ line: Range<Int>) throws(HTTPError) -> Int {
        var i = line.lowerBound
        var size = 0
        while i < line.upperBound, let digit = b[i].hexValue {
            let (times16, o1) = size.multipliedReportingOverflow(by: 16)
            let (sum, o2) = times16.addingReportingOverflow(digit)
            if o1 || o2 { throw .invalidChunkSize }
            size = sum
            i += 1
        }
        if i == line.lowerBound { throw .invalidChunkSize }
        try checkChunkExtensions(b, i..<line.upperBound)
        return size
    }

    /// chunk-ext = *( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] ),
    /// ext-val = token / quoted-string. Whitespace alone after the size is
    /// refused: BWS is only allowed before a ';'.
    func checkChunkExtensions(_ b: Bytes, _ range: Range<Int>) throws(HTTPError) {
        let end = range.upperBound
        var i = range.lowerBound
        func skipWhitespace() { while i < end && b[i].isWhitespace { i += 1 } }
        func skipToken() -> Bool {
            let low = i
            while i < end && b[i].isToken { i += 1 }
            return i > low
        }
        while i < end {
            skipWhitespace()
            guard i < end, b[i] == ASCII.semicolon else { throw .invalidChunkExtension }
            i += 1
            skipWhitespace()
            guard skipToken() else { throw .invalidChunkExtension }
            skipWhitespace()
            if i < end && b[i] == ASCII.equals {
                i += 1
                skipWhitespace()
                if i < end && b[i] == ASCII.quote {
                    guard let after = quotedStringEnd(b, from: i, to: end) else { throw .invalidChunkExtension }
                    i = after
                } else if !skipToken() {
                    throw .invalidChunkExtension
                }
            } else if i < end && b[i] != ASCII.semicolon {
                throw .invalidChunkExtension
            }
        }
    }

    /// The position after a quoted-string starting at `low` (RFC 9110 5.6.4), or nil.
    func quotedStringEnd(_ b: Bytes, from low: Int, to end: Int) -> Int? {
        var i = low + 1
        while i < end {
            let byte = b[i]
            if byte == ASCII.quote { return i + 1 }
            if byte == ASCII.backslash {
                // quoted-pair: a backslash and any HTAB, SP, VCHAR or obs-text.
                guard i + 1 < end, b[i + 1].isFieldValueByte else { return nil }
                i += 2
                continue
            }
            guard byte.isFieldValueByte else { return nil }
            i += 1
        }
        return nil
    }

    /// The line end after a chunk's data: CRLF or a bare LF; false while incomplete.
    mutating func readChunkDataEnd(_ b: Bytes) throws(HTTPError) -> Bool {
        let available = b.bytes.count - start
        guard available > 0 else { return false }
        switch b[start] {
        case ASCII.lf:
            consume(to: start + 1)
        case ASCII.cr:
            guard available > 1 else { return false }
            guard b[start + 1] == ASCII.lf else { throw .missingChunkTerminator }
            consume(to: start + 2)
        default:
            throw .missingChunkTerminator
        }
        phase = .chunkSize
        return true
    }
}
