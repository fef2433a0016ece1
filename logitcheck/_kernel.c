/* The one pass over every value of a block of rows: the per-row statistics from which
 * logitcheck derives the stable loss, the naive paths and the evidence (numerics.py).
 *
 * Per row of C values (float64, float32, float16, or bfloat16 given as its uint16 bits):
 *   max and its first index, min and its first index, the smallest nonzero |z|, and
 *   rest = sum over j != argmax of exp(z_j - max), with the rounding error of
 *   z_j - max kept (TwoSum) and the sum compensated, so that log1p(rest) is accurate
 *   to an ulp or two even for confident rows.
 *
 * exp is computed here, vectorised (4 doubles a step with AVX2+FMA, chosen at run time;
 * blocks of short rows take 8 with AVX-512 where the CPU has it, the same bits; on other
 * CPUs and compilers the portable C of _kernel_portable.h, the same bits again),
 * accurate to about 1 ulp: libm's scalar exp costs 10 ns a value on the machines this
 * was measured on, this about 1 ns. Rows whose max is not finite are left to Python
 * (rest = NaN). The GIL is released: chunks run on threads.
 *
 * The arithmetic depends only on each row's values, never on the row's address or the
 * chunking: the lanes of every sum are fixed by the column index.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <string.h>
#include <stdlib.h>

/* The x86 SIMD code needs GCC or Clang (their vector extensions, target attributes and
 * CPU detection); everything else compiles with any C11 compiler, MSVC included. */
#if defined(LC_PLAIN) /* -DLC_PLAIN: plain C11 only, as MSVC compiles it (a test build) */
#define LC_X86 0
#elif defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define LC_X86 1
#else
#define LC_X86 0
#endif
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF /* a fused a*b+c changes the bits (GCC: setup.py's flag) */
#endif

typedef struct {
    double m, mn, rest, min_abs; /* min_abs: smallest nonzero |z| (inf: none) */
    int64_t top, amin;
    int nan;
} RowOut;

static inline double as_double(uint64_t u) { double d; memcpy(&d, &u, 8); return d; }
static inline uint64_t as_bits(double d) { uint64_t u; memcpy(&u, &d, 8); return u; }

/* Reading one value as a double, per storage kind. */
#define KIND_F64 0
#define KIND_F32 1
#define KIND_F16 2
#define KIND_BF16 3

/* the bytes of one value of a kind */
static inline Py_ssize_t kind_size(int kind) { return kind == KIND_F64 ? 8 : kind == KIND_F32 ? 4 : 2; }

static inline double load_f64(const void *p, Py_ssize_t j) { return ((const double *)p)[j]; }
static inline double load_f32(const void *p, Py_ssize_t j) { return ((const float *)p)[j]; }
static inline float half_to_float(uint16_t h);
static inline float bf16_to_float(uint16_t h);
static inline double load_f16(const void *p, Py_ssize_t j) { return half_to_float(((const uint16_t *)p)[j]); }
static inline double load_bf16(const void *p, Py_ssize_t j) { return bf16_to_float(((const uint16_t *)p)[j]); }


/* float16 and bfloat16 from their bits, and float64 rounded to them (numpy's casts:
 * round to nearest even), in plain C: no _Float16 */
static inline float half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, mant = h & 0x3ffu, bits;
    if (e == 0x1f) bits = sign | 0x7f800000u | (mant << 13);
    else if (e) bits = sign | ((e + 112) << 23) | (mant << 13);
    else { /* zero or subnormal: mant * 2^-24, exact */
        float f = (float)mant * 0x1p-24f;
        memcpy(&bits, &f, 4);
        bits |= sign;
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

static inline float bf16_to_float(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* x rounded to the nearest float16 (ties to even), as a double: x / q rounded to an
 * integer, q the float16 spacing at x (exact scalings by powers of 2) */
static inline double half_round(double x) {
    if (!(fabs(x) < 65520.0)) return x != x ? x : copysign(INFINITY, x);
    const int e = (int)((as_bits(x) >> 52) & 0x7ff) - 1023;
    const int qe = (e < -14 ? -14 : e) - 10;
    const double q = as_double((uint64_t)(qe + 1023) << 52);
    const double y = x * as_double((uint64_t)(1023 - qe) << 52);
    const double r = (y + 0x1.8p52) - 0x1.8p52;
    return copysign(r * q, x);
}

/* x rounded to bfloat16 via float32, as dtypes.cast (round to nearest even) */
static inline double bf16_round(double x) {
    float f = (float)x;
    if (f != f) return f;
    uint32_t u;
    memcpy(&u, &f, 4);
    u = (u + 0x7fffu + ((u >> 16) & 1u)) & 0xffff0000u;
    memcpy(&f, &u, 4);
    return f;
}

static inline double load_any(const void *p, int kind, Py_ssize_t j) {
    switch (kind) {
    case KIND_F64: return load_f64(p, j);
    case KIND_F32: return load_f32(p, j);
    case KIND_F16: return load_f16(p, j);
    default: return load_bf16(p, j);
    }
}


/* exp(r) on |r| <= ln2/2: degree 11, fitted on Chebyshev nodes (mpmath.chebyfit), error
 * 3e-18; highest degree first. (The AVX2, AVX-512 and portable code share it: the
 * same bits.) */
static const double EXP_POLY[12] = {
    2.511003760596377770812334e-8, 2.763263963904102974422942e-7, 2.755724091857896982302399e-6,
    2.480148548232849241896507e-5, 1.984126989004711370668263e-4, 1.388888895231477465241583e-3,
    8.333333333319600610909625e-3, 4.16666666664880954954391e-2, 0.1666666666666668080566418,
    0.5000000000000018385526257, 1.0, 1.0};
/* k = round(x / ln 2) and x - k ln 2, ln 2 in two parts */
#define EXP_LOG2E 0x1.71547652b82fep0
#define EXP_LN2_HI 0x1.62e42fefa3800p-1
#define EXP_LN2_LO 0x1.ef35793c7673p-45

/* ---- log and log1p, 4 doubles a step: fdlibm's (musl's) algorithm, under 1 ulp -------- */

static const double LG1 = 6.666666666666735130e-01, LG2 = 3.999999999940941908e-01,
                    LG3 = 2.857142874366239149e-01, LG4 = 2.222219843214978396e-01,
                    LG5 = 1.818357216161805012e-01, LG6 = 1.531383769920937332e-01,
                    LG7 = 1.479819860511658591e-01, LN2_HI = 6.93147180369123816490e-01,
                    LN2_LO = 1.90821492927058770002e-10;


/* exact_sum(values): the exact sum of finite float64 values times 2**1126, as a Python
 * int (mergeable.ExactSum); None if a value is not finite. Every finite double is
 * mant * 2**(e - 1126) with 53-bit mant and e in [52, 2097]: the terms are binned by
 * exponent (Bins, as softmax_rows' sums), then carried into a fixed-point accumulator of
 * 32-bit digits held in int64 (Acc). */
#define DIGITS 70
static void settle(int64_t *d) {
    for (int i = 0; i < DIGITS - 1; i++) {
        int64_t carry = d[i] >> 32; /* arithmetic: floor division by 2**32 */
        d[i] -= carry << 32;
        d[i + 1] += carry;
    }
}

typedef struct { int64_t d[DIGITS]; } Acc;

/* Exact sums binned by exponent: bin[e] holds the signed significands of the terms with
 * exponent field e (whose weight is 2**(max(e, 1) - 1075)), in 128 bits (2**74 terms) as
 * two 64-bit halves (no __int128: MSVC), so that a term costs one add to one bin;
 * bins_fold carries them into an Acc at the end. */
typedef struct { uint64_t lo; int64_t hi; } Bin;
typedef struct { Bin bin[2048]; } Bins;

static inline void bin_add(Bins *a, int e, int64_t mant) {
    const uint64_t old = a->bin[e].lo;
    a->bin[e].lo = old + (uint64_t)mant;
    a->bin[e].hi += (mant < 0 ? -1 : 0) + (a->bin[e].lo < old);
}

static inline void bins_add(Bins *a, double x) { /* x finite */
    uint64_t b = as_bits(x);
    int e = (int)((b >> 52) & 0x7ff);
    int64_t mant = (int64_t)((b & ((1ULL << 52) - 1)) | ((uint64_t)(e != 0) << 52));
    int64_t neg = -(int64_t)(b >> 63);
    bin_add(a, e, (mant ^ neg) - neg);
}

static void bins_fold(const Bins *a, Acc *acc) {
    for (int e = 0; e < 2048; e++) {
        uint64_t lo = a->bin[e].lo, hi = (uint64_t)a->bin[e].hi;
        if (!lo && !hi) continue;
        int pos = (e ? e : 1) + 51; /* the bit of 2**(e - 1075) in the 2**1126-scaled sum */
        int64_t neg = a->bin[e].hi < 0 ? -1 : 0;
        if (neg) { lo = ~lo + 1; hi = ~hi + (lo == 0); } /* the magnitude */
        const int s = pos & 31; /* mag << s < 2**124 */
        const uint64_t l2 = lo << s, h2 = (hi << s) | (s ? lo >> (64 - s) : 0);
        const uint32_t digits[4] = {(uint32_t)l2, (uint32_t)(l2 >> 32), (uint32_t)h2, (uint32_t)(h2 >> 32)};
        int k = pos >> 5;
        for (int i = 0; i < 4; i++) {
            int64_t digit = (int64_t)digits[i];
            acc->d[k + i] += (digit ^ neg) - neg;
        }
    }
}

static PyObject *acc_long(Acc *a) {
    settle(a->d);
    PyObject *total = PyLong_FromLongLong(0), *shift = PyLong_FromLong(32);
    for (int i = DIGITS - 1; i >= 0 && total; i--) {
        PyObject *t = PyNumber_Lshift(total, shift);
        Py_DECREF(total);
        if (!t) { total = NULL; break; }
        PyObject *digit = PyLong_FromLongLong(a->d[i]);
        total = PyNumber_Add(t, digit);
        Py_DECREF(t);
        Py_DECREF(digit);
    }
    Py_DECREF(shift);
    return total;
}

/* ---- the per-row stage of a softmax block: losses, naive paths, evidence, aggregates --

 * softmax_rows(z, kind, c, target, m, top, mn, amin, rest, params, loss_edges, logit_edges,
 *              loss, flags, F, I, loss_hist, max_hist, range_hist, label_counts)
 *
 * From a block's row statistics (row_stats) and each row's target (None: the least
 * likely class), for rows whose max and min are finite (else it returns None and
 * numerics.py takes the numpy path for the block):
 *   loss = (max - z_y) + log1p(rest), lse = max + log1p(rest), as losses.softmax_loss;
 *   per naive dtype, what losses.naive_softmax_derived derives (rows near a threshold
 *   are only flagged NEAR: numerics.py simulates them);
 *   flags per row (bits below), counts per bit, extremes and their first rows, the
 *   histograms, label counts, the KEEP worst rows, and three exact sums (returned).
 * params: [saturation eps, number of dtypes, the loss edges' and the logit edges' guess
 * (scale, offset: bin_guess), then per dtype: kind, log(max), exp's zero threshold,
 * log(tiny), tiny, margin]. */
#define F_LOSS_NONFINITE 0
#define F_SATURATED 1
#define F_CONSTANT 2
#define F_ZERO_LABEL 3
#define F_CORRECT 4
#define F_DTYPE 8 /* + 6 * dtype index: */
#define F_NEAR 0
#define F_FAIL_A 1
#define F_FAIL_B 2
#define F_OVERFLOW 3
#define F_SUBNORMAL 4
#define MAX_DTYPES 4
#define KEEP 10
/* slots of F (float64) and I (int64) */
#define S_WORST 0
#define S_RANGE 1
#define S_LSE 2
#define S_GAP 8 /* + 2 * dtype + path; I holds each one's row */
#define I_NLOSS 4
#define I_NPROB 5
#define I_NLOGPROB 6
#define I_NTOP 7
#define I_COUNTS 16 /* + bit */
#define I_TOP 48    /* + k: the worst rows, worst first */
#define MAX_EDGES 256

typedef struct {
    int kind;
    double log_max, zero_at, log_tiny, tiny, margin, m_tol, m_cut, zy_cut;
    double gap_bound; /* 4 (u + 2^-52), u the kind's unit roundoff: see rows4 */
} Dtype;

typedef struct {
    Py_ssize_t n, c;
    int kind, ndt, labelled;
    const char *z;
    const int64_t *target;
    /* the row statistics of rows [s0, s0 + their length): all n rows, or in the fused mode
     * one block's (fused_rows) */
    const double *m, *mn, *rest;
    const int64_t *top, *amin;
    Py_ssize_t s0;
    double sat_eps, loss_scale, loss_offset, logit_scale, logit_offset;
    Dtype dt[MAX_DTYPES];
    const double *loss_edges, *logit_edges;
    Py_ssize_t nle, nge;
    double *loss;
    uint32_t *flags;
    double *F;
    int64_t *I, *loss_hist, *max_hist, *range_hist, *label_counts;
    /* the edges padded for bins4: -inf, edges[0..ne), +inf, +inf */
    double loss_pad[MAX_EDGES + 3], logit_pad[MAX_EDGES + 3];
    Bins sums[3];
} Rows;

static inline double value_at(const Rows *R, Py_ssize_t i, int64_t j) {
    const char *row = R->z + (i * R->c + j) * kind_size(R->kind);
    switch (R->kind) {
    case KIND_F64: return load_f64(row, 0);
    case KIND_F32: return load_f32(row, 0);
    case KIND_F16: return load_f16(row, 0);
    default: return load_bf16(row, 0);
    }
}

static inline void keep_largest(double *F, int64_t *I, int slot, double v, Py_ssize_t i) {
    if (I[slot] < 0 || v > F[slot]) { F[slot] = v; I[slot] = i; }
}

/* the KEEP largest losses, worst first, ties to the lower row */
static inline void keep_top(Rows *R, double v, Py_ssize_t i) {
    int64_t *n = &R->I[I_NTOP], *rows = R->I + I_TOP;
    if (*n == KEEP && !(v > R->loss[rows[KEEP - 1]])) return;
    int at = *n < KEEP ? (int)(*n)++ : KEEP - 1;
    while (at > 0 && v > R->loss[rows[at - 1]]) { rows[at] = rows[at - 1]; at--; }
    rows[at] = i;
}


/* each flag's count over rows [start, stop), a pass per bit that some row has (few are):
 * loops that vectorise, where counting each row's bits in rows4 cost a mispredicted
 * branch on most rows */
static void count_flags(Rows *R, Py_ssize_t start, Py_ssize_t stop) {
    const uint32_t *f = R->flags;
    uint32_t any = 0;
    for (Py_ssize_t i = start; i < stop; i++) any |= f[i];
    for (; any; any &= any - 1) {
        int bit = 0;
        while (!(any >> bit & 1)) bit++;
        int64_t n = 0;
        for (Py_ssize_t i = start; i < stop; i++) n += f[i] >> bit & 1;
        R->I[I_COUNTS + bit] += n;
    }
}

#define SMALL_C 16 /* rows of at most this many floats: several rows at once (rows8_small) */

/* GCC's and Clang's generic vectors (any target: NEON, SSE, AVX) for the portable code's
 * lane loops that compilers leave scalar; plain loops elsewhere (MSVC). The same
 * arithmetic lane by lane either way. VSELECT(T, mask, a, b): a where mask, else b. */
#if (defined(__GNUC__) || defined(__clang__)) && !defined(LC_PLAIN)
#define LC_VEC 1
/* (unaligned, and may alias their elements: loads straight from float / double arrays; a
 * memcpy into a vector was two 16-byte copies and a stalled 32-byte load) */
typedef float v8f __attribute__((vector_size(32), aligned(4), may_alias));
typedef uint32_t v8u __attribute__((vector_size(32), aligned(4), may_alias));
typedef int32_t v8i __attribute__((vector_size(32), aligned(4), may_alias));
typedef double v4d __attribute__((vector_size(32), aligned(8), may_alias));
typedef int64_t v4di __attribute__((vector_size(32), aligned(8), may_alias));
#define VSELECT(T, mask, a, b) ((T)(((v8i)(mask) & (v8i)(a)) | (~(v8i)(mask) & (v8i)(b))))
#else
#define LC_VEC 0
#endif

/* the portable per-row stage's values of a block of rows (_kernel_portable.h's all_rows) */
#define STAGE_ROWS 64
typedef struct {
    int64_t t[STAGE_ROWS];
    double y[STAGE_ROWS], nlp[STAGE_ROWS], loss[STAGE_ROWS], lse[STAGE_ROWS], span[STAGE_ROWS];
    Py_ssize_t loss_bin[STAGE_ROWS], max_bin[STAGE_ROWS], range_bin[STAGE_ROWS];
} StageBlock;

/* a hint to fetch the cache line at p (GCC, Clang: PRFM on ARM); nothing elsewhere */
#if defined(__GNUC__) || defined(__clang__)
#define LC_PREFETCH(p) __builtin_prefetch((p), 0, 1)
#else
#define LC_PREFETCH(p) ((void)0)
#endif

/* The portable kernel, for any CPU */
#define PT(name) name##_p
#define PATTR
#include "_kernel_portable.h"
#undef PT
#undef PATTR

#if LC_X86
/* The same portable C compiled for AVX2+FMA: LOGITCHECK_SIMD=portable on x86 (what a
 * compiler makes of it with NEON/SVE on ARM). */
#define PT(name) name##_v
#define PATTR __attribute__((target("avx2,fma")))
#include "_kernel_portable.h"
#undef PT
#undef PATTR


/* The AVX2 + FMA pass: 8 lanes (two vectors of 4) per row, lane = column index mod 8;
 * the last columns are read with a mask, so every column goes through the same arithmetic. */
#include <immintrin.h>

#define AVX __attribute__((target("avx2,fma,f16c")))
#define AVX512 __attribute__((target("avx512f,avx512vl,avx512dq,avx512bw,avx2,fma,f16c")))
static int simd512; /* set once, at import (PyInit__kernel) */
AVX512 static double pass2_512(const void *row, Py_ssize_t c, int kind, double m,
                               Py_ssize_t top, int exact, int narrow);

AVX static inline __m256d lane_mask(int count) {
    const __m256i idx = _mm256_setr_epi64x(0, 1, 2, 3);
    return _mm256_castsi256_pd(_mm256_cmpgt_epi64(_mm256_set1_epi64x(count), idx));
}


AVX static inline __m256d poly11(__m256d r) {
    __m256d p = _mm256_set1_pd(EXP_POLY[0]);
    for (int k = 1; k < 12; k++) p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(EXP_POLY[k]));
    return p;
}

/* exp(x) = 2^k p: k = round(x / ln 2) (into *ki), p = poly11(x - k ln 2), ln 2 in two parts */
AVX static inline __m256d exp_reduced(__m256d x, __m256i *ki) {
    const __m256d shift = _mm256_set1_pd(0x1.8p52);
    __m256d kd = _mm256_fmadd_pd(x, _mm256_set1_pd(EXP_LOG2E), shift);
    __m256d k = _mm256_sub_pd(kd, shift);
    *ki = _mm256_sub_epi64(_mm256_castpd_si256(kd), _mm256_castpd_si256(shift));
    __m256d r = _mm256_fnmadd_pd(k, _mm256_set1_pd(EXP_LN2_HI), x);
    r = _mm256_fnmadd_pd(k, _mm256_set1_pd(EXP_LN2_LO), r);
    return poly11(r);
}

AVX static inline __m256d exp4(__m256d x) {
    __m256i ki;
    __m256d p = exp_reduced(_mm256_max_pd(x, _mm256_set1_pd(-746.0)), &ki);
    /* 2^k in two normal factors (k in [-1076, 0]): k1 = -((-k) >> 1), k2 = k - k1 */
    __m256i k1 = _mm256_sub_epi64(_mm256_setzero_si256(),
                          _mm256_srli_epi64(_mm256_sub_epi64(_mm256_setzero_si256(), ki), 1));
    __m256i k2 = _mm256_sub_epi64(ki, k1);
    const __m256i bias = _mm256_set1_epi64x(1023);
    __m256d s1 = _mm256_castsi256_pd(_mm256_slli_epi64(_mm256_add_epi64(k1, bias), 52));
    __m256d s2 = _mm256_castsi256_pd(_mm256_slli_epi64(_mm256_add_epi64(k2, bias), 52));
    return _mm256_mul_pd(_mm256_mul_pd(p, s1), s2);
}

/* exp4 for x in [-708, 0]: the result is normal, so 2^k is one factor and no clamp. */
AVX static inline __m256d exp4_narrow(__m256d x) {
    __m256i ki;
    __m256d p = exp_reduced(x, &ki);
    /* p * 2^k by adding k to p's exponent field: the same bits as the product (exact, the
     * result is normal), with one multiply fewer on the FMA pipes */
    return _mm256_castsi256_pd(_mm256_add_epi64(_mm256_castpd_si256(p), _mm256_slli_epi64(ki, 52)));
}

/* Eight values as floats (float32, float16, bfloat16 storage); count < 8 reads only the
 * first `count`, the others are 0. */
AVX static inline __m256 load8(const void *row, Py_ssize_t j, int kind, int count) {
    if (count >= 8) {
        if (kind == KIND_F32) return _mm256_loadu_ps((const float *)row + j);
        __m128i h = _mm_loadu_si128((const __m128i *)((const uint16_t *)row + j));
        if (kind == KIND_F16) return _mm256_cvtph_ps(h);
        return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
    }
    uint16_t h[8] = {0};
    float f[8] = {0};
    if (kind == KIND_F32) {
        memcpy(f, (const float *)row + j, count * 4);
        return _mm256_loadu_ps(f);
    }
    memcpy(h, (const uint16_t *)row + j, count * 2);
    __m128i v = _mm_loadu_si128((const __m128i *)h);
    if (kind == KIND_F16) return _mm256_cvtph_ps(v);
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(v), 16));
}

AVX static inline __m256 mask8(int count) {
    const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_set1_epi32(count), idx));
}


/* The first column holding `v` (which the row holds), eight columns a compare, in the
 * row's own dtype. */
AVX static Py_ssize_t first_equal(const void *row, Py_ssize_t c, int kind, double v) {
    Py_ssize_t j = 0;
    if (kind == KIND_F64) {
        const double *p = row;
        const __m256d t = _mm256_set1_pd(v);
        for (; j + 4 <= c; j += 4) {
            int hit = _mm256_movemask_pd(_mm256_cmp_pd(_mm256_loadu_pd(p + j), t, _CMP_EQ_OQ));
            if (hit) return j + __builtin_ctz(hit);
        }
        while (j < c - 1 && p[j] != v) j++;
        return j;
    }
    const __m256 t = _mm256_set1_ps((float)v); /* v is a value of the row: exact */
    for (; j + 8 <= c; j += 8) {
        int hit = _mm256_movemask_ps(_mm256_cmp_ps(load8(row, j, kind, 8), t, _CMP_EQ_OQ));
        if (hit) return j + __builtin_ctz(hit);
    }
    if (j < c) {
        int hit = _mm256_movemask_ps(_mm256_cmp_ps(load8(row, j, kind, (int)(c - j)), t,
                                                   _CMP_EQ_OQ)) & ((1 << (c - j)) - 1);
        if (hit) return j + __builtin_ctz(hit);
    }
    return c - 1; /* not reached: the row holds v */
}

/* Pass 2's terms for eight columns (a: j..j+3, b: j+4..j+7): t = exp(z - max) (times
 * 1 + the rounding error of z - max, unless that is known to be exact), a's and b's added
 * into T. EXP is exp4, or exp4_narrow when the row's range is below 708. */
#define PASS2_TERMS(T, a, b, j0, MASKED, ka, kb, EXACT, EXP)                             \
    do {                                                                           \
        __m256d da_ = _mm256_sub_pd(a, mv), db_ = _mm256_sub_pd(b, mv);            \
        __m256d ta_ = EXP(da_), tb_ = EXP(db_);                                    \
        if (!(EXACT)) {                                                            \
            __m256d ba_ = _mm256_sub_pd(da_, a), bb_ = _mm256_sub_pd(db_, b);       \
            __m256d ea_ = _mm256_sub_pd(_mm256_sub_pd(a, _mm256_sub_pd(da_, ba_)),  \
                                        _mm256_add_pd(mv, ba_));                   \
            __m256d eb_ = _mm256_sub_pd(_mm256_sub_pd(b, _mm256_sub_pd(db_, bb_)),  \
                                        _mm256_add_pd(mv, bb_));                   \
            ea_ = _mm256_and_pd(ea_, _mm256_cmp_pd(da_, floor, _CMP_GT_OQ));       \
            eb_ = _mm256_and_pd(eb_, _mm256_cmp_pd(db_, floor, _CMP_GT_OQ));       \
            ta_ = _mm256_fmadd_pd(ta_, ea_, ta_);                                  \
            tb_ = _mm256_fmadd_pd(tb_, eb_, tb_);                                  \
        }                                                                          \
        if ((j0) == top8) { /* the argmax column is not a term */                  \
            ta_ = _mm256_andnot_pd(drop_a, ta_);                                   \
            tb_ = _mm256_andnot_pd(drop_b, tb_);                                   \
        }                                                                          \
        if (MASKED) {                                                              \
            ta_ = _mm256_and_pd(ta_, ka);                                          \
            tb_ = _mm256_and_pd(tb_, kb);                                          \
        }                                                                          \
        T = _mm256_add_pd(ta_, tb_);                                               \
    } while (0)

/* T added into (rs, rc) with TwoSum */
#define TWO_SUM(T)                                                                 \
    do {                                                                           \
        __m256d u_ = _mm256_add_pd(rs, T);                                         \
        __m256d w_ = _mm256_sub_pd(u_, rs);                                        \
        rc = _mm256_add_pd(rc, _mm256_add_pd(_mm256_sub_pd(rs, _mm256_sub_pd(u_, w_)), \
                                             _mm256_sub_pd(T, w_)));               \
        rs = u_;                                                                   \
    } while (0)

/* Pass 2 over the whole row with one choice of EXACT and EXP (so that the loop has no
 * branch but the argmax block's). Sixteen columns a step: the two groups' exps are
 * independent, and written side by side they overlap (about 7 % faster); the sums run in
 * column order as with eight a step. */
#define PASS2_ROW(EXACT, EXP)                                                      \
    do {                                                                           \
        Py_ssize_t j = 0;                                                          \
        for (; j + 16 <= c; j += 16) {                                             \
            __m256d a, b, a2, b2, t1, t2;                                          \
            /* the next row, into L2 while this row's exps run (pass 1 is memory-bound \
             * otherwise); a prefetch never faults, past the block's end too */    \
            _mm_prefetch(next + j * size, _MM_HINT_T1);                            \
            _mm_prefetch(next + (j + 8) * size, _MM_HINT_T1);                      \
            LOAD2(j, 8);                                                           \
            a2 = a; b2 = b;                                                        \
            LOAD2(j + 8, 8);                                                       \
            PASS2_TERMS(t1, a2, b2, j, 0, all, all, EXACT, EXP);                   \
            PASS2_TERMS(t2, a, b, j + 8, 0, all, all, EXACT, EXP);                 \
            TWO_SUM(t1);                                                           \
            TWO_SUM(t2);                                                           \
        }                                                                          \
        for (; j + 8 <= c; j += 8) {                                               \
            __m256d a, b, t;                                                       \
            _mm_prefetch(next + j * size, _MM_HINT_T1);                            \
            LOAD2(j, 8);                                                           \
            PASS2_TERMS(t, a, b, j, 0, all, all, EXACT, EXP);                      \
            TWO_SUM(t);                                                            \
        }                                                                          \
        if (j < c) {                                                               \
            int na = c - j < 4 ? (int)(c - j) : 4, nb = (int)(c - j) - na;         \
            __m256d a, b, t;                                                       \
            LOAD2(j, (int)(c - j));                                                \
            __m256d ka = lane_mask(na), kb = lane_mask(nb);                        \
            PASS2_TERMS(t, a, b, j, 1, ka, kb, EXACT, EXP);                        \
            TWO_SUM(t);                                                            \
        }                                                                          \
    } while (0)

/* the four lanes' TwoSum sums (rs) and their errors (rc) added into one, in lane order */
AVX static inline double lanes_rest(__m256d rs, __m256d rc) {
    double r[4], e[4], rest = 0, comp = 0;
    _mm256_storeu_pd(r, rs); _mm256_storeu_pd(e, rc);
    for (int l = 0; l < 4; l++) {
        double v = rest + r[l], bb = v - rest;
        comp += ((rest - (v - bb)) + (r[l] - bb)) + e[l];
        rest = v;
    }
    return rest + comp;
}

/* The row after pass 1: argmax/argmin, then pass 2. LOAD2 fills a, b (float64) for
 * columns j..j+7. */
#define FINISH_ROW(EXACT_EXPR, WIDE512)                                                    \
    do {                                                                                   \
        out->nan = anynan;                                                                 \
        if (anynan) { /* as numpy's argmax and argmin: the first NaN */                    \
            Py_ssize_t k = 0;                                                              \
            while (k < c && load(row, k) == load(row, k)) k++;                             \
            out->top = out->amin = k;                                                      \
            out->m = out->mn = out->rest = NAN;                                            \
            return;                                                                        \
        }                                                                                  \
        Py_ssize_t top = first_equal(row, c, kind, m);                                     \
        out->m = m; out->mn = mnv; out->top = top;                                         \
        /* the argmin only where asked for (the least likely class stands in for absent \
         * labels): a third read of the row */                                            \
        out->amin = want_amin ? first_equal(row, c, kind, mnv) : -1;                        \
        if (!isfinite(m)) { out->rest = NAN; return; }                                     \
        const __m256d mv = _mm256_set1_pd(m);                                              \
        const __m256d floor = _mm256_set1_pd(-746.0);                                      \
        const __m256d all = _mm256_castsi256_pd(_mm256_set1_epi64x(-1));                   \
        __m256d rs = _mm256_setzero_pd(), rc = rs;                                         \
        const char *next = (const char *)row + c * size;                                   \
        const Py_ssize_t top8 = top - top % 8;                                             \
        const int tl = (int)(top % 8);                                                     \
        const __m256d drop_a = _mm256_andnot_pd(lane_mask(tl), lane_mask(tl + 1));         \
        const __m256d drop_b = _mm256_andnot_pd(lane_mask(tl - 4), lane_mask(tl - 3));     \
        const int narrow = m - mnv < 708.0; /* every exp(z - max) is normal or 1 */       \
        if (WIDE512) { /* AVX-512: the same terms, a group of 8 columns a vector */          \
            out->rest = pass2_512(row, c, kind, m, top, EXACT_EXPR, narrow);               \
            return;                                                                        \
        }                                                                                  \
        if (EXACT_EXPR) {                                                                  \
            if (narrow) PASS2_ROW(1, exp4_narrow); else PASS2_ROW(1, exp4);                \
        } else {                                                                           \
            if (narrow) PASS2_ROW(0, exp4_narrow); else PASS2_ROW(0, exp4);                \
        }                                                                                  \
        out->rest = lanes_rest(rs, rc);                                                    \
    } while (0)

/* The largest / smallest lane (NaN lanes aside: rows with a NaN have their own flag). */
AVX static inline double lanes_max_pd(__m256d v) {
    double l[4], m;
    _mm256_storeu_pd(l, v);
    m = l[0];
    for (int i = 1; i < 4; i++) m = l[i] > m ? l[i] : m;
    return m;
}

AVX static inline double lanes_min_pd(__m256d v) {
    double l[4], m;
    _mm256_storeu_pd(l, v);
    m = l[0];
    for (int i = 1; i < 4; i++) m = l[i] < m ? l[i] : m;
    return m;
}

AVX static inline double lanes_min_ps(__m256 v) {
    return lanes_min_pd(_mm256_min_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(v)),
                                      _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1))));
}

AVX static inline double lanes_max_ps(__m256 v) {
    return lanes_max_pd(_mm256_max_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(v)),
                                      _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1))));
}

/* the smallest nonzero |z| from the lanes of PASS1's unsigned min of |z| - 1 (inf: none) */
AVX static inline double tiny_of(__m256i t) {
    uint32_t l[8], m = 0xffffffffu;
    _mm256_storeu_si256((__m256i *)l, t);
    for (int i = 0; i < 8; i++) m = l[i] < m ? l[i] : m;
    if (m == 0xffffffffu) return INFINITY;
    m += 1;
    float f;
    memcpy(&f, &m, 4);
    return f;
}

/* float32 / float16 / bfloat16 rows: pass 1 on 8 floats at a time. */
AVX static void row_float(const void *row, Py_ssize_t c, int kind, int want_amin, RowOut *out) {
    const __m256 ninf = _mm256_set1_ps(-INFINITY), pinf = _mm256_set1_ps(INFINITY);
    const __m256 sign = _mm256_set1_ps(-0.0f);
    const __m256i one = _mm256_set1_epi32(1);
    __m256 mx = ninf, mn = pinf;
    /* |z| as unsigned bits, which order as the values do, NaN above inf: their max is the
     * largest |z| and says whether there is a NaN; |z| - 1: 0 becomes the largest, so an
     * unsigned min skips zeros */
    __m256i big = _mm256_setzero_si256(), tiny = _mm256_set1_epi32(-1);
    const int size = kind == KIND_F32 ? 4 : 2;
#define PASS1(v)                                                                   \
    do {                                                                           \
        mx = _mm256_max_ps(mx, v);                                                 \
        mn = _mm256_min_ps(mn, v);                                                 \
        __m256i a_ = _mm256_castps_si256(_mm256_andnot_ps(sign, v));               \
        big = _mm256_max_epu32(big, a_);                                           \
        tiny = _mm256_min_epu32(tiny, _mm256_sub_epi32(a_, one));                  \
    } while (0)
    Py_ssize_t j = 0;
    for (; j + 8 <= c; j += 8) {
        __m256 v = load8(row, j, kind, 8); /* pass 2 of the row before prefetched it */
        PASS1(v);
    }
    if (j < c) { /* the last columns, the lanes past the row filled with its column j */
        __m256 v = load8(row, j, kind, (int)(c - j));
        __m256 first = _mm256_permutevar8x32_ps(v, _mm256_setzero_si256());
        v = _mm256_blendv_ps(first, v, mask8((int)(c - j)));
        PASS1(v);
    }
#undef PASS1
    uint32_t bl[8], bits = 0;
    _mm256_storeu_si256((__m256i *)bl, big);
    for (int i = 0; i < 8; i++) bits = bl[i] > bits ? bl[i] : bits;
    int anynan = bits > 0x7f800000u;
    double m = lanes_max_ps(mx), mnv = lanes_min_ps(mn);
    double lo = tiny_of(tiny), hi;
    float hf;
    memcpy(&hf, &bits, 4);
    hi = hf;
    out->min_abs = lo;
    double (*load)(const void *, Py_ssize_t) =
        kind == KIND_F32 ? load_f32 : kind == KIND_F16 ? load_f16 : load_bf16;
    /* z - max is exact in float64 when the exponents of the row's nonzero values are
     * within 53 - p bits of each other (p: the storage's significand bits); float16's whole
     * range is 40 bits wide */
    const double span = kind == KIND_F32 ? 0x1p28 : 0x1p44;
#define LOAD2(jj, cnt)                                                         \
    do {                                                                        \
        __m256 f_ = load8(row, jj, kind, cnt);                                  \
        a = _mm256_cvtps_pd(_mm256_castps256_ps128(f_));                        \
        b = _mm256_cvtps_pd(_mm256_extractf128_ps(f_, 1));                      \
    } while (0)
    FINISH_ROW(kind == KIND_F16 || !(hi > lo * span), simd512);
#undef LOAD2
}

/* float64 rows: pass 1 on 4 doubles at a time, two vectors a step. */
AVX static void row_f64(const void *row, Py_ssize_t c, int kind, int want_amin, RowOut *out) {
    const __m256d ninf = _mm256_set1_pd(-INFINITY), pinf = _mm256_set1_pd(INFINITY);
    const __m256d sign = _mm256_set1_pd(-0.0), zero = _mm256_setzero_pd();
    __m256d mx = ninf, mn = pinf, nan = _mm256_setzero_pd(), tiny = pinf;
    const int size = 8;
    for (Py_ssize_t j = 0; j < c; j += 4) {
        int count = c - j < 4 ? (int)(c - j) : 4;
        __m256d v = count < 4 ? _mm256_maskload_pd((const double *)row + j,
                                                   _mm256_castpd_si256(lane_mask(count)))
                              : _mm256_loadu_pd((const double *)row + j);
        __m256d keep = lane_mask(count);
        mx = _mm256_max_pd(mx, _mm256_blendv_pd(ninf, v, keep));
        mn = _mm256_min_pd(mn, _mm256_blendv_pd(pinf, v, keep));
        nan = _mm256_or_pd(nan, _mm256_cmp_pd(v, v, _CMP_UNORD_Q));
        __m256d a = _mm256_andnot_pd(sign, v);
        a = _mm256_blendv_pd(a, pinf, _mm256_cmp_pd(a, zero, _CMP_EQ_OQ));
        tiny = _mm256_min_pd(tiny, _mm256_blendv_pd(pinf, a, keep));
    }
    int anynan = _mm256_movemask_pd(nan) != 0;
    double m = lanes_max_pd(mx), mnv = lanes_min_pd(mn);
    out->min_abs = lanes_min_pd(tiny);
    double (*load)(const void *, Py_ssize_t) = load_f64;
#define LOAD2(jj, cnt)                                                                \
    do {                                                                               \
        int n_ = (cnt), na_ = n_ < 4 ? n_ : 4, nb_ = n_ - na_;                          \
        const double *p_ = (const double *)row + (jj);                                 \
        a = na_ == 4 ? _mm256_loadu_pd(p_)                                             \
            : _mm256_maskload_pd(p_, _mm256_castpd_si256(lane_mask(na_)));             \
        b = nb_ >= 4 ? _mm256_loadu_pd(p_ + 4)                                         \
            : _mm256_maskload_pd(p_ + 4, _mm256_castpd_si256(lane_mask(nb_)));         \
    } while (0)
    FINISH_ROW(0, 0);
#undef LOAD2
}

/* Blocks of few columns (float32, float16, bfloat16; c <= SMALL_C): eight rows at once,
 * one row per lane, column by column, since a row is too short to fill the vectors. A row's
 * arithmetic is its own (the lanes never mix), and depends only on c, so every row of a
 * block with c columns is computed the same way whatever the chunking; each row's exp sum
 * runs over its columns in order (row_float sums eight lanes, then the lanes). Rows with a
 * NaN or an infinite max go to row_float, whose answer for them (NaN or inf, the first
 * index, no sum) is the same either way. */

/* Eight values (k = 0..7 of a row's 8 * half .. 8 * half + 7) as floats; columns at or past
 * c are whatever follows (unused). 16-bit kinds read whole 32-bit words: at most one half
 * past the row, inside the block (the caller pads its end). */
AVX static inline __m256 row8(const char *row, Py_ssize_t c, int kind, int half) {
    const Py_ssize_t j = 8 * half, left = c - j < 8 ? c - j : 8; /* >= 1 */
    const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    if (kind == KIND_F32) {
        const __m256i keep = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)left), idx);
        return _mm256_maskload_ps((const float *)row + j, keep);
    }
    const __m128i words = _mm_cmpgt_epi32(_mm_set1_epi32((int)(left + 1) / 2),
                                          _mm_setr_epi32(0, 1, 2, 3));
    __m128i h = _mm_maskload_epi32((const int *)((const uint16_t *)row + j), words);
    if (kind == KIND_F16) return _mm256_cvtph_ps(h);
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

/* Eight rows of c <= 16 values turned into columns: v[j] holds column j, lane l row l.
 * Row loads and 8 x 8 transposes: a gather a column cost about as much as the rest of
 * the row statistics. */
AVX static inline void columns8(const void *base, Py_ssize_t c, int kind, __m256 *v) {
    const Py_ssize_t row_bytes = c * kind_size(kind);
    int half = 0;
    do { /* c >= 1: columns 0..7 always */
        __m256 r[8], t[8];
        for (int l = 0; l < 8; l++) r[l] = row8((const char *)base + l * row_bytes, c, kind, half);
        for (int g = 0; g < 4; g++) {
            t[2 * g] = _mm256_unpacklo_ps(r[2 * g], r[2 * g + 1]);
            t[2 * g + 1] = _mm256_unpackhi_ps(r[2 * g], r[2 * g + 1]);
        }
        /* r[4g + q]: in each 128-bit lane k, column 4k + q of rows 4g..4g+3 */
        for (int g = 0; g < 2; g++) {
            r[4 * g] = _mm256_shuffle_ps(t[4 * g], t[4 * g + 2], 0x44);
            r[4 * g + 1] = _mm256_shuffle_ps(t[4 * g], t[4 * g + 2], 0xee);
            r[4 * g + 2] = _mm256_shuffle_ps(t[4 * g + 1], t[4 * g + 3], 0x44);
            r[4 * g + 3] = _mm256_shuffle_ps(t[4 * g + 1], t[4 * g + 3], 0xee);
        }
        for (int q = 0; q < 4; q++) {
            v[8 * half + q] = _mm256_permute2f128_ps(r[q], r[4 + q], 0x20);
            v[8 * half + 4 + q] = _mm256_permute2f128_ps(r[q], r[4 + q], 0x31);
        }
    } while (8 * ++half < c);
}

/* rows 0..7 of base (c columns each) into out[0..7] */
AVX static void rows8_small(const void *base, Py_ssize_t c, int kind, RowOut *out) {
    const __m256 sign = _mm256_set1_ps(-0.0f), zero = _mm256_setzero_ps();
    const __m256 pinf = _mm256_set1_ps(INFINITY);
    __m256 v[16];
    columns8(base, c, kind, v);
    __m256 mx = v[0], mn = v[0], nan = _mm256_cmp_ps(v[0], v[0], _CMP_UNORD_Q);
    __m256i top = _mm256_setzero_si256(), amin = top;
    __m256 a0 = _mm256_andnot_ps(sign, v[0]), big = a0;
    __m256 tiny = _mm256_blendv_ps(a0, pinf, _mm256_cmp_ps(a0, zero, _CMP_EQ_OQ));
    for (Py_ssize_t j = 1; j < c; j++) {
        __m256 x = v[j];
        __m256i jj = _mm256_set1_epi32((int)j);
        __m256 gt = _mm256_cmp_ps(x, mx, _CMP_GT_OQ), lt = _mm256_cmp_ps(x, mn, _CMP_LT_OQ);
        mx = _mm256_blendv_ps(mx, x, gt);
        top = _mm256_blendv_epi8(top, jj, _mm256_castps_si256(gt));
        mn = _mm256_blendv_ps(mn, x, lt);
        amin = _mm256_blendv_epi8(amin, jj, _mm256_castps_si256(lt));
        nan = _mm256_or_ps(nan, _mm256_cmp_ps(x, x, _CMP_UNORD_Q));
        __m256 a = _mm256_andnot_ps(sign, x);
        big = _mm256_max_ps(big, a);
        tiny = _mm256_min_ps(tiny, _mm256_blendv_ps(a, pinf, _mm256_cmp_ps(a, zero, _CMP_EQ_OQ)));
    }
    /* lanes left to row_float: a NaN, or a max of +-inf */
    __m256 odd = _mm256_or_ps(nan, _mm256_cmp_ps(_mm256_andnot_ps(sign, mx), pinf, _CMP_EQ_OQ));
    int slow = _mm256_movemask_ps(odd);
    float mxs[8], mns[8], tinys[8];
    int32_t tops[8], amins[8];
    _mm256_storeu_ps(mxs, mx); _mm256_storeu_ps(mns, mn); _mm256_storeu_ps(tinys, tiny);
    _mm256_storeu_si256((__m256i *)tops, top); _mm256_storeu_si256((__m256i *)amins, amin);
    const __m256d floor = _mm256_set1_pd(-746.0);
    /* as row_float: where every (usable) row's z - max is exact, its rounding error is not
     * computed (it is 0), and where every range is below 708, exp4_narrow does (the same
     * bits); the choice is the eight rows', the arithmetic each row's own */
    const float span = kind == KIND_F32 ? 0x1p28f : 0x1p44f;
    int inexact = kind != KIND_F16 &&
        (_mm256_movemask_ps(_mm256_cmp_ps(big, _mm256_mul_ps(tiny, _mm256_set1_ps(span)),
                                          _CMP_GT_OQ)) & ~slow & 0xff);
    int wide = _mm256_movemask_ps(_mm256_cmp_ps(_mm256_sub_ps(mx, mn), _mm256_set1_ps(708.0f),
                                                _CMP_GE_OQ)) & ~slow & 0xff;
    /* the two halves (rows 0-3, 4-7) side by side: their exps and sums are independent
     * and overlap */
    __m256d m0 = _mm256_cvtps_pd(_mm256_castps256_ps128(mx));
    __m256d m1 = _mm256_cvtps_pd(_mm256_extractf128_ps(mx, 1));
    m0 = _mm256_andnot_pd(_mm256_cmp_pd(m0, m0, _CMP_UNORD_Q), m0); /* NaN lanes: 0, unused */
    m1 = _mm256_andnot_pd(_mm256_cmp_pd(m1, m1, _CMP_UNORD_Q), m1);
    __m256d tp0 = _mm256_cvtepi32_pd(_mm256_castsi256_si128(top));
    __m256d tp1 = _mm256_cvtepi32_pd(_mm256_extracti128_si256(top, 1));
    __m256d rs0 = _mm256_setzero_pd(), rc0 = rs0, rs1 = rs0, rc1 = rs0;
#define SMALL_TERM(x, m, tp, j, EXACT, EXP, t)                                           \
    do {                                                                                 \
        __m256d d = _mm256_sub_pd(x, m);                                                 \
        t = EXP(d);                                                                      \
        if (!(EXACT)) {                                                                  \
            __m256d bb = _mm256_sub_pd(d, x);                                            \
            __m256d e = _mm256_sub_pd(_mm256_sub_pd(x, _mm256_sub_pd(d, bb)),             \
                                      _mm256_add_pd(m, bb));                             \
            e = _mm256_and_pd(e, _mm256_cmp_pd(d, floor, _CMP_GT_OQ));                   \
            t = _mm256_fmadd_pd(t, e, t);                                                \
        }                                                                                \
        t = _mm256_andnot_pd(_mm256_cmp_pd(tp, _mm256_set1_pd((double)(j)), _CMP_EQ_OQ), t); \
    } while (0)
#define SMALL_SUM(rs, rc, t)                                                             \
    do {                                                                                 \
        __m256d u = _mm256_add_pd(rs, t), w = _mm256_sub_pd(u, rs);                      \
        rc = _mm256_add_pd(rc, _mm256_add_pd(_mm256_sub_pd(rs, _mm256_sub_pd(u, w)),      \
                                             _mm256_sub_pd(t, w)));                      \
        rs = u;                                                                          \
    } while (0)
#define SMALL_PASS2(EXACT, EXP)                                                          \
    for (Py_ssize_t j = 0; j < c; j++) {                                                 \
        __m256d t0, t1;                                                                  \
        SMALL_TERM(_mm256_cvtps_pd(_mm256_castps256_ps128(v[j])), m0, tp0, j, EXACT, EXP, t0); \
        SMALL_TERM(_mm256_cvtps_pd(_mm256_extractf128_ps(v[j], 1)), m1, tp1, j, EXACT, EXP, t1); \
        SMALL_SUM(rs0, rc0, t0);                                                         \
        SMALL_SUM(rs1, rc1, t1);                                                         \
    }
    if (inexact) { if (wide) { SMALL_PASS2(0, exp4) } else { SMALL_PASS2(0, exp4_narrow) } }
    else { if (wide) { SMALL_PASS2(1, exp4) } else { SMALL_PASS2(1, exp4_narrow) } }
#undef SMALL_PASS2
#undef SMALL_SUM
#undef SMALL_TERM
    double rest[8];
    _mm256_storeu_pd(rest, _mm256_add_pd(rs0, rc0));
    _mm256_storeu_pd(rest + 4, _mm256_add_pd(rs1, rc1));
    for (int l = 0; l < 8; l++) out[l].rest = rest[l];
    for (int l = 0; l < 8; l++) {
        if (slow >> l & 1) {
            row_float((const char *)base + l * c * kind_size(kind), c, kind, 1, &out[l]);
            continue;
        }
        out[l].m = mxs[l]; out[l].mn = mns[l]; out[l].top = tops[l]; out[l].amin = amins[l];
        out[l].min_abs = tinys[l]; out[l].nan = 0;
    }
}

/* ---- AVX-512 (chosen at run time where the CPU has it): the same arithmetic, lane for
 * lane, on vectors twice as wide. Each function here mirrors an AVX2 one above; their
 * results are the same bits (the tests run both: LOGITCHECK_SIMD=avx2). */

AVX512 static inline __m512d poly11_8(__m512d r) {
    __m512d p = _mm512_set1_pd(EXP_POLY[0]);
    for (int k = 1; k < 12; k++) p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(EXP_POLY[k]));
    return p;
}

AVX512 static inline __m512d exp_reduced8(__m512d x, __m512i *ki) {
    const __m512d shift = _mm512_set1_pd(0x1.8p52);
    __m512d kd = _mm512_fmadd_pd(x, _mm512_set1_pd(EXP_LOG2E), shift);
    __m512d k = _mm512_sub_pd(kd, shift);
    *ki = _mm512_sub_epi64(_mm512_castpd_si512(kd), _mm512_castpd_si512(shift));
    __m512d r = _mm512_fnmadd_pd(k, _mm512_set1_pd(EXP_LN2_HI), x);
    r = _mm512_fnmadd_pd(k, _mm512_set1_pd(EXP_LN2_LO), r);
    return poly11_8(r);
}

AVX512 static inline __m512d exp8(__m512d x) {
    __m512i ki;
    __m512d p = exp_reduced8(_mm512_max_pd(x, _mm512_set1_pd(-746.0)), &ki);
    __m512i k1 = _mm512_sub_epi64(_mm512_setzero_si512(),
                          _mm512_srli_epi64(_mm512_sub_epi64(_mm512_setzero_si512(), ki), 1));
    __m512i k2 = _mm512_sub_epi64(ki, k1);
    const __m512i bias = _mm512_set1_epi64(1023);
    __m512d s1 = _mm512_castsi512_pd(_mm512_slli_epi64(_mm512_add_epi64(k1, bias), 52));
    __m512d s2 = _mm512_castsi512_pd(_mm512_slli_epi64(_mm512_add_epi64(k2, bias), 52));
    return _mm512_mul_pd(_mm512_mul_pd(p, s1), s2);
}

AVX512 static inline __m512d exp8_narrow(__m512d x) {
    __m512i ki;
    __m512d p = exp_reduced8(x, &ki);
    return _mm512_castsi512_pd(_mm512_add_epi64(_mm512_castpd_si512(p), _mm512_slli_epi64(ki, 52)));
}

/* Pass 2 of row_float (float32, float16, bfloat16 rows) eight columns a vector: each
 * group of 8 columns' terms as PASS2_TERMS computes them (exp(z - max), times 1 + the
 * rounding error of z - max unless exact, the argmax and the lanes past the row 0), its
 * two halves added and TwoSum-ed into the same four lanes in the same order: the same bits
 * as the AVX2 code, whose exps take twice the instructions. */
#define TERMS8(t, j, cnt, EXACT, EXP)                                                    \
    do {                                                                                 \
        const __m512d x_ = _mm512_cvtps_pd(load8(row, j, kind, cnt));                    \
        const __m512d d_ = _mm512_sub_pd(x_, mv);                                        \
        t = EXP(d_);                                                                     \
        if (!(EXACT)) {                                                                  \
            const __m512d b_ = _mm512_sub_pd(d_, x_);                                    \
            __m512d e_ = _mm512_sub_pd(_mm512_sub_pd(x_, _mm512_sub_pd(d_, b_)),          \
                                       _mm512_add_pd(mv, b_));                           \
            e_ = _mm512_maskz_mov_pd(_mm512_cmp_pd_mask(d_, floor, _CMP_GT_OQ), e_);     \
            t = _mm512_fmadd_pd(t, e_, t);                                               \
        }                                                                                \
        if ((j) == top8) t = _mm512_mask_mov_pd(t, drop, _mm512_setzero_pd());           \
        if ((cnt) < 8) t = _mm512_maskz_mov_pd((__mmask8)((1u << (cnt)) - 1), t);        \
    } while (0)
#define HALVES(t) _mm256_add_pd(_mm512_castpd512_pd256(t), _mm512_extractf64x4_pd(t, 1))
#define PASS2_512(EXACT, EXP)                                                            \
    do {                                                                                 \
        Py_ssize_t j = 0;                                                                \
        for (; j + 16 <= c; j += 16) { /* two groups side by side: their exps overlap */ \
            __m512d t1, t2;                                                              \
            _mm_prefetch(next + j * size, _MM_HINT_T1);                                  \
            _mm_prefetch(next + (j + 8) * size, _MM_HINT_T1);                            \
            TERMS8(t1, j, 8, EXACT, EXP);                                                \
            TERMS8(t2, j + 8, 8, EXACT, EXP);                                            \
            __m256d T1 = HALVES(t1), T2 = HALVES(t2);                                    \
            TWO_SUM(T1);                                                                 \
            TWO_SUM(T2);                                                                 \
        }                                                                                \
        for (; j < c; j += 8) {                                                          \
            __m512d t;                                                                   \
            const int cnt = c - j < 8 ? (int)(c - j) : 8;                                \
            TERMS8(t, j, cnt, EXACT, EXP);                                               \
            __m256d T = HALVES(t);                                                       \
            TWO_SUM(T);                                                                  \
        }                                                                                \
    } while (0)

AVX512 static double pass2_512(const void *row, Py_ssize_t c, int kind, double m,
                               Py_ssize_t top, int exact, int narrow) {
    const __m512d mv = _mm512_set1_pd(m), floor = _mm512_set1_pd(-746.0);
    const Py_ssize_t size = kind_size(kind), top8 = top - top % 8;
    const __mmask8 drop = (__mmask8)(1u << (top % 8));
    const char *next = (const char *)row + c * size;
    __m256d rs = _mm256_setzero_pd(), rc = rs;
    if (exact) {
        if (narrow) PASS2_512(1, exp8_narrow); else PASS2_512(1, exp8);
    } else {
        if (narrow) PASS2_512(0, exp8_narrow); else PASS2_512(0, exp8);
    }
    return lanes_rest(rs, rc);
}
#undef PASS2_512
#undef HALVES
#undef TERMS8

/* Sixteen rows of c <= 16 values, as floats, turned into columns: v[j] holds column j,
 * lane l row l (columns8's, sixteen lanes wide). Row loads and a 16 x 16 transpose in
 * four rounds of shuffles: a gather of sixteen lanes cost more than the rest of the row
 * statistics together. */
AVX512 static inline void columns16(const void *base, Py_ssize_t c, int kind, __m512 *v) {
    const __mmask16 keep = (__mmask16)((1u << c) - 1);
    const Py_ssize_t row_bytes = c * kind_size(kind);
    __m512 r[16], t[16];
    for (int l = 0; l < 16; l++) {
        const char *row = (const char *)base + l * row_bytes;
        if (kind == KIND_F32) { r[l] = _mm512_maskz_loadu_ps(keep, row); continue; }
        __m256i h = _mm256_maskz_loadu_epi16(keep, row);
        r[l] = kind == KIND_F16 ? _mm512_cvtph_ps(h)
             : _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
    }
    /* t[2g], t[2g+1]: rows 2g, 2g+1 interleaved; then r[4g + q]: in 128-bit lane k,
     * column 4k + q of rows 4g..4g+3 */
    for (int g = 0; g < 8; g++) {
        t[2 * g] = _mm512_unpacklo_ps(r[2 * g], r[2 * g + 1]);
        t[2 * g + 1] = _mm512_unpackhi_ps(r[2 * g], r[2 * g + 1]);
    }
    for (int g = 0; g < 4; g++) {
        __m512d a = _mm512_castps_pd(t[4 * g]), b = _mm512_castps_pd(t[4 * g + 2]);
        __m512d a2 = _mm512_castps_pd(t[4 * g + 1]), b2 = _mm512_castps_pd(t[4 * g + 3]);
        r[4 * g] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, b));
        r[4 * g + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, b));
        r[4 * g + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(a2, b2));
        r[4 * g + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(a2, b2));
    }
    /* column 4k + q: lane k of r[q], r[4 + q], r[8 + q], r[12 + q] */
    for (int q = 0; q < 4; q++) {
        __m512 lo01 = _mm512_shuffle_f32x4(r[q], r[4 + q], 0x44);
        __m512 hi01 = _mm512_shuffle_f32x4(r[q], r[4 + q], 0xee);
        __m512 lo23 = _mm512_shuffle_f32x4(r[8 + q], r[12 + q], 0x44);
        __m512 hi23 = _mm512_shuffle_f32x4(r[8 + q], r[12 + q], 0xee);
        v[q] = _mm512_shuffle_f32x4(lo01, lo23, 0x88);
        v[4 + q] = _mm512_shuffle_f32x4(lo01, lo23, 0xdd);
        v[8 + q] = _mm512_shuffle_f32x4(hi01, hi23, 0x88);
        v[12 + q] = _mm512_shuffle_f32x4(hi01, hi23, 0xdd);
    }
}

/* where rows16_small writes its rows' statistics (each pointing at the first row's) */
typedef struct {
    double *m, *mn, *rest, *min_abs;
    int64_t *top, *amin;
} RowArrays;

/* rows8_small on sixteen rows (lane = row), the first `count` written to out: the same
 * arithmetic per row */
AVX512 static void rows16_small(const void *base, Py_ssize_t c, int kind, int count,
                                const RowArrays *out) {
    const __m512 zero = _mm512_setzero_ps(), pinf = _mm512_set1_ps(INFINITY);
    __m512 v[16];
    columns16(base, c, kind, v);
    __m512 mx = v[0], mn = v[0];
    __mmask16 nan = _mm512_cmp_ps_mask(v[0], v[0], _CMP_UNORD_Q);
    __m512i top = _mm512_setzero_si512(), amin = top;
    __m512 a0 = _mm512_abs_ps(v[0]), big = a0;
    __m512 tiny = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(a0, zero, _CMP_EQ_OQ), a0, pinf);
    for (Py_ssize_t j = 1; j < c; j++) {
        __m512 x = v[j];
        __m512i jj = _mm512_set1_epi32((int)j);
        __mmask16 gt = _mm512_cmp_ps_mask(x, mx, _CMP_GT_OQ), lt = _mm512_cmp_ps_mask(x, mn, _CMP_LT_OQ);
        mx = _mm512_mask_blend_ps(gt, mx, x);
        top = _mm512_mask_blend_epi32(gt, top, jj);
        mn = _mm512_mask_blend_ps(lt, mn, x);
        amin = _mm512_mask_blend_epi32(lt, amin, jj);
        nan |= _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q);
        __m512 a = _mm512_abs_ps(x);
        big = _mm512_max_ps(big, a);
        tiny = _mm512_min_ps(tiny, _mm512_mask_blend_ps(_mm512_cmp_ps_mask(a, zero, _CMP_EQ_OQ), a, pinf));
    }
    int slow = nan | _mm512_cmp_ps_mask(_mm512_abs_ps(mx), pinf, _CMP_EQ_OQ);
    const __m512d floor = _mm512_set1_pd(-746.0), dzero = _mm512_setzero_pd();
    const float span = kind == KIND_F32 ? 0x1p28f : 0x1p44f;
    int inexact = kind != KIND_F16 &&
        (_mm512_cmp_ps_mask(big, _mm512_mul_ps(tiny, _mm512_set1_ps(span)), _CMP_GT_OQ) & ~slow & 0xffff);
    int wide = _mm512_cmp_ps_mask(_mm512_sub_ps(mx, mn), _mm512_set1_ps(708.0f), _CMP_GE_OQ) & ~slow & 0xffff;
    __m512d m0 = _mm512_cvtps_pd(_mm512_castps512_ps256(mx));
    __m512d m1 = _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(mx), 1)));
    m0 = _mm512_maskz_mov_pd(_mm512_cmp_pd_mask(m0, m0, _CMP_ORD_Q), m0); /* NaN lanes: 0 */
    m1 = _mm512_maskz_mov_pd(_mm512_cmp_pd_mask(m1, m1, _CMP_ORD_Q), m1);
    __m512d tp0 = _mm512_cvtepi32_pd(_mm512_castsi512_si256(top));
    __m512d tp1 = _mm512_cvtepi32_pd(_mm512_extracti64x4_epi64(top, 1));
    __m512d rs0 = dzero, rc0 = dzero, rs1 = dzero, rc1 = dzero;
#define SMALL_TERM16(x, m, tp, j, EXACT, EXP, t)                                         \
    do {                                                                                 \
        __m512d d = _mm512_sub_pd(x, m);                                                 \
        t = EXP(d);                                                                      \
        if (!(EXACT)) {                                                                  \
            __m512d bb = _mm512_sub_pd(d, x);                                            \
            __m512d e = _mm512_sub_pd(_mm512_sub_pd(x, _mm512_sub_pd(d, bb)),             \
                                      _mm512_add_pd(m, bb));                             \
            e = _mm512_maskz_mov_pd(_mm512_cmp_pd_mask(d, floor, _CMP_GT_OQ), e);        \
            t = _mm512_fmadd_pd(t, e, t);                                                \
        }                                                                                \
        t = _mm512_mask_mov_pd(t, _mm512_cmp_pd_mask(tp, _mm512_set1_pd((double)(j)), _CMP_EQ_OQ), dzero); \
    } while (0)
#define SMALL_SUM16(rs, rc, t)                                                           \
    do {                                                                                 \
        __m512d u = _mm512_add_pd(rs, t), w = _mm512_sub_pd(u, rs);                      \
        rc = _mm512_add_pd(rc, _mm512_add_pd(_mm512_sub_pd(rs, _mm512_sub_pd(u, w)),      \
                                             _mm512_sub_pd(t, w)));                      \
        rs = u;                                                                          \
    } while (0)
#define SMALL_PASS16(EXACT, EXP)                                                         \
    for (Py_ssize_t j = 0; j < c; j++) {                                                 \
        __m512d t0, t1;                                                                  \
        SMALL_TERM16(_mm512_cvtps_pd(_mm512_castps512_ps256(v[j])), m0, tp0, j, EXACT, EXP, t0); \
        SMALL_TERM16(_mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v[j]), 1))), m1, tp1, j, EXACT, EXP, t1); \
        SMALL_SUM16(rs0, rc0, t0);                                                       \
        SMALL_SUM16(rs1, rc1, t1);                                                       \
    }
    if (inexact) { if (wide) { SMALL_PASS16(0, exp8) } else { SMALL_PASS16(0, exp8_narrow) } }
    else { if (wide) { SMALL_PASS16(1, exp8) } else { SMALL_PASS16(1, exp8_narrow) } }
#undef SMALL_PASS16
#undef SMALL_SUM16
#undef SMALL_TERM16
    /* the first `count` rows' statistics, stored as vectors */
    const __mmask8 lo = count >= 8 ? 0xff : (__mmask8)((1u << count) - 1);
    const __mmask8 hi = count > 8 ? (__mmask8)((1u << (count - 8)) - 1) : 0;
#define STORE16(dst, x)                                                                  \
    do {                                                                                 \
        _mm512_mask_storeu_pd((dst), lo, _mm512_cvtps_pd(_mm512_castps512_ps256(x)));    \
        _mm512_mask_storeu_pd((dst) + 8, hi, _mm512_cvtps_pd(_mm256_castpd_ps(            \
            _mm512_extractf64x4_pd(_mm512_castps_pd(x), 1))));                           \
    } while (0)
#define STORE16_INT(dst, x)                                                              \
    do {                                                                                 \
        _mm512_mask_storeu_epi64((dst), lo, _mm512_cvtepi32_epi64(_mm512_castsi512_si256(x))); \
        _mm512_mask_storeu_epi64((dst) + 8, hi, _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(x, 1))); \
    } while (0)
    STORE16(out->m, mx); STORE16(out->mn, mn); STORE16(out->min_abs, tiny);
    STORE16_INT(out->top, top); STORE16_INT(out->amin, amin);
#undef STORE16
#undef STORE16_INT
    _mm512_mask_storeu_pd(out->rest, lo, _mm512_add_pd(rs0, rc0));
    _mm512_mask_storeu_pd(out->rest + 8, hi, _mm512_add_pd(rs1, rc1));
    for (slow &= (1 << count) - 1; slow; slow &= slow - 1) {
        const int l = __builtin_ctz(slow);
        RowOut r;
        row_float((const char *)base + l * c * kind_size(kind), c, kind, 1, &r);
        out->m[l] = r.m; out->mn[l] = r.mn; out->top[l] = r.top; out->amin[l] = r.amin;
        out->rest[l] = r.rest; out->min_abs[l] = r.min_abs;
    }
}

AVX static void rows_small(const char *base, Py_ssize_t n, Py_ssize_t c, int kind,
                           double *m, int64_t *top, double *mn, int64_t *amin, double *rest,
                           double *min_abs) {
    const Py_ssize_t size = kind_size(kind);
    const int step = simd512 ? 16 : 8;
    char pad[16 * SMALL_C * 4 + 16];
    for (Py_ssize_t i = 0; i < n; i += step) {
        RowOut r[8];
        const char *rows = base + i * c * size;
        int count = n - i < step ? (int)(n - i) : step;
        if (i + step >= n) { /* the last rows: copied, so that no read goes past the block */
            memset(pad, 0, sizeof pad);
            for (int l = 0; l < step; l++)
                memcpy(pad + l * c * size, rows + (l < count ? l : count - 1) * c * size, c * size);
            rows = pad;
        }
        if (step == 16) {
            const RowArrays out = {m + i, mn + i, rest + i, min_abs + i, top + i, amin + i};
            rows16_small(rows, c, kind, count, &out);
            continue;
        }
        rows8_small(rows, c, kind, r);
        for (int l = 0; l < count; l++) {
            m[i + l] = r[l].m; mn[i + l] = r[l].mn; top[i + l] = r[l].top; amin[i + l] = r[l].amin;
            rest[i + l] = r[l].rest; min_abs[i + l] = r[l].min_abs;
        }
    }
}

/* the statistics of rows [0, n) of base into the arrays (row_stats; softmax_rows' fused
 * mode, a block at a time) */
AVX static void stats_rows_avx(const char *base, Py_ssize_t n, Py_ssize_t c, int kind, int want_amin,
                       double *m, int64_t *top, double *mn, int64_t *amin, double *rest,
                       double *min_abs) {
    if (kind != KIND_F64 && c <= SMALL_C) {
        rows_small(base, n, c, kind, m, top, mn, amin, rest, min_abs);
        return;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        RowOut r;
        if (kind == KIND_F64) row_f64(base + i * c * kind_size(kind), c, kind, want_amin, &r);
        else row_float(base + i * c * kind_size(kind), c, kind, want_amin, &r);
        m[i] = r.m; mn[i] = r.mn; top[i] = r.top; amin[i] = r.amin;
        rest[i] = r.rest; min_abs[i] = r.min_abs;
    }
}

static int have_avx2(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
           __builtin_cpu_supports("f16c");
}

AVX static void exp_many_avx(const double *x, double *o, Py_ssize_t n) {
    Py_ssize_t i = 0;
    for (; i + 4 <= n; i += 4) _mm256_storeu_pd(o + i, exp4(_mm256_loadu_pd(x + i)));
    for (; i < n; i += 4) {
        double in[4] = {0, 0, 0, 0}, res[4];
        int count = n - i < 4 ? (int)(n - i) : 4;
        memcpy(in, x + i, count * 8);
        _mm256_storeu_pd(res, exp4(_mm256_loadu_pd(in)));
        memcpy(o + i, res, count * 8);
    }
}


/* bins_add of four values (the first `count`), their bins and significands found four at
 * a time; a 0 lane adds 0 */
AVX static inline void bins_add4(Bins *a, __m256d x, int count) {
    const __m256i b = _mm256_castpd_si256(x);
    const __m256i e = _mm256_and_si256(_mm256_srli_epi64(b, 52), _mm256_set1_epi64x(0x7ff));
    const __m256i implicit = _mm256_andnot_si256(_mm256_cmpeq_epi64(e, _mm256_setzero_si256()),
                                                 _mm256_set1_epi64x(1LL << 52));
    __m256i mant = _mm256_or_si256(_mm256_and_si256(b, _mm256_set1_epi64x((1LL << 52) - 1)),
                                   implicit);
    const __m256i neg = _mm256_cmpgt_epi64(_mm256_setzero_si256(), b);
    mant = _mm256_sub_epi64(_mm256_xor_si256(mant, neg), neg);
    int64_t es[4], ms[4];
    _mm256_storeu_si256((__m256i *)es, e);
    _mm256_storeu_si256((__m256i *)ms, mant);
    for (int l = 0; l < count; l++) bin_add(a, (int)es[l], ms[l]);
}


/* small integers (|k| < 2**51) held in int64 lanes, as doubles */
AVX static inline __m256d small_int_pd(__m256i k) {
    const __m256d magic = _mm256_set1_pd(0x1.8p52);
    return _mm256_sub_pd(_mm256_castsi256_pd(_mm256_add_epi64(k, _mm256_castpd_si256(magic))),
                         magic);
}

/* log(1 + f) - f + hfsq's remainder, and the result, for f in [sqrt(2)/2 - 1, sqrt(2) - 1] */
AVX static inline __m256d log_tail(__m256d f, __m256d dk, __m256d c) {
    const __m256d half = _mm256_set1_pd(0.5), two = _mm256_set1_pd(2.0);
    __m256d hfsq = _mm256_mul_pd(_mm256_mul_pd(half, f), f);
    __m256d s = _mm256_div_pd(f, _mm256_add_pd(two, f));
    __m256d z = _mm256_mul_pd(s, s), w = _mm256_mul_pd(z, z);
    __m256d t1 = _mm256_fmadd_pd(w, _mm256_set1_pd(LG6), _mm256_set1_pd(LG4));
    t1 = _mm256_mul_pd(w, _mm256_fmadd_pd(w, t1, _mm256_set1_pd(LG2)));
    __m256d t2 = _mm256_fmadd_pd(w, _mm256_set1_pd(LG7), _mm256_set1_pd(LG5));
    t2 = _mm256_fmadd_pd(w, t2, _mm256_set1_pd(LG3));
    t2 = _mm256_mul_pd(z, _mm256_fmadd_pd(w, t2, _mm256_set1_pd(LG1)));
    __m256d r = _mm256_add_pd(t2, t1);
    /* s*(hfsq+R) + (dk*ln2_lo + c) - hfsq + f + dk*ln2_hi, in musl's order */
    __m256d y = _mm256_mul_pd(s, _mm256_add_pd(hfsq, r));
    y = _mm256_add_pd(y, _mm256_add_pd(_mm256_mul_pd(dk, _mm256_set1_pd(LN2_LO)), c));
    y = _mm256_sub_pd(y, hfsq);
    y = _mm256_add_pd(y, f);
    return _mm256_add_pd(y, _mm256_mul_pd(dk, _mm256_set1_pd(LN2_HI)));
}

/* u in [sqrt(2)/2, sqrt(2)) times 2**k: (u - 1, k) from the bits of x > 0 normal */
#define LOG_REDUCE(x, f, k)                                                               \
    do {                                                                                  \
        __m256i b_ = _mm256_add_epi64(_mm256_castpd_si256(x),                              \
                                      _mm256_set1_epi64x((int64_t)(0x3ff00000 - 0x3fe6a09e) << 32)); \
        k = _mm256_sub_epi64(_mm256_srli_epi64(b_, 52), _mm256_set1_epi64x(0x3ff));         \
        b_ = _mm256_add_epi64(_mm256_and_si256(b_, _mm256_set1_epi64x(0x000fffffffffffffLL)), \
                              _mm256_set1_epi64x((int64_t)0x3fe6a09e << 32));             \
        f = _mm256_sub_pd(_mm256_castsi256_pd(b_), _mm256_set1_pd(1.0));                 \
    } while (0)

/* log(x) for x > 0 finite (subnormals included); other lanes: unspecified */
AVX static inline __m256d log4(__m256d x) {
    __m256d sub = _mm256_cmp_pd(x, _mm256_set1_pd(0x1p-1022), _CMP_LT_OQ);
    x = _mm256_blendv_pd(x, _mm256_mul_pd(x, _mm256_set1_pd(0x1p54)), sub);
    __m256d f;
    __m256i k;
    LOG_REDUCE(x, f, k);
    k = _mm256_sub_epi64(k, _mm256_and_si256(_mm256_castpd_si256(sub), _mm256_set1_epi64x(54)));
    return log_tail(f, small_int_pd(k), _mm256_setzero_pd());
}

/* log1p(x) for x >= 0 finite */
AVX static inline __m256d log1p4(__m256d x) {
    const __m256d one = _mm256_set1_pd(1.0);
    __m256d u = _mm256_add_pd(one, x);
    __m256d f;
    __m256i k;
    LOG_REDUCE(u, f, k);
    /* the rounding error of 1 + x, relative to u: log(1 + x) = log(u) + c */
    __m256d c = _mm256_blendv_pd(_mm256_sub_pd(x, _mm256_sub_pd(u, one)),
                                 _mm256_sub_pd(one, _mm256_sub_pd(u, x)),
                                 _mm256_castsi256_pd(_mm256_cmpgt_epi64(k, _mm256_set1_epi64x(1))));
    c = _mm256_div_pd(c, u);
    c = _mm256_andnot_pd(_mm256_castsi256_pd(_mm256_cmpgt_epi64(k, _mm256_set1_epi64x(53))), c);
    /* 1 + x < sqrt(2): f = x exactly, k = 0, no correction */
    __m256d near1 = _mm256_cmp_pd(x, _mm256_set1_pd(0x1.a827ap-2 /* ~sqrt2-1 */), _CMP_LT_OQ);
    f = _mm256_blendv_pd(f, x, near1);
    c = _mm256_andnot_pd(near1, c);
    __m256d dk = _mm256_andnot_pd(near1, small_int_pd(k));
    return log_tail(f, dk, c);
}

/* log4 / log1p4 over float64 buffers (tests) */
AVX static void log_many_avx(const double *xs, double *os, Py_ssize_t n, int one_plus) {
    for (Py_ssize_t i = 0; i < n; i += 4) {
        double in[4] = {1, 1, 1, 1}, res[4];
        int count = n - i < 4 ? (int)(n - i) : 4;
        memcpy(in, xs + i, count * 8);
        __m256d v = _mm256_loadu_pd(in);
        _mm256_storeu_pd(res, one_plus ? log1p4(v) : log4(v));
        memcpy(os + i, res, count * 8);
    }
}

/* the lanes of a compare as 0 / 1 << bit, in int64 lanes */
AVX static inline __m256i bit_if(__m256d mask, int bit) {
    return _mm256_and_si256(_mm256_castpd_si256(mask), _mm256_set1_epi64x(1LL << bit));
}

AVX static inline __m256d finite_pd(__m256d x) {
    return _mm256_cmp_pd(_mm256_andnot_pd(_mm256_set1_pd(-0.0), x), _mm256_set1_pd(INFINITY),
                         _CMP_LT_OQ);
}


AVX static inline __m256d abs_pd(__m256d x) { return _mm256_andnot_pd(_mm256_set1_pd(-0.0), x); }

/* x rounded to kind k, as numpy casts float64 to it (bfloat16: via float32, as dtypes.cast) */
AVX static inline __m256d round_to4(int k, __m256d x) {
    if (k == KIND_F64) return x;
    __m128 f = _mm256_cvtpd_ps(x);
    if (k == KIND_F32) return _mm256_cvtps_pd(f);
    if (k == KIND_BF16) {
        __m128i u = _mm_castps_si128(f);
        __m128i r = _mm_and_si128(
            _mm_add_epi32(_mm_add_epi32(u, _mm_set1_epi32(0x7fff)),
                          _mm_and_si128(_mm_srli_epi32(u, 16), _mm_set1_epi32(1))),
            _mm_set1_epi32((int)0xffff0000u));
        __m128 nan = _mm_cmpunord_ps(f, f);
        return _mm256_cvtps_pd(_mm_blendv_ps(_mm_castsi128_ps(r), f, nan));
    }
    /* float16: to float32 rounded to odd (truncated, last bit set if inexact), then to
     * float16: two roundings that give the one correct rounding (float32 has 13 more bits) */
    __m256d back = _mm256_cvtps_pd(f);
    __m256d inexact = _mm256_cmp_pd(back, x, _CMP_NEQ_OQ);
    __m256d away = _mm256_and_pd(inexact, _mm256_cmp_pd(abs_pd(back), abs_pd(x), _CMP_GT_OQ));
    const __m256i pick = _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7); /* 64-bit masks to 32 */
    __m128i in32 = _mm256_castsi256_si128(_mm256_permutevar8x32_epi32(_mm256_castpd_si256(inexact), pick));
    __m128i aw32 = _mm256_castsi256_si128(_mm256_permutevar8x32_epi32(_mm256_castpd_si256(away), pick));
    __m128i u = _mm_add_epi32(_mm_castps_si128(f), aw32); /* - 1 ulp where rounded away */
    u = _mm_or_si128(u, _mm_and_si128(in32, _mm_set1_epi32(1)));
    __m128i h = _mm_cvtps_ph(_mm_castsi128_ps(u), _MM_FROUND_TO_NEAREST_INT);
    return _mm256_cvtps_pd(_mm_cvtph_ps(h));
}

/* the result of a float32 operation with exact value x, in kind k (finish_op) */
AVX static inline __m256d finish4(int k, __m256d x) {
    if (k == KIND_F64) return x;
    if (k == KIND_F16) {
        __m128i h = _mm_cvtps_ph(_mm256_cvtpd_ps(x), _MM_FROUND_TO_NEAREST_INT);
        return _mm256_cvtps_pd(_mm_cvtph_ps(h));
    }
    return round_to4(k, _mm256_cvtps_pd(_mm256_cvtpd_ps(x)));
}

/* floor(log2(x)) + the mantissa's fraction, roughly log2(x) (within 0.09), for x > 0 */
AVX static inline __m256d rough_log2(__m256d x) {
    __m256i b = _mm256_srli_epi64(_mm256_castpd_si256(x), 20);
    return _mm256_fmadd_pd(small_int_pd(b), _mm256_set1_pd(0x1p-32), _mm256_set1_pd(-1023.0));
}

/* a guess for bins4: within one bin of the answer for log_edges' edges (at least a few
 * bins a factor of 2); 0 where t <= 0 */
AVX static inline __m256d bin_guess(__m256d t, double scale, double offset) {
    __m256d pos = _mm256_cmp_pd(t, _mm256_setzero_pd(), _CMP_GT_OQ);
    __m256d x = _mm256_fmadd_pd(rough_log2(t), _mm256_set1_pd(scale * 0.6931471805599453),
                                _mm256_set1_pd(offset + 1.0));
    return _mm256_and_pd(_mm256_floor_pd(x), pos);
}

/* the number of edges <= t, for four values t, from bin_guess's guesses (within one bin
 * of the answer): one step up and one down on the padded edges (P: -inf, the ne edges,
 * +inf, +inf), branch-free */
AVX static inline __m256i bins4(const double *P, Py_ssize_t ne, __m256d t, __m256d g) {
    const __m256d magic = _mm256_set1_pd(0x1p52);
    g = _mm256_min_pd(_mm256_max_pd(g, _mm256_setzero_pd()), _mm256_set1_pd((double)ne));
    __m256i i = _mm256_sub_epi64(_mm256_castpd_si256(_mm256_add_pd(g, magic)),
                                 _mm256_castpd_si256(magic));
    __m256d up = _mm256_cmp_pd(_mm256_i64gather_pd(P + 1, i, 8), t, _CMP_LE_OQ);
    i = _mm256_sub_epi64(i, _mm256_castpd_si256(up)); /* a true compare is -1 */
    __m256d down = _mm256_cmp_pd(_mm256_i64gather_pd(P, i, 8), t, _CMP_GT_OQ);
    i = _mm256_add_epi64(i, _mm256_castpd_si256(down));
    const __m256i last = _mm256_set1_epi64x(ne); /* t = +inf steps past it */
    return _mm256_blendv_epi8(i, last, _mm256_cmpgt_epi64(i, last));
}

/* extreme `slot` over the lanes where `ok`: the first lane of a larger value wins */
AVX static inline void keep_largest4(Rows *R, int slot, __m256d v, __m256d ok, Py_ssize_t i,
                                     int count) {
    __m256d bar = _mm256_set1_pd(R->I[slot] < 0 ? -INFINITY : R->F[slot]);
    int hit = _mm256_movemask_pd(_mm256_and_pd(ok, _mm256_cmp_pd(v, bar, _CMP_GT_OQ)));
    if (R->I[slot] < 0) hit |= _mm256_movemask_pd(ok); /* the first value counts even if -inf */
    hit &= (1 << count) - 1;
    if (!hit) return;
    double x[4];
    _mm256_storeu_pd(x, v);
    for (int l = 0; l < count; l++)
        if (hit >> l & 1) keep_largest(R->F, R->I, slot, x[l], i + l);
}

/* rows [i, i + count) (count <= 4): 0 if a row's max, min or exp sum is not finite, or
 * its target is not a class */
AVX static int rows4(Rows *R, Py_ssize_t i, int count) {
    double zy[4] = {1, 1, 1, 1};
    int64_t ty[4] = {0, 0, 0, 0};
    __m256d m, mn, rest;
    __m256i top;
    const Py_ssize_t s = i - R->s0;
    if (count == 4) { /* the statistics are contiguous: vector loads */
        m = _mm256_loadu_pd(R->m + s); mn = _mm256_loadu_pd(R->mn + s);
        rest = _mm256_loadu_pd(R->rest + s);
        top = _mm256_loadu_si256((const __m256i *)(R->top + s));
        __m256i t = _mm256_loadu_si256((const __m256i *)(R->target ? R->target + i : R->amin + s));
        __m256i bad = _mm256_or_si256(_mm256_cmpgt_epi64(_mm256_setzero_si256(), t),
                                      _mm256_cmpgt_epi64(t, _mm256_set1_epi64x(R->c - 1)));
        if (!_mm256_testz_si256(bad, bad)) return 0;
        _mm256_storeu_si256((__m256i *)ty, t);
        for (int l = 0; l < 4; l++) zy[l] = value_at(R, i + l, ty[l]);
    } else { /* the last rows: lanes past count hold 0s (and z_y = 1) */
        double mv[4] = {0, 0, 0, 0}, mnv[4] = {0, 0, 0, 0}, rv[4] = {0, 0, 0, 0};
        int64_t tp[4] = {0, 0, 0, 0};
        for (int l = 0; l < count; l++) {
            mv[l] = R->m[s + l]; mnv[l] = R->mn[s + l]; rv[l] = R->rest[s + l];
            int64_t t = R->target ? R->target[i + l] : R->amin[s + l];
            if (t < 0 || t >= R->c) return 0;
            ty[l] = t;
            tp[l] = R->top[s + l];
            zy[l] = value_at(R, i + l, t);
        }
        m = _mm256_loadu_pd(mv); mn = _mm256_loadu_pd(mnv); rest = _mm256_loadu_pd(rv);
        top = _mm256_loadu_si256((const __m256i *)tp);
    }
    const __m256d zero = _mm256_setzero_pd(), one = _mm256_set1_pd(1.0);
    __m256d y = _mm256_loadu_pd(zy);
    __m256d good = _mm256_and_pd(_mm256_and_pd(finite_pd(m), finite_pd(mn)),
                                 _mm256_and_pd(finite_pd(rest), finite_pd(y)));
    if ((_mm256_movemask_pd(good) & ((1 << count) - 1)) != (1 << count) - 1) return 0;
    __m256d lr = log1p4(rest);
    __m256d loss = _mm256_add_pd(_mm256_sub_pd(m, y), lr), lse = _mm256_add_pd(m, lr);
    __m256d span = _mm256_sub_pd(m, mn);
    __m256d fin = finite_pd(loss);
    __m256i f = _mm256_andnot_si256(_mm256_castpd_si256(fin),
                                    _mm256_set1_epi64x(1LL << F_LOSS_NONFINITE));
    f = _mm256_or_si256(f, bit_if(_mm256_and_pd(fin, _mm256_cmp_pd(loss, _mm256_set1_pd(R->sat_eps),
                                                                   _CMP_LT_OQ)), F_SATURATED));
    f = _mm256_or_si256(f, bit_if(_mm256_cmp_pd(span, zero, _CMP_EQ_OQ), F_CONSTANT));
    __m256i same = _mm256_cmpeq_epi64(top, _mm256_loadu_si256((const __m256i *)ty));
    f = _mm256_or_si256(f, bit_if(_mm256_and_pd(fin, _mm256_castsi256_pd(same)), F_CORRECT));
    double lossv[4];
    _mm256_storeu_pd(lossv, loss);
    for (int l = 0; l < count; l++) R->loss[i + l] = lossv[l];
    __m256d pos = _mm256_cmp_pd(y, zero, _CMP_GT_OQ);
    if (R->labelled) {
        f = _mm256_or_si256(f, bit_if(_mm256_cmp_pd(y, zero, _CMP_EQ_OQ), F_ZERO_LABEL));
        /* -log(p_y), reading the values as probabilities: 0 (adds nothing) where z_y <= 0 */
        __m256d nlp = _mm256_sub_pd(zero, log4(_mm256_blendv_pd(one, y, pos)));
        bins_add4(&R->sums[1], _mm256_and_pd(nlp, pos), count);
        bins_add4(&R->sums[2], _mm256_xor_pd(y, _mm256_set1_pd(-0.0)), count);
    }
    bins_add4(&R->sums[0], _mm256_and_pd(loss, fin), count); /* + 0 where not finite */
    int64_t bl[4], bm[4], bs[4];
    _mm256_storeu_si256((__m256i *)bl, bins4(R->loss_pad, R->nle, loss,
                                             bin_guess(loss, R->loss_scale, R->loss_offset)));
    _mm256_storeu_si256((__m256i *)bm, bins4(R->logit_pad, R->nge, m,
                                             bin_guess(m, R->logit_scale, R->logit_offset)));
    _mm256_storeu_si256((__m256i *)bs, bins4(R->logit_pad, R->nge, span,
                                             bin_guess(span, R->logit_scale, R->logit_offset)));
    keep_largest4(R, S_WORST, loss, fin, i, count);
    keep_largest4(R, S_RANGE, span, _mm256_castsi256_pd(_mm256_set1_epi64x(-1)), i, count);
    keep_largest4(R, S_LSE, abs_pd(lse), finite_pd(lse), i, count);
    const __m256d scale = _mm256_max_pd(abs_pd(loss), _mm256_set1_pd(0x1p-52));
    for (int d = 0; d < R->ndt; d++) {
        const Dtype *D = &R->dt[d];
        const int k = D->kind, base = F_DTYPE + 6 * d;
        __m256d q = _mm256_sub_pd(zero, loss);
        __m256d over = _mm256_cmp_pd(lse, _mm256_set1_pd(D->log_max), _CMP_GT_OQ);
        __m256d s_zero = _mm256_cmp_pd(m, _mm256_set1_pd(D->zero_at), _CMP_LT_OQ);
        const __m256d margin = _mm256_set1_pd(D->margin);
#define WITHIN(x, edge, tol) _mm256_cmp_pd(abs_pd(_mm256_sub_pd(x, _mm256_set1_pd(edge))), tol, _CMP_LE_OQ)
        __m256d near = _mm256_andnot_pd(finite_pd(lse), _mm256_castsi256_pd(_mm256_set1_epi64x(-1)));
        near = _mm256_or_pd(near, WITHIN(lse, D->log_max, margin));
        near = _mm256_or_pd(near, WITHIN(m, D->zero_at, _mm256_set1_pd(D->m_tol)));
        near = _mm256_or_pd(near, WITHIN(q, D->zero_at, margin));
        near = _mm256_or_pd(near, WITHIN(q, D->log_tiny, margin));
        near = _mm256_or_pd(near, _mm256_cmp_pd(y, _mm256_set1_pd(D->zy_cut), _CMP_LT_OQ));
        near = _mm256_or_pd(near, _mm256_cmp_pd(m, _mm256_set1_pd(D->m_cut), _CMP_LT_OQ));
#undef WITHIN
        const __m256d ones = _mm256_castsi256_pd(_mm256_set1_epi64x(-1));
        __m256d far = _mm256_andnot_pd(near, ones);
        __m256d counted = _mm256_and_pd(far, fin);
        f = _mm256_or_si256(f, bit_if(near, base + F_NEAR));
        f = _mm256_or_si256(f, bit_if(_mm256_and_pd(far, over), base + F_OVERFLOW));
        /* Softmax then log: p = exp(-loss) and a = -log(p), each rounded to the kind. Where
         * all four rows are far from the kind's limits, their p normal (-loss above
         * log(tiny)), and none can beat the largest gap so far, its flags are clear and
         * its exp and log are not needed: exp and log within 2 ulp of the truth give
         * |a - loss| <= 1.05 (u + 2^-52)(1 + |loss|), under a quarter of gap_bound's. The
         * largest gap and its row come out the same (ties: a row bounded at the best is
         * computed). */
        const int slot = S_GAP + 2 * d;
        int skip = 0;
        if (R->I[slot] >= 0) {
            __m256d clear = _mm256_andnot_pd(_mm256_or_pd(_mm256_or_pd(over, s_zero), near),
                                             fin);
            clear = _mm256_and_pd(clear, _mm256_cmp_pd(q, _mm256_set1_pd(D->log_tiny),
                                                       _CMP_GT_OQ));
            __m256d bound = _mm256_mul_pd(_mm256_set1_pd(D->gap_bound),
                                          _mm256_add_pd(one, abs_pd(loss)));
            __m256d best = _mm256_mul_pd(_mm256_set1_pd(R->F[slot]), scale);
            clear = _mm256_and_pd(clear, _mm256_cmp_pd(bound, best, _CMP_LT_OQ));
            const int want = (1 << count) - 1;
            skip = (_mm256_movemask_pd(clear) & want) == want;
        }
        if (!skip) {
            __m256d p = round_to4(k, exp4(_mm256_min_pd(q, zero)));
            p = _mm256_andnot_pd(over, p); /* the sum overflowed: p = x / inf = 0 */
            __m256d p_pos = _mm256_cmp_pd(p, zero, _CMP_GT_OQ);
            __m256d a = _mm256_sub_pd(zero, log4(_mm256_blendv_pd(one, p, p_pos)));
            a = round_to4(k, _mm256_blendv_pd(_mm256_set1_pd(INFINITY), a, p_pos));
            a = _mm256_blendv_pd(a, _mm256_set1_pd(NAN), s_zero); /* 0 / 0 */
            __m256d ok_a = finite_pd(a);
            __m256d sub = _mm256_and_pd(_mm256_and_pd(ok_a, p_pos),
                                        _mm256_cmp_pd(p, _mm256_set1_pd(D->tiny), _CMP_LT_OQ));
            f = _mm256_or_si256(f, bit_if(_mm256_and_pd(far, sub), base + F_SUBNORMAL));
            f = _mm256_or_si256(f, bit_if(_mm256_andnot_pd(ok_a, counted), base + F_FAIL_A));
            keep_largest4(R, slot, _mm256_div_pd(abs_pd(_mm256_sub_pd(a, loss)), scale),
                          _mm256_and_pd(counted, ok_a), i, count);
        }
        /* log-sum-exp without the max shift */
        __m256d b = finish4(k, _mm256_sub_pd(round_to4(k, lse), y));
        b = _mm256_blendv_pd(b, _mm256_set1_pd(INFINITY), _mm256_or_pd(s_zero, over));
        __m256d ok_b = finite_pd(b);
        f = _mm256_or_si256(f, bit_if(_mm256_andnot_pd(ok_b, counted), base + F_FAIL_B));
        keep_largest4(R, slot + 1, _mm256_div_pd(abs_pd(_mm256_sub_pd(b, loss)), scale),
                      _mm256_and_pd(counted, ok_b), i, count);
    }
    int64_t fl[4];
    _mm256_storeu_si256((__m256i *)fl, f);
    const int want = (1 << count) - 1, fin_rows = _mm256_movemask_pd(fin) & want;
    /* the rows that may join the KEEP worst: above the KEEP-th so far (which only rises) */
    int worse = 0;
    if (R->labelled) {
        const double bar = R->I[I_NTOP] < KEEP ? -INFINITY : R->loss[R->I[I_TOP + KEEP - 1]];
        worse = _mm256_movemask_pd(_mm256_cmp_pd(loss, _mm256_set1_pd(bar), _CMP_GT_OQ)) & fin_rows;
    }
    for (int l = 0; l < count; l++) {
        R->flags[i + l] = (uint32_t)fl[l];
        if (fin_rows >> l & 1) R->loss_hist[bl[l]]++;
        if (worse >> l & 1) keep_top(R, lossv[l], i + l);
        R->max_hist[bm[l]]++;
        R->range_hist[bs[l]]++;
        if (R->labelled) R->label_counts[ty[l]]++;
    }
    int npos = _mm256_movemask_pd(pos) & want;
    R->I[I_NLOSS] += __builtin_popcount(fin_rows);
    if (R->labelled) { R->I[I_NPROB] += __builtin_popcount(npos); R->I[I_NLOGPROB] += count; }
    return 1;
}

/* the address of row i's target value (prefetched: with wide rows each one is a cache miss) */
static inline const char *target_at(const Rows *R, Py_ssize_t i) {
    int64_t t = R->target ? R->target[i] : R->amin[i - R->s0];
    t = t < 0 || t >= R->c ? 0 : t;
    return R->z + (i * R->c + t) * kind_size(R->kind);
}

/* rows [start, stop), whose statistics R holds */
AVX static int all_rows_avx(Rows *R, Py_ssize_t start, Py_ssize_t stop) {
    const Py_ssize_t ahead = 32;
    /* rows of under 1 KiB: the targets share the cache lines the statistics just read */
    const int prefetch = R->c * kind_size(R->kind) >= 1024;
    for (Py_ssize_t i = start; i < stop; i += 4) {
        int count = stop - i < 4 ? (int)(stop - i) : 4;
        for (Py_ssize_t k = i + ahead; prefetch && k < i + ahead + 4 && k < stop; k++)
            _mm_prefetch(target_at(R, k), _MM_HINT_T0);
        if (!rows4(R, i, count)) return 0;
    }
    count_flags(R, start, stop);
    return 1;
}


#endif /* LC_X86 */

/* ---- which code runs: set once, at import (PyInit__kernel) ---------------------------- */
enum { MODE_PORTABLE, MODE_PORTABLE_VEC, MODE_AVX2, MODE_AVX512 };
static int mode;

static void stats_rows(const char *base, Py_ssize_t n, Py_ssize_t c, int kind, int want_amin,
                       double *m, int64_t *top, double *mn, int64_t *amin, double *rest,
                       double *min_abs) {
#if LC_X86
    if (mode >= MODE_AVX2) {
        stats_rows_avx(base, n, c, kind, want_amin, m, top, mn, amin, rest, min_abs);
        return;
    }
    if (mode == MODE_PORTABLE_VEC) {
        stats_rows_v(base, n, c, kind, want_amin, m, top, mn, amin, rest, min_abs);
        return;
    }
#endif
    stats_rows_p(base, n, c, kind, want_amin, m, top, mn, amin, rest, min_abs);
}

static void exp_many(const double *x, double *o, Py_ssize_t n) {
#if LC_X86
    if (mode >= MODE_AVX2) { exp_many_avx(x, o, n); return; }
    if (mode == MODE_PORTABLE_VEC) { exp_many_v(x, o, n); return; }
#endif
    exp_many_p(x, o, n);
}

static void log_many(const double *x, double *o, Py_ssize_t n, int one_plus) {
#if LC_X86
    if (mode >= MODE_AVX2) { log_many_avx(x, o, n, one_plus); return; }
    if (mode == MODE_PORTABLE_VEC) { log_many_v(x, o, n, one_plus); return; }
#endif
    log_many_p(x, o, n, one_plus);
}

static int all_rows(Rows *R, Py_ssize_t start, Py_ssize_t stop) {
#if LC_X86
    if (mode >= MODE_AVX2) return all_rows_avx(R, start, stop);
    if (mode == MODE_PORTABLE_VEC) return all_rows_v(R, start, stop);
#endif
    return all_rows_p(R, start, stop);
}


static int get(PyObject *obj, Py_buffer *view, int writable, Py_ssize_t need, const char *what) {
    if (PyObject_GetBuffer(obj, view, (writable ? PyBUF_WRITABLE : 0) | PyBUF_C_CONTIGUOUS) < 0)
        return -1;
    if (view->len < need) {
        PyErr_Format(PyExc_ValueError, "%s: buffer of %zd bytes, %zd needed", what,
                     view->len, need);
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

/* row_stats(z, kind, n, c, m, top, mn, amin, rest, min_abs[, want_amin]): amin is -1 where
 * want_amin is false (default true), except in blocks of few columns, which have it anyway.
 * z: C-contiguous (n, c) values of `kind`; outputs: float64 / int64 arrays of n. */
static PyObject *row_stats(PyObject *self, PyObject *args) {
    PyObject *objs[8], *zobj;
    int kind;
    Py_ssize_t n, c;
    int want_amin = 1;
    if (!PyArg_ParseTuple(args, "OinnOOOOOO|p", &zobj, &kind, &n, &c, &objs[0], &objs[1],
                          &objs[2], &objs[3], &objs[4], &objs[5], &want_amin))
        return NULL;
    if (kind < 0 || kind > 3 || n < 0 || c < 1) {
        PyErr_SetString(PyExc_ValueError, "bad kind or shape");
        return NULL;
    }
    Py_buffer z, out[6];
    if (get(zobj, &z, 0, n * c * kind_size(kind), "z") < 0) return NULL;
    int got = 0;
    for (; got < 6; got++)
        if (get(objs[got], &out[got], 1, n * 8, "output") < 0) break;
    if (got < 6) {
        for (int i = 0; i < got; i++) PyBuffer_Release(&out[i]);
        PyBuffer_Release(&z);
        return NULL;
    }
    double *m = out[0].buf, *mn = out[2].buf, *rest = out[4].buf, *min_abs = out[5].buf;
    int64_t *top = out[1].buf, *amin = out[3].buf;
    Py_BEGIN_ALLOW_THREADS
    stats_rows(z.buf, n, c, kind, want_amin, m, top, mn, amin, rest, min_abs);
    Py_END_ALLOW_THREADS
    for (int i = 0; i < 6; i++) PyBuffer_Release(&out[i]);
    PyBuffer_Release(&z);
    Py_RETURN_NONE;
}

static PyObject *exact_sum(PyObject *self, PyObject *args) {
    PyObject *xobj;
    if (!PyArg_ParseTuple(args, "O", &xobj)) return NULL;
    Py_buffer x;
    if (get(xobj, &x, 0, 0, "values") < 0) return NULL;
    const double *values = x.buf;
    Py_ssize_t n = x.len / 8;
    Bins *bins = PyMem_Calloc(1, sizeof(Bins));
    if (!bins) {
        PyBuffer_Release(&x);
        return PyErr_NoMemory();
    }
    int bad = 0;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n; i++) {
        if (!isfinite(values[i])) { bad = 1; break; }
        bins_add(bins, values[i]);
    }
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&x);
    PyObject *result = NULL;
    if (bad) {
        result = Py_None;
        Py_INCREF(result);
    } else {
        Acc acc = {{0}};
        bins_fold(bins, &acc);
        result = acc_long(&acc);
    }
    PyMem_Free(bins);
    return result;
}

/* bin_counts(values, edges, counts): counts[k] += 1 for each finite value with exactly k
 * edges <= value (numpy's searchsorted(edges, v, side="right")); edges ascending. */
static PyObject *bin_counts(PyObject *self, PyObject *args) {
    PyObject *vobj, *eobj, *cobj;
    if (!PyArg_ParseTuple(args, "OOO", &vobj, &eobj, &cobj)) return NULL;
    Py_buffer v, e, cnt;
    if (get(vobj, &v, 0, 0, "values") < 0) return NULL;
    if (get(eobj, &e, 0, 0, "edges") < 0) { PyBuffer_Release(&v); return NULL; }
    Py_ssize_t ne = e.len / 8;
    if (get(cobj, &cnt, 1, (ne + 1) * 8, "counts") < 0) {
        PyBuffer_Release(&v); PyBuffer_Release(&e); return NULL;
    }
    const double *x = v.buf, *edges = e.buf;
    int64_t *counts = cnt.buf;
    Py_ssize_t n = v.len / 8;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n; i++) {
        double t = x[i];
        if (!isfinite(t)) continue;
        Py_ssize_t lo = 0, len = ne; /* upper bound: lo = number of edges <= t */
        while (len > 0) {
            Py_ssize_t half = len >> 1;
            int right = edges[lo + half] <= t;
            lo = right ? lo + half + 1 : lo;
            len = right ? len - half - 1 : half;
        }
        counts[lo]++;
    }
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&cnt); PyBuffer_Release(&e); PyBuffer_Release(&v);
    Py_RETURN_NONE;
}

/* exp4 over a float64 buffer of values <= 0 (NaN gives 0): numerics and the tests. */
static PyObject *exp_values(PyObject *self, PyObject *args) {
    PyObject *xobj, *oobj;
    if (!PyArg_ParseTuple(args, "OO", &xobj, &oobj)) return NULL;
    Py_buffer x, o;
    if (get(xobj, &x, 0, 0, "x") < 0) return NULL;
    if (get(oobj, &o, 1, x.len, "out") < 0) { PyBuffer_Release(&x); return NULL; }
    const double *xs = x.buf;
    double *os = o.buf;
    Py_BEGIN_ALLOW_THREADS
    exp_many(xs, os, x.len / 8);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&o);
    PyBuffer_Release(&x);
    Py_RETURN_NONE;
}


static PyObject *log_values(PyObject *self, PyObject *args) {
    PyObject *xobj, *oobj;
    int one_plus;
    if (!PyArg_ParseTuple(args, "OOp", &xobj, &oobj, &one_plus)) return NULL;
    Py_buffer x, o;
    if (get(xobj, &x, 0, 0, "x") < 0) return NULL;
    if (get(oobj, &o, 1, x.len, "out") < 0) { PyBuffer_Release(&x); return NULL; }
    Py_BEGIN_ALLOW_THREADS
    log_many(x.buf, o.buf, x.len / 8, one_plus);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&o);
    PyBuffer_Release(&x);
    Py_RETURN_NONE;
}


/* The fused mode: the row statistics a block of FUSED_ROWS rows at a time, into buffers
 * that stay in cache, then the per-row stage on them. A separate row_stats wrote 48 bytes
 * a row to memory for the stage to read back, most of it freshly faulted-in pages in a new
 * process. agg: the block's min, max and smallest nonzero |z| (all rows finite); amin_out
 * (rows without targets): each row's argmin. */
#define FUSED_ROWS 512
static int fused_rows(Rows *R, double *agg, int64_t *amin_out) {
    double m[FUSED_ROWS], mn[FUSED_ROWS], rest[FUSED_ROWS], tiny[FUSED_ROWS];
    int64_t top[FUSED_ROWS], amin[FUSED_ROWS];
    const Py_ssize_t row_bytes = R->c * kind_size(R->kind);
    double lo = INFINITY, hi = -INFINITY, small = INFINITY;
    Py_ssize_t done = 0;
    R->m = m; R->mn = mn; R->rest = rest; R->top = top; R->amin = amin;
    for (Py_ssize_t s0 = 0; s0 < R->n; s0 += FUSED_ROWS) {
        const Py_ssize_t b = R->n - s0 < FUSED_ROWS ? R->n - s0 : FUSED_ROWS;
        stats_rows(R->z + s0 * row_bytes, b, R->c, R->kind, !R->labelled, m, top, mn, amin,
                   rest, tiny);
        R->s0 = s0;
        if (!all_rows(R, s0, s0 + b)) break;
        for (Py_ssize_t k = 0; k < b; k++) {
            lo = mn[k] < lo ? mn[k] : lo;
            hi = m[k] > hi ? m[k] : hi;
            small = tiny[k] < small ? tiny[k] : small;
        }
        if (amin_out) memcpy(amin_out + s0, amin, b * sizeof *amin);
        done = s0 + b;
    }
    R->m = R->mn = R->rest = NULL; R->top = R->amin = NULL; /* this frame's */
    agg[0] = lo; agg[1] = hi; agg[2] = small;
    return done == R->n;
}


/* softmax_rows(z, kind, c, target, m, top, mn, amin, rest, params, loss_edges, logit_edges,
 * loss, flags, F, I, loss_hist, max_hist, range_hist, label_counts[, agg, amin_out]):
 * target and label_counts None for rows without targets. m, top, mn, amin, rest None: the
 * fused mode (fused_rows), which computes them itself and needs agg (float64[3]) and, without
 * targets, amin_out (int64[n]). None where a row is declined. */
static PyObject *softmax_rows(PyObject *self, PyObject *args) {
    PyObject *o[20] = {NULL};
    int kind;
    Py_ssize_t c;
    if (!PyArg_ParseTuple(args, "OinOOOOOOOOOOOOOOOOO|OO", &o[0], &kind, &c, &o[1], &o[2],
                          &o[3], &o[4], &o[5], &o[6], &o[7], &o[8], &o[9], &o[10], &o[11],
                          &o[12], &o[13], &o[14], &o[15], &o[16], &o[17], &o[18], &o[19]))
        return NULL;
    /* o: z, target, m, top, mn, amin, rest, params, loss_edges, logit_edges, loss, flags,
     * F, I, loss_hist, max_hist, range_hist, label_counts, agg, amin_out */
    const int fused = o[2] == Py_None, labelled = o[1] != Py_None;
    Py_buffer v[20];
    int got = 0, ok = 1;
    for (; got < 20; got++) {
        v[got].obj = NULL;
        if (!o[got] || o[got] == Py_None) {
            /* absent: the target and label counts without targets, the statistics in the
             * fused mode, agg and amin_out outside it (and amin_out with targets) */
            if ((got == 1 || got == 17) && !labelled) continue;
            if (got >= 2 && got <= 6 && fused) continue;
            if (got >= 18 && (!fused || (got == 19 && labelled))) continue;
            PyErr_SetString(PyExc_TypeError, "softmax_rows: a needed buffer is None");
            ok = 0;
            break;
        }
        int writable = got >= 10;
        if (PyObject_GetBuffer(o[got], &v[got], (writable ? PyBUF_WRITABLE : 0) | PyBUF_C_CONTIGUOUS) < 0) {
            ok = 0;
            break;
        }
    }
    PyObject *result = NULL;
    Rows *r = PyMem_Calloc(1, sizeof(Rows)); /* zeroed: the accumulators start at 0 */
    if (!ok || !r) goto done;
    r->kind = kind; r->c = c;
    r->n = fused ? v[10].len / 8 : v[2].len / 8;
    r->z = v[0].buf;
    r->target = labelled ? v[1].buf : NULL;
    r->labelled = labelled;
    if (!fused) {
        r->m = v[2].buf; r->top = v[3].buf; r->mn = v[4].buf; r->amin = v[5].buf;
        r->rest = v[6].buf;
    }
    if (v[10].len < r->n * 8 || v[11].len < r->n * 4 || (labelled && v[1].len < r->n * 8)) {
        PyErr_SetString(PyExc_ValueError, "softmax_rows: loss, flags or target too short");
        goto done;
    }
    if (fused && (v[18].len < 24 || (!labelled && v[19].len < r->n * 8))) {
        PyErr_SetString(PyExc_ValueError, "softmax_rows: agg or amin_out too short");
        goto done;
    }
    const double *P = v[7].buf;
    r->sat_eps = P[0];
    r->ndt = (int)P[1];
    r->loss_scale = P[2]; r->loss_offset = P[3]; r->logit_scale = P[4]; r->logit_offset = P[5];
    if (r->ndt > MAX_DTYPES || v[0].len < r->n * c * kind_size(kind)) {
        PyErr_SetString(PyExc_ValueError, "softmax_rows: bad shape or dtypes");
        goto done;
    }
    for (int d = 0; d < r->ndt; d++) {
        const double *p = P + 6 + 6 * d;
        Dtype *D = &r->dt[d];
        D->kind = (int)p[0]; D->log_max = p[1]; D->zero_at = p[2]; D->log_tiny = p[3];
        D->tiny = p[4]; D->margin = p[5];
        D->m_tol = 0.01 + 1e-3 * fabs(D->zero_at);
        D->zy_cut = D->log_tiny + 1.0;
        D->m_cut = D->log_tiny + log((double)c) + 1.0;
        const double unit[] = {0x1p-53, 0x1p-24, 0x1p-11, 0x1p-8}; /* by KIND_* */
        D->gap_bound = 4.0 * (unit[D->kind] + 0x1p-52);
    }
    r->loss_edges = v[8].buf; r->nle = v[8].len / 8;
    r->logit_edges = v[9].buf; r->nge = v[9].len / 8;
    if (r->nle > MAX_EDGES || r->nge > MAX_EDGES) {
        PyErr_SetString(PyExc_ValueError, "softmax_rows: too many histogram edges");
        goto done;
    }
    for (int h = 0; h < 2; h++) {
        double *P = h ? r->logit_pad : r->loss_pad;
        const double *E = h ? r->logit_edges : r->loss_edges;
        Py_ssize_t ne = h ? r->nge : r->nle;
        P[0] = -INFINITY;
        memcpy(P + 1, E, ne * 8);
        P[ne + 1] = P[ne + 2] = INFINITY;
    }
    r->loss = v[10].buf; r->flags = v[11].buf; r->F = v[12].buf; r->I = v[13].buf;
    r->loss_hist = v[14].buf; r->max_hist = v[15].buf; r->range_hist = v[16].buf;
    r->label_counts = r->labelled ? v[17].buf : NULL;
    for (int s = 0; s < 64; s++) r->I[s] = 0;
    r->I[S_WORST] = r->I[S_RANGE] = r->I[S_LSE] = -1;
    for (int s = S_GAP; s < S_GAP + 2 * MAX_DTYPES; s++) r->I[s] = -1;
    int all;
    Py_BEGIN_ALLOW_THREADS
    all = fused ? fused_rows(r, v[18].buf, labelled ? NULL : v[19].buf) : all_rows(r, 0, r->n);
    Py_END_ALLOW_THREADS
    if (!all) { result = Py_None; Py_INCREF(result); goto done; }
    result = PyTuple_New(3);
    for (int s = 0; s < 3 && result; s++) {
        Acc acc = {{0}};
        bins_fold(&r->sums[s], &acc);
        PyObject *t = acc_long(&acc);
        if (!t) { Py_CLEAR(result); break; }
        PyTuple_SET_ITEM(result, s, t);
    }
done:
    for (int i = 0; i < got; i++)
        if (v[i].obj) PyBuffer_Release(&v[i]);
    PyMem_Free(r);
    return result;
}

/* the code this process uses: "avx512", "avx2", "portable" (the portable C; on x86-64 its
 * AVX2+FMA build), or "portable-baseline" (on x86-64, its build for any x86-64 CPU) */
static PyObject *simd(PyObject *self, PyObject *args) {
    static const char *names[] = {"portable", "portable", "avx2", "avx512"};
    return PyUnicode_FromString(mode == MODE_PORTABLE && LC_X86 ? "portable-baseline" : names[mode]);
}

/* the kernel runs on every CPU (the portable code where the CPU has no AVX2) */
static PyObject *available(PyObject *self, PyObject *args) {
    Py_RETURN_TRUE;
}

/* Whether fma() in the code in use is an instruction. The portable C takes 14 a value;
 * where each is a call into the C library (x86-64 without FMA: the baseline build, MSVC's
 * x64 code) the kernel is some 15 times slower than numpy, which then computes instead
 * (compute/kernel.py). GCC and Clang say where fma() is an instruction with __FP_FAST_FMA;
 * every ARMv8 CPU has one; the x86-64 SIMD code and its AVX2 build of the portable C are
 * compiled for FMA. */
#if defined(__FP_FAST_FMA) || defined(__aarch64__) || defined(_M_ARM64)
#define LC_FAST_FMA 1
#else
#define LC_FAST_FMA 0
#endif
static PyObject *fast_fma(PyObject *self, PyObject *args) {
#if LC_X86
    if (mode != MODE_PORTABLE) Py_RETURN_TRUE;
#endif
    return PyBool_FromLong(LC_FAST_FMA);
}

static PyMethodDef methods[] = {
    {"available", available, METH_NOARGS, "Whether this CPU runs the kernel (always: the portable code)."},
    {"simd", simd, METH_NOARGS, "The code in use: avx512, avx2, portable or portable-baseline."},
    {"fast_fma", fast_fma, METH_NOARGS, "Whether fma() is an instruction in the code in use."},
    {"row_stats", row_stats, METH_VARARGS, "Per-row statistics of a block (see _kernel.c)."},
    {"bin_counts", bin_counts, METH_VARARGS, "Histogram counts over ascending edges."},
    {"exact_sum", exact_sum, METH_VARARGS, "Exact sum of float64 values, times 2**1126."},
    {"exp_values", exp_values, METH_VARARGS, "exp of values <= 0, as the kernel computes it."},
    {"softmax_rows", softmax_rows, METH_VARARGS, "The per-row stage of a softmax block (see _kernel.c)."},
    {"log_values", log_values, METH_VARARGS, "log (or log1p) of values, as the kernel computes it."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_kernel", NULL, -1, methods};

/* LOGITCHECK_SIMD: avx2 / portable / portable-baseline force a narrower code (tests) */
PyMODINIT_FUNC PyInit__kernel(void) {
    const char *want = getenv("LOGITCHECK_SIMD");
    mode = MODE_PORTABLE;
#if LC_X86
    const int avx2 = have_avx2();
    if (!avx2 || (want && !strcmp(want, "portable-baseline"))) mode = MODE_PORTABLE;
    else if (want && !strcmp(want, "portable")) mode = MODE_PORTABLE_VEC;
    else if (want && !strcmp(want, "avx2")) mode = MODE_AVX2;
    else {
        simd512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
                  __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw");
        mode = simd512 ? MODE_AVX512 : MODE_AVX2;
    }
#else
    (void)want;
#endif
    return PyModule_Create(&module);
}

