// The sans-IO network interface: one Ethernet link with one IPv4 address.
// The caller owns all I/O and time:
//   - `receive(frame:now:)` takes one inbound frame (its buffer is only read
//     during the call);
//   - outbound frames wait in a bounded transmit queue that the driver
//     drains with `transmit(_:)` (NetworkDevice.transmit per frame; a busy
//     device leaves the rest queued). With `tcpSegmentation` (a device that
//     cuts TCP segments, NetworkOffloads) a frame may carry many MSS of TCP
//     data: `transmit` then names the segment size;
//   - frames the device vouches for skip the TCP/UDP checksum check
//     (`receive(frame:now:checksumTrusted:)`), which offloads need;
//   - `poll(now:)` runs the timers (ARP retries and failures, reassembly
//     timeouts, TCP) and sends what TCP connections have queued, and
//     returns the next deadline for the scheduler's sleep.
// Time is monotonic nanoseconds from the caller, never read here. The input
// path is in InterfaceInput.swift, the output path in InterfaceOutput.swift.
// The address may change (`reconfigure`, for DHCP) or be absent
// (`IPv4Configuration.unconfigured`: we send from 0.0.0.0 and take only
// broadcasts, which is what a DHCP client needs).
// Limits: one interface, one address, no forwarding (a host: RFC 1122), no
// loopback delivery to our own address, no IP options on output.
// Tests: Tests/NetTests/LinkTests.swift (two interfaces over a faulty link), ARPTests.swift.

public struct InterfaceLimits {
    /// Frames waiting for the device.
    public var transmitQueueFrames = 64
    public var arpCacheEntries = 64
    public var arpEntryLifetime: UInt64 = 60 * Interface.second
    public var arpRequestInterval: UInt64 = 1 * Interface.second
    /// Requests per resolution before giving up.
    public var arpRequestAttempts = 3
    /// Frames waiting for resolution (all next hops together).
    public var arpPendingFrames = 16
    /// Bytes held by incomplete datagrams (payload plus 64 per fragment).
    public var reassemblyBudget = 256 * 1024
    public var reassemblyDatagrams = 16
    public var reassemblyTimeout: UInt64 = 30 * Interface.second
    public var udpSockets = 64
    public var udpReceiveQueueBytes = 128 * 1024
    public var udpReceiveQueueDatagrams = 64
    public var echoReplyQueueBytes = 16 * 1024
    public var echoReplyQueuePackets = 16
    /// ICMP errors we send per second (RFC 1812 §4.3.2.8's rate limit).
    public var icmpErrorsPerSecond = 10
    public var tcp = TCPSettings()

    public init() {}
}

public struct InterfaceConfiguration {
    public var mac: EthernetAddress
    /// The IPv4 MTU (the largest IP datagram in one frame), 68...65535.
    public var mtu: Int
    public var ipv4: IPv4Configuration
    public var limits: InterfaceLimits
    /// The largest frame the device cuts into TCP segments (0: it cannot):
    /// TCP then queues up to that much new data as one frame.
    public var tcpSegmentation: Int

    public init(mac: EthernetAddress, mtu: Int = 1500, ipv4: IPv4Configuration, limits: InterfaceLimits = .init(),
                tcpSegmentation: Int = 0) {
        self.mac = mac
        self.mtu = mtu
        self.ipv4 = ipv4
        self.limits = limits
        self.tcpSegmentation = tcpSegmentation
    }
}

/// An echo reply received for a request we sent (`Interface.sendEchoRequest`).
public struct EchoReply: Equatable {
    public var source: IPv4Address
    public var identifier: UInt16
    public var sequence: UInt16
    /// Bytes of echo data copied into the caller's buffer.
    public var length: Int
}

public final class Interface {
    public static let second: UInt64 = 1_000_000_000

    public private(set) var configuration: InterfaceConfiguration
    public internal(set) var counters = InterfaceCounters()
    /// Sees every frame received and every frame queued (a PcapWriter, for example).
    public var tap: (any FrameTap)?

    /// Frames for the device, each with its TCP segment size (0: an ordinary frame).
    let transmitQueue: PacketQueue<Int>
    var arp: ARPCache
    let pending: ARPPendingFrames
    let reassembler: Reassembler
    var udp: UDPSocketTable
    var tcp: TCPTable
    let echoReplies: PacketQueue<EchoReply>
    var icmpLimiter: RateLimiter
    var nextIdentification: UInt16 = 1
    /// Where fragmented datagrams are built before being cut (allocated at first use).
    var fragmentScratch: UnsafeMutableRawBufferPointer?

    public init(configuration: InterfaceConfiguration) throws(ConfigurationError) {
        guard configuration.mtu >= 68 && configuration.mtu <= IPv4Header.maximumDatagram else { throw .invalidMTU }
        self.configuration = configuration
        let limits = configuration.limits
        let frameSize = configuration.mtu + EthernetHeader.length
        // One extra frame of slack: a queue below its frame limit always has room (see PacketQueue).
        // Segmentation adds room for one large frame (TCP sizes its frames to what fits).
        transmitQueue = PacketQueue(byteCapacity: (limits.transmitQueueFrames + 1) * frameSize
                                        + min(configuration.tcpSegmentation, EthernetHeader.length + IPv4Header.maximumDatagram),
                                    maxPackets: limits.transmitQueueFrames)
        arp = ARPCache(capacity: limits.arpCacheEntries, lifetime: limits.arpEntryLifetime,
                       requestInterval: limits.arpRequestInterval, requestAttempts: limits.arpRequestAttempts)
        pending = ARPPendingFrames(frames: limits.arpPendingFrames, frameSize: frameSize)
        reassembler = Reassembler(budget: limits.reassemblyBudget, maxDatagrams: limits.reassemblyDatagrams,
                                  timeout: limits.reassemblyTimeout)
        udp = UDPSocketTable(limit: limits.udpSockets)
        tcp = TCPTable(settings: limits.tcp)
        echoReplies = PacketQueue(byteCapacity: limits.echoReplyQueueBytes, maxPackets: limits.echoReplyQueuePackets)
        icmpLimiter = RateLimiter(perSecond: limits.icmpErrorsPerSecond)
    }

    deinit { fragmentScratch?.deallocate() }

    public var mac: EthernetAddress { configuration.mac }
    public var address: IPv4Address { configuration.ipv4.address }
    public var network: IPv4Network { configuration.ipv4.network }
    public var mtu: Int { configuration.mtu }

    // MARK: time

    /// Runs what is due at `now`; returns when to call again (nil: nothing scheduled,
    /// wait for a frame). Call it also after `receive` and sends, which may start timers.
    public func poll(now: UInt64) -> UInt64? {
        while let event = arp.nextEvent(now: now) {
            switch event {
            case .retry(let address):
                sendARP(.request, to: .broadcast, address: address, now: now)
            case .failed(let address):
                let dropped = pending.release(nextHop: address) { _ in }
                counters.drops.count(.arpResolutionFailed, dropped)
            }
        }
        reassembler.expire(now: now, drops: &counters.drops)
        let tcpDeadline = tcpPoll(now: now)
        return earliest(earliest(arp.deadline, reassembler.deadline), tcpDeadline)
    }

    /// Takes a new address (a DHCP lease, or `.unconfigured` when it is lost).
    /// With the same address and network only the gateway changes. Otherwise
    /// the ARP cache and the frames waiting for it go (they carry the old
    /// source), TCP connections from the old address end with `.aborted`
    /// (no RST: the address is no longer ours to send from), listeners and
    /// UDP sockets stay bound (they are per port and send from the new
    /// address), and a new address is announced by gratuitous ARP.
    public func reconfigure(ipv4: IPv4Configuration, now: UInt64) {
        let old = configuration.ipv4
        configuration.ipv4 = ipv4
        guard ipv4.address != old.address || ipv4.network != old.network else { return }
        for entry in arp.entries {
            counters.drops.count(.arpResolutionFailed, pending.release(nextHop: entry.address) { _ in })
        }
        let limits = configuration.limits
        arp = ARPCache(capacity: limits.arpCacheEntries, lifetime: limits.arpEntryLifetime,
                       requestInterval: limits.arpRequestInterval, requestAttempts: limits.arpRequestAttempts)
        for connection in tcp.connections where connection.local.address != ipv4.address {
            connection.enterClosed(error: .aborted)
        }
        if ipv4.isConfigured { announce(now: now) }
    }

    // MARK: the device side

    /// Frames waiting for the device.
    public var queuedFrames: Int { transmitQueue.count }

    /// Hands queued frames to `send` in order with their TCP segment size
    /// (0: an ordinary frame; see `InterfaceConfiguration.tcpSegmentation`),
    /// removing each that it accepts; stops at the first it refuses (device
    /// busy). Returns how many went.
    @discardableResult
    public func transmit(_ send: (UnsafeRawBufferPointer, Int) -> Bool) -> Int {
        var sent = 0
        while transmitQueue.withFirst({ segmentSize, frame in send(frame, segmentSize) }) == true {
            transmitQueue.removeFirst()
            sent += 1
        }
        return sent
    }

    /// The same for a link without TCP segmentation.
    @discardableResult
    public func transmit(_ send: (UnsafeRawBufferPointer) -> Bool) -> Int {
        precondition(configuration.tcpSegmentation == 0, "this link segments TCP: use transmit { frame, segmentSize in }")
        return transmit { frame, _ in send(frame) }
    }

    // MARK: UDP

    /// Binds `port` (0: a free ephemeral port).
    public func bindUDP(port: UInt16 = 0) throws(SocketError) -> UDPSocket {
        try udp.bind(port: port, queueBytes: configuration.limits.udpReceiveQueueBytes,
                     queueDatagrams: configuration.limits.udpReceiveQueueDatagrams)
    }

    public func close(_ socket: UDPSocket) { udp.close(socket) }

    // MARK: ICMP echo

    /// Takes the oldest echo reply, copying its data into `buffer`.
    public func receiveEchoReply(into buffer: UnsafeMutableRawBufferPointer) -> EchoReply? {
        let reply = echoReplies.withFirst { info, data -> EchoReply in
            var reply = info
            reply.length = min(data.count, buffer.count)
            buffer.copy(data.slice(0..<reply.length), to: 0)
            return reply
        }
        echoReplies.removeFirst()
        return reply
    }
}

/// At most `perSecond` events in any window of one second starting at the first.
struct RateLimiter {
    let perSecond: Int
    private var windowStart: UInt64 = 0
    private var used = 0
    private var started = false

    init(perSecond: Int) { self.perSecond = perSecond }

    mutating func allow(now: UInt64) -> Bool {
        if !started || now < windowStart || now - windowStart >= Interface.second {
            started = true
            windowStart = now
            used = 0
        }
        guard used < perSecond else { return false }
        used += 1
        return true
    }
}
