// LinkFaults: fault injection, a middleware on the network device interface that
// drops, corrupts, duplicates and reorders Ethernet frames in both
// directions, so any platform can test its network stack on a bad link
// (this machine's kernel has no `tc netem`). Turned on by a boot argument:
//   --net-faults=loss=5,reorder=5,duplicate=5,corrupt=0.5,seed=42
// Rates are percentages with up to two decimals, rolled independently per
// frame and direction from one seeded generator (the same seed and the same
// frame sequence give the same faults). A reordered frame is held back and
// let go after the next frame of its batch: inbound when the device has no
// newer frame, outbound at `endTransmitBatch`, so nothing is held while the
// stack sleeps. Corruption flips one byte after the Ethernet header (the
// checksums must catch it: a corrupted frame is never `checksumTrusted`).
// The device's offloads stay off, so faults hit frames as they cross the link.
// Limits: one frame held per direction; only services built on NetworkHost
// use it (it wraps their device).
// Tests: Tests/NetHostTests/LinkFaultsTests.swift.

import Net
import Swiftlet

public struct LinkFaults: Equatable {
    /// Parts per 10,000 (percent with two decimals).
    public var loss = 0, reorder = 0, duplicate = 0, corrupt = 0
    public var seed: UInt64?

    public init() {}

    /// Reads `--net-faults=...` from `arguments`; nil when absent. Errors are one-line messages.
    public static func parse<Arguments: Sequence>(arguments: Arguments) throws(LinkFaultsError) -> LinkFaults?
    where Arguments.Element: Collection, Arguments.Element.Element == UInt8 {
        var found: LinkFaults?
        let option: StaticString = "--net-faults="
        let prefix = UnsafeBufferPointer(start: option.utf8Start, count: option.utf8CodeUnitCount)
        for argument in arguments where argument.starts(with: prefix) {
            guard found == nil else { throw LinkFaultsError("given twice") }
            var faults = LinkFaults()
            let value = argument.dropFirst(prefix.count)
            guard !value.isEmpty else { throw LinkFaultsError("needs KEY=VALUE,... (loss, reorder, duplicate, corrupt, seed)") }
            for item in value.split(separator: UInt8(ascii: ","), omittingEmptySubsequences: false) {
                guard let equals = item.firstIndex(of: UInt8(ascii: "=")) else {
                    throw LinkFaultsError("every item needs KEY=VALUE")
                }
                let key = item[..<equals], number = item[item.index(after: equals)...]
                if key.elementsEqual("seed".utf8) {
                    guard let seed = parseInteger(number) else { throw LinkFaultsError("seed: not a number") }
                    faults.seed = seed
                    continue
                }
                guard let rate = parseRate(number) else {
                    throw LinkFaultsError("rates are percentages 0...100 with at most two decimals")
                }
                if key.elementsEqual("loss".utf8) { faults.loss = rate }
                else if key.elementsEqual("reorder".utf8) { faults.reorder = rate }
                else if key.elementsEqual("duplicate".utf8) { faults.duplicate = rate }
                else if key.elementsEqual("corrupt".utf8) { faults.corrupt = rate }
                else { throw LinkFaultsError("unknown key (loss, reorder, duplicate, corrupt, seed)") }
            }
            found = faults
        }
        return found
    }

    static func parseInteger<Text: Collection>(_ text: Text) -> UInt64? where Text.Element == UInt8 {
        guard !text.isEmpty, text.count <= 19 else { return nil }
        var value: UInt64 = 0
        for byte in text {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            value = value * 10 + UInt64(byte - UInt8(ascii: "0"))
        }
        return value
    }

    /// "5" or "0.25" percent -> parts per 10,000 (integer only: hvt has no floating point).
    static func parseRate<Text: Collection>(_ text: Text) -> Int? where Text.Element == UInt8 {
        let dot = text.firstIndex(of: UInt8(ascii: "."))
        guard let whole = parseInteger(text[..<(dot ?? text.endIndex)]), whole <= 100 else { return nil }
        var hundredths: UInt64 = 0
        if let dot {
            let fraction = text[text.index(after: dot)...]
            guard fraction.count <= 2, let digits = parseInteger(fraction) else { return nil }
            hundredths = fraction.count == 1 ? digits * 10 : digits
        }
        let rate = Int(whole * 100 + hundredths)
        return rate <= 10_000 ? rate : nil
    }
}

public struct LinkFaultsError: Error, Equatable {
    public let detail: StaticString
    init(_ detail: StaticString) { self.detail = detail }
    public static func == (a: LinkFaultsError, b: LinkFaultsError) -> Bool {
        a.detail.utf8Start == b.detail.utf8Start
    }
}

/// What the middleware did to one direction's frames.
public struct LinkFaultCounters: Equatable {
    public var frames = 0, dropped = 0, corrupted = 0, duplicated = 0, reordered = 0
    public init(frames: Int = 0) { self.frames = frames }
}

public final class FaultyNetworkDevice: NetworkDevice {
    public let inner: any NetworkDevice
    public let faults: LinkFaults
    public private(set) var inbound = LinkFaultCounters()
    public private(set) var outbound = LinkFaultCounters()
    private var random: SeededRandom
    private var heldInbound: (bytes: [UInt8], trusted: Bool)?
    private var heldOutbound: [UInt8]?
    /// Inbound frames to hand out before asking the device (duplicates, released holds).
    private var ready: [(bytes: [UInt8], trusted: Bool)] = []

    /// The generator's seed (the given one, or a random one to report).
    public let seed: UInt64

    public init(_ inner: any NetworkDevice, faults: LinkFaults) {
        self.inner = inner
        self.faults = faults
        seed = faults.seed ?? UInt64.random(in: 0...UInt64.max)
        random = SeededRandom(seed: seed)
    }

    public var name: RawArgument { inner.name }
    public var mac: MACAddress { inner.mac }
    public var mtu: Int { inner.mtu }
    public var event: DeviceEvent { inner.event }

    public func receive(into buffer: UnsafeMutableRawBufferPointer) throws(DeviceError) -> ReceivedFrame? {
        if !ready.isEmpty { return deliver(ready.removeFirst(), into: buffer) }
        while true {
            guard var received = try inner.receive(into: buffer) else {
                // Nothing newer arrived: the held frame goes now.
                if let held = heldInbound {
                    heldInbound = nil
                    return deliver(held, into: buffer)
                }
                return nil
            }
            inbound.frames += 1
            let frame = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<received.length])
            if roll(faults.loss) { inbound.dropped += 1; continue }
            if roll(faults.corrupt) {
                corruptByte(frame)
                received.checksumTrusted = false
                inbound.corrupted += 1
            }
            if roll(faults.duplicate) { ready.append((Array(frame), received.checksumTrusted)); inbound.duplicated += 1 }
            if heldInbound == nil && roll(faults.reorder) {
                heldInbound = (Array(frame), received.checksumTrusted)
                inbound.reordered += 1
                continue
            }
            if let held = heldInbound {
                heldInbound = nil
                ready.append(held)
            }
            return received
        }
    }

    public func transmit(_ frame: UnsafeRawBufferPointer, segmentSize: Int) throws(DeviceError) {
        guard segmentSize == 0 else { throw .invalidRequest }
        outbound.frames += 1
        if roll(faults.loss) { outbound.dropped += 1; return }
        var copy: [UInt8]?
        if roll(faults.corrupt) {
            var bytes = Array(frame)
            bytes.withUnsafeMutableBytes { corruptByte($0) }
            copy = bytes
            outbound.corrupted += 1
        }
        if heldOutbound == nil && roll(faults.reorder) {
            heldOutbound = copy ?? Array(frame)
            outbound.reordered += 1
            return
        }
        let duplicate = roll(faults.duplicate)
        for _ in 0..<(duplicate ? 2 : 1) {
            if let copy { try send(copy) } else { try inner.transmit(frame) }
        }
        if duplicate { outbound.duplicated += 1 }
        try endTransmitBatch()
    }

    /// Lets a held outbound frame go (after the frame that overtook it).
    public func endTransmitBatch() throws(DeviceError) {
        guard let held = heldOutbound else { return }
        heldOutbound = nil
        try send(held)
    }

    private func send(_ frame: [UInt8]) throws(DeviceError) {
        var failure: DeviceError?
        frame.withUnsafeBytes { bytes in
            do throws(DeviceError) { try inner.transmit(bytes) } catch { failure = error }
        }
        if let failure { throw failure }
    }

    public func flush() throws(DeviceError) {
        try endTransmitBatch()
        try inner.flush()
    }

    /// One line per direction, for the exit report.
    public func report() {
        report("in", inbound)
        report("out", outbound)
    }

    private func report(_ direction: StaticString, _ c: LinkFaultCounters) {
        Console.print("net-faults \(name) \(direction) (seed \(seed)): \(c.frames) frames, \(c.dropped) dropped, \(c.corrupted) corrupted, \(c.duplicated) duplicated, \(c.reordered) reordered")
    }

    private func deliver(_ frame: (bytes: [UInt8], trusted: Bool),
                         into buffer: UnsafeMutableRawBufferPointer) -> ReceivedFrame? {
        guard frame.bytes.count <= buffer.count else { return nil }
        frame.bytes.withUnsafeBytes { buffer.copyMemory(from: $0) }
        return ReceivedFrame(length: frame.bytes.count, checksumTrusted: frame.trusted)
    }

    private func corruptByte(_ frame: UnsafeMutableRawBufferPointer) {
        guard frame.count > 14 else { return }
        let index = 14 + Int(random.next() % UInt64(frame.count - 14))
        frame[index] ^= UInt8(truncatingIfNeeded: random.next() % 255 + 1)  // never 0: always a change
    }

    private func roll(_ rate: Int) -> Bool { rate > 0 && Int(random.next() % 10_000) < rate }
}
