/*
 * CPU exception stubs and the Swift trap entry, shared by pc and hvt.
 *
 * Every path builds the same frame (see swiftlet_trap_frame in cpu.h) and calls
 * swiftlet_exception(frame) - each platform defines it - which prints the panic
 * report and never returns:
 *   r15 .. rax (15 GPRs), vector, error code, rip, cs, rflags, rsp, ss
 * Vectors without a CPU error code push a 0. Vector 256 is a Swift runtime trap
 * (overflow, bounds, precondition, fatalError, nil unwrap via -trap-function).
 */

        .text
        .code64

/* The stubs sit 16 bytes apart from a 512-byte aligned base, so that the
 * linker can compute every IDT gate (boot/x86_64/storage.S) with no carry. */

.macro STUB_NOERR n
        .balign 16
isr_\n:
        pushq   $0
        pushq   $\n
        jmp     isr_common
.endm

.macro STUB_ERR n
        .balign 16
isr_\n:
        pushq   $\n
        jmp     isr_common
.endm

        .balign 512
        .globl swiftlet_isr_base
swiftlet_isr_base:
STUB_NOERR 0
STUB_NOERR 1
STUB_NOERR 2
STUB_NOERR 3
STUB_NOERR 4
STUB_NOERR 5
STUB_NOERR 6
STUB_NOERR 7
STUB_ERR   8
STUB_NOERR 9
STUB_ERR   10
STUB_ERR   11
STUB_ERR   12
STUB_ERR   13
STUB_ERR   14
STUB_NOERR 15
STUB_NOERR 16
STUB_ERR   17
STUB_NOERR 18
STUB_NOERR 19
STUB_NOERR 20
STUB_ERR   21
STUB_NOERR 22
STUB_NOERR 23
STUB_NOERR 24
STUB_NOERR 25
STUB_NOERR 26
STUB_NOERR 27
STUB_NOERR 28
STUB_ERR   29
STUB_ERR   30
STUB_NOERR 31

isr_common:
        pushq   %rax
        pushq   %rbx
        pushq   %rcx
        pushq   %rdx
        pushq   %rsi
        pushq   %rdi
        pushq   %rbp
        pushq   %r8
        pushq   %r9
        pushq   %r10
        pushq   %r11
        pushq   %r12
        pushq   %r13
        pushq   %r14
        pushq   %r15
        mov     %rsp, %rdi
        and     $-16, %rsp
        cld
        call    swiftlet_exception
1:      cli
        hlt
        jmp     1b

/*
 * External interrupts (vectors 32-63). They can arrive only inside the
 * idle `sti; hlt; cli` (Sources/Platform/PC/Swift/LocalAPIC.swift): their
 * job is to end the `hlt` and be counted (swiftlet_irq_count: the platform
 * then tells the device waiters to look at their devices). EOI to the xAPIC
 * at its reset address (harmless for a spurious or PIC vector); hvt never
 * enables interrupts.
 */
        .globl swiftlet_irq
        .balign 16
swiftlet_irq:
        pushq   %rax
        lock incq swiftlet_irq_count(%rip)
        movabsq $0xFEE000B0, %rax
        movl    $0, (%rax)
        popq    %rax
        iretq

/*
 * Entries called like functions that fake an interrupt frame, so that Swift
 * runtime traps (-trap-function swiftlet_trap) and kernel panics
 * (swiftlet_platform_abort) print the same report as a CPU exception.
 */
.macro FAKE_FRAME_ENTRY name, vector
        .globl \name
        .balign 16
\name:
        sub     $40, %rsp               /* rip, cs, rflags, rsp, ss */
        pushq   %rax
        mov     48(%rsp), %rax          /* return address into the caller */
        mov     %rax, 8(%rsp)
        movq    $0x08, 16(%rsp)
        pushfq
        popq    %rax
        mov     %rax, 24(%rsp)
        lea     56(%rsp), %rax          /* the caller's rsp as it was before the call */
        mov     %rax, 32(%rsp)
        movq    $0x10, 40(%rsp)
        popq    %rax
        pushq   $0
        pushq   $\vector
        jmp     isr_common
.endm

FAKE_FRAME_ENTRY swiftlet_trap, 256
FAKE_FRAME_ENTRY swiftlet_platform_abort, 257
