// The eight hvt hypercalls, decoded and checked against guest memory and the
// attached devices, with the actual I/O left to a `HypercallHost` (the
// monitor's files, taps, clock and console; fakes in tests). A guest that
// passes an argument struct or buffer outside its memory is ended, as Solo5
// does: it is broken or hostile. Bad handles, offsets and lengths get
// EINVAL, like Solo5.
// Tests: Tests/MonitorCoreTests/HypercallTests.swift.

import HvtABI

/// The I/O behind the hypercalls.
public protocol HypercallHost: AnyObject {
    func consoleWrite(_ bytes: UnsafeRawBufferPointer)
    func walltimeNanoseconds() -> UInt64
    /// Waits up to `timeoutNanoseconds` for a net device to have input;
    /// returns the ready set (bit n: manifest entry n).
    func poll(timeoutNanoseconds: UInt64) -> UInt64
    /// Reads or writes exactly `buffer.count` bytes at `offset`; false on an I/O error.
    func blockRead(device: Int, offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) -> Bool
    func blockWrite(device: Int, offset: UInt64, from buffer: UnsafeRawBufferPointer) -> Bool
    /// Sends one frame; false on an I/O error.
    func netWrite(device: Int, frame: UnsafeRawBufferPointer) -> Bool
    /// Receives one frame into `buffer`: its length, 0 when none is waiting,
    /// nil on an I/O error. A frame longer than the buffer is dropped (nil).
    func netRead(device: Int, into buffer: UnsafeMutableRawBufferPointer) -> Int?
}

/// A device as the hypercalls see it.
public enum AttachedDevice: Equatable {
    case block(capacity: UInt64, blockSize: UInt64)
    case net(mtu: UInt64)
}

public enum HypercallOutcome: Equatable {
    case resume
    case halt(status: Int32)
    /// The guest broke the ABI; the monitor ends with this message.
    case fault(String)
}

public struct HypercallDispatcher {
    public let memory: GuestMemory
    /// Indexed by manifest entry (the handle); nil where nothing is attached.
    public let devices: [AttachedDevice?]

    public init(memory: GuestMemory, devices: [AttachedDevice?]) {
        self.memory = memory
        self.devices = devices
    }

    /// Handles an `outl` of `argument` to `port`.
    public func handle(port: UInt16, argument: UInt32, host: HypercallHost) -> HypercallOutcome {
        guard port > HvtABI.hypercallPortBase,
              let call = HvtABI.Hypercall(rawValue: port &- HvtABI.hypercallPortBase) else {
            return .fault("the guest wrote to I/O port 0x\(String(port, radix: 16)), which is no hypercall")
        }
        let address = UInt64(argument)
        guard memory.bytes(at: address, length: UInt64(call.argumentSize)) != nil else {
            return .fault("hypercall \(call) with its argument outside guest memory (0x\(String(address, radix: 16)))")
        }
        switch call {
        case .walltime:
            memory.store(host.walltimeNanoseconds(), at: address)
            return .resume
        case .puts:
            return puts(address, host)
        case .poll:
            let timeout = memory.load(UInt64.self, at: address + UInt64(HvtABI.Poll.timeoutNanoseconds)) ?? 0
            let ready = host.poll(timeoutNanoseconds: timeout) & netSet
            memory.store(ready, at: address + UInt64(HvtABI.Poll.readySet))
            memory.store(Int32(0), at: address + UInt64(HvtABI.Poll.result))
            return .resume
        case .blockRead, .blockWrite:
            return block(call, address, host)
        case .netWrite, .netRead:
            return net(call, address, host)
        case .halt:
            let status = memory.load(Int32.self, at: address + UInt64(HvtABI.Halt.exitStatus)) ?? 1
            return .halt(status: status)
        }
    }

    /// Bit n set for every attached net device n.
    var netSet: UInt64 {
        var set: UInt64 = 0
        for (index, device) in devices.enumerated() where index < 64 {
            if case .net = device { set |= 1 << UInt64(index) }
        }
        return set
    }

    func puts(_ address: UInt64, _ host: HypercallHost) -> HypercallOutcome {
        let data = memory.load(UInt64.self, at: address + UInt64(HvtABI.Puts.data)) ?? 0
        let length = memory.load(UInt64.self, at: address + UInt64(HvtABI.Puts.length)) ?? 0
        guard let text = memory.bytes(at: data, length: length) else {
            return .fault("PUTS of \(length) bytes at 0x\(String(data, radix: 16)) outside guest memory")
        }
        host.consoleWrite(UnsafeRawBufferPointer(text))
        return .resume
    }

    func block(_ call: HvtABI.Hypercall, _ address: UInt64, _ host: HypercallHost) -> HypercallOutcome {
        let field = { (offset: Int) in memory.load(UInt64.self, at: address + UInt64(offset)) ?? 0 }
        let handle = field(HvtABI.Block.handle), offset = field(HvtABI.Block.offset)
        let data = field(HvtABI.Block.data), length = field(HvtABI.Block.length)
        let result = address + UInt64(HvtABI.Block.result)
        guard handle < UInt64(devices.count), case .block(let capacity, let blockSize)? = devices[Int(handle)],
              offset % blockSize == 0, length % blockSize == 0, length > 0,
              offset <= capacity, length <= capacity - offset else {
            memory.store(HvtABI.Result.invalid.rawValue, at: result)
            return .resume
        }
        guard let buffer = memory.bytes(at: data, length: length) else {
            return .fault("block \(call == .blockRead ? "read" : "write") of \(length) bytes at 0x\(String(data, radix: 16)) outside guest memory")
        }
        let ok = call == .blockRead
            ? host.blockRead(device: Int(handle), offset: offset, into: buffer)
            : host.blockWrite(device: Int(handle), offset: offset, from: UnsafeRawBufferPointer(buffer))
        memory.store(ok ? HvtABI.Result.ok.rawValue : HvtABI.Result.unspecified.rawValue, at: result)
        return .resume
    }

    func net(_ call: HvtABI.Hypercall, _ address: UInt64, _ host: HypercallHost) -> HypercallOutcome {
        let field = { (offset: Int) in memory.load(UInt64.self, at: address + UInt64(offset)) ?? 0 }
        let handle = field(HvtABI.Net.handle), data = field(HvtABI.Net.data), length = field(HvtABI.Net.length)
        let result = address + UInt64(HvtABI.Net.result)
        // Ethernet header + MTU is the largest frame either way.
        guard handle < UInt64(devices.count), case .net(let mtu)? = devices[Int(handle)],
              call == .netRead || (length > 0 && length <= mtu + 14) else {
            memory.store(HvtABI.Result.invalid.rawValue, at: result)
            return .resume
        }
        guard let buffer = memory.bytes(at: data, length: length) else {
            return .fault("net \(call == .netRead ? "read" : "write") of \(length) bytes at 0x\(String(data, radix: 16)) outside guest memory")
        }
        if call == .netWrite {
            let ok = host.netWrite(device: Int(handle), frame: UnsafeRawBufferPointer(buffer))
            memory.store(ok ? HvtABI.Result.ok.rawValue : HvtABI.Result.unspecified.rawValue, at: result)
            return .resume
        }
        switch host.netRead(device: Int(handle), into: buffer) {
        case .some(0):
            memory.store(HvtABI.Result.again.rawValue, at: result)
        case .some(let n):
            memory.store(UInt64(n), at: address + UInt64(HvtABI.Net.length))
            memory.store(HvtABI.Result.ok.rawValue, at: result)
        case .none:
            memory.store(HvtABI.Result.unspecified.rawValue, at: result)
        }
        return .resume
    }
}
