// VirtioSession: what every virtio driver shares - the start-up sequence of
// virtio 1.x 3.1.1 (reset, ACKNOWLEDGE, DRIVER, feature negotiation,
// FEATURES_OK, queues, DRIVER_OK), the memory the device may touch, and the
// reset that ends the device's access to it (on failure and in deinit).
// Limits: addresses given to the device are the pointers' values (identity
// mapping, as on pc and in hosted tests); no IOMMU, no per-queue MSI-X vectors.

import Swiftlet

final class VirtioSession {
    let transport: any VirtioTransport
    /// The features both sides agreed on.
    private(set) var features: UInt64 = 0
    private var status: UInt8 = 0
    private var halted = false
    /// Kernel-heap blocks the device may access; freed only after a reset.
    private var blocks: [UnsafeMutableRawPointer] = []

    /// Polls of the status register before a reset counts as refused.
    static let resetPolls = 100_000

    /// Resets the device and negotiates features: `choose` gets the offered
    /// bits and returns the device-specific ones the driver takes (nil
    /// refuses the device). The generic bits are decided here: VERSION_1
    /// (required unless legacy), EVENT_IDX and ACCESS_PLATFORM (identity
    /// mapping satisfies it) when offered, ANY_LAYOUT for legacy devices.
    /// nil (device marked FAILED) when the device refuses or is unusable.
    init?(transport: any VirtioTransport, choose: (UInt64) -> UInt64?) {
        self.transport = transport
        transport.writeStatus(0)
        var polls = 0
        while transport.readStatus() != 0 {
            polls += 1
            if polls == VirtioSession.resetPolls { return nil }
        }
        set(VirtioStatus.acknowledge)
        set(VirtioStatus.driver)
        var offered = transport.readDeviceFeatures()
        var generic = VirtioFeature.ringEventIndex | VirtioFeature.accessPlatform
        if transport.isLegacy {
            offered &= 0xFFFF_FFFF
            generic |= VirtioSession.anyLayout
        } else {
            generic |= VirtioFeature.version1
        }
        guard transport.isLegacy || offered & VirtioFeature.version1 != 0, let specific = choose(offered) else {
            fail()
            return nil
        }
        let accepted = offered & (generic | specific & VirtioSession.deviceSpecificBits)
        transport.writeDriverFeatures(accepted)
        if !transport.isLegacy {
            set(VirtioStatus.featuresOK)
            guard transport.readStatus() & VirtioStatus.featuresOK != 0 else {
                fail()
                return nil
            }
        }
        features = accepted
    }

    /// VIRTIO_F_ANY_LAYOUT (legacy only; implied by VERSION_1).
    static let anyLayout: UInt64 = 1 << 27
    /// Bits 0-23 belong to the device type (2.2).
    static let deviceSpecificBits: UInt64 = (1 << 24) - 1

    deinit {
        // The device must stop touching memory before the memory goes back.
        transport.writeStatus(0)
        for block in blocks { KernelHeap.free(block) }
    }

    func has(_ feature: UInt64) -> Bool { features & feature != 0 }

    /// Buffers may mix header and data in one descriptor.
    var anyLayout: Bool { has(VirtioFeature.version1) || has(VirtioSession.anyLayout) }

    private func set(_ bit: UInt8) {
        status |= bit
        transport.writeStatus(status)
    }

    /// Marks the device FAILED (during start-up, before returning nil).
    func fail() { set(VirtioStatus.failed) }

    /// Stops the device for good: after a malformed used ring nothing it
    /// does may reach memory again.
    func halt() {
        if halted { return }
        halted = true
        transport.writeStatus(0)
        status = 0
    }

    /// Ends start-up: the device may use its queues now.
    func start() { set(VirtioStatus.driverOK) }

    /// A zeroed kernel-heap block the device may access, freed in deinit.
    func allocate(bytes: Int, alignment: Int) -> UnsafeMutableRawPointer? {
        guard let block = KernelHeap.allocate(size: bytes, alignment: alignment) else { return nil }
        block.initializeMemory(as: UInt8.self, repeating: 0, count: bytes)
        blocks.append(block)
        return block
    }

    /// Sets up and enables queue `index`: size the device's for legacy,
    /// otherwise the largest power of two <= both the device's maximum and
    /// `preferred`; nil when that is below `minimum` or the device refuses.
    func makeQueue(_ index: UInt16, preferred: UInt16, minimum: UInt16) -> Virtqueue? {
        let maximum = transport.queueMaxSize(index)
        var size: UInt16
        if transport.isLegacy {
            size = maximum
            guard size & (size &- 1) == 0 else { return nil }
        } else {
            let limit = min(maximum, preferred)
            guard limit > 0 else { return nil }
            size = 1 << (15 - UInt16(limit.leadingZeroBitCount))
        }
        guard size >= minimum, size <= 32768,
              let memory = allocate(bytes: Virtqueue.byteCount(size: Int(size)), alignment: Virtqueue.legacyAlignment)
        else { return nil }
        let queue = Virtqueue(memory: memory, size: size, eventIndex: has(VirtioFeature.ringEventIndex))
        guard transport.activateQueue(index, size: size, descriptors: queue.descriptorArea,
                                      driverArea: queue.driverArea, deviceArea: queue.deviceArea) else { return nil }
        return queue
    }
}

/// The guest-physical address of host memory (identity mapping).
@inline(__always)
func physical(_ pointer: UnsafeRawPointer) -> UInt64 { UInt64(UInt(bitPattern: pointer)) }

/// A little-endian field of the device-specific configuration (a free
/// function: Embedded Swift has no generic methods on existentials).
func deviceConfig<T: FixedWidthInteger>(_ transport: any VirtioTransport, at offset: Int, as type: T.Type) -> T {
    var value: T = 0
    withUnsafeMutableBytes(of: &value) { transport.readConfig(at: offset, into: $0) }
    return T(littleEndian: value)
}
