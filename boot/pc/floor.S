/*
 * The benchmark floor: a Multiboot kernel whose first instruction ends the VM
 * through isa-debug-exit with status 0. Booting it measures QEMU's own start,
 * firmware, load and quit with no Swiftlet code; `make bench` puts hello's
 * boot-to-exit time next to it. Linked with linker/pc.ld like the real images.
 */
        .section .multiboot, "a"
        .balign 4
multiboot_header:
        .long 0x1BADB002
        .long 0x00010003
        .long -(0x1BADB002 + 0x00010003)
        .long multiboot_header, __image_start, __load_end, __image_end, _start32

        .section .boot.text, "ax"
        .code32
        .globl _start32
_start32:
        mov     $0xf4, %dx
        mov     $1, %eax                /* status 0 + 1: see Exit.swift */
        outl    %eax, %dx
1:      cli
        hlt
        jmp     1b
