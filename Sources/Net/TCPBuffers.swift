// The byte rings behind a TCP connection, each allocated once when the
// connection is made, so data never allocates on the way through:
//   - TCPSendBuffer: bytes the application handed over and the peer has not
//     acknowledged; segments are copied out of it at any offset, acks drop
//     bytes from its head.
//   - TCPReceiveBuffer: in-order bytes the application has not read, and
//     after them, at their place in the window, out-of-order data with the
//     ranges it covers (at most `maxRanges`; a segment that would need
//     another range is dropped, the peer sends it again), which are also
//     the SACK blocks we send.
//   - SequenceRanges: those ranges, kept as sequence numbers so they stay
//     valid as the edges move; the sender's SACK scoreboard is one too.
// Tests: Tests/NetTests/TCPBufferTests.swift.

/// A fixed ring of bytes: `count` readable bytes from `head`, space after them.
final class ByteRing {
    private let storage: UnsafeMutableRawBufferPointer
    private var head = 0
    private(set) var count = 0

    init(capacity: Int) {
        storage = .allocate(byteCount: max(capacity, 1), alignment: 8)
    }

    deinit { storage.deallocate() }

    var capacity: Int { storage.count }
    var free: Int { storage.count - count }

    /// Copies `bytes` to `offset` bytes after the readable end (the caller checked they fit in `free`).
    func write(_ bytes: UnsafeRawBufferPointer, afterEnd offset: Int) {
        var start = head + count + offset
        if start >= storage.count { start -= storage.count }
        let first = min(bytes.count, storage.count - start)
        storage.copy(bytes.slice(0..<first), to: start)
        if first < bytes.count { storage.copy(bytes.dropping(first), to: 0) }
    }

    /// Copies `destination.count` bytes starting `offset` after the head (they are readable).
    func copy(from offset: Int, into destination: UnsafeMutableRawBufferPointer) {
        var start = head + offset
        if start >= storage.count { start -= storage.count }
        let first = min(destination.count, storage.count - start)
        destination.copy(UnsafeRawBufferPointer(storage.slice(start..<start + first)), to: 0)
        if first < destination.count {
            destination.copy(UnsafeRawBufferPointer(storage.slice(0..<destination.count - first)), to: first)
        }
    }

    /// Makes `n` more bytes after the end readable (written before with `write`).
    func extend(_ n: Int) { count += n }

    func append(_ bytes: UnsafeRawBufferPointer) -> Int {
        let n = min(bytes.count, free)
        write(bytes.slice(0..<n), afterEnd: 0)
        count += n
        return n
    }

    func removeFirst(_ n: Int) {
        let n = min(n, count)
        head += n
        if head >= storage.count { head -= storage.count }
        count -= n
        // The head stays put even when empty: out-of-order bytes may wait beyond it.
    }

    /// Copies up to `destination.count` bytes out and removes them.
    func read(into destination: UnsafeMutableRawBufferPointer) -> Int {
        let n = min(destination.count, count)
        copy(from: 0, into: destination.slice(0..<n))
        removeFirst(n)
        return n
    }
}

/// Sorted, disjoint, non-touching [start, end) sequence ranges, at most `limit`:
/// the receiver's out-of-order data and the sender's SACK scoreboard.
struct SequenceRanges {
    private(set) var items: [(start: UInt32, end: UInt32)] = []
    let limit: Int

    init(limit: Int) {
        self.limit = limit
        items.reserveCapacity(limit + 1)
    }

    var isEmpty: Bool { items.isEmpty }
    var count: Int { items.count }

    /// Adds [start, end), merging with neighbours; false when that would need one range too many.
    mutating func add(start: UInt32, end: UInt32) -> Bool {
        var start = start, end = end
        var index = 0
        // Skip ranges entirely before the new one (not touching it).
        while index < items.count && items[index].end.seqBefore(start) { index += 1 }
        var merged = index
        while merged < items.count && items[merged].start.seqAtOrBefore(end) {
            if items[merged].start.seqBefore(start) { start = items[merged].start }
            if items[merged].end.seqAfter(end) { end = items[merged].end }
            merged += 1
        }
        if merged == index && items.count >= limit { return false }
        items.replaceSubrange(index..<merged, with: CollectionOfOne((start: start, end: end)))
        return true
    }

    /// An edge that has reached `edge` swallows every range it touches: returns where it ends up.
    mutating func absorb(_ edge: UInt32) -> UInt32 {
        var edge = edge
        while let first = items.first, first.start.seqAtOrBefore(edge) {
            if first.end.seqAfter(edge) { edge = first.end }
            items.removeFirst()
        }
        return edge
    }

    /// Forgets everything below `sequence`.
    mutating func removeBelow(_ sequence: UInt32) {
        while let first = items.first, first.end.seqAtOrBefore(sequence) { items.removeFirst() }
        if let first = items.first, first.start.seqBefore(sequence) { items[0].start = sequence }
    }

    mutating func removeAll() { items.removeAll(keepingCapacity: true) }
}

/// Received data: the in-order part (`ring.count` bytes ending at `next`) and out-of-order ranges.
struct TCPReceiveBuffer {
    let ring: ByteRing
    /// Out-of-order ranges beyond the in-order edge.
    private(set) var ranges: SequenceRanges

    init(capacity: Int, maxRanges: Int) {
        ring = ByteRing(capacity: capacity)
        ranges = SequenceRanges(limit: maxRanges)
    }

    var hasOutOfOrder: Bool { !ranges.isEmpty }

    /// Stores `data` that starts at `sequence`, given the in-order edge `next`
    /// (data already trimmed to [next, next + free)). Returns how far the
    /// in-order edge moved (0 when the data was out of order, or dropped: nil).
    mutating func insert(_ data: UnsafeRawBufferPointer, at sequence: UInt32, next: UInt32) -> Int? {
        guard !data.isEmpty else { return 0 }
        let offset = sequence.seqDistance(from: next)
        // The caller trimmed to the window; this guard only keeps a bug from writing past the ring.
        guard offset + data.count <= ring.free else { return nil }
        let end = sequence &+ UInt32(data.count)
        if offset > 0 {
            guard ranges.add(start: sequence, end: end) else { return nil }
            ring.write(data, afterEnd: offset)
            return 0
        }
        ring.write(data, afterEnd: 0)
        let moved = ranges.absorb(end).seqDistance(from: next)
        ring.extend(moved)
        return moved
    }

    /// SACK blocks for the out-of-order ranges: the one holding `first` leads, then the others in order.
    func sackBlocks(first: UInt32, limit: Int) -> TCPSACKBlocks {
        var blocks = TCPSACKBlocks()
        let items = ranges.items
        let lead = items.firstIndex { first.seqAtOrAfter($0.start) && first.seqBefore($0.end) }
        if let lead { blocks.append(start: items[lead].start, end: items[lead].end) }
        for index in items.indices where index != lead && blocks.count < limit {
            blocks.append(start: items[index].start, end: items[index].end)
        }
        return blocks
    }

    mutating func removeAll() {
        ring.removeFirst(ring.count)
        ranges.removeAll()
    }
}
