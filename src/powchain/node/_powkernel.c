/* powchain._powkernel: the proof-of-work nonce search in C, and its hardware bound.
 *
 * search(header76, start, end, target32) -> nonce | None
 *     The first nonce in [start, end) whose sha256d(header76 || nonce_le32), read as a
 *     little-endian integer, is <= the target (32 bytes, little-endian). Same contract as
 *     powsearch.search_nonce (SPEC section 4). The SHA-256 state after the first 64 header
 *     bytes (the midstate) is computed once; per nonce only two compressions run: the second
 *     half of the header and the 32-byte digest of the second hash, both pre-padded.
 *
 * sha256d_loop(header80, count) -> int
 *     The bound of benchmark B1: `count` plain double SHA-256 hashes of an 80-byte header
 *     through the library's one-shot function, varying the nonce. Returns a checksum byte so
 *     the loop cannot be optimised away.
 *
 * backend() -> "openssl" | "portable"
 *
 * SHA-256 comes from OpenSSL's libcrypto (its assembly uses the CPU's SHA or AVX2 paths) when
 * setup.py finds the headers (POWCHAIN_OPENSSL defined); otherwise from the portable C
 * compression function below (FIPS 180-4). The GIL is released while hashing.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#ifdef POWCHAIN_OPENSSL
#define OPENSSL_SUPPRESS_DEPRECATED 1
#include <openssl/sha.h>
#endif

/* ---- SHA-256 compression: state[8] <- compress(state, one 64-byte block) ---------------- */

static const uint32_t IV[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                               0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};

#ifdef POWCHAIN_OPENSSL

static void compress(uint32_t state[8], const unsigned char block[64]) {
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

#define BACKEND "openssl"

#else

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

static void compress(uint32_t state[8], const unsigned char block[64]) {
    uint32_t w[64], a, b, c, d, e, f, g, h;
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)block[4 * i] << 24 | (uint32_t)block[4 * i + 1] << 16 |
               (uint32_t)block[4 * i + 2] << 8 | block[4 * i + 3];
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = ROR(w[i - 15], 7) ^ ROR(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = ROR(w[i - 2], 17) ^ ROR(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    a = state[0], b = state[1], c = state[2], d = state[3];
    e = state[4], f = state[5], g = state[6], h = state[7];
    for (int i = 0; i < 64; i++) {
        uint32_t t1 = h + (ROR(e, 6) ^ ROR(e, 11) ^ ROR(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i];
        uint32_t t2 = (ROR(a, 2) ^ ROR(a, 13) ^ ROR(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
        h = g, g = f, f = e, e = d + t1, d = c, c = b, b = a, a = t1 + t2;
    }
    state[0] += a, state[1] += b, state[2] += c, state[3] += d;
    state[4] += e, state[5] += f, state[6] += g, state[7] += h;
}

static void put_be32(unsigned char *p, uint32_t v) {
    p[0] = v >> 24, p[1] = v >> 16, p[2] = v >> 8, p[3] = v;
}

/* General SHA-256 of a short message (< 56 + 64 bytes), padding as FIPS 180-4 says. */
static void sha256_short(const unsigned char *msg, size_t len, unsigned char out[32]) {
    unsigned char buf[128] = {0};
    uint32_t st[8];
    size_t blocks = len + 9 <= 64 ? 1 : 2;
    memcpy(buf, msg, len);
    buf[len] = 0x80;
    put_be32(buf + blocks * 64 - 4, (uint32_t)(len * 8));
    memcpy(st, IV, 32);
    for (size_t i = 0; i < blocks; i++) compress(st, buf + 64 * i);
    for (int i = 0; i < 8; i++) put_be32(out + 4 * i, st[i]);
}

static void sha256d_80(const unsigned char header[80], unsigned char out[32]) {
    unsigned char first[32];
    sha256_short(header, 80, first);
    sha256_short(first, 32, out);
}

#define BACKEND "portable"

#endif

/* ---- the search ---------------------------------------------------------------------- */

/* hash <= target, both 32 bytes little-endian (most significant byte last). */
static int meets_target(const unsigned char hash[32], const unsigned char target[32]) {
    for (int i = 31; i >= 0; i--) {
        if (hash[i] != target[i]) return hash[i] < target[i];
    }
    return 1;
}

static void state_to_bytes(const uint32_t st[8], unsigned char out[32]) {
    for (int i = 0; i < 8; i++) {
        out[4 * i] = st[i] >> 24, out[4 * i + 1] = st[i] >> 16;
        out[4 * i + 2] = st[i] >> 8, out[4 * i + 3] = st[i];
    }
}

/* Returns 1 and sets *found when a nonce in [start, end) meets the target. */
static int search_range(const unsigned char header76[76], uint64_t start, uint64_t end,
                        const unsigned char target[32], uint32_t *found) {
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
        /* cheap pre-filter: the most significant 32 bits (last four bytes, state word 7) */
        state_to_bytes(st, digest);
        if (digest[31] <= target[31] && meets_target(digest, target)) {
            *found = (uint32_t)n;
            return 1;
        }
    }
    return 0;
}

static PyObject *py_search(PyObject *self, PyObject *args) {
    Py_buffer header, target;
    unsigned long long start, end;
    uint32_t nonce = 0;
    int hit;
    if (!PyArg_ParseTuple(args, "y*KKy*", &header, &start, &end, &target)) return NULL;
    if (header.len != 76 || target.len != 32) {
        PyBuffer_Release(&header);
        PyBuffer_Release(&target);
        PyErr_SetString(PyExc_ValueError, "header76 must be 76 bytes and target 32 bytes");
        return NULL;
    }
    if (end > 0x100000000ULL) end = 0x100000000ULL;
    Py_BEGIN_ALLOW_THREADS
    hit = start < end && search_range(header.buf, start, end, target.buf, &nonce);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&header);
    PyBuffer_Release(&target);
    if (!hit) Py_RETURN_NONE;
    return PyLong_FromUnsignedLong(nonce);
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
    return PyUnicode_FromString(BACKEND);
}

static PyMethodDef METHODS[] = {
    {"search", py_search, METH_VARARGS,
     "search(header76, start, end, target32_le) -> nonce or None"},
    {"sha256d_loop", py_sha256d_loop, METH_VARARGS,
     "sha256d_loop(header80, count) -> checksum: the bare double SHA-256 loop (bound)"},
    {"sha256d", py_sha256d, METH_VARARGS, "sha256d(header80) -> 32-byte digest"},
    {"backend", py_backend, METH_NOARGS, "backend() -> 'openssl' or 'portable'"},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef MODULE = {PyModuleDef_HEAD_INIT, "_powkernel",
                                    "Proof-of-work nonce search in C.", -1, METHODS};

PyMODINIT_FUNC PyInit__powkernel(void) { return PyModule_Create(&MODULE); }
