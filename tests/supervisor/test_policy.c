/*
 * test_policy.c - suite supervisor.policy: the restart policy of
 * supervisor/policy.c (crash window per actor, intensity, backoff).
 * Pure functions: no processes, no files.  The file under test is linked
 * in by tests/CMakeLists.txt.
 */
#include "supervisor/policy.h"

#include "tests/support/rmqtest.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

static rmq_restart_window *win;

static void
policy_setup(void)
{
    win = calloc(1, sizeof(*win));
    ck_assert_ptr_nonnull(win);
}

static void
policy_teardown(void)
{
    free(win);
    win = NULL;
}

/* ---- intensity --------------------------------------------------------- */

START_TEST(test_policy_exits_up_to_intensity_are_not_a_crash_loop)
{
    ck_assert(!rmq_policy_record(win, 1000, 3, 10));
    ck_assert(!rmq_policy_record(win, 1100, 3, 10));
    ck_assert(!rmq_policy_record(win, 1200, 3, 10));
    ck_assert_uint_eq(rmq_policy_recent(win, 1200, 10), 3);
}
END_TEST

START_TEST(test_policy_one_exit_over_intensity_within_period_is_a_crash_loop)
{
    for (int i = 0; i < 3; i++) {
        ck_assert(!rmq_policy_record(win, 1000 + i * 100, 3, 10));
    }
    ck_assert(rmq_policy_record(win, 1300, 3, 10));
    ck_assert_uint_eq(rmq_policy_recent(win, 1300, 10), 4);
}
END_TEST

START_TEST(test_policy_intensity_zero_makes_the_first_exit_fatal)
{
    ck_assert(rmq_policy_record(win, 5000, 0, 30));
}
END_TEST

START_TEST(test_policy_exits_spread_wider_than_period_never_loop)
{
    /* intensity 2 per 10 s, one exit every 6 s: at most 2 in any window */
    for (int i = 0; i < 50; i++) {
        ck_assert_msg(
            !rmq_policy_record(win, 100000 + (int64_t)i * 6000, 2, 10),
            "exit %d counted as a crash loop", i);
    }
}
END_TEST

/* ---- ageing ------------------------------------------------------------ */

START_TEST(test_policy_old_exits_age_out_of_the_window)
{
    ck_assert(!rmq_policy_record(win, 1000, 2, 10));
    ck_assert(!rmq_policy_record(win, 2000, 2, 10));
    ck_assert_uint_eq(rmq_policy_recent(win, 2000, 10), 2);
    /* 10 s after the first exit it no longer counts */
    ck_assert_uint_eq(rmq_policy_recent(win, 11000, 10), 1);
    ck_assert_uint_eq(rmq_policy_recent(win, 12000, 10), 0);
    /* so two more exits are again within the limit */
    ck_assert(!rmq_policy_record(win, 12500, 2, 10));
    ck_assert(!rmq_policy_record(win, 12600, 2, 10));
    ck_assert(rmq_policy_record(win, 12700, 2, 10));
}
END_TEST

START_TEST(test_policy_exit_exactly_one_period_ago_no_longer_counts)
{
    rmq_policy_record(win, 1000, 5, 10);
    ck_assert_uint_eq(rmq_policy_recent(win, 10999, 10), 1);
    ck_assert_uint_eq(rmq_policy_recent(win, 11000, 10), 0);
}
END_TEST

START_TEST(test_policy_empty_window_counts_nothing)
{
    ck_assert_uint_eq(rmq_policy_recent(win, 123456, 30), 0);
    ck_assert_int_eq(rmq_policy_backoff_ms(win, 123456, 30), 0);
}
END_TEST

START_TEST(test_policy_history_ring_wraps_and_keeps_counting)
{
    /* more exits than the ring holds, all within one long period */
    for (int i = 0; i < RMQ_POLICY_HISTORY + 100; i++) {
        rmq_policy_record(win, 1000 + i, 1000, 86400);
    }
    ck_assert_uint_eq(win->count, RMQ_POLICY_HISTORY);
    ck_assert_uint_eq(
        rmq_policy_recent(win, 1000 + RMQ_POLICY_HISTORY + 100, 86400),
        RMQ_POLICY_HISTORY);
    /* with the max intensity (1000) that is a crash loop */
    ck_assert(rmq_policy_record(win, 5000, 1000, 86400));
}
END_TEST

START_TEST(test_policy_after_wrap_only_recent_exits_count)
{
    for (int i = 0; i < RMQ_POLICY_HISTORY + 10; i++) {
        rmq_policy_record(win, (int64_t)i * 1000, 1000, 5);
    }
    /* exits are 1 s apart: a 5 s window holds the last five (t-4 s .. t) */
    ck_assert_uint_eq(
        rmq_policy_recent(win, (int64_t)(RMQ_POLICY_HISTORY + 9) * 1000, 5), 5);
}
END_TEST

/* ---- backoff ----------------------------------------------------------- */

START_TEST(test_policy_backoff_first_exit_restarts_at_once)
{
    rmq_policy_record(win, 1000, 100, 30);
    ck_assert_int_eq(rmq_policy_backoff_ms(win, 1000, 30), 0);
}
END_TEST

START_TEST(test_policy_backoff_doubles_from_100ms_up_to_2s)
{
    static const int64_t want[] = {0,    100,  200,  400, 800,
                                   1600, 2000, 2000, 2000};

    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        int64_t now = 1000 + (int64_t)i * 10;

        rmq_policy_record(win, now, 100, 30);
        ck_assert_msg(rmq_policy_backoff_ms(win, now, 30) == want[i],
                      "exit %zu: backoff %lld, want %lld", i + 1,
                      (long long)rmq_policy_backoff_ms(win, now, 30),
                      (long long)want[i]);
    }
}
END_TEST

START_TEST(test_policy_backoff_never_exceeds_the_cap)
{
    for (int i = 0; i < 500; i++) {
        rmq_policy_record(win, 1000 + i, 1000, 60);
        ck_assert_int_le(rmq_policy_backoff_ms(win, 1000 + i, 60), 2000);
        ck_assert_int_ge(rmq_policy_backoff_ms(win, 1000 + i, 60), 0);
    }
}
END_TEST

START_TEST(test_policy_backoff_resets_after_a_quiet_period)
{
    for (int i = 0; i < 5; i++) {
        rmq_policy_record(win, 1000 + i * 10, 100, 10);
    }
    ck_assert_int_eq(rmq_policy_backoff_ms(win, 1040, 10), 800);
    /* 20 s later the old exits aged out: the next one restarts at once */
    rmq_policy_record(win, 21040, 100, 10);
    ck_assert_int_eq(rmq_policy_backoff_ms(win, 21040, 10), 0);
}
END_TEST

START_TEST(test_policy_windows_of_two_actors_are_independent)
{
    rmq_restart_window *other = calloc(1, sizeof(*other));

    ck_assert_ptr_nonnull(other);
    ck_assert(!rmq_policy_record(win, 1000, 1, 10));
    ck_assert(!rmq_policy_record(other, 1001, 1, 10));
    ck_assert_uint_eq(rmq_policy_recent(win, 1001, 10), 1);
    ck_assert(rmq_policy_record(win, 1002, 1, 10));
    ck_assert_uint_eq(rmq_policy_recent(other, 1002, 10), 1);
    free(other);
}
END_TEST

static Suite *
policy_suite(void)
{
    Suite *s = suite_create("supervisor.policy");
    TCase *tc;

    tc = tcase_create("intensity");
    tcase_add_checked_fixture(tc, policy_setup, policy_teardown);
    tcase_set_timeout(tc, 5);
    tcase_add_test(tc, test_policy_exits_up_to_intensity_are_not_a_crash_loop);
    tcase_add_test(
        tc, test_policy_one_exit_over_intensity_within_period_is_a_crash_loop);
    tcase_add_test(tc, test_policy_intensity_zero_makes_the_first_exit_fatal);
    tcase_add_test(tc, test_policy_exits_spread_wider_than_period_never_loop);
    tcase_add_test(tc, test_policy_windows_of_two_actors_are_independent);
    suite_add_tcase(s, tc);

    tc = tcase_create("ageing");
    tcase_add_checked_fixture(tc, policy_setup, policy_teardown);
    tcase_set_timeout(tc, 5);
    tcase_add_test(tc, test_policy_old_exits_age_out_of_the_window);
    tcase_add_test(tc,
                   test_policy_exit_exactly_one_period_ago_no_longer_counts);
    tcase_add_test(tc, test_policy_empty_window_counts_nothing);
    tcase_add_test(tc, test_policy_history_ring_wraps_and_keeps_counting);
    tcase_add_test(tc, test_policy_after_wrap_only_recent_exits_count);
    suite_add_tcase(s, tc);

    tc = tcase_create("backoff");
    tcase_add_checked_fixture(tc, policy_setup, policy_teardown);
    tcase_set_timeout(tc, 5);
    tcase_add_test(tc, test_policy_backoff_first_exit_restarts_at_once);
    tcase_add_test(tc, test_policy_backoff_doubles_from_100ms_up_to_2s);
    tcase_add_test(tc, test_policy_backoff_never_exceeds_the_cap);
    tcase_add_test(tc, test_policy_backoff_resets_after_a_quiet_period);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return rmqtest_run_suite(policy_suite());
}
