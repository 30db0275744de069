// Simulated virtio devices for the driver tests: a VirtioTransport (status,
// features, configuration space, queues, notifications, interrupt status)
// and on top of it a virtio-blk disk and a virtio-net NIC, each running its
// device behaviour over SimulatedRing. Deterministic: the device runs when
// notified (if `processOnNotify`) and when the driver waits (`waiter`), and
// random orders come from a seeded SplitMix64. `Harness` gives a driver its
// `wait`, with a hook that plays another thread running meanwhile.
// Limits: one thread; a driver that waits forever is stopped by breaking its
// ring after `waitLimit` fruitless waits (recorded in `violations`).
// `deafQueues` plays a device that misses notifications.

import Foundation
import Swiftlet
import TestSupport
@testable import Virtio

class SimulatedTransport: VirtioTransport {
    let isLegacy: Bool
    let event = DeviceEvent(bit: 5)
    var status: UInt8 = 0
    var statusLog: [UInt8] = []
    var deviceFeatures: UInt64
    var driverFeatures: UInt64 = 0
    var config: [UInt8]
    var queueMax: [UInt16]
    var rings: [UInt16: SimulatedRing] = [:]
    var notifications: [UInt16: Int] = [:]
    var interruptStatus: UInt8 = 0
    var interruptsRaised = 0
    var acknowledgements = 0
    var violations: [String] = []

    // Knobs.
    var processOnNotify = true
    var refuseFeaturesOK = false
    var refuseQueues = false
    var resetNeverCompletes = false
    var waitLimit = 1000
    var waits = 0
    /// Queues whose notifications the device misses (QEMU TCG's lost
    /// wake-up, StallWatch.swift): a missed notification stalls the queue -
    /// it is served no more, not even while the driver waits - until one is heard.
    var deafQueues: Set<UInt16> = []
    private(set) var stalledQueues: Set<UInt16> = []
    /// Each wait sleeps until its deadline (for drivers that time their waits).
    var waitsSleep = false
    private var fruitlessWaits = 0

    init(legacy: Bool, features: UInt64, config: [UInt8], queueMax: [UInt16]) {
        isLegacy = legacy
        deviceFeatures = features
        self.config = config + [UInt8](repeating: 0, count: 64)
        self.queueMax = queueMax
    }

    var driverOK: Bool { status & VirtioStatus.driverOK != 0 }
    func negotiated(_ feature: UInt64) -> Bool { driverFeatures & feature != 0 }

    func readStatus() -> UInt8 { resetNeverCompletes ? VirtioStatus.acknowledge : status }

    func writeStatus(_ value: UInt8) {
        statusLog.append(value)
        if value == 0 {
            status = 0
            driverFeatures = 0
            rings = [:]
            interruptStatus = 0
            return
        }
        var value = value
        if value & VirtioStatus.featuresOK != 0 && status & VirtioStatus.featuresOK == 0 {
            if isLegacy { violations.append("FEATURES_OK written to a legacy device") }
            let unknown = driverFeatures & ~deviceFeatures
            if refuseFeaturesOK || unknown != 0 || !negotiated(VirtioFeature.version1) {
                value &= ~VirtioStatus.featuresOK
            }
        }
        status = value
    }

    func readDeviceFeatures() -> UInt64 { isLegacy ? deviceFeatures & 0xFFFF_FFFF : deviceFeatures }

    func writeDriverFeatures(_ features: UInt64) {
        if status & VirtioStatus.driver == 0 { violations.append("features written before DRIVER") }
        if features & ~readDeviceFeatures() != 0 { violations.append("driver accepted features not offered") }
        driverFeatures = features
    }

    func queueMaxSize(_ index: UInt16) -> UInt16 { Int(index) < queueMax.count ? queueMax[Int(index)] : 0 }

    func activateQueue(_ index: UInt16, size: UInt16, descriptors: UInt64, driverArea: UInt64,
                       deviceArea: UInt64) -> Bool {
        guard !refuseQueues else { return false }
        let maximum = queueMaxSize(index)
        if size == 0 || size & (size - 1) != 0 || size > maximum || isLegacy && size != maximum {
            violations.append("queue \(index) size \(size), device maximum \(maximum)")
            return false
        }
        let s = UInt64(size)
        let usedOffset = (16 * s + 6 + 2 * s + 4095) & ~4095
        if isLegacy && (descriptors % 4096 != 0 || driverArea != descriptors + 16 * s
                            || deviceArea != descriptors + usedOffset) {
            violations.append("queue \(index) not in the legacy layout")
            return false
        }
        if descriptors % 16 != 0 || driverArea % 2 != 0 || deviceArea % 4 != 0 {
            violations.append("queue \(index) areas misaligned")
        }
        rings[index] = SimulatedRing(size: size, descriptors: descriptors, driverArea: driverArea, deviceArea: deviceArea,
                                     eventIndex: negotiated(VirtioFeature.ringEventIndex))
        return true
    }

    func notify(_ queue: UInt16) {
        if !driverOK { violations.append("notify before DRIVER_OK") }
        notifications[queue, default: 0] += 1
        if deafQueues.contains(queue) {
            stalledQueues.insert(queue)
            return
        }
        stalledQueues.remove(queue)
        if processOnNotify { process(queue) }
    }

    func readConfig(at offset: Int, into buffer: UnsafeMutableRawBufferPointer) {
        for i in 0..<buffer.count { buffer[i] = offset + i < config.count ? config[offset + i] : 0 }
    }

    func writeConfig(at offset: Int, from buffer: UnsafeRawBufferPointer) {
        for i in 0..<buffer.count where offset + i < config.count { config[offset + i] = buffer[i] }
    }

    func acknowledgeInterrupt() -> UInt8 {
        acknowledgements += 1
        defer { interruptStatus = 0 }
        return interruptStatus
    }

    /// The device's behaviour on queue `index` (subclasses).
    func process(_ index: UInt16) {}

    /// The device gets time: every queue is served. Subclasses add held work.
    func run() -> Bool {
        for index in rings.keys.sorted() where !stalledQueues.contains(index) { process(index) }
        return false
    }

    /// The `wait` closure drivers get: the device runs; a driver that keeps
    /// waiting with nothing left to happen has its ring broken so it stops.
    lazy var waiter: (UInt64?) -> Bool = { [unowned self] deadline in
        self.waits += 1
        if self.waitsSleep, let deadline {
            while Kernel.monotonicClock < deadline { usleep(1000) }
        }
        let before = self.rings.values.map(\.usedIndex)
        let released = self.run()
        if released || self.rings.values.map(\.usedIndex) != before {
            self.fruitlessWaits = 0
        } else {
            self.fruitlessWaits += 1
            if self.fruitlessWaits >= self.waitLimit {
                self.violations.append("driver waited \(self.waitLimit) times with nothing to wait for")
                for ring in self.rings.values { ring.advanceUsedIndex(by: 0x4000) }
            }
        }
        return true
    }

    /// Posts a used entry on queue `index` and raises the interrupt if the driver wants it.
    func complete(_ index: UInt16, id: UInt32, length: UInt32) {
        guard let ring = rings[index] else { return }
        if ring.post(id: id, length: length) { raiseInterrupt() }
    }

    func raiseInterrupt() {
        interruptStatus |= 1
        interruptsRaised += 1
    }

    var allViolations: [String] { violations + rings.keys.sorted().flatMap { rings[$0]!.violations } }
}

/// Completions a device keeps back, to release later in a chosen order.
struct HeldCompletions {
    enum Order { case forward, reverse, random(UInt64) }
    var entries: [(queue: UInt16, head: UInt16, length: UInt32)] = []

    mutating func take(_ order: Order) -> [(queue: UInt16, head: UInt16, length: UInt32)] {
        defer { entries = [] }
        switch order {
        case .forward: return entries
        case .reverse: return entries.reversed()
        case .random(let seed):
            var generator = SplitMix64(seed: seed)
            return entries.shuffled(using: &generator)
        }
    }
}

/// A device name, alive for the whole test run (RawArgument keeps a pointer).
let deviceName: RawArgument = {
    let bytes = UnsafeMutablePointer<UInt8>.allocate(capacity: 4)
    for (i, byte) in "vda\0".utf8.enumerated() { bytes[i] = byte }
    return RawArgument(cString: bytes)
}()

/// The `wait` a driver over `device` gets; `beforeWait` runs each time the
/// driver waits, before the device does (other threads' work, faults).
final class Harness<Device: SimulatedTransport> {
    let device: Device
    var beforeWait: () -> Void = {}

    init(_ device: Device) { self.device = device }

    var wait: (UInt64?) -> Bool {
        // Strong: a test may keep only the driver, whose wait must still work.
        { deadline in
            self.beforeWait()
            return self.device.waiter(deadline)
        }
    }
}

// MARK: - virtio-blk

final class SimulatedDisk: SimulatedTransport {
    enum Feature {
        static let sizeMax: UInt64 = 1 << 1
        static let segmentMax: UInt64 = 1 << 2
        static let readOnly: UInt64 = 1 << 5
        static let blockSize: UInt64 = 1 << 6
        static let flush: UInt64 = 1 << 9
    }

    var disk: [UInt8]
    var flushes = 0
    var requests: [(type: UInt32, sector: UInt64, bytes: Int, segments: Int)] = []
    var largestSegment = 0
    /// Requests whose status is forced (IOERR 1, UNSUPP 2) - one per entry.
    var forcedStatus: [UInt8] = []
    var holdCompletions = false
    var held = HeldCompletions()
    /// Order in which `run()` releases held completions (the waiter calls run).
    var releaseOrder: HeldCompletions.Order = .forward
    /// Hold completions until this many requests are outstanding.
    var releaseWhenHeld = 1

    init(sectors: Int, legacy: Bool = false, features: UInt64 = SimulatedDisk.Feature.flush, blockSize: UInt32 = 512,
         sizeMax: UInt32 = 0, segmentMax: UInt32 = 0, queueMax: UInt16 = 256) {
        disk = [UInt8](repeating: 0, count: sectors * 512)
        var config = [UInt8](repeating: 0, count: 24)
        func put<T: FixedWidthInteger>(_ value: T, _ offset: Int) {
            withUnsafeBytes(of: value.littleEndian) { for (i, b) in $0.enumerated() { config[offset + i] = b } }
        }
        put(UInt64(sectors), 0)
        put(sizeMax, 8)
        put(segmentMax, 12)
        put(blockSize, 20)
        super.init(legacy: legacy, features: features | (legacy ? 0 : VirtioFeature.version1), config: config,
                   queueMax: [queueMax])
    }

    override func process(_ index: UInt16) {
        guard driverOK, index == 0, let ring = rings[0] else { return }
        while let chain = ring.nextAvailable() {
            let (status, written) = serve(chain, ring)
            ring.scatter(chain, [status], at: chain.writableBytes - 1)
            if holdCompletions {
                held.entries.append((0, chain.head, UInt32(written)))
            } else if ring.complete(chain, length: written) {
                raiseInterrupt()
            }
        }
    }

    override func run() -> Bool {
        _ = super.run()
        guard held.entries.count >= releaseWhenHeld else { return false }
        for entry in held.take(releaseOrder) { complete(entry.queue, id: UInt32(entry.head), length: entry.length) }
        return true
    }

    /// One request: its status byte and the bytes written into the chain.
    func serve(_ chain: SimulatedRing.Chain, _ ring: SimulatedRing) -> (UInt8, Int) {
        let readable = chain.readable, writable = chain.writable
        // The driver lays requests out as legacy devices require: a header
        // descriptor, data descriptors, a status descriptor.
        guard let first = readable.first, first.length == 16, let last = writable.last, last.length == 1 else {
            violations.append("request chain without a separate header and status")
            return (1, 0)
        }
        let data = chain.segments.dropFirst().dropLast()
        let bytes = data.reduce(0) { $0 + $1.length }
        largestSegment = max(largestSegment, data.map(\.length).max() ?? 0)
        checkLimits(segments: data.count, largest: data.map(\.length).max() ?? 0)
        let header = UnsafeRawPointer(first.address)
        let type = UInt32(littleEndian: header.load(as: UInt32.self))
        let sector = UInt64(littleEndian: header.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
        requests.append((type, sector, bytes, data.count))
        if !forcedStatus.isEmpty { return (forcedStatus.removeFirst(), 1) }
        let start = Int(sector) * 512
        switch type {
        case 0, 1:
            let writing = type == 1
            guard data.allSatisfy({ $0.writable == !writing }) else {
                violations.append("data direction wrong for request type \(type)")
                return (1, 1)
            }
            guard bytes % 512 == 0, start + bytes <= disk.count else { return (1, 1) }
            if writing {
                guard !negotiated(Feature.readOnly) else { return (1, 1) }
                disk.replaceSubrange(start..<start + bytes, with: ring.gather(chain).dropFirst(16))
                return (0, 1)
            }
            ring.scatter(chain, Array(disk[start..<start + bytes]))
            return (0, bytes + 1)
        case 4:
            guard negotiated(Feature.flush) else { return (2, 1) }
            flushes += 1
            return (0, 1)
        default:
            return (2, 1)
        }
    }

    func checkLimits(segments: Int, largest: Int) {
        let sizeMax = Int(config[8]) | Int(config[9]) << 8 | Int(config[10]) << 16 | Int(config[11]) << 24
        let segmentMax = Int(config[12]) | Int(config[13]) << 8 | Int(config[14]) << 16 | Int(config[15]) << 24
        if negotiated(Feature.sizeMax) && sizeMax > 0 && largest > sizeMax {
            violations.append("segment of \(largest) bytes > size_max \(sizeMax)")
        }
        if negotiated(Feature.segmentMax) && segmentMax > 0 && segments > segmentMax {
            violations.append("\(segments) segments > seg_max \(segmentMax)")
        }
    }
}

// MARK: - virtio-net

final class SimulatedNIC: SimulatedTransport {
    enum Feature {
        static let checksum: UInt64 = 1 << 0
        static let guestChecksum: UInt64 = 1 << 1
        static let mtu: UInt64 = 1 << 3
        static let mac: UInt64 = 1 << 5
        static let hostTSO4: UInt64 = 1 << 11
        static let mergeableBuffers: UInt64 = 1 << 15
        static let status: UInt64 = 1 << 16
        static let anyLayout: UInt64 = 1 << 27
    }

    /// A received frame's virtio_net_hdr fields.
    struct Offload {
        var flags: UInt8 = 0
        var start: UInt16 = 0
        var offset: UInt16 = 0
    }

    var incoming: [([UInt8], Offload)] = []
    var transmitted: [[UInt8]] = []
    var transmitHeaders: [[UInt8]] = []
    /// Receive chains the device has taken from the ring and not yet filled.
    var receiveChains: [SimulatedRing.Chain] = []
    var droppedByDevice = 0
    var holdTransmit = false
    var held = HeldCompletions()

    init(legacy: Bool = false, features: UInt64 = Feature.mac | Feature.status | Feature.mtu,
         mac: [UInt8] = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56], linkUp: Bool = true, mtu: UInt16 = 1500,
         queueMax: UInt16 = 256) {
        var config = mac + [UInt8](repeating: 0, count: 6)
        config[6] = linkUp ? 1 : 0
        config[10] = UInt8(mtu & 0xFF)
        config[11] = UInt8(mtu >> 8)
        super.init(legacy: legacy, features: features | (legacy ? 0 : VirtioFeature.version1), config: config,
                   queueMax: [queueMax, queueMax])
    }

    var headerLength: Int { negotiated(VirtioFeature.version1) ? 12 : 10 }
    var frameLimit: Int { negotiated(Feature.mtu) ? Int(config[10]) | Int(config[11]) << 8 : 1500 }
    var separateHeader: Bool { !negotiated(VirtioFeature.version1) && !negotiated(Feature.anyLayout) }

    /// Receive buffers the driver has made available (taken or not).
    var receiveBuffersPosted: Int { receiveChains.count + (rings[0]?.waiting ?? 0) }

    /// A frame arrives from the wire.
    func deliver(_ frame: [UInt8], offload: Offload = Offload()) {
        incoming.append((frame, offload))
        process(0)
    }

    override func process(_ index: UInt16) {
        guard driverOK, let ring = rings[index] else { return }
        if index == 0 {
            while let chain = ring.nextAvailable() {
                check(receive: chain)
                receiveChains.append(chain)
            }
            while !incoming.isEmpty, !receiveChains.isEmpty {
                let (frame, offload) = incoming.removeFirst()
                let chain = receiveChains.removeFirst()
                var header = [UInt8](repeating: 0, count: headerLength)
                header[0] = offload.flags
                header[6] = UInt8(offload.start & 0xFF)
                header[7] = UInt8(offload.start >> 8)
                header[8] = UInt8(offload.offset & 0xFF)
                header[9] = UInt8(offload.offset >> 8)
                if headerLength == 12 { header[10] = 1 }  // num_buffers
                guard header.count + frame.count <= chain.writableBytes else {
                    droppedByDevice += 1
                    receiveChains.insert(chain, at: 0)
                    continue
                }
                ring.scatter(chain, header + frame)
                if ring.complete(chain, length: header.count + frame.count) { raiseInterrupt() }
            }
        } else if index == 1 {
            while let chain = ring.nextAvailable() {
                if !chain.writable.isEmpty { violations.append("writable descriptor in a transmit chain") }
                if separateHeader && chain.segments.first?.length != headerLength {
                    violations.append("transmit header not in its own descriptor")
                }
                let bytes = ring.gather(chain)
                let header = Array(bytes.prefix(headerLength)), frame = Array(bytes.dropFirst(headerLength))
                if header.count > 1 && header[1] != 0 {
                    if !negotiated(Feature.hostTSO4) || !negotiated(Feature.checksum) {
                        violations.append("segmentation without HOST_TSO4 and CSUM")
                    }
                } else if frame.count > frameLimit + 14 {
                    violations.append("a \(frame.count)-byte frame to send whole")
                }
                transmitHeaders.append(header)
                transmitted.append(frame)
                if holdTransmit {
                    held.entries.append((1, chain.head, 0))
                } else if ring.complete(chain, length: 0) {
                    raiseInterrupt()
                }
            }
        }
    }

    func check(receive chain: SimulatedRing.Chain) {
        if !chain.readable.isEmpty { violations.append("readable descriptor in a receive chain") }
        if chain.writableBytes < headerLength + frameLimit + 14 {
            violations.append("receive buffer of \(chain.writableBytes) bytes is too small")
        }
        if separateHeader && chain.segments.first?.length != headerLength {
            violations.append("receive header not in its own descriptor")
        }
    }

    /// The waiter releases held transmit completions.
    override func run() -> Bool {
        _ = super.run()
        guard !held.entries.isEmpty else { return false }
        for entry in held.take(.forward) { complete(entry.queue, id: UInt32(entry.head), length: entry.length) }
        return true
    }
}
