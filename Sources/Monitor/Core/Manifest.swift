// Manifest.swift: the application manifest (Solo5 "MFT1" note, struct mft)
// of an hvt image - validated from untrusted bytes, and re-encoded as the
// monitor-filled copy the guest reads at HvtABI.manifestCopyAddress.
// Sans-IO: no files, no devices; the caller supplies what it attached.
// Layout: HvtABI.Manifest (Solo5 include/mft_abi.h). Tests: Tests/MonitorCoreTests/ManifestTests.swift.
//
// Rules (Solo5 tenders/common/mft.c mft_validate, plus elftool's name rules, tightened):
// - the note descriptor is 4 pad bytes (internal alignment of struct mft), then
//   u32 version (== 1), u32 entries (1...64), then exactly `entries` entries of 104 bytes:
//   like Solo5, the descriptor size must be exactly 4 + 8 + 104 * entries;
// - entry 0 is the reserved entry: type RESERVED_FIRST, empty name;
// - the last of every name's 68 bytes is NUL (the name ends at the first NUL), and
//   `attached` is 0 in the file;
// - entries 1... are BLOCK_BASIC or NET_BASIC, with a non-empty, unique name made of
//   printable ASCII other than '=', ':' and space (so `--block:NAME=PATH` can name it).
//
// The in-memory copy: Solo5 copies `struct mft` itself (descriptor minus the 4 pad bytes,
// 8 + 104 * entries bytes) to the boot area and points boot_info.mft at it; the command
// line follows it directly. `encodeCopy` produces exactly those bytes, built afresh (no
// bytes from the file are copied, so nothing in the host-private field leaks or survives).

import HvtABI

/// The kind of a manifest device.
public enum DeviceKind: Equatable, Hashable, CustomStringConvertible {
    case block, net

    /// The manifest entry type.
    public var type: HvtABI.DeviceType {
        switch self {
        case .block: return .blockBasic
        case .net: return .netBasic
        }
    }

    /// "block" or "net", as in the `--block:` / `--net:` options.
    public var description: String {
        switch self {
        case .block: return "block"
        case .net: return "net"
        }
    }
}

/// A device the image declares. Its handle (and bit in POLL's ready set) is `index`.
public struct ManifestDevice: Equatable {
    /// The manifest entry index: the device handle. Always >= 1 (entry 0 is reserved).
    public let index: Int
    public let name: String
    public let kind: DeviceKind
}

/// What the monitor attached to a device, for the guest's manifest copy.
public enum Attachment: Equatable {
    /// A block device: its capacity in bytes and its sector size.
    case block(capacity: UInt64, blockSize: UInt16)
    /// A net device: its MAC (6 bytes) and MTU.
    case net(mac: [UInt8], mtu: UInt16)

    var kind: DeviceKind {
        switch self {
        case .block: return .block
        case .net: return .net
        }
    }
}

public enum ManifestError: Error, Equatable, CustomStringConvertible {
    /// The descriptor cannot even hold the padding and the header.
    case tooShort(size: Int)
    case badVersion(UInt32)
    case noEntries
    case tooManyEntries(UInt32)
    /// The descriptor size is not exactly 4 + 8 + 104 * entries.
    case sizeMismatch(entries: UInt32, size: Int, expected: Int)
    case firstEntryNotReserved
    case nameNotTerminated(index: Int)
    case emptyName(index: Int)
    case badName(index: Int)
    case badType(index: Int, type: UInt32)
    case duplicateName(index: Int, name: String)
    case attachedInFile(index: Int)

    public var description: String {
        let prefix = "invalid manifest: "
        switch self {
        case .tooShort(let size):
            return prefix + "note descriptor of \(size) bytes is too short for a manifest header"
        case .badVersion(let version):
            return prefix + "version \(version) is not supported (expected \(HvtABI.Manifest.version))"
        case .noEntries:
            return prefix + "no entries (the reserved entry 0 is required)"
        case .tooManyEntries(let count):
            return prefix + "\(count) entries, at most \(HvtABI.Manifest.maxEntries) are allowed"
        case .sizeMismatch(let entries, let size, let expected):
            let what = size < expected ? "too short" : "too long"
            return prefix + "note descriptor of \(size) bytes is \(what) for \(entries) entries (expected \(expected))"
        case .firstEntryNotReserved:
            return prefix + "entry 0 is not the reserved entry (empty name, type RESERVED_FIRST)"
        case .nameNotTerminated(let index):
            return prefix + "the name of entry \(index) is not NUL-terminated within \(HvtABI.Manifest.nameSize) bytes"
        case .emptyName(let index):
            return prefix + "entry \(index) has an empty name"
        case .badName(let index):
            return prefix + "the name of entry \(index) has characters other than printable ASCII without '=', ':' or space"
        case .badType(let index, let type):
            return prefix + "entry \(index) has unsupported device type \(Numbers.hex(UInt64(type)))"
        case .duplicateName(let index, let name):
            return prefix + "entry \(index) repeats the device name '\(name)'"
        case .attachedInFile(let index):
            return prefix + "entry \(index) is marked attached in the image"
        }
    }
}

/// A validated manifest.
public struct Manifest: Equatable {
    /// Number of entries, including the reserved entry 0.
    public let entryCount: Int
    /// The declared devices (entries 1..<entryCount), in handle order.
    public let devices: [ManifestDevice]

    init(entryCount: Int, devices: [ManifestDevice]) {
        self.entryCount = entryCount
        self.devices = devices
    }

    /// The device called `name`, if declared.
    public func device(named name: String) -> ManifestDevice? {
        devices.first { $0.name == name }
    }

    /// Size of the guest copy (`struct mft`, without the note's 4 pad bytes): 8 + 104 * entries.
    public var encodedSize: Int { HvtABI.Manifest.headerSize + entryCount * HvtABI.Manifest.entrySize }

    // MARK: parsing

    /// Validates the MFT1 note descriptor (starting with its 4 pad bytes).
    public static func parse(noteDescriptor bytes: [UInt8]) throws(ManifestError) -> Manifest {
        let result: Result<Manifest, ManifestError> = bytes.withUnsafeBytes { buffer in
            do throws(ManifestError) { return .success(try parse(noteDescriptor: buffer)) } catch { return .failure(error) }
        }
        return try result.get()
    }

    /// Validates the MFT1 note descriptor (starting with its 4 pad bytes).
    public static func parse(noteDescriptor buffer: UnsafeRawBufferPointer) throws(ManifestError) -> Manifest {
        typealias M = HvtABI.Manifest
        let view = ByteView(buffer)
        let base = M.notePadding
        guard let version = view.u32(base), let count = view.u32(base + 4) else {
            throw .tooShort(size: view.count)
        }
        guard version == M.version else { throw .badVersion(version) }
        guard count >= 1 else { throw .noEntries }
        guard count <= UInt32(M.maxEntries) else { throw .tooManyEntries(count) }
        let entries = Int(count)  // <= 64
        let expected = base + M.headerSize + entries * M.entrySize
        guard view.count == expected else { throw .sizeMismatch(entries: count, size: view.count, expected: expected) }

        var devices: [ManifestDevice] = []
        var names = Set<String>()
        for index in 0..<entries {
            let entry = base + M.headerSize + index * M.entrySize
            // In range: the size check above covers every entry.
            let type = view.u32(entry + M.typeOffset) ?? 0
            if index == 0 {
                guard type == HvtABI.DeviceType.reservedFirst.rawValue, buffer[entry] == 0 else {
                    throw .firstEntryNotReserved
                }
            }
            // As Solo5: the last byte of the name field is NUL; the name ends at the first NUL.
            guard buffer[entry + M.nameSize - 1] == 0,
                  let nameLength = (0..<M.nameSize).first(where: { buffer[entry + $0] == 0 }) else {
                throw .nameNotTerminated(index: index)
            }
            guard buffer[entry + M.attachedOffset] == 0 else { throw .attachedInFile(index: index) }
            if index == 0 { continue }

            let kind: DeviceKind
            switch type {
            case HvtABI.DeviceType.blockBasic.rawValue: kind = .block
            case HvtABI.DeviceType.netBasic.rawValue: kind = .net
            default: throw .badType(index: index, type: type)
            }
            guard nameLength > 0 else { throw .emptyName(index: index) }
            let nameBytes = UnsafeRawBufferPointer(rebasing: buffer[entry..<(entry + nameLength)])
            guard nameBytes.allSatisfy(isManifestNameByte) else { throw .badName(index: index) }
            let name = String(decoding: nameBytes, as: UTF8.self)
            guard names.insert(name).inserted else { throw .duplicateName(index: index, name: name) }
            devices.append(ManifestDevice(index: index, name: name, kind: kind))
        }
        return Manifest(entryCount: entries, devices: devices)
    }

    // MARK: the guest copy

    /// The bytes the monitor writes at HvtABI.manifestCopyAddress: `struct mft` (version,
    /// entries, then each entry's name and type), with `attached` = 1 and the device
    /// properties filled in for each attached device. `attachments` is keyed by device index
    /// (handle); an attachment whose index is not a device of the same kind is ignored (the
    /// caller builds them from `devices`), and a MAC is written as its first 6 bytes,
    /// zero-padded. Host-private fields are zero.
    public func encodeCopy(attachments: [Int: Attachment]) -> [UInt8] {
        typealias M = HvtABI.Manifest
        var bytes = [UInt8](repeating: 0, count: encodedSize)
        func put<T: FixedWidthInteger>(_ value: T, at offset: Int) {
            withUnsafeBytes(of: value.littleEndian) { raw in
                for (i, byte) in raw.enumerated() { bytes[offset + i] = byte }
            }
        }
        put(M.version, at: 0)
        put(UInt32(entryCount), at: 4)
        put(HvtABI.DeviceType.reservedFirst.rawValue, at: M.headerSize + M.typeOffset)
        for device in devices {
            let entry = M.headerSize + device.index * M.entrySize
            for (i, byte) in device.name.utf8.prefix(M.nameSize - 1).enumerated() { bytes[entry + i] = byte }
            put(device.kind.type.rawValue, at: entry + M.typeOffset)
            guard let attachment = attachments[device.index], attachment.kind == device.kind else { continue }
            switch attachment {
            case .block(let capacity, let blockSize):
                put(capacity, at: entry + M.capacityOffset)
                put(blockSize, at: entry + M.blockSizeOffset)
            case .net(let mac, let mtu):
                for (i, byte) in mac.prefix(6).enumerated() { bytes[entry + M.macOffset + i] = byte }
                put(mtu, at: entry + M.mtuOffset)
            }
            bytes[entry + M.attachedOffset] = 1
        }
        return bytes
    }
}

/// Bytes allowed in a device name: printable ASCII except space, '=' and ':'.
@inline(__always)
func isManifestNameByte(_ byte: UInt8) -> Bool {
    byte > 0x20 && byte < 0x7F && byte != UInt8(ascii: "=") && byte != UInt8(ascii: ":")
}
