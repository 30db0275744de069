// The DHCPv4 client (RFC 2131 §4.4), sans-IO over UDP datagrams on port 68:
// INIT -> SELECTING (DISCOVER; the first usable OFFER wins) -> REQUESTING ->
// BOUND -> RENEWING at T1 (unicast to the server) -> REBINDING at T2
// (broadcast) -> expiry (the address is dropped, back to INIT). A NAK sends
// the client back to INIT. DISCOVER and REQUEST are retransmitted after 4, 8,
// 16, 32, 64 s (each +-1 s from the caller's seed); after `transmissions`
// unanswered ones the client starts again from INIT with a new xid.
// Why datagrams, not frames: an Interface may hold no address (the
// `IPv4Configuration.unconfigured` state), and then sends from 0.0.0.0 and
// accepts broadcasts - exactly what DHCP needs - so the client does no
// framing, checksums or ARP of its own, renewals are routed like any other
// datagram, and pcap taps see them. We set the broadcast flag, so servers
// answer before we have an address by broadcast (RFC 2131 §4.1).
// `DHCPDriver` below binds port 68 on an Interface and applies each lease to it.
// Time is monotonic nanoseconds from the caller; `poll` returns the next deadline.
// Limits: no INIT-REBOOT (a restart forgets the lease), no DECLINE (no ARP
// probe of the offered address), no RELEASE, no INFORM; the lease's MTU is
// reported, not applied (the interface's MTU is fixed at creation).
// Tests: Tests/NetTests/DHCPTests.swift.

public struct DHCPSettings {
    /// First retransmission timeout; it doubles up to `maximumTimeout` (RFC 2131 §4.1).
    public var initialTimeout: UInt64 = 4 * Interface.second
    public var maximumTimeout: UInt64 = 64 * Interface.second
    /// Each timeout is moved by a uniform random amount in -jitter...+jitter.
    public var jitter: UInt64 = 1 * Interface.second
    /// DISCOVERs (or REQUESTs while REQUESTING) without an answer before starting over.
    public var transmissions = 5
    /// Shortest wait between REQUESTs while RENEWING or REBINDING (RFC 2131 §4.4.5).
    public var minimumRenewInterval: UInt64 = 60 * Interface.second
    /// Pause after a NAK before the next DISCOVER, so a server that NAKs everything cannot make us spin.
    public var restartDelay: UInt64 = 1 * Interface.second
    /// Ask for the interface MTU option (26).
    public var requestMTU = true

    public init() {}
}

/// An address lease and what came with it.
public struct DHCPLease: Equatable {
    public var ipv4: IPv4Configuration
    /// The server identifier (where renewals go).
    public var server: IPv4Address
    /// At most `DHCPClient.maximumDNSServers`, in the server's order.
    public var dnsServers: [IPv4Address]
    public var mtu: Int?
    /// Seconds, as granted (UInt32.max: infinite).
    public var leaseTime: UInt32
    public var renewalTime: UInt32
    public var rebindingTime: UInt32
    /// Monotonic ns: when renewing and rebinding start, and when the lease ends (UInt64.max: never).
    public var renewAt: UInt64
    public var rebindAt: UInt64
    public var expiresAt: UInt64
}

public enum DHCPState: Equatable {
    case initial, selecting, requesting, bound, renewing, rebinding
}

/// What the caller must act on, in order (`DHCPClient.takeEvent`).
public enum DHCPEvent: Equatable {
    /// A lease with a new configuration (the first, or a changed one): configure the interface.
    case bound(DHCPLease)
    /// The same configuration for longer.
    case renewed(DHCPLease)
    /// Expired or refused: stop using the address at once.
    case lost
}

/// A UDP datagram the caller sends from port 68.
public struct OutboundDatagram: Equatable {
    public var destination: IPv4Endpoint
    public var payload: [UInt8]
}

/// Messages sent and received by a DHCP client or DNS query, and why received ones were dropped.
public struct MessageCounters<Reason: RawRepresentable & CaseIterable> where Reason.RawValue == Int {
    public internal(set) var sent: UInt64 = 0
    public internal(set) var received: UInt64 = 0
    private var drops = [UInt64](repeating: 0, count: Reason.allCases.count)

    public subscript(reason: Reason) -> UInt64 { drops[reason.rawValue] }
    public var dropped: UInt64 { drops.reduce(0, &+) }
    mutating func count(_ reason: Reason) { drops[reason.rawValue] &+= 1 }
}

public final class DHCPClient {
    public static let maximumDNSServers = 3

    public let mac: EthernetAddress
    public let settings: DHCPSettings
    public private(set) var state = DHCPState.initial
    public private(set) var lease: DHCPLease?
    public private(set) var counters = MessageCounters<DHCPDropReason>()

    private var random: SeededRandom
    private var transactionID: UInt32 = 0
    /// When this exchange's first message went out (the `secs` field; lease times count from it, RFC 2131 §4.4.1).
    private var exchangeStart: UInt64 = 0
    private var attempts = 0
    /// When to act next (send, retransmit, change state); nil before the first poll.
    private var deadline: UInt64?
    /// The server and address chosen from an OFFER, while REQUESTING.
    private var offered: (server: IPv4Address, address: IPv4Address)?
    private var outbound: OutboundDatagram?
    private var events: [DHCPEvent] = []

    /// `seed` feeds the transaction IDs and the retransmission jitter: give it random bits.
    public init(mac: EthernetAddress, settings: DHCPSettings = DHCPSettings(), seed: UInt64) {
        self.mac = mac
        self.settings = settings
        random = SeededRandom(seed: seed)
    }

    // MARK: the caller's side

    /// Runs what is due at `now` (the first call starts with a DISCOVER);
    /// returns when to call again (nil: never, an infinite lease). Check
    /// `takeDatagram` and `takeEvent` after.
    public func poll(now: UInt64) -> UInt64? {
        run(now: now)
        return deadline == UInt64.max ? nil : deadline
    }

    private func run(now: UInt64) {
        guard let due = deadline else { return startOver(now: now) }
        guard now >= due else { return }
        switch state {
        case .initial:
            startOver(now: now)
        case .selecting, .requesting:
            if attempts >= settings.transmissions {
                startOver(now: now)
            } else {
                transmit(now: now)
            }
        case .bound:
            if now >= lease!.rebindAt { enterRebinding(now: now) } else { enterRenewing(now: now) }
        case .renewing:
            if now >= lease!.rebindAt { enterRebinding(now: now) } else { transmit(now: now) }
        case .rebinding:
            if now >= lease!.expiresAt {
                lease = nil
                events.append(.lost)
                startOver(now: now)
            } else {
                transmit(now: now)
            }
        }
    }

    /// The datagram to send now, if any (there is never more than one).
    public func takeDatagram() -> OutboundDatagram? {
        defer { outbound = nil }
        return outbound
    }

    public func takeEvent() -> DHCPEvent? {
        events.isEmpty ? nil : events.removeFirst()
    }

    /// One datagram received on port 68 from `source`; anything unusable is counted and ignored.
    public func receive(_ payload: UnsafeRawBufferPointer, from source: IPv4Endpoint, now: UInt64) {
        counters.received &+= 1
        do throws(DHCPDropReason) {
            guard source.port == DHCPMessage.serverPort else { throw .unexpected }
            let message = try DHCPMessage.parse(payload)
            guard message.transactionID == transactionID, message.clientHardwareAddress == mac else { throw .notOurs }
            try handle(message, now: now)
        } catch {
            counters.count(error)
        }
    }

    // MARK: replies

    private func handle(_ message: DHCPMessage, now: UInt64) throws(DHCPDropReason) {
        let options = message.options
        switch (state, options.messageType) {
        case (.selecting, .offer):
            // Check now what the ACK must carry, so that an unusable offer is never requested.
            guard let server = options.serverIdentifier else { throw .unusable }
            _ = try makeLease(message, server: server, now: now)
            offered = (server, message.yourAddress)
            state = .requesting
            beginExchange(now: now, keepID: true)
            transmit(now: now)
        case (.requesting, .ack), (.renewing, .ack), (.rebinding, .ack):
            // RFC 2131 §4.4.1: an ACK may omit the server identifier only in answer to a renewal.
            let server = options.serverIdentifier ?? lease?.server
            guard let server else { throw .unusable }
            if state == .requesting {
                guard server == offered?.server else { throw .wrongServer }
                guard message.yourAddress == offered?.address else { throw .unusable }
            } else if state == .renewing {
                guard server == lease?.server else { throw .wrongServer }
            }
            let granted = try makeLease(message, server: server, now: now)
            let changed = lease?.ipv4 != granted.ipv4
            lease = granted
            offered = nil
            state = .bound
            deadline = granted.renewAt
            events.append(changed ? .bound(granted) : .renewed(granted))
        case (.requesting, .nak), (.renewing, .nak), (.rebinding, .nak):
            // A NAK must name its server (RFC 2131 table 3); while REBINDING any server may refuse us.
            let server = options.serverIdentifier
            if state == .requesting, server != offered?.server { throw .wrongServer }
            if state == .renewing, server != lease?.server { throw .wrongServer }
            if lease != nil {
                lease = nil
                events.append(.lost)
            }
            offered = nil
            state = .initial
            deadline = now &+ settings.restartDelay
        default:
            throw .unexpected
        }
    }

    /// The lease an OFFER or ACK describes, or `unusable`.
    private func makeLease(_ message: DHCPMessage, server: IPv4Address, now: UInt64) throws(DHCPDropReason) -> DHCPLease {
        let options = message.options
        guard let leaseTime = options.leaseTime, leaseTime > 0 else { throw .unusable }
        let address = message.yourAddress
        let prefix: Int
        if let mask = options.subnetMask {
            guard let length = mask.maskPrefixLength else { throw .unusable }
            prefix = length
        } else {
            prefix = address.classfulPrefixLength
        }
        // The first router that can be our gateway; none is fine (on-link only).
        var ipv4: IPv4Configuration?
        for router in options.routers {
            if let config = try? IPv4Configuration(address: address, prefixLength: prefix, gateway: router) {
                ipv4 = config
                break
            }
        }
        if ipv4 == nil { ipv4 = try? IPv4Configuration(address: address, prefixLength: prefix) }
        guard let ipv4 else { throw .unusable }
        // RFC 2131 §4.4.5 defaults (0.5 and 0.875 of the lease), used when the server's are out of order.
        var t2 = options.rebindingTime ?? leaseTime / 8 * 7
        if t2 >= leaseTime { t2 = leaseTime / 8 * 7 }
        var t1 = options.renewalTime ?? leaseTime / 2
        if t1 > t2 { t1 = min(leaseTime / 2, t2) }
        let infinite = leaseTime == UInt32.max
        let start = exchangeStart
        func at(_ seconds: UInt32) -> UInt64 { infinite ? UInt64.max : start &+ UInt64(seconds) * Interface.second }
        let mtu = options.mtu.flatMap { $0 >= 68 ? $0 : nil }
        return DHCPLease(ipv4: ipv4, server: server, dnsServers: Array(options.dnsServers.prefix(DHCPClient.maximumDNSServers)),
                         mtu: mtu, leaseTime: leaseTime, renewalTime: t1, rebindingTime: t2,
                         renewAt: at(t1), rebindAt: at(t2), expiresAt: at(leaseTime))
    }

    // MARK: states

    /// INIT: a new transaction, and the first DISCOVER now.
    private func startOver(now: UInt64) {
        offered = nil
        state = .selecting
        beginExchange(now: now, keepID: false)
        transmit(now: now)
    }

    private func enterRenewing(now: UInt64) {
        state = .renewing
        beginExchange(now: now, keepID: false)
        transmit(now: now)
    }

    private func enterRebinding(now: UInt64) {
        state = .rebinding
        // A new exchange, but the lease still ends when it ends: keep counting from the renewal's start.
        attempts = 0
        transmit(now: now)
    }

    /// A new exchange: REQUESTING keeps the OFFER's xid (RFC 2131 §4.4.1), the others draw one.
    private func beginExchange(now: UInt64, keepID: Bool) {
        if !keepID {
            transactionID = UInt32(truncatingIfNeeded: random.next() >> 32)
            exchangeStart = now
        }
        attempts = 0
    }

    /// Sends this state's message and sets when to send it again.
    private func transmit(now: UInt64) {
        let seconds = UInt16(clamping: (now &- exchangeStart) / Interface.second)
        let requestList: [UInt8] = [DHCPOption.subnetMask, DHCPOption.routers, DHCPOption.dnsServers,
                                    DHCPOption.leaseTime, DHCPOption.renewalTime, DHCPOption.rebindingTime]
            + (settings.requestMTU ? [DHCPOption.mtu] : [])
        func parameters(_ bytes: inout [UInt8]) {
            bytes += [DHCPOption.parameterRequestList, UInt8(requestList.count)] + requestList
        }
        let payload: [UInt8]
        var destination = IPv4Endpoint(address: .broadcast, port: DHCPMessage.serverPort)
        switch state {
        case .selecting:
            payload = DHCPMessage.request(type: .discover, transactionID: transactionID, seconds: seconds,
                                          broadcast: true, clientAddress: .any, mac: mac) { parameters(&$0) }
        case .requesting:
            let (server, address) = offered!
            payload = DHCPMessage.request(type: .request, transactionID: transactionID, seconds: seconds,
                                          broadcast: true, clientAddress: .any, mac: mac) { bytes in
                bytes.appendDHCPOption(DHCPOption.requestedAddress, address: address)
                bytes.appendDHCPOption(DHCPOption.serverIdentifier, address: server)
                parameters(&bytes)
            }
        case .renewing, .rebinding:
            // RFC 2131 §4.3.2: ciaddr names us; no requested address or server identifier.
            let held = lease!
            if state == .renewing { destination.address = held.server }
            payload = DHCPMessage.request(type: .request, transactionID: transactionID, seconds: seconds,
                                          broadcast: false, clientAddress: held.ipv4.address, mac: mac) { parameters(&$0) }
        case .initial, .bound:
            return
        }
        outbound = OutboundDatagram(destination: destination, payload: payload)
        counters.sent &+= 1
        attempts += 1
        switch state {
        case .renewing, .rebinding:
            // Half the time left until the next state, but at least a minute (RFC 2131 §4.4.5).
            let until = state == .renewing ? lease!.rebindAt : lease!.expiresAt
            let half = until > now ? (until - now) / 2 : 0
            let retry = now &+ max(half, settings.minimumRenewInterval)
            deadline = min(retry, until)
        default:
            deadline = now &+ backoff(attempt: attempts)
        }
    }

    /// 4, 8, 16, ... s capped at 64 s, each moved by up to +-jitter.
    private func backoff(attempt: Int) -> UInt64 {
        var timeout = settings.initialTimeout
        var step = 1
        while step < attempt && timeout < settings.maximumTimeout {
            timeout = timeout &* 2
            step += 1
        }
        timeout = min(timeout, settings.maximumTimeout)
        let jitter = min(settings.jitter, timeout / 2)
        guard jitter > 0 else { return timeout }
        return timeout - jitter + random.next() % (2 * jitter + 1)
    }
}

/// Runs a DHCPClient on an Interface: binds UDP port 68, moves datagrams both
/// ways, and applies each lease to the interface (`reconfigure`). Create the
/// interface with `IPv4Configuration.unconfigured`; call `poll` whenever the
/// interface is polled (after frames were received, before transmitting).
public final class DHCPDriver {
    public let client: DHCPClient
    public let interface: Interface
    let socket: UDPSocket
    /// Receive buffer: a DHCP message in one Ethernet frame (RFC 2131 allows 576 bytes unless asked for more).
    private var buffer = [UInt8](repeating: 0, count: 1500)

    public init(interface: Interface, settings: DHCPSettings = DHCPSettings(), seed: UInt64) throws(SocketError) {
        self.interface = interface
        client = DHCPClient(mac: interface.mac, settings: settings, seed: seed)
        socket = try interface.bindUDP(port: DHCPMessage.clientPort)
    }

    public var lease: DHCPLease? { client.lease }

    /// Feeds received datagrams to the client, runs its timers, sends what it
    /// asks and reconfigures the interface on lease changes. Returns the
    /// events applied (for logging) through `observe`, and the next deadline.
    public func poll(now: UInt64, observe: (DHCPEvent) -> Void = { _ in }) -> UInt64? {
        while true {
            let received: UDPReceived? = buffer.withUnsafeMutableBytes { socket.receive(into: $0) }
            guard let received else { break }
            // A datagram larger than our buffer is no message of ours.
            guard received.length == received.datagramLength else { continue }
            buffer.withUnsafeBytes { client.receive(UnsafeRawBufferPointer(rebasing: $0[0..<received.length]),
                                                    from: received.source, now: now) }
        }
        let next = client.poll(now: now)
        while let event = client.takeEvent() {
            switch event {
            case .bound(let lease): interface.reconfigure(ipv4: lease.ipv4, now: now)
            case .renewed: break
            case .lost: interface.reconfigure(ipv4: .unconfigured, now: now)
            }
            observe(event)
        }
        if let datagram = client.takeDatagram() {
            // A full queue or a missing route loses this try; the retransmission timer covers it.
            datagram.payload.withUnsafeBytes { bytes in
                do throws(SendError) {
                    try interface.send(socket, to: datagram.destination, payload: bytes, now: now)
                } catch {}
            }
        }
        return next
    }
}
