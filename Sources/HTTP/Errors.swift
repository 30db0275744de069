// HTTPError: why a request was refused, one case per rule, each mapped to the
// status code to answer with. After any of these the parser has stopped: the
// server sends the error response (ResponseWriter.error) and closes, because
// the framing of whatever follows can no longer be trusted (RFC 9112 9.6 and
// 11.2: a server that guessed would open the door to request smuggling).

public enum HTTPError: Error, Equatable {
    // 400 Bad Request: the request line.
    case invalidRequestLine          // not exactly `method SP target SP version`
    case invalidMethod               // method is not a token (RFC 9110 9.1)
    case invalidTarget               // bytes outside visible ASCII, a fragment, or the wrong form for the method
    case invalidVersion              // not `HTTP/DIGIT.DIGIT`
    // 400: field lines.
    case invalidFieldName            // empty, not a token, or whitespace before the colon (RFC 9112 5.1)
    case invalidFieldValue           // a control byte (bare CR, NUL...) in a value
    case obsoleteLineFolding         // a line starting with whitespace (RFC 9112 5.2, 2.2)
    case missingHost                 // HTTP/1.1 without Host (RFC 9112 3.2)
    case multipleHosts
    // 400: framing (RFC 9112 6).
    case invalidContentLength        // not 1*DIGIT, or larger than Int
    case conflictingContentLength    // two different values
    case transferEncodingWithContentLength
    case transferEncodingInHTTP10
    case invalidTransferEncoding     // chunked missing, not last, or twice; or not a token list
    case invalidChunkSize            // not hex, or larger than Int
    case invalidChunkExtension
    case chunkLineTooLong
    case missingChunkTerminator      // chunk data not followed by CRLF
    // Limits (HTTPLimits).
    case requestLineTooLong          // 414
    case headerSectionTooLarge       // 431
    case tooManyHeaderFields         // 431
    case bodyTooLarge                // 413
    // Things this server does not do.
    case unsupportedTransferCoding   // 501: a coding other than chunked (RFC 9112 6.1)
    case unsupportedVersion          // 505: a major version other than 1
    case unsupportedExpectation      // 417: Expect other than 100-continue (RFC 9110 10.1.1)

    public var status: HTTPStatus {
        switch self {
        case .requestLineTooLong: return .uriTooLong
        case .headerSectionTooLarge, .tooManyHeaderFields: return .requestHeaderFieldsTooLarge
        case .bodyTooLarge: return .contentTooLarge
        case .unsupportedTransferCoding: return .notImplemented
        case .unsupportedVersion: return .httpVersionNotSupported
        case .unsupportedExpectation: return .expectationFailed
        default: return .badRequest
        }
    }
}
