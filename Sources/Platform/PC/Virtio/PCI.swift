// PCI configuration space through the legacy mechanism (ports 0xCF8/0xCFC),
// the bus scan, BARs and capability lists - what the virtio-pci transports
// need. The scan starts at bus 0 and follows PCI-to-PCI bridges, so it reads
// only buses that exist (each configuration access is two port I/Os, which
// QEMU emulates one by one). Limits: no PCIe extended configuration space
// (ECAM); memory BARs above the 4 GiB identity map are reported unusable.

import CPU

struct PCIFunction {
    let bus: UInt8, device: UInt8, function: UInt8

    func address(_ offset: UInt8) -> UInt32 {
        0x8000_0000 | UInt32(bus) << 16 | UInt32(device) << 11 | UInt32(function) << 8 | UInt32(offset & 0xFC)
    }

    func read32(_ offset: UInt8) -> UInt32 {
        cpu_outl(0xCF8, address(offset))
        return cpu_inl(0xCFC)
    }

    func write32(_ offset: UInt8, _ value: UInt32) {
        cpu_outl(0xCF8, address(offset))
        cpu_outl(0xCFC, value)
    }

    func read16(_ offset: UInt8) -> UInt16 { UInt16(truncatingIfNeeded: read32(offset) >> (UInt32(offset & 2) * 8)) }
    func read8(_ offset: UInt8) -> UInt8 { UInt8(truncatingIfNeeded: read32(offset) >> (UInt32(offset & 3) * 8)) }

    func write16(_ offset: UInt8, _ value: UInt16) {
        let shift = UInt32(offset & 2) * 8
        write32(offset, read32(offset) & ~(0xFFFF << shift) | UInt32(value) << shift)
    }

    var vendor: UInt16 { read16(0x00) }
    var deviceID: UInt16 { read16(0x02) }

    /// I/O and memory decoding plus bus mastering (the device DMAs into our memory).
    func enable() { write16(0x04, read16(0x04) | 0x7) }

    enum BAR { case io(UInt16), memory(UInt), unusable }

    func bar(_ index: Int) -> BAR {
        let offset = UInt8(0x10 + 4 * index)
        let low = read32(offset)
        if low & 1 != 0 { return .io(UInt16(truncatingIfNeeded: low & ~3)) }
        var address = UInt64(low & ~0xF)
        if (low >> 1) & 3 == 2 { address |= UInt64(read32(offset + 4)) << 32 }  // 64-bit BAR
        guard address != 0, address < 0x1_0000_0000 else { return .unusable }
        return .memory(UInt(address))
    }

    /// Offsets of the capabilities with `id`, in list order.
    func capabilities(_ id: UInt8) -> [UInt8] {
        guard read16(0x06) & 0x10 != 0 else { return [] }  // no capability list
        var found: [UInt8] = []
        var offset = read8(0x34) & 0xFC
        var hops = 0
        while offset >= 0x40 && hops < 48 {  // a looping list is cut off
            if read8(offset) == id { found.append(offset) }
            offset = read8(offset + 1) & 0xFC
            hops += 1
        }
        return found
    }
}

enum PCI {
    /// Every function present, bus 0 first, then the buses behind bridges.
    static func scan() -> [PCIFunction] {
        var found: [PCIFunction] = []
        var buses: [UInt8] = [0]
        var seen: [UInt8] = []
        while let bus = buses.popLast() {
            guard !seen.contains(bus) else { continue }
            seen.append(bus)
            for device in 0..<UInt8(32) {
                let first = PCIFunction(bus: bus, device: device, function: 0)
                guard first.vendor != 0xFFFF else { continue }
                let functions: UInt8 = first.read8(0x0E) & 0x80 != 0 ? 8 : 1
                for function in 0..<functions {
                    let candidate = PCIFunction(bus: bus, device: device, function: function)
                    guard candidate.vendor != 0xFFFF else { continue }
                    found.append(candidate)
                    if candidate.read8(0x0E) & 0x7F == 1 { buses.append(candidate.read8(0x19)) }  // bridge
                }
            }
        }
        return found
    }
}
