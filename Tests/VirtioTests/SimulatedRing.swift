// SimulatedRing: the DEVICE side of a split virtqueue over the driver's
// memory, written from the spec (2.7) independently of `Virtqueue`: it reads
// the avail ring, walks and checks descriptor chains, moves bytes, posts used
// entries and decides interrupts, and can post malformed entries on purpose.
// Driver mistakes it sees are recorded in `violations` (tests expect none).
// Limits: single-threaded; the device runs only when a test calls it.

import Virtio

final class SimulatedRing {
    struct Segment {
        var address: UnsafeMutableRawPointer
        var length: Int
        var writable: Bool
    }

    struct Chain {
        var head: UInt16
        var segments: [Segment]
        var readable: [Segment] { segments.filter { !$0.writable } }
        var writable: [Segment] { segments.filter { $0.writable } }
        var writableBytes: Int { writable.reduce(0) { $0 + $1.length } }
    }

    let size: UInt16
    let eventIndex: Bool
    let descriptors: UnsafeMutableRawPointer
    let avail: UnsafeMutableRawPointer
    let used: UnsafeMutableRawPointer
    /// The next avail entry to read, and the next used index to write.
    var lastAvail: UInt16 = 0
    var usedIndex: UInt16 = 0
    var violations: [String] = []

    init(size: UInt16, descriptors: UInt64, driverArea: UInt64, deviceArea: UInt64, eventIndex: Bool) {
        self.size = size
        self.eventIndex = eventIndex
        self.descriptors = UnsafeMutableRawPointer(bitPattern: UInt(descriptors))!
        avail = UnsafeMutableRawPointer(bitPattern: UInt(driverArea))!
        used = UnsafeMutableRawPointer(bitPattern: UInt(deviceArea))!
    }

    // Driver-written fields.
    var availFlags: UInt16 { avail.load(as: UInt16.self) }
    var availIndex: UInt16 { avail.load(fromByteOffset: 2, as: UInt16.self) }
    var usedEvent: UInt16 { avail.load(fromByteOffset: 4 + 2 * Int(size), as: UInt16.self) }
    /// Chains published and not yet taken by the device.
    var waiting: Int { Int(availIndex &- lastAvail) }

    // Device-written fields.
    var noNotify: Bool {
        get { used.load(as: UInt16.self) & 1 != 0 }
        set { used.storeBytes(of: newValue ? 1 : 0, as: UInt16.self) }
    }
    var availEvent: UInt16 {
        get { used.load(fromByteOffset: 4 + 8 * Int(size), as: UInt16.self) }
        set { used.storeBytes(of: newValue, toByteOffset: 4 + 8 * Int(size), as: UInt16.self) }
    }

    /// The next published chain, checked as a device must (2.7.5.2); nil
    /// when none is waiting or the chain is invalid (recorded).
    func nextAvailable() -> Chain? {
        guard waiting > 0 else { return nil }
        guard waiting <= Int(size) else {
            violations.append("avail index moved by \(waiting) > size \(size)")
            return nil
        }
        let head = avail.load(fromByteOffset: 4 + 2 * Int(lastAvail % size), as: UInt16.self)
        lastAvail &+= 1
        guard head < size else {
            violations.append("avail entry \(head) out of range")
            return nil
        }
        var chain = Chain(head: head, segments: [])
        var id = head
        var seenWritable = false
        while true {
            guard chain.segments.count < Int(size) else {
                violations.append("descriptor chain from \(head) loops")
                return nil
            }
            let descriptor = descriptors + 16 * Int(id)
            let address = descriptor.load(as: UInt64.self)
            let length = descriptor.load(fromByteOffset: 8, as: UInt32.self)
            let flags = descriptor.load(fromByteOffset: 12, as: UInt16.self)
            let next = descriptor.load(fromByteOffset: 14, as: UInt16.self)
            let writable = flags & 2 != 0
            if flags & 4 != 0 { violations.append("indirect descriptor without the feature") }
            if !writable && seenWritable { violations.append("readable descriptor after a writable one") }
            seenWritable = seenWritable || writable
            guard address != 0, let pointer = UnsafeMutableRawPointer(bitPattern: UInt(address)) else {
                violations.append("descriptor \(id) has address 0")
                return nil
            }
            chain.segments.append(Segment(address: pointer, length: Int(length), writable: writable))
            guard flags & 1 != 0 else { break }
            guard next < size else {
                violations.append("descriptor \(id) links to \(next)")
                return nil
            }
            id = next
        }
        return chain
    }

    /// The chain's device-readable bytes, in order.
    func gather(_ chain: Chain) -> [UInt8] {
        var bytes: [UInt8] = []
        for segment in chain.readable {
            bytes += UnsafeRawBufferPointer(start: segment.address, count: segment.length)
        }
        return bytes
    }

    /// Writes `bytes` into the chain's writable segments from byte `offset`
    /// of that writable space; the bytes that fitted.
    @discardableResult
    func scatter(_ chain: Chain, _ bytes: [UInt8], at offset: Int = 0) -> Int {
        var skip = offset
        var source = 0
        for segment in chain.writable where source < bytes.count {
            if skip >= segment.length {
                skip -= segment.length
                continue
            }
            let count = min(segment.length - skip, bytes.count - source)
            for i in 0..<count { segment.address.storeBytes(of: bytes[source + i], toByteOffset: skip + i, as: UInt8.self) }
            source += count
            skip = 0
        }
        return source
    }

    /// Posts a used entry, valid or not; true when the driver wants an
    /// interrupt for it (flags, or used_event with EVENT_IDX).
    @discardableResult
    func post(id: UInt32, length: UInt32) -> Bool {
        let element = used + 4 + 8 * Int(usedIndex % size)
        element.storeBytes(of: id, as: UInt32.self)
        element.storeBytes(of: length, toByteOffset: 4, as: UInt32.self)
        return advanceUsedIndex(by: 1)
    }

    @discardableResult
    func complete(_ chain: Chain, length: Int) -> Bool {
        post(id: UInt32(chain.head), length: UInt32(length))
    }

    /// Moves the used index without writing entries (index jumps).
    @discardableResult
    func advanceUsedIndex(by count: UInt16) -> Bool {
        let old = usedIndex
        usedIndex &+= count
        used.storeBytes(of: usedIndex, toByteOffset: 2, as: UInt16.self)
        if eventIndex {
            return usedIndex &- usedEvent &- 1 < usedIndex &- old
        }
        return availFlags & 1 == 0
    }
}
