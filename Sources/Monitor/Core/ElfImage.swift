// ElfImage.swift: validates an untrusted Solo5 hvt (ABI v2) ELF image and describes
// what to load. Sans-IO: it reads a byte buffer and never touches guest memory, files or KVM;
// the monitor copies `segments` into guest RAM, applies their protections, and starts at `entry`.
// Spec: ../shared/notes/hvt-abi.md ("The ELF image"); reference behaviour: Solo5
// tenders/common/elf.c (elf_load, elf_load_note) and tenders/hvt/hvt_main.c.
// Tests: Tests/MonitorCoreTests/ElfImageTests.swift.
//
// Rules, in the order they are checked:
// 1. ELF header: magic, ELFCLASS64, little-endian, e_version EV_CURRENT, ET_EXEC (no PIE),
//    EM_X86_64, e_ehsize 64, e_phentsize 56, e_phnum >= 1, program header table inside the file.
// 2. Notes. Every PT_NOTE has p_filesz >= 12 and lies inside the file. A Solo5 note (namesz 6,
//    name "Solo5\0" padded to 8, descriptor at +20) of type ABI1 or MFT1 must be the FIRST note
//    of its PT_NOTE, with 1 <= descsz <= p_filesz - 20; exactly one of each is required.
//    ABI1: descsz 16, target 1 (hvt), version 2. MFT1: see Manifest.swift.
// 3. e_entry >= HvtABI.lowestLoadAddress.
// 4. PT_LOAD segments, skipping empty ones (p_memsz == 0 and p_filesz == 0, like the empty
//    TLS-data PT_LOAD at address 0 that Solo5's linker script emits): p_vaddr >= 1 MiB,
//    p_align a non-zero power of two, p_vaddr 4 KiB aligned, p_filesz <= p_memsz,
//    p_vaddr + p_memsz (rounded up to 4 KiB) without overflow, file bytes inside the file,
//    never both PF_W and PF_X, and each segment starting at or after the previous one's
//    4 KiB-rounded end (ascending, no shared page). p_paddr is ignored, as Solo5 does.
// 5. e_entry lies inside an executable PT_LOAD segment.
// kernelEnd = the highest segment end rounded up to 4 KiB, bss-only segments included.

import HvtABI

/// The Solo5 notes an hvt image carries.
public enum NoteKind: Equatable, CustomStringConvertible {
    case abi, manifest

    public var description: String {
        switch self {
        case .abi: return "ABI note (Solo5 ABI1)"
        case .manifest: return "manifest note (Solo5 MFT1)"
        }
    }
}

/// What is wrong with one PT_LOAD segment.
public enum SegmentProblem: Equatable {
    case belowLoadAddress(UInt64)
    case badAlignment(UInt64)
    case unaligned(UInt64)
    case fileSizeExceedsMemorySize
    case addressOverflow
    case outsideFile
    case writableAndExecutable
    case notAscending
    case sharesPage

    var text: String {
        switch self {
        case .belowLoadAddress(let vaddr):
            return "loads at \(Numbers.hex(vaddr)), below \(Numbers.hex(HvtABI.lowestLoadAddress))"
        case .badAlignment(let align):
            return "p_align \(Numbers.hex(align)) is not a power of two"
        case .unaligned(let vaddr):
            return "address \(Numbers.hex(vaddr)) is not 4 KiB aligned"
        case .fileSizeExceedsMemorySize:
            return "file size is larger than memory size"
        case .addressOverflow:
            return "address + memory size overflows"
        case .outsideFile:
            return "file bytes extend past the end of the file"
        case .writableAndExecutable:
            return "is both writable and executable"
        case .notAscending:
            return "is not in ascending address order"
        case .sharesPage:
            return "overlaps or shares a page with the previous segment"
        }
    }
}

public enum ImageError: Error, Equatable, CustomStringConvertible {
    // ELF header
    case truncatedHeader(size: Int)
    case notELF
    case not64Bit(UInt8)
    case notLittleEndian(UInt8)
    case badELFVersion(UInt32)
    case notExecutable(type: UInt16)
    case wrongMachine(UInt16)
    case badHeaderSize(UInt16)
    case badProgramHeaderSize(UInt16)
    case noProgramHeaders
    case programHeadersOutsideFile
    // notes
    case noteTooSmall(index: Int)
    case noteOutsideFile(index: Int)
    case noteNotFirst(NoteKind, index: Int)
    case noteDescriptorOutOfBounds(NoteKind, index: Int)
    case duplicateNote(NoteKind, index: Int)
    case missingNote(NoteKind)
    case badABINoteSize(UInt32)
    case wrongABITarget(UInt32)
    case wrongABIVersion(UInt32)
    case manifest(ManifestError)
    // loading
    case entryBelowLoadAddress(UInt64)
    case noLoadSegments
    case segment(index: Int, SegmentProblem)
    case entryNotExecutable(UInt64)
    // memory
    case doesNotFit(kernelEnd: UInt64, memorySize: UInt64)

    public var description: String {
        let prefix = "invalid image: "
        switch self {
        case .truncatedHeader(let size):
            return prefix + "\(size) bytes is too short for an ELF header"
        case .notELF:
            return prefix + "not an ELF file"
        case .not64Bit(let cls):
            return prefix + "not a 64-bit ELF file (class \(cls))"
        case .notLittleEndian(let data):
            return prefix + "not a little-endian ELF file (data encoding \(data))"
        case .badELFVersion(let version):
            return prefix + "unsupported ELF version \(version)"
        case .notExecutable(let type):
            if type == 3 { return prefix + "position-independent (ET_DYN) images are not supported; link with -no-pie" }
            return prefix + "not an executable (ELF type \(type), expected ET_EXEC)"
        case .wrongMachine(let machine):
            return prefix + "not an x86-64 executable (machine \(machine))"
        case .badHeaderSize(let size):
            return prefix + "ELF header size \(size) is not 64"
        case .badProgramHeaderSize(let size):
            return prefix + "program header entry size \(size) is not 56"
        case .noProgramHeaders:
            return prefix + "no program headers"
        case .programHeadersOutsideFile:
            return prefix + "program header table extends past the end of the file"
        case .noteTooSmall(let index):
            return prefix + "PT_NOTE program header \(index) is too small to hold a note"
        case .noteOutsideFile(let index):
            return prefix + "PT_NOTE program header \(index) extends past the end of the file"
        case .noteNotFirst(let kind, let index):
            return prefix + "the \(kind) is not the first note of PT_NOTE program header \(index)"
        case .noteDescriptorOutOfBounds(let kind, let index):
            return prefix + "the \(kind) in program header \(index) has a size that does not fit its PT_NOTE"
        case .duplicateNote(let kind, let index):
            return prefix + "more than one \(kind) (again in program header \(index))"
        case .missingNote(.abi):
            return prefix + "no Solo5 ABI note found; not a Solo5 hvt image"
        case .missingNote(.manifest):
            return prefix + "no Solo5 manifest note found"
        case .badABINoteSize(let size):
            return prefix + "ABI note descriptor is \(size) bytes, expected \(HvtABI.abiNoteDescriptorSize)"
        case .wrongABITarget(let target):
            return prefix + "built for Solo5 target \(target) (\(targetName(target))), not hvt"
        case .wrongABIVersion(let version):
            return prefix + "requests hvt ABI version \(version), this monitor supports \(HvtABI.version)"
        case .manifest(let error):
            return error.description
        case .entryBelowLoadAddress(let entry):
            return prefix + "entry point \(Numbers.hex(entry)) is below \(Numbers.hex(HvtABI.lowestLoadAddress))"
        case .noLoadSegments:
            return prefix + "no loadable (PT_LOAD) segments"
        case .segment(let index, let problem):
            return prefix + "PT_LOAD program header \(index) " + problem.text
        case .entryNotExecutable(let entry):
            return prefix + "entry point \(Numbers.hex(entry)) is not inside an executable segment"
        case .doesNotFit(let kernelEnd, let memorySize):
            return "the image needs memory up to \(Numbers.hex(kernelEnd)) but the guest has \(memorySize >> 20) MiB; use a larger --mem"
        }
    }
}

private func targetName(_ target: UInt32) -> String {
    switch target {
    case 1: return "hvt"
    case 2: return "spt"
    case 3: return "virtio"
    case 4: return "muen"
    case 5: return "genode"
    case 6: return "xen"
    default: return "unknown"
    }
}

/// ELF64 numbers this parser needs (not part of the hvt ABI itself).
enum ELF64 {
    static let headerSize = 64
    static let programHeaderSize = 56
    static let classELF64: UInt8 = 2
    static let dataLittleEndian: UInt8 = 1
    static let versionCurrent: UInt32 = 1
    static let typeExecutable: UInt16 = 2
    static let machineX86_64: UInt16 = 62
    static let ptLoad: UInt32 = 1
    static let ptNote: UInt32 = 4
    static let pfX: UInt32 = 1, pfW: UInt32 = 2, pfR: UInt32 = 4
    static let noteHeaderSize: UInt64 = 12
    /// Solo5 notes: 12-byte header, then "Solo5\0" padded to 8: the descriptor starts at +20.
    static let solo5DescriptorOffset: UInt64 = 20
    /// Walking past the first note of each PT_NOTE only serves diagnostics; bound the work.
    static let maxNotesWalked = 4096
}

/// A validated hvt guest image.
public struct GuestImage: Equatable {
    /// One loadable segment. Everything here has been checked against the file and for overflow.
    public struct Segment: Equatable {
        public struct Flags: OptionSet, Equatable {
            public let rawValue: UInt32
            public init(rawValue: UInt32) { self.rawValue = rawValue }
            public static let executable = Flags(rawValue: 1)  // PF_X
            public static let writable = Flags(rawValue: 2)    // PF_W
            public static let readable = Flags(rawValue: 4)    // PF_R
        }

        /// Guest-physical (= virtual) load address, 4 KiB aligned, >= 1 MiB.
        public let vaddr: UInt64
        /// Bytes occupied in guest memory; `memsz - filesz` trailing bytes are zero (bss).
        public let memsz: UInt64
        /// Where the `filesz` bytes to copy start in the image file.
        public let fileOffset: Int
        public let filesz: Int
        public let flags: Flags
        /// `vaddr + memsz`.
        public let end: UInt64
        /// `end` rounded up to 4 KiB: the protection range is `vaddr..<pageEnd`.
        public let pageEnd: UInt64

        /// The bytes to copy, as a range of the image file.
        public var fileRange: Range<Int> { fileOffset..<(fileOffset + filesz) }
    }

    /// Entry point (guest RIP), inside an executable segment.
    public let entry: UInt64
    /// Highest address the image occupies, rounded up to 4 KiB (boot_info.kernel_end).
    public let kernelEnd: UInt64
    /// The non-empty PT_LOAD segments, in ascending address order.
    public let segments: [Segment]
    public let manifest: Manifest

    /// Checks that the image leaves memory free above it: `kernelEnd < memorySize`, where
    /// `memorySize` is the guest RAM reported in boot_info.mem_size (without any net ring
    /// the monitor reserves above it). Both are multiples of 4 KiB, so at least a page is
    /// left for the initial stack at `memorySize - 8`. (Solo5 only requires kernel_end <= mem_size.)
    public func fitsIn(memorySize: UInt64) throws(ImageError) {
        guard kernelEnd < memorySize else { throw .doesNotFit(kernelEnd: kernelEnd, memorySize: memorySize) }
    }

    // MARK: parsing

    public static func parse(_ bytes: [UInt8]) throws(ImageError) -> GuestImage {
        let result: Result<GuestImage, ImageError> = bytes.withUnsafeBytes { buffer in
            do throws(ImageError) { return .success(try parse(buffer)) } catch { return .failure(error) }
        }
        return try result.get()
    }

    public static func parse(_ bytes: UnsafeRawBufferPointer) throws(ImageError) -> GuestImage {
        let view = ByteView(bytes)
        let header = try parseHeader(view)
        let notes = try findNotes(view, header)
        try checkABINote(view, notes.abi)
        let manifest: Manifest
        do throws(ManifestError) {
            manifest = try Manifest.parse(noteDescriptor: UnsafeRawBufferPointer(rebasing: bytes[notes.manifest]))
        } catch {
            throw .manifest(error)
        }
        guard header.entry >= HvtABI.lowestLoadAddress else { throw .entryBelowLoadAddress(header.entry) }
        let segments = try loadSegments(view, header)
        guard let last = segments.last else { throw .noLoadSegments }
        guard segments.contains(where: {
            $0.flags.contains(.executable) && header.entry >= $0.vaddr && header.entry < $0.end
        }) else { throw .entryNotExecutable(header.entry) }
        // Ascending and non-overlapping, so the last segment ends highest.
        return GuestImage(entry: header.entry, kernelEnd: last.pageEnd, segments: segments, manifest: manifest)
    }

    struct Header {
        var entry: UInt64
        var programHeaders: Int  // file offset of the table
        var count: Int
    }

    static func parseHeader(_ view: ByteView) throws(ImageError) -> Header {
        guard view.count >= ELF64.headerSize else { throw .truncatedHeader(size: view.count) }
        guard view.matches([0x7F, 0x45, 0x4C, 0x46], at: 0) else { throw .notELF }
        // All reads below are inside the 64 bytes just checked.
        let cls = view.u8(4) ?? 0, data = view.u8(5) ?? 0
        guard cls == ELF64.classELF64 else { throw .not64Bit(cls) }
        guard data == ELF64.dataLittleEndian else { throw .notLittleEndian(data) }
        let version = view.u32(20) ?? 0
        guard version == ELF64.versionCurrent else { throw .badELFVersion(version) }
        let type = view.u16(16) ?? 0
        guard type == ELF64.typeExecutable else { throw .notExecutable(type: type) }
        let machine = view.u16(18) ?? 0
        guard machine == ELF64.machineX86_64 else { throw .wrongMachine(machine) }
        let ehsize = view.u16(52) ?? 0
        guard ehsize == UInt16(ELF64.headerSize) else { throw .badHeaderSize(ehsize) }
        let phentsize = view.u16(54) ?? 0
        guard phentsize == UInt16(ELF64.programHeaderSize) else { throw .badProgramHeaderSize(phentsize) }
        let phnum = view.u16(56) ?? 0
        guard phnum >= 1 else { throw .noProgramHeaders }
        let phoff = view.u64(32) ?? 0
        guard let table = view.range(offset: phoff, length: UInt64(phnum) * UInt64(ELF64.programHeaderSize)) else {
            throw .programHeadersOutsideFile
        }
        return Header(entry: view.u64(24) ?? 0, programHeaders: table.lowerBound, count: Int(phnum))
    }

    /// One program header, read from inside the (already bounds-checked) table.
    struct ProgramHeader {
        var type, flags: UInt32
        var offset, vaddr, filesz, memsz, align: UInt64

        init(_ view: ByteView, _ header: Header, _ index: Int) {
            let at = header.programHeaders + index * ELF64.programHeaderSize
            type = view.u32(at) ?? 0
            flags = view.u32(at + 4) ?? 0
            offset = view.u64(at + 8) ?? 0
            vaddr = view.u64(at + 16) ?? 0
            // p_paddr at +24 is ignored, as Solo5 does.
            filesz = view.u64(at + 32) ?? 0
            memsz = view.u64(at + 40) ?? 0
            align = view.u64(at + 48) ?? 0
        }
    }

    static let solo5NoteName: [UInt8] = HvtABI.noteName.withUTF8Buffer { Array($0) } + [0]

    /// Finds the ABI and manifest notes; returns their descriptor ranges in the file.
    static func findNotes(_ view: ByteView, _ header: Header) throws(ImageError) -> (abi: Range<Int>, manifest: Range<Int>) {
        var abi: Range<Int>?
        var manifest: Range<Int>?
        var walked = 0
        for index in 0..<header.count {
            let ph = ProgramHeader(view, header, index)
            guard ph.type == ELF64.ptNote else { continue }
            guard ph.filesz >= ELF64.noteHeaderSize else { throw .noteTooSmall(index: index) }
            guard let segment = view.range(offset: ph.offset, length: ph.filesz) else { throw .noteOutsideFile(index: index) }
            let size = UInt64(segment.count)
            let alignment: UInt64 = ph.align == 8 ? 8 : 4
            var position: UInt64 = 0  // relative to the segment; position + 12 <= size in the loop
            var first = true
            while size - position >= ELF64.noteHeaderSize, first || walked < ELF64.maxNotesWalked {
                let at = segment.lowerBound + Int(position)
                let namesz = view.u32(at) ?? 0, descsz = view.u32(at + 4) ?? 0, type = view.u32(at + 8) ?? 0
                let kind: NoteKind?
                switch type {
                case HvtABI.abiNoteType: kind = .abi
                case HvtABI.manifestNoteType: kind = .manifest
                default: kind = nil
                }
                if let kind, namesz == HvtABI.noteNameSize,
                   size - position - ELF64.noteHeaderSize >= UInt64(namesz),
                   view.matches(solo5NoteName, at: at + Int(ELF64.noteHeaderSize)) {
                    guard first else { throw .noteNotFirst(kind, index: index) }
                    let start = ELF64.solo5DescriptorOffset
                    guard descsz >= 1, size >= start, size - start >= UInt64(descsz) else {
                        throw .noteDescriptorOutOfBounds(kind, index: index)
                    }
                    let range = (at + Int(start))..<(at + Int(start) + Int(descsz))
                    switch kind {
                    case .abi:
                        guard abi == nil else { throw .duplicateNote(.abi, index: index) }
                        abi = range
                    case .manifest:
                        guard manifest == nil else { throw .duplicateNote(.manifest, index: index) }
                        manifest = range
                    }
                }
                first = false
                walked += 1
                // Next note: all values are < 2^34 here, so none of this can overflow.
                guard let descStart = Numbers.alignUp(position + ELF64.noteHeaderSize + UInt64(namesz), alignment),
                      let next = Numbers.alignUp(descStart + UInt64(descsz), alignment), next <= size else { break }
                position = next
            }
        }
        guard let abi else { throw .missingNote(.abi) }
        guard let manifest else { throw .missingNote(.manifest) }
        return (abi, manifest)
    }

    static func checkABINote(_ view: ByteView, _ range: Range<Int>) throws(ImageError) {
        guard range.count == HvtABI.abiNoteDescriptorSize else { throw .badABINoteSize(UInt32(range.count)) }
        let target = view.u32(range.lowerBound) ?? 0
        let version = view.u32(range.lowerBound + 4) ?? 0
        guard target == HvtABI.target else { throw .wrongABITarget(target) }
        guard version == HvtABI.version else { throw .wrongABIVersion(version) }
    }

    static func loadSegments(_ view: ByteView, _ header: Header) throws(ImageError) -> [Segment] {
        var segments: [Segment] = []
        let page = HvtABI.pageSize
        for index in 0..<header.count {
            let ph = ProgramHeader(view, header, index)
            guard ph.type == ELF64.ptLoad, ph.memsz != 0 || ph.filesz != 0 else { continue }
            func fail(_ problem: SegmentProblem) -> ImageError { .segment(index: index, problem) }
            guard ph.vaddr >= HvtABI.lowestLoadAddress else { throw fail(.belowLoadAddress(ph.vaddr)) }
            guard Numbers.isPowerOfTwo(ph.align) else { throw fail(.badAlignment(ph.align)) }
            guard ph.vaddr % page == 0 else { throw fail(.unaligned(ph.vaddr)) }
            guard ph.filesz <= ph.memsz else { throw fail(.fileSizeExceedsMemorySize) }
            let (end, overflow) = ph.vaddr.addingReportingOverflow(ph.memsz)
            guard !overflow, let pageEnd = Numbers.alignUp(end, page) else { throw fail(.addressOverflow) }
            var fileOffset = 0
            if ph.filesz > 0 {
                guard let range = view.range(offset: ph.offset, length: ph.filesz) else { throw fail(.outsideFile) }
                fileOffset = range.lowerBound
            }
            guard ph.flags & (ELF64.pfW | ELF64.pfX) != (ELF64.pfW | ELF64.pfX) else { throw fail(.writableAndExecutable) }
            if let previous = segments.last {
                guard ph.vaddr >= previous.vaddr else { throw fail(.notAscending) }
                guard ph.vaddr >= previous.pageEnd else { throw fail(.sharesPage) }
            }
            segments.append(Segment(
                vaddr: ph.vaddr, memsz: ph.memsz, fileOffset: fileOffset, filesz: Int(ph.filesz),
                flags: Segment.Flags(rawValue: ph.flags & (ELF64.pfR | ELF64.pfW | ELF64.pfX)),
                end: end, pageEnd: pageEnd))
        }
        return segments
    }
}
