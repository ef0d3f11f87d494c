/* powchain._powkernel: the proof-of-work nonce search in C, and its hardware bound.
 *
 * search(header76, start, end, target32) -> nonce | None
 *     The first nonce in [start, end) whose sha256d(header76 || nonce_le32), read as a
 *     little-endian integer, is <= the target (32 bytes, little-endian). Same contract as
 *     powsearch.search_nonce (SPEC section 4). The SHA-256 state after the first 64 header
 *     bytes (the midstate) is computed once; per nonce two compressions run: the second half
 *     of the header and the 32-byte digest of the first hash, both pre-padded.
 * search_with(backend, header76, start, end, target32): the same with a named backend.
 * backends() -> the backends this CPU runs, best first; backend() -> the one `search` uses;
 * use(name) switches it (also $POWCHAIN_KERNEL at import, for tests and benchmarks).
 *
 * Backends, chosen at import by CPU feature (CPUID and XGETBV, so a build runs on any
 * x86-64, and elsewhere only the scalar ones are compiled):
 *     avx512   16 nonces at once in 512-bit vectors (AVX-512 F/BW/VL)
 *     sha-ni   the SHA extensions, two nonces interleaved (_powkernel_shani.h)
 *     avx2     8 nonces at once in 256-bit vectors
 *     openssl  OpenSSL's SHA256_Transform, one nonce at a time (when built with its headers)
 *     portable the C compression below (FIPS 180-4), one nonce at a time
 * The vector kernels (_powkernel_simd.h, GCC vector extensions compiled per target) run the
 * first three rounds of the first compression once per search (they use only the header's
 * fixed words) and keep every nonce whose hash has its top 32 bits under the target's; each
 * such candidate is re-checked with the portable code against the full target.
 *
 * bound_loop(backend, header76, count) -> count
 *     The bound of benchmark B1: the backend's raw compression loop over `count` nonces.
 * sha256d_loop(header80, count) -> int
 *     `count` plain double SHA-256 hashes through the library's one-shot function (the
 *     earlier B1 bound). Returns a checksum byte so the loop cannot be optimised away.
 *
 * The GIL is released while hashing.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifdef POWCHAIN_OPENSSL
#define OPENSSL_SUPPRESS_DEPRECATED 1
#include <openssl/sha.h>
#endif

/* ---- SHA-256: constants and the portable compression (always built) -------------------- */

static const uint32_t IV[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                               0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};

static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
    0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
    0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
    0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
    0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
    0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
    0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
    0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
    0xc67178f2};

#define ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))
#define SS0(x) (ROR(x, 2) ^ ROR(x, 13) ^ ROR(x, 22))
#define SS1(x) (ROR(x, 6) ^ ROR(x, 11) ^ ROR(x, 25))
#define CH(x, y, z) (((x) & (y)) ^ (~(x) & (z)))
#define MAJ(x, y, z) (((x) & (y)) ^ ((x) & (z)) ^ ((y) & (z)))
#define VS0(x) (ROR(x, 7) ^ ROR(x, 18) ^ ((x) >> 3))
#define VS1(x) (ROR(x, 17) ^ ROR(x, 19) ^ ((x) >> 10))
#define VSS0(x) SS0(x)
#define VSS1(x) SS1(x)

static void compress_portable(uint32_t state[8], const unsigned char block[64]) {
    uint32_t w[64], a, b, c, d, e, f, g, h;
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)block[4 * i] << 24 | (uint32_t)block[4 * i + 1] << 16 |
               (uint32_t)block[4 * i + 2] << 8 | block[4 * i + 3];
    for (int i = 16; i < 64; i++) w[i] = w[i - 16] + VS0(w[i - 15]) + w[i - 7] + VS1(w[i - 2]);
    a = state[0], b = state[1], c = state[2], d = state[3];
    e = state[4], f = state[5], g = state[6], h = state[7];
    for (int i = 0; i < 64; i++) {
        uint32_t t1 = h + SS1(e) + CH(e, f, g) + K[i] + w[i];
        uint32_t t2 = SS0(a) + MAJ(a, b, c);
        h = g, g = f, f = e, e = d + t1, d = c, c = b, b = a, a = t1 + t2;
    }
    state[0] += a, state[1] += b, state[2] += c, state[3] += d;
    state[4] += e, state[5] += f, state[6] += g, state[7] += h;
}

static void put_be32(unsigned char *p, uint32_t v) {
    p[0] = v >> 24, p[1] = v >> 16, p[2] = v >> 8, p[3] = v;
}

static uint32_t get_be32(const unsigned char *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

#ifdef POWCHAIN_OPENSSL

static void compress_openssl(uint32_t state[8], const unsigned char block[64]) {
    SHA256_CTX ctx;
    memcpy(ctx.h, state, 32);
    SHA256_Transform(&ctx, block);
    memcpy(state, ctx.h, 32);
}

/* The low-level API: SHA256() in OpenSSL 3 fetches an EVP provider on every call. */
static void sha256d_80(const unsigned char header[80], unsigned char out[32]) {
    unsigned char first[32];
    SHA256_CTX ctx;
    SHA256_Init(&ctx);
    SHA256_Update(&ctx, header, 80);
    SHA256_Final(first, &ctx);
    SHA256_Init(&ctx);
    SHA256_Update(&ctx, first, 32);
    SHA256_Final(out, &ctx);
}

#else

/* General SHA-256 of a short message (< 56 + 64 bytes), padding as FIPS 180-4 says. */
static void sha256_short(const unsigned char *msg, size_t len, unsigned char out[32]) {
    unsigned char buf[128] = {0};
    uint32_t st[8];
    size_t blocks = len + 9 <= 64 ? 1 : 2;
    memcpy(buf, msg, len);
    buf[len] = 0x80;
    put_be32(buf + blocks * 64 - 4, (uint32_t)(len * 8));
    memcpy(st, IV, 32);
    for (size_t i = 0; i < blocks; i++) compress_portable(st, buf + 64 * i);
    for (int i = 0; i < 8; i++) put_be32(out + 4 * i, st[i]);
}

static void sha256d_80(const unsigned char header[80], unsigned char out[32]) {
    unsigned char first[32];
    sha256_short(header, 80, first);
    sha256_short(first, 32, out);
}

#endif

/* ---- the scalar search (one nonce at a time, two compressions each) ------------------ */

typedef void (*compress_fn)(uint32_t state[8], const unsigned char block[64]);

/* hash <= target, both 32 bytes little-endian (most significant byte last). */
static int meets_target(const unsigned char hash[32], const unsigned char target[32]) {
    for (int i = 31; i >= 0; i--) {
        if (hash[i] != target[i]) return hash[i] < target[i];
    }
    return 1;
}

static void state_to_bytes(const uint32_t st[8], unsigned char out[32]) {
    for (int i = 0; i < 8; i++) put_be32(out + 4 * i, st[i]);
}

/* sha256d(header76 || nonce_le32) with the midstate of the first 64 bytes. */
static void hash_nonce(compress_fn compress, const uint32_t mid[8], const unsigned char h76[76],
                       uint32_t nonce, unsigned char digest[32]) {
    uint32_t st[8];
    unsigned char tail[64] = {0}, second[64] = {0};
    memcpy(tail, h76 + 64, 12);
    tail[12] = (unsigned char)nonce, tail[13] = (unsigned char)(nonce >> 8);
    tail[14] = (unsigned char)(nonce >> 16), tail[15] = (unsigned char)(nonce >> 24);
    tail[16] = 0x80, tail[62] = 0x02, tail[63] = 0x80; /* 640 bits, big-endian */
    memcpy(st, mid, 32);
    compress(st, tail);
    state_to_bytes(st, second);
    second[32] = 0x80, second[62] = 0x01; /* 256 bits */
    memcpy(st, IV, 32);
    compress(st, second);
    state_to_bytes(st, digest);
}

/* Returns 1 and sets *found when a nonce in [start, end) meets the target. */
static int search_scalar(compress_fn compress, const unsigned char header76[76], uint64_t start,
                         uint64_t end, const unsigned char target[32], uint32_t *found) {
    uint32_t mid[8], st[8];
    unsigned char tail[64] = {0}, second[64] = {0}, digest[32];
    memcpy(mid, IV, 32);
    compress(mid, header76);
    memcpy(tail, header76 + 64, 12);
    tail[16] = 0x80;
    tail[62] = 0x02, tail[63] = 0x80; /* 640 bits, big-endian */
    second[32] = 0x80;
    second[62] = 0x01; /* 256 bits */
    for (uint64_t n = start; n < end; n++) {
        tail[12] = (unsigned char)n, tail[13] = (unsigned char)(n >> 8);
        tail[14] = (unsigned char)(n >> 16), tail[15] = (unsigned char)(n >> 24);
        memcpy(st, mid, 32);
        compress(st, tail);
        state_to_bytes(st, second);
        memcpy(st, IV, 32);
        compress(st, second);
        /* cheap pre-filter: the most significant byte (the last one) */
        state_to_bytes(st, digest);
        if (digest[31] <= target[31] && meets_target(digest, target)) {
            *found = (uint32_t)n;
            return 1;
        }
    }
    return 0;
}

/* ---- multi-way kernels (x86-64, chosen at run time by CPU feature) ------------------- */

typedef uint64_t (*scan_fn)(const uint32_t mid[8], const uint32_t tw[3], uint64_t start,
                            uint64_t end, uint32_t top);

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(POWCHAIN_NO_SIMD)
#define POWCHAIN_X86 1
#include <cpuid.h>
#include <immintrin.h>

typedef uint32_t v8u32 __attribute__((vector_size(32)));
typedef uint32_t v16u32 __attribute__((vector_size(64)));

#define V v8u32
#define LANES 8
#define KTARGET __attribute__((target("avx2")))
#define KNAME scan_avx2
#include "_powkernel_simd.h"
#undef V
#undef LANES
#undef KTARGET
#undef KNAME

#define V v16u32
#define LANES 16
#define KTARGET __attribute__((target("avx512f,avx512vl,avx512bw")))
#define KNAME scan_avx512
#include "_powkernel_simd.h"
#undef V
#undef LANES
#undef KTARGET
#undef KNAME

#include "_powkernel_shani.h"

/* CPUID leaf 7 and XGETBV: the instructions exist and the OS saves their registers. */
static int cpu_has(const char *what) {
    unsigned int a, b, c, d, lo = 0, hi = 0;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    int osxsave = (c >> 27) & 1, sse41 = (c >> 19) & 1, ssse3 = (c >> 9) & 1;
    if (osxsave) __asm__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    (void)hi;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    int ymm = osxsave && (lo & 0x6) == 0x6, zmm = ymm && (lo & 0xe0) == 0xe0;
    if (!strcmp(what, "avx2")) return ymm && ((b >> 5) & 1);
    if (!strcmp(what, "avx512"))
        return zmm && ((b >> 16) & 1) && ((b >> 30) & 1) && ((b >> 31) & 1);
    if (!strcmp(what, "sha-ni")) return ((b >> 29) & 1) && sse41 && ssse3;
    return 0;
}
#endif

/* ---- backends ------------------------------------------------------------------------ */

typedef struct {
    const char *name;
    compress_fn compress; /* scalar backends */
    scan_fn scan;         /* multi-way backends */
    int available;
} backend_t;

static backend_t BACKENDS[] = {
#ifdef POWCHAIN_X86
    {"avx512", NULL, scan_avx512, 0},
    {"sha-ni", NULL, scan_shani, 0},
    {"avx2", NULL, scan_avx2, 0},
#endif
#ifdef POWCHAIN_OPENSSL
    {"openssl", compress_openssl, NULL, 1},
#endif
    {"portable", compress_portable, NULL, 1},
};
#define N_BACKENDS ((int)(sizeof BACKENDS / sizeof BACKENDS[0]))
static int CURRENT = 0;

static void detect_backends(void) {
#ifdef POWCHAIN_X86
    for (int i = 0; i < N_BACKENDS; i++)
        if (BACKENDS[i].scan != NULL) BACKENDS[i].available = cpu_has(BACKENDS[i].name);
#endif
    CURRENT = N_BACKENDS - 1;
    for (int i = N_BACKENDS - 1; i >= 0; i--)
        if (BACKENDS[i].available) CURRENT = i; /* the first available in preference order */
}

static int find_backend(const char *name) {
    for (int i = 0; i < N_BACKENDS; i++)
        if (!strcmp(BACKENDS[i].name, name) && BACKENDS[i].available) return i;
    return -1;
}

/* A multi-way scan, each candidate checked against the full target. */
static int search_multi(scan_fn scan, const unsigned char header76[76], uint64_t start,
                        uint64_t end, const unsigned char target[32], uint32_t *found) {
    uint32_t mid[8], tw[3];
    unsigned char digest[32];
    uint32_t top = (uint32_t)target[31] << 24 | (uint32_t)target[30] << 16 |
                   (uint32_t)target[29] << 8 | target[28];
    memcpy(mid, IV, 32);
    compress_portable(mid, header76);
    for (int i = 0; i < 3; i++) tw[i] = get_be32(header76 + 64 + 4 * i);
    while (start < end) {
        uint64_t n = scan(mid, tw, start, end, top);
        if (n >= end) return 0;
        hash_nonce(compress_portable, mid, header76, (uint32_t)n, digest);
        if (meets_target(digest, target)) {
            *found = (uint32_t)n;
            return 1;
        }
        start = n + 1;
    }
    return 0;
}

static int search_backend(int which, const unsigned char header76[76], uint64_t start,
                          uint64_t end, const unsigned char target[32], uint32_t *found) {
    const backend_t *b = &BACKENDS[which];
    if (b->scan != NULL) return search_multi(b->scan, header76, start, end, target, found);
    return search_scalar(b->compress, header76, start, end, target, found);
}

static int parse_search(PyObject *args, int with_name, int *which, Py_buffer *header,
                        unsigned long long *start, unsigned long long *end, Py_buffer *target) {
    const char *name = NULL;
    if (with_name) {
        if (!PyArg_ParseTuple(args, "sy*KKy*", &name, header, start, end, target)) return 0;
    } else if (!PyArg_ParseTuple(args, "y*KKy*", header, start, end, target)) {
        return 0;
    }
    if (header->len != 76 || target->len != 32) {
        PyBuffer_Release(header);
        PyBuffer_Release(target);
        PyErr_SetString(PyExc_ValueError, "header76 must be 76 bytes and target 32 bytes");
        return 0;
    }
    *which = name == NULL ? CURRENT : find_backend(name);
    if (*which < 0) {
        PyBuffer_Release(header);
        PyBuffer_Release(target);
        PyErr_Format(PyExc_ValueError, "backend %s is not available here", name);
        return 0;
    }
    if (*end > 0x100000000ULL) *end = 0x100000000ULL;
    return 1;
}

static PyObject *run_search(PyObject *args, int with_name) {
    Py_buffer header, target;
    unsigned long long start, end;
    uint32_t nonce = 0;
    int hit, which;
    if (!parse_search(args, with_name, &which, &header, &start, &end, &target)) return NULL;
    Py_BEGIN_ALLOW_THREADS
    hit = start < end && search_backend(which, header.buf, start, end, target.buf, &nonce);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&header);
    PyBuffer_Release(&target);
    if (!hit) Py_RETURN_NONE;
    return PyLong_FromUnsignedLong(nonce);
}

static PyObject *py_search(PyObject *self, PyObject *args) { return run_search(args, 0); }

static PyObject *py_search_with(PyObject *self, PyObject *args) { return run_search(args, 1); }

/* The raw loop of a backend: `count` nonces through its compressions, no target to meet
 * (top 0 / an all-zero target: a hit is a 2**-32 event, counted and passed over). */
static PyObject *py_bound_loop(PyObject *self, PyObject *args) {
    const char *name;
    Py_buffer header;
    unsigned long long count, done = 0;
    uint32_t found;
    unsigned char zero[32] = {0};
    if (!PyArg_ParseTuple(args, "sy*K", &name, &header, &count)) return NULL;
    int which = find_backend(name);
    if (header.len != 76 || which < 0) {
        PyBuffer_Release(&header);
        PyErr_SetString(PyExc_ValueError, "header76 must be 76 bytes and the backend available");
        return NULL;
    }
    if (count > 0x100000000ULL) count = 0x100000000ULL;
    Py_BEGIN_ALLOW_THREADS
    while (done < count) {
        if (!search_backend(which, header.buf, done, count, zero, &found)) break;
        done = (unsigned long long)found + 1;
    }
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&header);
    return PyLong_FromUnsignedLongLong(count);
}

static PyObject *py_backends(PyObject *self, PyObject *noargs) {
    PyObject *out = PyList_New(0);
    if (out == NULL) return NULL;
    for (int i = 0; i < N_BACKENDS; i++) {
        if (!BACKENDS[i].available) continue;
        PyObject *name = PyUnicode_FromString(BACKENDS[i].name);
        if (name == NULL || PyList_Append(out, name) < 0) {
            Py_XDECREF(name);
            Py_DECREF(out);
            return NULL;
        }
        Py_DECREF(name);
    }
    return out;
}

static PyObject *py_use(PyObject *self, PyObject *args) {
    const char *name;
    if (!PyArg_ParseTuple(args, "s", &name)) return NULL;
    int which = find_backend(name);
    if (which < 0) {
        PyErr_Format(PyExc_ValueError, "backend %s is not available here", name);
        return NULL;
    }
    CURRENT = which;
    Py_RETURN_NONE;
}

static PyObject *py_sha256d_loop(PyObject *self, PyObject *args) {
    Py_buffer header;
    unsigned long long count;
    unsigned char buf[80], out[32];
    unsigned int check = 0;
    if (!PyArg_ParseTuple(args, "y*K", &header, &count)) return NULL;
    if (header.len != 80) {
        PyBuffer_Release(&header);
        PyErr_SetString(PyExc_ValueError, "header80 must be 80 bytes");
        return NULL;
    }
    memcpy(buf, header.buf, 80);
    PyBuffer_Release(&header);
    Py_BEGIN_ALLOW_THREADS
    for (unsigned long long n = 0; n < count; n++) {
        buf[76] = (unsigned char)n, buf[77] = (unsigned char)(n >> 8);
        buf[78] = (unsigned char)(n >> 16), buf[79] = (unsigned char)(n >> 24);
        sha256d_80(buf, out);
        check ^= out[31];
    }
    Py_END_ALLOW_THREADS
    return PyLong_FromUnsignedLong(check);
}

static PyObject *py_sha256d(PyObject *self, PyObject *args) {
    Py_buffer header;
    unsigned char out[32];
    if (!PyArg_ParseTuple(args, "y*", &header)) return NULL;
    if (header.len != 80) {
        PyBuffer_Release(&header);
        PyErr_SetString(PyExc_ValueError, "header80 must be 80 bytes");
        return NULL;
    }
    sha256d_80(header.buf, out);
    PyBuffer_Release(&header);
    return PyBytes_FromStringAndSize((const char *)out, 32);
}

static PyObject *py_backend(PyObject *self, PyObject *noargs) {
    return PyUnicode_FromString(BACKENDS[CURRENT].name);
}

static PyMethodDef METHODS[] = {
    {"search", py_search, METH_VARARGS,
     "search(header76, start, end, target32_le) -> nonce or None"},
    {"sha256d_loop", py_sha256d_loop, METH_VARARGS,
     "sha256d_loop(header80, count) -> checksum: the bare double SHA-256 loop (bound)"},
    {"sha256d", py_sha256d, METH_VARARGS, "sha256d(header80) -> 32-byte digest"},
    {"search_with", py_search_with, METH_VARARGS,
     "search_with(backend, header76, start, end, target32_le) -> nonce or None"},
    {"bound_loop", py_bound_loop, METH_VARARGS,
     "bound_loop(backend, header76, count) -> count: the backend's raw compression loop"},
    {"backend", py_backend, METH_NOARGS, "backend() -> the name of the search in use"},
    {"backends", py_backends, METH_NOARGS, "backends() -> available names, best first"},
    {"use", py_use, METH_VARARGS, "use(name): search with that backend from now on"},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef MODULE = {PyModuleDef_HEAD_INIT, "_powkernel",
                                    "Proof-of-work nonce search in C.", -1, METHODS};

PyMODINIT_FUNC PyInit__powkernel(void) {
    detect_backends();
    const char *forced = getenv("POWCHAIN_KERNEL"); /* tests and benchmarks pick one */
    if (forced != NULL && *forced && find_backend(forced) >= 0) CURRENT = find_backend(forced);
    return PyModule_Create(&MODULE);
}
