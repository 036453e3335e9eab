/*
 * bench_librmq.c - rmq-bench --client librmq: the produce run through
 * librmq's producer, to compare it with the lean client.  librmq has its
 * own I/O and callback threads, so this mode uses threads too: one per
 * "connection" (-C), each keeping --window sends outstanding (1: plain
 * synchronous sends).  All of them share one librmq producer, which
 * multiplexes them over its single connection to the broker.
 *
 * Each thread owns its counters and histogram, guarded by its mutex
 * because async callbacks run on librmq's callback thread; the main
 * thread prints progress and merges them at the end.
 */
#include "bench/bench.h"

#include "common/util.h"
#include "rmq/client.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct lslot {
    struct lthread *t;
    int64_t         sent_us;
};

struct lthread {
    rmq_bench      *b;
    rmq_producer   *p;
    rmq_message    *msg;
    pthread_t       tid;
    pthread_mutex_t mu;
    pthread_cond_t  cv;
    rmq_bench_side  side;  /* guarded by mu */
    struct lslot   *slots; /* window of them */
    struct lslot  **free;
    int             nfree; /* guarded by mu */
    bool            started;
};

static atomic_bool lib_running;

static void
lib_record(struct lthread *t, int rc, const rmq_error *err, int64_t sent_us)
{
    int64_t now = rmq_mono_us();

    if (rc == 0) {
        t->side.msgs++;
        t->side.bytes += (uint64_t)t->b->o.size;
        rmq_bench_hist_add(&t->side.lat, now - sent_us);
    } else {
        rmq_bench_errs_add(&t->side.errs,
                           rc == RMQ_CLIENT_ERR_BROKER && err != NULL
                               ? err->response_code
                               : -100 - rc,
                           1);
    }
    t->side.end_us = now;
}

static void
lib_on_sent(int rc, const rmq_send_result *res, const rmq_error *err, void *arg)
{
    struct lslot   *s = arg;
    struct lthread *t = s->t;

    (void)res;
    pthread_mutex_lock(&t->mu);
    lib_record(t, rc, err, s->sent_us);
    t->free[t->nfree++] = s;
    pthread_cond_signal(&t->cv);
    pthread_mutex_unlock(&t->mu);
}

static void
lib_start_side(struct lthread *t, int64_t now)
{
    if (t->side.start_us == 0) {
        t->side.start_us = now;
    }
    t->side.requests++;
}

static void
lib_sync_loop(struct lthread *t)
{
    while (atomic_load(&lib_running)) {
        rmq_send_result res;
        rmq_error       err;
        int64_t         now = rmq_mono_us();
        int             rc;

        rc = rmq_producer_send(t->p, t->msg, &res, &err);
        /* counted after the answer, under one lock per send */
        pthread_mutex_lock(&t->mu);
        lib_start_side(t, now);
        lib_record(t, rc, &err, now);
        pthread_mutex_unlock(&t->mu);
    }
}

static void
lib_async_loop(struct lthread *t)
{
    int window = t->b->o.window;

    pthread_mutex_lock(&t->mu);
    while (atomic_load(&lib_running)) {
        struct lslot *s;
        rmq_error     err;
        int           rc;
        if (t->nfree == 0) {
            pthread_cond_wait(&t->cv, &t->mu);
            continue;
        }
        s = t->free[--t->nfree];
        s->sent_us = rmq_mono_us();
        lib_start_side(t, s->sent_us);
        pthread_mutex_unlock(&t->mu);
        rc = rmq_producer_send_async(t->p, t->msg, lib_on_sent, s, &err);
        pthread_mutex_lock(&t->mu);
        if (rc != 0) {
            lib_record(t, rc, &err, s->sent_us);
            t->free[t->nfree++] = s;
        }
    }
    /* wait for the callbacks of what is still outstanding */
    while (t->nfree < window) {
        pthread_cond_wait(&t->cv, &t->mu);
    }
    pthread_mutex_unlock(&t->mu);
}

static void *
lib_thread(void *arg)
{
    struct lthread *t = arg;

    if (t->b->o.window == 1) {
        lib_sync_loop(t);
    } else {
        lib_async_loop(t);
    }
    return NULL;
}

static int
lib_thread_init(struct lthread *t, rmq_bench *b, rmq_producer *p,
                rmq_message *msg)
{
    int w = b->o.window;

    t->b = b;
    t->p = p;
    t->msg = msg;
    pthread_mutex_init(&t->mu, NULL);
    pthread_cond_init(&t->cv, NULL);
    rmq_bench_hist_init(&t->side.lat);
    t->slots = calloc((size_t)w, sizeof(*t->slots));
    t->free = calloc((size_t)w, sizeof(*t->free));
    if (t->slots == NULL || t->free == NULL) {
        return -1;
    }
    for (int i = 0; i < w; i++) {
        t->slots[i].t = t;
        t->free[t->nfree++] = &t->slots[i];
    }
    return 0;
}

/* Sum of every thread's side (each under its lock) into out. */
static void
lib_sum(struct lthread *ts, int n, rmq_bench_side *out, bool with_hist)
{
    out->msgs = out->bytes = out->requests = 0;
    memset(&out->errs, 0, sizeof(out->errs));
    out->start_us = out->end_us = 0;
    if (with_hist) {
        rmq_bench_hist_init(&out->lat);
    }
    for (int i = 0; i < n; i++) {
        struct lthread *t = &ts[i];
        pthread_mutex_lock(&t->mu);
        out->msgs += t->side.msgs;
        out->bytes += t->side.bytes;
        out->requests += t->side.requests;
        for (uint32_t k = 0; k < t->side.errs.n; k++) {
            rmq_bench_errs_add(&out->errs, t->side.errs.code[k],
                               t->side.errs.count[k]);
        }
        if (with_hist) {
            rmq_bench_hist_merge(&out->lat, &t->side.lat);
        }
        if (t->side.start_us != 0 &&
            (out->start_us == 0 || t->side.start_us < out->start_us)) {
            out->start_us = t->side.start_us;
        }
        if (t->side.end_us > out->end_us) {
            out->end_us = t->side.end_us;
        }
        pthread_mutex_unlock(&t->mu);
    }
}

/* Let the threads run for the duration, printing progress. */
static void
lib_wait(rmq_bench *b, struct lthread *ts, int n)
{
    double   d = b->o.duration_s > 0 ? b->o.duration_s : 10;
    int64_t  t0 = rmq_mono_us(), end = t0 + (int64_t)(d * 1e6);
    int64_t  next = t0 + 1000000;
    uint64_t last = 0;

    while (!rmq_bench_interrupted() && rmq_mono_us() < end) {
        rmq_bench_side now;
        usleep(10000);
        if (rmq_mono_us() < next) {
            continue;
        }
        lib_sum(ts, n, &now, false);
        if (b->o.progress) {
            fprintf(stderr,
                    "rmq-bench: %5.1fs produce (librmq) %llu msg/s "
                    "err %llu\n",
                    (double)(rmq_mono_us() - t0) / 1e6,
                    (unsigned long long)(now.msgs - last),
                    (unsigned long long)now.errs.total);
        }
        last = now.msgs;
        next += 1000000;
    }
}

static rmq_producer *
lib_producer(rmq_bench *b)
{
    rmq_producer_opts po;
    rmq_producer     *p = NULL;
    rmq_error         err;

    rmq_producer_opts_init(&po);
    po.namesrv_addr = b->o.namesrv;
    po.group = "rmq-bench-producer";
    po.retry_times = 0;
    po.async_retry_times = 0;
    po.compress_threshold = 0;
    po.log_level = RMQ_CLIENT_LOG_ERROR;
    if (rmq_producer_new(&po, &p, &err) != 0 ||
        rmq_producer_start(p, &err) != 0) {
        fprintf(stderr, "rmq-bench: librmq producer: %s\n", err.message);
        rmq_producer_destroy(p);
        return NULL;
    }
    return p;
}

int
rmq_bench_librmq_produce(rmq_bench *b)
{
    int             n = b->o.conns;
    struct lthread *ts = calloc((size_t)n, sizeof(*ts));
    rmq_producer   *p = lib_producer(b);
    rmq_message    *msg = NULL;
    char           *body = malloc((size_t)b->o.size);
    int             rc = -1;

    if (ts == NULL || p == NULL || body == NULL) {
        goto out;
    }
    memset(body, 'x', (size_t)b->o.size);
    if (rmq_message_new(b->o.topic, body, (size_t)b->o.size, &msg, NULL) != 0 ||
        (b->o.tag != NULL && rmq_message_set_tags(msg, b->o.tag, NULL) != 0)) {
        goto out;
    }
    atomic_store(&lib_running, true);
    for (int i = 0; i < n; i++) {
        if (lib_thread_init(&ts[i], b, p, msg) != 0 ||
            pthread_create(&ts[i].tid, NULL, lib_thread, &ts[i]) != 0) {
            atomic_store(&lib_running, false);
            break;
        }
        ts[i].started = true;
    }
    lib_wait(b, ts, n);
    atomic_store(&lib_running, false);
    for (int i = 0; i < n; i++) {
        if (ts[i].started) {
            pthread_join(ts[i].tid, NULL);
        }
    }
    lib_sum(ts, n, &b->ps, true);
    rc = 0;
out:
    rmq_producer_destroy(p);
    rmq_message_free(msg);
    free(body);
    for (int i = 0; ts != NULL && i < n; i++) {
        free(ts[i].slots);
        free(ts[i].free);
    }
    free(ts);
    return rc;
}
