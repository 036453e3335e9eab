/*
 * test_inflight.c - Check suite "client.inflight": a push consumer's
 * in-flight offsets (client/push.h): the offset committed is always the
 * smallest one not yet consumed, so a crash never skips a message.  Pure
 * data structure; no threads, no processes.
 */
#include "client/push.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

static push_pq *pq;

static void
setup(void)
{
    pq = calloc(1, sizeof(*pq));
    atomic_init(&pq->refs, 1);
    pq->next_offset = -1;
}

static void
teardown(void)
{
    rmq_push_pq_release(pq);
}

static void
start_at(int64_t off)
{
    pq->ready = true;
    pq->next_offset = off;
}

START_TEST(test_inflight_unknown_start_commits_nothing)
{
    ck_assert_int_eq(rmq_push_pq_consumed(pq), -1);
    start_at(7);
    ck_assert_int_eq(rmq_push_pq_consumed(pq), 7);
}
END_TEST

START_TEST(test_inflight_commit_is_smallest_unconsumed)
{
    start_at(10);
    for (int64_t o = 10; o < 15; o++) {
        ck_assert_int_eq(rmq_push_pq_track(pq, o), 0);
    }
    pq->next_offset = 15;
    ck_assert_uint_eq(pq->cached, 5);
    ck_assert_int_eq(rmq_push_pq_consumed(pq), 10);
    rmq_push_pq_settle(pq, 12);
    rmq_push_pq_settle(pq, 14);
    ck_assert_int_eq(rmq_push_pq_consumed(pq), 10); /* 10 not done yet */
    rmq_push_pq_settle(pq, 10);
    ck_assert_int_eq(rmq_push_pq_consumed(pq), 11);
    rmq_push_pq_settle(pq, 11);
    ck_assert_int_eq(rmq_push_pq_consumed(pq), 13);
    rmq_push_pq_settle(pq, 13);
    ck_assert_uint_eq(pq->cached, 0);
    /* all done: everything pulled so far is consumed */
    ck_assert_int_eq(rmq_push_pq_consumed(pq), 15);
}
END_TEST

START_TEST(test_inflight_settle_twice_or_unknown_is_harmless)
{
    start_at(0);
    ck_assert_int_eq(rmq_push_pq_track(pq, 0), 0);
    ck_assert_int_eq(rmq_push_pq_track(pq, 1), 0);
    rmq_push_pq_settle(pq, 1);
    rmq_push_pq_settle(pq, 1);
    rmq_push_pq_settle(pq, 99);
    ck_assert_uint_eq(pq->cached, 1);
    ck_assert_int_eq(rmq_push_pq_consumed(pq), 0);
}
END_TEST

START_TEST(test_inflight_duplicates_are_refused)
{
    start_at(0);
    ck_assert_int_eq(rmq_push_pq_track(pq, 5), 0);
    ck_assert_int_eq(rmq_push_pq_track(pq, 5), RMQ_CLIENT_ERR_INVALID);
    ck_assert_uint_eq(pq->cached, 1);
}
END_TEST

START_TEST(test_inflight_out_of_order_offsets_stay_sorted)
{
    start_at(0);
    ck_assert_int_eq(rmq_push_pq_track(pq, 20), 0);
    ck_assert_int_eq(rmq_push_pq_track(pq, 21), 0);
    /* the broker moved an illegal offset back */
    ck_assert_int_eq(rmq_push_pq_track(pq, 3), 0);
    ck_assert_int_eq(rmq_push_pq_consumed(pq), 3);
    rmq_push_pq_settle(pq, 3);
    ck_assert_int_eq(rmq_push_pq_consumed(pq), 20);
}
END_TEST

START_TEST(test_inflight_many_with_random_settling)
{
    int64_t next = 1000;
    int     live[5000] = {0};

    start_at(next);
    srand(42);
    for (int round = 0; round < 50; round++) {
        for (int i = 0; i < 100; i++, next++) {
            ck_assert_int_eq(rmq_push_pq_track(pq, next), 0);
            live[next - 1000] = 1;
        }
        pq->next_offset = next;
        for (int i = 0; i < 90; i++) {
            int64_t o = 1000 + rand() % (int)(next - 1000);
            rmq_push_pq_settle(pq, o);
            live[o - 1000] = 0;
        }
        {
            int64_t want = next;
            for (int64_t o = 1000; o < next; o++) {
                if (live[o - 1000]) {
                    want = o;
                    break;
                }
            }
            ck_assert_int_eq(rmq_push_pq_consumed(pq), want);
        }
    }
}
END_TEST

static Suite *
inflight_suite(void)
{
    Suite *s = suite_create("client.inflight");
    TCase *tc = tcase_create("offsets");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, test_inflight_unknown_start_commits_nothing);
    tcase_add_test(tc, test_inflight_commit_is_smallest_unconsumed);
    tcase_add_test(tc, test_inflight_settle_twice_or_unknown_is_harmless);
    tcase_add_test(tc, test_inflight_duplicates_are_refused);
    tcase_add_test(tc, test_inflight_out_of_order_offsets_stay_sorted);
    tcase_add_test(tc, test_inflight_many_with_random_settling);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(inflight_suite());
    int      failed;

    srunner_run_all(sr, CK_ENV);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
