// ImageBuilder.swift: test-only assembly of hvt ELF images and manifest note
// descriptors in memory, with knobs to break each rule MonitorCore checks.
// Layout of a built file: ELF header, program headers, notes (each 4-aligned),
// then segment data (each 16-aligned). The last byte of the file is always
// referenced by some header, so every truncation of a built image is invalid.

import HvtABI

/// Little-endian byte appending.
struct ByteWriter {
    var bytes: [UInt8] = []

    mutating func u8(_ v: UInt8) { bytes.append(v) }
    mutating func u16(_ v: UInt16) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
    mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
    mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
    mutating func pad(to alignment: Int) { while bytes.count % alignment != 0 { bytes.append(0) } }
}

extension Array where Element == UInt8 {
    mutating func put32(_ v: UInt32, at offset: Int) {
        Swift.withUnsafeBytes(of: v.littleEndian) { for (i, b) in $0.enumerated() { self[offset + i] = b } }
    }
    mutating func put64(_ v: UInt64, at offset: Int) {
        Swift.withUnsafeBytes(of: v.littleEndian) { for (i, b) in $0.enumerated() { self[offset + i] = b } }
    }
    func get16(_ offset: Int) -> UInt16 { UInt16(self[offset]) | UInt16(self[offset + 1]) << 8 }
    func get32(_ offset: Int) -> UInt32 { (0..<4).reduce(0) { $0 | UInt32(self[offset + $1]) << (8 * $1) } }
    func get64(_ offset: Int) -> UInt64 { (0..<8).reduce(0) { $0 | UInt64(self[offset + $1]) << (8 * $1) } }
}

/// A manifest note descriptor (4 pad bytes, struct mft).
struct ManifestBuilder {
    struct Entry {
        /// Raw name bytes; written into the 68-byte field, NUL-padded (68 bytes: unterminated).
        var name: [UInt8]
        var type: UInt32
        var attached: UInt8 = 0

        static let reserved = Entry(name: [], type: HvtABI.DeviceType.reservedFirst.rawValue)
        static func block(_ name: String) -> Entry { Entry(name: Array(name.utf8), type: HvtABI.DeviceType.blockBasic.rawValue) }
        static func net(_ name: String) -> Entry { Entry(name: Array(name.utf8), type: HvtABI.DeviceType.netBasic.rawValue) }
    }

    var version: UInt32 = HvtABI.Manifest.version
    var entries: [Entry]
    /// Overrides the entry count written in the header.
    var count: UInt32? = nil
    /// Bytes to drop from (negative) or add to (positive) the end.
    var sizeAdjustment = 0

    init(_ devices: [Entry] = [.block("storage"), .net("service0")]) {
        entries = [.reserved] + devices
    }

    func descriptor() -> [UInt8] {
        var w = ByteWriter()
        w.u32(0)  // internal alignment of struct mft in the note
        w.u32(version)
        w.u32(count ?? UInt32(entries.count))
        for entry in entries {
            var name = Array(entry.name.prefix(HvtABI.Manifest.nameSize))
            name += [UInt8](repeating: 0, count: HvtABI.Manifest.nameSize - name.count)
            w.bytes += name
            w.u32(entry.type)
            w.bytes += [UInt8](repeating: 0, count: HvtABI.Manifest.attachedOffset - HvtABI.Manifest.typeOffset - 4)
            w.u8(entry.attached)
            w.bytes += [UInt8](repeating: 0, count: HvtABI.Manifest.entrySize - HvtABI.Manifest.attachedOffset - 1)
        }
        var bytes = w.bytes
        if sizeAdjustment < 0 { bytes.removeLast(min(-sizeAdjustment, bytes.count)) }
        if sizeAdjustment > 0 { bytes += [UInt8](repeating: 0, count: sizeAdjustment) }
        return bytes
    }
}

/// An hvt ELF image.
struct ImageBuilder {
    struct Note {
        var namesz: UInt32 = HvtABI.noteNameSize
        var name: [UInt8] = Array("Solo5".utf8) + [0]
        var type: UInt32
        var desc: [UInt8]
        /// Overrides n_descsz.
        var descsz: UInt32? = nil

        static func abi(target: UInt32 = HvtABI.target, version: UInt32 = HvtABI.version) -> Note {
            var w = ByteWriter()
            w.u32(target); w.u32(version); w.u32(0); w.u32(0)
            return Note(type: HvtABI.abiNoteType, desc: w.bytes)
        }
        static func manifest(_ m: ManifestBuilder = ManifestBuilder()) -> Note {
            Note(type: HvtABI.manifestNoteType, desc: m.descriptor())
        }
        static let openBSD = Note(namesz: 8, name: Array("OpenBSD".utf8) + [0], type: 1, desc: [0, 0, 0, 0])

        func encoded() -> [UInt8] {
            var w = ByteWriter()
            w.u32(namesz); w.u32(descsz ?? UInt32(desc.count)); w.u32(type)
            w.bytes += name; w.pad(to: 4)
            w.bytes += desc; w.pad(to: 4)
            return w.bytes
        }
    }

    /// One program header and the file bytes it describes.
    struct Header {
        var type: UInt32
        var flags: UInt32 = 0
        var vaddr: UInt64 = 0
        var paddr: UInt64? = nil
        var memsz: UInt64 = 0
        var align: UInt64 = 0x1000
        var data: [UInt8] = []
        var notes: [Note] = []
        /// Overrides for p_offset / p_filesz.
        var offset: UInt64? = nil
        var filesz: UInt64? = nil

        static let R: UInt32 = 4, W: UInt32 = 2, X: UInt32 = 1

        static func load(_ vaddr: UInt64, _ flags: UInt32, data: [UInt8], memsz: UInt64? = nil) -> Header {
            Header(type: 1, flags: flags, vaddr: vaddr, memsz: memsz ?? UInt64(data.count), data: data)
        }
        static func noteHeader(_ notes: [Note]) -> Header { Header(type: 4, flags: R, align: 4, notes: notes) }
    }

    var ident: [UInt8] = [0x7F, 0x45, 0x4C, 0x46, 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]
    var type: UInt16 = 2
    var machine: UInt16 = 62
    var version: UInt32 = 1
    var entry: UInt64 = 0x10_0010
    var ehsize: UInt16 = 64
    var phentsize: UInt16 = 56
    var phnum: UInt16? = nil
    var phoff: UInt64? = nil
    var headers: [Header]

    /// A valid image: text (R+X), rodata (R), data (RW, with a bss tail), a bss-only
    /// segment, then the ABI and manifest notes, each in its own PT_NOTE.
    init(manifest: ManifestBuilder = ManifestBuilder()) {
        headers = [
            .load(0x10_0000, Header.R | Header.X, data: [UInt8](repeating: 0x90, count: 64), memsz: 0x1800),
            .load(0x10_2000, Header.R, data: Array("rodata: hello".utf8)),
            .load(0x10_3000, Header.R | Header.W, data: [1, 2, 3, 4, 5, 6, 7, 8], memsz: 0x2000),
            .load(0x10_5000, Header.R | Header.W, data: [], memsz: 0x1_0000),
            .noteHeader([.abi()]),
            .noteHeader([.manifest(manifest)]),
        ]
    }

    func build() -> [UInt8] {
        let count = headers.count
        let tableEnd = 64 + count * 56
        var notesBlob = ByteWriter()
        var noteOffsets: [Int] = []
        var noteSizes: [Int] = []
        for header in headers {
            noteOffsets.append(tableEnd + notesBlob.bytes.count)
            let encoded = header.notes.flatMap { $0.encoded() }
            notesBlob.bytes += encoded
            noteSizes.append(encoded.count)
        }
        var dataBlob = ByteWriter()
        var dataOffsets: [Int] = []
        for header in headers {
            if header.data.isEmpty { dataOffsets.append(0); continue }
            dataBlob.pad(to: 16)
            dataOffsets.append(tableEnd + notesBlob.bytes.count + dataBlob.bytes.count)
            dataBlob.bytes += header.data
        }

        var w = ByteWriter()
        w.bytes += ident
        w.u16(type); w.u16(machine); w.u32(version)
        w.u64(entry)
        w.u64(phoff ?? 64)
        w.u64(0)  // e_shoff
        w.u32(0)  // e_flags
        w.u16(ehsize); w.u16(phentsize); w.u16(phnum ?? UInt16(count))
        w.u16(64); w.u16(0); w.u16(0)  // e_shentsize, e_shnum, e_shstrndx
        for (i, h) in headers.enumerated() {
            let isNote = !h.notes.isEmpty
            w.u32(h.type); w.u32(h.flags)
            w.u64(h.offset ?? UInt64(isNote ? noteOffsets[i] : dataOffsets[i]))
            w.u64(h.vaddr); w.u64(h.paddr ?? h.vaddr)
            let filesz = h.filesz ?? UInt64(isNote ? noteSizes[i] : h.data.count)
            w.u64(filesz)
            w.u64(isNote ? filesz : h.memsz)
            w.u64(h.align)
        }
        return w.bytes + notesBlob.bytes + dataBlob.bytes
    }
}

