// A segment arriving on a connection: RFC 9293 §3.10.7 in its steps, one
// function each - SYN-SENT, then for the other states: sequence check and
// trimming, RST (RFC 5961 §3.2), SYN (RFC 5961 §4), ACK (RFC 5961 §5, RTT
// and congestion window), data, FIN. A dropped segment throws its
// DropReason after whatever answer it deserves (an ACK, a challenge ACK, a
// RST) has been arranged; the interface counts it.
// Tests: Tests/NetTests/TCPStateTests.swift, TCPDataTests.swift.

extension TCPConnection {
    /// Processes one segment (checksum and ports already checked), then sends what it made due.
    func input(_ header: TCPHeader, _ data: UnsafeRawBufferPointer, now: UInt64, via interface: Interface) throws(DropReason) {
        defer { output(now: now, via: interface) }
        lastHeard = now
        keepAliveProbesSent = 0
        if state == .synSent {
            try synSentInput(header, data, now: now, via: interface)
        } else {
            try synchronizedInput(header, data, now: now, via: interface)
        }
    }

    // MARK: SYN-SENT

    private func synSentInput(_ header: TCPHeader, _ data: UnsafeRawBufferPointer, now: UInt64,
                              via interface: Interface) throws(DropReason) {
        let flags = header.flags
        let ack = header.acknowledgmentNumber
        if flags.contains(.ack) && (ack.seqAtOrBefore(iss) || ack.seqAfter(sndMax)) {
            if !flags.contains(.rst) { interface.tcpReset(to: remote, from: local, sequence: ack, acknowledging: nil, now: now) }
            throw .tcpBadAck
        }
        if flags.contains(.rst) {
            // Only a RST that acknowledges our SYN is believed (RFC 9293 §3.10.7.3).
            guard flags.contains(.ack) else { throw .tcpIgnored }
            enterClosed(error: .refused)
            return
        }
        guard flags.contains(.syn) else { throw .tcpIgnored }
        irs = header.sequenceNumber
        rcvNxt = irs &+ 1
        rcvEdge = rcvNxt
        negotiate(header.options)
        if flags.contains(.ack) {
            acknowledge(ack, now: now, echo: header.options.timestamps?.echoReply)
            sndWnd = peerWindow(header)
            maxSndWnd = sndWnd
            sndWl1 = header.sequenceNumber
            sndWl2 = ack
            state = finQueued ? .finWait1 : .established
            ackNow = true
        } else {
            // Simultaneous open: both SYNs crossed; ours goes again with an ACK (SYN-ACK).
            state = .synReceived
            sndNxt = iss
            sndWnd = peerWindow(header)
        }
    }

    /// The peer's SYN options: its MSS bounds ours (536 when absent, RFC 9293 §3.7.1); window
    /// scaling and timestamps are on when both SYNs carry them (RFC 7323 §2.2, §3.2) and we allow them.
    func negotiate(_ options: TCPOptions) {
        windowScaling = settings.windowScaling && options.windowScale != nil
        sendScale = windowScaling ? Int(options.windowScale ?? 0) : 0
        receiveScale = windowScaling ? offeredScale : 0
        timestampsOn = settings.timestamps && options.timestamps != nil
        sackOn = settings.selectiveAcknowledgments && options.sackPermitted
        tsRecent = options.timestamps?.value ?? 0
        let peer = options.maximumSegmentSize.map { Int($0) } ?? 536
        sendMSS = max(min(peer, receiveMSS), 64) - (timestampsOn ? 12 : 0)
        congestionWindow = initialWindow
    }

    // MARK: synchronized states and SYN-RECEIVED

    private func synchronizedInput(_ header: TCPHeader, _ original: UnsafeRawBufferPointer, now: UInt64,
                                   via interface: Interface) throws(DropReason) {
        var flags = header.flags
        var sequence = header.sequenceNumber
        var data = original
        let timestamps = timestampsOn ? header.options.timestamps : nil
        // PAWS (RFC 7323 §5.3): an older timestamp than TS.Recent marks an old duplicate.
        if let timestamps, !flags.contains(.rst), timestamps.value.seqBefore(tsRecent) {
            ackNow = true
            throw .tcpPAWS
        }
        // Step 1: is any of the segment inside the window?
        guard isAcceptable(header, dataLength: data.count) else {
            if state == .synReceived && flags == .syn && sequence == irs {
                sndNxt = iss  // our SYN-ACK was lost: the peer's SYN came again, answer it again
                throw .tcpDuplicate
            }
            // Answer with an ACK (that is how keep-alives and window probes get their answer) - never
            // a RST, and a segment without data only at a limited rate (an endless ACK exchange needs
            // each side to find the other's ACKs unacceptable).
            if !flags.contains(.rst) && (!data.isEmpty || mayAnswerOutOfWindow(now: now)) { ackNow = true }
            let end = sequence &+ UInt32(data.count)
            if sackOn && !data.isEmpty && end.seqAtOrBefore(rcvNxt) && !flags.contains(.syn) {
                duplicateData = (sequence, end)  // all of it arrived before: a D-SACK says so
            }
            throw .tcpUnacceptable
        }
        if let timestamps, sequence.seqAtOrBefore(lastAckSent) { tsRecent = timestamps.value }  // RFC 7323 §4.3
        // Trim what was received before, and what lies beyond the window.
        if sequence.seqBefore(rcvNxt) {
            var cut = rcvNxt.seqDistance(from: sequence)
            let dataStart = flags.contains(.syn) ? sequence &+ 1 : sequence
            if sackOn && !data.isEmpty && dataStart.seqBefore(rcvNxt) {
                let end = dataStart &+ UInt32(data.count)
                duplicateData = (dataStart, end.seqBefore(rcvNxt) ? end : rcvNxt)
            }
            if flags.contains(.syn) { flags.remove(.syn); cut -= 1 }
            data = data.dropping(min(cut, data.count))
            if cut > original.count { flags.remove(.fin) }
            sequence = rcvNxt
            ackNow = true
        }
        let room = receiveWindow - sequence.seqDistance(from: rcvNxt)
        if data.count > room {
            data = data.slice(0..<max(room, 0))
            flags.remove(.fin)
            ackNow = true
        }
        // Step 2: RST, believed only at exactly RCV.NXT (RFC 5961 §3.2).
        if flags.contains(.rst) {
            guard header.sequenceNumber == rcvNxt else {
                interface.tcpChallengeACK(self, now: now)
                throw .tcpChallenged
            }
            switch state {
            case .synReceived: enterClosed(error: listenerPort == nil ? .refused : nil)
            case .closing, .lastAck, .timeWait: enterClosed(error: nil)
            default: enterClosed(error: .reset)
            }
            receiveBuffer.removeAll()
            return
        }
        // Step 4: a SYN in the window is answered with a challenge ACK, never believed (RFC 5961 §4.2).
        if flags.contains(.syn) {
            interface.tcpChallengeACK(self, now: now)
            throw .tcpChallenged
        }
        // Step 5: ACK.
        guard flags.contains(.ack) else { throw .tcpIgnored }
        try ackInput(header, dataLength: original.count, now: now, via: interface)
        if state == .closed { return }
        // Step 7: data, only while the peer may still send.
        if !data.isEmpty {
            switch state {
            case .established, .finWait1, .finWait2: try dataInput(data, at: sequence, now: now)
            default: break
            }
        }
        // Step 8: a FIN right after the in-order data.
        if flags.contains(.fin) {
            guard sequence &+ UInt32(data.count) == rcvNxt else { ackNow = true; return }  // beyond a hole: wait for a resend
            finInput(now: now)
        }
    }

    private func mayAnswerOutOfWindow(now: UInt64) -> Bool {
        if let last = lastOutOfWindowAnswer, now &- last < settings.outOfWindowAckInterval { return false }
        lastOutOfWindowAnswer = now
        return true
    }

    /// RFC 9293 §3.10.7.4's four cases, with a zero window still taking an ACK at exactly RCV.NXT.
    private func isAcceptable(_ header: TCPHeader, dataLength: Int) -> Bool {
        let sequence = header.sequenceNumber
        let length = dataLength + (header.flags.contains(.syn) ? 1 : 0) + (header.flags.contains(.fin) ? 1 : 0)
        let window = UInt32(receiveWindow)
        func inWindow(_ s: UInt32) -> Bool { s.seqAtOrAfter(rcvNxt) && s.seqBefore(rcvNxt &+ window) }
        if window == 0 { return sequence == rcvNxt }
        if length == 0 { return inWindow(sequence) }
        return inWindow(sequence) || inWindow(sequence &+ UInt32(length - 1))
    }

    private func ackInput(_ header: TCPHeader, dataLength: Int, now: UInt64,
                          via interface: Interface) throws(DropReason) {
        let ack = header.acknowledgmentNumber
        let sackedBefore = sackedBytes
        var dsack = false
        if sackOn && header.options.sack.count > 0 { dsack = updateScoreboard(header.options.sack, ack: ack) }
        let newlySACKed = sackedBytes > sackedBefore
        if state == .synReceived {
            guard ack.seqAfter(sndUna) && ack.seqAtOrBefore(sndMax) else {
                interface.tcpReset(to: remote, from: local, sequence: ack, acknowledging: nil, now: now)
                throw .tcpBadAck
            }
            state = finQueued ? .finWait1 : .established
            sndWl1 = header.sequenceNumber
            sndWl2 = ack
            sndWnd = peerWindow(header)
            maxSndWnd = max(maxSndWnd, sndWnd)
        }
        // RFC 5961 §5.2: acceptable ACKs lie in [SND.UNA - MAX.SND.WND, SND.MAX].
        if ack.seqAfter(sndMax) {
            ackNow = true
            throw .tcpBadAck
        }
        if ack.seqBefore(sndUna &- UInt32(maxSndWnd)) {
            interface.tcpChallengeACK(self, now: now)
            throw .tcpBadAck
        }
        let echo = timestampsOn ? header.options.timestamps?.echoReply : nil
        var delivered = false
        if rackOn { delivered = rackAcknowledge(ack, echo: echo, dsack: dsack, now: now) }
        if ack.seqAfter(sndUna) {
            // The SYN takes a sequence number but no room in the network: it does not grow cwnd.
            let newlyAcked = ack.seqDistance(from: sndUna) - (sndUna == iss ? 1 : 0)
            acknowledge(ack, now: now, echo: echo)
            newDataAcknowledged(newlyAcked, now: now, via: interface)
        } else if isDuplicateAck(header, dataLength: dataLength, newlySACKed: newlySACKed) {
            duplicateAck(now: now, via: interface)
        }
        if rackOn {
            rackRecover(now: now, via: interface, force: delivered)
            if delivered || rack.probeDeadline == nil { armProbe(now: now) }
        }
        updateWindow(header)
        switch state {
        case .finWait1 where finAcknowledged:
            state = .finWait2
            // Nobody will read: do not wait for the peer's FIN forever (like Linux's tcp_fin_timeout).
            if userClosed { closeDeadline = now &+ settings.timeWait }
        case .closing where finAcknowledged:
            enterTimeWait(now: now)
        case .lastAck where finAcknowledged:
            enterClosed(error: nil)
        default:
            break
        }
    }

    /// New data acknowledged: RTT sample, send buffer, timers (the congestion window is TCPCongestion.swift's).
    /// With timestamps every such ACK gives a sample from its echo, retransmissions
    /// included (RFC 7323 §4.1); without them, Karn's rule and one timed segment.
    func acknowledge(_ ack: UInt32, now: UInt64, echo: UInt32?) {
        if timestampsOn, let echo {
            let elapsed = timestampClock(now) &- echo
            if elapsed < 1 << 31 { rto.sample(UInt64(elapsed) * 1_000_000) }
            timedSequence = nil
        } else if let timed = timedSequence, ack.seqAfter(timed) {
            rto.sample(now &- timedAt)
            timedSequence = nil
        }
        let dataAcked = ack.seqAfter(sendBase) ? min(ack.seqDistance(from: sendBase), sendBuffer.count) : 0
        sendBuffer.removeFirst(dataAcked)
        sendBase = sendBase &+ UInt32(dataAcked)
        sndUna = ack
        if sndNxt.seqBefore(sndUna) { sndNxt = sndUna }
        scoreboard.removeBelow(sndUna)
        retransmissions = 0
        // RFC 6298 §5.2, §5.3: off when all is acknowledged, otherwise restarted.
        retransmitDeadline = sndUna == sndMax ? nil : now &+ rto.timeout
    }

    /// RFC 9293 §3.10.7.4: the window comes from the newest segment (SND.WL1/WL2).
    private func updateWindow(_ header: TCPHeader) {
        let sequence = header.sequenceNumber, ack = header.acknowledgmentNumber
        guard sndWl1.seqBefore(sequence) || (sndWl1 == sequence && sndWl2.seqAtOrBefore(ack)) else { return }
        sndWnd = peerWindow(header)
        sndWl1 = sequence
        sndWl2 = ack
        maxSndWnd = max(maxSndWnd, sndWnd)
        if sndWnd > 0 {
            persistDeadline = nil
        }
    }

    private func dataInput(_ data: UnsafeRawBufferPointer, at sequence: UInt32, now: UInt64) throws(DropReason) {
        if userClosed {
            // Nobody will read it: acknowledge in-order data and let it go.
            if sequence == rcvNxt { rcvNxt = rcvNxt &+ UInt32(data.count) }
            ackNow = true
            return
        }
        guard let moved = receiveBuffer.insert(data, at: sequence, next: rcvNxt) else {
            ackNow = true
            throw .tcpOutOfOrderFull
        }
        rcvNxt = rcvNxt &+ UInt32(moved)
        if moved == 0 { latestOutOfOrder = sequence }
        if moved != data.count || receiveBuffer.hasOutOfOrder {
            // Out of order, or a hole filled: ACK at once (RFC 5681 §4.2, §3.2).
            ackNow = true
            return
        }
        segmentsUnacknowledged += 1
        if segmentsUnacknowledged >= 2 {
            ackAtPoll = true
        } else if ackDeadline == nil {
            ackDeadline = now &+ settings.delayedACK
        }
    }

    private func finInput(now: UInt64) {
        if !finReceived {
            rcvNxt = rcvNxt &+ 1
            finReceived = true
        }
        ackNow = true
        switch state {
        case .synReceived, .established: state = .closeWait
        case .finWait1: if finAcknowledged { enterTimeWait(now: now) } else { state = .closing }
        case .finWait2, .timeWait: enterTimeWait(now: now)  // TIME-WAIT restarts on a repeated FIN
        default: break
        }
    }
}
