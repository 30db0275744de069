// httpd: an HTTP/1.1 server on Swiftlet's TCP/IP stack (Sources/Net) and the
// sans-IO HTTP module (Sources/HTTP), over the first network device,
// configured like echo (`--ipv4=ADDR/PREFIX`, optionally `--ipv4-gateway=ADDR`),
// listening on TCP port 80.
// Routes: `GET`/`HEAD /` a small HTML page; `/kv/KEY` an in-memory store
// (`GET`/`HEAD` 200 or 404, `PUT` 201 new or 204 replaced, `DELETE` 204 or
// 404); other methods there 405 with Allow; anything else 404. `POST /stop`
// answers 200 and ends the run (status 0) once the answer is acknowledged.
// Connections: pipelined requests are answered in order, keep-alive as the
// request asks; a request the parser refuses gets its 4xx/5xx and the
// connection closes. Output the send buffer cannot take waits in a
// per-connection pending buffer; above `pendingHighWater` no more requests
// are read from that connection until it drains.
// Limits: KVStore (1024 keys, 1 MiB of keys and values; a body larger than
// the whole store is 413 from the parser, a value the store has no room left
// for is 507). 60 s without a frame ends the run with status 2. Exit 3: no
// network device; 4: bad or missing --ipv4.

import HTTP
import Net
import NetHost
import Swiftlet

/// The key-value store: pairs in an array, found by linear search. Dictionary
/// is not available in hvt images (it needs floating point), and 1024 keys
/// searched by memcmp-sized comparisons cost far less than a request's I/O.
struct KVStore {
    static let maxKeys = 1024
    static let maxBytes = 1 << 20
    private var keys: [[UInt8]] = []
    private var values: [[UInt8]] = []
    /// Key and value bytes held, the quantity `maxBytes` bounds.
    private(set) var bytes = 0

    enum PutResult { case created, replaced, full }

    func value(for key: ArraySlice<UInt8>) -> [UInt8]? {
        index(of: key).map { values[$0] }
    }

    mutating func put(_ key: ArraySlice<UInt8>, _ value: [UInt8]) -> PutResult {
        if let i = index(of: key) {
            guard bytes - values[i].count + value.count <= Self.maxBytes else { return .full }
            bytes += value.count - values[i].count
            values[i] = value
            return .replaced
        }
        guard keys.count < Self.maxKeys, bytes + key.count + value.count <= Self.maxBytes else { return .full }
        keys.append(Array(key))
        values.append(value)
        bytes += key.count + value.count
        return .created
    }

    mutating func remove(_ key: ArraySlice<UInt8>) -> Bool {
        guard let i = index(of: key) else { return false }
        bytes -= keys[i].count + values[i].count
        // Order does not matter: move the last pair into the hole.
        keys.swapAt(i, keys.count - 1)
        values.swapAt(i, values.count - 1)
        keys.removeLast()
        values.removeLast()
        return true
    }

    private func index(of key: ArraySlice<UInt8>) -> Int? {
        keys.firstIndex { $0.elementsEqual(key) }
    }
}

/// One accepted connection: its parser and the response bytes not yet sent.
final class Session {
    let connection: TCPConnection
    var parser = RequestParser(limits: HTTPLimits(maxBodyBytes: KVStore.maxBytes))
    var pending: [UInt8] = []
    var sent = 0
    /// No more requests are answered: the last response was final (error,
    /// Connection: close, or the peer's end of stream).
    var finishing = false
    /// When our FIN was queued; the peer then has `lingerTime` to close its side.
    var shutdownAt: UInt64?
    /// This connection carried POST /stop.
    var stops = false

    init(_ connection: TCPConnection) {
        self.connection = connection
        connection.noDelay = true  // responses leave whole, at once: Nagle would only add delay
    }

    var backlog: Int { pending.count - sent }
}

@main
struct HTTPService {
    static let port: UInt16 = 80
    /// Pending output above which a connection's requests are not read.
    static let pendingHighWater = 64 * 1024
    /// How long a finished connection drains the peer's bytes after our FIN
    /// before it is dropped. Closing with unread input would reset the
    /// connection, and a reset can destroy the error response in flight.
    static let lingerTime: UInt64 = 5 * Interface.second
    static let page: StaticString = """
        <!DOCTYPE html>
        <html><head><title>Swiftlet</title></head>
        <body><h1>Hello from Swiftlet</h1><p>An HTTP server in a unikernel. Try /kv/KEY.</p></body></html>

        """

    static var store = KVStore()

    static func main() {
        let host = NetworkHost(application: "httpd")
        let interface = host.interface
        let listener: TCPListener
        do throws(TCPSocketError) { listener = try interface.listen(port: port) } catch { Kernel.exit(1) }
        host.announce(port: port)

        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 16_384, alignment: 16)
        var sessions: [Session] = []
        var stopping: TCPConnection?
        var stopDeadline = UInt64.max
        while true {
            let now = Kernel.monotonicClock
            host.receiveFrames(now: now)
            while let connection = listener.accept() { sessions.append(Session(connection)) }
            sessions.removeAll { session in
                let over = serve(session, through: buffer, now: now)
                if over && session.stops { stopping = session.connection; stopDeadline = now &+ 2 * Interface.second }
                return over
            }
            let deadline = host.transmitFrames(now: now)
            // The stop answer is sent once the peer acknowledged all of it (or 2 s passed).
            if let stopping, stopping.unacknowledged == 0 || stopping.state == .closed || now > stopDeadline {
                Console.print("httpd: stopped, \(store.bytes) bytes stored")
                Kernel.exit(0)
            }
            host.exitIfIdle(now: now)
            host.wait(until: min(deadline, stopping == nil ? UInt64.max : now &+ 10_000_000))
        }
    }

    /// Moves one connection along: pending output out, buffered and newly
    /// received requests answered (while output is not backed up), and the
    /// close once it is finished. True when the session is over.
    static func serve(_ session: Session, through buffer: UnsafeMutableRawBufferPointer, now: UInt64) -> Bool {
        let connection = session.connection
        if connection.state == .closed { return true }  // reset or timed out: nothing to answer
        flush(session)
        while !session.finishing && session.backlog < pendingHighWater {
            do throws(HTTPError) {
                if let request = try session.parser.nextRequest() {
                    answer(request, on: session)
                    continue
                }
            } catch {
                var writer = ResponseWriter(take(session))
                writer.error(error)
                session.pending = writer.sink
                session.finishing = true
                break
            }
            if session.parser.needsContinue {
                var writer = ResponseWriter(take(session))
                writer.continueResponse()
                session.pending = writer.sink
                session.parser.markContinueSent()
            }
            guard let count = connection.receive(into: buffer) else { break }
            if count == 0 { session.finishing = true; break }  // the peer is done: an unfinished request is dropped
            session.parser.feed(UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
        }
        flush(session)
        guard session.finishing, session.backlog == 0 else { return false }
        // Finished and all handed to TCP: FIN, then read and drop what the
        // peer still sends until it closes too (or lingerTime runs out).
        if session.shutdownAt == nil {
            connection.shutdownWrite()
            session.shutdownAt = now
        }
        while let count = connection.receive(into: buffer) {
            if count == 0 { connection.close(); return true }
        }
        if now &- session.shutdownAt! > lingerTime { connection.abort(); return true }
        return false
    }

    /// The session's pending bytes, moved out so a ResponseWriter appends to them in place.
    static func take(_ session: Session) -> [UInt8] {
        defer { session.pending = [] }
        return session.pending
    }

    /// Hands pending output to TCP as far as the send buffer allows.
    static func flush(_ session: Session) {
        let connection = session.connection
        while session.backlog > 0 && connection.sendSpace > 0 {
            let taken = session.pending.withUnsafeBytes { connection.send(UnsafeRawBufferPointer(rebasing: $0[session.sent...])) }
            if taken == 0 { break }
            session.sent += taken
        }
        if session.backlog == 0 {
            session.pending.removeAll(keepingCapacity: session.pending.capacity <= pendingHighWater)
            session.sent = 0
        }
    }

    /// Routes one request and appends its response to the session's pending output.
    static func answer(_ request: HTTPRequest, on session: Session) {
        var writer = ResponseWriter(take(session))
        defer {
            session.pending = writer.sink
            if writer.closesConnection { session.finishing = true }
        }
        let path = request.path
        if path.elementsEqual("/".utf8) {
            guard request.method == .get || request.method == .head else {
                return writer.methodNotAllowed(to: request, allow: "GET, HEAD")
            }
            writer.startHead(.ok)
            writer.field("Content-Type", "text/html; charset=utf-8")
            writer.endHead(contentLength: page.utf8CodeUnitCount, keepAlive: request.keepAlive, version: request.version)
            if request.method == .get { writer.body(page) }
            return
        }
        if path.elementsEqual("/stop".utf8) && request.method == .post {
            session.stops = true
            return writer.simpleResponse(.ok, keepAlive: false)
        }
        let prefix = "/kv/".utf8
        guard path.count > prefix.count, path.starts(with: prefix) else { return writer.notFound(to: request) }
        let key = path.dropFirst(prefix.count)
        switch request.method {
        case .get, .head:
            guard let value = store.value(for: key) else { return writer.notFound(to: request) }
            writer.startHead(.ok)
            writer.field("Content-Type", "application/octet-stream")
            writer.endHead(contentLength: value.count, keepAlive: request.keepAlive, version: request.version)
            if request.method == .get { writer.body(value) }
        case .put:
            switch store.put(key, request.body) {
            case .created: writer.simpleResponse(.created, to: request)
            case .replaced: writer.simpleResponse(.noContent, to: request)
            case .full: writer.simpleResponse(HTTPStatus(code: 507, reason: "Insufficient Storage"), to: request)
            }
        case .delete:
            writer.simpleResponse(store.remove(key) ? .noContent : .notFound, to: request)
        default:
            writer.methodNotAllowed(to: request, allow: "GET, HEAD, PUT, DELETE")
        }
    }
}
