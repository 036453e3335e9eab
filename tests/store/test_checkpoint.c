/*
 * test_checkpoint.c - store.checkpoint: the 4096-byte checkpoint file,
 * its big-endian layout, round trip, missing and short files, safe time.
 */
#include "common/err.h"
#include "store/checkpoint.h"
#include "store_test.h"

START_TEST(test_checkpoint_write_uses_spec_layout)
{
    rmq_ckpt cp = {0x0102030405060708LL, 1700000000123LL, 1700000000456LL, 0,
                   0};
    uint8_t  b[4096];
    int      fd;

    ck_assert_int_eq(rmq_ckpt_write(st_path("checkpoint"), &cp), 0);
    ck_assert_int_eq(st_file_size(st_path("checkpoint")), 4096);
    fd = open(st_path("checkpoint"), O_RDONLY);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(read(fd, b, sizeof(b)), 4096);
    close(fd);
    /* physicMsgTimestamp at 0, byte by byte, big-endian */
    ck_assert_uint_eq(b[0], 0x01);
    ck_assert_uint_eq(b[7], 0x08);
    ck_assert_uint_eq(rmq_be64(b + 8), 1700000000123ULL);
    ck_assert_uint_eq(rmq_be64(b + 16), 1700000000456ULL);
    ck_assert_uint_eq(rmq_be64(b + 24), 0);
}
END_TEST

START_TEST(test_checkpoint_round_trip_keeps_other_bytes)
{
    rmq_ckpt       cp = {11, 22, 33, 44, 55}, rd;
    static uint8_t tail[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    uint8_t        got[8];
    int            fd;

    ck_assert_int_eq(rmq_ckpt_write(st_path("checkpoint"), &cp), 0);
    st_poke(st_path("checkpoint"), 100, tail, sizeof(tail));
    cp.physic_ms = 12;
    ck_assert_int_eq(rmq_ckpt_write(st_path("checkpoint"), &cp), 0);
    ck_assert_int_eq(rmq_ckpt_read(st_path("checkpoint"), &rd), 0);
    ck_assert_int_eq(rd.physic_ms, 12);
    ck_assert_int_eq(rd.logics_ms, 22);
    ck_assert_int_eq(rd.index_ms, 33);
    ck_assert_int_eq(rd.master_flushed, 44);
    ck_assert_int_eq(rd.confirm_offset, 55);
    fd = open(st_path("checkpoint"), O_RDONLY);
    ck_assert_int_eq(pread(fd, got, 8, 100), 8);
    close(fd);
    ck_assert_mem_eq(got, tail, 8);
}
END_TEST

START_TEST(test_checkpoint_missing_file_is_notfound_and_zero)
{
    rmq_ckpt rd;

    memset(&rd, 0xFF, sizeof(rd));
    ck_assert_int_eq(rmq_ckpt_read(st_path("checkpoint"), &rd),
                     RMQ_ERR_NOTFOUND);
    ck_assert_int_eq(rd.physic_ms, 0);
    ck_assert_int_eq(rd.logics_ms, 0);
}
END_TEST

START_TEST(test_checkpoint_short_file_reads_zero_padded)
{
    rmq_ckpt rd;
    uint8_t  b[12] = {0, 0, 0, 0, 0, 0, 0x03, 0xE8, 0, 0, 0, 0};
    int      fd = open(st_path("checkpoint"), O_CREAT | O_WRONLY, 0644);

    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, b, sizeof(b)), 12);
    close(fd);
    ck_assert_int_eq(rmq_ckpt_read(st_path("checkpoint"), &rd), 0);
    ck_assert_int_eq(rd.physic_ms, 1000);
    ck_assert_int_eq(rd.logics_ms, 0);
}
END_TEST

START_TEST(test_checkpoint_safe_time_is_min_minus_3s)
{
    rmq_ckpt cp = {10000, 8000, 2000, 0, 0};

    ck_assert_int_eq(rmq_ckpt_safe_ms(&cp, false), 5000);
    ck_assert_int_eq(rmq_ckpt_safe_ms(&cp, true), 2000);
    cp.logics_ms = 1000;
    ck_assert_int_eq(rmq_ckpt_safe_ms(&cp, false), 0);
}
END_TEST

static Suite *
checkpoint_suite(void)
{
    Suite *s = suite_create("store.checkpoint");
    TCase *tc = tcase_create("file");

    tcase_add_checked_fixture(tc, st_setup, st_teardown);
    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, test_checkpoint_write_uses_spec_layout);
    tcase_add_test(tc, test_checkpoint_round_trip_keeps_other_bytes);
    tcase_add_test(tc, test_checkpoint_missing_file_is_notfound_and_zero);
    tcase_add_test(tc, test_checkpoint_short_file_reads_zero_padded);
    tcase_add_test(tc, test_checkpoint_safe_time_is_min_minus_3s);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(checkpoint_suite());
    int      failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
