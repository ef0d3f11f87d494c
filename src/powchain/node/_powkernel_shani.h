/* The SHA extensions kernel: two nonces interleaved (as Bitcoin Core's sha256_x86_shani.cpp
 * interleaves two messages), so one message's SHA256RNDS2 runs while the other's waits.
 * Included by _powkernel.c on x86-64 only; same contract as the scans of _powkernel_simd.h.
 * The state lives as (ABEF, CDGH) register pairs, the layout SHA256RNDS2 works on. */

#define SHANI __attribute__((target("sha,sse4.1,ssse3")))

/* Schedule words of group g (W[4g..4g+3]) from the four previous groups, in place. */
#define SHANI_SCHEDULE(m, g)                                                               \
    m[(g) & 3] = _mm_sha256msg2_epu32(                                                     \
        _mm_add_epi32(_mm_sha256msg1_epu32(m[(g) & 3], m[((g) + 1) & 3]),                  \
                      _mm_alignr_epi8(m[((g) + 3) & 3], m[((g) + 2) & 3], 4)),             \
        m[((g) + 3) & 3])

/* Two compressions side by side: (s0a, s1a) with message ma, (s0b, s1b) with mb; the
 * states are updated with the feed-forward addition. */
SHANI static inline void shani_compress2(__m128i *s0a, __m128i *s1a, __m128i ma[4],
                                         __m128i *s0b, __m128i *s1b, __m128i mb[4]) {
    __m128i a0 = *s0a, a1 = *s1a, b0 = *s0b, b1 = *s1b, xa, xb, k;
#pragma GCC unroll 16
    for (int g = 0; g < 16; g++) {
        if (g >= 4) {
            SHANI_SCHEDULE(ma, g);
            SHANI_SCHEDULE(mb, g);
        }
        k = _mm_loadu_si128((const __m128i *)&K[4 * g]);
        xa = _mm_add_epi32(ma[g & 3], k);
        xb = _mm_add_epi32(mb[g & 3], k);
        a1 = _mm_sha256rnds2_epu32(a1, a0, xa);
        b1 = _mm_sha256rnds2_epu32(b1, b0, xb);
        xa = _mm_shuffle_epi32(xa, 0x0E);
        xb = _mm_shuffle_epi32(xb, 0x0E);
        a0 = _mm_sha256rnds2_epu32(a0, a1, xa);
        b0 = _mm_sha256rnds2_epu32(b0, b1, xb);
    }
    *s0a = _mm_add_epi32(a0, *s0a), *s1a = _mm_add_epi32(a1, *s1a);
    *s0b = _mm_add_epi32(b0, *s0b), *s1b = _mm_add_epi32(b1, *s1b);
}

/* (ABEF, CDGH) -> the message words (A, B, C, D) and (E, F, G, H), word 0 in lane 0. */
SHANI static inline void shani_state_to_words(__m128i abef, __m128i cdgh, __m128i *m0,
                                              __m128i *m1) {
    __m128i t = _mm_shuffle_epi32(abef, 0x1B), u = _mm_shuffle_epi32(cdgh, 0xB1);
    *m0 = _mm_blend_epi16(t, u, 0xF0);
    *m1 = _mm_alignr_epi8(u, t, 8);
}

SHANI static inline uint32_t shani_top(__m128i cdgh) {
    uint32_t h = (uint32_t)_mm_cvtsi128_si32(cdgh) + 0; /* lane 0 of CDGH is H */
    return (h << 24) | ((h << 8) & 0x00ff0000u) | ((h >> 8) & 0x0000ff00u) | (h >> 24);
}

static uint32_t bswap32(uint32_t x) {
    return (x << 24) | ((x << 8) & 0x00ff0000u) | ((x >> 8) & 0x0000ff00u) | (x >> 24);
}

SHANI static uint64_t scan_shani(const uint32_t mid[8], const uint32_t tw[3], uint64_t start,
                                 uint64_t end, uint32_t top) {
    const __m128i mid0 = _mm_set_epi32(mid[0], mid[1], mid[4], mid[5]);
    const __m128i mid1 = _mm_set_epi32(mid[2], mid[3], mid[6], mid[7]);
    const __m128i iv0 = _mm_set_epi32(IV[0], IV[1], IV[4], IV[5]);
    const __m128i iv1 = _mm_set_epi32(IV[2], IV[3], IV[6], IV[7]);
    const __m128i pad1 = _mm_set_epi32(0, 0, 0, (int)0x80000000u);
    const __m128i len640 = _mm_set_epi32(640, 0, 0, 0), len256 = _mm_set_epi32(256, 0, 0, 0);
    for (uint64_t n = start; n < end; n += 2) {
        __m128i ma[4], mb[4], a0 = mid0, a1 = mid1, b0 = mid0, b1 = mid1;
        uint32_t na = (uint32_t)n, nb = (uint32_t)(n + 1);
        ma[0] = _mm_set_epi32((int)bswap32(na), tw[2], tw[1], tw[0]);
        mb[0] = _mm_set_epi32((int)bswap32(nb), tw[2], tw[1], tw[0]);
        ma[1] = mb[1] = pad1;
        ma[2] = mb[2] = _mm_setzero_si128();
        ma[3] = mb[3] = len640;
        shani_compress2(&a0, &a1, ma, &b0, &b1, mb);
        shani_state_to_words(a0, a1, &ma[0], &ma[1]);
        shani_state_to_words(b0, b1, &mb[0], &mb[1]);
        ma[2] = mb[2] = pad1;
        ma[3] = mb[3] = len256;
        a0 = b0 = iv0, a1 = b1 = iv1;
        shani_compress2(&a0, &a1, ma, &b0, &b1, mb);
        if (shani_top(a1) <= top) return n;
        if (shani_top(b1) <= top && n + 1 < end) return n + 1;
    }
    return end;
}
