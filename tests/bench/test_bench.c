/*
 * test_bench.c - Check suite "bench.bench": the real rmq-bench against a
 * real rmq-supervisor (name server + broker on free loopback ports, temp
 * store), about a second per mode with --json.  The output is parsed and
 * checked for consistency, never against timing thresholds: every send
 * is accounted for (sent = ok + errors), percentiles are ordered, a
 * drain consumes exactly the backlog it produced, and the memory table
 * names the supervisor and every actor with the pids rmqctl reports.
 *
 * One broker per TCase, started by an unchecked fixture in Check's
 * parent process (tests/support/rmqtest.h), so a broker that does not
 * come up fails every test at once with the reason.
 */
#include "tests/support/rmqtest.h"

#include <check.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BB_START_MS 20000
#define BB_RUN_MS 60000

static rmqtest_suite_broker bb;

/* Unchecked setup, in Check's parent process. */
static void
bb_start(void)
{
    rmqtest_suite_start(&bb, "bench",
                        "    mappedFileSizeCommitLog = 67108864;\n"
                        "    mappedFileSizeConsumeQueue = 600000;\n"
                        "    autoCreateTopicEnable = true;\n"
                        "    autoCreateSubscriptionGroup = true;\n",
                        NULL, BB_START_MS);
    if (bb.why[0] == '\0' && getenv("RMQ_BUILD_DIR") == NULL) {
        snprintf(bb.why, sizeof(bb.why),
                 "RMQ_BUILD_DIR is not set (run through ctest)");
    }
}

static void
bb_stop(void)
{
    rmqtest_suite_stop(&bb);
}

/*
 * rmq-bench MODE --json --quiet ARGS... (NULL-terminated): the parsed
 * JSON object; fails the test unless it exits with want_code and prints
 * one JSON object.
 */
static json_t *
bb_run(int want_code, const char *mode, ...)
{
    const char *argv[48];
    char *bin = rmqtest_strf("%s/rmq-bench", rmqtest_env("RMQ_BUILD_DIR"));
    rmqtest_out  r;
    json_error_t jerr;
    json_t      *doc;
    va_list      ap;
    int          n = 0;
    const char  *a;

    argv[n++] = bin;
    argv[n++] = mode;
    argv[n++] = "--json";
    argv[n++] = "--quiet";
    va_start(ap, mode);
    while ((a = va_arg(ap, const char *)) != NULL && n < 47) {
        argv[n++] = a;
    }
    va_end(ap);
    argv[n] = NULL;
    rmqtest_run(&r, argv, NULL, BB_RUN_MS);
    ck_assert_msg(r.code == want_code, "rmq-bench %s exited %d (want %d): %s",
                  mode, r.code, want_code, r.err);
    doc = json_loads(r.out, 0, &jerr);
    ck_assert_msg(json_is_object(doc), "rmq-bench %s printed no JSON (%s): %s",
                  mode, jerr.text, r.out);
    rmqtest_out_free(&r);
    free(bin);
    return doc;
}

static long long
bb_int(json_t *obj, const char *path)
{
    char    buf[256];
    char   *save = NULL, *key;
    json_t *v = obj;

    snprintf(buf, sizeof(buf), "%s", path);
    for (key = strtok_r(buf, ".", &save); key != NULL;
         key = strtok_r(NULL, ".", &save)) {
        v = json_object_get(v, key);
        ck_assert_msg(v != NULL, "no \"%s\" in the output (at %s)", path, key);
    }
    ck_assert_msg(json_is_integer(v), "\"%s\" is not an integer", path);
    return (long long)json_integer_value(v);
}

static void
bb_check_latency(json_t *lat, const char *what)
{
    long long n = bb_int(lat, "count"), mn = bb_int(lat, "min");
    long long p50 = bb_int(lat, "p50"), p90 = bb_int(lat, "p90");
    long long p99 = bb_int(lat, "p99"), p999 = bb_int(lat, "p999");
    long long mx = bb_int(lat, "max");

    ck_assert_msg(n > 0, "%s: no latency samples", what);
    ck_assert_msg(mn <= p50 && p50 <= p90 && p90 <= p99 && p99 <= p999 &&
                      p999 <= mx,
                  "%s: percentiles out of order: min %lld p50 %lld p90 %lld "
                  "p99 %lld p999 %lld max %lld",
                  what, mn, p50, p90, p99, p999, mx);
}

/* sent = ok + errors, something was sent, no error, latencies ordered. */
static void
bb_check_produce(json_t *doc, const char *side)
{
    json_t   *p = json_object_get(doc, side);
    long long sent, ok, errors;

    ck_assert_msg(p != NULL, "no \"%s\" object", side);
    sent = bb_int(p, "sent");
    ok = bb_int(p, "ok");
    errors = bb_int(p, "errors");
    ck_assert_msg(sent > 0, "%s: nothing sent", side);
    ck_assert_msg(sent == ok + errors, "%s: sent %lld != ok %lld + errors %lld",
                  side, sent, ok, errors);
    ck_assert_msg(errors == 0, "%s: %lld errors", side, errors);
    ck_assert_msg(json_object_size(json_object_get(p, "errors_by_code")) == 0,
                  "%s: errors by code listed without errors", side);
    bb_check_latency(json_object_get(p, "latency_us"), side);
}

static json_t *
bb_find_proc(json_t *procs, const char *name)
{
    size_t  i;
    json_t *p;

    json_array_foreach(procs, i, p)
    {
        if (strcmp(json_string_value(json_object_get(p, "name")), name) == 0) {
            return p;
        }
    }
    return NULL;
}

/* The supervisor and every actor rmqctl lists, with their pids and RSS. */
static void
bb_check_procs(json_t *doc)
{
    json_t        *procs = json_object_get(doc, "processes");
    json_t        *sup;
    rmqtest_actors as;
    long long      total = 0;

    ck_assert_msg(json_is_array(procs), "no processes array");
    ck_assert_int_eq(rmqtest_actors_query(bb.b.conf, &as), 0);
    sup = bb_find_proc(procs, "supervisor");
    ck_assert_msg(sup != NULL, "no supervisor in the processes");
    ck_assert_int_eq(bb_int(sup, "pid"), bb.b.sup.pid);
    ck_assert_int_eq(json_array_size(procs), (size_t)as.n + 1);
    for (int i = 0; i < as.n; i++) {
        json_t *p = bb_find_proc(procs, as.a[i].name);
        ck_assert_msg(p != NULL, "actor %s missing from the processes",
                      as.a[i].name);
        ck_assert_int_eq(bb_int(p, "pid"), as.a[i].id.pid);
        ck_assert_msg(bb_int(p, "rss_kib") > 0, "no RSS for %s", as.a[i].name);
        total += bb_int(p, "rss_kib");
    }
    total += bb_int(sup, "rss_kib");
    ck_assert_int_eq(bb_int(doc, "rss_total_kib"), total);
}

/* ---- produce ------------------------------------------------------------ */

START_TEST(test_bench_produce_sync_accounts_for_every_send)
{
    char    topic[64];
    json_t *doc;

    rmqtest_suite_need(&bb);
    rmqtest_unique_name(topic, sizeof(topic), "bsync");
    doc = bb_run(0, "produce", "-n", bb.ns, "-c", bb.b.conf, "-t", topic, "-d",
                 "1", "-C", "2", "--sync", "-s", "256", NULL);
    ck_assert(json_is_true(json_object_get(doc, "ok")));
    ck_assert_int_eq(bb_int(doc, "setup.window"), 1);
    ck_assert_int_eq(bb_int(doc, "setup.conns"), 2);
    bb_check_produce(doc, "produce");
    ck_assert_int_eq(bb_int(doc, "produce.bytes"),
                     bb_int(doc, "produce.ok") * 256);
    bb_check_procs(doc);
    json_decref(doc);
}
END_TEST

START_TEST(test_bench_produce_window_accounts_for_every_send)
{
    char    topic[64];
    json_t *doc;

    rmqtest_suite_need(&bb);
    rmqtest_unique_name(topic, sizeof(topic), "bwin");
    doc =
        bb_run(0, "produce", "-n", bb.ns, "--rundir", bb.b.run_dir, "-t", topic,
               "-q", "4", "-d", "1", "-C", "3", "--window", "16", NULL);
    ck_assert_int_eq(bb_int(doc, "setup.window"), 16);
    ck_assert_int_eq(bb_int(doc, "setup.write_queues"), 4);
    bb_check_produce(doc, "produce");
    bb_check_procs(doc);
    json_decref(doc);
}
END_TEST

START_TEST(test_bench_produce_count_stops_at_count)
{
    char    topic[64];
    json_t *doc;

    rmqtest_suite_need(&bb);
    rmqtest_unique_name(topic, sizeof(topic), "bcount");
    doc = bb_run(0, "produce", "--broker", bb.addr, "-t", topic, "--count",
                 "3000", "-C", "2", "-w", "8", NULL);
    ck_assert(json_is_true(
        json_object_get(json_object_get(doc, "setup"), "topic_created")));
    ck_assert_int_eq(bb_int(doc, "produce.ok"), 3000);
    ck_assert_int_eq(bb_int(doc, "produce.sent"), 3000);
    /* no control segment without -c or --rundir: an empty table */
    ck_assert_int_eq(json_array_size(json_object_get(doc, "processes")), 0);
    json_decref(doc);
}
END_TEST

/* ---- consume ------------------------------------------------------------ */

START_TEST(test_bench_consume_drains_exactly_the_backlog_it_made)
{
    char    topic[64];
    json_t *doc;

    rmqtest_suite_need(&bb);
    rmqtest_unique_name(topic, sizeof(topic), "bdrain");
    doc = bb_run(0, "consume", "-n", bb.ns, "-c", bb.b.conf, "-t", topic,
                 "--produce-first", "20000", "-s", "100", NULL);
    bb_check_produce(doc, "backlog");
    ck_assert_int_eq(bb_int(doc, "backlog.ok"), 20000);
    ck_assert_int_eq(bb_int(doc, "consume.messages"), 20000);
    ck_assert(json_is_true(
        json_object_get(json_object_get(doc, "consume"), "drained")));
    ck_assert_int_eq(bb_int(doc, "consume.bytes"), 20000 * 100);
    ck_assert_int_eq(bb_int(doc, "consume.errors"), 0);
    ck_assert_int_eq(bb_int(doc, "consume.seq_errors"), 0);
    ck_assert_msg(bb_int(doc, "consume.pulls") >= 20000 / 32,
                  "fewer pulls than 32 messages each would need");
    bb_check_procs(doc);
    json_decref(doc);
}
END_TEST

START_TEST(test_bench_consume_from_zero_reads_what_produce_wrote)
{
    char      topic[64];
    json_t   *doc;
    long long got = 0;
    int64_t   deadline;

    rmqtest_suite_need(&bb);
    rmqtest_unique_name(topic, sizeof(topic), "bzero");
    doc = bb_run(0, "produce", "-n", bb.ns, "-t", topic, "--count", "1500",
                 "-w", "4", NULL);
    ck_assert_int_eq(bb_int(doc, "produce.ok"), 1500);
    json_decref(doc);
    /*
     * The backlog is what the consume queues hold when consume starts;
     * the dispatcher may still be behind the last send answers on a busy
     * machine, so drain again until it shows everything.
     */
    deadline = rmqtest_now_ms() + rmqtest_scale_ms(10000);
    do {
        doc = bb_run(0, "consume", "-n", bb.ns, "-t", topic, "--batch", "7",
                     "--consume-conns", "3", "--verify", NULL);
        got = bb_int(doc, "consume.messages");
        ck_assert_int_eq(bb_int(doc, "consume.seq_errors"), 0);
        ck_assert_int_eq(bb_int(doc, "consume.errors"), 0);
        json_decref(doc);
    } while (got < 1500 && rmqtest_now_ms() < deadline);
    ck_assert_int_eq(got, 1500);
}
END_TEST

/* ---- e2e ---------------------------------------------------------------- */

START_TEST(test_bench_e2e_consumes_everything_it_produced)
{
    char    topic[64];
    json_t *doc;

    rmqtest_suite_need(&bb);
    rmqtest_unique_name(topic, sizeof(topic), "be2e");
    doc = bb_run(0, "e2e", "-n", bb.ns, "-c", bb.b.conf, "-t", topic, "-d", "1",
                 "-C", "2", "-w", "4", NULL);
    bb_check_produce(doc, "produce");
    ck_assert_int_eq(bb_int(doc, "e2e.messages"), bb_int(doc, "produce.ok"));
    ck_assert_int_eq(bb_int(doc, "e2e.missing"), 0);
    ck_assert_int_eq(bb_int(doc, "e2e.latency_us.count"),
                     bb_int(doc, "produce.ok"));
    ck_assert_int_eq(bb_int(doc, "consume.messages"),
                     bb_int(doc, "produce.ok"));
    bb_check_latency(json_object_get(json_object_get(doc, "e2e"), "latency_us"),
                     "e2e");
    bb_check_procs(doc);
    json_decref(doc);
}
END_TEST

/* ---- rss and usage ------------------------------------------------------ */

START_TEST(test_bench_rss_lists_every_broker_process)
{
    json_t *doc;

    rmqtest_suite_need(&bb);
    doc = bb_run(0, "rss", "--rundir", bb.b.run_dir, NULL);
    ck_assert_str_eq(json_string_value(json_object_get(doc, "flush")),
                     "ASYNC_FLUSH");
    bb_check_procs(doc);
    ck_assert_msg(bb_int(doc, "pss_total_kib") > 0, "no PSS total");
    json_decref(doc);
}
END_TEST

START_TEST(test_bench_bad_usage_exits_2)
{
    const char *argv[4] = {NULL, "produce", "--window", NULL};
    char *bin = rmqtest_strf("%s/rmq-bench", rmqtest_env("RMQ_BUILD_DIR"));
    const char *argv2[5] = {bin, "e2e", "-s", "8", NULL};
    rmqtest_out r;

    argv[0] = bin;
    rmqtest_run(&r, argv, NULL, 10000);
    ck_assert_int_eq(r.code, 2);
    rmqtest_out_free(&r);
    rmqtest_run(&r, argv2, NULL, 10000);
    ck_assert_int_eq(r.code, 2);
    ck_assert_msg(strstr(r.err, "16 bytes") != NULL, "%s", r.err);
    rmqtest_out_free(&r);
    free(bin);
}
END_TEST

static Suite *
bench_suite(void)
{
    Suite *s = suite_create("bench.bench");
    TCase *tc;

    tc = tcase_create("modes");
    tcase_set_tags(tc, "proc");
    tcase_add_unchecked_fixture(tc, bb_start, bb_stop);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_bench_produce_sync_accounts_for_every_send);
    tcase_add_test(tc, test_bench_produce_window_accounts_for_every_send);
    tcase_add_test(tc, test_bench_produce_count_stops_at_count);
    tcase_add_test(tc, test_bench_consume_drains_exactly_the_backlog_it_made);
    tcase_add_test(tc, test_bench_consume_from_zero_reads_what_produce_wrote);
    tcase_add_test(tc, test_bench_e2e_consumes_everything_it_produced);
    tcase_add_test(tc, test_bench_rss_lists_every_broker_process);
    suite_add_tcase(s, tc);

    tc = tcase_create("usage");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_bench_bad_usage_exits_2);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return rmqtest_run_suite(bench_suite());
}
