// The device interfaces every platform offers to applications and to the
// network stack: block devices and network devices (hvt: hypercalls; pc:
// virtio-blk/-net; hosted: files and taps). Network devices may take work
// off the stack (NetworkOffloads: TCP segmentation, merged receive with
// trusted checksums) once the stack turns it on. Devices are discovered when
// the application first asks for them (the platform registers them then),
// so an image that never does carries no device code at all.
// Tests: through each platform's devices (Tests/VirtioTests, Tests/BootTests).

public enum DeviceError: Error, Equatable {
    /// Misaligned or out-of-range offset or length, or a bad frame size.
    case invalidRequest
    /// A write to a read-only device.
    case readOnly
    /// The host or the device failed the request.
    case ioError
}

public struct MACAddress: Equatable {
    public var bytes: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8)
    public init(_ b0: UInt8, _ b1: UInt8, _ b2: UInt8, _ b3: UInt8, _ b4: UInt8, _ b5: UInt8) {
        bytes = (b0, b1, b2, b3, b4, b5)
    }
    public static func == (a: MACAddress, b: MACAddress) -> Bool {
        a.bytes.0 == b.bytes.0 && a.bytes.1 == b.bytes.1 && a.bytes.2 == b.bytes.2
            && a.bytes.3 == b.bytes.3 && a.bytes.4 == b.bytes.4 && a.bytes.5 == b.bytes.5
    }
}

/// A device's readiness: one bit of the platform's ready set (0...63), which
/// the Threads module's `Events.wait(for:until:)` blocks on.
public struct DeviceEvent: Equatable {
    public let bit: Int
    public init(bit: Int) {
        precondition(bit >= 0 && bit < 64, "device event bit out of range")
        self.bit = bit
    }
}

public protocol BlockDevice: AnyObject {
    /// The name the application's manifest (or configuration) gives it.
    var name: RawArgument { get }
    var sectorSize: Int { get }
    /// Bytes; a whole number of sectors.
    var capacity: UInt64 { get }
    var isReadOnly: Bool { get }
    /// Reads `buffer.count` bytes at `offset`; both a whole number of sectors.
    func read(at offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws(DeviceError)
    func write(at offset: UInt64, from buffer: UnsafeRawBufferPointer) throws(DeviceError)
    func flush() throws(DeviceError)
}

/// Work a network device can take off the stack (smoltcp's device
/// capabilities, Linux's tap offloads). Off until the stack asks
/// (`enableOffloads`), so a user of raw frames always sees frames as they
/// cross the link.
public struct NetworkOffloads: Equatable {
    /// TCP segmentation: `transmit(_:segmentSize:)` takes IPv4 TCP frames of
    /// up to this many bytes and cuts them into segments; 0 when off.
    public var tcpSegmentation: Int
    /// `receive` may return TCP segments the host merged, up to
    /// `NetworkOffloads.largestFrame` bytes (more than mtu + 14).
    public var mergedReceive: Bool

    /// An IPv4 datagram of 65,535 bytes in an Ethernet frame.
    public static let largestFrame = 65_535 + 14

    public init(tcpSegmentation: Int = 0, mergedReceive: Bool = false) {
        self.tcpSegmentation = tcpSegmentation
        self.mergedReceive = mergedReceive
    }

    /// Where a segmentation frame's TCP header starts and where its headers
    /// end (virtio_net_hdr's csum_start and hdr_len), read from the IPv4 IHL
    /// and the TCP data offset; nil when the frame cannot hold them.
    public static func tcpHeaders(of frame: UnsafeRawBufferPointer) -> (start: Int, end: Int)? {
        guard frame.count >= 14 + 20 + 20 else { return nil }
        let start = 14 + Int(frame[14] & 0x0f) * 4
        guard frame.count >= start + 20 else { return nil }
        return (start, start + Int(frame[start + 12] >> 4) * 4)
    }
}

/// One frame `NetworkDevice.receive` delivered.
public struct ReceivedFrame: Equatable {
    /// Bytes of the frame, from the Ethernet header on.
    public var length: Int
    /// The host checked the TCP or UDP checksum, or left it to us as a
    /// partial sum (only with offloads on): the stack must not check it.
    public var checksumTrusted: Bool

    public init(length: Int, checksumTrusted: Bool = false) {
        self.length = length
        self.checksumTrusted = checksumTrusted
    }
}

public protocol NetworkDevice: AnyObject {
    var name: RawArgument { get }
    var mac: MACAddress { get }
    var mtu: Int { get }
    /// Reported when a frame may be waiting (`Events.wait(for:until:)`).
    var event: DeviceEvent { get }
    /// Receives one Ethernet frame into `buffer` (mtu + 14 bytes, or
    /// `NetworkOffloads.largestFrame` with merged receive on); nil when none is waiting.
    func receive(into buffer: UnsafeMutableRawBufferPointer) throws(DeviceError) -> ReceivedFrame?
    /// Sends one Ethernet frame (header included, at most mtu + 14 bytes).
    /// With `segmentSize` > 0 (TCP segmentation on) the frame is one IPv4 TCP
    /// segment of up to `offloads.tcpSegmentation` bytes whose checksum field
    /// holds the pseudo-header sum; the device sends it as segments of
    /// `segmentSize` payload bytes with their checksums completed.
    func transmit(_ frame: UnsafeRawBufferPointer, segmentSize: Int) throws(DeviceError)
    /// Sends one ordinary frame (`segmentSize` 0). A requirement, not just an
    /// extension method: Embedded Swift cannot call those on `any NetworkDevice`.
    func transmit(_ frame: UnsafeRawBufferPointer) throws(DeviceError)
    /// Turns on every offload the device has, for a caller that handles all
    /// of them (the network stack); returns what is on. None by default.
    func enableOffloads() -> NetworkOffloads
    /// Returns once the frames sent so far have left (bounded by the
    /// implementation); devices that send synchronously need nothing.
    func flush() throws(DeviceError)
    /// Tells the device that the stack has sent what it had for now; a
    /// device that holds frames back (LinkFaults) lets them go.
    func endTransmitBatch() throws(DeviceError)
}

extension NetworkDevice {
    public func flush() throws(DeviceError) {}
    public func endTransmitBatch() throws(DeviceError) {}
    public func enableOffloads() -> NetworkOffloads { NetworkOffloads() }

    public func transmit(_ frame: UnsafeRawBufferPointer) throws(DeviceError) {
        try transmit(frame, segmentSize: 0)
    }

    /// Checks an ordinary frame's size (for implementations without segmentation).
    public func validate(frame: UnsafeRawBufferPointer, segmentSize: Int) throws(DeviceError) {
        guard segmentSize == 0, frame.baseAddress != nil, frame.count > 0, frame.count <= mtu + 14 else {
            throw .invalidRequest
        }
    }
}

extension BlockDevice {
    /// Checks a request against the device's geometry (for implementations).
    public func validate(offset: UInt64, length: Int, writing: Bool) throws(DeviceError) {
        if writing && isReadOnly { throw .readOnly }
        let sector = UInt64(sectorSize)
        guard length > 0, offset % sector == 0, UInt64(length) % sector == 0,
              offset <= capacity, UInt64(length) <= capacity - offset else { throw .invalidRequest }
    }
}

/// The devices the platform found, in manifest (or discovery) order.
public enum Devices {
    nonisolated(unsafe) static var blockDevices: [any BlockDevice] = []
    nonisolated(unsafe) static var networkDevices: [any NetworkDevice] = []
    nonisolated(unsafe) static var discovered = false

    public static var block: [any BlockDevice] {
        discover()
        return blockDevices
    }

    public static var network: [any NetworkDevice] {
        discover()
        return networkDevices
    }

    static func discover() {
        if discovered { return }
        discovered = true
        platformDiscoverDevices()
        beforeExit = {
            for device in networkDevices { try? device.flush() }
            exitReport?()
        }
    }

    /// Lines a device middleware (NetHost's LinkFaults) prints at exit.
    nonisolated(unsafe) public static var exitReport: (() -> Void)? = nil

    /// What Kernel.exit does first once devices exist: let queued
    /// transmissions leave. Set at discovery, so images without devices
    /// carry none of it.
    nonisolated(unsafe) static var beforeExit: (() -> Void)? = nil

    /// For platforms, from `swiftlet_platform_discover_devices`.
    public static func register(_ device: any BlockDevice) { blockDevices.append(device) }
    public static func register(_ device: any NetworkDevice) { networkDevices.append(device) }

}
