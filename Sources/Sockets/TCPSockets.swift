// Blocking TCP on threads: `TCPServer` (listen, accept) and `TCPStream`
// (connect, read, write, shutdown, close), each call with an optional
// timeout in nanoseconds. `close` does not wait: the stack sends what is
// queued, then the FIN, in the background (like a BSD close without linger);
// `waitUntilSent` waits for the peer's acknowledgment when that matters.
// Limits: no urgent data (TCP has none yet); no socket options beyond
// `noDelay` and `keepAlive` on the underlying connection.

import Net
import Swiftlet

public final class TCPServer {
    public let listener: TCPListener
    let stack: NetworkStack

    /// Listens on `port`; at most `backlog` connections wait for `accept`.
    public init(port: UInt16, backlog: Int = 16, on stack: NetworkStack) throws(NetworkError) {
        self.stack = stack
        do throws(TCPSocketError) { listener = try stack.interface.listen(port: port, backlog: backlog) } catch {
            throw NetworkError(error)
        }
    }

    /// The next established connection.
    public func accept(timeout: UInt64? = nil) throws(NetworkError) -> TCPStream {
        var accepted: TCPConnection?
        try stack.wait(timeout: timeout) {
            accepted = listener.accept()
            return accepted != nil || !listener.isOpen
        }
        guard let accepted else { throw .closed }
        return TCPStream(accepted, stack: stack)
    }

    /// Stops listening; connections not yet accepted are reset.
    public func close() {
        listener.close()
        stack.service()
    }
}

public final class TCPStream {
    public let connection: TCPConnection
    let stack: NetworkStack

    init(_ connection: TCPConnection, stack: NetworkStack) {
        self.connection = connection
        self.stack = stack
    }

    /// Opens a connection to `remote` (from an ephemeral port); a timeout aborts the attempt.
    public static func connect(to remote: IPv4Endpoint, on stack: NetworkStack,
                               timeout: UInt64? = nil) throws(NetworkError) -> TCPStream {
        let connection: TCPConnection
        do throws(TCPSocketError) {
            connection = try stack.interface.connect(to: remote, now: Kernel.monotonicClock)
        } catch {
            throw NetworkError(error)
        }
        stack.service()
        do throws(NetworkError) {
            try stack.wait(timeout: timeout) { connection.state != .synSent && connection.state != .synReceived }
        } catch {
            connection.abort()
            stack.service()
            throw error
        }
        if let error = connection.error { throw NetworkError(error) }
        return TCPStream(connection, stack: stack)
    }

    /// Reads what has arrived (waiting for at least one byte): the count, or
    /// 0 once the peer has closed its side and everything was read.
    public func read(into buffer: UnsafeMutableRawBufferPointer, timeout: UInt64? = nil) throws(NetworkError) -> Int {
        guard buffer.count > 0 else { return 0 }
        var count: Int?
        try stack.wait(timeout: timeout) {
            count = connection.receive(into: buffer)
            return count != nil
        }
        if count == 0, let error = connection.error { throw NetworkError(error) }
        stack.service()  // the window may have opened
        return count ?? 0
    }

    /// Queues all of `bytes`, waiting for room as the peer acknowledges.
    /// Returns the count queued: all of them, or fewer when the timeout (for
    /// the whole call) passed after some were (none by then: `.timedOut`).
    @discardableResult
    public func write(_ bytes: UnsafeRawBufferPointer, timeout: UInt64? = nil) throws(NetworkError) -> Int {
        let deadline = NetworkStack.deadline(after: timeout)
        var written = 0
        while written < bytes.count {
            do throws(NetworkError) {
                try stack.wait(deadline: deadline) { connection.sendSpace > 0 || !isWritable }
            } catch {
                if written > 0 { return written }
                throw error
            }
            guard isWritable else { throw writeError }
            written += connection.send(UnsafeRawBufferPointer(rebasing: bytes[written...]))
            stack.service()
        }
        return written
    }

    /// Writes all of `bytes` (a whole request, a text): fewer is an error.
    public func write(_ bytes: [UInt8], timeout: UInt64? = nil) throws(NetworkError) {
        var outcome: Result<Int, NetworkError> = .success(0)
        bytes.withUnsafeBytes { buffer in
            do throws(NetworkError) { outcome = .success(try write(buffer, timeout: timeout)) } catch { outcome = .failure(error) }
        }
        if try outcome.get() < bytes.count { throw .timedOut }
    }

    /// Waits until the peer has acknowledged everything written.
    public func waitUntilSent(timeout: UInt64? = nil) throws(NetworkError) {
        try stack.wait(timeout: timeout) { connection.unacknowledged == 0 || connection.state == .closed }
        if let error = connection.error { throw NetworkError(error) }
    }

    /// Sends a FIN after the queued data; reading goes on.
    public func shutdown() {
        connection.shutdownWrite()
        stack.service()
    }

    /// Closes both directions (a reset if unread data is left, RFC 9293 §3.10.4).
    public func close() {
        connection.close()
        stack.service()
    }

    /// Not shut down, closed or reset (the send buffer may still be full).
    private var isWritable: Bool {
        switch connection.state {
        case .synSent, .synReceived, .established, .closeWait: return true
        default: return false
        }
    }

    private var writeError: NetworkError { connection.error.map { NetworkError($0) } ?? .closed }
}

extension NetworkError {
    init(_ error: TCPSocketError) {
        switch error {
        case .addressInUse: self = .addressInUse
        case .noFreePort: self = .noFreePort
        case .tooManyConnections: self = .tooManySockets
        case .invalidPort, .invalidAddress: self = .invalidAddress
        }
    }

    init(_ error: TCPError) {
        switch error {
        case .refused: self = .refused
        case .reset: self = .reset
        case .timedOut: self = .connectionTimedOut
        case .aborted: self = .closed
        }
    }
}
