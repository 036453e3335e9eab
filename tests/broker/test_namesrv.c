/*
 * test_namesrv.c - broker.namesrv (tag proc): the name server actor of a
 * real rmq-supervisor, spoken to over TCP with net/rpc.h.
 *
 * Most tests run a name-server-only supervisor (a config with just the
 * `namesrv` and `supervisor` groups, brokerChannelExpiredTime = 2000) and
 * play brokers themselves: REGISTER_BROKER with a RegisterBrokerBody,
 * UNREGISTER_BROKER, then the client queries.  Route bodies are parsed
 * with jansson (JSON_REJECT_DUPLICATES, so bare keys fail too) and
 * checked against what ali-ons and the Go client need: both arrays,
 * compact text, quoted numeric brokerAddrs keys that Go's string
 * splitting turns into clean addresses.  Only a master's new data
 * version replaces its topics; bad registrations (CRC mismatch, bodies
 * that are neither JSON nor zlib, missing fields) are refused with 1 and
 * change nothing; garbage closes only its connection; 400 random
 * registrations, unregistrations and deletions leave the routes a model
 * predicts (brokers, addresses).  A broker silent past the expiry is
 * dropped, as are the brokers of a connection that closes.  The last
 * test runs two name-server-only supervisors and a broker-only one whose
 * namesrvAddr names both: it registers with each, and again at once when
 * a topic is created (registerNameServerPeriod is 60 s, so only the
 * change can explain it).
 */
#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "net/rpc.h"
#include "proto/codes.h"
#include "shm/control.h"
#include "supervisor/actor.h"
#include "tests/support/rmqrpc.h"
#include "tests/support/rmqtest.h"

#include <check.h>
#include <ctype.h>
#include <dirent.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NS_READY_MS 20000
#define NS_RPC_MS 5000
#define NS_EXPIRE_MS 2000 /* brokerChannelExpiredTime in the test config */

static struct {
    rmqtest_broker ns; /* the name-server-only supervisor */
    char           addr[64];
    rmq_ctl        ctl;
    bool           ctl_open;
} nt;

/* ---- supervisors --------------------------------------------------------- */

static void
nt_write_ns_conf(rmqtest_broker *b)
{
    rmqtest_write_file(b->conf,
                       "namesrv = {\n"
                       "    listenPort = %d;\n"
                       "    brokerChannelExpiredTime = %d;\n"
                       "};\n"
                       "supervisor = { runDir = \"%s\"; };\n",
                       b->ns_port, NS_EXPIRE_MS, b->run_dir);
}

/* Start b and wait until every actor of it is READY; ctl stays attached. */
static void
nt_start(rmqtest_broker *b, rmq_ctl *ctl)
{
    rmqtest_broker_start(b, rmqtest_env("RMQ_SUPERVISOR_BIN"), NULL);
    ck_assert_msg(
        rmqtest_ctl_wait_ready(b->run_dir, b->sup.pid, NS_READY_MS, ctl),
        "supervisor not ready; log:\n%s", rmqtest_file_tail(b->log));
}

/* Orderly stop of a supervisor that is still running. */
static void
nt_stop(rmqtest_broker *b)
{
    if (!rmqtest_broker_running(b)) {
        return;
    }
    ck_assert_msg(rmqtest_proc_signal_wait(&b->sup, SIGTERM, 20000),
                  "supervisor did not stop; log:\n%s",
                  rmqtest_file_tail(b->log));
    ck_assert_int_eq(rmqtest_exit_code(b->sup.status), 0);
    rmqtest_assert_no_sanitizer_report(b->log);
}

static void
nt_setup(void)
{
    memset(&nt, 0, sizeof(nt));
    rmqtest_broker_init(&nt.ns, "ns");
    snprintf(nt.addr, sizeof(nt.addr), "127.0.0.1:%d", nt.ns.ns_port);
    nt_write_ns_conf(&nt.ns);
    nt_start(&nt.ns, &nt.ctl);
    nt.ctl_open = true;
}

static void
nt_teardown(void)
{
    if (nt.ctl_open) {
        rmq_ctl_detach(&nt.ctl);
    }
    nt_stop(&nt.ns);
    rmqtest_broker_fini(&nt.ns);
}

/* ---- requests ------------------------------------------------------------ */

static void
nt_connect(rmq_rpc *r, const char *addr)
{
    rmqtest_rpc_connect(r, addr, NS_RPC_MS);
}

/* A broker as the test plays it. */
struct nt_broker {
    const char *cluster;
    const char *name;
    const char *addr;
    int64_t     id;
    const char *topics[4]; /* NULL-terminated; 4 queues each */
    int64_t     version;   /* dataVersion counter */
};

/* The RegisterBrokerBody (uncompressed) of b. */
static char *
nt_register_body(const struct nt_broker *b)
{
    json_t *table = json_object();
    json_t *doc;
    char   *text;

    for (int i = 0; i < 4 && b->topics[i] != NULL; i++) {
        json_object_set_new(table, b->topics[i],
                            json_pack("{s:b, s:i, s:i, s:s, s:s, s:i, s:i}",
                                      "order", 0, "perm", 6, "readQueueNums", 4,
                                      "topicFilterType", "SINGLE_TAG",
                                      "topicName", b->topics[i], "topicSysFlag",
                                      0, "writeQueueNums", 4));
    }
    doc = json_pack("{s:[], s:{s:{s:I, s:I}, s:o}}", "filterServerList",
                    "topicConfigSerializeWrapper", "dataVersion", "counter",
                    (json_int_t)b->version, "timestamp",
                    (json_int_t)1700000000000, "topicConfigTable", table);
    ck_assert_ptr_nonnull(doc);
    text = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    ck_assert_ptr_nonnull(text);
    return text;
}

static const rmq_rcmd *
nt_register(rmq_rpc *r, const struct nt_broker *b)
{
    char           *body = nt_register_body(b);
    char            id[24], ha[64], crc[24];
    rmq_rcmd_out    o;
    const rmq_rcmd *resp;

    snprintf(id, sizeof(id), "%lld", (long long)b->id);
    snprintf(ha, sizeof(ha), "%s-ha", b->addr);
    snprintf(crc, sizeof(crc), "%u", rmq_body_crc(body, strlen(body)));
    rmq_rcmd_out_init(&o, RMQ_REQ_REGISTER_BROKER, 0, 0);
    rmq_rcmd_out_ext(&o, "brokerName", b->name);
    rmq_rcmd_out_ext(&o, "brokerAddr", b->addr);
    rmq_rcmd_out_ext(&o, "clusterName", b->cluster);
    rmq_rcmd_out_ext(&o, "haServerAddr", ha);
    rmq_rcmd_out_ext(&o, "brokerId", id);
    rmq_rcmd_out_ext(&o, "compressed", "false");
    rmq_rcmd_out_ext(&o, "bodyCrc32", crc);
    resp = rmqtest_rpc_call(r, &o, body, (uint32_t)strlen(body));
    free(body);
    return resp;
}

static void
nt_register_ok(rmq_rpc *r, const struct nt_broker *b)
{
    const rmq_rcmd *resp = nt_register(r, b);

    ck_assert_msg(resp->code == 0, "register %s: %d %s", b->addr, resp->code,
                  resp->remark ? resp->remark : "");
}

/* The route body of topic (code 0 expected), parsed strictly. */
static json_t *
nt_route(rmq_rpc *r, const char *topic)
{
    const rmq_rcmd *resp =
        rmqtest_rpc_simple(r, RMQ_REQ_GET_ROUTEINFO_BY_TOPIC, "topic", topic);
    json_error_t err;
    json_t      *doc;

    ck_assert_msg(resp->code == 0, "route of %s: %d %s", topic, resp->code,
                  resp->remark ? resp->remark : "");
    doc = json_loadb((const char *)resp->body, resp->body_len,
                     JSON_REJECT_DUPLICATES, &err);
    ck_assert_msg(doc != NULL, "route of %s is not strict JSON: %s: %.*s",
                  topic, err.text, (int)resp->body_len,
                  (const char *)resp->body);
    return doc;
}

static int
nt_route_code(const char *addr, const char *topic)
{
    rmq_rpc r;
    int     code;

    nt_connect(&r, addr);
    code =
        rmqtest_rpc_simple(&r, RMQ_REQ_GET_ROUTEINFO_BY_TOPIC, "topic", topic)
            ->code;
    rmq_rpc_close(&r);
    return code;
}

/* JSON text without whitespace outside strings (Go splits the raw text). */
static bool
nt_is_compact(const uint8_t *p, size_t n)
{
    bool in_str = false;

    for (size_t i = 0; i < n; i++) {
        if (in_str) {
            if (p[i] == '\\') {
                i++;
            } else if (p[i] == '"') {
                in_str = false;
            }
        } else if (p[i] == '"') {
            in_str = true;
        } else if (isspace(p[i])) {
            return false;
        }
    }
    return true;
}

/*
 * What the Go client does with a route body: take the text of each
 * brokerAddrs object, strip the braces, split on ',' and on the first
 * ':', drop the quotes.  Checks every pair gives a digit-only id and an
 * address listed in want (id -> address pairs "0=addr").
 */
static void
nt_go_split_addrs(const uint8_t *body, size_t len, const char *const want[],
                  int nwant)
{
    static const char key[] = "\"brokerAddrs\":{";
    char             *text = strndup((const char *)body, len);
    char             *p = text;
    int               found = 0;

    while ((p = strstr(p, key)) != NULL) {
        char *end, *save = NULL, *pair;

        p += strlen(key);
        end = strchr(p, '}');
        ck_assert_ptr_nonnull(end);
        *end = '\0';
        for (pair = strtok_r(p, ",", &save); pair != NULL;
             pair = strtok_r(NULL, ",", &save)) {
            char  id[32], addr[128], got[170];
            char *colon = strchr(pair, ':');
            int   ni = 0, na = 0;
            bool  listed = false;

            ck_assert_ptr_nonnull(colon);
            for (char *c = pair; c < colon; c++) {
                if (*c != '"') {
                    id[ni++] = *c;
                }
            }
            id[ni] = '\0';
            for (char *c = colon + 1; *c != '\0'; c++) {
                if (*c != '"') {
                    addr[na++] = *c;
                }
            }
            addr[na] = '\0';
            ck_assert_msg(ni > 0 && strspn(id, "0123456789") == (size_t)ni,
                          "brokerAddrs key \"%s\"", id);
            ck_assert_msg(pair[0] == '"', "brokerAddrs key %s not quoted", id);
            snprintf(got, sizeof(got), "%s=%s", id, addr);
            for (int i = 0; i < nwant; i++) {
                listed = listed || strcmp(got, want[i]) == 0;
            }
            ck_assert_msg(listed, "Go would read brokerAddrs %s", got);
            found++;
        }
        p = end + 1;
    }
    ck_assert_int_eq(found, nwant);
    free(text);
}

/* ---- tests: registration and routes -------------------------------------- */

static const struct nt_broker nt_a = {
    "ClusterX", "broker-a", "127.0.0.1:10911", 0, {"TopicA", "Shared", NULL},
    1};
static const struct nt_broker nt_a1 = {
    "ClusterX", "broker-a", "127.0.0.2:10911", 1, {"TopicA", "Shared", NULL},
    1};
static const struct nt_broker nt_b = {
    "ClusterX", "broker-b", "127.0.0.3:10911", 0, {"Shared", NULL}, 1};

START_TEST(test_namesrv_route_json_is_what_ali_ons_and_go_parse)
{
    static const char *const want[] = {"0=127.0.0.1:10911", "1=127.0.0.2:10911",
                                       "0=127.0.0.3:10911"};
    rmq_rpc                  r;
    const rmq_rcmd          *resp;
    json_t                  *doc, *qds, *bds;
    size_t                   i;
    json_t                  *v;

    nt_connect(&r, nt.addr);
    nt_register_ok(&r, &nt_a);
    nt_register_ok(&r, &nt_a1);
    nt_register_ok(&r, &nt_b);
    resp = rmqtest_rpc_simple(&r, RMQ_REQ_GET_ROUTEINFO_BY_TOPIC, "topic",
                              "Shared");
    ck_assert_int_eq(resp->code, 0);
    ck_assert_msg(nt_is_compact(resp->body, resp->body_len),
                  "route JSON has whitespace: %.*s", (int)resp->body_len,
                  (const char *)resp->body);
    ck_assert(memmem(resp->body, resp->body_len, "orderTopicConf", 14) == NULL);
    nt_go_split_addrs(resp->body, resp->body_len, want, 3);
    doc = nt_route(&r, "Shared");
    qds = json_object_get(doc, "queueDatas");
    bds = json_object_get(doc, "brokerDatas");
    ck_assert(json_is_array(qds) && json_array_size(qds) == 2);
    ck_assert(json_is_array(bds) && json_array_size(bds) == 2);
    ck_assert(json_is_object(json_object_get(doc, "filterServerTable")));
    json_array_foreach(qds, i, v)
    {
        ck_assert(json_is_string(json_object_get(v, "brokerName")));
        ck_assert_int_eq(json_integer_value(json_object_get(v, "perm")), 6);
        ck_assert_int_eq(
            json_integer_value(json_object_get(v, "readQueueNums")), 4);
        ck_assert_int_eq(
            json_integer_value(json_object_get(v, "writeQueueNums")), 4);
        ck_assert(json_is_integer(json_object_get(v, "topicSysFlag")));
    }
    json_array_foreach(bds, i, v)
    {
        json_t     *addrs = json_object_get(v, "brokerAddrs");
        const char *name = json_string_value(json_object_get(v, "brokerName"));
        ck_assert_str_eq(json_string_value(json_object_get(v, "cluster")),
                         "ClusterX");
        ck_assert(json_is_object(addrs));
        ck_assert_ptr_nonnull(name);
        if (strcmp(name, "broker-a") == 0) {
            ck_assert_int_eq(json_object_size(addrs), 2);
            ck_assert_str_eq(json_string_value(json_object_get(addrs, "1")),
                             "127.0.0.2:10911");
        } else {
            ck_assert_str_eq(name, "broker-b");
            ck_assert_int_eq(json_object_size(addrs), 1);
        }
        ck_assert(json_is_string(json_object_get(addrs, "0")));
    }
    json_decref(doc);
    /* a topic of one broker: its arrays are there too, with one entry */
    doc = nt_route(&r, "TopicA");
    ck_assert_int_eq(json_array_size(json_object_get(doc, "queueDatas")), 1);
    ck_assert_int_eq(json_array_size(json_object_get(doc, "brokerDatas")), 1);
    json_decref(doc);
    rmq_rpc_close(&r);
}
END_TEST

START_TEST(test_namesrv_unknown_topic_is_17_with_the_java_remark)
{
    rmq_rpc         r;
    const rmq_rcmd *resp;

    nt_connect(&r, nt.addr);
    nt_register_ok(&r, &nt_a);
    resp = rmqtest_rpc_simple(&r, RMQ_REQ_GET_ROUTEINFO_BY_TOPIC, "topic",
                              "Nowhere");
    ck_assert_int_eq(resp->code, RMQ_RESP_TOPIC_NOT_EXIST);
    ck_assert_ptr_nonnull(resp->remark);
    ck_assert_str_eq(resp->remark,
                     "No topic route info in name server for the topic: "
                     "Nowhere");
    ck_assert_uint_eq(resp->body_len, 0);
    rmq_rpc_close(&r);
}
END_TEST

START_TEST(test_namesrv_unregister_removes_the_broker_and_its_routes)
{
    rmq_rpc         r;
    rmq_rcmd_out    o;
    const rmq_rcmd *resp;
    json_t         *doc;

    nt_connect(&r, nt.addr);
    nt_register_ok(&r, &nt_a);
    nt_register_ok(&r, &nt_b);
    rmq_rcmd_out_init(&o, RMQ_REQ_UNREGISTER_BROKER, 0, 0);
    rmq_rcmd_out_ext(&o, "brokerName", nt_a.name);
    rmq_rcmd_out_ext(&o, "brokerAddr", nt_a.addr);
    rmq_rcmd_out_ext(&o, "clusterName", nt_a.cluster);
    rmq_rcmd_out_ext(&o, "brokerId", "0");
    resp = rmqtest_rpc_call(&r, &o, NULL, 0);
    ck_assert_int_eq(resp->code, 0);
    resp = rmqtest_rpc_simple(&r, RMQ_REQ_GET_ROUTEINFO_BY_TOPIC, "topic",
                              "TopicA");
    ck_assert_int_eq(resp->code, RMQ_RESP_TOPIC_NOT_EXIST);
    /* the shared topic is served by broker-b alone now */
    doc = nt_route(&r, "Shared");
    ck_assert_int_eq(json_array_size(json_object_get(doc, "brokerDatas")), 1);
    ck_assert_str_eq(json_string_value(json_object_get(
                         json_array_get(json_object_get(doc, "brokerDatas"), 0),
                         "brokerName")),
                     "broker-b");
    json_decref(doc);
    rmq_rpc_close(&r);
}
END_TEST

static json_t *
nt_body_json(const rmq_rcmd *resp)
{
    json_error_t err;
    json_t      *doc;

    ck_assert_int_eq(resp->code, 0);
    ck_assert(nt_is_compact(resp->body, resp->body_len));
    doc = json_loadb((const char *)resp->body, resp->body_len,
                     JSON_REJECT_DUPLICATES, &err);
    ck_assert_msg(doc != NULL, "not strict JSON: %s", err.text);
    return doc;
}

START_TEST(test_namesrv_cluster_info_lists_brokers_by_cluster)
{
    rmq_rpc r;
    json_t *doc, *addrs, *clusters, *names, *a;

    nt_connect(&r, nt.addr);
    nt_register_ok(&r, &nt_a);
    nt_register_ok(&r, &nt_a1);
    nt_register_ok(&r, &nt_b);
    doc = nt_body_json(
        rmqtest_rpc_simple(&r, RMQ_REQ_GET_BROKER_CLUSTER_INFO, 0, 0));
    addrs = json_object_get(doc, "brokerAddrTable");
    clusters = json_object_get(doc, "clusterAddrTable");
    ck_assert_int_eq(json_object_size(addrs), 2);
    a = json_object_get(addrs, "broker-a");
    ck_assert_str_eq(json_string_value(json_object_get(a, "cluster")),
                     "ClusterX");
    ck_assert_str_eq(json_string_value(json_object_get(
                         json_object_get(a, "brokerAddrs"), "0")),
                     "127.0.0.1:10911");
    ck_assert_str_eq(json_string_value(json_object_get(
                         json_object_get(a, "brokerAddrs"), "1")),
                     "127.0.0.2:10911");
    names = json_object_get(clusters, "ClusterX");
    ck_assert(json_is_array(names) && json_array_size(names) == 2);
    json_decref(doc);
    rmq_rpc_close(&r);
}
END_TEST

/* topicList of GET_ALL_TOPIC_LIST_FROM_NAMESERVER contains topic. */
static bool
nt_topic_listed(rmq_rpc *r, const char *topic)
{
    json_t *doc = nt_body_json(rmqtest_rpc_simple(
        r, RMQ_REQ_GET_ALL_TOPIC_LIST_FROM_NAMESERVER, 0, 0));
    json_t *list = json_object_get(doc, "topicList");
    bool    found = false;
    size_t  i;
    json_t *v;

    ck_assert(json_is_array(list));
    json_array_foreach(list, i, v)
    {
        found = found || strcmp(json_string_value(v), topic) == 0;
    }
    json_decref(doc);
    return found;
}

START_TEST(test_namesrv_topic_list_and_delete_topic)
{
    rmq_rpc         r;
    const rmq_rcmd *resp;

    nt_connect(&r, nt.addr);
    nt_register_ok(&r, &nt_a);
    ck_assert(nt_topic_listed(&r, "TopicA"));
    ck_assert(nt_topic_listed(&r, "Shared"));
    ck_assert(!nt_topic_listed(&r, "Nowhere"));
    resp = rmqtest_rpc_simple(&r, RMQ_REQ_DELETE_TOPIC_IN_NAMESRV, "topic",
                              "TopicA");
    ck_assert_int_eq(resp->code, 0);
    ck_assert(!nt_topic_listed(&r, "TopicA"));
    ck_assert(nt_topic_listed(&r, "Shared"));
    resp = rmqtest_rpc_simple(&r, RMQ_REQ_GET_ROUTEINFO_BY_TOPIC, "topic",
                              "TopicA");
    ck_assert_int_eq(resp->code, RMQ_RESP_TOPIC_NOT_EXIST);
    rmq_rpc_close(&r);
}
END_TEST

START_TEST(test_namesrv_unknown_code_is_request_code_not_supported)
{
    rmq_rpc         r;
    const rmq_rcmd *resp;

    nt_connect(&r, nt.addr);
    resp = rmqtest_rpc_simple(&r, 4242, 0, 0);
    ck_assert_int_eq(resp->code, RMQ_RESP_REQUEST_CODE_NOT_SUPPORTED);
    ck_assert_ptr_nonnull(resp->remark);
    ck_assert_str_eq(resp->remark, " request type 4242 not supported");
    /* the connection goes on */
    nt_register_ok(&r, &nt_a);
    rmq_rpc_close(&r);
}
END_TEST

START_TEST(test_namesrv_new_master_data_version_replaces_its_topics)
{
    struct nt_broker a2 = nt_a, slave = nt_a1;
    rmq_rpc          r;

    nt_connect(&r, nt.addr);
    nt_register_ok(&r, &nt_a);
    ck_assert_int_eq(nt_route_code(nt.addr, "TopicA"), 0);
    /* a slave's topics never change the routes */
    slave.topics[0] = "SlaveOnly";
    slave.topics[1] = NULL;
    slave.version = 7;
    nt_register_ok(&r, &slave);
    ck_assert_int_eq(nt_route_code(nt.addr, "SlaveOnly"),
                     RMQ_RESP_TOPIC_NOT_EXIST);
    ck_assert_int_eq(nt_route_code(nt.addr, "TopicA"), 0);
    /* the same data version again: nothing to replace */
    a2.topics[0] = "Shared";
    a2.topics[1] = NULL;
    nt_register_ok(&r, &a2);
    ck_assert_int_eq(nt_route_code(nt.addr, "TopicA"), 0);
    /* a new one: the master's topics are exactly the listed ones */
    a2.version = 2;
    nt_register_ok(&r, &a2);
    ck_assert_int_eq(nt_route_code(nt.addr, "TopicA"),
                     RMQ_RESP_TOPIC_NOT_EXIST);
    ck_assert_int_eq(nt_route_code(nt.addr, "Shared"), 0);
    rmq_rpc_close(&r);
}
END_TEST

START_TEST(test_namesrv_bad_registrations_are_refused_and_change_nothing)
{
    static const char junk[] = "{not json";
    rmq_rpc           r;
    rmq_rcmd_out      o;
    const rmq_rcmd   *resp;
    json_t           *doc;
    char             *body = nt_register_body(&nt_b);

    nt_connect(&r, nt.addr);
    nt_register_ok(&r, &nt_a);
    /* a body that does not match its CRC */
    rmq_rcmd_out_init(&o, RMQ_REQ_REGISTER_BROKER, 0, 0);
    rmq_rcmd_out_ext(&o, "brokerName", nt_b.name);
    rmq_rcmd_out_ext(&o, "brokerAddr", nt_b.addr);
    rmq_rcmd_out_ext(&o, "clusterName", nt_b.cluster);
    rmq_rcmd_out_ext(&o, "haServerAddr", "");
    rmq_rcmd_out_ext(&o, "brokerId", "0");
    rmq_rcmd_out_ext(&o, "bodyCrc32", "12345");
    resp = rmqtest_rpc_call(&r, &o, body, (uint32_t)strlen(body));
    ck_assert_int_eq(resp->code, RMQ_RESP_SYSTEM_ERROR);
    ck_assert_str_eq(resp->remark, "crc32 not match");
    /* a body that is not JSON, and one that is not zlib */
    o.next--;
    resp = rmqtest_rpc_call(&r, &o, junk, sizeof(junk) - 1);
    ck_assert_int_eq(resp->code, RMQ_RESP_SYSTEM_ERROR);
    rmq_rcmd_out_ext(&o, "compressed", "true");
    resp = rmqtest_rpc_call(&r, &o, junk, sizeof(junk) - 1);
    ck_assert_int_eq(resp->code, RMQ_RESP_SYSTEM_ERROR);
    /* no brokerAddr */
    rmq_rcmd_out_init(&o, RMQ_REQ_REGISTER_BROKER, 0, 0);
    rmq_rcmd_out_ext(&o, "brokerName", nt_b.name);
    rmq_rcmd_out_ext(&o, "clusterName", nt_b.cluster);
    rmq_rcmd_out_ext(&o, "brokerId", "0");
    resp = rmqtest_rpc_call(&r, &o, body, (uint32_t)strlen(body));
    ck_assert_int_eq(resp->code, RMQ_RESP_SYSTEM_ERROR);
    free(body);
    /* broker-b never made it in; broker-a is as it was */
    doc = nt_route(&r, "Shared");
    ck_assert_int_eq(json_array_size(json_object_get(doc, "brokerDatas")), 1);
    json_decref(doc);
    doc = nt_body_json(
        rmqtest_rpc_simple(&r, RMQ_REQ_GET_BROKER_CLUSTER_INFO, 0, 0));
    ck_assert_int_eq(json_object_size(json_object_get(doc, "brokerAddrTable")),
                     1);
    json_decref(doc);
    rmq_rpc_close(&r);
}
END_TEST

START_TEST(test_namesrv_garbage_closes_only_that_connection)
{
    static uint8_t g[4096];
    pid_t          pid = rmqtest_ctl_actor_pid(&nt.ctl, RMQ_ACTOR_NAMESRV);
    rmq_rpc        good, bad;
    uint32_t       x = 777;

    for (size_t i = 0; i < sizeof(g); i++) {
        x = x * 1103515245u + 12345u;
        g[i] = (uint8_t)(x >> 16);
    }
    rmq_put_be32(g, sizeof(g) - 4); /* framed: the header must be judged */
    nt_connect(&good, nt.addr);
    nt_register_ok(&good, &nt_a);
    nt_connect(&bad, nt.addr);
    rmq_rpc_write_raw(&bad, g, sizeof(g));
    nt_register_ok(&good, &nt_a);
    /* the name server hangs up on it: EOF (or a reset), never an answer */
    ck_assert(rmqtest_rpc_closed_by_peer(&bad, 3000));
    rmq_rpc_close(&bad);
    ck_assert_int_eq(nt_route_code(nt.addr, "TopicA"), 0);
    rmq_rpc_close(&good);
    ck_assert_int_eq(rmqtest_ctl_actor_pid(&nt.ctl, RMQ_ACTOR_NAMESRV), pid);
}
END_TEST

/*
 * A model of what the name server should hold after random
 * registrations: two broker names, each a master and a slave address,
 * six topics.  A master's registration with a new data version (or as a
 * new address) sets its name's topics; a slave's sets none; unregistering
 * the last address of a name drops its topics; deleting a topic drops it
 * everywhere.
 */
#define NM_NAMES 2
#define NM_TOPICS 6

static const char *const nm_topics[NM_TOPICS] = {"M0", "M1", "M2",
                                                 "M3", "M4", "M5"};

struct nm_model {
    bool    live[NM_NAMES][2]; /* address id 0 / 1 registered */
    int64_t version[NM_NAMES]; /* master's last data version */
    bool    has[NM_NAMES][NM_TOPICS];
};

static void
nm_addr(int n, int id, char *out, size_t cap)
{
    snprintf(out, cap, "127.0.%d.%d:10911", n + 1, id + 1);
}

static void
nm_register(rmq_rpc *r, struct nm_model *m, int n, int id, uint32_t bits,
            bool bump)
{
    struct nt_broker b = {"ClusterM", n ? "nm-b" : "nm-a", NULL, id, {0}, 0};
    char             addr[64];
    int              k = 0;
    bool             changed;

    nm_addr(n, id, addr, sizeof(addr));
    b.addr = addr;
    for (int t = 0; t < NM_TOPICS && k < 4; t++) {
        if (bits & (1u << t)) {
            b.topics[k++] = nm_topics[t];
        }
    }
    changed = !m->live[n][id] || bump;
    if (id == 0 && bump) {
        m->version[n]++;
    }
    b.version = id == 0 ? m->version[n] : 1;
    nt_register_ok(r, &b);
    m->live[n][id] = true;
    for (int t = 0; id == 0 && changed && t < NM_TOPICS; t++) {
        bool listed = false;
        for (int j = 0; j < k; j++) {
            listed = listed || strcmp(b.topics[j], nm_topics[t]) == 0;
        }
        m->has[n][t] = listed;
    }
}

static void
nm_unregister(rmq_rpc *r, struct nm_model *m, int n, int id)
{
    rmq_rcmd_out o;
    char         addr[64], ids[8];

    nm_addr(n, id, addr, sizeof(addr));
    snprintf(ids, sizeof(ids), "%d", id);
    rmq_rcmd_out_init(&o, RMQ_REQ_UNREGISTER_BROKER, 0, 0);
    rmq_rcmd_out_ext(&o, "brokerName", n ? "nm-b" : "nm-a");
    rmq_rcmd_out_ext(&o, "brokerAddr", addr);
    rmq_rcmd_out_ext(&o, "clusterName", "ClusterM");
    rmq_rcmd_out_ext(&o, "brokerId", ids);
    ck_assert_int_eq(rmqtest_rpc_call(r, &o, NULL, 0)->code, 0);
    m->live[n][id] = false;
    if (!m->live[n][0] && !m->live[n][1]) {
        memset(m->has[n], 0, sizeof(m->has[n]));
    }
}

/* The route of topic t is what the model says, addresses included. */
static void
nm_check_topic(rmq_rpc *r, const struct nm_model *m, int t, int step)
{
    const rmq_rcmd *resp;
    json_t         *doc, *bds, *bd;
    size_t          i;
    int             want = 0;

    for (int n = 0; n < NM_NAMES; n++) {
        want += m->has[n][t];
    }
    resp = rmqtest_rpc_simple(r, RMQ_REQ_GET_ROUTEINFO_BY_TOPIC, "topic",
                              nm_topics[t]);
    if (want == 0) {
        ck_assert_msg(resp->code == RMQ_RESP_TOPIC_NOT_EXIST,
                      "step %d: %s routed, the model has no broker for it",
                      step, nm_topics[t]);
        return;
    }
    ck_assert_msg(resp->code == 0, "step %d: no route for %s", step,
                  nm_topics[t]);
    doc = nt_route(r, nm_topics[t]);
    bds = json_object_get(doc, "brokerDatas");
    ck_assert_int_eq(json_array_size(json_object_get(doc, "queueDatas")), want);
    ck_assert_int_eq(json_array_size(bds), want);
    json_array_foreach(bds, i, bd)
    {
        const char *name = json_string_value(json_object_get(bd, "brokerName"));
        json_t     *addrs = json_object_get(bd, "brokerAddrs");
        int         n = strcmp(name, "nm-b") == 0;

        ck_assert_msg(m->has[n][t], "step %d: %s routed to %s", step,
                      nm_topics[t], name);
        for (int id = 0; id < 2; id++) {
            char    key[4], addr[64];
            json_t *v;

            snprintf(key, sizeof(key), "%d", id);
            nm_addr(n, id, addr, sizeof(addr));
            v = json_object_get(addrs, key);
            ck_assert_msg(m->live[n][id]
                              ? json_is_string(v) &&
                                    strcmp(json_string_value(v), addr) == 0
                              : v == NULL,
                          "step %d: %s brokerAddrs[%d]", step, name, id);
        }
    }
    json_decref(doc);
}

START_TEST(test_namesrv_random_registrations_match_a_model)
{
    struct nm_model m;
    rmq_rpc         r;
    uint32_t        x = 2024;

    memset(&m, 0, sizeof(m));
    nt_connect(&r, nt.addr);
    for (int step = 0; step < 400; step++) {
        int n, id, op;

        x = x * 1103515245u + 12345u;
        n = (int)((x >> 8) & 1);
        id = (int)((x >> 9) & 1);
        op = (int)((x >> 10) % 10);
        if (op < 6) {
            nm_register(&r, &m, n, id, (x >> 16) & 0x3f, op < 3);
        } else if (op < 9) {
            nm_unregister(&r, &m, n, id);
        } else {
            int t = (int)((x >> 16) % NM_TOPICS);
            ck_assert_int_eq(rmqtest_rpc_simple(&r,
                                                RMQ_REQ_DELETE_TOPIC_IN_NAMESRV,
                                                "topic", nm_topics[t])
                                 ->code,
                             0);
            for (int k = 0; k < NM_NAMES; k++) {
                m.has[k][t] = false;
            }
        }
        for (int t = 0; t < NM_TOPICS; t++) {
            nm_check_topic(&r, &m, t, step);
        }
    }
    rmq_rpc_close(&r);
    ck_assert_uint_eq(
        atomic_load(&nt.ctl.slots[RMQ_ACTOR_NAMESRV].sup.s.restarts), 0);
}
END_TEST

/* ---- tests: liveness ----------------------------------------------------- */

static bool
nt_route_gone(void *arg)
{
    return nt_route_code(nt.addr, arg) == RMQ_RESP_TOPIC_NOT_EXIST;
}

START_TEST(test_namesrv_closed_connection_drops_the_brokers_it_registered)
{
    rmq_rpc r1, r2;

    nt_connect(&r1, nt.addr);
    nt_connect(&r2, nt.addr);
    nt_register_ok(&r1, &nt_a);
    nt_register_ok(&r2, &nt_b);
    ck_assert_int_eq(nt_route_code(nt.addr, "TopicA"), 0);
    rmq_rpc_close(&r1);
    ck_assert_msg(rmqtest_wait_until(nt_route_gone, "TopicA", 3000),
                  "broker-a outlived its connection");
    /* broker-b, on a connection still open, is still there */
    ck_assert_int_eq(nt_route_code(nt.addr, "Shared"), 0);
    rmq_rpc_close(&r2);
}
END_TEST

START_TEST(test_namesrv_silent_broker_is_dropped_after_expiry)
{
    rmq_rpc r1, r2;
    int64_t t0, deadline;

    nt_connect(&r1, nt.addr);
    nt_connect(&r2, nt.addr);
    nt_register_ok(&r1, &nt_a); /* then silent, its connection open */
    nt_register_ok(&r2, &nt_b);
    t0 = rmq_mono_ms();
    /* broker-b keeps registering; broker-a must go, broker-b stay */
    deadline = t0 + rmqtest_scale_ms(NS_EXPIRE_MS + 10000 + 3000);
    while (nt_route_code(nt.addr, "TopicA") == 0) {
        ck_assert_msg(rmq_mono_ms() < deadline,
                      "silent broker-a still routed after %lld ms",
                      (long long)(rmq_mono_ms() - t0));
        nt_register_ok(&r2, &nt_b);
        poll(NULL, 0, 250);
    }
    ck_assert_int_ge(rmq_mono_ms() - t0, NS_EXPIRE_MS);
    ck_assert(
        rmqtest_file_contains(nt.ns.log, "broker 127.0.0.1:10911 silent"));
    ck_assert_int_eq(nt_route_code(nt.addr, "Shared"), 0);
    rmq_rpc_close(&r1);
    rmq_rpc_close(&r2);
}
END_TEST

/* ---- tests: supervisors -------------------------------------------------- */

/* Children of pid that are alive. */
static int
nt_children(pid_t pid)
{
    DIR           *d = opendir("/proc");
    struct dirent *e;
    int            n = 0;

    ck_assert_ptr_nonnull(d);
    while ((e = readdir(d)) != NULL) {
        char  path[64], buf[512], *p;
        FILE *f;
        int   ppid;
        char  state;

        if (strspn(e->d_name, "0123456789") != strlen(e->d_name)) {
            continue;
        }
        snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
        f = fopen(path, "r");
        if (f == NULL) {
            continue;
        }
        p = fgets(buf, sizeof(buf), f) ? strrchr(buf, ')') : NULL;
        fclose(f);
        if (p != NULL && sscanf(p + 1, " %c %d", &state, &ppid) == 2 &&
            ppid == pid && state != 'Z') {
            n++;
        }
    }
    closedir(d);
    return n;
}

START_TEST(test_namesrv_only_supervisor_runs_just_the_namesrv_actor)
{
    char *store;
    int   running = 0;

    for (int i = 0; i < RMQ_ACTOR_MAX; i++) {
        if (atomic_load(&nt.ctl.slots[i].sup.s.state) != RMQ_ASTATE_NONE) {
            ck_assert_int_eq(i, RMQ_ACTOR_NAMESRV);
            running++;
        }
    }
    ck_assert_int_eq(running, 1);
    ck_assert_int_gt(rmqtest_ctl_actor_pid(&nt.ctl, RMQ_ACTOR_NAMESRV), 0);
    ck_assert_int_eq(nt_children(nt.ns.sup.pid), 1);
    /* no store was opened: no broker port, no store directory */
    store = rmqtest_strf("%s/store", nt.ns.dir);
    ck_assert_int_ne(access(store, F_OK), 0);
    free(store);
    ck_assert_int_eq(nt_route_code(nt.addr, "TBW102"),
                     RMQ_RESP_TOPIC_NOT_EXIST);
}
END_TEST

static struct {
    rmqtest_broker ns2, br;
    char           addr2[64];
    char           topic[32];
} nm;

struct nt_routed {
    const char *ns;
    const char *topic;
};

static bool
nt_routed(void *arg)
{
    const struct nt_routed *w = arg;

    return nt_route_code(w->ns, w->topic) == 0;
}

/* The broker's address in a route of name server ns. */
static void
nt_assert_routes_to_broker(const char *ns, const char *topic, int port)
{
    rmq_rpc     r;
    json_t     *doc;
    json_t     *bd;
    char        want[64];
    const char *addr;

    nt_connect(&r, ns);
    doc = nt_route(&r, topic);
    bd = json_array_get(json_object_get(doc, "brokerDatas"), 0);
    addr = json_string_value(
        json_object_get(json_object_get(bd, "brokerAddrs"), "0"));
    snprintf(want, sizeof(want), "127.0.0.1:%d", port);
    ck_assert_ptr_nonnull(addr);
    ck_assert_str_eq(addr, want);
    ck_assert_str_eq(json_string_value(json_object_get(bd, "brokerName")),
                     "broker-multi");
    json_decref(doc);
    rmq_rpc_close(&r);
}

START_TEST(test_namesrv_broker_registers_with_every_namesrv_and_on_change)
{
    rmq_ctl          ctl2, ctlb;
    rmq_rpc          r;
    char             baddr[64];
    struct nt_routed w1 = {nt.addr, "TBW102"}, w2 = {nm.addr2, "TBW102"};

    memset(&nm, 0, sizeof(nm));
    rmqtest_broker_init(&nm.ns2, "ns2");
    snprintf(nm.addr2, sizeof(nm.addr2), "127.0.0.1:%d", nm.ns2.ns_port);
    nt_write_ns_conf(&nm.ns2);
    nt_start(&nm.ns2, &ctl2);
    rmq_ctl_detach(&ctl2);
    /* a broker-only supervisor naming both name servers */
    rmqtest_broker_init(&nm.br, "brk");
    rmqtest_write_file(nm.br.conf,
                       "broker = {\n"
                       "    brokerName = \"broker-multi\";\n"
                       "    listenPort = %d;\n"
                       "    namesrvAddr = \"%s;%s\";\n"
                       "    brokerIP1 = \"127.0.0.1\";\n"
                       "    storePathRootDir = \"%s/store\";\n"
                       "    registerNameServerPeriod = 60000;\n"
                       "    mappedFileSizeCommitLog = 4194304;\n"
                       "};\n"
                       "supervisor = { runDir = \"%s\"; };\n",
                       nm.br.port, nt.addr, nm.addr2, nm.br.dir, nm.br.run_dir);
    nt_start(&nm.br, &ctlb);
    ck_assert_int_eq(rmqtest_ctl_actor_pid(&ctlb, RMQ_ACTOR_NAMESRV), 0);
    rmq_ctl_detach(&ctlb);
    ck_assert(rmqtest_wait_until(nt_routed, &w1, 5000));
    ck_assert(rmqtest_wait_until(nt_routed, &w2, 5000));
    nt_assert_routes_to_broker(nt.addr, "TBW102", nm.br.port);
    nt_assert_routes_to_broker(nm.addr2, "TBW102", nm.br.port);
    /* a new topic reaches both at once, not at the next period (60 s) */
    snprintf(baddr, sizeof(baddr), "127.0.0.1:%d", nm.br.port);
    nt_connect(&r, baddr);
    ck_assert_int_eq(rmqtest_create_topic(&r, "FreshT", 2, 6), 0);
    rmq_rpc_close(&r);
    w1.topic = w2.topic = "FreshT";
    ck_assert_msg(rmqtest_wait_until(nt_routed, &w1, 3000),
                  "first name server never heard of FreshT");
    ck_assert_msg(rmqtest_wait_until(nt_routed, &w2, 3000),
                  "second name server never heard of FreshT");
    nt_assert_routes_to_broker(nm.addr2, "FreshT", nm.br.port);
    nt_stop(&nm.br);
    nt_stop(&nm.ns2);
}
END_TEST

static Suite *
namesrv_suite(void)
{
    Suite *s = suite_create("broker.namesrv");
    TCase *routes = tcase_create("routes");
    TCase *live = tcase_create("liveness");
    TCase *sup = tcase_create("supervisor");
    TCase *all[] = {routes, live, sup};

    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        tcase_set_tags(all[i], "proc");
        tcase_set_timeout(all[i], 60);
        tcase_add_unchecked_fixture(all[i], rmqtest_base_setup,
                                    rmqtest_base_teardown);
        tcase_add_checked_fixture(all[i], nt_setup, nt_teardown);
        suite_add_tcase(s, all[i]);
    }
    tcase_add_test(routes,
                   test_namesrv_route_json_is_what_ali_ons_and_go_parse);
    tcase_add_test(routes,
                   test_namesrv_unknown_topic_is_17_with_the_java_remark);
    tcase_add_test(routes,
                   test_namesrv_unregister_removes_the_broker_and_its_routes);
    tcase_add_test(routes, test_namesrv_cluster_info_lists_brokers_by_cluster);
    tcase_add_test(routes, test_namesrv_topic_list_and_delete_topic);
    tcase_add_test(routes,
                   test_namesrv_unknown_code_is_request_code_not_supported);
    tcase_add_test(routes,
                   test_namesrv_new_master_data_version_replaces_its_topics);
    tcase_add_test(
        routes, test_namesrv_bad_registrations_are_refused_and_change_nothing);
    tcase_add_test(routes, test_namesrv_garbage_closes_only_that_connection);
    tcase_add_test(routes, test_namesrv_random_registrations_match_a_model);
    tcase_add_test(
        live, test_namesrv_closed_connection_drops_the_brokers_it_registered);
    tcase_add_test(live, test_namesrv_silent_broker_is_dropped_after_expiry);
    tcase_add_test(sup,
                   test_namesrv_only_supervisor_runs_just_the_namesrv_actor);
    tcase_add_test(
        sup, test_namesrv_broker_registers_with_every_namesrv_and_on_change);
    return s;
}

int
main(void)
{
    rmq_log_init("test");
    return rmqtest_run_suite(namesrv_suite());
}
