/*
 * The few libm functions the Embedded Swift stdlib asks for (Dictionary/Set
 * capacity math uses ceil; Float/Double rounding APIs use the others). Written
 * on the IEEE-754 bits with integer operations only, so they are correct with or
 * without SSE and never recurse into a builtin. Images only.
 */
#include <stdint.h>

static double bits_to_double(uint64_t u) { union { uint64_t u; double d; } v = { .u = u }; return v.d; }
static uint64_t double_to_bits(double d) { union { double d; uint64_t u; } v = { .d = d }; return v.u; }
static float bits_to_float(uint32_t u) { union { uint32_t u; float f; } v = { .u = u }; return v.f; }
static uint32_t float_to_bits(float f) { union { float f; uint32_t u; } v = { .f = f }; return v.u; }

/* Rounds towards zero; `*exact` tells whether the fraction was zero. */
static double trunc_bits(double x, int *exact) {
    uint64_t u = double_to_bits(x);
    int e = (int)((u >> 52) & 0x7ff) - 1023;
    *exact = 1;
    if (e >= 52) return x;                         /* integral, inf or nan */
    if (e < 0) {                                   /* |x| < 1 */
        *exact = (u << 1) == 0;
        return bits_to_double(u & 0x8000000000000000ull);
    }
    uint64_t frac = 0x000fffffffffffffull >> e;
    if ((u & frac) == 0) return x;
    *exact = 0;
    return bits_to_double(u & ~frac);
}

double trunc(double x) { int exact; return trunc_bits(x, &exact); }

double floor(double x) {
    int exact; double t = trunc_bits(x, &exact);
    if (exact || !(double_to_bits(x) >> 63)) return t;
    return t - 1.0;
}

double ceil(double x) {
    int exact; double t = trunc_bits(x, &exact);
    if (exact || (double_to_bits(x) >> 63)) return t;
    return t + 1.0;
}

/* Half away from zero, as C's round. */
double round(double x) {
    int exact; double t = trunc_bits(x, &exact);
    if (exact) return t;
    double diff = x - t;
    if (diff >= 0.5) return t + 1.0;
    if (diff <= -0.5) return t - 1.0;
    return t;
}

float ceilf(float x) { return (float)ceil((double)x); }
float floorf(float x) { return (float)floor((double)x); }
float roundf(float x) { return (float)round((double)x); }
float truncf(float x) { return (float)trunc((double)x); }

/* Newton iteration on the bits' square-root estimate; exact enough for stdlib use. */
double sqrt(double x) {
    if (!(x > 0.0)) return x == 0.0 ? x : bits_to_double(0x7ff8000000000000ull);
    if (double_to_bits(x) >= 0x7ff0000000000000ull) return x;  /* inf */
    double r = bits_to_double((double_to_bits(x) >> 1) + 0x1ff8000000000000ull);
    for (int i = 0; i < 6; i++) r = 0.5 * (r + x / r);
    return r;
}
float sqrtf(float x) { return (float)sqrt((double)x); }

double fabs(double x) { return bits_to_double(double_to_bits(x) & ~0x8000000000000000ull); }
float fabsf(float x) { return bits_to_float(float_to_bits(x) & 0x7fffffffu); }
