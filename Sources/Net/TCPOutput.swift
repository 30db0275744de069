// What a connection sends, and its timers. `output` sends everything that
// is due now: the SYN or SYN-ACK, data within min(send window, congestion
// window) cut at the MSS (Nagle holds back a small segment while data is
// unacknowledged), the FIN with or after the last data, a zero-window
// probe, and an ACK when one is owed and no segment carried it.
// `expire` runs the retransmission timer (RFC 6298 §5: back off, resend from
// SND.UNA with cwnd at one segment), the persist timer (a one-byte probe
// into a zero window, backed off up to the maximum RTO, never giving up
// while the peer answers - RFC 9293 §3.8.6.1), the delayed-ACK timer and
// TIME-WAIT's end; RACK's reordering timer and the tail loss probe
// (TCPRecovery.swift). Tests: Tests/NetTests/TCPDataTests.swift, TCPTimerTests.swift.

extension TCPConnection {
    func output(now: UInt64, via interface: Interface) {
        switch state {
        case .closed, .listen:
            return
        case .synSent, .synReceived:
            if sndNxt == iss { sendSYN(now: now, via: interface) }
            if state == .synReceived && ackNow { sendACK(now: now, via: interface) }
            return
        case .timeWait:
            if ackNow { sendACK(now: now, via: interface) }
            return
        default:
            break
        }
        while sendOneSegment(now: now, via: interface) {}
        updatePersist(now: now)
        if ackNow || (ackDeadline.map { now >= $0 } ?? false) { sendACK(now: now, via: interface) }
        updateKeepAlive()
    }

    /// Keep-alive runs while the connection is idle: nothing unacknowledged, nothing to send.
    private func updateKeepAlive() {
        guard keepAlive, state == .established || state == .closeWait, sndUna == sndMax, sendBuffer.count == 0 else {
            keepAliveDeadline = nil
            return
        }
        keepAliveDeadline = lastHeard &+ settings.keepAliveIdle
            &+ UInt64(keepAliveProbesSent) * settings.keepAliveInterval
    }

    /// A probe is a bare ACK one below SND.MAX: outside the peer's window, so it must answer (RFC 1122 §4.2.3.6).
    private func sendKeepAlive(now: UInt64, via interface: Interface) {
        guard keepAliveProbesSent < settings.keepAliveProbes else {
            enterClosed(error: .timedOut)
            resetPending = true
            return
        }
        keepAliveProbesSent += 1
        _ = transmit(sequence: sndMax &- 1, flags: .ack, options: TCPOptions(), dataOffset: 0, length: 0,
                     now: now, via: interface)
        interface.counters.tcpKeepAlives &+= 1
    }

    private func sendSYN(now: UInt64, via interface: Interface) {
        var options = TCPOptions()
        options.maximumSegmentSize = UInt16(truncatingIfNeeded: receiveMSS)
        // An active open offers what the settings allow; a SYN-ACK only answers what the peer offered.
        let active = state == .synSent
        if active ? settings.windowScaling : windowScaling { options.windowScale = UInt8(offeredScale) }
        if active ? settings.selectiveAcknowledgments : sackOn { options.sackPermitted = true }
        if active ? settings.timestamps : timestampsOn {
            options.timestamps = TCPTimestamps(value: timestampClock(now), echoReply: active ? 0 : tsRecent)
        }
        let flags: TCPFlags = active ? .syn : [.syn, .ack]
        guard transmit(sequence: iss, flags: flags, options: options, dataOffset: 0, length: 0,
                       now: now, via: interface) else { return }
        if timedSequence == nil && retransmissions == 0 {
            timedSequence = iss
            timedAt = now
        }
        sndNxt = iss &+ 1
        if sndMax == iss { sndMax = sndNxt }
        if retransmitDeadline == nil { retransmitDeadline = now &+ rto.timeout }
    }

    /// Sends the next data (and/or FIN) segment if the windows, Nagle and the queue allow; false otherwise.
    /// A tail loss probe (TCPRecovery.swift) needs only the peer's window. New data may go as
    /// one frame of whole MSS for a device that segments it (Interface.tcpFrameLimit); what
    /// goes again, and probes, go one MSS at a time.
    func sendOneSegment(now: UInt64, via interface: Interface, probe: Bool = false) -> Bool {
        let offset = sndNxt.seqAfter(sendBase) ? sndNxt.seqDistance(from: sendBase) : 0
        let unsent = max(sendBuffer.count - offset, 0)
        let inFlight = sndNxt.seqDistance(from: sndUna)
        let window = probe ? sndWnd : min(sndWnd, congestionWindow + limitedTransmitAllowance)
        let usable = max(window - inFlight, 0)
        let frameLimit = probe || sndNxt.seqBefore(sndMax) ? sendMSS
            : interface.tcpFrameLimit(mss: sendMSS, to: remote.address, now: now)
        var length = min(unsent, usable, frameLimit)
        // Whole MSS only, except for the last of the data (as without segmentation).
        if length > sendMSS && length < unsent { length -= length % sendMSS }
        // The FIN rides on the last data, or goes alone once all data is out (it needs no window).
        let fin = finQueued && !sndNxt.seqAfter(finSequence) && length == unsent
        guard length > 0 || fin else { return false }
        // Nagle (RFC 9293 §3.7.4): a small segment waits while anything is unacknowledged.
        if length < sendMSS && !fin && !noDelay && inFlight > 0 && !probe { return false }
        var flags: TCPFlags = .ack
        if fin { flags.insert(.fin) }
        if length > 0 && length == unsent { flags.insert(.psh) }
        guard transmit(sequence: sndNxt, flags: flags, options: TCPOptions(), dataOffset: offset, length: length,
                       segmentSize: length > sendMSS ? sendMSS : 0, now: now, via: interface) else { return false }
        let end = sndNxt &+ UInt32(length + (fin ? 1 : 0))
        // Go-back-N after a timeout resends up to SND.MAX, and may carry new data beyond it.
        if sndNxt.seqBefore(sndMax) { rackResent(start: sndNxt, end: end.seqBefore(sndMax) ? end : sndMax, now: now) }
        let isNew = end.seqAfter(sndMax)
        if isNew {
            // New data: time it if nothing is being timed (one sample per round trip).
            if timedSequence == nil && !sndNxt.seqBefore(sndMax) {
                timedSequence = sndNxt
                timedAt = now
            }
            rackSent(start: sndNxt.seqAfter(sndMax) ? sndNxt : sndMax, end: end, now: now)
            sndMax = end
        } else {
            interface.counters.tcpRetransmissions &+= 1
        }
        sndNxt = end
        if retransmitDeadline == nil { retransmitDeadline = now &+ rto.timeout }
        if isNew && !probe { armProbe(now: now) }
        return true
    }

    /// Starts, keeps or stops the persist timer: it runs while data waits behind a zero window with nothing in flight.
    private func updatePersist(now: UInt64) {
        let waiting = sendBuffer.count > (sndNxt.seqAfter(sendBase) ? sndNxt.seqDistance(from: sendBase) : 0)
        if sndWnd == 0 && waiting && sndNxt == sndUna {
            retransmitDeadline = nil
            if persistDeadline == nil {
                persistInterval = rto.timeout
                persistDeadline = now &+ persistInterval
            }
        } else {
            persistDeadline = nil
        }
    }

    /// A bare ACK carries SND.MAX, not SND.NXT: after a timeout rewound SND.NXT,
    /// the peer's RCV.NXT may be past it, and an ACK below RCV.NXT is unacceptable.
    func sendACK(now: UInt64, via interface: Interface) {
        let sequence = state == .synReceived ? iss &+ 1 : sndMax
        _ = transmit(sequence: sequence, flags: .ack, options: TCPOptions(), dataOffset: 0, length: 0,
                     now: now, via: interface)
    }

    /// Builds and queues one segment (with `segmentSize`, a frame the device cuts
    /// into segments); every segment carries our ACK and window, so owed ACKs are paid.
    func transmit(sequence: UInt32, flags: TCPFlags, options: TCPOptions, dataOffset: Int, length: Int,
                  segmentSize: Int = 0, now: UInt64, via interface: Interface) -> Bool {
        var options = options
        if timestampsOn && options.timestamps == nil {
            options.timestamps = TCPTimestamps(value: timestampClock(now), echoReply: tsRecent)
        }
        if sackOn && flags.contains(.ack) && (receiveBuffer.hasOutOfOrder || duplicateData != nil) {
            // Three blocks fit beside a timestamp in 40 option bytes, four without; on a data
            // segment only as many as keep options and data within the MSS (no fragmenting).
            let optionRoom = sendMSS - length - 4
            let limit = min(timestampsOn ? 3 : 4, length > 0 ? max(optionRoom, 0) / 8 : 4)
            if limit > 0 {
                let blocks = receiveBuffer.sackBlocks(first: latestOutOfOrder, limit: limit)
                if let duplicate = duplicateData {
                    // The D-SACK block leads (RFC 2883 §4), then the usual ones.
                    options.sack.append(start: duplicate.start, end: duplicate.end)
                    for index in 0..<min(blocks.count, limit - 1) {
                        options.sack.append(start: blocks[index].start, end: blocks[index].end)
                    }
                } else {
                    options.sack = blocks
                }
            }
        }
        // The window in a SYN is never scaled; elsewhere it is cut to what the field can say.
        let shift = flags.contains(.syn) ? 0 : receiveScale
        let window = min(receiveWindow >> shift, 65535)
        let acking = flags.contains(.ack)
        let header = TCPHeader(sourcePort: local.port, destinationPort: remote.port, sequenceNumber: sequence,
                               acknowledgmentNumber: acking ? rcvNxt : 0, flags: flags,
                               window: UInt16(window), options: options)
        guard interface.transmitTCP(header, to: remote.address, data: sendBuffer, offset: dataOffset,
                                    length: length, segmentSize: segmentSize, now: now) else { return false }
        if acking {
            rcvEdge = rcvNxt &+ UInt32(window << shift)
            lastAckSent = rcvNxt
            ackNow = false
            ackAtPoll = false
            duplicateData = nil
            ackDeadline = nil
            segmentsUnacknowledged = 0
        }
        return true
    }

    // MARK: timers

    /// Runs the timers due at `now` (then `output` sends what they made due).
    func expire(now: UInt64, via interface: Interface) {
        if let deadline = closeDeadline, now >= deadline {
            enterClosed(error: nil)
            return
        }
        if let deadline = rack.probeDeadline, now >= deadline {
            // The probe stands in for the timeout it comes before (or at): RFC 8985 §7.3.
            sendProbe(now: now, via: interface)
        } else if let deadline = retransmitDeadline, now >= deadline {
            retransmitTimeout(now: now)
            if state == .closed { return }
        }
        if let deadline = rack.reorderDeadline, now >= deadline {
            rackReorderTimeout(now: now, via: interface)
        }
        if let deadline = persistDeadline, now >= deadline {
            probeZeroWindow(now: now, via: interface)
        }
        if let deadline = keepAliveDeadline, now >= deadline {
            sendKeepAlive(now: now, via: interface)
            if state == .closed { return }
        }
        if ackAtPoll { ackNow = true }
        output(now: now, via: interface)
    }

    private func retransmitTimeout(now: UInt64) {
        retransmissions += 1
        let limit = state.isSynchronized ? settings.dataRetries : settings.synRetries
        guard retransmissions <= limit else {
            enterClosed(error: .timedOut)
            return
        }
        rto.backOff()
        timedSequence = nil  // Karn: a retransmitted segment gives no sample
        timeoutLoss()
        rackTimeout()
        sndNxt = state == .synSent || state == .synReceived ? iss : sndUna
        retransmitDeadline = now &+ rto.timeout
    }

    private func probeZeroWindow(now: UInt64, via interface: Interface) {
        let offset = sndNxt.seqDistance(from: sendBase)
        if sndWnd == 0 && sendBuffer.count > offset {
            // One byte beyond the window: the peer must answer with its current window.
            if transmit(sequence: sndNxt, flags: .ack, options: TCPOptions(), dataOffset: offset, length: 1,
                        now: now, via: interface) {
                let end = sndNxt &+ 1
                if end.seqAfter(sndMax) {
                    rackSent(start: sndMax, end: end, now: now)
                    sndMax = end
                }
                interface.counters.tcpWindowProbes &+= 1
            }
        }
        persistInterval = min(persistInterval * 2, settings.maximumRTO)
        persistDeadline = now &+ persistInterval
    }
}
