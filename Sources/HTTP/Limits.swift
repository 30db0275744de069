// HTTPLimits: how much a client may send before the parser gives up with the
// status code that names the problem (RFC 9110 15.5.14/15/19, RFC 6585 5).
// Every limit is checked as bytes arrive, before the element is complete, so
// memory held per connection stays bounded by these numbers, not by what a
// client claims. A request exactly at a limit passes; one byte past it fails.
// Tests: Tests/HTTPTests/LimitTests.swift.

public struct HTTPLimits: Equatable {
    /// Bytes of the request line, without its CRLF. Past it: 414 URI Too Long
    /// (the target is almost always what makes a request line long).
    public var maxRequestLineBytes: Int
    /// Bytes of the whole head: request line, field lines, every line end,
    /// the empty line. Past it: 431. The trailer section of a chunked body has
    /// the same budget of its own.
    public var maxHeaderBytes: Int
    /// Field lines in the head (and, separately, in the trailer section). Past it: 431.
    public var maxHeaderCount: Int
    /// Decoded body bytes (the Content-Length, or the sum of the chunk sizes). Past it: 413.
    public var maxBodyBytes: Int
    /// Bytes of one chunk-size line including its extensions, without the line end.
    /// Past it: 400 (nobody needs long chunk extensions; they are ignored anyway).
    public var maxChunkLineBytes: Int

    /// The defaults follow common servers: Apache's 8 KiB lines and 100 fields, a
    /// 1 MiB body (nginx's client_max_body_size).
    public init(maxRequestLineBytes: Int = 8192, maxHeaderBytes: Int = 16384, maxHeaderCount: Int = 100,
                maxBodyBytes: Int = 1 << 20, maxChunkLineBytes: Int = 256) {
        // The request line is part of the head, so its own limit cannot be larger.
        self.maxHeaderBytes = max(maxHeaderBytes, 4)
        self.maxRequestLineBytes = min(max(maxRequestLineBytes, 1), self.maxHeaderBytes)
        self.maxHeaderCount = max(maxHeaderCount, 0)
        self.maxBodyBytes = max(maxBodyBytes, 0)
        self.maxChunkLineBytes = max(maxChunkLineBytes, 1)
    }
}
