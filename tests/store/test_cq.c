/*
 * test_cq.c - store.cq: consume-queue entries across file boundaries
 * (10 entries per file), idempotent re-put, placeholders, the last-valid
 * scan, truncation against a commit-log end, and the LRU cache.
 */
#include "common/err.h"
#include "store/cq.h"
#include "store_test.h"

#define PER 10
#define FSZ (PER * RMQ_CQ_ENTRY_SIZE)

static rmq_cq cq;

static void
cq_setup(void)
{
    st_setup();
    ck_assert_int_eq(rmq_cq_open(&cq, st_dir, "TopicA", 6, 3, FSZ, true), 0);
}

static void
cq_teardown(void)
{
    rmq_cq_close(&cq);
    st_teardown();
}

/* Entry i points at a 100-byte record at i * 100. */
static rmq_cq_entry
entry_of(int64_t i)
{
    rmq_cq_entry e = {i * 100, 100, 7000 + i};

    return e;
}

static void
put_range(rmq_cq *q, int64_t from, int64_t to)
{
    for (int64_t i = from; i < to; i++) {
        rmq_cq_entry e = entry_of(i);

        ck_assert_int_eq(rmq_cq_put(q, i, &e), 0);
    }
}

static const char *
cq_file(int64_t first_index)
{
    static char rel[128];

    snprintf(rel, sizeof(rel), "consumequeue/TopicA/3/%020lld",
             (long long)(first_index * RMQ_CQ_ENTRY_SIZE));
    return st_path(rel);
}

START_TEST(test_cq_entries_cross_file_boundaries)
{
    rmq_cq_entry e;
    uint8_t      raw[20];
    int          fd;

    put_range(&cq, 0, 95);
    for (int64_t i = 0; i < 95; i++) {
        ck_assert_int_eq(rmq_cq_get(&cq, i, &e), 0);
        ck_assert_int_eq(e.offset, i * 100);
        ck_assert_int_eq(e.size, 100);
        ck_assert_int_eq(e.tags_code, 7000 + i);
    }
    for (int64_t f = 0; f < 10; f++) {
        ck_assert_int_eq(st_file_size(cq_file(f * PER)), FSZ);
    }
    ck_assert_int_eq(st_file_size(cq_file(100)), -1);
    /* entry 37 on disk: file 30, byte 140, big-endian 8+4+8 */
    fd = open(cq_file(30), O_RDONLY);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(pread(fd, raw, 20, 7 * 20), 20);
    close(fd);
    ck_assert_uint_eq(rmq_be64(raw), 3700);
    ck_assert_uint_eq(rmq_be32(raw + 8), 100);
    ck_assert_uint_eq(rmq_be64(raw + 12), 7037);
}
END_TEST

START_TEST(test_cq_entries_pointer_stays_in_one_file)
{
    const uint8_t *p;
    uint32_t       n;
    rmq_cq_entry   e;

    put_range(&cq, 0, 25);
    ck_assert_int_eq(rmq_cq_entries(&cq, 7, 32, &p, &n), 0);
    ck_assert_uint_eq(n, 3);
    rmq_cq_entry_decode(p + 2 * RMQ_CQ_ENTRY_SIZE, &e);
    ck_assert_int_eq(e.offset, 900);
}
END_TEST

START_TEST(test_cq_reput_is_idempotent)
{
    rmq_cq       again;
    rmq_cq_entry e;
    int64_t      next, end;

    put_range(&cq, 0, 30);
    put_range(&cq, 10, 30); /* re-dispatch after a restart */
    ck_assert_int_eq(rmq_cq_open(&again, st_dir, "TopicA", 6, 3, FSZ, true), 0);
    put_range(&again, 20, 30);
    ck_assert_int_eq(rmq_cq_last_valid(&again, &next, &end), 0);
    ck_assert_int_eq(next, 30);
    ck_assert_int_eq(end, 29 * 100 + 100);
    for (int64_t i = 0; i < 30; i++) {
        ck_assert_int_eq(rmq_cq_get(&again, i, &e), 0);
        ck_assert_int_eq(e.offset, i * 100);
    }
    rmq_cq_close(&again);
}
END_TEST

START_TEST(test_cq_first_entry_past_file_start_gets_placeholders)
{
    rmq_cq_entry e;
    int64_t      next, end, min;

    put_range(&cq, 25, 28);
    ck_assert_int_eq(st_file_size(cq_file(20)), FSZ);
    ck_assert_int_eq(st_file_size(cq_file(0)), -1);
    for (int64_t i = 20; i < 25; i++) {
        ck_assert_int_eq(rmq_cq_get(&cq, i, &e), 0);
        ck_assert(rmq_cq_entry_is_placeholder(&e));
        ck_assert(rmq_cq_entry_is_valid(&e));
    }
    ck_assert_int_eq(rmq_cq_last_valid(&cq, &next, &end), 0);
    ck_assert_int_eq(next, 28);
    ck_assert_int_eq(end, 2800);
    ck_assert_int_eq(rmq_cq_min_index(&cq, 0, next, &min), 0);
    ck_assert_int_eq(min, 25);
    ck_assert_int_eq(rmq_cq_min_index(&cq, 2650, next, &min), 0);
    ck_assert_int_eq(min, 27);
}
END_TEST

START_TEST(test_cq_last_valid_stops_at_first_invalid_entry)
{
    static const uint8_t zeros[100];
    int64_t              next, end;

    ck_assert_int_eq(rmq_cq_last_valid(&cq, &next, &end), 0);
    ck_assert_int_eq(next, 0);
    ck_assert_int_eq(end, 0);
    put_range(&cq, 0, 60);
    /* a crash lost entries 55..59 of the newest file */
    st_poke(cq_file(50), 5 * 20, zeros, 100);
    ck_assert_int_eq(rmq_cq_last_valid(&cq, &next, &end), 0);
    ck_assert_int_eq(next, 55);
    ck_assert_int_eq(end, 5500);
    /* the newest file lost everything: the previous one is complete */
    st_poke(cq_file(50), 0, zeros, 100);
    ck_assert_int_eq(rmq_cq_last_valid(&cq, &next, &end), 0);
    ck_assert_int_eq(next, 50);
    ck_assert_int_eq(end, 5000);
}
END_TEST

START_TEST(test_cq_truncate_phys_drops_entries_past_commitlog_end)
{
    rmq_cq_entry e;
    int64_t      next = 60, end;

    put_range(&cq, 0, 60);
    /* records end at (i + 1) * 100: 3050 keeps 0..29 */
    ck_assert_int_eq(rmq_cq_truncate_phys(&cq, 3050, &next), 0);
    ck_assert_int_eq(next, 30);
    ck_assert_int_eq(rmq_cq_get(&cq, 29, &e), 0);
    ck_assert_int_eq(e.offset, 2900);
    ck_assert_int_eq(rmq_cq_get(&cq, 30, &e), 0);
    ck_assert(!rmq_cq_entry_is_valid(&e));
    ck_assert_int_eq(st_file_size(cq_file(40)), -1);
    ck_assert_int_eq(rmq_cq_last_valid(&cq, &next, &end), 0);
    ck_assert_int_eq(next, 30);
    ck_assert_int_eq(end, 3000);
    /* nothing past the end: nothing changes */
    ck_assert_int_eq(rmq_cq_truncate_phys(&cq, 3000, &next), 0);
    ck_assert_int_eq(next, 30);
}
END_TEST

START_TEST(test_cq_truncate_then_put_continues)
{
    rmq_cq_entry e;
    int64_t      next, end;

    put_range(&cq, 0, 35);
    ck_assert_int_eq(rmq_cq_truncate(&cq, 20), 0);
    ck_assert_int_eq(st_file_size(cq_file(30)), -1);
    ck_assert_int_eq(rmq_cq_last_valid(&cq, &next, &end), 0);
    ck_assert_int_eq(next, 20);
    put_range(&cq, 20, 32);
    ck_assert_int_eq(rmq_cq_get(&cq, 31, &e), 0);
    ck_assert_int_eq(e.offset, 3100);
}
END_TEST

START_TEST(test_cq_rejects_unsafe_topic_names)
{
    rmq_cq q;

    ck_assert_int_eq(rmq_cq_open(&q, st_dir, "..", 2, 0, FSZ, true),
                     RMQ_ERR_INVAL);
    ck_assert_int_eq(rmq_cq_open(&q, st_dir, "a/b", 3, 0, FSZ, true),
                     RMQ_ERR_INVAL);
    ck_assert_int_eq(rmq_cq_open(&q, st_dir, "", 0, 0, FSZ, true),
                     RMQ_ERR_INVAL);
    ck_assert_int_eq(rmq_cq_open(&q, st_dir, "T", 1, -1, FSZ, true),
                     RMQ_ERR_INVAL);
    ck_assert_int_eq(rmq_cq_open(&q, st_dir, "T", 1, 0, 30, true),
                     RMQ_ERR_INVAL);
}
END_TEST

START_TEST(test_cq_cache_evicts_least_recently_used)
{
    rmq_cq_cache      c;
    rmq_cq_cache_opts o = {0};
    rmq_cq           *q, *q0;

    o.root = st_dir;
    o.file_size = FSZ;
    o.max_open = 4;
    ck_assert_int_eq(rmq_cq_cache_init(&c, &o), 0);
    ck_assert_int_eq(rmq_cq_cache_get(&c, "T", 1, 0, &q0), 0);
    for (int i = 1; i < 6; i++) {
        ck_assert_int_eq(rmq_cq_cache_get(&c, "T", 1, i, &q), 0);
        ck_assert_int_eq(q->key.queue_id, i);
        ck_assert_uint_le(c.count, 4);
    }
    ck_assert_uint_eq(c.count, 4);
    ck_assert_uint_eq(c.evictions, 2);
    ck_assert_uint_eq(c.opens, 6);
    /* 2..5 are open: a hit moves 2 to the front without opening */
    ck_assert_int_eq(rmq_cq_cache_get(&c, "T", 1, 2, &q), 0);
    ck_assert_uint_eq(c.opens, 6);
    ck_assert_int_eq(c.mru->key.queue_id, 2);
    ck_assert_int_eq(c.lru->key.queue_id, 3);
    /* 0 was evicted: opening it again evicts 3, the oldest */
    ck_assert_int_eq(rmq_cq_cache_get(&c, "T", 1, 0, &q), 0);
    ck_assert_uint_eq(c.opens, 7);
    ck_assert_int_eq(c.lru->key.queue_id, 4);
    rmq_cq_cache_drop(&c, "T", 1, 0);
    ck_assert_uint_eq(c.count, 3);
    rmq_cq_cache_fini(&c);
}
END_TEST

START_TEST(test_cq_cache_reader_sees_entries_written_later)
{
    rmq_cq_cache      c;
    rmq_cq_cache_opts o = {0};
    rmq_cq           *rq;
    rmq_cq_entry      e;

    o.root = st_dir;
    o.file_size = FSZ;
    ck_assert_int_eq(rmq_cq_cache_init(&c, &o), 0);
    ck_assert_int_eq(rmq_cq_cache_get(&c, "TopicA", 6, 3, &rq), 0);
    ck_assert_int_eq(rmq_cq_get(rq, 0, &e), RMQ_ERR_NOTFOUND);
    put_range(&cq, 0, 25);
    ck_assert_int_eq(rmq_cq_get(rq, 24, &e), 0);
    ck_assert_int_eq(e.offset, 2400);
    ck_assert_int_eq(rmq_cq_sync(&cq, 0, 25), 0);
    rmq_cq_cache_fini(&c);
}
END_TEST

static Suite *
cq_suite(void)
{
    Suite *s = suite_create("store.cq");
    TCase *put = tcase_create("put");
    TCase *rec = tcase_create("recover");
    TCase *cache = tcase_create("cache");

    tcase_add_checked_fixture(put, cq_setup, cq_teardown);
    tcase_add_checked_fixture(rec, cq_setup, cq_teardown);
    tcase_add_checked_fixture(cache, cq_setup, cq_teardown);
    tcase_set_timeout(put, 30);
    tcase_set_timeout(rec, 30);
    tcase_set_timeout(cache, 30);
    tcase_add_test(put, test_cq_entries_cross_file_boundaries);
    tcase_add_test(put, test_cq_entries_pointer_stays_in_one_file);
    tcase_add_test(put, test_cq_reput_is_idempotent);
    tcase_add_test(put, test_cq_first_entry_past_file_start_gets_placeholders);
    tcase_add_test(put, test_cq_rejects_unsafe_topic_names);
    tcase_add_test(rec, test_cq_last_valid_stops_at_first_invalid_entry);
    tcase_add_test(rec, test_cq_truncate_phys_drops_entries_past_commitlog_end);
    tcase_add_test(rec, test_cq_truncate_then_put_continues);
    tcase_add_test(cache, test_cq_cache_evicts_least_recently_used);
    tcase_add_test(cache, test_cq_cache_reader_sees_entries_written_later);
    suite_add_tcase(s, put);
    suite_add_tcase(s, rec);
    suite_add_tcase(s, cache);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(cq_suite());
    int      failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
