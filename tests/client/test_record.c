/*
 * test_record.c - Check suite "client.record": decoding hand-built
 * commit-log records (spec store-format.md 2.2) into received messages:
 * v1 with IPv4 hosts, IPv6 hosts, v2 magic, compressed bodies, ids, and
 * malformed input.  Pure functions; no processes.
 */
#include "client/record.h"

#include "common/buf.h"
#include "rmq/client.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

typedef struct rec_spec {
    uint32_t       magic;
    int32_t        qid, flag, sysflag, reconsume;
    int64_t        qoff, phys, born_ts, store_ts;
    const uint8_t *born_ip, *store_ip; /* 4 or 16 bytes per sysflag */
    int32_t        born_port, store_port;
    const void    *body;
    size_t         body_len;
    const char    *topic;
    const char    *props;
} rec_spec;

static const uint8_t v4_born[4] = {192, 168, 1, 20};
static const uint8_t v4_store[4] = {10, 0, 0, 1};
static const uint8_t v6_addr[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0,
                                    0,    0,    0,    0,    0, 0, 0, 1};

static rmq_buf          rec;
static rmq_message_ext *m;

static void
setup(void)
{
    rmq_buf_init(&rec);
    m = NULL;
}

static void
teardown(void)
{
    rmq_buf_free(&rec);
    rmq_message_ext_free(m);
}

/* Write one record by the store-format table, independently of record.c. */
static void
rec_build(rmq_buf *b, const rec_spec *s)
{
    size_t born_len = (s->sysflag & 0x10) ? 16 : 4;
    size_t store_len = (s->sysflag & 0x20) ? 16 : 4;
    size_t tlen = strlen(s->topic), plen = strlen(s->props);
    bool   v2 = s->magic == 0xDAA320ABu;
    size_t total = 4 + 4 + 4 + 4 + 4 + 8 + 8 + 4 + 8 + born_len + 4 + 8 +
                   store_len + 4 + 4 + 8 + 4 + s->body_len + (v2 ? 2 : 1) +
                   tlen + 2 + plen;

    rmq_buf_be32(b, (uint32_t)total);
    rmq_buf_be32(b, s->magic);
    rmq_buf_be32(b, 12345); /* body CRC: not checked by clients */
    rmq_buf_be32(b, (uint32_t)s->qid);
    rmq_buf_be32(b, (uint32_t)s->flag);
    rmq_buf_be64(b, (uint64_t)s->qoff);
    rmq_buf_be64(b, (uint64_t)s->phys);
    rmq_buf_be32(b, (uint32_t)s->sysflag);
    rmq_buf_be64(b, (uint64_t)s->born_ts);
    rmq_buf_append(b, s->born_ip, born_len);
    rmq_buf_be32(b, (uint32_t)s->born_port);
    rmq_buf_be64(b, (uint64_t)s->store_ts);
    rmq_buf_append(b, s->store_ip, store_len);
    rmq_buf_be32(b, (uint32_t)s->store_port);
    rmq_buf_be32(b, (uint32_t)s->reconsume);
    rmq_buf_be64(b, 0);
    rmq_buf_be32(b, (uint32_t)s->body_len);
    rmq_buf_append(b, s->body, s->body_len);
    if (v2) {
        rmq_buf_be16(b, (uint16_t)tlen);
    } else {
        rmq_buf_u8(b, (uint8_t)tlen);
    }
    rmq_buf_append(b, s->topic, tlen);
    rmq_buf_be16(b, (uint16_t)plen);
    rmq_buf_append(b, s->props, plen);
}

static rec_spec
rec_v4(void)
{
    return (rec_spec){.magic = 0xDAA320A7u,
                      .qid = 3,
                      .flag = 9,
                      .sysflag = 0,
                      .reconsume = 2,
                      .qoff = 41,
                      .phys = 3884,
                      .born_ts = 1700000000001,
                      .store_ts = 1700000000002,
                      .born_ip = v4_born,
                      .store_ip = v4_store,
                      .born_port = 54321,
                      .store_port = 10911,
                      .body = "payload",
                      .body_len = 7,
                      .topic = "TopicA",
                      .props = "TAGS\x01TagA\x02KEYS\x01k1 k2\x02"
                               "UNIQ_KEY\x01"
                               "AABB\x02"};
}

START_TEST(test_record_v1_ipv4_decodes_every_field)
{
    rec_spec s = rec_v4();
    size_t   used, len;

    rec_build(&rec, &s);
    ck_assert_int_eq(rmq_record_decode(rec.data, rec.len, &used, &m), 0);
    ck_assert_uint_eq(used, rec.len);
    ck_assert_str_eq(rmq_message_ext_get_topic(m), "TopicA");
    ck_assert_int_eq(rmq_message_ext_get_queue_id(m), 3);
    ck_assert_int_eq(rmq_message_ext_get_flag(m), 9);
    ck_assert_int_eq(rmq_message_ext_get_queue_offset(m), 41);
    ck_assert_int_eq(rmq_message_ext_get_commitlog_offset(m), 3884);
    ck_assert_int_eq(rmq_message_ext_get_born_timestamp(m), 1700000000001);
    ck_assert_int_eq(rmq_message_ext_get_store_timestamp(m), 1700000000002);
    ck_assert_int_eq(rmq_message_ext_get_reconsume_times(m), 2);
    ck_assert_str_eq(rmq_message_ext_get_born_host(m), "192.168.1.20:54321");
    ck_assert_str_eq(rmq_message_ext_get_store_host(m), "10.0.0.1:10911");
    ck_assert_mem_eq(rmq_message_ext_get_body(m, &len), "payload", 7);
    ck_assert_uint_eq(len, 7);
    ck_assert_str_eq(rmq_message_ext_get_tags(m), "TagA");
    ck_assert_str_eq(rmq_message_ext_get_keys(m), "k1 k2");
    ck_assert_uint_eq(rmq_message_ext_property_count(m), 3);
    /* spec 6.4 example: 10.0.0.1:10911 offset 3884 */
    ck_assert_str_eq(rmq_message_ext_get_offset_msg_id(m),
                     "0A00000100002A9F0000000000000F2C");
    ck_assert_str_eq(rmq_message_ext_get_msg_id(m), "AABB");
}
END_TEST

START_TEST(test_record_without_uniq_key_uses_offset_id)
{
    rec_spec s = rec_v4();
    size_t   used;

    s.props = "TAGS\x01x";
    rec_build(&rec, &s);
    ck_assert_int_eq(rmq_record_decode(rec.data, rec.len, &used, &m), 0);
    ck_assert_str_eq(rmq_message_ext_get_msg_id(m),
                     "0A00000100002A9F0000000000000F2C");
}
END_TEST

START_TEST(test_record_ipv6_hosts_decode)
{
    rec_spec s = rec_v4();
    size_t   used;

    s.sysflag = 0x10 | 0x20;
    s.born_ip = v6_addr;
    s.store_ip = v6_addr;
    rec_build(&rec, &s);
    ck_assert_int_eq(rmq_record_decode(rec.data, rec.len, &used, &m), 0);
    ck_assert_uint_eq(used, rec.len);
    ck_assert_str_eq(rmq_message_ext_get_born_host(m), "[2001:db8::1]:54321");
    ck_assert_str_eq(rmq_message_ext_get_store_host(m), "[2001:db8::1]:10911");
    ck_assert_str_eq(rmq_message_ext_get_offset_msg_id(m),
                     "20010DB80000000000000000000000010000"
                     "2A9F0000000000000F2C");
    ck_assert_str_eq(rmq_message_ext_get_topic(m), "TopicA");
}
END_TEST

START_TEST(test_record_only_born_host_ipv6)
{
    rec_spec s = rec_v4();
    size_t   used;

    s.sysflag = 0x10;
    s.born_ip = v6_addr;
    rec_build(&rec, &s);
    ck_assert_int_eq(rmq_record_decode(rec.data, rec.len, &used, &m), 0);
    ck_assert_str_eq(rmq_message_ext_get_store_host(m), "10.0.0.1:10911");
    ck_assert_mem_eq(rmq_message_ext_get_body(m, NULL), "payload", 7);
}
END_TEST

START_TEST(test_record_compressed_body_is_inflated)
{
    rec_spec s = rec_v4();
    char     plain[10000];
    uint8_t  z[12000];
    uLongf   zlen = sizeof(z);
    size_t   used, len;

    for (size_t i = 0; i < sizeof(plain); i++) {
        plain[i] = (char)('a' + i % 7);
    }
    ck_assert_int_eq(
        compress2(z, &zlen, (const Bytef *)plain, sizeof(plain), 5), Z_OK);
    s.sysflag = 0x1;
    s.body = z;
    s.body_len = zlen;
    rec_build(&rec, &s);
    ck_assert_int_eq(rmq_record_decode(rec.data, rec.len, &used, &m), 0);
    ck_assert_mem_eq(rmq_message_ext_get_body(m, &len), plain, sizeof(plain));
    ck_assert_uint_eq(len, sizeof(plain));
    ck_assert_int_eq(rmq_message_ext_get_sys_flag(m), 1);
}
END_TEST

START_TEST(test_record_v2_magic_has_int16_topic_length)
{
    rec_spec s = rec_v4();
    char     topic[201];
    size_t   used;

    memset(topic, 'T', 200);
    topic[200] = '\0';
    s.magic = 0xDAA320ABu;
    s.topic = topic;
    rec_build(&rec, &s);
    ck_assert_int_eq(rmq_record_decode(rec.data, rec.len, &used, &m), 0);
    ck_assert_str_eq(rmq_message_ext_get_topic(m), topic);
    ck_assert_str_eq(rmq_message_ext_get_tags(m), "TagA");
}
END_TEST

START_TEST(test_record_truncated_is_proto_error)
{
    rec_spec s = rec_v4();
    size_t   used;

    rec_build(&rec, &s);
    ck_assert_int_eq(rmq_record_decode(rec.data, rec.len - 1, &used, &m),
                     RMQ_CLIENT_ERR_PROTO);
    ck_assert_ptr_null(m);
    ck_assert_int_eq(rmq_record_decode(rec.data, 6, &used, &m),
                     RMQ_CLIENT_ERR_PROTO);
}
END_TEST

START_TEST(test_record_bad_magic_and_lying_lengths_are_proto_errors)
{
    rec_spec s = rec_v4();
    size_t   used;

    rec_build(&rec, &s);
    rec.data[7] ^= 0xff; /* magic */
    ck_assert_int_eq(rmq_record_decode(rec.data, rec.len, &used, &m),
                     RMQ_CLIENT_ERR_PROTO);
    ck_assert_uint_eq(used, rec.len); /* still skippable */
    rec.data[7] ^= 0xff;
    rec.data[84 + 3] = 0xff; /* body length past the record */
    ck_assert_int_eq(rmq_record_decode(rec.data, rec.len, &used, &m),
                     RMQ_CLIENT_ERR_PROTO);
}
END_TEST

START_TEST(test_records_decode_skips_bad_records_and_stops_on_framing)
{
    rec_spec          s = rec_v4();
    rmq_message_ext **msgs;
    size_t            n, skipped, one;

    rec_build(&rec, &s);
    one = rec.len;
    s.qoff = 42;
    rec_build(&rec, &s);
    rec_build(&rec, &s);
    rec.data[one + 7] ^= 0xff; /* second record: bad magic */
    ck_assert_int_eq(rmq_records_decode(rec.data, rec.len, &msgs, &n, &skipped),
                     0);
    ck_assert_uint_eq(n, 2);
    ck_assert_uint_eq(skipped, 1);
    ck_assert_int_eq(rmq_message_ext_get_queue_offset(msgs[0]), 41);
    ck_assert_int_eq(rmq_message_ext_get_queue_offset(msgs[1]), 42);
    rmq_msgexts_free(msgs, n);
    /* a total size running past the end: nothing after can be found */
    rec.data[one + 7] ^= 0xff;
    rec.data[one] = 0x7f;
    ck_assert_int_eq(rmq_records_decode(rec.data, rec.len, &msgs, &n, &skipped),
                     0);
    ck_assert_uint_eq(n, 1);
    ck_assert_uint_eq(skipped, 1);
    rmq_msgexts_free(msgs, n);
}
END_TEST

START_TEST(test_record_dup_is_independent)
{
    rec_spec         s = rec_v4();
    rmq_message_ext *d;
    size_t           used;

    rec_build(&rec, &s);
    ck_assert_int_eq(rmq_record_decode(rec.data, rec.len, &used, &m), 0);
    ck_assert_int_eq(rmq_message_ext_dup(m, &d, NULL), 0);
    rmq_message_ext_free(m);
    m = NULL;
    ck_assert_str_eq(rmq_message_ext_get_topic(d), "TopicA");
    ck_assert_str_eq(rmq_message_ext_get_keys(d), "k1 k2");
    ck_assert_mem_eq(rmq_message_ext_get_body(d, NULL), "payload", 7);
    rmq_message_ext_free(d);
}
END_TEST

static Suite *
record_suite(void)
{
    Suite *s = suite_create("client.record");
    TCase *tc = tcase_create("decode");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, test_record_v1_ipv4_decodes_every_field);
    tcase_add_test(tc, test_record_without_uniq_key_uses_offset_id);
    tcase_add_test(tc, test_record_ipv6_hosts_decode);
    tcase_add_test(tc, test_record_only_born_host_ipv6);
    tcase_add_test(tc, test_record_compressed_body_is_inflated);
    tcase_add_test(tc, test_record_v2_magic_has_int16_topic_length);
    tcase_add_test(tc, test_record_truncated_is_proto_error);
    tcase_add_test(tc,
                   test_record_bad_magic_and_lying_lengths_are_proto_errors);
    tcase_add_test(tc,
                   test_records_decode_skips_bad_records_and_stops_on_framing);
    tcase_add_test(tc, test_record_dup_is_independent);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(record_suite());
    int      failed;

    srunner_run_all(sr, CK_ENV);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
