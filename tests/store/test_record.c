/*
 * test_record.c - store.record: the commit-log record codec against
 * byte vectors written out field by field from spec/store-format.md 2.2
 * (not built with the code under test), CRC and corruption detection,
 * BLANK and end-of-data, offset message ids, tagsCode.
 */
#include "common/err.h"
#include "common/util.h"
#include "store/record.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

/* A tiny big-endian writer for the expected bytes. */
typedef struct vec {
    uint8_t b[512];
    size_t  n;
} vec;

static void
v_bytes(vec *v, const void *p, size_t n)
{
    memcpy(v->b + v->n, p, n);
    v->n += n;
}

static void
v_u8(vec *v, uint8_t x)
{
    v->b[v->n++] = x;
}

static void
v_u16(vec *v, uint16_t x)
{
    v_u8(v, (uint8_t)(x >> 8));
    v_u8(v, (uint8_t)x);
}

static void
v_u32(vec *v, uint32_t x)
{
    v_u8(v, (uint8_t)(x >> 24));
    v_u8(v, (uint8_t)(x >> 16));
    v_u8(v, (uint8_t)(x >> 8));
    v_u8(v, (uint8_t)x);
}

static void
v_u64(vec *v, uint64_t x)
{
    v_u32(v, (uint32_t)(x >> 32));
    v_u32(v, (uint32_t)x);
}

static const char     TOPIC[] = "TopicA";
static const char     BODY[] = "hello";
static const uint32_t BODY_CRC = 0x3610A686u; /* crc32("hello") & 0x7FFFFFFF */
/* TAGS=tagA, KEYS=k1 with the U+0001 / U+0002 separators */
static const char    PROPS[] = "TAGS\x01tagA\x02KEYS\x01k1";
static const uint8_t BORN_V4[4] = {192, 168, 1, 20};
static const uint8_t STORE_V4[4] = {10, 0, 0, 1};
static const uint8_t BORN_V6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0,
                                    0,    0,    0,    0,    0, 0, 0, 0x42};

static void
msg_init(rmq_rec_msg *m, bool born_v6, bool store_v6)
{
    memset(m, 0, sizeof(*m));
    m->topic = TOPIC;
    m->topic_len = 6;
    m->queue_id = 3;
    m->flag = 0x01020304;
    m->sysflag = RMQ_SYSFLAG_MULTI_TAGS;
    m->born_ts = 0x0000018C12345678LL;
    if (born_v6) {
        memcpy(m->born_ip, BORN_V6, 16);
        m->born_ip_len = 16;
    } else {
        memcpy(m->born_ip, BORN_V4, 4);
        m->born_ip_len = 4;
    }
    m->born_port = 51234;
    if (store_v6) {
        memcpy(m->store_ip, BORN_V6, 16);
        m->store_ip_len = 16;
    } else {
        memcpy(m->store_ip, STORE_V4, 4);
        m->store_ip_len = 4;
    }
    m->store_port = 10911;
    m->reconsume_times = 2;
    m->prepared_tx_offset = 0;
    m->body = BODY;
    m->body_len = 5;
    m->body_crc = BODY_CRC;
    m->props = PROPS;
    m->props_len = sizeof(PROPS) - 1;
}

/* The record as spec 2.2 lays it out, one field per line. */
static void
expected(vec *v, bool born_v6, bool store_v6)
{
    uint32_t props_len = sizeof(PROPS) - 1; /* 17 */
    uint32_t total =
        91 + 5 + 6 + props_len + (born_v6 ? 12 : 0) + (store_v6 ? 12 : 0);
    uint32_t sysflag = 0x2 | (born_v6 ? 0x10 : 0) | (store_v6 ? 0x20 : 0);

    v->n = 0;
    v_u32(v, total); /* 1 totalSize */
    v_u8(v, 0xDA);   /* 2 magic v1, byte by byte */
    v_u8(v, 0xA3);
    v_u8(v, 0x20);
    v_u8(v, 0xA7);
    v_u32(v, BODY_CRC);              /* 3 bodyCRC */
    v_u32(v, 3);                     /* 4 queueId */
    v_u32(v, 0x01020304);            /* 5 flag */
    v_u64(v, 0);                     /* 6 queueOffset */
    v_u64(v, 0);                     /* 7 physicalOffset */
    v_u32(v, sysflag);               /* 8 sysFlag */
    v_u64(v, 0x0000018C12345678ULL); /* 9 bornTimestamp */
    v_bytes(v, born_v6 ? BORN_V6 : BORN_V4, born_v6 ? 16 : 4); /* 10 */
    v_u32(v, 51234);
    v_u64(v, 0); /* 11 storeTimestamp */
    v_bytes(v, store_v6 ? BORN_V6 : STORE_V4, store_v6 ? 16 : 4); /* 12 */
    v_u32(v, 10911);
    v_u32(v, 2); /* 13 reconsumeTimes */
    v_u64(v, 0); /* 14 preparedTransactionOffset */
    v_u32(v, 5); /* 15 bodyLength, body */
    v_bytes(v, "hello", 5);
    v_u8(v, 6); /* 16 topicLength, topic */
    v_bytes(v, "TopicA", 6);
    v_u16(v, (uint16_t)props_len); /* 17 propertiesLength, props */
    v_bytes(v, "TAGS", 4);
    v_u8(v, 0x01);
    v_bytes(v, "tagA", 4);
    v_u8(v, 0x02);
    v_bytes(v, "KEYS", 4);
    v_u8(v, 0x01);
    v_bytes(v, "k1", 2);
    ck_assert_uint_eq(v->n, total);
}

static void
check_encode(bool born_v6, bool store_v6)
{
    rmq_rec_msg m;
    vec         want;
    uint8_t     buf[512];
    uint32_t    len, size;

    msg_init(&m, born_v6, store_v6);
    expected(&want, born_v6, store_v6);
    ck_assert_int_eq(rmq_rec_size(&m, &size), 0);
    ck_assert_uint_eq(size, want.n);
    ck_assert_int_eq(rmq_rec_encode(&m, buf, sizeof(buf), &len), 0);
    ck_assert_uint_eq(len, want.n);
    ck_assert_mem_eq(buf, want.b, want.n);
}

START_TEST(test_record_encode_ipv4_matches_spec_bytes)
{
    check_encode(false, false);
}
END_TEST

START_TEST(test_record_encode_ipv6_born_host_matches_spec_bytes)
{
    check_encode(true, false);
}
END_TEST

START_TEST(test_record_encode_ipv6_both_hosts_matches_spec_bytes)
{
    check_encode(true, true);
}
END_TEST

START_TEST(test_record_encode_clears_v6_flags_for_ipv4_hosts)
{
    rmq_rec_msg m;
    uint8_t     buf[512];
    uint32_t    len;

    msg_init(&m, false, false);
    m.sysflag |= RMQ_SYSFLAG_BORN_V6 | RMQ_SYSFLAG_STORE_V6;
    ck_assert_int_eq(rmq_rec_encode(&m, buf, sizeof(buf), &len), 0);
    ck_assert_uint_eq(rmq_be32(buf + 36), 0x2);
    ck_assert_uint_eq(len, 119);
}
END_TEST

START_TEST(test_record_body_crc_is_zlib_crc32_masked)
{
    ck_assert_uint_eq(rmq_body_crc("hello", 5), BODY_CRC);
}
END_TEST

START_TEST(test_record_fixup_writes_offsets_and_store_time)
{
    rmq_rec_msg m;
    vec         want;
    uint8_t     buf[512];
    uint32_t    len;

    /* IPv6 born host: storeTimestamp moves from offset 56 to 68 */
    msg_init(&m, true, false);
    ck_assert_int_eq(rmq_rec_encode(&m, buf, sizeof(buf), &len), 0);
    rmq_rec_fixup(buf, 77, 0x123456789AB, 0x18C00000001LL);
    expected(&want, true, false);
    want.n = 20;
    v_u64(&want, 77);
    v_u64(&want, 0x123456789ABULL);
    ck_assert_mem_eq(buf + 20, want.b + 20, 16);
    ck_assert_uint_eq(rmq_be64(buf + 68), 0x18C00000001ULL);
    ck_assert_uint_eq(rmq_be64(buf + 56), 0x42); /* still the born ip */
    ck_assert_uint_eq(rmq_be32(buf + 64), 51234);

    msg_init(&m, false, false);
    ck_assert_int_eq(rmq_rec_encode(&m, buf, sizeof(buf), &len), 0);
    rmq_rec_fixup(buf, 1, 2, 3);
    ck_assert_uint_eq(rmq_be64(buf + 56), 3);
}
END_TEST

START_TEST(test_record_decode_hand_built_ipv4)
{
    vec          v;
    rmq_rec_view r;

    expected(&v, false, false);
    ck_assert_int_eq(rmq_rec_decode(v.b, v.n, true, &r), 0);
    ck_assert_uint_eq(r.kind, RMQ_REC_MSG);
    ck_assert_uint_eq(r.total_size, v.n);
    ck_assert_uint_eq(r.magic, RMQ_REC_MAGIC_V1);
    ck_assert_int_eq(r.queue_id, 3);
    ck_assert_int_eq(r.flag, 0x01020304);
    ck_assert_uint_eq(r.sysflag, 2);
    ck_assert_int_eq(r.born_ts, 0x0000018C12345678LL);
    ck_assert_uint_eq(r.born_ip_len, 4);
    ck_assert_mem_eq(r.born_ip, BORN_V4, 4);
    ck_assert_int_eq(r.born_port, 51234);
    ck_assert_uint_eq(r.store_ip_len, 4);
    ck_assert_mem_eq(r.store_ip, STORE_V4, 4);
    ck_assert_int_eq(r.store_port, 10911);
    ck_assert_int_eq(r.reconsume_times, 2);
    ck_assert_uint_eq(r.body_len, 5);
    ck_assert_mem_eq(r.body, "hello", 5);
    ck_assert_uint_eq(r.topic_len, 6);
    ck_assert_mem_eq(r.topic, "TopicA", 6);
    ck_assert_uint_eq(r.props_len, 17);
    ck_assert_ptr_eq(r.body, v.b + 88); /* a view, not a copy */
}
END_TEST

START_TEST(test_record_decode_hand_built_ipv6_born)
{
    vec          v;
    rmq_rec_view r;

    expected(&v, true, false);
    ck_assert_int_eq(rmq_rec_decode(v.b, v.n, true, &r), 0);
    ck_assert_uint_eq(r.born_ip_len, 16);
    ck_assert_mem_eq(r.born_ip, BORN_V6, 16);
    ck_assert_int_eq(r.born_port, 51234);
    ck_assert_mem_eq(r.store_ip, STORE_V4, 4);
    ck_assert_ptr_eq(r.body, v.b + 100);
    ck_assert_mem_eq(r.topic, "TopicA", 6);
}
END_TEST

START_TEST(test_record_decode_accepts_v2_int16_topic_length)
{
    vec          v, v2;
    rmq_rec_view r;
    size_t       topic_at = 88 + 5;

    expected(&v, false, false);
    /* rebuild with magic v2 and a two-byte topic length */
    v2.n = 0;
    v_u32(&v2, (uint32_t)v.n + 1);
    v_u32(&v2, 0xDAA320AB);
    v_bytes(&v2, v.b + 8, topic_at - 8);
    v_u16(&v2, 6);
    v_bytes(&v2, v.b + topic_at + 1, v.n - topic_at - 1);
    ck_assert_int_eq(rmq_rec_decode(v2.b, v2.n, true, &r), 0);
    ck_assert_uint_eq(r.magic, RMQ_REC_MAGIC_V2);
    ck_assert_uint_eq(r.topic_len, 6);
    ck_assert_mem_eq(r.topic, "TopicA", 6);
    ck_assert_uint_eq(r.props_len, 17);
}
END_TEST

START_TEST(test_record_decode_detects_crc_mismatch)
{
    vec          v;
    rmq_rec_view r;

    expected(&v, false, false);
    v.b[88] ^= 0x01; /* one body bit */
    ck_assert_int_eq(rmq_rec_decode(v.b, v.n, true, &r), RMQ_ERR_CORRUPT);
    ck_assert_int_eq(rmq_rec_decode(v.b, v.n, false, &r), 0);
}
END_TEST

START_TEST(test_record_decode_detects_bad_magic)
{
    vec          v;
    rmq_rec_view r;

    expected(&v, false, false);
    v.b[7] = 0xA8;
    ck_assert_int_eq(rmq_rec_decode(v.b, v.n, false, &r), RMQ_ERR_CORRUPT);
}
END_TEST

START_TEST(test_record_decode_detects_sizes_that_do_not_add_up)
{
    vec          v;
    rmq_rec_view r;
    uint8_t      big[600] = {0};

    expected(&v, false, false);
    /* totalSize one more than the parts (and the buffer has room) */
    memcpy(big, v.b, v.n);
    rmq_put_be32(big, (uint32_t)v.n + 1);
    ck_assert_int_eq(rmq_rec_decode(big, sizeof(big), false, &r),
                     RMQ_ERR_CORRUPT);
    /* a body length that runs past totalSize */
    memcpy(big, v.b, v.n);
    rmq_put_be32(big + 84, 5000);
    ck_assert_int_eq(rmq_rec_decode(big, sizeof(big), false, &r),
                     RMQ_ERR_CORRUPT);
    /* a negative properties length */
    memcpy(big, v.b, v.n);
    rmq_put_be16(big + 88 + 5 + 1 + 6, 0x8001);
    ck_assert_int_eq(rmq_rec_decode(big, sizeof(big), false, &r),
                     RMQ_ERR_CORRUPT);
    /* totalSize smaller than the fixed part */
    memcpy(big, v.b, v.n);
    rmq_put_be32(big, 40);
    ck_assert_int_eq(rmq_rec_decode(big, sizeof(big), false, &r),
                     RMQ_ERR_CORRUPT);
}
END_TEST

START_TEST(test_record_decode_detects_truncated_input)
{
    vec          v;
    rmq_rec_view r;

    expected(&v, false, false);
    for (size_t avail = 1; avail < v.n; avail++) {
        ck_assert_int_eq(rmq_rec_decode(v.b, avail, false, &r),
                         RMQ_ERR_CORRUPT);
    }
}
END_TEST

START_TEST(test_record_decode_blank_and_end_of_data)
{
    uint8_t      b[64] = {0};
    rmq_rec_view r;

    ck_assert_int_eq(rmq_rec_decode(b, sizeof(b), true, &r), 0);
    ck_assert_uint_eq(r.kind, RMQ_REC_END);
    /* too short to be anything, even zero bytes */
    ck_assert_int_eq(rmq_rec_decode(b, 3, true, &r), RMQ_ERR_CORRUPT);

    /* maxBlank 64, magic 0xCBD43194 */
    b[3] = 64;
    b[4] = 0xCB;
    b[5] = 0xD4;
    b[6] = 0x31;
    b[7] = 0x94;
    ck_assert_int_eq(rmq_rec_decode(b, sizeof(b), true, &r), 0);
    ck_assert_uint_eq(r.kind, RMQ_REC_BLANK);
    ck_assert_uint_eq(r.total_size, 64);
    /* a maxBlank past the available bytes is corrupt */
    ck_assert_int_eq(rmq_rec_decode(b, 32, true, &r), RMQ_ERR_CORRUPT);
    /* a blank shorter than its own 8 bytes */
    b[3] = 4;
    ck_assert_int_eq(rmq_rec_decode(b, sizeof(b), true, &r), RMQ_ERR_CORRUPT);
}
END_TEST

START_TEST(test_record_rejects_over_limit_fields)
{
    rmq_rec_msg m;
    uint32_t    size;
    char        topic[129];
    static char props[40000];

    memset(topic, 'a', sizeof(topic));
    msg_init(&m, false, false);
    m.topic = topic;
    m.topic_len = 127;
    ck_assert_int_eq(rmq_rec_size(&m, &size), 0);
    m.topic_len = 128;
    ck_assert_int_eq(rmq_rec_size(&m, &size), RMQ_ERR_TOOBIG);
    msg_init(&m, false, false);
    m.props = props;
    m.props_len = 32767;
    ck_assert_int_eq(rmq_rec_size(&m, &size), 0);
    m.props_len = 32768;
    ck_assert_int_eq(rmq_rec_size(&m, &size), RMQ_ERR_TOOBIG);
    msg_init(&m, false, false);
    m.born_ip_len = 5;
    ck_assert_int_eq(rmq_rec_size(&m, &size), RMQ_ERR_INVAL);
    msg_init(&m, false, false);
    m.topic_len = 0;
    ck_assert_int_eq(rmq_rec_size(&m, &size), RMQ_ERR_INVAL);
}
END_TEST

START_TEST(test_record_encode_reports_small_buffer)
{
    rmq_rec_msg m;
    uint8_t     buf[118];
    uint32_t    len;

    msg_init(&m, false, false);
    ck_assert_int_eq(rmq_rec_encode(&m, buf, sizeof(buf), &len), RMQ_ERR_FULL);
}
END_TEST

START_TEST(test_record_msgid_matches_spec_example)
{
    static const uint8_t ip[4] = {10, 0, 0, 1};
    char                 id[RMQ_MSGID_CAP];
    uint8_t              ip2[16];
    uint8_t              ip_len;
    int32_t              port;
    int64_t              off;

    ck_assert_int_eq(rmq_rec_msgid(ip, 4, 10911, 3884, id), 0);
    ck_assert_str_eq(id, "0A00000100002A9F0000000000000F2C");
    ck_assert_int_eq(
        rmq_rec_msgid_decode(id, strlen(id), ip2, &ip_len, &port, &off), 0);
    ck_assert_uint_eq(ip_len, 4);
    ck_assert_mem_eq(ip2, ip, 4);
    ck_assert_int_eq(port, 10911);
    ck_assert_int_eq(off, 3884);
    ck_assert_int_eq(rmq_rec_msgid_decode("0a00000100002a9f0000000000000f2c",
                                          32, ip2, &ip_len, &port, &off),
                     0);
    ck_assert_int_eq(off, 3884);
    ck_assert_int_eq(rmq_rec_msgid_decode(id, 31, ip2, &ip_len, &port, &off),
                     RMQ_ERR_INVAL);
    ck_assert_int_eq(rmq_rec_msgid_decode("ZZ00000100002A9F0000000000000F2C",
                                          32, ip2, &ip_len, &port, &off),
                     RMQ_ERR_INVAL);
}
END_TEST

START_TEST(test_record_msgid_ipv6_is_56_chars)
{
    char    id[RMQ_MSGID_CAP];
    uint8_t ip[16];
    uint8_t ip_len;
    int32_t port;
    int64_t off;

    ck_assert_int_eq(rmq_rec_msgid(BORN_V6, 16, 10911, 1LL << 40, id), 0);
    ck_assert_uint_eq(strlen(id), 56);
    ck_assert_str_eq(id, "20010DB8000000000000000000000042"
                         "00002A9F0000010000000000");
    ck_assert_int_eq(rmq_rec_msgid_decode(id, 56, ip, &ip_len, &port, &off), 0);
    ck_assert_uint_eq(ip_len, 16);
    ck_assert_int_eq(off, 1LL << 40);
}
END_TEST

START_TEST(test_record_tags_code_is_java_hash_of_tags)
{
    vec          v;
    rmq_rec_view r;

    expected(&v, false, false);
    ck_assert_int_eq(rmq_rec_decode(v.b, v.n, true, &r), 0);
    /* "tagA".hashCode() = ((116*31 + 97)*31 + 103)*31 + 65 */
    ck_assert_int_eq(rmq_rec_tags_code(&r, NULL, 0), 3552231);
    r.props_len = 0;
    ck_assert_int_eq(rmq_rec_tags_code(&r, NULL, 0), 0);
}
END_TEST

START_TEST(test_record_tags_code_of_schedule_topic_is_delivery_time)
{
    static const int64_t delays[3] = {1000, 5000, 10000};
    rmq_rec_view         r;

    memset(&r, 0, sizeof(r));
    r.topic = RMQ_SCHEDULE_TOPIC;
    r.topic_len = sizeof(RMQ_SCHEDULE_TOPIC) - 1;
    r.store_ts = 1700000000000LL;
    r.queue_id = 1; /* level 2 */
    ck_assert_int_eq(rmq_rec_tags_code(&r, delays, 3), 1700000005000LL);
    r.props = "DELAY\x01"
              "3\x02TAGS\x01x";
    r.props_len = (uint32_t)strlen(r.props);
    ck_assert_int_eq(rmq_rec_tags_code(&r, delays, 3), 1700000010000LL);
    r.props = "DELAY\x01"
              "9";
    r.props_len = (uint32_t)strlen(r.props);
    ck_assert_int_eq(rmq_rec_tags_code(&r, delays, 3), 1700000010000LL);
}
END_TEST

START_TEST(test_record_prop_lookup_tolerates_trailing_separator)
{
    const char *val;
    uint32_t    len;
    const char  p[] = "A\x01"
                      "1\x02"
                      "\x02"
                      "KEYS\x01k1 k2\x02";

    ck_assert(rmq_rec_prop(p, sizeof(p) - 1, "KEYS", &val, &len));
    ck_assert_uint_eq(len, 5);
    ck_assert_mem_eq(val, "k1 k2", 5);
    ck_assert(!rmq_rec_prop(p, sizeof(p) - 1, "KEY", &val, &len));
}
END_TEST

static Suite *
record_suite(void)
{
    Suite *s = suite_create("store.record");
    TCase *enc = tcase_create("encode");
    TCase *dec = tcase_create("decode");
    TCase *ids = tcase_create("ids");

    tcase_set_timeout(enc, 10);
    tcase_set_timeout(dec, 10);
    tcase_set_timeout(ids, 10);
    tcase_add_test(enc, test_record_encode_ipv4_matches_spec_bytes);
    tcase_add_test(enc, test_record_encode_ipv6_born_host_matches_spec_bytes);
    tcase_add_test(enc, test_record_encode_ipv6_both_hosts_matches_spec_bytes);
    tcase_add_test(enc, test_record_encode_clears_v6_flags_for_ipv4_hosts);
    tcase_add_test(enc, test_record_body_crc_is_zlib_crc32_masked);
    tcase_add_test(enc, test_record_fixup_writes_offsets_and_store_time);
    tcase_add_test(enc, test_record_rejects_over_limit_fields);
    tcase_add_test(enc, test_record_encode_reports_small_buffer);
    tcase_add_test(dec, test_record_decode_hand_built_ipv4);
    tcase_add_test(dec, test_record_decode_hand_built_ipv6_born);
    tcase_add_test(dec, test_record_decode_accepts_v2_int16_topic_length);
    tcase_add_test(dec, test_record_decode_detects_crc_mismatch);
    tcase_add_test(dec, test_record_decode_detects_bad_magic);
    tcase_add_test(dec, test_record_decode_detects_sizes_that_do_not_add_up);
    tcase_add_test(dec, test_record_decode_detects_truncated_input);
    tcase_add_test(dec, test_record_decode_blank_and_end_of_data);
    tcase_add_test(ids, test_record_msgid_matches_spec_example);
    tcase_add_test(ids, test_record_msgid_ipv6_is_56_chars);
    tcase_add_test(ids, test_record_tags_code_is_java_hash_of_tags);
    tcase_add_test(ids,
                   test_record_tags_code_of_schedule_topic_is_delivery_time);
    tcase_add_test(ids, test_record_prop_lookup_tolerates_trailing_separator);
    suite_add_tcase(s, enc);
    suite_add_tcase(s, dec);
    suite_add_tcase(s, ids);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(record_suite());
    int      failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
