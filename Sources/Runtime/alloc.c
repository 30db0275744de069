/*
 * The C allocation and console entry points the Embedded Swift runtime and
 * stdlib call, forwarded to the kernel heap (Sources/Swiftlet/KernelHeap.swift)
 * and the platform console. They are C because Swift may not define names
 * the Swift runtime reserves. Images only.
 */
#include <stddef.h>
#include <stdint.h>

void *swiftlet_heap_allocate(size_t size, size_t alignment);
void *swiftlet_heap_reallocate(void *p, size_t size);
void swiftlet_heap_free(void *p);
void swiftlet_platform_write(const uint8_t *bytes, size_t count);

int posix_memalign(void **out, size_t alignment, size_t size) {
    void *p = swiftlet_heap_allocate(size, alignment);
    if (!p) return 12; /* ENOMEM */
    *out = p;
    return 0;
}

void *malloc(size_t size) { return swiftlet_heap_allocate(size, 16); }

void *realloc(void *p, size_t size) {
    return p ? swiftlet_heap_reallocate(p, size) : swiftlet_heap_allocate(size, 16);
}

void free(void *p) {
    if (p) swiftlet_heap_free(p);
}

int putchar(int c) {
    uint8_t b = (uint8_t)c;
    swiftlet_platform_write(&b, 1);
    return c;
}
