// Time-based loss detection for the sender: RACK-TLP (RFC 8985), on when
// SACK is (TCPSettings.rack). It finds the losses the duplicate-ACK rules
// in TCPCongestion.swift cannot see without a timeout - lost
// retransmissions, losses with fewer than three segments SACKed above them,
// tail losses - from a log of what was sent when:
//   - TCPSentLog: one record per segment in flight (range, send time, flags),
//     a ring allocated once from the send buffer and MSS. When a burst of
//     small segments fills it, the newest record grows instead (its send
//     time moves up, which only makes detection later, never spurious).
//   - RACK (§6): each ACK, the most recently sent segment it delivers
//     (cumulatively or by SACK; retransmissions only when the timestamp echo
//     or an RTT below min_RTT shows the ACK is not for the original) sets
//     RACK.xmit_ts/end_seq/rtt; anything not SACKed sent before it is lost
//     once RACK.rtt + reo_wnd has passed since it left, a timer covers the
//     rest. reo_wnd is min_RTT/4 (0 in recovery until reordering is seen,
//     §6.2 step 4), scaled up by D-SACKs and floored at 1 ms, our timer
//     granularity. RFC 6675's IsLost (three segments SACKed above) marks
//     losses too. Lost segments go out within the congestion window
//     (RFC 6675's pipe against cwnd, at least one per ACK that delivers).
//   - TLP (§7): when only the RTO would recover a flight (also in recovery
//     once RACK has nothing pending: see armProbe), a probe at
//     PTO = 2 SRTT (+ max ACK delay for a one-segment flight), clamped to
//     at least minimumProbeTimeout and before the RTO (else the RTO is
//     left alone): one new segment if the peer's window allows, else the
//     last segment not SACKed again; one probe per flight. Its ACK
//     (SACK) lets RACK find the tail loss. A probe that repaired a loss
//     halves cwnd (§7.4.2).
// Limits: min_RTT is a running minimum (no window); no PRR; one D-SACK
// step per round trip, reset after 16 recoveries without one.
// Tests: Tests/NetTests/TCPRecoveryTests.swift.

/// One transmitted segment awaiting its acknowledgment.
struct TCPSentSegment {
    static let sacked: UInt8 = 1, lost: UInt8 = 2, retransmitted: UInt8 = 4

    var start: UInt32 = 0
    var end: UInt32 = 0
    /// When it (or its latest retransmission) left.
    var sentAt: UInt64 = 0
    var flags: UInt8 = 0

    var length: Int { end.seqDistance(from: start) }
    func has(_ flag: UInt8) -> Bool { flags & flag != 0 }
}

/// A fixed ring of TCPSentSegment in sequence order, [SND.UNA, SND.MAX) at most.
struct TCPSentLog {
    private var storage: [TCPSentSegment] = []
    private var head = 0
    private(set) var count = 0

    /// Allocates the ring on first use (the MSS is known by then).
    mutating func reserve(_ capacity: Int) {
        if storage.isEmpty { storage = Array(repeating: TCPSentSegment(), count: max(capacity, 2)) }
    }

    subscript(index: Int) -> TCPSentSegment {
        get { storage[slot(index)] }
        set { storage[slot(index)] = newValue }
    }

    private func slot(_ index: Int) -> Int {
        let slot = head + index
        return slot >= storage.count ? slot - storage.count : slot
    }

    /// Records new data [start, end) sent at `now`.
    mutating func append(start: UInt32, end: UInt32, now: UInt64) {
        if count == storage.count {
            guard count > 0 else { return }
            self[count - 1].end = end
            self[count - 1].sentAt = now
            return
        }
        count += 1
        self[count - 1] = TCPSentSegment(start: start, end: end, sentAt: now, flags: 0)
    }

    mutating func removeFirst() {
        head = slot(1)
        count -= 1
    }

    mutating func removeAll() { count = 0 }
}

/// RACK and TLP state (RFC 8985 §6.1, §7.1).
struct RACKState {
    /// The most recently sent segment known delivered, and its RTT.
    var advanced = false
    var xmitTs: UInt64 = 0
    var endSeq: UInt32 = 0
    var rtt: UInt64 = 0
    var minRTT = UInt64.max
    /// The highest end of a delivered segment, and whether one arrived below it (reordering).
    var fack: UInt32 = 0
    var reordering = false
    var reoWndMult: UInt64 = 1
    var reoWndPersist = 0
    var dsackRound: UInt32?
    var reorderDeadline: UInt64?
    // TLP: the timer, and the probe's episode (SND.NXT after it) until an ACK covers it.
    var probeDeadline: UInt64?
    var probeEnd: UInt32?
    var probeRetransmitted = false
    // Counts, for tests and diagnostics.
    var probes = 0
    var timeouts = 0
    var lossesDetected = 0
}

extension TCPConnection {
    var rackOn: Bool { sackOn && settings.rack }

    // MARK: the log

    /// New data [start, end) went out: one record per MSS, so a frame the
    /// device segmented is logged as the segments the peer will see.
    func rackSent(start: UInt32, end: UInt32, now: UInt64) {
        guard rackOn else { return }
        sentLog.reserve(min(settings.sendBuffer / max(sendMSS, 1) + 8, 4096))
        var piece = start
        repeat {
            let next = end.seqDistance(from: piece) > sendMSS ? piece &+ UInt32(sendMSS) : end
            sentLog.append(start: piece, end: next, now: now)
            piece = next
        } while piece != end
    }

    /// [start, end) went out again: its records are in flight anew.
    func rackResent(start: UInt32, end: UInt32, now: UInt64) {
        guard rackOn else { return }
        for index in 0..<sentLog.count {
            var record = sentLog[index]
            if record.start.seqAtOrAfter(end) { break }
            guard record.end.seqAfter(start) else { continue }
            record.sentAt = now
            record.flags = (record.flags & ~TCPSentSegment.lost) | TCPSentSegment.retransmitted
            sentLog[index] = record
        }
    }

    /// After a timeout: SACK information is gone, go-back-N resends everything.
    func rackTimeout() {
        rack.timeouts += 1
        rack.probeDeadline = nil
        rack.probeEnd = nil
        rack.reorderDeadline = nil
        for index in 0..<sentLog.count { sentLog[index].flags &= TCPSentSegment.retransmitted }
    }

    // MARK: RACK on an ACK

    /// RFC 8985 §6.2 steps 1-5 for an acceptable ACK (before SND.UNA moves): delivered
    /// segments update RACK, then losses are marked. True when the ACK delivered something.
    @discardableResult
    func rackAcknowledge(_ ack: UInt32, echo: UInt32?, dsack: Bool, now: UInt64) -> Bool {
        var delivered = false
        while sentLog.count > 0, sentLog[0].end.seqAtOrBefore(ack) {
            if !sentLog[0].has(TCPSentSegment.sacked) { rackDelivered(sentLog[0], echo: echo, now: now) }
            delivered = true
            sentLog.removeFirst()
        }
        if sentLog.count > 0, sentLog[0].start.seqBefore(ack) { sentLog[0].start = ack }
        // SACKed records: both lists are in sequence order.
        let ranges = scoreboard.items
        var next = 0
        for index in 0..<sentLog.count where !ranges.isEmpty {
            let record = sentLog[index]
            while next < ranges.count && ranges[next].end.seqAtOrBefore(record.start) { next += 1 }
            if next == ranges.count { break }
            guard !record.has(TCPSentSegment.sacked), ranges[next].start.seqAtOrBefore(record.start),
                  record.end.seqAtOrBefore(ranges[next].end) else { continue }
            sentLog[index].flags |= TCPSentSegment.sacked
            rackDelivered(record, echo: echo, now: now)
            delivered = true
        }
        // The TLP episode ends when its probe is covered; a retransmitted probe that
        // was not a duplicate (no D-SACK) repaired a loss (§7.4.2).
        if let end = rack.probeEnd, ack.seqAtOrAfter(end) {
            if rack.probeRetransmitted && !dsack && !inRecovery {
                slowStartThreshold = max(congestionWindow / 2, 2 * sendMSS)
                congestionWindow = slowStartThreshold
            }
            rack.probeEnd = nil
        }
        updateReorderingWindow(dsack: dsack)
        rackDetectLoss(now: now)
        return delivered
    }

    /// Step 2 and 3 for one delivered segment.
    private func rackDelivered(_ record: TCPSentSegment, echo: UInt32?, now: UInt64) {
        let rtt = now &- record.sentAt
        if record.has(TCPSentSegment.retransmitted) {
            // Ambiguous: the ACK may be for an earlier transmission (§6.2 step 2).
            if let echo, echo.seqBefore(timestampClock(record.sentAt)) { return }
            if rtt < rack.minRTT { return }
        }
        rack.minRTT = min(rack.minRTT, rtt)
        if !record.has(TCPSentSegment.retransmitted) && record.end.seqBefore(rack.fack) { rack.reordering = true }
        if !rack.advanced || record.end.seqAfter(rack.fack) { rack.fack = record.end }
        if !rack.advanced || sentAfter(record.sentAt, record.end, rack.xmitTs, rack.endSeq) {
            rack.advanced = true
            rack.xmitTs = record.sentAt
            rack.endSeq = record.end
            rack.rtt = rtt
        }
    }

    private func sentAfter(_ t1: UInt64, _ seq1: UInt32, _ t2: UInt64, _ seq2: UInt32) -> Bool {
        t1 > t2 || t1 == t2 && seq1.seqAfter(seq2)
    }

    /// Step 4's D-SACK part: each round trip with a D-SACK widens the window by min_RTT/4.
    private func updateReorderingWindow(dsack: Bool) {
        if let round = rack.dsackRound, sndUna.seqAtOrAfter(round) { rack.dsackRound = nil }
        if dsack && rack.dsackRound == nil {
            rack.dsackRound = sndMax
            rack.reoWndMult = min(rack.reoWndMult + 1, 64)
            rack.reoWndPersist = 16
        }
    }

    /// Called when a recovery ends: after 16 without D-SACKs the window is back to min_RTT/4.
    func rackRecoveryEnded() {
        rack.reoWndPersist -= 1
        if rack.reoWndPersist <= 0 { rack.reoWndMult = 1 }
    }

    /// RACK.reo_wnd (§6.2 step 4), at least 1 ms.
    var reorderingWindow: UInt64 {
        var window: UInt64 = 0
        if rack.reordering || !inRecovery && sackedBytes < 3 * sendMSS {
            let minRTT = rack.minRTT == .max ? 0 : rack.minRTT
            window = min(minRTT / 4 * rack.reoWndMult, rto.smoothed ?? .max)
        }
        return max(window, settings.minimumReorderingWindow)
    }

    /// Step 5: marks what was sent before RACK.xmit_ts and has waited RACK.rtt + reo_wnd as lost,
    /// and arms the reordering timer for the rest; RFC 6675's IsLost marks more.
    func rackDetectLoss(now: UInt64) {
        rack.reorderDeadline = nil
        guard rack.advanced else { return }
        let window = reorderingWindow
        var latest: UInt64 = 0
        var sackedAbove = 0
        var index = sentLog.count
        while index > 0 {
            index -= 1
            let record = sentLog[index]
            if record.has(TCPSentSegment.sacked) { sackedAbove += record.length; continue }
            if record.has(TCPSentSegment.lost) || record.start.seqAtOrAfter(sndNxt) { continue }
            // IsLost counts SACKs of segments sent after the original only: a retransmission is RACK's.
            var lost = sackedAbove >= 3 * sendMSS && !record.has(TCPSentSegment.retransmitted)
            if !lost && sentAfter(rack.xmitTs, rack.endSeq, record.sentAt, record.end) {
                let due = record.sentAt &+ rack.rtt &+ window
                if due <= now { lost = true } else { latest = max(latest, due) }
            }
            if lost {
                sentLog[index].flags |= TCPSentSegment.lost
                rack.lossesDetected += 1
            }
        }
        if latest > 0 { rack.reorderDeadline = latest }
    }

    // MARK: repair

    /// Lost records not yet sent again.
    var hasLost: Bool {
        for index in 0..<sentLog.count where sentLog[index].has(TCPSentSegment.lost) { return true }
        return false
    }

    /// After an ACK or the reordering timer: the first loss starts fast recovery (with the
    /// usual NewReno window, once per window), then lost segments go out.
    func rackRecover(now: UInt64, via interface: Interface, force: Bool) {
        guard rackOn, hasLost else { return }
        if !inRecovery && sndUna.seqAtOrAfter(recover) {
            inRecovery = true
            recover = sndMax
            slowStartThreshold = max(sndMax.seqDistance(from: sndUna) / 2, 2 * sendMSS)
            congestionWindow = slowStartThreshold
            highRetransmitted = sndUna
            rack.probeDeadline = nil
        }
        _ = retransmitLost(now: now, via: interface, limit: Int.max, force: force)
    }

    /// Marks the segment at SND.UNA lost (NewReno's fast retransmit and partial ACKs);
    /// false when the log has no record of it.
    func rackMarkFirstLost(unlessResent: Bool) -> Bool {
        guard sentLog.count > 0, sentLog[0].start == sndUna else { return false }
        if sentLog[0].has(TCPSentSegment.sacked) { return true }
        if unlessResent && sentLog[0].has(TCPSentSegment.retransmitted) { return true }
        sentLog[0].flags |= TCPSentSegment.lost
        return true
    }

    /// Sends up to `limit` lost records again while the pipe (RFC 6675: in flight, neither
    /// SACKed nor lost) stays below cwnd; `force` sends the first regardless. Records at or
    /// beyond SND.NXT are left to go-back-N after a timeout. Returns how many went.
    func retransmitLost(now: UInt64, via interface: Interface, limit: Int, force: Bool) -> Int {
        var pipe = 0
        for index in 0..<sentLog.count {
            let record = sentLog[index]
            if !record.has(TCPSentSegment.sacked) && !record.has(TCPSentSegment.lost) { pipe += record.length }
        }
        var sent = 0
        var index = 0
        while index < sentLog.count && sent < limit {
            let record = sentLog[index]
            index += 1
            guard record.has(TCPSentSegment.lost), record.start.seqBefore(sndNxt) else { continue }
            if !(force && sent == 0) && pipe + record.length > congestionWindow { break }
            var start = record.start
            while start.seqBefore(record.end) {
                let length = min(record.end.seqDistance(from: start), sendMSS)
                guard retransmit(from: start, length: length, now: now, via: interface) else { return sent }
                start = start &+ UInt32(length)
            }
            if record.end.seqAfter(highRetransmitted) { highRetransmitted = record.end }
            pipe += record.length
            sent += 1
        }
        return sent
    }

    /// The reordering timer: segments it waited for are lost now (§6.3).
    func rackReorderTimeout(now: UInt64, via interface: Interface) {
        rack.reorderDeadline = nil
        rackDetectLoss(now: now)
        rackRecover(now: now, via: interface, force: true)
        if rack.probeDeadline == nil { armProbe(now: now) }
    }

    // MARK: TLP

    /// Arms the probe timeout when only the RTO would otherwise recover the flight (§7.2). Also in
    /// recovery when no loss is pending and no segment awaits the reordering timer: a window-limited
    /// recovery sends nothing new after its retransmissions, so without a probe RACK could not
    /// see one of them lost.
    func armProbe(now: UInt64) {
        guard rackOn, sndUna != sndMax, rack.probeEnd == nil, rack.reorderDeadline == nil, !hasLost,
              persistDeadline == nil, let rtoAt = retransmitDeadline else {
            rack.probeDeadline = nil
            return
        }
        var timeout: UInt64 = Interface.second
        if let srtt = rto.smoothed {
            timeout = 2 * srtt
            if sndMax.seqDistance(from: sndUna) <= sendMSS { timeout += settings.maximumACKDelay }
        }
        let probeAt = now &+ max(timeout, settings.minimumProbeTimeout)
        // A probe no sooner than the RTO would only put the RTO off: leave it to the RTO.
        rack.probeDeadline = probeAt < rtoAt ? probeAt : nil
    }

    /// The probe timeout (§7.3): one new segment if the peer's window takes it, else the last again.
    func sendProbe(now: UInt64, via interface: Interface) {
        rack.probeDeadline = nil
        guard rackOn, sndUna != sndMax else { return }
        var last = sentLog.count - 1
        while last > 0 && sentLog[last].has(TCPSentSegment.sacked) { last -= 1 }
        if sndNxt == sndMax && sendOneSegment(now: now, via: interface, probe: true) {
            rack.probeRetransmitted = false
        } else if last >= 0 {
            // The highest segment not SACKed: the last one sent, unless the peer has it.
            let last = sentLog[last]
            let start = last.length > sendMSS ? last.end &- UInt32(sendMSS) : last.start
            // A FIN in the record rides along when the data reaches it (retransmit adds it).
            guard retransmit(from: start, length: last.end.seqDistance(from: start), now: now, via: interface)
            else { return }
            rack.probeRetransmitted = true
        } else {
            return
        }
        rack.probes += 1
        rack.probeEnd = sndMax
        retransmitDeadline = now &+ rto.timeout
    }
}
