// The Solo5 hvt ABI, version 2: the one definition our hvt guest platform
// (Sources/Platform/Hvt) and our monitor (Sources/Monitor) share. Layouts
// and numbers only - no behaviour - so the module compiles in Embedded mode
// for images and in normal Swift for the monitor and its tests.
// Facts from ../shared/notes/hvt-abi.md (read from Solo5 v0.12: hvt_abi.h,
// mft_abi.h, elf_abi.h).

public enum HvtABI {
    public static let version: UInt32 = 2
    public static let target: UInt32 = 1  // hvt

    // MARK: ELF notes ("Solo5\0", each first in its own PT_NOTE)

    public static let noteName: StaticString = "Solo5"
    public static let noteNameSize: UInt32 = 6
    public static let abiNoteType: UInt32 = 0x3149_4241       // "ABI1"
    public static let manifestNoteType: UInt32 = 0x3154_464D  // "MFT1"
    /// ABI note descriptor: u32 target, u32 version, u32 0, u32 0.
    public static let abiNoteDescriptorSize = 16

    // MARK: the loaded image

    public static let lowestLoadAddress: UInt64 = 0x10_0000
    public static let pageSize: UInt64 = 0x1000

    // MARK: guest memory layout set up by the monitor

    public static let gdtAddress: UInt64 = 0x1000
    public static let pml4Address: UInt64 = 0x2000
    public static let bootInfoAddress: UInt64 = 0x10000
    /// The manifest copy follows the boot info; the command line follows it.
    public static let manifestCopyAddress: UInt64 = 0x10038
    /// Boot info + a 64-entry manifest (6,664 B) + an 8 KiB command line fit.
    public static let bootAreaSize: UInt64 = 0x4000
    public static let commandLineMax = 8191
    /// Guest memory is a multiple of 2 MiB, at most 4 GiB; 512 MiB by default.
    public static let memoryGranule: UInt64 = 2 << 20
    public static let memoryMax: UInt64 = 4 << 30
    public static let memoryDefaultMiB = 512

    // MARK: boot info at bootInfoAddress (56 bytes)

    public enum BootInfo {
        public static let memSize = 0        // u64: usable RAM
        public static let kernelEnd = 8      // u64
        public static let cpuCycleFreq = 16  // u64: TSC Hz
        public static let cmdline = 24       // u64: address of a NUL-terminated string
        public static let manifest = 32      // u64: address of the monitor-filled manifest copy
        public static let hostFeatures = 40  // u32
        public static let guestFeatures = 44 // u32
        public static let netRing = 48       // u64
        public static let size = 56
    }

    // MARK: hypercalls: outl of the argument struct's 32-bit address to port base + n

    public static let hypercallPortBase: UInt16 = 0x500

    public enum Hypercall: UInt16, CaseIterable {
        case walltime = 1, puts, poll, blockWrite, blockRead, netWrite, netRead, halt

        public var port: UInt16 { HvtABI.hypercallPortBase + rawValue }
        /// Size of the argument struct.
        public var argumentSize: Int {
            switch self {
            case .walltime: return 8
            case .puts: return 16
            case .poll: return 24
            case .blockWrite, .blockRead: return 40
            case .netWrite, .netRead: return 32
            case .halt: return 16
            }
        }
    }

    /// Field offsets inside the argument structs.
    public enum Walltime { public static let nanoseconds = 0 }
    public enum Puts { public static let data = 0, length = 8 }
    public enum Poll { public static let timeoutNanoseconds = 0, readySet = 8, result = 16 }
    public enum Block { public static let handle = 0, offset = 8, data = 16, length = 24, result = 32 }
    public enum Net { public static let handle = 0, data = 8, length = 16, result = 24 }
    public enum Halt {
        public static let cookie = 0, exitStatus = 8
        /// A nonzero cookie points at this many bytes of guest state.
        public static let cookieSize = 512
    }

    /// Hypercall results (solo5_result_t).
    public enum Result: Int32 {
        case ok = 0, again = 1, invalid = 2, unspecified = 3
    }

    // MARK: the manifest (struct mft)

    public enum Manifest {
        public static let version: UInt32 = 1
        /// The note descriptor: 4 pad bytes, then u32 version, u32 entries, entries.
        public static let notePadding = 4
        public static let headerSize = 8
        public static let entrySize = 104
        public static let maxEntries = 64
        public static let nameSize = 68  // NUL-terminated
        // entry field offsets
        public static let typeOffset = 68           // u32
        public static let capacityOffset = 72       // u64 (block)
        public static let blockSizeOffset = 80      // u16 (block)
        public static let macOffset = 72            // u8[6] (net)
        public static let mtuOffset = 78            // u16 (net)
        public static let hostPrivateOffset = 88    // 8 bytes, the monitor's
        public static let attachedOffset = 96       // bool, 0 in the file
    }

    public enum DeviceType: UInt32 {
        case blockBasic = 1
        case netBasic = 2
        case reservedFirst = 0x4000_0000
    }
}
