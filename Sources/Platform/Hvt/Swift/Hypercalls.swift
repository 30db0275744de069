// The hvt hypercalls (HvtABI): `outl` of the argument struct's address to
// port 0x500 + n; the monitor answers in the same struct. The structs live on
// our stack, which is below 4 GiB as the ABI requires.

import CPU
import HvtABI
import Swiftlet

enum Hypercall {
    /// Builds the argument struct in `words`, issues `call`, and returns the struct.
    @inline(__always)
    static func issue<T>(_ call: HvtABI.Hypercall, _ words: inout T) {
        withUnsafeMutableBytes(of: &words) { raw in
            cpu_hypercall(call.port, UInt32(truncatingIfNeeded: UInt(bitPattern: raw.baseAddress!)))
        }
    }

    static func puts(_ bytes: UnsafePointer<UInt8>, _ count: Int) {
        var args: (UInt64, UInt64) = (UInt64(UInt(bitPattern: bytes)), UInt64(count))
        issue(.puts, &args)
    }

    static func walltime() -> UInt64 {
        var args: UInt64 = 0
        issue(.walltime, &args)
        return args
    }

    static func halt(_ status: Int32) -> Never {
        var args: (UInt64, Int32, Int32) = (0, status, 0)
        issue(.halt, &args)
        while true {}  // the monitor never resumes us
    }

    /// Waits up to `nanoseconds` for a device to be ready; returns the ready set.
    static func poll(_ nanoseconds: UInt64) -> UInt64 {
        var args: (UInt64, UInt64, Int32, Int32) = (nanoseconds, 0, 0, 0)
        issue(.poll, &args)
        return args.1
    }

    /// Block read/write: handle, byte offset, buffer, length; returns the result code.
    static func block(_ call: HvtABI.Hypercall, handle: UInt64, offset: UInt64,
                      _ buffer: UnsafeMutableRawPointer, _ length: Int) -> Int32 {
        var args: (UInt64, UInt64, UInt64, UInt64, Int32, Int32) =
            (handle, offset, UInt64(UInt(bitPattern: buffer)), UInt64(length), 0, 0)
        issue(call, &args)
        return args.4
    }

    /// Net read/write: handle, buffer, length; returns (result, length out).
    static func net(_ call: HvtABI.Hypercall, handle: UInt64,
                    _ buffer: UnsafeMutableRawPointer, _ length: Int) -> (Int32, Int) {
        var args: (UInt64, UInt64, UInt64, Int32, Int32) =
            (handle, UInt64(UInt(bitPattern: buffer)), UInt64(length), 0, 0)
        issue(call, &args)
        return (args.3, Int(args.2))
    }
}
