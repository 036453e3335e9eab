/*
 * test_remoting.c - Check suite "proto.remoting": frame peeking, JSON and
 * ROCKETMQ header decoding, ext lookups and JSON header encoding
 * (proto/remoting.h).  Runs in the ctest process only; no shared data.
 * Byte vectors are written by hand from spec/remoting-protocol.md.
 */
#include "proto/remoting.h"

#include "common/buf.h"
#include "common/err.h"
#include "common/util.h"

#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The exact header ali-ons 3.12.0 sends for a message (spec 8): 211 bytes. */
static const char alions_send_hdr[] =
    "{\"code\":310,\"language\":\"JAVA\",\"opaque\":1,\"flag\":0,"
    "\"version\":121,\"extFields\":{\"a\":\"PG\",\"b\":\"T\","
    "\"c\":\"TBW102\",\"d\":4,\"e\":1,\"f\":0,\"g\":1795241136427,\"h\":0,"
    "\"i\":\"TAGS\\u0001tagA\\u0002KEYS\\u0001k1\\u0002\",\"j\":0,"
    "\"k\":false}}";

/* A Java broker's send response (spec 1.1). */
static const char java_resp_hdr[] =
    "{\"code\":0,\"extFields\":{\"msgId\":\"0A00000100002A9F0000000000000F2C\","
    "\"queueId\":\"1\",\"queueOffset\":\"7\",\"MSG_REGION\":\"DefaultRegion\","
    "\"TRACE_ON\":\"true\"},\"flag\":1,\"language\":\"JAVA\",\"opaque\":42,"
    "\"serializeTypeCurrentRPC\":\"JSON\",\"version\":410}";

static rmq_rcmd cmd;
static rmq_buf  fb;

static void
setup(void)
{
    rmq_rcmd_init(&cmd);
    rmq_buf_init(&fb);
}

static void
teardown(void)
{
    rmq_rcmd_free(&cmd);
    rmq_buf_free(&fb);
}

/* A frame around a header of hlen bytes with the given type byte. */
static void
frame_raw(rmq_buf *b, uint8_t type, const void *hdr, size_t hlen,
          const void *body, size_t blen)
{
    rmq_buf_reset(b);
    rmq_buf_be32(b, (uint32_t)(4 + hlen + blen));
    rmq_buf_be32(b, ((uint32_t)type << 24) | (uint32_t)hlen);
    rmq_buf_append(b, hdr, hlen);
    rmq_buf_append(b, body, blen);
    ck_assert(!b->oom);
}

static int
decode_json(const char *hdr)
{
    frame_raw(&fb, RMQ_SERIALIZE_JSON, hdr, strlen(hdr), NULL, 0);
    return rmq_rcmd_decode(fb.data, fb.len, &cmd);
}

static void
assert_ext(const rmq_rcmd *c, const char *key, const char *want)
{
    const char *got = rmq_rcmd_ext(c, key);

    ck_assert_msg(got != NULL, "ext %s missing", key);
    ck_assert_str_eq(got, want);
}

/* ------------------------------------------------------------------------
 * frames
 */

START_TEST(test_peek_complete_frame_returns_its_length)
{
    size_t n = 0;

    frame_raw(&fb, 0, "{}", 2, "abc", 3);
    ck_assert_int_eq(rmq_frame_peek(fb.data, fb.len, RMQ_FRAME_MAX, &n), 0);
    ck_assert_uint_eq(n, 4 + 4 + 2 + 3);
}
END_TEST

START_TEST(test_peek_truncated_frame_returns_again_at_every_length)
{
    size_t n = 0;

    frame_raw(&fb, 0, alions_send_hdr, strlen(alions_send_hdr), "hello", 5);
    ck_assert_uint_eq(fb.len, 224);
    for (size_t len = 0; len < fb.len; len++) {
        ck_assert_int_eq(rmq_frame_peek(fb.data, len, RMQ_FRAME_MAX, &n),
                         RMQ_ERR_AGAIN);
    }
    ck_assert_int_eq(rmq_frame_peek(fb.data, fb.len, RMQ_FRAME_MAX, &n), 0);
}
END_TEST

START_TEST(test_peek_leaves_following_frame_alone)
{
    size_t  n = 0;
    rmq_buf two;

    rmq_buf_init(&two);
    frame_raw(&fb, 0, "{}", 2, NULL, 0);
    rmq_buf_append(&two, fb.data, fb.len);
    rmq_buf_append(&two, fb.data, 5);
    ck_assert_int_eq(rmq_frame_peek(two.data, two.len, RMQ_FRAME_MAX, &n), 0);
    ck_assert_uint_eq(n, fb.len);
    rmq_buf_free(&two);
}
END_TEST

START_TEST(test_peek_oversized_frame_is_toobig_from_the_length_word)
{
    uint8_t b[4];
    size_t  n;

    rmq_put_be32(b, RMQ_FRAME_MAX - 3);
    ck_assert_int_eq(rmq_frame_peek(b, 4, RMQ_FRAME_MAX, &n), RMQ_ERR_TOOBIG);
    rmq_put_be32(b, 0xFFFFFFFFu);
    ck_assert_int_eq(rmq_frame_peek(b, 4, RMQ_FRAME_MAX, &n), RMQ_ERR_TOOBIG);
    rmq_put_be32(b, 100);
    ck_assert_int_eq(rmq_frame_peek(b, 4, 103, &n), RMQ_ERR_TOOBIG);
}
END_TEST

START_TEST(test_peek_frame_of_exactly_max_is_not_toobig)
{
    uint8_t b[8];
    size_t  n;

    rmq_put_be32(b, 100);
    rmq_put_be32(b + 4, 2);
    ck_assert_int_eq(rmq_frame_peek(b, 8, 104, &n), RMQ_ERR_AGAIN);
}
END_TEST

START_TEST(test_peek_length_below_four_is_proto)
{
    uint8_t b[8] = {0};
    size_t  n;

    for (uint32_t v = 0; v < 4; v++) {
        rmq_put_be32(b, v);
        ck_assert_int_eq(rmq_frame_peek(b, 8, RMQ_FRAME_MAX, &n),
                         RMQ_ERR_PROTO);
    }
}
END_TEST

START_TEST(test_peek_header_longer_than_frame_is_proto)
{
    uint8_t b[8];
    size_t  n;

    rmq_put_be32(b, 10);
    rmq_put_be32(b + 4, 7);
    ck_assert_int_eq(rmq_frame_peek(b, 8, RMQ_FRAME_MAX, &n), RMQ_ERR_PROTO);
    rmq_put_be32(b + 4, 6);
    ck_assert_int_eq(rmq_frame_peek(b, 8, RMQ_FRAME_MAX, &n), RMQ_ERR_AGAIN);
}
END_TEST

START_TEST(test_peek_bad_serialize_type_is_proto)
{
    uint8_t b[8];
    size_t  n;

    rmq_put_be32(b, 10);
    rmq_put_be32(b + 4, (2u << 24) | 2);
    ck_assert_int_eq(rmq_frame_peek(b, 8, RMQ_FRAME_MAX, &n), RMQ_ERR_PROTO);
    rmq_put_be32(b + 4, (0x80u << 24) | 2);
    ck_assert_int_eq(rmq_frame_peek(b, 8, RMQ_FRAME_MAX, &n), RMQ_ERR_PROTO);
}
END_TEST

START_TEST(test_decode_length_other_than_frame_is_proto)
{
    frame_raw(&fb, 0, "{\"code\":1}", 10, NULL, 0);
    ck_assert_int_eq(rmq_rcmd_decode(fb.data, fb.len - 1, &cmd), RMQ_ERR_PROTO);
    rmq_buf_u8(&fb, 0);
    ck_assert_int_eq(rmq_rcmd_decode(fb.data, fb.len, &cmd), RMQ_ERR_PROTO);
    ck_assert_int_eq(rmq_rcmd_decode(fb.data, 7, &cmd), RMQ_ERR_PROTO);
}
END_TEST

/* ------------------------------------------------------------------------
 * JSON headers
 */

START_TEST(test_decode_alions_send_header)
{
    ck_assert_uint_eq(strlen(alions_send_hdr), 211);
    frame_raw(&fb, 0, alions_send_hdr, 211, "hello", 5);
    ck_assert_uint_eq(rmq_be32(fb.data), 220);
    ck_assert_int_eq(rmq_rcmd_decode(fb.data, fb.len, &cmd), 0);
    ck_assert_int_eq(cmd.code, 310);
    ck_assert_int_eq(cmd.language, RMQ_LANG_JAVA);
    ck_assert_int_eq(cmd.version, 121);
    ck_assert_int_eq(cmd.opaque, 1);
    ck_assert_int_eq(cmd.flag, 0);
    ck_assert_ptr_null(cmd.remark);
    ck_assert_uint_eq(cmd.next, 11);
    assert_ext(&cmd, "a", "PG");
    assert_ext(&cmd, "c", "TBW102");
    assert_ext(&cmd, "d", "4");
    assert_ext(&cmd, "g", "1795241136427");
    assert_ext(&cmd, "i", "TAGS\x01tagA\x02KEYS\x01k1\x02");
    assert_ext(&cmd, "k", "false");
    ck_assert_uint_eq(cmd.body_len, 5);
    ck_assert_ptr_eq(cmd.body, fb.data + 8 + 211);
}
END_TEST

START_TEST(test_decode_json_numbers_become_strings)
{
    ck_assert_int_eq(decode_json("{\"code\":1,\"extFields\":{\"a\":-7,"
                                 "\"b\":0,\"c\":9223372036854775807,"
                                 "\"d\":1.5,\"e\":4.0,\"f\":1e3,"
                                 "\"g\":0.1,\"h\":-0}}"),
                     0);
    assert_ext(&cmd, "a", "-7");
    assert_ext(&cmd, "b", "0");
    assert_ext(&cmd, "c", "9223372036854775807");
    assert_ext(&cmd, "d", "1.5");
    assert_ext(&cmd, "e", "4");
    assert_ext(&cmd, "f", "1000");
    assert_ext(&cmd, "g", "0.1");
    assert_ext(&cmd, "h", "0");
}
END_TEST

START_TEST(test_decode_json_integer_beyond_int64_is_proto)
{
    ck_assert_int_eq(
        decode_json("{\"code\":1,\"extFields\":{\"a\":9223372036854775808}}"),
        RMQ_ERR_PROTO);
}
END_TEST

/* regression (fuzz): a 19-digit value overflowed the fast path's counter */
START_TEST(test_decode_json_nineteen_digit_integers_are_left_to_jansson)
{
    ck_assert_int_eq(
        decode_json("{\"code\":1,\"extFields\":{\"a\":9999999999999999999}}"),
        RMQ_ERR_PROTO);
    ck_assert_int_eq(decode_json("{\"code\":1,\"extFields\":{\"a\":"
                                 "-9223372036854775808,\"b\":"
                                 "1000000000000000000}}"),
                     0);
    assert_ext(&cmd, "a", "-9223372036854775808");
    assert_ext(&cmd, "b", "1000000000000000000");
    ck_assert_int_eq(decode_json("{\"code\":99999999999999999999}"),
                     RMQ_ERR_PROTO);
}
END_TEST

START_TEST(test_decode_json_booleans_become_text)
{
    ck_assert_int_eq(
        decode_json("{\"code\":1,\"extFields\":{\"t\":true,\"f\":false}}"), 0);
    assert_ext(&cmd, "t", "true");
    assert_ext(&cmd, "f", "false");
    ck_assert(rmq_rcmd_ext_bool(&cmd, "t"));
    ck_assert(!rmq_rcmd_ext_bool(&cmd, "f"));
}
END_TEST

START_TEST(test_decode_json_null_ext_value_is_absent)
{
    ck_assert_int_eq(
        decode_json("{\"code\":1,\"extFields\":{\"a\":null,\"b\":\"x\"}}"), 0);
    ck_assert_ptr_null(rmq_rcmd_ext(&cmd, "a"));
    ck_assert_uint_eq(cmd.next, 1);
}
END_TEST

START_TEST(test_decode_json_duplicate_ext_key_keeps_last)
{
    ck_assert_int_eq(decode_json("{\"code\":1,\"extFields\":{\"a\":\"1\","
                                 "\"b\":\"2\",\"a\":\"3\"}}"),
                     0);
    ck_assert_uint_eq(cmd.next, 2);
    assert_ext(&cmd, "a", "3");
    ck_assert_int_eq(decode_json("{\"code\":1,\"extFields\":{\"a\":\"1\","
                                 "\"a\":null}}"),
                     0);
    ck_assert_ptr_null(rmq_rcmd_ext(&cmd, "a"));
}
END_TEST

START_TEST(test_decode_java_response_header)
{
    ck_assert_int_eq(decode_json(java_resp_hdr), 0);
    ck_assert_int_eq(cmd.code, 0);
    ck_assert_int_eq(cmd.flag, RMQ_RFLAG_RESPONSE);
    ck_assert_int_eq(cmd.opaque, 42);
    ck_assert_int_eq(cmd.version, 410);
    ck_assert_uint_eq(cmd.next, 5);
    assert_ext(&cmd, "msgId", "0A00000100002A9F0000000000000F2C");
    assert_ext(&cmd, "TRACE_ON", "true");
    ck_assert_ptr_null(rmq_rcmd_ext(&cmd, "serializeTypeCurrentRPC"));
    ck_assert_ptr_null(cmd.body);
    ck_assert_uint_eq(cmd.body_len, 0);
}
END_TEST

START_TEST(test_decode_json_language_names_and_ordinals)
{
    static const struct {
        const char *text;
        int32_t     want;
    } cases[] = {
        {"\"CPP\"", RMQ_LANG_CPP},
        {"\"GO\"", RMQ_LANG_GO},
        {"\"NODE_JS\"", RMQ_LANG_NODE_JS},
        {"\"RUST\"", RMQ_LANG_RUST},
        {"\"COBOL\"", RMQ_LANG_OTHER},
        {"\"java\"", RMQ_LANG_OTHER},
        {"9", RMQ_LANG_GO},
        {"99", RMQ_LANG_OTHER},
        {"-1", RMQ_LANG_OTHER},
        {"null", RMQ_LANG_JAVA},
    };
    char hdr[128];

    for (size_t i = 0; i < RMQ_ARRAY_LEN(cases); i++) {
        snprintf(hdr, sizeof(hdr), "{\"code\":1,\"language\":%s}",
                 cases[i].text);
        ck_assert_int_eq(decode_json(hdr), 0);
        ck_assert_int_eq(cmd.language, cases[i].want);
    }
    ck_assert_int_eq(decode_json("{\"code\":1,\"language\":true}"),
                     RMQ_ERR_PROTO);
}
END_TEST

START_TEST(test_decode_json_missing_code_is_proto)
{
    ck_assert_int_eq(decode_json("{\"opaque\":1}"), RMQ_ERR_PROTO);
    ck_assert_int_eq(decode_json("{}"), RMQ_ERR_PROTO);
    ck_assert_int_eq(decode_json("{\"code\":null}"), RMQ_ERR_PROTO);
    ck_assert_int_eq(decode_json("{\"code\":\"1\"}"), RMQ_ERR_PROTO);
}
END_TEST

START_TEST(test_decode_json_missing_ints_default_to_zero)
{
    ck_assert_int_eq(decode_json("{\"code\":7}"), 0);
    ck_assert_int_eq(cmd.code, 7);
    ck_assert_int_eq(cmd.version, 0);
    ck_assert_int_eq(cmd.opaque, 0);
    ck_assert_int_eq(cmd.flag, 0);
    ck_assert_int_eq(cmd.language, RMQ_LANG_JAVA);
    ck_assert_uint_eq(cmd.next, 0);
}
END_TEST

START_TEST(test_decode_json_int_fields_out_of_int32_are_proto)
{
    ck_assert_int_eq(decode_json("{\"code\":2147483648}"), RMQ_ERR_PROTO);
    ck_assert_int_eq(decode_json("{\"code\":1,\"opaque\":-2147483649}"),
                     RMQ_ERR_PROTO);
    ck_assert_int_eq(decode_json("{\"code\":1,\"flag\":1.0}"), RMQ_ERR_PROTO);
    ck_assert_int_eq(
        decode_json("{\"code\":-2147483648,\"opaque\":2147483647}"), 0);
    ck_assert_int_eq(cmd.code, INT32_MIN);
    ck_assert_int_eq(cmd.opaque, INT32_MAX);
}
END_TEST

START_TEST(test_decode_json_remark_string_or_null)
{
    ck_assert_int_eq(
        decode_json("{\"code\":1,\"remark\":\"no \\\"topic\\\"\"}"), 0);
    ck_assert_str_eq(cmd.remark, "no \"topic\"");
    ck_assert_int_eq(decode_json("{\"code\":1,\"remark\":null}"), 0);
    ck_assert_ptr_null(cmd.remark);
    ck_assert_int_eq(decode_json("{\"code\":1,\"remark\":5}"), RMQ_ERR_PROTO);
}
END_TEST

START_TEST(test_decode_json_unknown_keys_are_ignored)
{
    ck_assert_int_eq(decode_json("{\"code\":1,\"x\":{\"y\":[1,2]},\"z\":2.5,"
                                 "\"serializeTypeCurrentRPC\":\"JSON\"}"),
                     0);
    ck_assert_int_eq(cmd.code, 1);
    ck_assert_uint_eq(cmd.next, 0);
}
END_TEST

START_TEST(test_decode_json_whitespace_is_accepted)
{
    ck_assert_int_eq(decode_json(" {\n\t\"code\" : 3 ,\r\n \"extFields\" : "
                                 "{ \"a\" : \"b\" , \"c\" : 1 } }\n"),
                     0);
    ck_assert_int_eq(cmd.code, 3);
    assert_ext(&cmd, "a", "b");
    assert_ext(&cmd, "c", "1");
}
END_TEST

START_TEST(test_decode_json_non_object_is_proto)
{
    static const char *const bad[] = {"[]",
                                      "\"code\"",
                                      "1",
                                      "null",
                                      "",
                                      "{\"code\":1",
                                      "{\"code\":1}}",
                                      "{\"code\":1} x"};

    for (size_t i = 0; i < RMQ_ARRAY_LEN(bad); i++) {
        ck_assert_int_eq(decode_json(bad[i]), RMQ_ERR_PROTO);
    }
}
END_TEST

START_TEST(test_decode_json_nested_ext_value_is_proto)
{
    ck_assert_int_eq(decode_json("{\"code\":1,\"extFields\":{\"a\":{}}}"),
                     RMQ_ERR_PROTO);
    ck_assert_int_eq(decode_json("{\"code\":1,\"extFields\":{\"a\":[\"x\"]}}"),
                     RMQ_ERR_PROTO);
    ck_assert_int_eq(decode_json("{\"code\":1,\"extFields\":[]}"),
                     RMQ_ERR_PROTO);
    ck_assert_int_eq(decode_json("{\"code\":1,\"extFields\":\"a\"}"),
                     RMQ_ERR_PROTO);
    ck_assert_int_eq(decode_json("{\"code\":1,\"extFields\":null}"), 0);
}
END_TEST

static void
ext_fields_json(rmq_buf *b, int n)
{
    rmq_buf_reset(b);
    rmq_buf_append_str(b, "{\"code\":1,\"extFields\":{");
    for (int i = 0; i < n; i++) {
        rmq_buf_printf(b, "%s\"k%d\":%d", i > 0 ? "," : "", i, i);
    }
    rmq_buf_append_str(b, "}}");
}

START_TEST(test_decode_json_too_many_ext_fields_is_proto)
{
    rmq_buf j;

    rmq_buf_init(&j);
    ext_fields_json(&j, RMQ_RCMD_EXT_MAX);
    ck_assert_int_eq(decode_json(rmq_buf_cstr(&j)), 0);
    ck_assert_uint_eq(cmd.next, RMQ_RCMD_EXT_MAX);
    assert_ext(&cmd, "k63", "63");
    ext_fields_json(&j, RMQ_RCMD_EXT_MAX + 1);
    ck_assert_int_eq(decode_json(rmq_buf_cstr(&j)), RMQ_ERR_PROTO);
    ck_assert_uint_eq(cmd.next, 0);
    rmq_buf_free(&j);
}
END_TEST

START_TEST(test_decode_json_invalid_utf8_is_proto)
{
    static const char *const bad[] = {
        "{\"code\":1,\"remark\":\"\xff\"}",
        "{\"code\":1,\"remark\":\"\xc3\"}",             /* truncated */
        "{\"code\":1,\"remark\":\"\xc0\xaf\"}",         /* overlong */
        "{\"code\":1,\"remark\":\"\xed\xa0\x80\"}",     /* surrogate */
        "{\"code\":1,\"remark\":\"\xf4\x90\x80\x80\"}", /* > U+10FFFF */
        "{\"code\":1,\"extFields\":{\"\x80\":\"v\"}}",
        "{\"code\":1,\"extFields\":{\"k\":\"a\xe2\x82\"}}",
    };

    for (size_t i = 0; i < RMQ_ARRAY_LEN(bad); i++) {
        ck_assert_int_eq(decode_json(bad[i]), RMQ_ERR_PROTO);
    }
}
END_TEST

START_TEST(test_decode_json_bad_escapes_are_proto)
{
    static const char *const bad[] = {
        "{\"code\":1,\"remark\":\"\\x\"}",
        "{\"code\":1,\"remark\":\"\\u12\"}",
        "{\"code\":1,\"remark\":\"\\u12g4\"}",
        "{\"code\":1,\"remark\":\"\\ud800\"}",
        "{\"code\":1,\"remark\":\"\\ud800\\u0041\"}",
        "{\"code\":1,\"remark\":\"\\udc00\"}",
        "{\"code\":1,\"remark\":\"a\tb\"}", /* raw control character */
        "{\"code\":1,\"remark\":\"\\",
    };

    for (size_t i = 0; i < RMQ_ARRAY_LEN(bad); i++) {
        ck_assert_int_eq(decode_json(bad[i]), RMQ_ERR_PROTO);
    }
}
END_TEST

START_TEST(test_decode_json_nul_in_strings_is_proto)
{
    static const char nul_raw[] = "{\"code\":1,\"remark\":\"a\0b\"}";

    ck_assert_int_eq(decode_json("{\"code\":1,\"remark\":\"a\\u0000b\"}"),
                     RMQ_ERR_PROTO);
    ck_assert_int_eq(
        decode_json("{\"code\":1,\"extFields\":{\"k\\u0000\":\"v\"}}"),
        RMQ_ERR_PROTO);
    frame_raw(&fb, 0, nul_raw, sizeof(nul_raw) - 1, NULL, 0);
    ck_assert_int_eq(rmq_rcmd_decode(fb.data, fb.len, &cmd), RMQ_ERR_PROTO);
}
END_TEST

START_TEST(test_decode_json_escapes_decode_to_utf8)
{
    ck_assert_int_eq(decode_json("{\"code\":1,\"extFields\":{\"k\":"
                                 "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9"
                                 "\\u4E2D\\ud83d\\ude00\xc3\xa9\"}}"),
                     0);
    assert_ext(&cmd, "k",
               "\"\\/\b\f\n\r\t\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80\xc3\xa9");
}
END_TEST

START_TEST(test_decode_reuses_arena_and_keeps_strings_valid)
{
    rmq_buf j;

    rmq_buf_init(&j);
    ext_fields_json(&j, 40);
    ck_assert_int_eq(decode_json(rmq_buf_cstr(&j)), 0);
    for (int i = 0; i < 40; i++) {
        char k[8];
        char v[8];

        snprintf(k, sizeof(k), "k%d", i);
        snprintf(v, sizeof(v), "%d", i);
        assert_ext(&cmd, k, v);
    }
    ck_assert_int_eq(decode_json(alions_send_hdr), 0);
    assert_ext(&cmd, "b", "T");
    ck_assert_ptr_null(rmq_rcmd_ext(&cmd, "k1"));
    rmq_buf_free(&j);
}
END_TEST

/* Both JSON paths must agree on every header, valid or not. */
static void
assert_paths_agree(const char *hdr)
{
    rmq_rcmd slow;
    int      rc_fast;
    int      rc_slow;

    rmq_rcmd_init(&slow);
    frame_raw(&fb, 0, hdr, strlen(hdr), NULL, 0);
    rc_fast = rmq_rcmd_decode(fb.data, fb.len, &cmd);
    rc_slow = rmq_rcmd_decode_jansson(fb.data, fb.len, &slow);
    ck_assert_int_eq(rc_fast, rc_slow);
    ck_assert_int_eq(cmd.code, slow.code);
    ck_assert_int_eq(cmd.language, slow.language);
    ck_assert_int_eq(cmd.version, slow.version);
    ck_assert_int_eq(cmd.opaque, slow.opaque);
    ck_assert_int_eq(cmd.flag, slow.flag);
    ck_assert_int_eq(cmd.remark == NULL, slow.remark == NULL);
    if (cmd.remark != NULL) {
        ck_assert_str_eq(cmd.remark, slow.remark);
    }
    ck_assert_uint_eq(cmd.next, slow.next);
    for (uint32_t i = 0; i < cmd.next; i++) {
        assert_ext(&slow, cmd.ext[i].key, cmd.ext[i].value);
    }
    rmq_rcmd_free(&slow);
}

START_TEST(test_decode_fast_path_agrees_with_jansson)
{
    static const char *const hdrs[] = {
        alions_send_hdr,
        java_resp_hdr,
        "{\"code\":1,\"remark\":\"r\",\"remark\":\"s\",\"code\":2}",
        "{\"code\":1,\"language\":\"GO\",\"language\":3}",
        "{\"code\":1,\"extFields\":{}}",
        "{\"code\":1,\"extFields\":{\"\":\"empty key\"}}",
        "{\"code\":1,\"extFields\":{\"a\":\"\"}}",
        "{\"code\":1,\"extFields\":{\"a\":1},\"extFields\":{\"b\":2}}",
        "{\"code\":01}",
        "{\"code\":-0}",
        "{\"code\":1,\"extFields\":{\"a\":123456789012345678901}}",
        "{\"code\":1,\"extFields\":{\"a\":tru}}",
        "{\"code\":1,\"extFields\":{\"a\":1,}}",
        "{\"code\":1,}",
        "{\"co\\u0064e\":5}",
    };

    for (size_t i = 0; i < RMQ_ARRAY_LEN(hdrs); i++) {
        assert_paths_agree(hdrs[i]);
    }
}
END_TEST

/* ------------------------------------------------------------------------
 * ROCKETMQ binary headers
 */

static void
bin_str16(rmq_buf *b, const char *s)
{
    rmq_buf_be16(b, (uint16_t)strlen(s));
    rmq_buf_append_str(b, s);
}

static void
bin_str32(rmq_buf *b, const char *s)
{
    rmq_buf_be32(b, (uint32_t)strlen(s));
    rmq_buf_append_str(b, s);
}

/* code 11, CPP, version 334, opaque 77, flag 2, remark, ext {a:"1",b:"xy"} */
static void
bin_header(rmq_buf *h, const char *remark)
{
    rmq_buf ext;

    rmq_buf_init(&ext);
    bin_str16(&ext, "a");
    bin_str32(&ext, "1");
    bin_str16(&ext, "topic");
    bin_str32(&ext, "T\xc3\xa9");
    rmq_buf_reset(h);
    rmq_buf_be16(h, 11);
    rmq_buf_u8(h, RMQ_LANG_CPP);
    rmq_buf_be16(h, 334);
    rmq_buf_be32(h, 77);
    rmq_buf_be32(h, RMQ_RFLAG_ONEWAY);
    bin_str32(h, remark);
    rmq_buf_be32(h, (uint32_t)ext.len);
    rmq_buf_append(h, ext.data, ext.len);
    rmq_buf_free(&ext);
}

static int
decode_bin(const rmq_buf *h)
{
    frame_raw(&fb, RMQ_SERIALIZE_ROCKETMQ, h->data, h->len, "B", 1);
    return rmq_rcmd_decode(fb.data, fb.len, &cmd);
}

START_TEST(test_decode_binary_header_with_remark_and_ext)
{
    rmq_buf h;

    rmq_buf_init(&h);
    bin_header(&h, "hi");
    ck_assert_uint_eq(h.len, 21 + 2 + (2 + 1 + 4 + 1) + (2 + 5 + 4 + 3));
    ck_assert_int_eq(decode_bin(&h), 0);
    ck_assert_int_eq(cmd.serialize_type, RMQ_SERIALIZE_ROCKETMQ);
    ck_assert_int_eq(cmd.code, 11);
    ck_assert_int_eq(cmd.language, RMQ_LANG_CPP);
    ck_assert_int_eq(cmd.version, 334);
    ck_assert_int_eq(cmd.opaque, 77);
    ck_assert_int_eq(cmd.flag, RMQ_RFLAG_ONEWAY);
    ck_assert_str_eq(cmd.remark, "hi");
    ck_assert_uint_eq(cmd.next, 2);
    assert_ext(&cmd, "a", "1");
    assert_ext(&cmd, "topic", "T\xc3\xa9");
    ck_assert_uint_eq(cmd.ext[1].value_len, 3);
    ck_assert_uint_eq(cmd.body_len, 1);
    ck_assert_int_eq(cmd.body[0], 'B');
    rmq_buf_free(&h);
}
END_TEST

START_TEST(test_decode_binary_zero_length_remark_is_null)
{
    rmq_buf h;

    rmq_buf_init(&h);
    bin_header(&h, "");
    ck_assert_int_eq(decode_bin(&h), 0);
    ck_assert_ptr_null(cmd.remark);
    rmq_buf_free(&h);
}
END_TEST

START_TEST(test_decode_binary_zero_length_ext_value_is_absent)
{
    rmq_buf h;

    rmq_buf_init(&h);
    rmq_buf_append(&h, "\0\x0a\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00",
                   13);
    rmq_buf_be32(&h, 0);
    rmq_buf_be32(&h, 2 + 1 + 4 + 0);
    bin_str16(&h, "k");
    rmq_buf_be32(&h, 0);
    ck_assert_int_eq(decode_bin(&h), 0);
    ck_assert_int_eq(cmd.code, 10);
    ck_assert_uint_eq(cmd.next, 0);
    rmq_buf_free(&h);
}
END_TEST

START_TEST(test_decode_binary_truncated_header_is_proto_at_every_length)
{
    rmq_buf h;

    rmq_buf_init(&h);
    bin_header(&h, "remark");
    for (size_t len = 0; len < h.len; len++) {
        frame_raw(&fb, RMQ_SERIALIZE_ROCKETMQ, h.data, len, NULL, 0);
        ck_assert_int_eq(rmq_rcmd_decode(fb.data, fb.len, &cmd), RMQ_ERR_PROTO);
    }
    rmq_buf_free(&h);
}
END_TEST

START_TEST(test_decode_binary_trailing_bytes_are_proto)
{
    rmq_buf h;

    rmq_buf_init(&h);
    bin_header(&h, "r");
    rmq_buf_u8(&h, 0);
    ck_assert_int_eq(decode_bin(&h), RMQ_ERR_PROTO);
    rmq_buf_free(&h);
}
END_TEST

START_TEST(test_decode_binary_negative_lengths_are_proto)
{
    rmq_buf h;

    rmq_buf_init(&h);
    bin_header(&h, "r");
    rmq_put_be32(h.data + 13, 0xFFFFFFFFu); /* remark length -1 */
    ck_assert_int_eq(decode_bin(&h), RMQ_ERR_PROTO);
    bin_header(&h, "r");
    rmq_put_be32(h.data + 18, 0x80000000u); /* ext block length */
    ck_assert_int_eq(decode_bin(&h), RMQ_ERR_PROTO);
    bin_header(&h, "r");
    rmq_put_be16(h.data + 22, 0xFFFF); /* first key length -1 */
    ck_assert_int_eq(decode_bin(&h), RMQ_ERR_PROTO);
    bin_header(&h, "r");
    rmq_put_be32(h.data + 25, 0xFFFFFFFEu); /* first value length -2 */
    ck_assert_int_eq(decode_bin(&h), RMQ_ERR_PROTO);
    rmq_buf_free(&h);
}
END_TEST

START_TEST(test_decode_binary_invalid_utf8_or_nul_is_proto)
{
    rmq_buf h;

    rmq_buf_init(&h);
    bin_header(&h, "a\xff");
    ck_assert_int_eq(decode_bin(&h), RMQ_ERR_PROTO);
    bin_header(&h, "r");
    h.data[29] = '\0'; /* the value of "a" */
    ck_assert_int_eq(decode_bin(&h), RMQ_ERR_PROTO);
    rmq_buf_free(&h);
}
END_TEST

START_TEST(test_decode_binary_signed_fields_and_unknown_language)
{
    rmq_buf h;

    rmq_buf_init(&h);
    bin_header(&h, "r");
    rmq_put_be16(h.data, 0xFFFE);
    h.data[2] = 200;
    ck_assert_int_eq(decode_bin(&h), 0);
    ck_assert_int_eq(cmd.code, -2);
    ck_assert_int_eq(cmd.language, RMQ_LANG_OTHER);
    rmq_buf_free(&h);
}
END_TEST

/* ------------------------------------------------------------------------
 * ext lookups
 */

START_TEST(test_ext_i64_and_i32_parse_like_java)
{
    int64_t v64 = 0;
    int32_t v32 = 0;

    ck_assert_int_eq(decode_json(alions_send_hdr), 0);
    ck_assert_int_eq(rmq_rcmd_ext_i64(&cmd, "g", &v64), 0);
    ck_assert_int_eq(v64, 1795241136427LL);
    ck_assert_int_eq(rmq_rcmd_ext_i32(&cmd, "d", &v32), 0);
    ck_assert_int_eq(v32, 4);
    ck_assert_int_eq(rmq_rcmd_ext_i32(&cmd, "g", &v32), RMQ_ERR_INVAL);
    ck_assert_int_eq(rmq_rcmd_ext_i64(&cmd, "a", &v64), RMQ_ERR_INVAL);
    ck_assert_int_eq(rmq_rcmd_ext_i64(&cmd, "zz", &v64), RMQ_ERR_NOTFOUND);
    ck_assert_int_eq(rmq_rcmd_ext_i32(&cmd, "zz", &v32), RMQ_ERR_NOTFOUND);
}
END_TEST

START_TEST(test_ext_bool_follows_parse_boolean)
{
    ck_assert_int_eq(decode_json("{\"code\":1,\"extFields\":{\"a\":\"TRUE\","
                                 "\"b\":\"yes\",\"c\":\"1\"}}"),
                     0);
    ck_assert(rmq_rcmd_ext_bool(&cmd, "a"));
    ck_assert(!rmq_rcmd_ext_bool(&cmd, "b"));
    ck_assert(!rmq_rcmd_ext_bool(&cmd, "c"));
    ck_assert(!rmq_rcmd_ext_bool(&cmd, "absent"));
}
END_TEST

/* ------------------------------------------------------------------------
 * encoding
 */

static const char *
encoded_header(const rmq_buf *b, size_t at)
{
    static char text[4096];
    uint32_t    hlen = rmq_be32(b->data + at + 4) & 0xFFFFFFu;

    ck_assert_uint_lt(hlen, sizeof(text));
    memcpy(text, b->data + at + 8, hlen);
    text[hlen] = '\0';
    return text;
}

START_TEST(test_encode_writes_compact_sorted_header)
{
    rmq_rcmd_out o;

    rmq_rcmd_out_init(&o, 0, 42, RMQ_RFLAG_RESPONSE);
    rmq_rcmd_out_ext(&o, "queueId", "1");
    rmq_rcmd_out_ext(&o, "queueOffset", "7");
    o.remark = "ok";
    ck_assert_int_eq(rmq_rcmd_encode(&o, 0, &fb), 0);
    ck_assert_str_eq(encoded_header(&fb, 0),
                     "{\"code\":0,\"extFields\":{\"queueId\":\"1\","
                     "\"queueOffset\":\"7\"},\"flag\":1,\"language\":\"JAVA\","
                     "\"opaque\":42,\"remark\":\"ok\","
                     "\"serializeTypeCurrentRPC\":\"JSON\",\"version\":410}");
}
END_TEST

START_TEST(test_encode_omits_null_remark_and_empty_ext)
{
    rmq_rcmd_out o;

    rmq_rcmd_out_init(&o, -1, INT32_MIN, 0);
    o.language = RMQ_LANG_GO;
    o.version = 317;
    ck_assert_int_eq(rmq_rcmd_encode(&o, 0, &fb), 0);
    ck_assert_str_eq(encoded_header(&fb, 0),
                     "{\"code\":-1,\"flag\":0,\"language\":\"GO\","
                     "\"opaque\":-2147483648,"
                     "\"serializeTypeCurrentRPC\":\"JSON\",\"version\":317}");
}
END_TEST

START_TEST(test_encode_frame_prefix_counts_body_and_appends)
{
    rmq_rcmd_out o;
    uint32_t     hlen;

    rmq_buf_append(&fb, "xyz", 3);
    rmq_rcmd_out_init(&o, 1, 2, 0);
    ck_assert_int_eq(rmq_rcmd_encode(&o, 100, &fb), 0);
    ck_assert_int_eq(memcmp(fb.data, "xyz", 3), 0);
    hlen = rmq_be32(fb.data + 7);
    ck_assert_uint_eq(hlen >> 24, RMQ_SERIALIZE_JSON);
    ck_assert_uint_eq(fb.len, 3 + 8 + hlen);
    ck_assert_uint_eq(rmq_be32(fb.data + 3), 4 + hlen + 100);
    ck_assert_str_eq(encoded_header(&fb, 3),
                     "{\"code\":1,\"flag\":0,\"language\":\"JAVA\","
                     "\"opaque\":2,\"serializeTypeCurrentRPC\":\"JSON\","
                     "\"version\":410}");
}
END_TEST

START_TEST(test_encode_escapes_controls_as_u00xx)
{
    rmq_rcmd_out o;

    rmq_rcmd_out_init(&o, 1, 1, 0);
    rmq_rcmd_out_ext(&o, "i", "TAGS\x01t\x02\n\x1f\"\\/");
    ck_assert_int_eq(rmq_rcmd_encode(&o, 0, &fb), 0);
    ck_assert_ptr_nonnull(strstr(encoded_header(&fb, 0),
                                 "\"i\":\"TAGS\\u0001t\\u0002\\u000a\\u001f"
                                 "\\\"\\\\/\""));
}
END_TEST

START_TEST(test_encode_passes_utf8_and_replaces_invalid_bytes)
{
    rmq_rcmd_out o;

    rmq_rcmd_out_init(&o, 1, 1, 0);
    rmq_rcmd_out_ext(&o, "k", "\xe4\xb8\xad\xff\xc3");
    ck_assert_int_eq(rmq_rcmd_encode(&o, 0, &fb), 0);
    ck_assert_ptr_nonnull(
        strstr(encoded_header(&fb, 0), "\"k\":\"\xe4\xb8\xad\\ufffd\\ufffd\""));
}
END_TEST

START_TEST(test_encode_json_is_compact_and_ext_values_are_strings)
{
    rmq_rcmd_out o;
    json_t      *root;
    json_t      *ext;
    const char  *k;
    json_t      *v;
    const char  *text;

    rmq_rcmd_out_init(&o, 0, 9, RMQ_RFLAG_RESPONSE);
    rmq_rcmd_out_ext(&o, "queueOffset", "7");
    rmq_rcmd_out_ext(&o, "TRACE_ON", "true");
    rmq_rcmd_out_ext(&o, "sp ace", "a b");
    o.remark = "remark";
    ck_assert_int_eq(rmq_rcmd_encode(&o, 0, &fb), 0);
    text = encoded_header(&fb, 0);
    ck_assert_ptr_null(strpbrk(text, "\t\r\n"));
    ck_assert_ptr_null(strstr(text, ": "));
    ck_assert_ptr_null(strstr(text, ", "));
    root = json_loads(text, 0, NULL);
    ck_assert_ptr_nonnull(root);
    ext = json_object_get(root, "extFields");
    ck_assert_int_eq(json_object_size(ext), 3);
    json_object_foreach(ext, k, v)
    {
        ck_assert_msg(json_is_string(v), "%s is not a string", k);
    }
    ck_assert_str_eq(json_string_value(json_object_get(ext, "TRACE_ON")),
                     "true");
    json_decref(root);
}
END_TEST

START_TEST(test_encode_then_decode_round_trips)
{
    static const char *const vals[] = {
        "q\"uo\"te",
        "back\\slash",
        "TAGS\x01tagA\x02KEYS\x01k1\x02",
        "\xe4\xb8\xad\xe6\x96\x87 \xf0\x9f\x98\x80 caf\xc3\xa9",
        "",
        "\x7f\x1b[0m",
    };
    rmq_rcmd_out o;
    char         keys[RMQ_ARRAY_LEN(vals)][8];

    rmq_rcmd_out_init(&o, 310, 123456, RMQ_RFLAG_ONEWAY);
    o.remark = "r\x01\xc3\xa9\"";
    for (size_t i = 0; i < RMQ_ARRAY_LEN(vals); i++) {
        snprintf(keys[i], sizeof(keys[i]), "k\"%zu", i);
        rmq_rcmd_out_ext(&o, keys[i], vals[i]);
    }
    ck_assert_int_eq(rmq_rcmd_encode(&o, 0, &fb), 0);
    ck_assert_int_eq(rmq_rcmd_decode(fb.data, fb.len, &cmd), 0);
    ck_assert_int_eq(cmd.code, 310);
    ck_assert_int_eq(cmd.opaque, 123456);
    ck_assert_int_eq(cmd.flag, RMQ_RFLAG_ONEWAY);
    ck_assert_int_eq(cmd.version, 410);
    ck_assert_int_eq(cmd.language, RMQ_LANG_JAVA);
    ck_assert_str_eq(cmd.remark, o.remark);
    ck_assert_uint_eq(cmd.next, RMQ_ARRAY_LEN(vals));
    for (size_t i = 0; i < RMQ_ARRAY_LEN(vals); i++) {
        assert_ext(&cmd, keys[i], vals[i]);
    }
    assert_paths_agree(encoded_header(&fb, 0));
}
END_TEST

START_TEST(test_encode_frame_over_max_is_toobig)
{
    rmq_rcmd_out o;

    rmq_rcmd_out_init(&o, 1, 1, 0);
    /* the smallest header is 95 bytes; the frame may be exactly the max */
    ck_assert_int_eq(rmq_rcmd_encode(&o, RMQ_FRAME_MAX - 8 - 94, &fb),
                     RMQ_ERR_TOOBIG);
    ck_assert_uint_eq(fb.len, 0);
    ck_assert_int_eq(rmq_rcmd_encode(&o, RMQ_FRAME_MAX - 8 - 95, &fb), 0);
    ck_assert_uint_eq(rmq_be32(fb.data), RMQ_FRAME_MAX - 4);
}
END_TEST

START_TEST(test_encode_huge_ext_value_is_toobig)
{
    rmq_rcmd_out o;
    char        *big = malloc(RMQ_FRAME_MAX + 1);

    ck_assert_ptr_nonnull(big);
    memset(big, 'x', RMQ_FRAME_MAX);
    big[RMQ_FRAME_MAX] = '\0';
    rmq_rcmd_out_init(&o, 1, 1, 0);
    rmq_rcmd_out_ext(&o, "k", big);
    ck_assert_int_eq(rmq_rcmd_encode(&o, 0, &fb), RMQ_ERR_TOOBIG);
    ck_assert_uint_eq(fb.len, 0);
    free(big);
}
END_TEST

START_TEST(test_language_name_covers_all_and_out_of_range)
{
    ck_assert_str_eq(rmq_language_name(RMQ_LANG_JAVA), "JAVA");
    ck_assert_str_eq(rmq_language_name(RMQ_LANG_NODE_JS), "NODE_JS");
    ck_assert_str_eq(rmq_language_name(RMQ_LANG_DOTNET), "DOTNET");
    ck_assert_str_eq(rmq_language_name(-1), "OTHER");
    ck_assert_str_eq(rmq_language_name(RMQ_LANG__COUNT), "OTHER");
}
END_TEST

static TCase *
tc_new(const char *name)
{
    TCase *tc = tcase_create(name);

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 10);
    return tc;
}

static Suite *
remoting_suite(void)
{
    Suite *s = suite_create("proto.remoting");
    TCase *tc;

    tc = tc_new("frame");
    tcase_add_test(tc, test_peek_complete_frame_returns_its_length);
    tcase_add_test(tc, test_peek_truncated_frame_returns_again_at_every_length);
    tcase_add_test(tc, test_peek_leaves_following_frame_alone);
    tcase_add_test(tc,
                   test_peek_oversized_frame_is_toobig_from_the_length_word);
    tcase_add_test(tc, test_peek_frame_of_exactly_max_is_not_toobig);
    tcase_add_test(tc, test_peek_length_below_four_is_proto);
    tcase_add_test(tc, test_peek_header_longer_than_frame_is_proto);
    tcase_add_test(tc, test_peek_bad_serialize_type_is_proto);
    tcase_add_test(tc, test_decode_length_other_than_frame_is_proto);
    suite_add_tcase(s, tc);

    tc = tc_new("json");
    tcase_add_test(tc, test_decode_alions_send_header);
    tcase_add_test(tc, test_decode_json_numbers_become_strings);
    tcase_add_test(tc, test_decode_json_integer_beyond_int64_is_proto);
    tcase_add_test(
        tc, test_decode_json_nineteen_digit_integers_are_left_to_jansson);
    tcase_add_test(tc, test_decode_json_booleans_become_text);
    tcase_add_test(tc, test_decode_json_null_ext_value_is_absent);
    tcase_add_test(tc, test_decode_json_duplicate_ext_key_keeps_last);
    tcase_add_test(tc, test_decode_java_response_header);
    tcase_add_test(tc, test_decode_json_language_names_and_ordinals);
    tcase_add_test(tc, test_decode_json_missing_code_is_proto);
    tcase_add_test(tc, test_decode_json_missing_ints_default_to_zero);
    tcase_add_test(tc, test_decode_json_int_fields_out_of_int32_are_proto);
    tcase_add_test(tc, test_decode_json_remark_string_or_null);
    tcase_add_test(tc, test_decode_json_unknown_keys_are_ignored);
    tcase_add_test(tc, test_decode_json_whitespace_is_accepted);
    tcase_add_test(tc, test_decode_json_non_object_is_proto);
    tcase_add_test(tc, test_decode_json_nested_ext_value_is_proto);
    tcase_add_test(tc, test_decode_json_too_many_ext_fields_is_proto);
    tcase_add_test(tc, test_decode_json_invalid_utf8_is_proto);
    tcase_add_test(tc, test_decode_json_bad_escapes_are_proto);
    tcase_add_test(tc, test_decode_json_nul_in_strings_is_proto);
    tcase_add_test(tc, test_decode_json_escapes_decode_to_utf8);
    tcase_add_test(tc, test_decode_reuses_arena_and_keeps_strings_valid);
    tcase_add_test(tc, test_decode_fast_path_agrees_with_jansson);
    suite_add_tcase(s, tc);

    tc = tc_new("binary");
    tcase_add_test(tc, test_decode_binary_header_with_remark_and_ext);
    tcase_add_test(tc, test_decode_binary_zero_length_remark_is_null);
    tcase_add_test(tc, test_decode_binary_zero_length_ext_value_is_absent);
    tcase_add_test(
        tc, test_decode_binary_truncated_header_is_proto_at_every_length);
    tcase_add_test(tc, test_decode_binary_trailing_bytes_are_proto);
    tcase_add_test(tc, test_decode_binary_negative_lengths_are_proto);
    tcase_add_test(tc, test_decode_binary_invalid_utf8_or_nul_is_proto);
    tcase_add_test(tc, test_decode_binary_signed_fields_and_unknown_language);
    suite_add_tcase(s, tc);

    tc = tc_new("ext");
    tcase_add_test(tc, test_ext_i64_and_i32_parse_like_java);
    tcase_add_test(tc, test_ext_bool_follows_parse_boolean);
    suite_add_tcase(s, tc);

    tc = tc_new("encode");
    tcase_add_test(tc, test_encode_writes_compact_sorted_header);
    tcase_add_test(tc, test_encode_omits_null_remark_and_empty_ext);
    tcase_add_test(tc, test_encode_frame_prefix_counts_body_and_appends);
    tcase_add_test(tc, test_encode_escapes_controls_as_u00xx);
    tcase_add_test(tc, test_encode_passes_utf8_and_replaces_invalid_bytes);
    tcase_add_test(tc, test_encode_json_is_compact_and_ext_values_are_strings);
    tcase_add_test(tc, test_encode_then_decode_round_trips);
    tcase_add_test(tc, test_encode_frame_over_max_is_toobig);
    tcase_add_test(tc, test_encode_huge_ext_value_is_toobig);
    tcase_add_test(tc, test_language_name_covers_all_and_out_of_range);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(remoting_suite());
    int      failed;

    srunner_run_all(sr, CK_ENV);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
