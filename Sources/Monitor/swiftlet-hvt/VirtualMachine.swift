// One KVM virtual machine with one vCPU and one memory slot, driven through
// /dev/kvm ioctls (Sources/Monitor/CKVM spells the request numbers). Sets up
// the vCPU exactly as the hvt ABI defines the entry state.

import CKVM
import Glibc
import HvtABI
import MonitorCore

struct KVMError: Error, CustomStringConvertible {
    let description: String
    init(_ what: String, errno code: Int32 = errno) {
        description = code == 0 ? what : "\(what): \(String(cString: strerror(code)))"
    }
}

final class VirtualMachine {
    let kvm: Int32
    let vm: Int32
    let vcpu: Int32
    let run: UnsafeMutablePointer<kvm_run>
    let memory: GuestMemory

    init(memorySize: UInt64) throws {
        kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC)
        guard kvm >= 0 else { throw KVMError("cannot open /dev/kvm") }
        guard ckvm_ioctl(kvm, ckvm_get_api_version(), 0) == 12 else { throw KVMError("KVM API version is not 12", errno: 0) }
        for (capability, name) in [(CKVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY"), (CKVM_CAP_GET_TSC_KHZ, "KVM_CAP_GET_TSC_KHZ")] {
            guard ckvm_ioctl(kvm, ckvm_check_extension(), UInt(capability)) > 0 else {
                throw KVMError("KVM lacks \(name)", errno: 0)
            }
        }
        vm = ckvm_ioctl(kvm, ckvm_create_vm(), 0)
        guard vm >= 0 else { throw KVMError("cannot create a KVM virtual machine") }
        guard let base = mmap(nil, Int(memorySize), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0),
              base != MAP_FAILED else { throw KVMError("cannot map \(memorySize >> 20) MiB of guest memory") }
        memory = GuestMemory(base: base, size: memorySize)
        var region = kvm_userspace_memory_region(slot: 0, flags: 0, guest_phys_addr: 0, memory_size: memorySize,
                                                 userspace_addr: UInt64(UInt(bitPattern: base)))
        guard ckvm_ioctl_ptr(vm, ckvm_set_user_memory_region(), &region) == 0 else {
            throw KVMError("cannot give the guest its memory")
        }
        vcpu = ckvm_ioctl(vm, ckvm_create_vcpu(), 0)
        guard vcpu >= 0 else { throw KVMError("cannot create a vCPU") }
        let runSize = ckvm_ioctl(kvm, ckvm_get_vcpu_mmap_size(), 0)
        guard runSize > 0, let shared = mmap(nil, Int(runSize), PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0),
              shared != MAP_FAILED else { throw KVMError("cannot map the vCPU's run structure") }
        run = shared.assumingMemoryBound(to: kvm_run.self)
    }

    /// The vCPU's TSC frequency in Hz.
    func tscFrequency() throws -> UInt64 {
        let khz = ckvm_ioctl(vcpu, ckvm_get_tsc_khz(), 0)
        guard khz > 0 else { throw KVMError("cannot read the vCPU's TSC frequency") }
        return UInt64(khz) * 1000
    }

    /// The hvt ABI entry state: long mode with our page tables, flat segments,
    /// RIP = entry, RSP = top of memory - 8, RDI = boot info.
    func setEntryState(entry: UInt64) throws {
        if let cpuid = ckvm_cpuid_alloc(100) {
            defer { free(cpuid) }
            guard ckvm_ioctl_ptr(kvm, ckvm_get_supported_cpuid(), cpuid) == 0,
                  ckvm_ioctl_ptr(vcpu, ckvm_set_cpuid2(), cpuid) == 0 else {
                throw KVMError("cannot set the vCPU's CPUID")
            }
        }
        var sregs = kvm_sregs()
        guard ckvm_ioctl_ptr(vcpu, ckvm_get_sregs(), &sregs) == 0 else { throw KVMError("cannot read the vCPU's registers") }
        let code = kvm_segment(base: 0, limit: 0xFFFF_FFFF, selector: 0x08, type: 9, present: 1, dpl: 0, db: 0, s: 1,
                               l: 1, g: 1, avl: 0, unusable: 0, padding: 0)
        let data = kvm_segment(base: 0, limit: 0xFFFF_FFFF, selector: 0x10, type: 3, present: 1, dpl: 0, db: 1, s: 1,
                               l: 0, g: 1, avl: 0, unusable: 0, padding: 0)
        sregs.cs = code
        sregs.ds = data; sregs.es = data; sregs.fs = data; sregs.gs = data; sregs.ss = data
        sregs.tr = kvm_segment(base: 0, limit: 0, selector: 0, type: 11, present: 1, dpl: 0, db: 0, s: 0,
                               l: 0, g: 0, avl: 0, unusable: 0, padding: 0)
        sregs.ldt = kvm_segment(base: 0, limit: 0, selector: 0, type: 0, present: 0, dpl: 0, db: 0, s: 0,
                                l: 0, g: 0, avl: 0, unusable: 1, padding: 0)
        sregs.gdt.base = HvtABI.gdtAddress
        sregs.gdt.limit = UInt16(GuestSetup.gdt.count * 8 - 1)
        sregs.cr0 = 0x8001_0021   // PE, NE, WP, PG
        sregs.cr3 = HvtABI.pml4Address
        sregs.cr4 = 0x620         // PAE, OSFXSR, OSXMMEXCPT
        sregs.efer = 0x500        // LME, LMA
        guard ckvm_ioctl_ptr(vcpu, ckvm_set_sregs(), &sregs) == 0 else { throw KVMError("cannot set the vCPU's system registers") }
        var regs = kvm_regs()
        regs.rip = entry
        regs.rflags = 0x2
        regs.rsp = memory.size - 8
        regs.rdi = HvtABI.bootInfoAddress
        guard ckvm_ioctl_ptr(vcpu, ckvm_set_regs(), &regs) == 0 else { throw KVMError("cannot set the vCPU's registers") }
    }

    /// Makes guest pages [start, end) read-only from the host side, so guest
    /// writes to them stop the VM (text and rodata).
    func protect(_ start: UInt64, _ end: UInt64) throws {
        guard start < end, end <= memory.size else { return }
        guard mprotect(memory.base + Int(start), Int(end - start), PROT_READ) == 0 else {
            throw KVMError("cannot write-protect guest memory")
        }
    }

    enum Exit {
        case io(port: UInt16, value: UInt32)
        case stopped(String)
    }

    /// Runs the vCPU until its next exit we must handle.
    func next() -> Exit {
        while true {
            if ckvm_ioctl(vcpu, ckvm_run(), 0) != 0 {
                if errno == EINTR || errno == EAGAIN { continue }
                return .stopped("KVM_RUN failed: \(String(cString: strerror(errno)))")
            }
            let reason = ckvm_exit_reason(run)
            switch Int32(reason) {
            case Int32(CKVM_EXIT_IO):
                var direction: UInt8 = 0, size: UInt8 = 0, port: UInt16 = 0, count: UInt32 = 0
                let data = ckvm_exit_io(run, &direction, &size, &port, &count)!
                guard direction == UInt8(CKVM_EXIT_IO_OUT), size == 4, count == 1 else {
                    return .stopped("the guest used I/O port 0x\(String(port, radix: 16)) in a way no hypercall does")
                }
                return .io(port: port, value: UnsafeRawPointer(data).loadUnaligned(as: UInt32.self))
            case Int32(CKVM_EXIT_HLT):
                return .stopped("the guest halted the CPU (hlt) instead of calling HALT")
            case Int32(CKVM_EXIT_SHUTDOWN):
                return .stopped("the guest triple-faulted (an exception with no handler)")
            case Int32(CKVM_EXIT_MMIO):
                let address = ckvm_mmio_address(run)
                let what = address < memory.size ? "wrote to read-only memory" : "accessed memory it does not have"
                return .stopped("the guest \(what) at 0x\(String(address, radix: 16))")
            case Int32(CKVM_EXIT_FAIL_ENTRY):
                return .stopped("KVM could not enter the guest (reason 0x\(String(ckvm_fail_entry_reason(run), radix: 16)))")
            case Int32(CKVM_EXIT_INTERNAL_ERROR):
                return .stopped("KVM internal error (suberror \(ckvm_internal_error_suberror(run))): this KVM cannot run that guest instruction")
            default:
                return .stopped("unexpected KVM exit \(reason)")
            }
        }
    }
}
