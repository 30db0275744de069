// VirtioTransport: what a virtio driver needs from the bus a device sits on
// (virtio 1.x, section 4). pc implements it for PCI (modern, capability
// based, and legacy 0.9.5 over an I/O BAR) and for MMIO (microvm); tests
// implement it with a simulated device. Drivers (VirtioBlock, VirtioNet)
// see only this protocol, so they are portable and tested hosted.
//
// Addresses handed to the device are guest-physical; on pc (identity map)
// and in hosted tests they equal the pointers' values.

import Swiftlet

/// Device status bits (virtio 1.x, 2.1).
public enum VirtioStatus {
    public static let acknowledge: UInt8 = 1
    public static let driver: UInt8 = 2
    public static let driverOK: UInt8 = 4
    public static let featuresOK: UInt8 = 8
    public static let needsReset: UInt8 = 64
    public static let failed: UInt8 = 128
}

/// Feature bits shared by every device type (virtio 1.x, 6).
public enum VirtioFeature {
    public static let ringIndirectDescriptors: UInt64 = 1 << 28
    public static let ringEventIndex: UInt64 = 1 << 29
    public static let version1: UInt64 = 1 << 32
    public static let accessPlatform: UInt64 = 1 << 33
}

public protocol VirtioTransport: AnyObject {
    /// True for legacy (0.9.5) devices: 32 feature bits, no FEATURES_OK
    /// step, queue sizes fixed by the device, one contiguous queue layout
    /// with the used ring 4096-aligned (`Virtqueue.legacyAlignment`).
    var isLegacy: Bool { get }

    /// The device's readiness bit for `Events.wait(for:until:)`: set by the
    /// platform when the device interrupts (or polls ready).
    var event: DeviceEvent { get }

    /// Device status register (VirtioStatus bits); writing 0 resets the device.
    func readStatus() -> UInt8
    func writeStatus(_ status: UInt8)

    /// All feature bits the device offers (legacy: the low 32 only).
    func readDeviceFeatures() -> UInt64
    /// The features the driver accepts (a subset of the device's).
    func writeDriverFeatures(_ features: UInt64)

    /// The largest size queue `index` may have; 0 when there is no such queue.
    func queueMaxSize(_ index: UInt16) -> UInt16
    /// Gives queue `index` its memory and enables it. `size` must be a power
    /// of two <= queueMaxSize (legacy: equal to it, and the three parts laid
    /// out as `Virtqueue` lays them out from a 4096-aligned `descriptors`).
    /// false when the device refuses.
    func activateQueue(_ index: UInt16, size: UInt16, descriptors: UInt64, driverArea: UInt64,
                       deviceArea: UInt64) -> Bool
    /// Tells the device that queue `index` has new available buffers.
    func notify(_ queue: UInt16)

    /// Reads `buffer.count` bytes of the device-specific configuration at `offset`.
    func readConfig(at offset: Int, into buffer: UnsafeMutableRawBufferPointer)
    /// Changes the device-specific configuration (rarely needed).
    func writeConfig(at offset: Int, from buffer: UnsafeRawBufferPointer)

    /// Reads and clears the interrupt status (bit 0: a queue was used, bit
    /// 1: the configuration changed). Transports without one (MSI-X) return 1.
    func acknowledgeInterrupt() -> UInt8
}
