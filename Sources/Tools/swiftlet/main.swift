// swiftlet: build-side tool for Swiftlet images.
//   swiftlet run   [options] IMAGE [-- ARGS...]   boot under QEMU, exit with the guest's status
//   swiftlet debug [options] IMAGE [-- ARGS...]   boot paused with a gdb server
// options: --machine microvm|pc|q35  --boot multiboot|pvh  --mem MiB  --timeout SECONDS
//          --block PATH[,ro][,bus=B]  --net TAP[,mac=M][,bus=B]   (virtio devices, repeatable;
//          B: pci, pci-modern, pci-legacy (pc, q35), mmio, mmio-legacy (microvm))
// Exit statuses: the guest's 0...124; 255 panic; 125 status out of range;
// 254 no status (triple fault); 253 QEMU failed; 124 timeout; 2 usage.

import Foundation
import Runner

func fail(_ message: String, status: Int32 = 2) -> Never {
    FileHandle.standardError.write(Data("swiftlet: \(message)\n".utf8))
    exit(status)
}

let usage = """
    usage: swiftlet run|debug [--machine microvm|pc|q35] [--boot multiboot|pvh] [--mem MiB]
                              [--timeout SECONDS] [--block PATH[,ro][,bus=B]]... [--net TAP[,mac=M][,bus=B]]...
                              IMAGE [-- ARGS...]
    B: pci, pci-modern, pci-legacy (pc, q35); mmio, mmio-legacy (microvm, booted through PVH)
    """

var words = Array(CommandLine.arguments.dropFirst())
guard let command = words.first, command == "run" || command == "debug" else {
    if CommandLine.arguments.contains("--help") { print(usage); exit(0) }
    fail("expected a command\n\(usage)")
}
words.removeFirst()
var configuration = QEMUConfiguration()
var image: String?
while !words.isEmpty {
    let word = words.removeFirst()
    func value() -> String {
        guard !words.isEmpty else { fail("\(word) needs a value") }
        return words.removeFirst()
    }
    switch word {
    case "--machine":
        let v = value()
        guard let machine = Machine(rawValue: v) else { fail("unknown machine \(v)") }
        configuration.machine = machine
    case "--boot":
        let v = value()
        guard let boot = BootProtocol(rawValue: v) else { fail("unknown boot protocol \(v)") }
        configuration.boot = boot
    case "--mem":
        let v = value()
        guard let mib = Int(v), mib > 0 else { fail("--mem takes a number of MiB, not \(v)") }
        configuration.memoryMiB = mib
    case "--timeout":
        let v = value()
        guard let seconds = Int(v), seconds > 0 else { fail("--timeout takes seconds, not \(v)") }
        configuration.timeoutSeconds = seconds
    case "--block", "--net":
        let v = value()
        guard let device = AttachedDevice.parse(v, block: word == "--block") else { fail("bad \(word) \(v)\n\(usage)") }
        configuration.devices.append(device)
    case "--":
        configuration.arguments = words
        words = []
    case "--help":
        print(usage)
        exit(0)
    default:
        guard !word.hasPrefix("-"), image == nil else { fail("unexpected \(word)\n\(usage)") }
        image = word
    }
}
guard let image else { fail("no image given\n\(usage)") }
if let problem = configuration.deviceProblem { fail(problem) }

if command == "debug" {
    configuration.gdb = true
    configuration.timeoutSeconds = 24 * 3600
    let symbols = image.hasSuffix(".dbg.elf") ? image : image.replacingOccurrences(of: ".elf", with: ".dbg.elf")
    print("""
        QEMU waits for gdb on localhost:1234. In another terminal:
          gdb \(symbols) -ex 'target remote localhost:1234' -ex 'break swiftlet_pc_start' -ex continue
        """)
    fflush(stdout)
}

do {
    let result = try QEMURunner.run(image: image, configuration: configuration, captureOutput: false)
    if result.exit != .exited(0) {
        FileHandle.standardError.write(Data("swiftlet: guest \(result.exit)\n".utf8))
    }
    exit(result.exit.hostStatus)
} catch {
    fail("\(error)", status: 253)
}
