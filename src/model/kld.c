// kld.c - KL divergence of a model's token distributions from a base model's, as
// llama-perplexity's --kl-divergence computes it, over the base's log-probabilities in that
// tool's compressed form (so a base file made by llama.cpp is read here and the other way round).
#include <math.h>

#include "model/model_internal.h"

int32_t kite_kld_row_len(int32_t n_vocab) { return 2 * ((n_vocab + 1) / 2) + 4; }

// Round to nearest, ties to even, for the 16-bit levels (0 .. 65535).
static uint16_t level(float v) { return (uint16_t)(int32_t)rintf(v); }

double kite_kld_encode_row(const float *logits, int32_t n_vocab, int32_t tok, uint16_t *row) {
    float mx = logits[0], mn = logits[0];
    for (int32_t i = 1; i < n_vocab; i++) {
        mx = logits[i] > mx ? logits[i] : mx;
        mn = logits[i] < mn ? logits[i] : mn;
    }
    // log-probabilities more than 16 below the top are stored as the floor
    mn = mn > mx - 16 ? mn : mx - 16;
    double sum_exp = 0.0;
    for (int32_t i = 0; i < n_vocab; i++) sum_exp += expf(logits[i] - mx);
    const float log_sum_exp = (float)log(sum_exp);
    const float head[2] = {(mx - mn) / 65535.f, mn - mx - log_sum_exp}; // scale, the floor's log-prob
    memcpy(row, head, sizeof head);
    uint16_t *lv = row + 4;
    memset(lv, 0, (size_t)(kite_kld_row_len(n_vocab) - 4) * sizeof(uint16_t));
    if (head[0] != 0.0f) {
        const float inv = 1 / head[0];
        for (int32_t i = 0; i < n_vocab; i++) lv[i] = logits[i] > mn ? level(inv * (logits[i] - mn)) : 0;
    }
    return mx + log_sum_exp - logits[tok];
}

void kite_kld_add_row(kite_kld_stats *st, const float *logits, int32_t n_vocab, const uint16_t *base_row, int32_t tok,
                      float *kld_out, float *p_diff_out) {
    float mx = logits[0];
    int32_t imax = 0;
    for (int32_t i = 1; i < n_vocab; i++)
        if (logits[i] > mx) {
            mx = logits[i];
            imax = i;
        }
    double sum_exp = 0.0;
    for (int32_t i = 0; i < n_vocab; i++) sum_exp += expf(logits[i] - mx);
    const float log_sum_exp = (float)log(sum_exp);
    float head[2];
    memcpy(head, base_row, sizeof head);
    const float scale = head[0], min_log_prob = head[1];
    const uint16_t *lv = base_row + 4;

    const float nll = mx + log_sum_exp - logits[tok];
    const float nll_base = -(scale * lv[tok] + min_log_prob);
    st->sum_nll += nll;
    st->sum_nll2 += nll * nll;
    st->sum_nll_base += nll_base;
    st->sum_nll_base2 += nll_base * nll_base;
    st->sum_nll_nll_base += nll * nll_base;

    // sum over tokens of p_base * (log p_base - log p), skipping base probabilities below e^-16
    const float log_norm = mx + log_sum_exp;
    double kld = 0.0;
    int32_t imax_base = 0;
    float top_base = 0.0f;
    for (int32_t i = 0; i < n_vocab; i++) {
        const float lp_base = scale * lv[i] + min_log_prob;
        if (i == 0 || lp_base > top_base) {
            top_base = lp_base;
            imax_base = i;
        }
        if (lp_base > -16.f) kld += expf(lp_base) * (lp_base - logits[i] + log_norm);
    }
    st->sum_kld += kld;
    st->sum_kld2 += kld * kld;
    st->count++;
    st->n_same_top += imax == imax_base;

    // the change in the probability of the token that came
    const float p_diff = expf(-nll) - expf(-nll_base);
    const double p_diff2 = p_diff * p_diff; // a float product, as llama-perplexity's
    st->sum_p_diff += p_diff;
    st->sum_p_diff2 += p_diff2;
    st->sum_p_diff4 += p_diff2 * p_diff2;
    st->max_p_diff = fabsf(p_diff) > st->max_p_diff ? fabsf(p_diff) : st->max_p_diff;
    if (kld_out) *kld_out = (float)kld;
    if (p_diff_out) *p_diff_out = p_diff;
}

// Mean and its standard error, as llama-perplexity reports them (0 error for 10 values or fewer).
static void mean_err(double sum, double sum2, int64_t n, double *mean, double *err) {
    *mean = n > 0 ? sum / (double)n : 0.0;
    const double var = n > 0 ? sum2 / (double)n - *mean * *mean : 0.0;
    *err = var > 0 && n > 10 ? sqrt(var / (double)(n - 1)) : 0.0;
}

static int cmp_float(const void *a, const void *b) {
    const float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

// Linear interpolation between the sorted values around fraction (0..1), as llama-perplexity's.
static float percentile(const float *v, size_t n, float fraction) {
    if (fraction <= 0) return v[0];
    if (fraction >= 1) return v[n - 1];
    float p = fraction * (float)(n - 1);
    const size_t ip = (size_t)p;
    p -= (float)ip;
    return (1 - p) * v[ip] + p * v[ip + 1 < n ? ip + 1 : n - 1];
}

static float median(const float *v, size_t n) { return n % 2 ? v[n / 2] : 0.5f * (v[n / 2] + v[n / 2 - 1]); }

void kite_kld_report_make(const kite_kld_stats *st, float *kld_values, float *p_diff_values, kite_kld_report *r) {
    memset(r, 0, sizeof *r);
    const int64_t n = st->count;
    r->count = n;
    if (n < 1) return;
    double lp, lp_err, lb, lb_err;
    mean_err(st->sum_nll, st->sum_nll2, n, &lp, &lp_err);
    mean_err(st->sum_nll_base, st->sum_nll_base2, n, &lb, &lb_err);
    const double cov = n < 10 ? 0.0
                              : (st->sum_nll_nll_base / (double)n - (st->sum_nll / (double)n) * (st->sum_nll_base / (double)n)) /
                                    (double)(n - 1);
    r->ppl = exp(lp);
    r->ppl_err = r->ppl * lp_err;
    r->ppl_base = exp(lb);
    r->ppl_base_err = r->ppl_base * lb_err;
    r->ln_ppl_ratio = lp - lb;
    r->ln_ppl_ratio_err = sqrt(lp_err * lp_err + lb_err * lb_err - 2.0 * cov);
    r->ppl_ratio = exp(r->ln_ppl_ratio);
    r->ppl_cor = cov / (lp_err * lb_err);
    mean_err(st->sum_kld, st->sum_kld2, n, &r->kld_mean, &r->kld_err);
    double mse, mse_err;
    mean_err(st->sum_p_diff2, st->sum_p_diff4, n, &mse, &mse_err);
    r->p_diff_rms = sqrt(mse);
    r->p_diff_rms_err = 0.5 / r->p_diff_rms * mse_err;
    mean_err(st->sum_p_diff, st->sum_p_diff2, n, &r->p_diff_mean, &r->p_diff_err);
    r->same_top = (double)st->n_same_top / (double)n;
    r->same_top_err = n > 1 ? sqrt(r->same_top * (1 - r->same_top) / (double)(n - 1)) : 0.0;
    if (!kld_values || !p_diff_values) return;
    const size_t m = (size_t)n;
    qsort(kld_values, m, sizeof(float), cmp_float);
    qsort(p_diff_values, m, sizeof(float), cmp_float);
    static const float fractions[KITE_KLD_N_PCT] = {1.0f, 0.999f, 0.99f, 0.95f, 0.90f, 0.50f, 0.10f, 0.05f, 0.01f, 0.001f, 0.0f};
    for (int i = 0; i < KITE_KLD_N_PCT; i++) {
        r->kld_pct[i] = fractions[i] == 0.5f ? median(kld_values, m) : percentile(kld_values, m, fractions[i]);
        r->p_diff_pct[i] = fractions[i] == 0.5f ? median(p_diff_values, m) : percentile(p_diff_values, m, fractions[i]);
    }
}
