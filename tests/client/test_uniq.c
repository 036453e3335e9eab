/*
 * test_uniq.c - Check suite "client.uniq": UNIQ_KEY message ids
 * (client/uniq.h, spec remoting-protocol.md 6.4) and the client address.
 * Pure functions; no processes.
 */
#include "client/uniq.h"

#include "common/util.h"

#include <check.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static rmq_uniq      u;
static const uint8_t ip4[4] = {10, 0, 0, 5};

static void
setup(void)
{
    rmq_uniq_init(&u, ip4, 4, 0x12345678u, (int32_t)0xCAFEBABE);
}

static void
teardown(void)
{
    rmq_uniq_fini(&u);
}

START_TEST(test_uniq_ipv4_id_is_32_uppercase_hex_chars)
{
    char id[64];

    rmq_uniq_next(&u, rmq_now_ms(), id);
    ck_assert_uint_eq(strlen(id), 32);
    for (size_t i = 0; i < 32; i++) {
        ck_assert_msg(isxdigit((unsigned char)id[i]) &&
                          !islower((unsigned char)id[i]),
                      "char %zu of %s", i, id);
    }
}
END_TEST

START_TEST(test_uniq_prefix_is_ip_pid_low_bits_and_instance)
{
    char id[64];

    rmq_uniq_next(&u, rmq_now_ms(), id);
    /* 0A000005 | pid 0x5678 | CAFEBABE */
    ck_assert_int_eq(strncmp(id, "0A0000055678CAFEBABE", 20), 0);
}
END_TEST

START_TEST(test_uniq_time_is_ms_since_start_of_local_month)
{
    int64_t now = rmq_now_ms(), start, next;
    char    id[64];
    uint8_t raw[16];

    rmq_uniq_month(now, &start, &next);
    ck_assert(start <= now && now < next);
    ck_assert(next - start >= 28LL * 86400 * 1000 - 3600 * 1000);
    rmq_uniq_next(&u, now, id);
    ck_assert_int_eq(rmq_hex_decode(id, 32, raw, sizeof(raw)), 16);
    ck_assert_uint_eq(rmq_be32(raw + 10), (uint32_t)(now - start));
}
END_TEST

START_TEST(test_uniq_month_start_is_midnight_of_the_first)
{
    int64_t   start, next;
    time_t    t;
    struct tm tm;

    rmq_uniq_month(rmq_now_ms(), &start, &next);
    t = (time_t)(start / 1000);
    localtime_r(&t, &tm);
    ck_assert_int_eq(tm.tm_mday, 1);
    ck_assert_int_eq(tm.tm_hour, 0);
    ck_assert_int_eq(tm.tm_min, 0);
    t = (time_t)(next / 1000);
    localtime_r(&t, &tm);
    ck_assert_int_eq(tm.tm_mday, 1);
}
END_TEST

START_TEST(test_uniq_counter_makes_ids_distinct)
{
    int64_t now = rmq_now_ms();
    char    a[64], b[64];
    uint8_t ra[16], rb[16];

    rmq_uniq_next(&u, now, a);
    rmq_uniq_next(&u, now, b);
    ck_assert_str_ne(a, b);
    rmq_hex_decode(a, 32, ra, sizeof(ra));
    rmq_hex_decode(b, 32, rb, sizeof(rb));
    ck_assert_uint_eq((uint16_t)(rmq_be16(ra + 14) + 1), rmq_be16(rb + 14));
}
END_TEST

START_TEST(test_uniq_ipv6_id_is_56_hex_chars)
{
    rmq_uniq u6;
    uint8_t  ip6[16] = {0x20, 0x01, 0x0d, 0xb8};
    char     id[64];

    rmq_uniq_init(&u6, ip6, 16, 1, 2);
    rmq_uniq_next(&u6, rmq_now_ms(), id);
    ck_assert_uint_eq(strlen(id), 56);
    ck_assert_int_eq(strncmp(id, "20010DB8", 8), 0);
    rmq_uniq_fini(&u6);
}
END_TEST

START_TEST(test_uniq_client_ip_is_an_ipv4_address)
{
    uint8_t ip[16];
    size_t  len;
    char    text[64];

    rmq_client_ip(ip, &len, text, sizeof(text));
    ck_assert_uint_eq(len, 4);
    ck_assert_ptr_nonnull(strchr(text, '.'));
}
END_TEST

static Suite *
uniq_suite(void)
{
    Suite *s = suite_create("client.uniq");
    TCase *tc = tcase_create("format");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, test_uniq_ipv4_id_is_32_uppercase_hex_chars);
    tcase_add_test(tc, test_uniq_prefix_is_ip_pid_low_bits_and_instance);
    tcase_add_test(tc, test_uniq_time_is_ms_since_start_of_local_month);
    tcase_add_test(tc, test_uniq_month_start_is_midnight_of_the_first);
    tcase_add_test(tc, test_uniq_counter_makes_ids_distinct);
    tcase_add_test(tc, test_uniq_ipv6_id_is_56_hex_chars);
    tcase_add_test(tc, test_uniq_client_ip_is_an_ipv4_address);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(uniq_suite());
    int      failed;

    srunner_run_all(sr, CK_ENV);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
