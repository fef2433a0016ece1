/* The portable kernel: the same arithmetic as the AVX2 code of _kernel.c, lane for lane,
 * in plain C11 (loops, fma()), for every other CPU and compiler (aarch64, MSVC, ...).
 * Compilers vectorise its loops (NEON/SVE on ARM); the results are the same bits as the
 * AVX2 code's (tests/test_kernel.py compares them: LOGITCHECK_SIMD=portable).
 *
 * Included by _kernel.c once per instance: PT(name) names this instance's functions and
 * PATTR is their attribute (empty for the baseline build; on x86-64 with GCC/Clang a
 * second instance is compiled for AVX2+FMA, which LOGITCHECK_SIMD=portable selects: the
 * same C as the baseline one, vectorised as a compiler would for NEON). Nothing here may
 * use intrinsics, _Float16, __int128 or builtins. Floating-point contraction must be off
 * (setup.py: -ffp-contract=off; MSVC does not contract by default): a fused a*b+c would
 * change the bits. */

#if LC_VEC
/* whether any bit of a vector is set */
PATTR static inline int PT(any4)(v4di h) {
    return (h[0] | h[1] | h[2] | h[3]) != 0;
}
#endif

/* exp(x) = 2^k p(r), k = round(x / ln 2) (exp_reduced) */
PATTR static inline double PT(exp_reduced)(double x, int64_t *ki) {
    const double shift = 0x1.8p52;
    double kd = fma(x, EXP_LOG2E, shift);
    double k = kd - shift;
    *ki = (int64_t)(as_bits(kd) - as_bits(shift));
    double r = fma(-k, EXP_LN2_HI, x);
    r = fma(-k, EXP_LN2_LO, r);
    /* written out: a loop here kept the callers' loops from vectorising */
    double p = fma(EXP_POLY[0], r, EXP_POLY[1]);
    p = fma(p, r, EXP_POLY[2]); p = fma(p, r, EXP_POLY[3]); p = fma(p, r, EXP_POLY[4]);
    p = fma(p, r, EXP_POLY[5]); p = fma(p, r, EXP_POLY[6]); p = fma(p, r, EXP_POLY[7]);
    p = fma(p, r, EXP_POLY[8]); p = fma(p, r, EXP_POLY[9]); p = fma(p, r, EXP_POLY[10]);
    return fma(p, r, EXP_POLY[11]);
}

/* exp4's: x <= 0 (NaN: 0), clamped at -746, 2^k in two normal factors */
PATTR static inline double PT(exp_full)(double x) {
    int64_t ki;
    x = x > -746.0 ? x : -746.0;
    double p = PT(exp_reduced)(x, &ki);
    int64_t k1 = -(int64_t)((uint64_t)(-ki) >> 1), k2 = ki - k1;
    double s1 = as_double((uint64_t)(k1 + 1023) << 52), s2 = as_double((uint64_t)(k2 + 1023) << 52);
    return (p * s1) * s2;
}

/* exp4_narrow's: x in [-708, 0] (the same bits as exp_full there) */
PATTR static inline double PT(exp_narrow)(double x) {
    int64_t ki;
    double p = PT(exp_reduced)(x, &ki);
    return as_double(as_bits(p) + ((uint64_t)ki << 52));
}

/* (double)k for |k| < 2^51, exactly, in integer and float operations that vectorise
 * (AVX2 has no int64 -> double conversion) */
PATTR static inline double PT(small_int)(int64_t k) {
    return as_double(as_bits(0x1.8p52) + (uint64_t)k) - 0x1.8p52;
}

/* log_tail, LOG_REDUCE, log4 and log1p4 of _kernel.c, one value (loops of them vectorise) */
PATTR static inline double PT(log_tail)(double f, double dk, double c) {
    double hfsq = (0.5 * f) * f;
    double s = f / (2.0 + f);
    double z = s * s, w = z * z;
    double t1 = fma(w, LG6, LG4);
    t1 = w * fma(w, t1, LG2);
    double t2 = fma(w, LG7, LG5);
    t2 = fma(w, t2, LG3);
    t2 = z * fma(w, t2, LG1);
    double r = t2 + t1;
    double y = s * (hfsq + r);
    double lo = dk * LN2_LO;
    y = y + (lo + c);
    y = y - hfsq;
    y = y + f;
    double hi = dk * LN2_HI;
    return y + hi;
}

PATTR static inline double PT(log_reduce)(double x, int64_t *k) {
    uint64_t b = as_bits(x) + ((uint64_t)(0x3ff00000 - 0x3fe6a09e) << 32);
    *k = (int64_t)(b >> 52) - 0x3ff;
    b = (b & 0x000fffffffffffffULL) + ((uint64_t)0x3fe6a09e << 32);
    return as_double(b) - 1.0;
}

/* log(x), x > 0 finite */
PATTR static inline double PT(log_s)(double x) {
    int sub = x < 0x1p-1022;
    x = sub ? x * 0x1p54 : x;
    int64_t k;
    double f = PT(log_reduce)(x, &k);
    k -= sub ? 54 : 0;
    return PT(log_tail)(f, PT(small_int)(k), 0.0);
}

/* log1p(x), x >= 0 finite */
PATTR static inline double PT(log1p_s)(double x) {
    double u = 1.0 + x;
    int64_t k;
    double f = PT(log_reduce)(u, &k);
    double c = k > 1 ? 1.0 - (u - x) : x - (u - 1.0);
    c = c / u;
    c = k > 53 ? 0.0 : c;
    int near1 = x < 0x1.a827ap-2;
    return PT(log_tail)(near1 ? x : f, near1 ? 0.0 : PT(small_int)(k), near1 ? 0.0 : c);
}

/* x rounded to kind k (round_to4) and a float32 operation's result in kind k (finish4) */
PATTR static inline double PT(round_to)(int k, double x) {
    if (k == KIND_F64) return x;
    if (k == KIND_F32) return (double)(float)x;
    if (k == KIND_BF16) return bf16_round(x);
    return half_round(x);
}

PATTR static inline double PT(finish)(int k, double x) {
    if (k == KIND_F64) return x;
    if (k == KIND_F16) return half_round((double)(float)x);
    return PT(round_to)(k, (double)(float)x);
}

/* columns [j0, j0 + n) of a row as doubles */
PATTR static void PT(load_row)(const void *row, int kind, Py_ssize_t j0, Py_ssize_t n, double *x) {
    if (kind == KIND_F64) { memcpy(x, (const double *)row + j0, n * 8); return; }
    if (kind == KIND_F32) {
        const float *p = (const float *)row + j0;
        for (Py_ssize_t k = 0; k < n; k++) x[k] = p[k];
        return;
    }
    const uint16_t *h = (const uint16_t *)row + j0;
    if (kind == KIND_F16) for (Py_ssize_t k = 0; k < n; k++) x[k] = half_to_float(h[k]);
    else for (Py_ssize_t k = 0; k < n; k++) x[k] = bf16_to_float(h[k]);
}

/* columns [j0, j0 + n) of a row of float32/16/bfloat16 values as floats */
PATTR static void PT(load_rowf)(const void *row, int kind, Py_ssize_t j0, Py_ssize_t n, float *x) {
    if (kind == KIND_F32) { memcpy(x, (const float *)row + j0, n * 4); return; }
    const uint16_t *h = (const uint16_t *)row + j0;
    if (kind == KIND_F16) for (Py_ssize_t k = 0; k < n; k++) x[k] = half_to_float(h[k]);
    else for (Py_ssize_t k = 0; k < n; k++) x[k] = bf16_to_float(h[k]);
}

/* the first column holding v (which the row holds): 32 compares a step, OR-ed, then the
 * step that hit, value by value; c - 1 if none (not reached) */
PATTR static Py_ssize_t PT(first_equal)(const void *row, Py_ssize_t c, int kind, double v) {
    Py_ssize_t j = 0;
    if (kind == KIND_F64) {
        const double *p = row;
#if LC_VEC
        const v4d t = {v, v, v, v};
        for (; j + 32 <= c; j += 32) {
            v4di h = *(const v4d *)(p + j) == t;
            for (int k = 4; k < 32; k += 4) h |= *(const v4d *)(p + j + k) == t;
            if (PT(any4)(h)) break;
        }
#else
        for (; j + 16 <= c; j += 16) {
            int hit = 0;
            for (int l = 0; l < 16; l++) hit |= p[j + l] == v;
            if (hit) break;
        }
#endif
        while (j < c - 1 && p[j] != v) j++;
        return j;
    }
    const float f = (float)v; /* a value of the row: exact */
    float buf[32];
    for (; j + 32 <= c; j += 32) {
        const float *p = buf;
        if (kind == KIND_F32) p = (const float *)row + j;
        else PT(load_rowf)(row, kind, j, 32, buf);
#if LC_VEC
        const v8f t = {f, f, f, f, f, f, f, f};
        const v8i h = (*(const v8f *)p == t) | (*(const v8f *)(p + 8) == t) |
                      (*(const v8f *)(p + 16) == t) | (*(const v8f *)(p + 24) == t);
        if (PT(any4)((v4di)h)) break;
#else
        int hit = 0;
        for (int l = 0; l < 32; l++) hit |= p[l] == f;
        if (hit) break;
#endif
    }
    while (j < c - 1 && (float)load_any(row, kind, j) != f) j++;
    return j;
}

/* pass 1 of row_wide over n floats (a multiple of 8) in the AVX2 code's 8 lanes: max, min,
 * whether a NaN was seen, and |z| as unsigned bits less 1 (0 becomes the largest), whose
 * min is the smallest nonzero |z| less 1. (The largest |z| is that of the max or the min.) */
PATTR static inline void PT(pass1)(const float *src, Py_ssize_t n, float *mx, float *mn,
                                   int32_t *nan, uint32_t *tiny) {
#if LC_VEC /* the lanes as vectors (compilers left the loop below scalar) */
    v8f vmx = *(v8f *)mx, vmn = *(v8f *)mn;
    v8i vnan = *(v8i *)nan;
    v8u vtiny = *(v8u *)tiny;
    for (Py_ssize_t g = 0; g < n; g += 8) {
        const v8f v = *(const v8f *)(src + g);
        const v8u a1 = ((v8u)v & 0x7fffffffu) - 1u;
        vmx = VSELECT(v8f, vmx > v, vmx, v);
        vmn = VSELECT(v8f, vmn < v, vmn, v);
        vnan |= v != v;
        vtiny = VSELECT(v8u, vtiny < a1, vtiny, a1);
    }
    *(v8f *)mx = vmx; *(v8f *)mn = vmn; *(v8i *)nan = vnan; *(v8u *)tiny = vtiny;
#else
    for (Py_ssize_t g = 0; g < n; g += 8) {
        for (int l = 0; l < 8; l++) {
            float v = src[g + l];
            uint32_t a;
            memcpy(&a, &v, 4);
            a = (a & 0x7fffffffu) - 1;
            mx[l] = mx[l] > v ? mx[l] : v;
            mn[l] = mn[l] < v ? mn[l] : v;
            nan[l] |= v != v;
            tiny[l] = tiny[l] < a ? tiny[l] : a;
        }
    }
#endif
}

#define PCHUNK 1024 /* columns a step of pass 1 (a multiple of 8) */
#define P2BLOCK 128 /* and of pass 2 */

/* row_float / row_f64: pass 1 in the AVX2 code's lanes (8 floats or 4 doubles, the same
 * max/min order, so the same zero signs), pass 2's terms a chunk at a time into a buffer,
 * then summed in its lanes: lane l of a group of 8 columns j adds t[j + l] + t[j + 4 + l]
 * by TwoSum. */
PATTR static void PT(row_wide)(const void *row, Py_ssize_t c, int kind, int want_amin, RowOut *out) {
    double m, mnv, hi = 0, lo = INFINITY;
    int anynan = 0;
    if (kind == KIND_F64) {
        const double *p = row;
        double mx[4], mn[4], tiny[4];
        for (int l = 0; l < 4; l++) { mx[l] = -INFINITY; mn[l] = INFINITY; tiny[l] = INFINITY; }
        for (Py_ssize_t j = 0; j < c; j += 4) {
            for (int l = 0; l < 4; l++) {
                if (j + l >= c) continue; /* a masked lane: -inf / +inf change nothing */
                double v = p[j + l], a = fabs(v);
                mx[l] = mx[l] > v ? mx[l] : v;
                mn[l] = mn[l] < v ? mn[l] : v;
                anynan |= v != v;
                a = a == 0.0 ? INFINITY : a;
                tiny[l] = tiny[l] < a ? tiny[l] : a;
            }
        }
        m = mx[0]; mnv = mn[0]; lo = tiny[0];
        for (int l = 1; l < 4; l++) {
            m = mx[l] > m ? mx[l] : m;
            mnv = mn[l] < mnv ? mn[l] : mnv;
            lo = tiny[l] < lo ? tiny[l] : lo;
        }
        out->min_abs = lo;
    } else {
        float mx[8], mn[8], xf[PCHUNK];
        int32_t nan[8];
        uint32_t tiny[8];
        for (int l = 0; l < 8; l++) { mx[l] = -INFINITY; mn[l] = INFINITY; nan[l] = 0; tiny[l] = 0xffffffffu; }
        /* float32 rows are read in place, other kinds a chunk at a time as floats; a last
         * partial group of 8 is padded with its own first column */
        for (Py_ssize_t j0 = 0; j0 < c; j0 += PCHUNK) {
            const Py_ssize_t n = c - j0 < PCHUNK ? c - j0 : PCHUNK, whole = n & ~(Py_ssize_t)7;
            const float *src = (const float *)row + j0;
            if (kind != KIND_F32) {
                PT(load_rowf)(row, kind, j0, n, xf);
                src = xf;
            }
            PT(pass1)(src, whole, mx, mn, nan, tiny);
            if (whole < n) {
                float last[8];
                for (int l = 0; l < 8; l++) last[l] = src[whole + (whole + l < n ? l : 0)];
                PT(pass1)(last, 8, mx, mn, nan, tiny);
            }
        }
        uint32_t t = 0xffffffffu;
        for (int l = 0; l < 8; l++) {
            anynan |= nan[l] != 0;
            t = tiny[l] < t ? tiny[l] : t;
        }
        double h4[4], n4[4];
        for (int l = 0; l < 4; l++) {
            double a = mx[l], b = mx[l + 4], x = mn[l], y = mn[l + 4];
            h4[l] = a > b ? a : b;
            n4[l] = x < y ? x : y;
        }
        m = h4[0]; mnv = n4[0];
        for (int l = 1; l < 4; l++) {
            m = h4[l] > m ? h4[l] : m;
            mnv = n4[l] < mnv ? n4[l] : mnv;
        }
        if (t != 0xffffffffu) {
            float f;
            t += 1;
            memcpy(&f, &t, 4);
            lo = f;
        }
        hi = fabs(m) > fabs(mnv) ? fabs(m) : fabs(mnv);
        out->min_abs = lo;
    }
    out->nan = anynan;
    if (anynan) { /* as numpy's argmax and argmin: the first NaN */
        Py_ssize_t k = 0;
        while (k < c && load_any(row, kind, k) == load_any(row, kind, k)) k++;
        out->top = out->amin = k;
        out->m = out->mn = out->rest = NAN;
        return;
    }
    /* the first columns holding the max and min: as the AVX2 code, a read of the row up to
     * them (the argmin only where asked for) */
    const Py_ssize_t top = PT(first_equal)(row, c, kind, m);
    out->m = m; out->mn = mnv; out->top = top;
    out->amin = want_amin ? PT(first_equal)(row, c, kind, mnv) : -1;
    if (!isfinite(m)) { out->rest = NAN; return; }
    const double span = kind == KIND_F32 ? 0x1p28 : 0x1p44;
    const int exact = kind == KIND_F16 || (kind != KIND_F64 && !(hi > lo * span));
    const int narrow = m - mnv < 708.0;
    double rs[4] = {0, 0, 0, 0}, rc[4] = {0, 0, 0, 0};
    /* pass 2 a block of columns at a time, the next row's same columns fetched meanwhile
     * (pass 1 waits on memory otherwise; a prefetch never faults, past the block's end too) */
    const Py_ssize_t size = kind_size(kind);
    const char *next = (const char *)row + c * size;
    double x[P2BLOCK], t[P2BLOCK];
    for (Py_ssize_t j0 = 0; j0 < c; j0 += P2BLOCK) {
        const Py_ssize_t n = c - j0 < P2BLOCK ? c - j0 : P2BLOCK;
        for (Py_ssize_t b = j0 * size; b < (j0 + n) * size; b += 64) LC_PREFETCH(next + b);
        PT(load_row)(row, kind, j0, n, x);
        /* one loop per case, each without branches (they vectorise) */
        if (narrow) for (Py_ssize_t k = 0; k < n; k++) t[k] = PT(exp_narrow)(x[k] - m);
        else for (Py_ssize_t k = 0; k < n; k++) t[k] = PT(exp_full)(x[k] - m);
        if (!exact) {
            for (Py_ssize_t k = 0; k < n; k++) {
                double d = x[k] - m, back = d - x[k];
                double e = (x[k] - (d - back)) - (m + back);
                e = d > -746.0 ? e : 0.0;
                t[k] = fma(t[k], e, t[k]);
            }
        }
        if (top >= j0 && top < j0 + n) t[top - j0] = 0.0; /* the argmax is not a term */
        Py_ssize_t nn = (n + 7) & ~(Py_ssize_t)7;
        for (Py_ssize_t k = n; k < nn; k++) t[k] = 0.0;
#if LC_VEC
        v4d vrs, vrc;
        vrs = *(v4d *)rs; vrc = *(v4d *)rc;
        for (Py_ssize_t g = 0; g < nn; g += 8) {
            const v4d a = *(const v4d *)(t + g), b = *(const v4d *)(t + g + 4);
            v4d T = a + b, u = vrs + T, w = u - vrs;
            vrc = vrc + ((vrs - (u - w)) + (T - w));
            vrs = u;
        }
        *(v4d *)rs = vrs; *(v4d *)rc = vrc;
#else
        for (Py_ssize_t g = 0; g < nn; g += 8) {
            double T[4], u[4], w[4];
            for (int l = 0; l < 4; l++) T[l] = t[g + l] + t[g + 4 + l];
            for (int l = 0; l < 4; l++) u[l] = rs[l] + T[l];
            for (int l = 0; l < 4; l++) w[l] = u[l] - rs[l];
            for (int l = 0; l < 4; l++) rc[l] = rc[l] + ((rs[l] - (u[l] - w[l])) + (T[l] - w[l]));
            for (int l = 0; l < 4; l++) rs[l] = u[l];
        }
#endif
    }
    double rest = 0, comp = 0;
    for (int l = 0; l < 4; l++) {
        double v = rest + rs[l], bb = v - rest;
        comp += ((rest - (v - bb)) + (rs[l] - bb)) + rc[l];
        rest = v;
    }
    out->rest = rest + comp;
}

#if !LC_VEC /* (else rows_small_vec below) */
/* rows8_small's: eight rows of c <= SMALL_C floats at once, lane = row, column by column
 * (rows with a NaN or an infinite max go to row_wide) */
PATTR static void PT(rows_small)(const char *base, Py_ssize_t n, Py_ssize_t c, int kind,
                                 double *m, int64_t *top, double *mn, int64_t *amin,
                                 double *rest, double *min_abs) {
    const Py_ssize_t size = kind_size(kind);
    for (Py_ssize_t i = 0; i < n; i += 8) {
        const int cnt = n - i < 8 ? (int)(n - i) : 8;
        float v[SMALL_C][8];
        for (int l = 0; l < 8; l++) {
            float r[SMALL_C];
            PT(load_rowf)(base + (i + (l < cnt ? l : cnt - 1)) * c * size, kind, 0, c, r);
            for (Py_ssize_t j = 0; j < c; j++) v[j][l] = r[j];
        }
        float mx[8], mnf[8], big[8], tiny[8];
        int32_t tp[8], am[8], nan[8];
        for (int l = 0; l < 8; l++) {
            float a = fabsf(v[0][l]);
            mx[l] = mnf[l] = v[0][l];
            tp[l] = am[l] = 0;
            nan[l] = v[0][l] != v[0][l];
            big[l] = a;
            tiny[l] = a == 0.0f ? INFINITY : a;
        }
        for (Py_ssize_t j = 1; j < c; j++) {
            for (int l = 0; l < 8; l++) {
                float x = v[j][l], a = fabsf(x);
                int gt = x > mx[l], lt = x < mnf[l];
                mx[l] = gt ? x : mx[l];
                tp[l] = gt ? (int32_t)j : tp[l];
                mnf[l] = lt ? x : mnf[l];
                am[l] = lt ? (int32_t)j : am[l];
                nan[l] |= x != x;
                big[l] = big[l] > a ? big[l] : a;
                a = a == 0.0f ? INFINITY : a;
                tiny[l] = tiny[l] < a ? tiny[l] : a;
            }
        }
        double m0[8], rs[8], rc[8];
        int slow[8];
        for (int l = 0; l < 8; l++) {
            slow[l] = nan[l] || fabsf(mx[l]) == INFINITY;
            m0[l] = slow[l] ? 0.0 : (double)mx[l];
            rs[l] = rc[l] = 0.0;
        }
        /* the rounding error of z - max is always added here (it is 0 where exact: the
         * same bits as the AVX2 code, which skips it then), and exp is exp_full (the same
         * bits as exp_narrow where that applies) */
        for (Py_ssize_t j = 0; j < c; j++) {
            for (int l = 0; l < 8; l++) {
                double x = v[j][l], d = x - m0[l];
                double t = PT(exp_full)(d);
                double bb = d - x, e = (x - (d - bb)) - (m0[l] + bb);
                e = d > -746.0 ? e : 0.0;
                t = fma(t, e, t);
                t = tp[l] == j ? 0.0 : t;
                double u = rs[l] + t, w = u - rs[l];
                rc[l] = rc[l] + ((rs[l] - (u - w)) + (t - w));
                rs[l] = u;
            }
        }
        for (int l = 0; l < cnt; l++) {
            if (slow[l]) {
                RowOut r;
                PT(row_wide)(base + (i + l) * c * size, c, kind, 1, &r);
                m[i + l] = r.m; mn[i + l] = r.mn; top[i + l] = r.top; amin[i + l] = r.amin;
                rest[i + l] = r.rest; min_abs[i + l] = r.min_abs;
                continue;
            }
            m[i + l] = mx[l]; mn[i + l] = mnf[l]; top[i + l] = tp[l]; amin[i + l] = am[l];
            rest[i + l] = rs[l] + rc[l]; min_abs[i + l] = tiny[l];
        }
    }
}

#endif

#if LC_VEC
/* rows_small with generic vectors, eight rows a step: pass 1 on lanes of rows, then each
 * pass 2 step (shift, exp, rounding error, argmax dropped) a loop over the block's 8 * c
 * values that compilers vectorise, then the lanes' TwoSums column by column. The same
 * arithmetic per row, the same bits. */
PATTR static void PT(rows_small_vec)(const char *base, Py_ssize_t n, Py_ssize_t c, int kind,
                                     double *m, int64_t *top, double *mn, int64_t *amin,
                                     double *rest, double *min_abs) {
    const Py_ssize_t size = kind_size(kind), nv = 8 * c;
    const v8f pinf = {INFINITY, INFINITY, INFINITY, INFINITY, INFINITY, INFINITY, INFINITY, INFINITY};
    for (Py_ssize_t i = 0; i < n; i += 8) {
        const int cnt = n - i < 8 ? (int)(n - i) : 8;
        float v[SMALL_C * 8];
        for (int l = 0; l < 8; l++) {
            float r[SMALL_C];
            PT(load_rowf)(base + (i + (l < cnt ? l : cnt - 1)) * c * size, kind, 0, c, r);
            for (Py_ssize_t j = 0; j < c; j++) v[8 * j + l] = r[j];
        }
        v8f x = *(const v8f *)v, vmx = x, vmn = x;
        v8i vtp = {0}, vam = {0}, vnan = x != x;
        v8f a = (v8f)((v8u)x & 0x7fffffffu), big = a, tiny = VSELECT(v8f, a == 0.0f, pinf, a);
        for (Py_ssize_t j = 1; j < c; j++) {
            x = *(const v8f *)(v + 8 * j);
            const v8i gt = x > vmx, lt = x < vmn, jj = {0, 0, 0, 0, 0, 0, 0, 0};
            vmx = VSELECT(v8f, gt, x, vmx);
            vtp = VSELECT(v8i, gt, jj + (int32_t)j, vtp);
            vmn = VSELECT(v8f, lt, x, vmn);
            vam = VSELECT(v8i, lt, jj + (int32_t)j, vam);
            vnan |= x != x;
            a = (v8f)((v8u)x & 0x7fffffffu);
            big = VSELECT(v8f, big > a, big, a);
            a = VSELECT(v8f, a == 0.0f, pinf, a);
            tiny = VSELECT(v8f, tiny < a, tiny, a);
        }
        float mx[8], mnf[8], tn[8];
        int32_t tp[8], am[8], nan[8];
        *(v8f *)mx = vmx; *(v8f *)mnf = vmn; *(v8f *)tn = tiny;
        *(v8i *)tp = vtp; *(v8i *)am = vam; *(v8i *)nan = vnan;
        double m0[8];
        int slow[8];
        for (int l = 0; l < 8; l++) {
            slow[l] = nan[l] || fabsf(mx[l]) == INFINITY;
            m0[l] = slow[l] ? 0.0 : (double)mx[l];
        }
        /* column by column, the 8 lanes an inner loop (vectors of the lanes) */
        double xs[SMALL_C * 8], d[SMALL_C * 8], t[SMALL_C * 8];
        for (Py_ssize_t j = 0; j < c; j++)
            for (int l = 0; l < 8; l++) {
                xs[8 * j + l] = v[8 * j + l];
                d[8 * j + l] = xs[8 * j + l] - m0[l];
            }
        for (Py_ssize_t k = 0; k < nv; k++) t[k] = PT(exp_full)(d[k]);
        for (Py_ssize_t j = 0; j < c; j++)
            for (int l = 0; l < 8; l++) {
                const Py_ssize_t k = 8 * j + l;
                double bb = d[k] - xs[k], e = (xs[k] - (d[k] - bb)) - (m0[l] + bb);
                e = d[k] > -746.0 ? e : 0.0;
                t[k] = fma(t[k], e, t[k]);
            }
        for (int l = 0; l < 8; l++) t[8 * tp[l] + l] = 0.0; /* the argmax is not a term */
        v4d rs0 = {0}, rc0 = {0}, rs1 = {0}, rc1 = {0};
        for (Py_ssize_t j = 0; j < c; j++) {
            const v4d t0 = *(const v4d *)(t + 8 * j), t1 = *(const v4d *)(t + 8 * j + 4);
            v4d u = rs0 + t0, w = u - rs0;
            rc0 = rc0 + ((rs0 - (u - w)) + (t0 - w));
            rs0 = u;
            u = rs1 + t1; w = u - rs1;
            rc1 = rc1 + ((rs1 - (u - w)) + (t1 - w));
            rs1 = u;
        }
        double rsum[8];
        *(v4d *)rsum = rs0 + rc0;
        *(v4d *)(rsum + 4) = rs1 + rc1;
        for (int l = 0; l < cnt; l++) {
            if (slow[l]) {
                RowOut r;
                PT(row_wide)(base + (i + l) * c * size, c, kind, 1, &r);
                m[i + l] = r.m; mn[i + l] = r.mn; top[i + l] = r.top; amin[i + l] = r.amin;
                rest[i + l] = r.rest; min_abs[i + l] = r.min_abs;
                continue;
            }
            m[i + l] = mx[l]; mn[i + l] = mnf[l]; top[i + l] = tp[l]; amin[i + l] = am[l];
            rest[i + l] = rsum[l]; min_abs[i + l] = tn[l];
        }
    }
}
#endif

PATTR static void PT(stats_rows)(const char *base, Py_ssize_t n, Py_ssize_t c, int kind,
                                 int want_amin, double *m, int64_t *top, double *mn,
                                 int64_t *amin, double *rest, double *min_abs) {
    if (kind != KIND_F64 && c <= SMALL_C) {
#if LC_VEC
        PT(rows_small_vec)(base, n, c, kind, m, top, mn, amin, rest, min_abs);
#else
        PT(rows_small)(base, n, c, kind, m, top, mn, amin, rest, min_abs);
#endif
        return;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        RowOut r;
        PT(row_wide)(base + i * c * kind_size(kind), c, kind, want_amin, &r);
        m[i] = r.m; mn[i] = r.mn; top[i] = r.top; amin[i] = r.amin;
        rest[i] = r.rest; min_abs[i] = r.min_abs;
    }
}

PATTR static void PT(exp_many)(const double *x, double *o, Py_ssize_t n) {
    for (Py_ssize_t i = 0; i < n; i++) o[i] = PT(exp_full)(x[i]);
}

PATTR static void PT(log_many)(const double *x, double *o, Py_ssize_t n, int one_plus) {
    if (one_plus) for (Py_ssize_t i = 0; i < n; i++) o[i] = PT(log1p_s)(x[i]);
    else for (Py_ssize_t i = 0; i < n; i++) o[i] = PT(log_s)(x[i]);
}

/* the number of edges <= t, as bins4 of _kernel.c finds it: a guess from t's binade
 * (bin_guess: within one bin for log-spaced edges), then a step up and one down on the
 * padded edges P (-inf, the ne edges, +inf, +inf); a binary search cost a mispredicted
 * branch a step */
PATTR static inline Py_ssize_t PT(bin_of)(const double *P, Py_ssize_t ne, double t,
                                          double scale, double offset) {
    double g = 0.0;
    if (t > 0.0) {
        const double l2 = (double)(int64_t)(as_bits(t) >> 20) * 0x1p-32 - 1023.0;
        g = floor(fma(l2, scale * 0.6931471805599453, offset + 1.0));
    }
    g = g > 0.0 ? g : 0.0;
    g = g < (double)ne ? g : (double)ne;
    Py_ssize_t i = (Py_ssize_t)g;
    i += P[1 + i] <= t;
    i -= P[i] > t;
    return i > ne ? ne : i;
}

/* rows4's per-row stage, row i, the block's `at`-th (all_rows has its target, losses and
 * bins): 0 if its max, min, exp sum or target value is not finite. (rows4 skips a group's
 * exp and log where none of its four rows can beat the largest gap so far; here a row is
 * skipped on the same test alone: the same results, as rows4's comment explains.) */
PATTR static int PT(row_stage)(Rows *R, Py_ssize_t i, const StageBlock *B, int at) {
    const Py_ssize_t s = i - R->s0;
    const double m = R->m[s], mn = R->mn[s], rest = R->rest[s];
    const int64_t t = B->t[at];
    const double y = B->y[at], nlp = B->nlp[at];
    if (!(isfinite(m) && isfinite(mn) && isfinite(rest) && isfinite(y))) return 0;
    const double loss = B->loss[at], lse = B->lse[at], span = B->span[at];
    const int fin = isfinite(loss);
    uint32_t f = fin ? 0 : 1u << F_LOSS_NONFINITE;
    if (fin && loss < R->sat_eps) f |= 1u << F_SATURATED;
    if (span == 0.0) f |= 1u << F_CONSTANT;
    if (fin && R->top[s] == t) f |= 1u << F_CORRECT;
    R->loss[i] = loss;
    const int pos = y > 0.0;
    if (R->labelled) {
        if (y == 0.0) f |= 1u << F_ZERO_LABEL;
        /* -log(p_y), reading the values as probabilities: 0 where z_y <= 0 */
        bins_add(&R->sums[1], pos ? nlp : 0.0);
        bins_add(&R->sums[2], -y);
    }
    bins_add(&R->sums[0], fin ? loss : 0.0);
    if (fin) keep_largest(R->F, R->I, S_WORST, loss, i);
    keep_largest(R->F, R->I, S_RANGE, span, i);
    if (isfinite(lse)) keep_largest(R->F, R->I, S_LSE, fabs(lse), i);
    const double scale = fabs(loss) > 0x1p-52 ? fabs(loss) : 0x1p-52;
    for (int d = 0; d < R->ndt; d++) {
        const Dtype *D = &R->dt[d];
        const int k = D->kind, base = F_DTYPE + 6 * d, slot = S_GAP + 2 * d;
        const double q = 0.0 - loss;
        const int over = lse > D->log_max, s_zero = m < D->zero_at;
        const int near = !isfinite(lse) || fabs(lse - D->log_max) <= D->margin ||
                         fabs(m - D->zero_at) <= D->m_tol || fabs(q - D->zero_at) <= D->margin ||
                         fabs(q - D->log_tiny) <= D->margin || y < D->zy_cut || m < D->m_cut;
        const int counted = !near && fin;
        if (near) f |= 1u << (base + F_NEAR);
        if (!near && over) f |= 1u << (base + F_OVERFLOW);
        int skip = 0;
        if (R->I[slot] >= 0) {
            const double bound = D->gap_bound * (1.0 + fabs(loss)), best = R->F[slot] * scale;
            skip = fin && !(over || s_zero || near) && q > D->log_tiny && bound < best;
        }
        if (!skip) { /* softmax then log */
            double p = PT(round_to)(k, PT(exp_full)(q < 0.0 ? q : 0.0));
            p = over ? 0.0 : p; /* the sum overflowed: p = x / inf = 0 */
            const int p_pos = p > 0.0;
            double a = 0.0 - PT(log_s)(p_pos ? p : 1.0);
            a = PT(round_to)(k, p_pos ? a : INFINITY);
            a = s_zero ? NAN : a; /* 0 / 0 */
            const int ok_a = isfinite(a);
            if (!near && ok_a && p_pos && p < D->tiny) f |= 1u << (base + F_SUBNORMAL);
            if (!ok_a && counted) f |= 1u << (base + F_FAIL_A);
            if (counted && ok_a) keep_largest(R->F, R->I, slot, fabs(a - loss) / scale, i);
        }
        /* log-sum-exp without the max shift */
        double b = PT(finish)(k, PT(round_to)(k, lse) - y);
        b = s_zero || over ? INFINITY : b;
        const int ok_b = isfinite(b);
        if (!ok_b && counted) f |= 1u << (base + F_FAIL_B);
        if (counted && ok_b) keep_largest(R->F, R->I, slot + 1, fabs(b - loss) / scale, i);
    }
    R->flags[i] = f;
    if (fin) R->loss_hist[B->loss_bin[at]]++;
    if (R->labelled && fin) {
        const double bar = R->I[I_NTOP] < KEEP ? -INFINITY : R->loss[R->I[I_TOP + KEEP - 1]];
        if (loss > bar) keep_top(R, loss, i);
    }
    R->max_hist[B->max_bin[at]]++;
    R->range_hist[B->range_bin[at]]++;
    if (R->labelled) R->label_counts[t]++;
    R->I[I_NLOSS] += fin;
    if (R->labelled) { R->I[I_NPROB] += pos; R->I[I_NLOGPROB] += 1; }
    return 1;
}

/* rows [start, stop), STAGE_ROWS at a time: the block's targets, then its logs, losses
 * and histogram bins in loops that vectorise or at least overlap (the same bits as one
 * row at a time), then row_stage row by row */
PATTR static int PT(all_rows)(Rows *R, Py_ssize_t start, Py_ssize_t stop) {
    StageBlock B;
    double m[STAGE_ROWS], mn[STAGE_ROWS], rest[STAGE_ROWS], py[STAGE_ROWS], lr[STAGE_ROWS];
    for (int k = 0; k < STAGE_ROWS; k++) B.nlp[k] = 0.0;
    for (Py_ssize_t i0 = start; i0 < stop; i0 += STAGE_ROWS) {
        const int n = stop - i0 < STAGE_ROWS ? (int)(stop - i0) : STAGE_ROWS;
        for (int k = 0; k < n; k++) {
            const Py_ssize_t i = i0 + k, s = i - R->s0;
            const int64_t t = R->target ? R->target[i] : R->amin[s];
            if (t < 0 || t >= R->c) return 0;
            B.t[k] = t;
            B.y[k] = value_at(R, i, t);
            m[k] = R->m[s];
            mn[k] = R->mn[s];
            /* the logs' domains (rows outside them stop in row_stage) */
            rest[k] = R->rest[s] >= 0.0 && R->rest[s] < INFINITY ? R->rest[s] : 0.0;
            py[k] = B.y[k] > 0.0 && B.y[k] < INFINITY ? B.y[k] : 1.0;
        }
        for (int k = 0; k < n; k++) lr[k] = PT(log1p_s)(rest[k]);
        if (R->labelled) for (int k = 0; k < n; k++) B.nlp[k] = 0.0 - PT(log_s)(py[k]);
        for (int k = 0; k < n; k++) {
            B.loss[k] = (m[k] - B.y[k]) + lr[k];
            B.lse[k] = m[k] + lr[k];
            B.span[k] = m[k] - mn[k];
        }
        for (int k = 0; k < n; k++) {
            B.loss_bin[k] = PT(bin_of)(R->loss_pad, R->nle, B.loss[k], R->loss_scale, R->loss_offset);
            B.max_bin[k] = PT(bin_of)(R->logit_pad, R->nge, m[k], R->logit_scale, R->logit_offset);
            B.range_bin[k] = PT(bin_of)(R->logit_pad, R->nge, B.span[k], R->logit_scale,
                                        R->logit_offset);
        }
        for (int k = 0; k < n; k++)
            if (!PT(row_stage)(R, i0 + k, &B, k)) return 0;
    }
    count_flags(R, start, stop);
    return 1;
}
