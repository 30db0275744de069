// Test helpers: packets built byte by byte from the RFC layouts (independent
// of the module's own emitters), a reference checksum, interface factories,
// and the simulated link with seeded loss, reordering, duplication and corruption.

import Net
import TestSupport
import XCTest

let second = Interface.second
let millisecond = Interface.second / 1000

/// RFC 1071 the slow, obvious way: 16-bit big-endian words, 32-bit sum, fold.
func referenceChecksum(_ bytes: [UInt8]) -> UInt16 {
    var sum: UInt32 = 0
    var i = 0
    while i + 1 < bytes.count {
        sum += UInt32(bytes[i]) << 8 | UInt32(bytes[i + 1])
        i += 2
    }
    if i < bytes.count { sum += UInt32(bytes[i]) << 8 }
    while sum >> 16 != 0 { sum = (sum & 0xffff) + (sum >> 16) }
    return ~UInt16(sum)
}

func be16(_ v: UInt16) -> [UInt8] { [UInt8(v >> 8), UInt8(v & 0xff)] }

func ip(_ text: String) -> IPv4Address { IPv4Address(text)! }

func ipBytes(_ a: IPv4Address) -> [UInt8] {
    [UInt8(a.value >> 24), UInt8((a.value >> 16) & 255), UInt8((a.value >> 8) & 255), UInt8(a.value & 255)]
}

func macBytes(_ m: EthernetAddress) -> [UInt8] { (0..<6).map { m[$0] } }

enum Build {
    static func ethernet(to dst: EthernetAddress, from src: EthernetAddress, type: UInt16, _ payload: [UInt8]) -> [UInt8] {
        macBytes(dst) + macBytes(src) + be16(type) + payload
    }

    /// An IPv4 packet; `fragment` is the flags+offset word as on the wire.
    static func ipv4(from src: IPv4Address, to dst: IPv4Address, protocol proto: UInt8, id: UInt16 = 0x1234,
                     fragment: UInt16 = 0, ttl: UInt8 = 64, options: [UInt8] = [], totalLength: Int? = nil,
                     _ payload: [UInt8]) -> [UInt8] {
        let headerLength = 20 + options.count
        var header: [UInt8] = [UInt8(0x40 | headerLength / 4), 0]
        header += be16(UInt16(totalLength ?? headerLength + payload.count)) + be16(id) + be16(fragment)
        header += [ttl, proto, 0, 0] + ipBytes(src) + ipBytes(dst) + options
        let sum = referenceChecksum(header)
        header[10] = UInt8(sum >> 8)
        header[11] = UInt8(sum & 0xff)
        return header + payload
    }

    static func udp(from src: IPv4Endpoint, to dst: IPv4Endpoint, _ payload: [UInt8], checksum: Bool = true) -> [UInt8] {
        var datagram = be16(src.port) + be16(dst.port) + be16(UInt16(8 + payload.count)) + [0, 0] + payload
        if checksum {
            let pseudo = ipBytes(src.address) + ipBytes(dst.address) + [0, 17] + be16(UInt16(datagram.count))
            var sum = referenceChecksum(pseudo + datagram)
            if sum == 0 { sum = 0xffff }
            datagram[6] = UInt8(sum >> 8)
            datagram[7] = UInt8(sum & 0xff)
        }
        return datagram
    }

    static func icmp(type: UInt8, code: UInt8 = 0, rest: [UInt8] = [0, 0, 0, 0], _ body: [UInt8]) -> [UInt8] {
        var message = [type, code, 0, 0] + rest + body
        let sum = referenceChecksum(message)
        message[2] = UInt8(sum >> 8)
        message[3] = UInt8(sum & 0xff)
        return message
    }

    static func arp(op: UInt16, sha: EthernetAddress, spa: IPv4Address, tha: EthernetAddress, tpa: IPv4Address) -> [UInt8] {
        [0, 1, 8, 0, 6, 4] + be16(op) + macBytes(sha) + ipBytes(spa) + macBytes(tha) + ipBytes(tpa)
    }

    /// A whole UDP frame from a peer to an interface.
    static func udpFrame(to host: Interface, from peerMAC: EthernetAddress, _ src: IPv4Endpoint, port: UInt16,
                         _ payload: [UInt8]) -> [UInt8] {
        let dst = IPv4Endpoint(address: host.address, port: port)
        return ethernet(to: host.mac, from: peerMAC, type: 0x0800,
                        ipv4(from: src.address, to: host.address, protocol: 17, udp(from: src, to: dst, payload)))
    }
}

let macA = EthernetAddress(0x02, 0, 0, 0, 0, 0x0a)
let macB = EthernetAddress(0x02, 0, 0, 0, 0, 0x0b)
let macPeer = EthernetAddress(0x02, 0, 0, 0, 0, 0x99)

func makeInterface(mac: EthernetAddress = macA, address: String = "10.0.0.1", prefix: Int = 24,
                   gateway: String? = nil, mtu: Int = 1500,
                   limits: InterfaceLimits = InterfaceLimits(), tcpSegmentation: Int = 0) -> Interface {
    let ipv4 = try! IPv4Configuration(address: ip(address), prefixLength: prefix, gateway: gateway.map(ip))
    return try! Interface(configuration: InterfaceConfiguration(mac: mac, mtu: mtu, ipv4: ipv4, limits: limits,
                                                                tcpSegmentation: tcpSegmentation))
}

extension Interface {
    func receive(_ frame: [UInt8], now: UInt64 = 0) {
        frame.withUnsafeBytes { receive(frame: $0, now: now) }
    }

    /// Every queued frame, removed from the queue.
    func drain() -> [[UInt8]] {
        drainSegmenting().map(\.frame)
    }

    /// Every queued frame with its TCP segment size (0: an ordinary frame).
    func drainSegmenting() -> [(frame: [UInt8], segmentSize: Int)] {
        var frames: [(frame: [UInt8], segmentSize: Int)] = []
        transmit { frames.append((Array($0), $1)); return true }
        return frames
    }

    // (Closures with typed throws through withUnsafeBytes crash this compiler: errors come out as values.)
    func send(_ socket: UDPSocket, to destination: IPv4Endpoint, _ payload: [UInt8], now: UInt64) throws {
        let failure: SendError? = payload.withUnsafeBytes { bytes in
            do { try send(socket, to: destination, payload: bytes, now: now) } catch { return error as? SendError }
            return nil
        }
        if let failure { throw failure }
    }

    func ping(_ destination: IPv4Address, id: UInt16, seq: UInt16, _ data: [UInt8], now: UInt64) throws {
        let failure: SendError? = data.withUnsafeBytes { bytes in
            do {
                try sendEchoRequest(to: destination, identifier: id, sequence: seq, data: bytes, now: now)
            } catch { return error as? SendError }
            return nil
        }
        if let failure { throw failure }
    }

    func echoReply(capacity: Int = 65536) -> (EchoReply, [UInt8])? {
        var buffer = [UInt8](repeating: 0, count: capacity)
        guard let reply = buffer.withUnsafeMutableBytes({ receiveEchoReply(into: $0) }) else { return nil }
        return (reply, Array(buffer[0..<reply.length]))
    }

    func drops(_ reason: DropReason) -> UInt64 { counters.drops[reason] }
}

extension UDPSocket {
    func receive(capacity: Int = 65536) -> (UDPReceived, [UInt8])? {
        var buffer = [UInt8](repeating: 0, count: capacity)
        guard let info = buffer.withUnsafeMutableBytes({ receive(into: $0) }) else { return nil }
        return (info, Array(buffer[0..<info.length]))
    }
}

/// What a device does with the frames a segmenting interface queues
/// (InterfaceConfiguration.tcpSegmentation).
enum Segmentation {
    /// Cuts them into segments with complete checksums (the host's GSO),
    /// after checking that completing the partial checksum gives a valid segment.
    case cut
    /// Hands them to the peer whole, checksum trusted (a tap with merged receive).
    case merged
}

/// The frames a device sends for `frame`: itself, or with `segmentSize` > 0
/// its segments. Ethernet + IPv4 (no options) + TCP, as the stack builds them.
func segment(_ frame: [UInt8], segmentSize: Int, mode: Segmentation) -> [[UInt8]] {
    guard segmentSize > 0 else { return [frame] }
    let tcp = 34, headerEnd = tcp + Int(frame[tcp + 12] >> 4) * 4
    // A device completes the checksum over everything from the TCP header on (virtio's csum_start).
    var complete = frame
    let sum = referenceChecksum(Array(frame[tcp...]))
    complete[tcp + 16] = UInt8(sum >> 8)
    complete[tcp + 17] = UInt8(sum & 0xff)
    XCTAssertNoThrow(try complete[14...].withUnsafeBytes { packet in
        let header = try IPv4Header.parse(UnsafeRawBufferPointer(packet))
        _ = try TCPHeader.parse(UnsafeRawBufferPointer(rebasing: packet[20..<header.totalLength]),
                                source: header.source, destination: header.destination)
    }, "the partial checksum, completed, makes a valid segment")
    XCTAssertGreaterThan(frame.count - headerEnd, segmentSize, "a segmented frame carries more than one segment")
    guard mode == .cut else { return [frame] }
    let data = Array(frame[headerEnd...])
    let sequence = UInt32(frame[tcp + 4]) << 24 | UInt32(frame[tcp + 5]) << 16 | UInt32(frame[tcp + 6]) << 8
        | UInt32(frame[tcp + 7])
    let id = UInt16(frame[18]) << 8 | UInt16(frame[19])
    return stride(from: 0, to: data.count, by: segmentSize).enumerated().map { index, offset in
        let piece = data[offset..<min(offset + segmentSize, data.count)]
        let last = offset + piece.count == data.count
        var ipHeader = Array(frame[14..<tcp])
        ipHeader[2...3] = be16(UInt16(20 + headerEnd - tcp + piece.count))[...]
        ipHeader[4...5] = be16(id &+ UInt16(index))[...]
        ipHeader[10] = 0; ipHeader[11] = 0
        let ipSum = referenceChecksum(ipHeader)
        ipHeader[10] = UInt8(ipSum >> 8); ipHeader[11] = UInt8(ipSum & 0xff)
        var tcpHeader = Array(frame[tcp..<headerEnd])
        let seq = sequence &+ UInt32(offset)
        tcpHeader[4...7] = [UInt8(seq >> 24), UInt8((seq >> 16) & 0xff), UInt8((seq >> 8) & 0xff), UInt8(seq & 0xff)]
        if !last { tcpHeader[13] &= ~0x09 }  // FIN and PSH only on the last segment, as Linux's GSO
        tcpHeader[16] = 0; tcpHeader[17] = 0
        let pseudo = Array(ipHeader[12..<20]) + [0, 6] + be16(UInt16(tcpHeader.count + piece.count))
        let tcpSum = referenceChecksum(pseudo + tcpHeader + Array(piece))
        tcpHeader[16] = UInt8(tcpSum >> 8); tcpHeader[17] = UInt8(tcpSum & 0xff)
        return Array(frame[0..<14]) + ipHeader + tcpHeader + Array(piece)
    }
}

/// Two interfaces wired back to back. Each step moves every queued frame
/// across, applying the faults (per mille, from a seeded generator).
final class SimulatedLink {
    struct Faults {
        var loss = 0
        var duplication = 0
        var reordering = 0
        var corruption = 0
        /// A bottleneck like a tap device's queue: at most `rate` frames per
        /// direction cross per step, at most `queue` wait; the rest are dropped
        /// (bursts of loss, as congestion makes them). 0: no bottleneck.
        var rate = 0
        var queue = 0
    }

    let a: Interface
    let b: Interface
    var faults: Faults
    let segmentation: Segmentation
    var random: SplitMix64
    var now: UInt64 = 0
    var delivered = 0, lost = 0, duplicated = 0, reordered = 0, corrupted = 0
    /// Frames that arrived whole though they carry several TCP segments.
    var merged = 0
    private var held: [(Interface, [UInt8], Bool)] = []
    private var toA: [[UInt8]] = [], toB: [[UInt8]] = []

    /// Queues `frames` behind the bottleneck (tail drop) and lets `rate` of them go to `to`.
    private func bottleneck(_ queue: inout [[UInt8]], _ to: Interface, _ frames: [[UInt8]]) -> [(Interface, [UInt8])] {
        for frame in frames {
            if queue.count < faults.queue { queue.append(frame) } else { lost += 1 }
        }
        let leaving = queue.prefix(faults.rate).map { (to, $0) }
        queue.removeFirst(leaving.count)
        return leaving
    }

    init(_ a: Interface, _ b: Interface, faults: Faults = Faults(), seed: UInt64 = 1, segmentation: Segmentation = .cut) {
        self.a = a
        self.b = b
        self.faults = faults
        self.segmentation = segmentation
        random = SplitMix64(seed: seed)
    }

    /// What `from` sends, as frames on the wire (segmented as `segmentation` says).
    private func drain(_ from: Interface) -> [[UInt8]] {
        from.drainSegmenting().flatMap { segment($0.frame, segmentSize: $0.segmentSize, mode: segmentation) }
    }

    private func chance(_ perMille: Int) -> Bool { perMille > 0 && random.below(1000) < perMille }

    /// Moves every queued frame once and runs both interfaces' timers.
    func step(advance: UInt64 = 10 * millisecond) {
        now += advance
        _ = a.poll(now: now)
        _ = b.poll(now: now)
        var batch: [(Interface, [UInt8])] = []
        if faults.rate > 0 {
            batch = bottleneck(&toB, b, drain(a)) + bottleneck(&toA, a, drain(b))
        } else {
            batch += drain(a).map { (b, $0) }
            batch += drain(b).map { (a, $0) }
        }
        var out = held
        held = []
        for (to, frame) in batch {
            if chance(faults.loss) { lost += 1; continue }
            var frame = frame
            // A frame carrying several segments came whole from a merging device, which vouches
            // for its checksum - unless the link corrupted it after.
            var trusted = frame.count > to.mtu + 14
            if trusted { merged += 1 }
            if chance(faults.corruption) {
                let bit = random.below(frame.count * 8)
                frame[bit / 8] ^= UInt8(1 << (bit % 8))
                corrupted += 1
                trusted = false
            }
            if chance(faults.reordering) {
                held.append((to, frame, trusted))
                reordered += 1
                continue
            }
            out.append((to, frame, trusted))
            if chance(faults.duplication) {
                out.append((to, frame, trusted))
                duplicated += 1
            }
        }
        for (to, frame, trusted) in out {
            delivered += 1
            frame.withUnsafeBytes { to.receive(frame: $0, now: now, checksumTrusted: trusted) }
        }
    }

    /// Steps until `done` or `limit` steps; true when done.
    @discardableResult
    func run(steps limit: Int = 1000, until done: () -> Bool) -> Bool {
        for _ in 0..<limit {
            if done() { return true }
            step()
        }
        return done()
    }
}
