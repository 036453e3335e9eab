/*
 * bench_report.c - what rmq-bench prints at the end of a run (bench.h):
 * a summary for people, or with --json one JSON object on stdout.
 * Throughput is over the span from the first request to the last
 * response counted; MB are 10^6 bytes of message bodies; latencies are
 * microseconds.
 */
#include "bench/bench.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

static double
report_elapsed(const rmq_bench_side *s)
{
    return s->end_us > s->start_us ? (double)(s->end_us - s->start_us) / 1e6
                                   : 0.0;
}

static double
report_rate(double n, double secs)
{
    return secs > 0 ? n / secs : 0.0;
}

/* This process's CPU seconds (all threads: librmq's too). */
static void
report_cpu(double *user_s, double *sys_s)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    *user_s = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6;
    *sys_s = (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* Messages the client handled: sent OK plus consumed. */
static uint64_t
report_msgs(const rmq_bench *b)
{
    return b->pre.msgs + b->ps.msgs + b->cs.msgs;
}

/* e2e: messages answered OK that the consumer never saw. */
static uint64_t
report_missing(const rmq_bench *b)
{
    return b->ps.msgs > b->stamped ? b->ps.msgs - b->stamped : 0;
}

/* ---- JSON --------------------------------------------------------------- */

static json_t *
report_lat_json(const rmq_bench_hist *h)
{
    return json_pack(
        "{s:I, s:I, s:f, s:I, s:I, s:I, s:I, s:I}", "count",
        (json_int_t)h->count, "min", (json_int_t)h->min, "mean",
        rmq_bench_hist_mean(h), "p50", (json_int_t)rmq_bench_hist_pct(h, 0.50),
        "p90", (json_int_t)rmq_bench_hist_pct(h, 0.90), "p99",
        (json_int_t)rmq_bench_hist_pct(h, 0.99), "p999",
        (json_int_t)rmq_bench_hist_pct(h, 0.999), "max", (json_int_t)h->max);
}

static json_t *
report_errs_json(const rmq_bench_errs *e)
{
    json_t *o = json_object();
    char    buf[16];

    for (uint32_t i = 0; i < e->n; i++) {
        json_object_set_new(o,
                            rmq_bench_errs_name(e->code[i], buf, sizeof(buf)),
                            json_integer((json_int_t)e->count[i]));
    }
    return o;
}

/* A producing side: sent = ok + errors once every send was accounted. */
static json_t *
report_prod_json(const rmq_bench_side *s)
{
    double secs = report_elapsed(s);

    return json_pack("{s:I, s:I, s:I, s:o, s:I, s:f, s:f, s:f, s:o}", "sent",
                     (json_int_t)s->requests, "ok", (json_int_t)s->msgs,
                     "errors", (json_int_t)s->errs.total, "errors_by_code",
                     report_errs_json(&s->errs), "bytes", (json_int_t)s->bytes,
                     "elapsed_s", secs, "msgs_per_sec",
                     report_rate((double)s->msgs, secs), "mb_per_sec",
                     report_rate((double)s->bytes / 1e6, secs), "latency_us",
                     report_lat_json(&s->lat));
}

static json_t *
report_cons_json(const rmq_bench *b)
{
    const rmq_bench_side *s = &b->cs;
    double                secs = report_elapsed(s);

    return json_pack(
        "{s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:o, s:f, s:f, s:f}", "drained",
        b->drained, "messages", (json_int_t)s->msgs, "bytes",
        (json_int_t)s->bytes, "pulls", (json_int_t)b->pulls, "empty_pulls",
        (json_int_t)b->empty_pulls, "seq_errors", (json_int_t)b->seq_errors,
        "errors", (json_int_t)s->errs.total, "errors_by_code",
        report_errs_json(&s->errs), "elapsed_s", secs, "msgs_per_sec",
        report_rate((double)s->msgs, secs), "mb_per_sec",
        report_rate((double)s->bytes / 1e6, secs));
}

static json_t *
report_kib(int64_t v)
{
    return v < 0 ? json_null() : json_integer((json_int_t)v);
}

/* The start sample of the same pid, for the RSS before the run. */
static const rmq_bench_proc *
report_start_of(const rmq_bench *b, const rmq_bench_proc *p)
{
    for (int i = 0; i < b->procs_start.n; i++) {
        if (b->procs_start.p[i].pid == p->pid) {
            return &b->procs_start.p[i];
        }
    }
    return NULL;
}

static json_t *
report_procs_json(const rmq_bench *b, json_t *root)
{
    const rmq_bench_procs *ps = &b->procs_end;
    json_t                *arr = json_array();
    int64_t                rss = 0, pss = 0, start = 0, anon = 0;

    for (int i = 0; i < ps->n; i++) {
        const rmq_bench_proc *p = &ps->p[i];
        const rmq_bench_proc *s0 = report_start_of(b, p);
        json_array_append_new(
            arr,
            json_pack("{s:s, s:i, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "name",
                      p->name, "pid", (int)p->pid, "rss_kib",
                      report_kib(p->rss_kib), "hwm_kib", report_kib(p->hwm_kib),
                      "anon_kib", report_kib(p->anon_kib), "file_kib",
                      report_kib(p->file_kib), "shmem_kib",
                      report_kib(p->shmem_kib), "pss_kib",
                      report_kib(p->pss_kib), "rss_start_kib",
                      report_kib(s0 ? s0->rss_kib : -1)));
        rss += p->rss_kib > 0 ? p->rss_kib : 0;
        pss += p->pss_kib > 0 ? p->pss_kib : 0;
        anon += p->anon_kib > 0 ? p->anon_kib : 0;
        start += s0 && s0->rss_kib > 0 ? s0->rss_kib : 0;
    }
    json_object_set_new(root, "flush",
                        ps->found ? json_string(ps->flush) : json_null());
    json_object_set_new(root, "rss_total_kib", json_integer(rss));
    json_object_set_new(root, "anon_total_kib", json_integer(anon));
    json_object_set_new(root, "pss_total_kib", json_integer(pss));
    json_object_set_new(root, "rss_start_total_kib", json_integer(start));
    return arr;
}

static json_t *
report_setup_json(const rmq_bench *b)
{
    const rmq_bench_opts *o = &b->o;

    return json_pack(
        "{s:s, s:s, s:s, s:i, s:i, s:i, s:b, s:i, s:i, s:i, s:s, s:i, s:i}",
        "client", o->client == RMQ_BENCH_CLIENT_LIBRMQ ? "librmq" : "lean",
        "broker", b->t.broker_addr, "topic", o->topic, "write_queues",
        b->t.write_queues, "read_queues", b->t.read_queues, "brokers_in_route",
        b->t.nbrokers, "topic_created", b->t.created, "size", o->size, "conns",
        o->conns, "window", o->window, "group", o->group, "batch",
        o->pull_batch, "consume_conns", o->consume_conns);
}

static json_t *
report_cpu_json(const rmq_bench *b)
{
    double user_s, sys_s;

    report_cpu(&user_s, &sys_s);
    return json_pack(
        "{s:f, s:f, s:f}", "user_s", user_s, "sys_s", sys_s, "us_per_msg",
        report_msgs(b) ? (user_s + sys_s) * 1e6 / (double)report_msgs(b) : 0.0);
}

static void
report_json(rmq_bench *b)
{
    const rmq_bench_opts *o = &b->o;
    json_t               *root = json_object();
    char                 *text;

    json_object_set_new(root, "mode",
                        json_string(rmq_bench_mode_names[o->mode]));
    json_object_set_new(root, "ok",
                        json_boolean(rmq_bench_exit_status(b) == 0));
    if (o->mode != RMQ_BENCH_RSS) {
        json_object_set_new(root, "setup", report_setup_json(b));
    }
    if (b->has_pre) {
        json_object_set_new(root, "backlog", report_prod_json(&b->pre));
    }
    if (o->mode == RMQ_BENCH_PRODUCE || o->mode == RMQ_BENCH_E2E) {
        json_object_set_new(root, "produce", report_prod_json(&b->ps));
    }
    if (o->mode == RMQ_BENCH_CONSUME || o->mode == RMQ_BENCH_E2E) {
        json_object_set_new(root, "consume", report_cons_json(b));
    }
    if (o->mode == RMQ_BENCH_E2E) {
        json_object_set_new(
            root, "e2e",
            json_pack("{s:I, s:I, s:o}", "messages", (json_int_t)b->stamped,
                      "missing", (json_int_t)report_missing(b), "latency_us",
                      report_lat_json(&b->cs.lat)));
    }
    json_object_set_new(root, "client_cpu", report_cpu_json(b));
    json_object_set_new(root, "processes", report_procs_json(b, root));
    text = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    if (text != NULL) {
        puts(text);
        free(text);
    }
}

/* ---- people ------------------------------------------------------------- */

static void
report_lat_line(const char *what, const rmq_bench_hist *h)
{
    if (h->count == 0) {
        return;
    }
    printf("  %s latency us: min %llu  p50 %llu  p90 %llu  p99 %llu  "
           "p999 %llu  max %llu  mean %.0f\n",
           what, (unsigned long long)h->min,
           (unsigned long long)rmq_bench_hist_pct(h, 0.50),
           (unsigned long long)rmq_bench_hist_pct(h, 0.90),
           (unsigned long long)rmq_bench_hist_pct(h, 0.99),
           (unsigned long long)rmq_bench_hist_pct(h, 0.999),
           (unsigned long long)h->max, rmq_bench_hist_mean(h));
}

static void
report_errs_line(const rmq_bench_errs *e)
{
    char buf[16];

    if (e->total == 0) {
        return;
    }
    printf("  errors by code:");
    for (uint32_t i = 0; i < e->n; i++) {
        printf(" %s=%llu", rmq_bench_errs_name(e->code[i], buf, sizeof(buf)),
               (unsigned long long)e->count[i]);
    }
    putchar('\n');
}

static void
report_prod_text(const char *name, const rmq_bench_side *s)
{
    double secs = report_elapsed(s);

    printf("%s: sent %llu  ok %llu  errors %llu  in %.2f s\n", name,
           (unsigned long long)s->requests, (unsigned long long)s->msgs,
           (unsigned long long)s->errs.total, secs);
    printf("  %.0f msg/s  %.1f MB/s\n", report_rate((double)s->msgs, secs),
           report_rate((double)s->bytes / 1e6, secs));
    report_lat_line("send", &s->lat);
    report_errs_line(&s->errs);
}

static void
report_cons_text(const rmq_bench *b)
{
    const rmq_bench_side *s = &b->cs;
    double                secs = report_elapsed(s);

    printf("consume: %llu messages  %.1f MB  in %.2f s%s  (%llu pulls, %llu "
           "empty, %llu out of sequence)\n",
           (unsigned long long)s->msgs, (double)s->bytes / 1e6, secs,
           b->o.mode == RMQ_BENCH_CONSUME && !b->drained ? " (NOT drained)"
                                                         : "",
           (unsigned long long)b->pulls, (unsigned long long)b->empty_pulls,
           (unsigned long long)b->seq_errors);
    printf("  %.0f msg/s  %.1f MB/s\n", report_rate((double)s->msgs, secs),
           report_rate((double)s->bytes / 1e6, secs));
    report_errs_line(&s->errs);
}

static void
report_kib_cell(int64_t v)
{
    if (v < 0) {
        printf(" %10s", "-");
    } else {
        printf(" %10lld", (long long)v);
    }
}

static void
report_procs_text(const rmq_bench *b)
{
    const rmq_bench_procs *ps = &b->procs_end;
    int64_t                rss = 0, anon = 0, pss = 0;

    if (!ps->found) {
        printf("broker processes: unknown (%s)\n", ps->why);
        return;
    }
    printf("broker processes (%s), KiB; file = mapped store files and "
           "binaries, pss = shared pages split between their users:\n",
           ps->flush);
    printf("  %-12s %7s %10s %10s %10s %10s %10s %10s\n", "name", "pid", "rss",
           "rss@start", "peak", "anon", "file", "pss");
    for (int i = 0; i < ps->n; i++) {
        const rmq_bench_proc *p = &ps->p[i];
        const rmq_bench_proc *s0 = report_start_of(b, p);
        printf("  %-12s %7d", p->name, (int)p->pid);
        report_kib_cell(p->rss_kib);
        report_kib_cell(s0 ? s0->rss_kib : -1);
        report_kib_cell(p->hwm_kib);
        report_kib_cell(p->anon_kib);
        report_kib_cell(p->file_kib);
        report_kib_cell(p->pss_kib);
        putchar('\n');
        rss += p->rss_kib > 0 ? p->rss_kib : 0;
        anon += p->anon_kib > 0 ? p->anon_kib : 0;
        pss += p->pss_kib > 0 ? p->pss_kib : 0;
    }
    printf("  %-12s %7s %10lld %21s %10lld %10s %10lld\n", "total", "",
           (long long)rss, "", (long long)anon, "", (long long)pss);
}

/* The run's shape: who sends how much in parallel, or how pulls run. */
static void
report_header(const rmq_bench *b)
{
    const rmq_bench_opts *o = &b->o;
    bool                  lib = o->client == RMQ_BENCH_CLIENT_LIBRMQ;

    printf("rmq-bench %s: topic %s at %s (%d write / %d read queues), "
           "%d-byte bodies\n",
           rmq_bench_mode_names[o->mode], o->topic, b->t.broker_addr,
           b->t.write_queues, b->t.read_queues, o->size);
    if (o->mode != RMQ_BENCH_CONSUME || b->has_pre) {
        printf("  %s: %d %s%s x %d outstanding%s\n",
               b->has_pre ? "backlog producer" : "producer", o->conns,
               lib ? "librmq thread" : "connection", o->conns == 1 ? "" : "s",
               o->window, o->window == 1 ? " (sync)" : "");
    }
    if (o->mode != RMQ_BENCH_PRODUCE) {
        printf("  consumer: %d connection%s, one pull of up to %d messages "
               "outstanding per queue\n",
               o->consume_conns, o->consume_conns == 1 ? "" : "s",
               o->pull_batch);
    }
}

static void
report_text(rmq_bench *b)
{
    const rmq_bench_opts *o = &b->o;

    if (o->mode != RMQ_BENCH_RSS) {
        report_header(b);
    }
    if (b->has_pre) {
        report_prod_text("backlog", &b->pre);
    }
    if (o->mode == RMQ_BENCH_PRODUCE || o->mode == RMQ_BENCH_E2E) {
        report_prod_text("produce", &b->ps);
    }
    if (o->mode == RMQ_BENCH_CONSUME || o->mode == RMQ_BENCH_E2E) {
        report_cons_text(b);
    }
    if (o->mode == RMQ_BENCH_E2E) {
        printf("e2e: %llu messages of this run consumed, %llu missing\n",
               (unsigned long long)b->stamped,
               (unsigned long long)report_missing(b));
        report_lat_line("end-to-end", &b->cs.lat);
    }
    if (o->mode != RMQ_BENCH_RSS) {
        double user_s, sys_s;
        report_cpu(&user_s, &sys_s);
        printf("client cpu: user %.2f s  sys %.2f s  (%.2f us per message)\n",
               user_s, sys_s,
               report_msgs(b) ? (user_s + sys_s) * 1e6 / (double)report_msgs(b)
                              : 0.0);
    }
    report_procs_text(b);
}

void
rmq_bench_report(rmq_bench *b)
{
    if (b->o.json) {
        report_json(b);
    } else {
        report_text(b);
    }
    fflush(stdout);
}

int
rmq_bench_exit_status(const rmq_bench *b)
{
    if (b->failed) {
        return 1;
    }
    if (b->o.mode == RMQ_BENCH_RSS) {
        return b->procs_end.found ? 0 : 1;
    }
    if (b->o.mode == RMQ_BENCH_E2E && report_missing(b) > 0) {
        return 1;
    }
    return b->ps.errs.total + b->cs.errs.total + b->pre.errs.total +
                       b->seq_errors ==
                   0
               ? 0
               : 1;
}
