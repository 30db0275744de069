// A bounded FIFO of variable-length packets, each with a small metadata
// value, in one byte ring allocated once: the transmit queue, UDP receive
// queues and the echo-reply queue use it, so the fast path never allocates.
// A packet is written in place (reserve, fill, commit). Limits: a packet is
// contiguous, so space at the ring's end too small for the next packet is
// skipped until the ring drains past it; size byteCapacity with that slack.
// Tests: Tests/NetTests/PacketQueueTests.swift.

public final class PacketQueue<Meta> {
    private struct Record {
        var offset: Int
        var length: Int
        var meta: Meta
    }

    private let storage: UnsafeMutableRawBufferPointer
    private var records: [Record?]
    private var head = 0
    private var writeOffset = 0
    private var reservedOffset: Int?
    public private(set) var count = 0

    public let maxPackets: Int
    public var byteCapacity: Int { storage.count }

    public init(byteCapacity: Int, maxPackets: Int) {
        precondition(byteCapacity > 0 && maxPackets > 0, "empty packet queue")
        storage = .allocate(byteCount: byteCapacity, alignment: 8)
        records = Array(repeating: nil, count: maxPackets)
        self.maxPackets = maxPackets
    }

    deinit { storage.deallocate() }

    public var isEmpty: Bool { count == 0 }

    /// Space for a packet of up to `length` bytes, or nil when the queue is
    /// full. Fill it, then `commit`; a later `reserve` replaces this one.
    public func reserve(_ length: Int) -> UnsafeMutableRawBufferPointer? {
        reservedOffset = nil
        guard count < maxPackets, length >= 0, let offset = placement(for: max(length, 1)) else { return nil }
        reservedOffset = offset
        return storage.slice(offset..<offset + length)
    }

    /// Queues the packet written into the last reservation (`length` at most what was reserved).
    public func commit(length: Int, meta: Meta) {
        guard let offset = reservedOffset else { preconditionFailure("commit without reserve") }
        reservedOffset = nil
        records[(head + count) % maxPackets] = Record(offset: offset, length: length, meta: meta)
        count += 1
        writeOffset = offset + max(length, 1)
    }

    /// Copies a packet in; false when it does not fit.
    @discardableResult
    public func enqueue(_ bytes: UnsafeRawBufferPointer, meta: Meta) -> Bool {
        guard let space = reserve(bytes.count) else { return false }
        space.copy(bytes, to: 0)
        commit(length: bytes.count, meta: meta)
        return true
    }

    /// Lends the oldest packet to `body` without removing it.
    public func withFirst<R>(_ body: (Meta, UnsafeRawBufferPointer) -> R) -> R? {
        guard count > 0, let record = records[head] else { return nil }
        return body(record.meta, UnsafeRawBufferPointer(storage.slice(record.offset..<record.offset + record.length)))
    }

    public func removeFirst() {
        guard count > 0 else { return }
        records[head] = nil
        head = (head + 1) % maxPackets
        count -= 1
        if count == 0 { writeOffset = 0 }
    }

    public func removeAll() {
        while count > 0 { removeFirst() }
    }

    /// The longest packet `reserve` would take now (0 when the packet limit is reached).
    public var largestReservation: Int {
        guard count < maxPackets else { return 0 }
        guard let oldest = records[head], count > 0 else { return storage.count }
        if writeOffset > oldest.offset { return max(storage.count - writeOffset, oldest.offset) }
        return oldest.offset - writeOffset
    }

    /// Where `length` contiguous bytes fit after the newest packet and before the oldest.
    private func placement(for length: Int) -> Int? {
        guard let oldest = records[head], count > 0 else {
            return length <= storage.count ? 0 : nil
        }
        if writeOffset > oldest.offset {
            // Used space is one run [oldest, writeOffset): try its end, then the ring's start.
            if storage.count - writeOffset >= length { return writeOffset }
            return oldest.offset >= length ? 0 : nil
        }
        // Wrapped: free space is the gap [writeOffset, oldest).
        return oldest.offset - writeOffset >= length ? writeOffset : nil
    }
}
