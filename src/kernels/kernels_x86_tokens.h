// kernels_x86_tokens.h - the x86 GEMM tiles with lanes = tokens, for 4 or more tokens (prefill):
// 8 tokens' activations are repacked (8x8 int32 transposes) so that one vector holds the same 4
// elements of all 8 tokens, and a weight row's levels are broadcast 4 at a time against them.
// Each lane then holds one (row, token)'s whole block dot, so the canonical float order costs
// no horizontal sums. Part of kernels_x86.h (included from it, after the row tiles it falls
// back to for 1-3 tokens); compiled twice, for AVX2 and for AVX-512 VNNI.
#ifndef KITE_KERNELS_X86_TOKENS_H
#define KITE_KERNELS_X86_TOKENS_H

// ---- 32-element blocks, GEMM with lanes = tokens ---------------------------------------------
// For 4 or more tokens the activations of 8 tokens are repacked so that one vector holds the
// same 4 elements of all 8 tokens (lane = token); a weight row's 4 levels broadcast to every
// lane then make one int8 dot per 4 elements for all 8 tokens. The block's integer dot comes
// out whole in each lane (no horizontal sums) and its float term is one vector op for 8
// tokens: the canonical order at about half the instructions of the row tiles.

enum { TG = 8, SEGB = 64 }; // tokens per group (vector lanes), blocks per packed segment

// Stores 32 bytes from each of 8 sources (lane l = src[l]) as 8 vectors dst[k] whose lane l is
// bytes 4k..4k+3 of src[l]: an 8x8 transpose of int32.
AI void transpose8_store(const uint8_t *const src[TG], int32_t (*dst)[TG]) {
    __m256i r[8], t[8], u[8];
    for (int l = 0; l < 8; l++) r[l] = loadu(src[l]);
    for (int l = 0; l < 8; l += 2)
        t[l] = _mm256_unpacklo_epi32(r[l], r[l + 1]), t[l + 1] = _mm256_unpackhi_epi32(r[l], r[l + 1]);
    for (int l = 0; l < 8; l += 4) {
        u[l] = _mm256_unpacklo_epi64(t[l], t[l + 2]), u[l + 1] = _mm256_unpackhi_epi64(t[l], t[l + 2]);
        u[l + 2] = _mm256_unpacklo_epi64(t[l + 1], t[l + 3]), u[l + 3] = _mm256_unpackhi_epi64(t[l + 1], t[l + 3]);
    }
    for (int k = 0; k < 4; k++) {
        _mm256_storeu_si256((__m256i *)dst[k], _mm256_permute2x128_si256(u[k], u[k + 4], 0x20));
        _mm256_storeu_si256((__m256i *)dst[k + 4], _mm256_permute2x128_si256(u[k], u[k + 4], 0x31));
    }
}

static const uint8_t zero_bytes[sizeof(block_q8_K)]; // the source of lanes past the last token

// The running sums of ng tokens (lane = token) of one row: y[l * ys] when a previous segment
// left them there (carry), else +0.
AI __m256 sums_load(const float *y, size_t ys, int ng, int carry) {
    float lanes[TG] = {0};
    if (carry)
        for (int l = 0; l < ng; l++) lanes[l] = y[l * ys];
    return _mm256_loadu_ps(lanes);
}

AI void sums_store(__m256 acc, float *y, size_t ys, int ng) {
    float lanes[TG];
    _mm256_storeu_ps(lanes, acc);
    for (int l = 0; l < ng; l++) y[l * ys] = lanes[l];
}

// The level offset a kind's isum must take back: -offset * sum(a). Q4_0/Q5_0 store levels
// +8/+16; with VNNI the signed kinds are dotted as (q + 128) (unsigned, no saturation in
// dpbusd); AVX2's maddubs would saturate there, so it uses abs/sign instead (no offset).
AI int k_offset_shift(int kind) {
    if (kind == K_Q4_0) return 3;
    if (kind == K_Q5_0) return 4;
#ifdef KITE_X86_VNNI
    if (k_signed(kind)) return 7;
#endif
    return -1;
}

typedef struct packed8 {
    int32_t q[SEGB][8][TG]; // [block][k][token]: the token's elements 4k..4k+3
    float d[SEGB][TG];      // activation block scale
    float s[SEGB][TG];      // Q8_1's s (kinds with a min)
    int32_t off[SEGB][TG];  // -offset * sum of the block's 32 values
} packed8;

// Packs blocks [b0, b0 + nb) of ng <= TG activation rows; lanes past ng are zero.
AI void pack8(int kind, const uint8_t *a, size_t as, int ng, int b0, int nb, packed8 *P) {
    const size_t asz = k_has_min(kind) ? sizeof(block_q8_1) : sizeof(block_q8_0);
    const size_t aq = k_has_min(kind) ? 4 : 2;
    const int sh = k_offset_shift(kind);
    for (int b = 0; b < nb; b++) {
        const uint8_t *src[TG];
        for (int l = 0; l < TG; l++) {
            const uint8_t *ab = l < ng ? a + l * as + (size_t)(b0 + b) * asz : zero_bytes;
            src[l] = l < ng ? ab + aq : zero_bytes;
            P->d[b][l] = f16s(ab);
            if (k_has_min(kind)) P->s[b][l] = f16s(ab + 2);
        }
        transpose8_store(src, P->q[b]);
        if (sh >= 0) { // -offset * sum of the 32 values, from the transposed vectors
            __m256i sum = _mm256_setzero_si256();
            for (int k = 0; k < 8; k++) sum = dot_us_acc(sum, _mm256_set1_epi8(1), loadu(P->q[b][k]));
            _mm256_storeu_si256((__m256i *)P->off[b], _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(sum, sh)));
        }
    }
}

// isum + the dot of 16 levels (lanes 0..3 of the 128-bit half h, repeated in both halves) with
// 4 packed activation vectors v[0..3] (8 tokens each): lane k of h broadcast against v[k].
// abs_sign: the levels are signed and the dot goes through |w| . sign(a, w) (AVX2, whose maddubs
// would saturate on q + 128).
AI __m256i dot16_bcast(int abs_sign, __m256i isum, __m256i h, const int32_t (*v)[TG]) {
#define BCAST_DOT(k, imm)                                                                                       \
    do {                                                                                                        \
        const __m256i wk = _mm256_shuffle_epi32(h, imm);                                                        \
        isum = abs_sign ? dot_us_acc(isum, _mm256_abs_epi8(wk), _mm256_sign_epi8(loadu(v[k]), wk))              \
                        : dot_us_acc(isum, wk, loadu(v[k]));                                                    \
    } while (0)
    BCAST_DOT(0, 0x00);
    BCAST_DOT(1, 0x55);
    BCAST_DOT(2, 0xAA);
    BCAST_DOT(3, 0xFF);
#undef BCAST_DOT
    return isum;
}

// The low and the high 16 levels of a 32-level vector, each repeated in both 128-bit halves.
AI __m256i lev_lo(__m256i lev) { return _mm256_permute2x128_si256(lev, lev, 0x00); }
AI __m256i lev_hi(__m256i lev) { return _mm256_permute2x128_si256(lev, lev, 0x11); }

// nr rows x ng (4..8) tokens, the whole row length (nb blocks): y[t * ys + r].
static void gemm32_tokens(int kind, int nbt, const uint8_t *w, size_t ws, int nr, const uint8_t *a, size_t as, int ng,
                          float *y, size_t ys) {
    packed8 P;
    const size_t wsz = k_wsize(kind);
    const int sh = k_offset_shift(kind);
    const int abs_sign = sh < 0 && k_signed(kind); // AVX2's signed kinds
    for (int b0 = 0; b0 < nbt; b0 += SEGB) {
        const int nb = nbt - b0 < SEGB ? nbt - b0 : SEGB;
        pack8(kind, a, as, ng, b0, nb, &P);
        for (int r = 0; r < nr; r++) {
            const uint8_t *wb = w + r * ws + (size_t)b0 * wsz;
            __m256 acc = sums_load(y + r, ys, ng, b0 > 0);
            for (int b = 0; b < nb; b++, wb += wsz) {
                __m256i lev = k_levels(kind, wb);
                if (sh == 7) lev = _mm256_xor_si256(lev, _mm256_set1_epi8((char)0x80)); // q + 128
                __m256i isum = sh >= 0 ? loadu(P.off[b]) : _mm256_setzero_si256();
                isum = dot16_bcast(abs_sign, isum, lev_lo(lev), P.q[b]);
                isum = dot16_bcast(abs_sign, isum, lev_hi(lev), P.q[b] + 4);
                __m256 term = _mm256_mul_ps(_mm256_mul_ps(f16_bcast(wb), _mm256_loadu_ps(P.d[b])), _mm256_cvtepi32_ps(isum));
                if (k_has_min(kind)) term = _mm256_add_ps(term, _mm256_mul_ps(f16_bcast(wb + 2), _mm256_loadu_ps(P.s[b])));
                acc = _mm256_add_ps(acc, term);
            }
            sums_store(acc, y + r, ys, ng);
        }
    }
}

// ---- k-quants, GEMM with lanes = tokens ---------------------------------------------------------
// As gemm32_tokens: 8 tokens' Q8_K activations repacked so that one vector holds the same 4
// elements of all 8 tokens, a super-block's levels decoded once per row into eight 32-level
// vectors and broadcast 4 at a time. Sub-block scales multiply the 8 tokens' integer sums
// (lane = token); offsets and min terms come from the activations' bsums, packed as int16 pairs
// so that one madd gives two 16-element groups for 8 tokens. The integer sums equal the row
// tiles' exactly, and the float term is the canonical one.

enum { SEGK = 4 }; // super-blocks per packed segment

typedef struct packedK {
    int32_t q[SEGK][64][TG]; // [super-block][k][token]: the token's elements 4k..4k+3
    int32_t bs[SEGK][8][TG]; // [super-block][p][token]: bsums 2p and 2p+1 as two int16
    float d[SEGK][TG];
} packedK;

AI void packK(const uint8_t *a, size_t as, int ng, int b0, int nb, packedK *P) {
    for (int b = 0; b < nb; b++) {
        const block_q8_K *ab[TG];
        const uint8_t *src[TG];
        for (int l = 0; l < TG; l++) {
            ab[l] = l < ng ? (const block_q8_K *)(a + l * as) + b0 + b : (const block_q8_K *)zero_bytes;
            P->d[b][l] = ab[l]->d;
        }
        for (int c = 0; c < 8; c++) { // 32 elements at a time
            for (int l = 0; l < TG; l++) src[l] = (const uint8_t *)ab[l]->qs + 32 * c;
            transpose8_store(src, P->q[b] + 8 * c);
        }
        for (int l = 0; l < TG; l++) src[l] = (const uint8_t *)ab[l]->bsums; // 16 int16 = 32 bytes
        transpose8_store(src, P->bs[b]);
    }
}

// One super-block of a row, decoded: lev[g] holds elements 32g..32g+31 as unsigned levels (or
// signed ones for IQ4_XS without VNNI); lane g of sca / scb is the integer scale of elements
// 32g..32g+15 / 32g+16..32g+31; lane p of spair / mpair holds the scales / mins of elements
// 32p..32p+15 and 32p+16..32p+31 as two int16 (for bsum_dot); off is the level offset (the
// integer sum takes back off * sum(scale * bsum)). All scale work stays in vectors.
typedef struct kdec {
    __m256i lev[8], sca, scb, spair, mpair;
    int off, same_halves;
    float d, dmin;
} kdec;

// 16 int8 scales (element 16h.. has scale h) -> sca, scb and spair.
AI void scales_from16(__m128i s16, int is_signed, __m256i *sca, __m256i *scb, __m256i *spair) {
    const __m128i even = _mm_shuffle_epi8(s16, _mm_setr_epi8(0, 2, 4, 6, 8, 10, 12, 14, -1, -1, -1, -1, -1, -1, -1, -1));
    const __m128i odd = _mm_shuffle_epi8(s16, _mm_setr_epi8(1, 3, 5, 7, 9, 11, 13, 15, -1, -1, -1, -1, -1, -1, -1, -1));
    *sca = is_signed ? _mm256_cvtepi8_epi32(even) : _mm256_cvtepu8_epi32(even);
    *scb = is_signed ? _mm256_cvtepi8_epi32(odd) : _mm256_cvtepu8_epi32(odd);
    *spair = is_signed ? _mm256_cvtepi8_epi16(s16) : _mm256_cvtepu8_epi16(s16);
}

AI void kdecode(int kind, const uint8_t *wb, kdec *D) {
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    D->off = 0, D->dmin = 0, D->same_halves = 0;
    D->spair = D->mpair = _mm256_setzero_si256();
    if (kind == K_Q4_K || kind == K_Q5_K) {
        const block_q4_K *x4 = (const block_q4_K *)wb; // Q5_K starts the same way
        const uint8_t *qs = kind == K_Q4_K ? x4->qs : ((const block_q5_K *)wb)->qs;
        D->d = f16s(&x4->d), D->dmin = f16s(&x4->dmin);
        const __m128i sm = k4_scales_mins(x4->scales); // 8 scales, then 8 mins (one per 32)
        D->sca = D->scb = _mm256_cvtepu8_epi32(sm);
        const __m256i mins = _mm256_cvtepu8_epi32(_mm_srli_si128(sm, 8));
        D->mpair = _mm256_or_si256(mins, _mm256_slli_epi32(mins, 16));
        D->same_halves = 1;
        const __m256i qh = kind == K_Q5_K ? loadu(((const block_q5_K *)wb)->qh) : _mm256_setzero_si256();
        for (int j = 0; j < 4; j++) {
            const __m256i bytes = loadu(qs + 32 * j);
            __m256i lo = _mm256_and_si256(bytes, m4), hi = _mm256_and_si256(_mm256_srli_epi16(bytes, 4), m4);
            if (kind == K_Q5_K) {
                const __m256i h16 = _mm256_set1_epi8(0x10);
                lo = _mm256_or_si256(lo, _mm256_and_si256(j < 2 ? _mm256_slli_epi16(qh, 4 - 2 * j) : _mm256_srli_epi16(qh, 2 * j - 4), h16));
                hi = _mm256_or_si256(hi, _mm256_and_si256(j < 2 ? _mm256_slli_epi16(qh, 3 - 2 * j) : _mm256_srli_epi16(qh, 2 * j - 3), h16));
            }
            D->lev[2 * j] = lo, D->lev[2 * j + 1] = hi;
        }
    } else if (kind == K_Q6_K) {
        const block_q6_K *x6 = (const block_q6_K *)wb;
        D->d = f16s(&x6->d), D->off = 32;
        scales_from16(_mm_loadu_si128((const __m128i *)x6->scales), 1, &D->sca, &D->scb, &D->spair);
        for (int h = 0; h < 2; h++) {
            const __m256i ql0 = loadu(x6->ql + 64 * h), ql1 = loadu(x6->ql + 64 * h + 32), qhv = loadu(x6->qh + 32 * h);
            for (int i = 0; i < 4; i++) {
                __m256i lo = (i & 1) ? ql1 : ql0;
                lo = _mm256_and_si256(i >> 1 ? _mm256_srli_epi16(lo, 4) : lo, m4);
                const __m256i hb = i < 2 ? _mm256_slli_epi16(qhv, 4 - 2 * i) : _mm256_srli_epi16(qhv, 2 * i - 4);
                D->lev[4 * h + i] = _mm256_or_si256(lo, _mm256_and_si256(hb, _mm256_set1_epi8(0x30)));
            }
        }
    } else if (kind == K_Q3_K) {
        const block_q3_K *x3 = (const block_q3_K *)wb;
        D->d = f16s(&x3->d), D->off = 4;
        int8_t scb[16];
        kite__unpack_scales_q3k(x3->scales, scb);
        scales_from16(_mm_loadu_si128((const __m128i *)scb), 1, &D->sca, &D->scb, &D->spair);
        const __m256i hm = loadu(x3->hmask);
        for (int h = 0; h < 2; h++) {
            const __m256i qv = loadu(x3->qs + 32 * h);
            for (int j = 0; j < 4; j++) {
                const __m256i lo = _mm256_and_si256(_mm256_srli_epi16(qv, 2 * j), _mm256_set1_epi8(3));
                const __m256i bit = _mm256_set1_epi8((char)(1 << (4 * h + j)));
                const __m256i hb = _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(hm, bit), bit), _mm256_set1_epi8(4));
                D->lev[4 * h + j] = _mm256_or_si256(lo, hb); // level + 4, in 0..7
            }
        }
    } else if (kind == K_Q2_K) {
        const block_q2_K *x2 = (const block_q2_K *)wb;
        D->d = f16s(&x2->d), D->dmin = f16s(&x2->dmin);
        const __m128i b = _mm_loadu_si128((const __m128i *)x2->scales);
        scales_from16(_mm_and_si128(b, _mm_set1_epi8(0x0F)), 0, &D->sca, &D->scb, &D->spair);
        __m256i ma, mb;
        scales_from16(_mm_and_si128(_mm_srli_epi16(b, 4), _mm_set1_epi8(0x0F)), 0, &ma, &mb, &D->mpair);
        for (int h = 0; h < 2; h++) {
            const __m256i qv = loadu(x2->qs + 32 * h);
            for (int j = 0; j < 4; j++) D->lev[4 * h + j] = _mm256_and_si256(_mm256_srli_epi16(qv, 2 * j), _mm256_set1_epi8(3));
        }
    } else { // IQ4_XS: signed non-linear levels, one scale per 32
        const block_iq4_xs *xi = (const block_iq4_xs *)wb;
        D->d = f16s(&xi->d);
        int ls[8];
        for (int sb = 0; sb < 8; sb++)
            ls[sb] = (((xi->scales_l[sb / 2] >> (4 * (sb & 1))) & 0x0F) | (((xi->scales_h >> (2 * sb)) & 3) << 4)) - 32;
        D->sca = D->scb = _mm256_setr_epi32(ls[0], ls[1], ls[2], ls[3], ls[4], ls[5], ls[6], ls[7]);
        D->spair = _mm256_or_si256(_mm256_and_si256(D->sca, _mm256_set1_epi32(0xFFFF)), _mm256_slli_epi32(D->sca, 16));
        D->same_halves = 1;
        const __m256i tbl = iq4nl_table();
        for (int sb = 0; sb < 8; sb++) {
            D->lev[sb] = _mm256_shuffle_epi8(tbl, nibbles32(xi->qs + 16 * sb));
#ifdef KITE_X86_VNNI
            D->lev[sb] = _mm256_xor_si256(D->lev[sb], _mm256_set1_epi8((char)0x80)); // q + 128
#endif
        }
#ifdef KITE_X86_VNNI
        D->off = 128;
#endif
    }
}

AI __m256i lane_bcast(__m256i v, int i) { return _mm256_permutevar8x32_epi32(v, _mm256_set1_epi32(i)); }

// sum over h of c[h] * bsum[h] for 8 tokens (lane = token): lane p of pairs holds c[2p], c[2p+1]
// as int16, against the tokens' bsum pairs.
AI __m256i bsum_dot(__m256i pairs, const int32_t (*bs)[TG]) {
    __m256i s = _mm256_setzero_si256();
    for (int p = 0; p < 8; p++) s = _mm256_add_epi32(s, _mm256_madd_epi16(loadu(bs[p]), lane_bcast(pairs, p)));
    return s;
}

// nr rows x ng (4..8) tokens over the whole row (nbt super-blocks): y[t * ys + r].
static void gemmK_tokens(int kind, int nbt, const uint8_t *w, size_t ws, int nr, const uint8_t *a, size_t as, int ng,
                         float *y, size_t ys) {
    packedK P;
    const size_t wsz = kk_wsize(kind);
    const int has_min = kind == K_Q4_K || kind == K_Q5_K || kind == K_Q2_K;
    const int abs_sign = kind == K_IQ4_XS && !KITE_X86_HAS_VNNI; // signed levels on AVX2
    for (int b0 = 0; b0 < nbt; b0 += SEGK) {
        const int nb = nbt - b0 < SEGK ? nbt - b0 : SEGK;
        packK(a, as, ng, b0, nb, &P);
        for (int r = 0; r < nr; r++) {
            const uint8_t *wb = w + r * ws + (size_t)b0 * wsz;
            __m256 acc = sums_load(y + r, ys, ng, b0 > 0);
            for (int b = 0; b < nb; b++, wb += wsz) {
                kdec D;
                kdecode(kind, wb, &D);
                __m256i isum = _mm256_setzero_si256();
                for (int g = 0; g < 8; g++) {
                    const int32_t(*q)[TG] = P.q[b] + 8 * g;
                    const __m256i ia = dot16_bcast(abs_sign, _mm256_setzero_si256(), lev_lo(D.lev[g]), q);
                    const __m256i ib = dot16_bcast(abs_sign, _mm256_setzero_si256(), lev_hi(D.lev[g]), q + 4);
                    if (D.same_halves)
                        isum = _mm256_add_epi32(isum, _mm256_mullo_epi32(_mm256_add_epi32(ia, ib), lane_bcast(D.sca, g)));
                    else
                        isum = _mm256_add_epi32(isum, _mm256_add_epi32(_mm256_mullo_epi32(ia, lane_bcast(D.sca, g)),
                                                                       _mm256_mullo_epi32(ib, lane_bcast(D.scb, g))));
                }
                if (D.off) isum = _mm256_sub_epi32(isum, _mm256_mullo_epi32(bsum_dot(D.spair, P.bs[b]), _mm256_set1_epi32(D.off)));
                const __m256 da = _mm256_loadu_ps(P.d[b]);
                __m256 term = _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(D.d), da), _mm256_cvtepi32_ps(isum));
                if (has_min)
                    term = _mm256_sub_ps(term, _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(D.dmin), da), _mm256_cvtepi32_ps(bsum_dot(D.mpair, P.bs[b]))));
                acc = _mm256_add_ps(acc, term);
            }
            sums_store(acc, y + r, ys, ng);
        }
    }
}

// A tile: groups of 4..8 tokens through `gemm` (gemm32_tokens or gemmK_tokens), the rest (GEMV,
// and up to 3 tokens) through `micro`'s row tiles; bs is the weight block size.
#define X86_TILE_TOKENS(name, micro, gemm, kind, bs)                                                             \
    KITE_TILE(name##_rows, micro, kind, n / (bs))                                                                \
    static void name(int n, const void *wv, size_t ws, int nr, const void *av, size_t as, int nt, float *y,     \
                     size_t ys) {                                                                               \
        const uint8_t *a = av;                                                                                  \
        int t = 0;                                                                                              \
        for (; nt - t >= 4; t += TG)                                                                            \
            gemm(kind, n / (bs), wv, ws, nr, a + t * as, as, nt - t < TG ? nt - t : TG, y + t * ys, ys);        \
        if (t < nt) name##_rows(n, wv, ws, nr, a + t * as, as, nt - t, y + t * ys, ys);                        \
    }
#define X86_TILE32(name, kind) X86_TILE_TOKENS(name, micro32, gemm32_tokens, kind, 32)
#define X86_TILEK(name, kind) X86_TILE_TOKENS(name, micro_k, gemmK_tokens, kind, QK_K)

#endif
