// A seeded random mutation soak: valid requests with bytes flipped, inserted,
// deleted and duplicated, fed in random pieces. The parser must never trap,
// must give the same outcome however the bytes are split, and must never
// report more bytes consumed than it was fed. Bounded: a fixed number of
// iterations of inputs of at most a few hundred bytes.

import HTTP
import TestSupport
import XCTest

final class SoakTests: XCTestCase {
    let seeds = [
        "GET / HTTP/1.1\r\nHost: h\r\n\r\n",
        "POST /kv/x HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n\r\nabcd",
        "PUT /kv/y HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n2;e=\"v\"\r\nab\r\n0\r\nT: 1\r\n\r\n",
        "GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /b HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
        "OPTIONS * HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\nz",
    ]
    let alphabet = bytes("\r\n :;,\"\\\t0123456789aAfFxX-chunkedContent-LengthTransfer-EncodingHost/HTTP1.\u{0}\u{7f}")

    func mutate(_ input: [UInt8], _ random: inout SplitMix64) -> [UInt8] {
        var data = input
        for _ in 0...random.below(4) {
            let at = random.below(data.count + 1)
            switch random.below(5) {
            case 0 where at < data.count: data[at] = UInt8(truncatingIfNeeded: random.next())
            case 1: data.insert(alphabet[random.below(alphabet.count)], at: at)
            case 2 where at < data.count: data.remove(at: at)
            case 3:
                let end = min(data.count, at + random.below(16))
                data.insert(contentsOf: data[at..<end], at: at)
            default: data.insert(contentsOf: data[..<at].suffix(random.below(8)), at: at)
            }
        }
        return data
    }

    func testMutationSoak() {
        var random = SplitMix64(seed: 0x5EED_4854_5450)
        let tight = HTTPLimits(maxRequestLineBytes: 40, maxHeaderBytes: 120, maxHeaderCount: 4,
                               maxBodyBytes: 8, maxChunkLineBytes: 12)
        var requests = 0, errors = 0
        for iteration in 0..<10_000 {
            let base = (0...random.below(2)).map { _ in seeds[random.below(seeds.count)] }.joined()
            let data = mutate(bytes(base), &random)
            let limits = iteration % 3 == 0 ? tight : HTTPLimits()
            let whole = parse(data, limits: limits)
            XCTAssertLessThanOrEqual(whole.consumed, data.count)
            var cuts: [Int] = []
            for _ in 0..<random.below(6) { cuts.append(random.below(data.count + 1)) }
            XCTAssertEqual(parse(data, cuts: cuts.sorted(), limits: limits), whole, "seed iteration \(iteration)")
            if iteration % 10 == 0 { XCTAssertEqual(parseBytewise(data, limits: limits), whole, "bytewise \(iteration)") }
            requests += whole.requests.count
            if whole.error != nil { errors += 1 }
        }
        // Both paths are exercised, not just the error path.
        XCTAssertGreaterThan(requests, 2000)
        XCTAssertGreaterThan(errors, 2000)
    }
}
