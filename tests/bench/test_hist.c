/*
 * test_hist.c - Check suite "bench.hist": rmq-bench's latency histogram
 * (bench/bench_hist.c, compiled into this test: the benchmark is an
 * executable, not a library).  Percentiles must be right within the
 * bucket precision, ordered, and never above the max.
 */
#include "bench/bench_hist.c"

#include <check.h>
#include <stdlib.h>

#include "tests/support/rmqtest.h"

static rmq_bench_hist *
hist_new(void)
{
    rmq_bench_hist *h = malloc(sizeof(*h));

    ck_assert_ptr_nonnull(h);
    rmq_bench_hist_init(h);
    return h;
}

/* |got - want| within the relative bucket width (1/128) plus one. */
static void
hist_near(uint64_t got, uint64_t want)
{
    uint64_t tol = want / RMQ_BENCH_HIST_SUB + 1;

    ck_assert_msg(got + tol >= want && got <= want + tol,
                  "got %llu, want %llu +- %llu", (unsigned long long)got,
                  (unsigned long long)want, (unsigned long long)tol);
}

START_TEST(test_hist_buckets_cover_their_values)
{
    uint64_t v;

    for (v = 0; v < (UINT64_C(1) << 24);
         v = v < 4096 ? v + 1 : v * 1001 / 1000) {
        uint32_t i = rmq_bench_hist_index(v);
        ck_assert_uint_lt(i, RMQ_BENCH_HIST_BUCKETS);
        ck_assert_uint_ge(rmq_bench_hist_upper(i), v);
        ck_assert_uint_eq(rmq_bench_hist_index(rmq_bench_hist_upper(i)), i);
        if (i > 0) {
            ck_assert_uint_lt(rmq_bench_hist_upper(i - 1), v);
        }
    }
    ck_assert_uint_eq(rmq_bench_hist_index(UINT64_MAX),
                      RMQ_BENCH_HIST_BUCKETS - 1);
}
END_TEST

START_TEST(test_hist_small_values_are_exact)
{
    rmq_bench_hist *h = hist_new();

    for (int v = 1; v <= 100; v++) {
        rmq_bench_hist_add(h, v);
    }
    ck_assert_uint_eq(rmq_bench_hist_pct(h, 0.50), 50);
    ck_assert_uint_eq(rmq_bench_hist_pct(h, 0.99), 99);
    ck_assert_uint_eq(rmq_bench_hist_pct(h, 0.999), 100);
    ck_assert_uint_eq(rmq_bench_hist_pct(h, 1.0), 100);
    ck_assert_uint_eq(h->min, 1);
    ck_assert_uint_eq(h->max, 100);
    ck_assert(rmq_bench_hist_mean(h) > 50.49 && rmq_bench_hist_mean(h) < 50.51);
    free(h);
}
END_TEST

START_TEST(test_hist_percentiles_of_a_uniform_spread)
{
    rmq_bench_hist *h = hist_new();

    for (int v = 1; v <= 1000000; v++) {
        rmq_bench_hist_add(h, v);
    }
    hist_near(rmq_bench_hist_pct(h, 0.50), 500000);
    hist_near(rmq_bench_hist_pct(h, 0.99), 990000);
    hist_near(rmq_bench_hist_pct(h, 0.999), 999000);
    ck_assert_uint_eq(rmq_bench_hist_pct(h, 1.0), 1000000);
    free(h);
}
END_TEST

START_TEST(test_hist_a_few_outliers_show_in_the_tail_only)
{
    rmq_bench_hist *h = hist_new();

    for (int i = 0; i < 9990; i++) {
        rmq_bench_hist_add(h, 300);
    }
    for (int i = 0; i < 10; i++) {
        rmq_bench_hist_add(h, 50000 + i);
    }
    hist_near(rmq_bench_hist_pct(h, 0.50), 300);
    hist_near(rmq_bench_hist_pct(h, 0.99), 300);
    hist_near(rmq_bench_hist_pct(h, 0.999), 300); /* rank 9990 */
    hist_near(rmq_bench_hist_pct(h, 0.9991), 50000);
    ck_assert_uint_eq(h->max, 50009);
    free(h);
}
END_TEST

START_TEST(test_hist_percentiles_never_pass_the_max)
{
    rmq_bench_hist *h = hist_new();

    rmq_bench_hist_add(h, 1000001); /* mid-bucket: the bucket ends higher */
    ck_assert_uint_eq(rmq_bench_hist_pct(h, 0.5), 1000001);
    ck_assert_uint_eq(rmq_bench_hist_pct(h, 0.999), 1000001);
    rmq_bench_hist_add(h, -5); /* a clock step backwards counts as 0 */
    ck_assert_uint_eq(h->min, 0);
    ck_assert_uint_eq(rmq_bench_hist_pct(h, 0.5), 0);
    free(h);
}
END_TEST

START_TEST(test_hist_merge_equals_adding_everything)
{
    rmq_bench_hist *a = hist_new(), *b = hist_new(), *all = hist_new();

    srand(7);
    for (int i = 0; i < 50000; i++) {
        int64_t v = rand() % 200000;
        rmq_bench_hist_add(i % 3 ? a : b, v);
        rmq_bench_hist_add(all, v);
    }
    rmq_bench_hist_merge(a, b);
    ck_assert_uint_eq(a->count, all->count);
    ck_assert_uint_eq(a->sum, all->sum);
    ck_assert_uint_eq(a->min, all->min);
    ck_assert_uint_eq(a->max, all->max);
    ck_assert_uint_eq(rmq_bench_hist_pct(a, 0.99),
                      rmq_bench_hist_pct(all, 0.99));
    free(a);
    free(b);
    free(all);
}
END_TEST

START_TEST(test_hist_errors_are_tallied_by_code)
{
    rmq_bench_errs e;
    char           buf[16];

    memset(&e, 0, sizeof(e));
    rmq_bench_errs_add(&e, 14, 2);
    rmq_bench_errs_add(&e, RMQ_BENCH_ERR_TIMEOUT, 1);
    rmq_bench_errs_add(&e, 14, 1);
    rmq_bench_errs_add(&e, 2, 0);
    ck_assert_uint_eq(e.total, 4);
    ck_assert_uint_eq(e.n, 2);
    ck_assert_uint_eq(e.count[0], 3);
    ck_assert_str_eq(rmq_bench_errs_name(e.code[0], buf, sizeof(buf)), "14");
    ck_assert_str_eq(rmq_bench_errs_name(e.code[1], buf, sizeof(buf)),
                     "timeout");
}
END_TEST

static Suite *
hist_suite(void)
{
    Suite *s = suite_create("bench.hist");
    TCase *tc = tcase_create("hist");

    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_hist_buckets_cover_their_values);
    tcase_add_test(tc, test_hist_small_values_are_exact);
    tcase_add_test(tc, test_hist_percentiles_of_a_uniform_spread);
    tcase_add_test(tc, test_hist_a_few_outliers_show_in_the_tail_only);
    tcase_add_test(tc, test_hist_percentiles_never_pass_the_max);
    tcase_add_test(tc, test_hist_merge_equals_adding_everything);
    tcase_add_test(tc, test_hist_errors_are_tallied_by_code);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return rmqtest_run_suite(hist_suite());
}
