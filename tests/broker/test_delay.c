/*
 * test_delay.c - broker.delay: the send-side rewrite of a delayed message
 * (level parsing and clamping, transaction types, the REAL_TOPIC /
 * REAL_QID / DELAY properties byte for byte) and the delivery-side
 * rebuild of a schedule-topic record, checked by decoding what was
 * encoded with store/record.h.
 */
#include "broker/delay.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/util.h"
#include "store/record.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KV "\001"
#define SEP "\002"

static const char TOPIC[] = "TopicA";
static const char BODY[] = "delayed body";

/* props parsed from text (kept alive in a static copy) */
static rmq_props
dl_props(const char *text)
{
    static char copy[4096];
    rmq_props   p;

    snprintf(copy, sizeof(copy), "%s", text);
    ck_assert_int_eq(rmq_props_parse(copy, strlen(copy), &p), 0);
    return p;
}

/* props serialised into a static string */
static const char *
dl_text(const rmq_props *p)
{
    static char out[4096];
    rmq_buf     b;

    rmq_buf_init(&b);
    rmq_props_write(p, &b);
    ck_assert_uint_lt(b.len, sizeof(out));
    memcpy(out, b.data, b.len);
    out[b.len] = '\0';
    rmq_buf_free(&b);
    return out;
}

/* ---- send side ---------------------------------------------------------- */

START_TEST(test_delay_level_parses_and_clamps)
{
    rmq_props p;

    p = dl_props("TAGS" KV "a");
    ck_assert_int_eq(rmq_delay_level(&p, 18), 0);
    p = dl_props("DELAY" KV "3");
    ck_assert_int_eq(rmq_delay_level(&p, 18), 3);
    ck_assert_int_eq(rmq_delay_level(&p, 2), 2);
    ck_assert_int_eq(rmq_delay_level(&p, 0), 0);
    p = dl_props("DELAY" KV "+4");
    ck_assert_int_eq(rmq_delay_level(&p, 18), 4);
    p = dl_props("DELAY" KV "99");
    ck_assert_int_eq(rmq_delay_level(&p, 18), 18);
}
END_TEST

START_TEST(test_delay_level_is_zero_for_bad_values)
{
    static const char *const bad[] = {
        "DELAY" KV "0",   "DELAY" KV "-1",
        "DELAY" KV "abc", "DELAY" KV "3x",
        "DELAY" KV " 3",  "DELAY" KV "99999999999",
        "DELAY" KV "+",   "DELAY" KV "3" SEP "DELAY" KV "no",
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        rmq_props p = dl_props(bad[i]);
        ck_assert_msg(rmq_delay_level(&p, 18) == 0, "case %zu", i);
    }
}
END_TEST

START_TEST(test_delay_rewrite_adds_real_topic_and_queue)
{
    rmq_props p =
        dl_props("TAGS" KV "tagA" SEP "DELAY" KV "2" SEP "KEYS" KV "k1");
    rmq_delay_target t;

    ck_assert_int_eq(rmq_delay_rewrite(&p, TOPIC, 6, 5, 0, 18, &t), 0);
    ck_assert_int_eq(t.level, 2);
    ck_assert_int_eq(t.queue_id, 1);
    ck_assert_uint_eq(t.topic_len, strlen(RMQ_SCHEDULE_TOPIC));
    ck_assert_mem_eq(t.topic, "SCHEDULE_TOPIC_XXXX", t.topic_len);
    ck_assert_str_eq(dl_text(&p),
                     "TAGS" KV "tagA" SEP "DELAY" KV "2" SEP "KEYS" KV "k1" SEP
                     "REAL_TOPIC" KV "TopicA" SEP "REAL_QID" KV "5");
}
END_TEST

START_TEST(test_delay_rewrite_clamps_level_to_the_last_one)
{
    rmq_props        p = dl_props("DELAY" KV "40");
    rmq_delay_target t;

    ck_assert_int_eq(rmq_delay_rewrite(&p, TOPIC, 6, 0, 0, 18, &t), 0);
    ck_assert_int_eq(t.level, 18);
    ck_assert_int_eq(t.queue_id, 17);
    ck_assert_str_eq(dl_text(&p), "DELAY" KV "18" SEP "REAL_TOPIC" KV
                                  "TopicA" SEP "REAL_QID" KV "0");
}
END_TEST

START_TEST(test_delay_rewrite_writes_canonical_level)
{
    rmq_props        p = dl_props("DELAY" KV "+03");
    rmq_delay_target t;

    ck_assert_int_eq(rmq_delay_rewrite(&p, TOPIC, 6, 1, 0, 18, &t), 0);
    ck_assert_int_eq(t.level, 3);
    ck_assert_str_eq(dl_text(&p), "DELAY" KV "3" SEP "REAL_TOPIC" KV
                                  "TopicA" SEP "REAL_QID" KV "1");
}
END_TEST

START_TEST(test_delay_rewrite_replaces_existing_real_keys_in_place)
{
    rmq_props        p = dl_props("REAL_QID" KV "9" SEP "DELAY" KV "1" SEP
                                  "REAL_TOPIC" KV "Old" SEP "TAGS" KV "t");
    rmq_delay_target t;

    ck_assert_int_eq(rmq_delay_rewrite(&p, TOPIC, 6, 3, 0, 18, &t), 0);
    ck_assert_str_eq(dl_text(&p), "REAL_QID" KV "3" SEP "DELAY" KV "1" SEP
                                  "REAL_TOPIC" KV "TopicA" SEP "TAGS" KV "t");
}
END_TEST

START_TEST(test_delay_rewrite_only_for_transaction_none_and_commit)
{
    static const struct {
        uint32_t sysflag;
        int      level;
    } cases[] = {
        {RMQ_SYSFLAG_TX_NONE, 2},
        {RMQ_SYSFLAG_TX_COMMIT, 2},
        {RMQ_SYSFLAG_TX_PREPARED, 0},
        {RMQ_SYSFLAG_TX_ROLLBACK, 0},
        {RMQ_SYSFLAG_MULTI_TAGS | RMQ_SYSFLAG_COMPRESSED, 2},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        rmq_props        p = dl_props("DELAY" KV "2");
        rmq_delay_target t;

        ck_assert_int_eq(
            rmq_delay_rewrite(&p, TOPIC, 6, 0, cases[i].sysflag, 18, &t), 0);
        ck_assert_msg(t.level == cases[i].level, "case %zu", i);
        if (t.level == 0) {
            ck_assert_str_eq(dl_text(&p), "DELAY" KV "2");
        }
    }
}
END_TEST

START_TEST(test_delay_rewrite_leaves_undelayed_props_alone)
{
    static const char *const texts[] = {
        "TAGS" KV "a",
        "DELAY" KV "0" SEP "TAGS" KV "a",
        "DELAY" KV "x",
        "DELAY" KV "-2",
    };

    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        rmq_props        p = dl_props(texts[i]);
        rmq_delay_target t;

        ck_assert_int_eq(rmq_delay_rewrite(&p, TOPIC, 6, 0, 0, 18, &t), 0);
        ck_assert_int_eq(t.level, 0);
        ck_assert_str_eq(dl_text(&p), texts[i]);
    }
}
END_TEST

START_TEST(test_delay_rewrite_rejects_bad_target_and_full_props)
{
    char             text[4096];
    size_t           n = 0;
    rmq_props        p = dl_props("DELAY" KV "1");
    rmq_delay_target t;

    ck_assert_int_eq(rmq_delay_rewrite(&p, TOPIC, 6, -1, 0, 18, &t),
                     RMQ_ERR_INVAL);
    ck_assert_int_eq(rmq_delay_rewrite(&p, TOPIC, 0, 0, 0, 18, &t),
                     RMQ_ERR_INVAL);
    /* 63 properties + DELAY: no room for REAL_TOPIC and REAL_QID */
    n += (size_t)snprintf(text, sizeof(text), "DELAY" KV "1");
    for (int i = 0; i < RMQ_PROPS_MAX - 1; i++) {
        n += (size_t)snprintf(text + n, sizeof(text) - n, SEP "k%d" KV "v", i);
    }
    p = dl_props(text);
    ck_assert_uint_eq(p.n, RMQ_PROPS_MAX);
    ck_assert_int_eq(rmq_delay_rewrite(&p, TOPIC, 6, 0, 0, 18, &t),
                     RMQ_ERR_TOOBIG);
    ck_assert_str_eq(dl_text(&p), text);
}
END_TEST

/* ---- delivery side ------------------------------------------------------ */

/* A schedule-topic record as the send path stores it. */
static uint32_t
dl_schedule_record(uint8_t *buf, size_t cap, const char *props, bool born_v6)
{
    rmq_rec_msg m;
    uint32_t    len;

    memset(&m, 0, sizeof(m));
    m.topic = RMQ_SCHEDULE_TOPIC;
    m.topic_len = (uint32_t)strlen(RMQ_SCHEDULE_TOPIC);
    m.queue_id = 1;
    m.flag = 77;
    m.sysflag = RMQ_SYSFLAG_MULTI_TAGS | RMQ_SYSFLAG_TX_COMMIT;
    m.born_ts = 1700000000123LL;
    m.born_ip_len = born_v6 ? 16 : 4;
    for (int i = 0; i < m.born_ip_len; i++) {
        m.born_ip[i] = (uint8_t)(10 + i);
    }
    m.born_port = 40404;
    m.store_ip_len = 4;
    m.store_ip[0] = 192;
    m.store_ip[3] = 9;
    m.store_port = 9999;
    m.reconsume_times = 4;
    m.prepared_tx_offset = 123456789;
    m.body = BODY;
    m.body_len = (uint32_t)strlen(BODY);
    m.body_crc = rmq_body_crc(BODY, m.body_len);
    m.props = props;
    m.props_len = (uint32_t)strlen(props);
    ck_assert_int_eq(rmq_rec_encode(&m, buf, cap, &len), 0);
    rmq_rec_fixup(buf, 42, 4096, 1700000000999LL);
    return len;
}

static rmq_host
dl_host(void)
{
    rmq_host h;

    memset(&h, 0, sizeof(h));
    h.ip[0] = 127;
    h.ip[3] = 1;
    h.ip_len = 4;
    h.port = 10911;
    return h;
}

/* Unwrap the record in buf, encode the delivery, decode it into *out. */
static int
dl_deliver(const uint8_t *buf, uint32_t len, uint8_t *outbuf, size_t cap,
           rmq_rec_view *out)
{
    static rmq_delay_msg d;
    rmq_rec_view         v;
    rmq_host             h = dl_host();
    uint32_t             size, n;
    int                  rc;

    ck_assert_int_eq(rmq_rec_decode(buf, len, true, &v), 0);
    rc = rmq_delay_unwrap(&v, &h, &d);
    if (rc != 0) {
        return rc;
    }
    ck_assert_int_eq(rmq_rec_size(&d.msg, &size), 0);
    ck_assert_uint_le(size, cap);
    ck_assert_int_eq(rmq_rec_encode(&d.msg, outbuf, size, &n), 0);
    ck_assert_uint_eq(n, size);
    ck_assert_int_eq(rmq_rec_decode(outbuf, n, true, out), 0);
    return 0;
}

START_TEST(test_delay_unwrap_rebuilds_the_real_message)
{
    static uint8_t in[1024], outb[1024];
    const char    *props = "TAGS" KV "tagA" SEP "DELAY" KV "2" SEP "KEYS" KV
                        "k1" SEP "REAL_TOPIC" KV "TopicA" SEP "REAL_QID" KV "5";
    const char *want = "TAGS" KV "tagA" SEP "KEYS" KV "k1" SEP "REAL_TOPIC" KV
                       "TopicA" SEP "REAL_QID" KV "5";
    rmq_rec_view o;
    uint32_t     len = dl_schedule_record(in, sizeof(in), props, false);

    ck_assert_int_eq(dl_deliver(in, len, outb, sizeof(outb), &o), 0);
    ck_assert_uint_eq(o.topic_len, 6);
    ck_assert_mem_eq(o.topic, "TopicA", 6);
    ck_assert_int_eq(o.queue_id, 5);
    ck_assert_int_eq(o.flag, 77);
    ck_assert_uint_eq(o.sysflag,
                      RMQ_SYSFLAG_MULTI_TAGS | RMQ_SYSFLAG_TX_COMMIT);
    ck_assert_int_eq(o.born_ts, 1700000000123LL);
    ck_assert_uint_eq(o.born_ip_len, 4);
    ck_assert_mem_eq(o.born_ip, "\x0a\x0b\x0c\x0d", 4);
    ck_assert_int_eq(o.born_port, 40404);
    ck_assert_uint_eq(o.store_ip_len, 4);
    ck_assert_mem_eq(o.store_ip, "\x7f\x00\x00\x01", 4);
    ck_assert_int_eq(o.store_port, 10911);
    ck_assert_int_eq(o.reconsume_times, 4);
    ck_assert_int_eq(o.prepared_tx_offset, 123456789);
    ck_assert_uint_eq(o.body_len, strlen(BODY));
    ck_assert_mem_eq(o.body, BODY, strlen(BODY));
    ck_assert_uint_eq(o.body_crc, rmq_body_crc(BODY, strlen(BODY)));
    /* append-time fields are the writer's to fill */
    ck_assert_int_eq(o.queue_offset, 0);
    ck_assert_int_eq(o.phys_offset, 0);
    ck_assert_int_eq(o.store_ts, 0);
    ck_assert_uint_eq(o.props_len, strlen(want));
    ck_assert_mem_eq(o.props, want, o.props_len);
    /* the dispatcher will index it by its tag again */
    ck_assert_int_eq(rmq_rec_tags_code(&o, NULL, 0),
                     (int64_t)rmq_java_hash("tagA", 4));
}
END_TEST

START_TEST(test_delay_unwrap_keeps_ipv6_born_host)
{
    static uint8_t in[1024], outb[1024];
    rmq_rec_view   o;
    uint32_t       len = dl_schedule_record(
              in, sizeof(in),
              "DELAY" KV "1" SEP "REAL_TOPIC" KV "T" SEP "REAL_QID" KV "0", true);

    ck_assert_int_eq(dl_deliver(in, len, outb, sizeof(outb), &o), 0);
    ck_assert_uint_eq(o.born_ip_len, 16);
    ck_assert(o.sysflag & RMQ_SYSFLAG_BORN_V6);
    ck_assert(!(o.sysflag & RMQ_SYSFLAG_STORE_V6));
    for (int i = 0; i < 16; i++) {
        ck_assert_uint_eq(o.born_ip[i], 10 + i);
    }
    ck_assert_uint_eq(o.props_len,
                      strlen("REAL_TOPIC" KV "T" SEP "REAL_QID" KV "0"));
}
END_TEST

START_TEST(test_delay_unwrap_round_trips_the_send_rewrite)
{
    static uint8_t in[1024], outb[1024];
    const char    *orig = "UNIQ_KEY" KV "ABC" SEP "DELAY" KV "7" SEP "TAGS" KV
                       "x" SEP "CLUSTER" KV "DefaultCluster";
    const char *want =
        "UNIQ_KEY" KV "ABC" SEP "TAGS" KV "x" SEP "CLUSTER" KV
        "DefaultCluster" SEP "REAL_TOPIC" KV "Real" SEP "REAL_QID" KV "2";
    rmq_props        p = dl_props(orig);
    rmq_delay_target t;
    rmq_rec_view     v, o;
    uint32_t         len;

    ck_assert_int_eq(rmq_delay_rewrite(&p, "Real", 4, 2, 0, 3, &t), 0);
    ck_assert_int_eq(t.level, 3);
    len = dl_schedule_record(in, sizeof(in), dl_text(&p), false);
    /* the schedule entry's tagsCode is the delivery time of level 3 */
    ck_assert_int_eq(rmq_rec_decode(in, len, true, &v), 0);
    ck_assert_int_eq(
        rmq_rec_tags_code(&v, (const int64_t[]){1000, 2000, 3000}, 3),
        1700000000999LL + 3000);
    ck_assert_int_eq(dl_deliver(in, len, outb, sizeof(outb), &o), 0);
    ck_assert_mem_eq(o.topic, "Real", 4);
    ck_assert_int_eq(o.queue_id, 2);
    ck_assert_uint_eq(o.props_len, strlen(want));
    ck_assert_mem_eq(o.props, want, o.props_len);
}
END_TEST

START_TEST(test_delay_unwrap_takes_last_duplicate_and_drops_bad_items)
{
    static uint8_t                                 in[1024], outb[1024];
    const char                                    *props =
        SEP "REAL_TOPIC" KV "First" SEP "junk" SEP KV "v" SEP "DELAY" KV "1" SEP
            "REAL_QID" KV "1" SEP "REAL_TOPIC" KV "Second" SEP "e" KV SEP;
    const char *want = "REAL_TOPIC" KV "First" SEP "REAL_QID" KV "1" SEP
                       "REAL_TOPIC" KV "Second";
    rmq_rec_view o;
    uint32_t     len = dl_schedule_record(in, sizeof(in), props, false);

    ck_assert_int_eq(dl_deliver(in, len, outb, sizeof(outb), &o), 0);
    ck_assert_mem_eq(o.topic, "Second", 6);
    ck_assert_int_eq(o.queue_id, 1);
    ck_assert_uint_eq(o.props_len, strlen(want));
    ck_assert_mem_eq(o.props, want, o.props_len);
}
END_TEST

START_TEST(test_delay_unwrap_rejects_missing_or_bad_real_fields)
{
    static const struct {
        const char *props;
        int         rc;
    } cases[] = {
        {"DELAY" KV "1" SEP "REAL_QID" KV "0", RMQ_ERR_NOTFOUND},
        {"DELAY" KV "1" SEP "REAL_TOPIC" KV "T", RMQ_ERR_NOTFOUND},
        {"REAL_TOPIC" KV "T" SEP "REAL_QID" KV "x", RMQ_ERR_INVAL},
        {"REAL_TOPIC" KV "T" SEP "REAL_QID" KV "-1", RMQ_ERR_INVAL},
        {"REAL_TOPIC" KV "T" SEP "REAL_QID" KV "4294967296", RMQ_ERR_INVAL},
        {"REAL_TOPIC" KV "SCHEDULE_TOPIC_XXXX" SEP "REAL_QID" KV "0",
         RMQ_ERR_INVAL},
        {"REAL_TOPIC" KV "RMQ_SYS_TRANS_HALF_TOPIC" SEP "REAL_QID" KV "0",
         RMQ_ERR_PERM},
    };
    static uint8_t in[1024], outb[1024];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        rmq_rec_view o;
        uint32_t     len =
            dl_schedule_record(in, sizeof(in), cases[i].props, false);
        int rc = dl_deliver(in, len, outb, sizeof(outb), &o);

        ck_assert_msg(rc == cases[i].rc, "case %zu: %s", i, rmq_strerror(rc));
    }
}
END_TEST

START_TEST(test_delay_unwrap_rejects_overlong_real_topic)
{
    static uint8_t in[1024], outb[1024];
    char           props[512];
    char           topic[129];
    rmq_rec_view   o;
    uint32_t       len;

    memset(topic, 'a', 128);
    topic[128] = '\0';
    snprintf(props, sizeof(props), "REAL_TOPIC" KV "%s" SEP "REAL_QID" KV "0",
             topic);
    len = dl_schedule_record(in, sizeof(in), props, false);
    ck_assert_int_eq(dl_deliver(in, len, outb, sizeof(outb), &o),
                     RMQ_ERR_INVAL);
    topic[127] = '\0'; /* 127 bytes is the v1 limit: fine */
    snprintf(props, sizeof(props), "REAL_TOPIC" KV "%s" SEP "REAL_QID" KV "0",
             topic);
    len = dl_schedule_record(in, sizeof(in), props, false);
    ck_assert_int_eq(dl_deliver(in, len, outb, sizeof(outb), &o), 0);
    ck_assert_uint_eq(o.topic_len, 127);
}
END_TEST

static Suite *
delay_suite(void)
{
    Suite *s = suite_create("broker.delay");
    TCase *send = tcase_create("send");
    TCase *deliver = tcase_create("deliver");

    tcase_set_timeout(send, 10);
    tcase_set_timeout(deliver, 10);
    tcase_add_test(send, test_delay_level_parses_and_clamps);
    tcase_add_test(send, test_delay_level_is_zero_for_bad_values);
    tcase_add_test(send, test_delay_rewrite_adds_real_topic_and_queue);
    tcase_add_test(send, test_delay_rewrite_clamps_level_to_the_last_one);
    tcase_add_test(send, test_delay_rewrite_writes_canonical_level);
    tcase_add_test(send,
                   test_delay_rewrite_replaces_existing_real_keys_in_place);
    tcase_add_test(send,
                   test_delay_rewrite_only_for_transaction_none_and_commit);
    tcase_add_test(send, test_delay_rewrite_leaves_undelayed_props_alone);
    tcase_add_test(send, test_delay_rewrite_rejects_bad_target_and_full_props);
    tcase_add_test(deliver, test_delay_unwrap_rebuilds_the_real_message);
    tcase_add_test(deliver, test_delay_unwrap_keeps_ipv6_born_host);
    tcase_add_test(deliver, test_delay_unwrap_round_trips_the_send_rewrite);
    tcase_add_test(deliver,
                   test_delay_unwrap_takes_last_duplicate_and_drops_bad_items);
    tcase_add_test(deliver,
                   test_delay_unwrap_rejects_missing_or_bad_real_fields);
    tcase_add_test(deliver, test_delay_unwrap_rejects_overlong_real_topic);
    suite_add_tcase(s, send);
    suite_add_tcase(s, deliver);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(delay_suite());
    int      failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
