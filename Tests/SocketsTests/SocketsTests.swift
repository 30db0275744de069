// The blocking socket API on real threads: two stacks in one process wired
// back to back through in-memory devices (optionally behind the fault
// middleware), each served by its own net thread.

import Net
import NetHost
import Sockets
import Swiftlet
import Threads
import XCTest
import PlatformHosted

/// One end of an in-memory Ethernet cable: what one end transmits, the other receives.
final class CableEnd: NetworkDevice {
    static let nameBytes: UnsafeMutablePointer<UInt8> = {
        let p = UnsafeMutablePointer<UInt8>.allocate(capacity: 6)
        p.initialize(from: Array("cable\0".utf8), count: 6)
        return p
    }()
    weak var peer: CableEnd?
    var queue: [[UInt8]] = []
    let mac: MACAddress
    let event: DeviceEvent
    init(mac last: UInt8, bit: Int) {
        mac = MACAddress(2, 0, 0, 0, 0, last)
        event = DeviceEvent(bit: bit)
    }
    var name: RawArgument { RawArgument(cString: CableEnd.nameBytes) }
    var mtu: Int { 1500 }
    func receive(into buffer: UnsafeMutableRawBufferPointer) throws(DeviceError) -> ReceivedFrame? {
        guard !queue.isEmpty else { return nil }
        let frame = queue.removeFirst()
        frame.withUnsafeBytes { buffer.copyMemory(from: $0) }
        return ReceivedFrame(length: frame.count)
    }
    func transmit(_ frame: UnsafeRawBufferPointer, segmentSize: Int) throws(DeviceError) {
        guard let peer else { return }
        peer.queue.append(Array(frame))
        Events.deliver(1 << UInt64(peer.event.bit))
    }
}

final class SocketsTests: XCTestCase {
    var stacks: [NetworkStack] = []
    var faulty: [FaultyNetworkDevice] = []
    let serverAddress = IPv4Address(10, 0, 0, 1)

    override func tearDown() {
        for stack in stacks { stack.stop() }
        stacks = []
    }

    /// Stacks 10.0.0.1 (server) and 10.0.0.2 (client), each device behind `faults`.
    func makeStacks(faults: LinkFaults? = nil) throws -> (server: NetworkStack, client: NetworkStack) {
        let a = CableEnd(mac: 1, bit: 60), b = CableEnd(mac: 2, bit: 61)
        a.peer = b
        b.peer = a
        var limits = InterfaceLimits()
        limits.tcp.minimumRTO = 20_000_000  // a LAN: retransmit after 20 ms, not RFC 6298's 1 s
        limits.tcp.initialRTO = 100_000_000
        func stack(_ device: CableEnd, _ last: UInt8) throws -> NetworkStack {
            var wrapped: any NetworkDevice = device
            if let faults {
                let middleware = FaultyNetworkDevice(device, faults: faults)
                faulty.append(middleware)
                wrapped = middleware
            }
            let host = try NetworkHost(device: wrapped, ipv4: IPv4Configuration(address: IPv4Address(10, 0, 0, last), prefixLength: 24),
                                       limits: limits, application: "test")
            let stack = try XCTUnwrap(NetworkStack(host: host))
            stacks.append(stack)
            return stack
        }
        return (try stack(a, 1), try stack(b, 2))
    }

    /// Bytes 0, 1, ... 250, 0, ... (a period that no power-of-two buffer size lines up with).
    func pattern(_ count: Int) -> [UInt8] { (0..<count).map { UInt8($0 % 251) } }

    func readAll(_ stream: TCPStream, timeout: UInt64 = 30_000_000_000) throws -> [UInt8] {
        var received: [UInt8] = []
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 8192, alignment: 8)
        defer { buffer.deallocate() }
        while true {
            let count = try stream.read(into: buffer, timeout: timeout)
            if count == 0 { return received }
            received += buffer[0..<count]
        }
    }

    /// A server thread echoing one connection, and a client sending `data`,
    /// half-closing and reading everything back.
    func echoRoundTrip(_ data: [UInt8], faults: LinkFaults? = nil) throws -> [UInt8] {
        let (server, client) = try makeStacks(faults: faults)
        let listener = try TCPServer(port: 7, on: server)
        let echo = try XCTUnwrap(Thread.spawn(name: "echo", stackSize: NetworkStack.stackSize) {
            guard let stream = try? listener.accept(timeout: 10_000_000_000) else { return 1 }
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 8)
            defer { buffer.deallocate() }
            while let count = try? stream.read(into: buffer, timeout: 30_000_000_000), count > 0 {
                guard (try? stream.write(UnsafeRawBufferPointer(rebasing: buffer[0..<count]))) == count else { return 2 }
            }
            stream.close()
            return 0
        })
        let stream = try TCPStream.connect(to: IPv4Endpoint(address: serverAddress, port: 7), on: client,
                                           timeout: 5_000_000_000)
        // Write from another thread so the echo flows back while we read.
        let writer = try XCTUnwrap(Thread.spawn(name: "writer", stackSize: NetworkStack.stackSize) {
            let written = data.withUnsafeBytes { (try? stream.write($0, timeout: 30_000_000_000)) ?? -1 }
            stream.shutdown()
            return written
        })
        let received = try readAll(stream)
        XCTAssertEqual(writer.join(), data.count)
        XCTAssertEqual(echo.join(), 0)
        stream.close()
        return received
    }

    func testEchoOneMebibyteThroughBlockingSockets() throws {
        let data = pattern(1 << 20)
        XCTAssertEqual(try echoRoundTrip(data), data)
    }

    func testEchoOverAFaultyLink() throws {
        var faults = LinkFaults()
        (faults.loss, faults.reorder, faults.duplicate, faults.corrupt, faults.seed) = (500, 500, 500, 100, 11)
        let data = pattern(512 << 10)
        XCTAssertEqual(try echoRoundTrip(data, faults: faults), data)
        // The faults did happen, both ways on both ends. Thread timing decides
        // which frame meets which roll, so the rare fault (1% corruption of a
        // few hundred frames per direction) is counted over all four directions.
        let directions = faulty.flatMap { [$0.inbound, $0.outbound] }
        XCTAssertEqual(directions.count, 4)
        for counters in directions {
            XCTAssertGreaterThan(counters.dropped, 0)
            XCTAssertGreaterThan(counters.reordered, 0)
            XCTAssertGreaterThan(counters.duplicated, 0)
        }
        XCTAssertGreaterThan(directions.reduce(0) { $0 + $1.corrupted }, 0)
    }

    func testConnectToAClosedPortIsRefused() throws {
        let (_, client) = try makeStacks()
        XCTAssertThrowsError(try TCPStream.connect(to: IPv4Endpoint(address: serverAddress, port: 81), on: client,
                                                   timeout: 5_000_000_000)) {
            XCTAssertEqual($0 as? NetworkError, .refused)
        }
    }

    func testTimeouts() throws {
        let (server, client) = try makeStacks()
        let listener = try TCPServer(port: 80, on: server)
        XCTAssertThrowsError(try listener.accept(timeout: 30_000_000)) { XCTAssertEqual($0 as? NetworkError, .timedOut) }
        // Nobody answers ARP for 10.0.0.9: the attempt is abandoned at its timeout.
        XCTAssertThrowsError(try TCPStream.connect(to: IPv4Endpoint(address: IPv4Address(10, 0, 0, 9), port: 80),
                                                   on: client, timeout: 50_000_000)) {
            XCTAssertEqual($0 as? NetworkError, .timedOut)
        }
        let stream = try TCPStream.connect(to: IPv4Endpoint(address: serverAddress, port: 80), on: client, timeout: 5_000_000_000)
        let accepted = try listener.accept(timeout: 5_000_000_000)
        var byte: UInt8 = 0
        XCTAssertThrowsError(try withUnsafeMutableBytes(of: &byte) { try stream.read(into: $0, timeout: 30_000_000) }) {
            XCTAssertEqual($0 as? NetworkError, .timedOut)
        }
        // A full send buffer (the peer never reads): a write takes what fits, then times out with a count.
        let big = pattern(1 << 20)
        let written = try big.withUnsafeBytes { try stream.write($0, timeout: 200_000_000) }
        XCTAssertGreaterThan(written, 0)
        XCTAssertLessThan(written, big.count)
        accepted.connection.abort()
    }

    func testResetAndShutdownErrors() throws {
        let (server, client) = try makeStacks()
        let listener = try TCPServer(port: 80, on: server)
        let stream = try TCPStream.connect(to: IPv4Endpoint(address: serverAddress, port: 80), on: client, timeout: 5_000_000_000)
        let accepted = try listener.accept(timeout: 5_000_000_000)
        // Orderly close: the reader sees the end of the stream, then writing after our own shutdown fails.
        accepted.shutdown()
        var byte: UInt8 = 1
        XCTAssertEqual(try withUnsafeMutableBytes(of: &byte) { try stream.read(into: $0, timeout: 5_000_000_000) }, 0)
        stream.shutdown()
        XCTAssertThrowsError(try withUnsafeBytes(of: &byte) { try stream.write($0, timeout: 1_000_000_000) }) {
            XCTAssertEqual($0 as? NetworkError, .closed)
        }
        // A reset reaches a blocked reader as .reset.
        let second = try TCPStream.connect(to: IPv4Endpoint(address: serverAddress, port: 80), on: client, timeout: 5_000_000_000)
        let other = try listener.accept(timeout: 5_000_000_000)
        let resetter = try XCTUnwrap(Thread.spawn(name: "reset", stackSize: NetworkStack.stackSize) {
            Thread.sleep(nanoseconds: 20_000_000)
            other.connection.abort()
            server.service()
            return 0
        })
        XCTAssertThrowsError(try withUnsafeMutableBytes(of: &byte) { try second.read(into: $0, timeout: 5_000_000_000) }) {
            XCTAssertEqual($0 as? NetworkError, .reset)
        }
        XCTAssertEqual(resetter.join(), 0)
        listener.close()
        XCTAssertThrowsError(try listener.accept(timeout: 1_000_000_000)) { XCTAssertEqual($0 as? NetworkError, .closed) }
    }

    func testUDPRoundTripAndTimeout() throws {
        let (server, client) = try makeStacks()
        let service = try UDPEndpoint(port: 53, on: server)
        let socket = try UDPEndpoint(on: client)
        XCTAssertThrowsError(try UDPEndpoint(port: 53, on: server)) { XCTAssertEqual($0 as? NetworkError, .addressInUse) }
        let message = Array("hello".utf8)
        try message.withUnsafeBytes { try socket.send($0, to: IPv4Endpoint(address: serverAddress, port: 53)) }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64, alignment: 8)
        defer { buffer.deallocate() }
        let received = try service.receive(into: buffer, timeout: 5_000_000_000)
        XCTAssertEqual(Array(buffer[0..<received.length]), message)
        XCTAssertEqual(received.source, IPv4Endpoint(address: IPv4Address(10, 0, 0, 2), port: socket.port))
        XCTAssertThrowsError(try socket.receive(into: buffer, timeout: 30_000_000)) { XCTAssertEqual($0 as? NetworkError, .timedOut) }
        // No one at port 54: the ICMP port unreachable comes back as .refused.
        try message.withUnsafeBytes { try socket.send($0, to: IPv4Endpoint(address: serverAddress, port: 54)) }
        XCTAssertThrowsError(try socket.receive(into: buffer, timeout: 5_000_000_000)) { XCTAssertEqual($0 as? NetworkError, .refused) }
    }
}
