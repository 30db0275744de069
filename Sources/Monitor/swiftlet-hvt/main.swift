// swiftlet-hvt: our monitor for Solo5 hvt ABI v2 unikernels, on /dev/kvm.
// Order, as solo5-hvt: options, image and manifest checks, VM and memory,
// load the image, page tables/GDT/registers, devices, boot info, seccomp,
// then the run loop. Exits with the guest's status; 1 on its own errors (one
// line on stderr); the guest's HALT status otherwise.

import CKVM
import CTap
import Glibc
import HvtABI
import MonitorCore

let version = "0.1.0"

func monotonicMicroseconds() -> UInt64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return UInt64(now.tv_sec) * 1_000_000 + UInt64(now.tv_nsec) / 1000
}
let startedAt = monotonicMicroseconds()

func fail(_ message: String) -> Never {
    fputs("swiftlet-hvt: \(message)\n", stderr)
    exit(1)
}

func readFile(_ path: String, limit: Int) -> [UInt8] {
    // Non-blocking open: a FIFO must not hang us; then only regular files.
    let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
    guard fd >= 0 else { fail("cannot open \(path): \(String(cString: strerror(errno)))") }
    defer { close(fd) }
    var status = stat()
    guard fstat(fd, &status) == 0, status.st_mode & S_IFMT == S_IFREG else { fail("\(path) is not a regular file") }
    guard status.st_size <= off_t(limit) else { fail("\(path) is larger than \(limit >> 20) MiB: not an hvt image") }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n < 0 { if errno == EINTR { continue }; fail("cannot read \(path): \(String(cString: strerror(errno)))") }
        if n == 0 { break }
        bytes.append(contentsOf: chunk[0..<n])
        if bytes.count > limit { fail("\(path) is larger than \(limit >> 20) MiB: not an hvt image") }
    }
    return bytes
}

// MARK: options and image

let options: MonitorOptions
do {
    options = try MonitorOptions.parse(Array(CommandLine.arguments.dropFirst()))
} catch {
    fail("\(error)\n\(MonitorOptions.usage)")
}
switch options.action {
case .help: print(MonitorOptions.usage); exit(0)
case .version: print("swiftlet-hvt \(version) (Solo5 hvt ABI \(HvtABI.version))"); exit(0)
case .run: break
}

let file = readFile(options.kernel, limit: 256 << 20)
let image: GuestImage
do {
    image = try GuestImage.parse(file)
    try image.fitsIn(memorySize: options.memoryBytes)
    try options.checkDevices(against: image.manifest)
} catch {
    fail("\(options.kernel): \(error)")
}

// MARK: the VM

let vm: VirtualMachine
do { vm = try VirtualMachine(memorySize: options.memoryBytes) } catch { fail("\(error)") }
let memory = vm.memory
for segment in image.segments where segment.filesz > 0 {
    guard let target = memory.bytes(at: segment.vaddr, length: UInt64(segment.filesz)) else {
        fail("\(options.kernel): a segment lies outside guest memory")
    }
    file.withUnsafeBytes { source in
        target.copyMemory(from: UnsafeRawBufferPointer(rebasing: source[segment.fileRange]))
    }
}
GuestSetup.writeGDT(memory)
GuestSetup.writePageTables(memory)

// MARK: devices

let host = HostIO(deviceCount: image.manifest.entryCount)
var attached: [AttachedDevice?] = Array(repeating: nil, count: image.manifest.entryCount)
var attachments: [Int: Attachment] = [:]
for device in image.manifest.devices {
    switch device.kind {
    case .block:
        guard let block = options.block(named: device.name) else { continue }
        let fd = open(block.path, O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { fail("--block:\(device.name): cannot open \(block.path): \(String(cString: strerror(errno)))") }
        var status = stat()
        guard fstat(fd, &status) == 0 else { fail("--block:\(device.name): cannot stat \(block.path)") }
        let size = UInt64(status.st_size), sector = UInt64(block.sectorSize)
        guard size >= sector, size % sector == 0 else {
            fail("--block:\(device.name): \(block.path) is \(size) bytes, not a whole number of \(sector)-byte sectors")
        }
        host.blockFiles[device.index] = fd
        attached[device.index] = .block(capacity: size, blockSize: sector)
        attachments[device.index] = .block(capacity: size, blockSize: UInt16(sector))
    case .net:
        guard let net = options.net(named: device.name) else { continue }
        var vnetHeader: Int32 = 0
        let fd = net.fileDescriptor.map { tap_adopt($0, &vnetHeader) } ?? tap_open(net.tap, 0)
        guard fd >= 0 else { fail("--net:\(device.name): cannot attach tap \(net.tap): \(String(cString: strerror(-fd)))") }
        // The hvt ABI moves bare frames.
        guard vnetHeader == 0 else { fail("--net:\(device.name): tap \(net.tap) has virtio-net headers (IFF_VNET_HDR)") }
        host.taps[device.index] = fd
        let mtu = tap_mtu(fd)
        guard mtu > 0, mtu <= 65535 - 14 else { fail("--net:\(device.name): cannot read the MTU of \(net.tap)") }
        // Locally administered, unicast; random unless given.
        var mac = net.mac ?? (0..<6).map { _ in UInt8.random(in: 0...255) }
        if net.mac == nil { mac[0] = (mac[0] & 0xFE) | 0x02 }
        attached[device.index] = .net(mtu: UInt64(mtu))
        attachments[device.index] = .net(mac: mac, mtu: UInt16(mtu))
    }
}

// MARK: boot info, protection, registers

do {
    let info = GuestSetup.BootInfo(memorySize: options.memoryBytes, kernelEnd: image.kernelEnd,
                                   cycleFrequency: try vm.tscFrequency(), commandLine: options.commandLine,
                                   manifestCopy: image.manifest.encodeCopy(attachments: attachments))
    try GuestSetup.writeBootInfo(info, memory)
    for segment in image.segments where !segment.flags.contains(.writable) && segment.memsz > 0 {
        try vm.protect(segment.vaddr, segment.pageEnd)
    }
    try vm.setEntryState(entry: image.entry)
} catch {
    fail("\(error)")
}

// MARK: seccomp, then run

ckvm_exit_on_signals()

// read write close poll mmap munmap brk rt_sigaction rt_sigprocmask rt_sigreturn ioctl pread64 pwrite64
// readv writev sched_yield madvise nanosleep exit futex clock_gettime clock_nanosleep exit_group ppoll getrandom
let allowed: [Int32] = [0, 1, 3, 7, 9, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 24, 28, 35, 60, 202, 228, 230, 231, 271, 318]
let seccomp = allowed.withUnsafeBufferPointer { ckvm_install_seccomp($0.baseAddress, Int32($0.count)) }
if seccomp != 0 { fail("cannot install the seccomp filter: \(String(cString: strerror(-seccomp)))") }

let dispatcher = HypercallDispatcher(memory: memory, devices: attached)
// SWIFTLET_HVT_TIMING=1: how long main took to reach the first guest
// instruction (for `make bench`).
if getenv("SWIFTLET_HVT_TIMING") != nil {
    fputs("swiftlet-hvt: startup_us \(monotonicMicroseconds() - startedAt)\n", stderr)
}
while true {
    switch vm.next() {
    case .io(let port, let value):
        switch dispatcher.handle(port: port, argument: value, host: host) {
        case .resume: continue
        case .halt(let status): exit(status)
        case .fault(let message): fail("guest error: \(message)")
        }
    case .stopped(let why):
        fail(why)
    }
}
