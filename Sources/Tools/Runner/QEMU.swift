// Boots a pc image under QEMU (TCG), always under timeout(1), and reports how
// the guest ended and what it printed on the serial console.
//
// PVH: QEMU prefers a Multiboot header when an image has both, so a PVH boot
// runs a copy of the image whose Multiboot magic is cleared - the same code
// and layout, entered through the PVH note instead.

import Foundation

public enum Machine: String, CaseIterable, Sendable { case microvm, pc, q35 }
public enum BootProtocol: String, CaseIterable, Sendable { case multiboot, pvh }

public struct QEMUConfiguration: Sendable {
    public var machine = Machine.microvm
    public var boot = BootProtocol.multiboot
    public var memoryMiB = 32
    public var arguments: [String] = []
    public var timeoutSeconds = 60
    /// Start paused with a gdb server on tcp::1234.
    public var gdb = false
    public var extraOptions: [String] = []

    public init() {}

    /// The QEMU command line (without timeout) for a kernel image path.
    public func commandLine(kernel: String) -> [String] {
        var line = ["qemu-system-x86_64", "-M", machine.rawValue, "-accel", "tcg",
                    "-m", "\(memoryMiB)", "-display", "none", "-nodefaults", "-no-reboot",
                    "-serial", "stdio", "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
                    "-kernel", kernel]
        if !arguments.isEmpty { line += ["-append", arguments.map(Self.quote).joined(separator: " ")] }
        if gdb { line += ["-s", "-S"] }
        return line + extraOptions
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
        let kernel = try prepare(image: image, boot: configuration.boot)
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
