// hvt devices: the block and net devices the application's manifest declares
// and the monitor attached, read from the monitor-filled manifest copy at
// boot and offered through the Swiftlet device interfaces. A device's handle
// is its manifest index.

import HvtABI
import Swiftlet

enum HvtDevices {
    /// Registers every attached device of the manifest copy at `address`.
    static func register(manifest address: UInt64) {
        guard let mft = UnsafeRawPointer(bitPattern: UInt(address)) else { return }
        let entries = Int(mft.load(fromByteOffset: 4, as: UInt32.self))
        guard entries > 1, entries <= HvtABI.Manifest.maxEntries else { return }
        for index in 1..<entries {
            let entry = mft + HvtABI.Manifest.headerSize + index * HvtABI.Manifest.entrySize
            guard entry.load(fromByteOffset: HvtABI.Manifest.attachedOffset, as: UInt8.self) != 0 else { continue }
            let name = RawArgument(cString: entry.assumingMemoryBound(to: UInt8.self))
            switch entry.load(fromByteOffset: HvtABI.Manifest.typeOffset, as: UInt32.self) {
            case HvtABI.DeviceType.blockBasic.rawValue:
                Devices.register(HvtBlockDevice(
                    handle: UInt64(index), name: name,
                    capacity: entry.loadUnaligned(fromByteOffset: HvtABI.Manifest.capacityOffset, as: UInt64.self),
                    sectorSize: Int(entry.loadUnaligned(fromByteOffset: HvtABI.Manifest.blockSizeOffset, as: UInt16.self))))
            case HvtABI.DeviceType.netBasic.rawValue:
                let m = HvtABI.Manifest.macOffset
                Devices.register(HvtNetworkDevice(
                    handle: UInt64(index), name: name,
                    mac: MACAddress(entry.load(fromByteOffset: m, as: UInt8.self), entry.load(fromByteOffset: m + 1, as: UInt8.self),
                                    entry.load(fromByteOffset: m + 2, as: UInt8.self), entry.load(fromByteOffset: m + 3, as: UInt8.self),
                                    entry.load(fromByteOffset: m + 4, as: UInt8.self), entry.load(fromByteOffset: m + 5, as: UInt8.self)),
                    mtu: Int(entry.loadUnaligned(fromByteOffset: HvtABI.Manifest.mtuOffset, as: UInt16.self))))
            default:
                continue
            }
        }
    }

    static func check(_ result: Int32) throws(DeviceError) {
        switch result {
        case HvtABI.Result.ok.rawValue: return
        case HvtABI.Result.invalid.rawValue: throw .invalidRequest
        default: throw .ioError
        }
    }
}

final class HvtBlockDevice: BlockDevice {
    let handle: UInt64
    let name: RawArgument
    let capacity: UInt64
    let sectorSize: Int
    var isReadOnly: Bool { false }

    init(handle: UInt64, name: RawArgument, capacity: UInt64, sectorSize: Int) {
        self.handle = handle
        self.name = name
        self.capacity = capacity
        self.sectorSize = sectorSize
    }

    func read(at offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws(DeviceError) {
        try validate(offset: offset, length: buffer.count, writing: false)
        try HvtDevices.check(Hypercall.block(.blockRead, handle: handle, offset: offset, buffer.baseAddress!, buffer.count))
    }

    func write(at offset: UInt64, from buffer: UnsafeRawBufferPointer) throws(DeviceError) {
        try validate(offset: offset, length: buffer.count, writing: true)
        try HvtDevices.check(Hypercall.block(.blockWrite, handle: handle, offset: offset,
                                             UnsafeMutableRawPointer(mutating: buffer.baseAddress!), buffer.count))
    }

    /// The monitor's writes are synchronous pwrite(2)s: nothing is held back here.
    func flush() throws(DeviceError) {}
}

final class HvtNetworkDevice: NetworkDevice {
    let handle: UInt64
    let name: RawArgument
    let mac: MACAddress
    let mtu: Int
    /// POLL's ready set has one bit per device handle.
    var event: DeviceEvent { DeviceEvent(bit: Int(handle)) }

    init(handle: UInt64, name: RawArgument, mac: MACAddress, mtu: Int) {
        self.handle = handle
        self.name = name
        self.mac = mac
        self.mtu = mtu
    }

    func receive(into buffer: UnsafeMutableRawBufferPointer) throws(DeviceError) -> ReceivedFrame? {
        guard let base = buffer.baseAddress else { throw .invalidRequest }
        let (result, length) = Hypercall.net(.netRead, handle: handle, base, buffer.count)
        if result == HvtABI.Result.again.rawValue { return nil }
        try HvtDevices.check(result)
        return ReceivedFrame(length: length)
    }

    func transmit(_ frame: UnsafeRawBufferPointer, segmentSize: Int) throws(DeviceError) {
        try validate(frame: frame, segmentSize: segmentSize)
        let (result, _) = Hypercall.net(.netWrite, handle: handle, UnsafeMutableRawPointer(mutating: frame.baseAddress!), frame.count)
        try HvtDevices.check(result)
    }
}
