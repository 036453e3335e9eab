/*
 * cmd_msg.c - rmqctl msg get MSGID: one message by its offset message id
 * (spec/remoting-protocol.md 6.4: store host ip + port + commit-log
 * offset, 32 or 56 hex digits).  The id names the broker: VIEW_MESSAGE_BY_ID
 * (33) goes straight to that address, no name server involved, and the
 * raw record it answers is decoded and checked (store/record.h, CRC
 * included) and printed like `consume` prints (cli/msgview.h).
 *
 * A UNIQ_KEY (the msgId producers report; also 32 hex digits for IPv4)
 * could only be found with QUERY_MESSAGE and the broker's index, which
 * rmq does not serve: such an id is refused with that reason.  It is told
 * apart by what its "port" would be: a UNIQ_KEY has the producer's pid
 * and a hash there, rarely a number below 65536.
 */
#include "cli/msgview.h"
#include "cli/remote.h"

#include "client/record.h"
#include "common/util.h"
#include "proto/codes.h"
#include "store/record.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

struct msg_id {
    char    addr[RMQCTL_ADDR_MAX];
    int64_t offset;
};

static int
msg_decode_id(const char *id, struct msg_id *out, char *why)
{
    uint8_t ip[16], ip_len;
    int32_t port;
    char    host[INET6_ADDRSTRLEN];
    size_t  len = strlen(id);

    if ((len != RMQ_MSGID_V4_LEN && len != RMQ_MSGID_V6_LEN) ||
        strspn(id, "0123456789abcdefABCDEF") != len ||
        rmq_rec_msgid_decode(id, len, ip, &ip_len, &port, &out->offset) != 0) {
        snprintf(why, RMQCTL_WHY_MAX,
                 "\"%.100s\" is not a message id (an "
                 "offset message id is 32 or 56 hex digits)",
                 id);
        return -1;
    }
    if (port <= 0 || port > 65535 || out->offset < 0) {
        snprintf(why, RMQCTL_WHY_MAX,
                 "%.100s is not an offset message id "
                 "(it looks like a client-made UNIQ_KEY, which only "
                 "QUERY_MESSAGE could find and rmq does not serve it): give "
                 "the offsetMsgId that send and consume print",
                 id);
        return -1;
    }
    inet_ntop(ip_len == 4 ? AF_INET : AF_INET6, ip, host, sizeof(host));
    snprintf(out->addr, sizeof(out->addr), "%s:%d", host, port);
    return 0;
}

/* Host text of a record's born or store host. */
static void
msg_host(const uint8_t *ip, uint8_t ip_len, int32_t port, char *out, size_t cap)
{
    char host[INET6_ADDRSTRLEN] = "?";

    inet_ntop(ip_len == 16 ? AF_INET6 : AF_INET, ip, host, sizeof(host));
    snprintf(out, cap, ip_len == 16 ? "[%s]:%d" : "%s:%d", host, port);
}

struct msg_text {
    char topic[RMQ_REC_TOPIC_MAX_V1 * 2 + 1];
    char tags[512];
    char keys[1024];
    char uniq[RMQ_MSGID_CAP * 2];
    char offset_id[RMQ_MSGID_CAP];
    char born[80];
    char store[80];
};

static const char *
msg_prop(const rmqctl_msg *m, const char *key, char *out, size_t cap)
{
    uint32_t    len = 0;
    const char *v = rmq_props_get(&m->props, key, &len);

    if (v == NULL) {
        return NULL;
    }
    snprintf(out, cap, "%.*s", (int)len, v);
    return out;
}

/* Fill m from the record view v; strings live in t. */
static void
msg_view(const rmq_rec_view *v, rmqctl_msg *m, struct msg_text *t)
{
    memset(m, 0, sizeof(*m));
    snprintf(t->topic, sizeof(t->topic), "%.*s", (int)v->topic_len, v->topic);
    if (v->props_len > 0) {
        rmq_props_parse(v->props, v->props_len, &m->props);
    }
    rmq_rec_msgid(v->store_ip, v->store_ip_len, v->store_port, v->phys_offset,
                  t->offset_id);
    msg_host(v->born_ip, v->born_ip_len, v->born_port, t->born,
             sizeof(t->born));
    msg_host(v->store_ip, v->store_ip_len, v->store_port, t->store,
             sizeof(t->store));
    m->topic = t->topic;
    m->queue_id = v->queue_id;
    m->queue_offset = v->queue_offset;
    m->commitlog_offset = v->phys_offset;
    m->offset_msg_id = t->offset_id;
    m->msg_id = msg_prop(m, "UNIQ_KEY", t->uniq, sizeof(t->uniq));
    m->msg_id = m->msg_id ? m->msg_id : t->offset_id;
    m->tags = msg_prop(m, "TAGS", t->tags, sizeof(t->tags));
    m->keys = msg_prop(m, "KEYS", t->keys, sizeof(t->keys));
    m->reconsume_times = v->reconsume_times;
    m->flag = v->flag;
    m->sysflag = (int32_t)v->sysflag;
    m->born_ms = v->born_ts;
    m->born_host = t->born;
    m->store_ms = v->store_ts;
    m->store_host = t->store;
    m->body = v->body;
    m->body_len = v->body_len;
}

/* 33 to the broker of the id; the record's bytes stay in r. */
static int
msg_fetch(const struct msg_id *id, const char *text, rmqctl_reply *r,
          rmq_rec_view *v, char *why)
{
    char        off[24];
    const char *ext[] = {"offset", off, NULL};

    snprintf(off, sizeof(off), "%lld", (long long)id->offset);
    if (rmqctl_call(id->addr, RMQ_REQ_VIEW_MESSAGE_BY_ID, ext, NULL, 0, r,
                    why) != 0) {
        return -1;
    }
    if (r->code != RMQ_RESP_SUCCESS) {
        snprintf(why, RMQCTL_WHY_MAX,
                 "broker %s has no message at commit-log "
                 "offset %lld (%s%s%.200s); is %.60s an offset message id?",
                 id->addr, (long long)id->offset, rmqctl_code_name(r->code),
                 r->remark[0] ? ": " : "", r->remark, text);
        return -1;
    }
    if (r->body == NULL || rmq_rec_decode(r->body, r->body_len, true, v) != 0 ||
        v->kind != RMQ_REC_MSG) {
        snprintf(why, RMQCTL_WHY_MAX,
                 "broker %s answered with a record that "
                 "does not decode",
                 id->addr);
        return -1;
    }
    return 0;
}

static int
msg_get(rmqctl *c)
{
    struct msg_id   id;
    struct msg_text t;
    rmqctl_reply    r = {0};
    rmq_rec_view    v;
    rmqctl_msg      m;
    rmq_buf         plain;
    char            why[RMQCTL_WHY_MAX];
    int             rc = 0;

    if (c->argc != 2) {
        return rmqctl_fail("usage: rmqctl msg get MSGID");
    }
    if (msg_decode_id(c->argv[1], &id, why) != 0 ||
        msg_fetch(&id, c->argv[1], &r, &v, why) != 0) {
        rmqctl_reply_free(&r);
        return rmqctl_fail("%s", why);
    }
    msg_view(&v, &m, &t);
    rmq_buf_init(&plain);
    if ((v.sysflag & RMQ_SYSFLAG_COMPRESSED) &&
        (v.sysflag & RMQ_SYSFLAG_COMPRESS_MASK) >> 8 != 1 &&
        (v.sysflag & RMQ_SYSFLAG_COMPRESS_MASK) >> 8 != 2 &&
        rmq_body_inflate(v.body, v.body_len, RMQ_BODY_INFLATE_MAX, &plain) ==
            0) {
        /* zlib (type 0 or 3); LZ4/ZSTD bodies are shown as stored */
        m.body = plain.data;
        m.body_len = plain.len;
    }
    if (c->json) {
        rc = rmqctl_print_json(rmqctl_msg_json(&m));
    } else {
        rmqctl_msg_print(&m, stdout);
    }
    rmq_buf_free(&plain);
    rmqctl_reply_free(&r);
    return rc;
}

int
rmqctl_cmd_msg(rmqctl *c)
{
    if (c->argc > 0 && strcmp(c->argv[0], "get") == 0) {
        return msg_get(c);
    }
    return rmqctl_fail("usage: rmqctl msg get MSGID");
}
