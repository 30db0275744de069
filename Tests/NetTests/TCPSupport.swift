// TCP test helpers: segments built byte by byte from RFC 9293's layout
// (independent of TCPHeader.emit), a scripted peer that talks to one
// interface with hand-built segments and reads what it sends back, and
// byte-array wrappers around the connection API.

@testable import Net
import TestSupport
import XCTest

extension Build {
    /// A TCP segment with a correct checksum; `options` raw (padded here to 4 bytes).
    static func tcp(from src: IPv4Endpoint, to dst: IPv4Endpoint, seq: UInt32, ack: UInt32 = 0, flags: UInt8,
                    window: UInt16 = 65535, options: [UInt8] = [], _ payload: [UInt8] = []) -> [UInt8] {
        var options = options
        while options.count % 4 != 0 { options.append(0) }
        let headerLength = 20 + options.count
        var segment = be16(src.port) + be16(dst.port)
        segment += [UInt8(seq >> 24), UInt8((seq >> 16) & 255), UInt8((seq >> 8) & 255), UInt8(seq & 255)]
        segment += [UInt8(ack >> 24), UInt8((ack >> 16) & 255), UInt8((ack >> 8) & 255), UInt8(ack & 255)]
        segment += [UInt8(headerLength / 4) << 4, flags] + be16(window) + [0, 0, 0, 0] + options + payload
        let pseudo = ipBytes(src.address) + ipBytes(dst.address) + [0, 6] + be16(UInt16(segment.count))
        let sum = referenceChecksum(pseudo + segment)
        segment[16] = UInt8(sum >> 8)
        segment[17] = UInt8(sum & 0xff)
        return segment
    }
}

enum Flag {
    static let fin: UInt8 = 0x01, syn: UInt8 = 0x02, rst: UInt8 = 0x04, psh: UInt8 = 0x08, ack: UInt8 = 0x10
}

/// A segment as seen on the wire.
struct Seen {
    var header: TCPHeader
    var data: [UInt8]
    var flags: TCPFlags { header.flags }
    var seq: UInt32 { header.sequenceNumber }
    var ack: UInt32 { header.acknowledgmentNumber }
}

/// Parses the TCP segment in a frame (nil for anything else).
func tcpSegment(_ frame: [UInt8]) -> Seen? {
    frame.withUnsafeBytes { bytes -> Seen? in
        guard bytes.count > 14, bytes[12] == 8, bytes[13] == 0,
              let ip = try? IPv4Header.parse(bytes.dropping(14)), ip.protocolNumber == 6 else { return nil }
        let segment = bytes.slice(14 + ip.headerLength..<14 + ip.totalLength)
        guard let header = try? TCPHeader.parse(segment, source: ip.source, destination: ip.destination) else {
            return nil
        }
        return Seen(header: header, data: Array(segment.dropping(header.headerLength)))
    }
}

/// One interface under test and a scripted peer at 10.0.0.9 whose MAC it already knows.
final class TCPPeer {
    let host: Interface
    let peer: IPv4Endpoint
    var now: UInt64 = 0

    init(settings: TCPSettings = fastSettings(), peerPort: UInt16 = 4000) {
        var limits = InterfaceLimits()
        limits.tcp = settings
        limits.arpEntryLifetime = 1000 * 3600 * second  // the peer stays resolved through long timer tests
        host = makeInterface(limits: limits)
        peer = IPv4Endpoint(address: ip("10.0.0.9"), port: peerPort)
        host.receive(Build.ethernet(to: host.mac, from: macPeer, type: 0x0806,
                                    Build.arp(op: 2, sha: macPeer, spa: peer.address, tha: host.mac,
                                              tpa: host.address)))
    }

    /// Sends a segment from the peer to the host's `port`.
    func send(to port: UInt16, seq: UInt32, ack: UInt32 = 0, flags: UInt8, window: UInt16 = 65535,
              options: [UInt8] = [], _ payload: [UInt8] = [], from source: IPv4Endpoint? = nil) {
        let src = source ?? peer
        let dst = IPv4Endpoint(address: host.address, port: port)
        let segment = Build.tcp(from: src, to: dst, seq: seq, ack: ack, flags: flags, window: window,
                                options: options, payload)
        host.receive(Build.ethernet(to: host.mac, from: macPeer, type: 0x0800,
                                    Build.ipv4(from: src.address, to: host.address, protocol: 6, segment)), now: now)
    }

    /// Every TCP segment the host queued.
    func sent() -> [Seen] { host.drain().compactMap(tcpSegment) }

    /// Advances time, polls, and returns what went out.
    func advance(to time: UInt64) -> [Seen] {
        now = time
        _ = host.poll(now: now)
        return sent()
    }
}

/// Small timers so tests run fast in simulated time: RTO 200 ms minimum, TIME-WAIT 1 s.
func fastSettings() -> TCPSettings {
    var settings = TCPSettings()
    settings.initialRTO = 1 * second
    settings.minimumRTO = 200 * millisecond
    settings.timeWait = 1 * second
    settings.secret = (0x1234_5678, 0x9abc_def0)
    return settings
}

extension TCPConnection {
    @discardableResult
    func send(_ bytes: [UInt8]) -> Int { bytes.withUnsafeBytes { send($0) } }

    /// nil: nothing yet; []: end of stream.
    func receive(capacity: Int = 65536) -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: capacity)
        guard let n = buffer.withUnsafeMutableBytes({ receive(into: $0) }) else { return nil }
        return Array(buffer[0..<n])
    }
}

extension TCPPeer {
    /// A passive open on port 80 from the peer (ISN 1000, SYN `options`;
    /// the handshake ACK carries `window`): the accepted connection and our
    /// next sequence number. `synAck` sees our SYN-ACK first.
    func passiveOpen(options: [UInt8], window: UInt16 = 65535,
                     synAck check: (Seen) -> Void = { _ in }) throws -> (TCPConnection, UInt32) {
        let listener = try host.listen(port: 80)
        send(to: 80, seq: 1000, flags: Flag.syn, options: options)
        let synAck = try XCTUnwrap(sent().first)
        check(synAck)
        send(to: 80, seq: 1001, ack: synAck.seq &+ 1, flags: Flag.ack, window: window)
        return (try XCTUnwrap(listener.accept()), synAck.seq &+ 1)
    }
}
