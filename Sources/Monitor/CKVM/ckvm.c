/* The monitor's C shim (see include/ckvm.h). */
#define _GNU_SOURCE
#include "ckvm.h"

#include <poll.h>
#include <time.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <unistd.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>

int ckvm_ioctl(int fd, unsigned long request, unsigned long argument) { return ioctl(fd, request, argument); }
int ckvm_ioctl_ptr(int fd, unsigned long request, void *argument) { return ioctl(fd, request, argument); }

unsigned long ckvm_get_api_version(void) { return KVM_GET_API_VERSION; }
unsigned long ckvm_create_vm(void) { return KVM_CREATE_VM; }
unsigned long ckvm_check_extension(void) { return KVM_CHECK_EXTENSION; }
unsigned long ckvm_get_vcpu_mmap_size(void) { return KVM_GET_VCPU_MMAP_SIZE; }
unsigned long ckvm_get_supported_cpuid(void) { return KVM_GET_SUPPORTED_CPUID; }
unsigned long ckvm_set_user_memory_region(void) { return KVM_SET_USER_MEMORY_REGION; }
unsigned long ckvm_create_vcpu(void) { return KVM_CREATE_VCPU; }
unsigned long ckvm_get_sregs(void) { return KVM_GET_SREGS; }
unsigned long ckvm_set_sregs(void) { return KVM_SET_SREGS; }
unsigned long ckvm_get_regs(void) { return KVM_GET_REGS; }
unsigned long ckvm_set_regs(void) { return KVM_SET_REGS; }
unsigned long ckvm_set_cpuid2(void) { return KVM_SET_CPUID2; }
unsigned long ckvm_get_tsc_khz(void) { return KVM_GET_TSC_KHZ; }
unsigned long ckvm_run(void) { return KVM_RUN; }

uint32_t ckvm_exit_reason(const struct kvm_run *run) { return run->exit_reason; }

uint8_t *ckvm_exit_io(struct kvm_run *run, uint8_t *direction, uint8_t *size, uint16_t *port, uint32_t *count) {
    *direction = run->io.direction;
    *size = run->io.size;
    *port = run->io.port;
    *count = run->io.count;
    return (uint8_t *)run + run->io.data_offset;
}

uint32_t ckvm_internal_error_suberror(const struct kvm_run *run) { return run->internal.suberror; }
uint64_t ckvm_mmio_address(const struct kvm_run *run) { return run->mmio.phys_addr; }
uint8_t ckvm_mmio_is_write(const struct kvm_run *run) { return run->mmio.is_write; }
uint64_t ckvm_fail_entry_reason(const struct kvm_run *run) { return run->fail_entry.hardware_entry_failure_reason; }

struct kvm_cpuid2 *ckvm_cpuid_alloc(uint32_t entries) {
    struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + entries * sizeof(struct kvm_cpuid_entry2));
    if (c) c->nent = entries;
    return c;
}

int ckvm_install_seccomp(const int *allowed, int count) {
    /* load arch; kill if not x86_64; load nr; one compare per allowed call. */
    int n = 4 + 2 * count + 1;
    struct sock_filter *f = calloc((size_t)n, sizeof(*f));
    if (!f) return -ENOMEM;
    int i = 0;
    f[i++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
    f[i++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0);
    f[i++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
    f[i++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
    for (int k = 0; k < count; k++) {
        f[i++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)allowed[k], 0, 1);
        f[i++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
    }
    f[i++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
    struct sock_fprog prog = { .len = (unsigned short)i, .filter = f };
    int rc = 0;
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0)
        rc = -errno;
    free(f);
    return rc;
}

int ckvm_ppoll(struct pollfd *fds, unsigned long count, uint64_t timeout_ns) {
    struct timespec t = { .tv_sec = (time_t)(timeout_ns / 1000000000u), .tv_nsec = (long)(timeout_ns % 1000000000u) };
    return ppoll(fds, (nfds_t)count, &t, NULL);
}

static void exit_on_signal(int signal) {
    static const char message[] = "swiftlet-hvt: stopped by a signal\n";
    (void)signal;
    ssize_t ignored = write(2, message, sizeof(message) - 1);
    (void)ignored;
    _exit(1);
}

void ckvm_exit_on_signals(void) {
    struct sigaction action;
    memset(&action, 0, sizeof(action));
    action.sa_handler = exit_on_signal;
    sigaction(SIGINT, &action, NULL);
    sigaction(SIGTERM, &action, NULL);
    sigaction(SIGHUP, &action, NULL);
}
