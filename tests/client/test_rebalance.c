/*
 * test_rebalance.c - Check suite "client.rebalance": concurrent push
 * consumers of one group against a real broker (clientbroker.h).  Two
 * consumers split a four-queue topic and consume every message once; a
 * third joins and one leaves, and the others, told by the broker
 * (NOTIFY_CONSUMER_IDS_CHANGED 40), re-allocate the queues at once, well
 * before the periodic rebalance (20 s here), losing nothing; once things
 * settle each queue has one owner again and each message comes once.
 * Consumers the broker forgot (its rebalancer restarted) register again
 * as soon as a rebalance misses them in the consumer list.
 *
 * Consumers log what they get in one shared, mutex-guarded log: how often
 * each message came, and which consumer took which queue in which phase.
 * RB_DEBUG=1 shows the clients' INFO log.
 */
#include "tests/client/clientbroker.h"

#include "net/rpc.h"
#include "proto/codes.h"

#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RB_MSGS 512    /* message numbers per test */
#define RB_QUEUES 4    /* topics here have four queues */
#define RB_CONSUMERS 4 /* consumer 1..3 */
#define RB_PERIODIC_MS 20000
#define RB_MOVE_MS 8000 /* a move by notification, well before 20 s */

typedef struct rb_log {
    pthread_mutex_t mu;
    int             phase;
    int             count[RB_MSGS];                   /* deliveries */
    int             took[4][RB_CONSUMERS][RB_QUEUES]; /* phase, who, queue */
    int             probes[RB_CONSUMERS];
    int             notified[RB_CONSUMERS]; /* NOTIFY log lines */
} rb_log;

typedef struct rb_who {
    rb_log *log;
    int     id;
} rb_who;

static rmq_consume_status
rb_cb(const rmq_message_ext *m, void *arg)
{
    rb_who     *w = arg;
    rb_log     *l = w->log;
    const char *body = rmq_message_ext_get_body(m, NULL);
    int         qid = rmq_message_ext_get_queue_id(m);
    int         seq;

    pthread_mutex_lock(&l->mu);
    if (qid >= 0 && qid < RB_QUEUES) {
        l->took[l->phase][w->id][qid]++;
    }
    if (sscanf(body, "m-%d", &seq) == 1 && seq >= 0 && seq < RB_MSGS) {
        l->count[seq]++;
    } else {
        l->probes[w->id]++;
    }
    pthread_mutex_unlock(&l->mu);
    return RMQ_CONSUME_SUCCESS;
}

static void
rb_logline(int level, const char *line, void *arg)
{
    rb_who *w = arg;

    if (strstr(line, "says the group changed") != NULL) {
        pthread_mutex_lock(&w->log->mu);
        w->log->notified[w->id]++;
        pthread_mutex_unlock(&w->log->mu);
    }
    if (level <= RMQ_CLIENT_LOG_WARN || getenv("RB_DEBUG") != NULL) {
        fprintf(stderr, "%d %lld %s\n", w->id, (long long)rmqtest_now_ms(),
                line);
    }
}

static rmq_push_consumer *
rb_consumer_every(const char *group, const char *topic, rb_who *w,
                  int rebalance_ms)
{
    rmq_push_consumer_opts o;
    rmq_push_consumer     *c = NULL;
    rmq_error              err;

    rmq_push_consumer_opts_init(&o);
    o.namesrv_addr = bk.ns;
    o.group = group;
    o.consume_from = RMQ_CONSUME_FROM_FIRST_OFFSET;
    o.on_message = rb_cb;
    o.on_message_arg = w;
    o.rebalance_interval_ms = rebalance_ms;
    o.commit_interval_ms = 1000;
    o.log_fn = rb_logline;
    o.log_arg = w;
    o.log_level = RMQ_CLIENT_LOG_INFO;
    ck_assert_msg(rmq_push_consumer_new(&o, &c, &err) == 0, "%s", err.message);
    ck_assert_msg(rmq_push_consumer_subscribe(c, topic, "*", &err) == 0, "%s",
                  err.message);
    ck_assert_msg(rmq_push_consumer_start(c, &err) == 0, "%s", err.message);
    return c;
}

static rmq_push_consumer *
rb_consumer(const char *group, const char *topic, rb_who *w)
{
    return rb_consumer_every(group, topic, w, RB_PERIODIC_MS);
}

/* ---- sending ----------------------------------------------------------- */

static int
rb_select(int nqueues, const rmq_message *msg, void *arg)
{
    (void)msg;
    return *(int *)arg % nqueues;
}

static void
rb_send_to(rmq_producer *p, const char *topic, int queue, const char *body)
{
    rmq_message *m = NULL;
    rmq_error    err;

    ck_assert_int_eq(rmq_message_new(topic, body, strlen(body), &m, NULL), 0);
    ck_assert_msg(
        rmq_producer_send_ordered(p, m, rb_select, &queue, NULL, &err) == 0,
        "%s", err.message);
    rmq_message_free(m);
}

/* Message numbers [from, to), round robin over the queues. */
static void
rb_send_range(rmq_producer *p, const char *topic, int from, int to)
{
    for (int i = from; i < to; i++) {
        char body[16];
        snprintf(body, sizeof(body), "m-%d", i);
        rb_send_to(p, topic, i % RB_QUEUES, body);
    }
}

/* ---- waiting ----------------------------------------------------------- */

typedef struct rb_goal {
    rb_log *log;
    int     from, to;   /* every message in [from, to) came */
    int     who;        /* > 0: ... and this consumer took something */
    int     all_queues; /* > 0: every queue was taken in the phase */
    int     probes_of[2];
} rb_goal;

static bool
rb_goal_met(void *arg)
{
    rb_goal *g = arg;
    rb_log  *l = g->log;
    bool     ok = true;

    pthread_mutex_lock(&l->mu);
    for (int i = g->from; i < g->to && ok; i++) {
        ok = l->count[i] > 0;
    }
    for (int k = 0; k < 2 && ok; k++) {
        ok = g->probes_of[k] <= 0 || l->probes[g->probes_of[k]] > 0;
    }
    if (ok && g->who > 0) {
        int n = 0;
        for (int q = 0; q < RB_QUEUES; q++) {
            n += l->took[l->phase][g->who][q];
        }
        ok = n > 0;
    }
    for (int q = 0; ok && g->all_queues && q < RB_QUEUES; q++) {
        int n = 0;
        for (int w = 0; w < RB_CONSUMERS; w++) {
            n += l->took[l->phase][w][q];
        }
        ok = n > 0;
    }
    pthread_mutex_unlock(&l->mu);
    return ok;
}

/* Probes to every queue until consumers a and b both hold queues. */
static void
rb_wait_split(rmq_producer *p, const char *topic, rb_log *l, int a, int b)
{
    rb_goal g = {.log = l, .probes_of = {a, b}};
    int64_t until = rmqtest_now_ms() + rmqtest_scale_ms(BRK_WAIT_MS);

    while (!rb_goal_met(&g) && rmqtest_now_ms() < until) {
        for (int q = 0; q < RB_QUEUES; q++) {
            rb_send_to(p, topic, q, "probe");
        }
        brk_wait(rb_goal_met, &g, 500);
    }
    ck_assert_msg(rb_goal_met(&g), "queues never split: probes %d / %d",
                  l->probes[a], l->probes[b]);
}

/* The group's committed offset of a queue (-1: none), asked directly: a
 * pull consumer of the group would join it. */
static long long
rb_committed(const char *group, const char *topic, int qid)
{
    rmq_rpc         r;
    rmq_rcmd_out    o;
    const rmq_rcmd *resp;
    char            addr[64], q[16];
    long long       off = -1;

    snprintf(addr, sizeof(addr), "127.0.0.1:%d", bk.b.port);
    snprintf(q, sizeof(q), "%d", qid);
    ck_assert_int_eq(rmq_rpc_connect(&r, addr, 3000), 0);
    rmq_rcmd_out_init(&o, RMQ_REQ_QUERY_CONSUMER_OFFSET, 0, 0);
    rmq_rcmd_out_ext(&o, "consumerGroup", group);
    rmq_rcmd_out_ext(&o, "topic", topic);
    rmq_rcmd_out_ext(&o, "queueId", q);
    rmq_rcmd_out_ext(&o, "setZeroIfNotFound", "false");
    if (rmq_rpc_call(&r, &o, NULL, 0, &resp) == 0 &&
        resp->code == RMQ_RESP_SUCCESS && rmq_rcmd_ext(resp, "offset")) {
        off = atoll(rmq_rcmd_ext(resp, "offset"));
    }
    rmq_rpc_close(&r);
    return off;
}

typedef struct rb_commits {
    const char        *group;
    const char        *topic;
    rmq_pull_consumer *c; /* another group: reads max offsets */
} rb_commits;

/* Every queue's committed offset reached its max offset. */
static bool
rb_all_committed(void *arg)
{
    rb_commits *rc = arg;

    for (int q = 0; q < RB_QUEUES; q++) {
        rmq_queue qu = {.queue_id = q};
        int64_t   max = -1;

        snprintf(qu.topic, sizeof(qu.topic), "%s", rc->topic);
        snprintf(qu.broker_name, sizeof(qu.broker_name), "broker-a");
        if (rmq_pull_consumer_max_offset(rc->c, &qu, &max, NULL) != 0 ||
            rb_committed(rc->group, rc->topic, q) < max) {
            return false;
        }
    }
    return true;
}

static void
rb_wait_committed(const char *group, const char *topic)
{
    rb_commits rc = {group, topic, brk_puller(NULL)};

    ck_assert_msg(brk_wait(rb_all_committed, &rc, BRK_WAIT_MS),
                  "offsets of %s never committed", group);
    rmq_pull_consumer_destroy(rc.c);
}

static void
rb_set_phase(rb_log *l, int phase)
{
    pthread_mutex_lock(&l->mu);
    l->phase = phase;
    pthread_mutex_unlock(&l->mu);
}

static int
rb_notified(rb_log *l, int who)
{
    int n;

    pthread_mutex_lock(&l->mu);
    n = l->notified[who];
    pthread_mutex_unlock(&l->mu);
    return n;
}

static void
rb_setup(rb_log *l, rb_who *w, char *topic, size_t tcap, char *group,
         size_t gcap, const char *tag)
{
    memset(l, 0, sizeof(*l));
    pthread_mutex_init(&l->mu, NULL);
    for (int i = 0; i < RB_CONSUMERS; i++) {
        w[i] = (rb_who){l, i};
    }
    brk_topic(topic, tcap, tag);
    snprintf(group, gcap, "RB_%s", topic);
}

/* Messages [from, to) came once, and each queue had one owner in phase. */
static void
rb_check_once(rb_log *l, int phase, int from, int to)
{
    pthread_mutex_lock(&l->mu);
    for (int i = from; i < to; i++) {
        ck_assert_msg(l->count[i] == 1, "message %d came %d times", i,
                      l->count[i]);
    }
    for (int q = 0; q < RB_QUEUES; q++) {
        int owners = 0;
        for (int w = 1; w < RB_CONSUMERS; w++) {
            owners += l->took[phase][w][q] > 0;
        }
        ck_assert_msg(owners == 1, "queue %d had %d owners in phase %d", q,
                      owners, phase);
    }
    pthread_mutex_unlock(&l->mu);
}

/* ---- tests ------------------------------------------------------------- */

START_TEST(test_rebalance_two_consumers_split_the_queues_once)
{
    rb_log             l;
    rb_who             w[RB_CONSUMERS];
    rb_goal            g;
    rmq_producer      *p;
    rmq_push_consumer *c1, *c2;
    char               topic[64], group[80];
    int                mine[RB_CONSUMERS] = {0};

    brk_need();
    rb_setup(&l, w, topic, sizeof(topic), group, sizeof(group), "rbs");
    p = brk_producer();
    brk_send(p, topic, "probe", NULL, NULL);
    brk_wait_routed(topic);
    c1 = rb_consumer(group, topic, &w[1]);
    c2 = rb_consumer(group, topic, &w[2]);
    rb_wait_split(p, topic, &l, 1, 2);
    rb_set_phase(&l, 1);
    rb_send_range(p, topic, 0, 200);
    g = (rb_goal){.log = &l, .from = 0, .to = 200};
    ck_assert_msg(brk_wait(rb_goal_met, &g, BRK_WAIT_MS), "not all consumed");
    rb_check_once(&l, 1, 0, 200);
    /* two queues each */
    pthread_mutex_lock(&l.mu);
    for (int q = 0; q < RB_QUEUES; q++) {
        mine[l.took[1][1][q] > 0 ? 1 : 2]++;
    }
    pthread_mutex_unlock(&l.mu);
    ck_assert_int_eq(mine[1], 2);
    ck_assert_int_eq(mine[2], 2);
    rmq_push_consumer_destroy(c1);
    rmq_push_consumer_destroy(c2);
    rmq_producer_destroy(p);
}
END_TEST

START_TEST(test_rebalance_join_and_leave_move_queues_on_notify)
{
    rb_log             l;
    rb_who             w[RB_CONSUMERS];
    rb_goal            g;
    rmq_producer      *p;
    rmq_push_consumer *c1, *c2, *c3;
    char               topic[64], group[80];
    int64_t            t0, took_ms;
    int                next, n1, n2, dups = 0;

    brk_need();
    rb_setup(&l, w, topic, sizeof(topic), group, sizeof(group), "rbj");
    p = brk_producer();
    brk_send(p, topic, "probe", NULL, NULL);
    brk_wait_routed(topic);
    c1 = rb_consumer(group, topic, &w[1]);
    c2 = rb_consumer(group, topic, &w[2]);
    rb_wait_split(p, topic, &l, 1, 2);
    rb_send_range(p, topic, 0, 100);
    g = (rb_goal){.log = &l, .from = 0, .to = 100};
    ck_assert_msg(brk_wait(rb_goal_met, &g, BRK_WAIT_MS), "phase 0 lost some");
    rb_wait_committed(group, topic);

    /* a third consumer joins while messages keep coming */
    rb_set_phase(&l, 1);
    n1 = rb_notified(&l, 1);
    n2 = rb_notified(&l, 2);
    t0 = rmqtest_now_ms();
    c3 = rb_consumer(group, topic, &w[3]);
    next = 100;
    g = (rb_goal){.log = &l, .who = 3};
    while (!rb_goal_met(&g) && rmqtest_now_ms() - t0 < RB_PERIODIC_MS &&
           next < 300) {
        rb_send_range(p, topic, next, next + RB_QUEUES);
        next += RB_QUEUES;
        brk_wait(rb_goal_met, &g, 100);
    }
    took_ms = rmqtest_now_ms() - t0;
    ck_assert_msg(rb_goal_met(&g), "the new consumer got nothing");
    ck_assert_msg(took_ms < RB_MOVE_MS, "the join took %lld ms",
                  (long long)took_ms);
    ck_assert(rb_notified(&l, 1) > n1 && rb_notified(&l, 2) > n2);
    g = (rb_goal){.log = &l, .from = 100, .to = next};
    ck_assert_msg(brk_wait(rb_goal_met, &g, BRK_WAIT_MS), "phase 1 lost some");

    /* settled: one owner per queue, each message once */
    rb_set_phase(&l, 2);
    rb_send_range(p, topic, next, next + 40);
    g = (rb_goal){.log = &l, .from = next, .to = next + 40};
    ck_assert_msg(brk_wait(rb_goal_met, &g, BRK_WAIT_MS), "phase 2 lost some");
    rb_check_once(&l, 2, next, next + 40);
    next += 40;

    /* one leaves: the other two take its queues */
    rb_set_phase(&l, 3);
    n2 = rb_notified(&l, 2);
    t0 = rmqtest_now_ms();
    rmq_push_consumer_destroy(c1);
    g = (rb_goal){.log = &l, .all_queues = 1};
    while (!rb_goal_met(&g) && rmqtest_now_ms() - t0 < RB_PERIODIC_MS &&
           next < RB_MSGS) {
        rb_send_range(p, topic, next, next + RB_QUEUES);
        next += RB_QUEUES;
        brk_wait(rb_goal_met, &g, 100);
    }
    took_ms = rmqtest_now_ms() - t0;
    ck_assert_msg(rb_goal_met(&g), "the queues of the one that left stayed");
    ck_assert_msg(took_ms < RB_MOVE_MS, "the takeover took %lld ms",
                  (long long)took_ms);
    ck_assert_int_gt(rb_notified(&l, 2), n2);

    /* nothing lost; the first hundred (committed before) came once */
    g = (rb_goal){.log = &l, .from = 0, .to = next};
    ck_assert_msg(brk_wait(rb_goal_met, &g, BRK_WAIT_MS), "messages lost");
    pthread_mutex_lock(&l.mu);
    for (int i = 0; i < next; i++) {
        ck_assert_msg(i >= 100 || l.count[i] == 1, "message %d came %d times",
                      i, l.count[i]);
        dups += l.count[i] - 1;
    }
    pthread_mutex_unlock(&l.mu);
    fprintf(stderr,
            "client.rebalance: %d message(s), %d duplicate(s) around the "
            "handovers\n",
            next, dups);
    rmq_push_consumer_destroy(c2);
    rmq_push_consumer_destroy(c3);
    rmq_producer_destroy(p);
}
END_TEST

/* Every queue had one owner in the current phase, and consumers 1..3
 * each owned one. */
static bool
rb_split_three(void *arg)
{
    rb_log *l = arg;
    int     owned[RB_CONSUMERS] = {0};
    bool    ok = true;

    pthread_mutex_lock(&l->mu);
    for (int q = 0; q < RB_QUEUES && ok; q++) {
        int owners = 0;
        for (int w = 1; w < RB_CONSUMERS; w++) {
            if (l->took[l->phase][w][q] > 0) {
                owners++;
                owned[w]++;
            }
        }
        ok = owners == 1;
    }
    for (int w = 1; w < RB_CONSUMERS && ok; w++) {
        ok = owned[w] > 0;
    }
    pthread_mutex_unlock(&l->mu);
    return ok;
}

/* A probe to each queue in a fresh phase (2 or 3); true once all came
 * and the split was the one wanted. */
static bool
rb_probe_round(rmq_producer *p, const char *topic, rb_log *l, int phase)
{
    rb_goal g = {.log = l, .all_queues = 1};

    pthread_mutex_lock(&l->mu);
    memset(l->took[phase], 0, sizeof(l->took[phase]));
    l->phase = phase;
    pthread_mutex_unlock(&l->mu);
    for (int q = 0; q < RB_QUEUES; q++) {
        rb_send_to(p, topic, q, "probe");
    }
    return brk_wait(rb_goal_met, &g, 2000) && rb_split_three(l);
}

/*
 * The broker's rebalancer restarts and forgets every client; a new
 * consumer registers first.  The two old ones, not in the consumer list
 * their next rebalance reads, heartbeat at once and get their share
 * again, instead of waiting for the periodic heartbeat (30 s).
 */
START_TEST(test_rebalance_forgotten_consumers_register_again_at_once)
{
    rb_log             l;
    rb_who             w[RB_CONSUMERS];
    rmqtest_out        out;
    rmqtest_actors     as;
    rmq_producer      *p;
    rmq_push_consumer *c1, *c2, *c3;
    char               topic[64], group[80];
    int64_t            until;
    bool               split = false;

    brk_need();
    rb_setup(&l, w, topic, sizeof(topic), group, sizeof(group), "rbf");
    p = brk_producer();
    brk_send(p, topic, "probe", NULL, NULL);
    brk_wait_routed(topic);
    c1 = rb_consumer_every(group, topic, &w[1], 1000);
    c2 = rb_consumer_every(group, topic, &w[2], 1000);
    rb_wait_split(p, topic, &l, 1, 2);
    rmqtest_rmqctl(&out, bk.b.conf, "actor", "restart", "rebalancer", NULL);
    ck_assert_msg(out.code == 0, "rmqctl: %s", out.err);
    rmqtest_out_free(&out);
    ck_assert(rmqtest_wait_all_ready(bk.b.conf, 10000, &as));
    c3 = rb_consumer_every(group, topic, &w[3], 1000);
    /* the old two drop out first (not listed), then come back */
    until = rmqtest_now_ms() + 10000;
    for (int round = 0; !split && rmqtest_now_ms() < until; round++) {
        split = rb_probe_round(p, topic, &l, 2 + round % 2);
    }
    ck_assert_msg(split, "no three-way split within 10 s");
    rmq_push_consumer_destroy(c1);
    rmq_push_consumer_destroy(c2);
    rmq_push_consumer_destroy(c3);
    rmq_producer_destroy(p);
}
END_TEST

static Suite *
rebalance_suite(void)
{
    Suite *s = suite_create("client.rebalance");
    TCase *tc = tcase_create("rebalance");

    tcase_set_tags(tc, "proc");
    tcase_add_unchecked_fixture(tc, brk_start, brk_stop);
    tcase_set_timeout(tc, 90);
    tcase_add_test(tc, test_rebalance_two_consumers_split_the_queues_once);
    tcase_add_test(tc, test_rebalance_join_and_leave_move_queues_on_notify);
    tcase_add_test(tc,
                   test_rebalance_forgotten_consumers_register_again_at_once);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return rmqtest_run_suite(rebalance_suite());
}
