// KernelHeap over the hosted platform's region: commit on demand, exhaustion.
// Other tests in this process (ThreadsTests' stacks) may have used the heap
// first: the checks are relative to what it holds when this one starts.

import XCTest
@testable import Swiftlet
import PlatformHosted

final class KernelHeapTests: XCTestCase {
    func testReserveIsCommittedOnDemandAndExhaustionFailsCleanly() throws {
        let fresh = !KernelHeap.ready
        KernelHeap.initialize()
        let total = KernelHeap.stats.totalBytes
        let reserve = KernelHeap.reservedBytes
        XCTAssertGreaterThan(reserve, 0, "the region's tail waits in the reserve")
        if fresh { XCTAssertLessThanOrEqual(total, 2 << 20, "the heap starts with at most 2 MiB") }
        // More than the heap has free: it must commit from the reserve.
        let size = KernelHeap.stats.largestFree + (4 << 20)
        XCTAssertGreaterThan(reserve, size)
        let block = try XCTUnwrap(KernelHeap.allocate(size: size, alignment: 64))
        XCTAssertEqual(UInt(bitPattern: block) % 64, 0)
        XCTAssertGreaterThanOrEqual(KernelHeap.stats.totalBytes, total + (4 << 20))
        XCTAssertLessThan(KernelHeap.reservedBytes, reserve)
        XCTAssertEqual(KernelHeap.stats.totalBytes + KernelHeap.reservedBytes, total + reserve, "nothing lost")
        KernelHeap.free(block)
        let reserveLeft = KernelHeap.reservedBytes
        XCTAssertNil(KernelHeap.allocate(size: 1 << 40, alignment: 16), "more than there is: nil")
        XCTAssertEqual(KernelHeap.reservedBytes, reserveLeft, "an impossible request commits nothing")
        XCTAssertTrue(KernelHeap.heap.check())
    }
}
