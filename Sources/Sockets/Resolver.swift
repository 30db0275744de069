// The DNS stub resolver on threads: Net's sans-IO DNSQuery driven over a
// UDP endpoint bound to a random port (RFC 5452: the port and the query ID
// are what an off-path forger must guess), asking the `--dns=` servers or
// the DHCP lease's. Limits: those of DNSQuery (A records, no cache, no
// search list, no TCP fallback).

import Net
import NetHost
import Swiftlet

extension NetworkStack {
    /// The IPv4 addresses of `name` (a dotted address is returned as it is).
    public func resolve(_ name: String, timeout: UInt64? = nil) throws(DNSError) -> [IPv4Address] {
        if let address = IPv4Address(parsing: name.utf8) { return [address] }
        var settings = DNSSettings()
        if let timeout { settings.timeout = timeout }
        let query = try DNSQuery(name: name, servers: host.dnsServers, identifier: UInt16.random(in: 0...UInt16.max),
                                 settings: settings)
        guard let socket = bindRandomPort() else { throw .timedOut }
        defer { socket.close() }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1500, alignment: 8)
        defer { buffer.deallocate() }
        while true {
            let now = Kernel.monotonicClock
            guard let deadline = query.poll(now: now) else { break }
            if let datagram = query.takeDatagram() {
                datagram.payload.withUnsafeBytes { try? socket.send($0, to: datagram.destination) }
            }
            // Answers until the next try is due; a refused or failed receive is just a lost try.
            guard let received = try? socket.receive(into: buffer, timeout: deadline > now ? deadline - now : 0) else { continue }
            query.receive(UnsafeRawBufferPointer(rebasing: buffer[0..<received.length]), from: received.source,
                          now: Kernel.monotonicClock)
        }
        switch query.result {
        case .success(let answer)?: return answer.addresses
        case .failure(let error)?: throw error
        case nil: throw .timedOut
        }
    }

    /// A UDP endpoint on a random ephemeral port (a few tries past ports in use).
    private func bindRandomPort() -> UDPEndpoint? {
        for _ in 0..<16 {
            if let socket = try? UDPEndpoint(port: UInt16.random(in: 49152...65535), on: self) { return socket }
        }
        return try? UDPEndpoint(on: self)
    }
}
