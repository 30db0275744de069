// KernelHeap over the hosted platform's region: commit on demand, exhaustion.

import XCTest
@testable import Swiftlet
import PlatformHosted

final class KernelHeapTests: XCTestCase {
    func testReserveIsCommittedOnDemandAndExhaustionFailsCleanly() throws {
        KernelHeap.initialize()
        let total = KernelHeap.stats.totalBytes
        let reserve = KernelHeap.reservedBytes
        XCTAssertGreaterThan(reserve, 0, "the region's tail waits in the reserve")
        XCTAssertLessThanOrEqual(total, 2 << 20, "the heap starts with at most 2 MiB")
        let block = try XCTUnwrap(KernelHeap.allocate(size: 8 << 20, alignment: 64))
        XCTAssertEqual(UInt(bitPattern: block) % 64, 0)
        XCTAssertGreaterThanOrEqual(KernelHeap.stats.totalBytes, total + (8 << 20))
        XCTAssertLessThan(KernelHeap.reservedBytes, reserve)
        XCTAssertEqual(KernelHeap.stats.totalBytes + KernelHeap.reservedBytes, total + reserve, "nothing lost")
        KernelHeap.free(block)
        let reserveLeft = KernelHeap.reservedBytes
        XCTAssertNil(KernelHeap.allocate(size: 1 << 40, alignment: 16), "more than there is: nil")
        XCTAssertEqual(KernelHeap.reservedBytes, reserveLeft, "an impossible request commits nothing")
        XCTAssertTrue(KernelHeap.heap.check())
    }
}
