/* One multi-way nonce scan, included by _powkernel.c once per vector width with
 *   V       a GCC vector type of LANES uint32_t
 *   LANES   8 (AVX2) or 16 (AVX-512)
 *   KTARGET the function's target attribute
 *   KNAME   the function's name
 *
 * KNAME(mid, tw, start, end, top) -> the first nonce n in [start, end) whose sha256d header
 * hash has its most significant 32 bits (little-endian reading: bswap of the second hash's
 * state word 7) <= top, or end when none has. LANES nonces run at once, one per lane. The
 * caller checks every candidate against the full target (a candidate whose top 32 bits equal
 * the target's may still miss it). The first three rounds of the first compression use only
 * header words that are the same for every nonce, so they run once, before the loop.
 */

KTARGET static uint64_t KNAME(const uint32_t mid[8], const uint32_t tw[3], uint64_t start,
                              uint64_t end, uint32_t top) {
    V lane, w[64], a, b, c, d, e, f, g, h, t1, t2;
    uint32_t s[8], hits[LANES];
    for (int i = 0; i < LANES; i++) lane[i] = (uint32_t)i;
    /* rounds 0-2 of the first compression: the same for every nonce */
    memcpy(s, mid, 32);
    for (int i = 0; i < 3; i++) {
        uint32_t x1 = s[7] + SS1(s[4]) + CH(s[4], s[5], s[6]) + K[i] + tw[i];
        uint32_t x2 = SS0(s[0]) + MAJ(s[0], s[1], s[2]);
        s[7] = s[6], s[6] = s[5], s[5] = s[4], s[4] = s[3] + x1;
        s[3] = s[2], s[2] = s[1], s[1] = s[0], s[0] = x1 + x2;
    }
    for (uint64_t base = start; base < end; base += LANES) {
        V n = lane + (uint32_t)base;
        /* first compression: W = tail words, nonce, padding (640 bits) */
        w[0] = (V){} + tw[0], w[1] = (V){} + tw[1], w[2] = (V){} + tw[2];
        w[3] = (n << 24) | ((n << 8) & 0x00ff0000u) | ((n >> 8) & 0x0000ff00u) | (n >> 24);
        w[4] = (V){} + 0x80000000u;
#pragma GCC unroll 16
        for (int i = 5; i < 15; i++) w[i] = (V){};
        w[15] = (V){} + 640u;
#pragma GCC unroll 48
        for (int i = 16; i < 64; i++)
            w[i] = w[i - 16] + VS0(w[i - 15]) + w[i - 7] + VS1(w[i - 2]);
        a = (V){} + s[0], b = (V){} + s[1], c = (V){} + s[2], d = (V){} + s[3];
        e = (V){} + s[4], f = (V){} + s[5], g = (V){} + s[6], h = (V){} + s[7];
#pragma GCC unroll 61
        for (int i = 3; i < 64; i++) {
            t1 = h + VSS1(e) + ((e & f) ^ (~e & g)) + K[i] + w[i];
            t2 = VSS0(a) + ((a & b) ^ (a & c) ^ (b & c));
            h = g, g = f, f = e, e = d + t1, d = c, c = b, b = a, a = t1 + t2;
        }
        /* second compression: W = the first hash, padding (256 bits) */
        w[0] = a + mid[0], w[1] = b + mid[1], w[2] = c + mid[2], w[3] = d + mid[3];
        w[4] = e + mid[4], w[5] = f + mid[5], w[6] = g + mid[6], w[7] = h + mid[7];
        w[8] = (V){} + 0x80000000u;
#pragma GCC unroll 8
        for (int i = 9; i < 15; i++) w[i] = (V){};
        w[15] = (V){} + 256u;
#pragma GCC unroll 48
        for (int i = 16; i < 64; i++)
            w[i] = w[i - 16] + VS0(w[i - 15]) + w[i - 7] + VS1(w[i - 2]);
        a = (V){} + IV[0], b = (V){} + IV[1], c = (V){} + IV[2], d = (V){} + IV[3];
        e = (V){} + IV[4], f = (V){} + IV[5], g = (V){} + IV[6], h = (V){} + IV[7];
#pragma GCC unroll 64
        for (int i = 0; i < 64; i++) {
            t1 = h + VSS1(e) + ((e & f) ^ (~e & g)) + K[i] + w[i];
            t2 = VSS0(a) + ((a & b) ^ (a & c) ^ (b & c));
            h = g, g = f, f = e, e = d + t1, d = c, c = b, b = a, a = t1 + t2;
        }
        h += IV[7];
        h = (h << 24) | ((h << 8) & 0x00ff0000u) | ((h >> 8) & 0x0000ff00u) | (h >> 24);
        memcpy(hits, &h, sizeof hits);
        for (int i = 0; i < LANES; i++)
            if (hits[i] <= top && base + (uint64_t)i < end) return base + (uint64_t)i;
    }
    return end;
}
