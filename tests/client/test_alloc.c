/*
 * test_alloc.c - Check suite "client.alloc": average queue allocation
 * (client/alloc.h), checked against Java's AllocateMessageQueueAveragely
 * on a table of cases.  Pure functions; no processes.
 */
#include "client/alloc.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

typedef struct alloc_case {
    size_t nmqs, ncids, index;
    size_t start, count; /* expected */
} alloc_case;

/* Worked out from Java's code by hand. */
static const alloc_case cases[] = {
    {8, 1, 0, 0, 8},
    {8, 2, 0, 0, 4},
    {8, 2, 1, 4, 4},
    {8, 3, 0, 0, 3},
    {8, 3, 1, 3, 3},
    {8, 3, 2, 6, 2},
    {4, 4, 0, 0, 1},
    {4, 4, 3, 3, 1},
    {5, 2, 0, 0, 3},
    {5, 2, 1, 3, 2},
    {10, 4, 0, 0, 3},
    {10, 4, 1, 3, 3},
    {10, 4, 2, 6, 2},
    {10, 4, 3, 8, 2},
    /* more consumers than queues: the extra ones get nothing */
    {2, 3, 0, 0, 1},
    {2, 3, 1, 1, 1},
    {2, 3, 2, 2, 0},
    {1, 5, 0, 0, 1},
    {1, 5, 4, 4, 0},
    /* nothing to share, or not a member */
    {0, 3, 0, 0, 0},
    {4, 0, 0, 0, 0},
    {4, 2, 2, 0, 0},
};

START_TEST(test_alloc_average_matches_java_table)
{
    const alloc_case *c = &cases[_i];
    size_t            start = 99, count = 99;

    rmq_alloc_average(c->nmqs, c->ncids, c->index, &start, &count);
    ck_assert_msg(count == c->count && (count == 0 || start == c->start),
                  "mqs %zu cids %zu index %zu: got [%zu +%zu], want "
                  "[%zu +%zu]",
                  c->nmqs, c->ncids, c->index, start, count, c->start,
                  c->count);
}
END_TEST

START_TEST(test_alloc_every_queue_goes_to_exactly_one_consumer)
{
    for (size_t nmqs = 1; nmqs <= 17; nmqs++) {
        for (size_t ncids = 1; ncids <= 9; ncids++) {
            int owners[17] = {0};

            for (size_t i = 0; i < ncids; i++) {
                size_t start, count;
                rmq_alloc_average(nmqs, ncids, i, &start, &count);
                for (size_t k = 0; k < count; k++) {
                    owners[(start + k) % nmqs]++;
                }
            }
            for (size_t q = 0; q < nmqs; q++) {
                ck_assert_msg(owners[q] == 1,
                              "%zu mqs %zu cids: queue %zu "
                              "has %d owners",
                              nmqs, ncids, q, owners[q]);
            }
        }
    }
}
END_TEST

START_TEST(test_alloc_sort_ids_orders_like_string_compare)
{
    char  a[] = "10.0.0.2@1", b[] = "10.0.0.10@1", c[] = "10.0.0.2@0";
    char *ids[] = {a, b, c};

    rmq_alloc_sort_ids(ids, 3);
    ck_assert_str_eq(ids[0], "10.0.0.10@1");
    ck_assert_str_eq(ids[1], "10.0.0.2@0");
    ck_assert_str_eq(ids[2], "10.0.0.2@1");
}
END_TEST

static Suite *
alloc_suite(void)
{
    Suite *s = suite_create("client.alloc");
    TCase *tc = tcase_create("average");

    tcase_set_timeout(tc, 10);
    tcase_add_loop_test(tc, test_alloc_average_matches_java_table, 0,
                        (int)(sizeof(cases) / sizeof(cases[0])));
    tcase_add_test(tc, test_alloc_every_queue_goes_to_exactly_one_consumer);
    tcase_add_test(tc, test_alloc_sort_ids_orders_like_string_compare);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(alloc_suite());
    int      failed;

    srunner_run_all(sr, CK_ENV);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
