// echo: the echo service (RFC 862) on Swiftlet's own TCP/IP stack
// (Sources/Net), over the first network device, configured with
// `--ipv4=ADDR/PREFIX` (and optionally `--ipv4-gateway=ADDR`). It answers
// ARP and ping, echoes every UDP datagram sent to port 7, and echoes every
// TCP connection to port 7 until the peer closes its side. A UDP datagram
// "STOP" is echoed and ends the run (status 0); 60 s without a frame ends
// it with status 2. Exit 3: no network device; 4: bad or missing --ipv4.
// The loop is the shape every service has until the socket API on threads
// exists: frames in, the stack's work, its output out, then sleep on the
// device's event until the stack's next deadline.

import Net
import Swiftlet
import Threads

@main
struct EchoService {
    static func main() {
        guard let nic = Devices.network.first else {
            Console.print("echo: no network device")
            Kernel.exit(3)
        }
        let interface: Interface
        do throws(ConfigurationError) {
            guard let ipv4 = try IPv4Configuration.parse(arguments: Kernel.rawArguments.map { $0.utf8 }) else {
                Console.print("echo: needs --ipv4=ADDR/PREFIX")
                Kernel.exit(4)
            }
            let m = nic.mac.bytes
            var limits = InterfaceLimits()
            var secret: (UInt64, UInt64) = (0, 0)
            withUnsafeMutableBytes(of: &secret) { $0.copyBytes(from: (0..<16).map { _ in UInt8.random(in: 0...255) }) }
            limits.tcp.secret = secret  // keys the initial sequence numbers (RFC 6528)
            interface = try Interface(configuration: InterfaceConfiguration(
                mac: EthernetAddress(m.0, m.1, m.2, m.3, m.4, m.5), mtu: nic.mtu, ipv4: ipv4, limits: limits))
        } catch {
            print("echo: \(error.message)")
            Kernel.exit(4)
        }
        let datagrams: UDPSocket, listener: TCPListener
        do throws(SocketError) { datagrams = try interface.bindUDP(port: 7) } catch { Kernel.exit(1) }
        do throws(TCPSocketError) { listener = try interface.listen(port: 7) } catch { Kernel.exit(1) }
        print("echo: \(nic.name.string) \(interface.address.description) port 7")

        let frame = UnsafeMutableRawBufferPointer.allocate(byteCount: nic.mtu + 14, alignment: 16)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 65_536, alignment: 16)
        var connections: [TCPConnection] = []
        var echoed = 0
        var lastFrame = Kernel.monotonicClock
        interface.announce(now: lastFrame)
        while true {
            let now = Kernel.monotonicClock
            while true {
                let length: Int?
                do { length = try nic.receive(into: frame) } catch {
                    // An oversized frame was dropped by the device; anything else is fatal.
                    if error == .invalidRequest { continue }
                    Console.print("echo: receive failed")
                    Kernel.exit(1)
                }
                guard let length else { break }
                interface.receive(frame: UnsafeRawBufferPointer(rebasing: frame[0..<length]), now: now)
                lastFrame = now
            }
            while let received = datagrams.receive(into: buffer) {
                let payload = UnsafeRawBufferPointer(rebasing: buffer[0..<received.length])
                _ = try? interface.send(datagrams, to: received.source, payload: payload, now: now)
                echoed += 1
                if received.length == 4 && payload.elementsEqual("STOP".utf8) {
                    _ = interface.poll(now: now)
                    _ = interface.transmit { (try? nic.transmit($0)) != nil }
                    Console.print("echo: echoed \(echoed) datagrams")
                    Kernel.exit(0)
                }
            }
            while let connection = listener.accept() { connections.append(connection) }
            connections.removeAll { echo($0, through: buffer) }
            let deadline = min(interface.poll(now: now) ?? UInt64.max, now &+ 1_000_000_000)
            _ = interface.transmit { (try? nic.transmit($0)) != nil }
            if now &- lastFrame > 60_000_000_000 {
                Console.print("echo: idle for 60 s after \(echoed) datagrams")
                Kernel.exit(2)
            }
            _ = Events.wait(for: nic.event, until: deadline)
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
