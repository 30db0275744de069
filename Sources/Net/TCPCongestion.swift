// Congestion control for a connection: slow start and congestion avoidance
// (RFC 5681 §3.1), fast retransmit on the third duplicate ACK and NewReno
// fast recovery (RFC 5681 §3.2 with RFC 6582's partial ACKs: each partial
// ACK resends the next hole at once and restarts the retransmission
// timer), and the collapse to one segment after a timeout.
// With SACK (RFC 2018) the scoreboard of what the peer holds steers
// recovery: each duplicate ACK resends the next hole below SACKed data
// (in place of inflating the window), so several holes are repaired in one
// round trip - a simplification of RFC 6675 that keeps NewReno's window
// arithmetic instead of its "pipe". SACK information is dropped after a
// timeout (the receiver may renege, RFC 2018 §8).
// Limited transmit (RFC 3042): the first two duplicate ACKs each let one new
// segment out beyond cwnd, so a small window still gathers three duplicates.
// RACK-TLP (TCPRecovery.swift) adds time-based loss marks; with it on, the
// holes resent here are the ones its sent log holds lost.
// Limits: D-SACK only widens RACK's reordering window; no ECN, no undo of
// spurious retransmissions.
// Tests: Tests/NetTests/TCPCongestionTests.swift, TCPLinkTests.swift.

extension TCPConnection {
    /// RFC 5681 §2's duplicate ACK: nothing new acknowledged, no data, no SYN/FIN,
    /// the same window, and data outstanding. Not with a zero window: those are
    /// answers to window probes, not news of a loss. With SACK, RFC 6675 §2's:
    /// any ACK of SND.UNA whose blocks SACK new data - also one carrying data,
    /// which is every ACK of a busy two-way connection - and not a repeat
    /// whose blocks say nothing new (a duplicated frame is no news of a loss).
    func isDuplicateAck(_ header: TCPHeader, dataLength: Int, newlySACKed: Bool) -> Bool {
        guard header.acknowledgmentNumber == sndUna, sndMax != sndUna else { return false }
        if newlySACKed { return true }
        if sackOn && header.options.sack.count > 0 { return false }
        return dataLength == 0 && !header.flags.contains(.syn) && !header.flags.contains(.fin)
            && peerWindow(header) == sndWnd && sndWnd > 0
    }

    /// Bytes the scoreboard holds as SACKed.
    var sackedBytes: Int { scoreboard.items.reduce(0) { $0 + $1.end.seqDistance(from: $1.start) } }

    /// RFC 3042: room for one new segment per duplicate ACK, for the first two.
    var limitedTransmitAllowance: Int {
        !inRecovery && duplicateAcks > 0 && duplicateAcks < 3 ? duplicateAcks * sendMSS : 0
    }

    func duplicateAck(now: UInt64, via interface: Interface) {
        duplicateAcks += 1
        if inRecovery {
            // Each duplicate: one more segment has left the network. Its room goes to a hole if SACK names one.
            if !retransmitNextHole(now: now, via: interface) { congestionWindow += sendMSS }
            return
        }
        // RFC 6582 §3.2 step 2: no new recovery for losses from before the last one.
        // (`recover` is the next sequence number after the highest sent, so "covers more" is >=.)
        // With SACK, also as soon as SND.UNA counts as lost (RFC 6675 §5: IsLost(HighACK + 1)).
        let lost = duplicateAcks == 3 || sackOn && duplicateAcks > 3 || sackOn && sackedBytes >= 3 * sendMSS
        guard lost, sndUna.seqAtOrAfter(recover) else { return }
        inRecovery = true
        recover = sndMax
        slowStartThreshold = max(sndMax.seqDistance(from: sndUna) / 2, 2 * sendMSS)
        highRetransmitted = sndUna
        retransmitFirst(now: now, via: interface)
        congestionWindow = slowStartThreshold + 3 * sendMSS
    }

    /// Called after `acknowledge` moved SND.UNA by `newlyAcked`.
    func newDataAcknowledged(_ newlyAcked: Int, now: UInt64, via interface: Interface) {
        duplicateAcks = 0
        guard inRecovery else {
            // Slow start below ssthresh, then about one segment per round trip.
            if congestionWindow < slowStartThreshold {
                congestionWindow += min(newlyAcked, sendMSS)
            } else {
                congestionWindow += max(sendMSS * sendMSS / max(congestionWindow, 1), 1)
            }
            congestionWindow = min(congestionWindow, 1 << 30)
            return
        }
        if sndUna.seqAtOrAfter(recover) {
            // A full ACK ends recovery (RFC 6582 §3.2 step 3, the first option).
            inRecovery = false
            congestionWindow = min(slowStartThreshold, max(sndMax.seqDistance(from: sndUna), sendMSS) + sendMSS)
            if rackOn { rackRecoveryEnded() }
            return
        }
        if rackOn && sentLog.count > 0 {
            // RACK finds lost retransmissions itself: only a head never resent is NewReno's loss.
            _ = rackMarkFirstLost(unlessResent: true)
            _ = retransmitLost(now: now, via: interface, limit: 1, force: true)
            congestionWindow = max(congestionWindow - newlyAcked + (newlyAcked >= sendMSS ? sendMSS : 0), sendMSS)
            return
        }
        // A partial ACK: the next hole is lost too. Resend it (restarting the timer each time:
        // RFC 6582 §4's "Slow-but-Steady"), deflate by what left, keep recovering.
        // With SACK, a hole already resent is not sent again: the next one the scoreboard shows is.
        if sackOn && highRetransmitted.seqAfter(sndUna) {
            _ = retransmitNextHole(now: now, via: interface)
        } else {
            retransmitFirst(now: now, via: interface)
        }
        congestionWindow = max(congestionWindow - newlyAcked + (newlyAcked >= sendMSS ? sendMSS : 0), sendMSS)
    }

    /// A timeout ends any recovery: ssthresh from the flight (RFC 5681 equation 4), one segment at a time.
    func timeoutLoss() {
        slowStartThreshold = max(sndMax.seqDistance(from: sndUna) / 2, 2 * sendMSS)
        congestionWindow = sendMSS
        inRecovery = false
        duplicateAcks = 0
        recover = sndMax
        scoreboard.removeAll()
    }

    // MARK: SACK

    /// Takes the peer's blocks that lie within (SND.UNA, SND.MAX]; others are stale or forged.
    /// Returns whether the first block is a D-SACK (RFC 2883 §4: below `ack`, or inside the second).
    @discardableResult
    func updateScoreboard(_ blocks: TCPSACKBlocks, ack: UInt32) -> Bool {
        var dsack = false
        if blocks.count > 0 {
            let first = blocks[0]
            dsack = first.start.seqBefore(first.end) && first.end.seqAtOrBefore(ack)
            if blocks.count > 1 {
                let second = blocks[1]
                dsack = dsack || first.start.seqAtOrAfter(second.start) && first.end.seqAtOrBefore(second.end)
                    && first.start.seqBefore(first.end)
            }
        }
        for index in (dsack ? 1 : 0)..<blocks.count {
            let block = blocks[index]
            guard block.start.seqBefore(block.end), block.start.seqAfter(sndUna),
                  block.end.seqAtOrBefore(sndMax) else { continue }
            _ = scoreboard.add(start: block.start, end: block.end)  // a full scoreboard just knows less
        }
        return dsack
    }

    /// The first unSACKed bytes at or after where retransmission has reached that
    /// count as lost: at least three segments' worth SACKed above them (RFC 6675
    /// §4's IsLost), so a segment merely reordered is not sent twice.
    func nextHole() -> (start: UInt32, length: Int)? {
        var start = highRetransmitted.seqAfter(sndUna) ? highRetransmitted : sndUna
        for (index, range) in scoreboard.items.enumerated() {
            if start.seqBefore(range.start) {
                var sackedAbove = 0
                for later in scoreboard.items[index...] { sackedAbove += later.end.seqDistance(from: later.start) }
                guard sackedAbove >= 3 * sendMSS else { return nil }
                return (start, min(range.start.seqDistance(from: start), sendMSS))
            }
            if start.seqBefore(range.end) { start = range.end }
        }
        return nil
    }

    /// Resends the next hole the scoreboard shows; false when there is none.
    /// With RACK the sent log knows the losses (IsLost included): the first goes.
    func retransmitNextHole(now: UInt64, via interface: Interface) -> Bool {
        if rackOn && sentLog.count > 0 { return retransmitLost(now: now, via: interface, limit: 1, force: true) > 0 }
        guard sackOn, let hole = nextHole() else { return false }
        guard retransmit(from: hole.start, length: hole.length, now: now, via: interface) else { return false }
        highRetransmitted = hole.start &+ UInt32(hole.length)
        return true
    }

    /// Sends the first unacknowledged segment again, leaving SND.NXT where it is.
    func retransmitFirst(now: UInt64, via interface: Interface) {
        if rackOn && rackMarkFirstLost(unlessResent: false) {
            _ = retransmitLost(now: now, via: interface, limit: 1, force: true)
            return
        }
        if retransmit(from: sndUna, length: sendMSS, now: now, via: interface) {
            let end = sndUna &+ UInt32(sendMSS)
            if end.seqAfter(highRetransmitted) { highRetransmitted = end }
        }
    }

    /// Sends up to `length` bytes from `sequence` again (with the FIN if they reach it).
    func retransmit(from sequence: UInt32, length: Int, now: UInt64, via interface: Interface) -> Bool {
        let offset = sequence.seqDistance(from: sendBase)
        let length = min(length, max(sendBuffer.count - offset, 0))
        let fin = finSent && sequence &+ UInt32(length) == finSequence
        guard length > 0 || fin else { return false }
        var flags: TCPFlags = .ack
        if fin { flags.insert(.fin) }
        guard transmit(sequence: sequence, flags: flags, options: TCPOptions(), dataOffset: offset, length: length,
                       now: now, via: interface) else { return false }
        timedSequence = nil  // Karn
        rackResent(start: sequence, end: sequence &+ UInt32(length + (fin ? 1 : 0)), now: now)
        interface.counters.tcpRetransmissions &+= 1
        retransmitDeadline = now &+ rto.timeout
        return true
    }
}
