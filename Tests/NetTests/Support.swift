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
                   limits: InterfaceLimits = InterfaceLimits()) -> Interface {
    let ipv4 = try! IPv4Configuration(address: ip(address), prefixLength: prefix, gateway: gateway.map(ip))
    return try! Interface(configuration: InterfaceConfiguration(mac: mac, mtu: mtu, ipv4: ipv4, limits: limits))
}

extension Interface {
    func receive(_ frame: [UInt8], now: UInt64 = 0) {
        frame.withUnsafeBytes { receive(frame: $0, now: now) }
    }

    /// Every queued frame, removed from the queue.
    func drain() -> [[UInt8]] {
        var frames: [[UInt8]] = []
        transmit { frames.append(Array($0)); return true }
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
    var random: SplitMix64
    var now: UInt64 = 0
    var delivered = 0, lost = 0, duplicated = 0, reordered = 0, corrupted = 0
    private var held: [(Interface, [UInt8])] = []
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

    init(_ a: Interface, _ b: Interface, faults: Faults = Faults(), seed: UInt64 = 1) {
        self.a = a
        self.b = b
        self.faults = faults
        random = SplitMix64(seed: seed)
    }

    private func chance(_ perMille: Int) -> Bool { perMille > 0 && random.below(1000) < perMille }

    /// Moves every queued frame once and runs both interfaces' timers.
    func step(advance: UInt64 = 10 * millisecond) {
        now += advance
        _ = a.poll(now: now)
        _ = b.poll(now: now)
        var batch: [(Interface, [UInt8])] = []
        if faults.rate > 0 {
            batch = bottleneck(&toB, b, a.drain()) + bottleneck(&toA, a, b.drain())
        } else {
            batch += a.drain().map { (b, $0) }
            batch += b.drain().map { (a, $0) }
        }
        var out: [(Interface, [UInt8])] = held
        held = []
        for (to, frame) in batch {
            if chance(faults.loss) { lost += 1; continue }
            var frame = frame
            if chance(faults.corruption) {
                let bit = random.below(frame.count * 8)
                frame[bit / 8] ^= UInt8(1 << (bit % 8))
                corrupted += 1
            }
            if chance(faults.reordering) {
                held.append((to, frame))
                reordered += 1
                continue
            }
            out.append((to, frame))
            if chance(faults.duplication) {
                out.append((to, frame))
                duplicated += 1
            }
        }
        for (to, frame) in out {
            delivered += 1
            to.receive(frame, now: now)
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
