// Address resolution state (RFC 826, RFC 1122 §2.3.2): a bounded cache of
// IPv4 -> Ethernet mappings that expire, resolutions in progress with a
// fixed number of requests a fixed interval apart, and the bounded set of
// frames waiting for them. Sans-IO: the interface asks what is due
// (`nextEvent`) and sends the requests itself.
// Limits: an expired entry is resolved afresh before use (no stale use with
// background probing as Linux does); no RFC 5227 address defence.
// Tests: Tests/NetTests/ARPTests.swift.

struct ARPCache {
    enum State: Equatable {
        case resolved(EthernetAddress, expires: UInt64)
        /// Waiting for a reply: requests sent so far, and when to send the next or give up.
        case resolving(requestsSent: Int, next: UInt64)
    }

    struct Entry {
        var address: IPv4Address
        var state: State
    }

    enum Event: Equatable {
        /// Send another request for this address.
        case retry(IPv4Address)
        /// Resolution failed: drop what waits for it.
        case failed(IPv4Address)
    }

    enum Resolution: Equatable {
        case started, inProgress, cacheFull
    }

    let capacity: Int
    let lifetime: UInt64
    let requestInterval: UInt64
    let requestAttempts: Int
    private(set) var entries: [Entry] = []

    init(capacity: Int, lifetime: UInt64, requestInterval: UInt64, requestAttempts: Int) {
        self.capacity = max(capacity, 1)
        self.lifetime = lifetime
        self.requestInterval = requestInterval
        self.requestAttempts = max(requestAttempts, 1)
        entries.reserveCapacity(self.capacity)
    }

    private func index(of address: IPv4Address) -> Int? {
        entries.firstIndex { $0.address == address }
    }

    /// The link address for `address`, if known and not expired.
    mutating func lookup(_ address: IPv4Address, now: UInt64) -> EthernetAddress? {
        guard let i = index(of: address), case .resolved(let mac, let expires) = entries[i].state else { return nil }
        if now >= expires {
            entries.remove(at: i)
            return nil
        }
        return mac
    }

    enum Update: Equatable {
        /// Not in the cache, and not added.
        case notCached
        /// Added or refreshed.
        case cached
        /// A resolution in progress completed: its waiting frames can go.
        case completed
    }

    /// Records a mapping learned from a packet. Existing entries are always
    /// updated (RFC 826's merge); new ones made only when `create`.
    mutating func update(_ address: IPv4Address, _ mac: EthernetAddress, now: UInt64, create: Bool) -> Update {
        let state = State.resolved(mac, expires: now &+ lifetime)
        if let i = index(of: address) {
            let wasResolving: Bool
            if case .resolving = entries[i].state { wasResolving = true } else { wasResolving = false }
            entries[i].state = state
            return wasResolving ? .completed : .cached
        }
        guard create && makeRoom(now: now) else { return .notCached }
        entries.append(Entry(address: address, state: state))
        return .cached
    }

    /// Starts resolving `address` (the caller sends the first request on `.started`).
    mutating func resolve(_ address: IPv4Address, now: UInt64) -> Resolution {
        if let i = index(of: address) {
            if case .resolving = entries[i].state { return .inProgress }
            entries.remove(at: i)  // expired
        }
        guard makeRoom(now: now) else { return .cacheFull }
        entries.append(Entry(address: address, state: .resolving(requestsSent: 1, next: now &+ requestInterval)))
        return .started
    }

    /// The next timer that is due at `now`, if any; call until nil.
    mutating func nextEvent(now: UInt64) -> Event? {
        for i in entries.indices {
            guard case .resolving(let sent, let next) = entries[i].state, next <= now else { continue }
            let address = entries[i].address
            if sent < requestAttempts {
                entries[i].state = .resolving(requestsSent: sent + 1, next: now &+ requestInterval)
                return .retry(address)
            }
            entries.remove(at: i)
            return .failed(address)
        }
        return nil
    }

    /// When `nextEvent` will next have something (resolved entries expire lazily: no wake-up).
    var deadline: UInt64? {
        var earliest: UInt64?
        for entry in entries {
            if case .resolving(_, let next) = entry.state { earliest = min(earliest ?? next, next) }
        }
        return earliest
    }

    /// Frees a slot if the cache is full: expired entries first, then the
    /// resolved entry closest to expiry. Resolutions in progress are never evicted.
    private mutating func makeRoom(now: UInt64) -> Bool {
        entries.removeAll { if case .resolved(_, let expires) = $0.state { return now >= expires } else { return false } }
        if entries.count < capacity { return true }
        var victim: Int?
        var soonest = UInt64.max
        for i in entries.indices {
            if case .resolved(_, let expires) = entries[i].state, expires <= soonest {
                soonest = expires
                victim = i
            }
        }
        guard let v = victim else { return false }
        entries.remove(at: v)
        return true
    }
}

/// Frames waiting for address resolution, in fixed slots allocated once.
/// Frames for one next hop leave in the order they came.
final class ARPPendingFrames {
    private struct Slot {
        var nextHop: IPv4Address
        var length: Int
        var sequence: UInt64
    }

    let frameSize: Int
    private let storage: UnsafeMutableRawBufferPointer
    private var slots: [Slot?]
    private var sequence: UInt64 = 0
    private(set) var count = 0

    init(frames: Int, frameSize: Int) {
        self.frameSize = frameSize
        storage = .allocate(byteCount: max(frames, 1) * frameSize, alignment: 8)
        slots = Array(repeating: nil, count: max(frames, 1))
    }

    deinit { storage.deallocate() }

    var freeSlots: Int { slots.count - count }

    private func buffer(_ index: Int, length: Int) -> UnsafeMutableRawBufferPointer {
        storage.slice(index * frameSize..<index * frameSize + length)
    }

    /// Stores a frame of `length` bytes written by `write`; false when every slot is taken.
    func store(nextHop: IPv4Address, length: Int, _ write: (UnsafeMutableRawBufferPointer) -> Void) -> Bool {
        guard length <= frameSize, let index = slots.firstIndex(where: { $0 == nil }) else { return false }
        write(buffer(index, length: length))
        slots[index] = Slot(nextHop: nextHop, length: length, sequence: sequence)
        sequence &+= 1
        count += 1
        return true
    }

    /// Hands every frame for `nextHop` to `body` in arrival order and frees them.
    /// Returns how many there were.
    @discardableResult
    func release(nextHop: IPv4Address, _ body: (UnsafeMutableRawBufferPointer) -> Void) -> Int {
        var released = 0
        while true {
            var oldest: Int?
            var oldestSequence = UInt64.max
            for i in slots.indices {
                guard let slot = slots[i], slot.nextHop == nextHop, slot.sequence <= oldestSequence else { continue }
                oldest = i
                oldestSequence = slot.sequence
            }
            guard let index = oldest, let slot = slots[index] else { return released }
            body(buffer(index, length: slot.length))
            slots[index] = nil
            count -= 1
            released += 1
        }
    }
}
