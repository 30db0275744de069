// HTTPStatus: a status code and its reason phrase (RFC 9110 15), as the
// serializer writes them. Only the codes this server sends are named; any
// other can be made with init(code:reason:).

public struct HTTPStatus: Equatable {
    public let code: Int
    public let reason: StaticString

    public init(code: Int, reason: StaticString) {
        precondition(code >= 100 && code <= 999, "a status code has three digits")
        self.code = code
        self.reason = reason
    }

    public static func == (a: HTTPStatus, b: HTTPStatus) -> Bool { a.code == b.code }

    public static var `continue`: HTTPStatus { HTTPStatus(code: 100, reason: "Continue") }
    public static var ok: HTTPStatus { HTTPStatus(code: 200, reason: "OK") }
    public static var created: HTTPStatus { HTTPStatus(code: 201, reason: "Created") }
    public static var noContent: HTTPStatus { HTTPStatus(code: 204, reason: "No Content") }
    public static var notModified: HTTPStatus { HTTPStatus(code: 304, reason: "Not Modified") }
    public static var badRequest: HTTPStatus { HTTPStatus(code: 400, reason: "Bad Request") }
    public static var notFound: HTTPStatus { HTTPStatus(code: 404, reason: "Not Found") }
    public static var methodNotAllowed: HTTPStatus { HTTPStatus(code: 405, reason: "Method Not Allowed") }
    public static var contentTooLarge: HTTPStatus { HTTPStatus(code: 413, reason: "Content Too Large") }
    public static var uriTooLong: HTTPStatus { HTTPStatus(code: 414, reason: "URI Too Long") }
    public static var expectationFailed: HTTPStatus { HTTPStatus(code: 417, reason: "Expectation Failed") }
    public static var requestHeaderFieldsTooLarge: HTTPStatus {
        HTTPStatus(code: 431, reason: "Request Header Fields Too Large")
    }
    public static var internalServerError: HTTPStatus { HTTPStatus(code: 500, reason: "Internal Server Error") }
    public static var notImplemented: HTTPStatus { HTTPStatus(code: 501, reason: "Not Implemented") }
    public static var httpVersionNotSupported: HTTPStatus {
        HTTPStatus(code: 505, reason: "HTTP Version Not Supported")
    }

    /// Responses with these codes never carry content (RFC 9110 6.4.1).
    public var forbidsContent: Bool { code < 200 || code == 204 || code == 304 }
}
