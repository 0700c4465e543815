/*
 * f16.h: IEEE 754 half precision (binary16) <-> float, bit-exact and
 * portable. Model files of format 3 store their weights as halves: half the
 * bytes to read, check and pull through the cache, for a relative error of
 * at most 2^-11 per weight (margins move by about 1e-4).
 *
 * Conversion to half rounds to nearest, ties to even, as the F16C
 * instruction VCVTPS2PH does; conversion to float is exact, so the scoring
 * loop's F16C path (VCVTPH2PS) and these functions agree bit for bit.
 */
#ifndef AITAG_F16_H
#define AITAG_F16_H

#include <stdint.h>
#include <string.h>

#define AITAG__F16_MAX 65504.0f

static inline float aitag__f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, em = h & 0x7fffu, x;
    if (em >= 0x7c00u) /* infinity or NaN */
        x = sign | 0x7f800000u | (em & 0x3ffu) << 13;
    else if (em >= 0x0400u) /* normal: rebias the exponent from 15 to 127 */
        x = sign | ((em << 13) + ((uint32_t)(127 - 15) << 23));
    else { /* zero or subnormal: em units of 2^-24, exact in a float */
        float f = (float)em * 0x1p-24f;
        memcpy(&x, &f, 4);
        x |= sign;
    }
    float f;
    memcpy(&f, &x, 4);
    return f;
}

static inline uint16_t aitag__f32_to_f16(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000u);
    uint32_t ax = x & 0x7fffffffu;
    if (ax > 0x7f800000u) /* NaN stays NaN (quiet) */
        return sign | 0x7e00u;
    if (ax >= 0x477ff000u) /* rounds to 65536 or more: infinity */
        return sign | 0x7c00u;
    if (ax < 0x38800000u) { /* below 2^-14: a subnormal half (or zero) */
        /* adding 0.5 puts |f| in units of 2^-24 in the mantissa, rounded
         * to nearest even by the addition itself */
        float a;
        memcpy(&a, &ax, 4);
        a += 0.5f;
        uint32_t r;
        memcpy(&r, &a, 4);
        return sign | (uint16_t)(r - 0x3f000000u);
    }
    /* normal: drop 13 mantissa bits, rounding to nearest even */
    uint32_t odd = (ax >> 13) & 1u;
    ax += ((uint32_t)(15 - 127) << 23) + 0xfffu + odd;
    return sign | (uint16_t)(ax >> 13);
}

#endif
