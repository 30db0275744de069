// fault: the panic-path test application. Its first argument picks one fault
// per run; the boot tests assert on the panic report and the panic status.
//   page-fault | null | write-code | divide | overflow | bounds | unwrap
//   | stack-overflow | double-free | exit N

import Swiftlet

@main
struct Fault {
    static func main() {
        let arguments = Kernel.arguments
        guard let which = arguments.first else {
            print("usage: fault page-fault|null|write-code|divide|overflow|bounds|unwrap|stack-overflow|double-free|exit N")
            Kernel.exit(2)
        }
        print("fault: triggering \(which)")
        switch which {
        case "page-fault": pageFault(at: 0x40_0000_0000)
        case "null": pageFault(at: 0)
        case "write-code": writeCode()
        case "divide": print(divide(7, by: zero()))
        case "overflow": print(add(Int.max, opaque(1)))
        case "bounds": print([1, 2, 3][opaque(5)])
        case "unwrap": print(optional(nil)!)
        case "stack-overflow": print(recurse(0, limit: opaque(Int.max)))
        case "double-free": doubleFree()
        case "exit": Kernel.exit(Int32(arguments.count > 1 ? parse(arguments[1]) : 0))
        default:
            print("fault: unknown fault \(which)")
            Kernel.exit(2)
        }
        print("fault: survived \(which) (this is a bug)")
        Kernel.exit(1)
    }

    // @inline(never) and opaque values keep the optimiser from folding the faults away.
    @inline(never) static func opaque(_ v: Int) -> Int { v }
    @inline(never) static func zero() -> Int { opaque(0) }
    @inline(never) static func optional(_ v: Int?) -> Int? { v }

    @inline(never) static func pageFault(at address: UInt) {
        let pointer = UnsafeMutablePointer<UInt64>(bitPattern: address | 8)!
        pointer.pointee = 0x5EED
    }

    /// Code pages are read-only: a store into a function's first bytes faults.
    @inline(never) static func writeCode() {
        let function: @convention(c) () -> Void = { print("never runs") }
        let code = unsafeBitCast(function, to: UnsafeMutablePointer<UInt8>.self)
        code.pointee = 0xCC
    }

    /// Swift's `/` traps on a zero divisor before the CPU sees it, so run the
    /// divide itself: `xor ecx, ecx; idiv ecx; ret` from a heap buffer (pc maps
    /// the heap executable; a hosted run gets SIGSEGV from NX instead of SIGFPE).
    @inline(never) static func divide(_ a: Int, by b: Int) -> Int {
        let code: [UInt8] = [0x31, 0xC9, 0xF7, 0xF9, 0xC3]
        return code.withUnsafeBytes { bytes in
            let function = unsafeBitCast(bytes.baseAddress!, to: (@convention(c) () -> Int).self)
            return function() &+ a &+ b
        }
    }

    @inline(never) static func add(_ a: Int, _ b: Int) -> Int { a + b }

    /// Every level keeps a local whose address escapes to a global before the
    /// recursive call, and the depth limit is opaque: the optimiser can turn
    /// neither into a loop, so each level really takes stack.
    @inline(never) static func recurse(_ depth: Int, limit: Int) -> Int {
        var pad: (Int, Int, Int, Int, Int, Int, Int, Int) = (depth, 0, 0, 0, 0, 0, 0, 0)
        return withUnsafeMutableBytes(of: &pad) { frame in
            lastFrame = frame.baseAddress
            if depth >= limit { return depth }
            return recurse(depth &+ 1, limit: limit) &+ frame.load(as: Int.self)
        }
    }

    nonisolated(unsafe) static var lastFrame: UnsafeMutableRawPointer? = nil

    @inline(never) static func doubleFree() {
        let p = UnsafeMutableRawPointer.allocate(byteCount: 64, alignment: 16)
        p.deallocate()
        p.deallocate()
    }

    static func parse(_ s: String) -> Int {
        var value = 0
        for b in s.utf8 where b >= 0x30 && b <= 0x39 { value = value &* 10 &+ Int(b - 0x30) }
        return value
    }
}
