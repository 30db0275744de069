// The byte-ring packet queue: FIFO order, wrap-around, zero-length packets,
// the packet and byte limits, and a long random run against a model.

@testable import Net
import TestSupport
import XCTest

final class PacketQueueTests: XCTestCase {
    func push(_ queue: PacketQueue<Int>, _ bytes: [UInt8], _ meta: Int) -> Bool {
        bytes.withUnsafeBytes { queue.enqueue($0, meta: meta) }
    }

    func pop(_ queue: PacketQueue<Int>) -> (Int, [UInt8])? {
        defer { queue.removeFirst() }
        return queue.withFirst { ($0, Array($1)) }
    }

    func testLimits() {
        let queue = PacketQueue<Int>(byteCapacity: 10, maxPackets: 3)
        XCTAssertTrue(push(queue, [1, 2, 3, 4], 1))
        XCTAssertTrue(push(queue, [], 2))
        XCTAssertTrue(push(queue, [5, 6, 7, 8, 9], 3))
        XCTAssertFalse(push(queue, [1], 4), "packet limit")
        XCTAssertEqual(pop(queue)?.1, [1, 2, 3, 4])
        XCTAssertFalse(push(queue, [1, 2, 3, 4, 5], 5), "4 bytes free at the start, 0 at the end")
        XCTAssertTrue(push(queue, [1, 2, 3], 6), "wraps to the start")
        XCTAssertEqual(pop(queue)?.0, 2)
        XCTAssertEqual(pop(queue)?.1, [5, 6, 7, 8, 9])
        XCTAssertEqual(pop(queue)?.1, [1, 2, 3])
        XCTAssertNil(pop(queue))
        XCTAssertTrue(push(queue, Array(repeating: 7, count: 10), 7), "empty: the whole ring")
        XCTAssertFalse(push(PacketQueue<Int>(byteCapacity: 4, maxPackets: 2), [1, 2, 3, 4, 5], 0))
    }

    /// The longest packet `reserve` takes: the larger free run, 0 at the packet limit.
    func testLargestReservationIsWhatReserveTakes() {
        var random = SplitMix64(seed: 7)
        let queue = PacketQueue<Int>(byteCapacity: 300, maxPackets: 8)
        for step in 0..<5000 {
            let largest = queue.largestReservation
            if largest > 0 {
                XCTAssertNotNil(queue.reserve(largest), "step \(step)")
                XCTAssertNil(queue.reserve(largest + 1), "step \(step)")
            } else {
                XCTAssertNil(queue.reserve(1))
            }
            if random.below(2) == 0 {
                _ = push(queue, [UInt8](repeating: 1, count: random.below(100)), step)
            } else {
                queue.removeFirst()
            }
        }
    }

    func testRandomAgainstModel() {
        var random = SplitMix64(seed: 42)
        let queue = PacketQueue<Int>(byteCapacity: 300, maxPackets: 8)
        var model: [(Int, [UInt8])] = []
        var accepted = 0
        for step in 0..<20000 {
            if random.below(2) == 0 {
                let bytes = (0..<random.below(120)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
                if push(queue, bytes, step) {
                    model.append((step, bytes))
                    accepted += 1
                } else {
                    // Refusal needs a full count, or no contiguous room: at worst the unused
                    // end of the ring (under 120 bytes, the largest packet) is lost as well.
                    let used = model.reduce(0) { $0 + max($1.1.count, 1) }
                    XCTAssertTrue(model.count == 8 || used + bytes.count + max(bytes.count, 119) > 300,
                                  "refused with room to spare at step \(step)")
                }
            } else if let got = pop(queue) {
                let expected = model.removeFirst()
                XCTAssertEqual(got.0, expected.0)
                XCTAssertEqual(got.1, expected.1)
            } else {
                XCTAssertTrue(model.isEmpty)
            }
            XCTAssertEqual(queue.count, model.count)
        }
        XCTAssertGreaterThan(accepted, 5000)
    }
}
