// The interface's input path: one Ethernet frame in, demultiplexed to ARP,
// IPv4 (with reassembly), ICMP, UDP and TCP (TCPSocket.swift). Every function either consumes the
// packet or throws the DropReason that `receive` counts; nothing here traps
// on any input. Answers (ARP replies, echo replies, ICMP errors) go out
// through InterfaceOutput.swift.
// Tests: Tests/NetTests/InputTests.swift, ReassemblyTests.swift, FuzzTests.swift.

extension Interface {
    /// Processes one inbound frame (without FCS). The bytes are only read during the call.
    /// `checksumTrusted`: the device vouches for the TCP or UDP checksum (ReceivedFrame).
    public func receive(frame: UnsafeRawBufferPointer, now: UInt64, checksumTrusted: Bool = false) {
        counters.framesReceived &+= 1
        tap?.record(frame: frame, direction: .received, at: now)
        do throws(DropReason) {
            try input(frame, now: now, checksumTrusted: checksumTrusted)
        } catch {
            counters.drops.count(error)
        }
    }

    private func input(_ frame: UnsafeRawBufferPointer, now: UInt64, checksumTrusted: Bool) throws(DropReason) {
        let ethernet = try EthernetHeader.parse(frame)
        // A host accepts its own address and broadcast; no multicast groups yet.
        guard ethernet.destination == mac || ethernet.destination.isBroadcast else { throw .ethernetNotForUs }
        let payload = frame.dropping(EthernetHeader.length)
        switch ethernet.etherType {
        case EtherType.arp: try arpInput(payload, now: now)
        case EtherType.ipv4: try ipv4Input(payload, now: now, checksumTrusted: checksumTrusted)
        default: throw .ethernetUnknownType
        }
    }

    // MARK: ARP

    private func arpInput(_ bytes: UnsafeRawBufferPointer, now: UInt64) throws(DropReason) {
        let packet = try ARPPacket.parse(bytes)
        // Without an address (DHCP not bound yet) no request names us and no sender is on our network.
        guard configuration.ipv4.isConfigured else { throw .arpNotForUs }
        let sender = packet.senderProtocolAddress
        let senderMAC = packet.senderHardwareAddress
        // Another station using our address: worth counting, never worth learning.
        guard sender != address else { throw .arpAddressConflict }
        let forUs = packet.targetProtocolAddress == address
        // Learn only unicast stations on our network (probes come from 0.0.0.0).
        let learnable = network.contains(sender) && !senderMAC.isMulticast && senderMAC != .zero
            && (network.broadcast == nil || (sender != network.address && sender != network.broadcast))
        var cached = false
        if learnable {
            // RFC 826: refresh any entry (gratuitous ARP included); add one only when asked.
            switch arp.update(sender, senderMAC, now: now, create: forUs) {
            case .completed:
                cached = true
                pending.release(nextHop: sender) { frame in
                    senderMAC.write(to: frame, at: 0)
                    queueFrame(length: frame.count, now: now) { $0.copy(UnsafeRawBufferPointer(frame), to: 0) }
                }
            case .cached: cached = true
            case .notCached: break
            }
        }
        guard forUs else {
            if !cached { throw .arpNotForUs }
            return
        }
        if packet.operation == .request { sendARP(.reply, to: senderMAC, address: sender, now: now) }
    }

    // MARK: IPv4

    private func ipv4Input(_ bytes: UnsafeRawBufferPointer, now: UInt64, checksumTrusted: Bool) throws(DropReason) {
        let header = try IPv4Header.parse(bytes)
        let source = header.source
        // RFC 1122 §3.2.1.3: broadcast and multicast never name a sender; our own address is a loop or a forgery.
        guard !source.isBroadcast, !source.isMulticast, source != network.broadcast, source != address else {
            throw .ipv4BadSource
        }
        let broadcast = header.destination.isBroadcast || header.destination == network.broadcast
        // A host does not forward (RFC 1122 §3.3.1): anything else is not ours.
        guard (header.destination == address && !address.isUnspecified) || broadcast else { throw .ipv4NotForUs }
        let datagram = bytes.slice(0..<header.totalLength)
        guard header.isFragment else {
            return try deliver(header, datagram, broadcast: broadcast, checksumTrusted: checksumTrusted, now: now)
        }
        guard let whole = try reassembler.insert(header, packet: datagram, now: now, drops: &counters.drops) else {
            return
        }
        counters.datagramsReassembled &+= 1
        try deliver(try IPv4Header.parse(whole), whole, broadcast: broadcast, checksumTrusted: false, now: now)
    }

    /// Hands a whole datagram (header included, trimmed) to its protocol.
    private func deliver(_ header: IPv4Header, _ datagram: UnsafeRawBufferPointer,
                         broadcast: Bool, checksumTrusted: Bool, now: UInt64) throws(DropReason) {
        let payload = datagram.dropping(header.headerLength)
        switch header.protocolNumber {
        case IPProtocol.icmp:
            try icmpInput(header, payload, broadcast: broadcast, now: now)
        case IPProtocol.udp:
            try udpInput(header, datagram, broadcast: broadcast, checksumTrusted: checksumTrusted, now: now)
        case IPProtocol.tcp:
            try tcpInput(header, payload, broadcast: broadcast, checksumTrusted: checksumTrusted, now: now)
        default:
            sendUnreachable(code: ICMPv4Header.UnreachableCode.protocol, about: header, datagram,
                            broadcast: broadcast, now: now)
            throw .ipv4UnknownProtocol
        }
    }

    // MARK: ICMP

    private func icmpInput(_ ip: IPv4Header, _ message: UnsafeRawBufferPointer,
                           broadcast: Bool, now: UInt64) throws(DropReason) {
        let icmp = try ICMPv4Header.parse(message)
        let body = message.dropping(ICMPv4Header.length)
        switch icmp.type {
        case ICMPv4Header.Kind.echoRequest:
            // Like Linux's icmp_echo_ignore_broadcasts: no smurf amplifier.
            guard !broadcast else { throw .icmpBroadcastEcho }
            let reply = ICMPv4Header.echo(request: false, identifier: icmp.identifier, sequence: icmp.sequence)
            do throws(SendError) {
                try sendIPv4(to: ip.source, protocol: IPProtocol.icmp, payloadLength: message.count, now: now) { out in
                    out.copy(body, to: ICMPv4Header.length)
                    reply.emit(into: out)
                }
                counters.echoRequestsAnswered &+= 1
            } catch {
                // Counted by the output path (queue full) or unanswerable (no route back).
            }
        case ICMPv4Header.Kind.echoReply:
            let info = EchoReply(source: ip.source, identifier: icmp.identifier, sequence: icmp.sequence,
                                 length: body.count)
            guard echoReplies.enqueue(body, meta: info) else { throw .icmpQueueFull }
        case _ where icmp.isError:
            try icmpErrorInput(icmp, body, reporter: ip.source)
        default:
            throw .icmpIgnored
        }
    }

    /// An error about a datagram we sent: the quoted header names the socket.
    private func icmpErrorInput(_ icmp: ICMPv4Header, _ quoted: UnsafeRawBufferPointer,
                                reporter: IPv4Address) throws(DropReason) {
        counters.icmpErrorsReceived &+= 1
        let inner = try IPv4Header.parse(quoted, quoted: true)
        guard inner.source == address, inner.protocolNumber == IPProtocol.udp,
              quoted.count >= inner.headerLength + UDPHeader.length else { throw .icmpIgnored }
        let ports = quoted.dropping(inner.headerLength)
        guard let socket = udp.socket(port: ports.be16(0)) else { throw .icmpIgnored }
        socket.pendingError = ICMPError(type: icmp.type, code: icmp.code, reporter: reporter,
                                        destination: IPv4Endpoint(address: inner.destination, port: ports.be16(2)))
    }

    // MARK: UDP

    private func udpInput(_ ip: IPv4Header, _ datagram: UnsafeRawBufferPointer,
                          broadcast: Bool, checksumTrusted: Bool, now: UInt64) throws(DropReason) {
        let bytes = datagram.dropping(ip.headerLength)
        let header = try UDPHeader.parse(bytes, source: ip.source, destination: ip.destination,
                                         checksumTrusted: checksumTrusted)
        guard let socket = udp.socket(port: header.destinationPort) else {
            sendUnreachable(code: ICMPv4Header.UnreachableCode.port, about: ip, datagram, broadcast: broadcast, now: now)
            throw .udpNoSocket
        }
        let data = bytes.slice(UDPHeader.length..<header.length)
        guard socket.queue.enqueue(data, meta: IPv4Endpoint(address: ip.source, port: header.sourcePort)) else {
            throw .udpQueueFull
        }
        counters.udpDelivered &+= 1
    }
}
