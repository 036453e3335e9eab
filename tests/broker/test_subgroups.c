/*
 * test_subgroups.c - Check suite "broker.subgroups": subscription group
 * configs, subscriptionGroup.json, and their publication in a real
 * control segment (broker/subgroups.h) read back through the readers'
 * API (rmq_ctl_group_find, rmq_ctl_sub_find).  Each test makes its own
 * temp dir and segment; nothing else touches them.
 */
#include "broker/subgroups.h"

#include "common/buf.h"
#include "common/err.h"
#include "shm/control.h"

#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static char           dir[64];
static char           path[256];
static char           ctl_path[256];
static rmq_ctl        ctl;
static rmq_subgroups *sg;
static rmq_buf        out;

static void
setup(void)
{
    strcpy(dir, "/tmp/rmq-test-subgroups-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/config/subscriptionGroup.json", dir);
    snprintf(ctl_path, sizeof(ctl_path), "%s/control", dir);
    ck_assert_int_eq(rmq_ctl_create(ctl_path, &ctl), 0);
    sg = NULL;
    rmq_buf_init(&out);
}

static void
teardown(void)
{
    char cmd[128];

    rmq_subgroups_close(sg);
    rmq_ctl_detach(&ctl);
    rmq_buf_free(&out);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0) {
        /* best effort */
    }
}

static void
open_sg(bool with_ctl, bool with_path)
{
    rmq_subgroups_close(sg);
    sg = NULL;
    ck_assert_int_eq(rmq_subgroups_open(&sg, with_ctl ? &ctl : NULL,
                                        with_path ? path : NULL),
                     0);
}

static const rmq_sgconf *
create(const char *name)
{
    bool              created;
    const rmq_sgconf *c =
        rmq_subgroups_find_or_create(sg, name, true, &created);

    ck_assert_ptr_nonnull(c);
    return c;
}

static int
shm_group(const char *name, rmq_group_entry *snap)
{
    return rmq_ctl_group_find(&ctl, name, snap);
}

static uint64_t
groups_gen(void)
{
    return atomic_load(&ctl.pos->groups_gen);
}

static uint64_t
subs_gen(void)
{
    return atomic_load(&ctl.pos->subs_gen);
}

/* ---- configs ------------------------------------------------------------- */

START_TEST(test_java_groups_are_preseeded)
{
    static const char *const seeds[] = {
        "TOOLS_CONSUMER",     "FILTERSRV_CONSUMER", "SELF_TEST_C_GROUP",
        "CID_ONS-HTTP-PROXY", "CID_ONSAPI_PULL",    "CID_ONSAPI_PERMISSION",
        "CID_ONSAPI_OWNER"};

    open_sg(false, false);
    ck_assert_uint_eq(rmq_subgroups_count(sg), 7);
    for (size_t i = 0; i < 7; i++) {
        ck_assert_ptr_nonnull(rmq_subgroups_find(sg, seeds[i]));
    }
}
END_TEST

START_TEST(test_find_or_create_uses_java_defaults)
{
    bool              created;
    const rmq_sgconf *c;

    open_sg(false, false);
    ck_assert_ptr_null(rmq_subgroups_find_or_create(sg, "G", false, &created));
    ck_assert(!created);
    c = rmq_subgroups_find_or_create(sg, "G", true, &created);
    ck_assert(created);
    ck_assert_str_eq(c->name, "G");
    ck_assert(c->consume_enable && c->consume_from_min_enable &&
              c->consume_broadcast_enable && c->notify_ids_changed);
    ck_assert_int_eq(c->retry_queue_nums, 1);
    ck_assert_int_eq(c->retry_max_times, 16);
    ck_assert_int_eq(c->broker_id, 0);
    ck_assert_int_eq(c->which_broker_when_slow, 1);
    ck_assert_ptr_eq(rmq_subgroups_find_or_create(sg, "G", true, &created), c);
    ck_assert(!created);
}
END_TEST

START_TEST(test_parse_subscription_group_config)
{
    const char *body = "{\"groupName\":\"G\",\"consumeEnable\":false,"
                       "\"retryQueueNums\":2,\"retryMaxTimes\":\"3\","
                       "\"brokerId\":1,\"notifyConsumerIdsChangedEnable\":"
                       "\"false\",\"unknown\":1}";
    rmq_sgconf  c;
    char        remark[64];

    ck_assert_int_eq(rmq_sgconf_parse(body, strlen(body), &c, NULL, 0), 0);
    ck_assert_str_eq(c.name, "G");
    ck_assert(!c.consume_enable);
    ck_assert(c.consume_from_min_enable);
    ck_assert(!c.notify_ids_changed);
    ck_assert_int_eq(c.retry_queue_nums, 2);
    ck_assert_int_eq(c.retry_max_times, 3);
    ck_assert_int_eq(c.broker_id, 1);
    ck_assert_int_eq(rmq_sgconf_parse("{}", 2, &c, remark, sizeof(remark)),
                     RMQ_ERR_PROTO);
    ck_assert_str_eq(remark, "SubscriptionGroupConfig needs a groupName");
}
END_TEST

START_TEST(test_update_and_delete)
{
    rmq_sgconf c;

    open_sg(false, false);
    rmq_sgconf_defaults(&c, "G");
    c.retry_max_times = 5;
    ck_assert_int_eq(rmq_subgroups_update(sg, &c), 0);
    ck_assert_int_eq(rmq_subgroups_find(sg, "G")->retry_max_times, 5);
    ck_assert_uint_eq(rmq_subgroups_count(sg), 8);
    ck_assert_int_eq(rmq_subgroups_delete(sg, "G"), 0);
    ck_assert_ptr_null(rmq_subgroups_find(sg, "G"));
    ck_assert_int_eq(rmq_subgroups_delete(sg, "G"), RMQ_ERR_NOTFOUND);
    ck_assert_uint_eq(rmq_subgroups_count(sg), 7);
}
END_TEST

START_TEST(test_json_has_java_field_names)
{
    json_t *doc, *g;

    open_sg(false, false);
    create("G");
    ck_assert_int_eq(rmq_subgroups_json(sg, false, &out), 0);
    doc = json_loads(rmq_buf_cstr(&out), 0, NULL);
    ck_assert_ptr_nonnull(doc);
    ck_assert(json_is_integer(
        json_object_get(json_object_get(doc, "dataVersion"), "counter")));
    g = json_object_get(json_object_get(doc, "subscriptionGroupTable"), "G");
    ck_assert_ptr_nonnull(g);
    ck_assert_str_eq(json_string_value(json_object_get(g, "groupName")), "G");
    ck_assert(json_is_true(json_object_get(g, "consumeEnable")));
    ck_assert(json_is_true(json_object_get(g, "consumeFromMinEnable")));
    ck_assert(json_is_true(json_object_get(g, "consumeBroadcastEnable")));
    ck_assert(
        json_is_true(json_object_get(g, "notifyConsumerIdsChangedEnable")));
    ck_assert_int_eq(json_integer_value(json_object_get(g, "retryQueueNums")),
                     1);
    ck_assert_int_eq(json_integer_value(json_object_get(g, "retryMaxTimes")),
                     16);
    ck_assert_int_eq(json_integer_value(json_object_get(g, "brokerId")), 0);
    ck_assert_int_eq(
        json_integer_value(json_object_get(g, "whichBrokerWhenConsumeSlowly")),
        1);
    ck_assert_ptr_null(json_object_get(g, "consumeMessageOrderly"));
    ck_assert_int_eq(json_object_size(g), 9);
    json_decref(doc);
}
END_TEST

START_TEST(test_changes_are_saved_and_loaded)
{
    rmq_sgconf c;

    open_sg(false, true);
    rmq_sgconf_defaults(&c, "G");
    c.retry_queue_nums = 3;
    ck_assert_int_eq(rmq_subgroups_update(sg, &c), 0);
    create("H");
    ck_assert_int_eq(rmq_subgroups_delete(sg, "TOOLS_CONSUMER"), 0);
    open_sg(false, true); /* a restart */
    ck_assert_int_eq(rmq_subgroups_find(sg, "G")->retry_queue_nums, 3);
    ck_assert_ptr_nonnull(rmq_subgroups_find(sg, "H"));
    /* like Java, a seed the file lacks comes back */
    ck_assert_ptr_nonnull(rmq_subgroups_find(sg, "TOOLS_CONSUMER"));
}
END_TEST

START_TEST(test_loads_java_file)
{
    FILE *f;
    char  cfgdir[300];

    snprintf(cfgdir, sizeof(cfgdir), "%s/config", dir);
    ck_assert_int_eq(mkdir(cfgdir, 0755), 0);
    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs("{\n\t\"dataVersion\":{\n\t\t\"counter\":4,\n\t\t\"timestamp\":"
          "1700000000000\n\t},\n\t\"subscriptionGroupTable\":{\n\t\t\"JG\":{"
          "\n\t\t\t\"brokerId\":0,\n\t\t\t\"consumeBroadcastEnable\":true,"
          "\n\t\t\t\"consumeEnable\":false,\n\t\t\t\"consumeFromMinEnable\":"
          "true,\n\t\t\t\"groupName\":\"JG\",\n\t\t\t"
          "\"notifyConsumerIdsChangedEnable\":true,\n\t\t\t\"retryMaxTimes\":"
          "16,\n\t\t\t\"retryQueueNums\":1,\n\t\t\t"
          "\"whichBrokerWhenConsumeSlowly\":1\n\t\t}\n\t}\n}",
          f);
    fclose(f);
    open_sg(false, true);
    ck_assert_ptr_nonnull(rmq_subgroups_find(sg, "JG"));
    ck_assert(!rmq_subgroups_find(sg, "JG")->consume_enable);
    ck_assert_int_eq(rmq_subgroups_json(sg, false, &out), 0);
    ck_assert_ptr_nonnull(strstr(rmq_buf_cstr(&out), "\"counter\":4"));
}
END_TEST

/* ---- control segment ----------------------------------------------------- */

START_TEST(test_open_publishes_configs)
{
    rmq_group_entry e;

    open_sg(true, false);
    ck_assert_int_ge(shm_group("TOOLS_CONSUMER", &e), 0);
    ck_assert_uint_eq(e.state, 1);
    ck_assert(e.consume_enable);
    ck_assert_int_eq(e.retry_queue_nums, 1);
    ck_assert_int_eq(e.retry_max_times, 16);
    ck_assert_int_eq(shm_group("NOPE", &e), -1);
    ck_assert_uint_gt(groups_gen(), 0);
}
END_TEST

START_TEST(test_created_group_is_readable)
{
    rmq_group_entry e;
    uint64_t        gen;
    int             idx;

    open_sg(true, false);
    gen = groups_gen();
    create("GID_NEW");
    idx = shm_group("GID_NEW", &e);
    ck_assert_int_ge(idx, 0);
    ck_assert_int_eq(idx, rmq_subgroups_shm_index(sg, "GID_NEW"));
    ck_assert_str_eq(e.name, "GID_NEW");
    ck_assert_uint_eq(e.state, 1);
    ck_assert(e.notify_ids_changed_enable);
    ck_assert_uint_eq(atomic_load(&ctl.groups[idx].seq) & 1, 0);
    ck_assert_uint_gt(groups_gen(), gen);
}
END_TEST

START_TEST(test_update_delete_revive_keep_the_entry)
{
    rmq_sgconf      c;
    rmq_group_entry e;
    int             idx;

    open_sg(true, false);
    idx = rmq_subgroups_shm_index(sg, create("G")->name);
    rmq_sgconf_defaults(&c, "G");
    c.consume_enable = false;
    c.orderly = true;
    ck_assert_int_eq(rmq_subgroups_update(sg, &c), 0);
    ck_assert_int_eq(shm_group("G", &e), idx);
    ck_assert(!e.consume_enable);
    ck_assert_uint_eq(e.flags, RMQ_GROUP_F_ORDERLY);
    ck_assert_int_eq(rmq_subgroups_delete(sg, "G"), 0);
    ck_assert_int_eq(shm_group("G", &e), idx);
    ck_assert_uint_eq(e.state, 2);
    create("G");
    ck_assert_int_eq(shm_group("G", &e), idx);
    ck_assert_uint_eq(e.state, 1);
    ck_assert(e.consume_enable);
}
END_TEST

START_TEST(test_subscriptions_publish_and_remove)
{
    rmq_sub_pub   two[2] = {{"T", "tagA || tagB", 100, 0},
                            {"%RETRY%G", "*", 101, 0}};
    rmq_sub_entry s;
    int           gidx, row;
    uint64_t      gen;

    open_sg(true, false);
    gidx = rmq_subgroups_shm_index(sg, create("G")->name);
    gen = subs_gen();
    ck_assert_int_eq(rmq_subgroups_publish_subs(sg, "G", two, 2), 0);
    ck_assert_uint_gt(subs_gen(), gen);
    row = rmq_ctl_sub_find(&ctl, gidx, "T", &s);
    ck_assert_int_ge(row, 0);
    ck_assert_str_eq(s.expr, "tagA || tagB");
    ck_assert_int_eq(s.sub_version, 100);
    ck_assert_int_ge(rmq_ctl_sub_find(&ctl, gidx, "%RETRY%G", &s), 0);
    /* same set again: nothing to write */
    gen = subs_gen();
    ck_assert_int_eq(rmq_subgroups_publish_subs(sg, "G", two, 2), 0);
    ck_assert_uint_eq(subs_gen(), gen);
    /* T dropped */
    ck_assert_int_eq(rmq_subgroups_publish_subs(sg, "G", &two[1], 1), 0);
    ck_assert_int_eq(rmq_ctl_sub_find(&ctl, gidx, "T", &s), -1);
    ck_assert_int_ge(rmq_ctl_sub_find(&ctl, gidx, "%RETRY%G", &s), 0);
    /* T back with a new filter: its own row revived */
    two[0].expr = "tagC";
    two[0].sub_version = 200;
    ck_assert_int_eq(rmq_subgroups_publish_subs(sg, "G", two, 2), 0);
    ck_assert_int_eq(rmq_ctl_sub_find(&ctl, gidx, "T", &s), row);
    ck_assert_str_eq(s.expr, "tagC");
    ck_assert_int_eq(s.sub_version, 200);
    ck_assert_int_eq(rmq_subgroups_publish_subs(sg, "G", NULL, 0), 0);
    ck_assert_int_eq(rmq_ctl_sub_find(&ctl, gidx, "%RETRY%G", &s), -1);
}
END_TEST

START_TEST(test_subscriptions_need_a_group_entry)
{
    rmq_sub_pub one = {"T", "*", 1, 0};

    open_sg(true, false);
    ck_assert_int_eq(rmq_subgroups_publish_subs(sg, "NOGROUP", &one, 1),
                     RMQ_ERR_NOTFOUND);
}
END_TEST

START_TEST(test_overlong_tag_expression_publishes_star)
{
    char          expr[400];
    rmq_sub_pub   subs[2] = {{"T", expr, 1, 0}, {"U", expr, 1, 1}};
    rmq_sub_entry s;
    int           gidx;

    memset(expr, 'a', sizeof(expr) - 1);
    expr[sizeof(expr) - 1] = '\0';
    open_sg(true, false);
    gidx = rmq_subgroups_shm_index(sg, create("G")->name);
    ck_assert_int_eq(rmq_subgroups_publish_subs(sg, "G", subs, 2), 0);
    ck_assert_int_ge(rmq_ctl_sub_find(&ctl, gidx, "T", &s), 0);
    ck_assert_str_eq(s.expr, "*");
    ck_assert_int_eq(rmq_ctl_sub_find(&ctl, gidx, "U", &s), -1); /* SQL92 */
}
END_TEST

static bool
keep_only_h(void *arg, const char *group)
{
    (void)arg;
    return strcmp(group, "H") == 0;
}

START_TEST(test_restart_adopts_entries_and_prunes_subscriptions)
{
    rmq_sub_pub   one = {"T", "*", 1, 0};
    rmq_sub_entry s;
    int           g, h;

    open_sg(true, true);
    g = rmq_subgroups_shm_index(sg, create("G")->name);
    h = rmq_subgroups_shm_index(sg, create("H")->name);
    rmq_subgroups_publish_subs(sg, "G", &one, 1);
    rmq_subgroups_publish_subs(sg, "H", &one, 1);
    rmq_subgroups_delete(sg, "H");
    /* a new rebalancer on the same segment */
    open_sg(true, true);
    ck_assert_int_eq(rmq_subgroups_shm_index(sg, "G"), g);
    ck_assert_int_eq(rmq_subgroups_shm_index(sg, "H"), h);
    ck_assert_int_ge(rmq_ctl_sub_find(&ctl, g, "T", &s), 0);
    ck_assert_int_ge(rmq_ctl_sub_find(&ctl, h, "T", &s), 0);
    rmq_subgroups_prune_subs(sg, keep_only_h, NULL);
    ck_assert_int_eq(rmq_ctl_sub_find(&ctl, g, "T", &s), -1);
    ck_assert_int_ge(rmq_ctl_sub_find(&ctl, h, "T", &s), 0);
    /* a group entry whose config is gone from the file reads as deleted */
    ck_assert_uint_eq(ctl.groups[h].state, 2);
}
END_TEST

START_TEST(test_restart_finishes_torn_writes)
{
    rmq_sub_pub     one = {"T", "*", 1, 0};
    rmq_group_entry e;
    rmq_sub_entry   s;
    int             g, row;

    open_sg(true, true);
    g = rmq_subgroups_shm_index(sg, create("G")->name);
    rmq_subgroups_publish_subs(sg, "G", &one, 1);
    row = rmq_ctl_sub_find(&ctl, g, "T", &s);
    ck_assert_int_ge(row, 0);
    /* crash in the middle of rewriting both */
    rmq_ctl_seq_begin(&ctl.groups[g].seq);
    rmq_ctl_seq_begin(&ctl.subs[row].seq);
    rmq_ctl_seq_begin(&ctl.groups[g + 1].seq); /* a never-finished new one */
    open_sg(true, true);
    ck_assert_uint_eq(atomic_load(&ctl.groups[g].seq) & 1, 0);
    ck_assert_uint_eq(atomic_load(&ctl.subs[row].seq) & 1, 0);
    ck_assert_uint_eq(atomic_load(&ctl.groups[g + 1].seq) & 1, 0);
    ck_assert_int_eq(shm_group("G", &e), g);
    ck_assert_uint_eq(e.state, 1);
    /* the torn subscription cannot be trusted: removed until re-reported */
    ck_assert_int_eq(rmq_ctl_sub_find(&ctl, g, "T", &s), -1);
    create("G2");
    ck_assert_int_eq(shm_group("G2", &e), g + 1);
}
END_TEST

static Suite *
subgroups_suite(void)
{
    Suite *s = suite_create("broker.subgroups");
    TCase *tc;

    tc = tcase_create("config");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, test_java_groups_are_preseeded);
    tcase_add_test(tc, test_find_or_create_uses_java_defaults);
    tcase_add_test(tc, test_parse_subscription_group_config);
    tcase_add_test(tc, test_update_and_delete);
    tcase_add_test(tc, test_json_has_java_field_names);
    tcase_add_test(tc, test_changes_are_saved_and_loaded);
    tcase_add_test(tc, test_loads_java_file);
    suite_add_tcase(s, tc);

    tc = tcase_create("shm");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, test_open_publishes_configs);
    tcase_add_test(tc, test_created_group_is_readable);
    tcase_add_test(tc, test_update_delete_revive_keep_the_entry);
    tcase_add_test(tc, test_subscriptions_publish_and_remove);
    tcase_add_test(tc, test_subscriptions_need_a_group_entry);
    tcase_add_test(tc, test_overlong_tag_expression_publishes_star);
    tcase_add_test(tc, test_restart_adopts_entries_and_prunes_subscriptions);
    tcase_add_test(tc, test_restart_finishes_torn_writes);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(subgroups_suite());
    int      failed;

    srunner_run_all(sr, CK_ENV);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
