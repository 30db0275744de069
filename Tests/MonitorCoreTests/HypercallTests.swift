// Tests for HypercallDispatcher and GuestMemory: every hvt hypercall decoded
// from an argument struct built in a real guest memory buffer at the ABI's
// offsets, with a fake HypercallHost that records calls and serves canned data.

import HvtABI
import XCTest
@testable import MonitorCore

/// A HypercallHost with an in-memory disk per block device, a queue of
/// incoming frames and a list of sent frames, a fixed clock and a poll that
/// returns a configured ready set. Every call is counted.
private final class FakeHypercallHost: HypercallHost {
    struct BlockCall: Equatable {
        var write: Bool
        var device: Int
        var offset: UInt64
        var length: Int
    }

    var calls = 0
    var console: [UInt8] = []
    var consoleWrites = 0
    var clock: UInt64 = 1_700_000_000_123_456_789
    var readySet: UInt64 = 0
    var pollTimeouts: [UInt64] = []
    var disks: [Int: [UInt8]] = [:]
    var blockFails = false
    var blockCalls: [BlockCall] = []
    var incoming: [Int: [[UInt8]]] = [:]
    var sent: [(device: Int, frame: [UInt8])] = []
    var netFails = false
    var netReads: [(device: Int, bufferSize: Int)] = []

    private func fits(_ offset: UInt64, _ count: Int, _ size: Int) -> Bool {
        offset <= UInt64(size) && UInt64(count) <= UInt64(size) - offset
    }

    func consoleWrite(_ bytes: UnsafeRawBufferPointer) {
        calls += 1
        consoleWrites += 1
        console += Array(bytes)
    }

    func walltimeNanoseconds() -> UInt64 {
        calls += 1
        return clock
    }

    func poll(timeoutNanoseconds: UInt64) -> UInt64 {
        calls += 1
        pollTimeouts.append(timeoutNanoseconds)
        return readySet
    }

    func blockRead(device: Int, offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) -> Bool {
        calls += 1
        blockCalls.append(BlockCall(write: false, device: device, offset: offset, length: buffer.count))
        guard !blockFails, let disk = disks[device], fits(offset, buffer.count, disk.count) else { return false }
        let start = Int(offset)
        disk[start..<start + buffer.count].withUnsafeBytes { buffer.copyMemory(from: $0) }
        return true
    }

    func blockWrite(device: Int, offset: UInt64, from buffer: UnsafeRawBufferPointer) -> Bool {
        calls += 1
        blockCalls.append(BlockCall(write: true, device: device, offset: offset, length: buffer.count))
        guard !blockFails, var disk = disks[device], fits(offset, buffer.count, disk.count) else { return false }
        let start = Int(offset)
        disk.replaceSubrange(start..<start + buffer.count, with: Array(buffer))
        disks[device] = disk
        return true
    }

    func netWrite(device: Int, frame: UnsafeRawBufferPointer) -> Bool {
        calls += 1
        guard !netFails else { return false }
        sent.append((device, Array(frame)))
        return true
    }

    func netRead(device: Int, into buffer: UnsafeMutableRawBufferPointer) -> Int? {
        calls += 1
        netReads.append((device, buffer.count))
        guard !netFails else { return nil }
        guard var queue = incoming[device], !queue.isEmpty else { return 0 }
        let frame = queue.removeFirst()
        incoming[device] = queue
        guard frame.count <= buffer.count else { return nil }  // dropped, as the protocol says
        frame.withUnsafeBytes { buffer.copyMemory(from: $0) }
        return frame.count
    }
}

final class HypercallTests: XCTestCase {
    static let memorySize: UInt64 = 4 << 20
    static let blockCapacity: UInt64 = 64 * 512
    static let bigBlockCapacity: UInt64 = 4 * 4096

    // Handles: 0 reserved (nothing attached), 1 block (512-byte sectors),
    // 2 net (MTU 1500), 3 in the manifest but not attached, 4 block
    // (4096-byte sectors), 5 net (MTU 9000).
    static let devices: [AttachedDevice?] = [
        nil,
        .block(capacity: blockCapacity, blockSize: 512),
        .net(mtu: 1500),
        nil,
        .block(capacity: bigBlockCapacity, blockSize: 4096),
        .net(mtu: 9000),
    ]
    static let netMask: UInt64 = (1 << 2) | (1 << 5)

    /// Where the tests put argument structs and buffers.
    let arg: UInt64 = 0x20000
    let buf: UInt64 = 0x100000
    let buf2: UInt64 = 0x200000

    private var raw: UnsafeMutableRawPointer!
    private var memory: GuestMemory!
    private var dispatcher: HypercallDispatcher!
    private var host: FakeHypercallHost!

    override func setUp() {
        super.setUp()
        raw = UnsafeMutableRawPointer.allocate(byteCount: Int(Self.memorySize), alignment: 4096)
        raw.initializeMemory(as: UInt8.self, repeating: 0, count: Int(Self.memorySize))
        memory = GuestMemory(base: raw, size: Self.memorySize)
        dispatcher = HypercallDispatcher(memory: memory, devices: Self.devices)
        host = FakeHypercallHost()
        host.disks[1] = (0..<Int(Self.blockCapacity)).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) }
        host.disks[4] = (0..<Int(Self.bigBlockCapacity)).map { UInt8(truncatingIfNeeded: $0 &* 13 &+ 1) }
    }

    override func tearDown() {
        raw.deallocate()
        raw = nil
        memory = nil
        dispatcher = nil
        host = nil
        super.tearDown()
    }

    // MARK: helpers

    private func put(_ value: UInt64, _ address: UInt64, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertTrue(memory.store(value, at: address), file: file, line: line)
    }

    private func put32(_ value: Int32, _ address: UInt64, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertTrue(memory.store(value, at: address), file: file, line: line)
    }

    private func load64(_ address: UInt64) -> UInt64 { memory.load(UInt64.self, at: address)! }
    private func load32(_ address: UInt64) -> Int32 { memory.load(Int32.self, at: address)! }

    private func write(_ bytes: [UInt8], at address: UInt64) {
        let target = memory.bytes(at: address, length: UInt64(bytes.count))!
        bytes.withUnsafeBytes { target.copyMemory(from: $0) }
    }

    private func read(_ address: UInt64, _ count: Int) -> [UInt8] {
        Array(memory.bytes(at: address, length: UInt64(count))!)
    }

    private func call(_ hypercall: HvtABI.Hypercall, at address: UInt64? = nil) -> HypercallOutcome {
        dispatcher.handle(port: hypercall.port, argument: UInt32(address ?? arg), host: host)
    }

    private func pattern(_ count: Int, seed: Int) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: ($0 &* 31) ^ seed) }
    }

    /// Fills a block struct at `arg`, with `ret` set to a sentinel so a test sees it written.
    private func blockStruct(handle: UInt64, offset: UInt64, data: UInt64, length: UInt64) {
        put(handle, arg + UInt64(HvtABI.Block.handle))
        put(offset, arg + UInt64(HvtABI.Block.offset))
        put(data, arg + UInt64(HvtABI.Block.data))
        put(length, arg + UInt64(HvtABI.Block.length))
        put32(0x5A5A, arg + UInt64(HvtABI.Block.result))
    }

    private var blockResult: Int32 { load32(arg + UInt64(HvtABI.Block.result)) }

    private func netStruct(handle: UInt64, data: UInt64, length: UInt64) {
        put(handle, arg + UInt64(HvtABI.Net.handle))
        put(data, arg + UInt64(HvtABI.Net.data))
        put(length, arg + UInt64(HvtABI.Net.length))
        put32(0x5A5A, arg + UInt64(HvtABI.Net.result))
    }

    private var netResult: Int32 { load32(arg + UInt64(HvtABI.Net.result)) }
    private var netLength: UInt64 { load64(arg + UInt64(HvtABI.Net.length)) }

    private func assertFault(_ outcome: HypercallOutcome, file: StaticString = #filePath, line: UInt = #line) {
        guard case .fault(let message) = outcome else {
            return XCTFail("expected a fault, got \(outcome)", file: file, line: line)
        }
        XCTAssertFalse(message.isEmpty, file: file, line: line)
    }

    // MARK: ABI numbers

    func testPortsAndStructSizesMatchTheABI() {
        XCTAssertEqual(HvtABI.Hypercall.allCases.map(\.port), Array(0x501...0x508))
        XCTAssertEqual(HvtABI.Hypercall.allCases.map(\.argumentSize), [8, 16, 24, 40, 40, 32, 32, 16])
        XCTAssertEqual(HvtABI.Result.ok.rawValue, 0)
        XCTAssertEqual(HvtABI.Result.again.rawValue, 1)
        XCTAssertEqual(HvtABI.Result.invalid.rawValue, 2)
        XCTAssertEqual(HvtABI.Result.unspecified.rawValue, 3)
    }

    // MARK: WALLTIME

    func testWalltimeWritesTheHostClock() {
        put(0xDEAD_BEEF, arg)
        XCTAssertEqual(call(.walltime), .resume)
        XCTAssertEqual(load64(arg + UInt64(HvtABI.Walltime.nanoseconds)), host.clock)
        XCTAssertEqual(read(arg, 8), withUnsafeBytes(of: host.clock.littleEndian) { Array($0) })
        XCTAssertEqual(load64(arg + 8), 0, "nothing past the 8-byte struct is written")
        XCTAssertEqual(host.calls, 1)
    }

    // MARK: PUTS

    func testPutsPassesExactlyTheGuestBytes() {
        let text = Array("hello, hvt\n\u{0}and a NUL".utf8)
        write(text, at: buf)
        write([0xFF, 0xFF], at: buf + UInt64(text.count))  // must not be passed
        put(buf, arg + UInt64(HvtABI.Puts.data))
        put(UInt64(text.count), arg + UInt64(HvtABI.Puts.length))
        XCTAssertEqual(call(.puts), .resume)
        XCTAssertEqual(host.console, text)
        XCTAssertEqual(host.consoleWrites, 1)
    }

    func testPutsOfTheLastBytesOfMemory() {
        let text = Array("end".utf8)
        write(text, at: Self.memorySize - 3)
        put(Self.memorySize - 3, arg)
        put(3, arg + 8)
        XCTAssertEqual(call(.puts), .resume)
        XCTAssertEqual(host.console, text)
    }

    func testZeroLengthPutsIsFine() {
        put(buf, arg)
        put(0, arg + 8)
        XCTAssertEqual(call(.puts), .resume)
        XCTAssertEqual(host.console, [])
        // Zero bytes at the very end of memory are inside it too.
        put(Self.memorySize, arg)
        XCTAssertEqual(call(.puts), .resume)
        XCTAssertEqual(host.console, [])
    }

    func testPutsOutsideMemoryFaults() {
        let cases: [(data: UInt64, length: UInt64)] = [
            (Self.memorySize, 1),
            (Self.memorySize - 2, 3),
            (0, Self.memorySize + 1),
            (UInt64.max - 2, 10),          // data + length overflows
            (16, UInt64.max),              // so does this
            (UInt64.max, 0),
            (Self.memorySize + 1, 0),
            (1 << 40, 4),
        ]
        for (data, length) in cases {
            put(data, arg)
            put(length, arg + 8)
            assertFault(call(.puts))
        }
        XCTAssertEqual(host.calls, 0)
        XCTAssertEqual(host.console, [])
    }

    // MARK: POLL

    func testPollPassesTheTimeoutAndReturnsNetDevicesOnly() {
        put(1_500_000_000, arg + UInt64(HvtABI.Poll.timeoutNanoseconds))
        put(0xFFFF, arg + UInt64(HvtABI.Poll.readySet))
        put32(-7, arg + UInt64(HvtABI.Poll.result))
        host.readySet = 1 << 2
        XCTAssertEqual(call(.poll), .resume)
        XCTAssertEqual(host.pollTimeouts, [1_500_000_000])
        XCTAssertEqual(load64(arg + UInt64(HvtABI.Poll.readySet)), 1 << 2)
        XCTAssertEqual(load32(arg + UInt64(HvtABI.Poll.result)), 0)
    }

    func testPollMasksBitsOfNonNetHandles() {
        put(UInt64.max, arg)
        host.readySet = UInt64.max  // a host claiming every handle, block and unattached ones too
        XCTAssertEqual(call(.poll), .resume)
        XCTAssertEqual(host.pollTimeouts, [UInt64.max])
        XCTAssertEqual(load64(arg + 8), Self.netMask)
        XCTAssertEqual(load32(arg + 16), 0)

        host.readySet = (1 << 1) | (1 << 3) | (1 << 4) | (1 << 0) | (1 << 63)
        put(0, arg)
        XCTAssertEqual(call(.poll), .resume)
        XCTAssertEqual(host.pollTimeouts, [UInt64.max, 0])
        XCTAssertEqual(load64(arg + 8), 0)
        XCTAssertEqual(load32(arg + 16), 0)
    }

    func testPollWithoutNetDevicesReturnsAnEmptySet() {
        let noNet = HypercallDispatcher(memory: memory, devices: [nil, .block(capacity: 512, blockSize: 512)])
        host.readySet = UInt64.max
        put(10, arg)
        put(0xFFFF, arg + 8)
        XCTAssertEqual(noNet.handle(port: HvtABI.Hypercall.poll.port, argument: UInt32(arg), host: host), .resume)
        XCTAssertEqual(load64(arg + 8), 0)
        XCTAssertEqual(host.pollTimeouts, [10])
    }

    // MARK: BLOCK_WRITE / BLOCK_READ

    func testBlockWriteThenReadRoundTrips() {
        let data = pattern(3 * 512, seed: 0x5C)
        write(data, at: buf)
        blockStruct(handle: 1, offset: 2 * 512, data: buf, length: 3 * 512)
        XCTAssertEqual(call(.blockWrite), .resume)
        XCTAssertEqual(blockResult, 0)
        XCTAssertEqual(host.blockCalls, [.init(write: true, device: 1, offset: 1024, length: 1536)])
        XCTAssertEqual(Array(host.disks[1]![1024..<2560]), data)

        blockStruct(handle: 1, offset: 2 * 512, data: buf2, length: 3 * 512)
        XCTAssertEqual(call(.blockRead), .resume)
        XCTAssertEqual(blockResult, 0)
        XCTAssertEqual(read(buf2, 3 * 512), data)
        XCTAssertEqual(read(buf2 + 3 * 512, 16), Array(repeating: 0, count: 16), "no byte past the request is written")
        XCTAssertEqual(host.blockCalls.last, .init(write: false, device: 1, offset: 1024, length: 1536))
    }

    func testBlockReadServesTheDisk() {
        let disk = host.disks[1]!
        blockStruct(handle: 1, offset: 0, data: buf, length: 512)
        XCTAssertEqual(call(.blockRead), .resume)
        XCTAssertEqual(blockResult, 0)
        XCTAssertEqual(read(buf, 512), Array(disk[0..<512]))

        // The whole disk in one (multi-block) request, and the last block alone.
        blockStruct(handle: 1, offset: 0, data: buf, length: Self.blockCapacity)
        XCTAssertEqual(call(.blockRead), .resume)
        XCTAssertEqual(blockResult, 0)
        XCTAssertEqual(read(buf, Int(Self.blockCapacity)), disk)

        blockStruct(handle: 1, offset: Self.blockCapacity - 512, data: buf2, length: 512)
        XCTAssertEqual(call(.blockRead), .resume)
        XCTAssertEqual(blockResult, 0)
        XCTAssertEqual(read(buf2, 512), Array(disk[(disk.count - 512)...]))
    }

    func testBlockWithLargeSectors() {
        let data = pattern(2 * 4096, seed: 0x33)
        write(data, at: buf)
        blockStruct(handle: 4, offset: 4096, data: buf, length: 2 * 4096)
        XCTAssertEqual(call(.blockWrite), .resume)
        XCTAssertEqual(blockResult, 0)
        XCTAssertEqual(Array(host.disks[4]![4096..<3 * 4096]), data)
        XCTAssertEqual(host.blockCalls, [.init(write: true, device: 4, offset: 4096, length: 8192)])
        XCTAssertEqual(host.disks[1]!, (0..<Int(Self.blockCapacity)).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) },
                       "the other disk is untouched")

        blockStruct(handle: 4, offset: 4096, data: buf2, length: 2 * 4096)
        XCTAssertEqual(call(.blockRead), .resume)
        XCTAssertEqual(blockResult, 0)
        XCTAssertEqual(read(buf2, 2 * 4096), data)
    }

    func testBlockBufferAtTheEndOfMemory() {
        blockStruct(handle: 1, offset: 512, data: Self.memorySize - 1024, length: 1024)
        XCTAssertEqual(call(.blockRead), .resume)
        XCTAssertEqual(blockResult, 0)
        XCTAssertEqual(read(Self.memorySize - 1024, 1024), Array(host.disks[1]![512..<1536]))
    }

    func testInvalidBlockRequestsGetEINVALWithoutCallingTheHost() {
        let cap = Self.blockCapacity
        let cases: [(handle: UInt64, offset: UInt64, length: UInt64, why: String)] = [
            (1, 100, 512, "offset not a multiple of the block size"),
            (1, 511, 512, "offset not a multiple of the block size"),
            (1, 0, 100, "length not a multiple of the block size"),
            (1, 512, 513, "length not a multiple of the block size"),
            (1, 0, 0, "zero length"),
            (1, cap, 0, "zero length at the end"),
            (1, cap - 512, 1024, "past the capacity"),
            (1, cap, 512, "at the capacity"),
            (1, 0, cap + 512, "longer than the disk"),
            (1, cap + 512, 512, "beyond the capacity"),
            (1, UInt64.max - 511, 512, "offset + length overflows"),
            (1, 512, UInt64.max - 511, "offset + length overflows"),
            (1, UInt64.max - 511, UInt64.max - 511, "offset + length overflows"),
            (4, 512, 4096, "offset not a multiple of a 4096-byte sector"),
            (4, 0, 512, "length not a multiple of a 4096-byte sector"),
            (4, Self.bigBlockCapacity, 4096, "at the capacity"),
            (2, 0, 512, "a net device"),
            (5, 0, 512, "a net device"),
            (0, 0, 512, "the reserved entry"),
            (3, 0, 512, "an unattached handle"),
            (6, 0, 512, "handle == entry count"),
            (64, 0, 512, "handle past the manifest"),
            (1 << 32 | 1, 0, 512, "handle truncating to a block device"),
            (UInt64.max, 0, 512, "handle -1"),
        ]
        for call in [HvtABI.Hypercall.blockWrite, .blockRead] {
            for c in cases {
                blockStruct(handle: c.handle, offset: c.offset, data: buf, length: c.length)
                XCTAssertEqual(self.call(call), .resume, "\(call): \(c.why)")
                XCTAssertEqual(blockResult, HvtABI.Result.invalid.rawValue, "\(call): \(c.why) (\(c))")
            }
        }
        XCTAssertEqual(host.calls, 0)
        XCTAssertEqual(host.blockCalls, [])
    }

    func testBlockBufferOutsideMemoryFaults() {
        let cases: [(data: UInt64, length: UInt64)] = [
            (Self.memorySize, 512),
            (Self.memorySize - 256, 512),
            (Self.memorySize - 512, 1024),
            (UInt64.max - 511, 512),  // data + length overflows
            (UInt64.max - 255, 512),
            (1 << 32, 512),
        ]
        for call in [HvtABI.Hypercall.blockWrite, .blockRead] {
            for c in cases {
                blockStruct(handle: 1, offset: 0, data: c.data, length: c.length)
                assertFault(self.call(call))
            }
        }
        XCTAssertEqual(host.calls, 0)
    }

    func testBlockHostFailureIsEUNSPEC() {
        host.blockFails = true
        write(pattern(512, seed: 1), at: buf)
        for call in [HvtABI.Hypercall.blockWrite, .blockRead] {
            blockStruct(handle: 1, offset: 512, data: buf, length: 512)
            XCTAssertEqual(self.call(call), .resume)
            XCTAssertEqual(blockResult, HvtABI.Result.unspecified.rawValue)
        }
        XCTAssertEqual(host.blockCalls.count, 2)
    }

    // MARK: NET_WRITE / NET_READ

    func testNetWritePassesTheFrame() {
        let frame = pattern(60, seed: 0x42)
        write(frame, at: buf)
        netStruct(handle: 2, data: buf, length: 60)
        XCTAssertEqual(call(.netWrite), .resume)
        XCTAssertEqual(netResult, 0)
        XCTAssertEqual(host.sent.count, 1)
        XCTAssertEqual(host.sent.first?.device, 2)
        XCTAssertEqual(host.sent.first?.frame, frame)
    }

    func testNetWriteOfTheLargestFrames() {
        // MTU + 14 (the Ethernet header) is the largest frame.
        let big = pattern(1514, seed: 9)
        write(big, at: buf)
        netStruct(handle: 2, data: buf, length: 1514)
        XCTAssertEqual(call(.netWrite), .resume)
        XCTAssertEqual(netResult, 0)
        let jumbo = pattern(9014, seed: 10)
        write(jumbo, at: buf2)
        netStruct(handle: 5, data: buf2, length: 9014)
        XCTAssertEqual(call(.netWrite), .resume)
        XCTAssertEqual(netResult, 0)
        XCTAssertEqual(host.sent.map(\.device), [2, 5])
        XCTAssertEqual(host.sent.map(\.frame), [big, jumbo])
    }

    func testInvalidNetWritesGetEINVAL() {
        let cases: [(handle: UInt64, length: UInt64, why: String)] = [
            (2, 0, "zero length"),
            (2, 1515, "longer than MTU + 14"),
            (2, 9014, "longer than MTU + 14"),
            (2, UInt64.max, "huge length"),
            (5, 9015, "longer than MTU + 14"),
            (1, 60, "a block device"),
            (4, 60, "a block device"),
            (0, 60, "the reserved entry"),
            (3, 60, "an unattached handle"),
            (6, 60, "handle == entry count"),
            (1 << 32 | 2, 60, "handle truncating to a net device"),
            (UInt64.max, 60, "handle -1"),
        ]
        for c in cases {
            netStruct(handle: c.handle, data: buf, length: c.length)
            XCTAssertEqual(call(.netWrite), .resume, c.why)
            XCTAssertEqual(netResult, HvtABI.Result.invalid.rawValue, "\(c)")
        }
        XCTAssertEqual(host.calls, 0)
    }

    func testNetWriteHostErrorIsEUNSPEC() {
        host.netFails = true
        netStruct(handle: 2, data: buf, length: 60)
        XCTAssertEqual(call(.netWrite), .resume)
        XCTAssertEqual(netResult, HvtABI.Result.unspecified.rawValue)
        XCTAssertEqual(host.calls, 1)
    }

    func testNetReadReturnsAQueuedFrame() {
        let first = pattern(98, seed: 0x11), second = pattern(1514, seed: 0x22)
        host.incoming[2] = [first, second]
        put(0xEE, buf + 98)  // must survive the first read
        netStruct(handle: 2, data: buf, length: 1514)
        XCTAssertEqual(call(.netRead), .resume)
        XCTAssertEqual(netResult, 0)
        XCTAssertEqual(netLength, 98)
        XCTAssertEqual(read(buf, 98), first)
        XCTAssertEqual(read(buf + 98, 1), [0xEE])
        XCTAssertEqual(host.netReads.map(\.device), [2])
        XCTAssertEqual(host.netReads.map(\.bufferSize), [1514])

        netStruct(handle: 2, data: buf2, length: 2048)
        XCTAssertEqual(call(.netRead), .resume)
        XCTAssertEqual(netResult, 0)
        XCTAssertEqual(netLength, 1514)
        XCTAssertEqual(read(buf2, 1514), second)

        netStruct(handle: 2, data: buf, length: 1514)
        XCTAssertEqual(call(.netRead), .resume)
        XCTAssertEqual(netResult, HvtABI.Result.again.rawValue)
    }

    func testNetReadOfTheRightDevice() {
        host.incoming[5] = [pattern(9000, seed: 5)]
        netStruct(handle: 2, data: buf, length: 9014)
        XCTAssertEqual(call(.netRead), .resume)
        XCTAssertEqual(netResult, HvtABI.Result.again.rawValue)
        netStruct(handle: 5, data: buf, length: 9014)
        XCTAssertEqual(call(.netRead), .resume)
        XCTAssertEqual(netResult, 0)
        XCTAssertEqual(netLength, 9000)
        XCTAssertEqual(read(buf, 9000), pattern(9000, seed: 5))
        XCTAssertEqual(host.netReads.map(\.device), [2, 5])
    }

    func testNetReadWithAnEmptyQueueIsAGAIN() {
        netStruct(handle: 2, data: buf, length: 1514)
        XCTAssertEqual(call(.netRead), .resume)
        XCTAssertEqual(netResult, HvtABI.Result.again.rawValue)
        XCTAssertEqual(host.netReads.count, 1)
    }

    func testNetReadHostErrorIsEUNSPEC() {
        host.netFails = true
        host.incoming[2] = [pattern(60, seed: 0)]
        netStruct(handle: 2, data: buf, length: 1514)
        XCTAssertEqual(call(.netRead), .resume)
        XCTAssertEqual(netResult, HvtABI.Result.unspecified.rawValue)

        // A frame longer than the guest's buffer: the host drops it (nil).
        host.netFails = false
        host.incoming[2] = [pattern(200, seed: 0)]
        netStruct(handle: 2, data: buf, length: 100)
        XCTAssertEqual(call(.netRead), .resume)
        XCTAssertEqual(netResult, HvtABI.Result.unspecified.rawValue)
        XCTAssertEqual(host.netReads.map(\.bufferSize), [1514, 100])
    }

    func testNetReadOfANonNetHandleIsEINVAL() {
        host.incoming[1] = [pattern(60, seed: 0)]
        host.incoming[3] = [pattern(60, seed: 0)]
        for handle: UInt64 in [0, 1, 3, 4, 6, 63, 64, 1 << 32 | 2, UInt64.max] {
            netStruct(handle: handle, data: buf, length: 1514)
            XCTAssertEqual(call(.netRead), .resume)
            XCTAssertEqual(netResult, HvtABI.Result.invalid.rawValue, "handle \(handle)")
            XCTAssertEqual(netLength, 1514, "handle \(handle)")
        }
        XCTAssertEqual(host.calls, 0)
    }

    func testNetBufferOutsideMemoryFaults() {
        host.incoming[2] = [pattern(60, seed: 0)]
        for call in [HvtABI.Hypercall.netWrite, .netRead] {
            for (data, length): (UInt64, UInt64) in [(Self.memorySize - 59, 60), (Self.memorySize, 1),
                                                     (UInt64.max - 9, 60), (1 << 32, 60)] {
                netStruct(handle: 2, data: data, length: length)
                assertFault(self.call(call))
            }
        }
        // A read's length is the buffer size, so a huge one must fault, not be trusted.
        netStruct(handle: 2, data: buf, length: Self.memorySize)
        assertFault(call(.netRead))
        XCTAssertEqual(host.calls, 0)
    }

    // MARK: HALT

    func testHaltReturnsTheGuestStatus() {
        for status: Int32 in [0, 1, 2, 42, 255, 256, -1, -255, Int32.min, Int32.max] {
            put(0, arg + UInt64(HvtABI.Halt.cookie))
            put32(status, arg + UInt64(HvtABI.Halt.exitStatus))
            XCTAssertEqual(call(.halt), .halt(status: status))
        }
        XCTAssertEqual(host.calls, 0)
    }

    func testHaltWithACookie() {
        put(buf, arg + UInt64(HvtABI.Halt.cookie))
        put32(3, arg + UInt64(HvtABI.Halt.exitStatus))
        XCTAssertEqual(call(.halt), .halt(status: 3))
    }

    func testHaltReadsOnlyTheLow32BitsOfItsStatusField() {
        // exit_status is an i32 at offset 8; the 4 bytes after it are padding.
        put(0xFFFF_FFFF_0000_0007, arg + 8)
        XCTAssertEqual(call(.halt), .halt(status: 7))
    }

    // MARK: ports and argument addresses

    func testPortsThatAreNoHypercallFault() {
        for port: UInt16 in [0x500, 0x509, 0x50A, 0x4FF, 0x400, 0x3F8, 0, 0x600, 0xFFFF, 0x510] {
            assertFault(dispatcher.handle(port: port, argument: UInt32(arg), host: host))
        }
        XCTAssertEqual(host.calls, 0)
    }

    func testArgumentPartlyOutsideMemoryFaults() {
        for hypercall in HvtABI.Hypercall.allCases {
            let size = UInt64(hypercall.argumentSize)
            for address in [Self.memorySize - size + 1, Self.memorySize - 1, Self.memorySize,
                            Self.memorySize + 4096, UInt64(UInt32.max)] {
                assertFault(call(hypercall, at: address))
            }
        }
        XCTAssertEqual(host.calls, 0)
    }

    func testArgumentExactlyAtTheEndOfMemory() {
        let end = Self.memorySize
        XCTAssertEqual(call(.walltime, at: end - 8), .resume)
        XCTAssertEqual(load64(end - 8), host.clock)

        // Zeroed structs: PUTS of nothing, POLL with no timeout, handle 0 (EINVAL), HALT 0.
        memory.bytes(at: end - 24, length: 24)!.initializeMemory(as: UInt8.self, repeating: 0)
        XCTAssertEqual(call(.puts, at: end - 16), .resume)
        XCTAssertEqual(host.console, [])

        host.readySet = UInt64.max
        XCTAssertEqual(call(.poll, at: end - 24), .resume)
        XCTAssertEqual(load64(end - 16), Self.netMask)
        XCTAssertEqual(load32(end - 8), 0)
        XCTAssertEqual(host.pollTimeouts, [0])

        for hypercall in [HvtABI.Hypercall.blockWrite, .blockRead] {
            memory.bytes(at: end - 40, length: 40)!.initializeMemory(as: UInt8.self, repeating: 0)
            XCTAssertEqual(call(hypercall, at: end - 40), .resume)
            XCTAssertEqual(load32(end - 8), HvtABI.Result.invalid.rawValue)
        }
        for hypercall in [HvtABI.Hypercall.netWrite, .netRead] {
            memory.bytes(at: end - 32, length: 32)!.initializeMemory(as: UInt8.self, repeating: 0)
            XCTAssertEqual(call(hypercall, at: end - 32), .resume)
            XCTAssertEqual(load32(end - 8), HvtABI.Result.invalid.rawValue)
        }
        memory.bytes(at: end - 16, length: 16)!.initializeMemory(as: UInt8.self, repeating: 0)
        put32(9, end - 8)
        XCTAssertEqual(call(.halt, at: end - 16), .halt(status: 9))
    }

    func testArgumentAtAddressZero() {
        // Guest-physical 0 is unmapped in the guest but inside guest memory.
        XCTAssertEqual(call(.walltime, at: 0), .resume)
        XCTAssertEqual(load64(0), host.clock)
    }

    // MARK: GuestMemory

    func testBytesRejectsRangesOutsideMemory() {
        let size = Self.memorySize
        XCTAssertNil(memory.bytes(at: UInt64.max, length: 2))
        XCTAssertNil(memory.bytes(at: 2, length: UInt64.max))
        XCTAssertNil(memory.bytes(at: UInt64.max - 2, length: 10))
        XCTAssertNil(memory.bytes(at: size - 4, length: 5))
        XCTAssertNil(memory.bytes(at: size, length: 1))
        XCTAssertNil(memory.bytes(at: size + 1, length: 0))
        XCTAssertNil(memory.bytes(at: 0, length: size + 1))
        XCTAssertNil(memory.bytes(at: UInt64.max, length: 0))
    }

    func testBytesAcceptsRangesInsideMemory() throws {
        let size = Self.memorySize
        let empty = try XCTUnwrap(memory.bytes(at: size, length: 0))
        XCTAssertEqual(empty.count, 0)
        let all = try XCTUnwrap(memory.bytes(at: 0, length: size))
        XCTAssertEqual(all.count, Int(size))
        XCTAssertEqual(all.baseAddress, UnsafeMutableRawPointer(raw))
        let last = try XCTUnwrap(memory.bytes(at: size - 5, length: 5))
        XCTAssertEqual(last.count, 5)
        XCTAssertEqual(last.baseAddress, raw + Int(size) - 5)
    }

    func testLoadAndStoreAreLittleEndian() {
        XCTAssertTrue(memory.store(UInt32(0x1122_3344), at: 0x100))
        XCTAssertEqual(read(0x100, 4), [0x44, 0x33, 0x22, 0x11])
        XCTAssertEqual(memory.load(UInt32.self, at: 0x100), 0x1122_3344)
        XCTAssertEqual(memory.load(UInt16.self, at: 0x101), 0x2233)

        write([1, 2, 3, 4, 5, 6, 7, 8], at: 0x201)  // unaligned
        XCTAssertEqual(memory.load(UInt64.self, at: 0x201), 0x0807_0605_0403_0201)
        XCTAssertTrue(memory.store(UInt64(0xA1B2_C3D4_E5F6_0718), at: 0x301))
        XCTAssertEqual(read(0x301, 8), [0x18, 0x07, 0xF6, 0xE5, 0xD4, 0xC3, 0xB2, 0xA1])

        XCTAssertTrue(memory.store(Int32(-2), at: 0x400))
        XCTAssertEqual(read(0x400, 4), [0xFE, 0xFF, 0xFF, 0xFF])
        XCTAssertEqual(memory.load(Int32.self, at: 0x400), -2)
        XCTAssertEqual(memory.load(UInt8.self, at: 0x400), 0xFE)

        XCTAssertTrue(memory.store(UInt64.max, at: Self.memorySize - 8))
        XCTAssertEqual(memory.load(UInt64.self, at: Self.memorySize - 8), UInt64.max)
    }

    func testLoadAndStoreOutsideMemoryFail() {
        let size = Self.memorySize
        XCTAssertNil(memory.load(UInt32.self, at: size - 3))
        XCTAssertNil(memory.load(UInt8.self, at: size))
        XCTAssertNil(memory.load(UInt64.self, at: UInt64.max - 3))
        write([9, 9, 9], at: size - 3)
        XCTAssertFalse(memory.store(UInt32(0), at: size - 3))
        XCTAssertFalse(memory.store(UInt64(0), at: UInt64.max))
        XCTAssertFalse(memory.store(UInt8(0), at: size))
        XCTAssertEqual(read(size - 3, 3), [9, 9, 9], "a failed store writes nothing")
    }
}
