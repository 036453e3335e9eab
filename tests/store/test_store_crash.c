/*
 * test_store_crash.c - store.store_crash (tag proc): the store actors of a
 * real rmq-supervisor under load, crashes and damaged files.
 *
 * The test process puts records through clwriter with broker/putter.h
 * (the test actor's put ring), so it knows exactly which puts clwriter
 * acknowledged and where it put them.  Commit-log files are 1 MiB and
 * consume-queue files hold 1000 entries, so both roll often.  After each
 * scenario it reads the store back with the store readers (read-only
 * maps bounded by the positions in the control segment) and checks:
 *   - every record of the test topic is intact (CRC, body derived from
 *     its sequence number, queue id), found once per put at most;
 *   - every acknowledged put is in the commit log exactly once, where
 *     clwriter said, and in its consume queue exactly once;
 *   - every consume-queue entry below the published max points at a
 *     record of its own topic, queue and queue offset, with its tag hash;
 *     no gaps, nothing past the max, one entry per record.
 * Scenarios: 100,000 puts (and a clean restart); kill -9 of clwriter,
 * the flusher (SYNC_FLUSH) and the dispatcher during a put storm; kill -9
 * of the whole tree with SYNC_FLUSH (abnormal recovery keeps every
 * flushed put); garbage after the last record; a corrupt record body.
 */
#include "broker/putter.h"
#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "store/commitlog.h"
#include "store/cq.h"
#include "store/recovery.h"
#include "supervisor/actor.h"
#include "tests/support/rmqtest.h"

#include <check.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SC_TOPIC "CrashT"
#define SC_QUEUES 8
#define SC_CL_FILE (1 << 20)
#define SC_CQ_FILE (RMQ_CQ_ENTRY_SIZE * 1000)
#define SC_RING (8u << 20)
#define SC_READY_MS 20000
#define SC_PUTS_MAX 120000
#define SC_BODY_MAX 300

/*
 * A check for loops over every put or record.  Check's ck_assert_* write
 * a mark point to a pipe each time, which over millions of checks costs
 * seconds; this calls into Check only when the condition fails.
 */
#define SC_CHECK(cond, ...)                                                    \
    do {                                                                       \
        if (!(cond)) {                                                         \
            ck_abort_msg(__VA_ARGS__);                                         \
        }                                                                      \
    } while (0)

struct sc_put {
    bool    sent;
    bool    done;
    int32_t status;
    int64_t phys;
    int64_t qoff;
};

static struct {
    rmqtest_broker br;
    char          *store;
    bool           sync_flush;
    rmq_ctl        ctl;
    bool           ctl_open;
    rmq_putter     p;
    bool           p_open;
    struct sc_put  puts[SC_PUTS_MAX];
    uint64_t       nputs; /* puts[0, nputs) were sent */
    bool           stop_storm;
} sc;

/* ---- the broker ---------------------------------------------------------- */

static void
sc_write_conf(void)
{
    rmqtest_write_file(sc.br.conf,
                       "broker = {\n"
                       "    brokerName = \"broker-crash\";\n"
                       "    listenPort = %d;\n"
                       "    namesrvAddr = \"127.0.0.1:%d\";\n"
                       "    brokerIP1 = \"127.0.0.1\";\n"
                       "    storePathRootDir = \"%s\";\n"
                       "    flushDiskType = \"%s\";\n"
                       "    mappedFileSizeCommitLog = %d;\n"
                       "    mappedFileSizeConsumeQueue = %d;\n"
                       "    flushIntervalConsumeQueue = 200;\n"
                       "};\n"
                       "namesrv = { listenPort = %d; };\n"
                       "supervisor = {\n"
                       "    runDir = \"%s\";\n"
                       "    restartIntensity = 20;\n"
                       "    restartPeriodSec = 30;\n"
                       "};\n",
                       sc.br.port, sc.br.ns_port, sc.store,
                       sc.sync_flush ? "SYNC_FLUSH" : "ASYNC_FLUSH", SC_CL_FILE,
                       SC_CQ_FILE, sc.br.ns_port, sc.br.run_dir);
}

static void
sc_put_done(void *arg, uint64_t cookie, const rmq_put_res *r)
{
    struct sc_put *p;

    (void)arg;
    SC_CHECK(cookie < SC_PUTS_MAX, "unknown cookie %llu",
             (unsigned long long)cookie);
    p = &sc.puts[cookie];
    SC_CHECK(p->sent && !p->done, "put %llu answered twice or unsent",
             (unsigned long long)cookie);
    p->done = true;
    p->status = r->status;
    p->phys = r->phys_offset;
    p->qoff = r->queue_offset;
}

/* Start the supervisor, wait for READY, attach, open the putter. */
static void
sc_start(void)
{
    rmqtest_broker_start(&sc.br, rmqtest_env("RMQ_SUPERVISOR_BIN"), NULL);
    ck_assert_msg(rmqtest_ctl_wait_ready(sc.br.run_dir, sc.br.sup.pid,
                                         SC_READY_MS, &sc.ctl),
                  "broker not ready; log:\n%s", rmqtest_file_tail(sc.br.log));
    sc.ctl_open = true;
    ck_assert_int_eq(rmq_putter_open(&sc.p, sc.br.run_dir, RMQ_ACTOR_TESTACTOR,
                                     SC_RING, sc_put_done, NULL),
                     0);
    sc.p_open = true;
}

static void
sc_detach(void)
{
    if (sc.p_open) {
        rmq_putter_close(&sc.p);
        sc.p_open = false;
    }
    if (sc.ctl_open) {
        rmq_ctl_detach(&sc.ctl);
        sc.ctl_open = false;
    }
}

/* SIGTERM the supervisor and wait for its orderly exit. */
static void
sc_stop(void)
{
    sc_detach();
    ck_assert_msg(rmqtest_proc_signal_wait(&sc.br.sup, SIGTERM, 20000),
                  "supervisor did not stop; log:\n%s",
                  rmqtest_file_tail(sc.br.log));
    ck_assert_msg(rmqtest_exit_code(sc.br.sup.status) == 0,
                  "supervisor exit status %d; log:\n%s", sc.br.sup.status,
                  rmqtest_file_tail(sc.br.log));
}

static void
sc_setup(bool sync_flush)
{
    memset(&sc, 0, sizeof(sc));
    sc.sync_flush = sync_flush;
    rmqtest_broker_init(&sc.br, "crash");
    sc.store = rmqtest_strf("%s/store", sc.br.dir);
    sc_write_conf();
    sc_start();
    ck_assert_int_eq(rmq_putter_topic(&sc.p, SC_TOPIC, SC_QUEUES, 5000), 0);
}

static void
sc_setup_async(void)
{
    sc_setup(false);
}

static void
sc_setup_sync(void)
{
    sc_setup(true);
}

static void
sc_teardown(void)
{
    if (rmqtest_broker_running(&sc.br)) {
        sc_stop();
    }
    sc_detach();
    rmqtest_assert_no_sanitizer_report(sc.br.log);
    rmqtest_broker_fini(&sc.br);
    free(sc.store);
}

/* ---- records ------------------------------------------------------------- */

/* The body of put seq: "sc-<seq>-" and filler; its length varies. */
static uint32_t
sc_body(uint64_t seq, char *buf)
{
    int n = snprintf(buf, SC_BODY_MAX, "sc-%llu-", (unsigned long long)seq);
    uint32_t len = 40 + (uint32_t)((seq * 7919) % 200);

    for (uint32_t i = (uint32_t)n; i < len; i++) {
        buf[i] = (char)('a' + (seq + i) % 26);
    }
    return len;
}

static int32_t
sc_queue_of(uint64_t seq)
{
    return (int32_t)(seq % SC_QUEUES);
}

static void
sc_tag(uint64_t seq, char *buf, size_t cap)
{
    snprintf(buf, cap, "T%d", (int)(seq % 3));
}

/*
 * The sequence number of a record of the test topic, after checking its
 * body is exactly what put seq sent; -1 for a record of another topic.
 */
static int64_t
sc_seq_of(const rmq_rec_view *v)
{
    char               want[SC_BODY_MAX];
    unsigned long long seq;
    uint32_t           len;

    if (v->topic_len != strlen(SC_TOPIC) ||
        memcmp(v->topic, SC_TOPIC, v->topic_len) != 0) {
        return -1;
    }
    SC_CHECK(v->body_len < SC_BODY_MAX &&
                 sscanf((const char *)v->body, "sc-%llu-", &seq) == 1 &&
                 seq < SC_PUTS_MAX,
             "foreign body in a record at %lld", (long long)v->phys_offset);
    len = sc_body(seq, want);
    SC_CHECK(len == v->body_len && memcmp(want, v->body, len) == 0,
             "body of record %llu at %lld is not what was put", seq,
             (long long)v->phys_offset);
    SC_CHECK(v->queue_id == sc_queue_of(seq), "record %llu in queue %d", seq,
             v->queue_id);
    return (int64_t)seq;
}

/* ---- putting ------------------------------------------------------------- */

static void
sc_put_one(uint64_t seq, uint32_t flags, int64_t deadline)
{
    char     tag[8], body[SC_BODY_MAX];
    uint32_t len = sc_body(seq, body);
    int      rc;

    SC_CHECK(seq < SC_PUTS_MAX, "too many puts");
    sc_tag(seq, tag, sizeof(tag));
    sc.puts[seq].sent = true; /* before the put: a result may come at once */
    for (;;) {
        rc = rmq_putter_put(&sc.p, SC_TOPIC, sc_queue_of(seq), tag, NULL, body,
                            len, flags, seq);
        if (rc == 0) {
            break;
        }
        ck_assert_msg(rc == RMQ_ERR_FULL || rc == RMQ_ERR_AGAIN, "put %llu: %s",
                      (unsigned long long)seq, rmq_strerror(rc));
        ck_assert_msg(rmq_mono_ms() < deadline, "puts stalled; log:\n%s",
                      rmqtest_file_tail(sc.br.log));
        rmq_putter_poll(&sc.p, 2);
    }
    if (seq >= sc.nputs) {
        sc.nputs = seq + 1;
    }
}

/*
 * Put n records from seq `from` on as fast as clwriter takes them; call
 * hook before put number hook_at (if any).  A hook may set stop_storm.
 */
static void
sc_storm(uint64_t from, uint64_t n, uint32_t flags, uint64_t hook_at,
         void (*hook)(void))
{
    int64_t deadline = rmq_mono_ms() + rmqtest_scale_ms(45000);

    sc.stop_storm = false;
    for (uint64_t seq = from; seq < from + n && !sc.stop_storm; seq++) {
        if (hook != NULL && seq == hook_at) {
            hook();
            if (sc.stop_storm) {
                break;
            }
        }
        sc_put_one(seq, flags, deadline);
        if ((seq & 127) == 0) {
            rmq_putter_poll(&sc.p, 0);
        }
    }
}

/* Wait until every put sent so far has its answer. */
static void
sc_wait_answers(void)
{
    int64_t deadline = rmq_mono_ms() + rmqtest_scale_ms(30000);

    for (uint64_t i = 0; i < sc.nputs; i++) {
        while (sc.puts[i].sent && !sc.puts[i].done) {
            ck_assert_msg(rmq_mono_ms() < deadline,
                          "put %llu not answered; log:\n%s",
                          (unsigned long long)i, rmqtest_file_tail(sc.br.log));
            rmq_putter_poll(&sc.p, 10);
        }
    }
}

/* After a kill -9 of everything: what was not answered never will be. */
static void
sc_forget_unanswered(void)
{
    for (uint64_t i = 0; i < sc.nputs; i++) {
        if (sc.puts[i].sent && !sc.puts[i].done) {
            sc.puts[i].done = true;
            sc.puts[i].status = RMQ_PUT_STORE_ERROR;
        }
    }
}

static bool
sc_is_acked(const struct sc_put *p)
{
    return p->done &&
           (p->status == RMQ_PUT_OK || p->status == RMQ_PUT_FLUSH_TIMEOUT);
}

static uint64_t
sc_count_status(int32_t status)
{
    uint64_t n = 0;

    for (uint64_t i = 0; i < sc.nputs; i++) {
        n += sc.puts[i].done && sc.puts[i].status == status;
    }
    return n;
}

/* ---- reading back -------------------------------------------------------- */

static bool
sc_caught_up(void *arg)
{
    int64_t written = atomic_load(&sc.ctl.pos->cl_written);

    (void)arg;
    return rmqtest_ctl_all_ready(&sc.ctl) &&
           atomic_load(&sc.ctl.pos->dispatched) == written;
}

static void
sc_open_cl(rmq_cl *cl)
{
    char        dir[600];
    rmq_cl_opts o = {.dir = dir, .file_size = SC_CL_FILE};

    snprintf(dir, sizeof(dir), "%s/%s", sc.store, RMQ_CL_DIR);
    ck_assert_int_eq(rmq_cl_open(cl, &o), 0);
}

/* What the commit-log scan found per put. */
struct sc_scan {
    uint8_t *count; /* records of each seq (saturating) */
    int64_t *phys;  /* where the last one is */
    int64_t *qoff;
    uint64_t records; /* of the test topic */
    int64_t  end;     /* cl_written at the time of the scan */
};

static void
sc_scan_free(struct sc_scan *s)
{
    free(s->count);
    free(s->phys);
    free(s->qoff);
}

/* Every record from the first commit-log byte to cl_written, CRC checked. */
static void
sc_scan_log(struct sc_scan *s)
{
    rmq_cl       cl;
    rmq_cl_iter  it;
    rmq_rec_view v;
    int64_t      off;
    int          rc;

    memset(s, 0, sizeof(*s));
    s->count = calloc(SC_PUTS_MAX, 1);
    s->phys = calloc(SC_PUTS_MAX, sizeof(int64_t));
    s->qoff = calloc(SC_PUTS_MAX, sizeof(int64_t));
    ck_assert(s->count && s->phys && s->qoff);
    s->end = atomic_load(&sc.ctl.pos->cl_written);
    sc_open_cl(&cl);
    rmq_cl_iter_init(&it, &cl, atomic_load(&sc.ctl.pos->cl_min_offset), s->end,
                     true);
    while ((rc = rmq_cl_iter_next(&it, &v, &off)) == 0) {
        int64_t seq = sc_seq_of(&v);
        if (seq < 0) {
            continue;
        }
        SC_CHECK(v.phys_offset == off, "record at %lld says it is at %lld",
                 (long long)off, (long long)v.phys_offset);
        if (s->count[seq] < 255) {
            s->count[seq]++;
        }
        s->phys[seq] = off;
        s->qoff[seq] = v.queue_offset;
        s->records++;
    }
    ck_assert_msg(rc == RMQ_ERR_AGAIN && it.pos == s->end,
                  "commit-log scan stopped at %lld of %lld: %s",
                  (long long)it.pos, (long long)s->end, rmq_strerror(rc));
    rmq_cl_close(&cl);
}

/* Acknowledged: exactly once, where clwriter said; others at most once. */
static void
sc_check_puts(const struct sc_scan *s)
{
    for (uint64_t i = 0; i < sc.nputs; i++) {
        const struct sc_put *p = &sc.puts[i];
        if (!sc_is_acked(p)) {
            SC_CHECK(s->count[i] <= 1, "failed put %llu stored %u times",
                     (unsigned long long)i, s->count[i]);
            continue;
        }
        SC_CHECK(s->count[i] == 1, "acknowledged put %llu stored %u times",
                 (unsigned long long)i, s->count[i]);
        SC_CHECK(s->phys[i] == p->phys && s->qoff[i] == p->qoff,
                 "put %llu acknowledged at %lld/%lld, found at %lld/%lld",
                 (unsigned long long)i, (long long)p->phys, (long long)p->qoff,
                 (long long)s->phys[i], (long long)s->qoff[i]);
    }
    for (uint64_t i = sc.nputs; i < SC_PUTS_MAX; i++) {
        SC_CHECK(s->count[i] == 0, "record %llu was never put",
                 (unsigned long long)i);
    }
}

/* Entries [0, max) of queue q: each points at the right record, once. */
static uint64_t
sc_check_queue(int32_t q, int64_t end, uint8_t *cq_count)
{
    rmq_topic_entry t;
    rmq_cq          cq;
    rmq_cl          cl;
    rmq_cq_entry    e;
    int64_t         max, i;
    char            tag[8];

    ck_assert_int_ge(
        rmq_ctl_topic_find(&sc.ctl, SC_TOPIC, strlen(SC_TOPIC), &t), 0);
    max = atomic_load(&sc.ctl.qd[t.queue_base + (uint32_t)q].max_offset);
    ck_assert_int_eq(
        atomic_load(&sc.ctl.qd[t.queue_base + (uint32_t)q].min_offset), 0);
    ck_assert_int_eq(
        atomic_load(&sc.ctl.qw[t.queue_base + (uint32_t)q].next_offset), max);
    sc_open_cl(&cl);
    ck_assert_int_eq(rmq_cq_open(&cq, sc.store, SC_TOPIC, strlen(SC_TOPIC), q,
                                 SC_CQ_FILE, false),
                     0);
    for (i = 0; i < max; i++) {
        rmq_rec_view v;
        int64_t      seq;

        SC_CHECK(rmq_cq_get(&cq, i, &e) == 0 && rmq_cq_entry_is_valid(&e) &&
                     !rmq_cq_entry_is_placeholder(&e),
                 "queue %d entry %lld is not a message", q, (long long)i);
        SC_CHECK(e.offset + e.size <= end,
                 "queue %d entry %lld points past the log end", q,
                 (long long)i);
        SC_CHECK(rmq_cl_read(&cl, e.offset, end, true, &v) == 0 &&
                     v.kind == RMQ_REC_MSG,
                 "queue %d entry %lld: no record at %lld", q, (long long)i,
                 (long long)e.offset);
        seq = sc_seq_of(&v);
        SC_CHECK(seq >= 0 && v.queue_id == q && v.queue_offset == i &&
                     e.size == (int32_t)v.total_size,
                 "queue %d entry %lld points at record %lld of queue %d/%lld",
                 q, (long long)i, (long long)seq, v.queue_id,
                 (long long)v.queue_offset);
        sc_tag((uint64_t)seq, tag, sizeof(tag));
        SC_CHECK(e.tags_code == rmq_java_hash(tag, strlen(tag)),
                 "queue %d entry %lld: tag hash %lld", q, (long long)i,
                 (long long)e.tags_code);
        if (cq_count[seq] < 255) {
            cq_count[seq]++;
        }
    }
    /* nothing past the max: the next entry is unwritten */
    if (rmq_cq_get(&cq, max, &e) == 0) {
        ck_assert_msg(!rmq_cq_entry_is_valid(&e),
                      "queue %d has an entry past its max %lld", q,
                      (long long)max);
    }
    rmq_cq_close(&cq);
    rmq_cl_close(&cl);
    return (uint64_t)max;
}

/*
 * Wait for the dispatcher to catch up, then check the commit log and
 * every consume queue of the test topic against the puts.  Returns the
 * number of test-topic records in the log.
 */
static uint64_t
sc_verify(void)
{
    struct sc_scan s;
    uint8_t       *cq_count = calloc(SC_PUTS_MAX, 1);
    uint64_t       entries = 0, records;

    ck_assert_ptr_nonnull(cq_count);
    ck_assert_msg(rmqtest_wait_until(sc_caught_up, NULL, 20000),
                  "dispatcher behind (written %lld, dispatched %lld); log:\n%s",
                  (long long)atomic_load(&sc.ctl.pos->cl_written),
                  (long long)atomic_load(&sc.ctl.pos->dispatched),
                  rmqtest_file_tail(sc.br.log));
    sc_scan_log(&s);
    sc_check_puts(&s);
    for (int32_t q = 0; q < SC_QUEUES; q++) {
        entries += sc_check_queue(q, s.end, cq_count);
    }
    ck_assert_uint_eq(entries, s.records);
    for (uint64_t i = 0; i < SC_PUTS_MAX; i++) {
        SC_CHECK(cq_count[i] == s.count[i],
                 "record %llu: %u in the log, %u in its queue",
                 (unsigned long long)i, s.count[i], cq_count[i]);
    }
    records = s.records;
    sc_scan_free(&s);
    free(cq_count);
    return records;
}

/* ---- crashing ------------------------------------------------------------ */

static int   sc_victim;
static pid_t sc_victim_pid;

/*
 * Storm hook: once some puts are acknowledged (more are in flight),
 * kill -9 the victim actor; the storm goes on.
 */
static void
sc_kill_victim(void)
{
    int64_t deadline = rmq_mono_ms() + rmqtest_scale_ms(10000);

    while (sc_count_status(RMQ_PUT_OK) < 1000) {
        ck_assert_msg(rmq_mono_ms() < deadline, "puts not acknowledged");
        rmq_putter_poll(&sc.p, 5);
    }
    sc_victim_pid = rmqtest_ctl_actor_pid(&sc.ctl, sc_victim);
    ck_assert_int_gt(sc_victim_pid, 0);
    ck_assert_int_eq(kill(sc_victim_pid, SIGKILL), 0);
}

static bool
sc_victim_back(void *arg)
{
    pid_t pid = rmqtest_ctl_actor_pid(&sc.ctl, sc_victim);

    (void)arg;
    return pid != 0 && pid != sc_victim_pid;
}

/*
 * Put n records, kill -9 actor id after `at` of them, keep putting while
 * it restarts, wait for every answer and the successor.
 */
static void
sc_storm_killing(int id, uint64_t n, uint64_t at, uint32_t flags)
{
    sc_victim = id;
    sc_storm(0, n, flags, at, sc_kill_victim);
    sc_wait_answers();
    ck_assert_msg(rmqtest_wait_until(sc_victim_back, NULL, SC_READY_MS),
                  "%s did not come back; log:\n%s", rmq_actor_table[id].name,
                  rmqtest_file_tail(sc.br.log));
    ck_assert_uint_ge(atomic_load(&sc.ctl.slots[id].sup.s.restarts), 1);
}

/* ---- tests: load --------------------------------------------------------- */

START_TEST(test_store_crash_100k_puts_each_in_its_queue_once)
{
    enum { N = 100000 };

    sc_storm(0, N, 0, 0, NULL);
    sc_wait_answers();
    ck_assert_uint_eq(sc_count_status(RMQ_PUT_OK), N);
    ck_assert_uint_eq(sc_verify(), N);
    /* the log rolled many times: a record never spans two files */
    ck_assert_int_gt(atomic_load(&sc.ctl.pos->cl_written), 10 * SC_CL_FILE);
    /* a clean stop and a normal recovery keep all of it */
    sc_stop();
    ck_assert(!rmq_store_abort_exists(sc.store));
    sc_start();
    ck_assert_uint_eq(sc_verify(), N);
}
END_TEST

/* ---- tests: one actor killed --------------------------------------------- */

START_TEST(test_store_crash_clwriter_kill_9_loses_and_repeats_nothing_acked)
{
    enum { N = 40000 };

    sc_storm_killing(RMQ_ACTOR_CLWRITER, N, 15000, 0);
    /* what was in flight failed as such; the rest was stored */
    ck_assert_uint_ge(sc_count_status(RMQ_PUT_OK), 1000);
    ck_assert_uint_eq(
        sc_count_status(RMQ_PUT_OK) + sc_count_status(RMQ_PUT_WRONG_WRITER), N);
    sc_verify();
    /* the successor writes on where its predecessor stopped */
    sc_storm(N, 1000, 0, 0, NULL);
    sc_wait_answers();
    for (uint64_t i = N; i < N + 1000; i++) {
        ck_assert_int_eq(sc.puts[i].status, RMQ_PUT_OK);
    }
    sc_verify();
}
END_TEST

START_TEST(test_store_crash_dispatcher_kill_9_keeps_queues_exact)
{
    enum { N = 40000 };

    sc_storm_killing(RMQ_ACTOR_DISPATCHER, N, 15000, 0);
    /* clwriter never went away: every put was stored */
    ck_assert_uint_eq(sc_count_status(RMQ_PUT_OK), N);
    ck_assert_uint_eq(sc_verify(), N);
}
END_TEST

START_TEST(test_store_crash_flusher_kill_9_sync_flush_answers_every_put)
{
    enum { N = 20000 };

    sc_storm_killing(RMQ_ACTOR_FLUSHER, N, 8000, RMQ_PUT_F_WAIT_FLUSH);
    /* clwriter stayed: each put stored, and flushed by the successor */
    ck_assert_uint_eq(sc_count_status(RMQ_PUT_OK), N);
    ck_assert_uint_eq(sc_verify(), N);
    ck_assert_int_ge(atomic_load(&sc.ctl.pos->cl_flushed),
                     atomic_load(&sc.ctl.pos->cl_written));
}
END_TEST

/* ---- tests: the whole tree killed ---------------------------------------- */

static void
sc_kill_tree_hook(void)
{
    int64_t deadline = rmq_mono_ms() + rmqtest_scale_ms(10000);

    /* some puts acknowledged, many more in flight: then everything dies */
    while (sc_count_status(RMQ_PUT_OK) < 2000) {
        ck_assert_msg(rmq_mono_ms() < deadline, "puts not acknowledged");
        rmq_putter_poll(&sc.p, 5);
    }
    rmqtest_broker_kill_tree(&sc.br);
    sc.stop_storm = true;
}

START_TEST(test_store_crash_sync_flush_acked_puts_survive_kill_9_of_all)
{
    enum { N = 30000 };
    uint64_t acked;

    sc_storm(0, N, RMQ_PUT_F_WAIT_FLUSH, 10000, sc_kill_tree_hook);
    ck_assert(sc.stop_storm);
    /* answers already on their way were sent after the flush: they count */
    for (int i = 0; i < 5; i++) {
        rmq_putter_poll(&sc.p, 20);
    }
    sc_detach();
    sc_forget_unanswered();
    acked = sc_count_status(RMQ_PUT_OK);
    ck_assert_uint_ge(acked, 2000);
    ck_assert_uint_lt(acked, sc.nputs); /* some were in flight */
    ck_assert_uint_eq(sc_count_status(RMQ_PUT_FLUSH_TIMEOUT), 0);
    ck_assert_msg(rmq_store_abort_exists(sc.store), "no abort file left");
    sc_start();
    ck_assert(rmqtest_file_contains(sc.br.log, "abnormal recovery"));
    ck_assert_uint_ge(sc_verify(), acked);
    /* and the broker goes on */
    sc_storm(N, 500, RMQ_PUT_F_WAIT_FLUSH, 0, NULL);
    sc_wait_answers();
    ck_assert_uint_eq(sc_count_status(RMQ_PUT_OK), acked + 500);
    sc_verify();
}
END_TEST

/* ---- tests: damaged files ------------------------------------------------ */

/*
 * Put n records, all acknowledged and dispatched, then kill -9 everything.
 * Returns the end of the written log.
 */
static int64_t
sc_fill_and_kill(uint64_t n)
{
    int64_t end;

    sc_storm(0, n, 0, 0, NULL);
    sc_wait_answers();
    ck_assert_uint_eq(sc_count_status(RMQ_PUT_OK), n);
    ck_assert_uint_eq(sc_verify(), n);
    end = atomic_load(&sc.ctl.pos->cl_written);
    sc_detach();
    rmqtest_broker_kill_tree(&sc.br);
    return end;
}

static char *
sc_cl_path(int64_t file_start)
{
    return rmqtest_strf("%s/%s/%020lld", sc.store, RMQ_CL_DIR,
                        (long long)file_start);
}

static void
sc_pwrite(int64_t phys, const void *data, size_t len)
{
    char *path = sc_cl_path(phys - phys % SC_CL_FILE);
    int   fd = open(path, O_WRONLY);

    ck_assert_msg(fd >= 0, "cannot open %s", path);
    ck_assert_int_eq(pwrite(fd, data, len, phys % SC_CL_FILE), (ssize_t)len);
    close(fd);
    free(path);
}

static void
sc_pread(int64_t phys, void *data, size_t len)
{
    char *path = sc_cl_path(phys - phys % SC_CL_FILE);
    int   fd = open(path, O_RDONLY);

    ck_assert_msg(fd >= 0, "cannot open %s", path);
    ck_assert_int_eq(pread(fd, data, len, phys % SC_CL_FILE), (ssize_t)len);
    close(fd);
    free(path);
}

static bool
sc_zero_at(int64_t phys, size_t len)
{
    char    *path = sc_cl_path(phys - phys % SC_CL_FILE);
    uint8_t *buf = malloc(len);
    int      fd = open(path, O_RDONLY);
    bool     zero = true;

    ck_assert(fd >= 0 && buf != NULL);
    ck_assert_int_eq(pread(fd, buf, len, phys % SC_CL_FILE), (ssize_t)len);
    for (size_t i = 0; i < len; i++) {
        zero = zero && buf[i] == 0;
    }
    close(fd);
    free(buf);
    free(path);
    return zero;
}

START_TEST(test_store_crash_torn_tail_is_cut_and_never_served)
{
    enum { N = 6000, GARBAGE = 4096 };
    uint8_t garbage[GARBAGE];
    int64_t end;
    char    needle[128];

    end = sc_fill_and_kill(N);
    ck_assert_int_lt(end % SC_CL_FILE, SC_CL_FILE - GARBAGE);
    for (int i = 0; i < GARBAGE; i++) {
        garbage[i] = (uint8_t)(i * 131 + 7) | 1; /* never zero */
    }
    sc_pwrite(end, garbage, sizeof(garbage));
    sc_start();
    snprintf(needle, sizeof(needle),
             "torn tail in commit-log file %020lld at offset %lld",
             (long long)(end - end % SC_CL_FILE),
             (long long)(end % SC_CL_FILE));
    ck_assert_msg(rmqtest_file_contains(sc.br.log, needle),
                  "no \"%s\" in the log:\n%s", needle,
                  rmqtest_file_tail(sc.br.log));
    ck_assert_int_eq(atomic_load(&sc.ctl.pos->cl_written), end);
    ck_assert_msg(sc_zero_at(end, GARBAGE), "the garbage was not zeroed");
    ck_assert_uint_eq(sc_verify(), N);
    /* new puts go where the garbage was */
    sc_storm(N, 300, 0, 0, NULL);
    sc_wait_answers();
    ck_assert_int_eq(sc.puts[N].status, RMQ_PUT_OK);
    ck_assert_int_eq(sc.puts[N].phys, end);
    ck_assert_uint_eq(sc_count_status(RMQ_PUT_OK), N + 300);
    ck_assert_uint_eq(sc_verify(), N + 300);
}
END_TEST

START_TEST(test_store_crash_corrupt_body_is_reported_and_not_served)
{
    enum { N = 8000 };
    int64_t  last_file = 0, victim_phys, body_at;
    uint64_t victim = 0, in_last = 0, k = 0;
    uint8_t  b;
    char     needle[128];

    sc_fill_and_kill(N);
    for (uint64_t i = 0; i < N; i++) {
        last_file = RMQ_MAX(last_file, sc.puts[i].phys / SC_CL_FILE);
    }
    for (uint64_t i = 0; i < N; i++) {
        in_last += sc.puts[i].phys / SC_CL_FILE == last_file;
    }
    ck_assert_uint_gt(in_last, 10);
    /* a record in the middle of the last file (puts are in log order) */
    for (uint64_t i = 0; i < N; i++) {
        if (sc.puts[i].phys / SC_CL_FILE == last_file && k++ == in_last / 2) {
            victim = i;
        }
    }
    victim_phys = sc.puts[victim].phys;
    /* flip a byte of its body (IPv4 hosts: the body follows its length) */
    body_at = victim_phys + rmq_rec_off_body_len(0) + 4 + 10;
    sc_pread(body_at, &b, 1);
    b ^= 0x5a;
    sc_pwrite(body_at, &b, 1);
    sc_start();
    snprintf(needle, sizeof(needle),
             "corrupt record in commit-log file %020lld at offset %lld",
             (long long)(last_file * SC_CL_FILE),
             (long long)(victim_phys % SC_CL_FILE));
    ck_assert_msg(rmqtest_file_contains(sc.br.log, needle),
                  "no \"%s\" in the log:\n%s", needle,
                  rmqtest_file_tail(sc.br.log));
    /* cut at the corrupt record: it and what followed are gone */
    ck_assert_int_eq(atomic_load(&sc.ctl.pos->cl_written), victim_phys);
    for (uint64_t i = 0; i < N; i++) {
        if (sc.puts[i].phys >= victim_phys) {
            sc.puts[i].status = RMQ_PUT_STORE_ERROR; /* no longer expected */
        }
    }
    ck_assert_uint_eq(sc_verify(), victim);
    /* the store goes on from there */
    sc_storm(N, 300, 0, 0, NULL);
    sc_wait_answers();
    ck_assert_int_eq(sc.puts[N].status, RMQ_PUT_OK);
    ck_assert_int_eq(sc.puts[N].phys, victim_phys);
    sc_verify();
}
END_TEST

static Suite *
store_crash_suite(void)
{
    Suite *s = suite_create("store.store_crash");
    TCase *load = tcase_create("load");
    TCase *crash = tcase_create("crash");
    TCase *sync = tcase_create("sync");
    TCase *damage = tcase_create("damage");
    TCase *all[] = {load, crash, sync, damage};

    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        tcase_set_tags(all[i], "proc");
        tcase_set_timeout(all[i], 60);
        tcase_add_unchecked_fixture(all[i], rmqtest_base_setup,
                                    rmqtest_base_teardown);
        tcase_add_checked_fixture(
            all[i], all[i] == sync ? sc_setup_sync : sc_setup_async,
            sc_teardown);
        suite_add_tcase(s, all[i]);
    }
    tcase_add_test(load, test_store_crash_100k_puts_each_in_its_queue_once);
    tcase_add_test(
        crash,
        test_store_crash_clwriter_kill_9_loses_and_repeats_nothing_acked);
    tcase_add_test(crash,
                   test_store_crash_dispatcher_kill_9_keeps_queues_exact);
    tcase_add_test(
        sync, test_store_crash_flusher_kill_9_sync_flush_answers_every_put);
    tcase_add_test(
        sync, test_store_crash_sync_flush_acked_puts_survive_kill_9_of_all);
    tcase_add_test(damage, test_store_crash_torn_tail_is_cut_and_never_served);
    tcase_add_test(damage,
                   test_store_crash_corrupt_body_is_reported_and_not_served);
    return s;
}

int
main(void)
{
    rmq_log_init("test");
    return rmqtest_run_suite(store_crash_suite());
}
