/*
 * Storage both x86_64 platforms (pc, hvt) share: the GDT, the IDT and TSS,
 * the boot time stamps, and the boot-time buffers the Swift side fills before
 * the heap exists. Accessors: Sources/Platform/X86_64/CPU/include/cpu.h.
 *
 * The IDT, the TSS and the GDT's TSS descriptor are complete at link time
 * (the linker scripts split the addresses into the fields below), so boot
 * only runs lidt and ltr: on an emulating CPU every boot instruction counts.
 */

        /* GDT: null, 64-bit code 0x08, data 0x10, TSS 0x18 (16 bytes). */
        .section .data.boot, "aw"
        .balign 16
        .globl swiftlet_gdt, swiftlet_gdt_pointer, swiftlet_idt
swiftlet_gdt:
        .quad 0
        .quad 0x00AF9A000000FFFF
        .quad 0x00CF92000000FFFF
        /* 0x18: 64-bit TSS descriptor, available, limit 103 */
        .word 103
        .word __tss_b0_15
        .byte __tss_b16_23
        .byte 0x89
        .byte 0
        .byte __tss_b24_31
        .long __tss_b32_63
        .long 0
swiftlet_gdt_end:
swiftlet_gdt_pointer:
        .word swiftlet_gdt_end - swiftlet_gdt - 1
        .quad swiftlet_gdt

        /* Interrupts taken (swiftlet_irq), and the event bits of the devices
         * that interrupt. */
        .balign 8
        .globl swiftlet_irq_count, swiftlet_device_events
swiftlet_irq_count:
        .quad 0
swiftlet_device_events:
        .quad 0

        /* Stage time stamps: entry, bss zeroed, page tables, long mode, then the Swift stages. */
        .balign 8
        .globl boot_tsc
boot_tsc:
        .quad 0, 0, 0, 0, 0, 0, 0, 0

        /* Written before they are read: not zeroed at boot. */
        .section .noinit, "aw", @nobits
        .globl swiftlet_cmdline_buffer, swiftlet_argv, swiftlet_heap_regions
        .balign 16
swiftlet_cmdline_buffer:  .skip 8192 + 1      /* the command line, split in place */
        .balign 8
swiftlet_argv:            .skip 8 * 128       /* argument start pointers */
swiftlet_heap_regions:    .skip 16 * 64       /* heap regions: start, size */

        /* IDT: exceptions 0-31 and interrupts 32-63, interrupt gates (present, DPL 0) on the kernel
         * code segment; NMI, #DF, #PF and #MC switch to IST1. */
        .section .data.boot, "aw"
        .balign 16
swiftlet_idt:
.irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
        .word __isr_low16 + \n * 16
        .word 0x08
        .byte (\n == 2 || \n == 8 || \n == 14 || \n == 18)
        .byte 0x8E
        .word __isr_mid16
        .long __isr_high32
        .long 0
.endr
        /* 32-63: external interrupts (pc: the PICs' 32-47, the APIC timer 48,
         * the APIC's spurious 63), all on swiftlet_irq; interrupts are only
         * ever enabled inside the idle `hlt`. */
.rept 32
        .word __irq_low16
        .word 0x08
        .byte 0
        .byte 0x8E
        .word __irq_mid16
        .long __irq_high32
        .long 0
.endr

        /* TSS: IST1 is the exception stack; no I/O bitmap. */
        .balign 16
        .globl swiftlet_tss
swiftlet_tss:
        .long 0
        .quad 0, 0, 0, 0                /* rsp0-2, reserved */
        .quad __stack_ist_top           /* IST1 at 0x24 */
        .quad 0, 0, 0, 0, 0, 0, 0       /* IST2-7, reserved */
        .word 0
        .word 104                       /* I/O map base: none */
