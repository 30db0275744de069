// The interface's output path: routing (on-link, gateway, broadcast), ARP
// resolution or waiting, IPv4 headers and fragmentation, Ethernet framing
// into the transmit queue, and the ICMP errors the input path asks for.
// Fragmentation on send: datagrams larger than the MTU are cut into
// fragments of (MTU - 20) rounded down to 8 bytes; up to 65535 bytes in all.
// Capacity for every fragment is checked before the first is queued, so a
// datagram goes out whole or not at all (SendError.queueFull). A TCP frame
// for a segmenting device (`segmentSize` > 0) is never fragmented.
// Tests: Tests/NetTests/InputTests.swift (routing, queues), LinkTests.swift (fragmentation).

extension Interface {
    /// Where frames for one datagram go on the link.
    enum LinkTarget {
        case resolved(EthernetAddress)
        case awaiting(IPv4Address)
    }

    // MARK: public sends

    /// Sends one UDP datagram from `socket`'s port.
    public func send(_ socket: UDPSocket, to destination: IPv4Endpoint, payload: UnsafeRawBufferPointer,
                     now: UInt64) throws(SendError) {
        guard socket.isOpen else { throw .socketClosed }
        guard destination.port != 0 else { throw .invalidPort }
        let header = UDPHeader(sourcePort: socket.port, destinationPort: destination.port, payloadLength: payload.count)
        guard header.length <= IPv4Header.maximumDatagram - IPv4Header.minimumLength else { throw .messageTooLong }
        let source = address
        try sendIPv4(to: destination.address, protocol: IPProtocol.udp, payloadLength: header.length, now: now) { out in
            out.copy(payload, to: UDPHeader.length)
            header.emit(into: out, source: source, destination: destination.address)
        }
        counters.udpSent &+= 1
    }

    /// Sends an ICMP echo request; replies arrive through `receiveEchoReply(into:)`.
    public func sendEchoRequest(to destination: IPv4Address, identifier: UInt16, sequence: UInt16,
                                data: UnsafeRawBufferPointer, now: UInt64) throws(SendError) {
        let header = ICMPv4Header.echo(request: true, identifier: identifier, sequence: sequence)
        try sendIPv4(to: destination, protocol: IPProtocol.icmp, payloadLength: ICMPv4Header.length + data.count,
                     now: now) { out in
            out.copy(data, to: ICMPv4Header.length)
            header.emit(into: out)
        }
    }

    /// Broadcasts a gratuitous ARP request for our address (at start, or after a change).
    public func announce(now: UInt64) {
        sendARP(.request, to: .broadcast, address: address, now: now)
    }

    // MARK: routing

    /// The on-link next hop for `destination`, nil for broadcast.
    func nextHop(for destination: IPv4Address) throws(SendError) -> IPv4Address? {
        if destination.isBroadcast || destination == network.broadcast { return nil }
        guard !destination.isUnspecified, !destination.isMulticast, !destination.isLoopback,
              destination != address else { throw .noRoute }
        if network.contains(destination) {
            // The all-zeros host is the old broadcast form (RFC 1122 §3.2.1.3), not a host.
            guard network.broadcast == nil || destination != network.address else { throw .noRoute }
            return destination
        }
        guard let gateway = configuration.ipv4.gateway else { throw .noRoute }
        return gateway
    }

    // MARK: IPv4

    /// Sends one datagram whose payload (`payloadLength` bytes) `fill` writes in place;
    /// with `segmentSize` it is one frame the device cuts into TCP segments.
    func sendIPv4(to destination: IPv4Address, protocol number: UInt8, payloadLength: Int, segmentSize: Int = 0,
                  now: UInt64, fill: (UnsafeMutableRawBufferPointer) -> Void) throws(SendError) {
        guard payloadLength <= IPv4Header.maximumDatagram - IPv4Header.minimumLength else { throw .messageTooLong }
        let hop = try nextHop(for: destination)
        let perFrame = mtu - IPv4Header.minimumLength
        let fragmentSize = perFrame & ~7
        let frames = payloadLength <= perFrame || segmentSize > 0 ? 1 : (payloadLength + fragmentSize - 1) / fragmentSize
        let target = try linkTarget(hop, frames: frames, now: now)
        var header = IPv4Header(source: address, destination: destination, protocolNumber: number,
                                payloadLength: payloadLength)
        header.identification = nextIdentification
        nextIdentification &+= 1
        if frames == 1 {
            emitFrame(to: target, etherType: EtherType.ipv4, length: header.totalLength, segmentSize: segmentSize,
                      now: now) { packet in
                header.emit(into: packet)
                fill(packet.dropping(IPv4Header.minimumLength))
            }
            return
        }
        let whole = fragmentBuffer().slice(0..<payloadLength)
        fill(whole)
        var offset = 0
        while offset < payloadLength {
            let size = min(fragmentSize, payloadLength - offset)
            let fragment = header.fragment(offset: offset, length: size, last: offset + size == payloadLength)
            let data = UnsafeRawBufferPointer(whole.slice(offset..<offset + size))
            emitFrame(to: target, etherType: EtherType.ipv4, length: fragment.totalLength, now: now) { packet in
                fragment.emit(into: packet)
                packet.copy(data, to: IPv4Header.minimumLength)
            }
            offset += size
        }
        counters.fragmentsSent &+= UInt64(frames)
    }

    private func fragmentBuffer() -> UnsafeMutableRawBufferPointer {
        if let buffer = fragmentScratch { return buffer }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: IPv4Header.maximumDatagram, alignment: 8)
        fragmentScratch = buffer
        return buffer
    }

    /// Resolves the next hop, or starts resolving it, after checking there is
    /// room for `frames` frames wherever they will wait.
    private func linkTarget(_ hop: IPv4Address?, frames: Int, now: UInt64) throws(SendError) -> LinkTarget {
        guard let hop else {
            try requireTransmitSpace(frames)
            return .resolved(.broadcast)
        }
        if let mac = arp.lookup(hop, now: now) {
            try requireTransmitSpace(frames)
            return .resolved(mac)
        }
        // Resolution starts even when the frames cannot wait, so that a retry finds the address.
        switch arp.resolve(hop, now: now) {
        case .started: sendARP(.request, to: .broadcast, address: hop, now: now)
        case .inProgress: break
        case .cacheFull:
            counters.drops.count(.arpCacheFull, frames)
            throw .queueFull
        }
        guard pending.freeSlots >= frames else {
            counters.drops.count(.arpQueueFull, frames)
            throw .queueFull
        }
        return .awaiting(hop)
    }

    /// The most TCP data one queued frame to `destination` may carry: `mss`,
    /// or with TCP segmentation as many whole MSS as the device and the
    /// transmit queue take now, when the next hop is resolved (frames that
    /// wait for ARP have MTU-sized slots).
    func tcpFrameLimit(mss: Int, to destination: IPv4Address, now: UInt64) -> Int {
        guard configuration.tcpSegmentation > 0, let hop = try? nextHop(for: destination),
              arp.lookup(hop, now: now) != nil else { return mss }
        let headers = EthernetHeader.length + IPv4Header.minimumLength + TCPHeader.maximumLength
        let room = min(configuration.tcpSegmentation, transmitQueue.largestReservation,
                       EthernetHeader.length + IPv4Header.maximumDatagram) - headers
        return max(mss, room - room % mss)
    }

    private func requireTransmitSpace(_ frames: Int) throws(SendError) {
        guard transmitQueue.maxPackets - transmitQueue.count >= frames else {
            counters.drops.count(.transmitQueueFull, frames)
            throw .queueFull
        }
    }

    // MARK: frames

    /// Builds one frame: the Ethernet header, `write` fills the `length`-byte
    /// payload, zero padding up to the minimum frame. Queued for the device,
    /// or kept until ARP answers (the destination address is written then).
    @discardableResult
    func emitFrame(to target: LinkTarget, etherType: UInt16, length: Int, segmentSize: Int = 0, now: UInt64,
                   _ write: (UnsafeMutableRawBufferPointer) -> Void) -> Bool {
        let payloadEnd = EthernetHeader.length + length
        let frameLength = max(payloadEnd, EthernetHeader.minimumFrameLength)
        let source = mac
        func build(_ frame: UnsafeMutableRawBufferPointer, _ destination: EthernetAddress) {
            EthernetHeader(destination: destination, source: source, etherType: etherType).emit(into: frame)
            write(frame.slice(EthernetHeader.length..<payloadEnd))
            frame.zero(payloadEnd..<frameLength)
        }
        switch target {
        case .resolved(let destination):
            return queueFrame(length: frameLength, segmentSize: segmentSize, now: now) { build($0, destination) }
        case .awaiting(let hop):
            guard pending.store(nextHop: hop, length: frameLength, { build($0, .zero) }) else {
                counters.drops.count(.arpQueueFull)
                return false
            }
            return true
        }
    }

    /// Puts a frame of `length` bytes, written by `write`, on the transmit queue.
    @discardableResult
    func queueFrame(length: Int, segmentSize: Int = 0, now: UInt64,
                    _ write: (UnsafeMutableRawBufferPointer) -> Void) -> Bool {
        guard let frame = transmitQueue.reserve(length) else {
            counters.drops.count(.transmitQueueFull)
            return false
        }
        write(frame)
        transmitQueue.commit(length: length, meta: segmentSize)
        counters.framesQueued &+= 1
        tap?.record(frame: UnsafeRawBufferPointer(frame), direction: .transmitted, at: now)
        return true
    }

    // MARK: ARP and ICMP errors

    /// A request (to broadcast, for `address`) or a reply (to `destination`, about us).
    func sendARP(_ operation: ARPPacket.Operation, to destination: EthernetAddress, address target: IPv4Address,
                 now: UInt64) {
        let packet = ARPPacket(operation: operation, senderHardwareAddress: mac, senderProtocolAddress: address,
                               targetHardwareAddress: operation == .request ? .zero : destination,
                               targetProtocolAddress: target)
        guard emitFrame(to: .resolved(destination), etherType: EtherType.arp, length: ARPPacket.length, now: now,
                        { packet.emit(into: $0) }) else { return }
        if operation == .request { counters.arpRequestsSent &+= 1 } else { counters.arpRepliesSent &+= 1 }
    }

    /// Sends destination unreachable about `datagram`, quoting its header and
    /// first 8 payload bytes (RFC 792), within the rules of RFC 1122 §3.2.2:
    /// never about a broadcast, a datagram from no single host, a non-initial
    /// fragment, or an ICMP message; at most `icmpErrorsPerSecond`.
    func sendUnreachable(code: UInt8, about header: IPv4Header, _ datagram: UnsafeRawBufferPointer,
                         broadcast: Bool, now: UInt64) {
        guard !broadcast, !header.source.isUnspecified, header.fragmentOffset == 0,
              header.protocolNumber != IPProtocol.icmp else { return }
        guard icmpLimiter.allow(now: now) else {
            counters.drops.count(.icmpRateLimited)
            return
        }
        let quote = datagram.slice(0..<min(datagram.count, header.headerLength + 8))
        let icmp = ICMPv4Header(type: ICMPv4Header.Kind.destinationUnreachable, code: code)
        do throws(SendError) {
            try sendIPv4(to: header.source, protocol: IPProtocol.icmp, payloadLength: ICMPv4Header.length + quote.count,
                         now: now) { message in
                message.copy(quote, to: ICMPv4Header.length)
                icmp.emit(into: message)
            }
            counters.icmpErrorsSent &+= 1
        } catch {
            // Best effort: a full queue already counted it.
        }
    }
}

extension IPv4Header {
    /// This header for the fragment carrying `length` payload bytes at `offset`.
    func fragment(offset: Int, length: Int, last: Bool) -> IPv4Header {
        var header = self
        header.totalLength = IPv4Header.minimumLength + length
        header.fragmentOffset = offset
        header.moreFragments = !last
        return header
    }
}
