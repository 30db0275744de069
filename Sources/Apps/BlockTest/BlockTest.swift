// blktest: writes a pattern across the whole first block device, reads it
// back and compares, and checks that misaligned and out-of-range requests are
// refused. The host then checks the disk image itself (Tests/BootTests).
// Pattern: the little-endian 64-bit word at byte offset o is
// o &* 0x9E3779B97F4A7C15 &+ 0x5EED. Exit: 0 verified, 1 mismatch or error,
// 3 no block device.
// `blktest throughput KIB` instead writes then reads the whole disk
// sequentially in KIB-KiB requests and prints
// `block_write_KIBk_bytes_per_s N` and `block_read_KIBk_bytes_per_s N`
// (the benchmark; time from the monotonic clock).

import Swiftlet

@main
struct BlockTest {
    static func word(at offset: Int) -> UInt64 { UInt64(offset) &* 0x9E37_79B9_7F4A_7C15 &+ 0x5EED }

    static func main() {
        guard let disk = Devices.block.first else {
            Console.print("blktest: no block device")
            Kernel.exit(3)
        }
        let sector = disk.sectorSize
        let sectors = Int(disk.capacity) / sector
        Console.print("blktest: \(disk.name): \(sectors) sectors of \(sector) bytes")
        let arguments = Kernel.rawArguments
        if arguments.count == 2 && arguments[0] == "throughput" {
            throughput(disk, kib: arguments[1].utf8.reduce(0) { $0 * 10 + Int($1) - 48 })
            return
        }
        let perRequest = 4  // multi-sector requests
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: perRequest * sector, alignment: 16)
        do {
            var first = 0
            while first < sectors {
                let count = min(perRequest, sectors - first)
                let offset = first * sector
                for w in 0..<(count * sector / 8) {
                    buffer.storeBytes(of: word(at: offset + w * 8).littleEndian, toByteOffset: w * 8, as: UInt64.self)
                }
                try disk.write(at: UInt64(offset), from: UnsafeRawBufferPointer(rebasing: buffer[0..<count * sector]))
                first += count
            }
            try disk.flush()
            first = 0
            while first < sectors {
                let count = min(perRequest, sectors - first)
                let offset = first * sector
                buffer.initializeMemory(as: UInt8.self, repeating: 0)
                try disk.read(at: UInt64(offset), into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<count * sector]))
                for w in 0..<(count * sector / 8) where buffer.load(fromByteOffset: w * 8, as: UInt64.self) != word(at: offset + w * 8).littleEndian {
                    Console.print("blktest: mismatch at byte \(offset + w * 8)")
                    Kernel.exit(1)
                }
                first += count
            }
        } catch {
            Console.print("blktest: I/O failed")
            Kernel.exit(1)
        }
        // Bad requests are refused, not performed.
        let misaligned = expectInvalid { () throws(DeviceError) in
            try disk.write(at: 1, from: UnsafeRawBufferPointer(rebasing: buffer[0..<sector]))
        }
        let pastEnd = expectInvalid { () throws(DeviceError) in
            try disk.read(at: disk.capacity, into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<sector]))
        }
        guard misaligned && pastEnd else {
            Console.print("blktest: a bad request was not refused")
            Kernel.exit(1)
        }
        Console.print("blktest: wrote and verified \(sectors) sectors; bad requests refused")
    }

    static func throughput(_ disk: any BlockDevice, kib: Int) {
        let request = kib << 10
        guard kib > 0, kib <= 1024, request % disk.sectorSize == 0, UInt64(request) <= disk.capacity else {
            Console.print("blktest: throughput needs a request size in KiB, a multiple of the sector size")
            Kernel.exit(2)
        }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: request, alignment: 4096)
        buffer.initializeMemory(as: UInt8.self, repeating: 0x5A)
        let requests = Int(disk.capacity) / request
        for writing in [true, false] {
            let start = Kernel.monotonicClock
            do {
                for i in 0..<requests {
                    let offset = UInt64(i * request)
                    if writing {
                        try disk.write(at: offset, from: UnsafeRawBufferPointer(buffer))
                    } else {
                        try disk.read(at: offset, into: buffer)
                    }
                }
                if writing { try disk.flush() }
            } catch {
                Console.print("blktest: I/O failed")
                Kernel.exit(1)
            }
            let elapsed = max(Kernel.monotonicClock &- start, 1)
            let rate = UInt64(requests * request) &* 1_000_000_000 / elapsed  // exact below 18 GB
            Console.print("block_\(writing ? "write" : "read")_\(kib)k_bytes_per_s \(rate)")
        }
    }

    static func expectInvalid(_ body: () throws(DeviceError) -> Void) -> Bool {
        do { try body() } catch { return error == .invalidRequest }
        return false
    }
}
