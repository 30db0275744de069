// The byte rings: wrap-around writes and reads, and the receive buffer's
// out-of-order ranges (merging, filling a hole, the range limit).

@testable import Net
import XCTest

final class TCPBufferTests: XCTestCase {
    func read(_ ring: ByteRing, _ n: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: n)
        let got = out.withUnsafeMutableBytes { ring.read(into: $0) }
        return Array(out[0..<got])
    }

    func testRingWrapsAround() {
        let ring = ByteRing(capacity: 8)
        XCTAssertEqual(([1, 2, 3, 4, 5, 6] as [UInt8]).withUnsafeBytes { ring.append($0) }, 6)
        XCTAssertEqual(read(ring, 4), [1, 2, 3, 4])
        XCTAssertEqual(([7, 8, 9, 10, 11, 12, 13] as [UInt8]).withUnsafeBytes { ring.append($0) }, 6, "only 6 free")
        XCTAssertEqual(ring.free, 0)
        var middle = [UInt8](repeating: 0, count: 5)
        middle.withUnsafeMutableBytes { ring.copy(from: 2, into: $0) }
        XCTAssertEqual(middle, [7, 8, 9, 10, 11], "a copy across the wrap")
        XCTAssertEqual(read(ring, 100), [5, 6, 7, 8, 9, 10, 11, 12])
        XCTAssertEqual(ring.count, 0)
    }

    func insert(_ buffer: inout TCPReceiveBuffer, _ bytes: [UInt8], at seq: UInt32, next: inout UInt32) -> Int? {
        let moved = bytes.withUnsafeBytes { buffer.insert($0, at: seq, next: next) }
        next &+= UInt32(moved ?? 0)
        return moved
    }

    func testOutOfOrderDataIsDeliveredInOrder() {
        var buffer = TCPReceiveBuffer(capacity: 16, maxRanges: 2)
        var next: UInt32 = 0xffff_fffc  // across the sequence wrap
        XCTAssertEqual(insert(&buffer, [5, 6], at: next &+ 4, next: &next), 0)
        XCTAssertEqual(insert(&buffer, [9, 10], at: next &+ 8, next: &next), 0)
        XCTAssertNil(insert(&buffer, [13], at: next &+ 12, next: &next), "a third hole is over the limit")
        XCTAssertEqual(insert(&buffer, [7, 8], at: next &+ 6, next: &next), 0, "joins both ranges")
        XCTAssertEqual(buffer.ranges.count, 1)
        XCTAssertEqual(insert(&buffer, [1, 2, 3, 4], at: next, next: &next), 10, "the hole filled: all in order")
        XCTAssertFalse(buffer.hasOutOfOrder)
        XCTAssertEqual(read(buffer.ring, 100), Array(1...10))
        XCTAssertEqual(next, 6)
    }
}
