// udpecho: the first application on Swiftlet's own IPv4 stack (Sources/Net).
// On the first network device, configured with `--ipv4=ADDR/PREFIX`
// (and optionally `--ipv4-gateway=ADDR`), it answers ARP and ping and echoes
// every UDP datagram sent to port 7. A datagram "STOP" is echoed and ends
// the run (status 0); 60 s without a frame ends it with status 2. Exit 3: no
// network device; 4: bad or missing --ipv4.
// The loop is the shape every network service here will have until the
// socket API on threads exists: frames in, the stack's output out, then
// sleep on the device's event until the stack's next deadline.

import Net
import Swiftlet
import Threads

@main
struct UDPEcho {
    static func main() {
        guard let nic = Devices.network.first else {
            Console.print("udpecho: no network device")
            Kernel.exit(3)
        }
        let interface: Interface
        do throws(ConfigurationError) {
            guard let ipv4 = try IPv4Configuration.parse(arguments: Kernel.rawArguments.map { $0.utf8 }) else {
                Console.print("udpecho: needs --ipv4=ADDR/PREFIX")
                Kernel.exit(4)
            }
            let m = nic.mac.bytes
            interface = try Interface(configuration: InterfaceConfiguration(
                mac: EthernetAddress(m.0, m.1, m.2, m.3, m.4, m.5), mtu: nic.mtu, ipv4: ipv4))
        } catch {
            print("udpecho: \(error.message)")
            Kernel.exit(4)
        }
        let echo: UDPSocket
        do { echo = try interface.bindUDP(port: 7) } catch { Kernel.exit(1) }
        print("udpecho: \(nic.name.string) \(interface.address.description) port 7")

        let frame = UnsafeMutableRawBufferPointer.allocate(byteCount: nic.mtu + 14, alignment: 16)
        let datagram = UnsafeMutableRawBufferPointer.allocate(byteCount: 65_536, alignment: 16)
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
                    Console.print("udpecho: receive failed")
                    Kernel.exit(1)
                }
                guard let length else { break }
                interface.receive(frame: UnsafeRawBufferPointer(rebasing: frame[0..<length]), now: now)
                lastFrame = now
            }
            while let received = echo.receive(into: datagram) {
                let payload = UnsafeRawBufferPointer(rebasing: datagram[0..<received.length])
                _ = try? interface.send(echo, to: received.source, payload: payload, now: now)
                echoed += 1
                if received.length == 4 && payload.elementsEqual("STOP".utf8) {
                    _ = interface.transmit { (try? nic.transmit($0)) != nil }
                    Console.print("udpecho: echoed \(echoed) datagrams")
                    Kernel.exit(0)
                }
            }
            _ = interface.transmit { (try? nic.transmit($0)) != nil }
            if now &- lastFrame > 60_000_000_000 {
                Console.print("udpecho: idle for 60 s after \(echoed) datagrams")
                Kernel.exit(2)
            }
            let deadline = min(interface.poll(now: now) ?? UInt64.max, now &+ 1_000_000_000)
            _ = Events.wait(for: nic.event, until: deadline)
        }
    }
}
