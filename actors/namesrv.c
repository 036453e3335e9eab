/*
 * namesrv.c - the embedded name server actor (spec remoting 4.1).
 *
 * Listens on namesrv.listenPort for RocketMQ remoting connections from
 * brokers and clients: REGISTER_BROKER, UNREGISTER_BROKER,
 * GET_ROUTEINFO_BY_TOPIC, GET_BROKER_CLUSTER_INFO,
 * GET_ALL_TOPIC_LIST_FROM_NAMESERVER, GET_TOPICS_BY_CLUSTER,
 * DELETE_TOPIC_IN_NAMESRV; anything else is REQUEST_CODE_NOT_SUPPORTED.
 * Brokers silent for brokerChannelExpiredTime, or whose registering
 * connection closes, are dropped.
 *
 * State is memory only (brokers re-register every 30 s), so a crash is
 * harmless: the supervisor restarts it, brokers re-register within one
 * period, and clients retry.  Touches no shared memory beyond its slot.
 */
#include "actors/actors.h"

#include "broker/routes.h"
#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "net/conn.h"
#include "net/loop.h"
#include "proto/codes.h"
#include "proto/remoting.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define NS_SCAN_INTERVAL_MS 10000
#define NS_MAX_TOPICS 100000

enum { NS_C_REQUESTS, NS_C_REGISTERS, NS_C_ROUTES, NS_C_ERRORS, NS_C_CONNS };

struct ns {
    rmq_actor       *self;
    rmq_loop         loop;
    rmq_conns        conns;
    rmq_io           lio;
    rmq_routes      *routes;
    int64_t          next_scan_ms;
    rmq_buf          body;
    rmq_route_topic *topics; /* scratch for registrations */
    uint32_t         topics_cap;
};

static void
ns_reply(rmq_conn *c, const rmq_rcmd *req, rmq_rcmd_out *o, const void *body,
         uint32_t len)
{
    if (req->flag & RMQ_RFLAG_ONEWAY) {
        return;
    }
    rmq_conn_send(c, o, body, len);
}

static void
ns_reply_code(rmq_conn *c, const rmq_rcmd *req, int code, const char *remark)
{
    rmq_rcmd_out o;

    rmq_rcmd_out_init(&o, code, req->opaque, RMQ_RFLAG_RESPONSE);
    o.remark = remark;
    ns_reply(c, req, &o, NULL, 0);
}

static int
ns_topics_room(struct ns *ns, uint32_t n)
{
    rmq_route_topic *p;

    if (n <= ns->topics_cap) {
        return 0;
    }
    if (n > NS_MAX_TOPICS) {
        return RMQ_ERR_TOOBIG;
    }
    p = realloc(ns->topics, n * sizeof(*p));
    if (p == NULL) {
        return RMQ_ERR_NOMEM;
    }
    ns->topics = p;
    ns->topics_cap = n;
    return 0;
}

static int32_t
ns_json_int(json_t *o, const char *key, int32_t dflt)
{
    json_t *v = json_object_get(o, key);

    if (json_is_integer(v)) {
        return (int32_t)json_integer_value(v);
    }
    if (json_is_string(v)) {
        int32_t x;
        if (rmq_parse_i32(json_string_value(v), &x) == 0) {
            return x;
        }
    }
    return dflt;
}

/* {"topicConfigTable":{name:TopicConfig},"dataVersion":{...}} */
static int
ns_parse_wrapper(struct ns *ns, json_t *wrapper, rmq_route_reg *reg)
{
    json_t     *table = json_object_get(wrapper, "topicConfigTable");
    json_t     *dv = json_object_get(wrapper, "dataVersion");
    const char *name;
    json_t     *tc;
    uint32_t    n = 0;

    if (!json_is_object(table)) {
        return RMQ_ERR_PROTO;
    }
    if (json_is_object(dv)) {
        reg->dv_counter = json_integer_value(json_object_get(dv, "counter"));
        reg->dv_timestamp =
            json_integer_value(json_object_get(dv, "timestamp"));
    }
    if (ns_topics_room(ns, (uint32_t)json_object_size(table)) != 0) {
        return RMQ_ERR_TOOBIG;
    }
    json_object_foreach(table, name, tc)
    {
        rmq_route_topic *t = &ns->topics[n];
        if (!json_is_object(tc) ||
            !rmq_strlcpy(t->name, name, sizeof(t->name))) {
            continue;
        }
        t->read_queues = ns_json_int(tc, "readQueueNums", 16);
        t->write_queues = ns_json_int(tc, "writeQueueNums", 16);
        t->perm = ns_json_int(tc, "perm", 6);
        t->sysflag = ns_json_int(tc, "topicSysFlag", 0);
        n++;
    }
    reg->ntopics = n;
    reg->topics = ns->topics;
    return 0;
}

/* Quote bare integer object keys (fastjson writes {0:"a"}) for jansson. */
static json_t *
ns_load_lenient(const uint8_t *text, size_t len)
{
    json_t *doc = json_loadb((const char *)text, len, 0, NULL);
    rmq_buf fixed;
    bool    in_str = false;

    if (doc != NULL) {
        return doc;
    }
    rmq_buf_init(&fixed);
    for (size_t i = 0; i < len; i++) {
        char c = (char)text[i];
        if (c == '"' && (i == 0 || text[i - 1] != '\\')) {
            in_str = !in_str;
        }
        if (!in_str && (c == '{' || c == ',') && i + 1 < len &&
            text[i + 1] >= '0' && text[i + 1] <= '9') {
            size_t j = i + 1;
            rmq_buf_u8(&fixed, (uint8_t)c);
            rmq_buf_u8(&fixed, '"');
            while (j < len && text[j] >= '0' && text[j] <= '9') {
                rmq_buf_u8(&fixed, text[j++]);
            }
            rmq_buf_u8(&fixed, '"');
            i = j - 1;
            continue;
        }
        rmq_buf_u8(&fixed, (uint8_t)c);
    }
    doc = fixed.oom ? NULL
                    : json_loadb((const char *)fixed.data, fixed.len, 0, NULL);
    rmq_buf_free(&fixed);
    return doc;
}

static int
ns_inflate(const uint8_t *in, uint32_t len, rmq_buf *out)
{
    z_stream zs;
    int      rc;

    memset(&zs, 0, sizeof(zs));
    if (inflateInit(&zs) != Z_OK) {
        return RMQ_ERR_NOMEM;
    }
    zs.next_in = (Bytef *)in;
    zs.avail_in = len;
    do {
        if (rmq_buf_reserve(out, 65536) != 0 || out->len > 64u << 20) {
            inflateEnd(&zs);
            return RMQ_ERR_TOOBIG;
        }
        zs.next_out = out->data + out->len;
        zs.avail_out = 65536;
        rc = inflate(&zs, Z_NO_FLUSH);
        out->len = (size_t)(zs.next_out - out->data);
    } while (rc == Z_OK);
    inflateEnd(&zs);
    return rc == Z_STREAM_END ? 0 : RMQ_ERR_PROTO;
}

/* Compressed RegisterBrokerBody (spec 3): len+DataVersion, count, configs. */
static int
ns_parse_compressed(struct ns *ns, const rmq_rcmd *cmd, rmq_route_reg *reg)
{
    rmq_buf        raw;
    const uint8_t *p, *end;
    uint32_t       n, count;
    json_t        *dv;
    int            rc;

    rmq_buf_init(&raw);
    rc = ns_inflate(cmd->body, cmd->body_len, &raw);
    p = raw.data;
    end = raw.data + raw.len;
    if (rc != 0 || end - p < 4 || (n = rmq_be32(p)) > (size_t)(end - p - 4)) {
        rmq_buf_free(&raw);
        return RMQ_ERR_PROTO;
    }
    dv = json_loadb((const char *)p + 4, n, 0, NULL);
    reg->dv_counter = json_integer_value(json_object_get(dv, "counter"));
    reg->dv_timestamp = json_integer_value(json_object_get(dv, "timestamp"));
    json_decref(dv);
    p += 4 + n;
    count = end - p >= 4 ? rmq_be32(p) : 0;
    p += 4;
    if (end - p < 0 || ns_topics_room(ns, count) != 0) {
        rmq_buf_free(&raw);
        return RMQ_ERR_PROTO;
    }
    for (reg->ntopics = 0; reg->ntopics < count; reg->ntopics++) {
        rmq_route_topic *t = &ns->topics[reg->ntopics];
        char             line[512];
        if (end - p < 4 || (n = rmq_be32(p)) > (size_t)(end - p - 4) ||
            n >= sizeof(line)) {
            break;
        }
        memcpy(line, p + 4, n);
        line[n] = '\0';
        p += 4 + n;
        if (sscanf(line, "%127s %d %d %d", t->name, &t->read_queues,
                   &t->write_queues, &t->perm) != 4) {
            break;
        }
        t->sysflag = 0;
    }
    reg->topics = ns->topics;
    rmq_buf_free(&raw);
    return reg->ntopics == count ? 0 : RMQ_ERR_PROTO;
}

static int
ns_parse_register(struct ns *ns, const rmq_rcmd *cmd, rmq_route_reg *reg)
{
    json_t *doc, *wrapper;
    int     rc;

    if (cmd->body_len == 0) {
        return 0; /* a heartbeat-only registration: no topics */
    }
    if (rmq_rcmd_ext_bool(cmd, "compressed")) {
        return ns_parse_compressed(ns, cmd, reg);
    }
    doc = ns_load_lenient(cmd->body, cmd->body_len);
    if (doc == NULL) {
        return RMQ_ERR_PROTO;
    }
    /* RegisterBrokerBody, or a bare TopicConfigSerializeWrapper (old) */
    wrapper = json_object_get(doc, "topicConfigSerializeWrapper");
    rc = ns_parse_wrapper(ns, wrapper ? wrapper : doc, reg);
    json_decref(doc);
    return rc;
}

static void
ns_register(struct ns *ns, rmq_conn *c, const rmq_rcmd *cmd)
{
    rmq_route_reg reg;
    rmq_rcmd_out  o;
    const char   *master = NULL;
    int64_t       crc32_ext = 0;

    memset(&reg, 0, sizeof(reg));
    reg.cluster = rmq_rcmd_ext(cmd, "clusterName");
    reg.broker_name = rmq_rcmd_ext(cmd, "brokerName");
    reg.broker_addr = rmq_rcmd_ext(cmd, "brokerAddr");
    reg.ha_addr = rmq_rcmd_ext(cmd, "haServerAddr");
    reg.conn_id = c->id;
    if (!reg.cluster || !reg.broker_name || !reg.broker_addr ||
        rmq_rcmd_ext_i64(cmd, "brokerId", &reg.broker_id) != 0) {
        ns_reply_code(
            c, cmd, RMQ_RESP_SYSTEM_ERROR,
            "missing clusterName, brokerName, brokerAddr or brokerId");
        return;
    }
    if (rmq_rcmd_ext_i64(cmd, "bodyCrc32", &crc32_ext) == 0 && crc32_ext != 0 &&
        (uint32_t)crc32_ext != rmq_body_crc(cmd->body, cmd->body_len)) {
        ns_reply_code(c, cmd, RMQ_RESP_SYSTEM_ERROR, "crc32 not match");
        return;
    }
    if (ns_parse_register(ns, cmd, &reg) != 0) {
        ns_reply_code(c, cmd, RMQ_RESP_SYSTEM_ERROR,
                      "cannot parse the register body");
        return;
    }
    if (rmq_routes_register(ns->routes, &reg, rmq_mono_ms(), &master) != 0) {
        ns_reply_code(c, cmd, RMQ_RESP_SYSTEM_ERROR, "out of memory");
        return;
    }
    rmq_actor_count(ns->self, NS_C_REGISTERS, 1);
    rmq_rcmd_out_init(&o, RMQ_RESP_SUCCESS, cmd->opaque, RMQ_RFLAG_RESPONSE);
    rmq_rcmd_out_ext(&o, "haServerAddr", reg.ha_addr ? reg.ha_addr : "");
    if (master != NULL) {
        rmq_rcmd_out_ext(&o, "masterAddr", master);
    }
    ns_reply(c, cmd, &o, NULL, 0);
}

static void
ns_unregister(struct ns *ns, rmq_conn *c, const rmq_rcmd *cmd)
{
    const char *addr = rmq_rcmd_ext(cmd, "brokerAddr");
    int64_t     id = 0;

    if (addr == NULL) {
        ns_reply_code(c, cmd, RMQ_RESP_SYSTEM_ERROR, "missing brokerAddr");
        return;
    }
    rmq_rcmd_ext_i64(cmd, "brokerId", &id);
    rmq_routes_unregister(ns->routes, rmq_rcmd_ext(cmd, "clusterName"),
                          rmq_rcmd_ext(cmd, "brokerName"), addr, id);
    ns_reply_code(c, cmd, RMQ_RESP_SUCCESS, NULL);
}

static void
ns_send_body(struct ns *ns, rmq_conn *c, const rmq_rcmd *cmd, int rc)
{
    rmq_rcmd_out o;

    if (rc != 0) {
        ns_reply_code(c, cmd, RMQ_RESP_SYSTEM_ERROR, rmq_strerror(rc));
        return;
    }
    rmq_rcmd_out_init(&o, RMQ_RESP_SUCCESS, cmd->opaque, RMQ_RFLAG_RESPONSE);
    ns_reply(c, cmd, &o, ns->body.data, (uint32_t)ns->body.len);
}

static void
ns_route(struct ns *ns, rmq_conn *c, const rmq_rcmd *cmd)
{
    const char *topic = rmq_rcmd_ext(cmd, "topic");
    char        remark[300];
    int         rc;

    if (topic == NULL) {
        ns_reply_code(c, cmd, RMQ_RESP_SYSTEM_ERROR, "missing topic");
        return;
    }
    rmq_actor_count(ns->self, NS_C_ROUTES, 1);
    rmq_buf_reset(&ns->body);
    rc = rmq_routes_topic_json(ns->routes, topic, &ns->body);
    if (rc == RMQ_ERR_NOTFOUND) {
        snprintf(remark, sizeof(remark),
                 "No topic route info in name server for the topic: %s", topic);
        ns_reply_code(c, cmd, RMQ_RESP_TOPIC_NOT_EXIST, remark);
        return;
    }
    ns_send_body(ns, c, cmd, rc);
}

static void
ns_handle(struct ns *ns, rmq_conn *c, const rmq_rcmd *cmd)
{
    char remark[64];

    switch (cmd->code) {
    case RMQ_REQ_REGISTER_BROKER:
        ns_register(ns, c, cmd);
        break;
    case RMQ_REQ_UNREGISTER_BROKER:
        ns_unregister(ns, c, cmd);
        break;
    case RMQ_REQ_GET_ROUTEINFO_BY_TOPIC:
        ns_route(ns, c, cmd);
        break;
    case RMQ_REQ_GET_BROKER_CLUSTER_INFO:
        rmq_buf_reset(&ns->body);
        ns_send_body(ns, c, cmd,
                     rmq_routes_cluster_json(ns->routes, &ns->body));
        break;
    case RMQ_REQ_GET_ALL_TOPIC_LIST_FROM_NAMESERVER:
    case RMQ_REQ_GET_TOPICS_BY_CLUSTER:
        rmq_buf_reset(&ns->body);
        ns_send_body(
            ns, c, cmd,
            rmq_routes_topics_json(ns->routes,
                                   cmd->code == RMQ_REQ_GET_TOPICS_BY_CLUSTER
                                       ? rmq_rcmd_ext(cmd, "cluster")
                                       : NULL,
                                   &ns->body));
        break;
    case RMQ_REQ_DELETE_TOPIC_IN_NAMESRV:
        if (rmq_rcmd_ext(cmd, "topic") == NULL) {
            ns_reply_code(c, cmd, RMQ_RESP_SYSTEM_ERROR, "missing topic");
            break;
        }
        rmq_routes_delete_topic(ns->routes, rmq_rcmd_ext(cmd, "topic"),
                                rmq_rcmd_ext(cmd, "clusterName"));
        ns_reply_code(c, cmd, RMQ_RESP_SUCCESS, NULL);
        break;
    default:
        rmq_actor_count(ns->self, NS_C_ERRORS, 1);
        snprintf(remark, sizeof(remark), " request type %d not supported",
                 cmd->code);
        ns_reply_code(c, cmd, RMQ_RESP_REQUEST_CODE_NOT_SUPPORTED, remark);
        break;
    }
}

static void
ns_on_cmd(rmq_conn *c, rmq_rcmd *cmd, void *user)
{
    struct ns *ns = user;

    if (cmd->flag & RMQ_RFLAG_RESPONSE) {
        return; /* we never send requests */
    }
    rmq_actor_count(ns->self, NS_C_REQUESTS, 1);
    ns_handle(ns, c, cmd);
}

static void
ns_on_close(rmq_conn *c, void *user)
{
    struct ns *ns = user;

    rmq_routes_conn_closed(ns->routes, c->id);
}

static int
ns_init(rmq_actor *self, struct ns *ns)
{
    static const rmq_conn_ops ops = {.on_cmd = ns_on_cmd,
                                     .on_close = ns_on_close};

    memset(ns, 0, sizeof(*ns));
    ns->self = self;
    ns->lio.fd = -1;
    rmq_buf_init(&ns->body);
    ns->routes = rmq_routes_new();
    if (ns->routes == NULL || rmq_loop_init(&ns->loop) != 0) {
        return RMQ_ERR_NOMEM;
    }
    rmq_conns_init(&ns->conns, &ns->loop, &ops, ns);
    return rmq_conns_listen(&ns->conns, &ns->lio, NULL,
                            self->cfg.namesrv.listen_port);
}

static void
ns_fini(struct ns *ns)
{
    rmq_conns_unlisten(&ns->conns, &ns->lio);
    rmq_conns_fini(&ns->conns);
    rmq_loop_fini(&ns->loop);
    rmq_routes_free(ns->routes);
    rmq_buf_free(&ns->body);
    free(ns->topics);
}

static void
ns_tick(struct ns *ns)
{
    int64_t now = rmq_mono_ms();

    if (now >= ns->next_scan_ms) {
        rmq_routes_expire(ns->routes, now,
                          ns->self->cfg.namesrv.broker_expire_ms);
        rmq_conns_sweep_idle(&ns->conns, now, 120000);
        ns->next_scan_ms = now + NS_SCAN_INTERVAL_MS;
    }
    rmq_actor_gauge(ns->self, NS_C_CONNS, ns->conns.live);
}

void
rmq_namesrv_main(rmq_actor *self)
{
    static struct ns ns;
    rmq_io           wake;

    if (ns_init(self, &ns) != 0) {
        rmq_log(RMQ_LOG_ERR, "ns.start", "cannot serve on port %d",
                self->cfg.namesrv.listen_port);
        /* a port held by someone else does not get better by retrying */
        rmq_actor_exit(self, RMQ_EXIT_FATAL);
    }
    rmq_loop_add(&ns.loop, &wake, self->wakeup_fd, EPOLLIN, rmq_loop_noop,
                 NULL);
    rmq_log(RMQ_LOG_INFO, "ns.start", "name server listening on port %d",
            self->cfg.namesrv.listen_port);
    rmq_actor_ready(self);
    while (!self->stop_requested) {
        rmq_actor_clear_wakeup(self);
        if (self->reload_requested) {
            rmq_actor_reload(self);
        }
        ns_tick(&ns);
        rmq_loop_run_once(&ns.loop, 1000);
        rmq_actor_tick(self);
    }
    ns_fini(&ns);
    rmq_actor_exit(self, RMQ_EXIT_OK);
}
