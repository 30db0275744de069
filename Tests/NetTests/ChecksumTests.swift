// The Internet checksum: RFC 1071's worked example, a known IPv4 header,
// odd lengths and every alignment against the reference, pseudo-headers.

import Net
import TestSupport
import XCTest

final class ChecksumTests: XCTestCase {
    func testRFC1071Example() {
        // RFC 1071 §3: 00 01 f2 03 f4 f5 f6 f7 sums to ddf2 (one's complement), so the checksum is 220d.
        let bytes: [UInt8] = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]
        bytes.withUnsafeBytes { raw in
            var sum = InternetChecksum()
            sum.add(raw)
            XCTAssertEqual(sum.folded, 0xddf2)
            XCTAssertEqual(InternetChecksum.of(raw), 0x220d)
        }
    }

    func testKnownIPv4Header() {
        // A real header (192.168.0.1 -> 192.168.0.199, UDP) whose checksum is b861.
        var header: [UInt8] = [0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
                               0xb8, 0x61, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7]
        header.withUnsafeBytes { raw in
            var sum = InternetChecksum()
            sum.add(raw)
            XCTAssertTrue(sum.isValid)
        }
        header[10] = 0
        header[11] = 0
        XCTAssertEqual(header.withUnsafeBytes { InternetChecksum.of($0) }, 0xb861)
    }

    func testMatchesReferenceAtEveryLengthAndAlignment() {
        var random = SplitMix64(seed: 1071)
        let pool = (0..<2100).map { _ in UInt8(truncatingIfNeeded: random.next()) }
        for length in 0..<70 {
            for start in 0..<9 {
                let bytes = Array(pool[start..<start + length])
                XCTAssertEqual(pool.withUnsafeBytes { InternetChecksum.of($0.slice(start..<start + length)) },
                               referenceChecksum(bytes), "length \(length) start \(start)")
            }
        }
        // Large and all-ones inputs exercise the carries.
        let ones = [UInt8](repeating: 0xff, count: 2048)
        XCTAssertEqual(ones.withUnsafeBytes { InternetChecksum.of($0) }, referenceChecksum(ones))
        XCTAssertEqual(pool.withUnsafeBytes { InternetChecksum.of($0) }, referenceChecksum(pool))
    }

    func testPiecesAndWordsCombine() {
        let bytes: [UInt8] = [0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde]
        var pieces = InternetChecksum()
        bytes.withUnsafeBytes { raw in
            pieces.add(raw.slice(0..<4))
            pieces.add(raw.slice(4..<7))
        }
        XCTAssertEqual(pieces.value, referenceChecksum(bytes))
        var words = InternetChecksum()
        words.add(word32: 0x1234_5678)
        words.add(word: 0x9abc)
        words.add(word: 0xde00)
        XCTAssertEqual(words.value, referenceChecksum(bytes))
    }

    func testPseudoHeader() {
        let src = ip("10.0.0.1"), dst = ip("10.0.0.2")
        let pseudo = InternetChecksum.pseudoHeader(source: src, destination: dst, protocol: 17, length: 12)
        XCTAssertEqual(pseudo.value, referenceChecksum(ipBytes(src) + ipBytes(dst) + [0, 17, 0, 12]))
    }
}

extension UnsafeRawBufferPointer {
    func slice(_ range: Range<Int>) -> UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: self[range]) }
}
