// VirtioBlock: a virtio-blk device (virtio 1.x 5.2, and legacy) as a
// BlockDevice. Data moves straight between the caller's buffer and the
// device (the buffer's address is its guest-physical one); only the 16-byte
// request headers and status bytes live in driver memory, in slots allocated
// once at start-up. Requests larger than the device takes (size_max,
// seg_max, queue size) are split and issued one after another.
// Several cooperative threads may have requests outstanding: each waits for
// its own chain, and whoever drains the used ring records the others'
// completions (their owners are woken by the same device event).
// Limits: read, write and flush only (no discard, write-zeroes, get-id); no
// deadlines; a malformed used ring or a failed request stops the device for
// good (every later request throws `.ioError`).

import Swiftlet
import _Volatile

public final class VirtioBlock: BlockDevice {
    public let name: RawArgument
    public let sectorSize: Int
    public let capacity: UInt64
    public let isReadOnly: Bool

    enum Feature {
        static let sizeMax: UInt64 = 1 << 1
        static let segmentMax: UInt64 = 1 << 2
        static let readOnly: UInt64 = 1 << 5
        static let blockSize: UInt64 = 1 << 6
        static let flush: UInt64 = 1 << 9
    }

    enum Request {
        static let read: UInt32 = 0
        static let write: UInt32 = 1
        static let flush: UInt32 = 4
        static let statusOK: UInt8 = 0
        /// Written before submission: a device that never writes the status fails the request.
        static let statusUnset: UInt8 = 0xFF
    }

    /// Queue size asked of modern devices.
    static let preferredQueueSize: UInt16 = 128
    /// Data bytes per request (and per descriptor without SIZE_MAX): large
    /// enough to cost few round trips, small enough that a used length
    /// (u32) and one request's latency stay modest.
    static let maximumRequest = 1 << 22
    /// A slot: the 16-byte header, then the status byte.
    static let slotBytes = 32

    let session: VirtioSession
    let transport: any VirtioTransport
    let queue: Virtqueue
    let wait: (UInt64?) -> Bool
    let canFlush: Bool
    /// Bytes one descriptor may carry, and data bytes one request may carry.
    let segmentLimit: Int
    let requestLimit: Int
    /// Request slots, and the chain being built (reused: building never waits).
    let slots: UnsafeMutableRawPointer
    var freeSlots: [UInt16]
    var slotDone: [Bool]
    var slotOfHead: [UInt16]
    let segments: UnsafeMutableBufferPointer<VirtqueueSegment>
    /// Notifications repeated because the queue stalled (StallWatch.swift).
    public private(set) var renotifications = 0
    var watch = StallWatch(now: 0)

    /// Starts the device behind `transport` (nil when it refuses or is
    /// unusable). `wait(deadline)` blocks until the device may have made
    /// progress (its interrupt event); a false return is a timeout.
    public init?(transport: any VirtioTransport, name: RawArgument, wait: @escaping (UInt64?) -> Bool) {
        let wanted = Feature.sizeMax | Feature.segmentMax | Feature.readOnly | Feature.blockSize | Feature.flush
        guard let session = VirtioSession(transport: transport, choose: { _ in wanted }) else { return nil }
        self.session = session
        self.transport = transport
        self.name = name
        self.wait = wait
        canFlush = session.has(Feature.flush)
        isReadOnly = session.has(Feature.readOnly)
        var sectorSize = 512
        if session.has(Feature.blockSize) {
            let size = Int(deviceConfig(transport, at: 20, as: UInt32.self))
            if size >= 512 && size <= 1 << 16 && size & (size - 1) == 0 { sectorSize = size }
        }
        self.sectorSize = sectorSize
        let (bytes, overflow) = deviceConfig(transport, at: 0, as: UInt64.self).multipliedReportingOverflow(by: 512)
        capacity = overflow ? 0 : bytes - bytes % UInt64(sectorSize)

        var segmentLimit = VirtioBlock.maximumRequest
        if session.has(Feature.sizeMax) {
            let limit = Int(deviceConfig(transport, at: 8, as: UInt32.self))
            if limit > 0 { segmentLimit = min(segmentLimit, limit) }
        }
        self.segmentLimit = segmentLimit
        guard !overflow, let queue = session.makeQueue(0, preferred: VirtioBlock.preferredQueueSize, minimum: 4) else {
            session.fail()
            return nil
        }
        self.queue = queue
        // A request is a header, its data segments and a status byte.
        var dataSegments = Int(queue.size) - 2
        if session.has(Feature.segmentMax) {
            let limit = Int(deviceConfig(transport, at: 12, as: UInt32.self))
            if limit > 0 { dataSegments = min(dataSegments, limit) }
        }
        let limit = min(segmentLimit * dataSegments, VirtioBlock.maximumRequest)
        requestLimit = limit - limit % sectorSize
        let slotCount = Int(queue.size) / 3
        guard requestLimit > 0,
              let slots = session.allocate(bytes: slotCount * VirtioBlock.slotBytes, alignment: 64) else {
            session.fail()
            return nil
        }
        self.slots = slots
        freeSlots = (0..<slotCount).reversed().map { UInt16($0) }
        slotDone = Array(repeating: false, count: slotCount)
        slotOfHead = Array(repeating: 0, count: Int(queue.size))
        segments = .allocate(capacity: dataSegments + 2)
        session.start()
    }

    deinit { segments.deallocate() }

    public func read(at offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws(DeviceError) {
        try validate(offset: offset, length: buffer.count, writing: false)
        try transfer(Request.read, at: offset, buffer.baseAddress!, count: buffer.count)
    }

    public func write(at offset: UInt64, from buffer: UnsafeRawBufferPointer) throws(DeviceError) {
        try validate(offset: offset, length: buffer.count, writing: true)
        try transfer(Request.write, at: offset, UnsafeMutableRawPointer(mutating: buffer.baseAddress!), count: buffer.count)
    }

    /// A no-op success when the device has no FLUSH (it then has no volatile cache to flush).
    public func flush() throws(DeviceError) {
        if canFlush { try perform(Request.flush, sector: 0, data: nil, count: 0) }
    }

    func transfer(_ type: UInt32, at offset: UInt64, _ data: UnsafeMutableRawPointer, count: Int) throws(DeviceError) {
        var done = 0
        while done < count {
            let chunk = min(count - done, requestLimit)
            try perform(type, sector: (offset + UInt64(done)) / 512, data: data + done, count: chunk)
            done += chunk
        }
    }

    /// One request, from submission to its status.
    func perform(_ type: UInt32, sector: UInt64, data: UnsafeMutableRawPointer?, count: Int) throws(DeviceError) {
        let slot = try takeSlot()
        let header = slots + slot * VirtioBlock.slotBytes
        header.storeBytes(of: type.littleEndian, as: UInt32.self)
        header.storeBytes(of: 0, toByteOffset: 4, as: UInt32.self)
        header.storeBytes(of: sector.littleEndian, toByteOffset: 8, as: UInt64.self)
        header.storeBytes(of: Request.statusUnset, toByteOffset: 16, as: UInt8.self)

        var head: UInt16
        while true {
            if let id = try submit(type, header: header, data: data, count: count) {
                head = id
                break
            }
            try awaitProgress()
        }
        slotOfHead[Int(head)] = UInt16(slot)
        // The first request out starts the stall watch; later ones leave it running.
        if queue.chainsInFlight == 1 { watch.progressed(now: Kernel.monotonicClock) }
        if queue.publish() { transport.notify(0) }
        while !slotDone[slot] { try awaitProgress() }

        let status = VolatileMappedRegister<UInt8>(unsafeBitPattern: UInt(bitPattern: header + 16)).load()
        freeSlots.append(UInt16(slot))
        if status != Request.statusOK { throw .ioError }
    }

    /// Adds the request's chain: header, data in pieces of at most
    /// `segmentLimit` bytes, status. nil when descriptors are short.
    func submit(_ type: UInt32, header: UnsafeMutableRawPointer, data: UnsafeMutableRawPointer?,
                count: Int) throws(DeviceError) -> UInt16? {
        // `segments` is shared: it is filled and consumed with no wait in between.
        var used = 0
        func append(_ address: UnsafeRawPointer, _ length: Int, writable: Bool) {
            segments[used] = VirtqueueSegment(address: physical(address), length: UInt32(length), deviceWritable: writable)
            used += 1
        }
        append(header, 16, writable: false)
        if let data {
            var offset = 0
            while offset < count {
                let length = min(count - offset, segmentLimit)
                append(data + offset, length, writable: type == Request.read)
                offset += length
            }
        }
        append(header + 16, 1, writable: true)
        return try queue.add(UnsafeBufferPointer(rebasing: segments[0..<used]))
    }

    func takeSlot() throws(DeviceError) -> Int {
        while true {
            if queue.isBroken { throw .ioError }
            if let slot = freeSlots.popLast() {
                slotDone[Int(slot)] = false
                return Int(slot)
            }
            try awaitProgress()
        }
    }

    /// Takes what the device has finished, or sleeps until it may have
    /// finished something. The interrupt is acknowledged before the ring is
    /// read, so a completion that lands after the read raises a new one.
    /// A device that finishes nothing for an interval while requests are
    /// out is notified again (StallWatch.swift).
    func awaitProgress() throws(DeviceError) {
        _ = transport.acknowledgeInterrupt()
        var progressed = false
        do {
            while let completion = try queue.nextUsed() {
                slotDone[Int(slotOfHead[Int(completion.head)])] = true
                progressed = true
            }
        } catch {
            session.halt()
            throw error
        }
        let now = Kernel.monotonicClock
        if progressed { watch.progressed(now: now) }
        if progressed || queue.enableInterrupts() { return }
        if watch.stalled(now: now) {
            transport.notify(0)
            renotifications += 1
            return
        }
        _ = wait(watch.wakeUp(before: nil))
    }
}
