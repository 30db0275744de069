// IPv4 fragment reassembly (RFC 791 §3.2; RFC 815's observation that only
// the holes matter, here as a sorted list of non-overlapping fragments).
// Policy, chosen to be deterministic and safe:
//   - a fragment identical in place and size to one held is a duplicate: the
//     first copy wins, the new one is dropped;
//   - any other overlap, or fragments disagreeing about the end, discard the
//     whole datagram (as Linux does since 2018, and RFC 5722 for IPv6);
//   - a datagram must complete within `timeout` of its first fragment;
//   - held bytes (payload plus a fixed per-fragment overhead) stay within
//     `budget`: the oldest other datagrams are evicted to make room, and a
//     datagram that alone exceeds it is discarded; at most `maxDatagrams` at once;
//   - the result never exceeds 65535 bytes.
// Limits: fragments are copied into per-fragment arrays (a slow path, off
// the allocation-free fast path); no ICMP time-exceeded on timeout.
// Tests: Tests/NetTests/ReassemblyTests.swift.

final class Reassembler {
    struct Key: Equatable {
        var source: IPv4Address
        var destination: IPv4Address
        var identification: UInt16
        var protocolNumber: UInt8

        init(_ header: IPv4Header) {
            source = header.source
            destination = header.destination
            identification = header.identification
            protocolNumber = header.protocolNumber
        }
    }

    private struct Fragment {
        var start: Int
        var bytes: [UInt8]
        var end: Int { start + bytes.count }
    }

    private struct Datagram {
        var key: Key
        var deadline: UInt64
        /// Sorted by start, never overlapping.
        var fragments: [Fragment] = []
        /// Known once the last fragment (no "more fragments" flag) came.
        var payloadLength: Int?
        var received = 0
        /// The first fragment's header, options included: the reassembled datagram's header.
        var header: [UInt8] = []
        var charge = 0
    }

    /// Bookkeeping charged per fragment so that many tiny fragments cannot hold memory uncounted.
    static let fragmentOverhead = 64

    let budget: Int
    let maxDatagrams: Int
    let timeout: UInt64
    private var datagrams: [Datagram] = []
    private(set) var bytesInUse = 0
    /// Where completed datagrams are assembled (allocated at the first completion).
    private var output: UnsafeMutableRawBufferPointer?

    init(budget: Int, maxDatagrams: Int, timeout: UInt64) {
        self.budget = budget
        self.maxDatagrams = max(maxDatagrams, 1)
        self.timeout = timeout
    }

    deinit { output?.deallocate() }

    var datagramsHeld: Int { datagrams.count }

    /// Adds one fragment (`packet` is the datagram, trimmed to its total length).
    /// Returns the whole datagram when this fragment completed it (header fixed
    /// up: no fragment fields, new length and checksum), valid until the next call.
    func insert(_ header: IPv4Header, packet: UnsafeRawBufferPointer, now: UInt64,
                drops: inout DropCounters) throws(DropReason) -> UnsafeRawBufferPointer? {
        let payload = packet.slice(header.headerLength..<header.totalLength)
        let start = header.fragmentOffset
        let end = start + payload.count
        // Every fragment but the last carries a non-empty multiple of 8 bytes (RFC 791).
        if header.moreFragments && (payload.isEmpty || payload.count % 8 != 0) { throw .fragmentMalformed }
        let key = Key(header)
        guard header.headerLength + end <= IPv4Header.maximumDatagram else {
            discard(key)
            throw .fragmentOversize
        }
        let charge = payload.count + Reassembler.fragmentOverhead + (start == 0 ? header.headerLength : 0)
        guard charge <= budget else {
            discard(key)
            throw .reassemblyBudget
        }
        try place(start: start, end: end, last: !header.moreFragments, in: datagrams[find(key, now: now, drops: &drops)])
        // Make room in the budget by evicting the oldest other datagrams.
        while bytesInUse + charge > budget, let victim = oldest(except: key) {
            release(victim)
            drops.count(.reassemblyBudget)
        }
        // Evictions move indices: find ours again.
        guard bytesInUse + charge <= budget, let index = datagrams.firstIndex(where: { $0.key == key }) else {
            discard(key)
            throw .reassemblyBudget
        }
        insertFragment(Fragment(start: start, bytes: Array(payload)), into: index)
        if start == 0 { datagrams[index].header = Array(packet.slice(0..<header.headerLength)) }
        if !header.moreFragments { datagrams[index].payloadLength = end }
        datagrams[index].charge += charge
        bytesInUse += charge
        return try complete(index)
    }

    /// Drops datagrams whose time is up.
    func expire(now: UInt64, drops: inout DropCounters) {
        while let i = datagrams.firstIndex(where: { $0.deadline <= now }) {
            release(i)
            drops.count(.reassemblyTimeout)
        }
    }

    var deadline: UInt64? { datagrams.map { $0.deadline }.min() }

    // MARK: steps

    private func find(_ key: Key, now: UInt64, drops: inout DropCounters) -> Int {
        if let i = datagrams.firstIndex(where: { $0.key == key }) { return i }
        if datagrams.count >= maxDatagrams, let victim = oldest(except: key) {
            release(victim)
            drops.count(.reassemblyEvicted)
        }
        datagrams.append(Datagram(key: key, deadline: now &+ timeout))
        return datagrams.count - 1
    }

    /// Checks a new fragment against what is held; throws after discarding
    /// the datagram when they conflict.
    private func place(start: Int, end: Int, last: Bool, in datagram: Datagram) throws(DropReason) {
        let fragments = datagram.fragments
        if let known = datagram.payloadLength, end > known || (last && end != known) {
            discard(datagram.key)
            throw .fragmentOverlap
        }
        if last, let final = fragments.last, final.end > end {
            discard(datagram.key)
            throw .fragmentOverlap
        }
        let position = fragments.firstIndex { $0.start >= start } ?? fragments.count
        if position < fragments.count && fragments[position].start == start && fragments[position].end == end {
            throw .fragmentDuplicate
        }
        if (position > 0 && fragments[position - 1].end > start)
            || (position < fragments.count && fragments[position].start < end) {
            discard(datagram.key)
            throw .fragmentOverlap
        }
    }

    private func insertFragment(_ fragment: Fragment, into index: Int) {
        let position = datagrams[index].fragments.firstIndex { $0.start >= fragment.start }
            ?? datagrams[index].fragments.count
        datagrams[index].received += fragment.bytes.count
        datagrams[index].fragments.insert(fragment, at: position)
    }

    /// Non-overlapping fragments inside [0, length) whose sizes add up to
    /// length cover it: the datagram is whole.
    private func complete(_ index: Int) throws(DropReason) -> UnsafeRawBufferPointer? {
        let datagram = datagrams[index]
        guard let length = datagram.payloadLength, datagram.received == length, !datagram.header.isEmpty else {
            return nil
        }
        release(index)
        let headerLength = datagram.header.count
        guard headerLength + length <= IPv4Header.maximumDatagram else { throw .fragmentOversize }
        let buffer: UnsafeMutableRawBufferPointer
        if let existing = output {
            buffer = existing
        } else {
            buffer = .allocate(byteCount: IPv4Header.maximumDatagram, alignment: 8)
            output = buffer
        }
        datagram.header.withUnsafeBytes { buffer.copy($0, to: 0) }
        for fragment in datagram.fragments {
            fragment.bytes.withUnsafeBytes { buffer.copy($0, to: headerLength + fragment.start) }
        }
        // One datagram now: keep DF, clear MF and the offset, new length and checksum.
        buffer.setBE16(UInt16(headerLength + length), at: 2)
        buffer.setBE16(UnsafeRawBufferPointer(buffer).be16(6) & 0x4000, at: 6)
        buffer.setBE16(0, at: 10)
        buffer.setBE16(InternetChecksum.of(UnsafeRawBufferPointer(buffer.slice(0..<headerLength))), at: 10)
        return UnsafeRawBufferPointer(buffer.slice(0..<headerLength + length))
    }

    private func oldest(except key: Key) -> Int? {
        var found: Int?
        for i in datagrams.indices where datagrams[i].key != key {
            if found == nil || datagrams[i].deadline < datagrams[found ?? i].deadline { found = i }
        }
        return found
    }

    private func discard(_ key: Key) {
        if let i = datagrams.firstIndex(where: { $0.key == key }) { release(i) }
    }

    private func release(_ index: Int) {
        bytesInUse -= datagrams[index].charge
        datagrams.remove(at: index)
    }
}
