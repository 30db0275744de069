// Boots a pc image under QEMU (TCG), always under timeout(1), and reports how
// the guest ended and what it printed on the serial console.
//
// PVH: QEMU prefers a Multiboot header when an image has both, so a PVH boot
// runs a copy of the image whose Multiboot magic is cleared - the same code
// and layout, entered through the PVH note instead.

import Foundation

public enum Machine: String, CaseIterable, Sendable { case microvm, pc, q35 }
public enum BootProtocol: String, CaseIterable, Sendable { case multiboot, pvh }

/// How a virtio device reaches the guest. pc and q35 have PCI; microvm has MMIO.
public enum VirtioBus: String, CaseIterable, Sendable {
    /// Transitional PCI device (QEMU's default): the driver takes its modern interface.
    case pci
    case pciModern = "pci-modern"
    case pciLegacy = "pci-legacy"
    /// virtio-mmio version 2 (modern) or 1 (legacy), microvm only.
    case mmio
    case mmioLegacy = "mmio-legacy"

    var isMMIO: Bool { self == .mmio || self == .mmioLegacy }
}

/// A virtio device attached to the guest.
public struct AttachedDevice: Sendable {
    public enum Kind: Sendable {
        /// A raw disk image file.
        case block(path: String, readOnly: Bool)
        /// An existing tap interface (never created by the runner).
        case net(tap: String, mac: String?)
    }
    public var kind: Kind
    /// nil: the machine's natural bus (PCI on pc/q35, MMIO on microvm).
    public var bus: VirtioBus?

    public init(_ kind: Kind, bus: VirtioBus? = nil) {
        self.kind = kind
        self.bus = bus
    }

    /// Parses `PATH[,ro][,bus=B]` (block) or `TAP[,mac=M][,bus=B]` (net).
    public static func parse(_ text: String, block: Bool) -> AttachedDevice? {
        var fields = text.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        guard let first = fields.first, !first.isEmpty else { return nil }
        fields.removeFirst()
        var readOnly = false, mac: String?, bus: VirtioBus?
        for field in fields {
            if block && field == "ro" {
                readOnly = true
            } else if !block && field.hasPrefix("mac=") {
                mac = String(field.dropFirst(4))
            } else if field.hasPrefix("bus="), let value = VirtioBus(rawValue: String(field.dropFirst(4))) {
                bus = value
            } else {
                return nil
            }
        }
        return AttachedDevice(block ? .block(path: first, readOnly: readOnly) : .net(tap: first, mac: mac), bus: bus)
    }
}

public struct QEMUConfiguration: Sendable {
    public var machine = Machine.microvm
    public var boot = BootProtocol.multiboot
    public var memoryMiB = 32
    public var arguments: [String] = []
    public var timeoutSeconds = 60
    /// Start paused with a gdb server on tcp::1234.
    public var gdb = false
    public var extraOptions: [String] = []
    public var devices: [AttachedDevice] = []

    public init() {}

    /// MMIO devices are announced on the kernel command line, which QEMU
    /// writes only for PVH boots: such a run boots through PVH.
    public var effectiveBoot: BootProtocol {
        devices.contains { bus(of: $0).isMMIO } ? .pvh : boot
    }

    /// Why QEMU could not attach the devices, or nil.
    public var deviceProblem: String? {
        for device in devices where bus(of: device).isMMIO != (machine == .microvm) {
            return machine == .microvm ? "microvm has no PCI: use bus=mmio or bus=mmio-legacy"
                                       : "\(machine.rawValue) has no virtio-mmio: use bus=pci, pci-modern or pci-legacy"
        }
        return nil
    }

    func bus(of device: AttachedDevice) -> VirtioBus { device.bus ?? (machine == .microvm ? .mmio : .pci) }

    /// The QEMU command line (without timeout) for a kernel image path.
    /// microvm runs without ACPI, so that QEMU announces its virtio-mmio
    /// devices on the command line (`virtio_mmio.device=`).
    public func commandLine(kernel: String) -> [String] {
        let machineOption = machine == .microvm ? "microvm,acpi=off" : machine.rawValue
        var line = ["qemu-system-x86_64", "-M", machineOption, "-accel", "tcg",
                    "-m", "\(memoryMiB)", "-display", "none", "-nodefaults", "-no-reboot",
                    "-serial", "stdio", "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
                    "-kernel", kernel]
        if !arguments.isEmpty { line += ["-append", arguments.map(Self.quote).joined(separator: " ")] }
        if gdb { line += ["-s", "-S"] }
        return line + deviceOptions() + extraOptions
    }

    func deviceOptions() -> [String] {
        var options: [String] = []
        for (index, device) in devices.enumerated() {
            let bus = bus(of: device)
            let suffix: String
            switch bus {
            case .pci: suffix = "-pci"
            case .pciModern: suffix = "-pci,disable-legacy=on"
            case .pciLegacy: suffix = "-pci,disable-modern=on"
            case .mmio, .mmioLegacy: suffix = "-device"
            }
            switch device.kind {
            case .block(let path, let readOnly):
                options += ["-drive", "id=disk\(index),file=\(path),format=raw,if=none\(readOnly ? ",readonly=on" : "")",
                            "-device", "virtio-blk\(suffix),drive=disk\(index)"]
            case .net(let tap, let mac):
                options += ["-netdev", "tap,id=net\(index),ifname=\(tap),script=no,downscript=no",
                            "-device", "virtio-net\(suffix),netdev=net\(index)\(mac.map { ",mac=\($0)" } ?? "")"]
            }
        }
        if devices.contains(where: { bus(of: $0).isMMIO }) {
            let legacy = devices.contains { bus(of: $0) == .mmioLegacy }
            options += ["-global", "virtio-mmio.force-legacy=\(legacy ? "on" : "off")"]
        }
        return options
    }

    /// Quotes an argument for the kernel's command-line splitter.
    static func quote(_ argument: String) -> String {
        let plain = !argument.isEmpty && argument.allSatisfy { !" \t\n\r'\"\\".contains($0) }
        if plain { return argument }
        return "'" + argument.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}

public struct RunResult: Sendable {
    public var exit: GuestExit
    public var output: String
}

public enum RunnerError: Error, CustomStringConvertible {
    case unreadableImage(String)
    case noMultibootHeader(String)
    case launchFailed(String)

    public var description: String {
        switch self {
        case .unreadableImage(let path): return "cannot read image \(path)"
        case .noMultibootHeader(let path): return "\(path) has no Multiboot header in its first 8 KiB"
        case .launchFailed(let why): return "cannot start QEMU: \(why)"
        }
    }
}

public enum QEMURunner {
    /// Runs the image; `captureOutput` false lets the console through to our stdout.
    public static func run(image: String, configuration: QEMUConfiguration,
                           captureOutput: Bool = true) throws -> RunResult {
        let kernel = try prepare(image: image, boot: configuration.effectiveBoot)
        defer { if kernel != image { try? FileManager.default.removeItem(atPath: kernel) } }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/timeout")
        process.arguments = ["--kill-after=5", "\(configuration.timeoutSeconds)"]
            + configuration.commandLine(kernel: kernel)
        let pipe = Pipe()
        if captureOutput {
            process.standardOutput = pipe
            process.standardError = pipe
        }
        process.standardInput = FileHandle.nullDevice
        do { try process.run() } catch { throw RunnerError.launchFailed("\(error)") }
        var output = Data()
        if captureOutput { output = pipe.fileHandleForReading.readDataToEndOfFile() }
        process.waitUntilExit()
        let status = process.terminationStatus
        // timeout(1) exits 124 when it stopped QEMU, 137 when it had to kill it.
        let timedOut = status == 124 || status == 137
        return RunResult(exit: GuestExit.decode(qemuStatus: status, timedOut: timedOut),
                         output: String(decoding: output, as: UTF8.self))
    }

    /// The file to hand QEMU: the image itself, or a PVH-only copy.
    public static func prepare(image: String, boot: BootProtocol) throws -> String {
        guard boot == .pvh else { return image }
        guard var bytes = FileManager.default.contents(atPath: image) else {
            throw RunnerError.unreadableImage(image)
        }
        guard let offset = multibootHeaderOffset(bytes) else { throw RunnerError.noMultibootHeader(image) }
        bytes.replaceSubrange(offset..<offset + 4, with: [0, 0, 0, 0])
        let copy = NSTemporaryDirectory() + "swiftlet-pvh-\(getpid())-\(UUID().uuidString).elf"
        guard FileManager.default.createFile(atPath: copy, contents: bytes) else {
            throw RunnerError.unreadableImage(copy)
        }
        return copy
    }

    /// Where QEMU would find the Multiboot v1 header: 4-aligned in the first
    /// 8 KiB, magic 0x1BADB002, with magic + flags + checksum == 0.
    public static func multibootHeaderOffset(_ bytes: Data) -> Int? {
        func word(_ at: Int) -> UInt32 {
            bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: at, as: UInt32.self) }.littleEndian
        }
        var offset = 0
        while offset + 12 <= min(bytes.count, 8192) {
            if word(offset) == 0x1BAD_B002 && word(offset) &+ word(offset + 4) &+ word(offset + 8) == 0 {
                return offset
            }
            offset += 4
        }
        return nil
    }
}
