// Blocking UDP on threads: a bound port that sends datagrams and waits for
// them, with optional timeouts in nanoseconds. An ICMP unreachable about a
// datagram we sent is reported by the next receive as `.refused`.
// Limits: those of Net's UDPSocket (one address, no multicast).

import Net
import Swiftlet

public final class UDPEndpoint {
    public let socket: UDPSocket
    let stack: NetworkStack

    /// Binds `port` (0: a free ephemeral port).
    public init(port: UInt16 = 0, on stack: NetworkStack) throws(NetworkError) {
        self.stack = stack
        do throws(SocketError) { socket = try stack.interface.bindUDP(port: port) } catch {
            switch error {
            case .addressInUse: throw .addressInUse
            case .noFreePort: throw .noFreePort
            case .tooManySockets: throw .tooManySockets
            }
        }
    }

    public var port: UInt16 { socket.port }

    /// Sends one datagram, waiting while the transmit queue is full.
    public func send(_ payload: UnsafeRawBufferPointer, to destination: IPv4Endpoint,
                     timeout: UInt64? = nil) throws(NetworkError) {
        var failure: SendError?
        try stack.wait(timeout: timeout) {
            do throws(SendError) {
                try stack.interface.send(socket, to: destination, payload: payload, now: Kernel.monotonicClock)
                failure = nil
                return true
            } catch {
                failure = error
                guard error == .queueFull else { return true }
                stack.service()  // drain the queue towards the device, then try again
                return false
            }
        }
        stack.service()
        if let failure { throw NetworkError(failure) }
    }

    /// The next datagram (truncated to `buffer`) and its sender.
    public func receive(into buffer: UnsafeMutableRawBufferPointer, timeout: UInt64? = nil) throws(NetworkError) -> UDPReceived {
        var received: UDPReceived?
        var refused = false
        try stack.wait(timeout: timeout) {
            received = socket.receive(into: buffer)
            if received == nil, socket.takeError() != nil { refused = true }
            return received != nil || refused || !socket.isOpen
        }
        if refused { throw .refused }
        guard let received else { throw .closed }
        return received
    }

    public func close() { stack.interface.close(socket) }
}

extension NetworkError {
    init(_ error: SendError) {
        switch error {
        case .noRoute: self = .noRoute
        case .messageTooLong: self = .messageTooLong
        case .queueFull: self = .timedOut
        case .socketClosed: self = .closed
        case .invalidPort: self = .invalidAddress
        }
    }
}
