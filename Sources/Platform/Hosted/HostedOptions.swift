// The hosted platform's device options: the monitor's syntax (swiftlet-hvt,
// Sources/Monitor/Core/Options.swift) as the leading arguments of a hosted
// program, taken off before the application sees its arguments.
//
//   PROGRAM [--block:NAME=PATH] [--block-sector-size:NAME=N] [--net:NAME=TAP|@FD]
//           [--net-mac:NAME=MAC] [--] [ARGS...]
//
// Leading arguments that start with "--block" or "--net" are device options
// (anything else of that shape is an unknown device option); "--" ends them
// and is taken off too; the first other argument starts the application's
// own. Devices are registered in option order; there is no manifest, so any
// name is accepted. As in the monitor: sector sizes are powers of two from
// 512 to 32768 (default 512), and an option twice for one device is an error.
// No --mem (memory is SWIFTLET_MEM, Hosted.swift), --help or --version: those
// arguments stay the application's.
// Sans-IO: paths and taps are opened by HostedDevices. Plain hosted Swift
// (no Foundation): this is kernel-side code.

struct HostedOptions {
    enum Device {
        case block(name: String, path: String, sectorSize: Int)
        case net(name: String, tap: String, mac: [UInt8]?)

        var name: String {
            switch self {
            case .block(let name, _, _), .net(let name, _, _): return name
            }
        }
    }

    /// One line for stderr.
    struct Failure: Error {
        let message: String
    }

    /// In option order.
    var devices: [Device] = []
    /// How many leading arguments were device options (the "--" included).
    var consumed = 0

    static let sectorSizes = 512...32768
    static let valueName = ["--block": "PATH", "--block-sector-size": "N", "--net": "TAP", "--net-mac": "MAC"]

    static func parse(_ arguments: [String]) throws(Failure) -> HostedOptions {
        var options = HostedOptions()
        var sectorSizes: [String: Int] = [:]
        var macs: [String: [UInt8]] = [:]
        for argument in arguments {
            if argument == "--" { options.consumed += 1; break }
            guard argument.hasPrefix("--block") || argument.hasPrefix("--net") else { break }
            options.consumed += 1
            guard let colon = argument.firstIndex(of: ":") else { throw unknown(argument) }
            let option = argument[..<colon], rest = argument[argument.index(after: colon)...]
            guard let equals = rest.firstIndex(of: "="), equals != rest.startIndex else {
                throw Failure(message: "\(argument): expected \(option):NAME=\(valueName[String(option)] ?? "VALUE")")
            }
            let name = String(rest[..<equals]), value = String(rest[rest.index(after: equals)...])
            switch option {
            case "--block", "--net":
                guard !value.isEmpty else { throw Failure(message: "\(argument): expected \(option):NAME=\(valueName[String(option)]!)") }
                guard !options.devices.contains(where: { $0.name == name }) else {
                    throw Failure(message: "device '\(name)' attached more than once")
                }
                options.devices.append(option == "--net" ? .net(name: name, tap: value, mac: nil)
                                                         : .block(name: name, path: value, sectorSize: 512))
            case "--block-sector-size":
                guard sectorSizes[name] == nil else { throw Failure(message: "\(option):\(name) given more than once") }
                guard value.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let size = Int(value),
                      Self.sectorSizes.contains(size), size & (size - 1) == 0 else {
                    throw Failure(message: "\(argument): the sector size must be a power of two from 512 to 32768")
                }
                sectorSizes[name] = size
            case "--net-mac":
                guard macs[name] == nil else { throw Failure(message: "\(option):\(name) given more than once") }
                let octets = value.split(separator: ":", omittingEmptySubsequences: false)
                let mac = octets.compactMap { $0.count <= 2 && $0.allSatisfy(\.isHexDigit) ? UInt8($0, radix: 16) : nil }
                guard octets.count == 6, mac.count == 6 else {
                    throw Failure(message: "\(argument): expected a MAC address like 02:00:00:00:00:01")
                }
                macs[name] = mac
            default:
                throw unknown(argument)
            }
        }
        // Sizes and MACs may come before their device's option, as in the monitor.
        for (name, size) in sectorSizes {
            guard let at = options.devices.firstIndex(where: { if case .block(name, _, _) = $0 { true } else { false } }),
                  case .block(_, let path, _) = options.devices[at] else {
                throw Failure(message: "--block-sector-size:\(name) given without --block:\(name)=PATH")
            }
            options.devices[at] = .block(name: name, path: path, sectorSize: size)
        }
        for (name, mac) in macs {
            guard let at = options.devices.firstIndex(where: { if case .net(name, _, _) = $0 { true } else { false } }),
                  case .net(_, let tap, _) = options.devices[at] else {
                throw Failure(message: "--net-mac:\(name) given without --net:\(name)=TAP")
            }
            options.devices[at] = .net(name: name, tap: tap, mac: mac)
        }
        return options
    }

    private static func unknown(_ argument: String) -> Failure {
        Failure(message: "unknown device option '\(argument)' (hosted takes --block:NAME=PATH, "
                + "--block-sector-size:NAME=N, --net:NAME=TAP, --net-mac:NAME=MAC, then --)")
    }
}
