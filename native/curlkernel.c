/*
 * curlkernel.c -- optional native kernel of iota-publisher.
 *
 * CPython extension module `iota_publisher._native`: legacy IOTA Curl-P
 * (27 / 81 rounds), bit-sliced WOTS hash chains, the MAM v0 nonce search of
 * mam.js (HammingDiver) and a multi-threaded proof-of-work nonce search.
 * Plain C99 + pthreads; GCC / Clang vector extensions are used when present
 * (no intrinsics).  On x86-64 builds without AVX2 in the baseline the two hot
 * kernels are also compiled with __attribute__((target("avx2"))) and picked
 * at run time when the CPU has AVX2; on 32-bit ARM builds without NEON in
 * the baseline (armhf, armv6 / armv7) with target("fpu=neon"), picked when
 * the kernel reports HWCAP_NEON.  IOTA_PUBLISHER_KERNEL=<path> forces one
 * (see KERNEL_PATHS).  Built with -DCURLKERNEL_NO_PYTHON the file has no
 * Python glue; native/selftest.c uses it that way.
 *
 * ===========================================================================
 * Trits
 *   Every trit vector crossing the Python API is a bytes-like object of int8
 *   values -1, 0, 1 (-1 is the byte 0xFF).  Lengths and values are checked and
 *   bad input raises ValueError.
 *
 * Curl-P, scalar form (identical to @iota/curl and mam.js signing/curl.ts)
 *   One round maps the 729-trit state s to s' with
 *       s'[i] = TRUTH[s[t(i)] + 4 * s[t(i + 1)] + 5],    t(i) = 364 i mod 729
 *   TRUTH = {1, 0, -1, 2, 1, -1, 0, 2, -1, 1, 0}.  The reference walks its
 *   index with "t += (t < 365) ? 364 : -365", which is exactly t(i) = 364 i
 *   mod 729; t(729) = 0, so every round starts again at index 0.
 *   Because 2 * 364 = -1 (mod 729), t(2k) = -k and t(2k + 1) = 364 - k:
 *       s'[2k]     = f(s[-k mod 729], s[364 - k])
 *       s'[2k + 1] = f(s[364 - k],    s[728 - k])
 *   so a round reads three streams walking down the state (single_round*).
 *
 * Fused double round
 *   364^2 = 547 (mod 729), hence two rounds are
 *       s''[i] = f(G(i), G(i + 1)),   G(i) = s'[364 i] = f(s[547 i], s[547 i + 364])
 *   (indices mod 729, G(729) = G(0)).  Each G is shared by two neighbouring
 *   outputs, so two rounds cost the same number of f evaluations as before but
 *   only ONE pass of loads and stores over the state -- the bit-sliced state
 *   of 256 lanes (46.6 KiB) does not fit in L1, so memory traffic is what
 *   limits speed.  As 4 * 547 = 1 (mod 729), i = 4q + r turns the indices
 *   547 i into four ascending streams q, q + 547, q + 365, q + 183.
 *
 * Bit-sliced representation (PearlDiver style)
 *   A trit is two bits (lo, hi) kept in two bit planes, one bit per lane:
 *       trit  0 -> lo = 1, hi = 1
 *       trit  1 -> lo = 0, hi = 1
 *       trit -1 -> lo = 1, hi = 0          ((0, 0) never occurs)
 *   A 64-bit word holds that bit for 64 independent lanes; a "cell" is the
 *   pair of planes of one trit position.  cell64 = 64 lanes (hamming search,
 *   small hash-chain batches), cell256 = 256 lanes as 4 x 64-bit words (proof
 *   of work, large hash-chain batches): one 256-bit GCC vector per plane,
 *   processed whole with AVX2 and as two 128-bit halves on SSE2 / NEON.
 *   The reference formula for one cell (x = s[t(i)], y = s[t(i+1)]) is
 *       d = (x.lo | ~y.hi) & (y.lo ^ x.hi);  lo' = ~d;  hi' = (x.lo ^ y.hi) | d
 *   (7 operations).  On the three valid codes it equals the 4-operation form
 *       lo' = x.hi ^ (x.lo & ~y.lo);         hi' = x.lo ^ (y.hi & lo')
 *   which this file uses (found by an exhaustive search over small circuits,
 *   checked on all 9 input pairs against both the table and the 7-op form).
 *   Lane l of a cell256 is bit (l % 64) of word (l / 64).
 *
 * Proof-of-work candidate enumeration (FIXED, shared with the Python fallback)
 *   The nonce occupies state trits 162..242 (n[j] = state[162 + j]).
 *   Candidate k = 0, 1, 2, ... has
 *       n[0..6)  = balanced-ternary digits of (k % 256), least significant first
 *       n[6..81) = balanced-ternary digits of (k / 256), least significant first
 *   (digits in {-1, 0, 1}; e.g. 2 = [-1, 1]).  Batch b holds k = 256 b + lane:
 *   cells 162..167 carry constant lane planes (lane l = digits of l), cells
 *   168..242 are broadcast from the digits of b.  A candidate is valid when
 *   hash trits [243 - mwm, 243) after one 81-round transform are all 0, and
 *   the result is the SMALLEST valid k: threads take batch numbers from a
 *   shared atomic counter, record min(best, k) atomically, stop taking new
 *   batches once the next batch number is above the best batch, and every
 *   batch below the best is always finished.  So the answer does not depend
 *   on the thread count or the vector width.
 *
 * MAM nonce search (mam.js 1.0.0-beta.10 HammingDiver.search(s, sec, 81, 0))
 *   Reproduced bit for bit, including its quirks; see hamming_* below.
 * ===========================================================================
 */

#ifndef CURLKERNEL_NO_PYTHON
/* Builds for the stable ABI (setup.py: abi3 wheels for CPython >= 3.11) define
   Py_LIMITED_API; the glue then avoids the non-limited string and bytes
   macros (CK_BYTES, the tryte conversions). */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdio.h>
#ifdef Py_LIMITED_API
#define CK_BYTES(o) PyBytes_AsString(o)
#else
#define CK_BYTES(o) PyBytes_AS_STRING(o)
#endif
#else
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* posix_memalign, clock_gettime, setenv */
#endif
/* The kernel without the Python glue, for native/selftest.c (which includes
   this file) and cross-compiled checks: no Python headers needed. */
#include <stddef.h>
#include <stdio.h>
typedef ptrdiff_t Py_ssize_t;
#endif

#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------------------ */
/* Compiler configuration                                                    */
/* ------------------------------------------------------------------------ */

#if defined(__GNUC__) || defined(__clang__)
#define CK_GNU 1
#define CK_INLINE static inline __attribute__((always_inline))
#else
#define CK_GNU 0
#define CK_INLINE static inline
#endif

/* 256-bit GCC/Clang vectors (lowered to SSE2 / NEON pairs or AVX2 by the
   compiler).  Define CURLKERNEL_NO_VECTOR_EXT to get the portable form. */
#if CK_GNU && !defined(CURLKERNEL_NO_VECTOR_EXT)
#define CK_VECTOR 1
#else
#define CK_VECTOR 0
#endif

/* Native 256-bit integer vectors in the baseline (-mavx2, -march=native on
   a recent x86): the 256-lane loops then work on whole cells.  Otherwise
   (SSE2, NEON) they work on two 128-bit halves per cell, which the compiler
   keeps in registers far better than a lowered 256-bit vector. */
#if CK_VECTOR && defined(__AVX2__)
#define CK_WIDE_BASELINE 1
#else
#define CK_WIDE_BASELINE 0
#endif

/* Run-time dispatch: an x86-64 build without AVX2 also gets AVX2 versions
   of the hot kernels (pow_batch, chains_iterate256), used when the CPU has
   AVX2.  Define CURLKERNEL_NO_DISPATCH to disable. */
#ifndef __has_attribute
#define __has_attribute(x) 0
#endif
#if CK_VECTOR && defined(__x86_64__) && !CK_WIDE_BASELINE && !defined(CURLKERNEL_NO_DISPATCH) \
    && __has_attribute(target)
#define CK_DISPATCH_AVX2 1
#define CK_TARGET_AVX2 __attribute__((target("avx2")))
#else
#define CK_DISPATCH_AVX2 0
#endif

/* Run-time dispatch on 32-bit ARM whose baseline has no NEON (armv6 / armv7
   hard-float without -mfpu=neon, as Raspberry Pi OS and Debian armhf build):
   the hot kernels are also compiled with __attribute__((target("fpu=neon")))
   and used when the kernel reports HWCAP_NEON (every Pi from the Pi 2 on).
   An armv6 Pi Zero / Pi 1 keeps the portable path. */
#if CK_VECTOR && defined(__arm__) && !defined(__aarch64__) && !defined(__ARM_NEON) \
    && defined(__linux__) && !defined(CURLKERNEL_NO_DISPATCH) && __has_attribute(target)
#define CK_DISPATCH_NEON 1
#define CK_TARGET_NEON __attribute__((target("fpu=neon")))
#include <sys/auxv.h>
#ifndef HWCAP_NEON
#define HWCAP_NEON (1 << 12) /* arch/arm/include/uapi/asm/hwcap.h */
#endif
#else
#define CK_DISPATCH_NEON 0
#endif

/* Name of the path the baseline build runs (what the compiler's flags give). */
#if !CK_VECTOR
#define CK_BASELINE_PATH "portable"
#elif CK_WIDE_BASELINE
#define CK_BASELINE_PATH "avx2"
#elif defined(__SSE2__)
#define CK_BASELINE_PATH "sse2"
#elif defined(__ARM_NEON) || defined(__aarch64__)
#define CK_BASELINE_PATH "neon"
#else
#define CK_BASELINE_PATH "portable"
#endif

/* ------------------------------------------------------------------------ */
/* Constants                                                                 */
/* ------------------------------------------------------------------------ */

enum {
    STATE_LEN = 729,
    HASH_LEN = 243,
    NONCE_OFFSET = 162, /* nonce trits are state[162..243) */
    NONCE_LEN = 81,
    POW_LANES = 256,
    POW_LANE_TRITS = 6,  /* n[0..6) enumerate the 256 lanes */
    HAMMING_LANES = 64,
    MAX_POW_THREADS = 256 /* 140 KiB of buffers each */
};

/* Index = a + 4 * b + 5 for a = s[t(i)], b = s[t(i + 1)]; 2 marks unused. */
static const int8_t TRUTH_TABLE[11] = {1, 0, -1, 2, 1, -1, 0, 2, -1, 1, 0};

/* ------------------------------------------------------------------------ */
/* Scalar Curl-P (one trit per byte)                                         */
/* ------------------------------------------------------------------------ */

static void scalar_round(const int8_t *restrict s, int8_t *restrict d)
{
    int a = s[0];
    for (int k = 0; k < 364; k++) {
        const int b = s[364 - k], c = s[728 - k];
        d[2 * k] = TRUTH_TABLE[a + 4 * b + 5];
        d[2 * k + 1] = TRUTH_TABLE[b + 4 * c + 5];
        a = c;
    }
    d[728] = TRUTH_TABLE[a + 4 * s[0] + 5]; /* a == s[365] here */
}

/*
 * Single-lane Curl-P on 16-byte vectors (one byte per trit, two planes as in
 * the bit-sliced form, 0x00 / 0xFF per trit).  The state is kept reversed
 * with s[0] in front: rr[0] = s[0], rr[j] = s[729 - j].  Then one round,
 *     s'[2k] = f(s[-k], s[364 - k]),  s'[2k + 1] = f(s[364 - k], s[728 - k]),
 * reads three ASCENDING streams: E[k] = f(rr[k], rr[k + 365]) and
 * O[k] = f(rr[k + 365], rr[k + 1]) (k < 364), s'[728] = f(rr[364], rr[0]).
 * The next reversed state is rr'[729 - 2k] = E[k], rr'[728 - 2k] = O[k],
 * rr'[1] = s'[728], rr'[0] = E[0]: 16 k at a time that is two constant
 * two-source shuffles (reverse + interleave) of the E and O vectors.
 * Used where the baseline has 128-bit SIMD (SSE2, NEON); the last block of
 * 16 k runs past 364 and writes below rr'[0] (slack) and rr'[0..1]
 * (rewritten after).
 */
#ifndef __has_builtin
#define __has_builtin(x) 0
#endif
#if CK_VECTOR && __has_builtin(__builtin_shufflevector) && !defined(CURLKERNEL_NO_FAST_SINGLE) \
    && (defined(__SSSE3__) || defined(__ARM_NEON) || defined(__aarch64__) || CK_DISPATCH_NEON \
        || (defined(__x86_64__) && !defined(CURLKERNEL_NO_DISPATCH) && __has_attribute(target)))
#define CK_FAST_SINGLE 1
typedef uint8_t v16u8 __attribute__((vector_size(16)));

enum { RR_SLACK = 32, RR_LEN = RR_SLACK + 736 + 16 };

typedef struct {
    uint8_t lo[RR_LEN], hi[RR_LEN];
} rr_planes;

CK_INLINE v16u8 v16_load(const uint8_t *p)
{
    v16u8 v;
    memcpy(&v, p, sizeof(v));
    return v;
}

CK_INLINE void v16_store(uint8_t *p, v16u8 v) { memcpy(p, &v, sizeof(v)); }

/* lanes of the two result vectors of one block, E in 0..15, O in 16..31 */
#define RR_HIGH 23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0
#define RR_LOW 31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8

CK_INLINE void fast_round(const rr_planes *src, rr_planes *dst)
{
    const uint8_t *sl = src->lo + RR_SLACK, *sh = src->hi + RR_SLACK;
    uint8_t *dl = dst->lo + RR_SLACK, *dh = dst->hi + RR_SLACK;
    /* s'[728] = f(rr[364], rr[0]) and E[0] = f(rr[0], rr[365]), scalar */
    const uint8_t l728 = (uint8_t)(sh[364] ^ (sl[364] & ~sl[0]));
    const uint8_t h728 = (uint8_t)(sl[364] ^ (sh[0] & l728));
    const uint8_t l0 = (uint8_t)(sh[0] ^ (sl[0] & ~sl[365]));
    const uint8_t h0 = (uint8_t)(sl[0] ^ (sh[365] & l0));
    for (int k = 0; k < 364; k += 16) {
        const v16u8 al = v16_load(sl + k), ah = v16_load(sh + k);
        const v16u8 bl = v16_load(sl + k + 365), bh = v16_load(sh + k + 365);
        const v16u8 cl = v16_load(sl + k + 1), ch = v16_load(sh + k + 1);
        const v16u8 el = ah ^ (al & ~bl), eh = al ^ (bh & el);
        const v16u8 ol = bh ^ (bl & ~cl), oh = bl ^ (ch & ol);
        v16_store(dl + 714 - 2 * k, __builtin_shufflevector(el, ol, RR_HIGH));
        v16_store(dh + 714 - 2 * k, __builtin_shufflevector(eh, oh, RR_HIGH));
        v16_store(dl + 698 - 2 * k, __builtin_shufflevector(el, ol, RR_LOW));
        v16_store(dh + 698 - 2 * k, __builtin_shufflevector(eh, oh, RR_LOW));
    }
    dl[0] = l0;
    dh[0] = h0;
    dl[1] = l728;
    dh[1] = h728;
}

CK_INLINE void fast_transform_impl(int8_t *state, int rounds)
{
    rr_planes buf[2];
    memset(buf, 0xFF, sizeof(buf)); /* slack: any bytes do, kept defined */
    uint8_t *lo = buf[0].lo + RR_SLACK, *hi = buf[0].hi + RR_SLACK;
    for (int j = 0; j < STATE_LEN; j++) {
        const int t = state[j == 0 ? 0 : STATE_LEN - j];
        lo[j] = t == 1 ? 0 : 0xFF;
        hi[j] = t == -1 ? 0 : 0xFF;
    }
    int w = 0;
    for (int r = 0; r < rounds; r++, w ^= 1)
        fast_round(&buf[w], &buf[w ^ 1]);
    lo = buf[w].lo + RR_SLACK;
    hi = buf[w].hi + RR_SLACK;
    for (int j = 0; j < STATE_LEN; j++)
        state[j == 0 ? 0 : STATE_LEN - j] = (int8_t)(lo[j] ? (hi[j] ? 0 : -1) : 1);
}
#else
#define CK_FAST_SINGLE 0
#endif

/* In-place transform, one trit per byte and a table (the reference form). */
static void scalar_transform_table(int8_t *state, int rounds)
{
    int8_t tmp[STATE_LEN];
    int8_t *src = state, *dst = tmp;
    for (int r = 0; r < rounds; r++) {
        scalar_round(src, dst);
        int8_t *t = src;
        src = dst;
        dst = t;
    }
    if (src != state)
        memcpy(state, src, STATE_LEN);
}

/*
 * The single-lane transform in use: the vector form where the CPU has byte
 * shuffles (SSSE3 on x86-64, NEON on ARM; plain SSE2 lowers them badly),
 * else the table form; picked once by pick_single_transform() (module init,
 * or after IOTA_PUBLISHER_KERNEL changes in the self-test), which takes the
 * table form when IOTA_PUBLISHER_KERNEL is "portable" or "sse2".
 */
typedef void (*single_fn)(int8_t *, int);
static single_fn single_transform = scalar_transform_table;
static const char *single_transform_name = "table";

#if CK_FAST_SINGLE
#if defined(__SSSE3__) || defined(__ARM_NEON) || defined(__aarch64__)
static void fast_transform_base(int8_t *state, int rounds) { fast_transform_impl(state, rounds); }
#define CK_FAST_BASE 1
#else
#define CK_FAST_BASE 0
#endif
#if !CK_FAST_BASE && defined(__x86_64__)
__attribute__((target("ssse3"))) static void fast_transform_ssse3(int8_t *state, int rounds)
{
    fast_transform_impl(state, rounds);
}
static int cpu_has_ssse3(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("ssse3") != 0;
}
#endif
#if !CK_FAST_BASE && CK_DISPATCH_NEON
CK_TARGET_NEON static void fast_transform_neon(int8_t *state, int rounds)
{
    fast_transform_impl(state, rounds);
}
#endif
#endif

static void pick_single_transform(void)
{
    single_fn fn = scalar_transform_table;
    const char *name = "table";
#if CK_FAST_SINGLE
    const char *want = getenv("IOTA_PUBLISHER_KERNEL");
    const int table = want && (strcmp(want, "portable") == 0 || strcmp(want, "sse2") == 0);
#if CK_FAST_BASE
    if (!table)
        fn = fast_transform_base, name = "vector";
#elif defined(__x86_64__)
    if (!table && cpu_has_ssse3())
        fn = fast_transform_ssse3, name = "vector (ssse3)";
#elif CK_DISPATCH_NEON
    if (!table && (getauxval(AT_HWCAP) & HWCAP_NEON))
        fn = fast_transform_neon, name = "vector (neon)";
#endif
#endif
    single_transform = fn;
    single_transform_name = name;
}

/* In-place transform; `state` must hold valid trits only. */
static void scalar_transform(int8_t *state, int rounds) { single_transform(state, rounds); }

static void scalar_absorb(int8_t *state, const int8_t *trits, Py_ssize_t length,
                          int rounds)
{
    Py_ssize_t offset = 0;
    do {
        const Py_ssize_t limit = length < HASH_LEN ? length : HASH_LEN;
        memcpy(state, trits + offset, (size_t)limit);
        scalar_transform(state, rounds);
        length -= HASH_LEN;
        offset += limit;
    } while (length > 0);
}

static void scalar_squeeze(int8_t *state, int8_t *out, Py_ssize_t length,
                           int rounds)
{
    Py_ssize_t offset = 0;
    do {
        const Py_ssize_t limit = length < HASH_LEN ? length : HASH_LEN;
        memcpy(out + offset, state, (size_t)limit);
        scalar_transform(state, rounds);
        length -= HASH_LEN;
        offset += limit;
    } while (length > 0);
}

/* ------------------------------------------------------------------------ */
/* Bit-sliced cells                                                          */
/* ------------------------------------------------------------------------ */

typedef struct {
    uint64_t lo, hi;
} cell64;

#if CK_VECTOR
typedef uint64_t vec256 __attribute__((vector_size(32)));
#else
typedef struct {
    uint64_t w[4];
} vec256;
#endif

typedef struct {
    vec256 lo, hi;
} cell256;

/*
 * Word access and the few whole-vector operations outside the round code.
 * Vectors are passed by pointer: passing or returning a bare 256-bit vector
 * by value would change the ABI without AVX (compilers warn about it).
 */
#if CK_VECTOR
CK_INLINE uint64_t v_get(const vec256 *v, int i) { return (*v)[i]; }
CK_INLINE void v_set(vec256 *v, int i, uint64_t x) { (*v)[i] = x; }
CK_INLINE void v_fill(vec256 *v, uint64_t x)
{
    const vec256 t = {x, x, x, x};
    *v = t;
}
/* Keep `from` in the lanes set in m, s elsewhere. */
CK_INLINE void cell_blend(cell256 *s, const cell256 *from, const vec256 *m)
{
    s->lo = (from->lo & *m) | (s->lo & ~*m);
    s->hi = (from->hi & *m) | (s->hi & ~*m);
}
/* *ok &= lanes of c that hold trit 0 (lo = hi = 1). */
CK_INLINE void and_zero_trits(vec256 *ok, const cell256 *c) { *ok &= c->lo & c->hi; }
#else
CK_INLINE uint64_t v_get(const vec256 *v, int i) { return v->w[i]; }
CK_INLINE void v_set(vec256 *v, int i, uint64_t x) { v->w[i] = x; }
CK_INLINE void v_fill(vec256 *v, uint64_t x)
{
    for (int i = 0; i < 4; i++)
        v->w[i] = x;
}
CK_INLINE void cell_blend(cell256 *s, const cell256 *from, const vec256 *m)
{
    for (int i = 0; i < 4; i++) {
        s->lo.w[i] = (from->lo.w[i] & m->w[i]) | (s->lo.w[i] & ~m->w[i]);
        s->hi.w[i] = (from->hi.w[i] & m->w[i]) | (s->hi.w[i] & ~m->w[i]);
    }
}
CK_INLINE void and_zero_trits(vec256 *ok, const cell256 *c)
{
    for (int i = 0; i < 4; i++)
        ok->w[i] &= c->lo.w[i] & c->hi.w[i];
}
#endif

#if CK_VECTOR
/* Half h (lanes 128 h .. 128 h + 127) of a cell256, as two 128-bit vectors:
   a cell256 is 4 x 16 bytes: lo words 0-1, lo 2-3, hi 0-1, hi 2-3. */
typedef uint64_t vec128 __attribute__((vector_size(16), may_alias));
typedef struct {
    vec128 lo, hi;
} cell128;

CK_INLINE cell128 half_get(const cell256 *c, int h)
{
    const vec128 *v = (const vec128 *)c;
    cell128 r;
    r.lo = v[h];
    r.hi = v[2 + h];
    return r;
}

CK_INLINE void half_put(cell256 *c, int h, const cell128 *x)
{
    vec128 *v = (vec128 *)c;
    v[h] = x->lo;
    v[2 + h] = x->hi;
}
#endif

/* Plane bits of one trit, all lanes equal. */
CK_INLINE uint64_t trit_lo_mask(int t) { return t == 1 ? 0 : ~(uint64_t)0; }
CK_INLINE uint64_t trit_hi_mask(int t) { return t == -1 ? 0 : ~(uint64_t)0; }

/* Trit of one lane from its two plane bits. */
CK_INLINE int8_t trit_from_bits(unsigned lo, unsigned hi)
{
    return lo ? (hi ? 0 : -1) : 1;
}

/* One Curl-P cell, s'[i] from x = s[t(i)], y = s[t(i + 1)] (4-op form). */
CK_INLINE cell64 f64(const cell64 *x, const cell64 *y)
{
    cell64 r;
    r.lo = x->hi ^ (x->lo & ~y->lo);
    r.hi = x->lo ^ (y->hi & r.lo);
    return r;
}

CK_INLINE cell256 f256(const cell256 *x, const cell256 *y)
{
    cell256 r;
#if CK_VECTOR
    r.lo = x->hi ^ (x->lo & ~y->lo);
    r.hi = x->lo ^ (y->hi & r.lo);
#else
    for (int i = 0; i < 4; i++) {
        r.lo.w[i] = x->hi.w[i] ^ (x->lo.w[i] & ~y->lo.w[i]);
        r.hi.w[i] = x->lo.w[i] ^ (y->hi.w[i] & r.lo.w[i]);
    }
#endif
    return r;
}

#if CK_VECTOR
CK_INLINE cell128 f128(const cell128 *x, const cell128 *y)
{
    cell128 r;
    r.lo = x->hi ^ (x->lo & ~y->lo);
    r.hi = x->lo ^ (y->hi & r.lo);
    return r;
}
#endif

/*
 * Rounds.  *_pair_round: two fused rounds s -> d (see top of file).
 * *_single_round: one round, computing only d[2k], d[2k + 1] for k in
 * [k0, k1) (k1 = 365 is the whole state; k1 = 122 gives d[0..244)).
 * The 64- and 256-lane versions are the same code on different cell types.
 */
CK_INLINE void pair_round64(const cell64 *restrict s, cell64 *restrict d)
{
    const cell64 g0 = f64(&s[0], &s[364]);
    cell64 g = g0;
    for (int q = 0; q < 182; q++) {
        const cell64 g1 = f64(&s[q + 547], &s[q + 182]); /* G(4q + 1) */
        const cell64 g2 = f64(&s[q + 365], &s[q]);       /* G(4q + 2) */
        const cell64 g3 = f64(&s[q + 183], &s[q + 547]); /* G(4q + 3) */
        const cell64 g4 = f64(&s[q + 1], &s[q + 365]);   /* G(4q + 4) */
        d[4 * q] = f64(&g, &g1);
        d[4 * q + 1] = f64(&g1, &g2);
        d[4 * q + 2] = f64(&g2, &g3);
        d[4 * q + 3] = f64(&g3, &g4);
        g = g4;
    }
    d[728] = f64(&g, &g0);
}

CK_INLINE void pair_round256(const cell256 *restrict s, cell256 *restrict d)
{
    const cell256 g0 = f256(&s[0], &s[364]);
    cell256 g = g0;
    for (int q = 0; q < 182; q++) {
        const cell256 g1 = f256(&s[q + 547], &s[q + 182]);
        const cell256 g2 = f256(&s[q + 365], &s[q]);
        const cell256 g3 = f256(&s[q + 183], &s[q + 547]);
        const cell256 g4 = f256(&s[q + 1], &s[q + 365]);
        d[4 * q] = f256(&g, &g1);
        d[4 * q + 1] = f256(&g1, &g2);
        d[4 * q + 2] = f256(&g2, &g3);
        d[4 * q + 3] = f256(&g3, &g4);
        g = g4;
    }
    d[728] = f256(&g, &g0);
}

#if CK_VECTOR
/* pair_round256 computed as two interleaved 128-lane halves. */
CK_INLINE void pair_round256_halves(const cell256 *restrict s, cell256 *restrict d)
{
    cell128 g0[2], g[2], o;
    for (int h = 0; h < 2; h++) {
        const cell128 x = half_get(&s[0], h), y = half_get(&s[364], h);
        g0[h] = g[h] = f128(&x, &y);
    }
    for (int q = 0; q < 182; q++) {
        for (int h = 0; h < 2; h++) {
            const cell128 s0 = half_get(&s[q], h), s1 = half_get(&s[q + 1], h);
            const cell128 s182 = half_get(&s[q + 182], h), s183 = half_get(&s[q + 183], h);
            const cell128 s365 = half_get(&s[q + 365], h), s547 = half_get(&s[q + 547], h);
            const cell128 g1 = f128(&s547, &s182);
            const cell128 g2 = f128(&s365, &s0);
            const cell128 g3 = f128(&s183, &s547);
            const cell128 g4 = f128(&s1, &s365);
            o = f128(&g[h], &g1);
            half_put(&d[4 * q], h, &o);
            o = f128(&g1, &g2);
            half_put(&d[4 * q + 1], h, &o);
            o = f128(&g2, &g3);
            half_put(&d[4 * q + 2], h, &o);
            o = f128(&g3, &g4);
            half_put(&d[4 * q + 3], h, &o);
            g[h] = g4;
        }
    }
    for (int h = 0; h < 2; h++) {
        o = f128(&g[h], &g0[h]);
        half_put(&d[728], h, &o);
    }
}
#endif

/* `wide` is a compile-time constant at every call site (see CK_WIDE_BASELINE). */
CK_INLINE void pair_round256_sel(const cell256 *restrict s, cell256 *restrict d, int wide)
{
#if CK_VECTOR
    if (!wide) {
        pair_round256_halves(s, d);
        return;
    }
#else
    (void)wide;
#endif
    pair_round256(s, d);
}

CK_INLINE void single_round64(const cell64 *restrict s, cell64 *restrict d,
                              int k0, int k1)
{
    for (int k = k0; k < k1 && k < 364; k++) {
        const cell64 a = s[k == 0 ? 0 : 729 - k], b = s[364 - k], c = s[728 - k];
        d[2 * k] = f64(&a, &b);
        d[2 * k + 1] = f64(&b, &c);
    }
    if (k1 > 364)
        d[728] = f64(&s[365], &s[0]);
}

CK_INLINE void single_round256(const cell256 *restrict s, cell256 *restrict d,
                               int k0, int k1)
{
    for (int k = k0; k < k1 && k < 364; k++) {
        const cell256 a = s[k == 0 ? 0 : 729 - k], b = s[364 - k], c = s[728 - k];
        d[2 * k] = f256(&a, &b);
        d[2 * k + 1] = f256(&b, &c);
    }
    if (k1 > 364)
        d[728] = f256(&s[365], &s[0]);
}

/*
 * `rounds` rounds starting from src (left untouched), ping-ponging between
 * the scratch buffers a and b; returns the buffer holding the result.  When
 * `rounds` is odd the last round only computes k < last_k1 (365 = all).
 */
CK_INLINE const cell64 *transform64(const cell64 *src, cell64 *a, cell64 *b,
                                    int rounds, int last_k1)
{
    cell64 *bufs[2] = {a, b};
    const cell64 *in = src;
    int w = 0;
    for (; rounds >= 2; rounds -= 2, w ^= 1) {
        pair_round64(in, bufs[w]);
        in = bufs[w];
    }
    if (rounds) {
        single_round64(in, bufs[w], 0, last_k1);
        in = bufs[w];
    }
    return in;
}

CK_INLINE const cell256 *transform256(const cell256 *src, cell256 *a, cell256 *b,
                                      int rounds, int last_k1, int wide)
{
    cell256 *bufs[2] = {a, b};
    const cell256 *in = src;
    int w = 0;
    for (; rounds >= 2; rounds -= 2, w ^= 1) {
        pair_round256_sel(in, bufs[w], wide);
        in = bufs[w];
    }
    if (rounds) {
        single_round256(in, bufs[w], 0, last_k1);
        in = bufs[w];
    }
    return in;
}

static void *alloc_cells(size_t count, size_t cell_size)
{
    void *p = NULL;
    if (posix_memalign(&p, 64, count * cell_size) != 0)
        return NULL;
    return p;
}

CK_INLINE int lowest_bit(uint64_t x)
{
#if CK_GNU
    return __builtin_ctzll(x);
#else
    int i = 0;
    while (!(x & 1)) {
        x >>= 1;
        i++;
    }
    return i;
#endif
}

/* ------------------------------------------------------------------------ */
/* Balanced ternary                                                          */
/* ------------------------------------------------------------------------ */

/* n balanced-ternary digits of v, least significant first. */
static void balanced_ternary(uint64_t v, int8_t *out, int n)
{
    for (int i = 0; i < n; i++) {
        const unsigned r = (unsigned)(v % 3);
        v /= 3;
        if (r == 2) {
            out[i] = -1;
            v += 1;
        } else {
            out[i] = (int8_t)r;
        }
    }
}

/* The 81 nonce trits of PoW candidate k. */
static void pow_nonce_of(uint64_t k, int8_t *nonce)
{
    balanced_ternary(k % POW_LANES, nonce, POW_LANE_TRITS);
    balanced_ternary(k / POW_LANES, nonce + POW_LANE_TRITS, NONCE_LEN - POW_LANE_TRITS);
}

/* ------------------------------------------------------------------------ */
/* WOTS hash chains                                                          */
/* ------------------------------------------------------------------------ */

/*
 * One block of up to 256 (or 64) segments, one per lane, sorted by count
 * descending.  s[0..243) is the chain value of every lane, s[243..729) stays
 * zero trits.  active[j] = number of lanes (a prefix) with count > j.
 * Each iteration hashes all lanes and keeps the result only in active lanes.
 */
CK_INLINE void chains_iterate256_impl(cell256 *s, cell256 *a, cell256 *b, const int *active,
                                      int iterations, int rounds, int wide)
{
    for (int j = 0; j < iterations; j++) {
        const cell256 *out = transform256(s, a, b, rounds, 122, wide);
        vec256 m;
        for (int w = 0; w < 4; w++) {
            const int n = active[j] - 64 * w;
            v_set(&m, w, n >= 64 ? ~(uint64_t)0 : n <= 0 ? 0 : (((uint64_t)1 << n) - 1));
        }
        for (int i = 0; i < HASH_LEN; i++)
            cell_blend(&s[i], &out[i], &m);
    }
}

typedef void (*chains256_fn)(cell256 *, cell256 *, cell256 *, const int *, int, int);

static void chains_iterate256_baseline(cell256 *s, cell256 *a, cell256 *b, const int *active,
                                       int iterations, int rounds)
{
    chains_iterate256_impl(s, a, b, active, iterations, rounds, CK_WIDE_BASELINE);
}

#if CK_DISPATCH_AVX2
CK_TARGET_AVX2 static void chains_iterate256_avx2(cell256 *s, cell256 *a, cell256 *b,
                                                  const int *active, int iterations, int rounds)
{
    chains_iterate256_impl(s, a, b, active, iterations, rounds, 1);
}

static int cpu_has_avx2(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") != 0;
}
#endif

#if CK_DISPATCH_NEON
CK_TARGET_NEON static void chains_iterate256_neon(cell256 *s, cell256 *a, cell256 *b,
                                                  const int *active, int iterations, int rounds)
{
    chains_iterate256_impl(s, a, b, active, iterations, rounds, 0);
}

static int cpu_has_neon(void) { return (getauxval(AT_HWCAP) & HWCAP_NEON) != 0; }
#endif

static void chains_iterate64(cell64 *s, cell64 *a, cell64 *b, const int *active,
                             int iterations, int rounds)
{
    for (int j = 0; j < iterations; j++) {
        const cell64 *out = transform64(s, a, b, rounds, 122);
        const int n = active[j];
        const uint64_t m = n >= 64 ? ~(uint64_t)0 : (((uint64_t)1 << n) - 1);
        for (int i = 0; i < HASH_LEN; i++) {
            s[i].lo = (out[i].lo & m) | (s[i].lo & ~m);
            s[i].hi = (out[i].hi & m) | (s[i].hi & ~m);
        }
    }
}

static chains256_fn pick_chains256(void); /* defined with the path table below */

/*
 * Hash chains of `n` segments in place on `segs` (n * 243 valid trits).
 * Returns 0, or -1 if out of memory.  Needs no Python API (runs without GIL).
 */
static int hash_chains_run(int8_t *segs, const uint8_t *counts, Py_ssize_t n, int rounds)
{
    uint32_t *order = NULL;
    cell256 *buf256 = NULL;
    cell64 *buf64 = NULL;
    int active[256];
    int rc = -1;
    const chains256_fn chains_iterate256 = pick_chains256();

    /* Counting sort by count, descending; count 0 segments are left alone. */
    Py_ssize_t start[257];
    memset(start, 0, sizeof(start));
    for (Py_ssize_t i = 0; i < n; i++)
        start[255 - counts[i] + 1]++;
    for (int c = 1; c <= 256; c++)
        start[c] += start[c - 1];
    const Py_ssize_t busy = start[255]; /* segments with count > 0 */
    if (busy == 0)
        return 0;
    order = (uint32_t *)malloc((size_t)n * sizeof(uint32_t));
    if (!order)
        goto done;
    for (Py_ssize_t i = 0; i < n; i++)
        order[start[255 - counts[i]]++] = (uint32_t)i;

    for (Py_ssize_t first = 0; first < busy; first += POW_LANES) {
        const int lanes = (int)(busy - first < POW_LANES ? busy - first : POW_LANES);
        const uint32_t *idx = order + first;
        const int iterations = counts[idx[0]];
        for (int j = 0; j < iterations; j++) {
            int m = 0;
            while (m < lanes && counts[idx[m]] > j)
                m++;
            active[j] = m;
        }

        if (lanes <= 64) {
            if (!buf64 && !(buf64 = (cell64 *)alloc_cells(3 * STATE_LEN, sizeof(cell64))))
                goto done;
            cell64 *s = buf64;
            for (int i = 0; i < STATE_LEN; i++)
                s[i].lo = s[i].hi = ~(uint64_t)0;
            for (int l = 0; l < lanes; l++) {
                const int8_t *t = segs + (size_t)idx[l] * HASH_LEN;
                const uint64_t bit = (uint64_t)1 << l;
                for (int i = 0; i < HASH_LEN; i++) {
                    if (t[i] == 1)
                        s[i].lo &= ~bit;
                    else if (t[i] == -1)
                        s[i].hi &= ~bit;
                }
            }
            chains_iterate64(s, s + STATE_LEN, s + 2 * STATE_LEN, active, iterations, rounds);
            for (int l = 0; l < lanes; l++) {
                int8_t *t = segs + (size_t)idx[l] * HASH_LEN;
                for (int i = 0; i < HASH_LEN; i++)
                    t[i] = trit_from_bits((unsigned)(s[i].lo >> l) & 1, (unsigned)(s[i].hi >> l) & 1);
            }
        } else {
            if (!buf256 && !(buf256 = (cell256 *)alloc_cells(3 * STATE_LEN, sizeof(cell256))))
                goto done;
            cell256 *s = buf256;
            for (int i = 0; i < STATE_LEN; i++) {
                v_fill(&s[i].lo, ~(uint64_t)0);
                v_fill(&s[i].hi, ~(uint64_t)0);
            }
            for (int l = 0; l < lanes; l++) {
                const int8_t *t = segs + (size_t)idx[l] * HASH_LEN;
                const int w = l >> 6;
                const uint64_t bit = (uint64_t)1 << (l & 63);
                for (int i = 0; i < HASH_LEN; i++) {
                    if (t[i] == 1)
                        v_set(&s[i].lo, w, v_get(&s[i].lo, w) & ~bit);
                    else if (t[i] == -1)
                        v_set(&s[i].hi, w, v_get(&s[i].hi, w) & ~bit);
                }
            }
            chains_iterate256(s, s + STATE_LEN, s + 2 * STATE_LEN, active, iterations, rounds);
            for (int l = 0; l < lanes; l++) {
                int8_t *t = segs + (size_t)idx[l] * HASH_LEN;
                const int w = l >> 6, sh = l & 63;
                for (int i = 0; i < HASH_LEN; i++)
                    t[i] = trit_from_bits((unsigned)(v_get(&s[i].lo, w) >> sh) & 1,
                                          (unsigned)(v_get(&s[i].hi, w) >> sh) & 1);
            }
        }
    }
    rc = 0;
done:
    free(order);
    free(buf256);
    free(buf64);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* MAM nonce search: mam.js 1.0.0-beta.10 HammingDiver, 64 lanes             */
/* ------------------------------------------------------------------------ */

/*
 * Reproduced behaviour (the Python fallback must do the same):
 *  - state trits 0..3 are replaced by the lane planes LOW_i / HIGH_i below;
 *  - size starts at 81; every batch first runs increment(2 size / 3, size)
 *    on the persistent state (so the first batch tested is already
 *    incremented once), then size = min(roundThird(2 size / 3 + inc), 243);
 *    inc is size / 3 normally and size / 3 + 1 when the carry ran through the
 *    whole counter, in which case size grows by 3: the counter moves to
 *    [2 size / 3, size) and the result gets `size` trits (84, 87, ...);
 *  - increment stops as soon as no lane of a trit produced a carry
 *    ((hi & ~lo) == 0 on the old value), the counter being the same in all
 *    lanes;
 *  - each batch transforms a copy of the whole 729-trit state, 27 rounds;
 *  - check() scans lanes 0..63 and takes the first whose sum over the first
 *    security * 81 trits is 0 while the sum of every shorter whole 81-trit
 *    prefix is not 0; lane index 0 means "nothing found", so a batch whose
 *    first qualifying lane is lane 0 is skipped even if later lanes qualify;
 *  - the result is `size` trits of the chosen lane of the pre-transform state.
 */
static const uint64_t HAMMING_LOW[4] = {
    0xDB6DB6DB6DB6DB6DULL, 0xF1F8FC7E3F1F8FC7ULL, 0x7FFFE00FFFFC01FFULL, 0xFFC0000007FFFFFFULL};
static const uint64_t HAMMING_HIGH[4] = {
    0xB6DB6DB6DB6DB6DBULL, 0x8FC7E3F1F8FC7E3FULL, 0xFFC01FFFF803FFFFULL, 0x003FFFFFFFFFFFFFULL};

typedef struct {
    cell64 state[STATE_LEN]; /* persistent, incremented state */
    cell64 a[STATE_LEN], b[STATE_LEN];
    int size;
    int security;
} hamming_ctx;

static void hamming_init(hamming_ctx *h, const int8_t *trits, int security)
{
    for (int i = 0; i < STATE_LEN; i++) {
        h->state[i].lo = trit_lo_mask(trits[i]);
        h->state[i].hi = trit_hi_mask(trits[i]);
    }
    for (int i = 0; i < 4; i++) {
        h->state[i].lo = HAMMING_LOW[i];
        h->state[i].hi = HAMMING_HIGH[i];
    }
    h->size = 81; /* min(length 81, 243) - offset 0 */
    h->security = security;
}

static int hamming_increment(cell64 *s, int from, int to)
{
    for (int i = from; i < to; i++) {
        const uint64_t lo = s[i].lo, hi = s[i].hi;
        s[i].lo = hi ^ lo;
        s[i].hi = lo;
        if ((hi & ~lo) == 0)
            return to - from;
    }
    return to - from + 1;
}

static int round_third(int v)
{
    const int rem = v % 3;
    return rem == 0 ? v : v + 3 - rem;
}

static int hamming_check(const cell64 *t, int security)
{
    for (int lane = 0; lane < HAMMING_LANES; lane++) {
        int sum = 0;
        for (int j = 0; j < security; j++) {
            for (int k = j * 81; k < (j + 1) * 81; k++) {
                if (!((t[k].lo >> lane) & 1))
                    sum--;
                else if (!((t[k].hi >> lane) & 1))
                    sum++;
            }
            if (sum == 0 && j < security - 1) {
                sum = 1;
                break;
            }
        }
        if (sum == 0)
            return lane;
    }
    return 0;
}

/* Runs up to max_batches batches; returns the lane found (> 0) or 0. */
static int hamming_run(hamming_ctx *h, long max_batches)
{
    for (long n = 0; n < max_batches; n++) {
        const int from = 2 * h->size / 3, to = h->size;
        const int inc = hamming_increment(h->state, from, to);
        const int size = round_third(from + inc);
        h->size = size < HASH_LEN ? size : HASH_LEN;
        const cell64 *t = transform64(h->state, h->a, h->b, 27, 122);
        const int lane = hamming_check(t, h->security);
        if (lane != 0)
            return lane;
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Proof of work                                                             */
/* ------------------------------------------------------------------------ */

static const uint64_t POW_NONE = ~(uint64_t)0;

/* One batch: see pow_batch_impl. */
typedef int (*pow_batch_fn)(const cell256 *, cell256 *, cell256 *, int);

typedef struct {
    const cell256 *initial; /* shared read-only: state with lane planes */
    pow_batch_fn batch_fn;
    int mwm;
    uint64_t next_batch; /* atomic */
    uint64_t best;       /* atomic, POW_NONE until found */
    uint64_t batches;    /* atomic, batches hashed */
    int stop;            /* atomic */
    pthread_mutex_t mu;  /* guards running (and the atomics without GNU C) */
    pthread_cond_t cv;
    int running;
} pow_shared;

typedef struct {
    pow_shared *sh;
    cell256 *cells; /* 3 * 729: per-batch input, two scratch buffers */
    pthread_t tid;
    int started;
} pow_worker;

#if CK_GNU
static uint64_t pow_take_batch(pow_shared *sh)
{
    return __atomic_fetch_add(&sh->next_batch, 1, __ATOMIC_RELAXED);
}
static uint64_t pow_best(pow_shared *sh) { return __atomic_load_n(&sh->best, __ATOMIC_ACQUIRE); }
static void pow_offer(pow_shared *sh, uint64_t k)
{
    uint64_t cur = __atomic_load_n(&sh->best, __ATOMIC_ACQUIRE);
    while (k < cur &&
           !__atomic_compare_exchange_n(&sh->best, &cur, k, 1, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
    }
}
static void pow_count_batch(pow_shared *sh) { __atomic_fetch_add(&sh->batches, 1, __ATOMIC_RELAXED); }
static int pow_stopped(pow_shared *sh) { return __atomic_load_n(&sh->stop, __ATOMIC_ACQUIRE); }
static void pow_request_stop(pow_shared *sh) { __atomic_store_n(&sh->stop, 1, __ATOMIC_RELEASE); }
#else
/* Portable fallback: the same operations under the mutex. */
static uint64_t pow_take_batch(pow_shared *sh)
{
    pthread_mutex_lock(&sh->mu);
    const uint64_t b = sh->next_batch++;
    pthread_mutex_unlock(&sh->mu);
    return b;
}
static uint64_t pow_best(pow_shared *sh)
{
    pthread_mutex_lock(&sh->mu);
    const uint64_t b = sh->best;
    pthread_mutex_unlock(&sh->mu);
    return b;
}
static void pow_offer(pow_shared *sh, uint64_t k)
{
    pthread_mutex_lock(&sh->mu);
    if (k < sh->best)
        sh->best = k;
    pthread_mutex_unlock(&sh->mu);
}
static void pow_count_batch(pow_shared *sh)
{
    pthread_mutex_lock(&sh->mu);
    sh->batches++;
    pthread_mutex_unlock(&sh->mu);
}
static int pow_stopped(pow_shared *sh)
{
    pthread_mutex_lock(&sh->mu);
    const int s = sh->stop;
    pthread_mutex_unlock(&sh->mu);
    return s;
}
static void pow_request_stop(pow_shared *sh)
{
    pthread_mutex_lock(&sh->mu);
    sh->stop = 1;
    pthread_mutex_unlock(&sh->mu);
}
#endif

/* The state with every lane equal, except cells 162..167 (lane digits). */
static void pow_build_initial(cell256 *init, const int8_t *trits)
{
    for (int i = 0; i < STATE_LEN; i++) {
        v_fill(&init[i].lo, trit_lo_mask(trits[i]));
        v_fill(&init[i].hi, trit_hi_mask(trits[i]));
    }
    for (int j = 0; j < POW_LANE_TRITS; j++) {
        v_fill(&init[NONCE_OFFSET + j].lo, 0);
        v_fill(&init[NONCE_OFFSET + j].hi, 0);
    }
    for (int lane = 0; lane < POW_LANES; lane++) {
        int8_t d[POW_LANE_TRITS];
        balanced_ternary((uint64_t)lane, d, POW_LANE_TRITS);
        const int w = lane >> 6;
        const uint64_t bit = (uint64_t)1 << (lane & 63);
        for (int j = 0; j < POW_LANE_TRITS; j++) {
            cell256 *c = &init[NONCE_OFFSET + j];
            if (d[j] != 1)
                v_set(&c->lo, w, v_get(&c->lo, w) | bit);
            if (d[j] != -1)
                v_set(&c->hi, w, v_get(&c->hi, w) | bit);
        }
    }
}

/* Broadcast the digits of batch number b into nonce trits n[6..81). */
static void pow_set_batch(cell256 *in, uint64_t b)
{
    int8_t d[NONCE_LEN - POW_LANE_TRITS];
    balanced_ternary(b, d, NONCE_LEN - POW_LANE_TRITS);
    for (int j = 0; j < NONCE_LEN - POW_LANE_TRITS; j++) {
        cell256 *c = &in[NONCE_OFFSET + POW_LANE_TRITS + j];
        v_fill(&c->lo, trit_lo_mask(d[j]));
        v_fill(&c->hi, trit_hi_mask(d[j]));
    }
}

/*
 * Hash the 256 candidates of one batch (input state `in`, left untouched);
 * returns the lowest lane whose hash ends in mwm zero trits, or -1.
 */
CK_INLINE int pow_batch_impl(const cell256 *in, cell256 *a, cell256 *b, int mwm, int wide)
{
    cell256 *bufs[2] = {a, b};
    const cell256 *s = in;
    int w = 0;
    for (int p = 0; p < 40; p++, w ^= 1) { /* rounds 1..80 */
        pair_round256_sel(s, bufs[w], wide);
        s = bufs[w];
    }
    /* Round 81, only the cells of hash trits [243 - mwm, 243). */
    const int first = HASH_LEN - mwm;
    cell256 *d = bufs[w];
    single_round256(s, d, first / 2, 122);
    vec256 ok;
    v_fill(&ok, ~(uint64_t)0);
    for (int i = first; i < HASH_LEN; i++)
        and_zero_trits(&ok, &d[i]);
    for (int i = 0; i < 4; i++) {
        const uint64_t word = v_get(&ok, i);
        if (word)
            return 64 * i + lowest_bit(word);
    }
    return -1;
}

static int pow_batch_baseline(const cell256 *in, cell256 *a, cell256 *b, int mwm)
{
    return pow_batch_impl(in, a, b, mwm, CK_WIDE_BASELINE);
}

#if CK_DISPATCH_AVX2
CK_TARGET_AVX2 static int pow_batch_avx2(const cell256 *in, cell256 *a, cell256 *b, int mwm)
{
    return pow_batch_impl(in, a, b, mwm, 1);
}
#endif

#if CK_DISPATCH_NEON
CK_TARGET_NEON static int pow_batch_neon(const cell256 *in, cell256 *a, cell256 *b, int mwm)
{
    return pow_batch_impl(in, a, b, mwm, 0);
}
#endif

/*
 * The code paths of the two vector kernels this build holds, best first;
 * the baseline (what the compiler flags give) is always last and always
 * available.  IOTA_PUBLISHER_KERNEL=<name> picks a path by name when the CPU
 * offers it (for tests and comparisons); otherwise, or when it names a path
 * this CPU or build lacks, the first available one runs.
 */
typedef struct {
    const char *name;
    pow_batch_fn pow_batch;
    chains256_fn chains256;
    int (*available)(void); /* NULL = always */
} kernel_path;

static const kernel_path KERNEL_PATHS[] = {
#if CK_DISPATCH_AVX2
    {"avx2", pow_batch_avx2, chains_iterate256_avx2, cpu_has_avx2},
#endif
#if CK_DISPATCH_NEON
    {"neon", pow_batch_neon, chains_iterate256_neon, cpu_has_neon},
#endif
    {CK_BASELINE_PATH, pow_batch_baseline, chains_iterate256_baseline, NULL},
};

enum { KERNEL_PATH_COUNT = (int)(sizeof(KERNEL_PATHS) / sizeof(KERNEL_PATHS[0])) };

static int path_available(const kernel_path *p) { return !p->available || p->available(); }

static const kernel_path *pick_path(void)
{
    const char *want = getenv("IOTA_PUBLISHER_KERNEL");
    if (want && *want) {
        for (int i = 0; i < KERNEL_PATH_COUNT; i++)
            if (strcmp(KERNEL_PATHS[i].name, want) == 0 && path_available(&KERNEL_PATHS[i]))
                return &KERNEL_PATHS[i];
    }
    for (int i = 0; i < KERNEL_PATH_COUNT; i++)
        if (path_available(&KERNEL_PATHS[i]))
            return &KERNEL_PATHS[i];
    return &KERNEL_PATHS[KERNEL_PATH_COUNT - 1];
}

static chains256_fn pick_chains256(void) { return pick_path()->chains256; }

static void *pow_thread(void *arg)
{
    pow_worker *wk = (pow_worker *)arg;
    pow_shared *sh = wk->sh;
    cell256 *in = wk->cells, *a = wk->cells + STATE_LEN, *b = wk->cells + 2 * STATE_LEN;

    memcpy(in, sh->initial, STATE_LEN * sizeof(cell256));
    while (!pow_stopped(sh)) {
        const uint64_t batch = pow_take_batch(sh);
        const uint64_t best = pow_best(sh);
        if (best != POW_NONE && batch > best / POW_LANES)
            break;
        pow_set_batch(in, batch);
        const int lane = sh->batch_fn(in, a, b, sh->mwm);
        pow_count_batch(sh);
        if (lane >= 0)
            pow_offer(sh, batch * POW_LANES + (uint64_t)lane);
    }
    pthread_mutex_lock(&sh->mu);
    sh->running--;
    pthread_cond_broadcast(&sh->cv);
    pthread_mutex_unlock(&sh->mu);
    return NULL;
}

static double monotonic_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

#if defined(__linux__)
#define CK_COND_CLOCK CLOCK_MONOTONIC
#else
#define CK_COND_CLOCK CLOCK_REALTIME
#endif

/* Wait up to `ms` milliseconds for a worker to finish; returns running. */
static int pow_wait(pow_shared *sh, long ms)
{
    struct timespec ts;
    clock_gettime(CK_COND_CLOCK, &ts);
    ts.tv_nsec += ms * 1000000L;
    ts.tv_sec += ts.tv_nsec / 1000000000L;
    ts.tv_nsec %= 1000000000L;
    pthread_mutex_lock(&sh->mu);
    if (sh->running > 0)
        pthread_cond_timedwait(&sh->cv, &sh->mu, &ts);
    const int running = sh->running;
    pthread_mutex_unlock(&sh->mu);
    return running;
}

static int online_cpus(void)
{
    const long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : (n > MAX_POW_THREADS ? MAX_POW_THREADS : (int)n);
}

/* Mutex and condition variable (monotonic clock on Linux); 0 or -1. */
static int pow_sync_init(pow_shared *sh)
{
    pthread_condattr_t ca;
    if (pthread_condattr_init(&ca) != 0)
        return -1;
#if defined(__linux__)
    pthread_condattr_setclock(&ca, CK_COND_CLOCK);
#endif
    int rc = -1;
    if (pthread_mutex_init(&sh->mu, NULL) == 0) {
        if (pthread_cond_init(&sh->cv, &ca) == 0)
            rc = 0;
        else
            pthread_mutex_destroy(&sh->mu);
    }
    pthread_condattr_destroy(&ca);
    return rc;
}

/*
 * Starts the workers with every signal blocked (signals are left to the
 * Python thread, which polls PyErr_CheckSignals()).  Returns how many
 * started; fewer than asked still give the same answer.
 */
static int pow_start_workers(pow_shared *sh, pow_worker *workers, int n)
{
    sigset_t all, old;
    int started = 0;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    for (int i = 0; i < n; i++) {
        pthread_mutex_lock(&sh->mu);
        sh->running++;
        pthread_mutex_unlock(&sh->mu);
        if (pthread_create(&workers[i].tid, NULL, pow_thread, &workers[i]) != 0) {
            pthread_mutex_lock(&sh->mu);
            sh->running--;
            pthread_mutex_unlock(&sh->mu);
            break;
        }
        workers[i].started = 1;
        started++;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return started;
}

static void pow_join_workers(pow_worker *workers, int n)
{
    for (int i = 0; i < n; i++) {
        if (workers[i].started) {
            pthread_join(workers[i].tid, NULL);
            workers[i].started = 0;
        }
    }
}

/* ------------------------------------------------------------------------ */
/* Bundle finalisation: Keccak-384 (Kerl) and the obsolete-tag search        */
/* ------------------------------------------------------------------------ */

/*
 * Keccak-f[1600] and Keccak-384 with the original padding (0x01 ... 0x80),
 * as Kerl uses it; written from the Keccak reference specification.
 */
static const uint64_t KECCAK_RC[24] = {
    0x0000000000000001ULL, 0x0000000000008082ULL, 0x800000000000808AULL, 0x8000000080008000ULL,
    0x000000000000808BULL, 0x0000000080000001ULL, 0x8000000080008081ULL, 0x8000000000008009ULL,
    0x000000000000008AULL, 0x0000000000000088ULL, 0x0000000080008009ULL, 0x000000008000000AULL,
    0x000000008000808BULL, 0x800000000000008BULL, 0x8000000000008089ULL, 0x8000000000008003ULL,
    0x8000000000008002ULL, 0x8000000000000080ULL, 0x000000000000800AULL, 0x800000008000000AULL,
    0x8000000080008081ULL, 0x8000000000008080ULL, 0x0000000080000001ULL, 0x8000000080008008ULL};
/* rho rotation of, and pi destination of, the lanes visited from lane 1 */
static const int KECCAK_ROT[24] = {1,  3,  6,  10, 15, 21, 28, 36, 45, 55, 2,  14,
                                   27, 41, 56, 8,  25, 43, 62, 18, 39, 61, 20, 44};
static const int KECCAK_PI[24] = {10, 7,  11, 17, 18, 3, 5,  16, 8,  21, 24, 4,
                                  15, 23, 19, 13, 12, 2, 20, 14, 22, 9,  6,  1};

CK_INLINE uint64_t rotl64(uint64_t x, int n) { return (x << n) | (x >> (64 - n)); }

static void keccak_f1600(uint64_t st[25])
{
    uint64_t bc[5], t;
    for (int r = 0; r < 24; r++) {
        for (int i = 0; i < 5; i++)
            bc[i] = st[i] ^ st[i + 5] ^ st[i + 10] ^ st[i + 15] ^ st[i + 20];
        for (int i = 0; i < 5; i++) {
            t = bc[(i + 4) % 5] ^ rotl64(bc[(i + 1) % 5], 1);
            for (int j = 0; j < 25; j += 5)
                st[j + i] ^= t;
        }
        t = st[1];
        for (int i = 0; i < 24; i++) {
            const int j = KECCAK_PI[i];
            const uint64_t next = st[j];
            st[j] = rotl64(t, KECCAK_ROT[i]);
            t = next;
        }
        for (int j = 0; j < 25; j += 5) {
            for (int i = 0; i < 5; i++)
                bc[i] = st[j + i];
            for (int i = 0; i < 5; i++)
                st[j + i] ^= ~bc[(i + 1) % 5] & bc[(i + 2) % 5];
        }
        st[0] ^= KECCAK_RC[r];
    }
}

enum { KECCAK384_RATE = 104, KERL_BYTES = 48 };

static void keccak384(const uint8_t *data, size_t n, uint8_t out[KERL_BYTES])
{
    uint64_t st[25];
    memset(st, 0, sizeof(st));
    size_t pos = 0;
    for (size_t i = 0; i < n; i++) {
        st[pos >> 3] ^= (uint64_t)data[i] << (8 * (pos & 7));
        if (++pos == KECCAK384_RATE) {
            keccak_f1600(st);
            pos = 0;
        }
    }
    st[pos >> 3] ^= (uint64_t)0x01 << (8 * (pos & 7));
    st[(KECCAK384_RATE - 1) >> 3] ^= (uint64_t)0x80 << (8 * ((KECCAK384_RATE - 1) & 7));
    keccak_f1600(st);
    for (int i = 0; i < KERL_BYTES; i++)
        out[i] = (uint8_t)(st[i >> 3] >> (8 * (i & 7)));
}

/* Little-endian 32-bit limbs, enough for 3^243 and signed 384-bit values. */
enum { BIG_LIMBS = 13 };
typedef struct {
    uint32_t w[BIG_LIMBS];
} big;

static void big_pow3(big *r, int n)
{
    memset(r, 0, sizeof(*r));
    r->w[0] = 1;
    for (int k = 0; k < n; k++) {
        uint64_t carry = 0;
        for (int i = 0; i < BIG_LIMBS; i++) {
            const uint64_t v = (uint64_t)r->w[i] * 3 + carry;
            r->w[i] = (uint32_t)v;
            carry = v >> 32;
        }
    }
}

static void big_add(big *r, const big *a) /* mod 2^416 */
{
    uint64_t carry = 0;
    for (int i = 0; i < BIG_LIMBS; i++) {
        const uint64_t v = (uint64_t)r->w[i] + a->w[i] + carry;
        r->w[i] = (uint32_t)v;
        carry = v >> 32;
    }
}

static void big_sub(big *r, const big *a) /* mod 2^416 */
{
    int64_t borrow = 0;
    for (int i = 0; i < BIG_LIMBS; i++) {
        const int64_t v = (int64_t)r->w[i] - a->w[i] - borrow;
        r->w[i] = (uint32_t)v;
        borrow = v < 0;
    }
}

static int big_negative(const big *a) { return (a->w[BIG_LIMBS - 1] >> 31) != 0; }

static int big_cmp(const big *a, const big *b) /* unsigned */
{
    for (int i = BIG_LIMBS - 1; i >= 0; i--)
        if (a->w[i] != b->w[i])
            return a->w[i] < b->w[i] ? -1 : 1;
    return 0;
}

typedef struct {
    big m, half, top; /* 3^242, (3^242 - 1) / 2, 3^242 again as the digit offset */
    uint8_t step[KERL_BYTES]; /* 3^81, big-endian */
} kerl_consts;

static void kerl_consts_init(kerl_consts *k)
{
    big p81;
    big_pow3(&k->m, 242);
    k->half = k->m;
    uint32_t rem = 0;
    for (int i = BIG_LIMBS - 1; i >= 0; i--) { /* (m - 1) / 2: m is odd */
        const uint64_t cur = ((uint64_t)rem << 32) | k->half.w[i];
        k->half.w[i] = (uint32_t)(cur / 2);
        rem = (uint32_t)(cur % 2);
    }
    k->top = k->m;
    big_pow3(&p81, 81);
    for (int i = 0; i < KERL_BYTES; i++)
        k->step[KERL_BYTES - 1 - i] = (uint8_t)(p81.w[i / 4] >> (8 * (i % 4)));
}

/*
 * The tryte values + 13 (0..26) of a Kerl digest: the 384-bit signed
 * big-endian digest reduced into the balanced range mod 3^242, as 81
 * balanced base-27 digits (u = w + 3^242 with w = (v + half) mod 3^242 has
 * plain digits d = tryte + 13).  kerl_digits_start() makes u; each
 * kerl_digits_next() call gives the next six digits, least significant first.
 */
typedef struct {
    big v;
    int top; /* limbs above top are zero */
} kerl_digits;

static void kerl_digits_start(const kerl_consts *k, const uint8_t d[KERL_BYTES], kerl_digits *g)
{
    big *v = &g->v;
    for (int i = 0; i < 12; i++)
        v->w[i] = ((uint32_t)d[KERL_BYTES - 4 * i - 4] << 24) |
                  ((uint32_t)d[KERL_BYTES - 4 * i - 3] << 16) |
                  ((uint32_t)d[KERL_BYTES - 4 * i - 2] << 8) | d[KERL_BYTES - 4 * i - 1];
    v->w[12] = (d[0] & 0x80) ? 0xFFFFFFFFu : 0;
    big_add(v, &k->half); /* in (-m, 2m) */
    if (big_negative(v))
        big_add(v, &k->m);
    else if (big_cmp(v, &k->m) >= 0)
        big_sub(v, &k->m);
    big_add(v, &k->top);
    g->top = BIG_LIMBS - 1;
}

static void kerl_digits_next(kerl_digits *g, uint8_t out[6])
{
    uint64_t rem = 0;
    while (g->top > 0 && g->v.w[g->top] == 0)
        g->top--;
    for (int i = g->top; i >= 0; i--) {
        const uint64_t cur = (rem << 32) | g->v.w[i];
        g->v.w[i] = (uint32_t)(cur / 387420489u); /* 27^6 */
        rem = cur % 387420489u;
    }
    for (int j = 0; j < 6; j++) {
        out[j] = (uint8_t)(rem % 27);
        rem /= 27;
    }
}

/* Whether the normalized form of one third (27 digits) holds a 13 (digit
   26): it is lowered (sum above zero) or raised from its first tryte. */
static int third_has_13(const uint8_t *p)
{
    int total = -13 * 27, j = 0;
    for (int i = 0; i < 27; i++)
        total += p[i];
    if (total > 0) {
        while (total > 0)
            total -= p[j++];
    } else if (total < 0) {
        while (total < 0)
            total += 26 - p[j++];
        if (j > 1 || total == 0)
            return 1;
        j = 1; /* the first tryte was raised part of the way */
    }
    for (int i = j; i < 27; i++)
        if (p[i] == 26)
            return 1;
    return 0;
}

/* Whether the normalized bundle hash of a digest holds a 13; the digits go
   to out[0..84), complete when it does not. */
static int digest_has_13(const kerl_consts *k, const uint8_t d[KERL_BYTES], uint8_t out[84])
{
    kerl_digits g;
    int n = 0;
    kerl_digits_start(k, d, &g);
    for (int third = 0; third < 3; third++) {
        while (n < 27 * (third + 1)) {
            kerl_digits_next(&g, out + n);
            n += 6;
        }
        if (third_has_13(out + 27 * third)) /* the first third rules most out */
            return 1;
    }
    return 0;
}

/* Chunk (48 big-endian bytes) += 3^81 mod 2^384: one obsolete-tag step. */
static void kerl_chunk_step(uint8_t *chunk, const uint8_t step[KERL_BYTES])
{
    unsigned carry = 0;
    for (int i = KERL_BYTES - 1; i >= 0; i--) {
        const unsigned v = (unsigned)chunk[i] + step[i] + carry;
        chunk[i] = (uint8_t)v;
        carry = v >> 8;
    }
}

/*
 * Tries the obsolete tag of the chunk at `offset` in `data` (the Kerl
 * chunks of every essence), stepping it until the bundle hash normalizes
 * without a 13, at most `limit` steps.  Returns the steps taken (digest in
 * `out`) or -1 when the limit was reached.  `data` is modified.
 */
static long long bundle_finalize_run(uint8_t *data, size_t n, size_t offset, long long limit,
                                     uint8_t out[KERL_BYTES])
{
    kerl_consts k;
    uint8_t digits[84];
    kerl_consts_init(&k);
    for (long long steps = 0;; steps++) {
        keccak384(data, n, out);
        if (!digest_has_13(&k, out, digits))
            return steps;
        if (steps >= limit)
            return -1;
        kerl_chunk_step(data + offset, k.step);
    }
}

#ifndef CURLKERNEL_NO_PYTHON
/* ------------------------------------------------------------------------ */
/* Python glue                                                               */
/* ------------------------------------------------------------------------ */

static int check_rounds(int rounds)
{
    if (rounds != 27 && rounds != 81) {
        PyErr_Format(PyExc_ValueError, "rounds must be 27 or 81, got %d", rounds);
        return -1;
    }
    return 0;
}

static int check_trits(const int8_t *t, Py_ssize_t n, const char *what)
{
    for (Py_ssize_t i = 0; i < n; i++) {
        if (t[i] < -1 || t[i] > 1) {
            PyErr_Format(PyExc_ValueError,
                         "%s: invalid trit value %d at index %zd (trits must be -1, 0 or 1)",
                         what, (int)t[i], i);
            return -1;
        }
    }
    return 0;
}

static int check_length(Py_ssize_t got, Py_ssize_t want, const char *what)
{
    if (got != want) {
        PyErr_Format(PyExc_ValueError, "%s must be %zd trits long, got %zd", what, want, got);
        return -1;
    }
    return 0;
}

/* Copy of a 729-trit state buffer, validated. */
static int read_state(const Py_buffer *buf, int8_t *state, const char *what)
{
    if (check_length(buf->len, STATE_LEN, what) < 0)
        return -1;
    memcpy(state, buf->buf, STATE_LEN);
    return check_trits(state, STATE_LEN, what);
}

PyDoc_STRVAR(transform_doc,
             "transform(state: bytearray, rounds: int) -> None\n\n"
             "Curl-P transform of a 729-trit state in place (rounds 27 or 81).");

static PyObject *py_transform(PyObject *self, PyObject *args)
{
    Py_buffer st;
    int rounds;
    int8_t state[STATE_LEN];
    (void)self;
    if (!PyArg_ParseTuple(args, "w*i:transform", &st, &rounds))
        return NULL;
    if (check_rounds(rounds) < 0 || read_state(&st, state, "state") < 0) {
        PyBuffer_Release(&st);
        return NULL;
    }
    scalar_transform(state, rounds);
    memcpy(st.buf, state, STATE_LEN);
    PyBuffer_Release(&st);
    Py_RETURN_NONE;
}

PyDoc_STRVAR(absorb_doc,
             "absorb(state: bytearray, trits: bytes, rounds: int) -> None\n\n"
             "Curl-P absorb of all of `trits` into the 729-trit state, in place:\n"
             "chunks of 243 overwrite state[0:len(chunk)], one transform each;\n"
             "an empty input still transforms once.");

static PyObject *py_absorb(PyObject *self, PyObject *args)
{
    Py_buffer st, in;
    int rounds;
    int8_t state[STATE_LEN];
    int8_t *copy = NULL;
    (void)self;
    if (!PyArg_ParseTuple(args, "w*y*i:absorb", &st, &in, &rounds))
        return NULL;
    if (check_rounds(rounds) < 0 || read_state(&st, state, "state") < 0)
        goto fail;
    copy = (int8_t *)PyMem_Malloc(in.len > 0 ? (size_t)in.len : 1);
    if (!copy) {
        PyErr_NoMemory();
        goto fail;
    }
    memcpy(copy, in.buf, (size_t)in.len);
    if (check_trits(copy, in.len, "trits") < 0)
        goto fail;
    if (in.len > 4 * HASH_LEN) {
        Py_BEGIN_ALLOW_THREADS
        scalar_absorb(state, copy, in.len, rounds);
        Py_END_ALLOW_THREADS
    } else {
        scalar_absorb(state, copy, in.len, rounds);
    }
    memcpy(st.buf, state, STATE_LEN);
    PyMem_Free(copy);
    PyBuffer_Release(&in);
    PyBuffer_Release(&st);
    Py_RETURN_NONE;
fail:
    PyMem_Free(copy);
    PyBuffer_Release(&in);
    PyBuffer_Release(&st);
    return NULL;
}

PyDoc_STRVAR(squeeze_doc,
             "squeeze(state: bytearray, length: int, rounds: int) -> bytes\n\n"
             "Curl-P squeeze of `length` trits (>= 0) from the 729-trit state, in\n"
             "place: 243 trits per transform; length 0 still transforms once.");

static PyObject *py_squeeze(PyObject *self, PyObject *args)
{
    Py_buffer st;
    Py_ssize_t length;
    int rounds;
    int8_t state[STATE_LEN];
    (void)self;
    if (!PyArg_ParseTuple(args, "w*ni:squeeze", &st, &length, &rounds))
        return NULL;
    if (check_rounds(rounds) < 0 || read_state(&st, state, "state") < 0) {
        PyBuffer_Release(&st);
        return NULL;
    }
    if (length < 0) {
        PyErr_Format(PyExc_ValueError, "length must be >= 0, got %zd", length);
        PyBuffer_Release(&st);
        return NULL;
    }
    PyObject *out = PyBytes_FromStringAndSize(NULL, length);
    if (!out) {
        PyBuffer_Release(&st);
        return NULL;
    }
    int8_t *o = (int8_t *)CK_BYTES(out);
    if (length > 4 * HASH_LEN) {
        Py_BEGIN_ALLOW_THREADS
        scalar_squeeze(state, o, length, rounds);
        Py_END_ALLOW_THREADS
    } else {
        scalar_squeeze(state, o, length, rounds);
    }
    memcpy(st.buf, state, STATE_LEN);
    PyBuffer_Release(&st);
    return out;
}

/* MAM's stream cipher: (a + b) in balanced form for a, b in -1..1, index a + b + 2. */
static const int8_t TRIT_SUM[5] = {1, -1, 0, 1, -1};

/* Mask (encrypt) or unmask `n` trits through the sponge, in 243-trit chunks:
   each output chunk is the input plus (or minus) the rate read before the
   chunk, and the *plain* chunk is then absorbed.  n = 0 touches nothing. */
static void scalar_mask(int8_t *state, const int8_t *in, int8_t *out, Py_ssize_t n,
                        int rounds, int unmask)
{
    for (Py_ssize_t c = 0; c < n; c += HASH_LEN) {
        const Py_ssize_t limit = n - c < HASH_LEN ? n - c : HASH_LEN;
        if (unmask) {
            for (Py_ssize_t i = 0; i < limit; i++)
                out[c + i] = TRIT_SUM[in[c + i] - state[i] + 2];
            memcpy(state, out + c, (size_t)limit);
        } else {
            for (Py_ssize_t i = 0; i < limit; i++)
                out[c + i] = TRIT_SUM[in[c + i] + state[i] + 2];
            memcpy(state, in + c, (size_t)limit);
        }
        scalar_transform(state, rounds);
    }
}

static PyObject *mask_common(PyObject *args, int unmask, const char *format)
{
    Py_buffer st, in;
    int rounds;
    int8_t state[STATE_LEN];
    if (!PyArg_ParseTuple(args, format, &st, &in, &rounds))
        return NULL;
    PyObject *out = NULL;
    if (check_rounds(rounds) < 0 || read_state(&st, state, "state") < 0 ||
        check_trits((const int8_t *)in.buf, in.len, "trits") < 0)
        goto done;
    out = PyBytes_FromStringAndSize(NULL, in.len);
    if (!out)
        goto done;
    scalar_mask(state, (const int8_t *)in.buf, (int8_t *)CK_BYTES(out), in.len,
                rounds, unmask);
    memcpy(st.buf, state, STATE_LEN);
done:
    PyBuffer_Release(&in);
    PyBuffer_Release(&st);
    return out;
}

PyDoc_STRVAR(mask_doc,
             "mask(state: bytearray, trits: bytes, rounds: int) -> bytes\n\n"
             "MAM mask: per 243-trit chunk, add the rate to the chunk, then absorb\n"
             "the plain chunk (state updated in place).");

static PyObject *py_mask(PyObject *self, PyObject *args)
{
    (void)self;
    return mask_common(args, 0, "w*y*i:mask");
}

PyDoc_STRVAR(unmask_doc,
             "unmask(state: bytearray, trits: bytes, rounds: int) -> bytes\n\n"
             "MAM unmask: per 243-trit chunk, subtract the rate, then absorb the\n"
             "recovered plain chunk (state updated in place).");

static PyObject *py_unmask(PyObject *self, PyObject *args)
{
    (void)self;
    return mask_common(args, 1, "w*y*i:unmask");
}

static const char TRYTE_ALPHABET[] = "9ABCDEFGHIJKLMNOPQRSTUVWXYZ";

PyDoc_STRVAR(trytes_doc,
             "trits_to_trytes(trits: bytes) -> str\n\n"
             "Tryte string of int8 trits (length a multiple of 3).");

static PyObject *py_trits_to_trytes(PyObject *self, PyObject *args)
{
    Py_buffer in;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*:trits_to_trytes", &in))
        return NULL;
    PyObject *out = NULL;
    const int8_t *t = (const int8_t *)in.buf;
    if (in.len % 3) {
        PyErr_Format(PyExc_ValueError, "trits: length %zd is not a multiple of 3", in.len);
        goto done;
    }
    if (check_trits(t, in.len, "trits") < 0)
        goto done;
#ifdef Py_LIMITED_API
    char *o = (char *)PyMem_Malloc((size_t)(in.len / 3) + 1);
    if (!o) {
        PyErr_NoMemory();
        goto done;
    }
#else
    out = PyUnicode_New(in.len / 3, 127);
    if (!out)
        goto done;
    Py_UCS1 *o = PyUnicode_1BYTE_DATA(out);
#endif
    for (Py_ssize_t i = 0; i < in.len / 3; i++) {
        const int v = t[3 * i] + 3 * t[3 * i + 1] + 9 * t[3 * i + 2];
        o[i] = (char)TRYTE_ALPHABET[v < 0 ? v + 27 : v];
    }
#ifdef Py_LIMITED_API
    out = PyUnicode_FromStringAndSize(o, in.len / 3);
    PyMem_Free(o);
#endif
done:
    PyBuffer_Release(&in);
    return out;
}

PyDoc_STRVAR(trits_doc,
             "trytes_to_trits(trytes: str) -> bytes\n\n"
             "int8 trits (3 per tryte) of a string of 9 and A-Z.");

static PyObject *py_trytes_to_trits(PyObject *self, PyObject *args)
{
    PyObject *str;
    (void)self;
    if (!PyArg_ParseTuple(args, "U:trytes_to_trits", &str))
        return NULL;
#ifdef Py_LIMITED_API
    /* UTF-8 of the string; characters beyond U+00FF (lead bytes >= 0xC4, or
       no UTF-8 at all: lone surrogates) give the message without a position,
       as a non-Latin-1 string does in the other build; positions count
       characters, not bytes. */
    Py_ssize_t n;
    const char *u8 = PyUnicode_AsUTF8AndSize(str, &n);
    if (!u8)
        PyErr_Clear();
    for (Py_ssize_t i = 0; u8 && i < n; i++)
        if ((unsigned char)u8[i] >= 0xC4)
            u8 = NULL;
    if (!u8) {
        PyErr_SetString(PyExc_ValueError, "trytes: only the characters 9 and A-Z are allowed");
        return NULL;
    }
    const unsigned char *c = (const unsigned char *)u8;
#else
    if (PyUnicode_READY(str) < 0)
        return NULL;
    const Py_ssize_t n = PyUnicode_GET_LENGTH(str);
    if (PyUnicode_KIND(str) != PyUnicode_1BYTE_KIND) {
        PyErr_SetString(PyExc_ValueError, "trytes: only the characters 9 and A-Z are allowed");
        return NULL;
    }
    const Py_UCS1 *c = PyUnicode_1BYTE_DATA(str);
#endif
    PyObject *out = PyBytes_FromStringAndSize(NULL, 3 * n);
    if (!out)
        return NULL;
    int8_t *o = (int8_t *)CK_BYTES(out);
    for (Py_ssize_t i = 0; i < n; i++) {
        int v;
        if (c[i] == '9')
            v = 0;
        else if (c[i] >= 'A' && c[i] <= 'M')
            v = c[i] - 'A' + 1;
        else if (c[i] >= 'N' && c[i] <= 'Z')
            v = c[i] - 'N' - 13;
        else {
            Py_ssize_t position = i;
#ifdef Py_LIMITED_API
            position = 0; /* characters before byte i: bytes that are not continuations */
            for (Py_ssize_t j = 0; j < i; j++)
                position += (c[j] & 0xC0) != 0x80;
#endif
            Py_DECREF(out);
            PyErr_Format(PyExc_ValueError,
                         "trytes: only the characters 9 and A-Z are allowed (position %zd)",
                         position);
            return NULL;
        }
        for (int j = 0; j < 3; j++) {
            int r = ((v % 3) + 3) % 3;
            if (r == 2)
                r = -1;
            o[3 * i + j] = (int8_t)r;
            v = (v - r) / 3;
        }
    }
    return out;
}

PyDoc_STRVAR(hash_chains_doc,
             "hash_chains(segments: bytes, counts: bytes, rounds: int) -> bytes\n\n"
             "segments: n * 243 trits, counts: n bytes (0..255).  Each segment is\n"
             "replaced counts[i] times by state[0:243] after one transform of\n"
             "(segment + 486 zero trits).  Bit-sliced, one segment per lane.");

static PyObject *py_hash_chains(PyObject *self, PyObject *args)
{
    Py_buffer segs, counts;
    int rounds, rc;
    PyObject *out = NULL;
    uint8_t *cnt = NULL; /* private copies: nothing is read from the caller's */
    (void)self;          /* buffers once the GIL is released */
    if (!PyArg_ParseTuple(args, "y*y*i:hash_chains", &segs, &counts, &rounds))
        return NULL;
    if (check_rounds(rounds) < 0)
        goto done;
    const Py_ssize_t n = counts.len;
    if (n > PY_SSIZE_T_MAX / HASH_LEN || segs.len != n * HASH_LEN) {
        PyErr_Format(PyExc_ValueError,
                     "segments must be len(counts) * 243 = %zd * 243 trits long, got %zd",
                     n, segs.len);
        goto done;
    }
    if (n > (Py_ssize_t)UINT32_MAX) {
        PyErr_SetString(PyExc_ValueError, "too many segments");
        goto done;
    }
    cnt = (uint8_t *)PyMem_Malloc(n > 0 ? (size_t)n : 1);
    if (!cnt) {
        PyErr_NoMemory();
        goto done;
    }
    memcpy(cnt, counts.buf, (size_t)n);
    out = PyBytes_FromStringAndSize((const char *)segs.buf, segs.len);
    if (!out)
        goto done;
    int8_t *t = (int8_t *)CK_BYTES(out);
    if (check_trits(t, segs.len, "segments") < 0) {
        Py_CLEAR(out);
        goto done;
    }
    Py_BEGIN_ALLOW_THREADS
    rc = hash_chains_run(t, cnt, n, rounds);
    Py_END_ALLOW_THREADS
    if (rc < 0) {
        Py_CLEAR(out);
        PyErr_NoMemory();
    }
done:
    PyMem_Free(cnt);
    PyBuffer_Release(&segs);
    PyBuffer_Release(&counts);
    return out;
}

PyDoc_STRVAR(hamming_search_doc,
             "hamming_search(state: bytes, security: int) -> bytes\n\n"
             "MAM v0 nonce search, identical to mam.js 1.0.0-beta.10\n"
             "HammingDiver.search(state, security, 81, 0); state is the full\n"
             "729-trit sponge state.  Returns the nonce trits (81, or more in the\n"
             "reference's counter-overflow case).");

static PyObject *py_hamming_search(PyObject *self, PyObject *args)
{
    Py_buffer st;
    int security;
    int8_t trits[STATE_LEN];
    (void)self;
    if (!PyArg_ParseTuple(args, "y*i:hamming_search", &st, &security))
        return NULL;
    const int bad = read_state(&st, trits, "state");
    PyBuffer_Release(&st);
    if (bad < 0)
        return NULL;
    if (security < 1 || security > 3) {
        PyErr_Format(PyExc_ValueError, "security must be 1, 2 or 3, got %d", security);
        return NULL;
    }
    hamming_ctx *h = (hamming_ctx *)alloc_cells(1, sizeof(hamming_ctx));
    if (!h)
        return PyErr_NoMemory();
    hamming_init(h, trits, security);
    int lane;
    for (;;) {
        Py_BEGIN_ALLOW_THREADS
        lane = hamming_run(h, 2048);
        Py_END_ALLOW_THREADS
        if (lane != 0)
            break;
        if (PyErr_CheckSignals() < 0) {
            free(h);
            return NULL;
        }
    }
    PyObject *out = PyBytes_FromStringAndSize(NULL, h->size);
    if (out) {
        int8_t *o = (int8_t *)CK_BYTES(out);
        for (int i = 0; i < h->size; i++)
            o[i] = trit_from_bits((unsigned)(h->state[i].lo >> lane) & 1,
                                  (unsigned)(h->state[i].hi >> lane) & 1);
    }
    free(h);
    return out;
}

PyDoc_STRVAR(pow_search_doc,
             "pow_search(state: bytes, mwm: int, threads: int = 0, timeout: float = 0.0)\n"
             "    -> tuple[bytes, int]\n\n"
             "Proof-of-work nonce search.  state: 729-trit Curl-P-81 state after\n"
             "absorbing the first 7776 transaction trits, with state[0:243] set to\n"
             "the last 243 (nonce = state[162:243], ignored).  Returns the nonce of\n"
             "the smallest valid candidate k (see module docs) and the number of\n"
             "candidates hashed.  threads 0 = online CPUs; timeout 0 = none, else\n"
             "TimeoutError.  Releases the GIL; Ctrl-C interrupts.");

static PyObject *py_pow_search(PyObject *self, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"state", "mwm", "threads", "timeout", NULL};
    Py_buffer st;
    int mwm, threads = 0;
    double timeout = 0.0;
    int8_t trits[STATE_LEN];
    (void)self;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "y*i|id:pow_search", kwlist, &st, &mwm,
                                     &threads, &timeout))
        return NULL;
    const int bad = read_state(&st, trits, "state");
    PyBuffer_Release(&st);
    if (bad < 0)
        return NULL;
    if (mwm < 1 || mwm > HASH_LEN) {
        PyErr_Format(PyExc_ValueError, "mwm must be between 1 and 243, got %d", mwm);
        return NULL;
    }
    if (threads < 0) {
        PyErr_Format(PyExc_ValueError, "threads must be >= 0, got %d", threads);
        return NULL;
    }
    if (!(timeout >= 0.0)) { /* also rejects NaN */
        PyErr_SetString(PyExc_ValueError, "timeout must be >= 0 seconds");
        return NULL;
    }
    if (threads == 0)
        threads = online_cpus();
    if (threads > MAX_POW_THREADS)
        threads = MAX_POW_THREADS;

    pow_shared sh;
    memset(&sh, 0, sizeof(sh));
    sh.mwm = mwm;
    sh.best = POW_NONE;
    sh.batch_fn = pick_path()->pow_batch;
    cell256 *initial = (cell256 *)alloc_cells(STATE_LEN, sizeof(cell256));
    pow_worker *workers = (pow_worker *)calloc((size_t)threads, sizeof(pow_worker));
    int sync_ok = 0, interrupted = 0, timed_out = 0, started = 0;
    PyObject *result = NULL;
    if (!initial || !workers) {
        PyErr_NoMemory();
        goto cleanup;
    }
    for (int i = 0; i < threads; i++) {
        workers[i].sh = &sh;
        workers[i].cells = (cell256 *)alloc_cells(3 * STATE_LEN, sizeof(cell256));
        if (!workers[i].cells) {
            PyErr_NoMemory();
            goto cleanup;
        }
    }
    pow_build_initial(initial, trits);
    sh.initial = initial;
    if (pow_sync_init(&sh) < 0) {
        PyErr_SetString(PyExc_RuntimeError, "pow_search: cannot create mutex / condition");
        goto cleanup;
    }
    sync_ok = 1;

    /* Wait in 50 ms slices, taking the GIL back each time for signals. */
    const double t0 = monotonic_seconds();
    Py_BEGIN_ALLOW_THREADS
    started = pow_start_workers(&sh, workers, threads);
    Py_END_ALLOW_THREADS
    if (started == 0) {
        PyErr_SetString(PyExc_RuntimeError, "pow_search: could not start any thread");
        goto cleanup;
    }

    for (;;) {
        int running;
        Py_BEGIN_ALLOW_THREADS
        running = pow_wait(&sh, 50);
        Py_END_ALLOW_THREADS
        if (running == 0)
            break;
        if (PyErr_CheckSignals() < 0) {
            interrupted = 1;
            break;
        }
        if (timeout > 0.0 && monotonic_seconds() - t0 >= timeout) {
            timed_out = 1;
            break;
        }
    }
    if (interrupted || timed_out)
        pow_request_stop(&sh);
    Py_BEGIN_ALLOW_THREADS
    pow_join_workers(workers, threads);
    Py_END_ALLOW_THREADS

    if (interrupted)
        goto cleanup; /* exception already set by PyErr_CheckSignals */
    if (timed_out) {
        char msg[96];
        snprintf(msg, sizeof(msg), "proof of work timed out after %.3f s",
                 monotonic_seconds() - t0);
        PyErr_SetString(PyExc_TimeoutError, msg);
        goto cleanup;
    }
    if (sh.best == POW_NONE) { /* cannot happen: workers only stop after a find */
        PyErr_SetString(PyExc_RuntimeError, "pow_search: search ended without a result");
        goto cleanup;
    }
    {
        int8_t nonce[NONCE_LEN];
        pow_nonce_of(sh.best, nonce);
        result = Py_BuildValue("(y#K)", (const char *)nonce, (Py_ssize_t)NONCE_LEN,
                               (unsigned long long)sh.batches * POW_LANES);
    }

cleanup:
    if (sync_ok) {
        pthread_cond_destroy(&sh.cv);
        pthread_mutex_destroy(&sh.mu);
    }
    if (workers) {
        for (int i = 0; i < threads; i++)
            free(workers[i].cells);
        free(workers);
    }
    free(initial);
    return result;
}

PyDoc_STRVAR(lanes_doc, "lanes() -> int\n\nCandidates hashed side by side per PoW batch (256).");

static PyObject *py_lanes(PyObject *self, PyObject *noargs)
{
    (void)self;
    (void)noargs;
    return PyLong_FromLong(POW_LANES);
}

PyDoc_STRVAR(bundle_finalize_doc,
             "bundle_finalize(chunks: bytes, offset: int, limit: int) -> tuple[int, bytes | None]\n\n"
             "The obsolete-tag search of bundle finalisation.  chunks: the 48-byte\n"
             "Kerl chunks of every essence; the one at byte `offset` holds the\n"
             "obsolete tag, which steps by 3**81 (at most `limit` steps) until the\n"
             "normalized bundle hash has no 13.  Returns (steps, Keccak-384\n"
             "digest), or (limit, None) when the limit was reached first.");

static PyObject *py_bundle_finalize(PyObject *self, PyObject *args)
{
    Py_buffer buf;
    Py_ssize_t offset;
    long long limit;
    uint8_t digest[KERL_BYTES];
    (void)self;
    if (!PyArg_ParseTuple(args, "y*nL:bundle_finalize", &buf, &offset, &limit))
        return NULL;
    PyObject *result = NULL;
    if (buf.len <= 0 || buf.len % KERL_BYTES || offset < 0 || offset % KERL_BYTES ||
        offset >= buf.len || limit < 0) {
        PyErr_SetString(PyExc_ValueError,
                         "bundle_finalize: chunks must be whole 48-byte chunks, offset one of "
                         "them, limit >= 0");
        goto done;
    }
    uint8_t *data = (uint8_t *)PyMem_Malloc((size_t)buf.len);
    if (!data) {
        PyErr_NoMemory();
        goto done;
    }
    memcpy(data, buf.buf, (size_t)buf.len);
    const long long steps =
        bundle_finalize_run(data, (size_t)buf.len, (size_t)offset, limit, digest);
    PyMem_Free(data);
    if (steps < 0)
        result = Py_BuildValue("(LO)", limit, Py_None);
    else
        result = Py_BuildValue("(Ly#)", steps, (const char *)digest, (Py_ssize_t)KERL_BYTES);
done:
    PyBuffer_Release(&buf);
    return result;
}

PyDoc_STRVAR(kernel_path_doc,
             "kernel_path() -> str\n\n"
             "Name of the code path the vector kernels (proof of work, hash chains)\n"
             "run on now: 'avx2', 'sse2', 'neon' or 'portable'.  The best one the CPU\n"
             "offers, unless IOTA_PUBLISHER_KERNEL names another available one.");

static PyObject *py_kernel_path(PyObject *self, PyObject *noargs)
{
    (void)self;
    (void)noargs;
    return PyUnicode_FromString(pick_path()->name);
}

PyDoc_STRVAR(kernel_paths_doc,
             "kernel_paths() -> tuple[str, ...]\n\n"
             "The code paths this build holds that this CPU can run, best first.");

static PyObject *py_kernel_paths(PyObject *self, PyObject *noargs)
{
    (void)self;
    (void)noargs;
    PyObject *names[KERNEL_PATH_COUNT];
    int n = 0;
    for (int i = 0; i < KERNEL_PATH_COUNT; i++)
        if (path_available(&KERNEL_PATHS[i]))
            names[n++] = PyUnicode_FromString(KERNEL_PATHS[i].name);
    PyObject *t = PyTuple_New(n);
    for (int i = 0; i < n; i++) {
        if (!names[i] || !t) {
            for (int j = i; j < n; j++)
                Py_XDECREF(names[j]);
            Py_XDECREF(t);
            return NULL;
        }
        PyTuple_SetItem(t, i, names[i]); /* steals; cannot fail on a new tuple */
    }
    return t;
}

static PyMethodDef kernel_methods[] = {
    {"transform", py_transform, METH_VARARGS, transform_doc},
    {"absorb", py_absorb, METH_VARARGS, absorb_doc},
    {"squeeze", py_squeeze, METH_VARARGS, squeeze_doc},
    {"mask", py_mask, METH_VARARGS, mask_doc},
    {"trits_to_trytes", py_trits_to_trytes, METH_VARARGS, trytes_doc},
    {"trytes_to_trits", py_trytes_to_trits, METH_VARARGS, trits_doc},
    {"unmask", py_unmask, METH_VARARGS, unmask_doc},
    {"hash_chains", py_hash_chains, METH_VARARGS, hash_chains_doc},
    {"hamming_search", py_hamming_search, METH_VARARGS, hamming_search_doc},
    {"pow_search", (PyCFunction)(void (*)(void))py_pow_search, METH_VARARGS | METH_KEYWORDS,
     pow_search_doc},
    {"lanes", py_lanes, METH_NOARGS, lanes_doc},
    {"kernel_path", py_kernel_path, METH_NOARGS, kernel_path_doc},
    {"bundle_finalize", py_bundle_finalize, METH_VARARGS, bundle_finalize_doc},
    {"kernel_paths", py_kernel_paths, METH_NOARGS, kernel_paths_doc},
    {NULL, NULL, 0, NULL}};

PyDoc_STRVAR(module_doc,
             "Native Curl-P kernel of iota-publisher: transform/absorb/squeeze,\n"
             "bit-sliced WOTS hash chains, the MAM v0 nonce search and a\n"
             "multi-threaded proof-of-work search (see BACKEND_INFO).");

static struct PyModuleDef kernel_module = {
    PyModuleDef_HEAD_INIT, "iota_publisher._native", module_doc, -1, kernel_methods, NULL, NULL, NULL, NULL};

static void backend_info(char *buf, size_t size)
{
#if defined(__clang__)
    const char *compiler = "clang " __clang_version__;
#elif defined(__GNUC__)
    const char *compiler = "gcc " __VERSION__;
#else
    const char *compiler = "unknown C compiler";
#endif
#if defined(__x86_64__)
    const char *arch = "x86_64";
#elif defined(__aarch64__)
    const char *arch = "aarch64";
#elif defined(__arm__)
    const char *arch = "arm";
#else
    const char *arch = "other-arch";
#endif
#if defined(__AVX512F__)
    const char *isa = "avx512f";
#elif defined(__AVX2__)
    const char *isa = "avx2";
#elif defined(__SSE2__)
    const char *isa = "sse2";
#elif defined(__ARM_NEON) || defined(__aarch64__)
    const char *isa = "neon";
#else
    const char *isa = "generic";
#endif
#if CK_VECTOR
    const char *vec = "256-bit vector_size(32) words (4x64-bit)";
#else
    const char *vec = "portable 4x64-bit words (no vector extensions)";
#endif
    const char *layout = !CK_VECTOR ? "portable words"
                         : CK_WIDE_BASELINE ? "whole 256-bit cells"
                                            : "2 x 128-bit halves per cell";
    const char *dispatch = "none";
#if CK_DISPATCH_AVX2
    dispatch = cpu_has_avx2() ? "avx2 kernels (CPU has AVX2)" : "baseline kernels (no AVX2)";
#elif CK_DISPATCH_NEON
    dispatch = cpu_has_neon() ? "neon kernels (CPU has NEON)" : "baseline kernels (no NEON)";
#endif
    snprintf(buf, size,
             "%s; %s; pow %d lanes / hash_chains up to %d lanes as %s; hamming %d lanes "
             "(64-bit words); baseline %s, %s; runtime dispatch: %s; single-lane Curl: %s",
             compiler, arch, POW_LANES, POW_LANES, vec, HAMMING_LANES, isa, layout, dispatch,
             single_transform_name);
}

PyMODINIT_FUNC PyInit__native(void)
{
    char info[600];
    pick_single_transform();
    PyObject *m = PyModule_Create(&kernel_module);
    if (!m)
        return NULL;
    backend_info(info, sizeof(info));
    if (PyModule_AddIntConstant(m, "POW_LANES", POW_LANES) < 0 ||
        PyModule_AddIntConstant(m, "HAMMING_LANES", HAMMING_LANES) < 0 ||
        PyModule_AddStringConstant(m, "BACKEND_INFO", info) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
#endif /* CURLKERNEL_NO_PYTHON */
