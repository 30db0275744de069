// CommandLineSplitter: the in-place boot command-line splitter.

import TestSupport
import XCTest
@testable import Swiftlet

final class CommandLineTests: XCTestCase {
    /// Splits `line` with room for `maxArguments` and returns the words.
    func split(_ line: String, maxArguments: Int = 16) throws -> [String] {
        var bytes = Array(line.utf8) + [0]
        var starts = [Int](repeating: -1, count: maxArguments)
        let count = try bytes.withUnsafeMutableBufferPointer { buffer in
            try starts.withUnsafeMutableBufferPointer { try CommandLineSplitter.split(buffer, starts: $0) }
        }
        return (0..<count).map { i in
            let start = starts[i]
            let end = bytes[start...].firstIndex(of: 0)!
            return String(decoding: bytes[start..<end], as: UTF8.self)
        }
    }

    func testEmptyAndBlankLinesHaveNoArguments() throws {
        XCTAssertEqual(try split(""), [])
        XCTAssertEqual(try split("   \t \n "), [])
    }

    func testBlanksSeparateWords() throws {
        XCTAssertEqual(try split("a bb\tccc\n d  "), ["a", "bb", "ccc", "d"])
        XCTAssertEqual(try split("  leading"), ["leading"])
    }

    func testSingleQuotesKeepEverythingLiterally() throws {
        XCTAssertEqual(try split("'two words' 'a\\b' ''"), ["two words", "a\\b", ""])
    }

    func testDoubleQuotesKeepBlanksAndEscapeQuoteAndBackslash() throws {
        XCTAssertEqual(try split(#""x y" "say \"hi\"" "c:\\dir" "\n""#), ["x y", "say \"hi\"", "c:\\dir", "\\n"])
    }

    func testQuotesJoinAdjacentText() throws {
        XCTAssertEqual(try split(#"--name='a b'c "d"e"#), ["--name=a bc", "de"])
    }

    func testBackslashEscapesOutsideQuotes() throws {
        XCTAssertEqual(try split(#"a\ b c\'d e\\"#), ["a b", "c'd", "e\\"])
    }

    func testTrailingBackslashIsKept() throws {
        XCTAssertEqual(try split("end\\"), ["end\\"])
    }

    func testUnterminatedQuoteRunsToTheEnd() throws {
        XCTAssertEqual(try split("a 'b c"), ["a", "b c"])
    }

    func testUTF8PassesThrough() throws {
        XCTAssertEqual(try split("grüße 'ünï cødé'"), ["grüße", "ünï cødé"])
    }

    func testTooManyArgumentsReportsWhatWasKept() {
        XCTAssertThrowsError(try split("a b c d", maxArguments: 3)) { error in
            XCTAssertEqual(error as? CommandLineSplitter.Error, .tooManyArguments(kept: 3))
        }
        XCTAssertEqual(try split("a b c", maxArguments: 3), ["a", "b", "c"])
    }

    func testBytesAfterTheFirstNULAreIgnored() throws {
        var bytes = Array("a b\0c d\0".utf8)
        var starts = [Int](repeating: 0, count: 8)
        let count = try bytes.withUnsafeMutableBufferPointer { buffer in
            try starts.withUnsafeMutableBufferPointer { try CommandLineSplitter.split(buffer, starts: $0) }
        }
        XCTAssertEqual(count, 2)
    }

    func testRandomLinesNeverOverrunOrCrash() throws {
        var random = SplitMix64(seed: 0x1234_5678)
        let alphabet = Array("ab '\"\\ \t".utf8)
        for _ in 0..<5000 {
            let length = random.below(40)
            var bytes = (0..<length).map { _ in alphabet[random.below(alphabet.count)] } + [0]
            var starts = [Int](repeating: -1, count: 64)
            let count = try bytes.withUnsafeMutableBufferPointer { buffer in
                try starts.withUnsafeMutableBufferPointer { try CommandLineSplitter.split(buffer, starts: $0) }
            }
            for i in 0..<count {
                XCTAssert(starts[i] < bytes.count)
                XCTAssertNotNil(bytes[starts[i]...].firstIndex(of: 0), "word \(i) is NUL-terminated")
                if i > 0 { XCTAssert(starts[i] > starts[i - 1]) }
            }
        }
    }
}
