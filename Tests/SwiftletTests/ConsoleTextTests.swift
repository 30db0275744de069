// ConsoleText: String-free formatting into the console's line buffer.

import XCTest
@testable import Swiftlet

final class ConsoleTextTests: XCTestCase {
    /// Formats `text` (into the shared line) and takes the bytes back out.
    func bytes(_ text: @autoclosure () -> ConsoleText) -> String {
        _ = ConsoleText.takePending()
        _ = text()
        return String(decoding: ConsoleText.takePending(), as: UTF8.self)
    }

    func testLiteralsAndIntegers() {
        XCTAssertEqual(bytes("plain"), "plain")
        let n = 42, negative = -7, big = UInt64.max, small: UInt8 = 255, short: Int16 = -300
        XCTAssertEqual(bytes("n=\(n) neg=\(negative) big=\(big) u8=\(small) i16=\(short)"),
                       "n=42 neg=-7 big=18446744073709551615 u8=255 i16=-300")
        XCTAssertEqual(bytes("\(Int.min)"), "-9223372036854775808")
    }

    func testHexStaticStringAndString() {
        let name: StaticString = "static"
        let dynamic = "dyn" + "amic ü"
        XCTAssertEqual(bytes("\(hex: 0xBEEF) \(hex: 1, digits: 4) \(name) \(dynamic)"), "0xbeef 0x0001 static dynamic ü")
    }

    func testMACAddress() {
        XCTAssertEqual(bytes("mac \(MACAddress(0x02, 0xAB, 0x00, 0x10, 0xFF, 0x9))"), "mac 02:ab:00:10:ff:09")
    }

    func testRawArguments() {
        let storage: [UInt8] = Array("two words".utf8) + [0]
        storage.withUnsafeBufferPointer { buffer in
            let argument = RawArgument(cString: buffer.baseAddress!)
            XCTAssertEqual(argument.utf8.count, 9)
            XCTAssertEqual(argument.string, "two words")
            XCTAssert(argument == "two words")
            XCTAssertFalse(argument == "two")
            XCTAssertEqual(bytes("[\(argument)]"), "[two words]")
        }
    }

    func testLongLinesFlushInsteadOfOverflowing() {
        var buffer = ConsoleBuffer()
        for _ in 0..<127 { buffer.write(0x2E) }
        XCTAssertEqual(buffer.count, 127)
        buffer.write(0x2E)
        XCTAssertEqual(buffer.count, 128)
        buffer.write(0x41)  // full: the first 128 bytes go to the console first
        XCTAssertEqual(buffer.count, 1)
        buffer.write(0x0A)  // a newline flushes the line
        XCTAssertEqual(buffer.count, 0)
    }
}
