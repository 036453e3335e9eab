/*
 * test_msgtime.c - Check suite "broker.msgtime": the store time of a
 * queued message read back through a consume queue and the commit log
 * (broker/msgtime.h), on files written with the store library in a
 * fresh temp dir per test.
 */
#include "broker/msgtime.h"

#include "store/commitlog.h"
#include "store/cq.h"
#include "tests/store/store_test.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CL_FSZ 65536
#define CQ_FSZ (20 * 16)

static rmq_msgtime mt;
static int64_t     cl_end;

/* Three messages of topic T queue 1, stored at 1000, 2000 and 3000 ms. */
static void
write_store(void)
{
    rmq_cl      cl;
    rmq_cl_opts o = {0};
    rmq_cq      cq;
    uint8_t     rec[4096];
    char        dir[300];

    snprintf(dir, sizeof(dir), "%s/%s", st_dir, RMQ_CL_DIR);
    o.dir = dir;
    o.file_size = CL_FSZ;
    o.writable = true;
    ck_assert_int_eq(rmq_cl_open(&cl, &o), 0);
    ck_assert_int_eq(rmq_cl_start(&cl, 0), 0);
    ck_assert_int_eq(rmq_cq_open(&cq, st_dir, "T", 1, 1, CQ_FSZ, true), 0);
    for (int i = 0; i < 3; i++) {
        uint32_t len = st_make_rec(rec, sizeof(rec), "T", 1, 10, (uint32_t)i);
        rmq_cq_entry e = {0, (int32_t)len, 0};
        ck_assert_int_eq(
            rmq_cl_append(&cl, rec, len, i, 1000 * (i + 1), &e.offset), 0);
        ck_assert_int_eq(rmq_cq_put(&cq, i, &e), 0);
    }
    cl_end = rmq_cl_write_pos(&cl);
    rmq_cq_close(&cq);
    rmq_cl_close(&cl);
}

static void
setup(void)
{
    st_setup();
    ck_assert_int_eq(rmq_msgtime_init(&mt, st_dir, CL_FSZ, CQ_FSZ), 0);
}

static void
teardown(void)
{
    rmq_msgtime_fini(&mt);
    st_teardown();
}

static int64_t
get(const char *topic, int32_t q, int64_t index, int64_t qmax, int64_t end)
{
    rmq_msgtime_limits lim = {qmax, end, 1};

    return rmq_msgtime_get(&mt, topic, q, index, &lim);
}

START_TEST(test_reads_store_time_of_each_message)
{
    write_store();
    ck_assert_int_eq(get("T", 1, 0, 3, cl_end), 1000);
    ck_assert_int_eq(get("T", 1, 1, 3, cl_end), 2000);
    ck_assert_int_eq(get("T", 1, 2, 3, cl_end), 3000);
}
END_TEST

START_TEST(test_nothing_outside_published_positions)
{
    write_store();
    ck_assert_int_eq(get("T", 1, 2, 2, cl_end), 0); /* not dispatched yet */
    ck_assert_int_eq(get("T", 1, -1, 3, cl_end), 0);
    ck_assert_int_eq(get("T", 1, 2, 3, cl_end - 1), 0); /* not written yet */
    ck_assert_int_eq(get("T", 1, 0, 3, 0), 0);
}
END_TEST

START_TEST(test_unknown_queue_or_empty_store_is_zero)
{
    ck_assert_int_eq(get("T", 1, 0, 3, 100), 0); /* no files at all */
    write_store();
    ck_assert_int_eq(get("U", 1, 0, 3, cl_end), 0);
    ck_assert_int_eq(get("T", 2, 0, 3, cl_end), 0);
}
END_TEST

START_TEST(test_new_store_generation_reopens)
{
    rmq_msgtime_limits lim = {3, 0, 1};

    ck_assert_int_eq(get("T", 1, 0, 3, 100), 0); /* opened on empty dirs */
    write_store();
    lim.cl_end = cl_end;
    lim.store_gen = 2;
    ck_assert_int_eq(rmq_msgtime_get(&mt, "T", 1, 1, &lim), 2000);
}
END_TEST

static Suite *
msgtime_suite(void)
{
    Suite *s = suite_create("broker.msgtime");
    TCase *tc = tcase_create("read");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, test_reads_store_time_of_each_message);
    tcase_add_test(tc, test_nothing_outside_published_positions);
    tcase_add_test(tc, test_unknown_queue_or_empty_store_is_zero);
    tcase_add_test(tc, test_new_store_generation_reopens);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(msgtime_suite());
    int      failed;

    srunner_run_all(sr, CK_ENV);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
