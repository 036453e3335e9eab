/*
 * test_fastjson.c - Check suite "cli.fastjson": rmqctl's reader of
 * fastjson bodies (cli/fastjson.h).  rmqctl's sources are not a library,
 * so the file under test is compiled in here.
 */
#include "cli/fastjson.c"

#include "tests/support/rmqtest.h"

#include <check.h>

static json_t *
fj_load(const char *text)
{
    json_t *v = NULL;

    ck_assert_int_eq(rmqctl_json_load(text, strlen(text), &v), 0);
    ck_assert(v != NULL);
    return v;
}

static void
fj_refused(const char *text)
{
    json_t *v = NULL;

    ck_assert_msg(rmqctl_json_load(text, strlen(text), &v) != 0, "accepted: %s",
                  text);
    ck_assert(v == NULL);
}

START_TEST(test_fastjson_standard_json_passes_through)
{
    json_t *v = fj_load(" {\"a\":[1,2.5,true,null,\"x\\\"}\"],\"b\":{}} ");

    ck_assert_int_eq(
        json_integer_value(json_array_get(json_object_get(v, "a"), 0)), 1);
    ck_assert_str_eq(
        json_string_value(json_array_get(json_object_get(v, "a"), 4)), "x\"}");
    ck_assert(json_is_object(json_object_get(v, "b")));
    json_decref(v);
}
END_TEST

START_TEST(test_fastjson_bare_numeric_keys_are_quoted)
{
    json_t *v = fj_load("{\"brokerAddrs\":{0:\"127.0.0.1:10911\",1:\"b\"}}");
    json_t *a = json_object_get(v, "brokerAddrs");

    ck_assert_str_eq(json_string_value(json_object_get(a, "0")),
                     "127.0.0.1:10911");
    ck_assert_str_eq(json_string_value(json_object_get(a, "1")), "b");
    json_decref(v);
}
END_TEST

START_TEST(test_fastjson_object_keys_become_pairs)
{
    const char *text =
        "{\"consumeTps\":0.0,\"offsetTable\":{"
        "{\"brokerName\":\"b\",\"queueId\":0,\"topic\":\"t\"}:"
        "{\"brokerOffset\":5,\"consumerOffset\":3,\"lastTimestamp\":7},"
        "{\"brokerName\":\"b\",\"queueId\":1,\"topic\":\"t:{x}\"}:"
        "{\"brokerOffset\":1,\"consumerOffset\":1,\"lastTimestamp\":0}}}";
    json_t *v = fj_load(text);
    json_t *t = json_object_get(v, "offsetTable");

    ck_assert(json_is_array(t));
    ck_assert_int_eq(json_array_size(t), 2);
    ck_assert_int_eq(
        json_integer_value(json_object_get(
            json_object_get(json_array_get(t, 0), "key"), "queueId")),
        0);
    ck_assert_int_eq(
        json_integer_value(json_object_get(
            json_object_get(json_array_get(t, 0), "value"), "brokerOffset")),
        5);
    ck_assert_str_eq(
        json_string_value(json_object_get(
            json_object_get(json_array_get(t, 1), "key"), "topic")),
        "t:{x}");
    json_decref(v);
}
END_TEST

static void
fj_count(json_t *key, json_t *value, void *arg)
{
    ck_assert(key != NULL && value != NULL);
    (*(int *)arg)++;
}

START_TEST(test_fastjson_map_each_walks_both_forms)
{
    json_t *pairs = fj_load("{{\"q\":1}:2,{\"q\":2}:3}");
    json_t *obj = fj_load("{\"a\":1,\"b\":2,\"c\":3}");
    json_t *empty = fj_load("{}");
    int     n = 0;

    rmqctl_json_map_each(pairs, fj_count, &n);
    ck_assert_int_eq(n, 2);
    n = 0;
    rmqctl_json_map_each(obj, fj_count, &n);
    ck_assert_int_eq(n, 3);
    n = 0;
    rmqctl_json_map_each(empty, fj_count, &n);
    ck_assert_int_eq(n, 0);
    json_decref(pairs);
    json_decref(obj);
    json_decref(empty);
}
END_TEST

/* levels nested arrays, "[[...]]", into buf. */
static const char *
fj_nested(char *buf, int levels)
{
    memset(buf, '[', (size_t)levels);
    memset(buf + levels, ']', (size_t)levels);
    buf[2 * levels] = '\0';
    return buf;
}

START_TEST(test_fastjson_malformed_text_is_refused)
{
    char deep[2 * (FJ_DEPTH_MAX + 1) + 1];

    fj_refused("");
    fj_refused("{");
    fj_refused("{\"a\":}");
    fj_refused("{\"a\":1,}");
    fj_refused("{\"a\" 1}");
    fj_refused("[1 2]");
    fj_refused("\"unterminated");
    fj_refused("{\"a\":1} x");
    fj_refused("{{\"q\":1}:}");
    /* well-formed, but one level deeper than the limit */
    fj_refused(fj_nested(deep, FJ_DEPTH_MAX + 1));
    json_decref(fj_load(fj_nested(deep, FJ_DEPTH_MAX)));
}
END_TEST

static Suite *
fastjson_suite(void)
{
    Suite *s = suite_create("cli.fastjson");
    TCase *tc = tcase_create("load");

    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, test_fastjson_standard_json_passes_through);
    tcase_add_test(tc, test_fastjson_bare_numeric_keys_are_quoted);
    tcase_add_test(tc, test_fastjson_object_keys_become_pairs);
    tcase_add_test(tc, test_fastjson_map_each_walks_both_forms);
    tcase_add_test(tc, test_fastjson_malformed_text_is_refused);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return rmqtest_run_suite(fastjson_suite());
}
