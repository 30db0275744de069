// pc devices (module PCVirtio): virtio-blk and virtio-net over PCI (modern preferred, legacy
// for legacy-only devices) and over MMIO (microvm, announced on the command
// line as `virtio_mmio.device=SIZE@BASE:IRQ`), found on first use.
//
// Waiting (README "Choices worth knowing"): every device interrupts on one
// vector - PCI through MSI-X, MMIO through an edge-triggered IOAPIC pin.
// Interrupts are taken only inside the idle `hlt` (or a short window when
// the scheduler polls), counted by the stub, and any new interrupt reports
// every device's event bit: a hint on which each waiting driver acknowledges
// its device and checks its rings. One vector keeps the stub trivial; the
// cost is that all waiters look at their rings after any device interrupt.
// Limits: PCI devices without MSI-X are skipped (QEMU's virtio-pci always
// has it); at most 64 devices (the ready set's width).

import CPU
import Swiftlet
import Threads
import Virtio
import X86

enum DeviceInterrupts {
    static let vector: UInt32 = 49
    static let msiAddress: UInt32 = 0xFEE0_0000   // the local APIC of CPU 0, physical destination
    static let ioapic: UInt = 0xFEC0_0000

    /// Points every MSI-X table entry of `function` at `vector` and enables
    /// MSI-X; false when the function has none (or its table is unmapped).
    static func enableMSIX(_ function: PCIFunction) -> Bool {
        guard let cap = function.capabilities(0x11).first else { return false }
        let table = function.read32(cap + 4)
        guard case .memory(let bar) = function.bar(Int(table & 7)) else { return false }
        let entries = Registers(base: bar + UInt(table & ~7))
        for entry in 0...Int(function.read16(cap + 2) & 0x7FF) {
            entries.write32(entry * 16, msiAddress)
            entries.write32(entry * 16 + 4, 0)
            entries.write32(entry * 16 + 8, vector)
            entries.write32(entry * 16 + 12, 0)      // unmasked
        }
        function.write16(cap + 2, function.read16(cap + 2) & ~0x4000 | 0x8000)
        return true
    }

    /// IOAPIC pin `gsi` -> `vector` on CPU 0: fixed delivery, active high, edge.
    static func route(gsi: Int) {
        guard gsi >= 0 && gsi < 24 else { return }
        let select = Registers(base: ioapic)
        select.write32(0x00, UInt32(0x11 + 2 * gsi))
        select.write32(0x10, 0)
        select.write32(0x00, UInt32(0x10 + 2 * gsi))
        select.write32(0x10, vector)
    }
}

enum PCDevices {
    static let blockNames: [StaticString] = ["virtio-blk0", "virtio-blk1", "virtio-blk2", "virtio-blk3"]
    static let netNames: [StaticString] = ["virtio-net0", "virtio-net1", "virtio-net2", "virtio-net3"]
    nonisolated(unsafe) static var blocks = 0, nets = 0

    static func discover() {
        BootArguments.prepare()
        for index in 0..<BootArguments.kernelParameterCount {
            guard let mmio = VirtioMMIODeclaration(RawArgument(cString: BootArguments.kernelParameter(index))),
                  let event = nextEvent(),
                  let transport = VirtioMMIO(base: UInt(mmio.base), event: event) else { continue }
            DeviceInterrupts.route(gsi: mmio.interrupt)
            attach(transport, type: transport.deviceType)
        }
        for function in PCI.scan() where function.vendor == 0x1AF4 {
            let id = function.deviceID
            // Transitional devices (0x1000-0x103F) name their type in the subsystem id.
            let type = id >= 0x1040 ? UInt32(id - 0x1040) : UInt32(function.read16(0x2E))
            guard type == 1 || type == 2, let event = nextEvent() else { continue }
            function.enable()
            guard DeviceInterrupts.enableMSIX(function) else {
                Console.print("pc: virtio device \(Int(function.bus)):\(Int(function.device)) has no MSI-X: skipped")
                continue
            }
            if let modern = VirtioPCIModern(function, event: event) {
                attach(modern, type: type)
            } else if id < 0x1040, case .io(let port) = function.bar(0) {
                attach(VirtioPCILegacy(port: port, event: event), type: type)
            }
        }
    }

    /// The next free bit of the ready set (reported by pcWait after any interrupt).
    static func nextEvent() -> DeviceEvent? {
        let bit = device_events().nonzeroBitCount
        guard bit < 64 else { return nil }
        add_device_event(Int32(bit))
        return DeviceEvent(bit: bit)
    }

    static func attach(_ transport: any VirtioTransport, type: UInt32) {
        let wait: (UInt64?) -> Bool = { deadline in Events.wait(for: transport.event, until: deadline) }
        switch type {
        case 2 where blocks < blockNames.count:
            let name = RawArgument(cString: blockNames[blocks].utf8Start)
            if let disk = VirtioBlock(transport: transport, name: name, wait: wait) {
                Devices.register(disk)
                blocks += 1
            }
        case 1 where nets < netNames.count:
            let name = RawArgument(cString: netNames[nets].utf8Start)
            if let nic = VirtioNet(transport: transport, name: name, wait: wait) {
                Devices.register(nic)
                nets += 1
            }
        default:
            break
        }
    }
}

/// The platform interface's device discovery for pc: this module is linked
/// into an image only when its application asks for devices.
@_cdecl("swiftlet_platform_discover_devices")
func pcDiscoverDevices() { PCDevices.discover() }
