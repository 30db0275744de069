// Wire formats on their own: hand-built packets parse to the right fields,
// emitters produce the same bytes, and every truncation and bad field gives
// the parser's typed reason (never a trap).

import Net
import XCTest

final class WireTests: XCTestCase {
    func parse<T>(_ bytes: [UInt8], _ parser: (UnsafeRawBufferPointer) throws(DropReason) -> T) -> Result<T, DropReason> {
        bytes.withUnsafeBytes { raw in
            do throws(DropReason) { return .success(try parser(raw)) } catch { return .failure(error) }
        }
    }

    func reason<T>(_ result: Result<T, DropReason>) -> DropReason? {
        if case .failure(let reason) = result { return reason }
        return nil
    }

    func emitted(_ count: Int, _ body: (UnsafeMutableRawBufferPointer) -> Void) -> [UInt8] {
        var bytes = [UInt8](repeating: 0xee, count: count)
        bytes.withUnsafeMutableBytes(body)
        return bytes
    }

    // MARK: Ethernet

    func testEthernet() throws {
        let frame: [UInt8] = [0x02, 0, 0, 0, 0, 0x0b, 0x02, 0, 0, 0, 0, 0x0a, 0x08, 0x06, 0xaa]
        let header = try parse(frame, EthernetHeader.parse).get()
        XCTAssertEqual(header, EthernetHeader(destination: macB, source: macA, etherType: EtherType.arp))
        XCTAssertEqual(emitted(14) { header.emit(into: $0) }, Array(frame[0..<14]))
        for length in 0..<14 {
            XCTAssertEqual(reason(parse(Array(frame[0..<length]), EthernetHeader.parse)), .ethernetTruncated)
        }
        var tagged = frame
        tagged[12] = 0x81
        tagged[13] = 0x00
        XCTAssertEqual(reason(parse(tagged, EthernetHeader.parse)), .ethernetVLAN)
        tagged[12] = 0x88
        tagged[13] = 0xa8
        XCTAssertEqual(reason(parse(tagged, EthernetHeader.parse)), .ethernetVLAN)
    }

    // MARK: ARP

    func testARP() throws {
        // RFC 826 layout: hrd 1, pro 0800, hln 6, pln 4, op, sha, spa, tha, tpa.
        let bytes: [UInt8] = [0, 1, 8, 0, 6, 4, 0, 1,
                              0x02, 0, 0, 0, 0, 0x0a, 10, 0, 0, 1,
                              0, 0, 0, 0, 0, 0, 10, 0, 0, 2]
        let packet = try parse(bytes, ARPPacket.parse).get()
        XCTAssertEqual(packet, ARPPacket(operation: .request, senderHardwareAddress: macA,
                                         senderProtocolAddress: ip("10.0.0.1"), targetHardwareAddress: .zero,
                                         targetProtocolAddress: ip("10.0.0.2")))
        XCTAssertEqual(emitted(28) { packet.emit(into: $0) }, bytes)
        XCTAssertNoThrow(try parse(bytes + [0, 0, 0], ARPPacket.parse).get())  // padding
        for length in 0..<28 {
            XCTAssertEqual(reason(parse(Array(bytes[0..<length]), ARPPacket.parse)), .arpTruncated)
        }
        for (index, value) in [(1, UInt8(6)), (2, 0x86), (4, 8), (5, 16), (7, 3), (6, 1)] {
            var bad = bytes
            bad[index] = value
            XCTAssertEqual(reason(parse(bad, ARPPacket.parse)), .arpUnsupported, "byte \(index)")
        }
    }

    // MARK: IPv4

    let ipv4Bytes: [UInt8] = [0x45, 0x00, 0x00, 0x1c, 0xab, 0xcd, 0x20, 0x03, 0x40, 0x11, 0x00, 0x00,
                              10, 0, 0, 1, 10, 0, 0, 2,
                              1, 2, 3, 4, 5, 6, 7, 8]

    var validIPv4: [UInt8] {
        var bytes = ipv4Bytes
        let sum = referenceChecksum(Array(bytes[0..<20]))
        bytes[10] = UInt8(sum >> 8)
        bytes[11] = UInt8(sum & 0xff)
        return bytes
    }

    func testIPv4() throws {
        let bytes = validIPv4
        let header = try parse(bytes, { (b) throws(DropReason) in try IPv4Header.parse(b) }).get()
        XCTAssertEqual(header.headerLength, 20)
        XCTAssertEqual(header.totalLength, 28)
        XCTAssertEqual(header.payloadLength, 8)
        XCTAssertEqual(header.identification, 0xabcd)
        XCTAssertTrue(header.moreFragments)
        XCTAssertFalse(header.dontFragment)
        XCTAssertEqual(header.fragmentOffset, 24)
        XCTAssertTrue(header.isFragment)
        XCTAssertEqual(header.timeToLive, 64)
        XCTAssertEqual(header.protocolNumber, IPProtocol.udp)
        XCTAssertEqual(header.source, ip("10.0.0.1"))
        XCTAssertEqual(header.destination, ip("10.0.0.2"))
        XCTAssertEqual(emitted(20) { header.emit(into: $0) }, Array(bytes[0..<20]))
        // Link padding after the total length is fine.
        XCTAssertNoThrow(try parse(bytes + [0, 0], { (b) throws(DropReason) in try IPv4Header.parse(b) }).get())
    }

    func testIPv4Options() throws {
        // IHL 6: one 4-byte option (NOPs + end), skipped.
        let packet = Build.ipv4(from: ip("1.2.3.4"), to: ip("5.6.7.8"), protocol: 17, options: [1, 1, 1, 0], [9, 9])
        let header = try parse(packet, { (b) throws(DropReason) in try IPv4Header.parse(b) }).get()
        XCTAssertEqual(header.headerLength, 24)
        XCTAssertEqual(header.payloadLength, 2)
    }

    func testIPv4Malformed() {
        let parser = { (b: UnsafeRawBufferPointer) throws(DropReason) in try IPv4Header.parse(b) }
        let bytes = validIPv4
        for length in 0..<28 {
            XCTAssertEqual(reason(parse(Array(bytes[0..<length]), parser)), .ipv4Truncated, "length \(length)")
        }
        func mutated(_ index: Int, _ value: UInt8, fixChecksum: Bool = true) -> [UInt8] {
            var b = bytes
            b[index] = value
            if fixChecksum {
                b[10] = 0
                b[11] = 0
                let sum = referenceChecksum(Array(b[0..<20]))
                b[10] = UInt8(sum >> 8)
                b[11] = UInt8(sum & 0xff)
            }
            return b
        }
        XCTAssertEqual(reason(parse(mutated(0, 0x65), parser)), .ipv4Version)
        XCTAssertEqual(reason(parse(mutated(0, 0x44), parser)), .ipv4HeaderLength)
        XCTAssertEqual(reason(parse(mutated(0, 0x40), parser)), .ipv4HeaderLength)
        XCTAssertEqual(reason(parse(mutated(0, 0x48), parser)), .ipv4Truncated)  // 32-byte header in 28
        XCTAssertEqual(reason(parse(mutated(3, 0x10), parser)), .ipv4TotalLength)  // 16 < 20
        XCTAssertEqual(reason(parse(mutated(3, 0x1d), parser)), .ipv4Truncated)  // 29 > 28
        XCTAssertEqual(reason(parse(mutated(8, 0x41, fixChecksum: false), parser)), .ipv4Checksum)
        XCTAssertEqual(reason(parse(mutated(19, 3, fixChecksum: false), parser)), .ipv4Checksum)
    }

    // MARK: ICMP

    func testICMPEcho() throws {
        // type 8, code 0, checksum, identifier 0x0102, sequence 0x0304, data "hi".
        var bytes: [UInt8] = [8, 0, 0, 0, 0x01, 0x02, 0x03, 0x04, 0x68, 0x69]
        let sum = referenceChecksum(bytes)
        bytes[2] = UInt8(sum >> 8)
        bytes[3] = UInt8(sum & 0xff)
        let header = try parse(bytes, ICMPv4Header.parse).get()
        XCTAssertEqual(header, ICMPv4Header.echo(request: true, identifier: 0x0102, sequence: 0x0304))
        XCTAssertEqual(header.identifier, 0x0102)
        XCTAssertEqual(header.sequence, 0x0304)
        XCTAssertFalse(header.isError)
        var out = bytes
        out[0...3] = [0xee, 0xee, 0xee, 0xee]
        out.withUnsafeMutableBytes { header.emit(into: $0) }
        XCTAssertEqual(out, bytes)
        for length in 0..<8 {
            XCTAssertEqual(reason(parse(Array(bytes[0..<length]), ICMPv4Header.parse)), .icmpTruncated)
        }
        var bad = bytes
        bad[9] ^= 1
        XCTAssertEqual(reason(parse(bad, ICMPv4Header.parse)), .icmpChecksum)
        XCTAssertTrue(ICMPv4Header(type: 3, code: 3).isError)
        XCTAssertTrue(ICMPv4Header(type: 11, code: 0).isError)
    }

    // MARK: UDP

    func testUDP() throws {
        let src = IPv4Endpoint(address: ip("10.0.0.1"), port: 0x1234)
        let dst = IPv4Endpoint(address: ip("10.0.0.2"), port: 53)
        let bytes = Build.udp(from: src, to: dst, [1, 2, 3])
        XCTAssertEqual(Array(bytes[0..<6]), [0x12, 0x34, 0x00, 0x35, 0x00, 0x0b])
        let parser = { (b: UnsafeRawBufferPointer) throws(DropReason) in
            try UDPHeader.parse(b, source: src.address, destination: dst.address)
        }
        let header = try parse(bytes, parser).get()
        XCTAssertEqual(header, UDPHeader(sourcePort: 0x1234, destinationPort: 53, payloadLength: 3))
        var out = bytes
        out[0...7] = [0, 0, 0, 0, 0, 0, 0, 0]
        out.withUnsafeMutableBytes { header.emit(into: $0, source: src.address, destination: dst.address) }
        XCTAssertEqual(out, bytes)
        // Zero checksum: none (IPv4), accepted even with wrong data.
        XCTAssertNoThrow(try parse(Build.udp(from: src, to: dst, [1, 2, 3], checksum: false), parser).get())
        // Bytes after the UDP length (IP payload padding) are ignored.
        XCTAssertNoThrow(try parse(bytes + [0], parser).get())
        for length in 0..<8 {
            XCTAssertEqual(reason(parse(Array(bytes[0..<length]), parser)), .udpTruncated)
        }
        for length in 8..<11 {
            XCTAssertEqual(reason(parse(Array(bytes[0..<length]), parser)), .udpLength)
        }
        var short = bytes
        short[5] = 7
        XCTAssertEqual(reason(parse(short, parser)), .udpLength)
        var corrupt = bytes
        corrupt[9] ^= 0x40
        XCTAssertEqual(reason(parse(corrupt, parser)), .udpChecksum)
        // The pseudo-header counts: another destination fails.
        XCTAssertEqual(reason(parse(bytes, { (b) throws(DropReason) in
            try UDPHeader.parse(b, source: src.address, destination: ip("10.0.0.3")) })), .udpChecksum)        // A checksum the device vouches for (offloads) is not summed; the lengths still are.
        let trusted = { (b: UnsafeRawBufferPointer) throws(DropReason) in
            try UDPHeader.parse(b, source: src.address, destination: dst.address, checksumTrusted: true)
        }
        XCTAssertNoThrow(try parse(corrupt, trusted).get())
        XCTAssertEqual(reason(parse(short, trusted)), .udpLength)
    }

    func testUDPComputedZeroIsSentAsOnes() {
        // Find data whose checksum computes to zero, and check it goes out as ffff.
        let src = ip("10.0.0.1"), dst = ip("10.0.0.2")
        var datagram: [UInt8] = [0, 1, 0, 2, 0, 10, 0, 0, 0, 0]
        for word in 0...0xffff {
            datagram[8] = UInt8(word >> 8)
            datagram[9] = UInt8(word & 0xff)
            let pseudo = ipBytes(src) + ipBytes(dst) + [0, 17, 0, 10]
            if referenceChecksum(pseudo + datagram) == 0 { break }
        }
        datagram.withUnsafeMutableBytes {
            UDPHeader(sourcePort: 1, destinationPort: 2, payloadLength: 2).emit(into: $0, source: src, destination: dst)
        }
        XCTAssertEqual(Array(datagram[6..<8]), [0xff, 0xff])
    }
}
