// The virtio transports of the pc platform (virtio 1.x section 4), behind
// the portable `VirtioTransport` the drivers in Sources/Virtio use:
//   - PCI modern: the common, notify, ISR and device configuration
//     structures that vendor capabilities point into memory BARs;
//   - PCI legacy (0.9.5): the register block in I/O BAR 0 (its device
//     configuration moves 4 bytes up while MSI-X is on);
//   - MMIO (microvm): versions 1 (legacy) and 2.
// PCI devices interrupt through MSI-X (DeviceInterrupts), so their ISR need
// not be read; MMIO devices through an IOAPIC pin, acknowledged here.

import CPU
import Swiftlet
import Virtio

/// MMIO and port accessors sized like the registers they touch.
struct Registers {
    let base: UInt
    func read8(_ offset: Int) -> UInt8 { cpu_mmio_read8(base + UInt(offset)) }
    func read16(_ offset: Int) -> UInt16 { cpu_mmio_read16(base + UInt(offset)) }
    func read32(_ offset: Int) -> UInt32 { cpu_mmio_read32(base + UInt(offset)) }
    func write8(_ offset: Int, _ value: UInt8) { cpu_mmio_write8(base + UInt(offset), value) }
    func write16(_ offset: Int, _ value: UInt16) { cpu_mmio_write16(base + UInt(offset), value) }
    func write32(_ offset: Int, _ value: UInt32) { cpu_mmio_write32(base + UInt(offset), value) }
    func write64(_ offset: Int, _ value: UInt64) {
        write32(offset, UInt32(truncatingIfNeeded: value))
        write32(offset + 4, UInt32(truncatingIfNeeded: value >> 32))
    }
    func readBytes(_ offset: Int, into buffer: UnsafeMutableRawBufferPointer) {
        for i in 0..<buffer.count { buffer[i] = read8(offset + i) }
    }
    func writeBytes(_ offset: Int, from buffer: UnsafeRawBufferPointer) {
        for i in 0..<buffer.count { write8(offset + i, buffer[i]) }
    }
}

final class VirtioPCIModern: VirtioTransport {
    let common: Registers, isr: Registers, device: Registers
    let notifyBase: UInt, notifyMultiplier: UInt
    let event: DeviceEvent
    var isLegacy: Bool { false }
    var notifyOffsets: [UInt16] = []

    /// nil when a structure is missing or lies outside the mapped memory.
    init?(_ function: PCIFunction, event: DeviceEvent) {
        var common: UInt?, isr: UInt?, device: UInt?, notify: UInt?, multiplier: UInt = 0
        for cap in function.capabilities(0x09) {
            guard case .memory(let bar) = function.bar(Int(function.read8(cap + 4))) else { continue }
            let address = bar + UInt(function.read32(cap + 8))
            switch function.read8(cap + 3) {
            case 1: common = common ?? address
            case 2:
                notify = notify ?? address
                multiplier = UInt(function.read32(cap + 16))
            case 3: isr = isr ?? address
            case 4: device = device ?? address
            default: continue
            }
        }
        guard let common, let isr, let device, let notify else { return nil }
        self.common = Registers(base: common)
        self.isr = Registers(base: isr)
        self.device = Registers(base: device)
        notifyBase = notify
        notifyMultiplier = multiplier
        self.event = event
    }

    func readStatus() -> UInt8 { common.read8(0x14) }
    func writeStatus(_ status: UInt8) { common.write8(0x14, status) }

    func readDeviceFeatures() -> UInt64 {
        common.write32(0x00, 0)
        let low = common.read32(0x04)
        common.write32(0x00, 1)
        return UInt64(common.read32(0x04)) << 32 | UInt64(low)
    }

    func writeDriverFeatures(_ features: UInt64) {
        common.write32(0x08, 0)
        common.write32(0x0C, UInt32(truncatingIfNeeded: features))
        common.write32(0x08, 1)
        common.write32(0x0C, UInt32(truncatingIfNeeded: features >> 32))
    }

    func queueMaxSize(_ index: UInt16) -> UInt16 {
        guard index < common.read16(0x12) else { return 0 }
        common.write16(0x16, index)
        return common.read16(0x18)
    }

    func activateQueue(_ index: UInt16, size: UInt16, descriptors: UInt64, driverArea: UInt64,
                       deviceArea: UInt64) -> Bool {
        common.write16(0x16, index)
        common.write16(0x18, size)
        common.write16(0x1A, 0)                       // MSI-X table entry 0
        guard common.read16(0x1A) != 0xFFFF else { return false }
        common.write64(0x20, descriptors)
        common.write64(0x28, driverArea)
        common.write64(0x30, deviceArea)
        common.write16(0x1C, 1)
        while notifyOffsets.count <= Int(index) { notifyOffsets.append(0) }
        notifyOffsets[Int(index)] = common.read16(0x1E)
        return true
    }

    func notify(_ queue: UInt16) {
        let offset = Int(queue) < notifyOffsets.count ? UInt(notifyOffsets[Int(queue)]) : 0
        cpu_mmio_write16(notifyBase + offset * notifyMultiplier, queue)
    }

    func readConfig(at offset: Int, into buffer: UnsafeMutableRawBufferPointer) { device.readBytes(offset, into: buffer) }
    func writeConfig(at offset: Int, from buffer: UnsafeRawBufferPointer) { device.writeBytes(offset, from: buffer) }

    /// MSI-X: nothing to acknowledge.
    func acknowledgeInterrupt() -> UInt8 { 1 }
}

final class VirtioPCILegacy: VirtioTransport {
    let port: UInt16
    let event: DeviceEvent
    var isLegacy: Bool { true }
    /// Device configuration starts after the MSI-X vector registers while MSI-X is on.
    let configOffset: UInt16 = 0x18

    init(port: UInt16, event: DeviceEvent) {
        self.port = port
        self.event = event
        cpu_outw(port + 0x14, 0xFFFF)                 // no vector for configuration changes
    }

    func readStatus() -> UInt8 { cpu_inb(port + 0x12) }
    func writeStatus(_ status: UInt8) { cpu_outb(port + 0x12, status) }
    func readDeviceFeatures() -> UInt64 { UInt64(cpu_inl(port + 0x00)) }
    func writeDriverFeatures(_ features: UInt64) { cpu_outl(port + 0x04, UInt32(truncatingIfNeeded: features)) }

    func queueMaxSize(_ index: UInt16) -> UInt16 {
        cpu_outw(port + 0x0E, index)
        return cpu_inw(port + 0x0C)
    }

    func activateQueue(_ index: UInt16, size: UInt16, descriptors: UInt64, driverArea: UInt64,
                       deviceArea: UInt64) -> Bool {
        cpu_outw(port + 0x0E, index)
        guard size == cpu_inw(port + 0x0C), descriptors & 0xFFF == 0, descriptors >> 12 <= UInt64(UInt32.max) else {
            return false
        }
        cpu_outw(port + 0x16, 0)                      // MSI-X table entry 0
        guard cpu_inw(port + 0x16) != 0xFFFF else { return false }
        cpu_outl(port + 0x08, UInt32(descriptors >> 12))
        return true
    }

    func notify(_ queue: UInt16) { cpu_outw(port + 0x10, queue) }

    func readConfig(at offset: Int, into buffer: UnsafeMutableRawBufferPointer) {
        for i in 0..<buffer.count { buffer[i] = cpu_inb(port + configOffset + UInt16(offset + i)) }
    }

    func writeConfig(at offset: Int, from buffer: UnsafeRawBufferPointer) {
        for i in 0..<buffer.count { cpu_outb(port + configOffset + UInt16(offset + i), buffer[i]) }
    }

    func acknowledgeInterrupt() -> UInt8 { 1 }
}

final class VirtioMMIO: VirtioTransport {
    let registers: Registers
    let version: UInt32
    let deviceType: UInt32
    let event: DeviceEvent
    var isLegacy: Bool { version == 1 }

    /// nil unless a virtio-mmio device (magic "virt", version 1 or 2, a device) is at `base`.
    init?(base: UInt, event: DeviceEvent) {
        registers = Registers(base: base)
        version = registers.read32(0x004)
        deviceType = registers.read32(0x008)
        self.event = event
        guard registers.read32(0x000) == 0x7472_6976, version == 1 || version == 2, deviceType != 0 else { return nil }
        if version == 1 { registers.write32(0x028, 4096) }  // guest page size, for queue PFNs
    }

    func readStatus() -> UInt8 { UInt8(truncatingIfNeeded: registers.read32(0x070)) }
    func writeStatus(_ status: UInt8) { registers.write32(0x070, UInt32(status)) }

    func readDeviceFeatures() -> UInt64 {
        registers.write32(0x014, 0)
        let low = registers.read32(0x010)
        registers.write32(0x014, 1)
        return UInt64(registers.read32(0x010)) << 32 | UInt64(low)
    }

    func writeDriverFeatures(_ features: UInt64) {
        registers.write32(0x024, 0)
        registers.write32(0x020, UInt32(truncatingIfNeeded: features))
        registers.write32(0x024, 1)
        registers.write32(0x020, UInt32(truncatingIfNeeded: features >> 32))
    }

    func queueMaxSize(_ index: UInt16) -> UInt16 {
        registers.write32(0x030, UInt32(index))
        return UInt16(clamping: registers.read32(0x034))
    }

    func activateQueue(_ index: UInt16, size: UInt16, descriptors: UInt64, driverArea: UInt64,
                       deviceArea: UInt64) -> Bool {
        registers.write32(0x030, UInt32(index))
        registers.write32(0x038, UInt32(size))
        if version == 1 {
            guard descriptors & 0xFFF == 0, descriptors >> 12 <= UInt64(UInt32.max) else { return false }
            registers.write32(0x03C, 4096)            // used ring alignment
            registers.write32(0x040, UInt32(descriptors >> 12))
            return true
        }
        registers.write64(0x080, descriptors)
        registers.write64(0x090, driverArea)
        registers.write64(0x0A0, deviceArea)
        registers.write32(0x044, 1)
        return true
    }

    func notify(_ queue: UInt16) { registers.write32(0x050, UInt32(queue)) }
    func readConfig(at offset: Int, into buffer: UnsafeMutableRawBufferPointer) { registers.readBytes(0x100 + offset, into: buffer) }
    func writeConfig(at offset: Int, from buffer: UnsafeRawBufferPointer) { registers.writeBytes(0x100 + offset, from: buffer) }

    /// Clears the pending bits, so the (edge-triggered) pin can rise again.
    func acknowledgeInterrupt() -> UInt8 {
        let pending = registers.read32(0x060)
        registers.write32(0x064, pending)
        return UInt8(truncatingIfNeeded: pending)
    }
}
