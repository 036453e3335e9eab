/*
 * test_commitlog.c - store.commitlog: appends across many file
 * boundaries with 64 KiB files, the BLANK record that ends each file,
 * read-back by offset and by iteration (also from a reader opened before
 * the files existed), create-ahead and pre-faulting, the mapped-file
 * queue's checks on open.
 */
#include "common/err.h"
#include "store/commitlog.h"
#include "store_test.h"

#include <sys/syscall.h>

#define FILE_SZ (64 * 1024)
#define NREC 2000

static rmq_cl cl;

static void
cl_setup(void)
{
    rmq_cl_opts o = {0};

    st_setup();
    o.dir = st_path("commitlog");
    o.file_size = FILE_SZ;
    o.writable = true;
    o.prefault_bytes = 16 * 1024;
    ck_assert_int_eq(rmq_cl_open(&cl, &o), 0);
    ck_assert_int_eq(rmq_cl_start(&cl, 0), 0);
}

static void
cl_teardown(void)
{
    rmq_cl_close(&cl);
    st_teardown();
}

static int64_t  offs[NREC];
static uint32_t lens[NREC];

/* Record i: body size varies so files end at many different places. */
static uint32_t
body_len_of(int i)
{
    return (uint32_t)((i * 977) % 3000);
}

static void
append_all(int n)
{
    uint8_t buf[4096];

    for (int i = 0; i < n; i++) {
        uint32_t len = st_make_rec(buf, sizeof(buf), "T", i % 4, body_len_of(i),
                                   (uint32_t)i);

        ck_assert_int_eq(
            rmq_cl_append(&cl, buf, len, i / 4, 1700000000000LL + i, &offs[i]),
            0);
        lens[i] = len;
        if (i % 16 == 0) {
            ck_assert_int_eq(rmq_cl_maintain(&cl), 0);
        }
    }
}

static void
check_record(const rmq_rec_view *v, int i)
{
    uint8_t body[3000];

    ck_assert_uint_eq(v->kind, RMQ_REC_MSG);
    ck_assert_uint_eq(v->total_size, lens[i]);
    ck_assert_int_eq(v->phys_offset, offs[i]);
    ck_assert_int_eq(v->queue_offset, i / 4);
    ck_assert_int_eq(v->queue_id, i % 4);
    ck_assert_int_eq(v->store_ts, 1700000000000LL + i);
    ck_assert_uint_eq(v->body_len, body_len_of(i));
    st_fill_body(body, v->body_len, (uint32_t)i);
    ck_assert_mem_eq(v->body, body, v->body_len);
}

START_TEST(test_commitlog_records_never_span_files)
{
    append_all(NREC);
    ck_assert_int_gt(offs[NREC - 1] / FILE_SZ, 30); /* many boundaries */
    for (int i = 0; i < NREC; i++) {
        ck_assert_int_eq(offs[i] / FILE_SZ, (offs[i] + lens[i] - 1) / FILE_SZ);
        /* and at least 8 bytes stay free for a BLANK */
        ck_assert_int_le(offs[i] % FILE_SZ + lens[i] + 8, FILE_SZ);
    }
    ck_assert_int_eq(rmq_cl_write_pos(&cl), offs[NREC - 1] + lens[NREC - 1]);
}
END_TEST

START_TEST(test_commitlog_file_ends_with_blank_record)
{
    int rolls = 0;

    append_all(NREC);
    for (int i = 0; i + 1 < NREC; i++) {
        int64_t  end = offs[i] + lens[i];
        uint8_t *p;

        if (offs[i + 1] == end) {
            continue;
        }
        /* the next record went to the next file: a BLANK fills the gap */
        ck_assert_int_eq(offs[i + 1] % FILE_SZ, 0);
        ck_assert_int_eq(offs[i + 1], end - end % FILE_SZ + FILE_SZ);
        ck_assert_int_eq(rmq_mfq_ptr(&cl.q, end, 8, &p), 0);
        ck_assert_uint_eq(rmq_be32(p), (uint32_t)(offs[i + 1] - end));
        ck_assert_uint_eq(rmq_be32(p + 4), 0xCBD43194u);
        ck_assert_int_ge(offs[i + 1] - end, 8);
        rolls++;
    }
    ck_assert_int_eq(rolls, offs[NREC - 1] / FILE_SZ);
}
END_TEST

START_TEST(test_commitlog_reads_every_record_by_offset)
{
    rmq_cl       rd;
    rmq_cl_opts  o = {0};
    rmq_rec_view v;
    int64_t      end;

    /* a reader opened before anything was written must find new files */
    o.dir = st_path("commitlog");
    o.file_size = FILE_SZ;
    ck_assert_int_eq(rmq_cl_open(&rd, &o), 0);
    append_all(NREC);
    end = rmq_cl_write_pos(&cl);
    for (int i = 0; i < NREC; i++) {
        ck_assert_int_eq(rmq_cl_read(&rd, offs[i], end, true, &v), 0);
        check_record(&v, i);
    }
    ck_assert_int_eq(rmq_cl_read(&rd, end, end, true, &v), RMQ_ERR_AGAIN);
    /* a record not entirely below the end is not readable yet */
    ck_assert_int_eq(rmq_cl_read(&rd, offs[NREC - 1], end - 1, true, &v),
                     RMQ_ERR_AGAIN);
    rmq_cl_close(&rd);
}
END_TEST

START_TEST(test_commitlog_iterates_all_records_in_order)
{
    rmq_cl       rd;
    rmq_cl_opts  o = {0};
    rmq_cl_iter  it;
    rmq_rec_view v;
    int64_t      off;
    int          n = 0;

    append_all(NREC);
    o.dir = st_path("commitlog");
    o.file_size = FILE_SZ;
    ck_assert_int_eq(rmq_cl_open(&rd, &o), 0);
    rmq_cl_iter_init(&it, &rd, 0, rmq_cl_write_pos(&cl), true);
    while (rmq_cl_iter_next(&it, &v, &off) == 0) {
        ck_assert_int_lt(n, NREC);
        ck_assert_int_eq(off, offs[n]);
        check_record(&v, n);
        n++;
    }
    ck_assert_int_eq(n, NREC);
    ck_assert_int_eq(it.pos, rmq_cl_write_pos(&cl));
    ck_assert_int_eq(rmq_cl_iter_next(&it, &v, &off), RMQ_ERR_AGAIN);
    rmq_cl_close(&rd);
}
END_TEST

START_TEST(test_commitlog_iteration_resumes_as_end_grows)
{
    rmq_cl_iter  it;
    rmq_rec_view v;
    int64_t      off;
    uint8_t      buf[512];
    uint32_t     len;
    int64_t      phys;

    rmq_cl_iter_init(&it, &cl, 0, 0, false);
    ck_assert_int_eq(rmq_cl_iter_next(&it, &v, &off), RMQ_ERR_AGAIN);
    len = st_make_rec(buf, sizeof(buf), "T", 0, 10, 1);
    ck_assert_int_eq(rmq_cl_append(&cl, buf, len, 0, 1, &phys), 0);
    it.end = rmq_cl_write_pos(&cl);
    ck_assert_int_eq(rmq_cl_iter_next(&it, &v, &off), 0);
    ck_assert_int_eq(off, 0);
    ck_assert_int_eq(rmq_cl_iter_next(&it, &v, &off), RMQ_ERR_AGAIN);
}
END_TEST

START_TEST(test_commitlog_creates_next_file_ahead)
{
    uint8_t  buf[4096];
    uint32_t len;
    int64_t  phys;
    char     next[512];

    snprintf(next, sizeof(next), "%s/commitlog/%020d", st_dir, FILE_SZ);
    len = st_make_rec(buf, sizeof(buf), "T", 0, 1000, 1);
    /* below half of the file (and the window still inside it): no file */
    for (int i = 0; i < 20; i++) {
        ck_assert_int_eq(rmq_cl_append(&cl, buf, len, i, 1, &phys), 0);
    }
    ck_assert_int_eq(rmq_cl_maintain(&cl), 0);
    ck_assert_int_eq(st_file_size(next), -1);
    /* past half: maintain creates it, full size, before any roll */
    for (int i = 20; i < 40; i++) {
        ck_assert_int_eq(rmq_cl_append(&cl, buf, len, i, 1, &phys), 0);
    }
    ck_assert_int_lt(rmq_cl_write_pos(&cl), FILE_SZ);
    ck_assert_int_eq(rmq_cl_maintain(&cl), 0);
    ck_assert_int_eq(st_file_size(next), FILE_SZ);
    ck_assert_int_eq(rmq_cl_max_offset(&cl), 2 * FILE_SZ);
}
END_TEST

/*
 * Is the page at p mapped in our page tables?  (/proc/self/pagemap bit
 * 63; mincore would not do: read-ahead puts neighbours in the page cache
 * without mapping them.)
 */
static bool
page_is_mapped(const void *p)
{
    uint64_t ent = 0;
    int      fd = open("/proc/self/pagemap", O_RDONLY);
    off_t    at = (off_t)((uintptr_t)p / 4096) * 8;

    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(pread(fd, &ent, sizeof(ent), at), (ssize_t)sizeof(ent));
    close(fd);
    return (ent >> 63) & 1;
}

START_TEST(test_commitlog_prefaults_window_ahead_of_write_pos)
{
    uint8_t *p;
    int64_t  avail;

    /* 16 KiB window = 4 pages from the write position, nothing more */
    ck_assert_int_eq(rmq_mfq_span(&cl.q, 0, &p, &avail), 0);
    ck_assert(!page_is_mapped(p));
    ck_assert_int_eq(rmq_cl_maintain(&cl), 0);
    ck_assert_int_eq(cl.prefault_to, 16 * 1024);
    for (int i = 0; i < 4; i++) {
        ck_assert(page_is_mapped(p + i * 4096));
    }
    ck_assert(!page_is_mapped(p + 4 * 4096));
    ck_assert(!page_is_mapped(p + 15 * 4096));
    /* nothing was written: the window is still zeros */
    for (int i = 0; i < 16 * 1024; i++) {
        ck_assert_uint_eq(p[i], 0);
    }
}
END_TEST

START_TEST(test_commitlog_rejects_bad_and_oversized_records)
{
    static uint8_t buf[70000 + 200];
    uint32_t       len;
    int64_t        phys;

    len = st_make_rec(buf, sizeof(buf), "T", 0, 100, 1);
    buf[5] ^= 0xFF; /* magic */
    ck_assert_int_eq(rmq_cl_append(&cl, buf, len, 0, 1, &phys), RMQ_ERR_PROTO);
    len = st_make_rec(buf, sizeof(buf), "T", 0, 100, 1);
    ck_assert_int_eq(rmq_cl_append(&cl, buf, len - 1, 0, 1, &phys),
                     RMQ_ERR_PROTO);
    len = st_make_rec(buf, sizeof(buf), "T", 0, FILE_SZ, 1);
    ck_assert_int_eq(rmq_cl_append(&cl, buf, len, 0, 1, &phys), RMQ_ERR_TOOBIG);
    ck_assert_int_eq(rmq_cl_write_pos(&cl), 0);
}
END_TEST

START_TEST(test_commitlog_sync_covers_a_range)
{
    append_all(100);
    ck_assert_int_eq(rmq_cl_sync(&cl, 0, rmq_cl_write_pos(&cl)), 0);
}
END_TEST

START_TEST(test_commitlog_raw_append_continues_across_files)
{
    rmq_cl       slave;
    rmq_cl_opts  o = {0};
    rmq_cl_iter  it;
    rmq_rec_view v;
    int64_t      off, end;
    uint8_t     *p;
    int          n = 0;

    append_all(200);
    end = rmq_cl_write_pos(&cl);
    o.dir = st_path("slave");
    o.file_size = FILE_SZ;
    o.writable = true;
    ck_assert_int_eq(rmq_cl_open(&slave, &o), 0);
    ck_assert_int_eq(rmq_cl_start(&slave, 0), 0);
    /* ship whole files, as a master does (up to 32 KiB per frame) */
    for (off = 0; off < end;) {
        int64_t file_end = off - off % FILE_SZ + FILE_SZ;
        int64_t len = RMQ_MIN(RMQ_MIN(end, file_end) - off, 32 * 1024);

        ck_assert_int_eq(rmq_mfq_ptr(&cl.q, off, (size_t)len, &p), 0);
        ck_assert_int_eq(rmq_cl_append_raw(&slave, off, p, (size_t)len), 0);
        off += len;
    }
    ck_assert_int_eq(rmq_cl_write_pos(&slave), end);
    rmq_cl_iter_init(&it, &slave, 0, end, true);
    while (rmq_cl_iter_next(&it, &v, &off) == 0) {
        ck_assert_int_eq(off, offs[n]);
        n++;
    }
    ck_assert_int_eq(n, 200);
    rmq_cl_close(&slave);
}
END_TEST

/*
 * Copy 8 bytes at p through a pipe, so an unreadable address is an
 * EFAULT instead of a crash.  Returns false when p is not readable.  A
 * raw system call: the memory after the mapping may be the sanitizer's
 * own, which its write() interceptor would refuse to read.
 */
static bool
peek8(const void *p, uint8_t out[8])
{
    int  fds[2];
    bool ok;

    ck_assert_int_eq(pipe(fds), 0);
    ok = syscall(SYS_write, fds[1], p, 8) == 8;
    if (ok) {
        ck_assert_int_eq(read(fds[0], out, 8), 8);
    }
    close(fds[0]);
    close(fds[1]);
    return ok;
}

START_TEST(test_commitlog_append_after_raw_bytes_filled_a_file)
{
    static uint8_t fill[FILE_SZ];
    uint8_t        buf[512], before[8], after[8];
    uint32_t       len;
    int64_t        phys;
    uint8_t       *p;
    bool           readable;

    /* a master's file, BLANK and all, copied to its very last byte */
    rmq_put_be32(fill, FILE_SZ);
    rmq_put_be32(fill + 4, RMQ_REC_MAGIC_BLANK);
    ck_assert_int_eq(rmq_cl_append_raw(&cl, 0, fill, FILE_SZ), 0);
    ck_assert_int_eq(rmq_cl_write_pos(&cl), FILE_SZ);
    /* whatever memory follows the file's mapping must stay as it is */
    ck_assert_int_eq(rmq_mfq_ptr(&cl.q, 0, 8, &p), 0);
    readable = peek8(p + FILE_SZ, before);
    len = st_make_rec(buf, sizeof(buf), "T", 0, 10, 1);
    ck_assert_int_eq(rmq_cl_append(&cl, buf, len, 0, 1, &phys), 0);
    ck_assert_int_eq(phys, FILE_SZ);
    ck_assert_uint_eq(rmq_be32(p), FILE_SZ); /* untouched */
    if (readable) {
        ck_assert(peek8(p + FILE_SZ, after));
        ck_assert_mem_eq(before, after, 8);
    }
}
END_TEST

START_TEST(test_mfq_open_rejects_file_of_wrong_size)
{
    rmq_mfq q;
    char    path[512];
    int     fd;

    ck_assert_int_eq(mkdir(st_path("q"), 0755), 0);
    snprintf(path, sizeof(path), "%s/q/%020d", st_dir, 0);
    fd = open(path, O_CREAT | O_WRONLY, 0644);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(ftruncate(fd, 1000), 0);
    close(fd);
    ck_assert_int_eq(rmq_mfq_open(&q, st_path("q"), 4096, false),
                     RMQ_ERR_CORRUPT);
}
END_TEST

START_TEST(test_mfq_open_rejects_missing_file_in_between)
{
    rmq_mfq q;

    ck_assert_int_eq(rmq_mfq_open(&q, st_path("q"), 4096, true), 0);
    ck_assert_int_eq(rmq_mfq_create(&q, 0), 0);
    ck_assert_int_eq(rmq_mfq_create(&q, 4096), 0);
    ck_assert_int_eq(rmq_mfq_create(&q, 8192), 0);
    ck_assert_int_eq(rmq_mfq_create(&q, 4096 * 5), RMQ_ERR_INVAL);
    rmq_mfq_close(&q);
    ck_assert_int_eq(unlink(st_path("q/00000000000000004096")), 0);
    ck_assert_int_eq(rmq_mfq_open(&q, st_path("q"), 4096, false),
                     RMQ_ERR_CORRUPT);
}
END_TEST

START_TEST(test_mfq_reader_of_absent_directory_is_empty)
{
    rmq_mfq  q;
    uint8_t *p;
    int64_t  avail;

    ck_assert_int_eq(rmq_mfq_open(&q, st_path("none"), 4096, false), 0);
    ck_assert_int_eq(rmq_mfq_max_offset(&q), 0);
    ck_assert_int_eq(rmq_mfq_span(&q, 0, &p, &avail), RMQ_ERR_NOTFOUND);
    rmq_mfq_close(&q);
    ck_assert_int_eq(st_file_size(st_path("none")), -1);
}
END_TEST

START_TEST(test_mfq_truncate_zeroes_tail_and_deletes_later_files)
{
    rmq_mfq  q;
    uint8_t *p;

    ck_assert_int_eq(rmq_mfq_open(&q, st_path("q"), 4096, true), 0);
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(rmq_mfq_create(&q, i * 4096), 0);
        ck_assert_int_eq(rmq_mfq_ptr(&q, i * 4096, 4096, &p), 0);
        memset(p, 0xAB, 4096);
    }
    ck_assert_int_eq(rmq_mfq_truncate(&q, 4096 + 100), 0);
    ck_assert_int_eq(rmq_mfq_max_offset(&q), 8192);
    ck_assert_int_eq(st_file_size(st_path("q/00000000000000008192")), -1);
    ck_assert_int_eq(rmq_mfq_ptr(&q, 4096, 4096, &p), 0);
    ck_assert_uint_eq(p[99], 0xAB);
    for (int i = 100; i < 4096; i++) {
        ck_assert_uint_eq(p[i], 0);
    }
    rmq_mfq_close(&q);
}
END_TEST

START_TEST(test_mfq_forget_before_drops_front_files_only)
{
    rmq_mfq  q;
    uint8_t *p;

    ck_assert_int_eq(rmq_mfq_open(&q, st_path("q"), 4096, true), 0);
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(rmq_mfq_create(&q, i * 4096), 0);
        ck_assert_int_eq(rmq_mfq_ptr(&q, i * 4096, 8, &p), 0);
    }
    rmq_mfq_forget_before(&q, 8192 + 100);
    ck_assert_uint_eq(q.nfiles, 1);
    ck_assert_int_eq(rmq_mfq_min_offset(&q), 8192);
    ck_assert_int_eq(rmq_mfq_span(&q, 0, &p, &(int64_t){0}), RMQ_ERR_NOTFOUND);
    ck_assert_int_eq(rmq_mfq_ptr(&q, 8192, 8, &p), 0);
    ck_assert_int_eq(st_file_size(st_path("q/00000000000000000000")), 4096);
    rmq_mfq_close(&q);
}
END_TEST

static Suite *
commitlog_suite(void)
{
    Suite *s = suite_create("store.commitlog");
    TCase *app = tcase_create("append");
    TCase *rd = tcase_create("read");
    TCase *mfq = tcase_create("mfq");

    tcase_add_checked_fixture(app, cl_setup, cl_teardown);
    tcase_add_checked_fixture(rd, cl_setup, cl_teardown);
    tcase_add_checked_fixture(mfq, st_setup, st_teardown);
    tcase_set_timeout(app, 30);
    tcase_set_timeout(rd, 30);
    tcase_set_timeout(mfq, 30);
    tcase_add_test(app, test_commitlog_records_never_span_files);
    tcase_add_test(app, test_commitlog_file_ends_with_blank_record);
    tcase_add_test(app, test_commitlog_creates_next_file_ahead);
    tcase_add_test(app, test_commitlog_prefaults_window_ahead_of_write_pos);
    tcase_add_test(app, test_commitlog_rejects_bad_and_oversized_records);
    tcase_add_test(app, test_commitlog_sync_covers_a_range);
    tcase_add_test(app, test_commitlog_raw_append_continues_across_files);
    tcase_add_test(app, test_commitlog_append_after_raw_bytes_filled_a_file);
    tcase_add_test(rd, test_commitlog_reads_every_record_by_offset);
    tcase_add_test(rd, test_commitlog_iterates_all_records_in_order);
    tcase_add_test(rd, test_commitlog_iteration_resumes_as_end_grows);
    tcase_add_test(mfq, test_mfq_open_rejects_file_of_wrong_size);
    tcase_add_test(mfq, test_mfq_open_rejects_missing_file_in_between);
    tcase_add_test(mfq, test_mfq_reader_of_absent_directory_is_empty);
    tcase_add_test(mfq, test_mfq_truncate_zeroes_tail_and_deletes_later_files);
    tcase_add_test(mfq, test_mfq_forget_before_drops_front_files_only);
    suite_add_tcase(s, app);
    suite_add_tcase(s, rd);
    suite_add_tcase(s, mfq);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(commitlog_suite());
    int      failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
