// libFuzzer target for TCP's state machine (fuzz/run.sh builds and runs it).
// An input is a script of records played against one Interface (10.0.0.2/24,
// a listener on port 80, the peer 10.0.0.1 already in the ARP cache):
//   0x00 LEN(u16) BYTES  a segment from 10.0.0.1: BYTES are a TCP header
//                        and data; the harness wraps them in IPv4 and
//                        Ethernet with valid checksums. Its sequence number
//                        counts from the peer's ISN (1000) and its ACK from
//                        our ISN for that peer port (learned from our SYN or
//                        SYN-ACK), so a scripted handshake holds whatever ISN
//                        we pick. With 0x80 set, the checksum is left as
//                        given and the frame is delivered as trusted
//                        (offloads), so even garbage reaches the state machine.
//   0x01 B               time passes: B*B+1 ms (up to 65 s: TIME-WAIT, RTOs)
//   0x02 B               the application: accepts, writes B*37 bytes on every
//                        connection, reads all it can
//   0x03 B               on connection B>>2: close, shutdownWrite or abort
//                        (B&3 = 0,1,2); B&3 = 3 connects from port 40000+B>>2
//                        to 10.0.0.1:5000+B>>2
// After each record the timers run and the output is drained. Invariants:
// nothing traps or hangs; every emitted frame is at most MTU + 14 bytes and
// parses back, IPv4 and TCP checksums included.

import Net

let ourMAC = EthernetAddress(0x02, 0, 0, 0, 0, 2)
let peerMAC = EthernetAddress(0x02, 0, 0, 0, 0, 1)
let us = IPv4Address(10, 0, 0, 2)
let peer = IPv4Address(10, 0, 0, 1)
let peerISN: UInt32 = 1000
let configuration = InterfaceConfiguration(
    mac: ourMAC, mtu: 1500, ipv4: try! IPv4Configuration(address: us, prefixLength: 24, gateway: nil))

/// Reads the script; every read past the end gives zeros and ends the loop.
struct Script {
    let bytes: UnsafeRawBufferPointer
    var offset = 0
    var atEnd: Bool { offset >= bytes.count }
    mutating func byte() -> UInt8 {
        defer { offset += 1 }
        return offset < bytes.count ? bytes[offset] : 0
    }
    mutating func take(_ count: Int) -> UnsafeRawBufferPointer {
        let end = min(bytes.count, offset + count)
        defer { offset = end }
        return UnsafeRawBufferPointer(rebasing: bytes[min(offset, end)..<end])
    }
}

final class Harness {
    let interface = try! Interface(configuration: configuration)
    let listener: TCPListener
    var connections: [TCPConnection] = []
    /// Our ISN per peer port, from the SYNs we sent.
    var ourISN: [UInt16: UInt32] = [:]
    var now: UInt64 = 1_000_000_000
    let frame = UnsafeMutableRawBufferPointer.allocate(byteCount: 14 + 20 + 4096, alignment: 8)
    let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 8192, alignment: 8)

    init() {
        listener = try! interface.listen(port: 80)
        // The peer asks for us: we learn its address (RFC 826) and answer.
        let request = ARPPacket(operation: .request, senderHardwareAddress: peerMAC, senderProtocolAddress: peer,
                                targetHardwareAddress: .zero, targetProtocolAddress: us)
        EthernetHeader(destination: .broadcast, source: peerMAC, etherType: EtherType.arp).emit(into: frame)
        request.emit(into: UnsafeMutableRawBufferPointer(rebasing: frame[14..<14 + ARPPacket.length]))
        interface.receive(frame: UnsafeRawBufferPointer(rebasing: frame[0..<14 + ARPPacket.length]), now: now)
        drain()
    }

    deinit {
        frame.deallocate()
        scratch.deallocate()
    }

    func segment(_ tcp: UnsafeRawBufferPointer, trusted: Bool) {
        guard tcp.count >= 20 else { return }
        let total = 20 + tcp.count
        let segment = UnsafeMutableRawBufferPointer(rebasing: frame[34..<14 + total])
        segment.copyMemory(from: tcp)
        let port = segment.load(as: UInt16.self).bigEndian
        let sequence = peerISN &+ UInt32(bigEndian: segment.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
        let ack = (ourISN[port] ?? 0) &+ UInt32(bigEndian: segment.loadUnaligned(fromByteOffset: 8, as: UInt32.self))
        segment.storeBytes(of: sequence.bigEndian, toByteOffset: 4, as: UInt32.self)
        segment.storeBytes(of: ack.bigEndian, toByteOffset: 8, as: UInt32.self)
        if !trusted {
            segment.storeBytes(of: 0, toByteOffset: 16, as: UInt16.self)
            var checksum = InternetChecksum.pseudoHeader(source: peer, destination: us, protocol: IPProtocol.tcp,
                                                         length: tcp.count)
            checksum.add(UnsafeRawBufferPointer(segment))
            segment.storeBytes(of: checksum.value.bigEndian, toByteOffset: 16, as: UInt16.self)
        }
        EthernetHeader(destination: ourMAC, source: peerMAC, etherType: EtherType.ipv4).emit(into: frame)
        IPv4Header(source: peer, destination: us, protocolNumber: IPProtocol.tcp, payloadLength: tcp.count)
            .emit(into: UnsafeMutableRawBufferPointer(rebasing: frame[14..<34]))
        interface.receive(frame: UnsafeRawBufferPointer(rebasing: frame[0..<14 + total]), now: now,
                          checksumTrusted: trusted)
    }

    func application(_ amount: Int) {
        while let accepted = listener.accept() { connections.append(accepted) }
        for connection in connections {
            var left = amount
            while left > 0 {
                let sent = connection.send(UnsafeRawBufferPointer(rebasing: scratch[0..<min(left, scratch.count)]))
                if sent == 0 { break }
                left -= sent
            }
            while let count = connection.receive(into: scratch), count > 0 {}
        }
    }

    func control(_ b: UInt8) {
        let index = Int(b >> 2)
        if b & 3 == 3 {
            let remote = IPv4Endpoint(address: peer, port: 5000 + UInt16(index))
            if let connection = try? interface.connect(to: remote, from: 40000 + UInt16(index), now: now) {
                connections.append(connection)
            }
            return
        }
        guard index < connections.count else { return }
        switch b & 3 {
        case 0: connections[index].close()
        case 1: connections[index].shutdownWrite()
        default: connections[index].abort()
        }
    }

    /// Runs the timers, then checks and learns from every frame we send.
    func drain() {
        _ = interface.poll(now: now)
        _ = interface.transmit { bytes in
            precondition(bytes.count >= 14 && bytes.count <= 1514, "emitted frame of impossible length")
            guard let ethernet = try? EthernetHeader.parse(bytes) else { preconditionFailure("emitted frame does not parse") }
            guard ethernet.etherType == EtherType.ipv4 else { return true }
            let packet = UnsafeRawBufferPointer(rebasing: bytes[EthernetHeader.length...])
            guard let ip = try? IPv4Header.parse(packet) else { preconditionFailure("emitted IPv4 header does not parse") }
            guard ip.protocolNumber == IPProtocol.tcp else { return true }
            let tcp = UnsafeRawBufferPointer(rebasing: packet[ip.headerLength..<ip.totalLength])
            guard let header = try? TCPHeader.parse(tcp, source: ip.source, destination: ip.destination) else {
                preconditionFailure("emitted TCP segment does not parse or has a bad checksum")
            }
            if header.flags.contains(.syn) { ourISN[header.destinationPort] = header.sequenceNumber }
            return true
        }
        precondition(connections.count <= 64 + 64, "connections without bound")
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let harness = Harness()
    var script = Script(bytes: UnsafeRawBufferPointer(start: data, count: size))
    var records = 0
    while !script.atEnd && records < 256 {
        records += 1
        let op = script.byte()
        switch op & 3 {
        case 0:
            let length = Int(script.byte()) << 8 | Int(script.byte())
            harness.segment(script.take(length), trusted: op & 0x80 != 0)
        case 1:
            let b = UInt64(script.byte())
            harness.now &+= (b * b + 1) * 1_000_000
        case 2:
            harness.application(Int(script.byte()) * 37)
        default:
            harness.control(script.byte())
        }
        harness.drain()
    }
    return 0
}
