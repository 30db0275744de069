// Entropy for Hashable seeding and Int.random on x86_64 images: RDRAND where
// the CPU has it, otherwise the TSC mixed through splitmix64 (not
// cryptographic).

import CPU

@_cdecl("arc4random_buf")
func x86RandomBytes(_ buffer: UnsafeMutableRawPointer, _ count: Int) {
    var i = 0
    while i < count {
        var word = Entropy.next()
        withUnsafeBytes(of: &word) { bytes in
            for b in bytes where i < count {
                buffer.storeBytes(of: b, toByteOffset: i, as: UInt8.self)
                i += 1
            }
        }
    }
}

enum Entropy {
    nonisolated(unsafe) static var hasRDRAND: Bool? = nil
    nonisolated(unsafe) static var state: UInt64 = 0

    static func next() -> UInt64 {
        if hasRDRAND == nil {
            var a: UInt32 = 0, b: UInt32 = 0, c: UInt32 = 0, d: UInt32 = 0
            cpu_cpuid(1, 0, &a, &b, &c, &d)
            hasRDRAND = c & (1 << 30) != 0
        }
        if hasRDRAND == true {
            var value: UInt64 = 0
            for _ in 0..<10 where cpu_rdrand64(&value) != 0 { return value }
        }
        state = state &+ cpu_rdtsc() &+ 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
