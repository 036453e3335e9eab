/*
 * test_scheduler.c - broker.scheduler (tag proc): the scheduler actor in
 * a real rmq-supervisor (store actors + scheduler) on a temp dir with
 * free ports and short delay levels ("1s 2s 3s").
 *
 * The test process plays a sender through broker/putter.h: it rewrites
 * messages with rmq_delay_rewrite (as the acceptor's send path does) and
 * puts them into SCHEDULE_TOPIC_XXXX through clwriter.  It then reads the
 * real topic's consume queue and records straight from the store files
 * (read-only maps, bounded by the positions in the control segment) and
 * checks timing (store time of the delivery against the schedule
 * record's store time + level delay), content, and that each message
 * arrives once: across a kill -9 of the scheduler (nothing in flight:
 * exactly once; while delivering: at most one repeat for the one level
 * in flight) and across a supervisor stop + start (delayOffset.json).
 * Processes, temp dirs and ports come from tests/support/rmqtest.h.
 */
#include "broker/delay.h"
#include "broker/putter.h"
#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "proto/props.h"
#include "shm/control.h"
#include "store/commitlog.h"
#include "store/cq.h"
#include "store/jsonfile.h"
#include "supervisor/actor.h"
#include "tests/support/rmqtest.h"

#include <check.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define SB_TOPIC "DelayT"
#define SB_QUEUES 4
#define SB_LEVELS 3
#define SB_CL_FILE 262144 /* small files: rolls happen in the tests */
#define SB_CQ_FILE 2000   /* 100 entries per consume-queue file */
#define SB_READY_MS 20000 /* generous: sanitizer builds start slowly */
#define SB_LATE_MS 1500   /* how late a delivery may be (restarts incl.) */
#define SB_PUTS_MAX 4096
#define SB_READ_MAX 4096

static const int64_t sb_delay_ms[SB_LEVELS] = {1000, 2000, 3000};

struct sb_put {
    bool    done;
    int32_t status;
    int64_t phys;
};

/* One delivered message as read back from the store. */
typedef struct sb_msg {
    char     body[64];
    char     props[1024];
    uint32_t props_len;
    int32_t  queue_id;
    int32_t  flag;
    int32_t  reconsume;
    uint32_t sysflag;
    int64_t  born_ts;
    int64_t  store_ts;
} sb_msg;

static struct {
    rmqtest_broker br;
    char          *store;
    rmq_putter     p;
    bool           p_open;
    struct sb_put  puts[SB_PUTS_MAX];
    uint32_t       nputs;
    sb_msg         got[SB_READ_MAX];
} sb;

/* ---- the broker --------------------------------------------------------- */

static void
sb_write_conf(void)
{
    rmqtest_write_file(sb.br.conf,
                       "broker = {\n"
                       "    brokerName = \"broker-sched\";\n"
                       "    listenPort = %d;\n"
                       "    namesrvAddr = \"127.0.0.1:%d\";\n"
                       "    brokerIP1 = \"127.0.0.1\";\n"
                       "    storePathRootDir = \"%s\";\n"
                       "    messageDelayLevel = \"1s 2s 3s\";\n"
                       "    flushDelayOffsetInterval = 200;\n"
                       "    mappedFileSizeCommitLog = %d;\n"
                       "    mappedFileSizeConsumeQueue = %d;\n"
                       "    putRingBytes = 4194304;\n"
                       "};\n"
                       "supervisor = {\n"
                       "    runDir = \"%s\";\n"
                       "    restartIntensity = 20;\n"
                       "    heartbeatTimeoutSec = 60;\n" /* SIGSTOP in a test */
                       "    restartPeriodSec = 30;\n"
                       "};\n",
                       sb.br.port, sb.br.ns_port, sb.store, SB_CL_FILE,
                       SB_CQ_FILE, sb.br.run_dir);
}

/*
 * The test topic comes from topics.json at the first start rather than
 * from a TOPIC_UPDATE: clwriter's runtime topic creation reads recovery
 * state that is gone by then (a stack overflow under ASan), which is not
 * what this suite tests.
 */
static void
sb_write_topics(void)
{
    char *path = rmqtest_strf("%s/config", sb.store);

    ck_assert_int_eq(mkdir(sb.store, 0755), 0);
    ck_assert_int_eq(mkdir(path, 0755), 0);
    free(path);
    path = rmqtest_strf("%s/config/topics.json", sb.store);
    rmqtest_write_file(
        path,
        "{\"dataVersion\":{\"counter\":1,\"timestamp\":0},"
        "\"topicConfigTable\":{\"%s\":{\"order\":false,\"perm\":6,"
        "\"readQueueNums\":%d,\"topicFilterType\":\"SINGLE_TAG\","
        "\"topicName\":\"%s\",\"topicSysFlag\":0,"
        "\"writeQueueNums\":%d}}}\n",
        SB_TOPIC, SB_QUEUES, SB_TOPIC, SB_QUEUES);
    free(path);
}

/* The end of the broker log, for failure messages. */
static const char *
sb_log_tail(void)
{
    static char tail[3072];
    FILE       *f = fopen(sb.br.log, "r");
    long        size;
    size_t      n;

    if (f == NULL) {
        return "(no log)";
    }
    fseek(f, 0, SEEK_END);
    size = ftell(f);
    fseek(f, size > (long)sizeof(tail) - 1 ? size - (long)sizeof(tail) + 1 : 0,
          SEEK_SET);
    n = fread(tail, 1, sizeof(tail) - 1, f);
    tail[n] = '\0';
    fclose(f);
    return tail;
}

static void sb_assert_clean_log(void);

static void
sb_put_done(void *arg, uint64_t cookie, const rmq_put_res *r)
{
    (void)arg;
    if (cookie < SB_PUTS_MAX) {
        sb.puts[cookie].done = true;
        sb.puts[cookie].status = r->status;
        sb.puts[cookie].phys = r->phys_offset;
    }
}

static bool
sb_ready(void)
{
    const rmq_ctl        *c = &sb.p.ctl;
    const rmq_actor_slot *a = &c->slots[RMQ_ACTOR_SCHEDULER];
    int32_t               pid = atomic_load(&a->sup.s.pid);

    return c->hdr->supervisor_pid == sb.br.sup.pid &&
           atomic_load(&c->hdr->sup_state) == RMQ_SUP_RUNNING && pid != 0 &&
           atomic_load(&a->act.s.ready_pid) == pid;
}

/* Attach to the running broker as the test actor and wait until READY. */
static void
sb_attach(void)
{
    int64_t end = rmq_mono_ms() + rmqtest_scale_ms(SB_READY_MS);

    for (;;) {
        if (!sb.p_open &&
            rmq_putter_open(&sb.p, sb.br.run_dir, RMQ_ACTOR_TESTACTOR, 4u << 20,
                            sb_put_done, NULL) == 0) {
            sb.p_open = true;
        }
        if (sb.p_open && sb_ready()) {
            return;
        }
        if (sb.p_open && sb.p.ctl.hdr->supervisor_pid != sb.br.sup.pid) {
            rmq_putter_close(&sb.p); /* a stale segment: attach again */
            sb.p_open = false;
        }
        ck_assert_msg(rmq_mono_ms() < end, "broker not ready; log:\n%s",
                      sb_log_tail());
        poll(NULL, 0, 20);
    }
}

static void
sb_start(void)
{
    rmqtest_broker_start(&sb.br, rmqtest_env("RMQ_SUPERVISOR_BIN"), NULL);
    sb_attach();
}

/* SIGTERM the supervisor and wait for its orderly exit. */
static void
sb_stop(void)
{
    if (sb.p_open) {
        rmq_putter_close(&sb.p);
        sb.p_open = false;
    }
    ck_assert_msg(rmqtest_proc_signal_wait(&sb.br.sup, SIGTERM, 15000),
                  "supervisor did not stop; log:\n%s", sb_log_tail());
    ck_assert_msg(rmqtest_exit_code(sb.br.sup.status) == 0,
                  "supervisor exit status %d; log:\n%s", sb.br.sup.status,
                  sb_log_tail());
}

static void
sb_setup(void)
{
    rmq_topic_entry t;

    memset(&sb, 0, sizeof(sb));
    rmqtest_broker_init(&sb.br, "sched");
    sb.store = rmqtest_strf("%s/store", sb.br.dir);
    sb_write_conf();
    sb_write_topics();
    sb_start();
    ck_assert_int_ge(
        rmq_ctl_topic_find(&sb.p.ctl, SB_TOPIC, strlen(SB_TOPIC), &t), 0);
    ck_assert_int_eq(t.write_queues, SB_QUEUES);
}

/* Stop the broker in order (the scheduler saves and exits 0), then check
 * its log and remove everything. */
static void
sb_teardown(void)
{
    if (rmqtest_broker_running(&sb.br)) {
        sb_stop();
    }
    sb_assert_clean_log();
    if (sb.p_open) {
        rmq_putter_close(&sb.p);
    }
    rmqtest_broker_fini(&sb.br);
    free(sb.store);
}

/*
 * Nothing in the broker log says a sanitizer caught something (an actor
 * that dies of it is restarted, so the test could pass without this).
 */
static void
sb_assert_clean_log(void)
{
    static const char *const bad[] = {"Sanitizer", "runtime error:"};
    FILE                    *f = fopen(sb.br.log, "r");
    char                     line[1024];

    ck_assert_ptr_nonnull(f);
    while (fgets(line, sizeof(line), f) != NULL) {
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
            ck_assert_msg(strstr(line, bad[i]) == NULL, "broker log: %s", line);
        }
    }
    fclose(f);
}

/* ---- the control segment ------------------------------------------------ */

static const rmq_actor_slot *
sb_sched_slot(void)
{
    return &sb.p.ctl.slots[RMQ_ACTOR_SCHEDULER];
}

static uint64_t
sb_counter(const char *name)
{
    const rmq_slot_act *a = &sb_sched_slot()->act.s;

    for (int i = 0; i < RMQ_COUNTER_MAX; i++) {
        if (strcmp(a->counter_names[i], name) == 0) {
            return atomic_load(&a->counters[i]);
        }
    }
    ck_abort_msg("no scheduler counter %s", name);
    return 0;
}

/* Entries in queue qid of topic (the dispatcher's published max). */
static int64_t
sb_queue_max(const char *topic, int qid)
{
    rmq_topic_entry t;

    if (rmq_ctl_topic_find(&sb.p.ctl, topic, strlen(topic), &t) < 0) {
        return 0;
    }
    return atomic_load(&sb.p.ctl.qd[t.queue_base + (uint32_t)qid].max_offset);
}

static bool
sb_wait_queue(int qid, int64_t n, int timeout_ms)
{
    int64_t end = rmq_mono_ms() + timeout_ms;

    while (sb_queue_max(SB_TOPIC, qid) < n) {
        if (rmq_mono_ms() >= end) {
            return false;
        }
        poll(NULL, 0, 10);
    }
    return true;
}

static bool
sb_wait_pending(int64_t n, int timeout_ms)
{
    int64_t end = rmq_mono_ms() + timeout_ms;

    while (atomic_load(&sb.p.ctl.pos->delay_pending) != n) {
        if (rmq_mono_ms() >= end) {
            return false;
        }
        poll(NULL, 0, 10);
    }
    return true;
}

/* kill -9 an actor and wait for its successor to be READY. */
static void
sb_kill_actor(int id)
{
    const rmq_actor_slot *a = &sb.p.ctl.slots[id];
    int32_t               old = atomic_load(&a->sup.s.pid);
    int64_t               end = rmq_mono_ms() + SB_READY_MS;

    ck_assert_int_gt(old, 0);
    ck_assert_int_eq(kill(old, SIGKILL), 0);
    for (;;) {
        int32_t pid = atomic_load(&a->sup.s.pid);
        if (pid != old && pid != 0 && atomic_load(&a->act.s.ready_pid) == pid) {
            return;
        }
        ck_assert_msg(rmq_mono_ms() < end, "%s not back; log:\n%s",
                      rmq_actor_table[id].name, sb_log_tail());
        poll(NULL, 0, 5);
    }
}

static void
sb_kill_scheduler(void)
{
    sb_kill_actor(RMQ_ACTOR_SCHEDULER);
}

/* ---- sending ------------------------------------------------------------ */

/* Put a record with these properties into schedule queue level-1. */
static uint32_t
sb_put_raw(int level, const char *props, uint32_t props_len, const char *body)
{
    static const uint8_t ip[4] = {10, 1, 2, 3};
    rmq_topic_entry      t;
    rmq_rec_msg          m;
    uint32_t             size, cookie = sb.nputs++;
    uint8_t             *dst;
    int                  idx, rc;

    ck_assert_uint_lt(cookie, SB_PUTS_MAX);
    idx = rmq_ctl_topic_find(&sb.p.ctl, RMQ_SCHEDULE_TOPIC,
                             strlen(RMQ_SCHEDULE_TOPIC), &t);
    ck_assert_int_ge(idx, 0);
    memset(&m, 0, sizeof(m));
    m.topic = RMQ_SCHEDULE_TOPIC;
    m.topic_len = (uint32_t)strlen(RMQ_SCHEDULE_TOPIC);
    m.queue_id = level - 1;
    m.flag = 7;
    m.born_ts = rmq_now_ms();
    memcpy(m.born_ip, ip, 4);
    m.born_ip_len = 4;
    m.born_port = 5555;
    memcpy(m.store_ip, ip, 4);
    m.store_ip_len = 4;
    m.store_port = 10911;
    m.reconsume_times = 2;
    m.body = body;
    m.body_len = (uint32_t)strlen(body);
    m.body_crc = rmq_body_crc(body, m.body_len);
    m.props = props;
    m.props_len = props_len;
    ck_assert_int_eq(rmq_rec_size(&m, &size), 0);
    while ((dst = rmq_putc_reserve(&sb.p.putc, size, &rc)) == NULL) {
        ck_assert_int_eq(rc, RMQ_ERR_FULL);
        rmq_putter_poll(&sb.p, 10);
    }
    ck_assert_int_eq(rmq_rec_encode(&m, dst, size, &size), 0);
    ck_assert_int_eq(
        rmq_putc_add(&sb.p.putc, (uint32_t)idx, m.queue_id, 0, cookie), 0);
    return cookie;
}

/*
 * Send message number seq to queue qid of SB_TOPIC with DELAY=delay
 * through the send-side rewrite.  Returns its cookie.
 */
static uint32_t
sb_put_delayed(int qid, int delay, int seq)
{
    char             tags[32], keys[32], body[32], dtext[16];
    rmq_props        props = {0};
    rmq_delay_target t;
    rmq_buf          b;
    uint32_t         cookie;

    snprintf(tags, sizeof(tags), "tag%d", seq);
    snprintf(keys, sizeof(keys), "key%d", seq);
    snprintf(body, sizeof(body), "msg-%d", seq);
    snprintf(dtext, sizeof(dtext), "%d", delay);
    rmq_props_set(&props, "TAGS", tags);
    rmq_props_set(&props, "KEYS", keys);
    rmq_props_set(&props, "DELAY", dtext);
    ck_assert_int_eq(rmq_delay_rewrite(&props, SB_TOPIC, strlen(SB_TOPIC), qid,
                                       0, SB_LEVELS, &t),
                     0);
    ck_assert_int_gt(t.level, 0);
    rmq_buf_init(&b);
    rmq_props_write(&props, &b);
    cookie = sb_put_raw(t.level, (const char *)b.data, (uint32_t)b.len, body);
    rmq_buf_free(&b);
    return cookie;
}

/* Send what is queued and wait until every put so far is answered OK. */
static void
sb_wait_puts(void)
{
    int64_t end = rmq_mono_ms() + 10000;

    for (uint32_t i = 0; i < sb.nputs; i++) {
        while (!sb.puts[i].done) {
            ck_assert_msg(rmq_mono_ms() < end, "put %u not answered", i);
            rmq_putter_poll(&sb.p, 10);
        }
        ck_assert_int_eq(sb.puts[i].status, RMQ_PUT_OK);
    }
}

/* ---- reading back ------------------------------------------------------- */

static void
sb_open_cl(rmq_cl *cl)
{
    char        dir[400];
    rmq_cl_opts o = {.dir = dir, .file_size = SB_CL_FILE};

    snprintf(dir, sizeof(dir), "%s/%s", sb.store, RMQ_CL_DIR);
    ck_assert_int_eq(rmq_cl_open(cl, &o), 0);
}

static void
sb_copy_msg(const rmq_rec_view *v, sb_msg *m)
{
    ck_assert_uint_lt(v->body_len, sizeof(m->body));
    ck_assert_uint_le(v->props_len, sizeof(m->props));
    memcpy(m->body, v->body, v->body_len);
    m->body[v->body_len] = '\0';
    memcpy(m->props, v->props, v->props_len);
    m->props_len = v->props_len;
    m->queue_id = v->queue_id;
    m->flag = v->flag;
    m->reconsume = v->reconsume_times;
    m->sysflag = v->sysflag;
    m->born_ts = v->born_ts;
    m->store_ts = v->store_ts;
}

/* Every message of queue qid of topic into sb.got; returns how many. */
static int
sb_read_queue(const char *topic, int qid)
{
    int64_t max = sb_queue_max(topic, qid);
    int64_t written = atomic_load(&sb.p.ctl.pos->cl_written);
    rmq_cl  cl;
    rmq_cq  cq;

    ck_assert_int_le(max, SB_READ_MAX);
    sb_open_cl(&cl);
    ck_assert_int_eq(rmq_cq_open(&cq, sb.store, topic, strlen(topic), qid,
                                 SB_CQ_FILE, false),
                     0);
    for (int64_t i = 0; i < max; i++) {
        rmq_cq_entry e;
        rmq_rec_view v;

        ck_assert_int_eq(rmq_cq_get(&cq, i, &e), 0);
        ck_assert_int_eq(rmq_cl_read(&cl, e.offset, written, true, &v), 0);
        ck_assert_int_eq(v.queue_offset, i);
        sb_copy_msg(&v, &sb.got[i]);
    }
    rmq_cq_close(&cq);
    rmq_cl_close(&cl);
    return (int)max;
}

/* Store time of the schedule record put with cookie. */
static int64_t
sb_sched_store_ts(uint32_t cookie)
{
    int64_t      written = atomic_load(&sb.p.ctl.pos->cl_written);
    rmq_cl       cl;
    rmq_rec_view v;
    int64_t      ts;

    sb_open_cl(&cl);
    ck_assert_int_eq(rmq_cl_read(&cl, sb.puts[cookie].phys, written, true, &v),
                     0);
    ck_assert_uint_eq(v.topic_len, strlen(RMQ_SCHEDULE_TOPIC));
    ts = v.store_ts;
    rmq_cl_close(&cl);
    return ts;
}

static bool
sb_prop(const sb_msg *m, const char *key, char *out, size_t cap)
{
    const char *val;
    uint32_t    len;

    if (!rmq_rec_prop(m->props, m->props_len, key, &val, &len)) {
        return false;
    }
    ck_assert_uint_lt(len, cap);
    memcpy(out, val, len);
    out[len] = '\0';
    return true;
}

/* Message seq arrived intact in queue qid, not early and not too late. */
static void
sb_check_delivery(const sb_msg *m, int qid, int seq, int level,
                  int64_t sched_ts, int64_t late_ms)
{
    char want[32], got[64];

    snprintf(want, sizeof(want), "msg-%d", seq);
    ck_assert_str_eq(m->body, want);
    ck_assert_int_eq(m->queue_id, qid);
    ck_assert_int_eq(m->flag, 7);
    ck_assert_int_eq(m->reconsume, 2);
    ck_assert(!sb_prop(m, "DELAY", got, sizeof(got)));
    ck_assert(sb_prop(m, "REAL_TOPIC", got, sizeof(got)));
    ck_assert_str_eq(got, SB_TOPIC);
    ck_assert(sb_prop(m, "REAL_QID", got, sizeof(got)));
    ck_assert_int_eq(atoi(got), qid);
    snprintf(want, sizeof(want), "tag%d", seq);
    ck_assert(sb_prop(m, "TAGS", got, sizeof(got)));
    ck_assert_str_eq(got, want);
    snprintf(want, sizeof(want), "key%d", seq);
    ck_assert(sb_prop(m, "KEYS", got, sizeof(got)));
    ck_assert_str_eq(got, want);
    ck_assert_msg(m->store_ts >= sched_ts + sb_delay_ms[level - 1],
                  "msg-%d delivered %lld ms early", seq,
                  (long long)(sched_ts + sb_delay_ms[level - 1] - m->store_ts));
    ck_assert_msg(m->store_ts <= sched_ts + sb_delay_ms[level - 1] + late_ms,
                  "msg-%d delivered %lld ms late", seq,
                  (long long)(m->store_ts - sched_ts - sb_delay_ms[level - 1]));
}

/* Number of the message in a "msg-N" body, or -1. */
static int
sb_seq_of(const sb_msg *m)
{
    return strncmp(m->body, "msg-", 4) == 0 ? atoi(m->body + 4) : -1;
}

/* ---- tests -------------------------------------------------------------- */

START_TEST(test_scheduler_delivers_when_due_with_message_intact)
{
    uint32_t c[4];
    int64_t  ts[4];

    c[0] = sb_put_delayed(0, 1, 0);
    c[1] = sb_put_delayed(1, 2, 1);
    c[2] = sb_put_delayed(2, 3, 2);
    c[3] = sb_put_delayed(3, 9, 3); /* clamped to the last level */
    sb_wait_puts();
    for (int i = 0; i < 4; i++) {
        ts[i] = sb_sched_store_ts(c[i]);
    }
    ck_assert_msg(sb_wait_pending(4, 900), "pending never reached 4");
    for (int q = 0; q < SB_QUEUES; q++) {
        ck_assert_int_eq(sb_queue_max(SB_TOPIC, q), 0);
    }
    for (int q = 0; q < SB_QUEUES; q++) {
        ck_assert_msg(sb_wait_queue(q, 1, 6000), "queue %d: nothing; log:\n%s",
                      q, sb_log_tail());
    }
    for (int q = 0; q < SB_QUEUES; q++) {
        ck_assert_int_eq(sb_read_queue(SB_TOPIC, q), 1);
        sb_check_delivery(&sb.got[0], q, q, q < 3 ? q + 1 : 3, ts[q],
                          SB_LATE_MS);
    }
    ck_assert(sb_wait_pending(0, 1000));
    ck_assert_int_eq(sb_counter("delivered"), 4);
    ck_assert_int_eq(sb_counter("skipped"), 0);
    ck_assert_int_eq(atomic_load(&sb.p.ctl.pos->delay_offset[0]), 1);
    ck_assert_int_eq(atomic_load(&sb.p.ctl.pos->delay_offset[1]), 1);
    ck_assert_int_eq(atomic_load(&sb.p.ctl.pos->delay_offset[2]), 2);
    ck_assert_uint_eq(atomic_load(&sb_sched_slot()->sup.s.restarts), 0);
}
END_TEST

START_TEST(test_scheduler_kill_9_delays_nothing_and_delivers_once)
{
    uint32_t c[10];

    for (int i = 0; i < 10; i++) {
        c[i] = sb_put_delayed(i < 5 ? 0 : 1, i < 5 ? 2 : 1, i);
    }
    sb_wait_puts();
    sb_kill_scheduler(); /* nothing is due yet: nothing in flight */
    ck_assert(sb_wait_queue(0, 5, 8000));
    ck_assert(sb_wait_queue(1, 5, 8000));
    ck_assert(sb_wait_pending(0, 1000));
    poll(NULL, 0, 300); /* a repeat would show up by now */
    for (int q = 0; q < 2; q++) {
        ck_assert_int_eq(sb_read_queue(SB_TOPIC, q), 5);
        for (int i = 0; i < 5; i++) {
            int seq = q == 0 ? i : 5 + i; /* each level delivers in order */
            sb_check_delivery(&sb.got[i], q, seq, q == 0 ? 2 : 1,
                              sb_sched_store_ts(c[seq]), SB_LATE_MS);
        }
    }
    ck_assert_uint_ge(atomic_load(&sb_sched_slot()->sup.s.restarts), 1);
}
END_TEST

/*
 * Messages msg-0 .. msg-(n-1) all reached queue 0 of the real topic; at
 * most one of them twice.
 */
static void
sb_assert_all_once_but_one(int n_sent)
{
    static bool seen[SB_READ_MAX];
    int         n, dups = 0;

    ck_assert_int_le(n_sent, SB_READ_MAX);
    ck_assert_msg(sb_wait_pending(0, 15000), "%lld still pending; log:\n%s",
                  (long long)atomic_load(&sb.p.ctl.pos->delay_pending),
                  sb_log_tail());
    /* the last deliveries may still be on their way to the queue */
    ck_assert(sb_wait_queue(0, n_sent, 5000));
    poll(NULL, 0, 200);
    n = sb_read_queue(SB_TOPIC, 0);
    memset(seen, 0, sizeof(seen));
    for (int i = 0; i < n; i++) {
        int seq = sb_seq_of(&sb.got[i]);
        ck_assert(seq >= 0 && seq < n_sent);
        dups += seen[seq];
        seen[seq] = true;
    }
    for (int i = 0; i < n_sent; i++) {
        ck_assert_msg(seen[i], "msg-%d lost", i);
    }
    /* one level was delivering: at most its one put in flight repeats */
    ck_assert_int_le(dups, 1);
}

START_TEST(test_scheduler_kill_9_while_delivering_repeats_at_most_one)
{
    enum { N = 2000 };

    for (int i = 0; i < N; i++) {
        sb_put_delayed(0, 1, i);
    }
    sb_wait_puts();
    ck_assert(sb_wait_queue(0, 1, 5000));
    sb_kill_scheduler();
    sb_assert_all_once_but_one(N);
}
END_TEST

START_TEST(test_scheduler_survives_a_clwriter_restart_while_delivering)
{
    enum { N = 2000 };

    for (int i = 0; i < N; i++) {
        sb_put_delayed(0, 1, i);
    }
    sb_wait_puts();
    ck_assert(sb_wait_queue(0, 1, 5000));
    sb_kill_actor(RMQ_ACTOR_CLWRITER);
    sb_assert_all_once_but_one(N);
    ck_assert_uint_eq(atomic_load(&sb_sched_slot()->sup.s.restarts), 0);
}
END_TEST

START_TEST(test_scheduler_puts_again_what_clwriter_never_answers)
{
    const rmq_actor_slot *clw = &sb.p.ctl.slots[RMQ_ACTOR_CLWRITER];
    pid_t                 pid = atomic_load(&clw->sup.s.pid);
    int64_t               end;

    sb_put_delayed(0, 1, 0);
    sb_wait_puts();
    /* the put made when it is due waits in the socket of a frozen clwriter */
    ck_assert_int_eq(kill(pid, SIGSTOP), 0);
    end = rmq_mono_ms() + 9000;
    while (sb_counter("retries") < 1 && rmq_mono_ms() < end) {
        poll(NULL, 0, 20);
    }
    kill(pid, SIGCONT);
    ck_assert_int_eq(sb_counter("retries"), 1);
    /* both puts land: one repeat, and the level goes on */
    sb_put_delayed(0, 1, 1);
    sb_wait_puts();
    ck_assert(sb_wait_queue(0, 3, 5000));
    ck_assert(sb_wait_pending(0, 1000));
    poll(NULL, 0, 200);
    ck_assert_int_eq(sb_read_queue(SB_TOPIC, 0), 3);
    ck_assert_str_eq(sb.got[0].body, "msg-0");
    ck_assert_str_eq(sb.got[1].body, "msg-0");
    ck_assert_str_eq(sb.got[2].body, "msg-1");
    ck_assert_int_eq(atomic_load(&sb.p.ctl.pos->delay_offset[0]), 2);
    ck_assert_uint_eq(atomic_load(&clw->sup.s.restarts), 0);
}
END_TEST

/* The offsetTable of delayOffset.json: level -> offset, -1 if absent. */
static void
sb_read_offsets(int64_t out[SB_LEVELS])
{
    char    path[400];
    json_t *root = NULL;
    json_t *table;

    snprintf(path, sizeof(path), "%s/config/delayOffset.json", sb.store);
    ck_assert_int_eq(rmq_jsonfile_load(path, &root), 0);
    table = json_object_get(root, "offsetTable");
    ck_assert(json_is_object(table));
    for (int i = 0; i < SB_LEVELS; i++) {
        char    key[8];
        json_t *v;

        snprintf(key, sizeof(key), "%d", i + 1);
        v = json_object_get(table, key);
        out[i] = json_is_integer(v) ? (int64_t)json_integer_value(v) : -1;
    }
    json_decref(root);
}

START_TEST(test_scheduler_resumes_from_delay_offset_json_after_restart)
{
    int64_t  off[SB_LEVELS];
    int64_t  ts[2];
    uint32_t c[2];
    char     path[400];
    FILE    *f;

    for (int i = 0; i < 3; i++) {
        sb_put_delayed(0, 1, i);
    }
    sb_wait_puts();
    ck_assert(sb_wait_queue(0, 3, 5000));
    c[0] = sb_put_delayed(1, 3, 3);
    c[1] = sb_put_delayed(1, 3, 4);
    sb_wait_puts();
    ts[0] = sb_sched_store_ts(c[0]);
    ts[1] = sb_sched_store_ts(c[1]);
    sb_stop(); /* before level 3 is due */
    sb_read_offsets(off);
    ck_assert_int_eq(off[0], 3);
    ck_assert_int_eq(off[1], 0);
    ck_assert_int_eq(off[2], 0);
    /* the same progress as Java writes it: bare integer keys */
    snprintf(path, sizeof(path), "%s/config/delayOffset.json", sb.store);
    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs("{\"offsetTable\":{1:3,2:0,3:0}}", f);
    fclose(f);
    sb_start();
    ck_assert_int_eq(sb_queue_max(SB_TOPIC, 1), 0);
    ck_assert(sb_wait_queue(1, 2, 8000));
    ck_assert(sb_wait_pending(0, 1000));
    poll(NULL, 0, 300);
    ck_assert_int_eq(sb_read_queue(SB_TOPIC, 0), 3); /* nothing repeated */
    ck_assert_int_eq(sb_read_queue(SB_TOPIC, 1), 2);
    sb_check_delivery(&sb.got[0], 1, 3, 3, ts[0], SB_LATE_MS + 1000);
    sb_check_delivery(&sb.got[1], 1, 4, 3, ts[1], SB_LATE_MS + 1000);
    ck_assert_int_eq(atomic_load(&sb.p.ctl.pos->delay_offset[0]), 3);
    ck_assert_int_eq(atomic_load(&sb.p.ctl.pos->delay_offset[2]), 2);
    ck_assert_int_eq(sb_counter("delivered"), 2);
}
END_TEST

START_TEST(test_scheduler_skips_records_it_cannot_deliver)
{
    static const char *const bad[] = {
        "TAGS\001a", /* no REAL_TOPIC / REAL_QID */
        "REAL_TOPIC\001RMQ_SYS_TRANS_HALF_TOPIC\002REAL_QID\0010",
        "REAL_TOPIC\001NoSuchTopic\002REAL_QID\0010",
        "REAL_TOPIC\001" SB_TOPIC "\002REAL_QID\00199",
        "REAL_TOPIC\001" SB_TOPIC "\002REAL_QID\001x",
    };
    uint32_t c;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        sb_put_raw(1, bad[i], (uint32_t)strlen(bad[i]), "bad");
    }
    c = sb_put_delayed(0, 1, 42);
    sb_wait_puts();
    ck_assert(sb_wait_queue(0, 1, 5000));
    ck_assert(sb_wait_pending(0, 1000));
    ck_assert_int_eq(sb_read_queue(SB_TOPIC, 0), 1);
    sb_check_delivery(&sb.got[0], 0, 42, 1, sb_sched_store_ts(c), SB_LATE_MS);
    ck_assert_int_eq(sb_counter("skipped"), 5);
    ck_assert_int_eq(sb_counter("delivered"), 1);
    ck_assert_int_eq(atomic_load(&sb.p.ctl.pos->delay_offset[0]), 6);
    ck_assert_uint_eq(atomic_load(&sb_sched_slot()->sup.s.restarts), 0);
}
END_TEST

static Suite *
scheduler_suite(void)
{
    Suite *s = suite_create("broker.scheduler");
    TCase *tc = tcase_create("deliver");
    TCase *crash = tcase_create("crash");

    tcase_set_tags(tc, "proc");
    tcase_set_tags(crash, "proc");
    tcase_set_timeout(tc, 60);
    tcase_set_timeout(crash, 60);
    tcase_add_unchecked_fixture(tc, rmqtest_base_setup, rmqtest_base_teardown);
    tcase_add_unchecked_fixture(crash, rmqtest_base_setup,
                                rmqtest_base_teardown);
    tcase_add_checked_fixture(tc, sb_setup, sb_teardown);
    tcase_add_checked_fixture(crash, sb_setup, sb_teardown);
    tcase_add_test(tc, test_scheduler_delivers_when_due_with_message_intact);
    tcase_add_test(tc, test_scheduler_skips_records_it_cannot_deliver);
    tcase_add_test(tc,
                   test_scheduler_resumes_from_delay_offset_json_after_restart);
    tcase_add_test(crash,
                   test_scheduler_kill_9_delays_nothing_and_delivers_once);
    tcase_add_test(crash,
                   test_scheduler_kill_9_while_delivering_repeats_at_most_one);
    tcase_add_test(crash,
                   test_scheduler_survives_a_clwriter_restart_while_delivering);
    tcase_add_test(crash,
                   test_scheduler_puts_again_what_clwriter_never_answers);
    suite_add_tcase(s, tc);
    suite_add_tcase(s, crash);
    return s;
}

int
main(void)
{
    rmq_log_init("test");
    return rmqtest_run_suite(scheduler_suite());
}
