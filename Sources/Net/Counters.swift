// Why packets are dropped, and how many were. The parsers throw a DropReason
// (the exact reason a packet cannot be used), so the counter an input path
// bumps is always the parser's own verdict, never a second mapping.
// Limits: counters wrap at 2^64; they are statistics, not flow control.
// Tests: every test reads them; FuzzTests.swift checks that all input is counted.

public enum DropReason: Int, Error, CaseIterable {
    // Ethernet
    case ethernetTruncated, ethernetNotForUs, ethernetVLAN, ethernetUnknownType
    // ARP
    case arpTruncated, arpUnsupported, arpNotForUs, arpAddressConflict
    case arpResolutionFailed, arpQueueFull, arpCacheFull
    // IPv4
    case ipv4Truncated, ipv4Version, ipv4HeaderLength, ipv4TotalLength, ipv4Checksum
    case ipv4BadSource, ipv4NotForUs, ipv4UnknownProtocol
    // Fragments and reassembly
    case fragmentMalformed, fragmentOversize, fragmentOverlap, fragmentDuplicate
    case reassemblyTimeout, reassemblyBudget, reassemblyEvicted
    // ICMP
    case icmpTruncated, icmpChecksum, icmpBroadcastEcho, icmpIgnored, icmpQueueFull, icmpRateLimited
    // UDP
    case udpTruncated, udpLength, udpChecksum, udpNoSocket, udpQueueFull
    // TCP: malformed segments
    case tcpTruncated, tcpHeaderLength, tcpChecksum, tcpOptions, tcpBroadcast
    // TCP: segments the state machine refuses (most are answered: RST, ACK or challenge ACK)
    case tcpNoConnection, tcpBacklogFull, tcpUnacceptable, tcpDuplicate, tcpBadAck, tcpChallenged
    case tcpChallengeRateLimited, tcpIgnored, tcpOutOfOrderFull, tcpPAWS
    // Output
    case transmitQueueFull
}

public struct DropCounters {
    private var counts = [UInt64](repeating: 0, count: DropReason.allCases.count)

    public init() {}

    public subscript(reason: DropReason) -> UInt64 { counts[reason.rawValue] }

    public var total: UInt64 { counts.reduce(0, &+) }

    mutating func count(_ reason: DropReason, _ n: Int = 1) {
        counts[reason.rawValue] &+= UInt64(n)
    }
}

public struct InterfaceCounters {
    public internal(set) var framesReceived: UInt64 = 0
    /// Frames put on the transmit queue (what the device is asked to send).
    public internal(set) var framesQueued: UInt64 = 0
    public internal(set) var arpRequestsSent: UInt64 = 0
    public internal(set) var arpRepliesSent: UInt64 = 0
    public internal(set) var datagramsReassembled: UInt64 = 0
    public internal(set) var fragmentsSent: UInt64 = 0
    public internal(set) var echoRequestsAnswered: UInt64 = 0
    public internal(set) var icmpErrorsSent: UInt64 = 0
    public internal(set) var icmpErrorsReceived: UInt64 = 0
    public internal(set) var udpDelivered: UInt64 = 0
    public internal(set) var udpSent: UInt64 = 0
    /// TCP segments that passed the header checks.
    public internal(set) var tcpSegmentsReceived: UInt64 = 0
    public internal(set) var tcpSegmentsSent: UInt64 = 0
    /// Data or FIN segments sent again (after a timeout).
    public internal(set) var tcpRetransmissions: UInt64 = 0
    public internal(set) var tcpResetsSent: UInt64 = 0
    public internal(set) var tcpChallengeACKs: UInt64 = 0
    public internal(set) var tcpWindowProbes: UInt64 = 0
    public internal(set) var tcpKeepAlives: UInt64 = 0
    public internal(set) var drops = DropCounters()

    public init() {}
}
