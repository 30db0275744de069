// One TCP connection: the RFC 9293 state machine (§3.10 event processing)
// over a send ring and a receive ring, sans-IO. The application side
// (`send`, `receive`, `shutdownWrite`, `close`, `abort`) only changes
// buffers and flags; segments go out when the interface calls `output`
// (from `receive(frame:now:)` and `poll(now:)`), timers run in `expire`.
// Implemented: active, passive and simultaneous open; simultaneous close;
// TIME-WAIT; RFC 5961 RST/SYN/ACK checks with challenge ACKs; MSS; window
// scaling, timestamps and PAWS (RFC 7323); RTO with backoff and Karn's rule
// (RFC 6298); congestion control with NewReno (TCPCongestion.swift);
// SACK (RFC 2018) with D-SACK blocks for duplicate data (RFC 2883);
// RACK-TLP loss detection (RFC 8985, TCPRecovery.swift); zero-window
// probes; delayed ACKs (every second segment or after `delayedACK`);
// Nagle (`noDelay` turns it off); keep-alive; go-back-N from SND.UNA
// after a timeout, with out-of-order data kept by the receiver.
// Limits (not yet): urgent data (the pointer is ignored), ICMP errors for
// TCP; data on a SYN and a FIN beyond a hole are dropped (the peer sends
// them again).
// Input is TCPInput.swift, output and timers TCPOutput.swift.
// Tests: Tests/NetTests/TCPStateTests.swift, TCPDataTests.swift, TCPLinkTests.swift,
// TCPScalingTimestampTests.swift, TCPTimerTests.swift, TCPCongestionTests.swift.

public enum TCPState: Equatable {
    case closed, listen, synSent, synReceived, established
    case finWait1, finWait2, closeWait, closing, lastAck, timeWait

    /// Both SYNs have been seen (RFC 9293's synchronized states).
    var isSynchronized: Bool {
        switch self {
        case .closed, .listen, .synSent, .synReceived: return false
        default: return true
        }
    }
}

public enum TCPError: Error, Equatable {
    /// The peer answered our SYN with a reset (nothing listens there).
    case refused
    /// The peer reset the connection.
    case reset
    /// Retransmissions ran out (TCPSettings.synRetries / dataRetries).
    case timedOut
    /// `abort()` was called.
    case aborted
}

public final class TCPConnection {
    public let local: IPv4Endpoint
    public let remote: IPv4Endpoint
    public internal(set) var state: TCPState
    /// Why the connection ended, when it did not end by an orderly close.
    public internal(set) var error: TCPError?
    /// Turns Nagle's algorithm off: small segments go out at once.
    public var noDelay = false
    /// Probes an idle connection (TCPSettings.keepAlive*) and ends it with `.timedOut`
    /// when the peer stops answering. Off by default (RFC 1122 §4.2.3.6).
    public var keepAlive = false

    let settings: TCPSettings
    /// The listener's port for a passive open that has not been accepted yet.
    var listenerPort: UInt16?

    // Send sequence space (RFC 9293 §3.3.1); sndMax is the highest ever sent (sndNxt goes back on timeout).
    let iss: UInt32
    var sndUna: UInt32
    var sndNxt: UInt32
    var sndMax: UInt32
    var sndWnd = 0
    var maxSndWnd = 0
    var sndWl1: UInt32 = 0
    var sndWl2: UInt32 = 0
    /// Data bytes per segment: the smaller MSS, less the timestamp option when it is on.
    var sendMSS: Int
    let receiveMSS: Int
    let sendBuffer: ByteRing
    /// The application shut down writing: a FIN follows the data.
    var finQueued = false
    var congestionWindow: Int
    var slowStartThreshold = Int.max
    // Fast retransmit and NewReno fast recovery (TCPCongestion.swift).
    var duplicateAcks = 0
    var inRecovery = false
    /// The highest sequence number sent when recovery began (RFC 6582's "recover").
    var recover: UInt32 = 0

    // RFC 7323, settled by the SYNs: window shifts each way, timestamps.
    var windowScaling = false
    var sendScale = 0
    var receiveScale = 0
    var timestampsOn = false
    /// TS.Recent: the peer's timestamp to echo.
    var tsRecent: UInt32 = 0
    /// Last.ACK.sent (RFC 7323 §4.3).
    var lastAckSent: UInt32 = 0
    // RFC 2018: on when both SYNs allow it.
    var sackOn = false
    /// Ranges above SND.UNA the peer has selectively acknowledged (sorted, disjoint).
    var scoreboard: SequenceRanges
    /// Where hole retransmissions in this recovery have reached (RFC 6675's HighRxt).
    var highRetransmitted: UInt32 = 0
    /// The start of the latest out-of-order segment: its block goes first (RFC 2018 §4).
    var latestOutOfOrder: UInt32 = 0
    /// Data that arrived again: reported once as a D-SACK block (RFC 2883), which widens the peer's RACK window.
    var duplicateData: (start: UInt32, end: UInt32)?
    // RACK-TLP loss detection (TCPRecovery.swift): what is in flight since when, and RACK's state.
    var sentLog = TCPSentLog()
    var rack = RACKState()

    // Receive sequence space.
    var irs: UInt32 = 0
    var rcvNxt: UInt32 = 0
    /// The right edge last advertised (never moved left, RFC 9293 §3.8.6.2.2).
    var rcvEdge: UInt32 = 0
    var receiveBuffer: TCPReceiveBuffer
    var finReceived = false
    /// The application closed: received data is acknowledged and discarded.
    var userClosed = false

    // Timers (absolute deadlines) and their state.
    var rto: RTOEstimator
    var retransmitDeadline: UInt64?
    var retransmissions = 0
    var persistDeadline: UInt64?
    var persistInterval: UInt64 = 0
    var ackDeadline: UInt64?
    var ackNow = false
    /// Every second segment is acknowledged at the interface's next poll,
    /// not at once: a burst received in one batch gets one ACK (what GRO
    /// gives Linux), halving the frames a bulk receiver sends.
    var ackAtPoll = false
    var segmentsUnacknowledged = 0
    /// TIME-WAIT's end, or an orphaned FIN-WAIT-2's.
    var closeDeadline: UInt64?
    /// The segment being timed (Karn: cleared when anything is retransmitted).
    var timedSequence: UInt32?
    var timedAt: UInt64 = 0
    /// abort() was called in a synchronized state: a RST goes out at the next output.
    var resetPending = false
    /// When the peer was last heard from, and keep-alive probes sent since.
    var lastHeard: UInt64 = 0
    var keepAliveProbesSent = 0
    var keepAliveDeadline: UInt64?
    /// When an unacceptable segment without data was last answered.
    var lastOutOfWindowAnswer: UInt64?

    init(local: IPv4Endpoint, remote: IPv4Endpoint, iss: UInt32, state: TCPState, mss: Int, settings: TCPSettings) {
        self.local = local
        self.remote = remote
        self.iss = iss
        self.state = state
        self.settings = settings
        sndUna = iss
        sndNxt = iss
        sndMax = iss
        sendBase = iss &+ 1
        recover = iss
        scoreboard = SequenceRanges(limit: settings.sackScoreboardRanges)
        receiveMSS = mss
        sendMSS = min(mss, 536)
        congestionWindow = 0
        sendBuffer = ByteRing(capacity: settings.sendBuffer)
        receiveBuffer = TCPReceiveBuffer(capacity: min(settings.receiveBuffer, 65535 << 14),
                                         maxRanges: settings.outOfOrderRanges)
        rto = RTOEstimator(initial: settings.initialRTO, minimum: settings.minimumRTO, maximum: settings.maximumRTO)
        congestionWindow = initialWindow
    }

    /// RFC 5681 §3.1's initial window.
    var initialWindow: Int { sendMSS > 2190 ? 2 * sendMSS : sendMSS > 1095 ? 3 * sendMSS : 4 * sendMSS }

    // MARK: the application's side

    /// Bytes waiting to be read.
    public var available: Int { receiveBuffer.ring.count }
    /// Free space in the send buffer.
    public var sendSpace: Int { finQueued || !canSend ? 0 : sendBuffer.free }
    /// Bytes sent but not yet acknowledged, plus bytes not yet sent.
    public var unacknowledged: Int { sendBuffer.count }

    private var canSend: Bool {
        switch state {
        case .synSent, .synReceived, .established, .closeWait: return true
        default: return false
        }
    }

    /// Copies as much of `bytes` as fits into the send buffer; returns how many
    /// bytes were taken (0 when full, or after shutdownWrite/close/an error).
    /// They go out at the interface's next poll.
    public func send(_ bytes: UnsafeRawBufferPointer) -> Int {
        guard canSend, !finQueued else { return 0 }
        return sendBuffer.append(bytes)
    }

    /// Reads received bytes into `buffer`: the count read (> 0), 0 at the end
    /// of the stream (the peer's FIN, all data read, or the connection ended:
    /// see `error`), nil when nothing is there yet (or `buffer` is empty).
    public func receive(into buffer: UnsafeMutableRawBufferPointer) -> Int? {
        if available > 0 && buffer.count > 0 {
            let n = receiveBuffer.ring.read(into: buffer)
            if windowGrowth >= receiveBuffer.ring.capacity / 2 { ackNow = true }  // window update
            return n
        }
        if available > 0 { return nil }
        if finReceived || state == .closed || userClosed { return 0 }
        return nil
    }

    /// True once no more bytes will arrive (FIN received or the connection ended).
    public var isEndOfStream: Bool { available == 0 && (finReceived || state == .closed) }

    /// Sends a FIN after the queued data (a half close: receiving goes on).
    public func shutdownWrite() {
        guard !finQueued else { return }
        switch state {
        case .synSent:
            enterClosed(error: nil)
        case .synReceived:
            finQueued = true  // becomes FIN-WAIT-1 once established
        case .established:
            finQueued = true
            state = .finWait1
        case .closeWait:
            finQueued = true
            state = .lastAck
        default:
            break
        }
    }

    /// Closes both directions: a FIN after the queued data; unread and later data
    /// is discarded. Unread data at close resets the connection instead (RFC 9293 §3.10.4 allows it; it tells the peer).
    public func close() {
        if available > 0 && state.isSynchronized {
            abort()
            return
        }
        userClosed = true
        shutdownWrite()
    }

    /// Drops the connection at once; the peer gets a RST if it was synchronized.
    public func abort() {
        guard state != .closed else { return }
        resetPending = state == .synReceived || state.isSynchronized && state != .timeWait
        enterClosed(error: .aborted)
    }

    // MARK: sequence space helpers

    /// Sequence number of the first byte in the send buffer (after the SYN);
    /// it stops at the FIN's sequence number once everything is acknowledged.
    var sendBase: UInt32
    var finSequence: UInt32 { sendBase &+ UInt32(sendBuffer.count) }
    var finSent: Bool { finQueued && sndMax.seqAfter(finSequence) }
    var finAcknowledged: Bool { finQueued && sndUna.seqAfter(finSequence) }

    /// The receive window now: up to the edge already promised, or more when
    /// the buffer has opened by enough to be worth it (receiver SWS avoidance).
    var receiveWindow: Int {
        let promised = rcvEdge.seqAfter(rcvNxt) ? rcvEdge.seqDistance(from: rcvNxt) : 0
        return windowGrowth >= min(receiveBuffer.ring.capacity / 2, receiveMSS) ? receiveBuffer.ring.free : promised
    }

    /// How far the window could open beyond the edge already advertised.
    private var windowGrowth: Int {
        let promised = rcvEdge.seqAfter(rcvNxt) ? rcvEdge.seqDistance(from: rcvNxt) : 0
        return receiveBuffer.ring.free - promised
    }

    /// The shift we offer: the smallest that fits the receive buffer in 16 bits (RFC 7323 §2.2).
    var offeredScale: Int {
        var shift = 0
        while shift < 14 && receiveBuffer.ring.capacity >> shift > 65535 { shift += 1 }
        return shift
    }

    /// Our timestamp clock: 1 ms ticks from an offset only this connection uses (RFC 7323 §5.4).
    func timestampClock(_ now: UInt64) -> UInt32 { UInt32(truncatingIfNeeded: now / 1_000_000) &+ iss }

    /// The peer's window in a segment: scaled, except on a SYN (RFC 7323 §2.2).
    func peerWindow(_ header: TCPHeader) -> Int {
        header.flags.contains(.syn) ? Int(header.window) : Int(header.window) << sendScale
    }

    // MARK: state changes

    func enterClosed(error: TCPError?) {
        if self.error == nil { self.error = error }
        state = .closed
        retransmitDeadline = nil
        persistDeadline = nil
        ackDeadline = nil
        closeDeadline = nil
        keepAliveDeadline = nil
        rack.reorderDeadline = nil
        rack.probeDeadline = nil
        ackNow = false
        ackAtPoll = false
    }

    func enterTimeWait(now: UInt64) {
        state = .timeWait
        retransmitDeadline = nil
        persistDeadline = nil
        keepAliveDeadline = nil
        rack.reorderDeadline = nil
        rack.probeDeadline = nil
        closeDeadline = now &+ settings.timeWait
    }

    /// When `expire` next has something to do.
    var deadline: UInt64? {
        earliest(earliest(earliest(retransmitDeadline, persistDeadline), earliest(ackDeadline, closeDeadline)),
                 earliest(earliest(keepAliveDeadline, ackAtPoll ? 0 : nil),
                          earliest(rack.reorderDeadline, rack.probeDeadline)))
    }
}

/// The sooner of two optional deadlines.
func earliest(_ a: UInt64?, _ b: UInt64?) -> UInt64? {
    switch (a, b) {
    case let (a?, b?): return min(a, b)
    case let (a, b): return a ?? b
    }
}
