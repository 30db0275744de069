// hello: the smallest Swiftlet application. Prints a greeting, its arguments
// and the memory it was given, then exits 0. Builds for every platform.
//
// It writes through Console.print, which formats without String: the image
// stays small (see README "Figures"). `print` works too, at ~18 KB more.

import Swiftlet

@main
struct Hello {
    static func main() {
        Console.print("Hello from Swiftlet!")
        let arguments = Kernel.rawArguments
        Console.print("arguments: \(arguments.count)")
        for (index, argument) in arguments.enumerated() {
            Console.print("  [\(index)] \(argument)")
        }
        let memory = Kernel.memory
        Console.print("memory: \(memory.ram / 1024) KiB RAM, heap \(memory.heap.totalBytes / 1024) KiB + \(memory.heapReserve / 1024) KiB on demand, \(memory.heap.inUse) bytes in use")
    }
}
