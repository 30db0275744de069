// HTTPRequest: one complete request as the parser yields it. The head (request
// line and field lines, exactly as received) is one owned byte array; the
// target and the fields are ranges into it, so a request costs three
// allocations at most (head, field list, body) however many fields it has.
// Values are bytes: the caller decides what is text.

public enum HTTPMethod: Equatable {
    case get, head, post, put, delete, connect, options, trace, patch
    /// Any other token; its bytes are `HTTPRequest.methodName`.
    case other

    init(_ bytes: Bytes, _ range: Range<Int>) {
        // Methods are case-sensitive (RFC 9110 9.1): "get" is some other method.
        switch range.count {
        case 3 where bytes.equalsExactly(range, "GET"): self = .get
        case 3 where bytes.equalsExactly(range, "PUT"): self = .put
        case 4 where bytes.equalsExactly(range, "HEAD"): self = .head
        case 4 where bytes.equalsExactly(range, "POST"): self = .post
        case 5 where bytes.equalsExactly(range, "TRACE"): self = .trace
        case 5 where bytes.equalsExactly(range, "PATCH"): self = .patch
        case 6 where bytes.equalsExactly(range, "DELETE"): self = .delete
        case 7 where bytes.equalsExactly(range, "CONNECT"): self = .connect
        case 7 where bytes.equalsExactly(range, "OPTIONS"): self = .options
        default: self = .other
        }
    }
}

public enum HTTPVersion: Equatable {
    case http10, http11
}

/// A field line: the name and the value (OWS trimmed) as ranges of `HTTPRequest.head`.
public struct HTTPField: Equatable {
    public let name: Range<Int>
    public let value: Range<Int>
}

public struct HTTPRequest: Equatable {
    public let method: HTTPMethod
    /// HTTP/1.x with x > 1 is read as 1.1 (RFC 9110 6.2).
    public let version: HTTPVersion
    /// Whether the connection may carry another request after this one's
    /// response: HTTP/1.1 unless `Connection: close`; HTTP/1.0 only with
    /// `Connection: keep-alive` (RFC 9112 9.3).
    public let keepAlive: Bool
    /// The client sent `Expect: 100-continue` (HTTP/1.1 only; RFC 9110 10.1.1).
    public let expectsContinue: Bool
    /// The request line and field lines as received, line ends included.
    public let head: [UInt8]
    public let fields: [HTTPField]
    /// The content, chunked coding removed. Trailer fields are checked and dropped.
    public let body: [UInt8]
    let methodEnd: Int
    let targetRange: Range<Int>

    public var methodName: ArraySlice<UInt8> { head[0..<methodEnd] }
    public var target: ArraySlice<UInt8> { head[targetRange] }

    /// The target up to '?' (for origin-form targets, the path).
    public var path: ArraySlice<UInt8> {
        let target = self.target
        return target[..<(target.firstIndex(of: ASCII.questionMark) ?? target.endIndex)]
    }

    /// The target after '?', or nil without one.
    public var query: ArraySlice<UInt8>? {
        let target = self.target
        guard let mark = target.firstIndex(of: ASCII.questionMark) else { return nil }
        return target[(mark + 1)...]
    }

    public func name(of field: HTTPField) -> ArraySlice<UInt8> { head[field.name] }
    public func value(of field: HTTPField) -> ArraySlice<UInt8> { head[field.value] }

    /// The value of the first field with this name (ASCII case-insensitive), or nil.
    public func value(forName name: StaticString) -> ArraySlice<UInt8>? {
        for field in fields where equalsIgnoringCase(head[field.name], name) { return head[field.value] }
        return nil
    }
}

extension Bytes {
    func equalsExactly(_ range: Range<Int>, _ literal: StaticString) -> Bool {
        literal.withUTF8Buffer { text in
            guard range.count == text.count else { return false }
            var i = 0
            for position in range {
                if bytes[position] != text[i] { return false }
                i &+= 1
            }
            return true
        }
    }
}
