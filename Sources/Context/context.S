/*
 * x86_64 context switch (see include/context.h). System V: rbx, rbp, r12-r15
 * are callee-saved, and so are MXCSR's control bits and the x87 control word,
 * which we keep in one 8-byte slot unless SWIFTLET_NO_FPU.
 * Frame at a saved stack pointer, lowest address first:
 *   [fpu: mxcsr @0, x87 cw @4]  r15 r14 r13 r12 rbx rbp  return-address
 */
#if defined(__x86_64__)
        .text
        .globl swiftlet_context_switch
        .type swiftlet_context_switch, @function
        .balign 16
swiftlet_context_switch:
        pushq   %rbp
        pushq   %rbx
        pushq   %r12
        pushq   %r13
        pushq   %r14
        pushq   %r15
#ifndef SWIFTLET_NO_FPU
        subq    $8, %rsp
        stmxcsr (%rsp)
        fnstcw  4(%rsp)
#endif
        movq    %rsp, (%rdi)
        movq    %rsi, %rsp
#ifndef SWIFTLET_NO_FPU
        ldmxcsr (%rsp)
        fldcw   4(%rsp)
        addq    $8, %rsp
#endif
        popq    %r15
        popq    %r14
        popq    %r13
        popq    %r12
        popq    %rbx
        popq    %rbp
        ret
        .size swiftlet_context_switch, . - swiftlet_context_switch

/* First code of a new context: entry (r13) called with argument (r12) on an
 * aligned stack; a return from it is a bug, so trap loudly. */
        .type swiftlet_context_start, @function
        .balign 16
swiftlet_context_start:
        movq    %r12, %rdi
        andq    $-16, %rsp
        xorl    %ebp, %ebp              /* the new stack's backtrace ends here */
        callq   *%r13
        ud2
        .size swiftlet_context_start, . - swiftlet_context_start

        .globl swiftlet_context_prepare
        .type swiftlet_context_prepare, @function
        .balign 16
swiftlet_context_prepare:
        movq    %rdi, %rax
        andq    $-16, %rax
        leaq    swiftlet_context_start(%rip), %rcx
        movq    %rcx, -8(%rax)          /* return address */
        movq    $0, -16(%rax)           /* rbp */
        movq    $0, -24(%rax)           /* rbx */
        movq    %rdx, -32(%rax)         /* r12: argument */
        movq    %rsi, -40(%rax)         /* r13: entry */
        movq    $0, -48(%rax)           /* r14 */
        movq    $0, -56(%rax)           /* r15 */
#ifndef SWIFTLET_NO_FPU
        movl    $0x1F80, -64(%rax)      /* MXCSR: all exceptions masked, round to nearest */
        movl    $0x037F, -60(%rax)      /* x87: all exceptions masked, 64-bit precision */
        subq    $64, %rax
#else
        subq    $56, %rax
#endif
        ret
        .size swiftlet_context_prepare, . - swiftlet_context_prepare
#endif

        .section .note.GNU-stack, "", @progbits
