// Helpers for the HTTP tests: feed text to a parser in chosen pieces and
// collect everything it yields, so that any two ways of splitting the same
// bytes can be compared whole.

import HTTP
import XCTest

struct Outcome: Equatable {
    var requests: [HTTPRequest] = []
    var error: HTTPError?
    var consumed = 0
}

func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

func text(_ bytes: ArraySlice<UInt8>) -> String { String(decoding: bytes, as: UTF8.self) }
func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

/// Feeds `input` in pieces ending at `cuts` (sorted offsets), then the rest,
/// asking for requests after every piece.
func parse(_ input: [UInt8], cuts: [Int] = [], limits: HTTPLimits = HTTPLimits()) -> Outcome {
    var parser = RequestParser(limits: limits)
    var outcome = Outcome()
    var low = 0
    for cut in cuts + [input.count] where cut >= low {
        parser.feed(Array(input[low..<cut]))
        low = cut
        do {
            while let request = try parser.nextRequest() { outcome.requests.append(request) }
        } catch {
            outcome.error = error
            break
        }
    }
    outcome.consumed = parser.consumedCount
    return outcome
}

func parse(_ input: String, cuts: [Int] = [], limits: HTTPLimits = HTTPLimits()) -> Outcome {
    parse(bytes(input), cuts: cuts, limits: limits)
}

func parseBytewise(_ input: [UInt8], limits: HTTPLimits = HTTPLimits()) -> Outcome {
    parse(input, cuts: Array(0..<input.count), limits: limits)
}

/// The one request `input` holds, or a test failure.
func single(_ input: String, file: StaticString = #filePath, line: UInt = #line) -> HTTPRequest? {
    let outcome = parse(input)
    XCTAssertNil(outcome.error, "unexpected error", file: file, line: line)
    XCTAssertEqual(outcome.requests.count, 1, file: file, line: line)
    return outcome.requests.first
}

/// The error `input` gets, checked to be the same whole, split in two
/// anywhere, and byte by byte.
func failure(_ input: String, limits: HTTPLimits = HTTPLimits(),
             file: StaticString = #filePath, line: UInt = #line) -> HTTPError? {
    let data = bytes(input)
    let whole = parse(data, limits: limits)
    XCTAssertEqual(parseBytewise(data, limits: limits), whole, "byte by byte differs", file: file, line: line)
    for cut in stride(from: 1, to: data.count, by: max(1, data.count / 16)) {
        XCTAssertEqual(parse(data, cuts: [cut], limits: limits), whole, "split at \(cut) differs", file: file, line: line)
    }
    return whole.error
}

extension HTTPRequest {
    func header(_ name: StaticString) -> String? { value(forName: name).map { text($0) } }
    var targetText: String { text(target) }
    var bodyText: String { text(body) }
}
