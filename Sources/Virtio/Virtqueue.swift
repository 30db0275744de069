// Virtqueue: the driver side of a virtio 1.x split virtqueue (spec 2.7), sans-IO.
// It owns no memory and does no I/O: the caller gives it a zeroable block laid
// out as legacy virtio requires (so every transport can use it), hands the
// three area addresses to the transport, and notifies the device when
// `publish()` says so.
//
// The device is not trusted: everything it writes (the used ring) is checked
// against the driver's own shadow state before anything is freed, and the
// first inconsistency breaks the queue for good (a driver then fails its
// requests instead of handing memory around twice). The descriptor table and
// the avail ring are only ever written, never read back.
// Limits: no indirect descriptors, no packed rings; little-endian hosts only
// (virtio 1.x is little-endian; legacy is guest-native - both x86_64 here).
// Not thread-safe: callers are cooperative threads that never wait inside a call.

import Swiftlet
import Synchronization
import _Volatile

/// One buffer of a descriptor chain: guest-physical address and length.
public struct VirtqueueSegment {
    public var address: UInt64
    public var length: UInt32
    /// Device-writable (VIRTQ_DESC_F_WRITE); a chain lists its readable segments first.
    public var isDeviceWritable: Bool

    public init(address: UInt64, length: UInt32, deviceWritable: Bool) {
        self.address = address
        self.length = length
        self.isDeviceWritable = deviceWritable
    }
}

/// A chain the device has finished with: its head id and the bytes it wrote.
public struct VirtqueueCompletion: Equatable {
    public var head: UInt16
    public var length: UInt32
}

/// Why the used ring was found malformed (the queue is broken from then on).
public enum VirtqueueFault: Equatable {
    /// A used id outside the descriptor table.
    case badID
    /// A used id that is not the head of a chain the device was given
    /// (free, inside a chain, not yet published, or already completed).
    case notInFlight
    /// A used length larger than the chain's device-writable bytes.
    case lengthTooLarge
    /// The used index moved by more than the number of chains in flight.
    case indexJump
}

public final class Virtqueue {
    /// The used ring's alignment in the legacy layout (virtio 0.9.5 / 1.x 2.7.2).
    public static let legacyAlignment = 4096

    /// Bytes of the block a queue of `size` entries needs (4096-aligned block).
    public static func byteCount(size: Int) -> Int {
        usedOffset(size: size) + 6 + 8 * size
    }

    static func availOffset(size: Int) -> Int { 16 * size }

    static func usedOffset(size: Int) -> Int {
        let end = availOffset(size: size) + 6 + 2 * size
        return (end + legacyAlignment - 1) & ~(legacyAlignment - 1)
    }

    // Ring flags (2.7.6, 2.7.8) and descriptor flags (2.7.5).
    static let descriptorNext: UInt16 = 1
    static let descriptorWrite: UInt16 = 2
    static let availNoInterrupt: UInt16 = 1
    static let usedNoNotify: UInt16 = 1

    /// Entries of each ring (and descriptors in the table).
    public let size: UInt16
    /// VIRTIO_F_EVENT_IDX was negotiated: used_event/avail_event replace the flags.
    public let eventIndex: Bool
    let base: UInt
    let avail: UInt
    let used: UInt

    // Shadow state, never read from shared memory.
    /// Free list and chain links (a chain is taken whole off the free list's front).
    var next: [UInt16]
    var freeHead: UInt16 = 0
    /// Descriptors `add` may still use.
    public private(set) var freeDescriptors: Int
    /// Per head: 0 not a head, otherwise the chain's descriptor count.
    var chainLength: [UInt16]
    /// Per head: the device-writable bytes of its chain (bounds the used length).
    var writableBytes: [UInt64]
    /// Per head: published to the device and not yet completed.
    var available: [Bool]
    /// Heads added since the last publish, in order.
    var pending: [UInt16]
    /// The avail index last published, and the next used index to consume.
    var availIndex: UInt16 = 0
    var lastUsed: UInt16 = 0
    /// Chains added and not yet completed (pending ones included).
    public private(set) var chainsInFlight = 0
    /// The first inconsistency found in the used ring; nil while the queue is sound.
    public private(set) var fault: VirtqueueFault?

    /// A queue over `memory` (`byteCount(size:)` bytes, 4096-aligned; zeroed
    /// here). `size`: a power of two, 1...32768.
    public init(memory: UnsafeMutableRawPointer, size: UInt16, eventIndex: Bool) {
        precondition(size > 0 && size <= 32768 && size & (size &- 1) == 0, "virtqueue size must be a power of two")
        precondition(UInt(bitPattern: memory) % UInt(Virtqueue.legacyAlignment) == 0, "virtqueue memory must be 4096-aligned")
        let count = Int(size)
        memory.initializeMemory(as: UInt8.self, repeating: 0, count: Virtqueue.byteCount(size: count))
        self.size = size
        self.eventIndex = eventIndex
        base = UInt(bitPattern: memory)
        avail = base + UInt(Virtqueue.availOffset(size: count))
        used = base + UInt(Virtqueue.usedOffset(size: count))
        next = (0..<count).map { UInt16(truncatingIfNeeded: $0 + 1) }
        freeDescriptors = count
        chainLength = Array(repeating: 0, count: count)
        writableBytes = Array(repeating: 0, count: count)
        available = Array(repeating: false, count: count)
        pending = []
        pending.reserveCapacity(count)
    }

    /// Guest-physical addresses of the three areas, for `VirtioTransport.activateQueue`.
    public var descriptorArea: UInt64 { UInt64(base) }
    public var driverArea: UInt64 { UInt64(avail) }
    public var deviceArea: UInt64 { UInt64(used) }

    /// The device broke the ring: every later call fails (`fault` says how).
    public var isBroken: Bool { fault != nil }

    /// Puts a chain (readable segments, then writable ones) into the descriptor
    /// table: its head id, or nil when too few descriptors are free (normal:
    /// wait for completions). The device sees it after `publish()`.
    /// Throws `.ioError` once the queue is broken.
    public func add(_ segments: UnsafeBufferPointer<VirtqueueSegment>) throws(DeviceError) -> UInt16? {
        if fault != nil { throw .ioError }
        precondition(!segments.isEmpty, "empty descriptor chain")
        guard segments.count <= freeDescriptors else { return nil }
        let head = freeHead
        var id = head
        var writable: UInt64 = 0
        var seenWritable = false
        for (position, segment) in segments.enumerated() {
            precondition(segment.isDeviceWritable || !seenWritable,
                         "device-readable segments must come before device-writable ones")
            let last = position == segments.count - 1
            var flags: UInt16 = last ? 0 : Virtqueue.descriptorNext
            if segment.isDeviceWritable {
                seenWritable = true
                flags |= Virtqueue.descriptorWrite
                writable &+= UInt64(segment.length)
            }
            let descriptor = UnsafeMutableRawPointer(bitPattern: base + UInt(id) * 16)!
            descriptor.storeBytes(of: segment.address, as: UInt64.self)
            descriptor.storeBytes(of: segment.length, toByteOffset: 8, as: UInt32.self)
            descriptor.storeBytes(of: flags, toByteOffset: 12, as: UInt16.self)
            descriptor.storeBytes(of: last ? 0 : next[Int(id)], toByteOffset: 14, as: UInt16.self)
            if !last { id = next[Int(id)] }
        }
        freeHead = next[Int(id)]
        freeDescriptors -= segments.count
        chainLength[Int(head)] = UInt16(segments.count)
        writableBytes[Int(head)] = writable
        pending.append(head)
        chainsInFlight += 1
        return head
    }

    /// Makes the chains added since the last call available to the device;
    /// true when the device must be notified (`VirtioTransport.notify`).
    public func publish() -> Bool {
        guard !pending.isEmpty, fault == nil else { return false }
        let old = availIndex
        var index = old
        for head in pending {
            let slot = avail + 4 + UInt(index & (size &- 1)) * 2
            UnsafeMutableRawPointer(bitPattern: slot)!.storeBytes(of: head, as: UInt16.self)
            available[Int(head)] = true
            index &+= 1
        }
        pending.removeAll(keepingCapacity: true)
        // Descriptors and ring entries must be visible before the index...
        atomicMemoryFence(ordering: .releasing)
        register16(avail + 2).store(index)
        availIndex = index
        // ...and the index before we read the device's suppression state
        // (a store-load order x86 keeps only with a full fence).
        atomicMemoryFence(ordering: .sequentiallyConsistent)
        if eventIndex {
            let event = register16(used + 4 + 8 * UInt(size)).load()
            return Virtqueue.needsEvent(event: event, new: index, old: old)
        }
        return register16(used).load() & Virtqueue.usedNoNotify == 0
    }

    /// vring_need_event (2.7.10): did moving an index from `old` to `new` pass `event`?
    static func needsEvent(event: UInt16, new: UInt16, old: UInt16) -> Bool {
        new &- event &- 1 < new &- old
    }

    /// True when the device has used chains not yet taken by `nextUsed()`.
    public var hasUsed: Bool { register16(used + 2).load() != lastUsed }

    /// The next chain the device has finished with, validated, its descriptors
    /// freed; nil when there is none. Throws `.ioError` when the used ring is
    /// malformed (see `fault`), then and on every later call.
    public func nextUsed() throws(DeviceError) -> VirtqueueCompletion? {
        if fault != nil { throw .ioError }
        let usedIndex = register16(used + 2).load()
        if usedIndex == lastUsed { return nil }
        // The published chains not yet consumed bound how far the index may move.
        guard usedIndex &- lastUsed <= availIndex &- lastUsed else { throw broken(.indexJump) }
        atomicMemoryFence(ordering: .acquiring)
        let element = used + 4 + UInt(lastUsed & (size &- 1)) * 8
        let id = register32(element).load()
        let length = register32(element + 4).load()
        guard id < UInt32(size) else { throw broken(.badID) }
        let head = Int(id)
        guard available[head] else { throw broken(.notInFlight) }
        guard UInt64(length) <= writableBytes[head] else { throw broken(.lengthTooLarge) }
        lastUsed &+= 1
        release(head: UInt16(head))
        return VirtqueueCompletion(head: UInt16(head), length: length)
    }

    func broken(_ reason: VirtqueueFault) -> DeviceError {
        fault = reason
        return .ioError
    }

    func release(head: UInt16) {
        let count = Int(chainLength[Int(head)])
        var tail = head
        for _ in 1..<count { tail = next[Int(tail)] }
        next[Int(tail)] = freeHead
        freeHead = head
        freeDescriptors += count
        chainLength[Int(head)] = 0
        writableBytes[Int(head)] = 0
        available[Int(head)] = false
        chainsInFlight -= 1
    }

    /// Asks the device to interrupt again for new used entries (and, with
    /// EVENT_IDX, for the very next one); true when entries arrived meanwhile,
    /// which the caller must take before it sleeps (no interrupt will come
    /// for them).
    public func enableInterrupts() -> Bool {
        if eventIndex {
            register16(avail + 4 + 2 * UInt(size)).store(lastUsed)
        } else {
            register16(avail).store(0)
        }
        atomicMemoryFence(ordering: .sequentiallyConsistent)
        return hasUsed
    }

    /// Tells the device no interrupt is wanted (a hint: one may still come).
    public func disableInterrupts() {
        if eventIndex {
            // An event half the index space away is never passed: at most
            // `size` <= 32768 chains are ever outstanding.
            register16(avail + 4 + 2 * UInt(size)).store(lastUsed &+ 0x8000)
        } else {
            register16(avail).store(Virtqueue.availNoInterrupt)
        }
    }

    func register16(_ address: UInt) -> VolatileMappedRegister<UInt16> {
        VolatileMappedRegister(unsafeBitPattern: address)
    }

    func register32(_ address: UInt) -> VolatileMappedRegister<UInt32> {
        VolatileMappedRegister(unsafeBitPattern: address)
    }
}
