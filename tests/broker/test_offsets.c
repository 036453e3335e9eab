/*
 * test_offsets.c - Check suite "broker.offsets": the consumer offset table
 * (broker/offsets.h), consumerOffset.json with fastjson's bare integer
 * keys (written and read through store/jsonfile.h), and the ConsumeStats
 * body.  Runs in the ctest process; files only under a fresh temp dir.
 */
#include "broker/offsets.h"

#include "common/buf.h"
#include "common/err.h"
#include "store/jsonfile.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static rmq_offsets offs;
static rmq_buf     out;
static char        dir[] = "/tmp/rmq-test-offsets-XXXXXX";
static char        path[256];

static void
setup(void)
{
    rmq_offsets_init(&offs);
    rmq_buf_init(&out);
    strcpy(dir, "/tmp/rmq-test-offsets-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/config/consumerOffset.json", dir);
}

static void
teardown(void)
{
    char cmd[512];

    rmq_offsets_fini(&offs);
    rmq_buf_free(&out);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0) {
        /* best effort */
    }
}

static int
commit(const char *g, const char *t, int q, long long off, bool force)
{
    int result = -1;

    ck_assert_int_eq(rmq_offsets_commit(&offs, g, t, q, off, force, &result),
                     0);
    return result;
}

/* Load path (with its .bak fallback) into o as the rebalancer does. */
static int
load_file(rmq_offsets *o)
{
    json_t *doc = NULL;
    int     rc = rmq_jsonfile_load(path, &doc);

    if (rc == 0) {
        rc = rmq_offsets_load_doc(o, doc);
    }
    json_decref(doc);
    return rc;
}

static void
write_text(const char *p, const char *text)
{
    FILE *f = fopen(p, "w");

    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

/* ---- table --------------------------------------------------------------- */

START_TEST(test_query_without_commit_is_minus_one)
{
    ck_assert_int_eq(rmq_offsets_query(&offs, "G", "T", 0), -1);
    commit("G", "T", 3, 10, false);
    ck_assert_int_eq(rmq_offsets_query(&offs, "G", "T", 0), -1);
    ck_assert_int_eq(rmq_offsets_query(&offs, "G", "T", 99), -1);
    ck_assert_int_eq(rmq_offsets_query(&offs, "H", "T", 3), -1);
    ck_assert_int_eq(rmq_offsets_query(&offs, "G", "T", 3), 10);
}
END_TEST

START_TEST(test_commit_moves_forward)
{
    ck_assert_int_eq(commit("G", "T", 0, 5, false), RMQ_COMMIT_STORED);
    ck_assert_int_eq(commit("G", "T", 0, 9, false), RMQ_COMMIT_STORED);
    ck_assert_int_eq(commit("G", "T", 0, 9, false), RMQ_COMMIT_SAME);
    ck_assert_int_eq(rmq_offsets_query(&offs, "G", "T", 0), 9);
}
END_TEST

START_TEST(test_commit_never_moves_backwards)
{
    uint64_t changes;

    commit("G", "T", 0, 100, false);
    changes = offs.changes;
    ck_assert_int_eq(commit("G", "T", 0, 40, false), RMQ_COMMIT_STALE);
    ck_assert_int_eq(rmq_offsets_query(&offs, "G", "T", 0), 100);
    ck_assert_uint_eq(offs.changes, changes);
}
END_TEST

START_TEST(test_forced_commit_moves_backwards)
{
    commit("G", "T", 0, 100, false);
    ck_assert_int_eq(commit("G", "T", 0, 0, true), RMQ_COMMIT_STORED);
    ck_assert_int_eq(rmq_offsets_query(&offs, "G", "T", 0), 0);
}
END_TEST

START_TEST(test_commit_rejects_bad_arguments)
{
    int r;

    ck_assert_int_eq(rmq_offsets_commit(&offs, "G", "T", -1, 1, false, &r),
                     RMQ_ERR_INVAL);
    ck_assert_int_eq(
        rmq_offsets_commit(&offs, "G", "T", RMQ_OFFSET_QUEUE_MAX, 1, false, &r),
        RMQ_ERR_INVAL);
    ck_assert_int_eq(rmq_offsets_commit(&offs, "G", "T", 0, -5, false, &r),
                     RMQ_ERR_INVAL);
    ck_assert_int_eq(rmq_offsets_commit(&offs, "", "T", 0, 1, false, &r),
                     RMQ_ERR_INVAL);
    ck_assert_int_eq(rmq_offsets_commit(&offs, "G", "a@b", 0, 1, false, &r),
                     RMQ_ERR_INVAL);
}
END_TEST

static int  ntopics;
static char topics_seen[4][32];

static void
on_topic(void *arg, const char *topic)
{
    (void)arg;
    if (ntopics < 4) {
        snprintf(topics_seen[ntopics], sizeof(topics_seen[0]), "%s", topic);
    }
    ntopics++;
}

START_TEST(test_group_topics_and_remove_group)
{
    commit("G", "T", 0, 1, false);
    commit("G", "U", 1, 2, false);
    commit("H", "T", 0, 3, false);
    ntopics = 0;
    rmq_offsets_group_topics(&offs, "G", on_topic, NULL);
    ck_assert_int_eq(ntopics, 2);
    rmq_offsets_remove_group(&offs, "G");
    ntopics = 0;
    rmq_offsets_group_topics(&offs, "G", on_topic, NULL);
    ck_assert_int_eq(ntopics, 0);
    ck_assert_int_eq(rmq_offsets_query(&offs, "H", "T", 0), 3);
}
END_TEST

/* ---- JSON ---------------------------------------------------------------- */

START_TEST(test_json_uses_bare_integer_keys)
{
    commit("G", "T", 1, 99, false);
    commit("G", "T", 0, 1234, false);
    commit("G", "%RETRY%G", 0, 0, false);
    ck_assert_int_eq(rmq_offsets_json(&offs, &out), 0);
    ck_assert_str_eq(rmq_buf_cstr(&out), "{\"offsetTable\":{\n"
                                         "\t\"%RETRY%G@G\":{0:0},\n"
                                         "\t\"T@G\":{0:1234,1:99}\n"
                                         "}}\n");
}
END_TEST

START_TEST(test_json_of_empty_table)
{
    ck_assert_int_eq(rmq_offsets_json(&offs, &out), 0);
    ck_assert_str_eq(rmq_buf_cstr(&out), "{\"offsetTable\":{}}\n");
}
END_TEST

START_TEST(test_load_java_written_file)
{
    /* pretty-printed by fastjson, as the Java broker writes it */
    const char *text = "{\n\t\"offsetTable\":{\n"
                       "\t\t\"TopicTest@please_rename_unique_group_name_4\":"
                       "{0:250,1:251,\n\t\t2:252,3:253\n\t\t},\n"
                       "\t\t\"%RETRY%g@g\":{0:0\n\t\t}\n\t}\n}";

    ck_assert_int_eq(rmq_offsets_load_json(&offs, text, strlen(text)), 0);
    ck_assert_int_eq(rmq_offsets_query(&offs,
                                       "please_rename_unique_group_name_4",
                                       "TopicTest", 2),
                     252);
    ck_assert_int_eq(rmq_offsets_query(&offs, "g", "%RETRY%g", 0), 0);
}
END_TEST

START_TEST(test_load_accepts_quoted_keys)
{
    const char *text = "{\"offsetTable\":{\"T@G\":{\"0\":7,\"3\":8}}}";

    ck_assert_int_eq(rmq_offsets_load_json(&offs, text, strlen(text)), 0);
    ck_assert_int_eq(rmq_offsets_query(&offs, "G", "T", 3), 8);
}
END_TEST

START_TEST(test_load_rejects_garbage_and_keeps_table)
{
    commit("G", "T", 0, 5, false);
    ck_assert_int_eq(rmq_offsets_load_json(&offs, "{\"x\":", 5), RMQ_ERR_PROTO);
    ck_assert_int_eq(rmq_offsets_load_json(&offs, "[1,2]", 5), RMQ_ERR_PROTO);
    ck_assert_int_eq(rmq_offsets_query(&offs, "G", "T", 0), 5);
}
END_TEST

START_TEST(test_json_round_trip)
{
    rmq_offsets back;

    commit("G", "T", 0, 1, false);
    commit("G", "T", 15, 1LL << 40, false);
    commit("H", "\"odd\"topic", 2, 3, false);
    ck_assert_int_eq(rmq_offsets_json(&offs, &out), 0);
    rmq_offsets_init(&back);
    ck_assert_int_eq(
        rmq_offsets_load_json(&back, (const char *)out.data, out.len), 0);
    ck_assert_int_eq(rmq_offsets_query(&back, "G", "T", 15), 1LL << 40);
    ck_assert_int_eq(rmq_offsets_query(&back, "H", "\"odd\"topic", 2), 3);
    ck_assert_int_eq(rmq_offsets_query(&back, "G", "T", 1), -1);
    rmq_offsets_fini(&back);
}
END_TEST

/* ---- files --------------------------------------------------------------- */

START_TEST(test_file_write_then_load)
{
    rmq_offsets back;

    commit("G", "T", 0, 42, false);
    commit("G", "T", 7, 43, false);
    ck_assert_int_eq(rmq_offsets_json(&offs, &out), 0);
    ck_assert_int_eq(rmq_jsonfile_write(path, (const char *)out.data, out.len),
                     0);
    rmq_offsets_init(&back);
    ck_assert_int_eq(load_file(&back), 0);
    ck_assert_int_eq(rmq_offsets_query(&back, "G", "T", 0), 42);
    ck_assert_int_eq(rmq_offsets_query(&back, "G", "T", 7), 43);
    rmq_offsets_fini(&back);
}
END_TEST

START_TEST(test_torn_file_falls_back_to_bak)
{
    char        bak[300];
    rmq_offsets back;

    snprintf(bak, sizeof(bak), "%s.bak", path);
    ck_assert_int_eq(rmq_jsonfile_write(path, "{}", 2), 0); /* makes config/ */
    write_text(path, "{\"offsetTable\":{\"T@G\":{0:");      /* torn */
    write_text(bak, "{\"offsetTable\":{\"T@G\":{0:77}}}");
    rmq_offsets_init(&back);
    ck_assert_int_eq(load_file(&back), 0);
    ck_assert_int_eq(rmq_offsets_query(&back, "G", "T", 0), 77);
    rmq_offsets_fini(&back);
}
END_TEST

/* ---- ConsumeStats -------------------------------------------------------- */

START_TEST(test_consume_stats_exact_form)
{
    rmq_cstats_row rows[2] = {
        {"t", 0, 10, 7, 1700000000000LL},
        {"t", 1, 0, 0, 0},
    };

    ck_assert_int_eq(rmq_consume_stats_json("b", rows, 2, 0.0, &out), 0);
    ck_assert_str_eq(
        rmq_buf_cstr(&out),
        "{\"consumeTps\":0.0,\"offsetTable\":{"
        "{\"brokerName\":\"b\",\"queueId\":0,\"topic\":\"t\"}:"
        "{\"brokerOffset\":10,\"consumerOffset\":7,"
        "\"lastTimestamp\":1700000000000},"
        "{\"brokerName\":\"b\",\"queueId\":1,\"topic\":\"t\"}:"
        "{\"brokerOffset\":0,\"consumerOffset\":0,\"lastTimestamp\":0}}}");
}
END_TEST

START_TEST(test_consume_stats_empty)
{
    ck_assert_int_eq(rmq_consume_stats_json("b", NULL, 0, 0.0, &out), 0);
    ck_assert_str_eq(rmq_buf_cstr(&out),
                     "{\"consumeTps\":0.0,\"offsetTable\":{}}");
}
END_TEST

static Suite *
offsets_suite(void)
{
    Suite *s = suite_create("broker.offsets");
    TCase *tc;

    tc = tcase_create("table");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, test_query_without_commit_is_minus_one);
    tcase_add_test(tc, test_commit_moves_forward);
    tcase_add_test(tc, test_commit_never_moves_backwards);
    tcase_add_test(tc, test_forced_commit_moves_backwards);
    tcase_add_test(tc, test_commit_rejects_bad_arguments);
    tcase_add_test(tc, test_group_topics_and_remove_group);
    suite_add_tcase(s, tc);

    tc = tcase_create("json");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, test_json_uses_bare_integer_keys);
    tcase_add_test(tc, test_json_of_empty_table);
    tcase_add_test(tc, test_load_java_written_file);
    tcase_add_test(tc, test_load_accepts_quoted_keys);
    tcase_add_test(tc, test_load_rejects_garbage_and_keeps_table);
    tcase_add_test(tc, test_json_round_trip);
    suite_add_tcase(s, tc);

    tc = tcase_create("file");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, test_file_write_then_load);
    tcase_add_test(tc, test_torn_file_falls_back_to_bak);
    suite_add_tcase(s, tc);

    tc = tcase_create("stats");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, test_consume_stats_exact_form);
    tcase_add_test(tc, test_consume_stats_empty);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(offsets_suite());
    int      failed;

    srunner_run_all(sr, CK_ENV);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
