// Splits a boot loader's command line into arguments, in place and without
// allocating (it runs before the heap exists, on the copied command line).
//
// Rules, like a POSIX shell without expansion: blanks (space, tab, newline)
// separate words; '...' keeps everything literally; "..." keeps blanks, and a
// backslash in it escapes only " and \; outside quotes a backslash escapes
// any byte. An unterminated quote ends at the end of the line.
// Tests: Tests/SwiftletTests/CommandLineTests.swift.

public enum CommandLineSplitter {
    public enum Error: Swift.Error, Equatable {
        /// More words than the caller has room for; `count` words were kept.
        case tooManyArguments(kept: Int)
    }

    /// Rewrites `buffer` so that each word ends with a NUL, and stores each word's
    /// start offset in `starts`. Returns the word count. Bytes after a NUL in the
    /// input are ignored.
    public static func split(_ buffer: UnsafeMutableBufferPointer<UInt8>,
                             starts: UnsafeMutableBufferPointer<Int>) throws(Error) -> Int {
        var read = 0, write = 0, count = 0
        let end = buffer.firstIndex(of: 0) ?? buffer.count
        while true {
            while read < end && isBlank(buffer[read]) { read += 1 }
            if read >= end { break }
            guard count < starts.count, write < buffer.count else { throw .tooManyArguments(kept: count) }
            starts[count] = write
            count += 1
            var quote: UInt8 = 0
            while read < end {
                let b = buffer[read]
                read += 1
                if quote == 0 && isBlank(b) { break }
                switch (quote, b) {
                case (0, 0x27), (0, 0x22): quote = b                   // ' or " opens
                case (0x27, 0x27), (0x22, 0x22): quote = 0            // closes
                case (0, 0x5C) where read < end,                      // \x outside quotes
                     (0x22, 0x5C) where read < end && (buffer[read] == 0x22 || buffer[read] == 0x5C):
                    buffer[write] = buffer[read]; write += 1; read += 1
                default:
                    buffer[write] = b; write += 1
                }
            }
            // The terminating NUL fits: every word consumed at least one byte more
            // than it wrote (a separator, or the end of the line, which we check).
            if write < buffer.count {
                buffer[write] = 0
                write += 1
            } else {
                throw .tooManyArguments(kept: count - 1)
            }
        }
        return count
    }

    @inline(__always)
    static func isBlank(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D }
}
