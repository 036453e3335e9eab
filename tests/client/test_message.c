/*
 * test_message.c - Check suite "client.message": messages to send and
 * their properties (client/cmsg.h): setters and getters, reserved names,
 * separators, and the property-list parser's Java semantics.  Pure.
 */
#include "client/cmsg.h"

#include "common/buf.h"
#include "rmq/client.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static rmq_message *m;

static void
setup(void)
{
    ck_assert_int_eq(rmq_message_new("T", "b", 1, &m, NULL), 0);
}

static void
teardown(void)
{
    rmq_message_free(m);
}

START_TEST(test_message_new_needs_a_topic)
{
    rmq_message *x = NULL;
    rmq_error    err;

    ck_assert_int_eq(rmq_message_new("", "b", 1, &x, &err),
                     RMQ_CLIENT_ERR_INVALID);
    ck_assert_int_eq(err.code, RMQ_CLIENT_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(err.message, "topic"));
    ck_assert_ptr_null(x);
    ck_assert_int_eq(rmq_message_new(NULL, "b", 1, &x, NULL),
                     RMQ_CLIENT_ERR_INVALID);
}
END_TEST

START_TEST(test_message_setters_and_getters)
{
    size_t len;

    ck_assert_str_eq(rmq_message_get_topic(m), "T");
    ck_assert_int_eq(rmq_message_set_tags(m, "TagA", NULL), 0);
    ck_assert_int_eq(rmq_message_set_keys(m, "k1 k2", NULL), 0);
    ck_assert_int_eq(rmq_message_set_delay_level(m, 18, NULL), 0);
    ck_assert_int_eq(rmq_message_set_property(m, "color", "red", NULL), 0);
    ck_assert_int_eq(rmq_message_set_body(m, "new body", 8, NULL), 0);
    ck_assert_str_eq(rmq_message_get_tags(m), "TagA");
    ck_assert_str_eq(rmq_message_get_keys(m), "k1 k2");
    ck_assert_int_eq(rmq_message_get_delay_level(m), 18);
    ck_assert_str_eq(rmq_message_get_property(m, "color"), "red");
    ck_assert_str_eq(rmq_message_get_property(m, "DELAY"), "18");
    ck_assert_mem_eq(rmq_message_get_body(m, &len), "new body", 8);
    ck_assert_uint_eq(len, 8);
}
END_TEST

START_TEST(test_message_clearing_removes_properties)
{
    ck_assert_int_eq(rmq_message_set_tags(m, "TagA", NULL), 0);
    ck_assert_int_eq(rmq_message_set_tags(m, NULL, NULL), 0);
    ck_assert_ptr_null(rmq_message_get_tags(m));
    ck_assert_int_eq(rmq_message_set_delay_level(m, 2, NULL), 0);
    ck_assert_int_eq(rmq_message_set_delay_level(m, 0, NULL), 0);
    ck_assert_int_eq(rmq_message_get_delay_level(m), 0);
    ck_assert_int_eq(rmq_message_set_property(m, "p", "v", NULL), 0);
    ck_assert_int_eq(rmq_message_set_property(m, "p", NULL, NULL), 0);
    ck_assert_ptr_null(rmq_message_get_property(m, "p"));
}
END_TEST

START_TEST(test_message_rejects_reserved_names_and_separators)
{
    rmq_error err;

    ck_assert_int_eq(rmq_message_set_property(m, "UNIQ_KEY", "x", &err),
                     RMQ_CLIENT_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(err.message, "reserved"));
    ck_assert_int_eq(rmq_message_set_property(m, "TAGS", "x", NULL),
                     RMQ_CLIENT_ERR_INVALID);
    ck_assert_int_eq(rmq_message_set_property(m,
                                              "a\x01"
                                              "b",
                                              "x", NULL),
                     RMQ_CLIENT_ERR_INVALID);
    ck_assert_int_eq(rmq_message_set_property(m, "k",
                                              "a\x02"
                                              "b",
                                              NULL),
                     RMQ_CLIENT_ERR_INVALID);
    ck_assert_int_eq(rmq_message_set_tags(m, "a\x01", NULL),
                     RMQ_CLIENT_ERR_INVALID);
    ck_assert_int_eq(rmq_message_set_delay_level(m, 19, NULL),
                     RMQ_CLIENT_ERR_INVALID);
    ck_assert_int_eq(rmq_message_set_delay_level(m, -1, NULL),
                     RMQ_CLIENT_ERR_INVALID);
}
END_TEST

START_TEST(test_plist_parse_follows_java)
{
    const char text[] = "\x02"
                        "A\x01"
                        "1\x02"
                        "noval\x02"
                        "\x01"
                        "x\x02"
                        "B\x01\x02"
                        "A\x01"
                        "2\x02"
                        "C\x01"
                        "x\x01"
                        "y\x02";
    rmq_plist  l = {0};

    ck_assert_int_eq(rmq_plist_parse(&l, text, sizeof(text) - 1), 0);
    ck_assert_uint_eq(l.n, 2);
    ck_assert_str_eq(rmq_plist_get(&l, "A"), "2");      /* later wins */
    ck_assert_str_eq(rmq_plist_get(&l, "C"), "x\x01y"); /* first U+0001 */
    ck_assert_ptr_null(rmq_plist_get(&l, "B"));         /* empty value */
    ck_assert_ptr_null(rmq_plist_get(&l, "noval"));
    rmq_plist_free(&l);
}
END_TEST

START_TEST(test_plist_write_then_parse_round_trips)
{
    rmq_plist a = {0}, b = {0};
    rmq_buf   out;

    rmq_buf_init(&out);
    ck_assert_int_eq(rmq_plist_set(&a, "K1", "v1"), 0);
    ck_assert_int_eq(rmq_plist_set(&a, "K2", "ünïcödé"), 0);
    ck_assert_int_eq(rmq_plist_set(&a, "K1", "v1b"), 0);
    rmq_plist_write(&a, &out);
    ck_assert_str_eq(rmq_buf_cstr(&out), "K1\x01v1b\x02K2\x01ünïcödé");
    ck_assert_int_eq(rmq_plist_parse(&b, (const char *)out.data, out.len), 0);
    ck_assert_uint_eq(b.n, 2);
    ck_assert_str_eq(rmq_plist_get(&b, "K2"), "ünïcödé");
    rmq_plist_del(&b, "K1");
    ck_assert_uint_eq(b.n, 1);
    ck_assert_str_eq(b.keys[0], "K2");
    rmq_plist_free(&a);
    rmq_plist_free(&b);
    rmq_buf_free(&out);
}
END_TEST

START_TEST(test_plist_has_no_entry_limit)
{
    rmq_plist l = {0};
    rmq_buf   text;
    char      k[16];

    rmq_buf_init(&text);
    for (int i = 0; i < 200; i++) {
        rmq_buf_printf(&text, "key%d\x01v\x02", i);
    }
    ck_assert_int_eq(rmq_plist_parse(&l, (const char *)text.data, text.len), 0);
    ck_assert_uint_eq(l.n, 200);
    snprintf(k, sizeof(k), "key%d", 199);
    ck_assert_str_eq(rmq_plist_get(&l, k), "v");
    rmq_plist_free(&l);
    rmq_buf_free(&text);
}
END_TEST

START_TEST(test_client_strerror_names_every_code)
{
    for (int c = RMQ_CLIENT_OK; c <= RMQ_CLIENT_ERR_SYS; c++) {
        ck_assert_str_ne(rmq_client_strerror(c), "unknown error");
    }
    ck_assert_str_eq(rmq_client_strerror(999), "unknown error");
}
END_TEST

static Suite *
message_suite(void)
{
    Suite *s = suite_create("client.message");
    TCase *tc = tcase_create("properties");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, test_message_new_needs_a_topic);
    tcase_add_test(tc, test_message_setters_and_getters);
    tcase_add_test(tc, test_message_clearing_removes_properties);
    tcase_add_test(tc, test_message_rejects_reserved_names_and_separators);
    tcase_add_test(tc, test_plist_parse_follows_java);
    tcase_add_test(tc, test_plist_write_then_parse_round_trips);
    tcase_add_test(tc, test_plist_has_no_entry_limit);
    tcase_add_test(tc, test_client_strerror_names_every_code);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(message_suite());
    int      failed;

    srunner_run_all(sr, CK_ENV);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
