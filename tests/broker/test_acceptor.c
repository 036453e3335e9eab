/*
 * test_acceptor.c - broker.acceptor (tag proc): the client-facing actor
 * of a real rmq-supervisor (every actor, embedded name server), spoken to
 * over TCP with the blocking remoting client (net/rpc.h).
 *
 *   frames  malformed frames, a frame over 16 MiB and random garbage close
 *           only their own connection: another client keeps sending, and
 *           the acceptor is the same process throughout; so do requests
 *           with odd field values; unknown codes; 300 pipelined requests
 *           are each answered once;
 *   send    the send checks and their codes (17; 1 for bad names and
 *           queue ids; 13 for bodies, properties and batches that do not
 *           fit or parse; 16 for system and read-only topics), creation
 *           through TBW102 (the route then shows up at the name server),
 *           batches (one record per message, comma-separated msgIds),
 *           SEND_MESSAGE (10) storing what SEND_MESSAGE_V2 (310) stores;
 *   pull    offset codes with nextBeginOffset/minOffset/maxOffset always
 *           present, tag filtering, a held pull answered by a send;
 *   query   max/min offset, offset by time, earliest store time, a
 *           message by id, the runtime-info KV table;
 *   crash   kill -9 of the acceptor while child processes send: they
 *           reconnect, and every message they got SEND_OK for is pulled
 *           back exactly once.
 * A broker with brokerPermission = 4 (read only) answers sends with 16.
 */
#include "broker/broker.h"
#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "net/rpc.h"
#include "proto/codes.h"
#include "shm/control.h"
#include "store/record.h"
#include "supervisor/actor.h"
#include "tests/support/rmqrpc.h"
#include "tests/support/rmqtest.h"

#include <arpa/inet.h>
#include <check.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define AC_READY_MS 20000
#define AC_RPC_MS 5000
#define AC_MAX_MSG 4096 /* maxMessageSize in the test config */
#define AC_TOPIC "AccT" /* 4 queues, read-write */
#define AC_QUEUES 4

static struct {
    rmqtest_broker br;
    char          *store;
    char           addr[64];
    char           ns_addr[64];
    rmq_ctl        ctl;
    bool           ctl_open;
} ac;

/* ---- the broker ---------------------------------------------------------- */

static void
ac_write_conf(int perm)
{
    rmqtest_write_file(ac.br.conf,
                       "broker = {\n"
                       "    brokerName = \"broker-acc\";\n"
                       "    listenPort = %d;\n"
                       "    namesrvAddr = \"127.0.0.1:%d\";\n"
                       "    brokerIP1 = \"127.0.0.1\";\n"
                       "    storePathRootDir = \"%s\";\n"
                       "    maxMessageSize = %d;\n"
                       "    brokerPermission = %d;\n"
                       "    registerNameServerPeriod = 1000;\n"
                       "    mappedFileSizeCommitLog = 4194304;\n"
                       "    mappedFileSizeConsumeQueue = 20000;\n"
                       "};\n"
                       "namesrv = { listenPort = %d; };\n"
                       "supervisor = {\n"
                       "    runDir = \"%s\";\n"
                       "    restartIntensity = 20;\n"
                       "};\n",
                       ac.br.port, ac.br.ns_port, ac.store, AC_MAX_MSG, perm,
                       ac.br.ns_port, ac.br.run_dir);
}

static void ac_create_topic(const char *name, int queues, int perm);

static void
ac_setup_perm(int perm)
{
    memset(&ac, 0, sizeof(ac));
    rmqtest_broker_init(&ac.br, "acc");
    ac.store = rmqtest_strf("%s/store", ac.br.dir);
    snprintf(ac.addr, sizeof(ac.addr), "127.0.0.1:%d", ac.br.port);
    snprintf(ac.ns_addr, sizeof(ac.ns_addr), "127.0.0.1:%d", ac.br.ns_port);
    ac_write_conf(perm);
    rmqtest_broker_start(&ac.br, rmqtest_env("RMQ_SUPERVISOR_BIN"), NULL);
    ck_assert_msg(rmqtest_ctl_wait_ready(ac.br.run_dir, ac.br.sup.pid,
                                         AC_READY_MS, &ac.ctl),
                  "broker not ready; log:\n%s", rmqtest_file_tail(ac.br.log));
    ac.ctl_open = true;
    ac_create_topic(AC_TOPIC, AC_QUEUES, RMQ_PERM_READ | RMQ_PERM_WRITE);
}

static void
ac_setup(void)
{
    ac_setup_perm(RMQ_PERM_READ | RMQ_PERM_WRITE);
}

static void
ac_setup_readonly(void)
{
    ac_setup_perm(RMQ_PERM_READ);
}

static void
ac_teardown(void)
{
    if (ac.ctl_open) {
        rmq_ctl_detach(&ac.ctl);
    }
    if (rmqtest_broker_running(&ac.br)) {
        ck_assert_msg(rmqtest_proc_signal_wait(&ac.br.sup, SIGTERM, 20000),
                      "supervisor did not stop; log:\n%s",
                      rmqtest_file_tail(ac.br.log));
        ck_assert_int_eq(rmqtest_exit_code(ac.br.sup.status), 0);
    }
    rmqtest_assert_no_sanitizer_report(ac.br.log);
    rmqtest_broker_fini(&ac.br);
    free(ac.store);
}

/* ---- requests ------------------------------------------------------------ */

static void
ac_connect(rmq_rpc *r)
{
    rmqtest_rpc_connect(r, ac.addr, AC_RPC_MS);
}

static void
ac_create_topic(const char *name, int queues, int perm)
{
    rmq_rpc r;
    int     code;

    ac_connect(&r);
    code = rmqtest_create_topic(&r, name, queues, perm);
    ck_assert_msg(code == 0, "create %s: %d", name, code);
    rmq_rpc_close(&r);
}

static const rmq_rcmd *
ac_send(rmq_rpc *r, const rmqtest_msg *m)
{
    return rmqtest_send(r, RMQ_REQ_SEND_MESSAGE_V2, m);
}

/* Send body text to topic/qid over r; the response must be SEND_OK. */
static int64_t
ac_send_ok(rmq_rpc *r, const char *topic, int32_t qid, const char *tags,
           const char *body)
{
    rmqtest_msg     m = {.topic = topic,
                         .qid = qid,
                         .tags = tags,
                         .body = body,
                         .body_len = (uint32_t)strlen(body)};
    const rmq_rcmd *resp = ac_send(r, &m);

    ck_assert_msg(resp->code == 0, "send to %s: %d %s", topic, resp->code,
                  resp->remark ? resp->remark : "");
    rmqtest_rpc_ext(resp, "msgId");
    ck_assert_int_eq(rmqtest_rpc_ext_i64(resp, "queueId"), qid);
    return rmqtest_rpc_ext_i64(resp, "queueOffset");
}

/* The offsets every pull response carries, whatever its code. */
struct ac_offsets {
    int64_t next, min, max;
};

static struct ac_offsets
ac_pull_offsets(const rmq_rcmd *resp)
{
    struct ac_offsets o;

    o.next = rmqtest_rpc_ext_i64(resp, "nextBeginOffset");
    o.min = rmqtest_rpc_ext_i64(resp, "minOffset");
    o.max = rmqtest_rpc_ext_i64(resp, "maxOffset");
    rmqtest_rpc_ext(resp, "suggestWhichBrokerId");
    return o;
}

static bool
ac_body_is(const rmq_rec_view *v, const char *body)
{
    return v->body_len == strlen(body) &&
           memcmp(v->body, body, v->body_len) == 0;
}

static bool
ac_prop_is(const rmq_rec_view *v, const char *key, const char *want)
{
    const char *val;
    uint32_t    len;

    return rmq_rec_prop(v->props, v->props_len, key, &val, &len) &&
           len == strlen(want) && memcmp(val, want, len) == 0;
}

/*
 * A send is answered once clwriter stored it; the dispatcher adds it to
 * its consume queue a moment later.  Wait until queue qid holds n.
 */
static int64_t ac_query(rmq_rpc *r, int code, const char *topic, int32_t qid,
                        const char *extra_key, const char *extra_val,
                        const char *out_key);

static void
ac_wait_max(rmq_rpc *r, const char *topic, int32_t qid, int64_t n)
{
    int64_t deadline = rmq_mono_ms() + rmqtest_scale_ms(5000);

    while (ac_query(r, RMQ_REQ_GET_MAX_OFFSET, topic, qid, NULL, NULL,
                    "offset") < n) {
        ck_assert_msg(rmq_mono_ms() < deadline, "%s/%d never reached %lld",
                      topic, qid, (long long)n);
        poll(NULL, 0, 2);
    }
}

/* ---- the acceptor process ------------------------------------------------ */

static pid_t
ac_acceptor_pid(void)
{
    return rmqtest_ctl_actor_pid(&ac.ctl, RMQ_ACTOR_ACCEPTOR);
}

static uint32_t
ac_acceptor_restarts(void)
{
    return atomic_load(&ac.ctl.slots[RMQ_ACTOR_ACCEPTOR].sup.s.restarts);
}

/*
 * bytes on a connection of their own: the server closes it (if
 * expect_close), while a second client sends before, during and after,
 * and the acceptor stays the same process.
 */
static void
ac_bad_bytes(const void *bytes, size_t len, bool expect_close)
{
    pid_t   pid = ac_acceptor_pid();
    rmq_rpc good, bad;

    ck_assert_int_gt(pid, 0);
    ac_connect(&good);
    ac_send_ok(&good, AC_TOPIC, 0, NULL, "before");
    ac_connect(&bad);
    rmq_rpc_write_raw(&bad, bytes, len); /* the server may cut it short */
    ac_send_ok(&good, AC_TOPIC, 0, NULL, "during");
    if (expect_close) {
        ck_assert_msg(rmqtest_rpc_closed_by_peer(&bad, 3000),
                      "the server kept the connection");
    }
    rmq_rpc_close(&bad);
    ac_send_ok(&good, AC_TOPIC, 0, NULL, "after");
    rmq_rpc_close(&good);
    ck_assert_int_eq(ac_acceptor_pid(), pid);
    ck_assert_uint_eq(ac_acceptor_restarts(), 0);
}

/* A frame: length word, header word (type << 24 | hlen), header, body. */
static size_t
ac_frame(uint8_t *out, uint32_t frame_len, uint8_t type, uint32_t hlen,
         const char *header)
{
    size_t n = strlen(header);

    rmq_put_be32(out, frame_len);
    rmq_put_be32(out + 4, ((uint32_t)type << 24) | hlen);
    memcpy(out + 8, header, n);
    return 8 + n;
}

/* ---- tests: frames ------------------------------------------------------- */

static const char ac_hdr[] =
    "{\"code\":30,\"language\":\"JAVA\",\"opaque\":1,\"flag\":0,"
    "\"version\":410,\"extFields\":{\"topic\":\"AccT\",\"queueId\":\"0\"}}";

START_TEST(test_acceptor_bad_serialize_type_closes_only_that_connection)
{
    uint8_t f[256];
    size_t  n = ac_frame(f, 4 + (uint32_t)strlen(ac_hdr), 7,
                         (uint32_t)strlen(ac_hdr), ac_hdr);

    ac_bad_bytes(f, n, true);
}
END_TEST

START_TEST(test_acceptor_header_longer_than_frame_closes_only_that_connection)
{
    uint8_t f[256];
    size_t  n = ac_frame(f, 4 + (uint32_t)strlen(ac_hdr), 0,
                         (uint32_t)strlen(ac_hdr) + 50, ac_hdr);

    ac_bad_bytes(f, n, true);
}
END_TEST

START_TEST(test_acceptor_non_json_header_closes_only_that_connection)
{
    static const char junk[] = "this is not {json at all";
    uint8_t           f[256];
    size_t            n = ac_frame(f, 4 + (uint32_t)strlen(junk), 0,
                                   (uint32_t)strlen(junk), junk);

    ac_bad_bytes(f, n, true);
}
END_TEST

START_TEST(test_acceptor_truncated_frame_then_close_harms_nothing)
{
    uint8_t f[256];
    size_t  n = ac_frame(f, 4 + (uint32_t)strlen(ac_hdr) + 100, 0,
                         (uint32_t)strlen(ac_hdr), ac_hdr);

    ac_bad_bytes(f, n - 10, false); /* cut short, then we close */
}
END_TEST

START_TEST(test_acceptor_frame_over_16_mib_closes_only_that_connection)
{
    static uint8_t f[65536];
    size_t         n =
        ac_frame(f, 16u * 1024 * 1024, 0, (uint32_t)strlen(ac_hdr), ac_hdr);

    ac_bad_bytes(f, n + 60000, true); /* announced: 16 MiB + 4 bytes */
}
END_TEST

START_TEST(test_acceptor_random_garbage_closes_only_that_connection)
{
    static uint8_t g[32768];
    uint32_t       x = 12345;

    for (int seed = 0; seed < 16; seed++) {
        size_t len = 64 + (size_t)seed * 1999;
        for (size_t i = 0; i < len; i++) {
            x = x * 1103515245u + 12345u;
            g[i] = (uint8_t)(x >> 16);
        }
        /* a length word that fits what is sent: the rest must be judged */
        rmq_put_be32(g, (uint32_t)len - 4);
        ac_bad_bytes(g, len, true);
        /* unframed: whatever the length word says, the broker survives */
        x = x * 1103515245u + 12345u;
        g[0] = (uint8_t)(x >> 24);
        ac_bad_bytes(g, len, false);
    }
}
END_TEST

START_TEST(test_acceptor_unknown_code_is_request_code_not_supported)
{
    rmq_rpc         r;
    rmq_rcmd_out    o;
    const rmq_rcmd *resp;

    ac_connect(&r);
    rmq_rcmd_out_init(&o, 9999, 0, 0);
    resp = rmqtest_rpc_call(&r, &o, NULL, 0);
    ck_assert_int_eq(resp->code, RMQ_RESP_REQUEST_CODE_NOT_SUPPORTED);
    ck_assert_ptr_nonnull(resp->remark);
    ck_assert_str_eq(resp->remark, " request type 9999 not supported");
    ck_assert(resp->flag & RMQ_RFLAG_RESPONSE);
    /* the connection goes on */
    ac_send_ok(&r, AC_TOPIC, 1, NULL, "still here");
    rmq_rpc_close(&r);
}
END_TEST

/* Requests that decode but carry odd values, one connection each. */
START_TEST(test_acceptor_odd_field_values_leave_it_running)
{
    static const char *const hdrs[] = {
        "[]",
        "123",
        "{}",
        "{\"code\":\"x\"}",
        "{\"code\":11}",
        "{\"code\":11,\"extFields\":{\"consumerGroup\":\"g\",\"topic\":"
        "\"AccT\","
        "\"queueId\":\"99999999999\",\"queueOffset\":\"0\",\"maxMsgNums\":"
        "\"-5\",\"sysFlag\":\"6\"}}",
        "{\"code\":11,\"extFields\":{\"consumerGroup\":\"g\",\"topic\":"
        "\"AccT\","
        "\"queueId\":\"-1\",\"queueOffset\":\"0\",\"maxMsgNums\":\"1\","
        "\"sysFlag\":\"6\"}}",
        "{\"code\":11,\"extFields\":{\"consumerGroup\":\"g\",\"topic\":"
        "\"AccT\","
        "\"queueId\":\"0\",\"queueOffset\":\"-9223372036854775808\","
        "\"maxMsgNums\":\"2147483647\",\"sysFlag\":\"6\","
        "\"suspendTimeoutMillis\":\"-1\"}}",
        "{\"code\":310,\"extFields\":{\"a\":\"g\",\"b\":\"AccT\",\"e\":\"-7\"}"
        "}",
        "{\"code\":320,\"extFields\":{\"a\":\"g\",\"b\":\"AccT\",\"e\":\"0\"}}",
        "{\"code\":33,\"extFields\":{\"offset\":\"9223372036854775807\"}}",
        "{\"code\":33,\"extFields\":{\"offset\":\"-1\"}}",
        "{\"code\":29,\"extFields\":{\"topic\":\"AccT\",\"queueId\":\"65535\","
        "\"timestamp\":\"0\"}}",
        "{\"code\":32,\"extFields\":{\"topic\":\"AccT\",\"queueId\":\"-3\"}}",
        "{\"code\":30,\"extFields\":{\"topic\":\"AccT\",\"queueId\":"
        "\"2147483647\"}}",
        "{\"code\":17,\"extFields\":{\"topic\":\"X\",\"readQueueNums\":"
        "\"100000\"}}",
        "{\"code\":36,\"extFields\":{\"offset\":\"-1\",\"group\":\"g\","
        "\"delayLevel\":\"0\"}}",
        "{\"code\":36,\"extFields\":{\"offset\":\"5\",\"group\":\"g\","
        "\"delayLevel\":\"99\"}}",
        "{\"code\":12,\"extFields\":{\"topic\":\"AccT\",\"key\":\"k\","
        "\"maxNum\":\"-1\",\"beginTimestamp\":\"0\",\"endTimestamp\":\"-1\"}}",
        "{\"code\":34}",
        "{\"code\":41}",
        "{\"code\":202,\"extFields\":{\"topic\":\"AccT\"}}",
        "{\"code\":28,\"flag\":2}",
    };
    uint8_t f[1024];
    rmq_rpc r;

    ac_connect(&r);
    ac_send_ok(&r, AC_TOPIC, 0, NULL, "something to point at");
    ac_wait_max(&r, AC_TOPIC, 0, 1);
    rmq_rpc_close(&r);
    for (size_t i = 0; i < sizeof(hdrs) / sizeof(hdrs[0]); i++) {
        uint32_t hl = (uint32_t)strlen(hdrs[i]);
        size_t   n = ac_frame(f, 4 + hl + 3, 0, hl, hdrs[i]);

        memcpy(f + n, "abc", 3); /* a small body */
        ac_bad_bytes(f, n + 3, false);
    }
}
END_TEST

START_TEST(test_acceptor_pipelined_requests_are_each_answered_once)
{
    enum { N = 300, BODY = 2000 };
    static char    body[BODY];
    static uint8_t in[1 << 20];
    static bool    seen[N + 1];
    rmq_rpc        r;
    rmq_buf        out;
    size_t         len = 0;
    int            got = 0;
    int64_t        deadline;

    memset(body, 'p', sizeof(body));
    memset(seen, 0, sizeof(seen));
    ac_connect(&r);
    rmq_buf_init(&out);
    /* sends and queries mixed, all written before reading anything */
    for (int i = 1; i <= N; i++) {
        rmq_rcmd_out o;
        char         q[8];

        snprintf(q, sizeof(q), "%d", i % AC_QUEUES);
        rmq_rcmd_out_init(
            &o, i % 2 ? RMQ_REQ_SEND_MESSAGE_V2 : RMQ_REQ_GET_MAX_OFFSET, i, 0);
        rmq_rcmd_out_ext(&o, i % 2 ? "a" : "topic", i % 2 ? "PG" : AC_TOPIC);
        rmq_rcmd_out_ext(&o, i % 2 ? "b" : "queueId", i % 2 ? AC_TOPIC : q);
        if (i % 2) {
            rmq_rcmd_out_ext(&o, "e", q);
        }
        ck_assert_int_eq(rmq_rcmd_encode(&o, i % 2 ? BODY : 0, &out), 0);
        if (i % 2) {
            rmq_buf_append(&out, body, BODY);
        }
    }
    ck_assert_int_eq(rmq_rpc_write_raw(&r, out.data, out.len), 0);
    deadline = rmq_mono_ms() + rmqtest_scale_ms(10000);
    while (got < N) {
        struct pollfd pf = {.fd = r.fd, .events = POLLIN};
        size_t        fl;

        ck_assert_msg(rmq_mono_ms() < deadline, "%d of %d answered", got, N);
        if (poll(&pf, 1, 100) == 1) {
            ssize_t n = recv(r.fd, in + len, sizeof(in) - len, 0);
            ck_assert_int_gt(n, 0);
            len += (size_t)n;
        }
        while (rmq_frame_peek(in, len, RMQ_FRAME_MAX, &fl) == 0) {
            rmq_rcmd c;

            rmq_rcmd_init(&c);
            ck_assert_int_eq(rmq_rcmd_decode(in, fl, &c), 0);
            ck_assert_int_eq(c.code, 0);
            ck_assert(c.opaque >= 1 && c.opaque <= N && !seen[c.opaque]);
            seen[c.opaque] = true;
            got++;
            rmq_rcmd_free(&c);
            memmove(in, in + fl, len - fl);
            len -= fl;
        }
    }
    rmq_buf_free(&out);
    rmq_rpc_close(&r);
}
END_TEST

/* ---- tests: send --------------------------------------------------------- */

static int
ac_send_code_of(const rmqtest_msg *m)
{
    rmq_rpc r;
    int     code;

    ac_connect(&r);
    code = ac_send(&r, m)->code;
    rmq_rpc_close(&r);
    return code;
}

START_TEST(test_acceptor_send_to_unknown_topic_without_default_is_17)
{
    rmqtest_msg m = {
        .topic = "NoSuchTopic", .qid = 0, .body = "x", .body_len = 1};

    ck_assert_int_eq(ac_send_code_of(&m), RMQ_RESP_TOPIC_NOT_EXIST);
    m.default_topic = "NoSuchDefault";
    ck_assert_int_eq(ac_send_code_of(&m), RMQ_RESP_TOPIC_NOT_EXIST);
}
END_TEST

static bool
ac_route_known(void *arg)
{
    rmq_rpc         r;
    rmq_rcmd_out    o;
    const rmq_rcmd *resp;
    bool            ok;

    rmqtest_rpc_connect(&r, ac.ns_addr, AC_RPC_MS);
    rmq_rcmd_out_init(&o, RMQ_REQ_GET_ROUTEINFO_BY_TOPIC, 0, 0);
    rmq_rcmd_out_ext(&o, "topic", arg);
    resp = rmqtest_rpc_call(&r, &o, NULL, 0);
    ok = resp->code == 0 && resp->body_len > 0;
    rmq_rpc_close(&r);
    return ok;
}

START_TEST(test_acceptor_send_creates_topic_from_tbw102_and_namesrv_learns_it)
{
    rmqtest_msg     m = {.topic = "AutoT",
                         .qid = 1,
                         .body = "auto",
                         .body_len = 4,
                         .default_topic = RMQ_TOPIC_TBW102};
    rmq_rpc         r;
    rmq_topic_entry t;

    ck_assert(!ac_route_known("AutoT"));
    ac_connect(&r);
    ck_assert_int_eq(ac_send(&r, &m)->code, 0);
    /* min(defaultTopicQueueNums 4, TBW102's 8), perm without INHERIT */
    ck_assert_int_ge(rmq_ctl_topic_find(&ac.ctl, "AutoT", 5, &t), 0);
    ck_assert_int_eq(t.write_queues, 4);
    ck_assert_int_eq(t.perm, RMQ_PERM_READ | RMQ_PERM_WRITE);
    ac_send_ok(&r, "AutoT", 3, NULL, "again");
    rmq_rpc_close(&r);
    ck_assert_msg(rmqtest_wait_until(ac_route_known, "AutoT", 5000),
                  "the name server never heard of AutoT");
}
END_TEST

START_TEST(test_acceptor_send_to_illegal_topic_name_is_1)
{
    char        name[130];
    rmqtest_msg m = {.topic = "bad topic!",
                     .qid = 0,
                     .body = "x",
                     .body_len = 1,
                     .default_topic = RMQ_TOPIC_TBW102};

    ck_assert_int_eq(ac_send_code_of(&m), RMQ_RESP_SYSTEM_ERROR);
    /* 127 bytes is the longest name */
    memset(name, 'T', 128);
    name[128] = '\0';
    m.topic = name;
    ck_assert_int_eq(ac_send_code_of(&m), RMQ_RESP_SYSTEM_ERROR);
    name[127] = '\0';
    ck_assert_int_eq(ac_send_code_of(&m), 0);
}
END_TEST

START_TEST(test_acceptor_send_to_a_system_topic_is_16)
{
    rmqtest_msg m = {
        .topic = RMQ_TOPIC_SCHEDULE, .qid = 0, .body = "x", .body_len = 1};

    ck_assert_int_eq(ac_send_code_of(&m), RMQ_RESP_NO_PERMISSION);
    m.topic = "SELF_TEST_TOPIC";
    ck_assert_int_eq(ac_send_code_of(&m), RMQ_RESP_NO_PERMISSION);
}
END_TEST

START_TEST(test_acceptor_send_properties_over_32767_bytes_is_13)
{
    static char keys[32800];
    rmqtest_msg m = {
        .topic = AC_TOPIC, .qid = 0, .body = "x", .body_len = 1, .keys = keys};

    memset(keys, 'k', sizeof(keys) - 1);
    ck_assert_int_eq(ac_send_code_of(&m), RMQ_RESP_MESSAGE_ILLEGAL);
    keys[32000] = '\0'; /* with CLUSTER added it still fits */
    ck_assert_int_eq(ac_send_code_of(&m), 0);
}
END_TEST

/* Batches with random and half-plausible bodies: stored or 13, nothing else. */
START_TEST(test_acceptor_malformed_batches_are_13_and_harm_nothing)
{
    static uint8_t g[4096];
    uint32_t       x = 99;
    rmq_rpc        r;
    pid_t          pid = ac_acceptor_pid();
    int            refused = 0;

    ac_connect(&r);
    for (int i = 0; i < 300; i++) {
        rmqtest_msg m = {.topic = AC_TOPIC,
                         .qid = i % AC_QUEUES,
                         .body = g,
                         .body_len = 1 + (uint32_t)(i * 37) % 4000};
        int         code;

        for (size_t j = 0; j < m.body_len; j++) {
            x = x * 1103515245u + 12345u;
            g[j] = (uint8_t)(x >> 16);
        }
        if (i % 2 && m.body_len > 30) {
            /* a first message whose sizes almost add up */
            rmq_put_be32(g, m.body_len - (uint32_t)(i % 3));
            rmq_put_be32(g + 16, (x >> 8) % (m.body_len - 22));
        }
        code = rmqtest_send(&r, RMQ_REQ_SEND_BATCH_MESSAGE, &m)->code;
        ck_assert_msg(code == 0 || code == RMQ_RESP_MESSAGE_ILLEGAL,
                      "batch %d: code %d", i, code);
        refused += code != 0;
    }
    ck_assert_int_gt(refused, 200);
    ac_send_ok(&r, AC_TOPIC, 0, NULL, "after the batches");
    rmq_rpc_close(&r);
    ck_assert_int_eq(ac_acceptor_pid(), pid);
}
END_TEST

START_TEST(test_acceptor_send_body_over_max_message_size_is_13)
{
    static char big[AC_MAX_MSG + 1];
    rmqtest_msg m = {
        .topic = AC_TOPIC, .qid = 0, .body = big, .body_len = AC_MAX_MSG + 1};

    memset(big, 'b', sizeof(big));
    ck_assert_int_eq(ac_send_code_of(&m), RMQ_RESP_MESSAGE_ILLEGAL);
    m.body_len = AC_MAX_MSG; /* the limit itself is fine */
    ck_assert_int_eq(ac_send_code_of(&m), 0);
}
END_TEST

START_TEST(test_acceptor_send_to_read_only_topic_is_16)
{
    rmqtest_msg m = {
        .topic = "ReadOnlyT", .qid = 0, .body = "x", .body_len = 1};

    ac_create_topic("ReadOnlyT", 2, RMQ_PERM_READ);
    ck_assert_int_eq(ac_send_code_of(&m), RMQ_RESP_NO_PERMISSION);
}
END_TEST

START_TEST(test_acceptor_send_to_queue_out_of_range_is_1)
{
    rmqtest_msg m = {
        .topic = AC_TOPIC, .qid = AC_QUEUES, .body = "x", .body_len = 1};

    ck_assert_int_eq(ac_send_code_of(&m), RMQ_RESP_SYSTEM_ERROR);
    m.qid = AC_QUEUES - 1;
    ck_assert_int_eq(ac_send_code_of(&m), 0);
}
END_TEST

/* One message of a batch body (spec 6.3). */
static size_t
ac_batch_add(uint8_t *out, const char *body, const char *props)
{
    uint32_t blen = (uint32_t)strlen(body);
    uint16_t plen = (uint16_t)strlen(props);
    uint32_t total = 20 + blen + 2 + plen;

    rmq_put_be32(out, total);
    rmq_put_be32(out + 4, 0);  /* magic */
    rmq_put_be32(out + 8, 0);  /* body CRC */
    rmq_put_be32(out + 12, 5); /* flag */
    rmq_put_be32(out + 16, blen);
    memcpy(out + 20, body, blen);
    rmq_put_be16(out + 20 + blen, plen);
    memcpy(out + 22 + blen, props, plen);
    return total;
}

/* The record at the offset of an offset msgId, through VIEW_MESSAGE_BY_ID. */
static void
ac_view(rmq_rpc *r, const char *id, size_t id_len, const char *want_body)
{
    uint8_t         ip[16], ip_len;
    int32_t         port;
    int64_t         off;
    char            offs[24];
    rmq_rcmd_out    o;
    const rmq_rcmd *resp;
    rmq_rec_view    v;

    ck_assert_int_eq(rmq_rec_msgid_decode(id, id_len, ip, &ip_len, &port, &off),
                     0);
    ck_assert_int_eq(ip_len, 4);
    ck_assert_int_eq(port, ac.br.port);
    ck_assert(ip[0] == 127 && ip[1] == 0 && ip[2] == 0 && ip[3] == 1);
    snprintf(offs, sizeof(offs), "%lld", (long long)off);
    rmq_rcmd_out_init(&o, RMQ_REQ_VIEW_MESSAGE_BY_ID, 0, 0);
    rmq_rcmd_out_ext(&o, "offset", offs);
    resp = rmqtest_rpc_call(r, &o, NULL, 0);
    ck_assert_int_eq(resp->code, 0);
    ck_assert_int_eq(rmqtest_records(resp, &v, 1), 1);
    ck_assert_int_eq(v.phys_offset, off);
    ck_assert(ac_body_is(&v, want_body));
}

START_TEST(test_acceptor_batch_stores_each_message_with_its_own_id)
{
    static const char *const bodies[] = {"first", "second one", "third"};
    uint8_t                  batch[512];
    size_t                   n = 0;
    rmqtest_msg              m = {.topic = AC_TOPIC, .qid = 2, .tags = "Hdr"};
    const rmq_rcmd          *resp;
    rmq_rpc                  r;
    char                     ids[256];
    const char              *id;
    rmq_rec_view             v[8];
    rmqtest_pull             p = {.topic = AC_TOPIC, .qid = 2};

    for (int i = 0; i < 3; i++) {
        n += ac_batch_add(batch + n, bodies[i], i == 1 ? "KEYS\001k1\002" : "");
    }
    m.body = batch;
    m.body_len = (uint32_t)n;
    ac_connect(&r);
    resp = rmqtest_send(&r, RMQ_REQ_SEND_BATCH_MESSAGE, &m);
    ck_assert_int_eq(resp->code, 0);
    ck_assert_int_eq(rmqtest_rpc_ext_i64(resp, "queueOffset"), 0);
    rmq_strlcpy(ids, rmqtest_rpc_ext(resp, "msgId"), sizeof(ids));
    ck_assert_uint_eq(strlen(ids), 3 * RMQ_MSGID_V4_LEN + 2);
    id = ids;
    for (int i = 0; i < 3; i++, id += RMQ_MSGID_V4_LEN + 1) {
        ck_assert(i == 2 || id[RMQ_MSGID_V4_LEN] == ',');
        ac_view(&r, id, RMQ_MSGID_V4_LEN, bodies[i]);
    }
    ac_wait_max(&r, AC_TOPIC, 2, 3);
    resp = rmqtest_pull_call(&r, &p);
    ck_assert_int_eq(resp->code, 0);
    ck_assert_int_eq(rmqtest_records(resp, v, 8), 3);
    for (int i = 0; i < 3; i++) {
        ck_assert(ac_body_is(&v[i], bodies[i]));
        ck_assert_int_eq(v[i].queue_offset, i);
        ck_assert_int_eq(v[i].flag, 5);
        ck_assert(ac_prop_is(&v[i], "TAGS", "Hdr")); /* the header's */
        ck_assert(ac_prop_is(&v[i], "CLUSTER", "DefaultCluster"));
        ck_assert_uint_eq(v[i].body_crc,
                          rmq_body_crc(bodies[i], strlen(bodies[i])));
    }
    ck_assert(ac_prop_is(&v[1], "KEYS", "k1"));
    rmq_rpc_close(&r);
}
END_TEST

START_TEST(test_acceptor_send_message_10_stores_what_310_stores)
{
    rmqtest_msg     m = {.topic = AC_TOPIC,
                         .qid = 3,
                         .tags = "TagX",
                         .keys = "key1",
                         .body = "same body",
                         .body_len = 9,
                         .born_ts = 1700000000123,
                         .flag = 42};
    const rmq_rcmd *resp;
    rmq_rpc         r;
    rmq_rec_view    v[2];
    rmqtest_pull    p = {.topic = AC_TOPIC, .qid = 3};
    int64_t         off[2];

    ac_connect(&r);
    for (int i = 0; i < 2; i++) {
        resp = rmqtest_send(
            &r, i == 0 ? RMQ_REQ_SEND_MESSAGE : RMQ_REQ_SEND_MESSAGE_V2, &m);
        ck_assert_int_eq(resp->code, 0);
        ck_assert_uint_eq(strlen(rmqtest_rpc_ext(resp, "msgId")),
                          RMQ_MSGID_V4_LEN);
        ck_assert_int_eq(rmqtest_rpc_ext_i64(resp, "queueId"), 3);
        off[i] = rmqtest_rpc_ext_i64(resp, "queueOffset");
        ck_assert_str_eq(rmqtest_rpc_ext(resp, "MSG_REGION"), "DefaultRegion");
    }
    ck_assert_int_eq(off[0], 0);
    ck_assert_int_eq(off[1], 1);
    ac_wait_max(&r, AC_TOPIC, 3, 2);
    resp = rmqtest_pull_call(&r, &p);
    ck_assert_int_eq(resp->code, 0);
    ck_assert_int_eq(rmqtest_records(resp, v, 2), 2);
    ck_assert_int_eq(v[0].flag, 42);
    ck_assert_int_eq(v[0].born_ts, 1700000000123);
    ck_assert(ac_body_is(&v[0], "same body"));
    ck_assert(ac_prop_is(&v[0], "TAGS", "TagX"));
    ck_assert(ac_prop_is(&v[0], "KEYS", "key1"));
    /* the same record but for where and when it was stored */
    ck_assert_int_eq(v[0].flag, v[1].flag);
    ck_assert_int_eq(v[0].sysflag, v[1].sysflag);
    ck_assert_int_eq(v[0].born_ts, v[1].born_ts);
    ck_assert_int_eq(v[0].queue_id, v[1].queue_id);
    ck_assert_uint_eq(v[0].props_len, v[1].props_len);
    ck_assert(memcmp(v[0].props, v[1].props, v[0].props_len) == 0);
    ck_assert_uint_eq(v[0].total_size, v[1].total_size);
    rmq_rpc_close(&r);
}
END_TEST

START_TEST(test_acceptor_read_only_broker_refuses_sends_with_16)
{
    rmqtest_msg  m = {.topic = AC_TOPIC, .qid = 0, .body = "x", .body_len = 1};
    rmq_rpc      r;
    rmqtest_pull p = {.topic = AC_TOPIC, .qid = 0};

    ck_assert_int_eq(ac_send_code_of(&m), RMQ_RESP_NO_PERMISSION);
    /* reading is still allowed */
    ac_connect(&r);
    ck_assert_int_eq(rmqtest_pull_call(&r, &p)->code, RMQ_RESP_PULL_NOT_FOUND);
    rmq_rpc_close(&r);
}
END_TEST

/* ---- tests: pull --------------------------------------------------------- */

START_TEST(test_acceptor_pull_offset_codes_carry_all_offsets)
{
    rmq_rpc           r;
    rmqtest_pull      p = {.topic = AC_TOPIC, .qid = 1};
    const rmq_rcmd   *resp;
    struct ac_offsets o;
    char              body[16];

    ac_connect(&r);
    /* empty queue: 19 at offset 0, 21 elsewhere; next is 0 */
    resp = rmqtest_pull_call(&r, &p);
    ck_assert_int_eq(resp->code, RMQ_RESP_PULL_NOT_FOUND);
    o = ac_pull_offsets(resp);
    ck_assert(o.next == 0 && o.min == 0 && o.max == 0);
    p.offset = 3;
    resp = rmqtest_pull_call(&r, &p);
    ck_assert_int_eq(resp->code, RMQ_RESP_PULL_OFFSET_MOVED);
    ck_assert_int_eq(ac_pull_offsets(resp).next, 0);
    for (int i = 0; i < 5; i++) {
        snprintf(body, sizeof(body), "m%d", i);
        ac_send_ok(&r, AC_TOPIC, 1, NULL, body);
    }
    ac_wait_max(&r, AC_TOPIC, 1, 5);
    /* too small (below min): 21, next = min */
    p.offset = -1;
    resp = rmqtest_pull_call(&r, &p);
    ck_assert_int_eq(resp->code, RMQ_RESP_PULL_OFFSET_MOVED);
    o = ac_pull_offsets(resp);
    ck_assert(o.next == 0 && o.min == 0 && o.max == 5);
    /* overflow by one (== max): 19, next = offset */
    p.offset = 5;
    resp = rmqtest_pull_call(&r, &p);
    ck_assert_int_eq(resp->code, RMQ_RESP_PULL_NOT_FOUND);
    o = ac_pull_offsets(resp);
    ck_assert(o.next == 5 && o.min == 0 && o.max == 5);
    /* overflow badly (> max): 21, next = max */
    p.offset = 9;
    resp = rmqtest_pull_call(&r, &p);
    ck_assert_int_eq(resp->code, RMQ_RESP_PULL_OFFSET_MOVED);
    o = ac_pull_offsets(resp);
    ck_assert(o.next == 5 && o.min == 0 && o.max == 5);
    /* found: 0, next past what it returns */
    p.offset = 2;
    p.max = 2;
    resp = rmqtest_pull_call(&r, &p);
    ck_assert_int_eq(resp->code, 0);
    o = ac_pull_offsets(resp);
    ck_assert(o.next == 4 && o.min == 0 && o.max == 5);
    rmq_rpc_close(&r);
}
END_TEST

START_TEST(test_acceptor_pull_filters_by_tag_and_skips_the_rest)
{
    static const char *const tags[] = {"TagA", "TagB", "TagA",
                                       "TagC", "TagA", "TagB"};
    rmq_rpc                  r;
    rmqtest_pull             p = {.topic = AC_TOPIC, .qid = 2, .expr = "TagA"};
    const rmq_rcmd          *resp;
    rmq_rec_view             v[8];
    char                     body[16];
    int                      n;

    ac_connect(&r);
    for (int i = 0; i < 6; i++) {
        snprintf(body, sizeof(body), "t%d", i);
        ac_send_ok(&r, AC_TOPIC, 2, tags[i], body);
    }
    ac_wait_max(&r, AC_TOPIC, 2, 6);
    resp = rmqtest_pull_call(&r, &p);
    ck_assert_int_eq(resp->code, 0);
    n = rmqtest_records(resp, v, 8);
    ck_assert_int_eq(n, 3);
    for (int i = 0; i < n; i++) {
        ck_assert(ac_prop_is(&v[i], "TAGS", "TagA"));
        ck_assert_int_eq(v[i].queue_offset, 2 * i);
    }
    /* the trailing TagB was scanned too: the next pull starts past it */
    ck_assert_int_eq(ac_pull_offsets(resp).next, 6);
    /* "TagB || TagC" from offset 2 */
    p.expr = "TagB || TagC";
    p.offset = 2;
    resp = rmqtest_pull_call(&r, &p);
    ck_assert_int_eq(resp->code, 0);
    n = rmqtest_records(resp, v, 8);
    ck_assert_int_eq(n, 2);
    ck_assert(ac_prop_is(&v[0], "TAGS", "TagC"));
    ck_assert(ac_prop_is(&v[1], "TAGS", "TagB"));
    /* nothing matches from offset 4 on: 20, and the next offset moves on */
    p.expr = "TagC";
    p.offset = 4;
    resp = rmqtest_pull_call(&r, &p);
    ck_assert_int_eq(resp->code, RMQ_RESP_PULL_RETRY_IMMEDIATELY);
    ck_assert_int_eq(ac_pull_offsets(resp).next, 6);
    rmq_rpc_close(&r);
}
END_TEST

/*
 * Child process: once the acceptor holds a pull, send one message to
 * topic/qid on a connection of its own.  Exit 0 when it got SEND_OK.
 */
static pid_t
ac_send_once_held(const char *topic, int32_t qid)
{
    pid_t pid = fork();

    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        rmq_rpc         r;
        rmq_rcmd_out    o;
        const rmq_rcmd *resp;
        char            q[16];
        int64_t         deadline = rmq_mono_ms() + 10000;

        while (atomic_load(&ac.ctl.slots[RMQ_ACTOR_ACCEPTOR]
                                .act.s.counters[RMQ_ACC_C_HELD]) == 0) {
            if (rmq_mono_ms() > deadline) {
                _exit(4);
            }
            poll(NULL, 0, 2);
        }
        snprintf(q, sizeof(q), "%d", qid);
        if (rmq_rpc_connect(&r, ac.addr, 5000) != 0) {
            _exit(2);
        }
        rmq_rcmd_out_init(&o, RMQ_REQ_SEND_MESSAGE_V2, 0, 0);
        rmq_rcmd_out_ext(&o, "a", "PG");
        rmq_rcmd_out_ext(&o, "b", topic);
        rmq_rcmd_out_ext(&o, "e", q);
        rmq_rcmd_out_ext(&o, "i", "");
        _exit(rmq_rpc_call(&r, &o, "wake up", 7, &resp) == 0 && resp->code == 0
                  ? 0
                  : 3);
    }
    return pid;
}

START_TEST(test_acceptor_suspended_pull_is_answered_soon_after_a_send)
{
    rmq_rpc      r;
    rmqtest_pull p = {
        .topic = AC_TOPIC, .qid = 3, .suspend = true, .suspend_ms = 20000};
    const rmq_rcmd *resp;
    rmq_rec_view    v;
    int64_t         t0;
    pid_t           child;
    int             status;

    ac_connect(&r);
    r.timeout_ms = 30000;
    child = ac_send_once_held(AC_TOPIC, 3);
    t0 = rmq_mono_ms();
    resp = rmqtest_pull_call(&r, &p);
    ck_assert_int_eq(resp->code, 0);
    ck_assert_msg(rmq_mono_ms() - t0 < rmqtest_scale_ms(3000),
                  "the held pull was answered after %lld ms",
                  (long long)(rmq_mono_ms() - t0));
    ck_assert_int_eq(rmqtest_records(resp, &v, 1), 1);
    ck_assert(ac_body_is(&v, "wake up"));
    ck_assert_int_eq(ac_pull_offsets(resp).next, 1);
    ck_assert_int_eq(waitpid(child, &status, 0), child);
    ck_assert_int_eq(rmqtest_exit_code(status), 0);
    rmq_rpc_close(&r);
}
END_TEST

/* ---- tests: queries ------------------------------------------------------ */

static int64_t
ac_query(rmq_rpc *r, int code, const char *topic, int32_t qid,
         const char *extra_key, const char *extra_val, const char *out_key)
{
    rmq_rcmd_out    o;
    const rmq_rcmd *resp;
    char            q[16];

    snprintf(q, sizeof(q), "%d", qid);
    rmq_rcmd_out_init(&o, code, 0, 0);
    rmq_rcmd_out_ext(&o, "topic", topic);
    rmq_rcmd_out_ext(&o, "queueId", q);
    if (extra_key != NULL) {
        rmq_rcmd_out_ext(&o, extra_key, extra_val);
    }
    resp = rmqtest_rpc_call(r, &o, NULL, 0);
    ck_assert_int_eq(resp->code, 0);
    return rmqtest_rpc_ext_i64(resp, out_key);
}

START_TEST(test_acceptor_max_and_min_offsets_follow_the_queue)
{
    rmq_rpc r;

    ac_connect(&r);
    ck_assert_int_eq(
        ac_query(&r, RMQ_REQ_GET_MAX_OFFSET, AC_TOPIC, 1, 0, 0, "offset"), 0);
    for (int i = 0; i < 3; i++) {
        ac_send_ok(&r, AC_TOPIC, 1, NULL, "x");
    }
    ac_wait_max(&r, AC_TOPIC, 1, 3);
    ck_assert_int_eq(
        ac_query(&r, RMQ_REQ_GET_MAX_OFFSET, AC_TOPIC, 1, 0, 0, "offset"), 3);
    ck_assert_int_eq(
        ac_query(&r, RMQ_REQ_GET_MIN_OFFSET, AC_TOPIC, 1, 0, 0, "offset"), 0);
    ck_assert_int_eq(
        ac_query(&r, RMQ_REQ_GET_MAX_OFFSET, AC_TOPIC, 0, 0, 0, "offset"), 0);
    ck_assert_int_eq(
        ac_query(&r, RMQ_REQ_GET_MAX_OFFSET, "NoSuchTopic", 0, 0, 0, "offset"),
        0);
    rmq_rpc_close(&r);
}
END_TEST

START_TEST(test_acceptor_search_by_time_finds_first_stored_at_or_after)
{
    enum { N = 30 }; /* one pull returns them all (at most 32) */
    rmq_rpc         r;
    rmqtest_pull    p = {.topic = AC_TOPIC, .qid = 0, .max = N};
    const rmq_rcmd *resp;
    rmq_rec_view    v[N];
    int64_t         ts[N];
    char            t[24];

    ac_connect(&r);
    for (int i = 0; i < N; i++) {
        ac_send_ok(&r, AC_TOPIC, 0, NULL, "timed");
    }
    ac_wait_max(&r, AC_TOPIC, 0, N);
    resp = rmqtest_pull_call(&r, &p);
    ck_assert_int_eq(resp->code, 0);
    ck_assert_int_eq(rmqtest_records(resp, v, N), N);
    for (int i = 0; i < N; i++) {
        ts[i] = v[i].store_ts;
    }
    for (int i = 0; i < N; i++) {
        for (int64_t d = 0; d < 2; d++) {
            int64_t want = 0;
            while (want < N && ts[want] < ts[i] + d) {
                want++;
            }
            snprintf(t, sizeof(t), "%lld", (long long)(ts[i] + d));
            ck_assert_int_eq(ac_query(&r, RMQ_REQ_SEARCH_OFFSET_BY_TIMESTAMP,
                                      AC_TOPIC, 0, "timestamp", t, "offset"),
                             want);
        }
    }
    ck_assert_int_eq(ac_query(&r, RMQ_REQ_SEARCH_OFFSET_BY_TIMESTAMP, AC_TOPIC,
                              0, "timestamp", "0", "offset"),
                     0);
    /* the earliest store time is the first message's */
    ck_assert_int_eq(ac_query(&r, RMQ_REQ_GET_EARLIEST_MSG_STORETIME, AC_TOPIC,
                              0, 0, 0, "timestamp"),
                     ts[0]);
    ck_assert_int_eq(ac_query(&r, RMQ_REQ_GET_EARLIEST_MSG_STORETIME, AC_TOPIC,
                              1, 0, 0, "timestamp"),
                     -1);
    rmq_rpc_close(&r);
}
END_TEST

START_TEST(test_acceptor_view_message_by_id_returns_the_record)
{
    rmqtest_msg     m = {.topic = AC_TOPIC,
                         .qid = 2,
                         .body = "viewed",
                         .body_len = 6,
                         .tags = "V"};
    rmq_rpc         r;
    const rmq_rcmd *resp;
    char            id[RMQ_MSGID_CAP];
    rmq_rcmd_out    o;

    ac_connect(&r);
    ac_send_ok(&r, AC_TOPIC, 2, NULL, "before");
    resp = ac_send(&r, &m);
    ck_assert_int_eq(resp->code, 0);
    rmq_strlcpy(id, rmqtest_rpc_ext(resp, "msgId"), sizeof(id));
    ac_view(&r, id, strlen(id), "viewed");
    /* an offset with no record at it */
    rmq_rcmd_out_init(&o, RMQ_REQ_VIEW_MESSAGE_BY_ID, 0, 0);
    rmq_rcmd_out_ext(&o, "offset", "3");
    ck_assert_int_eq(rmqtest_rpc_call(&r, &o, NULL, 0)->code,
                     RMQ_RESP_SYSTEM_ERROR);
    rmq_rpc_close(&r);
}
END_TEST

START_TEST(test_acceptor_runtime_info_is_a_kv_table_with_the_usual_keys)
{
    static const char *const keys[] = {"putTps",
                                       "getTransferedTps",
                                       "msgPutTotalTodayNow",
                                       "msgGetTotalTodayNow",
                                       "commitLogMaxOffset",
                                       "commitLogMinOffset",
                                       "brokerVersion",
                                       "earliestMessageTimeStamp",
                                       "dispatchBehindBytes"};
    rmq_rpc                  r;
    rmq_rcmd_out             o;
    const rmq_rcmd          *resp;
    json_error_t             err;
    json_t                  *doc, *table;
    rmqtest_pull             p = {.topic = AC_TOPIC, .qid = 0};

    ac_connect(&r);
    for (int i = 0; i < 3; i++) {
        ac_send_ok(&r, AC_TOPIC, 0, NULL, "counted");
    }
    ac_wait_max(&r, AC_TOPIC, 0, 3);
    ck_assert_int_eq(rmqtest_pull_call(&r, &p)->code, 0);
    rmq_rcmd_out_init(&o, RMQ_REQ_GET_BROKER_RUNTIME_INFO, 0, 0);
    resp = rmqtest_rpc_call(&r, &o, NULL, 0);
    ck_assert_int_eq(resp->code, 0);
    doc = json_loadb((const char *)resp->body, resp->body_len,
                     JSON_REJECT_DUPLICATES, &err);
    ck_assert_msg(doc != NULL, "runtime info is not JSON: %s", err.text);
    table = json_object_get(doc, "table");
    ck_assert(json_is_object(table));
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        ck_assert_msg(json_is_string(json_object_get(table, keys[i])),
                      "no string %s in the table", keys[i]);
    }
    ck_assert_int_eq(
        atoll(json_string_value(json_object_get(table, "msgPutTotalTodayNow"))),
        3);
    ck_assert_int_eq(
        atoll(json_string_value(json_object_get(table, "msgGetTotalTodayNow"))),
        3);
    /* "x.xx y.yy z.zz": TPS over 10 s, 1 min, 10 min */
    {
        double a, b, c;
        ck_assert_int_eq(
            sscanf(json_string_value(json_object_get(table, "putTps")),
                   "%lf %lf %lf", &a, &b, &c),
            3);
    }
    ck_assert_int_gt(
        atoll(json_string_value(json_object_get(table, "commitLogMaxOffset"))),
        0);
    json_decref(doc);
    rmq_rpc_close(&r);
}
END_TEST

/* ---- tests: crash -------------------------------------------------------- */

#define AC_SENDERS 3
#define AC_PER_SENDER 1500

/*
 * Child: send AC_PER_SENDER messages "c<k>-<i>" to AC_TOPIC, reconnecting
 * whenever the connection breaks; a send that fails is not retried.
 * Writes the numbers that got SEND_OK, then "reconnects N", to out_path.
 */
static void
ac_sender_main(int k, const char *out_path)
{
    FILE   *f = fopen(out_path, "w");
    rmq_rpc r;
    bool    connected = false;
    int     reconnects = 0;
    int64_t deadline = rmq_mono_ms() + 40000;
    char    body[32], q[16];

    if (f == NULL) {
        _exit(2);
    }
    for (int i = 0; i < AC_PER_SENDER; i++) {
        rmq_rcmd_out    o;
        const rmq_rcmd *resp;

        while (!connected) {
            if (rmq_mono_ms() > deadline) {
                _exit(3);
            }
            connected = rmq_rpc_connect(&r, ac.addr, 1000) == 0;
            if (!connected) {
                rmq_rpc_close(&r);
                poll(NULL, 0, 20);
            }
        }
        snprintf(body, sizeof(body), "c%d-%d", k, i);
        snprintf(q, sizeof(q), "%d", i % AC_QUEUES);
        rmq_rcmd_out_init(&o, RMQ_REQ_SEND_MESSAGE_V2, 0, 0);
        rmq_rcmd_out_ext(&o, "a", "PG");
        rmq_rcmd_out_ext(&o, "b", AC_TOPIC);
        rmq_rcmd_out_ext(&o, "e", q);
        rmq_rcmd_out_ext(&o, "i", "");
        if (rmq_rpc_call(&r, &o, body, (uint32_t)strlen(body), &resp) != 0) {
            rmq_rpc_close(&r); /* broken: reconnect, next message */
            connected = false;
            reconnects++;
            continue;
        }
        if (resp->code == 0) {
            fprintf(f, "%d\n", i);
        }
    }
    fprintf(f, "reconnects %d\n", reconnects);
    _exit(fclose(f) == 0 ? 0 : 4);
}

static uint64_t
ac_acceptor_puts(void)
{
    return atomic_load(
        &ac.ctl.slots[RMQ_ACTOR_ACCEPTOR].act.s.counters[RMQ_ACC_C_PUTS]);
}

static bool
ac_some_sent(void *arg)
{
    return ac_acceptor_puts() >= *(uint64_t *)arg;
}

static bool
ac_dispatched_all(void *arg)
{
    (void)arg;
    return atomic_load(&ac.ctl.pos->dispatched) ==
           atomic_load(&ac.ctl.pos->cl_written);
}

/* Every message in AC_TOPIC: seen[k][i] counts "c<k>-<i>". */
static void
ac_consume_all(uint8_t seen[AC_SENDERS][AC_PER_SENDER])
{
    rmq_rpc      r;
    rmq_rec_view v[32];

    ac_connect(&r);
    for (int q = 0; q < AC_QUEUES; q++) {
        rmqtest_pull p = {.topic = AC_TOPIC, .qid = q, .max = 32};
        for (;;) {
            const rmq_rcmd *resp = rmqtest_pull_call(&r, &p);
            int             n;
            if (resp->code == RMQ_RESP_PULL_NOT_FOUND) {
                break;
            }
            ck_assert_int_eq(resp->code, 0);
            n = rmqtest_records(resp, v, 32);
            for (int j = 0; j < n; j++) {
                int  k, i;
                char b[32];
                ck_assert_uint_lt(v[j].body_len, sizeof(b));
                memcpy(b, v[j].body, v[j].body_len);
                b[v[j].body_len] = '\0';
                ck_assert_int_eq(sscanf(b, "c%d-%d", &k, &i), 2);
                ck_assert(k >= 0 && k < AC_SENDERS && i >= 0 &&
                          i < AC_PER_SENDER);
                ck_assert_int_eq(v[j].queue_id, q);
                seen[k][i]++;
            }
            p.offset = ac_pull_offsets(resp).next;
        }
    }
    rmq_rpc_close(&r);
}

START_TEST(test_acceptor_kill_9_while_sending_loses_no_acknowledged_message)
{
    static uint8_t seen[AC_SENDERS][AC_PER_SENDER];
    pid_t          kids[AC_SENDERS];
    char          *out[AC_SENDERS];
    uint64_t       warm = 300;
    int            acked = 0, reconnected = 0;

    for (int k = 0; k < AC_SENDERS; k++) {
        out[k] = rmqtest_strf("%s/sender.%d", ac.br.dir, k);
        kids[k] = fork();
        ck_assert_int_ge(kids[k], 0);
        if (kids[k] == 0) {
            ac_sender_main(k, out[k]);
        }
    }
    ck_assert(rmqtest_wait_until(ac_some_sent, &warm, 10000));
    ck_assert_msg(
        rmqtest_ctl_kill_actor(&ac.ctl, RMQ_ACTOR_ACCEPTOR, AC_READY_MS) != 0,
        "the acceptor did not come back; log:\n%s",
        rmqtest_file_tail(ac.br.log));
    for (int k = 0; k < AC_SENDERS; k++) {
        int status;
        ck_assert_int_eq(waitpid(kids[k], &status, 0), kids[k]);
        ck_assert_msg(rmqtest_exit_code(status) == 0, "sender %d exited %d", k,
                      rmqtest_exit_code(status));
    }
    ck_assert(rmqtest_wait_until(ac_dispatched_all, NULL, 5000));
    memset(seen, 0, sizeof(seen));
    ac_consume_all(seen);
    for (int k = 0; k < AC_SENDERS; k++) {
        FILE *f = fopen(out[k], "r");
        char  line[64];
        int   i, n;
        ck_assert_ptr_nonnull(f);
        while (fgets(line, sizeof(line), f) != NULL) {
            if (sscanf(line, "reconnects %d", &n) == 1) {
                reconnected += n > 0;
            } else if (sscanf(line, "%d", &i) == 1) {
                ck_assert_msg(seen[k][i] == 1, "c%d-%d acknowledged, pulled %u",
                              k, i, seen[k][i]);
                seen[k][i] = 0;
                acked++;
            }
        }
        fclose(f);
        free(out[k]);
    }
    /* unacknowledged sends may have been stored, but once at most */
    for (int k = 0; k < AC_SENDERS; k++) {
        for (int i = 0; i < AC_PER_SENDER; i++) {
            ck_assert_uint_le(seen[k][i], 1);
        }
    }
    ck_assert_int_eq(reconnected, AC_SENDERS);
    ck_assert_int_gt(acked, AC_SENDERS * AC_PER_SENDER / 2);
}
END_TEST

static Suite *
acceptor_suite(void)
{
    Suite *s = suite_create("broker.acceptor");
    TCase *frames = tcase_create("frames");
    TCase *send = tcase_create("send");
    TCase *ro = tcase_create("readonly");
    TCase *pull = tcase_create("pull");
    TCase *query = tcase_create("query");
    TCase *crash = tcase_create("crash");
    TCase *all[] = {frames, send, ro, pull, query, crash};

    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        tcase_set_tags(all[i], "proc");
        tcase_set_timeout(all[i], 60);
        tcase_add_unchecked_fixture(all[i], rmqtest_base_setup,
                                    rmqtest_base_teardown);
        tcase_add_checked_fixture(
            all[i], all[i] == ro ? ac_setup_readonly : ac_setup, ac_teardown);
        suite_add_tcase(s, all[i]);
    }
    tcase_add_test(
        frames, test_acceptor_bad_serialize_type_closes_only_that_connection);
    tcase_add_test(
        frames,
        test_acceptor_header_longer_than_frame_closes_only_that_connection);
    tcase_add_test(frames,
                   test_acceptor_non_json_header_closes_only_that_connection);
    tcase_add_test(frames,
                   test_acceptor_truncated_frame_then_close_harms_nothing);
    tcase_add_test(frames,
                   test_acceptor_frame_over_16_mib_closes_only_that_connection);
    tcase_add_test(frames,
                   test_acceptor_random_garbage_closes_only_that_connection);
    tcase_add_test(frames,
                   test_acceptor_unknown_code_is_request_code_not_supported);
    tcase_add_test(frames, test_acceptor_odd_field_values_leave_it_running);
    tcase_add_test(frames,
                   test_acceptor_pipelined_requests_are_each_answered_once);
    tcase_add_test(send,
                   test_acceptor_send_to_unknown_topic_without_default_is_17);
    tcase_add_test(
        send,
        test_acceptor_send_creates_topic_from_tbw102_and_namesrv_learns_it);
    tcase_add_test(send, test_acceptor_send_to_illegal_topic_name_is_1);
    tcase_add_test(send, test_acceptor_send_to_a_system_topic_is_16);
    tcase_add_test(send, test_acceptor_send_properties_over_32767_bytes_is_13);
    tcase_add_test(send,
                   test_acceptor_malformed_batches_are_13_and_harm_nothing);
    tcase_add_test(send, test_acceptor_send_body_over_max_message_size_is_13);
    tcase_add_test(send, test_acceptor_send_to_read_only_topic_is_16);
    tcase_add_test(send, test_acceptor_send_to_queue_out_of_range_is_1);
    tcase_add_test(send,
                   test_acceptor_batch_stores_each_message_with_its_own_id);
    tcase_add_test(send, test_acceptor_send_message_10_stores_what_310_stores);
    tcase_add_test(ro, test_acceptor_read_only_broker_refuses_sends_with_16);
    tcase_add_test(pull, test_acceptor_pull_offset_codes_carry_all_offsets);
    tcase_add_test(pull, test_acceptor_pull_filters_by_tag_and_skips_the_rest);
    tcase_add_test(pull,
                   test_acceptor_suspended_pull_is_answered_soon_after_a_send);
    tcase_add_test(query, test_acceptor_max_and_min_offsets_follow_the_queue);
    tcase_add_test(query,
                   test_acceptor_search_by_time_finds_first_stored_at_or_after);
    tcase_add_test(query, test_acceptor_view_message_by_id_returns_the_record);
    tcase_add_test(
        query, test_acceptor_runtime_info_is_a_kv_table_with_the_usual_keys);
    tcase_add_test(
        crash,
        test_acceptor_kill_9_while_sending_loses_no_acknowledged_message);
    return s;
}

int
main(void)
{
    rmq_log_init("test");
    return rmqtest_run_suite(acceptor_suite());
}
