/*
 * putbench.c - rmq-putbench: put throughput and latency through the store
 * actors alone (put ring -> clwriter -> commit log, flusher for
 * SYNC_FLUSH), without the network front end.  It plays the test actor's
 * identity, so run it against a broker started without RMQ_TESTACTOR.
 *
 *   rmq-putbench -c FILE [-p PUTTERS] [-s BYTES] [-t SECONDS] [-q QUEUES]
 *
 * PUTTERS is the number of puts kept in flight (each "putter" waits for
 * its result before putting again).  Prints puts/s and latency
 * percentiles (p50/p99/p999/max) of a put from encode to result, from
 * rmq-bench's histogram (within 0.8%; recording costs no allocation).
 */
#include "bench/bench.h"
#include "broker/putter.h"
#include "common/config.h"
#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "supervisor/actor.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct pb {
    rmq_putter     p;
    int64_t       *started_us; /* per putter slot */
    rmq_bench_hist lat;        /* encode to result, microseconds */
    uint64_t       ok, failed;
    int            free_slots;
    int           *slots; /* stack of idle putter slots */
};

static void
pb_done(void *arg, uint64_t cookie, const rmq_put_res *r)
{
    struct pb *b = arg;
    int64_t    now = rmq_mono_us();

    if (r->status == RMQ_PUT_OK) {
        b->ok++;
    } else {
        b->failed++;
    }
    rmq_bench_hist_add(&b->lat, now - b->started_us[cookie]);
    b->slots[b->free_slots++] = (int)cookie;
}

int
main(int argc, char **argv)
{
    const char *conf = NULL;
    int         putters = 1, size = 1024, secs = 5, queues = 8;
    rmq_config  cfg;
    char        err[512];
    struct pb   b;
    char       *body;
    int64_t     t0, t_end;

    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "-c") == 0) {
            conf = argv[i + 1];
        } else if (strcmp(argv[i], "-p") == 0) {
            putters = atoi(argv[i + 1]);
        } else if (strcmp(argv[i], "-s") == 0) {
            size = atoi(argv[i + 1]);
        } else if (strcmp(argv[i], "-t") == 0) {
            secs = atoi(argv[i + 1]);
        } else if (strcmp(argv[i], "-q") == 0) {
            queues = atoi(argv[i + 1]);
        }
    }
    rmq_log_init("putbench");
    /* queues < 1 would divide by zero when picking a put's queue */
    if (conf == NULL || putters < 1 || size < 1 || queues < 1 ||
        rmq_config_load_file(conf, &cfg, err, sizeof(err)) != 0) {
        fprintf(stderr, "usage: rmq-putbench -c FILE [-p PUTTERS] [-s BYTES] "
                        "[-t SECONDS] [-q QUEUES]\n");
        return 2;
    }
    memset(&b, 0, sizeof(b));
    rmq_bench_hist_init(&b.lat);
    b.started_us = calloc((size_t)putters, sizeof(int64_t));
    b.slots = calloc((size_t)putters, sizeof(int));
    for (int i = 0; i < putters; i++) {
        b.slots[b.free_slots++] = i;
    }
    body = malloc((size_t)size);
    memset(body, 'x', (size_t)size);
    if (rmq_putter_open(&b.p, cfg.supervisor.run_dir, RMQ_ACTOR_TESTACTOR,
                        64u << 20, pb_done, &b) != 0 ||
        rmq_putter_topic(&b.p, "PutBench", queues, 5000) != 0) {
        fprintf(stderr,
                "rmq-putbench: cannot reach the broker's store actors\n");
        return 1;
    }
    t0 = rmq_mono_us();
    t_end = t0 + (int64_t)secs * 1000000;
    for (uint64_t n = 0; rmq_mono_us() < t_end;) {
        while (b.free_slots > 0) {
            int slot = b.slots[--b.free_slots];
            b.started_us[slot] = rmq_mono_us();
            if (rmq_putter_put(&b.p, "PutBench",
                               (int32_t)(n++ % (uint64_t)queues), "TagA", NULL,
                               body, (uint32_t)size,
                               cfg.broker.flush_disk_type == RMQ_FLUSH_SYNC
                                   ? RMQ_PUT_F_WAIT_FLUSH
                                   : 0,
                               (uint64_t)slot) != 0) {
                b.slots[b.free_slots++] = slot;
                break;
            }
        }
        rmq_putter_poll(&b.p, 100);
    }
    while (b.free_slots < putters && rmq_putter_poll(&b.p, 1000) > 0) {
    }
    double elapsed = (double)(rmq_mono_us() - t0) / 1e6;
    printf("{\"putters\":%d,\"size\":%d,\"flush\":\"%s\",\"puts\":%llu,"
           "\"failed\":%llu,\"puts_per_sec\":%.0f,\"p50_us\":%lld,"
           "\"p99_us\":%lld,\"p999_us\":%lld,\"max_us\":%lld}\n",
           putters, size,
           cfg.broker.flush_disk_type == RMQ_FLUSH_SYNC ? "SYNC_FLUSH"
                                                        : "ASYNC_FLUSH",
           (unsigned long long)b.ok, (unsigned long long)b.failed,
           (double)b.ok / elapsed, (long long)rmq_bench_hist_pct(&b.lat, 0.5),
           (long long)rmq_bench_hist_pct(&b.lat, 0.99),
           (long long)rmq_bench_hist_pct(&b.lat, 0.999), (long long)b.lat.max);
    rmq_putter_close(&b.p);
    return b.failed ? 1 : 0;
}
