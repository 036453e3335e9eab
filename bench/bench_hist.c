/*
 * bench_hist.c - rmq-bench's latency histograms and error tallies
 * (bench.h).  Runs in the rmq-bench process only; plain memory.
 *
 * Bucket layout: values below 2 * SUB (256) have a bucket each; above,
 * a value with its highest set bit at m (m >= 8) lands in octave
 * m - SUB_BITS, sub-bucket v >> (m - SUB_BITS) in [SUB, 2 * SUB), so
 * every octave has SUB buckets of equal width and the relative width is
 * at most 1 / SUB.
 */
#include "bench/bench.h"

#include <stdio.h>
#include <string.h>

#define HIST_TOP ((UINT64_C(1) << RMQ_BENCH_HIST_MAX_BITS) - 1)

void
rmq_bench_hist_init(rmq_bench_hist *h)
{
    memset(h, 0, sizeof(*h));
}

uint32_t
rmq_bench_hist_index(uint64_t v)
{
    uint32_t m, shift;

    if (v > HIST_TOP) {
        v = HIST_TOP;
    }
    if (v < 2 * RMQ_BENCH_HIST_SUB) {
        return (uint32_t)v;
    }
    m = 63u - (uint32_t)__builtin_clzll(v);
    shift = m - RMQ_BENCH_HIST_SUB_BITS;
    return shift * RMQ_BENCH_HIST_SUB + (uint32_t)(v >> shift);
}

/* The highest value that lands in bucket idx. */
uint64_t
rmq_bench_hist_upper(uint32_t idx)
{
    uint32_t shift, mant;

    if (idx < 2 * RMQ_BENCH_HIST_SUB) {
        return idx;
    }
    shift = idx / RMQ_BENCH_HIST_SUB - 1;
    mant = idx - shift * RMQ_BENCH_HIST_SUB;
    return (((uint64_t)mant + 1) << shift) - 1;
}

void
rmq_bench_hist_add(rmq_bench_hist *h, int64_t value_us)
{
    uint64_t v = value_us < 0 ? 0 : (uint64_t)value_us;

    h->buckets[rmq_bench_hist_index(v)]++;
    if (h->count == 0 || v < h->min) {
        h->min = v;
    }
    if (v > h->max) {
        h->max = v;
    }
    h->count++;
    h->sum += v;
}

void
rmq_bench_hist_merge(rmq_bench_hist *into, const rmq_bench_hist *h)
{
    if (h->count == 0) {
        return;
    }
    for (uint32_t i = 0; i < RMQ_BENCH_HIST_BUCKETS; i++) {
        into->buckets[i] += h->buckets[i];
    }
    if (into->count == 0 || h->min < into->min) {
        into->min = h->min;
    }
    if (h->max > into->max) {
        into->max = h->max;
    }
    into->count += h->count;
    into->sum += h->sum;
}

/*
 * The smallest bucket whose cumulative count reaches rank q * count
 * (rounded to the nearest whole sample, as HdrHistogram does, so that
 * floating-point dust in q * count cannot move it by one; at least 1),
 * reported as that bucket's highest value; the bucket of the max reports
 * the max itself.
 */
uint64_t
rmq_bench_hist_pct(const rmq_bench_hist *h, double q)
{
    uint64_t rank, seen = 0;

    if (h->count == 0) {
        return 0;
    }
    rank = (uint64_t)(q * (double)h->count + 0.5);
    if (rank < 1) {
        rank = 1;
    }
    if (rank > h->count) {
        rank = h->count;
    }
    for (uint32_t i = 0; i < RMQ_BENCH_HIST_BUCKETS; i++) {
        seen += h->buckets[i];
        if (seen >= rank) {
            uint64_t up = rmq_bench_hist_upper(i);
            return up < h->max ? (up > h->min ? up : h->min) : h->max;
        }
    }
    return h->max;
}

double
rmq_bench_hist_mean(const rmq_bench_hist *h)
{
    return h->count ? (double)h->sum / (double)h->count : 0.0;
}

/* ---- errors by code ----------------------------------------------------- */

void
rmq_bench_errs_add(rmq_bench_errs *e, int32_t code, uint64_t n)
{
    uint32_t i;

    if (n == 0) {
        return;
    }
    e->total += n;
    for (i = 0; i < e->n; i++) {
        if (e->code[i] == code) {
            e->count[i] += n;
            return;
        }
    }
    if (e->n < RMQ_BENCH_ERRS_MAX) {
        e->code[e->n] = code;
        e->count[e->n++] = n;
        return;
    }
    e->count[RMQ_BENCH_ERRS_MAX - 1] += n; /* lumped with the last code */
}

const char *
rmq_bench_errs_name(int32_t code, char *buf, size_t cap)
{
    switch (code) {
    case RMQ_BENCH_ERR_TIMEOUT:
        return "timeout";
    case RMQ_BENCH_ERR_CLOSED:
        return "closed";
    case RMQ_BENCH_ERR_SEND:
        return "send_failed";
    case RMQ_BENCH_ERR_BADREC:
        return "bad_record";
    case RMQ_BENCH_ERR_BADRESP:
        return "bad_response";
    default:
        snprintf(buf, cap, "%d", (int)code);
        return buf;
    }
}
