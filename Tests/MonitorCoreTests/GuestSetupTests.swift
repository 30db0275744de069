// Tests for GuestSetup: the boot GDT, the identity-mapping page tables
// (checked with a software page walker, as the CPU would walk them from
// CR3 = 0x2000) and the boot info with its manifest copy and command line.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import HvtABI
import XCTest
@testable import MonitorCore

/// What a page walk of one virtual address finds.
private enum Walk: Equatable {
    case notPresent
    case page(physical: UInt64, writable: Bool, pageSize: UInt64)
    /// The tables are malformed: the CPU would fault or read outside them.
    case broken(String)
}

/// A 4-level x86_64 page walk (CR4.PAE, EFER.LME, no NXE, CPL 0) starting at
/// the PML4 at 0x2000, over guest memory. `tables` collects the addresses of
/// the tables it reads.
private func walk(_ memory: GuestMemory, _ virtual: UInt64, tables: inout Set<UInt64>) -> Walk {
    let addressMask: UInt64 = 0x000F_FFFF_FFFF_F000
    var table = HvtABI.pml4Address
    var writable = true
    for level in 0..<4 {
        let shift = UInt64(39 - 9 * level)
        let index = (virtual >> shift) & 511
        tables.insert(table)
        guard let entry = memory.load(UInt64.self, at: table + index * 8) else {
            return .broken("level \(level) table at 0x\(String(table, radix: 16)) outside guest memory")
        }
        if entry & 1 == 0 { return .notPresent }
        if entry >> 63 != 0 { return .broken("bit 63 (XD) set while EFER.NXE is off: reserved") }
        writable = writable && entry & 2 != 0
        if level == 3 {
            return .page(physical: (entry & addressMask) | (virtual & 0xFFF), writable: writable, pageSize: 0x1000)
        }
        if entry & 0x80 != 0 {
            if level == 0 { return .broken("PS set in a PML4 entry: reserved") }
            let pageSize: UInt64 = 1 << shift
            // Bit 12 is PAT in a large-page entry; bits 13 up to the page size are reserved.
            if entry & addressMask & (pageSize - 1) & ~0x1000 != 0 {
                return .broken("reserved address bits set in a \(pageSize >> 20) MiB page entry")
            }
            return .page(physical: (entry & addressMask & ~(pageSize - 1)) | (virtual & (pageSize - 1)),
                         writable: writable, pageSize: pageSize)
        }
        table = entry & addressMask
    }
    fatalError("unreachable")
}

final class GuestSetupTests: XCTestCase {
    static let MiB: UInt64 = 1 << 20

    /// Runs `body` with zero-filled guest memory of `size` bytes, mapped
    /// sparsely (MAP_NORESERVE) so 4 GiB costs only the pages touched.
    private func withGuestMemory(_ size: UInt64, _ body: (GuestMemory) throws -> Void) throws {
        let mapping = mmap(nil, Int(size), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
        guard let mapping, mapping != MAP_FAILED else {
            throw XCTSkip("cannot map \(size >> 20) MiB of guest memory: errno \(errno)")
        }
        defer { munmap(mapping, Int(size)) }
        try body(GuestMemory(base: mapping, size: size))
    }

    private func bytes(_ memory: GuestMemory, _ address: UInt64, _ count: Int) -> [UInt8] {
        Array(memory.bytes(at: address, length: UInt64(count))!)
    }

    private func fill(_ memory: GuestMemory, _ address: UInt64, _ count: UInt64, with byte: UInt8) {
        memory.bytes(at: address, length: count)!.initializeMemory(as: UInt8.self, repeating: byte)
    }

    // MARK: GDT

    func testGDTHoldsNullCodeAndDataDescriptors() throws {
        try withGuestMemory(2 * Self.MiB) { memory in
            GuestSetup.writeGDT(memory)
            XCTAssertEqual(memory.load(UInt64.self, at: 0x1000), 0)
            XCTAssertEqual(memory.load(UInt64.self, at: 0x1008), 0x00AF_9A00_0000_FFFF)
            XCTAssertEqual(memory.load(UInt64.self, at: 0x1010), 0x00CF_9200_0000_FFFF)
            XCTAssertEqual(memory.load(UInt64.self, at: 0x1018), 0, "nothing after the three descriptors")
            XCTAssertEqual(bytes(memory, 0, 0x1000), Array(repeating: 0, count: 0x1000))

            // Decode: selector 0x08 is present, DPL 0, a code segment with L=1, D=0.
            let code = memory.load(UInt64.self, at: HvtABI.gdtAddress + 0x08)!
            let access = (code >> 40) & 0xFF, flags = (code >> 52) & 0xF
            XCTAssertEqual(access & 0x80, 0x80, "present")
            XCTAssertEqual((access >> 5) & 3, 0, "DPL 0")
            XCTAssertEqual(access & 0x18, 0x18, "code segment (S=1, executable)")
            XCTAssertEqual(flags & 0x2, 0x2, "L: 64-bit")
            XCTAssertEqual(flags & 0x4, 0, "D must be 0 with L=1")
            // Selector 0x10 is present, DPL 0, a writable data segment.
            let data = memory.load(UInt64.self, at: HvtABI.gdtAddress + 0x10)!
            let dataAccess = (data >> 40) & 0xFF
            XCTAssertEqual(dataAccess & 0x80, 0x80, "present")
            XCTAssertEqual((dataAccess >> 5) & 3, 0, "DPL 0")
            XCTAssertEqual(dataAccess & 0x18, 0x10, "data segment (S=1, not executable)")
            XCTAssertEqual(dataAccess & 0x2, 0x2, "writable")
        }
    }

    func testGDTAndPageTablesDoNotOverlap() throws {
        try withGuestMemory(8 * Self.MiB) { memory in
            GuestSetup.writeGDT(memory)
            GuestSetup.writePageTables(memory)
            XCTAssertEqual(memory.load(UInt64.self, at: 0x1008), GuestSetup.gdt[1])
            XCTAssertEqual(memory.load(UInt64.self, at: 0x1010), GuestSetup.gdt[2])
            var tables = Set<UInt64>()
            XCTAssertEqual(walk(memory, 0x300000, tables: &tables),
                           .page(physical: 0x300000, writable: true, pageSize: 2 * Self.MiB))
        }
    }

    // MARK: page tables

    private func expected(_ address: UInt64, size: UInt64) -> Walk {
        if address >= size || address < 0x10000 { return .notPresent }
        if address < 0x100000 { return .page(physical: address, writable: false, pageSize: 0x1000) }
        if address < 2 * Self.MiB { return .page(physical: address, writable: true, pageSize: 0x1000) }
        return .page(physical: address, writable: true, pageSize: 2 * Self.MiB)
    }

    private func checkIdentityMap(_ memory: GuestMemory, file: StaticString = #filePath, line: UInt = #line) {
        let size = memory.size
        var tables = Set<UInt64>()
        var failures = 0
        func check(_ address: UInt64) {
            let found = walk(memory, address, tables: &tables)
            let wanted = expected(address, size: size)
            if found != wanted, failures < 20 {
                failures += 1
                XCTFail("0x\(String(address, radix: 16)) (size \(size >> 20) MiB): \(found), expected \(wanted)",
                        file: file, line: line)
            }
        }

        // The samples the ABI names.
        for address: UInt64 in [0, 0x1000, 0x2000, 0x8000, 0xFFFF, 0x10000, 0x10038, 0x13FFF, 0x80000, 0xFFFFF,
                                0x100000, 0x100FFF, 0x1FF000, 0x1FFFFF, 0x200000, 0x3FFFFF, size / 2, size - 1,
                                size, size + 0x1000, size + 2 * Self.MiB - 1, size + 2 * Self.MiB,
                                1 << 30, (1 << 30) - 1, 3 << 30, 4 << 30, (4 << 30) + 0x1000, 1 << 39, 1 << 46,
                                (1 << 47) - 1, 0xFFFF_8000_0000_0000, 0xFFFF_FFFF_FFFF_F000] {
            check(address)
        }
        // Every 4 KiB page of the first 2 MiB, first and last byte.
        for page in stride(from: UInt64(0), to: 2 * Self.MiB, by: 0x1000) {
            check(page)
            check(page + 0xFFF)
        }
        // Every 2 MiB page up to the size, and a little beyond, at three offsets.
        for page in stride(from: 2 * Self.MiB, to: min(size + 8 * Self.MiB, 4 << 30), by: Int(2 * Self.MiB)) {
            check(page)
            check(page + 0x12345)
            check(page + 2 * Self.MiB - 1)
        }
        // The tables all lie in 0x2000-0x8FFF, below the boot info and the image.
        for table in tables {
            XCTAssertTrue((0x2000..<0x9000).contains(table), "table at 0x\(String(table, radix: 16))",
                          file: file, line: line)
        }
    }

    func testPageTablesFor2MiB() throws {
        try withGuestMemory(2 * Self.MiB) { memory in
            GuestSetup.writePageTables(memory)
            checkIdentityMap(memory)
            var tables = Set<UInt64>()
            XCTAssertEqual(walk(memory, 0x200000, tables: &tables), .notPresent)
        }
    }

    func testPageTablesFor8MiB() throws {
        try withGuestMemory(8 * Self.MiB) { memory in
            GuestSetup.writePageTables(memory)
            checkIdentityMap(memory)
            var tables = Set<UInt64>()
            XCTAssertEqual(walk(memory, 0x0, tables: &tables), .notPresent)
            XCTAssertEqual(walk(memory, 0xFFFF, tables: &tables), .notPresent)
            XCTAssertEqual(walk(memory, 0x10000, tables: &tables), .page(physical: 0x10000, writable: false, pageSize: 0x1000))
            XCTAssertEqual(walk(memory, 0x100000, tables: &tables), .page(physical: 0x100000, writable: true, pageSize: 0x1000))
            XCTAssertEqual(walk(memory, 0x7FFFF8, tables: &tables),
                           .page(physical: 0x7FFFF8, writable: true, pageSize: 2 * Self.MiB))
            XCTAssertEqual(walk(memory, 0x800000, tables: &tables), .notPresent)
        }
    }

    func testPageTablesFor512MiB() throws {
        try withGuestMemory(512 * Self.MiB) { memory in
            GuestSetup.writePageTables(memory)
            checkIdentityMap(memory)
        }
    }

    func testPageTablesFor4GiB() throws {
        try withGuestMemory(4 << 30) { memory in
            GuestSetup.writePageTables(memory)
            checkIdentityMap(memory)
            var tables = Set<UInt64>()
            XCTAssertEqual(walk(memory, (4 << 30) - 1, tables: &tables),
                           .page(physical: (4 << 30) - 1, writable: true, pageSize: 2 * Self.MiB))
            XCTAssertEqual(walk(memory, 4 << 30, tables: &tables), .notPresent)
        }
    }

    func testPageTablesOverwriteOldContentsAndNothingElse() throws {
        try withGuestMemory(8 * Self.MiB) { memory in
            fill(memory, 0, 0x20000, with: 0xA5)
            GuestSetup.writePageTables(memory)
            checkIdentityMap(memory)
            XCTAssertEqual(bytes(memory, 0, 0x2000), Array(repeating: 0xA5, count: 0x2000))
            XCTAssertEqual(bytes(memory, 0x9000, 0x17000), Array(repeating: 0xA5, count: 0x17000))
            // Written twice over a larger layout, the result is the same.
            GuestSetup.writePageTables(GuestMemory(base: memory.base, size: 8 * Self.MiB))
            checkIdentityMap(memory)
        }
    }

    func testPageTablesForEverySizeUpTo64MiB() throws {
        try withGuestMemory(64 * Self.MiB) { full in
            for megabytes in stride(from: UInt64(2), through: 64, by: 2) {
                let memory = GuestMemory(base: full.base, size: megabytes * Self.MiB)
                GuestSetup.writePageTables(memory)
                checkIdentityMap(memory)
            }
        }
    }

    // MARK: boot info

    private func manifestBytes(_ count: Int) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
    }

    private func checkBootInfo(_ info: GuestSetup.BootInfo, _ memory: GuestMemory,
                               file: StaticString = #filePath, line: UInt = #line) {
        let base = HvtABI.bootInfoAddress
        func u64(_ offset: Int) -> UInt64? { memory.load(UInt64.self, at: base + UInt64(offset)) }
        func u32(_ offset: Int) -> UInt32? { memory.load(UInt32.self, at: base + UInt64(offset)) }
        XCTAssertEqual(u64(HvtABI.BootInfo.memSize), info.memorySize, file: file, line: line)
        XCTAssertEqual(u64(HvtABI.BootInfo.kernelEnd), info.kernelEnd, file: file, line: line)
        XCTAssertEqual(u64(HvtABI.BootInfo.cpuCycleFreq), info.cycleFrequency, file: file, line: line)
        XCTAssertEqual(u64(HvtABI.BootInfo.manifest), 0x10038, file: file, line: line)
        XCTAssertEqual(u32(HvtABI.BootInfo.hostFeatures), 0, file: file, line: line)
        XCTAssertEqual(u32(HvtABI.BootInfo.guestFeatures), 0, file: file, line: line)
        XCTAssertEqual(u64(HvtABI.BootInfo.netRing), 0, file: file, line: line)
        XCTAssertEqual(bytes(memory, HvtABI.manifestCopyAddress, info.manifestCopy.count), info.manifestCopy,
                       "manifest copy", file: file, line: line)

        guard let commandLineAt = u64(HvtABI.BootInfo.cmdline) else { return XCTFail(file: file, line: line) }
        let manifestEnd = HvtABI.manifestCopyAddress + UInt64(info.manifestCopy.count)
        XCTAssertEqual(commandLineAt % 8, 0, "command line 8-byte aligned", file: file, line: line)
        XCTAssertGreaterThanOrEqual(commandLineAt, manifestEnd, "command line after the manifest", file: file, line: line)
        XCTAssertLessThan(commandLineAt, manifestEnd + 8, "command line right after the manifest", file: file, line: line)
        let text = Array(info.commandLine.utf8)
        XCTAssertEqual(bytes(memory, commandLineAt, text.count + 1), text + [0], "command line", file: file, line: line)
        XCTAssertLessThanOrEqual(commandLineAt + UInt64(text.count) + 1, base + HvtABI.bootAreaSize,
                                 "inside the boot area", file: file, line: line)
        // Padding between the manifest and the command line is zero.
        XCTAssertEqual(bytes(memory, manifestEnd, Int(commandLineAt - manifestEnd)),
                       Array(repeating: 0, count: Int(commandLineAt - manifestEnd)), file: file, line: line)
    }

    func testBootInfoFieldsAtTheABIOffsets() throws {
        try withGuestMemory(64 * Self.MiB) { memory in
            // Garbage first: everything not set must come out zero.
            fill(memory, 0x10000, 0x4000, with: 0xEE)
            let info = GuestSetup.BootInfo(memorySize: 64 * Self.MiB, kernelEnd: 0x12_3000,
                                           cycleFrequency: 2_999_999_000,
                                           commandLine: "hello --verbose=1 ünï",
                                           manifestCopy: manifestBytes(8 + 3 * 104))
            try GuestSetup.writeBootInfo(info, memory)
            checkBootInfo(info, memory)
            XCTAssertEqual(memory.load(UInt64.self, at: 0x10000), 64 * Self.MiB)
            XCTAssertEqual(memory.load(UInt64.self, at: 0x10008), 0x12_3000)
            XCTAssertEqual(memory.load(UInt64.self, at: 0x10010), 2_999_999_000)
            XCTAssertEqual(memory.load(UInt64.self, at: 0x10018), 0x10038 + 320)
            XCTAssertEqual(memory.load(UInt64.self, at: 0x10020), 0x10038)
            XCTAssertEqual(memory.load(UInt32.self, at: 0x10028), 0)
            XCTAssertEqual(memory.load(UInt32.self, at: 0x1002C), 0)
            XCTAssertEqual(memory.load(UInt64.self, at: 0x10030), 0)
            // Bytes after the command line are left alone.
            let end = 0x10038 + 320 + UInt64(info.commandLine.utf8.count) + 1
            XCTAssertEqual(bytes(memory, end, 16), Array(repeating: 0xEE, count: 16))
        }
    }

    func testBootInfoAlignsTheCommandLine() throws {
        try withGuestMemory(2 * Self.MiB) { memory in
            for count in [0, 1, 7, 8, 9, 13, 15, 16, 8 + 104] {
                fill(memory, 0x10000, 0x4000, with: 0xEE)
                let info = GuestSetup.BootInfo(memorySize: 2 * Self.MiB, kernelEnd: 0x101000, cycleFrequency: 1,
                                               commandLine: "x y", manifestCopy: manifestBytes(count))
                try GuestSetup.writeBootInfo(info, memory)
                checkBootInfo(info, memory)
                let aligned = (0x10038 + UInt64(count) + 7) & ~7
                XCTAssertEqual(memory.load(UInt64.self, at: 0x10018), aligned, "manifest of \(count) bytes")
            }
        }
    }

    func testBootInfoWithAnEmptyCommandLine() throws {
        try withGuestMemory(2 * Self.MiB) { memory in
            fill(memory, 0x10000, 0x4000, with: 0xEE)
            let info = GuestSetup.BootInfo(memorySize: 2 * Self.MiB, kernelEnd: 0x101000, cycleFrequency: 1,
                                           commandLine: "", manifestCopy: manifestBytes(112))
            try GuestSetup.writeBootInfo(info, memory)
            checkBootInfo(info, memory)
            XCTAssertEqual(memory.load(UInt8.self, at: 0x10038 + 112), 0)
        }
    }

    func testBootInfoWorstCaseSolo5AllowsFits() throws {
        try withGuestMemory(2 * Self.MiB) { memory in
            let manifest = manifestBytes(8 + 64 * 104)
            XCTAssertEqual(manifest.count, 6664)
            let commandLine = String((0..<HvtABI.commandLineMax).map { Character(Unicode.Scalar(UInt8(0x21 + $0 % 94))) })
            XCTAssertEqual(commandLine.utf8.count, 8191)
            let info = GuestSetup.BootInfo(memorySize: 2 * Self.MiB, kernelEnd: 0x101000, cycleFrequency: 1,
                                           commandLine: commandLine, manifestCopy: manifest)
            try GuestSetup.writeBootInfo(info, memory)
            checkBootInfo(info, memory)
        }
    }

    func testBootInfoFillingTheAreaExactly() throws {
        try withGuestMemory(2 * Self.MiB) { memory in
            fill(memory, 0x14000, 0x100, with: 0xEE)
            let manifest = manifestBytes(8 + 64 * 104)
            // The command line starts at 0x11A40; 0x14000 - 0x11A40 = 9664 bytes with its NUL.
            let fits = String(repeating: "a", count: 9663)
            let info = GuestSetup.BootInfo(memorySize: 2 * Self.MiB, kernelEnd: 0x101000, cycleFrequency: 1,
                                           commandLine: fits, manifestCopy: manifest)
            try GuestSetup.writeBootInfo(info, memory)
            checkBootInfo(info, memory)
            XCTAssertEqual(bytes(memory, 0x14000, 0x100), Array(repeating: 0xEE, count: 0x100), "nothing past the area")

            var tooLong = info
            tooLong.commandLine += "a"
            XCTAssertThrowsError(try GuestSetup.writeBootInfo(tooLong, memory)) { error in
                XCTAssertEqual(error as? GuestSetup.SetupError, .bootAreaOverflow(0x4001))
                XCTAssertEqual((error as? GuestSetup.SetupError)?.description,
                               "boot info, manifest and command line need 16385 bytes, more than the 16 KiB boot area")
            }
        }
    }

    func testOversizedBootInfoThrowsAndWritesNothing() throws {
        try withGuestMemory(2 * Self.MiB) { memory in
            fill(memory, 0x10000, 0x8000, with: 0xEE)
            let cases: [(manifest: Int, commandLine: Int)] = [
                (8 + 64 * 104, 16384),
                (0x4000, 0),
                (0x4000 - 0x38, 0),     // the manifest alone fills the area, no room for the NUL
                (8, 0x4000),
                (100_000, 100_000),
            ]
            for c in cases {
                let info = GuestSetup.BootInfo(memorySize: 2 * Self.MiB, kernelEnd: 0x101000, cycleFrequency: 1,
                                               commandLine: String(repeating: "z", count: c.commandLine),
                                               manifestCopy: manifestBytes(c.manifest))
                XCTAssertThrowsError(try GuestSetup.writeBootInfo(info, memory), "\(c)") { error in
                    guard case .bootAreaOverflow(let needed)? = error as? GuestSetup.SetupError else {
                        return XCTFail("unexpected error \(error)")
                    }
                    XCTAssertGreaterThan(needed, Int(HvtABI.bootAreaSize), "\(c)")
                    XCTAssertFalse((error as? GuestSetup.SetupError)?.description.isEmpty ?? true)
                }
            }
            XCTAssertEqual(bytes(memory, 0x10000, 0x8000), Array(repeating: 0xEE, count: 0x8000))
        }
    }

    func testBootInfoFromAnEncodedManifest() throws {
        // The real manifest copy, as the monitor builds it, goes in byte for byte.
        let manifest = try Manifest.parse(noteDescriptor: ManifestBuilder().descriptor())
        let copy = manifest.encodeCopy(attachments: [:])
        XCTAssertEqual(copy.count, manifest.encodedSize)
        try withGuestMemory(2 * Self.MiB) { memory in
            let info = GuestSetup.BootInfo(memorySize: 2 * Self.MiB, kernelEnd: 0x101000, cycleFrequency: 1,
                                           commandLine: "a b c", manifestCopy: copy)
            try GuestSetup.writeBootInfo(info, memory)
            checkBootInfo(info, memory)
        }
    }
}
