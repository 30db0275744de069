/*
 * hvt platform entry (Solo5 hvt ABI v2): the monitor starts us in long mode
 * with its own page tables, interrupts off, RDI = boot info (0x10000) and RSP
 * at the top of guest memory. We move to our own stack - at the very start of
 * the image, so that a stack overflow runs into the monitor's read-only page
 * below 1 MiB and faults instead of corrupting memory - load our GDT (the
 * monitor's at 0x1000 is not mapped for us), reload the segments and call
 * swiftlet_hvt_start(boot info). Guest RAM arrives zeroed: no .bss clearing.
 *
 * Integer-only: this machine's KVM stops on SSE and x87 instructions.
 */

        .section .text.boot, "ax"
        .code64
        .globl _start
_start:
        cli
        cld
        mov     %rdi, %r12              /* boot info, kept in a callee-saved register */
        rdtsc
        shl     $32, %rdx
        or      %rdx, %rax
        mov     %rax, boot_tsc(%rip)    /* entry */
        mov     %rax, boot_tsc + 8(%rip)  /* no .bss to clear */
        mov     %rax, boot_tsc + 16(%rip) /* the monitor's page tables */
        lea     __stack_boot_top(%rip), %rsp
        xor     %ebp, %ebp              /* ends the backtrace */
        lgdt    swiftlet_gdt_pointer(%rip)
        pushq   $0x08
        lea     1f(%rip), %rax
        pushq   %rax
        lretq                           /* reload CS from our GDT */
1:      mov     $0x10, %eax
        mov     %eax, %ds
        mov     %eax, %es
        mov     %eax, %ss
        mov     %eax, %fs
        mov     %eax, %gs
        rdtsc
        shl     $32, %rdx
        or      %rdx, %rax
        mov     %rax, boot_tsc + 24(%rip) /* our GDT and stack */
        mov     %r12, %rdi
        call    swiftlet_hvt_start
2:      jmp     2b                      /* never: `hlt` would end the VM */
