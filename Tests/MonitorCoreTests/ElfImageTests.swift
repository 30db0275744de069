// Tests for GuestImage.parse / fitsIn: hvt ELF validation against hostile input.
// Images are built in memory by ImageBuilder; nothing here reads files except the
// optional check of real Solo5 images (SWIFTLET_SOLO5_IMAGES, skipped when unset).

import Foundation
import HvtABI
import TestSupport
import XCTest
@testable import MonitorCore

final class ElfImageTests: XCTestCase {
    typealias H = ImageBuilder.Header

    private func assertRejects(_ builder: ImageBuilder, _ expected: ImageError,
                               file: StaticString = #filePath, line: UInt = #line) {
        assertRejects(builder.build(), expected, file: file, line: line)
    }

    private func assertRejects(_ bytes: [UInt8], _ expected: ImageError,
                               file: StaticString = #filePath, line: UInt = #line) {
        do {
            let image = try GuestImage.parse(bytes)
            XCTFail("accepted an invalid image: \(image)", file: file, line: line)
        } catch {
            XCTAssertEqual(error, expected, file: file, line: line)
            XCTAssertFalse(error.description.contains("\n"), file: file, line: line)
        }
    }

    private func parse(_ builder: ImageBuilder, file: StaticString = #filePath, line: UInt = #line) -> GuestImage? {
        do {
            return try GuestImage.parse(builder.build())
        } catch {
            XCTFail("rejected a valid image: \(error)", file: file, line: line)
            return nil
        }
    }

    // MARK: valid images

    func testValidImageRoundTrips() throws {
        let bytes = ImageBuilder().build()
        let image = try GuestImage.parse(bytes)
        XCTAssertEqual(image.entry, 0x10_0010)
        XCTAssertEqual(image.kernelEnd, 0x11_5000)
        XCTAssertEqual(image.segments.map(\.vaddr), [0x10_0000, 0x10_2000, 0x10_3000, 0x10_5000])
        XCTAssertEqual(image.segments.map(\.memsz), [0x1800, 13, 0x2000, 0x1_0000])
        XCTAssertEqual(image.segments.map(\.filesz), [64, 13, 8, 0])
        XCTAssertEqual(image.segments.map(\.end), [0x10_1800, 0x10_200D, 0x10_5000, 0x11_5000])
        XCTAssertEqual(image.segments.map(\.pageEnd), [0x10_2000, 0x10_3000, 0x10_5000, 0x11_5000])
        XCTAssertEqual(image.segments.map(\.flags), [[.readable, .executable], [.readable],
                                                     [.readable, .writable], [.readable, .writable]])
        XCTAssertEqual(Array(bytes[image.segments[0].fileRange]), [UInt8](repeating: 0x90, count: 64))
        XCTAssertEqual(Array(bytes[image.segments[1].fileRange]), Array("rodata: hello".utf8))
        XCTAssertEqual(Array(bytes[image.segments[2].fileRange]), [1, 2, 3, 4, 5, 6, 7, 8])
        XCTAssertEqual(image.segments[3].fileRange.count, 0)
        XCTAssertEqual(image.manifest.entryCount, 3)
        XCTAssertEqual(image.manifest.devices, [
            ManifestDevice(index: 1, name: "storage", kind: .block),
            ManifestDevice(index: 2, name: "service0", kind: .net),
        ])
    }

    func testBufferPointerOverloadAgrees() throws {
        let bytes = ImageBuilder().build()
        let viaBuffer = try bytes.withUnsafeBytes { buffer in try GuestImage.parse(buffer) }
        XCTAssertEqual(viaBuffer, try GuestImage.parse(bytes))
    }

    /// The layout Solo5's linker script produces: PT_INTERP, an empty PT_LOAD at address 0
    /// (empty .tdata), PT_TLS, a bss PT_LOAD with p_offset 0, and three PT_NOTEs (OpenBSD
    /// note first, then ABI, then manifest) whose bytes lie inside the rodata segment.
    func testSolo5LinkerLayoutIsAccepted() throws {
        var b = ImageBuilder()
        b.headers = [
            H(type: 3, flags: H.R, vaddr: 0x10_0000, memsz: 0x18, align: 8, data: Array("/nonexistent/solo5/\0\0\0\0\0".utf8)),
            .load(0x10_0000, H.X, data: [UInt8](repeating: 0xCC, count: 0x383)),
            .load(0x10_1000, H.R, data: [UInt8](repeating: 0x11, count: 0x1DC)),
            .load(0x10_2000, H.R | H.W, data: [UInt8](repeating: 0x22, count: 0x120)),
            H(type: 1, flags: H.R, vaddr: 0, memsz: 0),
            H(type: 7, vaddr: 0, memsz: 0, align: 8),
            H(type: 1, flags: H.R | H.W, vaddr: 0x10_3000, memsz: 0x20_3CA0),
            .noteHeader([.openBSD]),
            .noteHeader([.abi()]),
            .noteHeader([.manifest(ManifestBuilder([.block("storage")]))]),
        ]
        b.entry = 0x10_0020
        let image = try GuestImage.parse(b.build())
        XCTAssertEqual(image.segments.map(\.vaddr), [0x10_0000, 0x10_1000, 0x10_2000, 0x10_3000])
        XCTAssertEqual(image.segments[0].flags, [.executable])
        XCTAssertEqual(image.kernelEnd, 0x30_7000)  // the bss segment counts
        XCTAssertEqual(image.manifest.devices.map(\.name), ["storage"])
    }

    func testPhysicalAddressIsIgnored() throws {
        var b = ImageBuilder()
        b.headers[1].paddr = 0xDEAD_0000
        XCTAssertNotNil(parse(b))
    }

    func testEntryOnLastByteOfTextIsAccepted() {
        var b = ImageBuilder()
        b.entry = 0x10_17FF
        XCTAssertEqual(parse(b)?.entry, 0x10_17FF)
    }

    func testSegmentMayStartOnThePageAfterThePrevious() {
        var b = ImageBuilder()
        b.headers[0].memsz = 0x2000  // ends exactly where rodata starts
        XCTAssertNotNil(parse(b))
    }

    /// p_align only has to be a power of two: a copying loader does not depend on it.
    func testAlignmentFieldOnlyNeedsToBeAPowerOfTwo() {
        var b = ImageBuilder()
        b.headers[0].align = 0x20_0000
        b.headers[1].align = 1
        XCTAssertNotNil(parse(b))
    }

    // MARK: hostile input never crashes

    func testEveryTruncationThrows() {
        let bytes = ImageBuilder().build()
        XCTAssertNoThrow(try GuestImage.parse(bytes))
        for length in 0..<bytes.count {
            XCTAssertThrowsError(try GuestImage.parse(Array(bytes[0..<length])), "length \(length)")
        }
    }

    func testRandomMutationsNeverCrash() {
        let original = ImageBuilder().build()
        var random = SplitMix64(seed: 0x5157_1F7E)
        var accepted = 0
        for _ in 0..<2000 {
            var bytes = original
            let flips = Int.random(in: 1...8, using: &random)
            for _ in 0..<flips {
                let at = Int.random(in: 0..<bytes.count, using: &random)
                switch Int.random(in: 0..<4, using: &random) {
                case 0: bytes[at] ^= UInt8.random(in: 1...255, using: &random)
                case 1: bytes[at] = 0xFF
                case 2: bytes[at] = 0
                default: bytes[at] ^= 1 << UInt8.random(in: 0..<8, using: &random)
                }
            }
            if Int.random(in: 0..<8, using: &random) == 0 {
                bytes.removeLast(Int.random(in: 0..<bytes.count, using: &random))
            }
            if let image = try? GuestImage.parse(bytes) {
                accepted += 1
                // Whatever was accepted must be usable without trapping.
                _ = try? image.fitsIn(memorySize: 2 << 20)
                for segment in image.segments { _ = bytes[segment.fileRange] }
                _ = image.manifest.encodeCopy(attachments: [1: .block(capacity: 512, blockSize: 512)])
            }
        }
        // Flips in padding and data leave the image valid; most flips break it.
        XCTAssertGreaterThan(accepted, 0)
        XCTAssertLessThan(accepted, 2000)
    }

    func testMutatedProgramHeaderFieldsNeverCrash() {
        let original = ImageBuilder().build()
        let extremes: [UInt64] = [0, 1, 0xFFF, 0x1000, 0x10_0000, UInt64(original.count), 0x7FFF_FFFF_FFFF_FFFF,
                                  0x8000_0000_0000_0000, 0xFFFF_FFFF_FFFF_F000, UInt64.max]
        let phnum = Int(original.get16(56))
        for index in 0..<phnum {
            for field in [8, 16, 32, 40, 48] {  // offset, vaddr, filesz, memsz, align
                for value in extremes {
                    var bytes = original
                    bytes.put64(value, at: 64 + index * 56 + field)
                    _ = try? GuestImage.parse(bytes)
                }
            }
        }
    }

    func testHostileNoteChainsFinish() throws {
        // Thousands of PT_NOTEs over a large region of zero-sized notes: the walk is bounded.
        var b = ImageBuilder()
        let region = [UInt8](repeating: 0, count: 256 << 10)
        b.headers.append(.load(0x20_0000, H.R, data: region))
        let headers = 4000
        // The added headers carry no data: the region stays last, shifted by the table growth.
        let regionOffset = UInt64(b.build().count + headers * 56 - region.count)
        for _ in 0..<headers {
            b.headers.append(H(type: 4, flags: H.R, align: 4, offset: regionOffset, filesz: UInt64(region.count)))
        }
        let bytes = b.build()
        XCTAssertEqual(Array(bytes[Int(regionOffset)...]), region)
        let start = Date()
        let image = try GuestImage.parse(bytes)
        XCTAssertEqual(image.segments.count, 5)
        XCTAssertLessThan(Date().timeIntervalSince(start), 10)
    }

    // MARK: ELF header

    func testRejectsBadMagic() {
        var b = ImageBuilder()
        b.ident[1] = 0x46
        assertRejects(b, .notELF)
        assertRejects(Array("#!/bin/sh\n".utf8) + [UInt8](repeating: 0x20, count: 100), .notELF)
    }

    func testRejectsTooShortForHeader() {
        assertRejects([], .truncatedHeader(size: 0))
        assertRejects(Array(ImageBuilder().build().prefix(63)), .truncatedHeader(size: 63))
    }

    func testRejects32BitClass() {
        var b = ImageBuilder()
        b.ident[4] = 1
        assertRejects(b, .not64Bit(1))
    }

    func testRejectsBigEndian() {
        var b = ImageBuilder()
        b.ident[5] = 2
        assertRejects(b, .notLittleEndian(2))
    }

    func testRejectsBadVersion() {
        var b = ImageBuilder()
        b.version = 0
        assertRejects(b, .badELFVersion(0))
    }

    func testRejectsWrongMachine() {
        var b = ImageBuilder()
        b.machine = 183  // EM_AARCH64
        assertRejects(b, .wrongMachine(183))
    }

    func testRejectsPositionIndependentImage() {
        var b = ImageBuilder()
        b.type = 3  // ET_DYN
        assertRejects(b, .notExecutable(type: 3))
        XCTAssertTrue(ImageError.notExecutable(type: 3).description.contains("ET_DYN"))
    }

    func testRejectsRelocatableObject() {
        var b = ImageBuilder()
        b.type = 1
        assertRejects(b, .notExecutable(type: 1))
    }

    func testRejectsBadHeaderSizes() {
        var b = ImageBuilder()
        b.ehsize = 52
        assertRejects(b, .badHeaderSize(52))
        b = ImageBuilder()
        b.phentsize = 64
        assertRejects(b, .badProgramHeaderSize(64))
    }

    func testRejectsNoProgramHeaders() {
        var b = ImageBuilder()
        b.phnum = 0
        assertRejects(b, .noProgramHeaders)
    }

    func testRejectsProgramHeadersOutsideFile() {
        var b = ImageBuilder()
        b.phnum = 0xFFFF
        assertRejects(b, .programHeadersOutsideFile)
        b = ImageBuilder()
        b.phoff = UInt64.max - 8
        assertRejects(b, .programHeadersOutsideFile)
        b = ImageBuilder()
        b.phoff = UInt64(b.build().count - 100)
        assertRejects(b, .programHeadersOutsideFile)
    }

    // MARK: entry point

    func testRejectsEntryBelowOneMiB() {
        var b = ImageBuilder()
        b.entry = 0xF_FFFF
        assertRejects(b, .entryBelowLoadAddress(0xF_FFFF))
        b.entry = 0
        assertRejects(b, .entryBelowLoadAddress(0))
    }

    func testRejectsEntryOutsideExecutableSegments() {
        var b = ImageBuilder()
        b.entry = 0x10_2000  // rodata: readable, not executable
        assertRejects(b, .entryNotExecutable(0x10_2000))
        b.entry = 0x10_1800  // just past the end of text (inside its last page)
        assertRejects(b, .entryNotExecutable(0x10_1800))
        b.entry = 0x4000_0000
        assertRejects(b, .entryNotExecutable(0x4000_0000))
    }

    // MARK: ABI note

    func testRejectsWrongABITarget() {
        var b = ImageBuilder()
        b.headers[4].notes = [.abi(target: 2)]
        assertRejects(b, .wrongABITarget(2))
        XCTAssertTrue(ImageError.wrongABITarget(2).description.contains("spt"))
    }

    func testRejectsWrongABIVersion() {
        var b = ImageBuilder()
        b.headers[4].notes = [.abi(version: 1)]
        assertRejects(b, .wrongABIVersion(1))
        b.headers[4].notes = [.abi(version: 3)]
        assertRejects(b, .wrongABIVersion(3))
    }

    func testRejectsABINoteOfWrongSize() {
        var b = ImageBuilder()
        var note = ImageBuilder.Note.abi()
        note.desc = Array(note.desc.prefix(8))
        b.headers[4].notes = [note]
        assertRejects(b, .badABINoteSize(8))
        note.desc += [UInt8](repeating: 0, count: 24)
        b.headers[4].notes = [note]
        assertRejects(b, .badABINoteSize(32))
    }

    // MARK: note presence and placement

    func testRejectsMissingNotes() {
        var b = ImageBuilder()
        b.headers.remove(at: 4)
        assertRejects(b, .missingNote(.abi))
        b = ImageBuilder()
        b.headers.remove(at: 5)
        assertRejects(b, .missingNote(.manifest))
    }

    func testRejectsDuplicateNotes() {
        var b = ImageBuilder()
        b.headers.append(.noteHeader([.abi()]))
        assertRejects(b, .duplicateNote(.abi, index: 6))
        b = ImageBuilder()
        b.headers.insert(.noteHeader([.manifest()]), at: 4)
        assertRejects(b, .duplicateNote(.manifest, index: 6))
    }

    func testRejectsNoteThatIsNotFirstInItsSegment() {
        var b = ImageBuilder()
        b.headers[4].notes = [.openBSD, .abi()]
        assertRejects(b, .noteNotFirst(.abi, index: 4))
        b = ImageBuilder()
        b.headers[4].notes = [.abi(), .manifest()]  // both in one PT_NOTE
        b.headers.remove(at: 5)
        assertRejects(b, .noteNotFirst(.manifest, index: 4))
    }

    func testIgnoresNotesThatAreNotSolo5s() {
        var b = ImageBuilder()
        var impostor = ImageBuilder.Note.abi(target: 9)
        impostor.name = Array("Solo6".utf8) + [0]
        b.headers.append(.noteHeader([impostor]))
        var longName = ImageBuilder.Note.abi(target: 9)
        longName.namesz = 7
        longName.name = Array("Solo5x".utf8) + [0]
        b.headers.append(.noteHeader([longName]))
        b.headers.append(.noteHeader([.openBSD, .openBSD]))
        XCTAssertNotNil(parse(b))
    }

    func testRejectsNoteDescriptorPastItsSegment() {
        var b = ImageBuilder()
        var note = ImageBuilder.Note.abi()
        note.descsz = 17
        b.headers[4].notes = [note]
        assertRejects(b, .noteDescriptorOutOfBounds(.abi, index: 4))
        note.descsz = UInt32.max
        b.headers[4].notes = [note]
        assertRejects(b, .noteDescriptorOutOfBounds(.abi, index: 4))
        note.descsz = 0
        b.headers[4].notes = [note]
        assertRejects(b, .noteDescriptorOutOfBounds(.abi, index: 4))
        b = ImageBuilder()
        var manifest = ImageBuilder.Note.manifest()
        manifest.descsz = 0x10_0000
        b.headers[5].notes = [manifest]
        assertRejects(b, .noteDescriptorOutOfBounds(.manifest, index: 5))
    }

    func testRejectsNoteSegmentPastEndOfFile() {
        var b = ImageBuilder()
        b.headers[5].filesz = UInt64(b.build().count)
        assertRejects(b, .noteOutsideFile(index: 5))
        b = ImageBuilder()
        b.headers[4].offset = UInt64.max - 4
        assertRejects(b, .noteOutsideFile(index: 4))
        b = ImageBuilder()
        b.headers[4].filesz = UInt64.max
        assertRejects(b, .noteOutsideFile(index: 4))
    }

    func testRejectsTinyNoteSegment() {
        var b = ImageBuilder()
        b.headers[4].filesz = 11
        assertRejects(b, .noteTooSmall(index: 4))
    }

    func testNoteSegmentShorterThanNoteIsMissingOrOutOfBounds() {
        var b = ImageBuilder()
        b.headers[4].filesz = 35  // one byte short of header + descriptor
        assertRejects(b, .noteDescriptorOutOfBounds(.abi, index: 4))
        b.headers[4].filesz = 16  // too short for the name: not recognised as a Solo5 note
        assertRejects(b, .missingNote(.abi))
    }

    func testManifestErrorsAreWrapped() {
        var m = ManifestBuilder()
        m.entries[1].attached = 1
        let b = ImageBuilder(manifest: m)
        assertRejects(b, .manifest(.attachedInFile(index: 1)))
        XCTAssertEqual(ImageError.manifest(.attachedInFile(index: 1)).description,
                       ManifestError.attachedInFile(index: 1).description)
    }

    // MARK: PT_LOAD segments

    func testRejectsSegmentBelowOneMiB() {
        var b = ImageBuilder()
        b.headers.insert(.load(0xF_F000, H.R, data: [1]), at: 0)
        assertRejects(b, .segment(index: 0, .belowLoadAddress(0xF_F000)))
    }

    func testRejectsBssOnlySegmentBelowOneMiB() {
        var b = ImageBuilder()
        b.headers.insert(H(type: 1, flags: H.R | H.W, vaddr: 0x8000, memsz: 0x1000), at: 0)
        assertRejects(b, .segment(index: 0, .belowLoadAddress(0x8000)))
    }

    func testRejectsUnalignedSegment() {
        var b = ImageBuilder()
        b.headers[1].vaddr = 0x10_2010
        assertRejects(b, .segment(index: 1, .unaligned(0x10_2010)))
    }

    func testRejectsBadAlignmentField() {
        var b = ImageBuilder()
        b.headers[2].align = 0
        assertRejects(b, .segment(index: 2, .badAlignment(0)))
        b.headers[2].align = 0x3000
        assertRejects(b, .segment(index: 2, .badAlignment(0x3000)))
    }

    func testRejectsOverlappingSegments() {
        var b = ImageBuilder()
        b.headers[1].vaddr = 0x10_1000  // inside text (0x100000..0x101800)
        assertRejects(b, .segment(index: 1, .sharesPage))
        b = ImageBuilder()
        b.headers[1].vaddr = 0x10_0000  // same start as text
        assertRejects(b, .segment(index: 1, .sharesPage))
    }

    func testRejectsSegmentsSharingAPage() {
        var b = ImageBuilder()
        b.headers[0].memsz = 0x2001  // text's last page is rodata's first
        assertRejects(b, .segment(index: 1, .sharesPage))
    }

    func testRejectsDescendingSegments() {
        var b = ImageBuilder()
        b.headers.swapAt(1, 2)
        assertRejects(b, .segment(index: 2, .notAscending))
    }

    func testRejectsWritableAndExecutableSegment() {
        var b = ImageBuilder()
        b.headers[0].flags = H.R | H.W | H.X
        assertRejects(b, .segment(index: 0, .writableAndExecutable))
        b.headers[0].flags = H.W | H.X
        assertRejects(b, .segment(index: 0, .writableAndExecutable))
    }

    func testRejectsFileSizeLargerThanMemorySize() {
        var b = ImageBuilder()
        b.headers[1].memsz = 12  // 13 bytes of data
        assertRejects(b, .segment(index: 1, .fileSizeExceedsMemorySize))
        b = ImageBuilder()
        b.headers.append(H(type: 1, flags: H.R, vaddr: 0x20_0000, memsz: 0, filesz: 1))
        assertRejects(b, .segment(index: 6, .fileSizeExceedsMemorySize))
    }

    func testRejectsFileBytesPastEndOfFile() {
        var b = ImageBuilder()
        let size = UInt64(b.build().count)
        b.headers[2].filesz = size
        b.headers[2].memsz = size
        assertRejects(b, .segment(index: 2, .outsideFile))
        b = ImageBuilder()
        b.headers[1].offset = size - 4  // 13 bytes from 4 before the end
        assertRejects(b, .segment(index: 1, .outsideFile))
        b.headers[1].offset = UInt64.max - 5  // offset + filesz overflows
        assertRejects(b, .segment(index: 1, .outsideFile))
    }

    func testRejectsAddressOverflow() {
        var b = ImageBuilder()
        b.headers.append(H(type: 1, flags: H.R, vaddr: 0xFFFF_FFFF_FFFF_F000, memsz: 0x1000))
        assertRejects(b, .segment(index: 6, .addressOverflow))
        b = ImageBuilder()
        b.headers.append(H(type: 1, flags: H.R, vaddr: 0xFFFF_FFFF_FFFF_F000, memsz: 1))  // page end overflows
        assertRejects(b, .segment(index: 6, .addressOverflow))
        b = ImageBuilder()
        b.headers[3].memsz = UInt64.max
        assertRejects(b, .segment(index: 3, .addressOverflow))
    }

    func testRejectsImageWithoutLoadSegments() {
        var b = ImageBuilder()
        b.headers.removeFirst(4)
        assertRejects(b, .noLoadSegments)
        b = ImageBuilder()
        b.headers[0...3] = [H(type: 1, vaddr: 0, memsz: 0)]  // only an empty one
        assertRejects(b, .noLoadSegments)
    }

    // MARK: memory

    func testFitsInMemory() throws {
        let image = try XCTUnwrap(parse(ImageBuilder()))
        XCTAssertNoThrow(try image.fitsIn(memorySize: 2 << 20))
        XCTAssertNoThrow(try image.fitsIn(memorySize: image.kernelEnd + 0x1000))
        XCTAssertThrowsError(try image.fitsIn(memorySize: image.kernelEnd)) { error in
            XCTAssertEqual(error as? ImageError, .doesNotFit(kernelEnd: 0x11_5000, memorySize: 0x11_5000))
        }
        XCTAssertThrowsError(try image.fitsIn(memorySize: 0))
    }

    func testLargeImageDoesNotFitSmallMemory() throws {
        var b = ImageBuilder()
        b.headers[3].memsz = 0x40_0000  // 4 MiB of bss
        let image = try XCTUnwrap(parse(b))
        XCTAssertEqual(image.kernelEnd, 0x50_5000)
        XCTAssertThrowsError(try image.fitsIn(memorySize: 4 << 20)) { error in
            XCTAssertEqual(error as? ImageError, .doesNotFit(kernelEnd: 0x50_5000, memorySize: 4 << 20))
            XCTAssertEqual("\(error)", "the image needs memory up to 0x505000 but the guest has 4 MiB; use a larger --mem")
        }
        XCTAssertNoThrow(try image.fitsIn(memorySize: 6 << 20))
    }

    // MARK: messages

    func testDescriptionsAreSingleLines() {
        let errors: [ImageError] = [
            .truncatedHeader(size: 3), .notELF, .not64Bit(1), .notLittleEndian(2), .badELFVersion(0),
            .notExecutable(type: 3), .notExecutable(type: 1), .wrongMachine(3), .badHeaderSize(1),
            .badProgramHeaderSize(1), .noProgramHeaders, .programHeadersOutsideFile, .noteTooSmall(index: 1),
            .noteOutsideFile(index: 1), .noteNotFirst(.abi, index: 1), .noteDescriptorOutOfBounds(.manifest, index: 2),
            .duplicateNote(.abi, index: 3), .missingNote(.abi), .missingNote(.manifest), .badABINoteSize(3),
            .wrongABITarget(7), .wrongABIVersion(1), .manifest(.noEntries), .entryBelowLoadAddress(0),
            .noLoadSegments, .entryNotExecutable(1), .doesNotFit(kernelEnd: 1, memorySize: 1),
            .segment(index: 0, .belowLoadAddress(0)), .segment(index: 0, .badAlignment(3)),
            .segment(index: 0, .unaligned(1)), .segment(index: 0, .fileSizeExceedsMemorySize),
            .segment(index: 0, .addressOverflow), .segment(index: 0, .outsideFile),
            .segment(index: 0, .writableAndExecutable), .segment(index: 0, .notAscending),
            .segment(index: 0, .sharesPage),
        ]
        for error in errors {
            XCTAssertFalse(error.description.isEmpty)
            XCTAssertFalse(error.description.contains("\n"), error.description)
        }
        XCTAssertEqual(ImageError.segment(index: 2, .writableAndExecutable).description,
                       "invalid image: PT_LOAD program header 2 is both writable and executable")
    }

    // MARK: real Solo5 images (optional)

    /// Set SWIFTLET_SOLO5_IMAGES to a directory of Solo5-built *.hvt files to check that
    /// all of them are accepted (test_buggyelf's broken manifest excepted).
    func testRealSolo5Images() throws {
        guard let directory = ProcessInfo.processInfo.environment["SWIFTLET_SOLO5_IMAGES"] else {
            throw XCTSkip("SWIFTLET_SOLO5_IMAGES not set")
        }
        let enumerator = FileManager.default.enumerator(atPath: directory)
        var checked = 0
        while let path = enumerator?.nextObject() as? String {
            guard path.hasSuffix(".hvt") else { continue }
            let data = try Data(contentsOf: URL(fileURLWithPath: directory).appendingPathComponent(path))
            let bytes = [UInt8](data)
            if path.hasSuffix("buggyelf.hvt") {
                XCTAssertThrowsError(try GuestImage.parse(bytes), path)
            } else {
                XCTAssertNoThrow(try GuestImage.parse(bytes), path)
            }
            checked += 1
        }
        XCTAssertGreaterThan(checked, 0)
    }
}
