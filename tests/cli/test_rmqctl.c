/*
 * test_rmqctl.c - Check suite "cli.rmqctl": rmqctl's data and admin
 * commands end to end against a real rmq-supervisor (name server +
 * broker on free loopback ports, temp store), run as a program through
 * RMQCTL_BIN exactly as an operator would: topic create/route/list/
 * status/delete, send (arguments and stdin), consume, msg get, group
 * create/list, consumer progress, cluster list, broker status.  Every
 * --json output is parsed back with jansson and checked field by field;
 * failures must exit non-zero with exactly one "rmqctl: ..." line on
 * stderr.
 *
 * One broker per TCase, started by an unchecked fixture in Check's parent
 * process (tests/support/rmqtest.h: processes die with the run, temp dirs
 * go with the base dir), so a broker that never comes up fails every test
 * of the TCase at once with the reason and the log path.  Tests use their
 * own topic and group names, so they share the broker safely.
 * NAMESRV_ADDR is unset for every rmqctl run unless a test sets it.
 */
#include "tests/support/rmqtest.h"

#include <check.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CLI_START_MS 20000
#define CLI_ARGS_MAX 40

/* ---- the broker under test --------------------------------------------- */

static rmqtest_suite_broker bk;

static const char *const cli_env[] = {"NAMESRV_ADDR", NULL};

/* Run rmqctl -c conf args... (NULL-terminated array) with env. */
static void
cli_runv(rmqtest_out *r, const char *const *env, const char *const *args)
{
    const char *argv[CLI_ARGS_MAX];
    int         n = 0;

    argv[n++] = rmqtest_env("RMQCTL_BIN");
    argv[n++] = "-c";
    argv[n++] = bk.b.conf;
    for (int i = 0; args[i] != NULL; i++) {
        ck_assert_msg(n < CLI_ARGS_MAX - 1, "too many rmqctl arguments");
        argv[n++] = args[i];
    }
    argv[n] = NULL;
    rmqtest_run(r, argv, env ? env : cli_env, 30000);
}

static void
cli_collect(const char **args, const char *first, va_list ap)
{
    int         n = 0;
    const char *a;

    args[n++] = first;
    while ((a = va_arg(ap, const char *)) != NULL) {
        ck_assert_msg(n < CLI_ARGS_MAX - 5, "too many rmqctl arguments");
        args[n++] = a;
    }
    args[n] = NULL;
}

/* rmqctl -c conf ARGS... */
static void cli_run(rmqtest_out *r, const char *first, ...)
    __attribute__((sentinel));

static void
cli_run(rmqtest_out *r, const char *first, ...)
{
    const char *args[CLI_ARGS_MAX];
    va_list     ap;

    va_start(ap, first);
    cli_collect(args, first, ap);
    va_end(ap);
    cli_runv(r, NULL, args);
}

/* rmqctl -c conf --json ARGS...: must exit 0 and print one JSON document. */
static json_t *cli_json(const char *first, ...) __attribute__((sentinel));

static json_t *
cli_json(const char *first, ...)
{
    const char  *args[CLI_ARGS_MAX];
    rmqtest_out  r;
    json_error_t jerr;
    json_t      *v;
    va_list      ap;

    args[0] = "--json";
    va_start(ap, first);
    cli_collect(args + 1, first, ap);
    va_end(ap);
    cli_runv(&r, NULL, args);
    ck_assert_msg(r.code == 0, "rmqctl --json %s ... exited %d: %s", first,
                  r.code, r.err);
    v = json_loads(r.out, 0, &jerr);
    ck_assert_msg(v != NULL,
                  "rmqctl --json %s printed no JSON document (%s):"
                  " %s",
                  first, jerr.text, r.out);
    rmqtest_out_free(&r);
    return v;
}

/* A failure: non-zero exit and one stderr line that says needle. */
static void
cli_check_failed(const rmqtest_out *r, const char *what, const char *needle)
{
    const char *nl = strchr(r->err, '\n');

    ck_assert_msg(r->code > 0, "%s: exit %d, expected a failure; stdout: %s",
                  what, r->code, r->out);
    ck_assert_msg(
        strncmp(r->err, "rmqctl: ", 8) == 0 && nl != NULL && nl[1] == '\0',
        "%s: stderr is not one \"rmqctl: ...\" line: \"%s\"", what, r->err);
    ck_assert_msg(strstr(r->err, needle) != NULL,
                  "%s: stderr \"%s\" does not say \"%s\"", what, r->err,
                  needle);
}

/* ---- JSON field checks -------------------------------------------------- */

static const char *
jstr(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);

    ck_assert_msg(json_is_string(v), "field \"%s\" is not a string", key);
    return json_string_value(v);
}

static long long
jint(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);

    ck_assert_msg(json_is_integer(v), "field \"%s\" is not an integer", key);
    return (long long)json_integer_value(v);
}

static bool
jbool(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);

    ck_assert_msg(json_is_boolean(v), "field \"%s\" is not a boolean", key);
    return json_is_true(v);
}

static void
jnull(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);

    ck_assert_msg(json_is_null(v), "field \"%s\" is not null", key);
}

static bool
cli_is_hex(const char *s, size_t len)
{
    return strlen(s) == len && strspn(s, "0123456789ABCDEF") == len;
}

/* ---- fixture ------------------------------------------------------------ */

static bool
cli_ready(void *arg)
{
    rmqtest_out r;
    bool        ok;

    (void)arg;
    if (!rmqtest_broker_running(&bk.b)) {
        return true; /* nothing to wait for */
    }
    cli_run(&r, "topic", "route", "-t", "TBW102", NULL);
    ok = r.code == 0;
    rmqtest_out_free(&r);
    return ok;
}

/* Unchecked setup, in Check's parent process. */
static void
cli_start(void)
{
    if (getenv("RMQCTL_BIN") == NULL) {
        memset(&bk, 0, sizeof(bk));
        rmqtest_base_setup();
        snprintf(bk.why, sizeof(bk.why),
                 "RMQCTL_BIN is not set (run through ctest)");
        return;
    }
    rmqtest_suite_start(&bk, "cli",
                        "    mappedFileSizeCommitLog = 16777216;\n"
                        "    mappedFileSizeConsumeQueue = 60000;\n",
                        cli_ready, CLI_START_MS);
}

static void
cli_stop(void)
{
    rmqtest_suite_stop(&bk);
}

/* topic create -t topic -r q -w q, checked. */
static void
cli_topic(const char *topic, const char *queues)
{
    json_t *v = cli_json("topic", "create", "-t", topic, "-r", queues, "-w",
                         queues, NULL);

    ck_assert_str_eq(jstr(v, "topic"), topic);
    ck_assert_int_eq(jint(v, "readQueueNums"), atoi(queues));
    json_decref(v);
}

/* send with a tag, keys and a property; the parsed --json result. */
static json_t *
cli_send(const char *topic, const char *tag, const char *keys, const char *prop,
         const char *body)
{
    json_t *v = cli_json("send", "-t", topic, "--tag", tag, "-k", keys, "-p",
                         prop, body, NULL);

    ck_assert_str_eq(jstr(v, "status"), "SEND_OK");
    ck_assert_str_eq(jstr(v, "topic"), topic);
    ck_assert_str_eq(jstr(v, "brokerName"), "broker-a");
    ck_assert_msg(cli_is_hex(jstr(v, "offsetMsgId"), 32), "offsetMsgId %s",
                  jstr(v, "offsetMsgId"));
    ck_assert_msg(cli_is_hex(jstr(v, "msgId"), 32), "msgId %s",
                  jstr(v, "msgId"));
    ck_assert_int_ge(jint(v, "queueId"), 0);
    ck_assert_int_ge(jint(v, "queueOffset"), 0);
    return v;
}

/* consume --json ARGS...: exit 0 and the array of its JSON lines. */
static json_t *cli_consume(const char *first, ...) __attribute__((sentinel));

static json_t *
cli_consume(const char *first, ...)
{
    const char *args[CLI_ARGS_MAX];
    rmqtest_out r;
    json_t     *arr = json_array();
    char       *save = NULL;
    va_list     ap;

    args[0] = "--json";
    args[1] = "consume";
    va_start(ap, first);
    cli_collect(args + 2, first, ap);
    va_end(ap);
    cli_runv(&r, NULL, args);
    ck_assert_msg(r.code == 0, "rmqctl consume exited %d: %s", r.code, r.err);
    for (char *line = strtok_r(r.out, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        json_error_t jerr;
        json_t      *m = json_loads(line, 0, &jerr);
        ck_assert_msg(json_is_object(m),
                      "consume line is not a JSON object "
                      "(%s): %s",
                      jerr.text, line);
        json_array_append_new(arr, m);
    }
    rmqtest_out_free(&r);
    return arr;
}

/* ---- topics ------------------------------------------------------------- */

START_TEST(test_rmqctl_topic_create_then_route_shows_it)
{
    json_t     *v, *qd, *bd, *b;
    rmqtest_out r;

    rmqtest_suite_need(&bk);
    v = cli_json("topic", "create", "-t", "T_route", "-r", "4", "-w", "3", "-p",
                 "6", NULL);
    ck_assert_str_eq(jstr(v, "topic"), "T_route");
    ck_assert_int_eq(jint(v, "readQueueNums"), 4);
    ck_assert_int_eq(jint(v, "writeQueueNums"), 3);
    ck_assert_int_eq(jint(v, "perm"), 6);
    ck_assert(!jbool(v, "order"));
    ck_assert_int_eq(json_array_size(json_object_get(v, "brokers")), 1);
    b = json_array_get(json_object_get(v, "brokers"), 0);
    ck_assert_str_eq(jstr(b, "brokerName"), "broker-a");
    ck_assert_str_eq(jstr(b, "addr"), bk.addr);
    json_decref(v);

    /* routed at once: create waits for the name server */
    v = cli_json("topic", "route", "-t", "T_route", NULL);
    ck_assert_str_eq(jstr(v, "topic"), "T_route");
    ck_assert_int_eq(json_array_size(json_object_get(v, "queueDatas")), 1);
    qd = json_array_get(json_object_get(v, "queueDatas"), 0);
    ck_assert_str_eq(jstr(qd, "brokerName"), "broker-a");
    ck_assert_int_eq(jint(qd, "readQueueNums"), 4);
    ck_assert_int_eq(jint(qd, "writeQueueNums"), 3);
    ck_assert_int_eq(jint(qd, "perm"), 6);
    bd = json_array_get(json_object_get(v, "brokerDatas"), 0);
    ck_assert_str_eq(jstr(bd, "brokerName"), "broker-a");
    ck_assert_str_eq(jstr(bd, "cluster"), "DefaultCluster");
    ck_assert_str_eq(jstr(json_object_get(bd, "brokerAddrs"), "0"), bk.addr);
    json_decref(v);

    cli_run(&r, "topic", "route", "-t", "T_route", NULL);
    ck_assert_int_eq(r.code, 0);
    ck_assert_msg(strstr(r.out, "READ QUEUES") != NULL &&
                      strstr(r.out, bk.addr) != NULL &&
                      strstr(r.out, "6 RW-") != NULL,
                  "route table: %s", r.out);
    rmqtest_out_free(&r);
}
END_TEST

START_TEST(test_rmqctl_topic_update_keeps_what_is_not_given)
{
    json_t *v;

    rmqtest_suite_need(&bk);
    cli_topic("%DLQ%G_perm", "1");
    v = cli_json("topic", "create", "-t", "%DLQ%G_perm", "-p", "2", NULL);
    ck_assert_int_eq(jint(v, "perm"), 2);
    ck_assert_int_eq(jint(v, "readQueueNums"), 1);
    ck_assert_int_eq(jint(v, "writeQueueNums"), 1);
    json_decref(v);
    v = cli_json("topic", "route", "-t", "%DLQ%G_perm", NULL);
    ck_assert_int_eq(
        jint(json_array_get(json_object_get(v, "queueDatas"), 0), "perm"), 2);
    json_decref(v);
}
END_TEST

START_TEST(test_rmqctl_topic_list_is_sorted_and_has_the_topic)
{
    json_t     *v, *list;
    const char *prev = "";
    bool        found = false;
    size_t      i;
    json_t     *t;

    rmqtest_suite_need(&bk);
    cli_topic("T_list", "2");
    v = cli_json("topic", "list", NULL);
    list = json_object_get(v, "topics");
    ck_assert(json_is_array(list));
    json_array_foreach(list, i, t)
    {
        ck_assert(json_is_string(t));
        ck_assert_msg(strcmp(prev, json_string_value(t)) < 0,
                      "%s listed after %s", json_string_value(t), prev);
        prev = json_string_value(t);
        found = found || strcmp(prev, "T_list") == 0;
    }
    ck_assert_msg(found, "T_list not in the topic list");
    json_decref(v);
    v = cli_json("topic", "list", "-c", "DefaultCluster", NULL);
    ck_assert_int_gt(json_array_size(json_object_get(v, "topics")), 0);
    json_decref(v);
}
END_TEST

START_TEST(test_rmqctl_topic_status_counts_sent_messages)
{
    json_t *v, *q;

    rmqtest_suite_need(&bk);
    cli_topic("T_status", "1");
    for (int i = 0; i < 3; i++) {
        json_decref(cli_send("T_status", "A", "k", "p=1", "x"));
    }
    v = cli_json("topic", "status", "-t", "T_status", NULL);
    ck_assert_str_eq(jstr(v, "topic"), "T_status");
    ck_assert_int_eq(jint(v, "messages"), 3);
    ck_assert_int_eq(json_array_size(json_object_get(v, "queues")), 1);
    q = json_array_get(json_object_get(v, "queues"), 0);
    ck_assert_str_eq(jstr(q, "brokerName"), "broker-a");
    ck_assert_int_eq(jint(q, "queueId"), 0);
    ck_assert_int_eq(jint(q, "minOffset"), 0);
    ck_assert_int_eq(jint(q, "maxOffset"), 3);
    ck_assert_int_gt(jint(q, "lastUpdateTimestamp"), 0);
    json_decref(v);
}
END_TEST

START_TEST(test_rmqctl_topic_delete_removes_the_route)
{
    json_t     *v;
    rmqtest_out r;

    rmqtest_suite_need(&bk);
    cli_topic("T_delete", "2");
    v = cli_json("topic", "delete", "-t", "T_delete", NULL);
    ck_assert_str_eq(jstr(v, "topic"), "T_delete");
    ck_assert_str_eq(
        jstr(json_array_get(json_object_get(v, "brokers"), 0), "addr"),
        bk.addr);
    ck_assert_str_eq(
        json_string_value(json_array_get(json_object_get(v, "namesrvs"), 0)),
        bk.ns);
    json_decref(v);
    cli_run(&r, "topic", "route", "-t", "T_delete", NULL);
    cli_check_failed(&r, "route of a deleted topic", "does not exist");
    rmqtest_out_free(&r);
}
END_TEST

/* ---- data --------------------------------------------------------------- */

/* One consumed message against what was sent. */
static void
cli_check_msg(json_t *m, const char *topic, json_t *sent, const char *tag,
              const char *keys, const char *prop_val, const char *body)
{
    json_t *props = json_object_get(m, "properties");

    ck_assert_str_eq(jstr(m, "topic"), topic);
    ck_assert_str_eq(jstr(m, "offsetMsgId"), jstr(sent, "offsetMsgId"));
    ck_assert_str_eq(jstr(m, "msgId"), jstr(sent, "msgId"));
    ck_assert_int_eq(jint(m, "queueId"), jint(sent, "queueId"));
    ck_assert_int_eq(jint(m, "queueOffset"), jint(sent, "queueOffset"));
    ck_assert_str_eq(jstr(m, "tags"), tag);
    ck_assert_str_eq(jstr(m, "keys"), keys);
    ck_assert_str_eq(jstr(props, "color"), prop_val);
    ck_assert_str_eq(jstr(props, "UNIQ_KEY"), jstr(sent, "msgId"));
    ck_assert_int_eq(jint(m, "reconsumeTimes"), 0);
    ck_assert_str_eq(jstr(m, "storeHost"), bk.addr);
    ck_assert_int_gt(jint(m, "storeTimestamp"), 0);
    ck_assert_int_ge(jint(m, "commitLogOffset"), 0);
    ck_assert_str_eq(jstr(m, "bodyEncoding"), "text");
    ck_assert_str_eq(jstr(m, "body"), body);
    ck_assert_int_eq(jint(m, "bodyLength"), (long long)strlen(body));
}

START_TEST(test_rmqctl_send_then_consume_reads_them_back)
{
    static const char *const bodies[] = {"first body", "second: ünïcode",
                                         "third"};
    json_t                  *sent[3], *got, *m;
    size_t                   i;

    rmqtest_suite_need(&bk);
    cli_topic("T_data", "2");
    for (i = 0; i < 3; i++) {
        char tag[16], keys[32], prop[32];
        snprintf(tag, sizeof(tag), "Tag%zu", i);
        snprintf(keys, sizeof(keys), "k%zu kk%zu", i, i);
        snprintf(prop, sizeof(prop), "color=c%zu", i);
        sent[i] = cli_send("T_data", tag, keys, prop, bodies[i]);
    }
    got = cli_consume("-t", "T_data", "--from-beginning", "-n", "3", NULL);
    ck_assert_int_eq(json_array_size(got), 3);
    json_array_foreach(got, i, m)
    {
        size_t j;
        char   tag[16], keys[32], val[16];
        for (j = 0; j < 3; j++) {
            if (strcmp(jstr(m, "offsetMsgId"), jstr(sent[j], "offsetMsgId")) ==
                0) {
                break;
            }
        }
        ck_assert_msg(j < 3, "consumed a message that was not sent: %s",
                      jstr(m, "offsetMsgId"));
        snprintf(tag, sizeof(tag), "Tag%zu", j);
        snprintf(keys, sizeof(keys), "k%zu kk%zu", j, j);
        snprintf(val, sizeof(val), "c%zu", j);
        cli_check_msg(m, "T_data", sent[j], tag, keys, val, bodies[j]);
        ck_assert_str_eq(jstr(m, "brokerName"), "broker-a");
    }
    json_decref(got);

    /* a tag filter keeps only that tag */
    got = cli_consume("-t", "T_data", "--from-beginning", "--tag", "Tag1",
                      "--timeout", "1", NULL);
    ck_assert_int_eq(json_array_size(got), 1);
    ck_assert_str_eq(jstr(json_array_get(got, 0), "body"), bodies[1]);
    json_decref(got);
    for (i = 0; i < 3; i++) {
        json_decref(sent[i]);
    }
}
END_TEST

START_TEST(test_rmqctl_send_reads_a_binary_body_from_stdin)
{
    rmqtest_out r;
    json_t     *sent, *got, *m;
    char       *cmd;
    const char *argv[] = {"/bin/sh", "-c", NULL, NULL};

    rmqtest_suite_need(&bk);
    cli_topic("T_stdin", "1");
    cmd = rmqtest_strf("printf 'a\\000b\\377' | %s -c %s --json send -t "
                       "T_stdin -",
                       rmqtest_env("RMQCTL_BIN"), bk.b.conf);
    argv[2] = cmd;
    rmqtest_run(&r, argv, cli_env, 30000);
    free(cmd);
    ck_assert_msg(r.code == 0, "send - exited %d: %s", r.code, r.err);
    sent = json_loads(r.out, 0, NULL);
    ck_assert(sent != NULL);
    rmqtest_out_free(&r);
    got = cli_consume("-t", "T_stdin", "--from-beginning", "-n", "1", NULL);
    ck_assert_int_eq(json_array_size(got), 1);
    m = json_array_get(got, 0);
    ck_assert_str_eq(jstr(m, "offsetMsgId"), jstr(sent, "offsetMsgId"));
    ck_assert_str_eq(jstr(m, "bodyEncoding"), "hex");
    ck_assert_str_eq(jstr(m, "body"), "610062FF");
    ck_assert_int_eq(jint(m, "bodyLength"), 4);
    jnull(m, "tags");
    jnull(m, "keys");
    json_decref(got);
    json_decref(sent);
}
END_TEST

START_TEST(test_rmqctl_msg_get_prints_a_sent_message)
{
    json_t     *sent, *m;
    rmqtest_out r;

    rmqtest_suite_need(&bk);
    cli_topic("T_get", "2");
    sent = cli_send("T_get", "TagG", "kg1 kg2", "color=green", "get me");
    m = cli_json("msg", "get", jstr(sent, "offsetMsgId"), NULL);
    cli_check_msg(m, "T_get", sent, "TagG", "kg1 kg2", "green", "get me");
    jnull(m, "brokerName");
    json_decref(m);

    cli_run(&r, "msg", "get", jstr(sent, "offsetMsgId"), NULL);
    ck_assert_int_eq(r.code, 0);
    ck_assert_msg(strstr(r.out, "get me") != NULL &&
                      strstr(r.out, "TagG") != NULL &&
                      strstr(r.out, "color=green") != NULL,
                  "msg get: %s", r.out);
    rmqtest_out_free(&r);
    json_decref(sent);
}
END_TEST

START_TEST(test_rmqctl_msg_get_inflates_a_compressed_body)
{
    char    body[6001];
    json_t *sent, *m;

    rmqtest_suite_need(&bk);
    /* over librmq's 4096-byte compress threshold: stored zlib-compressed */
    for (size_t i = 0; i < sizeof(body) - 1; i++) {
        body[i] = (char)('a' + i % 26);
    }
    body[sizeof(body) - 1] = '\0';
    cli_topic("T_zip", "1");
    sent = cli_send("T_zip", "TagZ", "kz", "color=zip", body);
    m = cli_json("msg", "get", jstr(sent, "offsetMsgId"), NULL);
    ck_assert_msg(jint(m, "sysFlag") & 1, "the body was not stored compressed");
    cli_check_msg(m, "T_zip", sent, "TagZ", "kz", "zip", body);
    json_decref(m);
    json_decref(sent);
}
END_TEST

/* ---- groups and consumers ----------------------------------------------- */

START_TEST(test_rmqctl_group_create_then_list_shows_it)
{
    json_t *v, *g = NULL, *row;
    size_t  i;

    rmqtest_suite_need(&bk);
    v = cli_json("group", "create", "-g", "G_list", "--retry-max", "5",
                 "--retry-queues", "2", "--broadcast", "false", NULL);
    ck_assert_str_eq(jstr(v, "group"), "G_list");
    ck_assert_int_eq(jint(v, "retryMaxTimes"), 5);
    ck_assert_int_eq(jint(v, "retryQueueNums"), 2);
    ck_assert(!jbool(v, "consumeBroadcastEnable"));
    ck_assert(jbool(v, "consumeEnable"));
    ck_assert_str_eq(
        jstr(json_array_get(json_object_get(v, "brokers"), 0), "addr"),
        bk.addr);
    json_decref(v);

    v = cli_json("group", "list", NULL);
    json_array_foreach(json_object_get(v, "groups"), i, row)
    {
        if (strcmp(jstr(row, "groupName"), "G_list") == 0) {
            g = row;
        }
    }
    ck_assert_msg(g != NULL, "G_list not in the group list");
    ck_assert_str_eq(jstr(g, "brokerName"), "broker-a");
    ck_assert_str_eq(jstr(g, "brokerAddr"), bk.addr);
    ck_assert_int_eq(jint(g, "retryMaxTimes"), 5);
    ck_assert_int_eq(jint(g, "retryQueueNums"), 2);
    ck_assert(!jbool(g, "consumeBroadcastEnable"));
    ck_assert(jbool(g, "consumeEnable"));
    json_decref(v);
}
END_TEST

/* consumer progress -g group --json: the row of queue 0 of topic. */
static json_t *
cli_progress_row(const char *group, const char *topic, json_t **doc)
{
    json_t *row;
    size_t  i;

    *doc = cli_json("consumer", "progress", "-g", group, NULL);
    ck_assert_str_eq(jstr(*doc, "group"), group);
    ck_assert(!jbool(*doc, "online"));
    ck_assert_int_eq(jint(*doc, "clients"), 0);
    json_array_foreach(json_object_get(*doc, "queues"), i, row)
    {
        if (strcmp(jstr(row, "topic"), topic) == 0 &&
            jint(row, "queueId") == 0) {
            ck_assert_str_eq(jstr(row, "brokerName"), "broker-a");
            return row;
        }
    }
    ck_abort_msg("no row for %s queue 0 in consumer progress", topic);
    return NULL;
}

START_TEST(test_rmqctl_consumer_progress_after_consume_with_a_group)
{
    json_t     *doc, *row, *got;
    rmqtest_out r;

    rmqtest_suite_need(&bk);
    cli_topic("T_progress", "1");
    for (int i = 0; i < 2; i++) {
        json_decref(cli_send("T_progress", "A", "k", "color=x", "p"));
    }
    got = cli_consume("-t", "T_progress", "-g", "G_progress", "-n", "2", NULL);
    ck_assert_int_eq(json_array_size(got), 2);
    json_decref(got);

    row = cli_progress_row("G_progress", "T_progress", &doc);
    ck_assert_int_eq(jint(row, "brokerOffset"), 2);
    ck_assert_int_eq(jint(row, "consumerOffset"), 2);
    ck_assert_int_eq(jint(row, "lag"), 0);
    ck_assert_int_gt(jint(row, "lastTimestamp"), 0);
    ck_assert_int_eq(jint(doc, "totalLag"), 0);
    json_decref(doc);

    /* one more message: a lag of 1, and the group reads only that one */
    json_decref(cli_send("T_progress", "A", "k", "color=y", "third"));
    row = cli_progress_row("G_progress", "T_progress", &doc);
    ck_assert_int_eq(jint(row, "lag"), 1);
    ck_assert_int_eq(jint(doc, "totalLag"), 1);
    json_decref(doc);
    got = cli_consume("-t", "T_progress", "-g", "G_progress", "--timeout", "1",
                      NULL);
    ck_assert_int_eq(json_array_size(got), 1);
    ck_assert_str_eq(jstr(json_array_get(got, 0), "body"), "third");
    json_decref(got);

    cli_run(&r, "consumer", "progress", "-g", "G_progress", NULL);
    ck_assert_int_eq(r.code, 0);
    ck_assert_msg(strstr(r.out, "T_progress") != NULL &&
                      strstr(r.out, "total lag 0") != NULL &&
                      strstr(r.out, "not online") != NULL,
                  "progress table: %s", r.out);
    rmqtest_out_free(&r);
}
END_TEST

/* ---- cluster and broker ------------------------------------------------- */

START_TEST(test_rmqctl_cluster_list_shows_the_broker)
{
    json_t *v, *b;

    rmqtest_suite_need(&bk);
    v = cli_json("cluster", "list", NULL);
    ck_assert_int_eq(json_array_size(json_object_get(v, "brokers")), 1);
    b = json_array_get(json_object_get(v, "brokers"), 0);
    ck_assert_str_eq(jstr(b, "cluster"), "DefaultCluster");
    ck_assert_str_eq(jstr(b, "brokerName"), "broker-a");
    ck_assert_int_eq(jint(b, "brokerId"), 0);
    ck_assert_str_eq(jstr(b, "addr"), bk.addr);
    ck_assert(jbool(b, "reachable"));
    ck_assert_str_eq(jstr(b, "version"), "V4_9_8");
    ck_assert(json_is_number(json_object_get(b, "putTps")));
    ck_assert(json_is_number(json_object_get(b, "getTps")));
    ck_assert_int_ge(jint(b, "msgPutTotalTodayNow"), 0);
    ck_assert_int_ge(jint(b, "msgGetTotalTodayNow"), 0);
    json_decref(v);
}
END_TEST

START_TEST(test_rmqctl_broker_status_prints_the_sorted_kv_table)
{
    json_t     *v, *b;
    rmqtest_out r;
    char       *boot, *version;

    rmqtest_suite_need(&bk);
    v = cli_json("broker", "status", "-b", bk.addr, NULL);
    ck_assert_int_eq(json_array_size(json_object_get(v, "brokers")), 1);
    b = json_array_get(json_object_get(v, "brokers"), 0);
    ck_assert_str_eq(jstr(b, "addr"), bk.addr);
    jnull(b, "brokerName");
    ck_assert_str_eq(jstr(json_object_get(b, "table"), "brokerVersionDesc"),
                     "V4_9_8");
    ck_assert(json_is_string(
        json_object_get(json_object_get(b, "table"), "commitLogMaxOffset")));
    json_decref(v);

    v = cli_json("broker", "status", NULL);
    b = json_array_get(json_object_get(v, "brokers"), 0);
    ck_assert_str_eq(jstr(b, "brokerName"), "broker-a");
    ck_assert_int_eq(jint(b, "brokerId"), 0);
    json_decref(v);

    cli_run(&r, "broker", "status", NULL);
    ck_assert_int_eq(r.code, 0);
    boot = strstr(r.out, "\nbootTimestamp ");
    version = strstr(r.out, "\nbrokerVersionDesc ");
    ck_assert_msg(boot != NULL && version != NULL && boot < version,
                  "broker status is not a sorted key/value table: %s", r.out);
    rmqtest_out_free(&r);
}
END_TEST

/* ---- failures ----------------------------------------------------------- */

START_TEST(test_rmqctl_unknown_topic_fails_with_one_line)
{
    rmqtest_out r;

    rmqtest_suite_need(&bk);
    cli_run(&r, "send", "-t", "T_nowhere", "body", NULL);
    cli_check_failed(&r, "send", "T_nowhere\" does not exist");
    rmqtest_out_free(&r);
    cli_run(&r, "--json", "consume", "-t", "T_nowhere", NULL);
    cli_check_failed(&r, "consume", "T_nowhere\" does not exist");
    rmqtest_out_free(&r);
    cli_run(&r, "topic", "route", "-t", "T_nowhere", NULL);
    cli_check_failed(&r, "route", "T_nowhere\" does not exist");
    rmqtest_out_free(&r);
    cli_run(&r, "topic", "status", "-t", "T_nowhere", NULL);
    cli_check_failed(&r, "status", "T_nowhere\" does not exist");
    rmqtest_out_free(&r);
}
END_TEST

START_TEST(test_rmqctl_unreachable_name_server_fails_with_one_line)
{
    char        dead[64];
    rmqtest_out r;
    const char *args[] = {"topic", "list", NULL};
    const char *env_dead[] = {dead, NULL};
    char        both[160];

    rmqtest_suite_need(&bk);
    snprintf(dead, sizeof(dead), "127.0.0.1:%d", rmqtest_free_port());
    cli_run(&r, "-n", dead, "topic", "list", NULL);
    cli_check_failed(&r, "topic list", "no name server answered");
    rmqtest_out_free(&r);
    cli_run(&r, "-n", dead, "--json", "send", "-t", "T_x", "b", NULL);
    cli_check_failed(&r, "send", "no name server answered");
    rmqtest_out_free(&r);

    /* NAMESRV_ADDR beats the config file */
    snprintf(dead, sizeof(dead), "NAMESRV_ADDR=127.0.0.1:%d",
             rmqtest_free_port());
    cli_runv(&r, env_dead, args);
    cli_check_failed(&r, "topic list with NAMESRV_ADDR", "no name server");
    rmqtest_out_free(&r);

    /* a list: the first that answers serves */
    snprintf(both, sizeof(both), "%s;%s", dead + strlen("NAMESRV_ADDR="),
             bk.ns);
    cli_run(&r, "-n", both, "topic", "list", NULL);
    ck_assert_msg(r.code == 0, "-n \"%s\": %s", both, r.err);
    rmqtest_out_free(&r);
}
END_TEST

START_TEST(test_rmqctl_bad_msg_id_fails_with_one_line)
{
    rmqtest_out r;
    json_t     *sent;

    rmqtest_suite_need(&bk);
    cli_run(&r, "msg", "get", "not-an-id", NULL);
    cli_check_failed(&r, "msg get not-an-id", "not a message id");
    rmqtest_out_free(&r);
    /* right shape, no message there */
    cli_run(&r, "msg", "get", "7F00000100000001000000000000FFFF", NULL);
    cli_check_failed(&r, "msg get of a dead address", "127.0.0.1:1");
    rmqtest_out_free(&r);
    /* a UNIQ_KEY is refused with the reason */
    cli_topic("T_badid", "1");
    sent = cli_send("T_badid", "A", "k", "color=x", "b");
    cli_run(&r, "msg", "get", jstr(sent, "msgId"), NULL);
    cli_check_failed(&r, "msg get of a UNIQ_KEY", "UNIQ_KEY");
    rmqtest_out_free(&r);
    json_decref(sent);
}
END_TEST

START_TEST(test_rmqctl_consume_count_not_reached_fails)
{
    rmqtest_out r;

    rmqtest_suite_need(&bk);
    cli_topic("T_short", "1");
    json_decref(cli_send("T_short", "A", "k", "color=x", "only one"));
    cli_run(&r, "--json", "consume", "-t", "T_short", "--from-beginning", "-n",
            "2", "--timeout", "1", NULL);
    cli_check_failed(&r, "consume -n 2 of 1", "received 1 of 2");
    /* what did arrive was printed all the same */
    ck_assert_msg(strstr(r.out, "\"only one\"") != NULL, "stdout: %s", r.out);
    rmqtest_out_free(&r);
}
END_TEST

static Suite *
rmqctl_suite(void)
{
    Suite *s = suite_create("cli.rmqctl");
    TCase *tc;

    tc = tcase_create("admin");
    tcase_set_tags(tc, "proc");
    tcase_add_unchecked_fixture(tc, cli_start, cli_stop);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_rmqctl_topic_create_then_route_shows_it);
    tcase_add_test(tc, test_rmqctl_topic_update_keeps_what_is_not_given);
    tcase_add_test(tc, test_rmqctl_topic_list_is_sorted_and_has_the_topic);
    tcase_add_test(tc, test_rmqctl_topic_status_counts_sent_messages);
    tcase_add_test(tc, test_rmqctl_topic_delete_removes_the_route);
    tcase_add_test(tc, test_rmqctl_group_create_then_list_shows_it);
    tcase_add_test(tc, test_rmqctl_cluster_list_shows_the_broker);
    tcase_add_test(tc, test_rmqctl_broker_status_prints_the_sorted_kv_table);
    suite_add_tcase(s, tc);

    tc = tcase_create("data");
    tcase_set_tags(tc, "proc");
    tcase_add_unchecked_fixture(tc, cli_start, cli_stop);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_rmqctl_send_then_consume_reads_them_back);
    tcase_add_test(tc, test_rmqctl_send_reads_a_binary_body_from_stdin);
    tcase_add_test(tc, test_rmqctl_msg_get_prints_a_sent_message);
    tcase_add_test(tc, test_rmqctl_msg_get_inflates_a_compressed_body);
    tcase_add_test(tc,
                   test_rmqctl_consumer_progress_after_consume_with_a_group);
    suite_add_tcase(s, tc);

    tc = tcase_create("errors");
    tcase_set_tags(tc, "proc");
    tcase_add_unchecked_fixture(tc, cli_start, cli_stop);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_rmqctl_unknown_topic_fails_with_one_line);
    tcase_add_test(tc, test_rmqctl_unreachable_name_server_fails_with_one_line);
    tcase_add_test(tc, test_rmqctl_bad_msg_id_fails_with_one_line);
    tcase_add_test(tc, test_rmqctl_consume_count_not_reached_fails);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return rmqtest_run_suite(rmqctl_suite());
}
