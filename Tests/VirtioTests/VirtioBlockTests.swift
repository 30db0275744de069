// VirtioBlock against SimulatedDisk: start-up and feature negotiation
// (modern and legacy, every refusal), geometry, whole-disk data round trips,
// request splitting by size_max/seg_max/queue size, flush, read-only,
// geometry checks, device errors, malformed completions, and several
// requests outstanding at once completed in any order (a nested request in
// `wait` plays another cooperative thread running while this one sleeps),
// and a request whose notification the device missed.

import Swiftlet
import TestSupport
import XCTest
@testable import Virtio

final class VirtioBlockTests: XCTestCase {
    typealias F = SimulatedDisk.Feature

    func start(_ disk: SimulatedDisk) -> (VirtioBlock?, Harness<SimulatedDisk>) {
        let harness = Harness(disk)
        return (VirtioBlock(transport: disk, name: deviceName, wait: harness.wait), harness)
    }

    func pattern(_ count: Int, seed: UInt64) -> [UInt8] {
        var random = SplitMix64(seed: seed)
        return (0..<count).map { _ in UInt8(truncatingIfNeeded: random.next()) }
    }

    // MARK: start-up

    func testModernStartUpNegotiatesWhatTheDriverUses() throws {
        let disk = SimulatedDisk(sectors: 64, features: F.flush | F.blockSize | F.sizeMax | F.segmentMax | (1 << 4)
                                     | VirtioFeature.ringEventIndex | VirtioFeature.ringIndirectDescriptors | (1 << 40))
        let (driver, _) = start(disk)
        XCTAssertNotNil(driver)
        XCTAssertEqual(disk.statusLog, [0, 1, 3, 11, 15])
        XCTAssertEqual(disk.driverFeatures, VirtioFeature.version1 | F.flush | F.blockSize | F.sizeMax | F.segmentMax
                           | VirtioFeature.ringEventIndex, "geometry, indirect and unknown bits are declined")
        XCTAssertEqual(disk.rings[0]?.size, 128, "a modern queue is sized by the driver")
        XCTAssertEqual(disk.rings[0]?.eventIndex, true)
        XCTAssertEqual(disk.allViolations, [])
        XCTAssertEqual(driver?.name.string, "vda")
    }

    func testModernQueueSizeIsAPowerOfTwoWithinTheDeviceMaximum() {
        for (maximum, expected) in [(UInt16(64), UInt16(64)), (1024, 128), (100, 64), (4, 4)] {
            let disk = SimulatedDisk(sectors: 8, queueMax: maximum)
            let (driver, _) = start(disk)
            XCTAssertNotNil(driver)
            XCTAssertEqual(disk.rings[0]?.size, expected, "maximum \(maximum)")
        }
    }

    func testLegacyStartUpSkipsFeaturesOKAndTakesTheDeviceQueueSize() throws {
        let disk = SimulatedDisk(sectors: 256, legacy: true, features: F.flush | (1 << 27) | (1 << 35), queueMax: 256)
        let (driver, _) = start(disk)
        let block = try XCTUnwrap(driver)
        XCTAssertEqual(disk.statusLog, [0, 1, 3, 7])
        XCTAssertEqual(disk.driverFeatures, F.flush | (1 << 27), "32 feature bits, ANY_LAYOUT taken")
        XCTAssertEqual(disk.rings[0]?.size, 256)
        let data = pattern(4096, seed: 1)
        try data.withUnsafeBytes { try block.write(at: 8192, from: $0) }
        var back = [UInt8](repeating: 0, count: 4096)
        try back.withUnsafeMutableBytes { try block.read(at: 8192, into: $0) }
        XCTAssertEqual(back, data)
        try block.flush()
        XCTAssertEqual(disk.flushes, 1)
        XCTAssertEqual(disk.allViolations, [])
    }

    func expectRefused(_ disk: SimulatedDisk, failed: Bool = true, file: StaticString = #filePath, line: UInt = #line) {
        let (driver, _) = start(disk)
        XCTAssertNil(driver, file: file, line: line)
        if failed {
            XCTAssertTrue(disk.statusLog.contains { $0 & VirtioStatus.failed != 0 }, "FAILED set", file: file, line: line)
        }
        XCTAssertEqual(disk.statusLog.last, 0, "reset before its memory was released", file: file, line: line)
        XCTAssertFalse(disk.driverOK, file: file, line: line)
        XCTAssertEqual(disk.notifications, [:], file: file, line: line)
    }

    func testRefusals() {
        let noVersion1 = SimulatedDisk(sectors: 8)
        noVersion1.deviceFeatures &= ~VirtioFeature.version1
        expectRefused(noVersion1)

        let featuresRefused = SimulatedDisk(sectors: 8)
        featuresRefused.refuseFeaturesOK = true
        expectRefused(featuresRefused)
        XCTAssertTrue(featuresRefused.rings.isEmpty, "no queue before FEATURES_OK holds")

        expectRefused(SimulatedDisk(sectors: 8, queueMax: 0))
        expectRefused(SimulatedDisk(sectors: 8, queueMax: 2))
        expectRefused(SimulatedDisk(sectors: 8, legacy: true, queueMax: 100))

        let queueRefused = SimulatedDisk(sectors: 8)
        queueRefused.refuseQueues = true
        expectRefused(queueRefused)

        let stuck = SimulatedDisk(sectors: 8)
        stuck.resetNeverCompletes = true
        expectRefused(stuck, failed: false)

        let huge = SimulatedDisk(sectors: 8)
        huge.config.replaceSubrange(0..<8, with: [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF])
        expectRefused(huge)
    }

    func testDriverReleaseResetsTheDevice() {
        let disk = SimulatedDisk(sectors: 8)
        var (driver, _) = start(disk)
        XCTAssertNotNil(driver)
        driver = nil
        XCTAssertEqual(disk.statusLog.last, 0)
        XCTAssertTrue(disk.rings.isEmpty)
    }

    // MARK: geometry

    func testGeometryFromTheConfiguration() throws {
        let (plain, _) = start(SimulatedDisk(sectors: 100))
        XCTAssertEqual(plain?.sectorSize, 512)
        XCTAssertEqual(plain?.capacity, 51_200)
        XCTAssertEqual(plain?.isReadOnly, false)

        let (large, _) = start(SimulatedDisk(sectors: 100, features: F.blockSize | F.readOnly, blockSize: 4096))
        XCTAssertEqual(large?.sectorSize, 4096)
        XCTAssertEqual(large?.capacity, 49_152, "rounded down to whole 4 KiB sectors")
        XCTAssertEqual(large?.isReadOnly, true)

        let (unoffered, _) = start(SimulatedDisk(sectors: 100, blockSize: 4096))
        XCTAssertEqual(unoffered?.sectorSize, 512, "blk_size counts only with BLK_SIZE")

        let (odd, _) = start(SimulatedDisk(sectors: 100, features: F.blockSize, blockSize: 1000))
        XCTAssertEqual(odd?.sectorSize, 512, "a blk_size that is not a power of two is ignored")
    }

    // MARK: data

    /// Writes a pattern over the whole disk in seeded multi-sector pieces,
    /// reads it back in differently cut pieces, and checks both sides.
    func roundTrip(_ disk: SimulatedDisk, seed: UInt64, file: StaticString = #filePath, line: UInt = #line) throws {
        let block = try XCTUnwrap(start(disk).0, file: file, line: line)
        let data = pattern(Int(block.capacity), seed: seed)
        var random = SplitMix64(seed: seed)
        var offset = 0
        try data.withUnsafeBytes { bytes in
            while offset < data.count {
                let count = min(data.count - offset, (1 + random.below(64)) * block.sectorSize)
                try block.write(at: UInt64(offset), from: UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + count]))
                offset += count
            }
        }
        XCTAssertTrue(disk.disk == data, "the disk holds the pattern", file: file, line: line)
        var back = [UInt8](repeating: 0, count: data.count)
        offset = 0
        try back.withUnsafeMutableBytes { bytes in
            while offset < data.count {
                let count = min(data.count - offset, (1 + random.below(200)) * block.sectorSize)
                try block.read(at: UInt64(offset), into: UnsafeMutableRawBufferPointer(rebasing: bytes[offset..<offset + count]))
                offset += count
            }
        }
        XCTAssertTrue(back == data, "read back intact", file: file, line: line)
        XCTAssertEqual(disk.allViolations, [], file: file, line: line)
        XCTAssertEqual(block.queue.freeDescriptors, Int(block.queue.size), file: file, line: line)
        XCTAssertEqual(block.freeSlots.count, Int(block.queue.size) / 3, file: file, line: line)
        XCTAssertGreaterThanOrEqual(disk.acknowledgements, disk.waits, "every wake acknowledged", file: file, line: line)
    }

    func testWholeDiskRoundTrip() throws {
        try roundTrip(SimulatedDisk(sectors: 4096), seed: 11)
    }

    func testWholeDiskRoundTripWithEventIndexAndLargeSectors() throws {
        try roundTrip(SimulatedDisk(sectors: 4096, features: F.blockSize | VirtioFeature.ringEventIndex,
                                    blockSize: 4096), seed: 12)
    }

    func testWholeDiskRoundTripLegacy() throws {
        try roundTrip(SimulatedDisk(sectors: 2048, legacy: true, queueMax: 128), seed: 13)
    }

    func testWholeDiskRoundTripWhenTheDeviceOnlyWorksWhenWaitedFor() throws {
        let disk = SimulatedDisk(sectors: 1024)
        disk.processOnNotify = false
        try roundTrip(disk, seed: 14)
        XCTAssertGreaterThan(disk.waits, 0)
    }

    func testRequestsAreSplitBySizeMaxAndSegMax() throws {
        let disk = SimulatedDisk(sectors: 1024, features: F.sizeMax | F.segmentMax, sizeMax: 4096, segmentMax: 4)
        let block = try XCTUnwrap(start(disk).0)
        let data = pattern(65_536, seed: 3)
        try data.withUnsafeBytes { try block.write(at: 4096, from: $0) }
        XCTAssertEqual(disk.requests.map(\.bytes), [16_384, 16_384, 16_384, 16_384])
        XCTAssertEqual(disk.requests.map(\.segments), [4, 4, 4, 4])
        XCTAssertEqual(disk.requests.map(\.sector), [8, 40, 72, 104])
        XCTAssertEqual(disk.largestSegment, 4096)
        XCTAssertTrue(Array(disk.disk[4096..<4096 + 65_536]) == data)
        XCTAssertEqual(disk.allViolations, [])
    }

    func testOddSizeMaxStillGivesWholeSectorRequests() throws {
        let disk = SimulatedDisk(sectors: 1024, features: F.sizeMax | F.segmentMax, sizeMax: 1000, segmentMax: 4)
        let block = try XCTUnwrap(start(disk).0)
        let data = pattern(65_536, seed: 4)
        try data.withUnsafeBytes { try block.write(at: 0, from: $0) }
        XCTAssertTrue(disk.requests.allSatisfy { $0.bytes % 512 == 0 && $0.bytes <= 3584 && $0.segments <= 4 })
        XCTAssertEqual(disk.requests.count, 19)
        var back = [UInt8](repeating: 0, count: 65_536)
        try back.withUnsafeMutableBytes { try block.read(at: 0, into: $0) }
        XCTAssertTrue(back == data)
        XCTAssertEqual(disk.largestSegment, 1000)
        XCTAssertEqual(disk.allViolations, [])
    }

    func testRequestsFitASmallQueue() throws {
        let disk = SimulatedDisk(sectors: 1024, features: F.sizeMax, sizeMax: 512, queueMax: 8)
        let block = try XCTUnwrap(start(disk).0)
        let data = pattern(16_384, seed: 5)
        try data.withUnsafeBytes { try block.write(at: 0, from: $0) }
        XCTAssertTrue(disk.requests.allSatisfy { $0.segments <= 6 }, "8 descriptors: header, 6 data, status")
        XCTAssertEqual(disk.requests.first?.bytes, 3072)
        XCTAssertTrue(Array(disk.disk[0..<16_384]) == data)
    }

    func testFlushIsCountedOnlyWhenNegotiated() throws {
        let disk = SimulatedDisk(sectors: 8)
        let block = try XCTUnwrap(start(disk).0)
        try block.flush()
        try block.flush()
        XCTAssertEqual(disk.flushes, 2)
        XCTAssertEqual(disk.requests.map(\.type), [4, 4])

        let noFlush = SimulatedDisk(sectors: 8, features: 0)
        let plain = try XCTUnwrap(start(noFlush).0)
        try plain.flush()
        XCTAssertEqual(noFlush.requests.count, 0, "nothing to flush without a volatile cache")
    }

    func testReadOnlyDeviceRefusesWrites() throws {
        let disk = SimulatedDisk(sectors: 8, features: F.readOnly)
        disk.disk[0] = 42
        let block = try XCTUnwrap(start(disk).0)
        let data = [UInt8](repeating: 7, count: 512)
        XCTAssertThrowsError(try data.withUnsafeBytes { try block.write(at: 0, from: $0) }) {
            XCTAssertEqual($0 as? DeviceError, .readOnly)
        }
        XCTAssertEqual(disk.requests.count, 0)
        var back = [UInt8](repeating: 0, count: 512)
        try back.withUnsafeMutableBytes { try block.read(at: 0, into: $0) }
        XCTAssertEqual(back[0], 42)
    }

    func testMisalignedAndOutOfRangeRequestsAreRefused() throws {
        let disk = SimulatedDisk(sectors: 16)
        let block = try XCTUnwrap(start(disk).0)
        var buffer = [UInt8](repeating: 0, count: 2048)
        let cases: [(UInt64, Int)] = [(1, 512), (0, 100), (0, 0), (8192, 512), (7680, 1024), (UInt64.max - 511, 512)]
        for (offset, count) in cases {
            XCTAssertThrowsError(try buffer.withUnsafeMutableBytes {
                try block.read(at: offset, into: UnsafeMutableRawBufferPointer(rebasing: $0[0..<count]))
            }, "read \(offset) \(count)") { XCTAssertEqual($0 as? DeviceError, .invalidRequest) }
            XCTAssertThrowsError(try buffer.withUnsafeBytes {
                try block.write(at: offset, from: UnsafeRawBufferPointer(rebasing: $0[0..<count]))
            }, "write \(offset) \(count)") { XCTAssertEqual($0 as? DeviceError, .invalidRequest) }
        }
        XCTAssertEqual(disk.requests.count, 0)
    }

    func testDeviceErrorStatusFailsThatRequestOnly() throws {
        let disk = SimulatedDisk(sectors: 16)
        let block = try XCTUnwrap(start(disk).0)
        var buffer = [UInt8](repeating: 0, count: 1024)
        for status: UInt8 in [1, 2, 0xFF] {
            disk.forcedStatus = [status]
            XCTAssertThrowsError(try buffer.withUnsafeMutableBytes { try block.read(at: 0, into: $0) }) {
                XCTAssertEqual($0 as? DeviceError, .ioError)
            }
            try buffer.withUnsafeMutableBytes { try block.read(at: 0, into: $0) }
        }
        disk.forcedStatus = [1]
        XCTAssertThrowsError(try block.flush()) { XCTAssertEqual($0 as? DeviceError, .ioError) }
        XCTAssertEqual(block.freeSlots.count, Int(block.queue.size) / 3, "failed requests give their slots back")
    }

    func expectDead(_ block: VirtioBlock, _ disk: SimulatedDisk, file: StaticString = #filePath, line: UInt = #line) {
        var buffer = [UInt8](repeating: 0, count: 512)
        let requests = disk.requests.count
        XCTAssertThrowsError(try buffer.withUnsafeMutableBytes { try block.read(at: 0, into: $0) }, file: file, line: line) {
            XCTAssertEqual($0 as? DeviceError, .ioError, file: file, line: line)
        }
        XCTAssertThrowsError(try buffer.withUnsafeBytes { try block.write(at: 0, from: $0) }, file: file, line: line)
        XCTAssertThrowsError(try block.flush(), file: file, line: line)
        XCTAssertEqual(disk.requests.count, requests, "nothing reaches the device", file: file, line: line)
        XCTAssertEqual(disk.statusLog.last, 0, "the device was reset", file: file, line: line)
        XCTAssertTrue(block.queue.isBroken, file: file, line: line)
    }

    func testMalformedCompletionFailsTheRequestAndEveryLaterOne() throws {
        let disk = SimulatedDisk(sectors: 16)
        let (driver, harness) = start(disk)
        let block = try XCTUnwrap(driver)
        disk.holdCompletions = true
        disk.releaseWhenHeld = .max
        harness.beforeWait = { disk.complete(0, id: 500, length: 1) }
        var buffer = [UInt8](repeating: 0, count: 512)
        XCTAssertThrowsError(try buffer.withUnsafeMutableBytes { try block.read(at: 0, into: $0) }) {
            XCTAssertEqual($0 as? DeviceError, .ioError)
        }
        XCTAssertEqual(block.queue.fault, .badID)
        expectDead(block, disk)
    }

    func testCompletionNamingADescriptorInsideTheChainIsMalformed() throws {
        let disk = SimulatedDisk(sectors: 16)
        let (driver, harness) = start(disk)
        let block = try XCTUnwrap(driver)
        disk.holdCompletions = true
        disk.releaseWhenHeld = .max
        harness.beforeWait = {
            for entry in disk.held.take(.forward) { disk.complete(0, id: UInt32(entry.head) + 1, length: entry.length) }
        }
        var buffer = [UInt8](repeating: 0, count: 512)
        XCTAssertThrowsError(try buffer.withUnsafeMutableBytes { try block.read(at: 0, into: $0) })
        XCTAssertEqual(block.queue.fault, .notInFlight)
        expectDead(block, disk)
    }

    func testMoreCompletionsThanRequestsAreMalformed() throws {
        let disk = SimulatedDisk(sectors: 16)
        let (driver, harness) = start(disk)
        let block = try XCTUnwrap(driver)
        disk.holdCompletions = true
        disk.releaseWhenHeld = .max
        harness.beforeWait = {
            for entry in disk.held.take(.forward) {
                disk.complete(0, id: UInt32(entry.head), length: entry.length)
                disk.complete(0, id: UInt32(entry.head), length: entry.length)
            }
        }
        var buffer = [UInt8](repeating: 0, count: 512)
        XCTAssertThrowsError(try buffer.withUnsafeMutableBytes { try block.read(at: 0, into: $0) })
        XCTAssertEqual(block.queue.fault, .indexJump, "one request in flight, two completions")
        expectDead(block, disk)
    }

    func testOverlongCompletionIsMalformed() throws {
        let disk = SimulatedDisk(sectors: 16)
        let (driver, harness) = start(disk)
        let block = try XCTUnwrap(driver)
        disk.holdCompletions = true
        disk.releaseWhenHeld = .max
        harness.beforeWait = {
            for entry in disk.held.take(.forward) { disk.complete(0, id: UInt32(entry.head), length: 2) }
        }
        let data = [UInt8](repeating: 1, count: 512)
        XCTAssertThrowsError(try data.withUnsafeBytes { try block.write(at: 0, from: $0) })
        XCTAssertEqual(block.queue.fault, .lengthTooLarge, "a write's chain has one writable byte")
        expectDead(block, disk)
    }

    // MARK: several requests outstanding

    /// `depth` requests outstanding at once: each one's wait starts the next
    /// (another thread running while it sleeps), the device holds every
    /// completion until all are in, then releases them in `order`.
    func concurrentRequests(order: HeldCompletions.Order, depth: Int, file: StaticString = #filePath,
                            line: UInt = #line) throws {
        let disk = SimulatedDisk(sectors: 2048)
        let (driver, harness) = start(disk)
        let block = try XCTUnwrap(driver, file: file, line: line)
        // Odd requests read what is on disk, even ones write; 8 KiB apart.
        let original = pattern(disk.disk.count, seed: 21)
        disk.disk = original
        let writes = (0..<depth).map { pattern(4096, seed: 100 + UInt64($0)) }
        // Separate buffers: nested requests must not overlap an access to one array.
        let reads = (0..<depth).map { _ in UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 16) }
        defer { reads.forEach { $0.deallocate() } }
        var issued = 0
        var finished: [Int] = []
        func request(_ index: Int) throws {
            let offset = UInt64(index * 8192)
            if index % 2 == 1 {
                try block.read(at: offset, into: reads[index])
            } else {
                try writes[index].withUnsafeBytes { try block.write(at: offset, from: $0) }
            }
            finished.append(index)
        }
        disk.holdCompletions = true
        disk.releaseWhenHeld = depth
        disk.releaseOrder = order
        var failure: Error?
        harness.beforeWait = {
            guard issued < depth else { return }
            issued += 1
            do { try request(issued - 1) } catch { failure = error }
        }
        issued = 1
        try request(0)
        XCTAssertNil(failure, file: file, line: line)
        XCTAssertEqual(issued, depth, file: file, line: line)
        XCTAssertEqual(Set(finished), Set(0..<depth), file: file, line: line)
        XCTAssertEqual(disk.requests.count, depth, file: file, line: line)
        for index in 0..<depth {
            let range = index * 8192..<index * 8192 + 4096
            if index % 2 == 1 {
                XCTAssertTrue(Array(reads[index]) == Array(original[range]), "read \(index)", file: file, line: line)
            } else {
                XCTAssertTrue(Array(disk.disk[range]) == writes[index], "write \(index)", file: file, line: line)
            }
        }
        XCTAssertEqual(block.queue.freeDescriptors, Int(block.queue.size), file: file, line: line)
        XCTAssertEqual(block.freeSlots.count, Int(block.queue.size) / 3, file: file, line: line)
        XCTAssertEqual(disk.allViolations, [], file: file, line: line)
    }

    func testOutstandingRequestsCompletedInReverse() throws {
        try concurrentRequests(order: .reverse, depth: 8)
    }

    func testOutstandingRequestsCompletedInSubmissionOrder() throws {
        try concurrentRequests(order: .forward, depth: 8)
    }

    func testOutstandingRequestsCompletedInRandomOrder() throws {
        for seed in 1...5 as ClosedRange<UInt64> { try concurrentRequests(order: .random(seed), depth: 12) }
    }

    func testOutstandingRequestsUpToEverySlot() throws {
        try concurrentRequests(order: .random(99), depth: 42)
    }

    /// A request whose notification the device missed (StallWatch.swift)
    /// completes after the waiting thread notifies again.
    func testAStalledQueueIsNotifiedAgain() throws {
        let disk = SimulatedDisk(sectors: 64)
        let (driver, harness) = start(disk)
        let block = try XCTUnwrap(driver)
        disk.deafQueues = [0]
        disk.waitsSleep = true
        harness.beforeWait = { disk.deafQueues = [] }  // from now on the device would hear one
        let data = pattern(4096, seed: 3)
        try data.withUnsafeBytes { try block.write(at: 0, from: $0) }
        XCTAssertEqual(block.renotifications, 1)
        var back = [UInt8](repeating: 0, count: 4096)
        try back.withUnsafeMutableBytes { try block.read(at: 0, into: $0) }
        XCTAssertEqual(back, data)
        XCTAssertEqual(block.renotifications, 1, "a device that hears needs no repeat")
        XCTAssertEqual(disk.allViolations, [])
    }
}
