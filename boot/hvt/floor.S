/*
 * The hvt benchmark floor: a guest whose first instructions HALT with
 * status 0. Running it measures the monitor's own start, image load and exit
 * with no Swiftlet code; `make bench` puts hello's boot-to-exit next to it.
 * Linked with linker/hvt.ld and an empty manifest like the real images.
 */
        .section .text.boot, "ax"
        .code64
        .globl _start
_start:
        sub     $16, %rsp
        movq    $0, (%rsp)              /* cookie */
        movl    $0, 8(%rsp)             /* exit status */
        mov     %rsp, %rax
        mov     $0x508, %dx             /* HALT */
        outl    %eax, %dx
1:      jmp     1b
