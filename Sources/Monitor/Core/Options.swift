// Options.swift: the monitor's command line, parsed like solo5-hvt's (Solo5
// tenders/hvt/hvt_main.c and the block/net modules), and checked against the image's
// manifest. Sans-IO: paths and tap names are only validated as text; opening them is
// the monitor's job. Tests: Tests/MonitorCoreTests/OptionsTests.swift.
//
//   swiftlet-hvt [--mem=MiB] [--block:NAME=PATH] [--block-sector-size:NAME=N]
//                [--net:NAME=TAP|@FD] [--net-mac:NAME=MAC] [--help] [--version] [--] KERNEL [ARGS...]
//
// As in Solo5: every argument before KERNEL that starts with '-' is an option; "--" ends
// the options; the first other argument is KERNEL and everything after it (options
// included) belongs to the guest. --help and --version are looked for first and win over
// any error in the other options. Only the `--mem=N` form exists (no `--mem N`).
// Stricter than Solo5: numbers must be plain decimal (no trailing text), any option given
// twice for the same device (or --mem twice) is an error, and --mem below 2 is an error
// (Solo5 silently raises 1 MiB to 2).

import HvtABI

public enum OptionsError: Error, Equatable, CustomStringConvertible {
    case unknownOption(String)
    case missingKernel
    case duplicateOption(String)
    case badMemory(String)
    case memoryTooSmall(option: String)
    case memoryTooLarge(option: String)
    /// The option does not have the form `expected`.
    case malformed(option: String, expected: String)
    case badDeviceName(option: String)
    case duplicateDevice(name: String)
    case badSectorSize(option: String)
    case sectorSizeWithoutDevice(name: String)
    case badMAC(option: String)
    case macWithoutDevice(name: String)
    case badTap(option: String)
    case nulInArgument
    case commandLineTooLong(length: Int)

    public var description: String {
        switch self {
        case .unknownOption(let option):
            return "unknown option '\(option)' (see --help)"
        case .missingKernel:
            return "missing KERNEL operand (see --help)"
        case .duplicateOption(let option):
            return "\(option) given more than once"
        case .badMemory(let option):
            return "\(option): expected --mem=MiB, a whole number of MiB"
        case .memoryTooSmall(let option):
            return "\(option): guest memory must be at least \(OptionLimits.memoryMinMiB) MiB"
        case .memoryTooLarge(let option):
            return "\(option): guest memory must be at most \(OptionLimits.memoryMaxMiB) MiB"
        case .malformed(let option, let expected):
            return "\(option): expected \(expected)"
        case .badDeviceName(let option):
            return "\(option): device names are 1 to \(OptionLimits.deviceNameMax) printable characters without '=', ':' or space"
        case .duplicateDevice(let name):
            return "device '\(name)' attached more than once"
        case .badSectorSize(let option):
            return "\(option): the sector size must be a power of two from \(OptionLimits.sectorSizeMin) to \(OptionLimits.sectorSizeMax)"
        case .sectorSizeWithoutDevice(let name):
            return "--block-sector-size:\(name) given without --block:\(name)=PATH"
        case .badMAC(let option):
            return "\(option): expected a MAC address like 02:00:00:00:00:01"
        case .macWithoutDevice(let name):
            return "--net-mac:\(name) given without --net:\(name)=TAP"
        case .badTap(let option):
            return "\(option): expected a tap interface name of 1 to \(OptionLimits.tapNameMax) characters, or @FD"
        case .nulInArgument:
            return "a guest argument contains a NUL character"
        case .commandLineTooLong(let length):
            return "guest command line is \(length) bytes, at most \(HvtABI.commandLineMax) are allowed"
        }
    }
}

/// An error from checking the attached devices against the image's manifest.
public enum DeviceError: Error, Equatable, CustomStringConvertible {
    /// The manifest declares the device, but no option attaches it.
    case notAttached(name: String, kind: DeviceKind)
    /// An option attaches a device the manifest does not declare with that kind.
    case notDeclared(name: String, kind: DeviceKind, declaredAs: DeviceKind?)

    public var description: String {
        switch self {
        case .notAttached(let name, .block):
            return "device '\(name)' declared in the manifest is not attached (--block:\(name)=PATH)"
        case .notAttached(let name, .net):
            return "device '\(name)' declared in the manifest is not attached (--net:\(name)=TAP)"
        case .notDeclared(let name, let kind, let declaredAs):
            let text = "--\(kind):\(name): the image declares no \(kind) device '\(name)'"
            guard let declaredAs else { return text }
            return text + " ('\(name)' is a \(declaredAs) device)"
        }
    }
}

enum OptionLimits {
    static let memoryMinMiB: UInt64 = HvtABI.memoryGranule >> 20
    static let memoryMaxMiB: UInt64 = HvtABI.memoryMax >> 20
    static let deviceNameMax = HvtABI.Manifest.nameSize - 1
    /// Solo5: at least 512 and a power of two; the manifest field is a u16.
    static let sectorSizeMin = 512
    static let sectorSizeMax = 32768
    static let defaultSectorSize = 512
    /// Linux IFNAMSIZ - 1.
    static let tapNameMax = 15
}

/// The parsed command line.
public struct MonitorOptions: Equatable {
    public enum Action: Equatable {
        /// Run `kernel`.
        case run
        /// `--help` was given: print `usage` and exit.
        case help
        /// `--version` was given.
        case version
    }

    public struct BlockDevice: Equatable {
        public let name: String
        /// The file or block device backing it.
        public let path: String
        /// Sector size in bytes (power of two, 512...32768); 512 unless --block-sector-size.
        public let sectorSize: Int
    }

    public struct NetDevice: Equatable {
        public let name: String
        /// A tap interface name, or "@FD" for an already open descriptor.
        public let tap: String
        /// From --net-mac, or nil (the monitor makes one up).
        public let mac: [UInt8]?

        /// The descriptor of the "@FD" form.
        public var fileDescriptor: Int32? {
            guard tap.utf8.first == UInt8(ascii: "@") else { return nil }
            return Numbers.parseDecimal(tap.utf8.dropFirst(), max: UInt64(Int32.max)).map { Int32($0) }
        }
    }

    public private(set) var action: Action = .run
    /// Guest memory in MiB: the request rounded down to a multiple of 2 MiB.
    public private(set) var memoryMiB: Int = HvtABI.memoryDefaultMiB
    /// What --mem asked for (equal to `memoryMiB` unless it was rounded down).
    public private(set) var requestedMemoryMiB: Int = HvtABI.memoryDefaultMiB
    /// Block devices in command-line order.
    public private(set) var blocks: [BlockDevice] = []
    /// Net devices in command-line order.
    public private(set) var nets: [NetDevice] = []
    /// The image path (empty for --help and --version).
    public private(set) var kernel: String = ""
    /// The guest's arguments (everything after KERNEL).
    public private(set) var arguments: [String] = []
    /// `arguments` joined with single spaces: what the guest gets as its command line.
    public private(set) var commandLine: String = ""

    /// Guest memory in bytes.
    public var memoryBytes: UInt64 { UInt64(memoryMiB) << 20 }

    public func block(named name: String) -> BlockDevice? { blocks.first { $0.name == name } }
    public func net(named name: String) -> NetDevice? { nets.first { $0.name == name } }

    init() {}

    public static let usage = """
        usage: swiftlet-hvt [OPTIONS] [--] KERNEL [ARGS...]
        Runs KERNEL, a Solo5 hvt (ABI v2) unikernel image, under KVM.
        ARGS are joined with spaces into the guest's command line (at most \(HvtABI.commandLineMax) bytes).
        Options:
          --mem=MiB                     guest memory in MiB (default \(HvtABI.memoryDefaultMiB), rounded down to a multiple of 2, 2 to \(OptionLimits.memoryMaxMiB))
          --block:NAME=PATH             attach the file or block device PATH as block device NAME
          --block-sector-size:NAME=N    sector size of block device NAME (a power of two, 512 to 32768; default 512)
          --net:NAME=TAP                attach tap interface TAP (or an open descriptor, @FD) as net device NAME
          --net-mac:NAME=MAC            MAC address of net device NAME (xx:xx:xx:xx:xx:xx)
          --help                        show this help
          --version                     show the version
        Every device the image's manifest declares must be attached.

        """

    // MARK: parsing

    /// Parses the arguments (without argv[0]).
    public static func parse(_ arguments: [String]) throws(OptionsError) -> MonitorOptions {
        // First pass, as Solo5: --help and --version win over everything else.
        for argument in arguments {
            if argument == "--" || !isOption(argument) { break }
            if argument == "--help" { var options = MonitorOptions(); options.action = .help; return options }
            if argument == "--version" { var options = MonitorOptions(); options.action = .version; return options }
        }

        var options = MonitorOptions()
        var memorySeen = false
        var sectorSizes: [(name: String, size: Int)] = []
        var macs: [(name: String, mac: [UInt8])] = []
        var names = Set<String>()
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            if argument == "--" { index += 1; break }
            guard isOption(argument) else { break }
            index += 1

            if let value = argument.dropPrefix("--mem=") {
                guard !memorySeen else { throw .duplicateOption("--mem") }
                memorySeen = true
                try options.setMemory(value, option: argument)
            } else if let rest = argument.dropPrefix("--block-sector-size:") {
                let (name, value) = try device(rest, option: argument, expected: "--block-sector-size:NAME=N")
                guard !sectorSizes.contains(where: { $0.name == name }) else {
                    throw .duplicateOption("--block-sector-size:\(name)")
                }
                guard let size = Numbers.parseDecimal(value.utf8, max: UInt64(OptionLimits.sectorSizeMax)).map({ Int($0) }),
                      size >= OptionLimits.sectorSizeMin, Numbers.isPowerOfTwo(UInt64(size)) else { throw .badSectorSize(option: argument) }
                sectorSizes.append((name, size))
            } else if let rest = argument.dropPrefix("--block:") {
                let (name, path) = try device(rest, option: argument, expected: "--block:NAME=PATH")
                guard !path.isEmpty else { throw .malformed(option: argument, expected: "--block:NAME=PATH") }
                guard names.insert(name).inserted else { throw .duplicateDevice(name: name) }
                options.blocks.append(BlockDevice(name: name, path: path, sectorSize: OptionLimits.defaultSectorSize))
            } else if let rest = argument.dropPrefix("--net-mac:") {
                let (name, value) = try device(rest, option: argument, expected: "--net-mac:NAME=MAC")
                guard !macs.contains(where: { $0.name == name }) else { throw .duplicateOption("--net-mac:\(name)") }
                guard let mac = parseMAC(value) else { throw .badMAC(option: argument) }
                macs.append((name, mac))
            } else if let rest = argument.dropPrefix("--net:") {
                let (name, tap) = try device(rest, option: argument, expected: "--net:NAME=TAP")
                guard isValidTap(tap) else { throw .badTap(option: argument) }
                guard names.insert(name).inserted else { throw .duplicateDevice(name: name) }
                options.nets.append(NetDevice(name: name, tap: tap, mac: nil))
            } else {
                throw .unknownOption(argument)
            }
        }

        guard index < arguments.count, !arguments[index].isEmpty else { throw .missingKernel }
        options.kernel = arguments[index]
        options.arguments = Array(arguments[(index + 1)...])

        for (name, size) in sectorSizes {
            guard let at = options.blocks.firstIndex(where: { $0.name == name }) else {
                throw .sectorSizeWithoutDevice(name: name)
            }
            let block = options.blocks[at]
            options.blocks[at] = BlockDevice(name: name, path: block.path, sectorSize: size)
        }
        for (name, mac) in macs {
            guard let at = options.nets.firstIndex(where: { $0.name == name }) else { throw .macWithoutDevice(name: name) }
            options.nets[at] = NetDevice(name: name, tap: options.nets[at].tap, mac: mac)
        }

        guard !options.arguments.contains(where: { $0.utf8.contains(0) }) else { throw .nulInArgument }
        options.commandLine = options.arguments.joined(separator: " ")
        let length = options.commandLine.utf8.count
        guard length <= HvtABI.commandLineMax else { throw .commandLineTooLong(length: length) }
        return options
    }

    private mutating func setMemory(_ value: Substring, option: String) throws(OptionsError) {
        guard !value.isEmpty, value.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else {
            throw .badMemory(option)
        }
        // All digits: only a value too large for a UInt64 fails here.
        guard let miB = Numbers.parseDecimal(value.utf8, max: UInt64.max) else { throw .memoryTooLarge(option: option) }
        // Solo5 rounds down to the 2 MiB granule first, then checks the maximum.
        let rounded = miB & ~(OptionLimits.memoryMinMiB - 1)
        guard rounded >= OptionLimits.memoryMinMiB else { throw .memoryTooSmall(option: option) }
        guard rounded <= OptionLimits.memoryMaxMiB else { throw .memoryTooLarge(option: option) }
        memoryMiB = Int(rounded)
        requestedMemoryMiB = Int(miB)
    }

    /// Splits "NAME=VALUE" (after the option prefix) at the first '='.
    private static func device(_ rest: Substring, option: String, expected: String) throws(OptionsError) -> (String, String) {
        guard let equals = rest.firstIndex(of: "=") else { throw .malformed(option: option, expected: expected) }
        let name = rest[..<equals]
        guard !name.isEmpty, name.utf8.count <= OptionLimits.deviceNameMax, name.utf8.allSatisfy(isManifestNameByte) else {
            throw .badDeviceName(option: option)
        }
        return (String(name), String(rest[rest.index(after: equals)...]))
    }

    private static func isOption(_ argument: String) -> Bool { argument.utf8.first == UInt8(ascii: "-") }

    private static func isValidTap(_ tap: String) -> Bool {
        let bytes = tap.utf8
        if bytes.first == UInt8(ascii: "@") {
            return Numbers.parseDecimal(bytes.dropFirst(), max: UInt64(Int32.max)) != nil
        }
        return !bytes.isEmpty && bytes.count <= OptionLimits.tapNameMax
            && bytes.allSatisfy { $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "/") }
    }

    /// "xx:xx:xx:xx:xx:xx" with one or two hex digits per octet (as Solo5's sscanf accepts).
    private static func parseMAC(_ text: String) -> [UInt8]? {
        let parts = text.utf8.split(separator: UInt8(ascii: ":"), omittingEmptySubsequences: false)
        guard parts.count == 6 else { return nil }
        var mac: [UInt8] = []
        for part in parts {
            guard (1...2).contains(part.count) else { return nil }
            var octet: UInt8 = 0
            for byte in part {
                guard let digit = hexDigit(byte) else { return nil }
                octet = octet << 4 | digit  // at most two digits: no overflow
            }
            mac.append(octet)
        }
        return mac
    }
}

private func hexDigit(_ byte: UInt8) -> UInt8? {
    switch byte {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
    default: return nil
    }
}

extension String {
    /// The rest of the string after `prefix`, or nil if it does not start with it.
    fileprivate func dropPrefix(_ prefix: String) -> Substring? {
        guard hasPrefix(prefix) else { return nil }
        return self[index(startIndex, offsetBy: prefix.count)...]
    }
}

extension MonitorOptions {
    /// Checks that every manifest device is attached by an option of its kind, and every
    /// attached device is declared with that kind. Attached names are checked first, in
    /// command-line order (as Solo5 does while parsing), then the manifest in handle order.
    public func checkDevices(against manifest: Manifest) throws(DeviceError) {
        for block in blocks {
            let declared = manifest.device(named: block.name)
            guard declared?.kind == .block else {
                throw .notDeclared(name: block.name, kind: .block, declaredAs: declared?.kind)
            }
        }
        for net in nets {
            let declared = manifest.device(named: net.name)
            guard declared?.kind == .net else {
                throw .notDeclared(name: net.name, kind: .net, declaredAs: declared?.kind)
            }
        }
        for device in manifest.devices {
            let attached = device.kind == .block ? block(named: device.name) != nil : net(named: device.name) != nil
            guard attached else { throw .notAttached(name: device.name, kind: device.kind) }
        }
    }
}
