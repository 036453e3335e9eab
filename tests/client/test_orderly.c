/*
 * test_orderly.c - Check suite "client.orderly": orderly push consumers
 * (opts.orderly, Java's MessageListenerOrderly) against a real broker
 * (clientbroker.h).  A producer sends keys with a selector (hash(key) %
 * queues) to a four-queue topic; orderly consumers of one group must see
 * every key's messages in send order, one queue on one thread at a time,
 * also while consumers come and go; a queue locked by someone else is not
 * consumed until its lock is free; a message that keeps failing suspends
 * its queue, then goes to the DLQ.
 *
 * Consumers log each message in one shared, mutex-guarded log in callback
 * order; a callback holds its queue for a few milliseconds so two threads
 * on one queue would overlap and be caught.  ORD_DEBUG=1 shows the
 * clients' INFO log (queues assigned, locked, removed).
 */
#include "tests/client/clientbroker.h"

#include "net/rpc.h"
#include "proto/codes.h"

#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define ORD_KEYS 5
#define ORD_MAX 256 /* log entries per key */
#define ORD_QUEUES 16
#define ORD_WORK_US 3000 /* a callback holds its queue this long */

/* ---- the shared log ---------------------------------------------------- */

typedef struct ord_log {
    pthread_mutex_t mu;
    int             seq[ORD_KEYS][ORD_MAX]; /* per key, in callback order */
    int             len[ORD_KEYS];
    int             total;            /* real messages, duplicates too */
    int             probes[4];        /* per consumer */
    int             busy[ORD_QUEUES]; /* callbacks running per queue id */
    int             overlaps;         /* two threads on one queue */
    int             running[4];       /* callbacks running per consumer */
    int             max_running;      /* most at once in one consumer */
    int             fail_key;         /* this key's seq 0 always fails */
    int             attempts;         /* of that message */
    int             attempt_times[8]; /* its reconsume times, in order */
    char            order[512];       /* "k<key>-<seq>[r<n>] " of fail_key */
} ord_log;

typedef struct ord_who {
    ord_log *log;
    int      id;
} ord_who;

static void
ord_log_init(ord_log *l)
{
    memset(l, 0, sizeof(*l));
    pthread_mutex_init(&l->mu, NULL);
    l->fail_key = -1;
}

/* Note a callback entering (delta 1) or leaving (-1) its queue. */
static void
ord_enter(ord_who *w, int qid, int delta)
{
    ord_log *l = w->log;

    pthread_mutex_lock(&l->mu);
    if (qid >= 0 && qid < ORD_QUEUES) {
        l->busy[qid] += delta;
        l->overlaps += l->busy[qid] > 1;
    }
    l->running[w->id] += delta;
    if (l->running[w->id] > l->max_running) {
        l->max_running = l->running[w->id];
    }
    pthread_mutex_unlock(&l->mu);
}

/* l->mu held: the failing key's message seq 0 asks to be suspended. */
static rmq_consume_status
ord_note(ord_log *l, const rmq_message_ext *m, int key, int seq)
{
    int  rt = rmq_message_ext_get_reconsume_times(m);
    char item[32];

    if (key == l->fail_key) {
        snprintf(item, sizeof(item), "k%d-%d/%d ", key, seq, rt);
        strncat(l->order, item, sizeof(l->order) - strlen(l->order) - 1);
        if (seq == 0) {
            if (l->attempts < 8) {
                l->attempt_times[l->attempts] = rt;
            }
            l->attempts++;
            return RMQ_CONSUME_SUSPEND_CURRENT_QUEUE_A_MOMENT;
        }
    }
    if (l->len[key] < ORD_MAX) {
        l->seq[key][l->len[key]++] = seq;
    }
    l->total++;
    return RMQ_CONSUME_SUCCESS;
}

static rmq_consume_status
ord_cb(const rmq_message_ext *m, void *arg)
{
    ord_who           *w = arg;
    ord_log           *l = w->log;
    const char        *body = rmq_message_ext_get_body(m, NULL);
    int                qid = rmq_message_ext_get_queue_id(m);
    rmq_consume_status st = RMQ_CONSUME_SUCCESS;
    int                key, seq;

    ord_enter(w, qid, 1);
    usleep(ORD_WORK_US);
    pthread_mutex_lock(&l->mu);
    if (sscanf(body, "k%d-%d", &key, &seq) == 2 && key >= 0 && key < ORD_KEYS) {
        st = ord_note(l, m, key, seq);
    } else {
        l->probes[w->id]++;
    }
    pthread_mutex_unlock(&l->mu);
    ord_enter(w, qid, -1);
    return st;
}

static void
ord_quiet(int level, const char *line, void *arg)
{
    (void)arg;
    if (level <=
        (getenv("ORD_DEBUG") ? RMQ_CLIENT_LOG_INFO : RMQ_CLIENT_LOG_WARN)) {
        fprintf(stderr, "%s\n", line);
    }
}

static rmq_push_consumer *
ord_consumer(const char *group, const char *topic, ord_who *w, int max_rt)
{
    rmq_push_consumer_opts o;
    rmq_push_consumer     *c = NULL;
    rmq_error              err;

    rmq_push_consumer_opts_init(&o);
    o.namesrv_addr = bk.ns;
    o.group = group;
    o.orderly = 1;
    o.consume_from = RMQ_CONSUME_FROM_FIRST_OFFSET;
    o.on_message = ord_cb;
    o.on_message_arg = w;
    o.commit_interval_ms = 1000;
    o.suspend_current_queue_ms = 200;
    o.max_reconsume_times = max_rt > 0 ? max_rt : 16;
    o.log_fn = ord_quiet;
    o.log_level =
        getenv("ORD_DEBUG") ? RMQ_CLIENT_LOG_INFO : RMQ_CLIENT_LOG_WARN;
    ck_assert_msg(rmq_push_consumer_new(&o, &c, &err) == 0, "%s", err.message);
    ck_assert_msg(rmq_push_consumer_subscribe(c, topic, "*", &err) == 0, "%s",
                  err.message);
    ck_assert_msg(rmq_push_consumer_start(c, &err) == 0, "%s", err.message);
    return c;
}

/* ---- sending ----------------------------------------------------------- */

/* Java String.hashCode of the key, as a queue index. */
static int
ord_select(int nqueues, const rmq_message *msg, void *arg)
{
    const char *k = rmq_message_get_keys(msg);
    int32_t     h = 0;

    (void)arg;
    for (; *k != '\0'; k++) {
        h = (int32_t)((uint32_t)h * 31u + (uint8_t)*k);
    }
    return (int)((uint32_t)h % (uint32_t)nqueues);
}

static void
ord_send(rmq_producer *p, const char *topic, const char *key, const char *body)
{
    rmq_message *m = NULL;
    rmq_error    err;

    ck_assert_int_eq(rmq_message_new(topic, body, strlen(body), &m, NULL), 0);
    ck_assert_int_eq(rmq_message_set_keys(m, key, NULL), 0);
    ck_assert_msg(
        rmq_producer_send_ordered(p, m, ord_select, NULL, NULL, &err) == 0,
        "%s", err.message);
    rmq_message_free(m);
}

/* Message seq of every key, keys interleaved. */
static void
ord_send_round(rmq_producer *p, const char *topic, int seq)
{
    for (int k = 0; k < ORD_KEYS; k++) {
        char key[16], body[32];
        snprintf(key, sizeof(key), "key-%d", k);
        snprintf(body, sizeof(body), "k%d-%d", k, seq);
        ord_send(p, topic, key, body);
    }
}

/* Probes go to every queue (keys p0..p3 cover the four queues here). */
static void
ord_send_probes(rmq_producer *p, const char *topic)
{
    static const char *keys[] = {"p0", "p1", "p2", "p3", "p4", "p5"};

    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        ord_send(p, topic, keys[i], "probe");
    }
}

/* ---- checks ------------------------------------------------------------ */

typedef struct ord_goal {
    ord_log *log;
    int      want;   /* real messages logged */
    int      who[2]; /* consumers that must have seen a probe (-1: none) */
} ord_goal;

static bool
ord_goal_met(void *arg)
{
    ord_goal *g = arg;
    bool      ok;

    pthread_mutex_lock(&g->log->mu);
    ok = g->log->total >= g->want;
    for (int i = 0; i < 2; i++) {
        ok = ok && (g->who[i] < 0 || g->log->probes[g->who[i]] > 0);
    }
    pthread_mutex_unlock(&g->log->mu);
    return ok;
}

/* Probes until consumers a and b both own queues (hold locks). */
static void
ord_wait_split(rmq_producer *p, const char *topic, ord_log *l, int a, int b)
{
    ord_goal g = {.log = l, .want = 0, .who = {a, b}};
    int64_t  until = rmqtest_now_ms() + rmqtest_scale_ms(BRK_WAIT_MS);

    while (!ord_goal_met(&g) && rmqtest_now_ms() < until) {
        ord_send_probes(p, topic);
        brk_wait(ord_goal_met, &g, 500);
    }
    ck_assert_msg(ord_goal_met(&g), "queues never split: probes %d / %d",
                  l->probes[a], l->probes[b]);
}

/*
 * Every key's log holds 0..n-1 in order: each entry is the previous one
 * plus one, or a step back (messages consumed again after a handover, from
 * the committed offset); never a skip.  Returns the duplicates.
 */
static int
ord_check_order(ord_log *l, int n)
{
    int dups = 0;

    pthread_mutex_lock(&l->mu);
    for (int k = 0; k < ORD_KEYS; k++) {
        int top = -1, prev = -1;

        for (int i = 0; i < l->len[k]; i++) {
            int v = l->seq[k][i];
            ck_assert_msg(v <= prev + 1, "key %d: %d came after %d", k, v,
                          prev);
            if (v <= top) {
                dups++;
            }
            top = v > top ? v : top;
            prev = v;
        }
        ck_assert_msg(top == n - 1, "key %d: last seq %d of %d", k, top, n);
    }
    ck_assert_int_eq(l->overlaps, 0);
    pthread_mutex_unlock(&l->mu);
    return dups;
}

static void
ord_fixture_names(char *topic, size_t tcap, char *group, size_t gcap,
                  const char *tag)
{
    brk_topic(topic, tcap, tag);
    snprintf(group, gcap, "O_%s", topic);
}

/* ---- tests ------------------------------------------------------------- */

START_TEST(test_orderly_two_consumers_keep_each_key_in_order_once)
{
    ord_log            l;
    ord_who            w1, w2;
    ord_goal           g;
    rmq_producer      *p;
    rmq_push_consumer *c1, *c2;
    char               topic[64], group[80];
    const int          n = 40;

    brk_need();
    ord_log_init(&l);
    w1 = (ord_who){&l, 1};
    w2 = (ord_who){&l, 2};
    ord_fixture_names(topic, sizeof(topic), group, sizeof(group), "ord");
    p = brk_producer();
    ord_send_probes(p, topic);
    brk_wait_routed(topic);
    c1 = ord_consumer(group, topic, &w1, 0);
    c2 = ord_consumer(group, topic, &w2, 0);
    ord_wait_split(p, topic, &l, 1, 2);
    for (int seq = 0; seq < n; seq++) {
        ord_send_round(p, topic, seq);
    }
    g = (ord_goal){.log = &l, .want = ORD_KEYS * n, .who = {-1, -1}};
    ck_assert_msg(brk_wait(ord_goal_met, &g, BRK_WAIT_MS), "consumed %d of %d",
                  l.total, ORD_KEYS * n);
    ck_assert_int_eq(ord_check_order(&l, n), 0);
    ck_assert_int_eq(l.total, ORD_KEYS * n);
    /* one thread per queue, but several queues at once */
    ck_assert_int_ge(l.max_running, 2);
    rmq_push_consumer_destroy(c1);
    rmq_push_consumer_destroy(c2);
    rmq_producer_destroy(p);
}
END_TEST

typedef struct ord_sender {
    rmq_producer *p;
    const char   *topic;
    int           n;
    atomic_int    sent; /* rounds */
} ord_sender;

static void *
ord_sender_main(void *arg)
{
    ord_sender *s = arg;

    for (int seq = 0; seq < s->n; seq++) {
        ord_send_round(s->p, s->topic, seq);
        atomic_store(&s->sent, seq + 1);
        usleep(20000); /* pacing: the handover happens mid-stream */
    }
    return NULL;
}

START_TEST(test_orderly_order_holds_across_a_consumer_restart)
{
    ord_log            l;
    ord_who            w1, w2, w3;
    ord_goal           g;
    ord_sender         snd;
    pthread_t          th;
    rmq_producer      *p;
    rmq_push_consumer *c1, *c2, *c3;
    char               topic[64], group[80];
    int                dups, stop_round, start_round;
    const int          n = 60;

    brk_need();
    ord_log_init(&l);
    w1 = (ord_who){&l, 1};
    w2 = (ord_who){&l, 2};
    w3 = (ord_who){&l, 3};
    ord_fixture_names(topic, sizeof(topic), group, sizeof(group), "ordr");
    p = brk_producer();
    ord_send_probes(p, topic);
    brk_wait_routed(topic);
    c1 = ord_consumer(group, topic, &w1, 0);
    c2 = ord_consumer(group, topic, &w2, 0);
    ord_wait_split(p, topic, &l, 1, 2);
    snd = (ord_sender){.p = p, .topic = topic, .n = n};
    atomic_init(&snd.sent, 0);
    ck_assert_int_eq(pthread_create(&th, NULL, ord_sender_main, &snd), 0);
    /* a third of the way: one consumer goes, another one comes */
    g = (ord_goal){.log = &l, .want = ORD_KEYS * n / 3, .who = {-1, -1}};
    ck_assert_msg(brk_wait(ord_goal_met, &g, BRK_WAIT_MS), "consumed %d",
                  l.total);
    stop_round = atomic_load(&snd.sent);
    rmq_push_consumer_destroy(c1);
    c3 = ord_consumer(group, topic, &w3, 0);
    start_round = atomic_load(&snd.sent);
    pthread_join(th, NULL);
    g = (ord_goal){.log = &l, .want = ORD_KEYS * n, .who = {-1, -1}};
    ck_assert_msg(brk_wait(ord_goal_met, &g, BRK_WAIT_MS), "consumed %d of %d",
                  l.total, ORD_KEYS * n);
    dups = ord_check_order(&l, n);
    fprintf(stderr,
            "client.orderly restart: consumer 1 stopped at round %d, "
            "consumer 3 started at round %d of %d; %d duplicate(s)\n",
            stop_round, start_round, n, dups);
    /* the new consumer took part once the locks moved */
    g = (ord_goal){.log = &l, .want = 0, .who = {3, -1}};
    for (int i = 0; i < 20 && !ord_goal_met(&g); i++) {
        ord_send_probes(p, topic);
        brk_wait(ord_goal_met, &g, 500);
    }
    ck_assert_msg(ord_goal_met(&g), "the new consumer never got a queue");
    rmq_push_consumer_destroy(c2);
    rmq_push_consumer_destroy(c3);
    rmq_producer_destroy(p);
}
END_TEST

/* ---- a lock held by someone else --------------------------------------- */

/* LOCK_BATCH_MQ (41) or UNLOCK_BATCH_MQ (42) of queues qids[0..n) for a
 * client that is not a librmq instance; returns how many were locked. */
static int
ord_raw_lock(int code, const char *group, const char *topic, const int *qids,
             int n)
{
    rmq_rpc         r;
    rmq_rcmd_out    o;
    const rmq_rcmd *resp;
    char            body[1024], addr[64];
    size_t          used;
    int             locked = 0;

    used = (size_t)snprintf(body, sizeof(body),
                            "{\"consumerGroup\":\"%s\",\"clientId\":"
                            "\"127.0.0.9@intruder\",\"mqSet\":[",
                            group);
    for (int i = 0; i < n; i++) {
        used += (size_t)snprintf(body + used, sizeof(body) - used,
                                 "%s{\"topic\":\"%s\",\"brokerName\":"
                                 "\"broker-a\",\"queueId\":%d}",
                                 i > 0 ? "," : "", topic, qids[i]);
    }
    snprintf(body + used, sizeof(body) - used, "]}");
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", bk.b.port);
    ck_assert_int_eq(rmq_rpc_connect(&r, addr, 3000), 0);
    rmq_rcmd_out_init(&o, code, 0, 0);
    ck_assert_int_eq(rmq_rpc_call(&r, &o, body, (uint32_t)strlen(body), &resp),
                     0);
    ck_assert_int_eq(resp->code, RMQ_RESP_SUCCESS);
    for (uint32_t i = 0; resp->body != NULL && i + 8 <= resp->body_len; i++) {
        locked += memcmp(resp->body + i, "queueId", 7) == 0;
    }
    rmq_rpc_close(&r);
    return locked;
}

/* Message k<key>-0 for each queue index: one per queue. */
static int
ord_select_index(int nqueues, const rmq_message *msg, void *arg)
{
    (void)msg;
    return *(int *)arg % nqueues;
}

static bool
ord_key_seen(void *arg)
{
    void   **a = arg;
    ord_log *l = a[0];
    int      key = *(int *)a[1];
    bool     seen;

    pthread_mutex_lock(&l->mu);
    seen = key < 0 ? l->total > 0 : l->len[key] > 0;
    pthread_mutex_unlock(&l->mu);
    return seen;
}

START_TEST(test_orderly_queue_locked_elsewhere_waits_for_its_lock)
{
    ord_log            l;
    ord_who            w;
    ord_goal           g;
    rmq_producer      *p;
    rmq_push_consumer *c;
    char               topic[64], group[80];
    const int          all[4] = {0, 1, 2, 3}, rest[3] = {0, 1, 3};
    int                any = -1, two = 2;
    void              *a[2];
    rmq_error          err;

    brk_need();
    ord_log_init(&l);
    w = (ord_who){&l, 1};
    ord_fixture_names(topic, sizeof(topic), group, sizeof(group), "ordl");
    p = brk_producer();
    ord_send_probes(p, topic);
    brk_wait_routed(topic);
    ck_assert_int_eq(ord_raw_lock(RMQ_REQ_LOCK_BATCH_MQ, group, topic, all, 4),
                     4);
    for (int q = 0; q < 4; q++) {
        rmq_message *m = NULL;
        char         body[16];
        snprintf(body, sizeof(body), "k%d-0", q);
        ck_assert_int_eq(rmq_message_new(topic, body, strlen(body), &m, NULL),
                         0);
        ck_assert_msg(rmq_producer_send_ordered(p, m, ord_select_index, &q,
                                                NULL, &err) == 0,
                      "%s", err.message);
        rmq_message_free(m);
    }
    c = ord_consumer(group, topic, &w, 0);
    a[0] = &l;
    a[1] = &any;
    ck_assert_msg(!brk_wait(ord_key_seen, a, 3000),
                  "a queue locked by another client was consumed");
    ck_assert_int_eq(l.probes[1], 0);
    /* queue 2 is free: it goes, the others still wait */
    ord_raw_lock(RMQ_REQ_UNLOCK_BATCH_MQ, group, topic, &two, 1);
    a[1] = &two;
    ck_assert_msg(brk_wait(ord_key_seen, a, 10000),
                  "queue 2 not consumed once its lock was free");
    ck_assert_int_eq(l.total, 1);
    ord_raw_lock(RMQ_REQ_UNLOCK_BATCH_MQ, group, topic, rest, 3);
    g = (ord_goal){.log = &l, .want = 4, .who = {-1, -1}};
    ck_assert_msg(brk_wait(ord_goal_met, &g, 10000), "consumed %d of 4",
                  l.total);
    rmq_push_consumer_destroy(c);
    rmq_producer_destroy(p);
}
END_TEST

/* ---- failures ---------------------------------------------------------- */

typedef struct ord_dlq {
    rmq_pull_consumer *c;
    rmq_queue          q;
    int64_t            max;
} ord_dlq;

/* The DLQ is write-only (as in Java): count what it holds. */
static bool
ord_dlq_has(void *arg)
{
    ord_dlq *d = arg;

    return rmq_pull_consumer_max_offset(d->c, &d->q, &d->max, NULL) == 0 &&
           d->max > 0;
}

START_TEST(test_orderly_failing_message_suspends_then_goes_to_the_dlq)
{
    ord_log            l;
    ord_who            w;
    ord_goal           g;
    rmq_producer      *p;
    rmq_push_consumer *c;
    ord_dlq            dlq;
    char               topic[64], group[80];

    brk_need();
    ord_log_init(&l);
    l.fail_key = 0;
    w = (ord_who){&l, 1};
    ord_fixture_names(topic, sizeof(topic), group, sizeof(group), "ordf");
    p = brk_producer();
    ord_send_probes(p, topic);
    brk_wait_routed(topic);
    c = ord_consumer(group, topic, &w, 2);
    for (int seq = 0; seq < 3; seq++) {
        char body[16];
        snprintf(body, sizeof(body), "k0-%d", seq);
        ord_send(p, topic, "key-0", body);
    }
    g = (ord_goal){.log = &l, .want = 2, .who = {-1, -1}};
    ck_assert_msg(brk_wait(ord_goal_met, &g, BRK_WAIT_MS), "consumed %d of 2",
                  l.total);
    pthread_mutex_lock(&l.mu);
    /* tried three times (suspended twice), then the queue went on */
    ck_assert_str_eq(l.order, "k0-0/0 k0-0/1 k0-0/2 k0-1/0 k0-2/0 ");
    pthread_mutex_unlock(&l.mu);
    memset(&dlq, 0, sizeof(dlq));
    dlq.c = brk_puller(NULL);
    snprintf(dlq.q.topic, sizeof(dlq.q.topic), "%%DLQ%%%s", group);
    snprintf(dlq.q.broker_name, sizeof(dlq.q.broker_name), "broker-a");
    ck_assert_msg(brk_wait(ord_dlq_has, &dlq, BRK_WAIT_MS), "nothing in %s",
                  dlq.q.topic);
    ck_assert_int_eq(dlq.max, 1);
    rmq_pull_consumer_destroy(dlq.c);
    rmq_push_consumer_destroy(c);
    rmq_producer_destroy(p);
}
END_TEST

static Suite *
orderly_suite(void)
{
    Suite *s = suite_create("client.orderly");
    TCase *tc = tcase_create("orderly");

    tcase_set_tags(tc, "proc");
    tcase_add_unchecked_fixture(tc, brk_start, brk_stop);
    tcase_set_timeout(tc, 90);
    tcase_add_test(tc, test_orderly_two_consumers_keep_each_key_in_order_once);
    tcase_add_test(tc, test_orderly_order_holds_across_a_consumer_restart);
    tcase_add_test(tc, test_orderly_queue_locked_elsewhere_waits_for_its_lock);
    tcase_add_test(tc,
                   test_orderly_failing_message_suspends_then_goes_to_the_dlq);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return rmqtest_run_suite(orderly_suite());
}
