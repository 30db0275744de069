// SplitMix64: a small seedable generator for the stack's own randomness
// (DHCP transaction IDs and jitter) and for link fault injection, where the
// same seed must give the same sequence. Integer only (hvt has no floating
// point). Not for secrets: those come from the platform's entropy.

public struct SeededRandom {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
