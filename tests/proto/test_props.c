/*
 * test_props.c - Check suite "proto.props": message properties text
 * (proto/props.h, spec remoting-protocol.md 6.1).  Runs in the ctest
 * process only; no shared data.
 */
#include "proto/props.h"

#include "common/buf.h"
#include "common/err.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static rmq_props props;
static rmq_buf   out;

static void
setup(void)
{
    memset(&props, 0, sizeof(props));
    rmq_buf_init(&out);
}

static void
teardown(void)
{
    rmq_buf_free(&out);
}

static int
parse(const char *text)
{
    return rmq_props_parse(text, strlen(text), &props);
}

static void
assert_prop(const char *key, const char *want)
{
    uint32_t    len = 0;
    const char *v = rmq_props_get(&props, key, &len);

    ck_assert_msg(v != NULL, "property %s missing", key);
    ck_assert_uint_eq(len, strlen(want));
    ck_assert_int_eq(memcmp(v, want, len), 0);
}

static const char *
written(void)
{
    rmq_buf_reset(&out);
    rmq_props_write(&props, &out);
    ck_assert(!out.oom);
    return rmq_buf_cstr(&out);
}

/* ------------------------------------------------------------------------
 * parse
 */

START_TEST(test_parse_with_trailing_separator)
{
    ck_assert_int_eq(parse("TAGS\001tagA\002KEYS\001k1\002"), 0);
    ck_assert_uint_eq(props.n, 2);
    assert_prop("TAGS", "tagA");
    assert_prop("KEYS", "k1");
}
END_TEST

START_TEST(test_parse_without_trailing_separator)
{
    ck_assert_int_eq(parse("TAGS\001tagA\002KEYS\001k1"), 0);
    ck_assert_uint_eq(props.n, 2);
    assert_prop("KEYS", "k1");
}
END_TEST

START_TEST(test_parse_entries_point_into_text)
{
    static const char text[] = "WAIT\001true";

    ck_assert_int_eq(rmq_props_parse(text, sizeof(text) - 1, &props), 0);
    ck_assert_ptr_eq(props.p[0].key, text);
    ck_assert_ptr_eq(props.p[0].value, text + 5);
}
END_TEST

START_TEST(test_parse_empty_text_has_no_entries)
{
    ck_assert_int_eq(rmq_props_parse(NULL, 0, &props), 0);
    ck_assert_uint_eq(props.n, 0);
    ck_assert_int_eq(parse("\002\002\002"), 0);
    ck_assert_uint_eq(props.n, 0);
}
END_TEST

START_TEST(test_parse_skips_empty_items)
{
    ck_assert_int_eq(parse("\002\002A\0011\002\002\002B\0012\002"), 0);
    ck_assert_uint_eq(props.n, 2);
    assert_prop("A", "1");
    assert_prop("B", "2");
}
END_TEST

START_TEST(test_parse_skips_items_without_kv_separator)
{
    ck_assert_int_eq(parse("junk\002A\0011\002more junk"), 0);
    ck_assert_uint_eq(props.n, 1);
    assert_prop("A", "1");
}
END_TEST

START_TEST(test_parse_skips_empty_key_or_value_like_java)
{
    ck_assert_int_eq(parse("\001v\002k\001\002\001\002A\0011"), 0);
    ck_assert_uint_eq(props.n, 1);
    assert_prop("A", "1");
}
END_TEST

START_TEST(test_parse_splits_on_first_kv_separator)
{
    ck_assert_int_eq(parse("k\001a\001b"), 0);
    assert_prop("k", "a\001b");
}
END_TEST

START_TEST(test_parse_later_duplicate_replaces_earlier)
{
    ck_assert_int_eq(parse("A\0011\002B\0012\002A\0013"), 0);
    ck_assert_uint_eq(props.n, 2);
    assert_prop("A", "3");
    ck_assert_str_eq(written(), "A\0013\002B\0012");
}
END_TEST

START_TEST(test_parse_keeps_utf8)
{
    ck_assert_int_eq(parse("TAGS\001\xe6\xa0\x87\xe7\xad\xbe\002"), 0);
    assert_prop("TAGS", "\xe6\xa0\x87\xe7\xad\xbe");
}
END_TEST

static void
many_props(rmq_buf *b, int n)
{
    rmq_buf_reset(b);
    for (int i = 0; i < n; i++) {
        rmq_buf_printf(b, "k%d\001v%d\002", i, i);
    }
}

START_TEST(test_parse_more_than_max_entries_is_toobig)
{
    rmq_buf text;

    rmq_buf_init(&text);
    many_props(&text, RMQ_PROPS_MAX);
    ck_assert_int_eq(rmq_props_parse((const char *)text.data, text.len, &props),
                     0);
    ck_assert_uint_eq(props.n, RMQ_PROPS_MAX);
    many_props(&text, RMQ_PROPS_MAX + 1);
    ck_assert_int_eq(rmq_props_parse((const char *)text.data, text.len, &props),
                     RMQ_ERR_TOOBIG);
    rmq_buf_free(&text);
}
END_TEST

START_TEST(test_parse_duplicates_do_not_count_toward_max)
{
    rmq_buf text;

    rmq_buf_init(&text);
    many_props(&text, RMQ_PROPS_MAX);
    rmq_buf_append_str(&text, "k0\001again");
    ck_assert_int_eq(rmq_props_parse((const char *)text.data, text.len, &props),
                     0);
    assert_prop("k0", "again");
    rmq_buf_free(&text);
}
END_TEST

/* ------------------------------------------------------------------------
 * get / set / del / write
 */

START_TEST(test_get_absent_key_returns_null_and_leaves_len)
{
    uint32_t len = 77;

    ck_assert_int_eq(parse("A\0011"), 0);
    ck_assert_ptr_null(rmq_props_get(&props, "B", &len));
    ck_assert_ptr_null(rmq_props_get(&props, "AA", &len));
    ck_assert_ptr_null(rmq_props_get(&props, "", &len));
    ck_assert_uint_eq(len, 77);
}
END_TEST

START_TEST(test_set_replaces_existing_and_appends_new)
{
    ck_assert_int_eq(parse("A\0011\002B\0012"), 0);
    ck_assert_int_eq(rmq_props_set(&props, "A", "x"), 0);
    ck_assert_int_eq(rmq_props_set(&props, "C", "3"), 0);
    ck_assert_str_eq(written(), "A\001x\002B\0012\002C\0013");
}
END_TEST

START_TEST(test_setn_takes_values_from_another_list)
{
    rmq_props   src;
    uint32_t    len = 0;
    const char *v;

    ck_assert_int_eq(rmq_props_parse("TAGS\001tagA\002", 10, &src), 0);
    v = rmq_props_get(&src, "TAGS", &len);
    ck_assert_int_eq(rmq_props_setn(&props, "TAGSX", 4, v, len), 0);
    ck_assert_str_eq(written(), "TAGS\001tagA");
}
END_TEST

START_TEST(test_set_rejects_what_would_not_read_back)
{
    ck_assert_int_eq(rmq_props_set(&props, "", "v"), RMQ_ERR_INVAL);
    ck_assert_int_eq(rmq_props_set(&props, "k", ""), RMQ_ERR_INVAL);
    ck_assert_int_eq(rmq_props_set(&props, "k\001", "v"), RMQ_ERR_INVAL);
    ck_assert_int_eq(rmq_props_set(&props, "k\002", "v"), RMQ_ERR_INVAL);
    ck_assert_int_eq(rmq_props_set(&props, "k", "v\002"), RMQ_ERR_INVAL);
    ck_assert_uint_eq(props.n, 0);
}
END_TEST

START_TEST(test_set_beyond_max_is_toobig)
{
    static char keys[RMQ_PROPS_MAX][8];

    for (int i = 0; i < RMQ_PROPS_MAX; i++) {
        snprintf(keys[i], sizeof(keys[i]), "k%d", i);
        ck_assert_int_eq(rmq_props_set(&props, keys[i], "v"), 0);
    }
    ck_assert_int_eq(rmq_props_set(&props, "one more", "v"), RMQ_ERR_TOOBIG);
    ck_assert_int_eq(rmq_props_set(&props, "k0", "replaced"), 0);
    ck_assert_uint_eq(props.n, RMQ_PROPS_MAX);
}
END_TEST

START_TEST(test_del_removes_and_keeps_order)
{
    ck_assert_int_eq(parse("A\0011\002B\0012\002C\0013"), 0);
    rmq_props_del(&props, "B");
    rmq_props_del(&props, "absent");
    ck_assert_uint_eq(props.n, 2);
    ck_assert_str_eq(written(), "A\0011\002C\0013");
    rmq_props_del(&props, "C");
    rmq_props_del(&props, "A");
    ck_assert_str_eq(written(), "");
}
END_TEST

START_TEST(test_write_appends_without_trailing_separator)
{
    rmq_buf_append_str(&out, "prefix:");
    ck_assert_int_eq(rmq_props_set(&props, "WAIT", "true"), 0);
    rmq_props_write(&props, &out);
    ck_assert_str_eq(rmq_buf_cstr(&out), "prefix:WAIT\001true");
}
END_TEST

START_TEST(test_set_del_write_parse_round_trip)
{
    rmq_props back;
    char      text[256];

    ck_assert_int_eq(parse("TAGS\001tagA\002KEYS\001k1 k2\002"), 0);
    ck_assert_int_eq(rmq_props_set(&props, "UNIQ_KEY", "0A0000010000"), 0);
    ck_assert_int_eq(rmq_props_set(&props, "TAGS", "tagB"), 0);
    rmq_props_del(&props, "KEYS");
    ck_assert_str_eq(written(), "TAGS\001tagB\002UNIQ_KEY\0010A0000010000");
    /* out is reused by written(): copy before parsing back */
    snprintf(text, sizeof(text), "%s", rmq_buf_cstr(&out));
    ck_assert_int_eq(rmq_props_parse(text, strlen(text), &back), 0);
    ck_assert_uint_eq(back.n, 2);
    memcpy(&props, &back, sizeof(back));
    assert_prop("TAGS", "tagB");
    assert_prop("UNIQ_KEY", "0A0000010000");
}
END_TEST

static TCase *
tc_new(const char *name)
{
    TCase *tc = tcase_create(name);

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 10);
    return tc;
}

static Suite *
props_suite(void)
{
    Suite *s = suite_create("proto.props");
    TCase *tc;

    tc = tc_new("parse");
    tcase_add_test(tc, test_parse_with_trailing_separator);
    tcase_add_test(tc, test_parse_without_trailing_separator);
    tcase_add_test(tc, test_parse_entries_point_into_text);
    tcase_add_test(tc, test_parse_empty_text_has_no_entries);
    tcase_add_test(tc, test_parse_skips_empty_items);
    tcase_add_test(tc, test_parse_skips_items_without_kv_separator);
    tcase_add_test(tc, test_parse_skips_empty_key_or_value_like_java);
    tcase_add_test(tc, test_parse_splits_on_first_kv_separator);
    tcase_add_test(tc, test_parse_later_duplicate_replaces_earlier);
    tcase_add_test(tc, test_parse_keeps_utf8);
    tcase_add_test(tc, test_parse_more_than_max_entries_is_toobig);
    tcase_add_test(tc, test_parse_duplicates_do_not_count_toward_max);
    suite_add_tcase(s, tc);

    tc = tc_new("edit");
    tcase_add_test(tc, test_get_absent_key_returns_null_and_leaves_len);
    tcase_add_test(tc, test_set_replaces_existing_and_appends_new);
    tcase_add_test(tc, test_setn_takes_values_from_another_list);
    tcase_add_test(tc, test_set_rejects_what_would_not_read_back);
    tcase_add_test(tc, test_set_beyond_max_is_toobig);
    tcase_add_test(tc, test_del_removes_and_keeps_order);
    tcase_add_test(tc, test_write_appends_without_trailing_separator);
    tcase_add_test(tc, test_set_del_write_parse_round_trip);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(props_suite());
    int      failed;

    srunner_run_all(sr, CK_ENV);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
