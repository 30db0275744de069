/*
 * The Solo5 ABI note (hvt ABI v2): name "Solo5", type ABI1, target hvt (1),
 * version 2. Linked into every hvt image (and the bench floor image).
 */
        .section .note.solo5.abi, "a", @note
        .balign 8
        .long 6
        .long 16
        .long 0x31494241
        .asciz "Solo5"
        .balign 4
        .long 1, 2, 0, 0
