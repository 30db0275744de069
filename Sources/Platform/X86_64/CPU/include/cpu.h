/*
 * x86_64 instructions that Swift cannot express, as static inline functions
 * (they inline into Swift), and the storage and linker symbols both x86_64
 * platforms share (boot/x86_64/storage.S, linker/pc.ld, linker/hvt.ld).
 * Freestanding pc/hvt builds only.
 */
#ifndef SWIFTLET_CPU_H
#define SWIFTLET_CPU_H

#include <stdint.h>

/* The frame that boot/x86_64/exceptions.S builds for every exception and trap. */
struct swiftlet_trap_frame {
    uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
    uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
    uint64_t vector, error_code;
    uint64_t rip, cs, rflags, rsp, ss;
};

static inline void cpu_outb(uint16_t port, uint8_t v) { __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
static inline void cpu_outl(uint16_t port, uint32_t v) { __asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port)); }
/* An hvt hypercall: the monitor reads and writes the argument struct at `arg`
 * (guest-physical, below 4 GiB), so memory is clobbered both ways. */
static inline void cpu_hypercall(uint16_t port, uint32_t arg) {
    __asm__ volatile("outl %0, %1" : : "a"(arg), "Nd"(port) : "memory");
}
static inline void cpu_outw(uint16_t port, uint16_t v) { __asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port)); }
static inline uint16_t cpu_inw(uint16_t port) { uint16_t v; __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline uint32_t cpu_inl(uint16_t port) { uint32_t v; __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline uint8_t cpu_inb(uint16_t port) { uint8_t v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }

static inline uint64_t cpu_rdtsc(void) {
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}

static inline uint64_t cpu_read_cr2(void) { uint64_t v; __asm__ volatile("mov %%cr2, %0" : "=r"(v)); return v; }

static inline void cpu_cpuid(uint32_t leaf, uint32_t sub, uint32_t *a, uint32_t *b, uint32_t *c, uint32_t *d) {
    __asm__ volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d) : "a"(leaf), "c"(sub));
}

/* Returns 1 and stores a random value when RDRAND delivered one. */
static inline int cpu_rdrand64(uint64_t *out) {
    unsigned char ok;
    __asm__ volatile("rdrand %0; setc %1" : "=r"(*out), "=qm"(ok) : : "cc");
    return ok;
}

struct __attribute__((packed)) cpu_table_pointer { uint16_t limit; uint64_t base; };

static inline void cpu_lidt(const void *base, uint16_t limit) {
    struct cpu_table_pointer p = { limit, (uint64_t)(uintptr_t)base };
    __asm__ volatile("lidt %0" : : "m"(p));
}
static inline uint64_t cpu_read_cr3(void) { uint64_t v; __asm__ volatile("mov %%cr3, %0" : "=r"(v)); return v; }
static inline void cpu_write_cr3(uint64_t v) { __asm__ volatile("mov %0, %%cr3" : : "r"(v) : "memory"); }
static inline uint64_t cpu_rdmsr(uint32_t msr) {
    uint32_t lo, hi;
    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    return ((uint64_t)hi << 32) | lo;
}
/* Interrupts on for exactly the `hlt` (sti's one-instruction shadow closes
 * the race with an interrupt already pending), off again after it. */
static inline void cpu_wait_for_interrupt(void) { __asm__ volatile("sti; hlt; cli" : : : "memory"); }
/* Lets interrupts that are already pending in (sti's shadow covers the nop). */
static inline void cpu_take_pending_interrupts(void) { __asm__ volatile("sti; nop; cli" : : : "memory"); }
static inline uint8_t cpu_mmio_read8(uintptr_t address) { return *(volatile uint8_t *)address; }
static inline void cpu_mmio_write8(uintptr_t address, uint8_t v) { *(volatile uint8_t *)address = v; }
static inline uint16_t cpu_mmio_read16(uintptr_t address) { return *(volatile uint16_t *)address; }
static inline void cpu_mmio_write16(uintptr_t address, uint16_t v) { *(volatile uint16_t *)address = v; }
static inline uint32_t cpu_mmio_read32(uintptr_t address) { return *(volatile uint32_t *)address; }
static inline void cpu_mmio_write32(uintptr_t address, uint32_t v) { *(volatile uint32_t *)address = v; }
static inline void cpu_invlpg(uintptr_t address) { __asm__ volatile("invlpg (%0)" : : "r"(address) : "memory"); }
static inline void cpu_ltr(uint16_t selector) { __asm__ volatile("ltr %0" : : "r"(selector)); }
/* With an empty IDT, int3 escalates to a triple fault: the machine resets. */
static inline _Noreturn void cpu_triple_fault(void) { for (;;) __asm__ volatile("int3"); }

/* Linker-script symbols, as addresses (every x86_64 linker script defines them). */
extern char __image_start[], __image_end[];
extern char __stack_ist_top[];
extern char __guard_boot[], __guard_ist[];

static inline uintptr_t image_start(void) { return (uintptr_t)__image_start; }
static inline uintptr_t image_end(void) { return (uintptr_t)__image_end; }
static inline uintptr_t stack_ist_top(void) { return (uintptr_t)__stack_ist_top; }
static inline uintptr_t guard_boot(void) { return (uintptr_t)__guard_boot; }
static inline uintptr_t guard_ist(void) { return (uintptr_t)__guard_ist; }

/* Interrupts taken so far (boot/x86_64/exceptions.S counts them), and the
 * event bits of the devices that interrupt (pc: set by the device discovery,
 * reported by the idle wait after any interrupt). */
extern volatile uint64_t swiftlet_irq_count;
extern volatile uint64_t swiftlet_device_events;
static inline uint64_t cpu_interrupt_count(void) { return swiftlet_irq_count; }
static inline uint64_t device_events(void) { return swiftlet_device_events; }
static inline void add_device_event(int bit) { swiftlet_device_events |= (uint64_t)1 << bit; }

/* Shared storage (boot/x86_64/storage.S). */
enum { CMDLINE_MAX = 8192, ARGV_MAX = 128, HEAP_REGIONS_MAX = 64 };
extern uint64_t boot_tsc[8];
extern uint64_t swiftlet_gdt[5];
extern uint8_t swiftlet_cmdline_buffer[];
extern const uint8_t *swiftlet_argv[];
extern uint64_t swiftlet_heap_regions[];
extern uint8_t swiftlet_idt[];
static inline uint64_t *boot_stamps(void) { return boot_tsc; }
static inline uint64_t *gdt_base(void) { return swiftlet_gdt; }
static inline uint8_t *cmdline_buffer(void) { return swiftlet_cmdline_buffer; }
static inline const uint8_t **argv_table(void) { return swiftlet_argv; }
static inline uint64_t *heap_region_table(void) { return swiftlet_heap_regions; }
static inline uint8_t *idt_base(void) { return swiftlet_idt; }

/* pc only: the 4 KiB page table of the first 2 MiB (boot/pc/entry.S). */
extern uint64_t boot_pt[512];
static inline uint64_t *pc_low_page_table(void) { return boot_pt; }

#endif
