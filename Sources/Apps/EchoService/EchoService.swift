// echo: the classic test services on Swiftlet's own TCP/IP stack, over the
// first network device, configured with `--ipv4=ADDR/PREFIX` (and
// optionally `--ipv4-gateway=ADDR`), written with the blocking socket API
// on threads (Sources/Sockets): one thread per connection.
//   port 7   echo (RFC 862): UDP datagrams and TCP streams come back as sent
//   port 9   discard (RFC 863): TCP bytes are read and counted, UDP dropped
//   port 19  chargen (RFC 864): TCP gets the 72-column pattern until it closes
// It answers ARP and ping too. A UDP datagram "STOP" to port 7 is echoed
// and ends the run (status 0); 60 s without a frame ends it with status 2.
// Exit 3: no network device; 4: bad or missing --ipv4; 1: no memory.

import Net
import NetHost
import Sockets
import Swiftlet
import Threads

@main
struct EchoService {
    static func main() {
        let stack = NetworkStack.start(application: "echo", exitWhenIdle: true)
        let datagrams: UDPEndpoint, discarded: UDPEndpoint
        do throws(NetworkError) {
            datagrams = try UDPEndpoint(port: 7, on: stack)
            discarded = try UDPEndpoint(port: 9, on: stack)
            serve(try TCPServer(port: 7, on: stack), name: "echo", echo)
            serve(try TCPServer(port: 9, on: stack), name: "discard", discard)
            serve(try TCPServer(port: 19, on: stack), name: "chargen", chargen)
        } catch {
            Console.print("echo: cannot bind the service ports")
            Kernel.exit(1)
        }
        stack.host.announce(port: 7)

        // UDP discard: whatever arrives at port 9 is dropped unread.
        _ = Thread.spawn(name: "udp-discard", stackSize: NetworkStack.stackSize) {
            let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 1, alignment: 1)
            while (try? discarded.receive(into: scratch)) != nil {}
            return 0
        }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 65_536, alignment: 16)
        var echoed = 0
        while true {
            guard let received = try? datagrams.receive(into: buffer) else { continue }
            let payload = UnsafeRawBufferPointer(rebasing: buffer[0..<received.length])
            try? datagrams.send(payload, to: received.source)
            echoed += 1
            if received.length == 4 && payload.elementsEqual("STOP".utf8) {
                Console.print("echo: echoed \(echoed) datagrams")
                Kernel.exit(0)
            }
        }
    }

    /// An acceptor thread that gives each connection a thread running `body`.
    static func serve(_ server: TCPServer, name: StaticString, _ body: @escaping (TCPStream) -> Void) {
        let acceptor = Thread.spawn(name: name, stackSize: NetworkStack.stackSize) {
            while true {
                guard let stream = try? server.accept() else { continue }
                guard let worker = Thread.spawn(name: name, stackSize: NetworkStack.stackSize, { body(stream); return 0 }) else {
                    stream.connection.abort()  // no memory for a thread: refuse this one
                    continue
                }
                worker.detach()
            }
        }
        guard acceptor != nil else {
            Console.print("echo: no memory for the \(name) thread")
            Kernel.exit(1)
        }
    }

    static let chunk = 16 * 1024

    /// Echo (RFC 862): until the peer closes its side, then close ours.
    static func echo(_ stream: TCPStream) {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunk, alignment: 16)
        defer { buffer.deallocate() }
        do throws(NetworkError) {
            while true {
                let count = try stream.read(into: buffer)
                if count == 0 { break }
                try stream.write(UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
            }
        } catch {}
        stream.close()
    }

    /// Discard (RFC 863): count what arrives until the peer closes.
    static func discard(_ stream: TCPStream) {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunk, alignment: 16)
        defer { buffer.deallocate() }
        var total: UInt64 = 0
        do throws(NetworkError) {
            while true {
                let count = try stream.read(into: buffer)
                if count == 0 { break }
                total += UInt64(count)
            }
        } catch {}
        stream.close()
        Console.print("echo: discarded \(total) bytes")
    }

    /// Character generator (RFC 864): lines of 72 printable characters, each
    /// starting one further along, until the peer closes or resets.
    static func chargen(_ stream: TCPStream) {
        // The pattern repeats after 95 lines: send it whole.
        let lines = UnsafeMutableRawBufferPointer.allocate(byteCount: 95 * 74, alignment: 16)
        defer { lines.deallocate() }
        for line in 0..<95 {
            for column in 0..<72 { lines[line * 74 + column] = UInt8(32 + (line + column) % 95) }
            lines[line * 74 + 72] = 13
            lines[line * 74 + 73] = 10
        }
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: chunk, alignment: 16)
        defer { scratch.deallocate() }
        while !stream.connection.isEndOfStream {
            while stream.connection.receive(into: scratch) ?? 0 > 0 {}  // whatever the client sends is discarded
            guard (try? stream.write(UnsafeRawBufferPointer(lines))) != nil else { break }
        }
        stream.close()
    }
}
