/*
 * test_broker.c - Check suite "client.broker": librmq against a real
 * rmq-supervisor (name server + broker) started by the suite on free
 * loopback ports with a temp store.  Covers sync, async, oneway, batch
 * and ordered sends read back with the pull consumer (which shows in its
 * group's consumer list through heartbeats), batch results, and the push
 * consumer in CLUSTERING (two instances) and BROADCASTING, RECONSUME_LATER
 * redelivery through the retry topic, CONSUME_FROM_TIMESTAMP and tag
 * filtering.  The broker comes from clientbroker.h (one per TCase).
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

/* ---- helpers ----------------------------------------------------------- */

/* Every message of every queue of topic, queue by queue, in order.
 * Bodies are appended to out as "q<idx>:<body>\n".  -1 while the name
 * server has no route (a topic the broker just created is registered
 * shortly after the first send). */
static int
brk_read_all(rmq_pull_consumer *c, const char *topic, char *out, size_t cap)
{
    rmq_queue *qs;
    size_t     nq, used = 0;
    int        total = 0;
    rmq_error  err;

    out[0] = '\0';
    if (rmq_pull_consumer_fetch_queues(c, topic, &qs, &nq, &err) != 0) {
        ck_assert_msg(err.code == RMQ_CLIENT_ERR_NO_ROUTE, "%s", err.message);
        snprintf(out, cap, "%s", err.message);
        return -1;
    }
    for (size_t k = 0; k < nq; k++) {
        rmq_pull_request req = {.queue = qs[k], .max_msgs = 32};
        for (;;) {
            rmq_pull_result *r = NULL;

            ck_assert_msg(rmq_pull_consumer_pull(c, &req, &r, &err) == 0, "%s",
                          err.message);
            for (size_t i = 0; i < r->nmsgs; i++) {
                const char *b = rmq_message_ext_get_body(r->msgs[i], NULL);
                int w = snprintf(out + used, cap - used, "q%zu:%s\n", k, b);
                used += w > 0 && (size_t)w < cap - used ? (size_t)w : 0;
                total++;
            }
            req.offset = r->next_begin_offset;
            if (r->status != RMQ_PULL_FOUND) {
                rmq_pull_result_free(r);
                break;
            }
            rmq_pull_result_free(r);
        }
    }
    rmq_queues_free(qs);
    return total;
}

typedef struct read_goal {
    rmq_pull_consumer *c;
    const char        *topic;
    int                want;
    char               text[16384];
} read_goal;

static bool
read_has_all(void *arg)
{
    read_goal *g = arg;
    return brk_read_all(g->c, g->topic, g->text, sizeof(g->text)) >= g->want;
}

/* ---- produce ----------------------------------------------------------- */

START_TEST(test_broker_sync_sends_are_read_back)
{
    rmq_producer      *p;
    rmq_pull_consumer *c;
    rmq_send_result    res;
    read_goal          g = {.want = 3};
    char               topic[64];

    brk_need();
    brk_topic(topic, sizeof(topic), "sync");
    p = brk_producer();
    c = brk_puller(NULL);
    for (int i = 0; i < 3; i++) {
        char body[16];
        snprintf(body, sizeof(body), "sync-%d", i);
        brk_send(p, topic, body, NULL, &res);
        ck_assert_int_eq(res.status, RMQ_SEND_OK);
        ck_assert_str_eq(res.queue.broker_name, "broker-a");
        ck_assert_uint_eq(strlen(res.offset_msg_id), 32);
    }
    g.c = c;
    g.topic = topic;
    ck_assert_msg(brk_wait(read_has_all, &g, BRK_WAIT_MS), "read back: %s",
                  g.text);
    for (int i = 0; i < 3; i++) {
        char want[16];
        snprintf(want, sizeof(want), ":sync-%d\n", i);
        ck_assert_ptr_nonnull(strstr(g.text, want));
    }
    rmq_pull_consumer_destroy(c);
    rmq_producer_destroy(p);
}
END_TEST

typedef struct brk_async {
    atomic_int ok, failed;
} brk_async;

static void
brk_async_cb(int rc, const rmq_send_result *res, const rmq_error *err,
             void *arg)
{
    brk_async *a = arg;

    if (rc == 0) {
        atomic_fetch_add(&a->ok, 1);
    } else {
        fprintf(stderr, "async send failed: %s\n", err->message);
        atomic_fetch_add(&a->failed, 1);
    }
}

static bool
brk_async_done(void *arg)
{
    brk_async *a = arg;
    return atomic_load(&a->ok) + atomic_load(&a->failed) >= 50;
}

START_TEST(test_broker_async_sends_all_succeed)
{
    rmq_producer *p;
    brk_async     a = {0};
    char          topic[64];
    rmq_error     err;

    brk_need();
    brk_topic(topic, sizeof(topic), "async");
    p = brk_producer();
    brk_send(p, topic, "create", NULL, NULL);
    for (int i = 0; i < 50; i++) {
        rmq_message *m = NULL;
        ck_assert_int_eq(rmq_message_new(topic, "async", 5, &m, NULL), 0);
        ck_assert_msg(rmq_producer_send_async(p, m, brk_async_cb, &a, &err) ==
                          0,
                      "%s", err.message);
        rmq_message_free(m);
    }
    ck_assert(brk_wait(brk_async_done, &a, BRK_WAIT_MS));
    ck_assert_int_eq(atomic_load(&a.ok), 50);
    rmq_producer_destroy(p);
}
END_TEST

START_TEST(test_broker_oneway_sends_arrive)
{
    rmq_producer      *p;
    rmq_pull_consumer *c;
    read_goal          g = {.want = 6};
    char               topic[64];
    rmq_error          err;

    brk_need();
    brk_topic(topic, sizeof(topic), "oneway");
    p = brk_producer();
    c = brk_puller(NULL);
    brk_send(p, topic, "create", NULL, NULL);
    for (int i = 0; i < 5; i++) {
        rmq_message *m = NULL;
        ck_assert_int_eq(rmq_message_new(topic, "oneway", 6, &m, NULL), 0);
        ck_assert_msg(rmq_producer_send_oneway(p, m, &err) == 0, "%s",
                      err.message);
        rmq_message_free(m);
    }
    g.c = c;
    g.topic = topic;
    ck_assert_msg(brk_wait(read_has_all, &g, BRK_WAIT_MS), "%s", g.text);
    rmq_pull_consumer_destroy(c);
    rmq_producer_destroy(p);
}
END_TEST

START_TEST(test_broker_batch_lands_in_one_queue_in_order)
{
    rmq_producer      *p;
    rmq_pull_consumer *c;
    rmq_message       *ms[4];
    rmq_send_result    res;
    read_goal          g = {.want = 5};
    char               topic[64];
    rmq_error          err;

    brk_need();
    brk_topic(topic, sizeof(topic), "batch");
    p = brk_producer();
    c = brk_puller(NULL);
    brk_send(p, topic, "create", NULL, NULL);
    for (int i = 0; i < 4; i++) {
        char body[16];
        snprintf(body, sizeof(body), "batch-%d", i);
        ck_assert_int_eq(
            rmq_message_new(topic, body, strlen(body), &ms[i], NULL), 0);
    }
    ck_assert_msg(rmq_producer_send_batch(p, (const rmq_message *const *)ms, 4,
                                          &res, &err) == 0,
                  "%s", err.message);
    ck_assert_int_eq(res.count, 4);
    g.c = c;
    g.topic = topic;
    ck_assert_msg(brk_wait(read_has_all, &g, BRK_WAIT_MS), "%s", g.text);
    {
        char want[128];
        snprintf(want, sizeof(want),
                 "q%d:batch-0\nq%d:batch-1\nq%d:batch-2\n"
                 "q%d:batch-3\n",
                 res.queue.queue_id, res.queue.queue_id, res.queue.queue_id,
                 res.queue.queue_id);
        ck_assert_msg(strstr(g.text, want) != NULL, "%s", g.text);
    }
    for (int i = 0; i < 4; i++) {
        rmq_message_free(ms[i]);
    }
    rmq_pull_consumer_destroy(c);
    rmq_producer_destroy(p);
}
END_TEST

typedef struct brk_pulled {
    rmq_pull_consumer      *c;
    const rmq_pull_request *req;
    rmq_pull_result        *r; /* the last pull */
    size_t                  want;
} brk_pulled;

static bool
brk_pulled_all(void *arg)
{
    brk_pulled *pg = arg;

    rmq_pull_result_free(pg->r);
    pg->r = NULL;
    return rmq_pull_consumer_pull(pg->c, pg->req, &pg->r, NULL) == 0 &&
           pg->r->nmsgs >= pg->want;
}

START_TEST(test_broker_batch_result_names_every_message)
{
    rmq_producer      *p;
    rmq_pull_consumer *c;
    rmq_message       *ms[5];
    rmq_batch_id       ids[5];
    rmq_send_result    res;
    rmq_pull_request   req = {.max_msgs = 32};
    rmq_pull_result   *r = NULL;
    brk_pulled         pg;
    char               topic[64];
    rmq_error          err;

    brk_need();
    brk_topic(topic, sizeof(topic), "batchids");
    p = brk_producer();
    c = brk_puller(NULL);
    brk_send(p, topic, "create", NULL, NULL);
    for (int i = 0; i < 5; i++) {
        char body[16];
        snprintf(body, sizeof(body), "b-%d", i);
        ck_assert_int_eq(
            rmq_message_new(topic, body, strlen(body), &ms[i], NULL), 0);
    }
    ck_assert_msg(rmq_producer_send_batch_ids(p, (const rmq_message *const *)ms,
                                              5, &res, ids, &err) == 0,
                  "%s", err.message);
    ck_assert_str_eq(ids[0].msg_id, res.msg_id);
    ck_assert_str_eq(ids[0].offset_msg_id, res.offset_msg_id);
    for (int i = 0; i < 5; i++) {
        ck_assert_uint_eq(strlen(ids[i].msg_id), 32);
        ck_assert_uint_eq(strlen(ids[i].offset_msg_id), 32);
        ck_assert_int_eq(ids[i].queue_offset, res.queue_offset + i);
        for (int k = 0; k < i; k++) {
            ck_assert_str_ne(ids[i].msg_id, ids[k].msg_id);
            ck_assert_str_ne(ids[i].offset_msg_id, ids[k].offset_msg_id);
        }
    }
    /* read back: each message carries the ids the result named (once
     * the dispatcher indexed them) */
    brk_wait_routed(topic);
    req.queue = res.queue;
    req.offset = res.queue_offset;
    pg = (brk_pulled){c, &req, NULL, 5};
    ck_assert_msg(brk_wait(brk_pulled_all, &pg, BRK_WAIT_MS), "not pulled");
    r = pg.r;
    ck_assert_uint_eq(r->nmsgs, 5);
    for (size_t i = 0; i < r->nmsgs; i++) {
        ck_assert_str_eq(rmq_message_ext_get_msg_id(r->msgs[i]), ids[i].msg_id);
        ck_assert_str_eq(rmq_message_ext_get_offset_msg_id(r->msgs[i]),
                         ids[i].offset_msg_id);
        ck_assert_int_eq(rmq_message_ext_get_queue_offset(r->msgs[i]),
                         ids[i].queue_offset);
    }
    rmq_pull_result_free(r);
    for (int i = 0; i < 5; i++) {
        rmq_message_free(ms[i]);
    }
    rmq_pull_consumer_destroy(c);
    rmq_producer_destroy(p);
}
END_TEST

/* GET_CONSUMER_LIST_BY_GROUP (38) straight to the broker: how many
 * consumers the group has (0 when the broker says it has none). */
static int
brk_group_size(const char *group)
{
    rmq_rpc         r;
    rmq_rcmd_out    o;
    const rmq_rcmd *resp;
    char            addr[64];
    int             n = 0;

    snprintf(addr, sizeof(addr), "127.0.0.1:%d", bk.b.port);
    ck_assert_int_eq(rmq_rpc_connect(&r, addr, 3000), 0);
    rmq_rcmd_out_init(&o, RMQ_REQ_GET_CONSUMER_LIST_BY_GROUP, 0, 0);
    rmq_rcmd_out_ext(&o, "consumerGroup", group);
    ck_assert_int_eq(rmq_rpc_call(&r, &o, NULL, 0, &resp), 0);
    for (uint32_t i = 0;
         resp->code == RMQ_RESP_SUCCESS && resp->body && i < resp->body_len;
         i++) {
        n += resp->body[i] == '@'; /* one per client id "ip@instance" */
    }
    rmq_rpc_close(&r);
    return n;
}

typedef struct brk_listed {
    const char *group;
    int         want;
} brk_listed;

static bool
brk_group_has(void *arg)
{
    brk_listed *l = arg;
    return brk_group_size(l->group) == l->want;
}

START_TEST(test_broker_pull_consumer_is_listed_only_with_heartbeats)
{
    rmq_producer      *p;
    rmq_pull_consumer *c;
    rmq_queue         *qs = NULL;
    size_t             n = 0;
    char               topic[64], group[80];
    brk_listed         l;
    rmq_error          err;

    brk_need();
    brk_topic(topic, sizeof(topic), "pullhb");
    snprintf(group, sizeof(group), "P_%s", topic);
    p = brk_producer();
    brk_send(p, topic, "create", NULL, NULL);
    brk_wait_routed(topic);
    c = brk_puller(group); /* no heartbeats: never listed */
    ck_assert_msg(rmq_pull_consumer_fetch_queues(c, topic, &qs, &n, &err) == 0,
                  "%s", err.message);
    rmq_queues_free(qs);
    qs = NULL;
    l = (brk_listed){group, 1};
    ck_assert_msg(!brk_wait(brk_group_has, &l, 1000), "listed");
    rmq_pull_consumer_destroy(c);
    c = brk_puller_hb(group, 30000);
    ck_assert_int_eq(brk_group_size(group), 0);
    /* the first route brings a heartbeat, not only the 30 s timer */
    ck_assert_msg(rmq_pull_consumer_fetch_queues(c, topic, &qs, &n, &err) == 0,
                  "%s", err.message);
    ck_assert_msg(brk_wait(brk_group_has, &l, 5000), "not listed");
    rmq_pull_consumer_destroy(c);
    l.want = 0;
    ck_assert_msg(brk_wait(brk_group_has, &l, 5000), "still listed");
    rmq_queues_free(qs);
    rmq_producer_destroy(p);
}
END_TEST

static int
brk_select(int nqueues, const rmq_message *msg, void *arg)
{
    (void)arg;
    return atoi(rmq_message_get_keys(msg)) % nqueues;
}

START_TEST(test_broker_ordered_sends_stay_in_order_per_queue)
{
    rmq_producer      *p;
    rmq_pull_consumer *c;
    read_goal          g = {.want = 41};
    char               topic[64];
    rmq_error          err;

    brk_need();
    brk_topic(topic, sizeof(topic), "ordered");
    p = brk_producer();
    c = brk_puller(NULL);
    brk_send(p, topic, "create", "9", NULL);
    for (int i = 0; i < 40; i++) {
        char         key[8], body[16];
        rmq_message *m = NULL;

        snprintf(key, sizeof(key), "%d", i % 4);
        snprintf(body, sizeof(body), "%d-%02d", i % 4, i);
        ck_assert_int_eq(rmq_message_new(topic, body, strlen(body), &m, NULL),
                         0);
        ck_assert_int_eq(rmq_message_set_keys(m, key, NULL), 0);
        ck_assert_msg(
            rmq_producer_send_ordered(p, m, brk_select, NULL, NULL, &err) == 0,
            "%s", err.message);
        rmq_message_free(m);
    }
    g.c = c;
    g.topic = topic;
    ck_assert_msg(brk_wait(read_has_all, &g, BRK_WAIT_MS), "%s", g.text);
    /* per key: one queue, increasing sequence */
    for (int key = 0; key < 4; key++) {
        int   last = -1, queue = -1;
        char *line = g.text;

        while ((line = strstr(line, "q")) != NULL) {
            int q, k, seq;
            if (sscanf(line, "q%d:%d-%d", &q, &k, &seq) == 3 && k == key) {
                ck_assert(queue < 0 || queue == q);
                ck_assert_int_gt(seq, last);
                queue = q;
                last = seq;
            }
            line = strchr(line, '\n');
            if (line == NULL) {
                break;
            }
        }
        ck_assert_int_eq(last, 36 + key);
    }
    rmq_pull_consumer_destroy(c);
    rmq_producer_destroy(p);
}
END_TEST

/* ---- consume ----------------------------------------------------------- */

typedef struct brk_seen {
    pthread_mutex_t mu;
    char            warning[512]; /* the client's last warning */
    char            ids[256][64];
    char            bodies[256][32];
    int             reconsumed[256]; /* reconsume times when recorded */
    int             n;
    int             probes;
    int             dups;
    int             later;
    int             redelivered;
    bool            fail_first;
} brk_seen;

static void
brk_seen_init(brk_seen *s)
{
    memset(s, 0, sizeof(*s));
    pthread_mutex_init(&s->mu, NULL);
}

/* s->mu held. */
static void
brk_seen_record(brk_seen *s, const rmq_message_ext *m, const char *body)
{
    const char *id = rmq_message_ext_get_msg_id(m);
    bool        dup = false;

    for (int i = 0; i < s->n; i++) {
        dup = dup || strcmp(s->ids[i], id) == 0;
    }
    if (dup) {
        s->dups++;
    } else if (s->n < 256) {
        snprintf(s->ids[s->n], sizeof(s->ids[0]), "%s", id);
        snprintf(s->bodies[s->n], sizeof(s->bodies[0]), "%s", body);
        s->reconsumed[s->n] = rmq_message_ext_get_reconsume_times(m);
        s->n++;
    }
    s->redelivered += rmq_message_ext_get_reconsume_times(m) > 0;
}

static rmq_consume_status
brk_seen_cb(const rmq_message_ext *m, void *arg)
{
    brk_seen          *s = arg;
    const char        *body = rmq_message_ext_get_body(m, NULL);
    rmq_consume_status st = RMQ_CONSUME_SUCCESS;

    pthread_mutex_lock(&s->mu);
    if (strncmp(body, "probe", 5) == 0 || strcmp(body, "create") == 0) {
        s->probes++;
    } else if (s->fail_first && rmq_message_ext_get_reconsume_times(m) == 0) {
        s->later++;
        st = RMQ_CONSUME_RECONSUME_LATER;
    } else {
        brk_seen_record(s, m, body);
    }
    pthread_mutex_unlock(&s->mu);
    return st;
}

static void
brk_log(int level, const char *line, void *arg)
{
    brk_seen *s = arg;

    fprintf(stderr, "%s\n", line);
    pthread_mutex_lock(&s->mu);
    snprintf(s->warning, sizeof(s->warning), "%s", line);
    pthread_mutex_unlock(&s->mu);
}

typedef struct brk_cons {
    const char       *group;
    const char       *topic;
    const char       *expr; /* NULL: "*" */
    rmq_message_model model;
    rmq_consume_from  from; /* FIRST_OFFSET unless set with from_set */
    bool              from_set;
    int64_t           timestamp_ms;
} brk_cons;

static rmq_push_consumer *
brk_consumer_with(const brk_cons *bc, brk_seen *s)
{
    rmq_push_consumer_opts o;
    rmq_push_consumer     *c = NULL;
    rmq_error              err;

    rmq_push_consumer_opts_init(&o);
    o.namesrv_addr = bk.ns;
    o.group = bc->group;
    o.model = bc->model;
    o.consume_from = bc->from_set ? bc->from : RMQ_CONSUME_FROM_FIRST_OFFSET;
    o.consume_timestamp_ms = bc->timestamp_ms;
    o.on_message = brk_seen_cb;
    o.on_message_arg = s;
    o.rebalance_interval_ms = 2000;
    o.heartbeat_interval_ms = 5000;
    o.commit_interval_ms = 1000;
    o.log_fn = brk_log;
    o.log_arg = s;
    ck_assert_msg(rmq_push_consumer_new(&o, &c, &err) == 0, "%s", err.message);
    ck_assert_msg(rmq_push_consumer_subscribe(
                      c, bc->topic, bc->expr ? bc->expr : "*", &err) == 0,
                  "%s", err.message);
    ck_assert_msg(rmq_push_consumer_start(c, &err) == 0, "%s", err.message);
    return c;
}

static rmq_push_consumer *
brk_consumer(const char *group, const char *topic, rmq_message_model model,
             brk_seen *s)
{
    brk_cons bc = {.group = group, .topic = topic, .model = model};

    return brk_consumer_with(&bc, s);
}

static int
brk_seen_get(brk_seen *s, int what)
{
    int v;

    pthread_mutex_lock(&s->mu);
    v = what == 0 ? s->n : what == 1 ? s->probes : s->redelivered;
    pthread_mutex_unlock(&s->mu);
    return v;
}

/* How many recorded bodies start with prefix. */
static int
brk_seen_count(brk_seen *s, const char *prefix)
{
    int v = 0;

    pthread_mutex_lock(&s->mu);
    for (int i = 0; i < s->n; i++) {
        v += strncmp(s->bodies[i], prefix, strlen(prefix)) == 0;
    }
    pthread_mutex_unlock(&s->mu);
    return v;
}

typedef struct brk_goal {
    brk_seen   *s[2];
    int         what;
    int         want;   /* each (what 1) or in total */
    const char *prefix; /* what 3: bodies starting with it */
} brk_goal;

static bool
brk_goal_met(void *arg)
{
    brk_goal *g = arg;
    int       a, b;

    if (g->what == 3) {
        return brk_seen_count(g->s[0], g->prefix) >= g->want;
    }
    a = brk_seen_get(g->s[0], g->what);
    b = g->s[1] != NULL ? brk_seen_get(g->s[1], g->what) : 0;
    if (g->what == 1) {
        return a >= g->want && (g->s[1] == NULL || b >= g->want);
    }
    return a + b >= g->want;
}

static void
brk_send_n(rmq_producer *p, const char *topic, const char *prefix, int n)
{
    for (int i = 0; i < n; i++) {
        char body[32];
        snprintf(body, sizeof(body), "%s-%d", prefix, i);
        brk_send(p, topic, body, NULL, NULL);
    }
}

START_TEST(test_broker_clustering_two_instances_get_everything_once)
{
    brk_seen           s1, s2;
    brk_goal           g;
    rmq_push_consumer *c1, *c2;
    rmq_producer      *p;
    char               topic[64], group[80];
    int64_t            until;

    brk_need();
    brk_seen_init(&s1);
    brk_seen_init(&s2);
    brk_topic(topic, sizeof(topic), "clu");
    snprintf(group, sizeof(group), "G_%s", topic);
    p = brk_producer();
    brk_send(p, topic, "create", NULL, NULL);
    c1 = brk_consumer(group, topic, RMQ_MODEL_CLUSTERING, &s1);
    c2 = brk_consumer(group, topic, RMQ_MODEL_CLUSTERING, &s2);
    /* probes until both instances own queues */
    g = (brk_goal){.s = {&s1, &s2}, .what = 1, .want = 1};
    until = rmqtest_now_ms() + rmqtest_scale_ms(BRK_WAIT_MS);
    while (!brk_goal_met(&g) && rmqtest_now_ms() < until) {
        brk_send_n(p, topic, "probe", 4);
        brk_wait(brk_goal_met, &g, 500);
    }
    ck_assert_msg(brk_goal_met(&g),
                  "queues never split: probes %d / %d; last warning: %s",
                  brk_seen_get(&s1, 1), brk_seen_get(&s2, 1),
                  s1.warning[0] ? s1.warning : "none");
    brk_send_n(p, topic, "real", 40);
    g = (brk_goal){.s = {&s1, &s2}, .what = 0, .want = 40};
    ck_assert_msg(brk_wait(brk_goal_met, &g, BRK_WAIT_MS),
                  "consumed %d + %d of 40", brk_seen_get(&s1, 0),
                  brk_seen_get(&s2, 0));
    ck_assert_int_eq(s1.dups + s2.dups, 0);
    for (int i = 0; i < s1.n; i++) {
        for (int k = 0; k < s2.n; k++) {
            ck_assert_str_ne(s1.ids[i], s2.ids[k]);
        }
    }
    rmq_push_consumer_destroy(c1);
    rmq_push_consumer_destroy(c2);
    rmq_producer_destroy(p);
}
END_TEST

START_TEST(test_broker_broadcasting_each_instance_gets_everything)
{
    brk_seen           s1, s2;
    brk_goal           g;
    rmq_push_consumer *c1, *c2;
    rmq_producer      *p;
    char               topic[64], group[80];

    brk_need();
    brk_seen_init(&s1);
    brk_seen_init(&s2);
    brk_topic(topic, sizeof(topic), "bro");
    snprintf(group, sizeof(group), "B_%s", topic);
    p = brk_producer();
    brk_send_n(p, topic, "real", 20);
    c1 = brk_consumer(group, topic, RMQ_MODEL_BROADCASTING, &s1);
    c2 = brk_consumer(group, topic, RMQ_MODEL_BROADCASTING, &s2);
    g = (brk_goal){.s = {&s1, NULL}, .what = 0, .want = 20};
    ck_assert_msg(brk_wait(brk_goal_met, &g, BRK_WAIT_MS), "first got %d",
                  brk_seen_get(&s1, 0));
    g = (brk_goal){.s = {&s2, NULL}, .what = 0, .want = 20};
    ck_assert_msg(brk_wait(brk_goal_met, &g, BRK_WAIT_MS), "second got %d",
                  brk_seen_get(&s2, 0));
    ck_assert_int_eq(s1.dups + s2.dups, 0);
    rmq_push_consumer_destroy(c1);
    rmq_push_consumer_destroy(c2);
    rmq_producer_destroy(p);
}
END_TEST

START_TEST(test_broker_reconsume_later_is_redelivered)
{
    brk_seen           s;
    brk_goal           g;
    rmq_push_consumer *c;
    rmq_producer      *p;
    char               topic[64], group[80];

    brk_need();
    brk_seen_init(&s);
    s.fail_first = true;
    brk_topic(topic, sizeof(topic), "retry");
    snprintf(group, sizeof(group), "R_%s", topic);
    p = brk_producer();
    brk_send_n(p, topic, "real", 3);
    c = brk_consumer(group, topic, RMQ_MODEL_CLUSTERING, &s);
    /* delay level 3 is one second in this broker's config */
    g = (brk_goal){.s = {&s, NULL}, .what = 2, .want = 3};
    ck_assert_msg(brk_wait(brk_goal_met, &g, BRK_WAIT_MS),
                  "%d of 3 came back (%d asked to reconsume)",
                  brk_seen_get(&s, 2), s.later);
    pthread_mutex_lock(&s.mu);
    ck_assert_int_eq(s.later, 3);
    ck_assert_int_eq(s.n, 3);
    ck_assert_int_eq(s.dups, 0);
    for (int i = 0; i < s.n; i++) {
        /* the original topic and id, delivered again once */
        ck_assert_int_eq(s.reconsumed[i], 1);
        ck_assert_int_eq(strncmp(s.bodies[i], "real-", 5), 0);
    }
    pthread_mutex_unlock(&s.mu);
    rmq_push_consumer_destroy(c);
    rmq_producer_destroy(p);
}
END_TEST

static int64_t
brk_wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool
brk_wall_passed(void *arg)
{
    return brk_wall_ms() > *(int64_t *)arg;
}

START_TEST(test_broker_consume_from_timestamp_skips_older_messages)
{
    brk_seen           s;
    brk_goal           g;
    brk_cons           bc;
    rmq_push_consumer *c;
    rmq_producer      *p;
    char               topic[64], group[80];
    int64_t            cut;

    brk_need();
    brk_seen_init(&s);
    brk_topic(topic, sizeof(topic), "time");
    snprintf(group, sizeof(group), "T_%s", topic);
    p = brk_producer();
    /* eight of each: the producer's round robin puts two in each of the
     * four queues, so every queue has old messages before new ones */
    brk_send_n(p, topic, "old", 8);
    brk_wait_routed(topic);
    cut = brk_wall_ms() + 1;
    ck_assert(brk_wait(brk_wall_passed, &cut, 1000));
    brk_send_n(p, topic, "new", 8);
    bc = (brk_cons){.group = group,
                    .topic = topic,
                    .model = RMQ_MODEL_CLUSTERING,
                    .from = RMQ_CONSUME_FROM_TIMESTAMP,
                    .from_set = true,
                    .timestamp_ms = cut};
    c = brk_consumer_with(&bc, &s);
    g = (brk_goal){.s = {&s, NULL}, .what = 3, .want = 8, .prefix = "new-"};
    ck_assert_msg(brk_wait(brk_goal_met, &g, BRK_WAIT_MS), "got %d of 8",
                  brk_seen_count(&s, "new-"));
    /* an old message would have come before the new ones of its queue */
    g = (brk_goal){.s = {&s, NULL}, .what = 3, .want = 1, .prefix = "old-"};
    ck_assert_msg(!brk_wait(brk_goal_met, &g, 500),
                  "%d message(s) stored before the timestamp came too",
                  brk_seen_count(&s, "old-"));
    ck_assert_int_eq(s.dups, 0);
    rmq_push_consumer_destroy(c);
    rmq_producer_destroy(p);
}
END_TEST

START_TEST(test_broker_tag_subscriber_sees_only_its_tag)
{
    brk_seen           s;
    brk_goal           g;
    brk_cons           bc;
    rmq_push_consumer *c;
    rmq_producer      *p;
    char               topic[64], group[80];

    brk_need();
    brk_seen_init(&s);
    brk_topic(topic, sizeof(topic), "tags");
    snprintf(group, sizeof(group), "F_%s", topic);
    p = brk_producer();
    for (int i = 0; i < 20; i++) {
        char body[32];
        snprintf(body, sizeof(body), "%s-%d", i % 2 ? "B" : "A", i);
        brk_send_tagged(p, topic, body, i % 2 ? "TagB" : "TagA", NULL, NULL);
    }
    bc = (brk_cons){.group = group,
                    .topic = topic,
                    .expr = "TagA",
                    .model = RMQ_MODEL_CLUSTERING};
    c = brk_consumer_with(&bc, &s);
    g = (brk_goal){.s = {&s, NULL}, .what = 3, .want = 10, .prefix = "A-"};
    ck_assert_msg(brk_wait(brk_goal_met, &g, BRK_WAIT_MS), "got %d of 10",
                  brk_seen_count(&s, "A-"));
    g = (brk_goal){.s = {&s, NULL}, .what = 3, .want = 1, .prefix = "B-"};
    ck_assert_msg(!brk_wait(brk_goal_met, &g, 500),
                  "%d TagB message(s) reached a TagA subscriber",
                  brk_seen_count(&s, "B-"));
    ck_assert_int_eq(s.dups, 0);
    rmq_push_consumer_destroy(c);
    rmq_producer_destroy(p);
}
END_TEST

static Suite *
broker_suite(void)
{
    Suite *s = suite_create("client.broker");
    TCase *tc;

    tc = tcase_create("produce");
    tcase_set_tags(tc, "proc");
    tcase_add_unchecked_fixture(tc, brk_start, brk_stop);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_broker_sync_sends_are_read_back);
    tcase_add_test(tc, test_broker_async_sends_all_succeed);
    tcase_add_test(tc, test_broker_oneway_sends_arrive);
    tcase_add_test(tc, test_broker_batch_lands_in_one_queue_in_order);
    tcase_add_test(tc, test_broker_batch_result_names_every_message);
    tcase_add_test(tc, test_broker_ordered_sends_stay_in_order_per_queue);
    tcase_add_test(tc,
                   test_broker_pull_consumer_is_listed_only_with_heartbeats);
    suite_add_tcase(s, tc);

    tc = tcase_create("consume");
    tcase_set_tags(tc, "proc");
    tcase_add_unchecked_fixture(tc, brk_start, brk_stop);
    tcase_set_timeout(tc, 180);
    tcase_add_test(tc,
                   test_broker_clustering_two_instances_get_everything_once);
    tcase_add_test(tc, test_broker_broadcasting_each_instance_gets_everything);
    tcase_add_test(tc, test_broker_reconsume_later_is_redelivered);
    tcase_add_test(tc, test_broker_consume_from_timestamp_skips_older_messages);
    tcase_add_test(tc, test_broker_tag_subscriber_sees_only_its_tag);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return rmqtest_run_suite(broker_suite());
}
