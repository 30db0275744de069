// libFuzzer target for the HTTP request parser (fuzz/run.sh builds and runs it).
// Each input is parsed with the default limits and with tight ones, each time
// whole, byte by byte, and in three pieces cut where the input's own bytes
// say (so the fuzzer explores split points too). Invariants: nothing traps; the consumed count never exceeds the input;
// every split gives the same requests, error and consumed count; and the
// error response for a refused input serializes.

import HTTP

struct Outcome: Equatable {
    var requests: [HTTPRequest] = []
    var error: HTTPError?
    var consumed = 0
}

func parse(_ input: UnsafeRawBufferPointer, cuts: [Int], limits: HTTPLimits) -> Outcome {
    var parser = RequestParser(limits: limits)
    var outcome = Outcome()
    var low = 0
    for cut in cuts + [input.count] where cut >= low {
        parser.feed(UnsafeRawBufferPointer(rebasing: input[low..<cut]))
        low = cut
        do {
            while let request = try parser.nextRequest() { outcome.requests.append(request) }
            if parser.needsContinue { parser.markContinueSent() }
        } catch {
            outcome.error = error
            break
        }
    }
    outcome.consumed = parser.consumedCount
    precondition(parser.consumedCount <= input.count, "consumed more than was fed")
    return outcome
}

func check(_ input: UnsafeRawBufferPointer, limits: HTTPLimits) {
    let whole = parse(input, cuts: [], limits: limits)
    let bytewise = parse(input, cuts: Array(0..<input.count), limits: limits)
    precondition(bytewise == whole, "byte-by-byte parse differs")
    if input.count > 2 {
        let a = Int(input[0]) * input.count / 256
        let b = max(a, input.count - Int(input[input.count - 1]) * input.count / 256)
        precondition(parse(input, cuts: [a, b], limits: limits) == whole, "three-piece parse differs")
    }
    for request in whole.requests {
        precondition(request.head.count <= limits.maxHeaderBytes && request.body.count <= limits.maxBodyBytes,
                     "a request beyond the limits")
    }
    if let error = whole.error {
        var writer = ResponseWriter([UInt8]())
        writer.error(error)
        precondition(writer.closesConnection && writer.sink.count > 0, "no error response")
    }
}

let tight = HTTPLimits(maxRequestLineBytes: 48, maxHeaderBytes: 160, maxHeaderCount: 6, maxBodyBytes: 64,
                       maxChunkLineBytes: 16)

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = UnsafeRawBufferPointer(start: data, count: size)
    check(input, limits: HTTPLimits())
    check(input, limits: tight)
    return 0
}
