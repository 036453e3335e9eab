/*
 * test_recovery.c - store.recovery: a store is built with the real
 * writer (64 KiB commit-log files, 50-entry consume-queue files), then
 * damaged the way crashes and disks damage it, and recovered: torn
 * tails, a corrupt record in the middle (reported with file and offset),
 * consume-queue entries past the log end, the dispatcher start, next
 * queue offsets, the checkpoint safe time, the lock and abort files.
 */
#include "common/err.h"
#include "store/checkpoint.h"
#include "store/commitlog.h"
#include "store/cq.h"
#include "store/recovery.h"
#include "store_test.h"

#define CLF (64 * 1024)
#define CQF (50 * RMQ_CQ_ENTRY_SIZE)
#define NMAX 1000
#define TS0 1700000000000LL

/* What the test wrote: record i and where it went. */
static struct {
    int      n;
    int64_t  off[NMAX];
    uint32_t len[NMAX];
    int64_t  qoff[NMAX];
    int32_t  qid[NMAX];
    bool     tb[NMAX]; /* topic TB, else TA */
    int64_t  end;
} w;

static rmq_store_opts  opts;
static rmq_store_state st;

static void
rc_setup(void)
{
    st_setup();
    memset(&w, 0, sizeof(w));
    memset(&st, 0, sizeof(st));
    opts.root = st_dir;
    opts.cl_file_size = CLF;
    opts.cq_file_size = CQF;
    opts.check_crc = true;
    opts.index_safe = false;
}

static void
rc_teardown(void)
{
    rmq_store_state_free(&st);
    st_teardown();
}

static const char *
topic_of(int i)
{
    return w.tb[i] ? "TB" : "TA";
}

/*
 * Append n records as clwriter would (TA queues 0..2 and TB queue 0,
 * queue offsets counted per queue, store time TS0 + i s), and dispatch
 * the first ndisp to consume queues as the dispatcher would.  Record
 * `prepared` (if >= 0) is a prepared transaction: queue offset 0, not
 * counted, not dispatched.
 */
static void
build(int n, int ndisp, int prepared)
{
    rmq_cl            cl;
    rmq_cl_opts       o = {0};
    rmq_cq_cache      cache;
    rmq_cq_cache_opts co = {0};
    int64_t           next[4] = {0};
    uint8_t           buf[4096];

    o.dir = st_path("commitlog");
    o.file_size = CLF;
    o.writable = true;
    ck_assert_int_eq(rmq_cl_open(&cl, &o), 0);
    ck_assert_int_eq(rmq_cl_start(&cl, 0), 0);
    for (int i = 0; i < n; i++) {
        int      slot = i % 4;
        uint32_t len;

        w.tb[i] = slot == 3;
        w.qid[i] = slot == 3 ? 0 : slot;
        len = st_make_rec(buf, sizeof(buf), topic_of(i), w.qid[i],
                          (uint32_t)((i * 613) % 2500), (uint32_t)i);
        if (i == prepared) {
            rmq_put_be32(buf + RMQ_REC_OFF_SYSFLAG, RMQ_SYSFLAG_TX_PREPARED);
            w.qoff[i] = 0;
        } else {
            w.qoff[i] = next[slot]++;
        }
        ck_assert_int_eq(rmq_cl_append(&cl, buf, len, w.qoff[i],
                                       TS0 + i * 1000LL, &w.off[i]),
                         0);
        w.len[i] = len;
        ck_assert_int_eq(rmq_cl_maintain(&cl), 0);
    }
    w.n = n;
    w.end = rmq_cl_write_pos(&cl);
    rmq_cl_close(&cl);

    co.root = st_dir;
    co.file_size = CQF;
    co.writable = true;
    ck_assert_int_eq(rmq_cq_cache_init(&cache, &co), 0);
    for (int i = 0; i < ndisp; i++) {
        rmq_cq      *cq;
        rmq_cq_entry e = {w.off[i], (int32_t)w.len[i], 0};

        if (i == prepared) {
            continue;
        }
        ck_assert_int_eq(
            rmq_cq_cache_get(&cache, topic_of(i), 2, w.qid[i], &cq), 0);
        ck_assert_int_eq(rmq_cq_put(cq, w.qoff[i], &e), 0);
    }
    rmq_cq_cache_fini(&cache);
}

static const char *
cl_file(int64_t start)
{
    static char rel[64];

    snprintf(rel, sizeof(rel), "commitlog/%020lld", (long long)start);
    return st_path(rel);
}

/* Queue offsets of records [0, upto) in topic/qid: how many. */
static int64_t
count_in_queue(bool tb, int32_t qid, int upto, int prepared)
{
    int64_t n = 0;

    for (int i = 0; i < upto; i++) {
        if (i != prepared && w.tb[i] == tb && w.qid[i] == qid) {
            n++;
        }
    }
    return n;
}

static const rmq_queue_next *
queue(const char *topic, int32_t qid)
{
    const rmq_queue_next *q =
        rmq_store_state_find(&st, topic, strlen(topic), qid);

    ck_assert_ptr_nonnull(q);
    return q;
}

/* Recover with stderr captured into <dir>/stderr.txt; returns the text. */
static const char *
recover_logged(void)
{
    static char text[8192];
    int         saved = dup(2);
    int     fd = open(st_path("stderr.txt"), O_CREAT | O_RDWR | O_TRUNC, 0644);
    ssize_t n;

    ck_assert_int_ge(fd, 0);
    dup2(fd, 2);
    ck_assert_int_eq(rmq_store_recover(&opts, &st), 0);
    dup2(saved, 2);
    close(saved);
    n = pread(fd, text, sizeof(text) - 1, 0);
    close(fd);
    text[n > 0 ? n : 0] = '\0';
    return text;
}

/* Every record a reader can see up to the recovered end. */
static int
readable_records(int64_t end)
{
    rmq_cl       cl;
    rmq_cl_opts  o = {0};
    rmq_cl_iter  it;
    rmq_rec_view v;
    int64_t      off;
    int          n = 0;

    o.dir = st_path("commitlog");
    o.file_size = CLF;
    ck_assert_int_eq(rmq_cl_open(&cl, &o), 0);
    rmq_cl_iter_init(&it, &cl, 0, end, true);
    while (rmq_cl_iter_next(&it, &v, &off) == 0) {
        ck_assert_int_eq(off, w.off[n]);
        n++;
    }
    ck_assert_int_eq(it.pos, end);
    rmq_cl_close(&cl);
    return n;
}

static void
assert_zero_from(const char *path, long long from, long long to)
{
    static uint8_t b[CLF];
    int            fd = open(path, O_RDONLY);

    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(pread(fd, b, (size_t)(to - from), from), to - from);
    close(fd);
    for (long long i = 0; i < to - from; i++) {
        ck_assert_msg(b[i] == 0, "byte %lld of %s is %u", from + i, path, b[i]);
    }
}

START_TEST(test_recovery_clean_store_keeps_everything)
{
    build(400, 400, -1);
    ck_assert_int_eq(rmq_store_recover(&opts, &st), 0);
    ck_assert(!st.abnormal);
    ck_assert_int_eq(st.stop, RMQ_CL_STOP_END);
    ck_assert_int_eq(st.corrupt_records, 0);
    ck_assert_int_eq(st.cl_min, 0);
    ck_assert_int_eq(st.cl_end, w.end);
    ck_assert_int_eq(st.cq_max_phys, w.end);
    ck_assert_int_eq(st.dispatch_from, w.end);
    ck_assert_int_eq(st.last_store_ms, TS0 + 399 * 1000LL);
    /* normal recovery checks only the last three files */
    ck_assert_int_eq(st.verify_from, (w.end / CLF - 2) * CLF);
    ck_assert_uint_eq(st.nqueues, 4);
    ck_assert_int_eq(queue("TA", 0)->next_offset, 100);
    ck_assert_int_eq(queue("TA", 2)->cq_max, 100);
    ck_assert_int_eq(queue("TB", 0)->next_offset, 100);
    ck_assert_int_eq(queue("TB", 0)->cq_min, 0);
    ck_assert_int_eq(readable_records(st.cl_end), 400);
}
END_TEST

START_TEST(test_recovery_empty_store)
{
    ck_assert_int_eq(rmq_store_recover(&opts, &st), 0);
    ck_assert_int_eq(st.cl_end, 0);
    ck_assert_int_eq(st.dispatch_from, 0);
    ck_assert_uint_eq(st.nqueues, 0);
}
END_TEST

START_TEST(test_recovery_torn_tail_is_truncated_and_zeroed)
{
    uint8_t     junk[300];
    const char *log;
    long long   in_file;

    build(200, 200, -1);
    /* a crash left half a record (its first 60 bytes) and junk */
    memset(junk, 0x5A, sizeof(junk));
    in_file = w.end % CLF;
    st_poke(cl_file(w.end - in_file), in_file, junk, sizeof(junk));
    ck_assert_int_eq(rmq_store_abort_create(st_dir), 0);
    log = recover_logged();
    ck_assert(st.abnormal);
    ck_assert_int_eq(st.cl_end, w.end);
    ck_assert_int_eq(st.stop, RMQ_CL_STOP_TORN);
    ck_assert_int_eq(st.stop_offset, w.end);
    ck_assert_int_eq(st.dropped_records, 0);
    ck_assert_ptr_nonnull(strstr(log, "torn tail"));
    /* the junk is gone from the disk, not just skipped */
    assert_zero_from(cl_file(w.end - in_file), in_file, CLF);
    ck_assert_int_eq(readable_records(st.cl_end), 200);
}
END_TEST

START_TEST(test_recovery_half_written_record_never_surfaces)
{
    static uint8_t rec[4096];
    long long      in_file;
    int            k = 150;

    build(200, 150, -1);
    /* records k.. were never completely written: only a torn copy of
     * record k's first 100 bytes is on disk, the rest is zero */
    in_file = w.off[k] % CLF;
    {
        int fd = open(cl_file(w.off[k] - in_file), O_RDONLY);
        ck_assert_int_eq(pread(fd, rec, 100, in_file), 100);
        close(fd);
    }
    for (int64_t f = w.off[k] - in_file + CLF; f < w.end; f += CLF) {
        ck_assert_int_eq(unlink(cl_file(f)), 0);
    }
    {
        static uint8_t zeros[CLF];
        st_poke(cl_file(w.off[k] - in_file), in_file, zeros,
                (size_t)(CLF - in_file));
        st_poke(cl_file(w.off[k] - in_file), in_file, rec, 100);
    }
    ck_assert_int_eq(rmq_store_recover(&opts, &st), 0);
    ck_assert_int_eq(st.cl_end, w.off[k]);
    ck_assert_int_eq(st.stop, RMQ_CL_STOP_TORN);
    /* the header is intact, but the zeros after it are no topic */
    ck_assert_str_eq(st.stop_reason, "bad length");
    ck_assert_int_eq(readable_records(st.cl_end), k);
    assert_zero_from(cl_file(w.off[k] - in_file), in_file, in_file + 100);
}
END_TEST

START_TEST(test_recovery_corrupt_record_in_middle_is_reported)
{
    const char *log;
    char        want[256];
    int         k = 120;
    int64_t     file;
    uint8_t     flip;

    build(400, 400, -1);
    file = w.off[k] - w.off[k] % CLF;
    ck_assert_int_lt(file + CLF, w.end);        /* not in the last file */
    ck_assert_int_gt(w.off[k], file);           /* nor first in its file */
    ck_assert_int_lt(w.off[k + 1], file + CLF); /* nor last */
    /* one bit of record k's body rots on disk */
    {
        int       fd = open(cl_file(file), O_RDWR);
        long long at = w.off[k] % CLF + 84 + 4 + 10;

        ck_assert_int_eq(pread(fd, &flip, 1, at), 1);
        flip ^= 0x10;
        ck_assert_int_eq(pwrite(fd, &flip, 1, at), 1);
        close(fd);
    }
    ck_assert_int_eq(rmq_store_abort_create(st_dir), 0);
    log = recover_logged();
    ck_assert(st.abnormal);
    ck_assert_int_eq(st.stop, RMQ_CL_STOP_CORRUPT);
    ck_assert_uint_eq(st.corrupt_records, 1);
    ck_assert_int_eq(st.stop_offset, w.off[k]);
    ck_assert_int_eq(st.stop_file, file);
    ck_assert_str_eq(st.stop_reason, "body CRC mismatch");
    ck_assert_int_eq(st.dropped_records, 400 - k - 1);
    ck_assert_int_eq(st.cl_end, w.off[k]);
    /* the log names the file and the offset within it */
    snprintf(want, sizeof(want),
             "corrupt record in commit-log file \"%s\" at offset %lld of "
             "the file",
             cl_file(file), (long long)(w.off[k] % CLF));
    ck_assert_msg(strstr(log, want) != NULL, "log was: %s", log);
    /* never served: not readable, zeroed, later files gone */
    ck_assert_int_eq(readable_records(st.cl_end), k);
    assert_zero_from(cl_file(file), w.off[k] % CLF, CLF);
    ck_assert_int_eq(st_file_size(cl_file(file + CLF)), -1);
    /* consume queues no longer point at it or past it */
    ck_assert_int_le(st.cq_max_phys, st.cl_end);
    ck_assert_int_eq(queue("TA", 0)->cq_max, count_in_queue(false, 0, k, -1));
    ck_assert_int_eq(queue("TB", 0)->next_offset,
                     count_in_queue(true, 0, k, -1));
}
END_TEST

START_TEST(test_recovery_cq_entries_past_log_end_are_cut)
{
    rmq_cq       cq;
    rmq_cq_entry e;
    int          k = 250;
    long long    in_file;
    uint8_t      junk[16];

    build(300, 300, -1);
    /* the log lost everything from record k on (torn at k) */
    memset(junk, 0xEE, sizeof(junk));
    in_file = w.off[k] % CLF;
    st_poke(cl_file(w.off[k] - in_file), in_file, junk, sizeof(junk));
    ck_assert_int_eq(rmq_store_recover(&opts, &st), 0);
    ck_assert_int_eq(st.cl_end, w.off[k]);
    for (int q = 0; q < 3; q++) {
        ck_assert_int_eq(queue("TA", q)->cq_max,
                         count_in_queue(false, q, k, -1));
        ck_assert_int_eq(queue("TA", q)->next_offset,
                         count_in_queue(false, q, k, -1));
    }
    ck_assert_int_eq(queue("TB", 0)->cq_max, count_in_queue(true, 0, k, -1));
    ck_assert_int_le(st.cq_max_phys, st.cl_end);
    ck_assert_int_eq(st.dispatch_from, st.cq_max_phys);
    /* the cut entries are zero on disk */
    ck_assert_int_eq(rmq_cq_open(&cq, st_dir, "TA", 2, 0, CQF, false), 0);
    ck_assert_int_eq(rmq_cq_get(&cq, queue("TA", 0)->cq_max - 1, &e), 0);
    ck_assert_int_le(e.offset + e.size, st.cl_end);
    ck_assert_int_eq(rmq_cq_get(&cq, queue("TA", 0)->cq_max, &e), 0);
    ck_assert_int_eq(e.offset, 0);
    ck_assert_int_eq(e.size, 0);
    rmq_cq_close(&cq);
}
END_TEST

START_TEST(test_recovery_next_offsets_count_undispatched_records)
{
    int prepared = 201; /* TA queue 1 */

    /* the dispatcher had only reached record 150 */
    build(300, 150, prepared);
    ck_assert_int_eq(rmq_store_recover(&opts, &st), 0);
    ck_assert_int_eq(st.cq_max_phys, w.off[149] + w.len[149]);
    ck_assert_int_eq(st.dispatch_from, st.cq_max_phys);
    for (int q = 0; q < 3; q++) {
        ck_assert_int_eq(queue("TA", q)->cq_max,
                         count_in_queue(false, q, 150, prepared));
        ck_assert_int_eq(queue("TA", q)->next_offset,
                         count_in_queue(false, q, 300, prepared));
    }
    ck_assert_int_eq(queue("TB", 0)->next_offset,
                     count_in_queue(true, 0, 300, prepared));
    ck_assert_int_eq(rmq_store_state_next_offset(&st, "TA", 1),
                     count_in_queue(false, 1, 300, prepared));
    ck_assert_int_eq(rmq_store_state_next_offset(&st, "TC", 0), 0);
}
END_TEST

START_TEST(test_recovery_abnormal_starts_at_checkpoint_safe_file)
{
    rmq_ckpt cp = {0};
    char     path[512];
    int64_t  nfiles, want;
    int      first_in_file = -1;

    build(400, 400, -1);
    nfiles = w.end / CLF + 1;
    ck_assert_int_ge(nfiles, 5);
    want = (nfiles - 3) * CLF;
    for (int i = 0; i < w.n; i++) {
        if (w.off[i] == want) {
            first_in_file = i;
        }
    }
    ck_assert_int_ge(first_in_file, 0);
    /* flushed up to a bit after that file's first record */
    cp.physic_ms = TS0 + (first_in_file + 2) * 1000LL + 3000;
    cp.logics_ms = cp.physic_ms + 5000;
    snprintf(path, sizeof(path), "%s/checkpoint", st_dir);
    ck_assert_int_eq(rmq_ckpt_write(path, &cp), 0);
    ck_assert_int_eq(rmq_store_abort_create(st_dir), 0);
    ck_assert_int_eq(rmq_store_recover(&opts, &st), 0);
    ck_assert(st.abnormal);
    ck_assert_int_eq(st.verify_from, want);
    ck_assert_int_eq(st.dispatch_from, want); /* re-dispatch from there */
    ck_assert_int_eq(st.cl_end, w.end);
    ck_assert_int_eq(queue("TA", 0)->next_offset, 100);
}
END_TEST

static void
assert_cq_entry_zero(const char *topic, int32_t qid, int64_t index)
{
    rmq_cq       cq;
    rmq_cq_entry e;

    ck_assert_int_eq(
        rmq_cq_open(&cq, st_dir, topic, strlen(topic), qid, CQF, false), 0);
    ck_assert_int_eq(rmq_cq_get(&cq, index, &e), 0);
    ck_assert_int_eq(e.offset, 0);
    ck_assert_int_eq(e.size, 0);
    ck_assert_int_eq(e.tags_code, 0);
    rmq_cq_close(&cq);
}

START_TEST(test_recovery_stale_cq_bytes_after_last_valid_are_zeroed)
{
    uint8_t junk[20];

    build(100, 100, -1);
    /* TA/0 holds entries 0..24; junk right after them (invalid: negative
     * offset and size) and, after a crash, an old entry further on */
    memset(junk, 0xFF, sizeof(junk));
    st_poke(st_path("consumequeue/TA/0/00000000000000000000"), 25 * 20, junk,
            sizeof(junk));
    memset(junk, 0x11, sizeof(junk));
    st_poke(st_path("consumequeue/TA/1/00000000000000000000"), 35 * 20, junk,
            sizeof(junk));
    ck_assert_int_eq(rmq_store_abort_create(st_dir), 0);
    ck_assert_int_eq(rmq_store_recover(&opts, &st), 0);
    ck_assert_int_eq(queue("TA", 0)->cq_max, 25);
    ck_assert_int_eq(queue("TA", 1)->cq_max, 25);
    assert_cq_entry_zero("TA", 0, 25);
    assert_cq_entry_zero("TA", 1, 35);
}
END_TEST

START_TEST(test_recovery_invalid_cq_entry_at_end_is_zeroed_normally)
{
    uint8_t junk[20];

    build(100, 100, -1);
    memset(junk, 0xFF, sizeof(junk));
    st_poke(st_path("consumequeue/TB/0/00000000000000000000"), 25 * 20, junk,
            sizeof(junk));
    ck_assert_int_eq(rmq_store_recover(&opts, &st), 0);
    ck_assert(!st.abnormal);
    ck_assert_int_eq(queue("TB", 0)->cq_max, 25);
    assert_cq_entry_zero("TB", 0, 25);
}
END_TEST

START_TEST(test_recovery_refuses_commitlog_file_of_wrong_size)
{
    build(50, 50, -1);
    ck_assert_int_eq(truncate(cl_file(0), CLF - 1), 0);
    ck_assert_int_eq(rmq_store_recover(&opts, &st), RMQ_ERR_CORRUPT);
}
END_TEST

START_TEST(test_recovery_lock_is_exclusive)
{
    int fd1, fd2;

    ck_assert_int_eq(rmq_store_lock(st_dir, &fd1), 0);
    ck_assert_int_eq(rmq_store_lock(st_dir, &fd2), RMQ_ERR_BUSY);
    rmq_store_unlock(fd1);
    ck_assert_int_eq(rmq_store_lock(st_dir, &fd2), 0);
    rmq_store_unlock(fd2);
}
END_TEST

START_TEST(test_recovery_abort_file_lifecycle)
{
    ck_assert(!rmq_store_abort_exists(st_dir));
    ck_assert_int_eq(rmq_store_abort_create(st_dir), 0);
    ck_assert(rmq_store_abort_exists(st_dir));
    ck_assert_int_eq(rmq_store_abort_remove(st_dir), 0);
    ck_assert(!rmq_store_abort_exists(st_dir));
    ck_assert_int_eq(rmq_store_abort_remove(st_dir), 0);
}
END_TEST

static Suite *
recovery_suite(void)
{
    Suite *s = suite_create("store.recovery");
    TCase *cl = tcase_create("commitlog");
    TCase *cq = tcase_create("queues");
    TCase *files = tcase_create("files");

    tcase_add_checked_fixture(cl, rc_setup, rc_teardown);
    tcase_add_checked_fixture(cq, rc_setup, rc_teardown);
    tcase_add_checked_fixture(files, rc_setup, rc_teardown);
    tcase_set_timeout(cl, 60);
    tcase_set_timeout(cq, 60);
    tcase_set_timeout(files, 10);
    tcase_add_test(cl, test_recovery_clean_store_keeps_everything);
    tcase_add_test(cl, test_recovery_empty_store);
    tcase_add_test(cl, test_recovery_torn_tail_is_truncated_and_zeroed);
    tcase_add_test(cl, test_recovery_half_written_record_never_surfaces);
    tcase_add_test(cl, test_recovery_corrupt_record_in_middle_is_reported);
    tcase_add_test(cl, test_recovery_abnormal_starts_at_checkpoint_safe_file);
    tcase_add_test(cl, test_recovery_refuses_commitlog_file_of_wrong_size);
    tcase_add_test(cq, test_recovery_cq_entries_past_log_end_are_cut);
    tcase_add_test(cq, test_recovery_next_offsets_count_undispatched_records);
    tcase_add_test(cq,
                   test_recovery_stale_cq_bytes_after_last_valid_are_zeroed);
    tcase_add_test(cq,
                   test_recovery_invalid_cq_entry_at_end_is_zeroed_normally);
    tcase_add_test(files, test_recovery_lock_is_exclusive);
    tcase_add_test(files, test_recovery_abort_file_lifecycle);
    suite_add_tcase(s, cl);
    suite_add_tcase(s, cq);
    suite_add_tcase(s, files);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(recovery_suite());
    int      failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
