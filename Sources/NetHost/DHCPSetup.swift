// DHCP on a NetworkHost: waiting for the first lease at start-up (frames
// moved and the device's event slept on, as the service loop does) and one
// line per lease event. The host's interface must have been created with
// `IPv4Configuration.unconfigured`, and the service loop must call
// `DHCPDriver.poll` next to `transmitFrames` so that renewals happen.
// Limits: a lease that is lost later leaves the interface without an
// address until DHCP binds again; services keep running meanwhile.

import Net
import Swiftlet
import Threads

extension NetworkHost {
    /// Runs `dhcp` (on this host's interface) until it holds a lease, or nil after `timeout` ns.
    public func acquireLease(_ dhcp: DHCPDriver, timeout: UInt64) -> DHCPLease? {
        let limit = Kernel.monotonicClock &+ timeout
        while true {
            let now = Kernel.monotonicClock
            receiveFrames(now: now)
            let dhcpDeadline = dhcp.poll(now: now) { self.report($0) }
            let deadline = min(transmitFrames(now: now), dhcpDeadline ?? UInt64.max, limit)
            if let lease = dhcp.lease { return lease }
            guard now < limit else { return nil }
            wait(until: deadline)
        }
    }

    /// "APP: DHCP ADDR/PREFIX gateway G dns D1 D2 lease N s", "APP: DHCP renewed", "APP: DHCP lease lost".
    public func report(_ event: DHCPEvent) {
        switch event {
        case .bound(let lease):
            var line = "\(application): DHCP \(lease.ipv4.address.description)/\(lease.ipv4.network.prefixLength)"
            if let gateway = lease.ipv4.gateway { line += " gateway \(gateway.description)" }
            if !lease.dnsServers.isEmpty {
                line += " dns"
                for server in lease.dnsServers { line += " \(server.description)" }
            }
            line += " lease \(lease.leaseTime) s"
            print(line)
        case .renewed:
            print("\(application): DHCP renewed")
        case .lost:
            print("\(application): DHCP lease lost")
        }
    }
}
