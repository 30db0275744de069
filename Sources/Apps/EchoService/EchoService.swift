// echo: the echo service (RFC 862) on Swiftlet's own TCP/IP stack
// (Sources/Net), over the first network device, configured with
// `--ipv4=ADDR/PREFIX` (and optionally `--ipv4-gateway=ADDR`). It answers
// ARP and ping, echoes every UDP datagram sent to port 7, and echoes every
// TCP connection to port 7 until the peer closes its side. A UDP datagram
// "STOP" is echoed and ends the run (status 0); 60 s without a frame ends
// it with status 2. Exit 3: no network device; 4: bad or missing --ipv4.
// The loop is the shape every service has until the socket API on threads
// exists (NetworkHost, Sources/NetHost): frames in, the stack's work, its
// output out, then sleep on the device's event until the stack's next deadline.

import Net
import NetHost
import Swiftlet

@main
struct EchoService {
    static func main() {
        let host = NetworkHost(application: "echo")
        let interface = host.interface
        let datagrams: UDPSocket, listener: TCPListener
        do throws(SocketError) { datagrams = try interface.bindUDP(port: 7) } catch { Kernel.exit(1) }
        do throws(TCPSocketError) { listener = try interface.listen(port: 7) } catch { Kernel.exit(1) }
        host.announce(port: 7)

        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 65_536, alignment: 16)
        var connections: [TCPConnection] = []
        var echoed = 0
        while true {
            let now = Kernel.monotonicClock
            host.receiveFrames(now: now)
            while let received = datagrams.receive(into: buffer) {
                let payload = UnsafeRawBufferPointer(rebasing: buffer[0..<received.length])
                _ = try? interface.send(datagrams, to: received.source, payload: payload, now: now)
                echoed += 1
                if received.length == 4 && payload.elementsEqual("STOP".utf8) {
                    _ = host.transmitFrames(now: now)
                    Console.print("echo: echoed \(echoed) datagrams")
                    Kernel.exit(0)
                }
            }
            while let connection = listener.accept() { connections.append(connection) }
            connections.removeAll { echo($0, through: buffer) }
            let deadline = host.transmitFrames(now: now)
            host.exitIfIdle(now: now)
            host.wait(until: deadline)
        }
    }

    /// Echoes what fits in the connection's send buffer; true once the
    /// connection is over (the peer's end echoed and our side closed).
    static func echo(_ connection: TCPConnection, through buffer: UnsafeMutableRawBufferPointer) -> Bool {
        while connection.sendSpace > 0 {
            let room = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<min(connection.sendSpace, buffer.count)])
            guard let count = connection.receive(into: room) else { return false }  // nothing yet
            if count == 0 { break }                                                   // the peer is done
            _ = connection.send(UnsafeRawBufferPointer(rebasing: room[0..<count]))
        }
        guard connection.isEndOfStream else { return false }
        connection.close()
        return true
    }
}
