// NetworkHost: what every network service here does around Swiftlet's own
// TCP/IP stack (Sources/Net) - take the first network device, configure an
// Interface from `--ipv4=ADDR/PREFIX [--ipv4-gateway=ADDR] [--dns=ADDR]`,
// or by DHCP without `--ipv4` (DHCPSetup.swift), move frames between the
// device and the stack, and sleep on the device's event until the stack's
// next deadline. `--net-faults=` puts the device behind the fault
// middleware (LinkFaults.swift); without it the device's offloads are
// turned on (TCP segmentation, merged receive). Errors end the unikernel with one line
// named after the application: 3 no network device, 4 a bad option or no
// DHCP lease, 1 a device failure, 2 a minute without any frame.
// Limits: one device, one interface. Services use it through the socket
// API (Sources/Sockets) or drive it from one loop (Sources/Apps/HTTPService).

import Net
import Swiftlet
import Threads

public final class NetworkHost {
    public let device: any NetworkDevice
    public let interface: Interface
    /// What the device does for the stack (on unless `--net-faults` wraps it).
    public let offloads: NetworkOffloads
    let application: StaticString
    let frame: UnsafeMutableRawBufferPointer
    /// When a frame last arrived (monotonic ns).
    public private(set) var lastFrame: UInt64
    static let idleLimit: UInt64 = 60 * Interface.second

    /// The first network device, configured from the kernel's arguments
    /// (DHCP without `--ipv4`: this waits up to a minute for a lease); or the
    /// unikernel ends with a line starting with `application`.
    public convenience init(application: StaticString) {
        guard let nic = Devices.network.first else {
            Console.print("\(application): no network device")
            Kernel.exit(3)
        }
        do throws(ConfigurationError) {
            let configuration = try NetworkConfiguration.parse(arguments: Kernel.rawArguments.map { $0.utf8 })
            var limits = InterfaceLimits()
            var secret: (UInt64, UInt64) = (0, 0)
            withUnsafeMutableBytes(of: &secret) { $0.copyBytes(from: (0..<16).map { _ in UInt8.random(in: 0...255) }) }
            limits.tcp.secret = secret  // keys the initial sequence numbers (RFC 6528)
            var ipv4 = IPv4Configuration.unconfigured
            if case .static(let given) = configuration.addressing { ipv4 = given }
            try self.init(device: NetworkHost.injectFaults(into: nic, application: application), ipv4: ipv4,
                          limits: limits, application: application)
            staticDNSServers = configuration.dnsServers
        } catch {
            print("\(application): \(error.message)")
            Kernel.exit(4)
        }
        guard !interface.configuration.ipv4.isConfigured else { return }
        let driver: DHCPDriver
        do throws(SocketError) {
            driver = try DHCPDriver(interface: interface, seed: UInt64.random(in: 0...UInt64.max))
        } catch {
            Console.print("\(application): DHCP cannot bind port 68")
            Kernel.exit(4)
        }
        dhcp = driver
        guard acquireLease(driver, timeout: 60 * Interface.second) != nil else {
            Console.print("\(application): no DHCP lease within 60 s (or give --ipv4=ADDR/PREFIX)")
            Kernel.exit(4)
        }
    }

    /// `device` with an interface of `ipv4` (for tests and applications that
    /// configure themselves), using every offload the device has.
    public init(device: any NetworkDevice, ipv4: IPv4Configuration, limits: InterfaceLimits = InterfaceLimits(),
                application: StaticString) throws(ConfigurationError) {
        self.application = application
        self.device = device
        let m = device.mac.bytes
        offloads = device.enableOffloads()
        interface = try Interface(configuration: InterfaceConfiguration(
            mac: EthernetAddress(m.0, m.1, m.2, m.3, m.4, m.5), mtu: device.mtu, ipv4: ipv4, limits: limits,
            tcpSegmentation: offloads.tcpSegmentation))
        frame = UnsafeMutableRawBufferPointer.allocate(
            byteCount: offloads.mergedReceive ? NetworkOffloads.largestFrame : device.mtu + 14, alignment: 16)
        lastFrame = Kernel.monotonicClock
        if ipv4.isConfigured { interface.announce(now: lastFrame) }
    }

    /// The lease's client when the address came from DHCP (renewed by `transmitFrames`).
    public private(set) var dhcp: DHCPDriver?
    private var staticDNSServers: [IPv4Address] = []

    /// Resolvers to ask: `--dns=` ones, else the DHCP lease's.
    public var dnsServers: [IPv4Address] {
        staticDNSServers.isEmpty ? dhcp?.lease?.dnsServers ?? [] : staticDNSServers
    }

    /// `--net-faults=...` puts the device behind the fault middleware, whose
    /// counters are printed at exit.
    static func injectFaults(into device: any NetworkDevice, application: StaticString) -> any NetworkDevice {
        let faults: LinkFaults?
        do throws(LinkFaultsError) { faults = try LinkFaults.parse(arguments: Kernel.rawArguments.map { $0.utf8 }) } catch {
            Console.print("\(application): --net-faults: \(error.detail)")
            Kernel.exit(4)
        }
        guard let faults else { return device }
        let faulty = FaultyNetworkDevice(device, faults: faults)
        Devices.exitReport = { faulty.report() }
        return faulty
    }

    /// "APP: DEVICE ADDRESS port PORT", once the service listens (and the offloads in use).
    public func announce(port: UInt16) {
        let segmentation = offloads.tcpSegmentation > 0, merged = offloads.mergedReceive
        let used: StaticString = segmentation && merged ? " (offloads: TCP segmentation, merged receive)"
            : segmentation ? " (offloads: TCP segmentation)" : merged ? " (offloads: merged receive)" : ""
        print("\(application): \(device.name.string) \(interface.address.description) port \(port)\(used)")
    }

    /// Hands every frame waiting on the device to the stack.
    public func receiveFrames(now: UInt64) {
        while true {
            let received: ReceivedFrame?
            do { received = try device.receive(into: frame) } catch {
                // An oversized frame was dropped by the device; anything else is fatal.
                if error == .invalidRequest { continue }
                Console.print("\(application): receive failed")
                Kernel.exit(1)
            }
            guard let received else { return }
            interface.receive(frame: UnsafeRawBufferPointer(rebasing: frame[0..<received.length]), now: now,
                              checksumTrusted: received.checksumTrusted)
            lastFrame = now
        }
    }

    /// Runs the stack's timers and sends its output; returns when the stack
    /// next needs time (at most a second away, for the idle check).
    public func transmitFrames(now: UInt64) -> UInt64 {
        let renewal = dhcp?.poll(now: now) { report($0) } ?? UInt64.max
        let deadline = min(interface.poll(now: now) ?? UInt64.max, now &+ Interface.second, renewal)
        _ = interface.transmit { frame, segmentSize in (try? device.transmit(frame, segmentSize: segmentSize)) != nil }
        try? device.endTransmitBatch()
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
