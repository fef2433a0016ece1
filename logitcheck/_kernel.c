/* The one pass over every value of a block of rows: the per-row statistics from which
 * logitcheck derives the stable loss, the naive paths and the evidence (numerics.py).
 *
 * Per row of C values (float64, float32, float16, or bfloat16 given as its uint16 bits):
 *   max and its first index, min and its first index, the smallest nonzero |z|, and
 *   rest = sum over j != argmax of exp(z_j - max), with the rounding error of
 *   z_j - max kept (TwoSum) and the sum compensated, so that log1p(rest) is accurate
 *   to an ulp or two even for confident rows.
 *
 * exp is computed here, vectorised (4 doubles a step with AVX2+FMA, chosen at run time),
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

#define LANES 8
#define BLOCK 256

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

static inline double load_f64(const void *p, Py_ssize_t j) { return ((const double *)p)[j]; }
static inline double load_f32(const void *p, Py_ssize_t j) { return ((const float *)p)[j]; }
static inline double load_f16(const void *p, Py_ssize_t j) {
    return (double)(float)((const _Float16 *)p)[j];
}
static inline double load_bf16(const void *p, Py_ssize_t j) {
    uint32_t u = (uint32_t)((const uint16_t *)p)[j] << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* The AVX2 + FMA pass: 8 lanes (two vectors of 4) per row, lane = column index mod 8;
 * the last columns are read with a mask, so every column goes through the same arithmetic. */
#include <immintrin.h>

#define AVX __attribute__((target("avx2,fma,f16c")))

AVX static inline __m256d lane_mask(int count) {
    const __m256i idx = _mm256_setr_epi64x(0, 1, 2, 3);
    return _mm256_castsi256_pd(_mm256_cmpgt_epi64(_mm256_set1_epi64x(count), idx));
}

/* exp(r) on |r| <= ln2/2: degree 11, fitted on Chebyshev nodes (mpmath.chebyfit), error
 * 3e-18. */
AVX static inline __m256d poly11(__m256d r) {
    __m256d p = _mm256_set1_pd(2.511003760596377770812334e-8);
    p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(2.763263963904102974422942e-7));
    p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(2.755724091857896982302399e-6));
    p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(2.480148548232849241896507e-5));
    p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(1.984126989004711370668263e-4));
    p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(1.388888895231477465241583e-3));
    p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(8.333333333319600610909625e-3));
    p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(4.16666666664880954954391e-2));
    p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(0.1666666666666668080566418));
    p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(0.5000000000000018385526257));
    p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(1.0));
    p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(1.0));
    return p;
}

AVX static inline __m256d exp4(__m256d x) {
    const __m256d shift = _mm256_set1_pd(0x1.8p52);
    x = _mm256_max_pd(x, _mm256_set1_pd(-746.0));
    __m256d kd = _mm256_fmadd_pd(x, _mm256_set1_pd(0x1.71547652b82fep0), shift);
    __m256d k = _mm256_sub_pd(kd, shift);
    __m256i ki = _mm256_sub_epi64(_mm256_castpd_si256(kd), _mm256_castpd_si256(shift));
    __m256d r = _mm256_fnmadd_pd(k, _mm256_set1_pd(0x1.62e42fefa3800p-1), x);
    r = _mm256_fnmadd_pd(k, _mm256_set1_pd(0x1.ef35793c7673p-45), r);
    __m256d p = poly11(r);
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
    const __m256d shift = _mm256_set1_pd(0x1.8p52);
    __m256d kd = _mm256_fmadd_pd(x, _mm256_set1_pd(0x1.71547652b82fep0), shift);
    __m256d k = _mm256_sub_pd(kd, shift);
    __m256i ki = _mm256_sub_epi64(_mm256_castpd_si256(kd), _mm256_castpd_si256(shift));
    __m256d r = _mm256_fnmadd_pd(k, _mm256_set1_pd(0x1.62e42fefa3800p-1), x);
    r = _mm256_fnmadd_pd(k, _mm256_set1_pd(0x1.ef35793c7673p-45), r);
    __m256d p = poly11(r);
    __m256d s = _mm256_castsi256_pd(_mm256_slli_epi64(
        _mm256_add_epi64(ki, _mm256_set1_epi64x(1023)), 52));
    return _mm256_mul_pd(p, s);
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

/* Pass 2 over eight columns (a: j..j+3, b: j+4..j+7): t = exp(z - max) (times 1 + the
 * rounding error of z - max, unless that is known to be exact), a + b added with TwoSum
 * into (rs, rc). EXP is exp4, or exp4_narrow when the row's range is below 708. */
#define PASS2(a, b, j0, ka, kb, EXACT, EXP)                                        \
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
        __m256d t_ = _mm256_add_pd(_mm256_and_pd(ta_, ka), _mm256_and_pd(tb_, kb)); \
        __m256d u_ = _mm256_add_pd(rs, t_);                                        \
        __m256d w_ = _mm256_sub_pd(u_, rs);                                        \
        rc = _mm256_add_pd(rc, _mm256_add_pd(_mm256_sub_pd(rs, _mm256_sub_pd(u_, w_)), \
                                             _mm256_sub_pd(t_, w_)));              \
        rs = u_;                                                                   \
    } while (0)

/* Pass 2 over the whole row with one choice of EXACT and EXP (so that the loop has no
 * branch but the argmax block's). */
#define PASS2_ROW(EXACT, EXP)                                                      \
    do {                                                                           \
        Py_ssize_t j = 0;                                                          \
        for (; j + 8 <= c; j += 8) {                                               \
            __m256d a, b;                                                          \
            LOAD2(j, 8);                                                           \
            PASS2(a, b, j, all, all, EXACT, EXP);                                  \
        }                                                                          \
        if (j < c) {                                                               \
            int na = c - j < 4 ? (int)(c - j) : 4, nb = (int)(c - j) - na;         \
            __m256d a, b;                                                          \
            LOAD2(j, (int)(c - j));                                                \
            __m256d ka = lane_mask(na), kb = lane_mask(nb);                        \
            PASS2(a, b, j, ka, kb, EXACT, EXP);                                    \
        }                                                                          \
    } while (0)

/* The row after pass 1: argmax/argmin, then pass 2. LOAD2 fills a, b (float64) for
 * columns j..j+7. */
#define FINISH_ROW(EXACT_EXPR)                                                             \
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
        out->amin = first_equal(row, c, kind, mnv);                                        \
        if (!isfinite(m)) { out->rest = NAN; return; }                                     \
        const __m256d mv = _mm256_set1_pd(m);                                              \
        const __m256d floor = _mm256_set1_pd(-746.0);                                      \
        const __m256d all = _mm256_castsi256_pd(_mm256_set1_epi64x(-1));                   \
        __m256d rs = _mm256_setzero_pd(), rc = rs;                                         \
        const Py_ssize_t top8 = top - top % 8;                                             \
        const int tl = (int)(top % 8);                                                     \
        const __m256d drop_a = _mm256_andnot_pd(lane_mask(tl), lane_mask(tl + 1));         \
        const __m256d drop_b = _mm256_andnot_pd(lane_mask(tl - 4), lane_mask(tl - 3));     \
        const int narrow = m - mnv < 708.0; /* every exp(z - max) is normal or 1 */       \
        if (EXACT_EXPR) {                                                                  \
            if (narrow) PASS2_ROW(1, exp4_narrow); else PASS2_ROW(1, exp4);                \
        } else {                                                                           \
            if (narrow) PASS2_ROW(0, exp4_narrow); else PASS2_ROW(0, exp4);                \
        }                                                                                  \
        double r[4], e[4];                                                                 \
        _mm256_storeu_pd(r, rs); _mm256_storeu_pd(e, rc);                                  \
        double rest = 0, comp = 0;                                                         \
        for (int l = 0; l < 4; l++) {                                                      \
            double v = rest + r[l], bb = v - rest;                                         \
            comp += ((rest - (v - bb)) + (r[l] - bb)) + e[l];                              \
            rest = v;                                                                      \
        }                                                                                  \
        out->rest = rest + comp;                                                           \
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

/* float32 / float16 / bfloat16 rows: pass 1 on 8 floats at a time. */
AVX static void row_float(const void *row, Py_ssize_t c, int kind, RowOut *out) {
    const __m256 ninf = _mm256_set1_ps(-INFINITY), pinf = _mm256_set1_ps(INFINITY);
    const __m256 sign = _mm256_set1_ps(-0.0f), zero = _mm256_setzero_ps();
    __m256 mx = ninf, mn = pinf, tiny = pinf, big = zero, nan = zero;
    Py_ssize_t j = 0;
    for (; j < c; j += 8) {
        int count = c - j < 8 ? (int)(c - j) : 8;
        __m256 v = load8(row, j, kind, count);
        __m256 keep = count < 8 ? mask8(count) : _mm256_castsi256_ps(_mm256_set1_epi32(-1));
        mx = _mm256_max_ps(mx, _mm256_blendv_ps(ninf, v, keep));
        mn = _mm256_min_ps(mn, _mm256_blendv_ps(pinf, v, keep));
        nan = _mm256_or_ps(nan, _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
        __m256 a = _mm256_andnot_ps(sign, v);
        big = _mm256_max_ps(big, a); /* masked lanes are 0 */
        tiny = _mm256_min_ps(tiny, _mm256_blendv_ps(a, pinf, _mm256_cmp_ps(a, zero, _CMP_EQ_OQ)));
    }
    int anynan = _mm256_movemask_ps(nan) != 0;
    double m = lanes_max_ps(mx), mnv = lanes_min_ps(mn);
    double lo = lanes_min_ps(tiny), hi = lanes_max_ps(big);
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
    FINISH_ROW(kind == KIND_F16 || !(hi > lo * span));
#undef LOAD2
}

/* float64 rows: pass 1 on 4 doubles at a time, two vectors a step. */
AVX static void row_f64(const void *row, Py_ssize_t c, int kind, RowOut *out) {
    const __m256d ninf = _mm256_set1_pd(-INFINITY), pinf = _mm256_set1_pd(INFINITY);
    const __m256d sign = _mm256_set1_pd(-0.0), zero = _mm256_setzero_pd();
    __m256d mx = ninf, mn = pinf, nan = _mm256_setzero_pd(), tiny = pinf;
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
    FINISH_ROW(0);
#undef LOAD2
}

static int have_avx2(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
           __builtin_cpu_supports("f16c");
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

/* row_stats(z, kind, n, c, m, top, mn, amin, rest, min_abs)
 * z: C-contiguous (n, c) values of `kind`; outputs: float64 / int64 arrays of n. */
static PyObject *row_stats(PyObject *self, PyObject *args) {
    PyObject *objs[8], *zobj;
    int kind;
    Py_ssize_t n, c;
    if (!PyArg_ParseTuple(args, "OinnOOOOOO", &zobj, &kind, &n, &c, &objs[0], &objs[1],
                          &objs[2], &objs[3], &objs[4], &objs[5]))
        return NULL;
    static const Py_ssize_t size[] = {8, 4, 2, 2};
    if (kind < 0 || kind > 3 || n < 0 || c < 1) {
        PyErr_SetString(PyExc_ValueError, "bad kind or shape");
        return NULL;
    }
    Py_buffer z, out[6];
    if (get(zobj, &z, 0, n * c * size[kind], "z") < 0) return NULL;
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
    const char *base = z.buf;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n; i++) {
        RowOut r;
        if (kind == KIND_F64) row_f64(base + i * c * size[kind], c, kind, &r);
        else row_float(base + i * c * size[kind], c, kind, &r);
        m[i] = r.m; mn[i] = r.mn; top[i] = r.top; amin[i] = r.amin;
        rest[i] = r.rest; min_abs[i] = r.min_abs;
    }
    Py_END_ALLOW_THREADS
    for (int i = 0; i < 6; i++) PyBuffer_Release(&out[i]);
    PyBuffer_Release(&z);
    Py_RETURN_NONE;
}

AVX static void exp_many(const double *x, double *o, Py_ssize_t n) {
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

/* exact_sum(values): the exact sum of finite float64 values times 2**1126, as a Python
 * int (mergeable.ExactSum); None if a value is not finite. Every finite double is
 * mant * 2**(e - 1126) with 53-bit mant and e in [52, 2097]: mant is added at bit e of a
 * fixed-point accumulator of 32-bit digits held in int64 (carries settled every 2**30). */
#define DIGITS 70
static void settle(int64_t *d) {
    for (int i = 0; i < DIGITS - 1; i++) {
        int64_t carry = d[i] >> 32; /* arithmetic: floor division by 2**32 */
        d[i] -= carry << 32;
        d[i + 1] += carry;
    }
}

static PyObject *exact_sum(PyObject *self, PyObject *args) {
    PyObject *xobj;
    if (!PyArg_ParseTuple(args, "O", &xobj)) return NULL;
    Py_buffer x;
    if (get(xobj, &x, 0, 0, "values") < 0) return NULL;
    const uint64_t *bits = x.buf;
    Py_ssize_t n = x.len / 8;
    int64_t d[DIGITS];
    memset(d, 0, sizeof d);
    int bad = 0;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n; i++) {
        uint64_t b = bits[i];
        int e = (int)((b >> 52) & 0x7ff);
        if (e == 0x7ff) { bad = 1; break; }
        uint64_t mant = b & ((1ULL << 52) - 1);
        if (e) mant |= 1ULL << 52; else e = 1;
        int pos = e + 51; /* (e - 1075) + 1126 */
        unsigned __int128 v = (unsigned __int128)mant << (pos & 31);
        int k = pos >> 5;
        int64_t p0 = (int64_t)(uint32_t)v, p1 = (int64_t)(uint32_t)(v >> 32),
                p2 = (int64_t)(uint32_t)(v >> 64);
        if (b >> 63) { d[k] -= p0; d[k + 1] -= p1; d[k + 2] -= p2; }
        else { d[k] += p0; d[k + 1] += p1; d[k + 2] += p2; }
        if ((i & ((1 << 30) - 1)) == (1 << 30) - 1) settle(d);
    }
    settle(d);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&x);
    if (bad) Py_RETURN_NONE;
    /* sum of d[i] * 2**(32 i), the top digit holding the sign */
    PyObject *total = PyLong_FromLongLong(0), *shift = PyLong_FromLong(32);
    for (int i = DIGITS - 1; i >= 0 && total; i--) {
        PyObject *t = PyNumber_Lshift(total, shift);
        Py_DECREF(total);
        if (!t) { total = NULL; break; }
        PyObject *digit = PyLong_FromLongLong(d[i]);
        total = PyNumber_Add(t, digit);
        Py_DECREF(t);
        Py_DECREF(digit);
    }
    Py_DECREF(shift);
    return total;
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

static PyObject *available(PyObject *self, PyObject *args) {
    return PyBool_FromLong(have_avx2());
}

static PyMethodDef methods[] = {
    {"available", available, METH_NOARGS, "Whether this CPU runs the kernel (AVX2, FMA, F16C)."},
    {"row_stats", row_stats, METH_VARARGS, "Per-row statistics of a block (see _kernel.c)."},
    {"bin_counts", bin_counts, METH_VARARGS, "Histogram counts over ascending edges."},
    {"exact_sum", exact_sum, METH_VARARGS, "Exact sum of float64 values, times 2**1126."},
    {"exp_values", exp_values, METH_VARARGS, "exp of values <= 0, as the kernel computes it."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_kernel", NULL, -1, methods};

PyMODINIT_FUNC PyInit__kernel(void) { return PyModule_Create(&module); }
