// The command line, copied at boot into shared storage (boot/x86_64/storage.S)
// and split into arguments only when the application first asks: code that
// runs once is what costs under QEMU TCG and under this machine's KVM.

import CPU
import Swiftlet

public enum BootArguments {
    nonisolated(unsafe) static var length = -1            // -1: no command line
    nonisolated(unsafe) static var skipFirstWord = false
    nonisolated(unsafe) static var count = -1             // -1: not split yet

    /// Copies the NUL-terminated `source` (at most CMDLINE_MAX bytes; longer is
    /// truncated with a note on `console`). `skipFirstWord` drops a loader's
    /// leading kernel path.
    public static func copy<S: ByteSink>(_ source: UnsafePointer<UInt8>, skipFirstWord skip: Bool, console: inout S) {
        let buffer = cmdline_buffer()!
        var n = 0
        while n < Int(CMDLINE_MAX) && source[n] != 0 {
            buffer[n] = source[n]
            n &+= 1
        }
        buffer[n] = 0
        length = n
        skipFirstWord = skip
        if source[n] != 0 { console.write("boot: command line longer than 8192 bytes, truncated\n") }
    }

    public static var argumentCount: Int {
        if count < 0 { split() }
        return count
    }

    public static func argument(_ index: Int) -> UnsafePointer<UInt8>? {
        guard index >= 0 && index < argumentCount else { return nil }
        return argv_table()![index]
    }

    /// Splits the copied command line in place; the argv table holds word
    /// offsets first, then is rewritten to pointers.
    static func split() {
        count = 0
        guard length >= 0 else { return }
        let buffer = UnsafeMutableBufferPointer(start: cmdline_buffer()!, count: length + 1)
        let argv = UnsafeMutableRawPointer(argv_table()!)
        let starts = UnsafeMutableBufferPointer(start: argv.assumingMemoryBound(to: Int.self), count: Int(ARGV_MAX))
        var words: Int
        do {
            words = try CommandLineSplitter.split(buffer, starts: starts)
        } catch {
            switch error { case .tooManyArguments(let kept): words = kept }
            var console = ConsoleBuffer()
            console.write("boot: more than 128 arguments, the rest dropped\n")
        }
        let first = skipFirstWord && words > 0 ? 1 : 0
        count = 0
        for i in first..<max(first, words) {
            let word = UnsafePointer(buffer.baseAddress! + starts[i])
            if isKernelParameter(word) {
                if kernelParameterCount < kernelParameterLimit {
                    if kernelParameterTable == nil {
                        kernelParameterTable = .allocate(capacity: kernelParameterLimit)
                    }
                    kernelParameterTable![kernelParameterCount] = word
                    kernelParameterCount += 1
                }
            } else {
                starts[count] = Int(bitPattern: UInt(bitPattern: word))
                count += 1
            }
        }
    }

    /// Words of the command line meant for the kernel, not the application:
    /// `virtio_mmio.device=SIZE@BASE:IRQ` (QEMU microvm announces its MMIO
    /// devices so, as Linux expects); at most `kernelParameterLimit`. Kept
    /// in a plain table, so images that never look pay for no Array code.
    nonisolated(unsafe) public private(set) static var kernelParameterCount = 0
    nonisolated(unsafe) static var kernelParameterTable: UnsafeMutablePointer<UnsafePointer<UInt8>>? = nil
    static let kernelParameterLimit = 16

    public static func kernelParameter(_ index: Int) -> UnsafePointer<UInt8> { kernelParameterTable![index] }

    /// Splits the command line if that has not happened yet.
    public static func prepare() { if count < 0 { split() } }

    static func isKernelParameter(_ word: UnsafePointer<UInt8>) -> Bool {
        let prefix: StaticString = "virtio_mmio.device="
        return prefix.withUTF8Buffer { bytes in
            for (i, byte) in bytes.enumerated() where word[i] != byte { return false }
            return true
        }
    }
}

/// Heap regions found at boot, in shared storage (no heap yet when they are).
public enum BootHeapRegions {
    nonisolated(unsafe) public private(set) static var count = 0

    public static func add(_ start: UInt64, _ end: UInt64) {
        guard start < end, count < Int(HEAP_REGIONS_MAX) else { return }
        let table = heap_region_table()!
        table[count &* 2] = start
        table[count &* 2 &+ 1] = end &- start
        count &+= 1
    }

    public static func region(_ index: Int) -> (UnsafeMutableRawPointer?, Int)? {
        guard index >= 0 && index < count else { return nil }
        let table = heap_region_table()!
        return (UnsafeMutableRawPointer(bitPattern: UInt(table[index * 2])), Int(table[index * 2 + 1]))
    }
}
