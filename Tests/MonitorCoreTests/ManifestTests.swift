// Tests for Manifest.parse (MFT1 note descriptors) and Manifest.encodeCopy (the guest copy).

import HvtABI
import TestSupport
import XCTest
@testable import MonitorCore

final class ManifestTests: XCTestCase {
    typealias Entry = ManifestBuilder.Entry

    private func assertRejects(_ builder: ManifestBuilder, _ expected: ManifestError,
                               file: StaticString = #filePath, line: UInt = #line) {
        assertRejects(builder.descriptor(), expected, file: file, line: line)
    }

    private func assertRejects(_ bytes: [UInt8], _ expected: ManifestError,
                               file: StaticString = #filePath, line: UInt = #line) {
        do {
            let manifest = try Manifest.parse(noteDescriptor: bytes)
            XCTFail("accepted an invalid manifest: \(manifest)", file: file, line: line)
        } catch {
            XCTAssertEqual(error, expected, file: file, line: line)
            XCTAssertFalse(error.description.contains("\n"), file: file, line: line)
        }
    }

    private func devices(_ count: Int) -> [Entry] {
        (1...count).map { $0 % 2 == 0 ? .net("net\($0)") : .block("disk\($0)") }
    }

    // MARK: valid manifests

    func testParsesDevicesInHandleOrder() throws {
        let m = try Manifest.parse(noteDescriptor: ManifestBuilder().descriptor())
        XCTAssertEqual(m.entryCount, 3)
        XCTAssertEqual(m.devices, [
            ManifestDevice(index: 1, name: "storage", kind: .block),
            ManifestDevice(index: 2, name: "service0", kind: .net),
        ])
        XCTAssertEqual(m.device(named: "service0")?.index, 2)
        XCTAssertNil(m.device(named: "nothing"))
        XCTAssertEqual(m.encodedSize, 8 + 3 * 104)
    }

    func testOnlyTheReservedEntryIsValid() throws {
        let m = try Manifest.parse(noteDescriptor: ManifestBuilder([]).descriptor())
        XCTAssertEqual(m.entryCount, 1)
        XCTAssertEqual(m.devices, [])
    }

    func testSixtyFourEntriesAreValid() throws {
        let m = try Manifest.parse(noteDescriptor: ManifestBuilder(devices(63)).descriptor())
        XCTAssertEqual(m.entryCount, 64)
        XCTAssertEqual(m.devices.last, ManifestDevice(index: 63, name: "disk63", kind: .block))
    }

    func testNamesUpToSixtySevenPrintableCharacters() throws {
        let long = String(repeating: "x", count: 67)
        let m = try Manifest.parse(noteDescriptor: ManifestBuilder([.block(long), .net("a-b_c.d/e+f~!")]).descriptor())
        XCTAssertEqual(m.devices.map(\.name), [long, "a-b_c.d/e+f~!"])
    }

    func testBytesAfterTheNameTerminatorAreIgnored() throws {
        var entry = Entry.block("disk")
        entry.name = Array("disk".utf8) + [0] + Array("garbage".utf8)
        let m = try Manifest.parse(noteDescriptor: ManifestBuilder([entry]).descriptor())
        XCTAssertEqual(m.devices.map(\.name), ["disk"])
    }

    // MARK: header and size

    func testRejectsTooShortDescriptor() {
        assertRejects([], .tooShort(size: 0))
        assertRejects([0], .tooShort(size: 1))  // Solo5's test_buggyelf: descsz 1
        assertRejects([0, 0, 0, 0, 1, 0, 0, 0], .tooShort(size: 8))
        assertRejects([0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0], .tooShort(size: 11))
    }

    func testRejectsBadVersion() {
        var b = ManifestBuilder()
        b.version = 2
        assertRejects(b, .badVersion(2))
    }

    func testRejectsZeroEntries() {
        var b = ManifestBuilder([])
        b.entries = []
        assertRejects(b, .noEntries)
    }

    func testRejectsSixtyFiveEntries() {
        assertRejects(ManifestBuilder(devices(64)), .tooManyEntries(65))
        var b = ManifestBuilder()
        b.count = UInt32.max
        assertRejects(b, .tooManyEntries(UInt32.max))
    }

    func testRejectsDescriptorTooShortForTheCount() {
        var b = ManifestBuilder()
        b.count = 4
        assertRejects(b, .sizeMismatch(entries: 4, size: 12 + 3 * 104, expected: 12 + 4 * 104))
        b = ManifestBuilder()
        b.sizeAdjustment = -1
        assertRejects(b, .sizeMismatch(entries: 3, size: 12 + 3 * 104 - 1, expected: 12 + 3 * 104))
        XCTAssertTrue(ManifestError.sizeMismatch(entries: 3, size: 1, expected: 2).description.contains("too short"))
    }

    func testRejectsDescriptorLongerThanTheCount() {
        var b = ManifestBuilder()
        b.sizeAdjustment = 8
        assertRejects(b, .sizeMismatch(entries: 3, size: 12 + 3 * 104 + 8, expected: 12 + 3 * 104))
        XCTAssertTrue(ManifestError.sizeMismatch(entries: 3, size: 2, expected: 1).description.contains("too long"))
    }

    // MARK: entries

    func testRejectsFirstEntryThatIsNotReserved() {
        var b = ManifestBuilder()
        b.entries[0] = .block("zero")
        assertRejects(b, .firstEntryNotReserved)
        b = ManifestBuilder()
        b.entries[0].name = Array("named".utf8)
        assertRejects(b, .firstEntryNotReserved)
        b = ManifestBuilder()
        b.entries.removeFirst()
        assertRejects(b, .firstEntryNotReserved)
    }

    func testRejectsBadType() {
        assertRejects(ManifestBuilder([Entry(name: Array("x".utf8), type: 3)]), .badType(index: 1, type: 3))
        assertRejects(ManifestBuilder([Entry(name: Array("x".utf8), type: 0)]), .badType(index: 1, type: 0))
        let reserved = HvtABI.DeviceType.reservedFirst.rawValue
        assertRejects(ManifestBuilder([.block("a"), Entry(name: Array("x".utf8), type: reserved)]),
                      .badType(index: 2, type: reserved))
    }

    func testRejectsUnterminatedName() {
        assertRejects(ManifestBuilder([.block(String(repeating: "n", count: 68))]), .nameNotTerminated(index: 1))
        // As Solo5: byte 67 must be NUL even after an earlier terminator, in every entry.
        var b = ManifestBuilder()
        b.entries[0].name = [0] + [UInt8](repeating: 0x41, count: 67)
        assertRejects(b, .nameNotTerminated(index: 0))
        var entry = Entry.block("disk")
        entry.name = Array("disk".utf8) + [0] + [UInt8](repeating: 0x41, count: 63)
        assertRejects(ManifestBuilder([entry]), .nameNotTerminated(index: 1))
    }

    func testRejectsEmptyName() {
        assertRejects(ManifestBuilder([.block("a"), .net("")]), .emptyName(index: 2))
    }

    func testRejectsNamesThatCannotBeNamedOnTheCommandLine() {
        for name in ["a b", "a=b", "a:b", "tab\there", "new\nline", "del\u{7F}", "caf\u{E9}", "\u{1}"] {
            assertRejects(ManifestBuilder([.block(name)]), .badName(index: 1))
        }
    }

    func testRejectsDuplicateNames() {
        assertRejects(ManifestBuilder([.block("same"), .net("same")]), .duplicateName(index: 2, name: "same"))
        assertRejects(ManifestBuilder([.net("a"), .net("b"), .net("a")]), .duplicateName(index: 3, name: "a"))
    }

    func testRejectsAttachedInFile() {
        var b = ManifestBuilder()
        b.entries[2].attached = 1
        assertRejects(b, .attachedInFile(index: 2))
        b = ManifestBuilder()
        b.entries[0].attached = 0x80
        assertRejects(b, .attachedInFile(index: 0))
    }

    func testTruncatedAndMutatedDescriptorsNeverCrash() {
        let original = ManifestBuilder(devices(5)).descriptor()
        for length in 0..<original.count {
            XCTAssertThrowsError(try Manifest.parse(noteDescriptor: Array(original[0..<length])))
        }
        var random = SplitMix64(seed: 42)
        for _ in 0..<2000 {
            var bytes = original
            for _ in 0..<Int.random(in: 1...4, using: &random) {
                bytes[Int.random(in: 0..<bytes.count, using: &random)] = UInt8.random(in: 0...255, using: &random)
            }
            if let m = try? Manifest.parse(noteDescriptor: bytes) {
                _ = m.encodeCopy(attachments: [1: .block(capacity: 1, blockSize: 512), 2: .net(mac: [1], mtu: 1)])
            }
        }
    }

    func testDescriptionsAreSingleLines() {
        let errors: [ManifestError] = [
            .tooShort(size: 1), .badVersion(2), .noEntries, .tooManyEntries(65),
            .sizeMismatch(entries: 1, size: 2, expected: 3), .firstEntryNotReserved, .nameNotTerminated(index: 1),
            .emptyName(index: 1), .badName(index: 1), .badType(index: 1, type: 9),
            .duplicateName(index: 2, name: "x"), .attachedInFile(index: 1),
        ]
        for error in errors {
            XCTAssertTrue(error.description.hasPrefix("invalid manifest: "))
            XCTAssertFalse(error.description.contains("\n"))
        }
    }

    // MARK: the guest copy

    func testEncodeCopyLayout() throws {
        let m = try Manifest.parse(noteDescriptor: ManifestBuilder([.block("storage"), .net("service0"), .block("spare")]).descriptor())
        let copy = m.encodeCopy(attachments: [
            1: .block(capacity: 0x1234_5678_9ABC_DEF0, blockSize: 4096),
            2: .net(mac: [0x02, 0x11, 0x22, 0x33, 0x44, 0x55], mtu: 1500),
        ])
        XCTAssertEqual(copy.count, 8 + 4 * 104)
        XCTAssertEqual(copy.count, m.encodedSize)
        XCTAssertEqual(copy.get32(0), 1)  // version
        XCTAssertEqual(copy.get32(4), 4)  // entries

        // Entry 0: reserved, empty, never attached.
        let e0 = 8
        XCTAssertEqual(copy.get32(e0 + 68), 0x4000_0000)
        XCTAssertEqual(copy[e0..<(e0 + 68)].filter { $0 != 0 }.count, 0)
        XCTAssertEqual(copy[e0 + 96], 0)

        // Entry 1: attached block device.
        let e1 = 8 + 104
        XCTAssertEqual(Array(copy[e1..<(e1 + 8)]), Array("storage\0".utf8))
        XCTAssertEqual(copy[(e1 + 8)..<(e1 + 68)].filter { $0 != 0 }.count, 0)
        XCTAssertEqual(copy.get32(e1 + 68), 1)
        XCTAssertEqual(copy.get64(e1 + 72), 0x1234_5678_9ABC_DEF0)
        XCTAssertEqual(copy.get16(e1 + 80), 4096)
        XCTAssertEqual(copy.get64(e1 + 88), 0)  // host-private
        XCTAssertEqual(copy[e1 + 96], 1)
        XCTAssertEqual(copy[(e1 + 97)..<(e1 + 104)].filter { $0 != 0 }.count, 0)

        // Entry 2: attached net device.
        let e2 = 8 + 2 * 104
        XCTAssertEqual(Array(copy[e2..<(e2 + 9)]), Array("service0\0".utf8))
        XCTAssertEqual(copy.get32(e2 + 68), 2)
        XCTAssertEqual(Array(copy[(e2 + 72)..<(e2 + 78)]), [0x02, 0x11, 0x22, 0x33, 0x44, 0x55])
        XCTAssertEqual(copy.get16(e2 + 78), 1500)
        XCTAssertEqual(copy.get64(e2 + 80), 0)
        XCTAssertEqual(copy[e2 + 96], 1)

        // Entry 3: declared, not attached.
        let e3 = 8 + 3 * 104
        XCTAssertEqual(Array(copy[e3..<(e3 + 6)]), Array("spare\0".utf8))
        XCTAssertEqual(copy.get32(e3 + 68), 1)
        XCTAssertEqual(copy[(e3 + 72)..<(e3 + 104)].filter { $0 != 0 }.count, 0)
    }

    func testEncodeCopyIgnoresMismatchedAttachments() throws {
        let m = try Manifest.parse(noteDescriptor: ManifestBuilder().descriptor())
        let copy = m.encodeCopy(attachments: [
            0: .block(capacity: 1, blockSize: 512),        // the reserved entry
            1: .net(mac: [1, 2, 3, 4, 5, 6], mtu: 1500),    // storage is a block device
            2: .block(capacity: 512, blockSize: 512),       // service0 is a net device
            7: .block(capacity: 512, blockSize: 512),       // no such entry
        ])
        XCTAssertEqual(copy, m.encodeCopy(attachments: [:]))
        for entry in 0..<3 { XCTAssertEqual(copy[8 + entry * 104 + 96], 0) }
    }

    func testEncodeCopyWritesAtMostSixMACBytes() throws {
        let m = try Manifest.parse(noteDescriptor: ManifestBuilder([.net("n")]).descriptor())
        let long = m.encodeCopy(attachments: [1: .net(mac: [1, 2, 3, 4, 5, 6, 7, 8], mtu: 9000)])
        XCTAssertEqual(Array(long[(112 + 72)..<(112 + 78)]), [1, 2, 3, 4, 5, 6])
        XCTAssertEqual(long.get16(112 + 78), 9000)
        let short = m.encodeCopy(attachments: [1: .net(mac: [0xAA], mtu: 1)])
        XCTAssertEqual(Array(short[(112 + 72)..<(112 + 78)]), [0xAA, 0, 0, 0, 0, 0])
    }

    func testEncodeCopyMatchesTheFileForUnattachedDevices() throws {
        // Without attachments the copy is the note descriptor minus its 4 pad bytes.
        let descriptor = ManifestBuilder(devices(10)).descriptor()
        let m = try Manifest.parse(noteDescriptor: descriptor)
        XCTAssertEqual(m.encodeCopy(attachments: [:]), Array(descriptor.dropFirst(4)))
    }
}
