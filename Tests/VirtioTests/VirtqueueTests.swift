// Virtqueue against SimulatedRing (the device side written separately from
// the spec): layout, round trips, exhaustion, long chains, seeded random
// completion orders, every malformed used entry, kick and interrupt rules.

import Swiftlet
import TestSupport
import XCTest
@testable import Virtio

final class VirtqueueTests: XCTestCase {
    /// A queue over fresh memory (filled with garbage first, to see it zeroed) and its device side.
    final class Fixture {
        let memory: UnsafeMutableRawPointer
        let queue: Virtqueue
        let ring: SimulatedRing
        /// Memory the chains point at (never touched by the queue itself).
        let buffers: UnsafeMutableRawPointer

        init(size: UInt16, eventIndex: Bool = false) {
            let bytes = Virtqueue.byteCount(size: Int(size))
            memory = .allocate(byteCount: bytes, alignment: 4096)
            memory.initializeMemory(as: UInt8.self, repeating: 0xA5, count: bytes)
            queue = Virtqueue(memory: memory, size: size, eventIndex: eventIndex)
            ring = SimulatedRing(size: size, descriptors: queue.descriptorArea, driverArea: queue.driverArea,
                                 deviceArea: queue.deviceArea, eventIndex: eventIndex)
            buffers = .allocate(byteCount: 1 << 20, alignment: 64)
        }

        deinit {
            memory.deallocate()
            buffers.deallocate()
        }

        func address(_ offset: Int) -> UInt64 { UInt64(UInt(bitPattern: buffers + offset)) }

        /// Adds a chain of `readable` then `writable` segments of `length` bytes each.
        func add(readable: Int, writable: Int, length: UInt32 = 64, at offset: Int = 0) throws -> UInt16? {
            var segments: [VirtqueueSegment] = []
            for i in 0..<(readable + writable) {
                segments.append(VirtqueueSegment(address: address(offset + i * Int(length)), length: length,
                                                 deviceWritable: i >= readable))
            }
            return try segments.withUnsafeBufferPointer { try queue.add($0) }
        }

        func publishedChain() -> SimulatedRing.Chain? { ring.nextAvailable() }
    }

    func testLayoutFollowsTheLegacyRules() {
        for size in [1, 2, 8, 128, 256, 1024, 32768] {
            let descriptors = 16 * size
            let availEnd = descriptors + 6 + 2 * size
            let usedStart = (availEnd + 4095) / 4096 * 4096
            XCTAssertEqual(Virtqueue.byteCount(size: size), usedStart + 6 + 8 * size, "size \(size)")
        }
        XCTAssertEqual(Virtqueue.byteCount(size: 256), 8192 + 6 + 2048)
        XCTAssertEqual(Virtqueue.legacyAlignment, 4096)

        let fixture = Fixture(size: 256)
        let base = UInt64(UInt(bitPattern: fixture.memory))
        XCTAssertEqual(fixture.queue.descriptorArea, base)
        XCTAssertEqual(fixture.queue.driverArea, base + 4096)
        XCTAssertEqual(fixture.queue.deviceArea, base + 8192)
        XCTAssertEqual(fixture.queue.deviceArea % 4096, 0)
        let bytes = UnsafeRawBufferPointer(start: fixture.memory, count: Virtqueue.byteCount(size: 256))
        XCTAssertTrue(bytes.allSatisfy { $0 == 0 }, "the queue zeroes its memory")
        XCTAssertEqual(fixture.queue.freeDescriptors, 256)
        XCTAssertEqual(fixture.queue.chainsInFlight, 0)
        XCTAssertFalse(fixture.queue.isBroken)
    }

    func testRoundTripCarriesAddressesLengthsAndDirections() throws {
        let f = Fixture(size: 16)
        let head = try XCTUnwrap(f.add(readable: 2, writable: 1, length: 100))
        XCTAssertEqual(f.queue.freeDescriptors, 13)
        XCTAssertEqual(f.queue.chainsInFlight, 1)
        XCTAssertNil(f.publishedChain(), "nothing is visible before publish")
        XCTAssertTrue(f.queue.publish(), "a fresh device wants to be notified")
        let chain = try XCTUnwrap(f.publishedChain())
        XCTAssertEqual(chain.head, head)
        XCTAssertEqual(chain.segments.map(\.length), [100, 100, 100])
        XCTAssertEqual(chain.segments.map(\.writable), [false, false, true])
        XCTAssertEqual(chain.segments.map { UInt64(UInt(bitPattern: $0.address)) },
                       [f.address(0), f.address(100), f.address(200)])
        XCTAssertNil(try f.queue.nextUsed())

        f.ring.scatter(chain, [1, 2, 3])
        f.ring.complete(chain, length: 3)
        XCTAssertTrue(f.queue.hasUsed)
        XCTAssertEqual(try f.queue.nextUsed(), VirtqueueCompletion(head: head, length: 3))
        XCTAssertEqual(f.buffers.load(fromByteOffset: 200, as: UInt8.self), 1)
        XCTAssertNil(try f.queue.nextUsed())
        XCTAssertFalse(f.queue.hasUsed)
        XCTAssertEqual(f.queue.freeDescriptors, 16)
        XCTAssertEqual(f.queue.chainsInFlight, 0)
        XCTAssertEqual(f.ring.violations, [])
    }

    func testPublishMakesSeveralChainsAvailableInOrder() throws {
        let f = Fixture(size: 8)
        let heads = try (0..<3).map { _ in try XCTUnwrap(f.add(readable: 1, writable: 0)) }
        XCTAssertTrue(f.queue.publish())
        XCTAssertFalse(f.queue.publish(), "nothing new: no notification")
        XCTAssertEqual(f.ring.availIndex, 3)
        XCTAssertEqual((0..<3).compactMap { _ in f.publishedChain()?.head }, heads)
    }

    func testDescriptorExhaustionIsNotAnErrorAndRecovers() throws {
        let f = Fixture(size: 8)
        var heads: [UInt16] = []
        while let head = try f.add(readable: 1, writable: 1) { heads.append(head) }
        XCTAssertEqual(heads.count, 4)
        XCTAssertEqual(Set(heads).count, 4)
        XCTAssertEqual(f.queue.freeDescriptors, 0)
        XCTAssertNil(try f.add(readable: 1, writable: 0))
        XCTAssertFalse(f.queue.isBroken)
        _ = f.queue.publish()

        let first = try XCTUnwrap(f.publishedChain())
        f.ring.complete(first, length: 0)
        XCTAssertEqual(try f.queue.nextUsed()?.head, first.head)
        XCTAssertEqual(f.queue.freeDescriptors, 2)
        XCTAssertNil(try f.add(readable: 2, writable: 1), "three descriptors do not fit in two")
        XCTAssertNotNil(try f.add(readable: 1, writable: 1))
        XCTAssertEqual(f.queue.freeDescriptors, 0)
    }

    func testChainsOfManySegments() throws {
        let f = Fixture(size: 64)
        let head = try XCTUnwrap(f.add(readable: 40, writable: 24, length: 16))
        XCTAssertEqual(f.queue.freeDescriptors, 0)
        _ = f.queue.publish()
        let chain = try XCTUnwrap(f.publishedChain())
        XCTAssertEqual(chain.head, head)
        XCTAssertEqual(chain.readable.count, 40)
        XCTAssertEqual(chain.writable.count, 24)
        XCTAssertEqual(chain.writableBytes, 24 * 16)
        f.ring.complete(chain, length: 24 * 16)
        XCTAssertEqual(try f.queue.nextUsed(), VirtqueueCompletion(head: head, length: 384))
        XCTAssertEqual(f.queue.freeDescriptors, 64)
        XCTAssertEqual(f.ring.violations, [])
    }

    /// Chains of random lengths completed in random order for many rounds
    /// (the indices wrap several times): the device sees exactly what was
    /// added, each completion names its own chain, descriptors are conserved.
    func testRandomCompletionOrderConservesDescriptors() throws {
        var random = SplitMix64(seed: 0x5EED_0001)
        let f = Fixture(size: 32)
        var inFlight: [UInt16: (segments: Int, writable: Int)] = [:]
        var taken: [SimulatedRing.Chain] = []
        var completed = 0
        for _ in 0..<150_000 {
            if random.below(3) != 0 {
                let readable = random.below(3), writable = random.below(3) + (readable == 0 ? 1 : 0)
                if let head = try f.add(readable: readable, writable: writable, length: UInt32(8 + random.below(64))) {
                    XCTAssertNil(inFlight[head], "head \(head) handed out twice")
                    inFlight[head] = (readable + writable, writable)
                }
                if random.below(2) == 0 { _ = f.queue.publish() }
            }
            while let chain = f.publishedChain() {
                XCTAssertEqual(chain.segments.count, inFlight[chain.head]?.segments)
                taken.append(chain)
            }
            if !taken.isEmpty && random.below(2) == 0 {
                let chain = taken.remove(at: random.below(taken.count))
                let length = random.below(chain.writableBytes + 1)
                f.ring.complete(chain, length: length)
                let completion = try XCTUnwrap(f.queue.nextUsed())
                XCTAssertEqual(completion, VirtqueueCompletion(head: chain.head, length: UInt32(length)))
                inFlight[chain.head] = nil
                completed += 1
            }
            let held = inFlight.values.reduce(0) { $0 + $1.segments }
            XCTAssertEqual(f.queue.freeDescriptors + held, 32)
            XCTAssertEqual(f.queue.chainsInFlight, inFlight.count)
        }
        XCTAssertGreaterThan(completed, 65_536, "the indices wrapped")
        XCTAssertGreaterThan(f.ring.usedIndex, 0)
        XCTAssertEqual(f.ring.violations, [])
        XCTAssertFalse(f.queue.isBroken)
    }

    // MARK: malformed used entries

    /// Two chains in flight (heads a: 1 readable + 1 writable of 64 bytes, b: 3 readable), one added unpublished.
    func malformedFixture() throws -> (Fixture, a: SimulatedRing.Chain, b: SimulatedRing.Chain, unpublished: UInt16) {
        let f = Fixture(size: 16)
        _ = try f.add(readable: 1, writable: 1)
        _ = try f.add(readable: 3, writable: 0)
        _ = f.queue.publish()
        let unpublished = try XCTUnwrap(f.add(readable: 1, writable: 0))
        let a = try XCTUnwrap(f.publishedChain()), b = try XCTUnwrap(f.publishedChain())
        return (f, a, b, unpublished)
    }

    func expectBroken(_ f: Fixture, _ fault: VirtqueueFault, free: Int, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try f.queue.nextUsed(), file: file, line: line) {
            XCTAssertEqual($0 as? DeviceError, .ioError, file: file, line: line)
        }
        XCTAssertEqual(f.queue.fault, fault, file: file, line: line)
        XCTAssertTrue(f.queue.isBroken, file: file, line: line)
        XCTAssertEqual(f.queue.freeDescriptors, free, "nothing freed by a malformed entry", file: file, line: line)
        // Broken for good: every later call says so, nothing more is freed or published.
        XCTAssertThrowsError(try f.queue.nextUsed(), file: file, line: line)
        XCTAssertThrowsError(try f.add(readable: 1, writable: 0), file: file, line: line)
        XCTAssertFalse(f.queue.publish(), file: file, line: line)
        XCTAssertEqual(f.queue.freeDescriptors, free, file: file, line: line)
        XCTAssertEqual(f.queue.fault, fault, "the first fault is kept", file: file, line: line)
    }

    func testUsedIDOutsideTheTableBreaksTheQueue() throws {
        let (f, _, _, _) = try malformedFixture()
        f.ring.post(id: 16, length: 0)
        expectBroken(f, .badID, free: 10)
    }

    func testUsedIDOfAFreeDescriptorBreaksTheQueue() throws {
        let (f, _, _, _) = try malformedFixture()
        f.ring.post(id: 15, length: 0)
        expectBroken(f, .notInFlight, free: 10)
    }

    func testUsedIDInsideAChainBreaksTheQueue() throws {
        let (f, _, b, _) = try malformedFixture()
        let inner = UInt32(b.head) + 1  // chains are taken in free-list order
        f.ring.post(id: inner, length: 0)
        expectBroken(f, .notInFlight, free: 10)
    }

    func testUsedIDOfAnUnpublishedChainBreaksTheQueue() throws {
        let (f, _, _, unpublished) = try malformedFixture()
        f.ring.post(id: UInt32(unpublished), length: 0)
        expectBroken(f, .notInFlight, free: 10)
    }

    func testDuplicateCompletionBreaksTheQueueWithoutFreeingTwice() throws {
        let (f, a, _, _) = try malformedFixture()
        f.ring.complete(a, length: 64)
        XCTAssertEqual(try f.queue.nextUsed()?.head, a.head)
        XCTAssertEqual(f.queue.freeDescriptors, 12)
        f.ring.complete(a, length: 64)
        expectBroken(f, .notInFlight, free: 12)
    }

    func testUsedLengthBeyondTheWritableBytesBreaksTheQueue() throws {
        let (f, a, _, _) = try malformedFixture()
        f.ring.complete(a, length: 65)
        expectBroken(f, .lengthTooLarge, free: 10)
    }

    func testAnyUsedLengthOnAReadOnlyChainBreaksTheQueue() throws {
        let (f, _, b, _) = try malformedFixture()
        f.ring.complete(b, length: 1)
        expectBroken(f, .lengthTooLarge, free: 10)
    }

    func testUsedIndexJumpingAheadBreaksTheQueue() throws {
        let (f, a, _, _) = try malformedFixture()
        f.ring.complete(a, length: 0)
        f.ring.advanceUsedIndex(by: 2)  // three entries claimed, two chains published
        expectBroken(f, .indexJump, free: 10)
    }

    func testUsedIndexMovingBackwardsBreaksTheQueue() throws {
        let (f, _, _, _) = try malformedFixture()
        f.ring.advanceUsedIndex(by: 0xFFFF)
        expectBroken(f, .indexJump, free: 10)
    }

    func testValidEntriesBeforeAMalformedOneAreDelivered() throws {
        let (f, a, b, _) = try malformedFixture()
        _ = f.queue.publish()  // three chains in flight: three entries are not too many
        f.ring.complete(b, length: 0)
        f.ring.complete(a, length: 64)
        f.ring.complete(a, length: 64)
        XCTAssertEqual(try f.queue.nextUsed()?.head, b.head)
        XCTAssertEqual(try f.queue.nextUsed()?.head, a.head)
        expectBroken(f, .notInFlight, free: 15)
    }

    // MARK: notifications and interrupts

    func testNoNotifyFlagSuppressesKicks() throws {
        let f = Fixture(size: 8)
        _ = try f.add(readable: 1, writable: 0)
        XCTAssertTrue(f.queue.publish())
        f.ring.noNotify = true
        _ = try f.add(readable: 1, writable: 0)
        XCTAssertFalse(f.queue.publish())
        f.ring.noNotify = false
        _ = try f.add(readable: 1, writable: 0)
        XCTAssertTrue(f.queue.publish())
        XCTAssertFalse(f.queue.publish(), "an empty publish never kicks")
    }

    func testEventIndexKicksOnlyWhenAvailEventIsPassed() throws {
        let f = Fixture(size: 8, eventIndex: true)
        f.ring.noNotify = true  // ignored with EVENT_IDX
        _ = try f.add(readable: 1, writable: 0)
        XCTAssertTrue(f.queue.publish(), "0 -> 1 passes avail_event 0")
        _ = try f.add(readable: 1, writable: 0)
        XCTAssertFalse(f.queue.publish(), "1 -> 2 does not pass avail_event 0")
        f.ring.availEvent = 3
        _ = try f.add(readable: 1, writable: 0)
        XCTAssertFalse(f.queue.publish(), "2 -> 3 does not pass 3")
        _ = try f.add(readable: 1, writable: 0)
        _ = try f.add(readable: 1, writable: 0)
        XCTAssertTrue(f.queue.publish(), "3 -> 5 passes 3")
    }

    func testEventIndexKickRuleAcrossTheIndexWrap() throws {
        let f = Fixture(size: 4, eventIndex: true)
        var kicks = 0
        for round in 0..<70_000 {
            f.ring.availEvent = f.ring.availIndex  // the device asks for a kick on the next entry
            _ = try f.add(readable: 1, writable: 0)
            if f.queue.publish() { kicks += 1 }
            let chain = try XCTUnwrap(f.publishedChain())
            f.ring.availEvent = f.ring.availIndex &+ 5  // now it asks for none soon
            _ = try f.add(readable: 1, writable: 0)
            XCTAssertFalse(f.queue.publish(), "round \(round)")
            let second = try XCTUnwrap(f.publishedChain())
            f.ring.complete(chain, length: 0)
            f.ring.complete(second, length: 0)
            XCTAssertNotNil(try f.queue.nextUsed())
            XCTAssertNotNil(try f.queue.nextUsed())
        }
        XCTAssertEqual(kicks, 70_000)
        XCTAssertFalse(f.queue.isBroken)
    }

    func testInterruptSuppressionWithFlags() throws {
        let f = Fixture(size: 8)
        _ = try f.add(readable: 0, writable: 1)
        _ = try f.add(readable: 0, writable: 1)
        _ = f.queue.publish()
        let a = try XCTUnwrap(f.publishedChain()), b = try XCTUnwrap(f.publishedChain())

        f.queue.disableInterrupts()
        XCTAssertEqual(f.ring.availFlags, 1)
        XCTAssertFalse(f.ring.complete(a, length: 1), "no interrupt while disabled")
        XCTAssertTrue(f.queue.enableInterrupts(), "an entry arrived while disabled: take it before sleeping")
        XCTAssertEqual(f.ring.availFlags, 0)
        XCTAssertNotNil(try f.queue.nextUsed())
        XCTAssertFalse(f.queue.enableInterrupts(), "nothing waiting: safe to sleep")
        XCTAssertTrue(f.ring.complete(b, length: 1), "interrupts are wanted again")
    }

    func testInterruptSuppressionWithEventIndex() throws {
        let f = Fixture(size: 8, eventIndex: true)
        for _ in 0..<4 { _ = try f.add(readable: 0, writable: 1) }
        _ = f.queue.publish()
        let chains = try (0..<4).map { _ in try XCTUnwrap(f.publishedChain()) }
        XCTAssertEqual(f.ring.availFlags, 0, "flags stay 0 with EVENT_IDX")

        XCTAssertTrue(f.ring.complete(chains[0], length: 1), "used_event 0: the first entry interrupts")
        XCTAssertFalse(f.ring.complete(chains[1], length: 1), "used_event not moved: no more")
        XCTAssertNotNil(try f.queue.nextUsed())
        XCTAssertNotNil(try f.queue.nextUsed())
        XCTAssertFalse(f.queue.enableInterrupts())
        XCTAssertEqual(f.ring.usedEvent, 2)
        XCTAssertTrue(f.ring.complete(chains[2], length: 1), "the next entry interrupts again")

        XCTAssertNotNil(try f.queue.nextUsed())
        f.queue.disableInterrupts()
        XCTAssertEqual(f.ring.availFlags, 0)
        XCTAssertFalse(f.ring.complete(chains[3], length: 1))
        XCTAssertTrue(f.queue.enableInterrupts(), "the entry that came while disabled is reported")
    }
}
