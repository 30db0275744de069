// VirtioNet: a virtio-net device (virtio 1.x 5.1, and legacy) as a
// NetworkDevice: receive queue 0, transmit queue 1, one frame per buffer.
// Receive buffers stay posted all the time (one allocation made at start-up,
// each buffer re-posted as soon as its frame is copied out); transmitted
// frames are copied into driver slots, so the caller's buffer is free on return.
// A queue the device stops serving is notified again (StallWatch.swift).
// With GUEST_CSUM, a frame the device hands up with a partial checksum
// (NEEDS_CSUM) or a checked one (DATA_VALID) is delivered with
// `checksumTrusted`, so the stack neither completes nor checks it.
// With CSUM and HOST_TSO4, `enableOffloads` adds two 64 KiB transmit buffers
// and the device cuts the stack's large TCP frames into segments (memory
// spent only when the stack asks, and only with 6 MiB of RAM or more).
// Limits: no GUEST_TSO4 (merged receive needs MRG_RXBUF), no control queue,
// one queue pair. A frame longer than the receiver's buffer is dropped and
// `.invalidRequest` thrown; frames too short to hold the virtio header are
// dropped silently. A malformed used ring on either queue stops the device:
// `.ioError` from then on.

import Swiftlet

public final class VirtioNet: NetworkDevice {
    public let name: RawArgument
    public let mac: MACAddress
    public let mtu: Int
    public var event: DeviceEvent { transport.event }

    /// The link state the device reports (always up without VIRTIO_NET_F_STATUS).
    public var linkUp: Bool {
        !session.has(Feature.status) || deviceConfig(transport, at: 6, as: UInt16.self) & 1 != 0
    }

    enum Feature {
        static let checksum: UInt64 = 1 << 0
        static let guestChecksum: UInt64 = 1 << 1
        static let hostTSO4: UInt64 = 1 << 11
        static let mtu: UInt64 = 1 << 3
        static let mac: UInt64 = 1 << 5
        static let status: UInt64 = 1 << 16
    }

    /// virtio_net_hdr.flags: the checksum from csum_start on is still to be
    /// computed; the checksum was checked.
    static let needsChecksum: UInt8 = 1
    static let dataValid: UInt8 = 2
    /// virtio_net_hdr.gso_type of a TCP/IPv4 frame the device segments.
    static let gsoTCPv4: UInt8 = 1
    /// Frames of many segments in flight at once (each a 64 KiB buffer), and
    /// the least RAM for them: a smaller guest keeps its memory for serving.
    static let segmentationBuffers = 2
    static let segmentationMinimumRAM = 6 << 20
    static let receiveQueueIndex: UInt16 = 0
    static let transmitQueueIndex: UInt16 = 1
    static let preferredQueueSize: UInt16 = 256
    /// Buffer memory per queue beyond which fewer buffers are posted (large MTUs).
    static let bufferBudget = 2 << 20
    /// An Ethernet header, and room for one 802.1Q tag on received frames.
    static let ethernetHeader = 14
    static let vlanTag = 4

    let session: VirtioSession
    let transport: any VirtioTransport
    let wait: (UInt64?) -> Bool
    let receiveQueue: Virtqueue
    let transmitQueue: Virtqueue
    /// virtio_net_hdr bytes: 12 with VERSION_1 (num_buffers), 10 for legacy.
    let headerLength: Int
    /// Legacy devices without ANY_LAYOUT want the header in its own descriptor.
    let separateHeader: Bool
    let descriptorsPerBuffer: UInt16
    let receiveBuffers: BufferPool
    let transmitBuffers: BufferPool
    /// Transmit slots free to fill.
    var freeTransmit: [UInt16]
    /// Buffers for frames the device segments (from `enableOffloads`), the
    /// free ones, and which transmit chain heads are theirs.
    var segmentationPool: BufferPool?
    var freeSegmentation: [UInt16] = []
    var segmentationHead: [Bool]
    /// Frames the device delivered that could not be handed up (see the header).
    private(set) var droppedFrames = 0
    /// Notifications repeated because a queue stalled with buffers published
    /// (StallWatch.swift): transmit waits that made no progress for an
    /// interval, and receive kicks after which frames were waiting at once.
    public private(set) var renotifications = 0
    var receiveWatch: StallWatch

    /// Starts the device behind `transport` (nil when it refuses or is
    /// unusable). `wait(deadline)` blocks until the device may have made
    /// progress; transmit uses it when every slot is in flight.
    public init?(transport: any VirtioTransport, name: RawArgument, wait: @escaping (UInt64?) -> Bool) {
        guard let session = VirtioSession(transport: transport, choose: { offered in
            var wanted = Feature.mac | Feature.status | Feature.guestChecksum
            // Segmentation needs checksum offload (5.1.3.1); both cost nothing until used.
            let segmentation = Feature.checksum | Feature.hostTSO4
            if offered & segmentation == segmentation { wanted |= segmentation }
            // An MTU below the Ethernet minimum (5.1.4.1) is not taken: 1500 then.
            if offered & Feature.mtu != 0 && deviceConfig(transport, at: 10, as: UInt16.self) >= 68 { wanted |= Feature.mtu }
            return wanted
        }) else { return nil }
        self.session = session
        self.transport = transport
        self.name = name
        self.wait = wait
        mtu = session.has(Feature.mtu) ? Int(deviceConfig(transport, at: 10, as: UInt16.self)) : 1500
        mac = session.has(Feature.mac) ? VirtioNet.configuredAddress(transport) : VirtioNet.localAddress()
        headerLength = session.has(VirtioFeature.version1) ? 12 : 10
        separateHeader = !session.anyLayout
        let descriptorsPerBuffer: UInt16 = separateHeader ? 2 : 1
        self.descriptorsPerBuffer = descriptorsPerBuffer
        guard let receiveQueue = session.makeQueue(VirtioNet.receiveQueueIndex, preferred: VirtioNet.preferredQueueSize,
                                                   minimum: descriptorsPerBuffer),
              let transmitQueue = session.makeQueue(VirtioNet.transmitQueueIndex, preferred: VirtioNet.preferredQueueSize,
                                                    minimum: descriptorsPerBuffer),
              let receive = BufferPool(session, queue: receiveQueue, header: headerLength, descriptors: descriptorsPerBuffer,
                                       frame: mtu + VirtioNet.ethernetHeader + VirtioNet.vlanTag),
              let transmit = BufferPool(session, queue: transmitQueue, header: headerLength, descriptors: descriptorsPerBuffer,
                                        frame: mtu + VirtioNet.ethernetHeader)
        else {
            session.fail()
            return nil
        }
        self.receiveQueue = receiveQueue
        self.transmitQueue = transmitQueue
        self.receiveBuffers = receive
        self.transmitBuffers = transmit
        freeTransmit = (0..<transmit.count).reversed().map { UInt16($0) }
        segmentationHead = Array(repeating: false, count: Int(transmitQueue.size))
        receiveWatch = StallWatch(now: Kernel.monotonicClock)
        // Transmit completions are collected when convenient; interrupts for
        // them are wanted only while a sender waits for a slot.
        transmitQueue.disableInterrupts()
        for buffer in 0..<receive.count where (try? post(UInt16(buffer))) == nil {
            session.fail()
            return nil
        }
        session.start()
        if receiveQueue.publish() { transport.notify(VirtioNet.receiveQueueIndex) }
    }

    static func configuredAddress(_ transport: any VirtioTransport) -> MACAddress {
        var b: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) = (0, 0, 0, 0, 0, 0)
        withUnsafeMutableBytes(of: &b) { transport.readConfig(at: 0, into: $0) }
        return MACAddress(b.0, b.1, b.2, b.3, b.4, b.5)
    }

    /// A random unicast, locally administered address, for devices that offer none.
    static func localAddress() -> MACAddress {
        var random = SystemRandomNumberGenerator()
        let bits = random.next()
        func byte(_ index: UInt64) -> UInt8 { UInt8(truncatingIfNeeded: bits >> (8 * index)) }
        return MACAddress(byte(0) & 0xFC | 0x02, byte(1), byte(2), byte(3), byte(4), byte(5))
    }

    var isBroken: Bool { receiveQueue.isBroken || transmitQueue.isBroken }

    /// Returns receive buffer `buffer` to the device (not yet published).
    func post(_ buffer: UInt16) throws(DeviceError) {
        guard let head = try receiveBuffers.add(buffer, frameLength: receiveBuffers.frameCapacity, writable: true,
                                         separateHeader: separateHeader) else {
            // Each buffer owns its descriptors: a free buffer always finds them.
            throw .ioError
        }
        receiveBuffers.owner[Int(head)] = buffer
    }

    /// The next received frame copied into `buffer`; nil when none is
    /// waiting (then wait for `event`). A frame longer than `buffer` is
    /// dropped and throws `.invalidRequest`.
    public func receive(into buffer: UnsafeMutableRawBufferPointer) throws(DeviceError) -> ReceivedFrame? {
        guard let destination = buffer.baseAddress else { throw .invalidRequest }
        if isBroken { throw .ioError }
        _ = transport.acknowledgeInterrupt()
        var kicked = false
        while true {
            guard let completion = try next(receiveQueue) else {
                if receiveQueue.enableInterrupts() { continue }
                // Quiet for an interval: the device may be out of buffers and have
                // missed our notification (StallWatch.swift).
                guard !kicked, receiveWatch.stalled(now: Kernel.monotonicClock) else { return nil }
                kicked = true
                transport.notify(VirtioNet.receiveQueueIndex)
                if receiveQueue.hasUsed { renotifications += 1 }
                continue
            }
            receiveWatch.progressed(now: Kernel.monotonicClock)
            let index = receiveBuffers.owner[Int(completion.head)]
            let header = receiveBuffers.buffer(index)
            let length = Int(completion.length) - headerLength
            let usable = length > 0
            let fits = length <= buffer.count
            let trusted = session.has(Feature.guestChecksum)
                && header.load(as: UInt8.self) & (VirtioNet.needsChecksum | VirtioNet.dataValid) != 0
            if usable && fits { destination.copyMemory(from: header + headerLength, byteCount: length) }
            try post(index)
            if receiveQueue.publish() { transport.notify(VirtioNet.receiveQueueIndex) }
            if !usable || !fits { droppedFrames += 1 }
            if !usable { continue }
            if !fits { throw .invalidRequest }
            return ReceivedFrame(length: length, checksumTrusted: trusted)
        }
    }

    /// With CSUM and HOST_TSO4 offered: TCP segmentation, once its buffers
    /// are allocated (none in a guest below `segmentationMinimumRAM`).
    public func enableOffloads() -> NetworkOffloads {
        guard session.has(Feature.hostTSO4), Kernel.memory.ram >= VirtioNet.segmentationMinimumRAM else {
            return NetworkOffloads()
        }
        if segmentationPool == nil {
            guard let pool = BufferPool(session, queue: transmitQueue, header: headerLength,
                                        descriptors: descriptorsPerBuffer, frame: NetworkOffloads.largestFrame,
                                        count: VirtioNet.segmentationBuffers) else { return NetworkOffloads() }
            segmentationPool = pool
            freeSegmentation = (0..<pool.count).reversed().map { UInt16($0) }
        }
        return NetworkOffloads(tcpSegmentation: NetworkOffloads.largestFrame)
    }

    /// Sends `frame` (an Ethernet frame of at most mtu + 14 bytes; with
    /// `segmentSize`, an IPv4 TCP frame of many segments) from a copy; waits
    /// for a free transmit buffer when all are in flight.
    public func transmit(_ frame: UnsafeRawBufferPointer, segmentSize: Int) throws(DeviceError) {
        guard frame.baseAddress != nil, frame.count > 0 else { throw .invalidRequest }
        if isBroken { throw .ioError }
        guard segmentSize > 0 else {
            guard frame.count <= transmitBuffers.frameCapacity else { throw .invalidRequest }
            let slot = try takeSlot { $0.freeTransmit.isEmpty ? nil : $0.freeTransmit.removeLast() }
            try send(frame, in: transmitBuffers, slot: slot)
            return
        }
        guard let pool = segmentationPool, frame.count <= pool.frameCapacity, segmentSize <= Int(UInt16.max),
              let headers = NetworkOffloads.tcpHeaders(of: frame) else { throw .invalidRequest }
        let slot = try takeSlot { $0.freeSegmentation.isEmpty ? nil : $0.freeSegmentation.removeLast() }
        try send(frame, in: pool, slot: slot, segmentation: (size: segmentSize, start: headers.start, headerEnd: headers.end))
    }

    /// Waits until `take` finds a free buffer and the ring has descriptors for it.
    func takeSlot(_ take: (VirtioNet) -> UInt16?) throws(DeviceError) -> UInt16 {
        var slot: UInt16?
        _ = try awaitTransmit(until: nil) {
            if transmitQueue.freeDescriptors < Int(descriptorsPerBuffer) { return false }
            slot = take(self)
            return slot != nil
        }
        return slot!
    }

    /// Copies `frame` into buffer `slot` of `pool` behind its header - with
    /// `segmentation`, one asking the device to cut the frame into TCP
    /// segments and complete their checksums - and hands it to the device.
    func send(_ frame: UnsafeRawBufferPointer, in pool: BufferPool, slot: UInt16,
              segmentation: (size: Int, start: Int, headerEnd: Int)? = nil) throws(DeviceError) {
        let header = pool.buffer(slot)
        header.initializeMemory(as: UInt8.self, repeating: 0, count: headerLength)
        if let segmentation {
            header.storeBytes(of: VirtioNet.needsChecksum, as: UInt8.self)
            header.storeBytes(of: VirtioNet.gsoTCPv4, toByteOffset: 1, as: UInt8.self)
            func field(_ offset: Int, _ value: Int) {
                header.storeBytes(of: UInt16(truncatingIfNeeded: value).littleEndian, toByteOffset: offset, as: UInt16.self)
            }
            field(2, segmentation.headerEnd)  // hdr_len
            field(4, segmentation.size)       // gso_size
            field(6, segmentation.start)      // csum_start: the TCP header
            field(8, 16)                      // csum_offset: TCP's checksum field
        }
        (header + headerLength).copyMemory(from: frame.baseAddress!, byteCount: frame.count)
        guard let head = try pool.add(slot, frameLength: frame.count, writable: false,
                                      separateHeader: separateHeader) else { throw .ioError }
        pool.owner[Int(head)] = slot
        segmentationHead[Int(head)] = segmentation != nil
        if transmitQueue.publish() { transport.notify(VirtioNet.transmitQueueIndex) }
    }

    /// Waits (at most a second) until the device has taken every frame
    /// handed to `transmit`: a unikernel that exits right after sending
    /// would otherwise end before the host has read the last frames.
    public func flush() throws(DeviceError) {
        let deadline = Kernel.monotonicClock &+ 1_000_000_000
        _ = try awaitTransmit(until: deadline) { transmitQueue.chainsInFlight == 0 }
    }

    /// Takes back transmitted slots until `done()` holds (true), sleeping on
    /// the device's event in between; false when `deadline` passed first.
    /// A device that makes no progress for an interval is notified again (StallWatch.swift).
    func awaitTransmit(until deadline: UInt64?, _ done: () -> Bool) throws(DeviceError) -> Bool {
        var watch = StallWatch(now: Kernel.monotonicClock)
        while true {
            if isBroken { throw .ioError }
            _ = transport.acknowledgeInterrupt()
            while let completion = try next(transmitQueue) {
                let head = Int(completion.head)
                if segmentationHead[head], let pool = segmentationPool {
                    segmentationHead[head] = false
                    freeSegmentation.append(pool.owner[head])
                } else {
                    freeTransmit.append(transmitBuffers.owner[head])
                }
                watch.progressed(now: Kernel.monotonicClock)
            }
            if done() {
                transmitQueue.disableInterrupts()
                return true
            }
            if transmitQueue.enableInterrupts() { continue }
            let now = Kernel.monotonicClock
            if let deadline, now >= deadline {
                transmitQueue.disableInterrupts()
                return false
            }
            if watch.stalled(now: now) {
                transport.notify(VirtioNet.transmitQueueIndex)
                renotifications += 1
                continue
            }
            _ = wait(watch.wakeUp(before: deadline))
        }
    }

    /// `queue.nextUsed()`, stopping the device when its used ring is malformed.
    func next(_ queue: Virtqueue) throws(DeviceError) -> VirtqueueCompletion? {
        do {
            return try queue.nextUsed()
        } catch {
            session.halt()
            throw error
        }
    }
}

/// Buffers of one net queue, each a virtio_net_hdr followed by room for a
/// frame, carved from one allocation; `owner` maps a chain head to its buffer.
final class BufferPool {
    let queue: Virtqueue
    let memory: UnsafeMutableRawPointer
    let header: Int
    let frameCapacity: Int
    let stride: Int
    let count: Int
    var owner: [UInt16]
    /// The chain being added (two segments at most), reused for every add.
    let segments: UnsafeMutableBufferPointer<VirtqueueSegment>

    /// `count` buffers, or as many as the queue and the memory budget allow.
    init?(_ session: VirtioSession, queue: Virtqueue, header: Int, descriptors: UInt16, frame: Int, count: Int? = nil) {
        self.queue = queue
        self.header = header
        frameCapacity = frame
        stride = (header + frame + 63) & ~63
        self.count = count ?? min(Int(queue.size / descriptors), max(8, VirtioNet.bufferBudget / stride))
        guard let memory = session.allocate(bytes: self.count * stride, alignment: 64) else { return nil }
        self.memory = memory
        owner = Array(repeating: 0, count: Int(queue.size))
        segments = .allocate(capacity: 2)
    }

    deinit { segments.deallocate() }

    /// Buffer `index`: its header; the frame follows it.
    func buffer(_ index: UInt16) -> UnsafeMutableRawPointer { memory + Int(index) * stride }

    /// Adds buffer `index` (header and `frameLength` bytes) as one chain.
    func add(_ index: UInt16, frameLength: Int, writable: Bool, separateHeader: Bool) throws(DeviceError) -> UInt16? {
        let start = physical(buffer(index))
        if separateHeader {
            segments[0] = VirtqueueSegment(address: start, length: UInt32(header), deviceWritable: writable)
            segments[1] = VirtqueueSegment(address: start + UInt64(header), length: UInt32(frameLength),
                                           deviceWritable: writable)
        } else {
            segments[0] = VirtqueueSegment(address: start, length: UInt32(header + frameLength), deviceWritable: writable)
        }
        return try queue.add(UnsafeBufferPointer(rebasing: segments[0..<(separateHeader ? 2 : 1)]))
    }
}
