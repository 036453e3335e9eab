/*
 * test_batch.c - Check suite "client.batch": the SEND_BATCH_MESSAGE body
 * (spec remoting-protocol.md 6.3) byte for byte, and the properties text
 * a message is sent with (client/record.h).  Pure functions.
 */
#include "client/record.h"

#include "common/buf.h"
#include "rmq/client.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

static rmq_message *m1, *m2;
static rmq_buf      out;

static void
setup(void)
{
    rmq_buf_init(&out);
    ck_assert_int_eq(rmq_message_new("T", "hello", 5, &m1, NULL), 0);
    ck_assert_int_eq(rmq_message_set_flag(m1, 7, NULL), 0);
    ck_assert_int_eq(rmq_message_set_tags(m1, "TagA", NULL), 0);
    ck_assert_int_eq(rmq_message_new("T", "xy", 2, &m2, NULL), 0);
    ck_assert_int_eq(rmq_message_set_keys(m2, "k1 k2", NULL), 0);
    ck_assert_int_eq(rmq_message_set_property(m2, "p", "v", NULL), 0);
}

static void
teardown(void)
{
    rmq_message_free(m1);
    rmq_message_free(m2);
    rmq_buf_free(&out);
}

/* message 1: totalSize 58, magic 0, crc 0, flag 7, body, props (31) */
static const char expect1[] = "\x00\x00\x00\x3a"
                              "\x00\x00\x00\x00"
                              "\x00\x00\x00\x00"
                              "\x00\x00\x00\x07"
                              "\x00\x00\x00\x05"
                              "hello"
                              "\x00\x1f"
                              "TAGS\x01"
                              "TagA\x02"
                              "UNIQ_KEY\x01"
                              "U1\x02"
                              "WAIT\x01"
                              "true";
/* message 2: totalSize 22 + 2 + 36 = 60 */
static const char expect2[] = "\x00\x00\x00\x3c"
                              "\x00\x00\x00\x00"
                              "\x00\x00\x00\x00"
                              "\x00\x00\x00\x00"
                              "\x00\x00\x00\x02"
                              "xy"
                              "\x00\x24"
                              "KEYS\x01"
                              "k1 k2\x02"
                              "p\x01"
                              "v\x02"
                              "UNIQ_KEY\x01"
                              "U2\x02"
                              "WAIT\x01"
                              "true";

START_TEST(test_batch_body_is_byte_exact)
{
    const rmq_message *msgs[] = {m1, m2};
    const char        *ids[] = {"U1", "U2"};
    size_t             n1 = sizeof(expect1) - 1, n2 = sizeof(expect2) - 1;

    ck_assert_int_eq(rmq_record_batch(msgs, 2, ids, &out), 0);
    ck_assert_uint_eq(out.len, n1 + n2);
    ck_assert_mem_eq(out.data, expect1, n1);
    ck_assert_mem_eq(out.data + n1, expect2, n2);
}
END_TEST

START_TEST(test_batch_sizes_add_up)
{
    const rmq_message *msgs[] = {m1, m2, m1};
    size_t             off = 0, n = 0;

    ck_assert_int_eq(rmq_record_batch(msgs, 3, NULL, &out), 0);
    while (off < out.len) {
        uint32_t total = ((uint32_t)out.data[off] << 24) |
                         ((uint32_t)out.data[off + 1] << 16) |
                         ((uint32_t)out.data[off + 2] << 8) | out.data[off + 3];
        ck_assert_uint_ge(total, 22);
        off += total;
        n++;
    }
    ck_assert_uint_eq(off, out.len);
    ck_assert_uint_eq(n, 3);
}
END_TEST

START_TEST(test_props_text_has_uniq_key_and_wait_last)
{
    ck_assert_int_eq(rmq_message_set_delay_level(m1, 3, NULL), 0);
    ck_assert_int_eq(rmq_record_props(m1, "ID", &out), 0);
    ck_assert_str_eq(rmq_buf_cstr(&out), "TAGS\x01TagA\x02"
                                         "DELAY\x01"
                                         "3\x02UNIQ_KEY\x01ID\x02"
                                         "WAIT\x01true");
}
END_TEST

START_TEST(test_props_text_over_32767_bytes_is_too_big)
{
    char *big = malloc(40000);

    memset(big, 'x', 39999);
    big[39999] = '\0';
    ck_assert_int_eq(rmq_message_set_property(m1, "big", big, NULL), 0);
    ck_assert_int_eq(rmq_record_props(m1, NULL, &out), RMQ_CLIENT_ERR_TOO_BIG);
    free(big);
}
END_TEST

static Suite *
batch_suite(void)
{
    Suite *s = suite_create("client.batch");
    TCase *tc = tcase_create("encode");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, test_batch_body_is_byte_exact);
    tcase_add_test(tc, test_batch_sizes_add_up);
    tcase_add_test(tc, test_props_text_has_uniq_key_and_wait_last);
    tcase_add_test(tc, test_props_text_over_32767_bytes_is_too_big);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(batch_suite());
    int      failed;

    srunner_run_all(sr, CK_ENV);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
