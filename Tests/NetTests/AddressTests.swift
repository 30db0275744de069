// Addresses and static configuration: text forms, networks, and every
// malformed --ipv4 / --ipv4-gateway value with its error.

import Net
import XCTest

final class AddressTests: XCTestCase {
    func testIPv4AddressText() {
        XCTAssertEqual(IPv4Address("192.168.1.254")?.value, 0xc0a8_01fe)
        XCTAssertEqual(IPv4Address("0.0.0.0"), .any)
        XCTAssertEqual(IPv4Address("255.255.255.255"), .broadcast)
        XCTAssertEqual(IPv4Address(10, 0, 0, 1).description, "10.0.0.1")
        for bad in ["", "1", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1.2.3.-4", "1..2.3", ".1.2.3", "1.2.3.",
                    "01.2.3.4", "1.2.3.4 ", " 1.2.3.4", "1.2.3.4/8", "a.b.c.d", "1.2.3.1000", "00.1.2.3"] {
            XCTAssertNil(IPv4Address(bad), bad)
        }
        XCTAssertEqual(IPv4Address("0.10.100.200")?.description, "0.10.100.200")
    }

    func testEthernetAddress() {
        let mac = EthernetAddress(0x52, 0x54, 0x00, 0x12, 0x34, 0xab)
        XCTAssertEqual(mac.description, "52:54:00:12:34:ab")
        XCTAssertEqual(mac[5], 0xab)
        XCTAssertFalse(mac.isMulticast)
        XCTAssertTrue(EthernetAddress.broadcast.isBroadcast && EthernetAddress.broadcast.isMulticast)
        XCTAssertTrue(EthernetAddress(0x01, 0x00, 0x5e, 0, 0, 1).isMulticast)
    }

    func testNetwork() throws {
        let net = try XCTUnwrap(IPv4Network(address: ip("10.1.2.3"), prefixLength: 16))
        XCTAssertEqual(net.address, ip("10.1.0.0"))
        XCTAssertEqual(net.mask, ip("255.255.0.0"))
        XCTAssertEqual(net.broadcast, ip("10.1.255.255"))
        XCTAssertTrue(net.contains(ip("10.1.200.9")))
        XCTAssertFalse(net.contains(ip("10.2.0.1")))
        XCTAssertEqual(IPv4Network(address: ip("1.2.3.4"), prefixLength: 0)?.contains(ip("9.9.9.9")), true)
        XCTAssertNil(IPv4Network(address: ip("10.0.0.2"), prefixLength: 31)?.broadcast)
        XCTAssertNil(IPv4Network(address: ip("1.2.3.4"), prefixLength: 33))
        XCTAssertEqual(net.description, "10.1.0.0/16")
    }

    func parse(_ arguments: [String]) throws(ConfigurationError) -> IPv4Configuration? {
        try IPv4Configuration.parse(arguments: arguments.map { Array($0.utf8) })
    }

    func testConfigurationFromArguments() throws {
        let config = try XCTUnwrap(parse(["app", "--ipv4=10.0.0.2/24", "other", "--ipv4-gateway=10.0.0.1"]))
        XCTAssertEqual(config.address, ip("10.0.0.2"))
        XCTAssertEqual(config.network, IPv4Network(address: ip("10.0.0.0"), prefixLength: 24))
        XCTAssertEqual(config.gateway, ip("10.0.0.1"))
        XCTAssertNil(try parse(["app", "--verbose"]))
        XCTAssertNil(try parse(["--ipv4=192.168.7.9/32"])?.gateway)
        XCTAssertEqual(try parse(["--ipv4=10.0.0.0/31"])?.address, ip("10.0.0.0"))  // RFC 3021
    }

    func testConfigurationErrors() {
        let cases: [([String], ConfigurationError)] = [
            (["--ipv4"], .missingValue(.ipv4)),
            (["--ipv4="], .missingValue(.ipv4)),
            (["--ipv4x=1"], .missingValue(.ipv4)),
            (["--ipv4-gateway"], .missingValue(.ipv4Gateway)),
            (["--ipv4=10.0.0.2"], .malformedPrefix),
            (["--ipv4=10.0.0.2/"], .malformedPrefix),
            (["--ipv4=10.0.0.2/33"], .malformedPrefix),
            (["--ipv4=10.0.0.2/2a"], .malformedPrefix),
            (["--ipv4=10.0.0.2/024"], .malformedPrefix),
            (["--ipv4=10.0.0/24"], .malformedAddress(.ipv4)),
            (["--ipv4=10.0.0.2/24", "--ipv4-gateway=10.0.0"], .malformedAddress(.ipv4Gateway)),
            (["--ipv4=10.0.0.2/24", "--ipv4=10.0.0.3/24"], .duplicateOption(.ipv4)),
            (["--ipv4=10.0.0.2/24", "--ipv4-gateway=10.0.0.1", "--ipv4-gateway=10.0.0.1"], .duplicateOption(.ipv4Gateway)),
            (["--ipv4-gateway=10.0.0.1"], .gatewayWithoutAddress),
            (["--ipv4=10.0.0.0/24"], .unusableAddress),
            (["--ipv4=10.0.0.255/24"], .unusableAddress),
            (["--ipv4=0.0.0.0/0"], .unusableAddress),
            (["--ipv4=224.0.0.1/24"], .unusableAddress),
            (["--ipv4=127.0.0.1/8"], .unusableAddress),
            (["--ipv4=10.0.0.2/24", "--ipv4-gateway=10.0.1.1"], .gatewayNotOnLink),
            (["--ipv4=10.0.0.2/24", "--ipv4-gateway=10.0.0.255"], .gatewayNotOnLink),
            (["--ipv4=10.0.0.2/24", "--ipv4-gateway=10.0.0.2"], .gatewayIsOwnAddress),
        ]
        for (arguments, expected) in cases {
            do {
                _ = try parse(arguments)
                XCTFail("\(arguments) parsed")
            } catch {
                XCTAssertEqual(error, expected, "\(arguments)")
                XCTAssertFalse(error.message.isEmpty)
            }
        }
    }

    func testInvalidMTU() {
        let ipv4 = try! IPv4Configuration(address: ip("10.0.0.1"), prefixLength: 24)
        XCTAssertThrowsError(try Interface(configuration: InterfaceConfiguration(mac: macA, mtu: 67, ipv4: ipv4)))
        XCTAssertNoThrow(try Interface(configuration: InterfaceConfiguration(mac: macA, mtu: 68, ipv4: ipv4)))
    }
}
