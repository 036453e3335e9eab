/*
 * test_rebalancer_actor.c - Check suite "broker.rebalancer_actor" (tag
 * proc): the real rmq-supervisor runs a broker in a temp dir with every
 * actor this build has (clwriter creates the retry topics, the dispatcher
 * fills the queue windows, the acceptor owns the client port and forwards
 * to the rebalancer), and this test is a set of RocketMQ clients over TCP:
 * each client number is one connection to listenPort.  It checks the
 * responses, the NOTIFY_CONSUMER_IDS_CHANGED requests the broker sends,
 * the control segment and the offset file.  Messages are put into the
 * store with broker/putter.h (as the test actor).
 *
 * Processes, ports and temp dirs come from tests/support/rmqtest.h, so a
 * failing test (Check's fork mode) leaves no process or file behind.
 */
#include "broker/putter.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/util.h"
#include "proto/catalog.h"
#include "proto/codes.h"
#include "proto/remoting.h"
#include "shm/control.h"
#include "supervisor/actor.h"
#include "tests/support/rmqtest.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define T_TIMEOUT_MS 5000
#define T_EXPIRE_MS 1000
#define T_CLIENTS 10 /* client numbers 1..9 */

/* ---- the broker under test --------------------------------------------- */

static rmqtest_broker t_b;
static char           t_offsets[1100]; /* consumerOffset.json */

static int64_t
t_now_ms(void)
{
    return rmqtest_now_ms();
}

static int
t_scale(int ms)
{
    return rmqtest_scale_ms(ms);
}

static void
t_write_conf(int expire_ms)
{
    rmqtest_write_file(t_b.conf,
                       "broker = {\n  brokerName = \"broker-t\";\n"
                       "  listenPort = %d;\n"
                       "  namesrvAddr = \"127.0.0.1:%d\";\n"
                       "  storePathRootDir = \"%s/store\";\n"
                       "  channelExpiredTimeout = %d;\n"
                       "  flushConsumerOffsetInterval = 200;\n};\n"
                       "supervisor = {\n  runDir = \"%s\";\n"
                       "  logLevel = \"debug\";\n};\n",
                       t_b.port, t_b.ns_port, t_b.dir, expire_ms, t_b.run_dir);
}

static void
t_start_broker(void)
{
    rmqtest_broker_start(&t_b, rmqtest_env("RMQ_SUPERVISOR_BIN"), NULL);
}

/* SIGTERM the supervisor and reap it; its exit code. */
static int
t_stop_broker(void)
{
    ck_assert_msg(rmqtest_proc_signal_wait(&t_b.sup, SIGTERM, 10000),
                  "the supervisor did not stop");
    return rmqtest_exit_code(t_b.sup.status);
}

/* ---- clients over TCP -------------------------------------------------- */

struct t_client {
    int     fd; /* -1: not connected */
    rmq_buf in;
    int32_t opaque;
};

static struct t_client t_cli[T_CLIENTS];
static rmq_ctl         t_ctl;         /* the broker's control segment */
static rmq_rcmd        t_resp;        /* the last response */
static char            t_body[65536]; /* its body, NUL-terminated */
static char            t_remark[256]; /* its remark, "" when none */

/* NOTIFY_CONSUMER_IDS_CHANGED requests seen, oldest first. */
#define T_NOTES_MAX 64
static struct {
    char group[64];
    int  client;
} t_notes[T_NOTES_MAX];
static int t_nnotes;

static void
t_clients_init(void)
{
    for (int i = 0; i < T_CLIENTS; i++) {
        t_cli[i].fd = -1;
        rmq_buf_init(&t_cli[i].in);
        t_cli[i].opaque = 0;
    }
    rmq_rcmd_init(&t_resp);
    t_nnotes = 0;
}

static void
t_disconnect(int n)
{
    if (t_cli[n].fd >= 0) {
        close(t_cli[n].fd);
    }
    t_cli[n].fd = -1;
    rmq_buf_reset(&t_cli[n].in);
}

static void
t_clients_fini(void)
{
    for (int i = 0; i < T_CLIENTS; i++) {
        t_disconnect(i);
        rmq_buf_free(&t_cli[i].in);
    }
    rmq_rcmd_free(&t_resp);
}

static struct t_client *
t_client(int n)
{
    struct t_client   *c = &t_cli[n];
    struct sockaddr_in a = {.sin_family = AF_INET};

    ck_assert_int_lt(n, T_CLIENTS);
    if (c->fd >= 0) {
        return c;
    }
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)t_b.port);
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(c->fd, 0);
    ck_assert_msg(connect(c->fd, (struct sockaddr *)&a, sizeof(a)) == 0,
                  "cannot connect to port %d: %s", t_b.port, strerror(errno));
    return c;
}

/* Send a request as client n; ext is "key", "value", ..., NULL. */
static int32_t
t_request(int n, int32_t code, bool oneway, const char *body,
          const char *const *ext)
{
    struct t_client *c = t_client(n);
    rmq_rcmd_out     o;
    rmq_buf          b;
    size_t           blen = body != NULL ? strlen(body) : 0;

    rmq_rcmd_out_init(&o, code, ++c->opaque, oneway ? RMQ_RFLAG_ONEWAY : 0);
    o.version = 121; /* as ali-ons */
    for (int i = 0; ext != NULL && ext[i] != NULL; i += 2) {
        rmq_rcmd_out_ext(&o, ext[i], ext[i + 1]);
    }
    rmq_buf_init(&b);
    ck_assert_int_eq(rmq_rcmd_encode(&o, (uint32_t)blen, &b), 0);
    rmq_buf_append(&b, body, blen);
    ck_assert_int_eq(send(c->fd, b.data, b.len, MSG_NOSIGNAL), (ssize_t)b.len);
    rmq_buf_free(&b);
    return o.opaque;
}

static void
t_on_server_request(int n, const rmq_rcmd *cmd)
{
    const char *group = rmq_rcmd_ext(cmd, "consumerGroup");

    ck_assert_int_eq(cmd->code, RMQ_REQ_NOTIFY_CONSUMER_IDS_CHANGED);
    ck_assert(cmd->flag & RMQ_RFLAG_ONEWAY);
    ck_assert_ptr_nonnull(group);
    ck_assert_int_lt(t_nnotes, T_NOTES_MAX);
    snprintf(t_notes[t_nnotes].group, sizeof(t_notes[0].group), "%s", group);
    t_notes[t_nnotes].client = n;
    t_nnotes++;
}

/*
 * Take the complete frames client n has buffered: server requests go to
 * t_notes; a response with opaque `want` of client `want_client` is kept
 * in t_resp (true).
 */
static bool
t_take_frames(int n, int want_client, int32_t want)
{
    struct t_client *c = &t_cli[n];
    size_t           flen;
    bool             got = false;

    while (!got &&
           rmq_frame_peek(c->in.data, c->in.len, RMQ_FRAME_MAX, &flen) == 0) {
        ck_assert_int_eq(rmq_rcmd_decode(c->in.data, flen, &t_resp), 0);
        if ((t_resp.flag & RMQ_RFLAG_RESPONSE) == 0) {
            t_on_server_request(n, &t_resp);
        } else if (n == want_client && t_resp.opaque == want) {
            ck_assert_uint_lt(t_resp.body_len, sizeof(t_body));
            if (t_resp.body_len > 0) { /* body is NULL when empty */
                memcpy(t_body, t_resp.body, t_resp.body_len);
            }
            t_body[t_resp.body_len] = '\0';
            snprintf(t_remark, sizeof(t_remark), "%s",
                     t_resp.remark ? t_resp.remark : "");
            got = true;
        }
        rmq_buf_consume(&c->in, flen);
    }
    return got;
}

static void
t_read_client(int n)
{
    struct t_client *c = &t_cli[n];
    ssize_t          r;

    ck_assert_int_eq(rmq_buf_reserve(&c->in, 65536), 0);
    r = recv(c->fd, c->in.data + c->in.len, c->in.cap - c->in.len, 0);
    ck_assert_msg(r > 0, "client %d: the broker closed the connection", n);
    c->in.len += (size_t)r;
}

/*
 * Read every client's connection until client want_client has the
 * response to opaque want (true) or timeout_ms passes (false).  With
 * want_client 0 it just collects server requests for timeout_ms.
 */
static bool
t_pump_for(int want_client, int32_t want, int timeout_ms)
{
    int64_t end = t_now_ms() + t_scale(timeout_ms);

    for (;;) {
        struct pollfd pf[T_CLIENTS];
        int64_t       left = end - t_now_ms();

        for (int i = 0; i < T_CLIENTS; i++) {
            if (t_cli[i].fd >= 0 && t_take_frames(i, want_client, want)) {
                return true;
            }
            pf[i] = (struct pollfd){.fd = t_cli[i].fd, .events = POLLIN};
        }
        if (left <= 0) {
            return false;
        }
        if (poll(pf, T_CLIENTS, (int)RMQ_MIN(left, 50)) <= 0) {
            continue;
        }
        for (int i = 0; i < T_CLIENTS; i++) {
            if (pf[i].revents != 0) {
                t_read_client(i);
            }
        }
    }
}

/* Send a request as client n and wait for its response code. */
static int32_t
t_call(int n, int32_t code, const char *body, const char *const *ext)
{
    int32_t opaque = t_request(n, code, false, body, ext);

    ck_assert_msg(t_pump_for(n, opaque, T_TIMEOUT_MS), "no response to code %d",
                  code);
    return t_resp.code;
}

static const char *
t_resp_ext(const char *key)
{
    return rmq_rcmd_ext(&t_resp, key);
}

/* Whether every client in ns got a notification for group (waits). */
static bool
t_notified(const char *group, const int *ns, int count)
{
    int64_t end = t_now_ms() + t_scale(T_TIMEOUT_MS);

    for (;;) {
        int hits = 0;
        for (int j = 0; j < count; j++) {
            for (int i = 0; i < t_nnotes; i++) {
                if (t_notes[i].client == ns[j] &&
                    strcmp(t_notes[i].group, group) == 0) {
                    hits++;
                    break;
                }
            }
        }
        if (hits == count) {
            return true;
        }
        if (t_now_ms() >= end) {
            return false;
        }
        t_pump_for(0, 0, 50);
    }
}

/* Whether client n got a notification for group (no waiting). */
static bool
t_has_note(const char *group, int n)
{
    for (int i = 0; i < t_nnotes; i++) {
        if (t_notes[i].client == n && strcmp(t_notes[i].group, group) == 0) {
            return true;
        }
    }
    return false;
}

/* ---- requests ------------------------------------------------------------ */

static const char *
t_heartbeat_body(const char *client_id, const char *group, const char *topic)
{
    static char buf[1024];

    snprintf(buf, sizeof(buf),
             "{\"clientID\":\"%s\",\"consumerDataSet\":[{\"groupName\":\"%s\","
             "\"consumeType\":\"CONSUME_PASSIVELY\",\"messageModel\":"
             "\"CLUSTERING\",\"consumeFromWhere\":\"CONSUME_FROM_LAST_OFFSET\","
             "\"subscriptionDataSet\":[{\"topic\":\"%s\",\"subString\":"
             "\"TagA || TagB\",\"classFilterMode\":false,\"tagsSet\":[\"TagA\","
             "\"TagB\"],\"codeSet\":[2598919,2598920],\"subVersion\":"
             "1700000000000},{\"topic\":\"%%RETRY%%%s\",\"subString\":\"*\","
             "\"classFilterMode\":false,\"tagsSet\":[],\"codeSet\":[],"
             "\"subVersion\":1700000000001}]}],\"producerDataSet\":[{"
             "\"groupName\":\"CLIENT_INNER_PRODUCER\"}]}",
             client_id, group, topic, group);
    return buf;
}

static void
t_heartbeat(int conn, const char *client_id)
{
    ck_assert_int_eq(t_call(conn, RMQ_REQ_HEART_BEAT,
                            t_heartbeat_body(client_id, "G", "T"), NULL),
                     RMQ_RESP_SUCCESS);
}

static int32_t
t_consumer_list(const char *group)
{
    const char *ext[] = {"consumerGroup", group, NULL};

    return t_call(9, RMQ_REQ_GET_CONSUMER_LIST_BY_GROUP, NULL, ext);
}

/*
 * Ask for the consumer list until it is want_body (want_code 0) or fails
 * with want_code: a closed connection reaches the rebalancer on its own
 * path, not ordered with other clients' requests.
 */
static void
t_wait_consumers(const char *group, int32_t want_code, const char *want_body)
{
    int64_t end = t_now_ms() + t_scale(T_TIMEOUT_MS);

    for (;;) {
        int32_t code = t_consumer_list(group);
        if (code == want_code &&
            (want_body == NULL || strcmp(t_body, want_body) == 0)) {
            return;
        }
        ck_assert_msg(t_now_ms() < end, "consumer list of %s: %d %s", group,
                      code, t_body);
        t_pump_for(0, 0, 20);
    }
}

static int32_t
t_query(const char *topic, const char *qid)
{
    const char *ext[] = {"consumerGroup", "G", "topic", topic,
                         "queueId",       qid, NULL};

    return t_call(1, RMQ_REQ_QUERY_CONSUMER_OFFSET, NULL, ext);
}

static void
t_commit(const char *qid, const char *offset, bool force)
{
    const char *ext[] = {"consumerGroup",
                         "G",
                         "topic",
                         "T",
                         "queueId",
                         qid,
                         "commitOffset",
                         offset,
                         force ? "force" : NULL,
                         "true",
                         NULL};

    /* oneway, as ali-ons sends it: no response comes back */
    t_request(1, RMQ_REQ_UPDATE_CONSUMER_OFFSET, true, NULL, ext);
}

/* The offset the broker has for T/qid; committing is oneway, so ask. */
static long long
t_offset_of(const char *qid)
{
    ck_assert_int_eq(t_query("T", qid), RMQ_RESP_SUCCESS);
    ck_assert_ptr_nonnull(t_resp_ext("offset"));
    return atoll(t_resp_ext("offset"));
}

/* ---- fixtures ------------------------------------------------------------ */

/*
 * Attach the control segment of the supervisor we started (a file left by
 * an earlier one may still be there until the new one replaces it).
 */
static void
t_attach(void)
{
    char    path[256];
    int64_t end = t_now_ms() + t_scale(T_TIMEOUT_MS);

    snprintf(path, sizeof(path), "%s/control", t_b.run_dir);
    for (;;) {
        if (rmq_ctl_attach(path, true, &t_ctl) == 0) {
            if (t_ctl.hdr->supervisor_pid == t_b.sup.pid) {
                return;
            }
            rmq_ctl_detach(&t_ctl);
        }
        ck_assert_msg(t_now_ms() < end, "no control segment");
        poll(NULL, 0, 10);
    }
}

static uint32_t
t_actor_state(int id)
{
    return atomic_load(&t_ctl.slots[id].sup.s.state);
}

static bool
t_actor_ready(int id)
{
    rmq_actor_slot *slot = &t_ctl.slots[id];
    int32_t         pid = atomic_load(&slot->sup.s.pid);

    return t_actor_state(id) == RMQ_ASTATE_NONE ||
           (pid != 0 && atomic_load(&slot->act.s.ready_pid) == pid);
}

/* Start the broker and wait until the supervisor says all are READY. */
static void
t_start_and_wait(void)
{
    int64_t end = t_now_ms() + t_scale(T_TIMEOUT_MS);

    t_start_broker();
    t_attach();
    while (atomic_load(&t_ctl.hdr->sup_state) != RMQ_SUP_RUNNING) {
        ck_assert_msg(t_now_ms() < end, "the broker did not get ready");
        poll(NULL, 0, 10);
    }
    for (int id = 0; id < RMQ_ACTOR__COUNT; id++) {
        ck_assert_msg(t_actor_ready(id), "actor %d not ready", id);
    }
}

static void
t_setup_with(int expire_ms)
{
    rmqtest_broker_init(&t_b, "rb");
    snprintf(t_offsets, sizeof(t_offsets),
             "%s/store/config/consumerOffset.json", t_b.dir);
    memset(&t_ctl, 0, sizeof(t_ctl));
    t_nnotes = 0;
    t_write_conf(expire_ms);
    t_start_and_wait();
    t_clients_init();
}

static void
setup(void)
{
    t_setup_with(120000);
}

static void
setup_fast_expiry(void)
{
    t_setup_with(T_EXPIRE_MS);
}

static void
teardown(void)
{
    if (rmqtest_broker_running(&t_b)) {
        t_stop_broker(); /* a clean stop: actors get to save and exit */
    }
    rmq_ctl_detach(&t_ctl);
    t_clients_fini();
    rmqtest_broker_fini(&t_b);
}

/* Cases that need the store actors (clwriter, dispatcher) running. */
#define T_NEED_STORE()                                                         \
    do {                                                                       \
        if (t_actor_state(RMQ_ACTOR_CLWRITER) == RMQ_ASTATE_NONE ||            \
            t_actor_state(RMQ_ACTOR_DISPATCHER) == RMQ_ASTATE_NONE) {          \
            fprintf(stderr, "%s: no store actors in this build\n", __func__);  \
            return;                                                            \
        }                                                                      \
    } while (0)

/* Every case starts with this: the clients need the acceptor. */
#define T_NEED_ACCEPTOR()                                                      \
    do {                                                                       \
        if (t_actor_state(RMQ_ACTOR_ACCEPTOR) == RMQ_ASTATE_NONE) {            \
            fprintf(stderr, "%s: no acceptor in this build\n", __func__);      \
            return;                                                            \
        }                                                                      \
    } while (0)

/* ---- the store ----------------------------------------------------------- */

static rmq_putter t_put;
static int        t_put_done;

static void
t_on_put(void *arg, uint64_t cookie, const rmq_put_res *res)
{
    (void)arg;
    (void)cookie;
    ck_assert_int_eq(res->status, RMQ_PUT_OK);
    t_put_done++;
}

/* Create topic with queues (clwriter) and put n[q] messages into queue q. */
static void
t_store_topic(const char *topic, int queues, const int *n)
{
    int     want = 0;
    int64_t end;

    ck_assert_int_eq(rmq_putter_open(&t_put, t_b.run_dir, RMQ_ACTOR_TESTACTOR,
                                     1 << 20, t_on_put, NULL),
                     0);
    ck_assert_int_eq(
        rmq_putter_topic(&t_put, topic, queues, t_scale(T_TIMEOUT_MS)), 0);
    t_put_done = 0;
    for (int q = 0; q < queues; q++) {
        for (int i = 0; i < n[q]; i++, want++) {
            ck_assert_int_eq(rmq_putter_put(&t_put, topic, q, "tag", NULL,
                                            "body", 4, 0, (uint64_t)want + 1),
                             0);
        }
    }
    end = t_now_ms() + t_scale(T_TIMEOUT_MS);
    while (t_put_done < want) {
        ck_assert_msg(t_now_ms() < end, "puts not answered");
        rmq_putter_poll(&t_put, 50);
    }
    rmq_putter_close(&t_put);
}

/* The dispatcher's window of topic/q (waits until max reaches want). */
static rmq_queue_d *
t_queue(const char *topic, int q, int64_t want_max)
{
    rmq_topic_entry t;
    rmq_queue_d    *d;
    int64_t         end = t_now_ms() + t_scale(T_TIMEOUT_MS);

    ck_assert_int_ge(rmq_ctl_topic_find(&t_ctl, topic, strlen(topic), &t), 0);
    ck_assert_int_lt(q, (int)t.queue_cap);
    d = &t_ctl.qd[t.queue_base + (uint32_t)q];
    while (atomic_load(&d->max_offset) < want_max) {
        ck_assert_msg(t_now_ms() < end, "not dispatched");
        poll(NULL, 0, 10);
    }
    return d;
}

/* The lastTimestamp of queueId q in a ConsumeStats body, or -1. */
static long long
t_stats_last_ts(const char *topic, int q, long long broker_off,
                long long consumer_off)
{
    char        key[256];
    const char *at;

    snprintf(key, sizeof(key),
             "{\"brokerName\":\"broker-t\",\"queueId\":%d,\"topic\":\"%s\"}:"
             "{\"brokerOffset\":%lld,\"consumerOffset\":%lld,"
             "\"lastTimestamp\":",
             q, topic, broker_off, consumer_off);
    at = strstr(t_body, key);
    return at != NULL ? atoll(at + strlen(key)) : -1;
}

static int64_t
t_wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- tests --------------------------------------------------------------- */

START_TEST(test_heartbeat_creates_retry_topic_before_reply)
{
    const int       one[] = {1};
    rmq_topic_entry t;

    T_NEED_ACCEPTOR();
    T_NEED_STORE();
    ck_assert_int_lt(rmq_ctl_topic_find(&t_ctl, "%RETRY%G", 8, &t), 0);
    t_heartbeat(1, "c1@1");
    /* clwriter created it before the heartbeat was answered */
    ck_assert_int_ge(rmq_ctl_topic_find(&t_ctl, "%RETRY%G", 8, &t), 0);
    ck_assert_uint_eq(t.state, RMQ_TOPIC_LIVE);
    ck_assert_int_eq(t.read_queues, 1);
    ck_assert_int_eq(t.write_queues, 1);
    ck_assert_int_eq(t.perm, 6);
    ck_assert(t_notified("G", one, 1));
    ck_assert_int_eq(t_consumer_list("G"), RMQ_RESP_SUCCESS);
    ck_assert_str_eq(t_body, "{\"consumerIdList\":[\"c1@1\"]}");
}
END_TEST

START_TEST(test_heartbeat_reply_waits_at_most_a_second_for_clwriter)
{
    pid_t   clw;
    int64_t start;
    int32_t opaque;
    bool    early;

    T_NEED_ACCEPTOR();
    T_NEED_STORE();
    clw = atomic_load(&t_ctl.slots[RMQ_ACTOR_CLWRITER].sup.s.pid);
    ck_assert_int_gt(clw, 0);
    /* a clwriter that does not answer (SIGKILL still works if we fail) */
    ck_assert_int_eq(kill(clw, SIGSTOP), 0);
    start = t_now_ms();
    opaque = t_request(1, RMQ_REQ_HEART_BEAT, false,
                       t_heartbeat_body("c1@1", "G", "T"), NULL);
    early = t_pump_for(1, opaque, 300);
    if (!early) {
        ck_assert(t_pump_for(1, opaque, T_TIMEOUT_MS));
    }
    kill(clw, SIGCONT);
    ck_assert_msg(!early, "heartbeat answered before the retry topic");
    ck_assert_int_eq(t_resp.code, RMQ_RESP_SUCCESS);
    ck_assert_int_ge(t_now_ms() - start, 900);
    /* registered all the same */
    ck_assert_int_eq(t_consumer_list("G"), RMQ_RESP_SUCCESS);
}
END_TEST

START_TEST(test_second_consumer_notifies_group)
{
    const int both[] = {1, 2};

    T_NEED_ACCEPTOR();
    t_heartbeat(1, "c1@1");
    t_nnotes = 0;
    t_heartbeat(2, "c2@2");
    ck_assert(t_notified("G", both, 2));
    ck_assert_int_eq(t_consumer_list("G"), RMQ_RESP_SUCCESS);
    ck_assert_str_eq(t_body, "{\"consumerIdList\":[\"c1@1\",\"c2@2\"]}");
    /* a repeated heartbeat changes nothing and notifies nobody */
    t_nnotes = 0;
    t_heartbeat(1, "c1@1");
    t_pump_for(0, 0, 300);
    ck_assert_int_eq(t_nnotes, 0);
}
END_TEST

/* Counter i of the rebalancer's slot (requests, groups, clients, ...). */
static uint64_t
t_counter(int i)
{
    return atomic_load(&t_ctl.slots[RMQ_ACTOR_REBALANCER].act.s.counters[i]);
}

START_TEST(test_counters_published)
{
    int64_t end;

    T_NEED_ACCEPTOR();
    t_heartbeat(1, "c1@1");
    t_heartbeat(2, "c2@2");
    /* groups G and CLIENT_INNER_PRODUCER, two connections */
    end = t_now_ms() + t_scale(T_TIMEOUT_MS);
    while (t_counter(1) != 2 || t_counter(2) != 2) {
        ck_assert_msg(t_now_ms() < end, "gauges: groups %llu clients %llu",
                      (unsigned long long)t_counter(1),
                      (unsigned long long)t_counter(2));
        poll(NULL, 0, 20);
    }
    ck_assert_uint_ge(t_counter(0), 2); /* requests */
    ck_assert_uint_ge(t_counter(3), 2); /* notifications */
    ck_assert_str_eq(t_ctl.slots[RMQ_ACTOR_REBALANCER].act.s.counter_names[2],
                     "clients");
}
END_TEST

START_TEST(test_consumer_list_of_unknown_group)
{
    T_NEED_ACCEPTOR();
    ck_assert_int_eq(t_consumer_list("NOBODY"), RMQ_RESP_SYSTEM_ERROR);
    ck_assert_str_eq(t_remark, "no consumer for this group, NOBODY");
}
END_TEST

START_TEST(test_group_and_subscriptions_published_in_shm)
{
    rmq_group_entry g;
    rmq_sub_entry   s;
    int             idx;

    T_NEED_ACCEPTOR();
    t_heartbeat(1, "c1@1");
    idx = rmq_ctl_group_find(&t_ctl, "G", &g);
    ck_assert_int_ge(idx, 0);
    ck_assert_uint_eq(g.state, 1);
    ck_assert(g.consume_enable);
    ck_assert_int_ge(rmq_ctl_group_find(&t_ctl, "TOOLS_CONSUMER", &g), 0);
    ck_assert_int_ge(rmq_ctl_sub_find(&t_ctl, idx, "T", &s), 0);
    ck_assert_str_eq(s.expr, "TagA || TagB");
    ck_assert_int_eq(s.sub_version, 1700000000000LL);
    ck_assert_int_ge(rmq_ctl_sub_find(&t_ctl, idx, "%RETRY%G", &s), 0);
    ck_assert_uint_gt(atomic_load(&t_ctl.pos->groups_gen), 0);
    ck_assert_uint_gt(atomic_load(&t_ctl.pos->subs_gen), 0);
    /* the last consumer leaves: its subscriptions go */
    t_disconnect(1);
    t_wait_consumers("G", RMQ_RESP_SYSTEM_ERROR, NULL);
    ck_assert_int_eq(rmq_ctl_sub_find(&t_ctl, idx, "T", &s), -1);
    ck_assert_int_ge(rmq_ctl_group_find(&t_ctl, "G", &g), 0); /* config stays */
}
END_TEST

START_TEST(test_conn_closed_removes_and_notifies)
{
    const int two[] = {2};

    T_NEED_ACCEPTOR();
    t_heartbeat(1, "c1@1");
    t_heartbeat(2, "c2@2");
    t_nnotes = 0;
    t_disconnect(1);
    t_wait_consumers("G", RMQ_RESP_SUCCESS, "{\"consumerIdList\":[\"c2@2\"]}");
    ck_assert(t_notified("G", two, 1));
}
END_TEST

START_TEST(test_unregister_client_removes_and_notifies)
{
    const int   two[] = {2};
    const char *ext[] = {"clientID", "c1@1",          "consumerGroup",
                         "G",        "producerGroup", "CLIENT_INNER_PRODUCER",
                         NULL};

    T_NEED_ACCEPTOR();
    t_heartbeat(1, "c1@1");
    t_heartbeat(2, "c2@2");
    t_nnotes = 0;
    ck_assert_int_eq(t_call(1, RMQ_REQ_UNREGISTER_CLIENT, NULL, ext),
                     RMQ_RESP_SUCCESS);
    ck_assert(t_notified("G", two, 1));
    ck_assert_int_eq(t_consumer_list("G"), RMQ_RESP_SUCCESS);
    ck_assert_str_eq(t_body, "{\"consumerIdList\":[\"c2@2\"]}");
}
END_TEST

START_TEST(test_offsets_query_update_never_backwards)
{
    T_NEED_ACCEPTOR();
    ck_assert_int_eq(t_query("T", "0"), RMQ_RESP_SUCCESS);
    ck_assert_str_eq(t_resp_ext("offset"), "0"); /* unknown queue: young */
    t_commit("0", "100", false);
    ck_assert_int_eq(t_offset_of("0"), 100);
    t_commit("0", "50", false); /* stale: ignored */
    ck_assert_int_eq(t_offset_of("0"), 100);
    t_commit("0", "150", false);
    ck_assert_int_eq(t_offset_of("0"), 150);
    t_commit("0", "20", true); /* admin reset */
    ck_assert_int_eq(t_offset_of("0"), 20);
}
END_TEST

START_TEST(test_offset_query_against_queue_windows)
{
    const int   n[2] = {3, 0};
    const char *nozero[] = {
        "consumerGroup",     "G",     "topic", "TQ", "queueId", "0",
        "setZeroIfNotFound", "false", NULL};
    rmq_queue_d *q1;

    T_NEED_ACCEPTOR();
    T_NEED_STORE();
    t_store_topic("TQ", 2, n);
    t_queue("TQ", 0, 3);
    /* a young queue (min 0) is read from its start */
    ck_assert_int_eq(t_query("TQ", "0"), RMQ_RESP_SUCCESS);
    ck_assert_str_eq(t_resp_ext("offset"), "0");
    /* unless the client asks not to (5.x setZeroIfNotFound=false) */
    ck_assert_int_eq(t_call(1, RMQ_REQ_QUERY_CONSUMER_OFFSET, NULL, nozero),
                     RMQ_RESP_QUERY_NOT_FOUND);
    /* play the dispatcher after old files of idle queue 1 were deleted */
    q1 = t_queue("TQ", 1, 0);
    atomic_store(&q1->max_offset, 10);
    atomic_store(&q1->min_offset, 5);
    ck_assert_int_eq(t_query("TQ", "1"), RMQ_RESP_QUERY_NOT_FOUND);
    ck_assert_str_eq(t_remark,
                     "Not found, V3_0_6_SNAPSHOT maybe this group consumer "
                     "boot first");
}
END_TEST

START_TEST(test_offset_commit_without_fields_fails)
{
    const char *ext[] = {"consumerGroup", "G", "topic", "T", NULL};

    T_NEED_ACCEPTOR();
    ck_assert_int_eq(t_call(1, RMQ_REQ_UPDATE_CONSUMER_OFFSET, NULL, ext),
                     RMQ_RESP_SYSTEM_ERROR);
    ck_assert_str_eq(t_remark, "the custom field <queueId> is null");
}
END_TEST

START_TEST(test_consume_stats_and_all_offsets)
{
    const int   n[3] = {3, 2, 0};
    const char *all[] = {"consumerGroup", "G", NULL};
    const char *one[] = {"consumerGroup", "G", "topic", "TQ", NULL};
    const char *c0[] = {"consumerGroup", "G", "topic", "TQ", "queueId", "0",
                        "commitOffset",  "2", NULL};
    const char *c1[] = {"consumerGroup", "G", "topic", "TQ", "queueId", "1",
                        "commitOffset",  "2", NULL};
    int64_t     t0, t1;
    long long   ts;

    T_NEED_ACCEPTOR();
    T_NEED_STORE();
    t0 = t_wall_ms();
    t_store_topic("TQ", 3, n);
    t1 = t_wall_ms();
    t_queue("TQ", 0, 3);
    t_queue("TQ", 1, 2);
    t_request(1, RMQ_REQ_UPDATE_CONSUMER_OFFSET, true, NULL, c0);
    t_request(1, RMQ_REQ_UPDATE_CONSUMER_OFFSET, true, NULL, c1);
    ck_assert_int_eq(t_call(1, RMQ_REQ_GET_CONSUME_STATS, NULL, one),
                     RMQ_RESP_SUCCESS);
    ck_assert_ptr_nonnull(
        strstr(t_body, "{\"consumeTps\":0.0,\"offsetTable\":{"));
    /* queue 0: behind, read from the consume queue and the commit log */
    ts = t_stats_last_ts("TQ", 0, 3, 2);
    ck_assert_int_ge(ts, t0);
    ck_assert_int_le(ts, t1);
    /* queue 1: caught up, the dispatcher's newest store time */
    ts = t_stats_last_ts("TQ", 1, 2, 2);
    ck_assert_int_ge(ts, t0);
    ck_assert_int_le(ts, t1);
    ck_assert_int_eq(t_stats_last_ts("TQ", 2, 0, 0), 0);
    /* no topic: every topic the group has offsets for */
    ck_assert_int_eq(t_call(1, RMQ_REQ_GET_CONSUME_STATS, NULL, all),
                     RMQ_RESP_SUCCESS);
    ck_assert_int_eq(t_stats_last_ts("TQ", 2, 0, 0), 0);
    ck_assert_int_eq(t_call(1, RMQ_REQ_GET_ALL_CONSUMER_OFFSET, NULL, NULL),
                     RMQ_RESP_SUCCESS);
    ck_assert_str_eq(t_body, "{\"offsetTable\":{\n\t\"TQ@G\":{0:2,1:2}\n}}\n");
}
END_TEST

START_TEST(test_locks_exclusive_and_unlock)
{
    const char *a01 = "{\"consumerGroup\":\"G\",\"clientId\":\"a\",\"mqSet\":["
                      "{\"topic\":\"T\",\"brokerName\":\"broker-t\","
                      "\"queueId\":0},{\"topic\":\"T\",\"brokerName\":"
                      "\"broker-t\",\"queueId\":1}]}";
    const char *b12 = "{\"consumerGroup\":\"G\",\"clientId\":\"b\",\"mqSet\":["
                      "{\"topic\":\"T\",\"brokerName\":\"broker-t\","
                      "\"queueId\":1},{\"topic\":\"T\",\"brokerName\":"
                      "\"broker-t\",\"queueId\":2}]}";
    const char *a1 = "{\"consumerGroup\":\"G\",\"clientId\":\"a\",\"mqSet\":["
                     "{\"topic\":\"T\",\"brokerName\":\"broker-t\","
                     "\"queueId\":1}]}";

    T_NEED_ACCEPTOR();
    ck_assert_int_eq(t_call(1, RMQ_REQ_LOCK_BATCH_MQ, a01, NULL), 0);
    ck_assert_str_eq(t_body, "{\"lockOKMQSet\":[{\"brokerName\":\"broker-t\","
                             "\"queueId\":0,\"topic\":\"T\"},{\"brokerName\":"
                             "\"broker-t\",\"queueId\":1,\"topic\":\"T\"}]}");
    ck_assert_int_eq(t_call(2, RMQ_REQ_LOCK_BATCH_MQ, b12, NULL), 0);
    ck_assert_str_eq(t_body, "{\"lockOKMQSet\":[{\"brokerName\":\"broker-t\","
                             "\"queueId\":2,\"topic\":\"T\"}]}");
    ck_assert_int_eq(t_call(1, RMQ_REQ_UNLOCK_BATCH_MQ, a1, NULL), 0);
    ck_assert_int_eq(t_call(2, RMQ_REQ_LOCK_BATCH_MQ, b12, NULL), 0);
    ck_assert_str_eq(t_body, "{\"lockOKMQSet\":[{\"brokerName\":\"broker-t\","
                             "\"queueId\":1,\"topic\":\"T\"},{\"brokerName\":"
                             "\"broker-t\",\"queueId\":2,\"topic\":\"T\"}]}");
}
END_TEST

START_TEST(test_subscription_group_admin)
{
    const char     *cfg = "{\"groupName\":\"GA\",\"consumeEnable\":false,"
                          "\"retryMaxTimes\":3}";
    const char     *del[] = {"groupName", "GA", NULL};
    rmq_group_entry g;

    T_NEED_ACCEPTOR();
    ck_assert_int_eq(
        t_call(1, RMQ_REQ_UPDATE_AND_CREATE_SUBSCRIPTIONGROUP, cfg, NULL), 0);
    ck_assert_int_eq(
        t_call(1, RMQ_REQ_GET_ALL_SUBSCRIPTIONGROUP_CONFIG, NULL, NULL), 0);
    ck_assert_ptr_nonnull(strstr(t_body, "\"GA\":{"));
    ck_assert_ptr_nonnull(strstr(t_body, "\"retryMaxTimes\":3"));
    ck_assert_int_ge(rmq_ctl_group_find(&t_ctl, "GA", &g), 0);
    ck_assert(!g.consume_enable);
    ck_assert_int_eq(t_call(1, RMQ_REQ_DELETE_SUBSCRIPTIONGROUP, NULL, del), 0);
    ck_assert_int_ge(rmq_ctl_group_find(&t_ctl, "GA", &g), 0);
    ck_assert_uint_eq(g.state, 2);
}
END_TEST

START_TEST(test_consumer_connection_list)
{
    const char        *ext[] = {"consumerGroup", "G", NULL};
    const char        *none[] = {"consumerGroup", "NOBODY", NULL};
    json_t            *doc, *conn;
    struct sockaddr_in local;
    socklen_t          len = sizeof(local);
    char               addr[64];

    T_NEED_ACCEPTOR();
    t_heartbeat(1, "c1@1");
    ck_assert_int_eq(t_call(1, RMQ_REQ_GET_CONSUMER_CONNECTION_LIST, NULL, ext),
                     0);
    ck_assert_int_eq(getsockname(t_cli[1].fd, (struct sockaddr *)&local, &len),
                     0);
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", ntohs(local.sin_port));
    doc = json_loads(t_body, 0, NULL);
    ck_assert_ptr_nonnull(doc);
    conn = json_array_get(json_object_get(doc, "connectionSet"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(conn, "clientAddr")),
                     addr);
    ck_assert_str_eq(json_string_value(json_object_get(conn, "clientId")),
                     "c1@1");
    ck_assert_str_eq(json_string_value(json_object_get(conn, "language")),
                     "JAVA");
    ck_assert_int_eq(json_integer_value(json_object_get(conn, "version")), 121);
    ck_assert_str_eq(
        json_string_value(json_object_get(
            json_object_get(json_object_get(doc, "subscriptionTable"), "T"),
            "subString")),
        "TagA || TagB");
    json_decref(doc);
    ck_assert_int_eq(
        t_call(1, RMQ_REQ_GET_CONSUMER_CONNECTION_LIST, NULL, none),
        RMQ_RESP_CONSUMER_NOT_ONLINE);
}
END_TEST

START_TEST(test_sigterm_saves_offsets_and_restart_loads_them)
{
    char *text;

    T_NEED_ACCEPTOR();
    t_commit("3", "77", false);
    ck_assert_int_eq(t_offset_of("3"), 77); /* the commit was processed */
    t_commit("0", "5", false);
    ck_assert_int_eq(t_offset_of("0"), 5);
    ck_assert_int_eq(t_stop_broker(), 0);
    text = rmqtest_read_file(t_offsets, NULL);
    ck_assert_ptr_nonnull(text);
    ck_assert_str_eq(text, "{\"offsetTable\":{\n\t\"T@G\":{0:5,3:77}\n}}\n");
    free(text);
    rmq_ctl_detach(&t_ctl);
    for (int i = 0; i < T_CLIENTS; i++) {
        t_disconnect(i); /* the old broker closed them */
    }
    t_start_and_wait(); /* a new supervisor, a new control segment */
    ck_assert_int_eq(t_offset_of("3"), 77);
    ck_assert_int_eq(t_offset_of("0"), 5);
}
END_TEST

START_TEST(test_silent_client_expires)
{
    int64_t end;

    T_NEED_ACCEPTOR();
    t_heartbeat(1, "c1@1");
    t_heartbeat(2, "c2@2");
    t_nnotes = 0;
    /* keep client 2 alive; client 1 goes silent */
    end = t_now_ms() + t_scale(5000);
    while (!t_has_note("G", 2)) {
        ck_assert_msg(t_now_ms() < end, "client 1 did not expire");
        t_heartbeat(2, "c2@2");
        t_pump_for(0, 0, 200);
    }
    ck_assert(!t_has_note("G", 1));
    ck_assert_int_eq(t_consumer_list("G"), RMQ_RESP_SUCCESS);
    ck_assert_str_eq(t_body, "{\"consumerIdList\":[\"c2@2\"]}");
}
END_TEST

static Suite *
rebalancer_actor_suite(void)
{
    Suite *s = suite_create("broker.rebalancer_actor");
    TCase *tc;

    tc = tcase_create("proc");
    tcase_set_tags(tc, "proc");
    tcase_add_unchecked_fixture(tc, rmqtest_base_setup, rmqtest_base_teardown);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_heartbeat_creates_retry_topic_before_reply);
    tcase_add_test(tc,
                   test_heartbeat_reply_waits_at_most_a_second_for_clwriter);
    tcase_add_test(tc, test_second_consumer_notifies_group);
    tcase_add_test(tc, test_counters_published);
    tcase_add_test(tc, test_consumer_list_of_unknown_group);
    tcase_add_test(tc, test_group_and_subscriptions_published_in_shm);
    tcase_add_test(tc, test_conn_closed_removes_and_notifies);
    tcase_add_test(tc, test_unregister_client_removes_and_notifies);
    tcase_add_test(tc, test_offsets_query_update_never_backwards);
    tcase_add_test(tc, test_offset_query_against_queue_windows);
    tcase_add_test(tc, test_offset_commit_without_fields_fails);
    tcase_add_test(tc, test_consume_stats_and_all_offsets);
    tcase_add_test(tc, test_locks_exclusive_and_unlock);
    tcase_add_test(tc, test_subscription_group_admin);
    tcase_add_test(tc, test_consumer_connection_list);
    tcase_add_test(tc, test_sigterm_saves_offsets_and_restart_loads_them);
    suite_add_tcase(s, tc);

    tc = tcase_create("expiry");
    tcase_set_tags(tc, "proc");
    tcase_add_unchecked_fixture(tc, rmqtest_base_setup, rmqtest_base_teardown);
    tcase_add_checked_fixture(tc, setup_fast_expiry, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_silent_client_expires);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return rmqtest_run_suite(rebalancer_actor_suite());
}
