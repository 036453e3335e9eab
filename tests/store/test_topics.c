/*
 * test_topics.c - store.topics: the topic table in a real control
 * segment (created in the test's directory): create, update, delete,
 * revive, lookups through the hash index, name and count validation,
 * queue slots, default system topics, topics.json round trip.
 */
#include "common/err.h"
#include "store/jsonfile.h"
#include "store/topics.h"
#include "store_test.h"

static rmq_ctl    ctl;
static rmq_topics tp;

static void
tp_setup(void)
{
    st_setup();
    ck_assert_int_eq(rmq_ctl_create(st_path("control"), &ctl), 0);
    ck_assert_int_eq(rmq_topics_open(&tp, &ctl, st_dir, NULL, NULL), 0);
}

static void
tp_teardown(void)
{
    rmq_ctl_detach(&ctl);
    st_teardown();
}

static int
put(const char *name, int32_t r, int32_t w, int32_t perm)
{
    rmq_topic_conf c;

    rmq_topic_conf_default(&c, name);
    c.read_queues = r;
    c.write_queues = w;
    c.perm = perm;
    return rmq_topics_put(&tp, &c);
}

static int
find(const char *name, rmq_topic_entry *e)
{
    return rmq_ctl_topic_find(&ctl, name, strlen(name), e);
}

START_TEST(test_topics_create_is_found_through_hash_index)
{
    rmq_topic_entry e;
    uint64_t        gen = atomic_load(&ctl.pos->topics_gen);

    ck_assert_int_eq(put("TopicA", 4, 8, 6), 0);
    ck_assert_int_ge(find("TopicA", &e), 0);
    ck_assert_str_eq(e.name, "TopicA");
    ck_assert_uint_eq(e.state, RMQ_TOPIC_LIVE);
    ck_assert_int_eq(e.read_queues, 4);
    ck_assert_int_eq(e.write_queues, 8);
    ck_assert_int_eq(e.perm, 6);
    ck_assert_uint_eq(e.queue_cap, 8);
    ck_assert_uint_eq(e.seq % 2, 0);
    ck_assert_uint_gt(atomic_load(&ctl.pos->topics_gen), gen);
    ck_assert_int_eq(tp.dv_counter, 1);
    ck_assert(tp.dirty);
    ck_assert_int_eq(find("TopicB", &e), -1);
    ck_assert_int_eq(find("Topic", &e), -1);
}
END_TEST

START_TEST(test_topics_put_same_config_changes_nothing)
{
    uint64_t gen;

    ck_assert_int_eq(put("TopicA", 4, 4, 6), 0);
    gen = atomic_load(&ctl.pos->topics_gen);
    ck_assert_int_eq(put("TopicA", 4, 4, 6), 0);
    ck_assert_uint_eq(atomic_load(&ctl.pos->topics_gen), gen);
    ck_assert_int_eq(tp.dv_counter, 1);
}
END_TEST

START_TEST(test_topics_rejects_invalid_names_and_counts)
{
    char long_name[200];

    ck_assert_int_eq(put("", 1, 1, 6), RMQ_ERR_INVAL);
    ck_assert_int_eq(put("a b", 1, 1, 6), RMQ_ERR_INVAL);
    ck_assert_int_eq(put("a/b", 1, 1, 6), RMQ_ERR_INVAL);
    ck_assert_int_eq(put("a.b", 1, 1, 6), RMQ_ERR_INVAL);
    ck_assert_int_eq(put("..", 1, 1, 6), RMQ_ERR_INVAL);
    ck_assert_int_eq(put("T", 0, 1, 6), RMQ_ERR_INVAL);
    ck_assert_int_eq(put("T", 1, 1025, 6), RMQ_ERR_INVAL);
    ck_assert_int_eq(put("T", 1, 1, 16), RMQ_ERR_INVAL);
    memset(long_name, 'a', 127);
    long_name[127] = '\0';
    ck_assert(rmq_topic_name_valid(long_name, 127));
    ck_assert(!rmq_topic_name_valid(long_name, 128));
    ck_assert_int_eq(put("%RETRY%g-1|x_y", 1, 1, 6), 0);
    ck_assert_int_eq(tp.dv_counter, 1);
}
END_TEST

START_TEST(test_topics_slots_do_not_overlap_and_grow_keeps_offsets)
{
    rmq_topic_entry a, b, a2;

    ck_assert_int_eq(put("A", 4, 4, 6), 0);
    ck_assert_int_eq(put("B", 2, 2, 6), 0);
    find("A", &a);
    find("B", &b);
    ck_assert(a.queue_base + a.queue_cap <= b.queue_base ||
              b.queue_base + b.queue_cap <= a.queue_base);
    for (uint32_t q = 0; q < 4; q++) {
        atomic_store(&ctl.qw[a.queue_base + q].next_offset, 100 + q);
    }
    /* A grows past its 4 slots: B is in the way, so A moves */
    ck_assert_int_eq(put("A", 16, 16, 6), 0);
    find("A", &a2);
    ck_assert_uint_eq(a2.queue_cap, 16);
    ck_assert(a2.queue_base + 16 <= b.queue_base ||
              b.queue_base + b.queue_cap <= a2.queue_base);
    for (uint32_t q = 0; q < 4; q++) {
        ck_assert_int_eq(atomic_load(&ctl.qw[a2.queue_base + q].next_offset),
                         100 + q);
    }
    ck_assert_int_eq(atomic_load(&ctl.qw[a2.queue_base + 4].next_offset), 0);
    /* shrinking keeps the slots */
    ck_assert_int_eq(put("A", 2, 2, 6), 0);
    find("A", &a);
    ck_assert_uint_eq(a.queue_cap, 16);
    ck_assert_uint_eq(a.queue_base, a2.queue_base);
}
END_TEST

START_TEST(test_topics_delete_then_revive_keeps_entry_and_slots)
{
    rmq_topic_entry e1, e2;
    int             idx;

    ck_assert_int_eq(put("T", 8, 8, 6), 0);
    idx = find("T", &e1);
    atomic_store(&ctl.qw[e1.queue_base + 3].next_offset, 42);
    ck_assert_int_eq(rmq_topics_delete(&tp, "T", 1), 0);
    ck_assert_int_eq(find("T", &e2), idx);
    ck_assert_uint_eq(e2.state, RMQ_TOPIC_DELETED);
    ck_assert_int_eq(rmq_topics_delete(&tp, "T", 1), RMQ_ERR_NOTFOUND);
    ck_assert_int_eq(rmq_topics_delete(&tp, "U", 1), RMQ_ERR_NOTFOUND);
    ck_assert_int_eq(put("T", 4, 4, 6), 0);
    ck_assert_int_eq(find("T", &e2), idx);
    ck_assert_uint_eq(e2.state, RMQ_TOPIC_LIVE);
    ck_assert_uint_eq(e2.queue_base, e1.queue_base);
    ck_assert_int_eq(e2.read_queues, 4);
    ck_assert_int_eq(atomic_load(&ctl.qw[e2.queue_base + 3].next_offset), 42);
    ck_assert_int_eq(tp.dv_counter, 3);
}
END_TEST

static int64_t
init_offset_cb(void *arg, const char *topic, int32_t qid)
{
    (void)arg;
    return strcmp(topic, "Old") == 0 ? 1000 + qid : 0;
}

START_TEST(test_topics_fresh_slots_take_offsets_from_callback)
{
    rmq_topic_entry e;

    tp.init_offset = init_offset_cb;
    ck_assert_int_eq(put("Old", 3, 3, 6), 0);
    find("Old", &e);
    ck_assert_int_eq(atomic_load(&ctl.qw[e.queue_base + 0].next_offset), 1000);
    ck_assert_int_eq(atomic_load(&ctl.qw[e.queue_base + 2].next_offset), 1002);
}
END_TEST

START_TEST(test_topics_full_slots_reclaim_deleted_topics)
{
    char            name[32];
    rmq_topic_entry e;

    for (int i = 0; i < RMQ_QUEUE_MAX / 1024; i++) {
        snprintf(name, sizeof(name), "Big%d", i);
        ck_assert_int_eq(put(name, 1024, 1024, 6), 0);
    }
    ck_assert_int_eq(put("OneMore", 1, 1, 6), RMQ_ERR_FULL);
    ck_assert_int_eq(find("OneMore", &e), -1);
    ck_assert_int_eq(rmq_topics_delete(&tp, "Big7", 4), 0);
    ck_assert_int_eq(put("OneMore", 1, 1, 6), 0);
    find("Big7", &e);
    ck_assert_uint_eq(e.queue_cap, 0); /* its slots went to OneMore */
}
END_TEST

START_TEST(test_topics_default_system_topics)
{
    rmq_broker_config cfg;
    rmq_topic_entry   e;

    memset(&cfg, 0, sizeof(cfg));
    strcpy(cfg.cluster_name, "DefaultCluster");
    strcpy(cfg.broker_name, "broker-a");
    cfg.auto_create_topic = true;
    cfg.default_topic_queue_nums = 8;
    cfg.delay_level_count = 18;
    ck_assert_int_eq(rmq_topics_create_defaults(&tp, &cfg), 0);
    ck_assert_int_ge(find("TBW102", &e), 0);
    ck_assert_int_eq(e.read_queues, 8);
    ck_assert_int_eq(e.perm, 7);
    ck_assert_int_ge(find("SELF_TEST_TOPIC", &e), 0);
    ck_assert_int_eq(e.write_queues, 1);
    ck_assert_int_eq(e.perm, 6);
    ck_assert_int_ge(find("DefaultCluster", &e), 0);
    ck_assert_int_eq(e.perm, 7);
    ck_assert_int_eq(e.read_queues, 16);
    ck_assert_int_ge(find("broker-a", &e), 0);
    ck_assert_int_eq(e.perm, 7);
    ck_assert_int_eq(e.read_queues, 1);
    ck_assert_int_ge(find("OFFSET_MOVED_EVENT", &e), 0);
    ck_assert_int_eq(e.read_queues, 1);
    ck_assert_int_ge(find("SCHEDULE_TOPIC_XXXX", &e), 0);
    ck_assert_int_eq(e.read_queues, 18);
    ck_assert_int_ge(find("DefaultCluster_REPLY_TOPIC", &e), 0);
    ck_assert_int_eq(e.read_queues, 1);
    /* a topic from the file wins over the default */
    ck_assert_int_eq(put("TBW102", 4, 4, 7), 0);
    ck_assert_int_eq(rmq_topics_create_defaults(&tp, &cfg), 0);
    find("TBW102", &e);
    ck_assert_int_eq(e.read_queues, 4);
    /* without autoCreateTopicEnable there is no TBW102 */
    rmq_ctl_detach(&ctl);
    ck_assert_int_eq(rmq_ctl_create(st_path("control2"), &ctl), 0);
    ck_assert_int_eq(rmq_topics_open(&tp, &ctl, st_path("none"), NULL, NULL),
                     0);
    cfg.auto_create_topic = false;
    ck_assert_int_eq(rmq_topics_create_defaults(&tp, &cfg), 0);
    ck_assert_int_eq(find("TBW102", &e), -1);
}
END_TEST

START_TEST(test_topics_json_round_trip)
{
    rmq_topic_conf  c;
    rmq_topic_entry e;
    json_t         *root, *t;
    rmq_ctl         ctl2;
    rmq_topics      tp2;

    rmq_topic_conf_default(&c, "Orders");
    c.read_queues = 4;
    c.write_queues = 2;
    c.flags = RMQ_TOPIC_F_ORDER | RMQ_TOPIC_F_MULTI_TAG;
    c.sysflag = 1;
    ck_assert_int_eq(rmq_topics_put(&tp, &c), 0);
    ck_assert_int_eq(put("Gone", 1, 1, 6), 0);
    ck_assert_int_eq(rmq_topics_delete(&tp, "Gone", 4), 0);
    ck_assert_int_eq(rmq_topics_save(&tp), 0); /* creates config/ */
    ck_assert(!tp.dirty);

    ck_assert_int_eq(rmq_jsonfile_load(st_path("config/topics.json"), &root),
                     0);
    t = json_object_get(json_object_get(root, "topicConfigTable"), "Orders");
    ck_assert_ptr_nonnull(t);
    ck_assert_ptr_null(
        json_object_get(json_object_get(root, "topicConfigTable"), "Gone"));
    ck_assert(json_is_true(json_object_get(t, "order")));
    ck_assert_int_eq(json_integer_value(json_object_get(t, "perm")), 6);
    ck_assert_int_eq(json_integer_value(json_object_get(t, "readQueueNums")),
                     4);
    ck_assert_int_eq(json_integer_value(json_object_get(t, "writeQueueNums")),
                     2);
    ck_assert_int_eq(json_integer_value(json_object_get(t, "topicSysFlag")), 1);
    ck_assert_str_eq(json_string_value(json_object_get(t, "topicFilterType")),
                     "MULTI_TAG");
    ck_assert_str_eq(json_string_value(json_object_get(t, "topicName")),
                     "Orders");
    ck_assert_int_eq(json_integer_value(json_object_get(
                         json_object_get(root, "dataVersion"), "counter")),
                     3);
    json_decref(root);

    /* a fresh segment loads the same table and dataVersion */
    ck_assert_int_eq(rmq_ctl_create(st_path("control2"), &ctl2), 0);
    ck_assert_int_eq(rmq_topics_open(&tp2, &ctl2, st_dir, NULL, NULL), 0);
    ck_assert_int_eq(tp2.dv_counter, 3);
    ck_assert_int_eq(tp2.dv_ms, tp.dv_ms);
    ck_assert_int_ge(rmq_ctl_topic_find(&ctl2, "Orders", 6, &e), 0);
    ck_assert_int_eq(e.read_queues, 4);
    ck_assert_int_eq(e.write_queues, 2);
    ck_assert_uint_eq(e.flags, RMQ_TOPIC_F_ORDER | RMQ_TOPIC_F_MULTI_TAG);
    ck_assert_int_eq(e.sysflag, 1);
    ck_assert_int_eq(rmq_ctl_topic_find(&ctl2, "Gone", 4, &e), -1);
    ck_assert(!tp2.dirty);
    rmq_ctl_detach(&ctl2);
}
END_TEST

START_TEST(test_topics_load_skips_invalid_entries)
{
    rmq_topic_entry   e;
    static const char text[] =
        "{\"dataVersion\":{\"counter\":9,\"timestamp\":5},"
        "\"topicConfigTable\":{\"ok\":{\"readQueueNums\":2,"
        "\"writeQueueNums\":2,\"perm\":6},\"bad name\":{},"
        "\"zero\":{\"readQueueNums\":0},\"notobj\":3}}";

    ck_assert_int_eq(rmq_jsonfile_write(st_path("config/topics.json"), text,
                                        sizeof(text) - 1),
                     0);
    ck_assert_int_eq(rmq_topics_open(&tp, &ctl, st_dir, NULL, NULL), 0);
    ck_assert_int_eq(tp.dv_counter, 9);
    ck_assert_int_ge(find("ok", &e), 0);
    ck_assert_int_eq(find("zero", &e), -1);
    ck_assert_int_eq(find("notobj", &e), -1);
}
END_TEST

static Suite *
topics_suite(void)
{
    Suite *s = suite_create("store.topics");
    TCase *tab = tcase_create("table");
    TCase *file = tcase_create("file");

    tcase_add_checked_fixture(tab, tp_setup, tp_teardown);
    tcase_add_checked_fixture(file, tp_setup, tp_teardown);
    tcase_set_timeout(tab, 30);
    tcase_set_timeout(file, 30);
    tcase_add_test(tab, test_topics_create_is_found_through_hash_index);
    tcase_add_test(tab, test_topics_put_same_config_changes_nothing);
    tcase_add_test(tab, test_topics_rejects_invalid_names_and_counts);
    tcase_add_test(tab,
                   test_topics_slots_do_not_overlap_and_grow_keeps_offsets);
    tcase_add_test(tab, test_topics_delete_then_revive_keeps_entry_and_slots);
    tcase_add_test(tab, test_topics_fresh_slots_take_offsets_from_callback);
    tcase_add_test(tab, test_topics_full_slots_reclaim_deleted_topics);
    tcase_add_test(tab, test_topics_default_system_topics);
    tcase_add_test(file, test_topics_json_round_trip);
    tcase_add_test(file, test_topics_load_skips_invalid_entries);
    suite_add_tcase(s, tab);
    suite_add_tcase(s, file);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(topics_suite());
    int      failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
