// libFuzzer target for the IPv4 stack's packet path (fuzz/run.sh builds and
// runs it). Each input is one Ethernet frame handed to a configured
// Interface (10.0.0.2/24, gateway 10.0.0.1, an open UDP port 7) at a time
// taken from the input, then the timers run and the output is drained.
// Invariants: nothing traps or hangs; every frame the interface emits is at
// most MTU + 14 bytes and parses back as Ethernet; the UDP socket never
// holds more than its limit.

import Net

let mac = EthernetAddress(0x02, 0, 0, 0, 0, 2)
let ipv4 = try! IPv4Configuration(address: IPv4Address(10, 0, 0, 2), prefixLength: 24, gateway: IPv4Address(10, 0, 0, 1))
let configuration = InterfaceConfiguration(mac: mac, mtu: 1500, ipv4: ipv4)

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let input = UnsafeRawBufferPointer(start: data, count: size)
    guard let interface = try? Interface(configuration: configuration), let socket = try? interface.bindUDP(port: 7) else {
        fatalError("the fixed configuration must be accepted")
    }
    // The same frame twice, a second apart: the second meets the state (ARP
    // cache, reassembly) the first one left.
    var now: UInt64 = size > 0 ? UInt64(input[0]) &* 1_000_000 : 0
    for _ in 0..<2 {
        interface.receive(frame: input, now: now)
        _ = interface.poll(now: now)
        _ = interface.transmit { frame in
            precondition(frame.count <= 1514 && frame.count >= 14, "emitted frame of impossible length")
            precondition((try? EthernetHeader.parse(frame)) != nil, "emitted frame does not parse")
            return true
        }
        now &+= 1_000_000_000
    }
    precondition(socket.queuedDatagrams <= 64)
    var buffer = [UInt8](repeating: 0, count: 2048)
    while buffer.withUnsafeMutableBytes({ socket.receive(into: $0) }) != nil {}
    return 0
}
