/*
 * test_locks.c - Check suite "broker.locks": queue locks for orderly
 * consumers (broker/locks.h): lock bodies, exclusivity, renewal, the 60 s
 * lease on an injected clock, unlock.  Runs in the ctest process only.
 */
#include "broker/locks.h"

#include "common/buf.h"
#include "common/err.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static rmq_locks    locks;
static rmq_lock_req req;
static rmq_buf      out;
static rmq_mq       mqs[3];

static void
setup(void)
{
    rmq_locks_init(&locks, RMQ_LOCK_LEASE_MS);
    memset(&req, 0, sizeof(req));
    rmq_buf_init(&out);
    for (int i = 0; i < 3; i++) {
        memset(&mqs[i], 0, sizeof(mqs[i]));
        strcpy(mqs[i].topic, "T");
        strcpy(mqs[i].broker_name, "broker-a");
        mqs[i].queue_id = i;
    }
}

static void
teardown(void)
{
    rmq_locks_fini(&locks);
    rmq_lock_req_free(&req);
    rmq_buf_free(&out);
}

/* Lock mqs[0..n) for client at now; returns a bitmask of what it holds. */
static unsigned
lock(const char *client, uint32_t n, int64_t now)
{
    bool     locked[3];
    unsigned mask = 0;

    ck_assert_int_eq(rmq_locks_try(&locks, "G", client, mqs, n, now, locked),
                     0);
    for (uint32_t i = 0; i < n; i++) {
        mask |= locked[i] ? 1u << i : 0;
    }
    return mask;
}

START_TEST(test_parse_lock_body)
{
    const char *body =
        "{\"consumerGroup\":\"G\",\"clientId\":\"c@1\",\"mqSet\":["
        "{\"topic\":\"T\",\"brokerName\":\"broker-a\",\"queueId\":0},"
        "{\"brokerName\":\"broker-a\",\"queueId\":\"3\",\"topic\":\"U\"}],"
        "\"onlyThisBroker\":false}";

    ck_assert_int_eq(rmq_lock_req_parse(body, strlen(body), &req, NULL, 0), 0);
    ck_assert_str_eq(req.group, "G");
    ck_assert_str_eq(req.client_id, "c@1");
    ck_assert_int_eq(req.n, 2);
    ck_assert_str_eq(req.mqs[1].topic, "U");
    ck_assert_int_eq(req.mqs[1].queue_id, 3);
}
END_TEST

START_TEST(test_parse_rejects_bad_bodies)
{
    char        remark[80];
    const char *no_client = "{\"consumerGroup\":\"G\",\"mqSet\":[]}";
    const char *bad_mq = "{\"consumerGroup\":\"G\",\"clientId\":\"c\","
                         "\"mqSet\":[{\"topic\":\"T\",\"queueId\":0}]}";

    ck_assert_int_eq(rmq_lock_req_parse(no_client, strlen(no_client), &req,
                                        remark, sizeof(remark)),
                     RMQ_ERR_PROTO);
    rmq_lock_req_free(&req);
    ck_assert_int_eq(rmq_lock_req_parse(bad_mq, strlen(bad_mq), &req, remark,
                                        sizeof(remark)),
                     RMQ_ERR_PROTO);
    ck_assert_str_eq(remark, "malformed MessageQueue in mqSet");
    rmq_lock_req_free(&req);
    ck_assert_int_eq(rmq_lock_req_parse("[", 1, &req, NULL, 0), RMQ_ERR_PROTO);
}
END_TEST

START_TEST(test_lock_is_exclusive)
{
    ck_assert_uint_eq(lock("a", 2, 0), 0x3);
    ck_assert_uint_eq(lock("b", 3, 1000), 0x4); /* only the free queue */
    ck_assert_str_eq(rmq_locks_owner(&locks, "G", &mqs[0], 1000), "a");
    ck_assert_str_eq(rmq_locks_owner(&locks, "G", &mqs[2], 1000), "b");
}
END_TEST

START_TEST(test_locks_are_per_group)
{
    bool locked[1];

    ck_assert_uint_eq(lock("a", 1, 0), 0x1);
    ck_assert_int_eq(rmq_locks_try(&locks, "OTHER", "b", mqs, 1, 0, locked), 0);
    ck_assert(locked[0]);
}
END_TEST

START_TEST(test_owner_renews_lease)
{
    ck_assert_uint_eq(lock("a", 1, 0), 0x1);
    ck_assert_uint_eq(lock("a", 1, 50000), 0x1);
    /* 100 s after the first lock, 50 s after the renewal: still a's */
    ck_assert_uint_eq(lock("b", 1, 100000), 0);
    ck_assert_str_eq(rmq_locks_owner(&locks, "G", &mqs[0], 100000), "a");
}
END_TEST

START_TEST(test_lease_expires_after_60_seconds)
{
    ck_assert_uint_eq(lock("a", 1, 0), 0x1);
    ck_assert_uint_eq(lock("b", 1, 60000), 0); /* exactly 60 s: held */
    ck_assert_ptr_null(rmq_locks_owner(&locks, "G", &mqs[0], 60001));
    ck_assert_uint_eq(lock("b", 1, 60001), 0x1); /* past it: taken */
    ck_assert_str_eq(rmq_locks_owner(&locks, "G", &mqs[0], 60001), "b");
    ck_assert_uint_eq(lock("a", 1, 60002), 0);
}
END_TEST

START_TEST(test_owner_relocks_its_expired_queue)
{
    ck_assert_uint_eq(lock("a", 1, 0), 0x1);
    ck_assert_uint_eq(lock("a", 1, 500000), 0x1);
}
END_TEST

START_TEST(test_unlock_by_owner_only)
{
    ck_assert_uint_eq(lock("a", 2, 0), 0x3);
    rmq_locks_unlock(&locks, "G", "b", mqs, 2); /* not b's: no effect */
    ck_assert_str_eq(rmq_locks_owner(&locks, "G", &mqs[0], 1), "a");
    rmq_locks_unlock(&locks, "G", "a", mqs, 1);
    ck_assert_ptr_null(rmq_locks_owner(&locks, "G", &mqs[0], 1));
    ck_assert_uint_eq(lock("b", 2, 2), 0x1);
}
END_TEST

START_TEST(test_expire_forgets_stale_locks)
{
    lock("a", 2, 0);
    lock("b", 3, 30000); /* b gets queue 2 at 30 s */
    ck_assert_uint_eq(rmq_locks_expire(&locks, 60001), 2);
    ck_assert_uint_eq(locks.map.n, 1);
    ck_assert_str_eq(rmq_locks_owner(&locks, "G", &mqs[2], 60001), "b");
}
END_TEST

START_TEST(test_result_json_lists_locked_queues)
{
    bool locked[3] = {true, false, true};

    ck_assert_int_eq(rmq_lock_result_json(mqs, locked, 3, &out), 0);
    ck_assert_str_eq(rmq_buf_cstr(&out),
                     "{\"lockOKMQSet\":[{\"brokerName\":\"broker-a\","
                     "\"queueId\":0,\"topic\":\"T\"},{\"brokerName\":"
                     "\"broker-a\",\"queueId\":2,\"topic\":\"T\"}]}");
}
END_TEST

static Suite *
locks_suite(void)
{
    Suite *s = suite_create("broker.locks");
    TCase *tc;

    tc = tcase_create("body");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, test_parse_lock_body);
    tcase_add_test(tc, test_parse_rejects_bad_bodies);
    tcase_add_test(tc, test_result_json_lists_locked_queues);
    suite_add_tcase(s, tc);

    tc = tcase_create("lease");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, test_lock_is_exclusive);
    tcase_add_test(tc, test_locks_are_per_group);
    tcase_add_test(tc, test_owner_renews_lease);
    tcase_add_test(tc, test_lease_expires_after_60_seconds);
    tcase_add_test(tc, test_owner_relocks_its_expired_queue);
    tcase_add_test(tc, test_unlock_by_owner_only);
    tcase_add_test(tc, test_expire_forgets_stale_locks);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(locks_suite());
    int      failed;

    srunner_run_all(sr, CK_ENV);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
