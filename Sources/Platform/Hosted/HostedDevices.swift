// Hosted devices: block devices on files (pread/pwrite) and network devices
// on existing tap interfaces (non-blocking read/write), attached by the
// device options (HostedOptions.swift) and offered through the Swiftlet
// device interfaces, like hvt's. A tap opened by name carries virtio-net
// headers (IFF_VNET_HDR), so the stack can turn on the kernel's offloads:
// TCP segmentation of our large frames, and Linux's segments merged (up to
// 64 KiB) with checksums it vouches for - one system call per 64 KiB
// instead of per 1,448 bytes.
//
// The options are parsed and every device opened once, before the
// application's main runs (a constructor in .init_array); a bad option, a
// missing file or tap, or a capacity that is not a whole number of sectors
// ends the process there with one line on stderr and status 1, as the
// monitor does before the guest runs.
// Read-only files: a file that cannot be opened for writing (no write
// permission, read-only mount) is attached read-only: `isReadOnly` is true
// and writes throw `.readOnly`. Limits: one system call per frame (no
// batching); flush is fdatasync(2); an inherited tap (`@FD`) has offloads
// only if it was opened with IFF_VNET_HDR.

#if canImport(Glibc)
import CTap
import Glibc
import Swiftlet

/// Attaches the devices before main, so that option errors come first, as
/// from the monitor (otherwise on first use of the arguments or devices).
@used @section(".init_array")
let hostedDevicesAtStart: @convention(c) () -> Void = { _ = HostedDevices.attached }

enum HostedDevices {
    /// The leading arguments the options took, and the devices they attached.
    static let attached: (consumed: Int, block: [any BlockDevice], network: [any NetworkDevice]) = attach()

    private static func attach() -> (consumed: Int, block: [any BlockDevice], network: [any NetworkDevice]) {
        let options: HostedOptions
        do { options = try HostedOptions.parse(Array(CommandLine.arguments.dropFirst())) } catch { fail(error.message) }
        var block: [any BlockDevice] = [], network: [any NetworkDevice] = []
        for device in options.devices {
            switch device {
            case .block(let name, let path, let sectorSize):
                block.append(openBlock(name: name, path: path, sectorSize: sectorSize))
            case .net(let name, let tap, let mac):
                network.append(openNet(name: name, tap: tap, mac: mac))
            }
        }
        return (options.consumed, block, network)
    }

    static func fail(_ message: String) -> Never {
        let program = CommandLine.arguments.first?.split(separator: "/").last.map(String.init) ?? "swiftlet"
        fflush(stdout)
        fputs("\(program): \(message)\n", stderr)
        exit(1)
    }

    static func errorText(_ code: Int32) -> String { String(cString: strerror(code)) }

    /// A name that lives as long as the process, as RawArgument needs.
    static func permanent(_ name: String) -> RawArgument {
        RawArgument(cString: UnsafeRawPointer(strdup(name)!).assumingMemoryBound(to: UInt8.self))
    }

    static func openBlock(name: String, path: String, sectorSize: Int) -> HostedBlockDevice {
        let option = "--block:\(name)"
        var fd = open(path, O_RDWR | O_CLOEXEC)
        var readOnly = false
        if fd < 0 && (errno == EACCES || errno == EROFS || errno == EPERM) {
            fd = open(path, O_RDONLY | O_CLOEXEC)
            readOnly = true
        }
        guard fd >= 0 else { fail("\(option): cannot open \(path): \(errorText(errno))") }
        var status = stat()
        guard fstat(fd, &status) == 0, status.st_mode & S_IFMT == S_IFREG || status.st_mode & S_IFMT == S_IFBLK else {
            fail("\(option): \(path) is not a file or a block device")
        }
        // lseek, not st_size: a block device's st_size is 0.
        let end = lseek(fd, 0, SEEK_END)
        let size = UInt64(max(end, 0)), sector = UInt64(sectorSize)
        guard end >= 0, size >= sector, size % sector == 0 else {
            fail("\(option): \(path) is \(size) bytes, not a whole number of \(sector)-byte sectors")
        }
        return HostedBlockDevice(fd: fd, name: permanent(name), sectorSize: sectorSize, capacity: size, isReadOnly: readOnly)
    }

    static func openNet(name: String, tap: String, mac given: [UInt8]?) -> HostedNetworkDevice {
        let option = "--net:\(name)"
        let fd: Int32
        var vnetHeader: Int32 = 1
        if tap.hasPrefix("@") {
            guard let inherited = Int32(tap.dropFirst()), inherited >= 0 else { fail("\(option)=\(tap): expected a tap name or @FD") }
            fd = tap_adopt(inherited, &vnetHeader)
        } else {
            fd = tap_open(tap, vnetHeader)
        }
        guard fd >= 0 else { fail("\(option): cannot attach tap \(tap): \(errorText(-fd))") }
        let mtu = tap_mtu(fd)
        guard mtu > 0, mtu <= 65535 - 14 else { fail("\(option): cannot read the MTU of \(tap)") }
        guard let event = HostedEvents.register(descriptor: fd) else { fail("\(option): more than 64 device events") }
        // Locally administered and unicast, random unless given (as the monitor).
        var m = given ?? (0..<6).map { _ in UInt8.random(in: 0...255) }
        if given == nil { m[0] = (m[0] & 0xFE) | 0x02 }
        return HostedNetworkDevice(fd: fd, name: permanent(name), mac: MACAddress(m[0], m[1], m[2], m[3], m[4], m[5]),
                                   mtu: Int(mtu), event: event, vnetHeader: vnetHeader != 0)
    }
}

final class HostedBlockDevice: BlockDevice {
    let fd: Int32
    let name: RawArgument
    let sectorSize: Int
    let capacity: UInt64
    let isReadOnly: Bool

    init(fd: Int32, name: RawArgument, sectorSize: Int, capacity: UInt64, isReadOnly: Bool) {
        (self.fd, self.name, self.sectorSize, self.capacity, self.isReadOnly) = (fd, name, sectorSize, capacity, isReadOnly)
    }

    func read(at offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws(DeviceError) {
        try validate(offset: offset, length: buffer.count, writing: false)
        try transfer(buffer.count) { done in
            pread(fd, buffer.baseAddress! + done, buffer.count - done, off_t(offset) + off_t(done))
        }
    }

    func write(at offset: UInt64, from buffer: UnsafeRawBufferPointer) throws(DeviceError) {
        try validate(offset: offset, length: buffer.count, writing: true)
        try transfer(buffer.count) { done in
            pwrite(fd, buffer.baseAddress! + done, buffer.count - done, off_t(offset) + off_t(done))
        }
    }

    /// Writes are pwrite(2)s into the page cache: flush makes them durable.
    func flush() throws(DeviceError) {
        if isReadOnly { return }
        if fdatasync(fd) != 0 { throw .ioError }
    }

    /// Repeats `call(done)` until `count` bytes moved: short transfers and
    /// EINTR are retried; an error or end of file (the file shrank) is an I/O error.
    private func transfer(_ count: Int, _ call: (Int) -> Int) throws(DeviceError) {
        var done = 0
        while done < count {
            let n = call(done)
            if n > 0 { done += n } else if n < 0 && errno == EINTR { continue } else { throw .ioError }
        }
    }
}

final class HostedNetworkDevice: NetworkDevice {
    let fd: Int32
    let name: RawArgument
    let mac: MACAddress
    let mtu: Int
    /// The tap descriptor's bit of HostedEvents (readable: a frame waits).
    let event: DeviceEvent
    /// Frames carry a virtio_net_hdr (tap_receive/tap_transmit).
    let vnetHeader: Bool
    private var offloads = NetworkOffloads()

    init(fd: Int32, name: RawArgument, mac: MACAddress, mtu: Int, event: DeviceEvent, vnetHeader: Bool) {
        (self.fd, self.name, self.mac, self.mtu, self.event, self.vnetHeader) = (fd, name, mac, mtu, event, vnetHeader)
    }

    func enableOffloads() -> NetworkOffloads {
        if vnetHeader && tap_set_offloads(fd, 1) == 0 {
            offloads = NetworkOffloads(tcpSegmentation: NetworkOffloads.largestFrame, mergedReceive: true)
        }
        return offloads
    }

    func receive(into buffer: UnsafeMutableRawBufferPointer) throws(DeviceError) -> ReceivedFrame? {
        guard let base = buffer.baseAddress, buffer.count > 0 else { throw .invalidRequest }
        if vnetHeader {
            var trusted: Int32 = 0
            let n = tap_receive(fd, base, UInt(buffer.count), &trusted)
            if n > 0 { return ReceivedFrame(length: n, checksumTrusted: trusted != 0) }
            if n == 0 || n == -Int(EAGAIN) { return nil }
            throw .ioError
        }
        while true {
            let n = Glibc.read(fd, base, buffer.count)
            if n > 0 { return ReceivedFrame(length: n) }
            if n == 0 || errno == EAGAIN || errno == EWOULDBLOCK { return nil }
            if errno != EINTR { throw .ioError }
        }
    }

    func transmit(_ frame: UnsafeRawBufferPointer, segmentSize: Int) throws(DeviceError) {
        guard let base = frame.baseAddress, frame.count > 0,
              frame.count <= (segmentSize > 0 ? offloads.tcpSegmentation : mtu + 14) else { throw .invalidRequest }
        if vnetHeader {
            let found = segmentSize > 0 ? NetworkOffloads.tcpHeaders(of: frame) : (start: 0, end: 0)
            guard let headers = found else { throw .invalidRequest }
            guard tap_transmit(fd, base, UInt(frame.count), UInt32(segmentSize), UInt32(headers.start),
                               UInt32(headers.end)) == frame.count else { throw .ioError }
            return
        }
        while true {
            // A tap takes a frame whole or not at all.
            let n = Glibc.write(fd, base, frame.count)
            if n == frame.count { return }
            if n >= 0 || errno != EINTR { throw .ioError }
        }
    }
}
#endif
