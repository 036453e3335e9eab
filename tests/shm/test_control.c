/*
 * test_control.c - suite shm.control: the control segment (shm/control.c):
 * create/attach and the header checks, replacement by a new generation
 * while an old mapping lives on, the config text seqlock, the topic table
 * readers, and (tag proc) a stale segment left by a supervisor killed
 * with SIGKILL being replaced by the next one.
 */
#include "shm/control.h"

#include "common/err.h"
#include "common/util.h"
#include "tests/support/rmqtest.h"

#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char   *dir;
static char   *path; /* <dir>/control */
static rmq_ctl ctl;  /* created by the fixture */

static void
ctl_setup(void)
{
    dir = rmqtest_mkdtemp("control");
    path = rmqtest_strf("%s/%s", dir, RMQ_CTL_FILE);
    memset(&ctl, 0, sizeof(ctl));
    ck_assert_int_eq(rmq_ctl_create(path, &ctl), 0);
}

static void
ctl_teardown(void)
{
    rmq_ctl_detach(&ctl);
    rmqtest_rm_rf(dir);
    free(dir);
    free(path);
}

/* Copy the segment file to dst. */
static void
ctl_copy_file(const char *src, const char *dst)
{
    size_t len;
    char  *data = rmqtest_read_file(src, &len);
    int    fd = open(dst, O_WRONLY | O_CREAT | O_TRUNC, 0644);

    ck_assert_ptr_nonnull(data);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
    close(fd);
    free(data);
}

/* Overwrite len bytes at off of the file. */
static void
ctl_patch(const char *file, off_t off, const void *bytes, size_t len)
{
    int fd = open(file, O_WRONLY);

    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(pwrite(fd, bytes, len, off), (ssize_t)len);
    close(fd);
}

/* ---- create and attach -------------------------------------------------- */

START_TEST(test_ctl_create_initialises_the_header)
{
    int64_t now = rmq_now_ms();

    ck_assert(ctl.hdr->magic == RMQ_CTL_MAGIC);
    ck_assert_uint_eq(ctl.hdr->version, RMQ_CTL_VERSION);
    ck_assert_uint_eq(ctl.hdr->header_size, sizeof(rmq_ctl_header));
    ck_assert_uint_eq(ctl.hdr->size, RMQ_CTL_SIZE);
    ck_assert_uint_ne(ctl.hdr->generation, 0);
    ck_assert_int_eq(ctl.hdr->supervisor_pid, getpid());
    ck_assert_int_le(ctl.hdr->created_ms, now);
    ck_assert_int_gt(ctl.hdr->created_ms, now - 60000);
    ck_assert_uint_eq(atomic_load(&ctl.hdr->config_len), 0);
    ck_assert_uint_eq(atomic_load(&ctl.hdr->config_seq) % 2, 0);
    ck_assert_int_eq(atomic_load(&ctl.pos->cl_written), -1);
    ck_assert_int_eq(atomic_load(&ctl.pos->cl_flushed), -1);
    ck_assert_int_eq(atomic_load(&ctl.pos->dispatched), -1);
    ck_assert_uint_eq(atomic_load(&ctl.pos->store_gen), 0);
}
END_TEST

START_TEST(test_ctl_attach_read_write_and_read_only_see_the_same_segment)
{
    rmq_ctl rw, ro;

    ck_assert_int_eq(rmq_ctl_attach(path, true, &rw), 0);
    ck_assert_int_eq(rmq_ctl_attach(path, false, &ro), 0);
    ck_assert_uint_eq(rw.hdr->generation, ctl.hdr->generation);
    ck_assert_uint_eq(ro.hdr->generation, ctl.hdr->generation);
    ck_assert_int_eq(ro.hdr->created_ms, ctl.hdr->created_ms);
    ck_assert_int_eq(ro.hdr->supervisor_pid, ctl.hdr->supervisor_pid);
    /* one segment: a write through any writable view shows in the others */
    atomic_store(&ctl.slots[3].sup.s.pid, 4242);
    ck_assert_int_eq(atomic_load(&ro.slots[3].sup.s.pid), 4242);
    atomic_store(&rw.slots[3].act.s.heartbeat_ms, 777);
    ck_assert_int_eq(atomic_load(&ctl.slots[3].act.s.heartbeat_ms), 777);
    ck_assert_int_eq(atomic_load(&ro.slots[3].act.s.heartbeat_ms), 777);
    rmq_ctl_detach(&rw);
    rmq_ctl_detach(&ro);
    ck_assert_ptr_null(ro.base);
}
END_TEST

START_TEST(test_ctl_read_only_attach_cannot_write)
{
    rmq_ctl ro;

    ck_assert_int_eq(rmq_ctl_attach(path, false, &ro), 0);
    signal(SIGSEGV, SIG_DFL); /* under ASan: die by the signal, not a report */
    atomic_store(&ro.slots[0].act.s.ready_pid, 1); /* SIGSEGV expected */
}
END_TEST

START_TEST(test_ctl_attach_of_a_missing_file_is_notfound)
{
    rmq_ctl other;
    char   *missing = rmqtest_strf("%s/nothing-here", dir);

    ck_assert_int_eq(rmq_ctl_attach(missing, false, &other), RMQ_ERR_NOTFOUND);
    ck_assert_int_eq(rmq_ctl_attach(missing, true, &other), RMQ_ERR_NOTFOUND);
    free(missing);
}
END_TEST

START_TEST(test_ctl_create_in_a_missing_dir_fails)
{
    rmq_ctl other;
    char   *bad = rmqtest_strf("%s/no/such/dir/control", dir);

    ck_assert_int_eq(rmq_ctl_create(bad, &other), RMQ_ERR_SYS);
    free(bad);
}
END_TEST

START_TEST(test_ctl_create_leaves_only_the_segment_file)
{
    DIR           *d = opendir(dir);
    struct dirent *e;
    int            files = 0;

    ck_assert_ptr_nonnull(d);
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] != '.') {
            ck_assert_str_eq(e->d_name, RMQ_CTL_FILE);
            files++;
        }
    }
    closedir(d);
    ck_assert_int_eq(files, 1);
}
END_TEST

/* One way to corrupt a copy; all must make attach say RMQ_ERR_VERSION. */
enum {
    CORRUPT_MAGIC,
    CORRUPT_VERSION,
    CORRUPT_SIZE_FIELD,
    CORRUPT_HDR_SIZE,
    CORRUPT_TRUNCATE,
    CORRUPT_GROW,
    CORRUPT_EMPTY,
    CORRUPT__COUNT
};

static void
ctl_corrupt(const char *file, int how)
{
    uint64_t magic = RMQ_CTL_MAGIC ^ 1;
    uint32_t version = RMQ_CTL_VERSION + 1;
    uint64_t size = RMQ_CTL_SIZE + 4096;
    uint32_t hsize = sizeof(rmq_ctl_header) + 8;

    switch (how) {
    case CORRUPT_MAGIC:
        ctl_patch(file, offsetof(rmq_ctl_header, magic), &magic, 8);
        break;
    case CORRUPT_VERSION:
        ctl_patch(file, offsetof(rmq_ctl_header, version), &version, 4);
        break;
    case CORRUPT_SIZE_FIELD:
        ctl_patch(file, offsetof(rmq_ctl_header, size), &size, 8);
        break;
    case CORRUPT_HDR_SIZE:
        ctl_patch(file, offsetof(rmq_ctl_header, header_size), &hsize, 4);
        break;
    case CORRUPT_TRUNCATE:
        ck_assert_int_eq(truncate(file, RMQ_CTL_SIZE / 2), 0);
        break;
    case CORRUPT_GROW:
        ck_assert_int_eq(truncate(file, RMQ_CTL_SIZE + 4096), 0);
        break;
    case CORRUPT_EMPTY:
        ck_assert_int_eq(truncate(file, 0), 0);
        break;
    }
}

START_TEST(test_ctl_attach_of_a_corrupted_copy_is_a_version_mismatch)
{
    char   *copy = rmqtest_strf("%s/control.copy", dir);
    rmq_ctl other;

    ctl_copy_file(path, copy);
    ck_assert_int_eq(rmq_ctl_attach(copy, false, &other), 0); /* intact */
    rmq_ctl_detach(&other);
    ctl_corrupt(copy, _i);
    ck_assert_msg(rmq_ctl_attach(copy, false, &other) == RMQ_ERR_VERSION,
                  "corruption %d not detected (read-only)", _i);
    ck_assert_msg(rmq_ctl_attach(copy, true, &other) == RMQ_ERR_VERSION,
                  "corruption %d not detected (read-write)", _i);
    free(copy);
}
END_TEST

/* ---- generations -------------------------------------------------------- */

START_TEST(test_ctl_second_create_bumps_the_generation)
{
    rmq_ctl  next, seen;
    uint64_t gen = ctl.hdr->generation;

    ck_assert_int_eq(rmq_ctl_create(path, &next), 0);
    ck_assert_uint_eq(next.hdr->generation, gen + 1);
    ck_assert_int_eq(rmq_ctl_attach(path, false, &seen), 0);
    ck_assert_uint_eq(seen.hdr->generation, gen + 1);
    rmq_ctl_detach(&next);
    rmq_ctl_detach(&seen);
}
END_TEST

/*
 * Child: attach, say so on `ready`, wait for `go`, then check that its old
 * view is intact and unchanged.  Exit status 0 when it is.
 */
static void
ctl_old_view_child(int ready, int go, uint64_t gen)
{
    rmq_ctl old;
    char    c;
    char   *text;
    int     ok;

    if (rmq_ctl_attach(path, false, &old) != 0) {
        _exit(10);
    }
    if (write(ready, "r", 1) != 1 || read(go, &c, 1) != 1) {
        _exit(11);
    }
    text = rmq_ctl_config_read(&old);
    ok = old.hdr->magic == RMQ_CTL_MAGIC && old.hdr->generation == gen &&
         text != NULL && strcmp(text, "old = 1;\n") == 0 &&
         atomic_load(&old.slots[0].sup.s.pid) == 1111;
    free(text);
    _exit(ok ? 0 : 12);
}

START_TEST(test_ctl_replaced_segment_stays_intact_for_a_process_mapping_it)
{
    int      ready[2], go[2];
    uint64_t gen = ctl.hdr->generation;
    rmq_ctl  next;
    pid_t    pid;
    int      status;
    char     c;

    ck_assert_int_eq(rmq_ctl_config_write(&ctl, "old = 1;\n"), 0);
    atomic_store(&ctl.slots[0].sup.s.pid, 1111);
    ck_assert_int_eq(pipe(ready), 0);
    ck_assert_int_eq(pipe(go), 0);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        ctl_old_view_child(ready[1], go[0], gen);
    }
    ck_assert_int_eq(read(ready[0], &c, 1), 1);
    /* a new supervisor generation replaces the file under the child */
    ck_assert_int_eq(rmq_ctl_create(path, &next), 0);
    ck_assert_int_eq(rmq_ctl_config_write(&next, "new = 2;\n"), 0);
    atomic_store(&next.slots[0].sup.s.pid, 2222);
    ck_assert_int_eq(write(go[1], "g", 1), 1);
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "child saw a changed old segment (status %d)", status);
    ck_assert_uint_eq(next.hdr->generation, gen + 1);
    rmq_ctl_detach(&next);
}
END_TEST

START_TEST(test_ctl_create_over_a_corrupt_file_starts_a_clock_generation)
{
    rmq_ctl next;
    int64_t before = rmq_now_ms();

    ctl_corrupt(path, CORRUPT_MAGIC);
    ck_assert_int_eq(rmq_ctl_create(path, &next), 0);
    ck_assert(next.hdr->magic == RMQ_CTL_MAGIC);
    ck_assert_uint_ge(next.hdr->generation, (uint64_t)before);
    rmq_ctl_detach(&next);
}
END_TEST

/* ---- config text (seqlock) ---------------------------------------------- */

START_TEST(test_ctl_config_write_then_read_round_trips)
{
    static const char text[] = "broker = {\n  brokerName = \"x\";\n};\n";
    rmq_ctl           ro;
    char             *got;

    ck_assert_int_eq(rmq_ctl_config_write(&ctl, text), 0);
    ck_assert_int_eq(rmq_ctl_attach(path, false, &ro), 0);
    got = rmq_ctl_config_read(&ro);
    ck_assert_str_eq(got, text);
    free(got);
    /* a shorter text replaces it completely */
    ck_assert_int_eq(rmq_ctl_config_write(&ctl, "a;"), 0);
    got = rmq_ctl_config_read(&ro);
    ck_assert_str_eq(got, "a;");
    free(got);
    rmq_ctl_detach(&ro);
}
END_TEST

START_TEST(test_ctl_config_sequence_is_even_and_advances_by_two)
{
    uint64_t s0 = atomic_load(&ctl.hdr->config_seq);

    ck_assert_int_eq(rmq_ctl_config_write(&ctl, "one"), 0);
    ck_assert_uint_eq(atomic_load(&ctl.hdr->config_seq), s0 + 2);
    ck_assert_int_eq(rmq_ctl_config_write(&ctl, "two"), 0);
    ck_assert_uint_eq(atomic_load(&ctl.hdr->config_seq), s0 + 4);
    ck_assert_uint_eq(atomic_load(&ctl.hdr->config_len), 3);
}
END_TEST

START_TEST(test_ctl_config_of_the_largest_size_fits_and_one_more_is_toobig)
{
    char *big = malloc(RMQ_CTL_CONFIG_MAX + 1);
    char *got;

    memset(big, 'c', RMQ_CTL_CONFIG_MAX);
    big[RMQ_CTL_CONFIG_MAX - 1] = '\0';
    ck_assert_int_eq(rmq_ctl_config_write(&ctl, big), 0);
    got = rmq_ctl_config_read(&ctl);
    ck_assert_str_eq(got, big);
    free(got);
    big[RMQ_CTL_CONFIG_MAX - 1] = 'c';
    big[RMQ_CTL_CONFIG_MAX] = '\0';
    ck_assert_int_eq(rmq_ctl_config_write(&ctl, big), RMQ_ERR_TOOBIG);
    /* the old text is untouched */
    big[RMQ_CTL_CONFIG_MAX - 1] = '\0';
    got = rmq_ctl_config_read(&ctl);
    ck_assert_str_eq(got, big);
    free(got);
    free(big);
}
END_TEST

/* Two texts of different lengths and contents, alternated by a writer. */
static char *
ctl_text(char fill, size_t len)
{
    char *t = malloc(len + 1);

    memset(t, fill, len);
    t[len] = '\0';
    return t;
}

/* Child: alternate the two texts until a byte arrives on stop_rd. */
static void
ctl_writer_child(const char *a, const char *b, int go_rd, int stop_rd)
{
    char c;

    if (read(go_rd, &c, 1) != 1) {
        _exit(1);
    }
    for (unsigned i = 0;; i++) {
        /* a pause after each write: each text stays up for a while (a
           writer that never pauses would starve a seqlock reader) */
        struct timespec gap = {0, 20 * 1000};

        rmq_ctl_config_write(&ctl, (i & 1) ? a : b);
        nanosleep(&gap, NULL);
        if (i % 16 == 0 && read(stop_rd, &c, 1) == 1) {
            _exit(0);
        }
    }
}

START_TEST(test_ctl_config_reader_never_sees_a_torn_text)
{
    char   *a = ctl_text('a', 100);
    char   *b = ctl_text('b', 30000);
    int     go[2], stop[2];
    pid_t   pid;
    int     status;
    int     changes = 0;
    bool    last_a = true;
    int64_t deadline = rmqtest_now_ms() + rmqtest_scale_ms(20000);
    rmq_ctl ro;

    ck_assert_int_eq(rmq_ctl_config_write(&ctl, a), 0);
    ck_assert_int_eq(pipe(go), 0);
    ck_assert_int_eq(pipe2(stop, O_NONBLOCK), 0);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        ctl_writer_child(a, b, go[0], stop[0]);
    }
    ck_assert_int_eq(rmq_ctl_attach(path, false, &ro), 0);
    ck_assert_int_eq(write(go[1], "g", 1), 1);
    /* read until the writer has visibly changed the text 2000 times */
    while (changes < 2000 && rmqtest_now_ms() < deadline) {
        char *got = rmq_ctl_config_read(&ro);
        bool  is_a = strcmp(got, a) == 0;

        ck_assert_msg(is_a || strcmp(got, b) == 0,
                      "torn read: %zu bytes starting \"%.8s\"", strlen(got),
                      got);
        changes += is_a != last_a;
        last_a = is_a;
        free(got);
    }
    ck_assert_int_eq(write(stop[1], "s", 1), 1);
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    ck_assert_int_ge(changes, 2000);
    rmq_ctl_detach(&ro);
    free(a);
    free(b);
}
END_TEST

/* ---- small readers ------------------------------------------------------ */

START_TEST(test_ctl_state_names_cover_every_state)
{
    ck_assert_str_eq(rmq_actor_state_name(RMQ_ASTATE_NONE), "disabled");
    ck_assert_str_eq(rmq_actor_state_name(RMQ_ASTATE_RUNNING), "running");
    ck_assert_str_eq(rmq_actor_state_name(RMQ_ASTATE_BACKOFF), "backoff");
    ck_assert_str_eq(rmq_actor_state_name(RMQ_ASTATE_STOPPED), "stopped");
    for (unsigned s = 0; s < RMQ_ASTATE__COUNT; s++) {
        ck_assert_str_ne(rmq_actor_state_name(s), "?");
    }
    ck_assert_str_eq(rmq_actor_state_name(RMQ_ASTATE__COUNT), "?");
    ck_assert_str_eq(rmq_actor_state_name(~0u), "?");
}
END_TEST

/* Publish a topic the way clwriter will: entry first, then the index. */
static void
ctl_put_topic(int idx, const char *name, uint32_t slot)
{
    rmq_topic_entry *e = &ctl.topics[idx];

    strcpy(e->name, name);
    e->state = RMQ_TOPIC_LIVE;
    e->read_queues = 4;
    e->write_queues = 4;
    atomic_store(&ctl.thash[slot & (RMQ_TOPIC_HASH - 1)], (uint32_t)idx + 1);
}

START_TEST(test_ctl_topic_find_on_an_empty_table_finds_nothing)
{
    rmq_topic_entry snap;

    ck_assert_int_eq(rmq_ctl_topic_find(&ctl, "T", 1, &snap), -1);
    ck_assert_int_eq(rmq_ctl_topic_find(&ctl, "", 0, &snap), -1);
    ck_assert(!rmq_ctl_topic_read(&ctl, -1, &snap));
    ck_assert(!rmq_ctl_topic_read(&ctl, RMQ_TOPIC_MAX, &snap));
}
END_TEST

START_TEST(test_ctl_topic_find_follows_the_probe_chain)
{
    rmq_topic_entry snap;
    uint32_t        h = rmq_ctl_topic_hash("Orders", 6);

    /* "Other" sits in the slot of "Orders", which moved one slot on */
    ctl_put_topic(0, "Other", h);
    ctl_put_topic(1, "Orders", h + 1);
    ck_assert_int_eq(rmq_ctl_topic_find(&ctl, "Orders", 6, &snap), 1);
    ck_assert_str_eq(snap.name, "Orders");
    ck_assert_int_eq(snap.read_queues, 4);
    /* a prefix or an extension of a name is another name */
    ck_assert_int_eq(rmq_ctl_topic_find(&ctl, "Order", 5, &snap), -1);
    ck_assert_int_eq(rmq_ctl_topic_find(&ctl, "OrdersX", 7, &snap), -1);
}
END_TEST

START_TEST(test_ctl_topic_name_too_long_is_not_found)
{
    char            name[RMQ_TOPIC_NAME_MAX + 1];
    rmq_topic_entry snap;

    memset(name, 't', sizeof(name));
    ck_assert_int_eq(rmq_ctl_topic_find(&ctl, name, RMQ_TOPIC_NAME_MAX, &snap),
                     -1);
}
END_TEST

/* ---- stale segment of a killed supervisor (proc) ------------------------ */

static rmqtest_broker br;

static void
stale_setup(void)
{
    rmqtest_broker_init(&br, "stale");
    rmqtest_write_file(br.conf,
                       "namesrv = { listenPort = %d; };\n"
                       "supervisor = { runDir = \"%s\"; };\n",
                       br.ns_port, br.run_dir);
}

static void
stale_teardown(void)
{
    rmqtest_broker_fini(&br);
}

static const char *const stale_env[] = {"RMQ_TESTACTOR=1", NULL};

START_TEST(test_ctl_stale_segment_of_a_killed_supervisor_is_replaced)
{
    const char    *bin = rmqtest_env("RMQ_SUPERVISOR_TEST_BIN");
    char          *cpath = rmqtest_strf("%s/%s", br.run_dir, RMQ_CTL_FILE);
    rmqtest_actors before, after;
    rmq_ctl        old;
    json_t        *st;

    rmqtest_broker_start(&br, bin, stale_env);
    ck_assert(rmqtest_wait_all_ready(br.conf, 10000, &before));
    ck_assert_int_eq(rmq_ctl_attach(cpath, false, &old), 0);
    /* SIGKILL the supervisor and all its actors at once */
    ck_assert_int_eq(killpg(br.sup.pid, SIGKILL), 0);
    ck_assert(rmqtest_proc_wait(&br.sup, 5000));
    for (int i = 0; i < before.n; i++) {
        ck_assert(rmqtest_wait_pident_gone(&before.a[i].id, 5000));
    }
    /* the stale segment (and socket, lock file) are left behind */
    ck_assert_int_eq(access(cpath, F_OK), 0);
    rmqtest_broker_start(&br, bin, stale_env);
    ck_assert_msg(rmqtest_wait_all_ready(br.conf, 10000, &after),
                  "the new supervisor did not get ready");
    st = rmqtest_rmqctl_json(br.conf, "status", NULL);
    ck_assert_ptr_nonnull(st);
    ck_assert_int_eq(json_integer_value(json_object_get(st, "generation")),
                     (json_int_t)old.hdr->generation + 1);
    ck_assert_int_eq(json_integer_value(json_object_get(st, "pid")),
                     br.sup.pid);
    /* our mapping of the dead generation still reads consistently */
    ck_assert(old.hdr->magic == RMQ_CTL_MAGIC);
    ck_assert_int_ne(old.hdr->supervisor_pid, br.sup.pid);
    ck_assert_int_eq(after.n, before.n);
    ck_assert(rmqtest_proc_signal_wait(&br.sup, SIGTERM, 10000));
    ck_assert_int_eq(rmqtest_exit_code(br.sup.status), 0);
    json_decref(st);
    rmq_ctl_detach(&old);
    free(cpath);
}
END_TEST

static Suite *
control_suite(void)
{
    Suite *s = suite_create("shm.control");
    TCase *tc;

    tc = tcase_create("attach");
    tcase_add_unchecked_fixture(tc, rmqtest_base_setup, rmqtest_base_teardown);
    tcase_add_checked_fixture(tc, ctl_setup, ctl_teardown);
    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, test_ctl_create_initialises_the_header);
    tcase_add_test(
        tc, test_ctl_attach_read_write_and_read_only_see_the_same_segment);
    tcase_add_test_raise_signal(tc, test_ctl_read_only_attach_cannot_write,
                                SIGSEGV);
    tcase_add_test(tc, test_ctl_attach_of_a_missing_file_is_notfound);
    tcase_add_test(tc, test_ctl_create_in_a_missing_dir_fails);
    tcase_add_test(tc, test_ctl_create_leaves_only_the_segment_file);
    tcase_add_loop_test(
        tc, test_ctl_attach_of_a_corrupted_copy_is_a_version_mismatch, 0,
        CORRUPT__COUNT);
    suite_add_tcase(s, tc);

    tc = tcase_create("generation");
    tcase_add_unchecked_fixture(tc, rmqtest_base_setup, rmqtest_base_teardown);
    tcase_add_checked_fixture(tc, ctl_setup, ctl_teardown);
    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, test_ctl_second_create_bumps_the_generation);
    tcase_add_test(
        tc, test_ctl_replaced_segment_stays_intact_for_a_process_mapping_it);
    tcase_add_test(
        tc, test_ctl_create_over_a_corrupt_file_starts_a_clock_generation);
    suite_add_tcase(s, tc);

    tc = tcase_create("config");
    tcase_add_unchecked_fixture(tc, rmqtest_base_setup, rmqtest_base_teardown);
    tcase_add_checked_fixture(tc, ctl_setup, ctl_teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_ctl_config_write_then_read_round_trips);
    tcase_add_test(tc, test_ctl_config_sequence_is_even_and_advances_by_two);
    tcase_add_test(
        tc, test_ctl_config_of_the_largest_size_fits_and_one_more_is_toobig);
    tcase_add_test(tc, test_ctl_config_reader_never_sees_a_torn_text);
    suite_add_tcase(s, tc);

    tc = tcase_create("readers");
    tcase_add_unchecked_fixture(tc, rmqtest_base_setup, rmqtest_base_teardown);
    tcase_add_checked_fixture(tc, ctl_setup, ctl_teardown);
    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, test_ctl_state_names_cover_every_state);
    tcase_add_test(tc, test_ctl_topic_find_on_an_empty_table_finds_nothing);
    tcase_add_test(tc, test_ctl_topic_find_follows_the_probe_chain);
    tcase_add_test(tc, test_ctl_topic_name_too_long_is_not_found);
    suite_add_tcase(s, tc);

    tc = tcase_create("stale");
    tcase_set_tags(tc, "proc");
    tcase_add_unchecked_fixture(tc, rmqtest_base_setup, rmqtest_base_teardown);
    tcase_add_checked_fixture(tc, stale_setup, stale_teardown);
    tcase_set_timeout(tc, 40);
    tcase_add_test(tc,
                   test_ctl_stale_segment_of_a_killed_supervisor_is_replaced);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return rmqtest_run_suite(control_suite());
}
