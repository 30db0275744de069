// NetworkHost: what every network service here does around Swiftlet's own
// TCP/IP stack (Sources/Net) - take the first network device, configure an
// Interface from `--ipv4=ADDR/PREFIX [--ipv4-gateway=ADDR]`, move frames
// between the device and the stack, and sleep on the device's event until
// the stack's next deadline. Errors end the unikernel with one line named
// after the application: 3 no network device, 4 bad or missing --ipv4,
// 1 a device failure, 2 a minute without any frame.
// Limits: one device, one interface; until the socket API on threads exists
// a service drives it from one loop (see Sources/Apps/EchoService).

import Net
import Swiftlet
import Threads

public final class NetworkHost {
    public let device: any NetworkDevice
    public let interface: Interface
    let application: StaticString
    let frame: UnsafeMutableRawBufferPointer
    /// When a frame last arrived (monotonic ns).
    public private(set) var lastFrame: UInt64
    static let idleLimit: UInt64 = 60 * Interface.second

    /// The first network device, configured from the kernel's arguments; or
    /// the unikernel ends with a line starting with `application`.
    public init(application: StaticString) {
        self.application = application
        guard let nic = Devices.network.first else {
            Console.print("\(application): no network device")
            Kernel.exit(3)
        }
        device = nic
        do throws(ConfigurationError) {
            guard let ipv4 = try IPv4Configuration.parse(arguments: Kernel.rawArguments.map { $0.utf8 }) else {
                Console.print("\(application): needs --ipv4=ADDR/PREFIX")
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
            print("\(application): \(error.message)")
            Kernel.exit(4)
        }
        frame = UnsafeMutableRawBufferPointer.allocate(byteCount: nic.mtu + 14, alignment: 16)
        lastFrame = Kernel.monotonicClock
        interface.announce(now: lastFrame)
    }

    /// "APP: DEVICE ADDRESS port PORT", once the service listens.
    public func announce(port: UInt16) {
        print("\(application): \(device.name.string) \(interface.address.description) port \(port)")
    }

    /// Hands every frame waiting on the device to the stack.
    public func receiveFrames(now: UInt64) {
        while true {
            let length: Int?
            do { length = try device.receive(into: frame) } catch {
                // An oversized frame was dropped by the device; anything else is fatal.
                if error == .invalidRequest { continue }
                Console.print("\(application): receive failed")
                Kernel.exit(1)
            }
            guard let length else { return }
            interface.receive(frame: UnsafeRawBufferPointer(rebasing: frame[0..<length]), now: now)
            lastFrame = now
        }
    }

    /// Runs the stack's timers and sends its output; returns when the stack
    /// next needs time (at most a second away, for the idle check).
    public func transmitFrames(now: UInt64) -> UInt64 {
        let deadline = min(interface.poll(now: now) ?? UInt64.max, now &+ Interface.second)
        _ = interface.transmit { (try? device.transmit($0)) != nil }
        return deadline
    }

    /// Ends the unikernel (status 2) after a minute without a frame.
    public func exitIfIdle(now: UInt64) {
        guard now &- lastFrame > NetworkHost.idleLimit else { return }
        Console.print("\(application): idle for 60 s")
        Kernel.exit(2)
    }

    /// Sleeps until a frame may be waiting or `deadline` passes.
    public func wait(until deadline: UInt64) { _ = Events.wait(for: device.event, until: deadline) }
}
