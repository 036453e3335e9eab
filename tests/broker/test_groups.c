/*
 * test_groups.c - Check suite "broker.groups": HeartbeatData parsing and
 * the client group registry (broker/groups.h, spec remoting 3, 5.3).
 * Runs in the ctest process only; no shared data.
 */
#include "broker/groups.h"

#include "common/buf.h"
#include "common/err.h"
#include "proto/remoting.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What ali-ons 3.x sends (mq_client.js _prepareHeartbeatData, JSON.stringify
 * of its objects: key order as built, no unitMode, no expressionType). */
static const char ons_heartbeat[] =
    "{\"clientID\":\"10.0.0.5@12345\",\"consumerDataSet\":[{\"groupName\":"
    "\"GID_ONS\",\"consumeType\":\"CONSUME_PASSIVELY\",\"messageModel\":"
    "\"CLUSTERING\",\"consumeFromWhere\":\"CONSUME_FROM_LAST_OFFSET\","
    "\"subscriptionDataSet\":[{\"topic\":\"TP_ONS\",\"subString\":"
    "\"TagA || TagB\",\"classFilterMode\":false,\"tagsSet\":[\"TagA\","
    "\"TagB\"],\"codeSet\":[2598919,2598920],\"subVersion\":1700000000000},"
    "{\"topic\":\"%RETRY%GID_ONS\",\"subString\":\"*\",\"classFilterMode\":"
    "false,\"tagsSet\":[],\"codeSet\":[],\"subVersion\":1700000000001}]}],"
    "\"producerDataSet\":[{\"groupName\":\"CLIENT_INNER_PRODUCER\"}]}";

/* A Java 4.9 client's (fastjson: sorted keys, expressionType, unitMode). */
static const char java_heartbeat[] =
    "{\"clientID\":\"192.168.1.7@DEFAULT\",\"consumerDataSet\":[{"
    "\"consumeFromWhere\":\"CONSUME_FROM_FIRST_OFFSET\",\"consumeType\":"
    "\"CONSUME_PASSIVELY\",\"groupName\":\"G1\",\"messageModel\":"
    "\"CLUSTERING\",\"subscriptionDataSet\":[{\"classFilterMode\":false,"
    "\"codeSet\":[],\"expressionType\":\"TAG\",\"subString\":\"*\","
    "\"subVersion\":1700000000123,\"tagsSet\":[],\"topic\":\"T1\"}],"
    "\"unitMode\":false}],\"producerDataSet\":[{\"groupName\":\"P1\"},"
    "{\"groupName\":\"CLIENT_INNER_PRODUCER\"}]}";

static rmq_groups    groups;
static rmq_heartbeat hb;
static rmq_buf       out;

/* Events reported by the registry. */
static int  nevents;
static char event_group[8][64];
static bool event_gone[8];

static void
on_event(void *arg, const char *group, const rmq_group *grp)
{
    (void)arg;
    if (nevents < 8) {
        snprintf(event_group[nevents], sizeof(event_group[0]), "%s", group);
        event_gone[nevents] = grp == NULL;
    }
    nevents++;
}

static void
setup(void)
{
    rmq_groups_init(&groups);
    memset(&hb, 0, sizeof(hb));
    rmq_buf_init(&out);
    nevents = 0;
}

static void
teardown(void)
{
    rmq_heartbeat_free(&hb);
    rmq_groups_fini(&groups);
    rmq_buf_free(&out);
}

static int
parse(const char *text)
{
    rmq_heartbeat_free(&hb);
    return rmq_heartbeat_parse(text, strlen(text), &hb, NULL, 0);
}

static rmq_client_ref
client(uint64_t conn, const char *id)
{
    rmq_client_ref c = {conn, id, "10.0.0.5:40000", RMQ_LANG_JAVA, 121};
    return c;
}

/* A one-group, one-topic consumer heartbeat. */
static const char *
hb_text(const char *client_id, const char *topic, const char *expr,
        long long version)
{
    static char buf[1024];

    snprintf(buf, sizeof(buf),
             "{\"clientID\":\"%s\",\"consumerDataSet\":[{\"groupName\":\"G\","
             "\"consumeType\":\"CONSUME_PASSIVELY\",\"messageModel\":"
             "\"CLUSTERING\",\"consumeFromWhere\":\"CONSUME_FROM_LAST_OFFSET\","
             "\"subscriptionDataSet\":[{\"topic\":\"%s\",\"subString\":\"%s\","
             "\"subVersion\":%lld}]}]}",
             client_id, topic, expr, version);
    return buf;
}

static unsigned
beat(uint64_t conn, const char *client_id, const char *topic, const char *expr,
     long long version, int64_t now)
{
    rmq_client_ref cl = client(conn, client_id);
    unsigned       changed = 99;

    ck_assert_int_eq(parse(hb_text(client_id, topic, expr, version)), 0);
    ck_assert_int_eq(hb.nconsumers, 1);
    ck_assert_int_eq(rmq_groups_register_consumer(
                         &groups, &cl, &hb.consumers[0], now, &changed),
                     0);
    return changed;
}

/* ---- parse --------------------------------------------------------------- */

START_TEST(test_parse_ali_ons_heartbeat)
{
    const rmq_hb_consumer *c;

    ck_assert_int_eq(parse(ons_heartbeat), 0);
    ck_assert_str_eq(hb.client_id, "10.0.0.5@12345");
    ck_assert_int_eq(hb.nproducers, 1);
    ck_assert_str_eq(hb.producers[0], "CLIENT_INNER_PRODUCER");
    ck_assert_int_eq(hb.nconsumers, 1);
    c = &hb.consumers[0];
    ck_assert_str_eq(c->group, "GID_ONS");
    ck_assert_str_eq(c->consume_type, "CONSUME_PASSIVELY");
    ck_assert_str_eq(c->message_model, "CLUSTERING");
    ck_assert_str_eq(c->consume_from_where, "CONSUME_FROM_LAST_OFFSET");
    ck_assert(!c->unit_mode);
    ck_assert_int_eq(c->nsubs, 2);
    ck_assert_str_eq(c->subs[0].topic, "TP_ONS");
    ck_assert_str_eq(c->subs[0].sub_string, "TagA || TagB");
    ck_assert_str_eq(c->subs[0].expr_type, "TAG"); /* ali-ons omits it */
    ck_assert_int_eq(c->subs[0].sub_version, 1700000000000LL);
    ck_assert_int_eq(
        json_array_size(json_object_get(c->subs[0].json, "codeSet")), 2);
    ck_assert_str_eq(c->subs[1].topic, "%RETRY%GID_ONS");
    ck_assert_str_eq(c->subs[1].sub_string, "*");
}
END_TEST

START_TEST(test_parse_java_heartbeat)
{
    ck_assert_int_eq(parse(java_heartbeat), 0);
    ck_assert_str_eq(hb.client_id, "192.168.1.7@DEFAULT");
    ck_assert_int_eq(hb.nproducers, 2);
    ck_assert_str_eq(hb.producers[0], "P1");
    ck_assert_int_eq(hb.nconsumers, 1);
    ck_assert_str_eq(hb.consumers[0].consume_from_where,
                     "CONSUME_FROM_FIRST_OFFSET");
    ck_assert_int_eq(hb.consumers[0].nsubs, 1);
    ck_assert_int_eq(hb.consumers[0].subs[0].sub_version, 1700000000123LL);
}
END_TEST

START_TEST(test_parse_producer_only_heartbeat)
{
    ck_assert_int_eq(parse("{\"clientID\":\"c@1\",\"consumerDataSet\":[],"
                           "\"producerDataSet\":[{\"groupName\":\"PG\"}]}"),
                     0);
    ck_assert_int_eq(hb.nconsumers, 0);
    ck_assert_int_eq(hb.nproducers, 1);
}
END_TEST

START_TEST(test_parse_rejects_non_json_and_missing_client_id)
{
    char remark[64] = "";

    ck_assert_int_eq(
        rmq_heartbeat_parse("nope", 4, &hb, remark, sizeof(remark)),
        RMQ_ERR_PROTO);
    ck_assert_str_eq(remark, "heartbeat body is not JSON");
    rmq_heartbeat_free(&hb);
    ck_assert_int_eq(rmq_heartbeat_parse("{\"consumerDataSet\":[]}", 22, &hb,
                                         remark, sizeof(remark)),
                     RMQ_ERR_PROTO);
    ck_assert_str_eq(remark, "heartbeat without clientID");
}
END_TEST

START_TEST(test_parse_skips_malformed_entries)
{
    ck_assert_int_eq(parse("{\"clientID\":\"c@1\",\"consumerDataSet\":[7,"
                           "{\"consumeType\":\"X\"},{\"groupName\":\"G\","
                           "\"subscriptionDataSet\":[{\"subString\":\"*\"},"
                           "{\"topic\":\"T\",\"subString\":\"\"}]}],"
                           "\"producerDataSet\":[{},{\"groupName\":\"\"}]}"),
                     0);
    ck_assert_int_eq(hb.nproducers, 0);
    ck_assert_int_eq(hb.nconsumers, 1);
    ck_assert_int_eq(hb.consumers[0].nsubs, 1);
    ck_assert_str_eq(hb.consumers[0].subs[0].sub_string, "*");
}
END_TEST

/* ---- register ------------------------------------------------------------ */

START_TEST(test_first_heartbeat_changes_clients_and_subs)
{
    const rmq_group *g;

    ck_assert_uint_eq(beat(1, "a@1", "T", "*", 100, 0),
                      RMQ_GRP_CLIENTS_CHANGED | RMQ_GRP_SUBS_CHANGED);
    g = rmq_groups_consumer(&groups, "G");
    ck_assert_ptr_nonnull(g);
    ck_assert_int_eq(g->nclients, 1);
    ck_assert_str_eq(g->clients[0].client_id, "a@1");
    ck_assert_str_eq(g->clients[0].client_addr, "10.0.0.5:40000");
    ck_assert_str_eq(g->consume_type, "CONSUME_PASSIVELY");
    ck_assert_ptr_nonnull(rmq_group_sub(g, "T"));
}
END_TEST

START_TEST(test_repeated_heartbeat_changes_nothing)
{
    beat(1, "a@1", "T", "*", 100, 0);
    ck_assert_uint_eq(beat(1, "a@1", "T", "*", 100, 1000), 0);
    ck_assert_int_eq(rmq_groups_consumer(&groups, "G")->clients[0].last_ms,
                     1000);
}
END_TEST

START_TEST(test_second_client_changes_clients_only)
{
    beat(1, "a@1", "T", "*", 100, 0);
    ck_assert_uint_eq(beat(2, "b@2", "T", "*", 100, 0),
                      RMQ_GRP_CLIENTS_CHANGED);
    ck_assert_int_eq(rmq_groups_consumer(&groups, "G")->nclients, 2);
}
END_TEST

START_TEST(test_larger_sub_version_replaces_subscription)
{
    const rmq_sub_data *s;

    beat(1, "a@1", "T", "tagA", 100, 0);
    ck_assert_uint_eq(beat(1, "a@1", "T", "tagB", 200, 0),
                      RMQ_GRP_SUBS_CHANGED);
    s = rmq_group_sub(rmq_groups_consumer(&groups, "G"), "T");
    ck_assert_str_eq(s->sub_string, "tagB");
    ck_assert_int_eq(s->sub_version, 200);
}
END_TEST

START_TEST(test_smaller_or_equal_sub_version_is_ignored)
{
    const rmq_sub_data *s;

    beat(1, "a@1", "T", "tagA", 200, 0);
    ck_assert_uint_eq(beat(1, "a@1", "T", "tagB", 100, 0), 0);
    ck_assert_uint_eq(beat(1, "a@1", "T", "tagC", 200, 0), 0);
    s = rmq_group_sub(rmq_groups_consumer(&groups, "G"), "T");
    ck_assert_str_eq(s->sub_string, "tagA");
}
END_TEST

START_TEST(test_new_version_with_same_expression_is_no_change)
{
    beat(1, "a@1", "T", "tagA", 100, 0);
    ck_assert_uint_eq(beat(1, "a@1", "T", "tagA", 300, 0), 0);
    ck_assert_int_eq(
        rmq_group_sub(rmq_groups_consumer(&groups, "G"), "T")->sub_version,
        300);
}
END_TEST

START_TEST(test_topic_absent_from_new_set_is_dropped)
{
    const rmq_group *g;

    beat(1, "a@1", "T", "*", 100, 0);
    ck_assert_uint_eq(beat(1, "a@1", "U", "*", 100, 0), RMQ_GRP_SUBS_CHANGED);
    g = rmq_groups_consumer(&groups, "G");
    ck_assert_int_eq(g->nsubs, 1);
    ck_assert_ptr_null(rmq_group_sub(g, "T"));
    ck_assert_ptr_nonnull(rmq_group_sub(g, "U"));
}
END_TEST

START_TEST(test_producer_registration)
{
    rmq_client_ref cl = client(5, "p@1");
    uint32_t       ngroups, nconns;

    ck_assert_int_eq(rmq_groups_register_producer(&groups, &cl, "PG", 0), 0);
    ck_assert_int_eq(rmq_groups_register_producer(&groups, &cl, "PG", 1), 0);
    ck_assert_int_eq(rmq_groups_producer(&groups, "PG")->nclients, 1);
    ck_assert_ptr_null(rmq_groups_consumer(&groups, "PG"));
    beat(5, "p@1", "T", "*", 1, 0);
    rmq_groups_count(&groups, &ngroups, &nconns);
    ck_assert_uint_eq(ngroups, 2);
    ck_assert_uint_eq(nconns, 1);
}
END_TEST

/* ---- removal ------------------------------------------------------------- */

START_TEST(test_conn_closed_reports_shrunk_group)
{
    beat(1, "a@1", "T", "*", 1, 0);
    beat(2, "b@2", "T", "*", 1, 0);
    rmq_groups_conn_closed(&groups, 1, on_event, NULL);
    ck_assert_int_eq(nevents, 1);
    ck_assert_str_eq(event_group[0], "G");
    ck_assert(!event_gone[0]);
    ck_assert_int_eq(rmq_groups_consumer(&groups, "G")->nclients, 1);
    ck_assert_str_eq(rmq_groups_consumer(&groups, "G")->clients[0].client_id,
                     "b@2");
}
END_TEST

START_TEST(test_last_conn_closed_removes_group)
{
    rmq_client_ref cl = client(1, "a@1");

    beat(1, "a@1", "T", "*", 1, 0);
    rmq_groups_register_producer(&groups, &cl, "PG", 0);
    rmq_groups_conn_closed(&groups, 1, on_event, NULL);
    ck_assert_int_eq(nevents, 1);
    ck_assert(event_gone[0]);
    ck_assert_ptr_null(rmq_groups_consumer(&groups, "G"));
    ck_assert_ptr_null(rmq_groups_producer(&groups, "PG"));
}
END_TEST

START_TEST(test_unknown_conn_closed_reports_nothing)
{
    beat(1, "a@1", "T", "*", 1, 0);
    rmq_groups_conn_closed(&groups, 9, on_event, NULL);
    ck_assert_int_eq(nevents, 0);
}
END_TEST

START_TEST(test_silent_clients_expire)
{
    beat(1, "a@1", "T", "*", 1, 0);
    beat(2, "b@2", "T", "*", 1, 100000);
    /* 120 s timeout at 120001: a (last 0) is over it, b (100000) is not */
    ck_assert_uint_eq(
        rmq_groups_expire(&groups, 120001, 120000, on_event, NULL), 1);
    ck_assert_int_eq(nevents, 1);
    ck_assert(!event_gone[0]);
    ck_assert_int_eq(rmq_groups_consumer(&groups, "G")->nclients, 1);
    ck_assert_uint_eq(
        rmq_groups_expire(&groups, 120000 + 100000, 120000, on_event, NULL), 0);
    ck_assert_uint_eq(
        rmq_groups_expire(&groups, 120001 + 100000, 120000, on_event, NULL), 1);
    ck_assert(event_gone[1]);
    ck_assert_ptr_null(rmq_groups_consumer(&groups, "G"));
}
END_TEST

START_TEST(test_unregister_by_conn_and_by_client_id)
{
    beat(1, "a@1", "T", "*", 1, 0);
    beat(2, "b@2", "T", "*", 1, 0);
    beat(3, "c@3", "T", "*", 1, 0);
    ck_assert(
        rmq_groups_unregister(&groups, true, "G", 1, NULL, on_event, NULL));
    ck_assert(
        rmq_groups_unregister(&groups, true, "G", 0, "b@2", on_event, NULL));
    ck_assert(
        !rmq_groups_unregister(&groups, true, "G", 7, "x@9", on_event, NULL));
    ck_assert(
        !rmq_groups_unregister(&groups, true, "NOPE", 3, NULL, on_event, NULL));
    ck_assert_int_eq(nevents, 2);
    ck_assert_int_eq(rmq_groups_consumer(&groups, "G")->nclients, 1);
}
END_TEST

/* ---- bodies -------------------------------------------------------------- */

START_TEST(test_consumer_list_has_ids_as_sent_once)
{
    beat(1, "10.0.0.5@12345", "T", "*", 1, 0);
    beat(2, "10.0.0.6@777#inst", "T", "*", 1, 0);
    beat(3, "10.0.0.5@12345", "T", "*", 1, 0); /* same client, 2nd conn */
    ck_assert_int_eq(
        rmq_groups_consumer_list_json(rmq_groups_consumer(&groups, "G"), &out),
        0);
    ck_assert_str_eq(rmq_buf_cstr(&out),
                     "{\"consumerIdList\":[\"10.0.0.5@12345\","
                     "\"10.0.0.6@777#inst\"]}");
}
END_TEST

START_TEST(test_connection_json_matches_consumer_connection)
{
    rmq_client_ref cl = client(1, "10.0.0.5@12345");
    unsigned       changed;
    json_t        *doc, *conn, *sub;

    ck_assert_int_eq(parse(ons_heartbeat), 0);
    rmq_groups_register_consumer(&groups, &cl, &hb.consumers[0], 0, &changed);
    ck_assert_int_eq(rmq_groups_connection_json(
                         rmq_groups_consumer(&groups, "GID_ONS"), &out),
                     0);
    doc = json_loads(rmq_buf_cstr(&out), 0, NULL);
    ck_assert_ptr_nonnull(doc);
    ck_assert_str_eq(json_string_value(json_object_get(doc, "consumeType")),
                     "CONSUME_PASSIVELY");
    ck_assert_str_eq(json_string_value(json_object_get(doc, "messageModel")),
                     "CLUSTERING");
    ck_assert_str_eq(
        json_string_value(json_object_get(doc, "consumeFromWhere")),
        "CONSUME_FROM_LAST_OFFSET");
    conn = json_array_get(json_object_get(doc, "connectionSet"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(conn, "clientId")),
                     "10.0.0.5@12345");
    ck_assert_str_eq(json_string_value(json_object_get(conn, "clientAddr")),
                     "10.0.0.5:40000");
    ck_assert_str_eq(json_string_value(json_object_get(conn, "language")),
                     "JAVA");
    ck_assert_int_eq(json_integer_value(json_object_get(conn, "version")), 121);
    sub = json_object_get(json_object_get(doc, "subscriptionTable"), "TP_ONS");
    ck_assert_str_eq(json_string_value(json_object_get(sub, "subString")),
                     "TagA || TagB");
    ck_assert_str_eq(json_string_value(json_object_get(sub, "expressionType")),
                     "TAG");
    ck_assert_int_eq(
        json_integer_value(json_array_get(json_object_get(sub, "codeSet"), 1)),
        2598920);
    json_decref(doc);
}
END_TEST

static Suite *
groups_suite(void)
{
    Suite *s = suite_create("broker.groups");
    TCase *tc;

    tc = tcase_create("parse");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, test_parse_ali_ons_heartbeat);
    tcase_add_test(tc, test_parse_java_heartbeat);
    tcase_add_test(tc, test_parse_producer_only_heartbeat);
    tcase_add_test(tc, test_parse_rejects_non_json_and_missing_client_id);
    tcase_add_test(tc, test_parse_skips_malformed_entries);
    suite_add_tcase(s, tc);

    tc = tcase_create("register");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, test_first_heartbeat_changes_clients_and_subs);
    tcase_add_test(tc, test_repeated_heartbeat_changes_nothing);
    tcase_add_test(tc, test_second_client_changes_clients_only);
    tcase_add_test(tc, test_larger_sub_version_replaces_subscription);
    tcase_add_test(tc, test_smaller_or_equal_sub_version_is_ignored);
    tcase_add_test(tc, test_new_version_with_same_expression_is_no_change);
    tcase_add_test(tc, test_topic_absent_from_new_set_is_dropped);
    tcase_add_test(tc, test_producer_registration);
    suite_add_tcase(s, tc);

    tc = tcase_create("remove");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, test_conn_closed_reports_shrunk_group);
    tcase_add_test(tc, test_last_conn_closed_removes_group);
    tcase_add_test(tc, test_unknown_conn_closed_reports_nothing);
    tcase_add_test(tc, test_silent_clients_expire);
    tcase_add_test(tc, test_unregister_by_conn_and_by_client_id);
    suite_add_tcase(s, tc);

    tc = tcase_create("bodies");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, test_consumer_list_has_ids_as_sent_once);
    tcase_add_test(tc, test_connection_json_matches_consumer_connection);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(groups_suite());
    int      failed;

    srunner_run_all(sr, CK_ENV);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
