// TCP's clocks: the retransmission timeout estimator (RFC 6298: SRTT and
// RTTVAR from samples, RTO = SRTT + max(G, 4 RTTVAR) clamped to the
// configured minimum and maximum, doubled on each expiry) and initial
// sequence numbers (RFC 6528: a 4 us clock plus a keyed hash of the
// connection's addresses and ports, so ISNs are unpredictable off-path and
// still increase for one 4-tuple). The key is the caller's randomness
// (TCPSettings.secret); time is nanoseconds from the caller.
// Karn's rule (never sample a retransmitted segment) is applied by the
// caller, TCPConnection. Tests: Tests/NetTests/TCPTimerTests.swift.

struct RTOEstimator {
    /// The clock granularity G (RFC 6298 §2): our clock is nanoseconds, 1 ms is a safe floor.
    static let granularity: UInt64 = 1_000_000

    let minimum: UInt64
    let maximum: UInt64
    private(set) var smoothed: UInt64?
    private(set) var variation: UInt64 = 0
    /// The timeout to arm now, backoff included.
    private(set) var timeout: UInt64

    init(initial: UInt64, minimum: UInt64, maximum: UInt64) {
        self.minimum = minimum
        self.maximum = maximum
        timeout = min(max(initial, minimum), maximum)
    }

    /// A round-trip measurement (RFC 6298 §2.2, §2.3); it also ends any backoff.
    mutating func sample(_ measured: UInt64) {
        // A clock that went backwards gives a wrapped huge value: treat it as the longest wait.
        let rtt = min(measured, maximum)
        if let srtt = smoothed {
            let difference = srtt > rtt ? srtt - rtt : rtt - srtt
            variation = (3 * variation + difference) / 4
            smoothed = (7 * srtt + rtt) / 8
        } else {
            smoothed = rtt
            variation = rtt / 2
        }
        let computed = (smoothed ?? rtt) + max(RTOEstimator.granularity, 4 * variation)
        timeout = min(max(computed, minimum), maximum)
    }

    /// An expiry doubles the timeout (RFC 6298 §5.5), up to the maximum.
    mutating func backOff() {
        timeout = min(timeout > maximum / 2 ? maximum : timeout * 2, maximum)
    }
}

/// RFC 6528 initial sequence numbers: ISN = M + F(4-tuple, secret).
struct ISNGenerator {
    let key0: UInt64
    let key1: UInt64

    func isn(local: IPv4Endpoint, remote: IPv4Endpoint, now: UInt64) -> UInt32 {
        let addresses = UInt64(local.address.value) << 32 | UInt64(remote.address.value)
        let ports = UInt64(local.port) << 16 | UInt64(remote.port)
        let hash = ISNGenerator.sipHash(key0, key1, addresses, ports)
        // M: a timer that ticks every 4 microseconds.
        return UInt32(truncatingIfNeeded: now / 4000) &+ UInt32(truncatingIfNeeded: hash)
    }

    /// SipHash-2-4 of two 64-bit words (the pseudo-random function RFC 6528 asks for).
    static func sipHash(_ k0: UInt64, _ k1: UInt64, _ m0: UInt64, _ m1: UInt64) -> UInt64 {
        var v0 = k0 ^ 0x736f_6d65_7073_6575, v1 = k1 ^ 0x646f_7261_6e64_6f6d
        var v2 = k0 ^ 0x6c79_6765_6e65_7261, v3 = k1 ^ 0x7465_6462_7974_6573
        func round() {
            v0 = v0 &+ v1; v1 = rotate(v1, 13); v1 ^= v0; v0 = rotate(v0, 32)
            v2 = v2 &+ v3; v3 = rotate(v3, 16); v3 ^= v2
            v0 = v0 &+ v3; v3 = rotate(v3, 21); v3 ^= v0
            v2 = v2 &+ v1; v1 = rotate(v1, 17); v1 ^= v2; v2 = rotate(v2, 32)
        }
        let last: UInt64 = 16 << 56  // the message length in the top byte, no tail bytes
        func absorb(_ m: UInt64) {
            v3 ^= m
            round(); round()
            v0 ^= m
        }
        absorb(m0); absorb(m1); absorb(last)
        v2 ^= 0xff
        round(); round(); round(); round()
        return v0 ^ v1 ^ v2 ^ v3
    }

    @inline(__always) private static func rotate(_ x: UInt64, _ b: UInt64) -> UInt64 { x << b | x >> (64 - b) }
}
