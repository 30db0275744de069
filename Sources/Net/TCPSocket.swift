// TCP on the interface: settings, listeners with a bounded backlog, the
// connection table, demultiplexing of arriving segments, RSTs for segments
// that find no connection (RFC 9293 §3.10.7.1), rate-limited challenge
// ACKs (RFC 5961 §7), and the one place segments are framed and queued.
// Backlog policy: a SYN that finds the listener's backlog full (half-open
// plus not yet accepted connections) is dropped and counted, not reset, so
// the client's SYN retransmission tries again later (like Linux).
// Limits: one address; ports bind our address only; linear lookup (the
// table is small and bounded by TCPSettings.connections).
// Tests: Tests/NetTests/TCPStateTests.swift, TCPLinkTests.swift.

public struct TCPSettings {
    /// Open connections (all states, TIME-WAIT included) and listeners together.
    public var connections = 64
    public var sendBuffer = 64 * 1024
    /// Beyond 65535 bytes only with a peer that does window scaling (then up to 2^30).
    public var receiveBuffer = 65535
    /// Holes the receiver keeps track of (out-of-order segments beyond them are dropped).
    public var outOfOrderRanges = 8
    public var maximumBacklog = 128
    public var initialRTO: UInt64 = 1 * Interface.second
    /// 200 ms, like Linux (TCP_RTO_MIN) and most stacks, in place of RFC 6298
    /// §2.4's conservative 1 s: a retransmission lost on a LAN stalls the
    /// connection for this long.
    public var minimumRTO: UInt64 = 200 * Interface.second / 1000
    public var maximumRTO: UInt64 = 60 * Interface.second
    /// Retransmissions of a SYN or SYN-ACK before giving up.
    public var synRetries = 6
    /// Retransmissions of data or FIN before giving up.
    public var dataRetries = 10
    /// 2 MSL (MSL 30 s); also how long an orphaned FIN-WAIT-2 waits for the peer's FIN.
    public var timeWait: UInt64 = 60 * Interface.second
    public var delayedACK: UInt64 = 40 * Interface.second / 1000
    public var challengeACKsPerSecond = 10
    /// RFC 7323 options, offered on active opens and accepted on passive ones.
    public var windowScaling = true
    public var timestamps = true
    /// RFC 2018 selective acknowledgments, offered and accepted like the RFC 7323 options.
    public var selectiveAcknowledgments = true
    /// SACKed ranges the sender remembers.
    public var sackScoreboardRanges = 8
    /// RACK-TLP loss detection (RFC 8985) on connections that negotiated SACK.
    public var rack = true
    /// The least reordering window RACK waits beyond an RTT before calling a segment lost.
    public var minimumReorderingWindow: UInt64 = 1 * Interface.second / 1000
    /// Tail loss probe timeout bounds: the least PTO, and the peer's delayed ACK allowed
    /// for when one segment is in flight (Linux delays an ACK 40 ms at first).
    public var minimumProbeTimeout: UInt64 = 10 * Interface.second / 1000
    public var maximumACKDelay: UInt64 = 40 * Interface.second / 1000
    /// Keep-alive (RFC 1122 §4.2.3.6, off unless a connection asks): idle time before the
    /// first probe, time between unanswered probes, and how many go unanswered before giving up.
    public var keepAliveIdle: UInt64 = 7200 * Interface.second
    public var keepAliveInterval: UInt64 = 75 * Interface.second
    public var keepAliveProbes = 9
    /// At most one answer per interval to segments without data outside the window, so
    /// two stacks cannot trade ACKs forever (like Linux's tcp_invalid_ratelimit).
    public var outOfWindowAckInterval: UInt64 = 500 * Interface.second / 1000
    /// The key for initial sequence numbers (RFC 6528): give it random bits.
    public var secret: (UInt64, UInt64) = (0, 0)

    public init() {}
}

public enum TCPSocketError: Error, Equatable {
    case addressInUse
    case noFreePort
    case tooManyConnections
    case invalidPort
    /// Our own address, broadcast, multicast or unspecified.
    case invalidAddress
}

/// A passive open: SYNs to `port` create connections that `accept` hands out once established.
public final class TCPListener {
    public let port: UInt16
    public let backlog: Int
    public internal(set) var isOpen = true
    /// Half-open and established connections not yet accepted, oldest first.
    var pending: [TCPConnection] = []

    init(port: UInt16, backlog: Int) {
        self.port = port
        self.backlog = backlog
        pending.reserveCapacity(backlog)
    }

    /// The oldest established connection, or nil when none is ready.
    public func accept() -> TCPConnection? {
        pending.removeAll { $0.state == .closed }
        guard let index = pending.firstIndex(where: { $0.state != .synReceived }) else { return nil }
        let connection = pending.remove(at: index)
        connection.listenerPort = nil
        return connection
    }

    /// Stops listening; connections not yet accepted are reset.
    public func close() {
        isOpen = false
        for connection in pending { connection.abort() }
        pending.removeAll()
    }

    /// True when another SYN may start a connection (closed ones no longer count).
    func hasRoom() -> Bool {
        pending.removeAll { $0.state == .closed }
        return pending.count < backlog
    }
}

struct TCPTable {
    static let ephemeralPorts: ClosedRange<UInt16> = 49152...65535
    var connections: [TCPConnection] = []
    var listeners: [TCPListener] = []
    var nextEphemeral = TCPTable.ephemeralPorts.lowerBound
    let isn: ISNGenerator
    var challengeLimiter: RateLimiter

    init(settings: TCPSettings) {
        isn = ISNGenerator(key0: settings.secret.0, key1: settings.secret.1)
        challengeLimiter = RateLimiter(perSecond: settings.challengeACKsPerSecond)
        connections.reserveCapacity(settings.connections)
    }

    func connection(local: UInt16, remote: IPv4Endpoint) -> TCPConnection? {
        connections.first { $0.local.port == local && $0.remote == remote && $0.state != .closed }
    }

    func listener(port: UInt16) -> TCPListener? { listeners.first { $0.port == port && $0.isOpen } }

    func portInUse(_ port: UInt16) -> Bool {
        listener(port: port) != nil || connections.contains { $0.local.port == port }
    }
}

extension Interface {
    var tcpSettings: TCPSettings { configuration.limits.tcp }
    /// The MSS we offer: what fits one IPv4 datagram of our MTU.
    var tcpMSS: Int { mtu - IPv4Header.minimumLength - TCPHeader.minimumLength }

    // MARK: the application's side

    /// Listens on `port`; at most `backlog` connections wait for `accept` (capped by TCPSettings.maximumBacklog).
    public func listen(port: UInt16, backlog: Int = 16) throws(TCPSocketError) -> TCPListener {
        guard port != 0 else { throw .invalidPort }
        guard tcp.listener(port: port) == nil else { throw .addressInUse }
        guard tcp.listeners.count + tcp.connections.count < tcpSettings.connections else { throw .tooManyConnections }
        tcp.listeners.removeAll { !$0.isOpen }
        let listener = TCPListener(port: port, backlog: max(1, min(backlog, tcpSettings.maximumBacklog)))
        tcp.listeners.append(listener)
        return listener
    }

    /// Starts an active open to `remote` from `port` (0: an ephemeral port); the SYN goes out now.
    public func connect(to remote: IPv4Endpoint, from port: UInt16 = 0, now: UInt64) throws(TCPSocketError) -> TCPConnection {
        guard remote.port != 0 else { throw .invalidPort }
        guard !remote.address.isUnspecified, !remote.address.isBroadcast, !remote.address.isMulticast,
              remote.address != address, remote.address != network.broadcast else { throw .invalidAddress }
        guard tcp.listeners.count + tcp.connections.count < tcpSettings.connections else { throw .tooManyConnections }
        let localPort = port == 0 ? try ephemeralPort(remote: remote) : port
        guard tcp.connection(local: localPort, remote: remote) == nil else { throw .addressInUse }
        let local = IPv4Endpoint(address: address, port: localPort)
        let connection = TCPConnection(local: local, remote: remote,
                                       iss: tcp.isn.isn(local: local, remote: remote, now: now),
                                       state: .synSent, mss: tcpMSS, settings: tcpSettings)
        tcp.connections.append(connection)
        connection.output(now: now, via: self)
        return connection
    }

    private func ephemeralPort(remote: IPv4Endpoint) throws(TCPSocketError) -> UInt16 {
        let range = TCPTable.ephemeralPorts
        for _ in 0..<range.count {
            let candidate = tcp.nextEphemeral
            tcp.nextEphemeral = candidate == range.upperBound ? range.lowerBound : candidate + 1
            if !tcp.portInUse(candidate) { return candidate }
        }
        throw .noFreePort
    }

    /// Connections in the table (every state but CLOSED, with those not yet accepted).
    public var tcpConnectionCount: Int { tcp.connections.count }

    // MARK: time

    /// Runs every connection's timers and output; drops finished connections. Returns the next deadline.
    func tcpPoll(now: UInt64) -> UInt64? {
        var next: UInt64?
        for connection in tcp.connections {
            connection.expire(now: now, via: self)
            if connection.state == .closed && connection.resetPending {
                connection.resetPending = false
                tcpReset(to: connection.remote, from: connection.local, sequence: connection.sndMax,
                         acknowledging: nil, now: now)
            }
            next = earliest(next, connection.deadline)
        }
        tcp.connections.removeAll { $0.state == .closed }
        tcp.listeners.removeAll { !$0.isOpen }
        return next
    }

    // MARK: input

    func tcpInput(_ ip: IPv4Header, _ bytes: UnsafeRawBufferPointer, broadcast: Bool, checksumTrusted: Bool,
                  now: UInt64) throws(DropReason) {
        let header = try TCPHeader.parse(bytes, source: ip.source, destination: ip.destination,
                                         checksumTrusted: checksumTrusted)
        // TCP is unicast only (RFC 1122 §4.2.3.10): no answer either.
        guard !broadcast else { throw .tcpBroadcast }
        counters.tcpSegmentsReceived &+= 1
        let data = bytes.dropping(header.headerLength)
        let remote = IPv4Endpoint(address: ip.source, port: header.sourcePort)
        if let connection = tcp.connection(local: header.destinationPort, remote: remote) {
            return try connection.input(header, data, now: now, via: self)
        }
        if let listener = tcp.listener(port: header.destinationPort) {
            return try listenInput(listener, header, data, remote: remote, now: now)
        }
        try closedInput(header, dataLength: data.count, remote: remote, now: now)
    }

    /// RFC 9293 §3.10.7.2: a listener takes a SYN; an ACK gets a RST; anything else is dropped.
    private func listenInput(_ listener: TCPListener, _ header: TCPHeader, _ data: UnsafeRawBufferPointer,
                             remote: IPv4Endpoint, now: UInt64) throws(DropReason) {
        let flags = header.flags
        if flags.contains(.rst) { throw .tcpIgnored }
        let local = IPv4Endpoint(address: address, port: listener.port)
        if flags.contains(.ack) {
            tcpReset(to: remote, from: local, sequence: header.acknowledgmentNumber, acknowledging: nil, now: now)
            throw .tcpNoConnection
        }
        guard flags.contains(.syn) else { throw .tcpIgnored }
        guard listener.hasRoom() else { throw .tcpBacklogFull }
        guard tcp.listeners.count + tcp.connections.count < tcpSettings.connections else { throw .tcpBacklogFull }
        let connection = TCPConnection(local: local, remote: remote,
                                       iss: tcp.isn.isn(local: local, remote: remote, now: now),
                                       state: .synReceived, mss: tcpMSS, settings: tcpSettings)
        connection.listenerPort = listener.port
        connection.irs = header.sequenceNumber
        connection.rcvNxt = header.sequenceNumber &+ 1
        connection.rcvEdge = connection.rcvNxt
        connection.sndWl1 = header.sequenceNumber
        connection.negotiate(header.options)
        connection.sndWnd = connection.peerWindow(header)
        tcp.connections.append(connection)
        listener.pending.append(connection)
        // Data on the SYN is not kept (the peer sends it again after the handshake).
        connection.output(now: now, via: self)
    }

    /// No connection: RST unless the segment is a RST (RFC 9293 §3.10.7.1).
    private func closedInput(_ header: TCPHeader, dataLength: Int, remote: IPv4Endpoint,
                             now: UInt64) throws(DropReason) {
        guard !header.flags.contains(.rst) else { throw .tcpNoConnection }
        let local = IPv4Endpoint(address: address, port: header.destinationPort)
        if header.flags.contains(.ack) {
            tcpReset(to: remote, from: local, sequence: header.acknowledgmentNumber, acknowledging: nil, now: now)
        } else {
            let length = dataLength + (header.flags.contains(.syn) ? 1 : 0) + (header.flags.contains(.fin) ? 1 : 0)
            tcpReset(to: remote, from: local, sequence: 0,
                     acknowledging: header.sequenceNumber &+ UInt32(length), now: now)
        }
        throw .tcpNoConnection
    }

    // MARK: output

    /// Frames and queues one segment whose data is `length` bytes at `offset` in `data`.
    /// Queues one segment; with `segmentSize` > 0 a frame the device cuts
    /// into segments of that much data (TCP segmentation offload).
    func transmitTCP(_ header: TCPHeader, to destination: IPv4Address, data: ByteRing, offset: Int, length: Int,
                     segmentSize: Int = 0, now: UInt64) -> Bool {
        let headerLength = header.headerLength
        let total = headerLength + length
        let source = address
        do throws(SendError) {
            try sendIPv4(to: destination, protocol: IPProtocol.tcp, payloadLength: total, segmentSize: segmentSize,
                         now: now) { segment in
                if length > 0 { data.copy(from: offset, into: segment.slice(headerLength..<total)) }
                header.emit(into: segment, source: source, destination: destination, partialChecksum: segmentSize > 0)
            }
        } catch {
            return false
        }
        counters.tcpSegmentsSent &+= segmentSize > 0 ? UInt64((length + segmentSize - 1) / segmentSize) : 1
        return true
    }

    /// A RST with `sequence`, and an ACK of `acknowledging` when given.
    func tcpReset(to remote: IPv4Endpoint, from local: IPv4Endpoint, sequence: UInt32, acknowledging: UInt32?,
                  now: UInt64) {
        let header = TCPHeader(sourcePort: local.port, destinationPort: remote.port, sequenceNumber: sequence,
                               acknowledgmentNumber: acknowledging ?? 0,
                               flags: acknowledging == nil ? .rst : [.rst, .ack], window: 0)
        let source = address
        do throws(SendError) {
            try sendIPv4(to: remote.address, protocol: IPProtocol.tcp, payloadLength: header.headerLength,
                         now: now) { header.emit(into: $0, source: source, destination: remote.address) }
            counters.tcpResetsSent &+= 1
        } catch {
            // Best effort: the peer will send again and meet another RST.
        }
    }

    /// An ACK that asks the peer to prove it is in the window (RFC 5961 §3.2), rate-limited (§7).
    func tcpChallengeACK(_ connection: TCPConnection, now: UInt64) {
        guard tcp.challengeLimiter.allow(now: now) else {
            counters.drops.count(.tcpChallengeRateLimited)
            return
        }
        counters.tcpChallengeACKs &+= 1
        connection.sendACK(now: now, via: self)
    }
}
