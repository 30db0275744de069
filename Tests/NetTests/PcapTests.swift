// The pcap writer: global header and records byte by byte (both
// resolutions, snap length), as a tap on an interface, and the file read
// back by tcpdump or tshark when the machine has one (skipped otherwise).

import Foundation
import Net
import XCTest

final class PcapTests: XCTestCase {
    func le32(_ bytes: [UInt8], _ offset: Int) -> UInt32 {
        (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[offset + $1]) << (8 * $1) }
    }

    func le16(_ bytes: [UInt8], _ offset: Int) -> UInt16 { UInt16(bytes[offset]) | UInt16(bytes[offset + 1]) << 8 }

    func testHeaderAndRecords() {
        var out: [UInt8] = []
        let writer = PcapWriter(resolution: .microseconds, snapLength: 20) { out += $0 }
        XCTAssertEqual(out.count, 24)
        XCTAssertEqual(Array(out[0..<4]), [0xd4, 0xc3, 0xb2, 0xa1])
        XCTAssertEqual(le16(out, 4), 2)
        XCTAssertEqual(le16(out, 6), 4)
        XCTAssertEqual(le32(out, 8), 0)
        XCTAssertEqual(le32(out, 12), 0)
        XCTAssertEqual(le32(out, 16), 20)
        XCTAssertEqual(le32(out, 20), 1)
        let frame = [UInt8](0..<30)
        frame.withUnsafeBytes { writer.write(frame: $0, timestamp: 3 * second + 123_456_789) }
        XCTAssertEqual(out.count, 24 + 16 + 20)
        XCTAssertEqual(le32(out, 24), 3)
        XCTAssertEqual(le32(out, 28), 123_456, "microseconds")
        XCTAssertEqual(le32(out, 32), 20, "captured: the snap length")
        XCTAssertEqual(le32(out, 36), 30, "original length")
        XCTAssertEqual(Array(out[40...]), Array(frame[0..<20]))

        var nano: [UInt8] = []
        let precise = PcapWriter(clockOffset: 1_700_000_000 * second) { nano += $0 }
        XCTAssertEqual(Array(nano[0..<4]), [0x4d, 0x3c, 0xb2, 0xa1])
        frame.withUnsafeBytes { precise.write(frame: $0, timestamp: 5) }
        XCTAssertEqual(le32(nano, 24), 1_700_000_000)
        XCTAssertEqual(le32(nano, 28), 5)
        XCTAssertEqual(precise.framesWritten, 1)
    }

    /// Records a ping across a link through taps on both interfaces.
    func capturePing() throws -> ([UInt8], Int) {
        var file: [UInt8] = []
        let writer = PcapWriter(clockOffset: 1_700_000_000 * second) { file += $0 }
        let a = makeInterface(mac: macA, address: "10.0.0.1")
        let b = makeInterface(mac: macB, address: "10.0.0.2")
        a.tap = writer
        let link = SimulatedLink(a, b)
        try a.ping(b.address, id: 1, seq: 1, Array("pcap".utf8), now: 0)
        let socket = try a.bindUDP(port: 5000)
        try a.send(socket, to: IPv4Endpoint(address: b.address, port: 53), Array(repeating: 0x61, count: 2000), now: 0)
        link.run(steps: 20) { false }
        return (file, writer.framesWritten)
    }

    func testTapRecordsBothDirections() throws {
        let (file, frames) = try capturePing()
        // ARP request, ARP reply, echo request, 2 UDP fragments, echo reply, ICMP port unreachable.
        XCTAssertEqual(frames, 7)
        var offset = 24
        var records = 0
        while offset < file.count {
            let captured = Int(le32(file, offset + 8))
            XCTAssertEqual(captured, Int(le32(file, offset + 12)))
            XCTAssertGreaterThanOrEqual(captured, 60)
            offset += 16 + captured
            records += 1
        }
        XCTAssertEqual(offset, file.count)
        XCTAssertEqual(records, frames)
    }

    /// Every reader the machine has (CI installs both) lists each frame and decodes it.
    func testReadableByTcpdumpAndTshark() throws {
        let tools = ["/usr/bin/tcpdump", "/usr/sbin/tcpdump", "/usr/bin/tshark"]
            .filter { FileManager.default.isExecutableFile(atPath: $0) }
        guard !tools.isEmpty else {
            throw XCTSkip("neither tcpdump nor tshark is installed: the format is checked by testTapRecordsBothDirections")
        }
        let (file, frames) = try capturePing()
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("swiftlet-net-\(getpid()).pcap").path
        XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data(file)))
        defer { try? FileManager.default.removeItem(atPath: path) }
        for tool in tools {
            let tshark = tool.hasSuffix("tshark")
            let process = Process()
            process.executableURL = URL(fileURLWithPath: tool)
            process.arguments = tshark ? ["-r", path, "-n"] : ["-r", path, "-nn"]
            let pipe = Pipe()
            process.standardOutput = pipe
            process.standardError = Pipe()
            try process.run()
            let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            XCTAssertEqual(process.terminationStatus, 0, output)
            XCTAssertEqual(output.split(separator: "\n").count, frames, output)
            let expected = tshark ? ["Echo (ping) request", "Echo (ping) reply", "Port unreachable", "ARP"]
                                  : ["ICMP echo request", "ICMP echo reply", "port 53 unreachable", "ARP"]
            for text in expected { XCTAssertTrue(output.contains(text), "\(tool): \(text) missing in \(output)") }
        }
    }
}
