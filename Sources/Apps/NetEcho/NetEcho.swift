// netecho: the frame reflector. Returns every Ethernet frame it receives on
// the first network device with the source and destination addresses
// swapped. A frame of EtherType 0x88B5 whose payload starts with "STOP" is
// reflected and ends the run (status 0); 30 s without a frame ends it with
// status 2. Exit 3: no network device.

import Swiftlet
import Threads

@main
struct NetEcho {
    static func main() {
        guard let nic = Devices.network.first else {
            Console.print("netecho: no network device")
            Kernel.exit(3)
        }
        Console.print("netecho: \(nic.name) mtu \(nic.mtu) mac \(nic.mac)")
        let frame = UnsafeMutableRawBufferPointer.allocate(byteCount: nic.mtu + 14, alignment: 16)
        var reflected = 0
        var lastFrame = Kernel.wallClock
        while true {
            let received: ReceivedFrame?
            do { received = try nic.receive(into: frame) } catch {
                Console.print("netecho: receive failed")
                Kernel.exit(1)
            }
            guard let length = received?.length else {
                if Kernel.wallClock &- lastFrame > 30_000_000_000 {
                    Console.print("netecho: idle for 30 s after \(reflected) frames")
                    Kernel.exit(2)
                }
                _ = Events.wait(for: nic.event, until: Kernel.monotonicClock &+ 1_000_000_000)
                continue
            }
            lastFrame = Kernel.wallClock
            guard length >= 14 else { continue }
            for i in 0..<6 {
                let destination = frame[i]
                frame[i] = frame[i + 6]
                frame[i + 6] = destination
            }
            do { try nic.transmit(UnsafeRawBufferPointer(rebasing: frame[0..<length])) } catch {
                Console.print("netecho: transmit failed")
                Kernel.exit(1)
            }
            reflected += 1
            if length >= 18 && frame[12] == 0x88 && frame[13] == 0xB5
                && frame[14] == 0x53 && frame[15] == 0x54 && frame[16] == 0x4F && frame[17] == 0x50 {
                Console.print("netecho: reflected \(reflected) frames")
                return
            }
        }
    }
}
