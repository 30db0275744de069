// Network configuration from boot arguments:
//   --ipv4=ADDR/PREFIX      our address and the on-link prefix (required for the gateway)
//   --ipv4-gateway=ADDR     the default router (must be on-link)
//   --dns=ADDR              a DNS server; up to 3, in order of preference
// Without --ipv4 the address comes from DHCP (`NetworkConfiguration.parse`
// says which); --dns then overrides the servers the lease names.
// Arguments are byte strings (the platform's RawArgument.utf8, or String.utf8);
// other arguments are left to the application. Every malformed value is a
// ConfigurationError with a one-line message. Limits: one address, one
// default route; DHCP produces the same IPv4Configuration (DHCPClient.swift).
// Tests: Tests/NetTests/AddressTests.swift.

public enum ConfigurationError: Error, Equatable {
    public enum Option: Equatable {
        case ipv4, ipv4Gateway, dns
        public var name: String {
            switch self {
            case .ipv4: return "--ipv4"
            case .ipv4Gateway: return "--ipv4-gateway"
            case .dns: return "--dns"
            }
        }
    }

    /// "--ipv4" with no "=VALUE", or an empty value.
    case missingValue(Option)
    case malformedAddress(Option)
    /// No "/PREFIX", or a prefix that is not a number in 0...32.
    case malformedPrefix
    case duplicateOption(Option)
    case gatewayWithoutAddress
    /// 0.0.0.0, broadcast, multicast, loopback, or the network's own or broadcast address.
    case unusableAddress
    case gatewayNotOnLink
    case gatewayIsOwnAddress
    /// MTU outside 68...65535 (RFC 791's minimum).
    case invalidMTU
    /// More than `NetworkConfiguration.maximumDNSServers` --dns options.
    case tooManyDNSServers
    /// A --dns address that cannot name a server (0.0.0.0, broadcast, multicast, loopback).
    case unusableDNSServer
    case duplicateDNSServer

    public var message: String {
        switch self {
        case .missingValue(let option): return "\(option.name) needs a value (\(option.name)=...)"
        case .malformedAddress(let option): return "\(option.name): not an IPv4 address (a.b.c.d)"
        case .malformedPrefix: return "--ipv4: the address needs a prefix length 0...32 (ADDR/PREFIX)"
        case .duplicateOption(let option): return "\(option.name) is given twice"
        case .gatewayWithoutAddress: return "--ipv4-gateway needs --ipv4=ADDR/PREFIX"
        case .unusableAddress: return "--ipv4: the address cannot name this host on that network"
        case .gatewayNotOnLink: return "--ipv4-gateway: the gateway is not inside the --ipv4 network"
        case .gatewayIsOwnAddress: return "--ipv4-gateway: the gateway is our own address"
        case .invalidMTU: return "the MTU must be 68...65535"
        case .tooManyDNSServers: return "--dns: at most \(NetworkConfiguration.maximumDNSServers) servers"
        case .unusableDNSServer: return "--dns: the address cannot name a server"
        case .duplicateDNSServer: return "--dns: the same server is given twice"
        }
    }
}

public struct IPv4Configuration: Equatable {
    public let address: IPv4Address
    public let network: IPv4Network
    public let gateway: IPv4Address?

    /// No address yet (before DHCP binds, or after a lease is lost): the
    /// interface sends from 0.0.0.0 and receives only broadcasts.
    public static let unconfigured = IPv4Configuration(unchecked: .any)

    public var isConfigured: Bool { !address.isUnspecified }

    private init(unchecked address: IPv4Address) {
        self.address = address
        network = IPv4Network(address: address, prefixLength: 32)!
        gateway = nil
    }

    public init(address: IPv4Address, prefixLength: Int, gateway: IPv4Address? = nil) throws(ConfigurationError) {
        guard let network = IPv4Network(address: address, prefixLength: prefixLength) else { throw .malformedPrefix }
        guard !address.isUnspecified, !address.isBroadcast, !address.isMulticast, !address.isLoopback,
              network.broadcast == nil || (address != network.address && address != network.broadcast)
        else { throw .unusableAddress }
        if let gateway {
            guard network.contains(gateway), gateway != network.broadcast else { throw .gatewayNotOnLink }
            guard gateway != address else { throw .gatewayIsOwnAddress }
        }
        self.address = address
        self.network = network
        self.gateway = gateway
    }

    /// Reads `--ipv4=` and `--ipv4-gateway=` from `arguments`, ignoring the
    /// others; nil when neither is present.
    public static func parse<Arguments: Sequence>(arguments: Arguments) throws(ConfigurationError) -> IPv4Configuration?
    where Arguments.Element: Collection, Arguments.Element.Element == UInt8 {
        var cidr: (IPv4Address, Int)?
        var gateway: IPv4Address?
        for argument in arguments {
            if let value = try value(of: argument, option: .ipv4) {
                guard cidr == nil else { throw .duplicateOption(.ipv4) }
                cidr = try parseCIDR(value)
            } else if let value = try value(of: argument, option: .ipv4Gateway) {
                guard gateway == nil else { throw .duplicateOption(.ipv4Gateway) }
                guard let address = IPv4Address(parsing: value) else { throw .malformedAddress(.ipv4Gateway) }
                gateway = address
            }
        }
        guard let (address, prefixLength) = cidr else {
            if gateway != nil { throw .gatewayWithoutAddress }
            return nil
        }
        return try IPv4Configuration(address: address, prefixLength: prefixLength, gateway: gateway)
    }

    /// The bytes after "NAME=" when `argument` is that option; nil for other arguments.
    static func value<Argument: Collection>(of argument: Argument, option: ConfigurationError.Option)
        throws(ConfigurationError) -> Argument.SubSequence? where Argument.Element == UInt8 {
        let name = option.name.utf8
        guard argument.starts(with: name) else { return nil }
        let rest = argument.dropFirst(name.count)
        guard let first = rest.first else { throw .missingValue(option) }
        // "--ipv4-gateway" also starts with "--ipv4": only "=" makes it this option.
        guard first == UInt8(ascii: "=") else {
            if option != .ipv4Gateway && first == UInt8(ascii: "-") { return nil }
            throw .missingValue(option)
        }
        let value = rest.dropFirst()
        guard !value.isEmpty else { throw .missingValue(option) }
        return value
    }

    private static func parseCIDR<Text: Collection>(_ text: Text) throws(ConfigurationError) -> (IPv4Address, Int)
    where Text.Element == UInt8 {
        guard let slash = text.firstIndex(of: UInt8(ascii: "/")) else { throw .malformedPrefix }
        guard let address = IPv4Address(parsing: text[..<slash]) else { throw .malformedAddress(.ipv4) }
        let digits = text[text.index(after: slash)...]
        guard !digits.isEmpty, digits.count <= 2 else { throw .malformedPrefix }
        var prefix = 0
        for byte in digits {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { throw .malformedPrefix }
            prefix = prefix * 10 + Int(byte - UInt8(ascii: "0"))
        }
        guard prefix <= 32 else { throw .malformedPrefix }
        return (address, prefix)
    }
}

/// How the interface gets its address, and which DNS servers to ask.
public struct NetworkConfiguration: Equatable {
    public static let maximumDNSServers = 3

    public enum Addressing: Equatable {
        /// --ipv4 (and --ipv4-gateway) given.
        case `static`(IPv4Configuration)
        /// No --ipv4: ask DHCP (DHCPDriver).
        case dhcp
    }

    public var addressing: Addressing
    /// From --dns, in the order given; empty: use the lease's (or none).
    public var dnsServers: [IPv4Address]

    public init(addressing: Addressing, dnsServers: [IPv4Address] = []) {
        self.addressing = addressing
        self.dnsServers = dnsServers
    }

    /// Reads --ipv4, --ipv4-gateway and --dns from `arguments`, ignoring the others.
    public static func parse<Arguments: Collection>(arguments: Arguments) throws(ConfigurationError) -> NetworkConfiguration
    where Arguments.Element: Collection, Arguments.Element.Element == UInt8 {
        var servers: [IPv4Address] = []
        for argument in arguments {
            guard let value = try IPv4Configuration.value(of: argument, option: .dns) else { continue }
            guard let server = IPv4Address(parsing: value) else { throw .malformedAddress(.dns) }
            guard !server.isUnspecified, !server.isBroadcast, !server.isMulticast, !server.isLoopback else {
                throw .unusableDNSServer
            }
            guard !servers.contains(server) else { throw .duplicateDNSServer }
            guard servers.count < maximumDNSServers else { throw .tooManyDNSServers }
            servers.append(server)
        }
        let addressing: Addressing
        if let ipv4 = try IPv4Configuration.parse(arguments: arguments) {
            addressing = .static(ipv4)
        } else {
            addressing = .dhcp
        }
        return NetworkConfiguration(addressing: addressing, dnsServers: servers)
    }
}
