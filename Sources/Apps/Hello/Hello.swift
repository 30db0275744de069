// hello: the smallest Swiftlet application. Prints a greeting, its arguments
// and the memory it was given, then exits 0. Builds for every platform.

import Swiftlet

@main
struct Hello {
    static func main() {
        print("Hello from Swiftlet!")
        let arguments = Kernel.arguments
        print("arguments: \(arguments.count)")
        for (index, argument) in arguments.enumerated() {
            print("  [\(index)] \(argument)")
        }
        let memory = Kernel.memory
        print("memory: \(memory.ram / 1024) KiB RAM, heap \(memory.heap.totalBytes / 1024) KiB, \(memory.heap.inUse) bytes in use")
    }
}
