// What the monitor writes into guest memory before the first instruction,
// as the hvt ABI defines it: the boot GDT, the page tables, the boot info,
// the manifest copy and the command line. Pure functions over GuestMemory,
// so tests can check every byte.
// Layout (guest-physical): GDT 0x1000, PML4 0x2000, PDPT 0x3000, four PDs
// 0x4000-0x7fff, the 4 KiB table of the first 2 MiB at 0x8000, boot info at
// 0x10000 followed by the manifest copy and the command line.
// Tests: Tests/MonitorCoreTests/GuestSetupTests.swift.

import HvtABI

public enum GuestSetup {
    public static let pdptAddress: UInt64 = 0x3000
    public static let pdAddress: UInt64 = 0x4000
    public static let pt0Address: UInt64 = 0x8000
    static let present: UInt64 = 1, writable: UInt64 = 2, large: UInt64 = 0x80

    /// GDT descriptors: null, 64-bit code (selector 0x08), data (0x10).
    public static let gdt: [UInt64] = [0, 0x00AF_9A00_0000_FFFF, 0x00CF_9200_0000_FFFF]

    public static func writeGDT(_ memory: GuestMemory) {
        for (i, descriptor) in gdt.enumerated() {
            memory.store(descriptor, at: HvtABI.gdtAddress + UInt64(i * 8))
        }
    }

    /// Identity map of [0, memory.size): 4 KiB pages in the first 2 MiB with
    /// 0-0xFFFF absent and 0x10000-0xFFFFF read-only, 2 MiB pages above.
    /// `memory.size` must be a multiple of 2 MiB, at most 4 GiB.
    public static func writePageTables(_ memory: GuestMemory) {
        if let tables = memory.bytes(at: HvtABI.pml4Address, length: pt0Address + 0x1000 - HvtABI.pml4Address) {
            tables.initializeMemory(as: UInt8.self, repeating: 0)
        }
        memory.store(pdptAddress | present | writable, at: HvtABI.pml4Address)
        for i in 0..<UInt64(4) {
            memory.store((pdAddress + i * 0x1000) | present | writable, at: pdptAddress + i * 8)
        }
        memory.store(pt0Address | present | writable, at: pdAddress)
        var page = HvtABI.bootInfoAddress
        while page < HvtABI.memoryGranule {
            let flags = page < HvtABI.lowestLoadAddress ? present : present | writable
            memory.store(page | flags, at: pt0Address + (page >> 12) * 8)
            page += 0x1000
        }
        var large2M = HvtABI.memoryGranule
        while large2M < memory.size {
            memory.store(large2M | present | writable | large, at: pdAddress + (large2M >> 21) * 8)
            large2M += HvtABI.memoryGranule
        }
    }

    public struct BootInfo {
        public var memorySize: UInt64
        public var kernelEnd: UInt64
        public var cycleFrequency: UInt64
        public var commandLine: String
        public var manifestCopy: [UInt8]

        public init(memorySize: UInt64, kernelEnd: UInt64, cycleFrequency: UInt64,
                    commandLine: String, manifestCopy: [UInt8]) {
            self.memorySize = memorySize
            self.kernelEnd = kernelEnd
            self.cycleFrequency = cycleFrequency
            self.commandLine = commandLine
            self.manifestCopy = manifestCopy
        }
    }

    public enum SetupError: Error, Equatable, CustomStringConvertible {
        case bootAreaOverflow(Int)
        public var description: String {
            switch self {
            case .bootAreaOverflow(let bytes):
                return "boot info, manifest and command line need \(bytes) bytes, more than the \(HvtABI.bootAreaSize >> 10) KiB boot area"
            }
        }
    }

    /// Writes the boot info at 0x10000, the manifest copy right after it and
    /// the NUL-terminated command line after that (8-byte aligned).
    public static func writeBootInfo(_ info: BootInfo, _ memory: GuestMemory) throws(SetupError) {
        let base = HvtABI.bootInfoAddress
        let manifestAt = HvtABI.manifestCopyAddress
        let commandLineAt = (manifestAt + UInt64(info.manifestCopy.count) + 7) & ~7
        let commandLine = Array(info.commandLine.utf8) + [0]
        let end = commandLineAt + UInt64(commandLine.count)
        guard end <= base + HvtABI.bootAreaSize,
              let area = memory.bytes(at: base, length: end - base) else {
            throw .bootAreaOverflow(Int(end - base))
        }
        area.initializeMemory(as: UInt8.self, repeating: 0)
        memory.store(info.memorySize, at: base + UInt64(HvtABI.BootInfo.memSize))
        memory.store(info.kernelEnd, at: base + UInt64(HvtABI.BootInfo.kernelEnd))
        memory.store(info.cycleFrequency, at: base + UInt64(HvtABI.BootInfo.cpuCycleFreq))
        memory.store(commandLineAt, at: base + UInt64(HvtABI.BootInfo.cmdline))
        memory.store(manifestAt, at: base + UInt64(HvtABI.BootInfo.manifest))
        for (i, byte) in info.manifestCopy.enumerated() { memory.store(byte, at: manifestAt + UInt64(i)) }
        for (i, byte) in commandLine.enumerated() { memory.store(byte, at: commandLineAt + UInt64(i)) }
    }
}
