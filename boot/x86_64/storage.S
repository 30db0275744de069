/*
 * Storage both x86_64 platforms (pc, hvt) share: the GDT, the IDT and TSS,
 * the boot time stamps, and the boot-time buffers the Swift side fills before
 * the heap exists. Accessors: Sources/Platform/X86_64/CPU/include/cpu.h.
 */

        /* GDT: null, 64-bit code 0x08, data 0x10, TSS 0x18 (16 bytes, filled by Swift). */
        .section .data.boot, "aw"
        .balign 16
        .globl swiftlet_gdt, swiftlet_gdt_pointer
swiftlet_gdt:
        .quad 0
        .quad 0x00AF9A000000FFFF
        .quad 0x00CF92000000FFFF
        .quad 0, 0
swiftlet_gdt_end:
swiftlet_gdt_pointer:
        .word swiftlet_gdt_end - swiftlet_gdt - 1
        .quad swiftlet_gdt

        /* Stage time stamps: entry, bss zeroed, page tables, long mode, then the Swift stages. */
        .balign 8
        .globl boot_tsc
boot_tsc:
        .quad 0, 0, 0, 0, 0, 0, 0, 0

        /* Written before they are read: not zeroed at boot. */
        .section .noinit, "aw", @nobits
        .globl swiftlet_cmdline_buffer, swiftlet_argv, swiftlet_heap_regions, swiftlet_idt
        .balign 16
swiftlet_cmdline_buffer:  .skip 8192 + 1      /* the command line, split in place */
        .balign 8
swiftlet_argv:            .skip 8 * 128       /* argument start pointers */
swiftlet_heap_regions:    .skip 16 * 64       /* heap regions: start, size */
        .balign 16
swiftlet_idt:             .skip 16 * 32

        .section .bss.tss, "aw", @nobits
        .balign 16
        .globl swiftlet_tss
swiftlet_tss:             .skip 104           /* reserved fields must be zero */
