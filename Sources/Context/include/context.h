/*
 * The x86_64 context switch shared by the freestanding images (pc, hvt) and
 * the hosted build, so hosted tests exercise the same instructions the
 * unikernel runs. A context is just a saved stack pointer: the callee-saved
 * registers (rbx, rbp, r12-r15) and, unless built with SWIFTLET_NO_FPU (hvt:
 * integer-only), the MXCSR and x87 control word live on its stack.
 */
#ifndef SWIFTLET_CONTEXT_H
#define SWIFTLET_CONTEXT_H

#include <stdint.h>

/* Saves the running context, stores its stack pointer in *save, and resumes
 * the context whose saved stack pointer is `resume`. Returns when something
 * switches back to *save. */
void swiftlet_context_switch(uintptr_t *save, uintptr_t resume);

/* Prepares the stack below `stack_top` (16-byte aligned down) so that
 * switching to the returned stack pointer calls entry(argument) there.
 * `entry` must never return: it ends by switching away for good. */
uintptr_t swiftlet_context_prepare(void *stack_top, void (*entry)(void *), void *argument);

#endif
