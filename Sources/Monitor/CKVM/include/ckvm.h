/*
 * The monitor's C shim: what Swift cannot call or spell directly - KVM ioctl
 * request numbers (function-like macros), the kvm_run exit union, and the
 * seccomp filter (prctl is variadic). Linux x86_64 only; hosted build only.
 */
#ifndef SWIFTLET_CKVM_H
#define SWIFTLET_CKVM_H

#include <stdint.h>
#include <stddef.h>
#include <linux/kvm.h>

/* ioctl without varargs. */
int ckvm_ioctl(int fd, unsigned long request, unsigned long argument);
int ckvm_ioctl_ptr(int fd, unsigned long request, void *argument);

/* Request numbers. */
unsigned long ckvm_get_api_version(void);
unsigned long ckvm_create_vm(void);
unsigned long ckvm_check_extension(void);
unsigned long ckvm_get_vcpu_mmap_size(void);
unsigned long ckvm_get_supported_cpuid(void);
unsigned long ckvm_set_user_memory_region(void);
unsigned long ckvm_create_vcpu(void);
unsigned long ckvm_get_sregs(void);
unsigned long ckvm_set_sregs(void);
unsigned long ckvm_get_regs(void);
unsigned long ckvm_set_regs(void);
unsigned long ckvm_set_cpuid2(void);
unsigned long ckvm_get_tsc_khz(void);
unsigned long ckvm_run(void);

/* Capabilities. */
enum { CKVM_CAP_USER_MEMORY = KVM_CAP_USER_MEMORY, CKVM_CAP_GET_TSC_KHZ = KVM_CAP_GET_TSC_KHZ };

/* kvm_run: the exit reason and, for port I/O, its fields. */
enum {
    CKVM_EXIT_IO = KVM_EXIT_IO, CKVM_EXIT_HLT = KVM_EXIT_HLT, CKVM_EXIT_MMIO = KVM_EXIT_MMIO,
    CKVM_EXIT_SHUTDOWN = KVM_EXIT_SHUTDOWN, CKVM_EXIT_FAIL_ENTRY = KVM_EXIT_FAIL_ENTRY,
    CKVM_EXIT_INTERNAL_ERROR = KVM_EXIT_INTERNAL_ERROR, CKVM_EXIT_IO_OUT = KVM_EXIT_IO_OUT,
};
uint32_t ckvm_exit_reason(const struct kvm_run *run);
/* Returns the data pointer of an I/O exit and fills its fields. */
uint8_t *ckvm_exit_io(struct kvm_run *run, uint8_t *direction, uint8_t *size, uint16_t *port, uint32_t *count);
uint32_t ckvm_internal_error_suberror(const struct kvm_run *run);
uint64_t ckvm_mmio_address(const struct kvm_run *run);
uint8_t ckvm_mmio_is_write(const struct kvm_run *run);
uint64_t ckvm_fail_entry_reason(const struct kvm_run *run);

/* A kvm_cpuid2 with room for `entries` entries (free() it). */
struct kvm_cpuid2 *ckvm_cpuid_alloc(uint32_t entries);

/* Installs the seccomp allow-list (syscall numbers) with PR_SET_NO_NEW_PRIVS;
 * any other system call kills the process. Returns 0 or -errno. */
int ckvm_install_seccomp(const int *allowed, int count);

struct pollfd;
/* ppoll(2) with a relative timeout in nanoseconds (ppoll needs _GNU_SOURCE). */
int ckvm_ppoll(struct pollfd *fds, unsigned long count, uint64_t timeout_ns);

/* SIGINT, SIGTERM and SIGHUP end the monitor with one line and status 1. */
void ckvm_exit_on_signals(void);

#endif
