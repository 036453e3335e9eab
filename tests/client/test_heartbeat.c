/*
 * test_heartbeat.c - Check suite "client.heartbeat": the HeartbeatData,
 * consumer-list and lock JSON bodies (client/cjson.h, spec
 * remoting-protocol.md 3).  Pure functions; no processes.
 */
#include "client/cjson.h"

#include "common/buf.h"
#include "rmq/client.h"

#include <check.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static rmq_buf out;

static void
setup(void)
{
    rmq_buf_init(&out);
}

static void
teardown(void)
{
    rmq_buf_free(&out);
}

START_TEST(test_heartbeat_producer_only_is_compact_and_sorted)
{
    ck_assert_int_eq(rmq_cjson_heartbeat("10.0.0.5@123", "PG", NULL, &out), 0);
    ck_assert_str_eq(rmq_buf_cstr(&out),
                     "{\"clientID\":\"10.0.0.5@123\",\"consumerDataSet\":[],"
                     "\"producerDataSet\":[{\"groupName\":\"PG\"}]}");
}
END_TEST

START_TEST(test_heartbeat_consumer_has_every_java_field)
{
    rmq_tagexpr     all, two;
    rmq_hb_sub      subs[2];
    rmq_hb_consumer c;
    json_t         *doc, *cd, *sd;

    ck_assert_int_eq(rmq_tagexpr_parse("*", &all), 0);
    ck_assert_int_eq(rmq_tagexpr_parse("TagA || TagB", &two), 0);
    subs[0] =
        (rmq_hb_sub){.topic = "T1", .expr = &all, .version = 1700000000123};
    subs[1] = (rmq_hb_sub){.topic = "T2", .expr = &two, .version = 42};
    c = (rmq_hb_consumer){.group = "CG",
                          .consume_type = "CONSUME_PASSIVELY",
                          .message_model = "CLUSTERING",
                          .consume_from = "CONSUME_FROM_LAST_OFFSET",
                          .subs = subs,
                          .nsubs = 2};
    ck_assert_int_eq(
        rmq_cjson_heartbeat("ip@x", "CLIENT_INNER_PRODUCER", &c, &out), 0);
    doc = json_loadb((const char *)out.data, out.len, 0, NULL);
    ck_assert_ptr_nonnull(doc);
    ck_assert_str_eq(json_string_value(json_object_get(doc, "clientID")),
                     "ip@x");
    cd = json_array_get(json_object_get(doc, "consumerDataSet"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(cd, "groupName")), "CG");
    ck_assert_str_eq(json_string_value(json_object_get(cd, "consumeType")),
                     "CONSUME_PASSIVELY");
    ck_assert_str_eq(json_string_value(json_object_get(cd, "messageModel")),
                     "CLUSTERING");
    ck_assert_str_eq(json_string_value(json_object_get(cd, "consumeFromWhere")),
                     "CONSUME_FROM_LAST_OFFSET");
    ck_assert(json_is_false(json_object_get(cd, "unitMode")));
    sd = json_array_get(json_object_get(cd, "subscriptionDataSet"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(sd, "topic")), "T1");
    ck_assert_str_eq(json_string_value(json_object_get(sd, "subString")), "*");
    ck_assert_uint_eq(json_array_size(json_object_get(sd, "tagsSet")), 0);
    ck_assert_uint_eq(json_array_size(json_object_get(sd, "codeSet")), 0);
    ck_assert_int_eq(json_integer_value(json_object_get(sd, "subVersion")),
                     1700000000123);
    ck_assert_str_eq(json_string_value(json_object_get(sd, "expressionType")),
                     "TAG");
    ck_assert(json_is_false(json_object_get(sd, "classFilterMode")));
    sd = json_array_get(json_object_get(cd, "subscriptionDataSet"), 1);
    ck_assert_str_eq(json_string_value(json_object_get(sd, "subString")),
                     "TagA || TagB");
    ck_assert_str_eq(
        json_string_value(json_array_get(json_object_get(sd, "tagsSet"), 1)),
        "TagB");
    ck_assert_int_eq(
        json_integer_value(json_array_get(json_object_get(sd, "codeSet"), 0)),
        2598919);
    ck_assert_str_eq(
        json_string_value(json_object_get(
            json_array_get(json_object_get(doc, "producerDataSet"), 0),
            "groupName")),
        "CLIENT_INNER_PRODUCER");
    json_decref(doc);
    rmq_tagexpr_free(&all);
    rmq_tagexpr_free(&two);
}
END_TEST

START_TEST(test_heartbeat_broadcasting_consumer_without_producer)
{
    rmq_tagexpr     all;
    rmq_hb_sub      sub;
    rmq_hb_consumer c;

    ck_assert_int_eq(rmq_tagexpr_parse(NULL, &all), 0);
    sub = (rmq_hb_sub){.topic = "T", .expr = &all, .version = 1};
    c = (rmq_hb_consumer){.group = "G",
                          .consume_type = "CONSUME_PASSIVELY",
                          .message_model = "BROADCASTING",
                          .consume_from = "CONSUME_FROM_FIRST_OFFSET",
                          .subs = &sub,
                          .nsubs = 1};
    ck_assert_int_eq(rmq_cjson_heartbeat("c", NULL, &c, &out), 0);
    ck_assert_str_eq(
        rmq_buf_cstr(&out),
        "{\"clientID\":\"c\",\"consumerDataSet\":[{\"consumeFromWhere\":"
        "\"CONSUME_FROM_FIRST_OFFSET\",\"consumeType\":\"CONSUME_PASSIVELY\","
        "\"groupName\":\"G\",\"messageModel\":\"BROADCASTING\","
        "\"subscriptionDataSet\":[{\"classFilterMode\":false,\"codeSet\":[],"
        "\"expressionType\":\"TAG\",\"subString\":\"*\",\"subVersion\":1,"
        "\"tagsSet\":[],\"topic\":\"T\"}],\"unitMode\":false}],"
        "\"producerDataSet\":[]}");
    rmq_tagexpr_free(&all);
}
END_TEST

START_TEST(test_consumer_list_is_parsed)
{
    const char *body = "{\"consumerIdList\":[\"10.0.0.1@1\",\"10.0.0.2@7\"]}";
    char      **ids;
    size_t      n;

    ck_assert_int_eq(
        rmq_cjson_consumer_ids((const uint8_t *)body, strlen(body), &ids, &n),
        0);
    ck_assert_uint_eq(n, 2);
    ck_assert_str_eq(ids[0], "10.0.0.1@1");
    ck_assert_str_eq(ids[1], "10.0.0.2@7");
    rmq_cjson_ids_free(ids, n);
}
END_TEST

START_TEST(test_consumer_list_rejects_malformed_bodies)
{
    const char *bad[] = {"", "{}", "{\"consumerIdList\":[1]}", "[", "null"};
    char      **ids;
    size_t      n;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_int_eq(rmq_cjson_consumer_ids((const uint8_t *)bad[i],
                                                strlen(bad[i]), &ids, &n),
                         RMQ_CLIENT_ERR_PROTO);
    }
}
END_TEST

START_TEST(test_lock_body_lists_every_queue)
{
    rmq_cjson_mq mqs[2] = {{"T", "broker-a", 0}, {"%RETRY%G", "broker-b", 3}};

    ck_assert_int_eq(rmq_cjson_lock_body("G", "ip@1", mqs, 2, &out), 0);
    ck_assert_str_eq(
        rmq_buf_cstr(&out),
        "{\"clientId\":\"ip@1\",\"consumerGroup\":\"G\",\"mqSet\":["
        "{\"brokerName\":\"broker-a\",\"queueId\":0,\"topic\":\"T\"},"
        "{\"brokerName\":\"broker-b\",\"queueId\":3,\"topic\":"
        "\"%RETRY%G\"}]}");
}
END_TEST

START_TEST(test_lock_answer_is_parsed)
{
    const char *body = "{\"lockOKMQSet\":[{\"brokerName\":\"b\",\"queueId\":2,"
                       "\"topic\":\"T\"},{\"topic\":\"U\",\"brokerName\":"
                       "\"c\",\"queueId\":\"7\"}]}";
    rmq_cjson_mq *mqs;
    size_t        n;

    ck_assert_int_eq(
        rmq_cjson_lock_ok((const uint8_t *)body, strlen(body), &mqs, &n), 0);
    ck_assert_uint_eq(n, 2);
    ck_assert_str_eq(mqs[0].topic, "T");
    ck_assert_str_eq(mqs[0].broker, "b");
    ck_assert_int_eq(mqs[0].qid, 2);
    ck_assert_str_eq(mqs[1].topic, "U");
    ck_assert_int_eq(mqs[1].qid, 7);
    rmq_cjson_mqs_free(mqs, n);
}
END_TEST

START_TEST(test_lock_answer_without_a_set_locks_nothing)
{
    const char   *bodies[] = {"{}", "{\"lockOKMQSet\":[]}"};
    rmq_cjson_mq *mqs;
    size_t        n;

    for (size_t i = 0; i < 2; i++) {
        ck_assert_int_eq(rmq_cjson_lock_ok((const uint8_t *)bodies[i],
                                           strlen(bodies[i]), &mqs, &n),
                         0);
        ck_assert_uint_eq(n, 0);
        rmq_cjson_mqs_free(mqs, n);
    }
}
END_TEST

START_TEST(test_lock_answer_rejects_malformed_bodies)
{
    const char   *bad[] = {"",
                           "[]",
                           "{\"lockOKMQSet\":{}}",
                           "{\"lockOKMQSet\":[{\"topic\":\"T\"}]}",
                           "{\"lockOKMQSet\":[{\"topic\":\"T\",\"brokerName\":"
                             "\"b\",\"queueId\":-1}]}",
                           "{\"lockOKMQSet\":[{\"topic\":\"T\",\"brokerName\":"
                             "\"b\",\"queueId\":\"1x\"}]}"};
    rmq_cjson_mq *mqs;
    size_t        n;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_int_eq(rmq_cjson_lock_ok((const uint8_t *)bad[i],
                                           strlen(bad[i]), &mqs, &n),
                         RMQ_CLIENT_ERR_PROTO);
    }
}
END_TEST

static Suite *
heartbeat_suite(void)
{
    Suite *s = suite_create("client.heartbeat");
    TCase *tc = tcase_create("json");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, test_heartbeat_producer_only_is_compact_and_sorted);
    tcase_add_test(tc, test_heartbeat_consumer_has_every_java_field);
    tcase_add_test(tc, test_heartbeat_broadcasting_consumer_without_producer);
    tcase_add_test(tc, test_consumer_list_is_parsed);
    tcase_add_test(tc, test_consumer_list_rejects_malformed_bodies);
    suite_add_tcase(s, tc);

    tc = tcase_create("lock");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, test_lock_body_lists_every_queue);
    tcase_add_test(tc, test_lock_answer_is_parsed);
    tcase_add_test(tc, test_lock_answer_without_a_set_locks_nothing);
    tcase_add_test(tc, test_lock_answer_rejects_malformed_bodies);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(heartbeat_suite());
    int      failed;

    srunner_run_all(sr, CK_ENV);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
