// Guest memory as the monitor sees it: a host mapping of `size` bytes at
// guest-physical 0. Every guest address and length is checked here before
// the monitor touches it; a bad one is the guest's fault, never the host's.
// Tests: Tests/MonitorCoreTests/HypercallTests.swift.

public struct GuestMemory {
    public let base: UnsafeMutableRawPointer
    public let size: UInt64

    public init(base: UnsafeMutableRawPointer, size: UInt64) {
        self.base = base
        self.size = size
    }

    /// The bytes [address, address + length), or nil when any of them lies
    /// outside guest memory (overflow-checked).
    public func bytes(at address: UInt64, length: UInt64) -> UnsafeMutableRawBufferPointer? {
        let (end, overflow) = address.addingReportingOverflow(length)
        guard !overflow, end <= size, length <= UInt64(Int.max) else { return nil }
        return UnsafeMutableRawBufferPointer(start: base + Int(address), count: Int(length))
    }

    public func load<T: FixedWidthInteger>(_ type: T.Type, at address: UInt64) -> T? {
        guard let raw = bytes(at: address, length: UInt64(MemoryLayout<T>.size)) else { return nil }
        return T(littleEndian: raw.loadUnaligned(as: T.self))
    }

    @discardableResult
    public func store<T: FixedWidthInteger>(_ value: T, at address: UInt64) -> Bool {
        guard let raw = bytes(at: address, length: UInt64(MemoryLayout<T>.size)) else { return false }
        raw.storeBytes(of: value.littleEndian, as: T.self)
        return true
    }
}
