/*
 * test_mock.c - Check suite "client.mock": librmq end to end against an
 * in-process name server and two brokers (mock_broker.c): route lookup,
 * sync/async/oneway/batch/ordered sends, retries and the TBW102
 * fallback, timeouts and connection errors, the pull consumer, and the
 * push consumer (CLUSTERING across instances, BROADCASTING,
 * RECONSUME_LATER through CONSUMER_SEND_MSG_BACK or the retry topic,
 * offsets committed).  Each test runs in its own forked process with a
 * fresh mock; no external processes.
 */
#include "mock_broker.c"

#include "rmq/client.h"

#include <check.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WAIT_MS 15000

static mock *mk;

static void
mk_setup(void)
{
    mk = mock_start();
    mock_topic(mk, "T", 2, 2);
}

static void
mk_teardown(void)
{
    mock_stop(mk);
}

typedef bool (*mk_cond)(void *arg);

/* Poll cond every 10 ms for up to timeout_ms. */
static bool
mk_wait(mk_cond cond, void *arg, int timeout_ms)
{
    int64_t until = rmq_mono_ms() + timeout_ms;

    while (!cond(arg)) {
        if (rmq_mono_ms() > until) {
            return cond(arg);
        }
        usleep(10 * 1000);
    }
    return true;
}

static rmq_producer *
mk_producer(const char *ns, int timeout_ms)
{
    rmq_producer_opts o;
    rmq_producer     *p = NULL;
    rmq_error         err;

    rmq_producer_opts_init(&o);
    o.namesrv_addr = ns != NULL ? ns : mock_addr(mk, MOCK_NS);
    o.send_timeout_ms = timeout_ms;
    ck_assert_msg(rmq_producer_new(&o, &p, &err) == 0, "%s", err.message);
    ck_assert_msg(rmq_producer_start(p, &err) == 0, "%s", err.message);
    return p;
}

static rmq_message *
mk_msg(const char *topic, const char *body, const char *tags)
{
    rmq_message *m = NULL;

    ck_assert_int_eq(rmq_message_new(topic, body, strlen(body), &m, NULL), 0);
    if (tags != NULL) {
        ck_assert_int_eq(rmq_message_set_tags(m, tags, NULL), 0);
    }
    return m;
}

static void
mk_send(rmq_producer *p, const char *topic, const char *body, const char *tags,
        rmq_send_result *res)
{
    rmq_message    *m = mk_msg(topic, body, tags);
    rmq_send_result r;
    rmq_error       err;

    ck_assert_msg(rmq_producer_send(p, m, res ? res : &r, &err) == 0,
                  "send: %s", err.message);
    rmq_message_free(m);
}

typedef struct count_arg {
    int server, code, n;
} count_arg;

static bool
count_reached(void *arg)
{
    count_arg *a = arg;
    return mock_count(mk, a->server, a->code) >= a->n;
}

static bool
mock_wait_count(int server, int code, int n)
{
    count_arg a = {server, code, n};
    return mk_wait(count_reached, &a, WAIT_MS);
}

/* ---- producer ---------------------------------------------------------- */

START_TEST(test_mock_sync_send_fills_header_and_result)
{
    rmq_producer   *p = mk_producer(NULL, 3000);
    rmq_message    *m = mk_msg("T", "hello", "TagA");
    rmq_send_result res;
    rmq_error       err;
    char            v[600], want[128];

    ck_assert_int_eq(rmq_message_set_keys(m, "k1 k2", NULL), 0);
    ck_assert_int_eq(rmq_message_set_property(m, "color", "red", NULL), 0);
    ck_assert_int_eq(rmq_message_set_flag(m, 5, NULL), 0);
    ck_assert_msg(rmq_producer_send(p, m, &res, &err) == 0, "%s", err.message);
    ck_assert_int_eq(res.status, RMQ_SEND_OK);
    ck_assert_uint_eq(strlen(res.msg_id), 32);
    ck_assert_uint_eq(strlen(res.offset_msg_id), 32);
    ck_assert_str_eq(res.queue.topic, "T");
    ck_assert(strcmp(res.queue.broker_name, "broker-a") == 0 ||
              strcmp(res.queue.broker_name, "broker-b") == 0);
    ck_assert_int_eq(res.queue_offset, 0);
    ck_assert_int_eq(res.count, 1);
    ck_assert(mock_last_ext(mk, 310, "a", v, sizeof(v)));
    ck_assert_str_eq(v, "DEFAULT_PRODUCER");
    ck_assert(mock_last_ext(mk, 310, "b", v, sizeof(v)));
    ck_assert_str_eq(v, "T");
    ck_assert(mock_last_ext(mk, 310, "c", v, sizeof(v)));
    ck_assert_str_eq(v, "TBW102");
    ck_assert(mock_last_ext(mk, 310, "d", v, sizeof(v)));
    ck_assert_str_eq(v, "4");
    ck_assert(mock_last_ext(mk, 310, "h", v, sizeof(v)));
    ck_assert_str_eq(v, "5");
    ck_assert(mock_last_ext(mk, 310, "k", v, sizeof(v)));
    ck_assert_str_eq(v, "false");
    ck_assert(mock_last_ext(mk, 310, "m", v, sizeof(v)));
    ck_assert_str_eq(v, "false");
    ck_assert(!mock_last_ext(mk, 310, "l", v, sizeof(v)));
    ck_assert(mock_last_ext(mk, 310, "i", v, sizeof(v)));
    snprintf(want, sizeof(want), "UNIQ_KEY\x01%s", res.msg_id);
    ck_assert_ptr_nonnull(strstr(v, want));
    ck_assert_ptr_nonnull(strstr(v, "TAGS\x01TagA"));
    ck_assert_ptr_nonnull(strstr(v, "KEYS\x01k1 k2"));
    ck_assert_ptr_nonnull(strstr(v, "color\x01red"));
    ck_assert_ptr_nonnull(strstr(v, "WAIT\x01true"));
    rmq_message_free(m);
    rmq_producer_destroy(p);
}
END_TEST

START_TEST(test_mock_sends_go_round_robin_over_all_queues)
{
    rmq_producer *p = mk_producer(NULL, 3000);

    for (int i = 0; i < 8; i++) {
        mk_send(p, "T", "x", NULL, NULL);
    }
    ck_assert_int_eq(mock_queue_len(mk, MOCK_A, "T", 0), 2);
    ck_assert_int_eq(mock_queue_len(mk, MOCK_A, "T", 1), 2);
    ck_assert_int_eq(mock_queue_len(mk, MOCK_B, "T", 0), 2);
    ck_assert_int_eq(mock_queue_len(mk, MOCK_B, "T", 1), 2);
    rmq_producer_destroy(p);
}
END_TEST

START_TEST(test_mock_failed_send_is_retried_on_another_broker)
{
    rmq_producer   *p = mk_producer(NULL, 3000);
    rmq_send_result res;

    mock_fail_sends(mk, MOCK_A, RMQ_RESP_SERVICE_NOT_AVAILABLE);
    for (int i = 0; i < 6; i++) {
        mk_send(p, "T", "x", NULL, &res);
        ck_assert_str_eq(res.queue.broker_name, "broker-b");
    }
    ck_assert_int_ge(mock_count(mk, MOCK_A, 310), 1);
    ck_assert_int_eq(mock_stored(mk, "T"), 6);
    rmq_producer_destroy(p);
}
END_TEST

START_TEST(test_mock_non_retryable_code_fails_at_once)
{
    rmq_producer *p = mk_producer(NULL, 3000);
    rmq_message  *m = mk_msg("T", "x", NULL);
    rmq_error     err;

    mock_fail_sends(mk, MOCK_A, RMQ_RESP_MESSAGE_ILLEGAL);
    mock_fail_sends(mk, MOCK_B, RMQ_RESP_MESSAGE_ILLEGAL);
    ck_assert_int_eq(rmq_producer_send(p, m, NULL, &err),
                     RMQ_CLIENT_ERR_BROKER);
    ck_assert_int_eq(err.code, RMQ_CLIENT_ERR_BROKER);
    ck_assert_int_eq(err.response_code, RMQ_RESP_MESSAGE_ILLEGAL);
    ck_assert_ptr_nonnull(strstr(err.message, "MESSAGE_ILLEGAL"));
    ck_assert_ptr_nonnull(strstr(err.message, "mock failure"));
    ck_assert_int_eq(mock_count(mk, MOCK_A, 310) + mock_count(mk, MOCK_B, 310),
                     1);
    rmq_message_free(m);
    rmq_producer_destroy(p);
}
END_TEST

START_TEST(test_mock_unknown_topic_goes_through_tbw102)
{
    rmq_producer   *p = mk_producer(NULL, 3000);
    rmq_send_result res;
    char            v[64];

    mk_send(p, "NewTopic", "x", NULL, &res);
    ck_assert_str_eq(res.queue.broker_name, "broker-a");
    ck_assert(mock_last_ext(mk, 310, "b", v, sizeof(v)));
    ck_assert_str_eq(v, "NewTopic");
    ck_assert(mock_last_ext(mk, 105, "topic", v, sizeof(v)));
    ck_assert_str_eq(v, "TBW102");
    mk_send(p, "NewTopic", "y", NULL, &res);
    ck_assert_int_eq(mock_stored(mk, "NewTopic"), 2);
    rmq_producer_destroy(p);
}
END_TEST

START_TEST(test_mock_no_route_at_all_is_no_route)
{
    rmq_producer *p;
    rmq_message  *m = mk_msg("Nowhere", "x", NULL);
    rmq_error     err;

    mock_topic(mk, "TBW102", 0, 0);
    p = mk_producer(NULL, 3000);
    ck_assert_int_eq(rmq_producer_send(p, m, NULL, &err),
                     RMQ_CLIENT_ERR_NO_ROUTE);
    ck_assert_ptr_nonnull(strstr(err.message, "Nowhere"));
    rmq_message_free(m);
    rmq_producer_destroy(p);
}
END_TEST

START_TEST(test_mock_silent_broker_times_out)
{
    rmq_producer *p;
    rmq_message  *m = mk_msg("S", "x", NULL);
    rmq_error     err;
    int64_t       t0;

    mock_topic(mk, "S", 1, 0);
    mock_silent(mk, MOCK_A, true);
    p = mk_producer(NULL, 500);
    t0 = rmq_mono_ms();
    ck_assert_int_eq(rmq_producer_send(p, m, NULL, &err),
                     RMQ_CLIENT_ERR_TIMEOUT);
    ck_assert_int_lt(rmq_mono_ms() - t0, 2500);
    rmq_message_free(m);
    rmq_producer_destroy(p);
}
END_TEST

START_TEST(test_mock_dead_name_server_is_a_connect_error)
{
    char          ns[64];
    rmq_producer *p;
    rmq_message  *m = mk_msg("T", "x", NULL);
    rmq_error     err;

    snprintf(ns, sizeof(ns), "127.0.0.1:%d;127.0.0.1:%d", mock_free_port(),
             mock_free_port());
    p = mk_producer(ns, 1000);
    ck_assert_int_eq(rmq_producer_send(p, m, NULL, &err),
                     RMQ_CLIENT_ERR_CONNECT);
    ck_assert_ptr_nonnull(strstr(err.message, "name server"));
    rmq_message_free(m);
    rmq_producer_destroy(p);
}
END_TEST

START_TEST(test_mock_second_name_server_is_tried)
{
    char            ns[128];
    rmq_producer   *p;
    rmq_send_result res;

    snprintf(ns, sizeof(ns), "127.0.0.1:%d;%s", mock_free_port(),
             mock_addr(mk, MOCK_NS));
    p = mk_producer(ns, 3000);
    mk_send(p, "T", "x", NULL, &res);
    rmq_producer_destroy(p);
}
END_TEST

typedef struct async_state {
    atomic_int ok, failed;
    pthread_t  caller;
    atomic_int same_thread;
} async_state;

static void
async_cb(int rc, const rmq_send_result *res, const rmq_error *err, void *arg)
{
    async_state *st = arg;

    if (pthread_equal(pthread_self(), st->caller)) {
        atomic_fetch_add(&st->same_thread, 1);
    }
    if (rc == 0 && res != NULL && res->status == RMQ_SEND_OK) {
        atomic_fetch_add(&st->ok, 1);
    } else {
        atomic_fetch_add(&st->failed, 1);
    }
}

static bool
async_all_done(void *arg)
{
    async_state *st = arg;
    return atomic_load(&st->ok) + atomic_load(&st->failed) >= 50;
}

START_TEST(test_mock_async_sends_call_back_on_another_thread)
{
    rmq_producer *p = mk_producer(NULL, 3000);
    async_state   st = {.caller = pthread_self()};
    rmq_error     err;

    for (int i = 0; i < 50; i++) {
        rmq_message *m = mk_msg("T", "async", NULL);
        ck_assert_msg(rmq_producer_send_async(p, m, async_cb, &st, &err) == 0,
                      "%s", err.message);
        rmq_message_free(m); /* the producer keeps its own copy */
    }
    ck_assert(mk_wait(async_all_done, &st, WAIT_MS));
    ck_assert_int_eq(atomic_load(&st.ok), 50);
    ck_assert_int_eq(atomic_load(&st.same_thread), 0);
    ck_assert_int_eq(mock_stored(mk, "T"), 50);
    rmq_producer_destroy(p);
}
END_TEST

START_TEST(test_mock_async_sends_in_flight_at_shutdown_are_reported)
{
    rmq_producer *p;
    async_state   st = {.caller = pthread_self()};

    mock_topic(mk, "S", 1, 0);
    mock_silent(mk, MOCK_A, true);
    p = mk_producer(NULL, 10000);
    for (int i = 0; i < 50; i++) {
        rmq_message *m = mk_msg("S", "x", NULL);
        ck_assert_int_eq(rmq_producer_send_async(p, m, async_cb, &st, NULL), 0);
        rmq_message_free(m);
    }
    ck_assert_int_eq(rmq_producer_shutdown(p, NULL), 0);
    /* every callback ran, with an error */
    ck_assert_int_eq(atomic_load(&st.failed), 50);
    rmq_producer_destroy(p);
}
END_TEST

typedef struct lost_state {
    atomic_int rc; /* -1 until the callback ran */
    int64_t    done_ms;
} lost_state;

static void
lost_cb(int rc, const rmq_send_result *res, const rmq_error *err, void *arg)
{
    lost_state *st = arg;

    st->done_ms = rmq_mono_ms();
    atomic_store(&st->rc, rc);
}

static bool
lost_called(void *arg)
{
    return atomic_load(&((lost_state *)arg)->rc) != -1;
}

START_TEST(test_mock_lost_connection_fails_pending_and_reconnects_lazily)
{
    rmq_producer_opts o;
    rmq_producer     *p = NULL;
    rmq_message      *m = mk_msg("S", "x", NULL);
    lost_state        st;
    int64_t           t0;

    atomic_init(&st.rc, -1);
    mock_topic(mk, "S", 1, 0);
    rmq_producer_opts_init(&o);
    o.namesrv_addr = mock_addr(mk, MOCK_NS);
    o.send_timeout_ms = 20000;
    o.async_retry_times = 0;
    ck_assert_int_eq(rmq_producer_new(&o, &p, NULL), 0);
    ck_assert_int_eq(rmq_producer_start(p, NULL), 0);
    mk_send(p, "S", "first", NULL, NULL);
    mock_silent(mk, MOCK_A, true);
    ck_assert_int_eq(rmq_producer_send_async(p, m, lost_cb, &st, NULL), 0);
    ck_assert(mock_wait_count(MOCK_A, 310, 2));
    t0 = rmq_mono_ms();
    mock_drop_conns(mk, MOCK_A);
    /* the pending send fails with the connection, not after 20 s */
    ck_assert(mk_wait(lost_called, &st, 5000));
    ck_assert_int_eq(atomic_load(&st.rc), RMQ_CLIENT_ERR_CONNECT);
    ck_assert_int_lt(st.done_ms - t0, 5000);
    /* the next send opens a new connection */
    mock_silent(mk, MOCK_A, false);
    mk_send(p, "S", "after", NULL, NULL);
    ck_assert_int_eq(mock_stored(mk, "S"), 2);
    rmq_message_free(m);
    rmq_producer_destroy(p);
}
END_TEST

typedef struct mt_arg {
    rmq_producer *p;
    atomic_int    ok;
} mt_arg;

static void *
mt_sender(void *arg)
{
    mt_arg *a = arg;

    for (int i = 0; i < 25; i++) {
        rmq_message    *m = NULL;
        rmq_send_result res;

        if (rmq_message_new("T", "mt", 2, &m, NULL) == 0 &&
            rmq_producer_send(a->p, m, &res, NULL) == 0) {
            atomic_fetch_add(&a->ok, 1);
        }
        rmq_message_free(m);
    }
    return NULL;
}

START_TEST(test_mock_producer_is_shared_by_many_threads)
{
    mt_arg    a = {.p = mk_producer(NULL, 5000)};
    pthread_t t[8];

    atomic_init(&a.ok, 0);
    for (int i = 0; i < 8; i++) {
        ck_assert_int_eq(pthread_create(&t[i], NULL, mt_sender, &a), 0);
    }
    for (int i = 0; i < 8; i++) {
        pthread_join(t[i], NULL);
    }
    ck_assert_int_eq(atomic_load(&a.ok), 200);
    ck_assert_int_eq(mock_stored(mk, "T"), 200);
    rmq_producer_destroy(a.p);
}
END_TEST

typedef struct stored_arg {
    const char *topic;
    int         n;
} stored_arg;

static bool
stored_at_least(void *arg)
{
    stored_arg *a = arg;
    return mock_stored(mk, a->topic) >= a->n;
}

START_TEST(test_mock_oneway_sends_arrive)
{
    rmq_producer *p = mk_producer(NULL, 3000);
    stored_arg    a = {"T", 3};
    rmq_error     err;
    char          v[16];

    for (int i = 0; i < 3; i++) {
        rmq_message *m = mk_msg("T", "oneway", NULL);
        ck_assert_msg(rmq_producer_send_oneway(p, m, &err) == 0, "%s",
                      err.message);
        rmq_message_free(m);
    }
    ck_assert(mk_wait(stored_at_least, &a, WAIT_MS));
    ck_assert(mock_last_ext(mk, 310, "b", v, sizeof(v)));
    rmq_producer_destroy(p);
}
END_TEST

START_TEST(test_mock_batch_is_one_request_of_many_messages)
{
    rmq_producer   *p = mk_producer(NULL, 3000);
    rmq_message    *ms[3];
    rmq_send_result res;
    rmq_error       err;
    char            v[16];

    for (int i = 0; i < 3; i++) {
        ms[i] = mk_msg("T", i == 1 ? "second" : "other", "B");
    }
    ck_assert_msg(rmq_producer_send_batch(p, (const rmq_message *const *)ms, 3,
                                          &res, &err) == 0,
                  "%s", err.message);
    ck_assert_int_eq(res.count, 3);
    ck_assert_int_eq(res.queue_offset, 0);
    ck_assert_uint_eq(strlen(res.msg_id), 32);
    ck_assert_int_eq(mock_count(mk, MOCK_A, 320) + mock_count(mk, MOCK_B, 320),
                     1);
    ck_assert(mock_last_ext(mk, 320, "m", v, sizeof(v)));
    ck_assert_str_eq(v, "true");
    ck_assert_int_eq(mock_stored(mk, "T"), 3);
    ck_assert_int_eq(
        mock_queue_len(mk, res.queue.broker_name[7] == 'a' ? MOCK_A : MOCK_B,
                       "T", res.queue.queue_id),
        3);
    /* batches refuse delays and mixed topics */
    ck_assert_int_eq(rmq_message_set_delay_level(ms[2], 1, NULL), 0);
    ck_assert_int_eq(rmq_producer_send_batch(p, (const rmq_message *const *)ms,
                                             3, &res, &err),
                     RMQ_CLIENT_ERR_INVALID);
    rmq_message_free(ms[2]);
    ms[2] = mk_msg("Other", "x", NULL);
    ck_assert_int_eq(rmq_producer_send_batch(p, (const rmq_message *const *)ms,
                                             3, &res, &err),
                     RMQ_CLIENT_ERR_INVALID);
    for (int i = 0; i < 3; i++) {
        rmq_message_free(ms[i]);
    }
    rmq_producer_destroy(p);
}
END_TEST

START_TEST(test_mock_invalid_messages_are_refused_before_sending)
{
    rmq_producer *p = mk_producer(NULL, 3000);
    rmq_message  *m = NULL;
    rmq_error     err;

    ck_assert_int_eq(rmq_message_new("bad topic!", "x", 1, &m, NULL), 0);
    ck_assert_int_eq(rmq_producer_send(p, m, NULL, &err),
                     RMQ_CLIENT_ERR_INVALID);
    rmq_message_free(m);
    ck_assert_int_eq(rmq_message_new("T", "", 0, &m, NULL), 0);
    ck_assert_int_eq(rmq_producer_send(p, m, NULL, &err),
                     RMQ_CLIENT_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(err.message, "empty"));
    rmq_message_free(m);
    ck_assert_int_eq(mock_count(mk, MOCK_NS, 105), 0);
    rmq_producer_destroy(p);
}
END_TEST

START_TEST(test_mock_send_after_shutdown_is_closed)
{
    rmq_producer *p = mk_producer(NULL, 3000);
    rmq_message  *m = mk_msg("T", "x", NULL);
    rmq_error     err;

    mk_send(p, "T", "x", NULL, NULL);
    ck_assert_int_eq(rmq_producer_shutdown(p, &err), 0);
    ck_assert_int_eq(rmq_producer_shutdown(p, &err), 0);
    ck_assert_int_eq(rmq_producer_send(p, m, NULL, &err),
                     RMQ_CLIENT_ERR_CLOSED);
    ck_assert_int_ge(mock_count(mk, MOCK_A, 35) + mock_count(mk, MOCK_B, 35),
                     1);
    rmq_message_free(m);
    rmq_producer_destroy(p);
}
END_TEST

/* ---- pull consumer ----------------------------------------------------- */

static rmq_pull_consumer *
mk_puller(void)
{
    rmq_pull_consumer_opts o;
    rmq_pull_consumer     *c = NULL;
    rmq_error              err;

    rmq_pull_consumer_opts_init(&o);
    o.namesrv_addr = mock_addr(mk, MOCK_NS);
    o.group = "PG";
    ck_assert_msg(rmq_pull_consumer_new(&o, &c, &err) == 0, "%s", err.message);
    ck_assert_msg(rmq_pull_consumer_start(c, &err) == 0, "%s", err.message);
    return c;
}

static rmq_pull_result *
mk_pull(rmq_pull_consumer *c, const rmq_queue *q, const char *expr,
        int64_t offset)
{
    rmq_pull_request req = {
        .queue = *q, .tag_expr = expr, .offset = offset, .max_msgs = 32};
    rmq_pull_result *res = NULL;
    rmq_error        err;

    ck_assert_msg(rmq_pull_consumer_pull(c, &req, &res, &err) == 0, "%s",
                  err.message);
    return res;
}

static void
mk_fill_queue_a0(rmq_producer *p, int n)
{
    rmq_queue q = {.topic = "T", .broker_name = "broker-a", .queue_id = 0};
    rmq_error err;

    for (int i = 0; i < n; i++) {
        char         body[16];
        rmq_message *m;

        snprintf(body, sizeof(body), "m%d", i);
        m = mk_msg("T", body, i % 2 == 0 ? "A" : "B");
        ck_assert_msg(rmq_producer_send_to_queue(p, m, &q, NULL, &err) == 0,
                      "%s", err.message);
        rmq_message_free(m);
    }
}

START_TEST(test_mock_pull_reads_what_was_sent)
{
    rmq_producer      *p = mk_producer(NULL, 3000);
    rmq_pull_consumer *c = mk_puller();
    rmq_queue          q = {.topic = "T", .broker_name = "broker-a"};
    rmq_queue         *qs;
    size_t             n, len;
    rmq_pull_result   *r;

    mk_fill_queue_a0(p, 5);
    ck_assert_int_eq(rmq_pull_consumer_fetch_queues(c, "T", &qs, &n, NULL), 0);
    ck_assert_uint_eq(n, 4);
    ck_assert_str_eq(qs[0].broker_name, "broker-a");
    ck_assert_str_eq(qs[3].broker_name, "broker-b");
    rmq_queues_free(qs);
    r = mk_pull(c, &q, "*", 0);
    ck_assert_int_eq(r->status, RMQ_PULL_FOUND);
    ck_assert_uint_eq(r->nmsgs, 5);
    ck_assert_int_eq(r->next_begin_offset, 5);
    ck_assert_int_eq(r->max_offset, 5);
    ck_assert_mem_eq(rmq_message_ext_get_body(r->msgs[2], &len), "m2", 2);
    ck_assert_str_eq(rmq_message_ext_get_broker_name(r->msgs[2]), "broker-a");
    ck_assert_int_eq(rmq_message_ext_get_queue_offset(r->msgs[2]), 2);
    ck_assert_uint_eq(strlen(rmq_message_ext_get_msg_id(r->msgs[2])), 32);
    rmq_pull_result_free(r);
    r = mk_pull(c, &q, "A", 0);
    ck_assert_uint_eq(r->nmsgs, 3); /* the client re-checks tags */
    ck_assert_int_eq(r->next_begin_offset, 5);
    rmq_pull_result_free(r);
    r = mk_pull(c, &q, "*", 5);
    ck_assert_int_eq(r->status, RMQ_PULL_NO_NEW_MSG);
    rmq_pull_result_free(r);
    r = mk_pull(c, &q, "*", 99);
    ck_assert_int_eq(r->status, RMQ_PULL_OFFSET_ILLEGAL);
    ck_assert_int_eq(r->next_begin_offset, 5);
    rmq_pull_result_free(r);
    rmq_pull_consumer_destroy(c);
    rmq_producer_destroy(p);
}
END_TEST

START_TEST(test_mock_pull_offsets_query_commit_and_bounds)
{
    rmq_producer      *p = mk_producer(NULL, 3000);
    rmq_pull_consumer *c = mk_puller();
    rmq_queue          q = {.topic = "T", .broker_name = "broker-a"};
    int64_t            off = -7;
    rmq_error          err;

    mk_fill_queue_a0(p, 4);
    ck_assert_int_eq(rmq_pull_consumer_query_offset(c, &q, &off, &err),
                     RMQ_CLIENT_ERR_BROKER);
    ck_assert_int_eq(err.response_code, RMQ_RESP_QUERY_NOT_FOUND);
    ck_assert_int_eq(rmq_pull_consumer_commit_offset(c, &q, 3, &err), 0);
    ck_assert_int_eq(rmq_pull_consumer_query_offset(c, &q, &off, &err), 0);
    ck_assert_int_eq(off, 3);
    ck_assert_int_eq(mock_offset(mk, MOCK_A, "PG", "T", 0), 3);
    ck_assert_int_eq(rmq_pull_consumer_max_offset(c, &q, &off, &err), 0);
    ck_assert_int_eq(off, 4);
    ck_assert_int_eq(rmq_pull_consumer_min_offset(c, &q, &off, &err), 0);
    ck_assert_int_eq(off, 0);
    ck_assert_int_eq(
        rmq_pull_consumer_search_offset(c, &q, rmq_now_ms(), &off, &err), 0);
    q.queue_id = -1;
    ck_assert_int_eq(rmq_pull_consumer_max_offset(c, &q, &off, &err),
                     RMQ_CLIENT_ERR_INVALID);
    rmq_pull_consumer_destroy(c);
    rmq_producer_destroy(p);
}
END_TEST

static int
select_by_key(int nqueues, const rmq_message *msg, void *arg)
{
    (void)arg;
    return atoi(rmq_message_get_keys(msg)) % nqueues;
}

START_TEST(test_mock_ordered_sends_keep_each_key_in_one_queue_in_order)
{
    rmq_producer      *p = mk_producer(NULL, 3000);
    rmq_pull_consumer *c = mk_puller();
    rmq_queue         *qs;
    size_t             nq;
    rmq_error          err;

    for (int i = 0; i < 40; i++) {
        char         key[8], body[16];
        rmq_message *m;

        snprintf(key, sizeof(key), "%d", i % 4);
        snprintf(body, sizeof(body), "%d-%d", i % 4, i);
        m = mk_msg("T", body, NULL);
        ck_assert_int_eq(rmq_message_set_keys(m, key, NULL), 0);
        ck_assert_msg(rmq_producer_send_ordered(p, m, select_by_key, NULL, NULL,
                                                &err) == 0,
                      "%s", err.message);
        rmq_message_free(m);
    }
    ck_assert_int_eq(rmq_pull_consumer_fetch_queues(c, "T", &qs, &nq, NULL), 0);
    for (size_t k = 0; k < nq; k++) {
        rmq_pull_result *r = mk_pull(c, &qs[k], "*", 0);
        int              last = -1;

        ck_assert_uint_eq(r->nmsgs, 10);
        for (size_t i = 0; i < r->nmsgs; i++) {
            size_t      len;
            const char *b = rmq_message_ext_get_body(r->msgs[i], &len);
            int         key = atoi(b), seq = atoi(strchr(b, '-') + 1);

            ck_assert_int_eq(key, (int)k);
            ck_assert_int_gt(seq, last);
            last = seq;
        }
        rmq_pull_result_free(r);
    }
    rmq_queues_free(qs);
    rmq_producer_destroy(p);
    rmq_pull_consumer_destroy(c);
}
END_TEST

START_TEST(test_mock_big_bodies_are_compressed_and_inflated)
{
    rmq_producer      *p = mk_producer(NULL, 3000);
    rmq_pull_consumer *c = mk_puller();
    rmq_queue          q = {.topic = "Z", .broker_name = "broker-a"};
    char              *big = malloc(10001);
    rmq_pull_result   *r;
    size_t             len;

    mock_topic(mk, "Z", 1, 0);
    for (int i = 0; i < 10000; i++) {
        big[i] = (char)('a' + i % 13);
    }
    big[10000] = '\0';
    mk_send(p, "Z", big, NULL, NULL);
    ck_assert_int_eq(mock_first_sysflag(mk, "Z") & 1, 1);
    r = mk_pull(c, &q, NULL, 0);
    ck_assert_uint_eq(r->nmsgs, 1);
    ck_assert_mem_eq(rmq_message_ext_get_body(r->msgs[0], &len), big, 10000);
    ck_assert_uint_eq(len, 10000);
    rmq_pull_result_free(r);
    free(big);
    rmq_pull_consumer_destroy(c);
    rmq_producer_destroy(p);
}
END_TEST

/* ---- push consumer ----------------------------------------------------- */

typedef struct seen {
    pthread_mutex_t mu;
    char            ids[512][64];
    int             n; /* distinct ids consumed successfully */
    int             calls;
    int             dups;
    int             later;      /* RECONSUME_LATER answers */
    int             retried_ok; /* successes with reconsume_times > 0 */
    bool            wrong_topic;
    bool            fail_first;
    const char     *only_tag;
    bool            wrong_tag;
} seen;

static void
seen_init(seen *s)
{
    memset(s, 0, sizeof(*s));
    pthread_mutex_init(&s->mu, NULL);
}

static rmq_consume_status
seen_cb(const rmq_message_ext *m, void *arg)
{
    seen              *s = arg;
    const char        *id = rmq_message_ext_get_msg_id(m);
    rmq_consume_status st = RMQ_CONSUME_SUCCESS;
    bool               dup = false;

    pthread_mutex_lock(&s->mu);
    s->calls++;
    if (strcmp(rmq_message_ext_get_topic(m), "T") != 0) {
        s->wrong_topic = true;
    }
    if (s->only_tag != NULL &&
        (rmq_message_ext_get_tags(m) == NULL ||
         strcmp(rmq_message_ext_get_tags(m), s->only_tag) != 0)) {
        s->wrong_tag = true;
    }
    if (s->fail_first && rmq_message_ext_get_reconsume_times(m) == 0) {
        s->later++;
        st = RMQ_CONSUME_RECONSUME_LATER;
    } else {
        for (int i = 0; i < s->n; i++) {
            dup = dup || strcmp(s->ids[i], id) == 0;
        }
        if (dup) {
            s->dups++;
        } else if (s->n < 512) {
            snprintf(s->ids[s->n++], sizeof(s->ids[0]), "%s", id);
        }
        if (rmq_message_ext_get_reconsume_times(m) > 0) {
            s->retried_ok++;
        }
    }
    pthread_mutex_unlock(&s->mu);
    return st;
}

typedef struct seen_goal {
    seen *s[2];
    int   n;
} seen_goal;

static int
seen_count(seen *s)
{
    int n;

    pthread_mutex_lock(&s->mu);
    n = s->n;
    pthread_mutex_unlock(&s->mu);
    return n;
}

static bool
seen_reached(void *arg)
{
    seen_goal *g = arg;
    int        total = 0;

    for (int i = 0; i < 2; i++) {
        total += g->s[i] != NULL ? seen_count(g->s[i]) : 0;
    }
    return total >= g->n;
}

/* Consumer timers; tests that need others change them first. */
static int mk_rebalance_ms = 60000; /* only NOTIFY (40) rebalances early */
static int mk_heartbeat_ms = 1000;

static rmq_push_consumer *
mk_consumer(const char *group, rmq_message_model model, seen *s,
            const char *expr)
{
    rmq_push_consumer_opts o;
    rmq_push_consumer     *c = NULL;
    rmq_error              err;

    rmq_push_consumer_opts_init(&o);
    o.namesrv_addr = mock_addr(mk, MOCK_NS);
    o.group = group;
    o.model = model;
    o.consume_from = RMQ_CONSUME_FROM_FIRST_OFFSET;
    o.on_message = seen_cb;
    o.on_message_arg = s;
    o.suspend_ms = 1000;
    o.commit_interval_ms = 200;
    o.heartbeat_interval_ms = mk_heartbeat_ms;
    o.rebalance_interval_ms = mk_rebalance_ms;
    if (getenv("MOCK_LOG") != NULL) {
        o.log_level = atoi(getenv("MOCK_LOG"));
    }
    ck_assert_msg(rmq_push_consumer_new(&o, &c, &err) == 0, "%s", err.message);
    ck_assert_msg(rmq_push_consumer_subscribe(c, "T", expr, &err) == 0, "%s",
                  err.message);
    ck_assert_msg(rmq_push_consumer_start(c, &err) == 0, "%s", err.message);
    return c;
}

static void
mk_send_n(int n, const char *tags_even, const char *tags_odd)
{
    rmq_producer *p = mk_producer(NULL, 3000);

    for (int i = 0; i < n; i++) {
        char body[32];
        snprintf(body, sizeof(body), "push-%d", i);
        mk_send(p, "T", body, i % 2 == 0 ? tags_even : tags_odd, NULL);
    }
    rmq_producer_destroy(p);
}

static bool
all_queues_committed(void *arg)
{
    int want = *(int *)arg;
    int got = 0;

    for (int b = MOCK_A; b <= MOCK_B; b++) {
        for (int q = 0; q < 2; q++) {
            long long off = mock_offset(mk, b, "G", "T", q);
            got += off >= 0 ? (int)off : 0;
        }
    }
    return got == want;
}

START_TEST(test_mock_push_clustering_consumes_everything_once)
{
    seen               s;
    seen_goal          g;
    rmq_push_consumer *c;
    int                want = 20;

    seen_init(&s);
    mk_send_n(20, NULL, NULL);
    c = mk_consumer("G", RMQ_MODEL_CLUSTERING, &s, "*");
    g = (seen_goal){.s = {&s, NULL}, .n = 20};
    ck_assert_msg(mk_wait(seen_reached, &g, WAIT_MS), "consumed %d of 20",
                  seen_count(&s));
    ck_assert(mk_wait(all_queues_committed, &want, WAIT_MS));
    ck_assert_int_eq(rmq_push_consumer_shutdown(c, NULL), 0);
    ck_assert_int_eq(s.dups, 0);
    ck_assert(!s.wrong_topic);
    ck_assert_int_ge(mock_count(mk, MOCK_A, 34), 1);
    ck_assert_int_ge(mock_count(mk, MOCK_A, 38), 1);
    ck_assert_int_ge(mock_count(mk, MOCK_A, 35), 1);
    rmq_push_consumer_destroy(c);
}
END_TEST

static bool
two_consumers_share(void *arg)
{
    (void)arg;
    return mock_group_size(mk, MOCK_A, "G") == 2 &&
           mock_pullers(mk, MOCK_A, "T") == 2;
}

START_TEST(test_mock_push_clustering_splits_queues_between_instances)
{
    seen               s1, s2;
    seen_goal          g;
    rmq_push_consumer *c1, *c2;

    seen_init(&s1);
    seen_init(&s2);
    /* four queues on one broker: two for each instance */
    mock_topic(mk, "T", 4, 0);
    c1 = mk_consumer("G", RMQ_MODEL_CLUSTERING, &s1, "*");
    c2 = mk_consumer("G", RMQ_MODEL_CLUSTERING, &s2, "*");
    /* the broker's NOTIFY makes the first instance give up half */
    ck_assert_msg(mk_wait(two_consumers_share, NULL, WAIT_MS),
                  "queues were not split (pullers %d)",
                  mock_pullers(mk, MOCK_A, "T"));
    mk_send_n(40, NULL, NULL);
    g = (seen_goal){.s = {&s1, &s2}, .n = 40};
    ck_assert_msg(mk_wait(seen_reached, &g, WAIT_MS), "consumed %d + %d of 40",
                  seen_count(&s1), seen_count(&s2));
    ck_assert_int_gt(seen_count(&s1), 0);
    ck_assert_int_gt(seen_count(&s2), 0);
    for (int i = 0; i < s1.n; i++) {
        for (int k = 0; k < s2.n; k++) {
            ck_assert_str_ne(s1.ids[i], s2.ids[k]);
        }
    }
    ck_assert_int_eq(s1.dups + s2.dups, 0);
    rmq_push_consumer_destroy(c1);
    rmq_push_consumer_destroy(c2);
}
END_TEST

START_TEST(test_mock_push_broadcasting_gives_everything_to_each)
{
    seen               s1, s2;
    seen_goal          g1, g2;
    rmq_push_consumer *c1, *c2;

    seen_init(&s1);
    seen_init(&s2);
    mk_send_n(10, NULL, NULL);
    c1 = mk_consumer("BG", RMQ_MODEL_BROADCASTING, &s1, "*");
    c2 = mk_consumer("BG", RMQ_MODEL_BROADCASTING, &s2, "*");
    g1 = (seen_goal){.s = {&s1, NULL}, .n = 10};
    g2 = (seen_goal){.s = {&s2, NULL}, .n = 10};
    ck_assert(mk_wait(seen_reached, &g1, WAIT_MS));
    ck_assert(mk_wait(seen_reached, &g2, WAIT_MS));
    ck_assert_int_eq(s1.dups + s2.dups, 0);
    rmq_push_consumer_destroy(c1);
    rmq_push_consumer_destroy(c2);
    /* broadcasting offsets stay in the client */
    ck_assert_int_eq(mock_offset(mk, MOCK_A, "BG", "T", 0), -1);
}
END_TEST

static bool
retried_all(void *arg)
{
    seen *s = arg;
    bool  done;

    pthread_mutex_lock(&s->mu);
    done = s->retried_ok >= 5;
    pthread_mutex_unlock(&s->mu);
    return done;
}

START_TEST(test_mock_push_reconsume_later_comes_back_through_send_back)
{
    seen               s;
    rmq_push_consumer *c;

    seen_init(&s);
    s.fail_first = true;
    mk_send_n(5, NULL, NULL);
    c = mk_consumer("G", RMQ_MODEL_CLUSTERING, &s, "*");
    ck_assert_msg(mk_wait(retried_all, &s, WAIT_MS), "%d redelivered",
                  s.retried_ok);
    ck_assert_int_eq(s.later, 5);
    ck_assert_int_eq(mock_count(mk, MOCK_A, 36) + mock_count(mk, MOCK_B, 36),
                     5);
    ck_assert(!s.wrong_topic); /* %RETRY%G shown as the original topic */
    ck_assert_int_eq(s.dups, 0);
    rmq_push_consumer_destroy(c);
}
END_TEST

START_TEST(test_mock_push_failed_send_back_goes_to_the_retry_topic)
{
    seen               s;
    rmq_push_consumer *c;
    char               v[600];

    seen_init(&s);
    s.fail_first = true;
    mock_fail_sendback(mk, true);
    mk_send_n(5, NULL, NULL);
    c = mk_consumer("G", RMQ_MODEL_CLUSTERING, &s, "*");
    ck_assert_msg(mk_wait(retried_all, &s, WAIT_MS), "%d redelivered",
                  s.retried_ok);
    ck_assert(mock_last_ext(mk, 310, "b", v, sizeof(v)));
    ck_assert_str_eq(v, "%RETRY%G");
    ck_assert(mock_last_ext(mk, 310, "a", v, sizeof(v)));
    ck_assert_str_eq(v, "CLIENT_INNER_PRODUCER");
    ck_assert(mock_last_ext(mk, 310, "j", v, sizeof(v)));
    ck_assert_str_eq(v, "1");
    ck_assert(mock_last_ext(mk, 310, "l", v, sizeof(v)));
    ck_assert_str_eq(v, "16");
    ck_assert(mock_last_ext(mk, 310, "i", v, sizeof(v)));
    ck_assert_ptr_nonnull(strstr(v, "RETRY_TOPIC\x01T"));
    ck_assert_ptr_nonnull(strstr(v, "DELAY\x01"
                                    "3"));
    ck_assert_ptr_nonnull(strstr(v, "ORIGIN_MESSAGE_ID\x01"));
    ck_assert_ptr_nonnull(strstr(v, "RECONSUME_TIME\x01"
                                    "1"));
    ck_assert_ptr_nonnull(strstr(v, "MAX_RECONSUME_TIMES\x01"
                                    "16"));
    ck_assert(!s.wrong_topic);
    rmq_push_consumer_destroy(c);
}
END_TEST

START_TEST(test_mock_push_topic_created_after_start_is_consumed)
{
    seen               s;
    seen_goal          g;
    rmq_push_consumer *c;

    seen_init(&s);
    /* no route at start: the first heartbeat reaches nobody; the broker
     * must hear from us once the route appears, long before the next
     * periodic heartbeat */
    mock_retry_routes(mk, false);
    mock_topic(mk, "T", 0, 0);
    mk_rebalance_ms = 300;
    mk_heartbeat_ms = 60000;
    c = mk_consumer("G", RMQ_MODEL_CLUSTERING, &s, "*");
    /* T and %RETRY%G were looked up at start, and found nowhere */
    ck_assert(mock_wait_count(MOCK_NS, 105, 2));
    mock_topic(mk, "T", 2, 0);
    mk_send_n(6, NULL, NULL);
    g = (seen_goal){.s = {&s, NULL}, .n = 6};
    ck_assert_msg(mk_wait(seen_reached, &g, WAIT_MS), "consumed %d of 6",
                  seen_count(&s));
    ck_assert_int_ge(mock_count(mk, MOCK_A, 34), 1);
    rmq_push_consumer_destroy(c);
}
END_TEST

START_TEST(test_mock_push_tag_expression_filters)
{
    seen               s;
    seen_goal          g;
    rmq_push_consumer *c;

    seen_init(&s);
    s.only_tag = "A";
    mk_send_n(20, "A", "B");
    c = mk_consumer("G", RMQ_MODEL_CLUSTERING, &s, "A");
    g = (seen_goal){.s = {&s, NULL}, .n = 10};
    ck_assert(mk_wait(seen_reached, &g, WAIT_MS));
    rmq_push_consumer_destroy(c);
    ck_assert(!s.wrong_tag);
    ck_assert_int_eq(s.n, 10);
}
END_TEST

START_TEST(test_mock_push_consumer_needs_group_callback_and_subscription)
{
    rmq_push_consumer_opts o;
    rmq_push_consumer     *c = NULL;
    rmq_error              err;

    rmq_push_consumer_opts_init(&o);
    o.namesrv_addr = mock_addr(mk, MOCK_NS);
    ck_assert_int_eq(rmq_push_consumer_new(&o, &c, &err),
                     RMQ_CLIENT_ERR_INVALID);
    o.group = "G";
    o.on_message = seen_cb;
    ck_assert_int_eq(rmq_push_consumer_new(&o, &c, &err), 0);
    ck_assert_int_eq(rmq_push_consumer_start(c, &err), RMQ_CLIENT_ERR_INVALID);
    ck_assert_int_eq(rmq_push_consumer_subscribe(c, "T", "||", &err),
                     RMQ_CLIENT_ERR_INVALID);
    rmq_push_consumer_destroy(c);
}
END_TEST

static Suite *
mock_suite(void)
{
    Suite *s = suite_create("client.mock");
    TCase *tc;

    tc = tcase_create("producer");
    tcase_add_checked_fixture(tc, mk_setup, mk_teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_mock_sync_send_fills_header_and_result);
    tcase_add_test(tc, test_mock_sends_go_round_robin_over_all_queues);
    tcase_add_test(tc, test_mock_failed_send_is_retried_on_another_broker);
    tcase_add_test(tc, test_mock_non_retryable_code_fails_at_once);
    tcase_add_test(tc, test_mock_unknown_topic_goes_through_tbw102);
    tcase_add_test(tc, test_mock_no_route_at_all_is_no_route);
    tcase_add_test(tc, test_mock_silent_broker_times_out);
    tcase_add_test(tc, test_mock_dead_name_server_is_a_connect_error);
    tcase_add_test(tc, test_mock_second_name_server_is_tried);
    tcase_add_test(tc, test_mock_async_sends_call_back_on_another_thread);
    tcase_add_test(tc,
                   test_mock_async_sends_in_flight_at_shutdown_are_reported);
    tcase_add_test(tc, test_mock_oneway_sends_arrive);
    tcase_add_test(tc, test_mock_batch_is_one_request_of_many_messages);
    tcase_add_test(tc, test_mock_invalid_messages_are_refused_before_sending);
    tcase_add_test(tc, test_mock_send_after_shutdown_is_closed);
    tcase_add_test(
        tc, test_mock_lost_connection_fails_pending_and_reconnects_lazily);
    tcase_add_test(tc, test_mock_producer_is_shared_by_many_threads);
    suite_add_tcase(s, tc);

    tc = tcase_create("pull");
    tcase_add_checked_fixture(tc, mk_setup, mk_teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_mock_pull_reads_what_was_sent);
    tcase_add_test(tc, test_mock_pull_offsets_query_commit_and_bounds);
    tcase_add_test(tc,
                   test_mock_ordered_sends_keep_each_key_in_one_queue_in_order);
    tcase_add_test(tc, test_mock_big_bodies_are_compressed_and_inflated);
    suite_add_tcase(s, tc);

    tc = tcase_create("push");
    tcase_add_checked_fixture(tc, mk_setup, mk_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_mock_push_clustering_consumes_everything_once);
    tcase_add_test(tc,
                   test_mock_push_clustering_splits_queues_between_instances);
    tcase_add_test(tc, test_mock_push_broadcasting_gives_everything_to_each);
    tcase_add_test(tc,
                   test_mock_push_reconsume_later_comes_back_through_send_back);
    tcase_add_test(tc, test_mock_push_failed_send_back_goes_to_the_retry_topic);
    tcase_add_test(tc, test_mock_push_topic_created_after_start_is_consumed);
    tcase_add_test(tc, test_mock_push_tag_expression_filters);
    tcase_add_test(
        tc, test_mock_push_consumer_needs_group_callback_and_subscription);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr;

    /* the mock writes to sockets clients may have closed */
    signal(SIGPIPE, SIG_IGN);
    sr = srunner_create(mock_suite());
    int failed;

    srunner_run_all(sr, CK_ENV);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
