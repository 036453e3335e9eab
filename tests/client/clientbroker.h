/*
 * clientbroker.h - a real broker for the librmq suites that need one
 * (client.broker, client.orderly, client.rebalance), and the small helpers
 * they share.  Included by exactly one file per test binary: the
 * functions are static (unused ones are fine).
 *
 * One broker per TCase: rmq-supervisor (name server + broker) on free
 * loopback ports with a temp store, started by an unchecked fixture in
 * Check's parent process with tests/support/rmqtest.h (temp dirs under a
 * base dir removed by the fixture, spawned processes that die with the
 * test run).  A broker that never comes up fails every test of the TCase
 * at once with the reason and the log path, without waiting again per
 * test.  Its delay levels are all one second, so retries come back fast.
 */
#ifndef RMQ_TESTS_CLIENT_CLIENTBROKER_H
#define RMQ_TESTS_CLIENT_CLIENTBROKER_H

#include "rmq/client.h"

#include "tests/support/rmqtest.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BRK_START_MS 20000
#define BRK_WAIT_MS 30000
#define BRK_UNUSED __attribute__((unused))

static rmqtest_suite_broker bk;

/* The broker is up once the name server hands out the TBW102 route. */
static bool
brk_ready(void *arg)
{
    rmq_producer_opts o;
    rmq_producer     *p = NULL;
    rmq_queue        *qs = NULL;
    size_t            n = 0;
    bool              ok = false;

    (void)arg;
    if (!rmqtest_broker_running(&bk.b)) {
        return true; /* nothing to wait for */
    }
    rmq_producer_opts_init(&o);
    o.namesrv_addr = bk.ns;
    o.send_timeout_ms = 1000;
    o.log_level = RMQ_CLIENT_LOG_ERROR;
    if (rmq_producer_new(&o, &p, NULL) == 0 &&
        rmq_producer_start(p, NULL) == 0 &&
        rmq_producer_fetch_queues(p, "TBW102", &qs, &n, NULL) == 0) {
        ok = n > 0;
    }
    rmq_queues_free(qs);
    rmq_producer_destroy(p);
    return ok;
}

/* Unchecked setup, in Check's parent process. */
static BRK_UNUSED void
brk_start(void)
{
    rmqtest_suite_start(&bk, "client",
                        "    mappedFileSizeCommitLog = 16777216;\n"
                        "    mappedFileSizeConsumeQueue = 60000;\n"
                        "    autoCreateTopicEnable = true;\n"
                        "    autoCreateSubscriptionGroup = true;\n"
                        "    messageDelayLevel = \"1s 1s 1s 1s 1s 1s 1s 1s 1s "
                        "1s 1s 1s 1s 1s 1s 1s 1s 1s\";\n",
                        brk_ready, BRK_START_MS);
}

static BRK_UNUSED void
brk_stop(void)
{
    rmqtest_suite_stop(&bk);
}

/* Every test starts here: fail at once when there is no broker. */
static BRK_UNUSED void
brk_need(void)
{
    rmqtest_suite_need(&bk);
}

static BRK_UNUSED bool
brk_wait(rmqtest_cond_fn cond, void *arg, int timeout_ms)
{
    return rmqtest_wait_until(cond, arg, timeout_ms);
}

/* A topic name no other test uses. */
static BRK_UNUSED void
brk_topic(char *out, size_t cap, const char *tag)
{
    rmqtest_unique_name(out, cap, tag);
}

static BRK_UNUSED rmq_producer *
brk_producer(void)
{
    rmq_producer_opts o;
    rmq_producer     *p = NULL;
    rmq_error         err;

    rmq_producer_opts_init(&o);
    o.namesrv_addr = bk.ns;
    ck_assert_msg(rmq_producer_new(&o, &p, &err) == 0, "%s", err.message);
    ck_assert_msg(rmq_producer_start(p, &err) == 0, "%s", err.message);
    return p;
}

/* A pull consumer of group (NULL: "client_test_pull"); heartbeat_ms > 0
 * makes it heartbeat. */
static rmq_pull_consumer *
brk_puller_hb(const char *group, int heartbeat_ms)
{
    rmq_pull_consumer_opts o;
    rmq_pull_consumer     *c = NULL;
    rmq_error              err;

    rmq_pull_consumer_opts_init(&o);
    o.namesrv_addr = bk.ns;
    o.group = group != NULL ? group : "client_test_pull";
    o.heartbeat_interval_ms = heartbeat_ms;
    ck_assert_msg(rmq_pull_consumer_new(&o, &c, &err) == 0, "%s", err.message);
    ck_assert_msg(rmq_pull_consumer_start(c, &err) == 0, "%s", err.message);
    return c;
}

static BRK_UNUSED rmq_pull_consumer *
brk_puller(const char *group)
{
    return brk_puller_hb(group, 0);
}

/* Send body (tags and keys may be NULL) and wait for the broker. */
static BRK_UNUSED void
brk_send_tagged(rmq_producer *p, const char *topic, const char *body,
                const char *tags, const char *keys, rmq_send_result *res)
{
    rmq_message    *m = NULL;
    rmq_send_result r;
    rmq_error       err;

    ck_assert_int_eq(rmq_message_new(topic, body, strlen(body), &m, NULL), 0);
    if (tags != NULL) {
        ck_assert_int_eq(rmq_message_set_tags(m, tags, NULL), 0);
    }
    if (keys != NULL) {
        ck_assert_int_eq(rmq_message_set_keys(m, keys, NULL), 0);
    }
    ck_assert_msg(rmq_producer_send(p, m, res ? res : &r, &err) == 0,
                  "send to %s: %s", topic, err.message);
    rmq_message_free(m);
}

static BRK_UNUSED void
brk_send(rmq_producer *p, const char *topic, const char *body, const char *keys,
         rmq_send_result *res)
{
    brk_send_tagged(p, topic, body, NULL, keys, res);
}

/* Wait until the name server routes topic (the broker registers a topic
 * it just created shortly after the first send), so consumers started
 * next find it on their first look.  A pull consumer asks: a producer
 * would make up a route from TBW102. */
static bool
brk_routed(void *arg)
{
    void     **a = arg;
    rmq_queue *qs = NULL;
    size_t     n = 0;
    bool       ok;

    ok =
        rmq_pull_consumer_fetch_queues(a[0], a[1], &qs, &n, NULL) == 0 && n > 0;
    rmq_queues_free(qs);
    return ok;
}

static BRK_UNUSED void
brk_wait_routed(const char *topic)
{
    rmq_pull_consumer *c = brk_puller(NULL);
    void              *a[2] = {c, (void *)topic};

    ck_assert_msg(brk_wait(brk_routed, a, BRK_WAIT_MS), "no route for topic %s",
                  topic);
    rmq_pull_consumer_destroy(c);
}

#endif
