// blktest: writes a pattern across the whole first block device, reads it
// back and compares, and checks that misaligned and out-of-range requests are
// refused. The host then checks the disk image itself (Tests/BootTests).
// Pattern: the little-endian 64-bit word at byte offset o is
// o &* 0x9E3779B97F4A7C15 &+ 0x5EED. Exit: 0 verified, 1 mismatch or error,
// 3 no block device.

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

    static func expectInvalid(_ body: () throws(DeviceError) -> Void) -> Bool {
        do { try body() } catch { return error == .invalidRequest }
        return false
    }
}
