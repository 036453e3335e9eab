/*
 * test_route.c - Check suite "client.route": TopicRouteData parsing
 * (client/route.h) with standard JSON and fastjson's bare numeric keys,
 * the derived publish/subscribe queue lists, and the TBW102 fallback.
 * Pure functions; no processes.
 */
#include "client/cjson.h"
#include "client/route.h"

#include "common/buf.h"
#include "rmq/client.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

static rmq_route *r;

static void
setup(void)
{
    r = NULL;
}

static void
teardown(void)
{
    rmq_route_release(r);
}

static int
parse(const char *json)
{
    return rmq_route_parse("T", json, strlen(json), &r);
}

/* Two brokers given in reverse order; broker-b has a slave. */
static const char *const quoted =
    "{\"brokerDatas\":[{\"brokerAddrs\":{\"0\":\"10.0.0.2:10911\","
    "\"1\":\"10.0.0.3:10911\"},\"brokerName\":\"broker-b\","
    "\"cluster\":\"C\"},{\"brokerAddrs\":{\"0\":\"10.0.0.1:10911\"},"
    "\"brokerName\":\"broker-a\",\"cluster\":\"C\"}],"
    "\"filterServerTable\":{},\"queueDatas\":[{\"brokerName\":\"broker-b\","
    "\"perm\":6,\"readQueueNums\":2,\"topicSysFlag\":0,\"writeQueueNums\":2},"
    "{\"brokerName\":\"broker-a\",\"perm\":6,\"readQueueNums\":3,"
    "\"topicSysFlag\":0,\"writeQueueNums\":3}]}";

START_TEST(test_route_quoted_keys_parse)
{
    ck_assert_int_eq(parse(quoted), 0);
    ck_assert_str_eq(r->topic, "T");
    ck_assert_uint_eq(r->nbrokers, 2);
    ck_assert_str_eq(r->brokers[0].name, "broker-a"); /* sorted */
    ck_assert_str_eq(rmq_route_master(r, "broker-a"), "10.0.0.1:10911");
    ck_assert_str_eq(rmq_route_master(r, "broker-b"), "10.0.0.2:10911");
    ck_assert_uint_eq(rmq_route_broker(r, "broker-b")->naddrs, 2);
    ck_assert_ptr_null(rmq_route_master(r, "broker-c"));
}
END_TEST

START_TEST(test_route_bare_numeric_keys_parse)
{
    const char *bare =
        "{\"brokerDatas\":[{\"brokerAddrs\":{0:\"10.0.0.1:10911\", 1 :"
        "\"10.0.0.9:10911\"},\"brokerName\":\"broker-a\",\"cluster\":\"C\"}],"
        "\"filterServerTable\":{},\"queueDatas\":[{\"brokerName\":"
        "\"broker-a\",\"perm\":6,\"readQueueNums\":4,\"writeQueueNums\":4}]}";

    ck_assert_int_eq(parse(bare), 0);
    ck_assert_str_eq(rmq_route_master(r, "broker-a"), "10.0.0.1:10911");
    ck_assert_uint_eq(r->brokers[0].naddrs, 2);
    ck_assert_uint_eq(r->npub, 4);
}
END_TEST

START_TEST(test_route_queue_lists_follow_broker_order_and_perm)
{
    ck_assert_int_eq(parse(quoted), 0);
    ck_assert_uint_eq(r->npub, 5);
    ck_assert_str_eq(r->pub[0].broker, "broker-a");
    ck_assert_int_eq(r->pub[2].qid, 2);
    ck_assert_str_eq(r->pub[3].broker, "broker-b");
    ck_assert_int_eq(r->pub[3].qid, 0);
    ck_assert_uint_eq(r->nsub, 5);
}
END_TEST

START_TEST(test_route_read_only_and_masterless_brokers)
{
    const char *json =
        "{\"brokerDatas\":[{\"brokerAddrs\":{\"0\":\"a:1\"},\"brokerName\":"
        "\"ro\",\"cluster\":\"C\"},{\"brokerAddrs\":{\"1\":\"b:1\"},"
        "\"brokerName\":\"slaveonly\",\"cluster\":\"C\"}],\"queueDatas\":["
        "{\"brokerName\":\"ro\",\"perm\":4,\"readQueueNums\":2,"
        "\"writeQueueNums\":2},{\"brokerName\":\"slaveonly\",\"perm\":6,"
        "\"readQueueNums\":1,\"writeQueueNums\":1}]}";

    ck_assert_int_eq(parse(json), 0);
    /* not writable, or no master: nothing to send to */
    ck_assert_uint_eq(r->npub, 0);
    /* readable queues of both brokers */
    ck_assert_uint_eq(r->nsub, 3);
}
END_TEST

START_TEST(test_route_from_tbw102_keeps_at_most_four_queues)
{
    rmq_route  *d = NULL;
    const char *json =
        "{\"brokerDatas\":[{\"brokerAddrs\":{\"0\":\"a:1\"},\"brokerName\":"
        "\"b1\",\"cluster\":\"C\"}],\"queueDatas\":[{\"brokerName\":\"b1\","
        "\"perm\":7,\"readQueueNums\":8,\"writeQueueNums\":8}]}";

    ck_assert_int_eq(rmq_route_parse("TBW102", json, strlen(json), &r), 0);
    ck_assert_int_eq(rmq_route_from_default(r, "NewTopic", 4, &d), 0);
    ck_assert_str_eq(d->topic, "NewTopic");
    ck_assert(d->from_default);
    ck_assert_uint_eq(d->npub, 4);
    ck_assert_uint_eq(d->nsub, 4);
    ck_assert_str_eq(rmq_route_master(d, "b1"), "a:1");
    ck_assert(!rmq_route_same(r, d));
    rmq_route_release(d);
}
END_TEST

START_TEST(test_route_same_ignores_input_order)
{
    rmq_route  *a = NULL;
    const char *swapped =
        "{\"queueDatas\":[{\"brokerName\":\"broker-a\",\"perm\":6,"
        "\"readQueueNums\":3,\"writeQueueNums\":3},{\"brokerName\":"
        "\"broker-b\",\"perm\":6,\"readQueueNums\":2,\"writeQueueNums\":2}],"
        "\"brokerDatas\":[{\"brokerAddrs\":{\"0\":\"10.0.0.1:10911\"},"
        "\"brokerName\":\"broker-a\",\"cluster\":\"C\"},{\"brokerAddrs\":"
        "{1:\"10.0.0.3:10911\",0:\"10.0.0.2:10911\"},\"brokerName\":"
        "\"broker-b\",\"cluster\":\"C\"}]}";

    ck_assert_int_eq(parse(quoted), 0);
    ck_assert_int_eq(rmq_route_parse("T", swapped, strlen(swapped), &a), 0);
    ck_assert(rmq_route_same(r, a));
    rmq_route_release(a);
}
END_TEST

START_TEST(test_route_malformed_bodies_are_proto_errors)
{
    const char *bad[] = {
        "",
        "[]",
        "{\"brokerDatas\":[]}", /* queueDatas missing */
        "{\"queueDatas\":[]}",  /* brokerDatas missing */
        "{\"brokerDatas\":[{\"brokerAddrs\":{\"x\":\"a:1\"},"
        "\"brokerName\":\"b\"}],\"queueDatas\":[]}", /* non-numeric id */
        "{\"brokerDatas\":[],\"queueDatas\":[{\"brokerName\":\"b\"}]}",
        "{\"brokerDatas\":[],\"queueDatas\":[{\"brokerName\":\"b\","
        "\"perm\":6,\"readQueueNums\":-1,\"writeQueueNums\":1}]}",
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(parse(bad[i]) == RMQ_CLIENT_ERR_PROTO, "case %zu", i);
        ck_assert_ptr_null(r);
    }
}
END_TEST

START_TEST(test_quote_keys_leaves_strings_and_arrays_alone)
{
    const char *in = "{1:[1,2,{3:\"{4:5}\"}],\"s\":\"a,7:b\", -2 :0}";
    rmq_buf     out;

    rmq_buf_init(&out);
    ck_assert_int_eq(rmq_cjson_quote_keys(in, strlen(in), &out), 0);
    ck_assert_str_eq(rmq_buf_cstr(&out),
                     "{\"1\":[1,2,{\"3\":\"{4:5}\"}],\"s\":\"a,7:b\", "
                     "\"-2\" :0}");
    rmq_buf_free(&out);
}
END_TEST

static Suite *
route_suite(void)
{
    Suite *s = suite_create("client.route");
    TCase *tc = tcase_create("parse");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, test_route_quoted_keys_parse);
    tcase_add_test(tc, test_route_bare_numeric_keys_parse);
    tcase_add_test(tc, test_route_queue_lists_follow_broker_order_and_perm);
    tcase_add_test(tc, test_route_read_only_and_masterless_brokers);
    tcase_add_test(tc, test_route_from_tbw102_keeps_at_most_four_queues);
    tcase_add_test(tc, test_route_same_ignores_input_order);
    tcase_add_test(tc, test_route_malformed_bodies_are_proto_errors);
    tcase_add_test(tc, test_quote_keys_leaves_strings_and_arrays_alone);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(route_suite());
    int      failed;

    srunner_run_all(sr, CK_ENV);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
