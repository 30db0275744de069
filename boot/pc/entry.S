/*
 * pc platform entry: Multiboot v1 and PVH, 32-bit protected mode -> long mode -> Swift.
 *
 * Both loaders enter _start32 in 32-bit protected mode with paging off:
 *   Multiboot: EAX = 0x2BADB002, EBX = multiboot_info (physical).
 *   PVH:       EBX = hvm_start_info (magic 0x336ec578 at [EBX]); EAX undefined.
 * The Swift side tells the two apart (PVH magic first), so we only pass EAX/EBX on.
 *
 * Page tables: identity map of the first 4 GiB, 2 MiB pages, except the first 2 MiB,
 * which uses 4 KiB pages so that the stack guard pages are absent and the image's
 * text/rodata pages are read-only (CR0.WP makes that bind ring 0). Page 0 stays
 * mapped until the Swift side has read the boot info (PVH loaders put it there),
 * then it is unmapped so that null dereferences fault.
 * SSE is enabled (CR4.OSFXSR/OSXMMEXCPT, CR0.MP, fninit) because Swift emits SSE moves.
 *
 * Time stamps (TSC) of each stage go to boot_tsc[] for the boot-time breakdown.
 * The GDT, boot_tsc and the boot-time buffers live in boot/x86_64/storage.S.
 */

#define MB_MAGIC        0x1BADB002
#define MB_FLAGS        0x00010003   /* page-align modules, want mem info, a.out kludge */
#define PTE_P           0x001
#define PTE_W           0x002
#define PTE_PS          0x080

        .section .multiboot, "a"
        .balign 4
multiboot_header:
        .long MB_MAGIC
        .long MB_FLAGS
        .long -(MB_MAGIC + MB_FLAGS)
        .long multiboot_header          /* header_addr */
        .long __image_start             /* load_addr: file offset 0 */
        .long __load_end                /* load_end_addr: end of file-backed data */
        .long __image_end               /* bss_end_addr: the loader keeps its own data above this */
        .long _start32                  /* entry_addr */

        /* PVH: Xen ELF note XEN_ELFNOTE_PHYS32_ENTRY (18), read by QEMU's ELF loader. */
        .section .note.pvh, "a", @note
        .balign 4
        .long 4                         /* namesz */
        .long 8                         /* descsz */
        .long 18                        /* type */
        .asciz "Xen"
        .balign 4
        .quad _start32

        .section .boot.text, "ax"
        .code32
        .globl _start32
_start32:
        cli
        cld
        mov     %eax, %esi              /* loader magic (Multiboot) */
        rdtsc
        mov     %eax, boot_tsc
        mov     %edx, boot_tsc + 4

        /* Zero .bss (Multiboot zeroes it, PVH/ELF loaders do, but a reset may not). */
        mov     $__bss_start, %edi
        mov     $__bss_end, %ecx
        sub     %edi, %ecx
        shr     $2, %ecx
        xor     %eax, %eax
        rep stosl
        rdtsc
        mov     %eax, boot_tsc + 8
        mov     %edx, boot_tsc + 12

        /* PML4[0] -> PDPT; PDPT[0..3] -> PD0..PD3 (contiguous). */
        mov     $boot_pdpt + (PTE_P | PTE_W), %eax
        mov     %eax, boot_pml4
        mov     $boot_pd + (PTE_P | PTE_W), %eax
        mov     $boot_pdpt, %edi
        mov     $4, %ecx
1:      mov     %eax, (%edi)
        add     $4096, %eax
        add     $8, %edi
        dec     %ecx
        jnz     1b

        /* PD entries: 2 MiB pages for 2 MiB .. 4 GiB. */
        mov     $boot_pd + 8, %edi
        mov     $(0x200000 | PTE_P | PTE_W | PTE_PS), %eax
        mov     $2047, %ecx
2:      mov     %eax, (%edi)
        add     $0x200000, %eax
        add     $8, %edi
        dec     %ecx
        jnz     2b
        movl    $boot_pt + (PTE_P | PTE_W), boot_pd

        /* PT for the first 2 MiB: everything present and writable, then text+rodata
         * read-only and the guard pages absent. Straight loops: under TCG every
         * branch target is another block to translate. */
        mov     $boot_pt, %edi
        mov     $(PTE_P | PTE_W), %eax
        mov     $512, %ecx
3:      mov     %eax, (%edi)
        add     $0x1000, %eax
        add     $8, %edi
        dec     %ecx
        jnz     3b
        mov     $__ro_start, %edi
        shr     $9, %edi                /* page number * 8 = byte offset in the PT */
        mov     $__ro_end, %ecx
        sub     $__ro_start, %ecx
        shr     $12, %ecx
4:      andl    $~PTE_W, boot_pt(%edi)
        add     $8, %edi
        dec     %ecx
        jnz     4b
        mov     $__guard_boot, %edi
        shr     $9, %edi
        movl    $0, boot_pt(%edi)
        mov     $__guard_ist, %edi
        shr     $9, %edi
        movl    $0, boot_pt(%edi)

        rdtsc
        mov     %eax, boot_tsc + 16
        mov     %edx, boot_tsc + 20

        /* Long mode: PAE + SSE in CR4, EFER.LME, paging + WP + MP, EM and TS clear. */
        mov     $0x620, %eax
        mov     %eax, %cr4
        mov     $boot_pml4, %eax
        mov     %eax, %cr3
        mov     $0xC0000080, %ecx
        rdmsr
        or      $0x100, %eax
        wrmsr
        mov     %cr0, %eax
        and     $~0x0000000C, %eax
        or      $0x80010023, %eax
        mov     %eax, %cr0
        lgdt    swiftlet_gdt_pointer
        ljmp    $0x08, $_start64

        .code64
_start64:
        mov     $0x10, %eax
        mov     %eax, %ds
        mov     %eax, %es
        mov     %eax, %ss
        mov     %eax, %fs
        mov     %eax, %gs
        lea     __stack_boot_top(%rip), %rsp
        xor     %ebp, %ebp              /* ends the backtrace */
        fninit
        rdtsc
        mov     %eax, boot_tsc + 24(%rip)
        mov     %edx, boot_tsc + 28(%rip)
        mov     %esi, %edi              /* arg 0: loader magic */
        mov     %ebx, %esi              /* arg 1: boot info address */
        call    swiftlet_pc_start
1:      cli
        hlt
        jmp     1b

        /* PML4 and PDPT must start zeroed (.bss); the PDs and the PT are written whole. */
        .section .bss.pagetables, "aw", @nobits
        .balign 4096
boot_pml4:      .skip 4096
boot_pdpt:      .skip 4096

        .section .noinit, "aw", @nobits
        .balign 4096
boot_pd:        .skip 4 * 4096
        .globl boot_pt
boot_pt:        .skip 4096
