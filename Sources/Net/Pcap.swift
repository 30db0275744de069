// Classic pcap files (the libpcap format read by tcpdump, tshark and
// Wireshark): a 24-byte global header, then per frame a 16-byte record
// header and the frame, all little-endian, LINKTYPE_ETHERNET (1). Bytes go
// to a caller-supplied sink (a file on hosted, the console or a block device
// in an image), so the writer works on every platform. As a FrameTap it
// records an interface's frames in both directions.
// Limits: no pcapng; timestamps are what the caller passes (add the wall-clock
// offset to monotonic time for absolute dates); seconds wrap in 2106.
// Tests: Tests/NetTests/PcapTests.swift (tcpdump or tshark reads the file when installed).

/// Sees every frame an interface receives and every frame it queues for sending.
public protocol FrameTap: AnyObject {
    func record(frame: UnsafeRawBufferPointer, direction: FrameDirection, at now: UInt64)
}

public enum FrameDirection: Equatable {
    case received, transmitted
}

public final class PcapWriter: FrameTap {
    public enum Resolution: Equatable {
        case microseconds, nanoseconds

        /// The magic number that tells readers which one a file uses.
        public var magic: UInt32 { self == .microseconds ? 0xa1b2_c3d4 : 0xa1b2_3c4d }
    }

    public static let linkTypeEthernet: UInt32 = 1
    public static let globalHeaderLength = 24
    public static let recordHeaderLength = 16

    public let resolution: Resolution
    public let snapLength: Int
    /// Added to every timestamp (for example the wall-clock time at monotonic zero).
    public let clockOffset: UInt64
    private let sink: (UnsafeRawBufferPointer) -> Void
    public private(set) var framesWritten = 0

    /// Writes the global header to `sink` at once. The default snap length is
    /// tcpdump's: whole frames, merged 64 KiB TCP segments included.
    public init(resolution: Resolution = .nanoseconds, snapLength: Int = 262_144, clockOffset: UInt64 = 0,
                sink: @escaping (UnsafeRawBufferPointer) -> Void) {
        self.resolution = resolution
        self.snapLength = max(snapLength, 1)
        self.clockOffset = clockOffset
        self.sink = sink
        emit(PcapWriter.globalHeaderLength) { header in
            PcapWriter.putLE32(resolution.magic, header, 0)
            PcapWriter.putLE16(2, header, 4)  // version 2.4
            PcapWriter.putLE16(4, header, 6)
            PcapWriter.putLE32(0, header, 8)  // thiszone: UTC
            PcapWriter.putLE32(0, header, 12) // sigfigs
            PcapWriter.putLE32(UInt32(truncatingIfNeeded: self.snapLength), header, 16)
            PcapWriter.putLE32(PcapWriter.linkTypeEthernet, header, 20)
        }
    }

    /// Appends one frame; `timestamp` in nanoseconds.
    public func write(frame: UnsafeRawBufferPointer, timestamp: UInt64) {
        let time = timestamp &+ clockOffset
        let seconds = UInt32(truncatingIfNeeded: time / 1_000_000_000)
        let fraction = time % 1_000_000_000
        let captured = min(frame.count, snapLength)
        emit(PcapWriter.recordHeaderLength) { header in
            PcapWriter.putLE32(seconds, header, 0)
            PcapWriter.putLE32(UInt32(resolution == .nanoseconds ? fraction : fraction / 1000), header, 4)
            PcapWriter.putLE32(UInt32(truncatingIfNeeded: captured), header, 8)
            PcapWriter.putLE32(UInt32(truncatingIfNeeded: frame.count), header, 12)
        }
        sink(frame.slice(0..<captured))
        framesWritten += 1
    }

    public func record(frame: UnsafeRawBufferPointer, direction: FrameDirection, at now: UInt64) {
        write(frame: frame, timestamp: now)
    }

    private func emit(_ length: Int, _ fill: (UnsafeMutableRawBufferPointer) -> Void) {
        withUnsafeTemporaryAllocation(byteCount: length, alignment: 8) { bytes in
            fill(bytes)
            sink(UnsafeRawBufferPointer(bytes))
        }
    }

    private static func putLE16(_ value: UInt16, _ bytes: UnsafeMutableRawBufferPointer, _ offset: Int) {
        bytes[offset] = UInt8(truncatingIfNeeded: value)
        bytes[offset + 1] = UInt8(truncatingIfNeeded: value >> 8)
    }

    private static func putLE32(_ value: UInt32, _ bytes: UnsafeMutableRawBufferPointer, _ offset: Int) {
        putLE16(UInt16(truncatingIfNeeded: value), bytes, offset)
        putLE16(UInt16(truncatingIfNeeded: value >> 16), bytes, offset + 2)
    }
}
