// libFuzzer target for the DHCP and DNS message parsers (fuzz/run.sh builds
// and runs it). The first input byte picks the parser; the rest is one UDP
// payload: a DHCP server reply (DHCPMessage.parse, then a client in
// SELECTING takes it), or a DNS response to the query for
// "www.swiftlet.test" with ID 0x1234 (DNSMessage.parseResponse, then a
// DNSQuery takes it). Invariants: nothing traps or hangs; a parsed DNS
// answer names at most what fits the message.

import Net

let name = DNSMessage.encodeName(Array("www.swiftlet.test".utf8))!

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard size > 0 else { return 0 }
    let payload = UnsafeRawBufferPointer(start: data + 1, count: size - 1)
    if data[0] & 1 == 0 {
        _ = try? DHCPMessage.parse(payload)
        let client = DHCPClient(mac: EthernetAddress(2, 0, 0, 0, 0, 2), seed: 1)
        _ = client.poll(now: 0)
        _ = client.takeDatagram()
        client.receive(payload, from: IPv4Endpoint(address: IPv4Address(10, 0, 0, 1), port: 67), now: 1)
        _ = client.poll(now: 2)
    } else {
        if let response = try? DNSMessage.parseResponse(payload, identifier: 0x1234, name: name) {
            precondition(response.addresses.count * 16 <= payload.count, "more answers than the message holds")
        }
        let query = try! DNSQuery(name: Array("www.swiftlet.test".utf8), servers: [IPv4Address(10, 0, 0, 1)],
                                  identifier: 0x1234)
        _ = query.poll(now: 0)
        query.receive(payload, from: IPv4Endpoint(address: IPv4Address(10, 0, 0, 1), port: 53), now: 1)
        _ = query.poll(now: 3_000_000_000)
    }
    return 0
}
