// UDP sockets: a port bound on the interface and a bounded receive queue of
// whole datagrams with their senders. Sending goes through the interface
// (`Interface.send(_:to:payload:now:)`), which routes and resolves.
// An ICMP unreachable about a datagram this socket sent is kept as the
// socket's pending error (like a connected BSD socket's ECONNREFUSED).
// Limits: sockets bind a port on our one address (no per-address binding,
// no connect filtering, no multicast groups).
// Tests: Tests/NetTests/InputTests.swift, LinkTests.swift.

public enum SocketError: Error, Equatable {
    case addressInUse
    case noFreePort
    case tooManySockets
}

public enum SendError: Error, Equatable {
    /// Destination off-link with no gateway, or an address we cannot send to
    /// (0.0.0.0, multicast, loopback, our own address).
    case noRoute
    /// More than 65507 bytes of UDP data (65535 minus the headers).
    case messageTooLong
    /// The transmit queue, or the queue of frames waiting for ARP, is full: try later.
    case queueFull
    /// The socket was closed.
    case socketClosed
    /// Port 0 is not a valid destination.
    case invalidPort
}

/// An ICMP error that came back about something we sent.
public struct ICMPError: Equatable {
    public var type: UInt8
    public var code: UInt8
    /// Who reported it (the destination host, or a router on the way).
    public var reporter: IPv4Address
    /// The destination of the datagram it is about.
    public var destination: IPv4Endpoint
}

public struct UDPReceived: Equatable {
    public var source: IPv4Endpoint
    /// Bytes copied into the caller's buffer.
    public var length: Int
    /// The datagram's full length (more than `length` when the buffer was too small; the rest is lost).
    public var datagramLength: Int
}

public final class UDPSocket {
    public let port: UInt16
    public internal(set) var isOpen = true
    public internal(set) var pendingError: ICMPError?
    let queue: PacketQueue<IPv4Endpoint>

    init(port: UInt16, queueBytes: Int, queueDatagrams: Int) {
        self.port = port
        queue = PacketQueue(byteCapacity: queueBytes, maxPackets: queueDatagrams)
    }

    public var queuedDatagrams: Int { queue.count }

    /// Takes the oldest datagram: copies its data into `buffer` (truncating)
    /// and returns where it came from, or nil when none is waiting.
    public func receive(into buffer: UnsafeMutableRawBufferPointer) -> UDPReceived? {
        let received = queue.withFirst { source, data -> UDPReceived in
            let length = min(data.count, buffer.count)
            buffer.copy(data.slice(0..<length), to: 0)
            return UDPReceived(source: source, length: length, datagramLength: data.count)
        }
        queue.removeFirst()
        return received
    }

    /// Returns and clears the pending ICMP error.
    public func takeError() -> ICMPError? {
        defer { pendingError = nil }
        return pendingError
    }
}

/// The interface's sockets, by local port.
struct UDPSocketTable {
    static let ephemeralPorts: ClosedRange<UInt16> = 49152...65535

    let limit: Int
    private(set) var sockets: [UDPSocket] = []
    private var nextEphemeral = UDPSocketTable.ephemeralPorts.lowerBound

    init(limit: Int) { self.limit = limit }

    func socket(port: UInt16) -> UDPSocket? { sockets.first { $0.port == port } }

    /// Picks a free port (0 = any ephemeral port, RFC 6335's range).
    mutating func bind(port: UInt16, queueBytes: Int, queueDatagrams: Int) throws(SocketError) -> UDPSocket {
        guard sockets.count < limit else { throw .tooManySockets }
        var chosen = port
        if port == 0 {
            let range = UDPSocketTable.ephemeralPorts
            var tries = 0
            repeat {
                chosen = nextEphemeral
                nextEphemeral = nextEphemeral == range.upperBound ? range.lowerBound : nextEphemeral + 1
                tries += 1
            } while socket(port: chosen) != nil && tries <= range.count
            guard socket(port: chosen) == nil else { throw .noFreePort }
        } else if socket(port: port) != nil {
            throw .addressInUse
        }
        let socket = UDPSocket(port: chosen, queueBytes: queueBytes, queueDatagrams: queueDatagrams)
        sockets.append(socket)
        return socket
    }

    mutating func close(_ socket: UDPSocket) {
        socket.isOpen = false
        socket.queue.removeAll()
        sockets.removeAll { $0 === socket }
    }
}
