/*
 * test_put.c - broker.put: the sending side of the put path (broker/put.h)
 * across a clwriter restart, without processes.
 *
 * The test owns a fresh control segment in a temp run directory and plays
 * the supervisor: it names the READY clwriter in its slot (a made-up pid;
 * nothing listens on clwriter.in, so batches just queue in the socket).
 * It then checks which outstanding batches rmq_putc_check gives up on,
 * and that results from the live clwriter still complete its batches.
 */
#include "broker/put.h"
#include "common/err.h"
#include "common/log.h"
#include "net/chan.h"
#include "supervisor/actor.h"
#include "tests/support/rmqtest.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PT_RING (1u << 20)

static struct {
    char    *run_dir;
    rmq_ctl  ctl;
    rmq_putc p;
    int      lfd;
    int      ndone;
    uint64_t cookie[16];
    int32_t  status[16];
} pt;

/* Play the supervisor: pid is the READY clwriter now. */
static void
pt_set_writer(int32_t pid)
{
    rmq_actor_slot *s = &pt.ctl.slots[RMQ_ACTOR_CLWRITER];

    atomic_store(&s->sup.s.pid, pid);
    atomic_store(&s->sup.s.state, RMQ_ASTATE_RUNNING);
    atomic_store(&s->act.s.ready_pid, pid);
}

static void
pt_done(void *arg, uint64_t cookie, const rmq_put_res *r)
{
    (void)arg;
    ck_assert_int_lt(pt.ndone, 16);
    pt.cookie[pt.ndone] = cookie;
    pt.status[pt.ndone] = r->status;
    pt.ndone++;
}

static void
pt_setup(void)
{
    char *ctl_path;

    memset(&pt, 0, sizeof(pt));
    pt.run_dir = rmqtest_mkdtemp("put");
    ctl_path = rmqtest_strf("%s/%s", pt.run_dir, RMQ_CTL_FILE);
    ck_assert_int_eq(rmq_ctl_create(ctl_path, &pt.ctl), 0);
    free(ctl_path);
    pt_set_writer(1000001);
    ck_assert_int_eq(rmq_chan_listen(pt.run_dir, "clwriter", "put", &pt.lfd),
                     0);
    ck_assert_int_eq(rmq_putc_open(&pt.p, &pt.ctl, pt.run_dir,
                                   RMQ_ACTOR_TESTACTOR, PT_RING, 30000),
                     0);
    pt.p.max_inflight = 16; /* each record its own batch, sent at once */
}

static void
pt_teardown(void)
{
    rmq_putc_close(&pt.p);
    close(pt.lfd);
    rmq_ctl_detach(&pt.ctl);
    rmqtest_rm_rf(pt.run_dir);
    free(pt.run_dir);
}

/* Queue one (dummy) record with cookie and send it as its own batch. */
static void
pt_send(uint64_t cookie)
{
    int      rc;
    uint8_t *dst = rmq_putc_reserve(&pt.p, 100, &rc);

    ck_assert_ptr_nonnull(dst);
    memset(dst, 0xab, 100);
    ck_assert_int_eq(rmq_putc_add(&pt.p, 0, 0, 0, cookie), 0);
    ck_assert_int_eq(rmq_putc_flush(&pt.p), 0);
}

/* The result clwriter would send for the oldest batch in flight. */
static void
pt_answer_oldest(int32_t writer_pid)
{
    static rmq_msg_put_result r;
    rmq_buf                   b;

    memset(&r, 0, sizeof(r));
    r.seq = pt.p.inflight[pt.p.inflight_head].seq;
    r.writer_pid = writer_pid;
    r.n = 1;
    r.r[0] = (rmq_put_res){RMQ_PUT_OK, 4096, 7};
    rmq_buf_init(&b);
    rmq_msg_put_result_encode(&r, &b);
    ck_assert_int_eq(rmq_putc_on_result(&pt.p, b.data, b.len, pt_done, NULL),
                     0);
    rmq_buf_free(&b);
}

START_TEST(test_put_check_fails_only_batches_of_a_dead_writer)
{
    pt_send(1);             /* to the first clwriter */
    pt_set_writer(1000002); /* it died; its successor is READY */
    pt_send(2); /* to the successor, which will read its ring space */
    rmq_putc_check(&pt.p, pt_done, NULL);
    ck_assert_int_eq(pt.ndone, 1);
    ck_assert_uint_eq(pt.cookie[0], 1);
    ck_assert_int_eq(pt.status[0], RMQ_PUT_WRONG_WRITER);
    ck_assert_uint_eq(rmq_putc_inflight(&pt.p), 1);
    /* and the successor's answer completes it */
    pt_answer_oldest(1000002);
    ck_assert_int_eq(pt.ndone, 2);
    ck_assert_uint_eq(pt.cookie[1], 2);
    ck_assert_int_eq(pt.status[1], RMQ_PUT_OK);
    ck_assert_uint_eq(rmq_putc_inflight(&pt.p), 0);
}
END_TEST

START_TEST(test_put_check_keeps_batches_of_a_live_writer)
{
    pt_send(1);
    pt_send(2);
    rmq_putc_check(&pt.p, pt_done, NULL);
    ck_assert_int_eq(pt.ndone, 0);
    ck_assert_uint_eq(rmq_putc_inflight(&pt.p), 2);
}
END_TEST

START_TEST(test_put_check_fails_every_batch_of_a_dead_writer)
{
    pt_send(1);
    pt_send(2);
    pt_set_writer(1000002);
    rmq_putc_check(&pt.p, pt_done, NULL);
    ck_assert_int_eq(pt.ndone, 2);
    ck_assert_int_eq(pt.status[0], RMQ_PUT_WRONG_WRITER);
    ck_assert_int_eq(pt.status[1], RMQ_PUT_WRONG_WRITER);
    ck_assert_uint_eq(rmq_putc_inflight(&pt.p), 0);
}
END_TEST

static Suite *
put_suite(void)
{
    Suite *s = suite_create("broker.put");
    TCase *tc = tcase_create("restart");

    tcase_set_timeout(tc, 10);
    tcase_add_unchecked_fixture(tc, rmqtest_base_setup, rmqtest_base_teardown);
    tcase_add_checked_fixture(tc, pt_setup, pt_teardown);
    tcase_add_test(tc, test_put_check_keeps_batches_of_a_live_writer);
    tcase_add_test(tc, test_put_check_fails_every_batch_of_a_dead_writer);
    tcase_add_test(tc, test_put_check_fails_only_batches_of_a_dead_writer);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    rmq_log_init("test");
    return rmqtest_run_suite(put_suite());
}
