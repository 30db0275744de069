// The host side of the hypercalls: console on stdout, the wall clock, block
// devices on files (pread/pwrite), net devices on tap interfaces (non-blocking
// read/write, ppoll for POLL).

import CKVM
import Glibc
import MonitorCore

final class HostIO: HypercallHost {
    /// Open file descriptors by manifest index (-1 where there is none).
    var blockFiles: [Int32]
    var taps: [Int32]

    init(deviceCount: Int) {
        blockFiles = Array(repeating: -1, count: deviceCount)
        taps = Array(repeating: -1, count: deviceCount)
    }

    func consoleWrite(_ bytes: UnsafeRawBufferPointer) {
        var done = 0
        while done < bytes.count {
            let n = Glibc.write(1, bytes.baseAddress! + done, bytes.count - done)
            if n <= 0 { if errno == EINTR { continue }; return }
            done += n
        }
    }

    func walltimeNanoseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return UInt64(now.tv_sec) &* 1_000_000_000 &+ UInt64(now.tv_nsec)
    }

    func poll(timeoutNanoseconds: UInt64) -> UInt64 {
        var fds: [pollfd] = []
        var handles: [Int] = []
        for (index, fd) in taps.enumerated() where fd >= 0 {
            fds.append(pollfd(fd: fd, events: Int16(POLLIN), revents: 0))
            handles.append(index)
        }
        let capped = min(timeoutNanoseconds, 3_600_000_000_000)
        let ready = fds.withUnsafeMutableBufferPointer { ckvm_ppoll($0.baseAddress, UInt($0.count), capped) }
        guard ready > 0 else { return 0 }
        var set: UInt64 = 0
        for (i, fd) in fds.enumerated() where fd.revents & Int16(POLLIN) != 0 && handles[i] < 64 {
            set |= 1 << UInt64(handles[i])
        }
        return set
    }

    func blockRead(device: Int, offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) -> Bool {
        transfer(buffer.count) { done in pread(blockFiles[device], buffer.baseAddress! + done, buffer.count - done, off_t(offset) + off_t(done)) }
    }

    func blockWrite(device: Int, offset: UInt64, from buffer: UnsafeRawBufferPointer) -> Bool {
        transfer(buffer.count) { done in pwrite(blockFiles[device], buffer.baseAddress! + done, buffer.count - done, off_t(offset) + off_t(done)) }
    }

    /// Repeats a partial transfer until `count` bytes moved; false on an error or EOF.
    func transfer(_ count: Int, _ step: (Int) -> Int) -> Bool {
        var done = 0
        while done < count {
            let n = step(done)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return false }
            done += n
        }
        return true
    }

    func netWrite(device: Int, frame: UnsafeRawBufferPointer) -> Bool {
        Glibc.write(taps[device], frame.baseAddress, frame.count) == frame.count
    }

    func netRead(device: Int, into buffer: UnsafeMutableRawBufferPointer) -> Int? {
        let n = Glibc.read(taps[device], buffer.baseAddress, buffer.count)
        if n < 0 { return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : nil }
        return n
    }
}
