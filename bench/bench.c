/*
 * bench.c - rmq-bench: throughput and latency of a running rmq (or any
 * RocketMQ 4.x) broker, and the memory of its processes.
 *
 *   rmq-bench produce [options]   N connections of sync or windowed sends
 *   rmq-bench consume [options]   drain a topic's backlog with pulls
 *   rmq-bench e2e [options]       produce and consume at once
 *   rmq-bench rss [options]       memory of the broker processes
 *
 * One thread runs one epoll loop with every connection (bench.h).  A run
 * connects, measures, drains what is in flight, samples the broker's
 * processes, and prints a summary (or one JSON object with --json) on
 * stdout; progress lines go to stderr once a second.  Exit status: 0
 * when every request succeeded, 1 when some failed or the run could not
 * finish, 2 for bad usage.
 */
#include "bench/bench.h"

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BENCH_CONNECT_MS 5000
#define BENCH_STALL_S 10.0
#define BENCH_DISPATCH_WAIT_MS 10000

static volatile sig_atomic_t bench_stop_flag;

/* The first signal ends the measured phase; a second one exits at once. */
static void
bench_on_signal(int sig)
{
    if (bench_stop_flag) {
        _exit(128 + sig);
    }
    bench_stop_flag = 1;
}

bool
rmq_bench_interrupted(void)
{
    return bench_stop_flag != 0;
}

/* ---- options ----------------------------------------------------------- */

static const char bench_usage_text[] =
    "usage: rmq-bench MODE [options]\n"
    "modes:\n"
    "  produce   C connections x sync sends (or --window W async) for -d s\n"
    "  consume   drain the topic's backlog (offset 0, or the group's)\n"
    "  e2e       produce and consume at once: end-to-end latency\n"
    "  rss       print the memory of the broker's processes\n"
    "where:\n"
    "  -n, --namesrv ADDR     name server host:port\n"
    "  -b, --broker ADDR      talk to this broker, skip the name server\n"
    "  -c, --config FILE      the broker's config (addresses, runDir)\n"
    "      --rundir DIR       the broker's run directory (for RSS)\n"
    "what:\n"
    "  -t, --topic NAME       topic (BenchTopic), created when missing\n"
    "  -q, --queues N         queues of a created topic (8)\n"
    "  -s, --size BYTES       body size (1024)\n"
    "  -d, --duration SEC     produce/e2e run time (10); consume: limit\n"
    "  -C, --conns N          producer connections (1)\n"
    "      --sync             one send outstanding per connection (default)\n"
    "  -w, --window W         W sends outstanding per connection\n"
    "      --count N          stop after N successful sends\n"
    "      --tag TAG          TAGS property of sent messages\n"
    "      --no-uniq-key      do not set UNIQ_KEY (Java clients do)\n"
    "      --batch N          maxMsgNums of a pull (32)\n"
    "      --consume-conns N  consumer connections (1)\n"
    "  -g, --group NAME       consumer group of pulls (rmq-bench)\n"
    "      --from-committed   consume from the group's committed offsets\n"
    "      --produce-first N  consume: produce N messages first, drain them\n"
    "      --verify           consume: check every body CRC\n"
    "      --drain-timeout S  wait for outstanding requests at the end (10)\n"
    "      --client KIND      lean (default) or librmq (produce only)\n"
    "output:\n"
    "      --json             one JSON object on stdout\n"
    "      --quiet            no progress lines on stderr\n";

enum {
    OPT_RUNDIR = 1000,
    OPT_JSON,
    OPT_SYNC,
    OPT_COUNT,
    OPT_TAG,
    OPT_NO_UNIQ,
    OPT_BATCH,
    OPT_CCONNS,
    OPT_FROM_COMMITTED,
    OPT_PRODUCE_FIRST,
    OPT_VERIFY,
    OPT_DRAIN,
    OPT_QUIET,
    OPT_CLIENT,
};

static const struct option bench_longopts[] = {
    {"namesrv", required_argument, NULL, 'n'},
    {"broker", required_argument, NULL, 'b'},
    {"config", required_argument, NULL, 'c'},
    {"rundir", required_argument, NULL, OPT_RUNDIR},
    {"topic", required_argument, NULL, 't'},
    {"queues", required_argument, NULL, 'q'},
    {"size", required_argument, NULL, 's'},
    {"duration", required_argument, NULL, 'd'},
    {"conns", required_argument, NULL, 'C'},
    {"sync", no_argument, NULL, OPT_SYNC},
    {"window", required_argument, NULL, 'w'},
    {"count", required_argument, NULL, OPT_COUNT},
    {"tag", required_argument, NULL, OPT_TAG},
    {"no-uniq-key", no_argument, NULL, OPT_NO_UNIQ},
    {"batch", required_argument, NULL, OPT_BATCH},
    {"consume-conns", required_argument, NULL, OPT_CCONNS},
    {"group", required_argument, NULL, 'g'},
    {"from-committed", no_argument, NULL, OPT_FROM_COMMITTED},
    {"produce-first", required_argument, NULL, OPT_PRODUCE_FIRST},
    {"verify", no_argument, NULL, OPT_VERIFY},
    {"drain-timeout", required_argument, NULL, OPT_DRAIN},
    {"client", required_argument, NULL, OPT_CLIENT},
    {"json", no_argument, NULL, OPT_JSON},
    {"quiet", no_argument, NULL, OPT_QUIET},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static int
bench_usage(const char *why)
{
    if (why != NULL) {
        fprintf(stderr, "rmq-bench: %s\n", why);
    }
    fputs(bench_usage_text, stderr);
    return 2;
}

static bool
bench_bad_opt(const char *why)
{
    fprintf(stderr, "rmq-bench: %s\n", why);
    return false;
}

/* A whole number in [lo, hi]. */
static bool
bench_num(const char *s, int64_t lo, int64_t hi, int64_t *out)
{
    return rmq_parse_i64(s, out) == 0 && *out >= lo && *out <= hi;
}

static bool
bench_secs(const char *s, double *out)
{
    char *end;

    *out = strtod(s, &end);
    return end != s && *end == '\0' && *out >= 0 && *out < 1e7;
}

const char *const rmq_bench_mode_names[RMQ_BENCH_MODE__COUNT] = {
    [RMQ_BENCH_PRODUCE] = "produce",
    [RMQ_BENCH_CONSUME] = "consume",
    [RMQ_BENCH_E2E] = "e2e",
    [RMQ_BENCH_RSS] = "rss",
};

static int
bench_mode(const char *name)
{
    for (int i = 0; i < RMQ_BENCH_MODE__COUNT; i++) {
        if (strcmp(name, rmq_bench_mode_names[i]) == 0) {
            return i;
        }
    }
    return -1;
}

static void
bench_defaults(rmq_bench_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->topic = "BenchTopic";
    o->queues = 8;
    o->size = 1024;
    o->conns = 1;
    o->window = 1;
    o->uniq_key = true;
    o->pull_batch = 32;
    o->consume_conns = 1;
    o->group = "rmq-bench";
    o->drain_s = 10;
    o->progress = true;
}

/* One numeric option into *dst; false (with a message) when out of range. */
static bool
bench_int_opt(const char *name, const char *arg, int64_t lo, int64_t hi,
              int64_t *dst)
{
    if (bench_num(arg, lo, hi, dst)) {
        return true;
    }
    fprintf(stderr, "rmq-bench: %s must be a number in %lld..%lld\n", name,
            (long long)lo, (long long)hi);
    return false;
}

static bool
bench_opt_num(rmq_bench *b, int ch, const char *arg)
{
    rmq_bench_opts *o = &b->o;
    int64_t         v = 0;
    bool            ok;

    switch (ch) {
    case 'q':
        ok = bench_int_opt("-q", arg, 1, RMQ_BENCH_QUEUES_MAX, &v);
        o->queues = (int)v;
        return ok;
    case 's':
        ok = bench_int_opt("-s", arg, 1, 4 << 20, &v);
        o->size = (int)v;
        return ok;
    case 'C':
        ok = bench_int_opt("-C", arg, 1, RMQ_BENCH_CONNS_MAX, &v);
        o->conns = (int)v;
        return ok;
    case 'w':
        ok = bench_int_opt("--window", arg, 1, RMQ_BENCH_WINDOW_MAX, &v);
        o->window = (int)v;
        b->window_set = true;
        return ok;
    case OPT_COUNT:
        ok = bench_int_opt("--count", arg, 1, INT64_MAX, &v);
        o->count = (uint64_t)v;
        return ok;
    case OPT_BATCH:
        ok = bench_int_opt("--batch", arg, 1, 1024, &v);
        o->pull_batch = (int)v;
        return ok;
    case OPT_CCONNS:
        ok = bench_int_opt("--consume-conns", arg, 1, RMQ_BENCH_QUEUES_MAX, &v);
        o->consume_conns = (int)v;
        return ok;
    case OPT_PRODUCE_FIRST:
        ok = bench_int_opt("--produce-first", arg, 1, INT64_MAX, &v);
        o->produce_first = (uint64_t)v;
        return ok;
    default:
        return false;
    }
}

/* Where an option with a string argument goes; NULL for other options. */
static const char **
bench_str_slot(rmq_bench_opts *o, int ch)
{
    switch (ch) {
    case 'n':
        return &o->namesrv;
    case 'b':
        return &o->broker;
    case 'c':
        return &o->config;
    case OPT_RUNDIR:
        return &o->rundir;
    case 't':
        return &o->topic;
    case 'g':
        return &o->group;
    case OPT_TAG:
        return &o->tag;
    default:
        return NULL;
    }
}

/* A flag without argument: sets *slot to what it returns in *value. */
static bool *
bench_flag_slot(rmq_bench_opts *o, int ch, bool *value)
{
    *value = true;
    switch (ch) {
    case OPT_JSON:
        return &o->json;
    case OPT_FROM_COMMITTED:
        return &o->from_committed;
    case OPT_VERIFY:
        return &o->verify_crc;
    case OPT_NO_UNIQ:
        *value = false;
        return &o->uniq_key;
    case OPT_QUIET:
        *value = false;
        return &o->progress;
    default:
        return NULL;
    }
}

static bool
bench_opt_client(rmq_bench_opts *o, const char *arg)
{
    if (strcmp(arg, "lean") == 0) {
        o->client = RMQ_BENCH_CLIENT_LEAN;
    } else if (strcmp(arg, "librmq") == 0) {
        o->client = RMQ_BENCH_CLIENT_LIBRMQ;
    } else {
        return bench_bad_opt("--client is lean or librmq");
    }
    return true;
}

static bool
bench_opt(rmq_bench *b, int ch, const char *arg)
{
    rmq_bench_opts *o = &b->o;
    const char    **str = bench_str_slot(o, ch);
    bool            value;
    bool           *flag = bench_flag_slot(o, ch, &value);

    if (str != NULL) {
        *str = arg;
        return true;
    }
    if (flag != NULL) {
        *flag = value;
        return true;
    }
    switch (ch) {
    case OPT_SYNC:
        o->window = 1;
        b->window_set = true;
        return true;
    case 'd':
        return bench_secs(arg, &o->duration_s) ||
               bench_bad_opt("-d needs seconds");
    case OPT_DRAIN:
        return bench_secs(arg, &o->drain_s) ||
               bench_bad_opt("--drain-timeout needs seconds");
    case OPT_CLIENT:
        return bench_opt_client(o, arg);
    default:
        return bench_opt_num(b, ch, arg);
    }
}

static int
bench_parse(rmq_bench *b, int argc, char **argv)
{
    int ch;

    bench_defaults(&b->o);
    if (argc < 2 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "--help") == 0) {
        return bench_usage(NULL);
    }
    b->o.mode = bench_mode(argv[1]);
    if (b->o.mode < 0) {
        return bench_usage("unknown mode");
    }
    optind = 2;
    while ((ch = getopt_long(argc, argv, "n:b:c:t:q:s:d:C:w:g:h",
                             bench_longopts, NULL)) != -1) {
        if (ch == 'h' || ch == '?' || !bench_opt(b, ch, optarg)) {
            return bench_usage(NULL);
        }
    }
    if (optind < argc) {
        return bench_usage("unexpected argument");
    }
    if (b->o.mode == RMQ_BENCH_E2E && b->o.size < RMQ_BENCH_STAMP_LEN) {
        return bench_usage("e2e needs bodies of at least 16 bytes (-s)");
    }
    if (b->o.client == RMQ_BENCH_CLIENT_LIBRMQ &&
        (b->o.mode != RMQ_BENCH_PRODUCE || b->o.namesrv == NULL)) {
        return bench_usage("--client librmq runs produce, with -n NAMESRV");
    }
    return 0;
}

/* ---- the run loop ------------------------------------------------------ */

struct bench_prog {
    int64_t  t0_us, last_us, next_us;
    uint64_t p_msgs, p_bytes, c_msgs, c_bytes;
};

static void
bench_fmt_us(uint64_t us, char *out, size_t cap)
{
    if (us < 10000) {
        snprintf(out, cap, "%lluus", (unsigned long long)us);
    } else {
        snprintf(out, cap, "%.1fms", (double)us / 1000.0);
    }
}

static void
bench_prog_side(const char *name, const rmq_bench_side *s, uint64_t *msgs,
                uint64_t *bytes, double dt)
{
    char p99[32];

    bench_fmt_us(rmq_bench_hist_pct(&s->lat, 0.99), p99, sizeof(p99));
    fprintf(stderr, " %s %.0f msg/s %.1f MB/s err %llu", name,
            (double)(s->msgs - *msgs) / dt,
            (double)(s->bytes - *bytes) / dt / 1e6,
            (unsigned long long)s->errs.total);
    if (s->lat.count > 0) {
        fprintf(stderr, " p99 %s", p99);
    }
    *msgs = s->msgs;
    *bytes = s->bytes;
}

/* The producing side that progress lines show: the backlog while making it. */
static const rmq_bench_side *
bench_prog_prod(const rmq_bench *b)
{
    return b->has_pre && b->cons == NULL ? &b->pre : &b->ps;
}

static void
bench_progress(rmq_bench *b, struct bench_prog *pg, int64_t now)
{
    double dt = (double)(now - pg->last_us) / 1e6;

    if (b->o.progress && dt > 0) {
        fprintf(stderr, "rmq-bench: %5.1fs", (double)(now - pg->t0_us) / 1e6);
        if (b->prod != NULL) {
            bench_prog_side("produce", bench_prog_prod(b), &pg->p_msgs,
                            &pg->p_bytes, dt);
        }
        if (b->cons != NULL) {
            bench_prog_side(b->o.mode == RMQ_BENCH_E2E ? "| consume (e2e)"
                                                       : "consume",
                            &b->cs, &pg->c_msgs, &pg->c_bytes, dt);
        }
        fputc('\n', stderr);
    }
    pg->last_us = now;
}

typedef bool (*bench_stop_fn)(rmq_bench *b);

/*
 * Run the loop until stop(b), limit_s seconds (0: no limit), a failure,
 * or (unless draining: answers to what was sent are still wanted) a
 * signal; a progress line every second.
 */
static void
bench_spin_for(rmq_bench *b, double limit_s, bench_stop_fn stop, bool draining)
{
    int64_t           t0 = rmq_mono_us();
    int64_t           end = limit_s > 0 ? t0 + (int64_t)(limit_s * 1e6) : 0;
    struct bench_prog pg = {t0, t0, t0 + 1000000, 0, 0, 0, 0};

    pg.p_msgs = bench_prog_prod(b)->msgs;
    pg.p_bytes = bench_prog_prod(b)->bytes;
    pg.c_msgs = b->cs.msgs;
    pg.c_bytes = b->cs.bytes;
    while (!stop(b) && !(bench_stop_flag && !draining) && !b->failed) {
        int64_t now = rmq_mono_us();
        int64_t wait = pg.next_us - now;
        if (end != 0 && now >= end) {
            break;
        }
        if (now >= pg.next_us) {
            bench_progress(b, &pg, now);
            pg.next_us += 1000000;
            continue;
        }
        if (end != 0 && end - now < wait) {
            wait = end - now;
        }
        wait = wait > 100000 ? 100 : (wait + 999) / 1000;
        if (rmq_loop_run_once(&b->loop, (int)wait) < 0) {
            fprintf(stderr, "rmq-bench: the event loop failed\n");
            b->failed = true;
        }
        rmq_bench_cons_tick(b, rmq_mono_us());
    }
}

static void
bench_spin(rmq_bench *b, double limit_s, bench_stop_fn stop)
{
    bench_spin_for(b, limit_s, stop, false);
}

static void
bench_drain(rmq_bench *b, bench_stop_fn stop)
{
    bench_spin_for(b, b->o.drain_s, stop, true);
}

static bool
bench_all_connected(rmq_bench *b)
{
    int up;

    return (b->prod == NULL || rmq_bench_prod_connected(b, &up)) &&
           (b->cons == NULL || rmq_bench_cons_connected(b, &up));
}

/* Wait for every connection; false (message printed) if some failed. */
static bool
bench_connect(rmq_bench *b)
{
    int up, want;

    bench_spin(b, BENCH_CONNECT_MS / 1000.0, bench_all_connected);
    if (b->prod != NULL) {
        rmq_bench_prod_connected(b, &up);
        want = b->o.conns;
        if (up < want) {
            fprintf(stderr,
                    "rmq-bench: %d of %d producer connections to %s "
                    "came up\n",
                    up, want, b->t.broker_addr);
            return false;
        }
    }
    if (b->cons != NULL && !rmq_bench_cons_connected(b, &up)) {
        return false;
    }
    if (b->cons != NULL && up == 0) {
        fprintf(stderr, "rmq-bench: consumer could not connect to %s\n",
                b->t.broker_addr);
        return false;
    }
    return !bench_stop_flag;
}

/* ---- modes -------------------------------------------------------------- */

static bool
bench_prod_finished(rmq_bench *b)
{
    return rmq_bench_prod_done(b);
}

static bool
bench_prod_drained(rmq_bench *b)
{
    return rmq_bench_prod_inflight(b) == 0;
}

/*
 * Produce into side until limit OK sends (0: none) or duration_s (0:
 * none), then wait for what is in flight.  Leaves the producer closed.
 */
static void
bench_produce_phase(rmq_bench *b, rmq_bench_side *side, uint64_t limit,
                    double duration_s)
{
    if (rmq_bench_prod_start(b, side, limit) != 0 || !bench_connect(b)) {
        b->failed = true;
        rmq_bench_prod_fini(b);
        return;
    }
    rmq_bench_prod_go(b);
    bench_spin(b, duration_s, bench_prod_finished);
    rmq_bench_prod_stop(b);
    bench_drain(b, bench_prod_drained);
    rmq_bench_procs_sample(rmq_bench_rundir(&b->o), &b->procs_end);
    rmq_bench_prod_fini(b);
}

static void
bench_run_produce(rmq_bench *b)
{
    double d = b->o.duration_s;

    if (d == 0 && b->o.count == 0) {
        d = 10;
    }
    if (b->o.client == RMQ_BENCH_CLIENT_LIBRMQ) {
        if (rmq_bench_librmq_produce(b) != 0) {
            b->failed = true;
        }
        rmq_bench_procs_sample(rmq_bench_rundir(&b->o), &b->procs_end);
        return;
    }
    bench_produce_phase(b, &b->ps, b->o.count, d);
}

static void
bench_cons_keep(rmq_bench *b)
{
    rmq_bench_cons_stats(b, &b->pulls, &b->empty_pulls, &b->seq_errors);
    b->stamped = rmq_bench_cons_stamped(b);
}

static bool
bench_cons_finished(rmq_bench *b)
{
    if (rmq_bench_cons_done(b)) {
        return true;
    }
    if (rmq_bench_cons_idle_s(b) > BENCH_STALL_S) {
        fprintf(stderr,
                "rmq-bench: no message for %.0f s before the "
                "backlog was drained\n",
                BENCH_STALL_S);
        b->failed = true;
        return true;
    }
    return false;
}

static int64_t
bench_sum_gap(const int64_t *to, const int64_t *from, int n)
{
    int64_t s = 0;

    for (int i = 0; i < n; i++) {
        s += to[i] - from[i];
    }
    return s;
}

/*
 * The backlog made by --produce-first: produce it, then wait until the
 * broker's consume queues show all of it (the dispatcher may lag the
 * send answers), so that the drain's targets cover every message.
 */
static int
bench_make_backlog(rmq_bench *b, const int64_t *from, int64_t *to)
{
    int64_t deadline;

    if (!b->window_set) {
        b->o.window = 64;
    }
    b->has_pre = true;
    bench_produce_phase(b, &b->pre, b->o.produce_first, 0);
    if (b->failed || bench_stop_flag) {
        return -1;
    }
    deadline = rmq_mono_ms() + BENCH_DISPATCH_WAIT_MS;
    do {
        if (rmq_bench_max_offsets(&b->o, &b->t, to) != 0) {
            return -1;
        }
        if (bench_sum_gap(to, from, b->t.read_queues) >= (int64_t)b->pre.msgs) {
            return 0;
        }
        usleep(20 * 1000);
    } while (rmq_mono_ms() < deadline);
    fprintf(stderr, "rmq-bench: the consume queues show fewer messages than "
                    "were produced\n");
    return 0;
}

static int
bench_cons_from(rmq_bench *b, int64_t *from)
{
    if (b->o.produce_first > 0) {
        return rmq_bench_max_offsets(&b->o, &b->t, from);
    }
    if (b->o.from_committed) {
        return rmq_bench_group_offsets(&b->o, &b->t, from);
    }
    memset(from, 0, sizeof(int64_t) * (size_t)b->t.read_queues);
    return 0;
}

static void
bench_run_consume(rmq_bench *b)
{
    int64_t from[RMQ_BENCH_QUEUES_MAX], to[RMQ_BENCH_QUEUES_MAX];

    if (bench_cons_from(b, from) != 0 ||
        (b->o.produce_first > 0 && bench_make_backlog(b, from, to) != 0) ||
        (b->o.produce_first == 0 &&
         rmq_bench_max_offsets(&b->o, &b->t, to) != 0)) {
        b->failed = true;
        return;
    }
    if (rmq_bench_cons_start(b, from, to) != 0 || !bench_connect(b)) {
        b->failed = true;
        rmq_bench_cons_fini(b);
        return;
    }
    rmq_bench_cons_go(b);
    bench_spin(b, b->o.duration_s, bench_cons_finished);
    b->drained = rmq_bench_cons_done(b);
    rmq_bench_procs_sample(rmq_bench_rundir(&b->o), &b->procs_end);
    bench_cons_keep(b);
    rmq_bench_cons_fini(b);
}

static bool
bench_e2e_caught_up(rmq_bench *b)
{
    return rmq_bench_prod_inflight(b) == 0 &&
           rmq_bench_cons_stamped(b) >= b->ps.msgs;
}

static void
bench_run_e2e(rmq_bench *b)
{
    int64_t from[RMQ_BENCH_QUEUES_MAX];
    double  d = b->o.duration_s;

    if (d == 0 && b->o.count == 0) {
        d = 10;
    }
    if (rmq_bench_max_offsets(&b->o, &b->t, from) != 0 ||
        rmq_bench_cons_start(b, from, NULL) != 0 ||
        rmq_bench_prod_start(b, &b->ps, b->o.count) != 0 || !bench_connect(b)) {
        b->failed = true;
        goto done;
    }
    rmq_bench_cons_go(b);
    rmq_bench_prod_go(b);
    bench_spin(b, d, bench_prod_finished);
    rmq_bench_prod_stop(b);
    bench_drain(b, bench_e2e_caught_up);
    rmq_bench_procs_sample(rmq_bench_rundir(&b->o), &b->procs_end);
    bench_cons_keep(b);
done:
    rmq_bench_prod_fini(b);
    rmq_bench_cons_fini(b);
}

/* ---- main ------------------------------------------------------------- */

static void
bench_on_cmd(rmq_conn *c, rmq_rcmd *cmd, void *user)
{
    rmq_bench_conn_hdr *h = c->user;

    if (h == NULL) {
        return;
    }
    if (h->kind == RMQ_BENCH_CONN_PRODUCER) {
        rmq_bench_prod_on_cmd(user, h, cmd);
    } else {
        rmq_bench_cons_on_cmd(user, h, cmd);
    }
}

static void
bench_on_close(rmq_conn *c, void *user)
{
    rmq_bench_conn_hdr *h = c->user;

    if (h == NULL) {
        return;
    }
    if (h->kind == RMQ_BENCH_CONN_PRODUCER) {
        rmq_bench_prod_on_close(user, h);
    } else {
        rmq_bench_cons_on_close(user, h);
    }
}

static void
bench_on_connect(rmq_conn *c, bool ok, void *user)
{
    rmq_bench_conn_hdr *h = c->user;

    if (h == NULL) {
        return;
    }
    if (h->kind == RMQ_BENCH_CONN_PRODUCER) {
        rmq_bench_prod_on_connect(user, h, ok);
    } else {
        rmq_bench_cons_on_connect(user, h, ok);
    }
}

static void
bench_signals(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = bench_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

static int
bench_init(rmq_bench *b)
{
    static const rmq_conn_ops ops = {bench_on_cmd, bench_on_close,
                                     bench_on_connect};
    struct timespec           ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    b->nonce =
        (uint32_t)ts.tv_nsec ^ ((uint32_t)getpid() << 16) ^ (uint32_t)ts.tv_sec;
    rmq_bench_hist_init(&b->ps.lat);
    rmq_bench_hist_init(&b->cs.lat);
    rmq_bench_hist_init(&b->pre.lat);
    if (rmq_loop_init(&b->loop) != 0 ||
        rmq_conns_init(&b->conns, &b->loop, &ops, b) != 0) {
        fprintf(stderr, "rmq-bench: cannot create the event loop\n");
        return -1;
    }
    return 0;
}

int
main(int argc, char **argv)
{
    rmq_bench *b = calloc(1, sizeof(*b));
    int        rc;

    if (b == NULL) {
        return 1;
    }
    rmq_log_init("rmq-bench");
    rmq_log_set_level(RMQ_LOG_WARN);
    if ((rc = bench_parse(b, argc, argv)) != 0) {
        free(b);
        return rc;
    }
    bench_signals();
    if (bench_init(b) != 0) {
        return 1;
    }
    rmq_bench_procs_sample(rmq_bench_rundir(&b->o), &b->procs_start);
    if (b->o.mode == RMQ_BENCH_RSS) {
        b->procs_end = b->procs_start;
    } else if (rmq_bench_setup(&b->o, &b->t) != 0) {
        b->failed = true;
    } else if (b->o.mode == RMQ_BENCH_PRODUCE) {
        bench_run_produce(b);
    } else if (b->o.mode == RMQ_BENCH_CONSUME) {
        bench_run_consume(b);
    } else {
        bench_run_e2e(b);
    }
    rmq_bench_report(b);
    rc = rmq_bench_exit_status(b);
    rmq_conns_fini(&b->conns);
    rmq_loop_fini(&b->loop);
    free(b);
    return rc;
}
