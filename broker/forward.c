/*
 * forward.c - the requests the rebalancer serves (heartbeats, consumer
 * lists, offsets, locks, subscription groups) travel from the acceptor,
 * which owns the connections, as FWD_REQUEST to rebalancer.in, and their
 * FWD_RESPONSE comes back on acceptor.in to be written to the connection
 * it names.  The request's opaque rides in the low 32 bits of req_id, so
 * nothing waits here.  The rebalancer also asks for server-initiated
 * one-way requests (NOTIFY_CONSUMER_IDS_CHANGED) with CLIENT_NOTIFY, and
 * hears about closed connections through CONN_CLOSED.  Acceptor only.
 */
#include "broker/broker.h"

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "proto/catalog.h"
#include "proto/codes.h"

#include <stdlib.h>
#include <string.h>

static uint64_t
fwd_req_id(rmq_broker *b, int32_t opaque)
{
    return (++b->fwd_seq << 32) | (uint32_t)opaque;
}

static int
fwd_send(rmq_broker *b, const rmq_msg_fwd_request *m)
{
    /* a message queued for a rebalancer that is not there would never be
     * answered: refuse at once and let the client retry */
    if (rmq_ctl_actor_ready(b->ctl, RMQ_ACTOR_REBALANCER) == 0) {
        return RMQ_ERR_AGAIN;
    }
    rmq_buf_reset(&b->scratch);
    rmq_msg_fwd_request_encode(m, &b->scratch);
    return rmq_ipc_send(&b->to_rebalancer, &b->scratch);
}

void
rmq_broker_forward(rmq_broker *b, rmq_conn *c, const rmq_rcmd *cmd)
{
    static rmq_msg_fwd_request m;

    memset(&m, 0, sizeof(m));
    m.req_id = fwd_req_id(b, cmd->opaque);
    m.conn_id = c->id;
    rmq_strlcpy(m.client_addr, c->peer_str, sizeof(m.client_addr));
    m.code = cmd->code;
    m.version = cmd->version;
    m.language = cmd->language;
    m.flag = (uint32_t)cmd->flag;
    for (uint32_t i = 0; i < cmd->next && m.next < RMQ_FWD_EXT_MAX; i++) {
        rmq_fwd_ext *e = &m.ext[m.next];
        if (!rmq_strlcpy(e->key, cmd->ext[i].key, sizeof(e->key))) {
            continue; /* no code we forward has such a long key */
        }
        e->value.ptr = (const uint8_t *)cmd->ext[i].value;
        e->value.len = cmd->ext[i].value_len;
        m.next++;
    }
    m.body.ptr = cmd->body;
    m.body.len = cmd->body_len;
    if (fwd_send(b, &m) != 0) {
        rmq_broker_replyf(b, c, cmd, RMQ_RESP_SYSTEM_BUSY,
                          "[REJECTREQUEST]the consumer manager is restarting");
    }
}

void
rmq_broker_forward_commit(rmq_broker *b, const rmq_conn *c, const char *group,
                          const char *topic, int32_t queue_id, int64_t offset)
{
    static rmq_msg_fwd_request m;
    char                       qid[16], off[24];
    const char *keys[] = {"consumerGroup", "topic", "queueId", "commitOffset"};
    const char *vals[] = {group, topic, qid, off};

    snprintf(qid, sizeof(qid), "%d", queue_id);
    snprintf(off, sizeof(off), "%lld", (long long)offset);
    memset(&m, 0, sizeof(m));
    m.req_id = fwd_req_id(b, 0);
    m.conn_id = c->id;
    rmq_strlcpy(m.client_addr, c->peer_str, sizeof(m.client_addr));
    m.code = RMQ_REQ_UPDATE_CONSUMER_OFFSET;
    m.flag = RMQ_RFLAG_ONEWAY;
    for (int i = 0; i < 4; i++) {
        rmq_strlcpy(m.ext[i].key, keys[i], sizeof(m.ext[i].key));
        m.ext[i].value.ptr = (const uint8_t *)vals[i];
        m.ext[i].value.len = (uint32_t)strlen(vals[i]);
    }
    m.next = 4;
    fwd_send(b, &m); /* best effort: the client commits again soon */
}

/* ext values of forwarded messages are not NUL-terminated: copy them. */
static int
fwd_ext_out(rmq_rcmd_out *o, const rmq_fwd_ext *ext, uint32_t n, rmq_buf *buf)
{
    size_t offs[RMQ_FWD_EXT_MAX];

    rmq_buf_reset(buf);
    for (uint32_t i = 0; i < n; i++) {
        offs[i] = buf->len;
        rmq_buf_append(buf, ext[i].value.ptr, ext[i].value.len);
        rmq_buf_u8(buf, 0);
    }
    if (buf->oom) {
        return RMQ_ERR_NOMEM;
    }
    for (uint32_t i = 0; i < n; i++) {
        rmq_rcmd_out_ext(o, ext[i].key, (const char *)buf->data + offs[i]);
    }
    return 0;
}

void
rmq_broker_on_fwd_response(rmq_broker *b, const void *msg, size_t len)
{
    static rmq_msg_fwd_response r;
    rmq_rcmd_out                o;
    rmq_conn                   *c;

    if (rmq_msg_fwd_response_decode(msg, len, &r) != 0) {
        rmq_log(RMQ_LOG_WARN, "acc.fwd", "malformed forwarded response");
        return;
    }
    c = rmq_conns_get(&b->conns, r.conn_id);
    if (c == NULL) {
        return; /* the client went away meanwhile */
    }
    /* A heartbeat answered here may have created %RETRY%<group>, and its
     * client asks the name server for that route right after the answer
     * (spec remoting 5.3): send the registration first, not at the next
     * tick.  Nothing is sent unless the topic table changed (or the
     * periodic registration is due). */
    rmq_reg_tick(&b->reg, rmq_mono_ms());
    rmq_rcmd_out_init(&o, r.code, (int32_t)(uint32_t)r.req_id,
                      RMQ_RFLAG_RESPONSE);
    o.remark = r.remark[0] ? r.remark : NULL;
    if (fwd_ext_out(&o, r.ext, r.next, &b->scratch) == 0) {
        rmq_conn_send(c, &o, r.body.ptr, r.body.len);
    }
}

void
rmq_broker_on_notify(rmq_broker *b, const void *msg, size_t len)
{
    static rmq_msg_client_notify n;
    rmq_rcmd_out                 o;

    if (rmq_msg_client_notify_decode(msg, len, &n) != 0) {
        rmq_log(RMQ_LOG_WARN, "acc.notify", "malformed notify request");
        return;
    }
    for (uint32_t i = 0; i < n.nconns; i++) {
        rmq_conn *c = rmq_conns_get(&b->conns, n.conns[i]);
        if (c == NULL) {
            continue;
        }
        rmq_rcmd_out_init(&o, n.code, ++b->notify_opaque, RMQ_RFLAG_ONEWAY);
        if (fwd_ext_out(&o, n.ext, n.next, &b->scratch) == 0) {
            rmq_conn_send(c, &o, NULL, 0);
        }
    }
}

void
rmq_broker_conn_closed(rmq_broker *b, uint64_t conn_id)
{
    if (b->nclosed == b->closed_cap) {
        uint32_t  cap = b->closed_cap ? b->closed_cap * 2 : 64;
        uint64_t *p = realloc(b->closed, cap * sizeof(*p));
        if (p == NULL) {
            return;
        }
        b->closed = p;
        b->closed_cap = cap;
    }
    b->closed[b->nclosed++] = conn_id;
}

void
rmq_broker_flush_closed(rmq_broker *b)
{
    static rmq_msg_conn_closed m;
    uint32_t                   done = 0;

    while (done < b->nclosed) {
        uint32_t n = RMQ_MIN(b->nclosed - done, RMQ_NOTIFY_CONNS_MAX);
        m.n = n;
        memcpy(m.conns, b->closed + done, n * sizeof(uint64_t));
        rmq_buf_reset(&b->scratch);
        rmq_msg_conn_closed_encode(&m, &b->scratch);
        if (rmq_ipc_send(&b->to_rebalancer, &b->scratch) != 0) {
            break; /* retried next pass; the rebalancer also expires them */
        }
        done += n;
    }
    if (done > 0) {
        memmove(b->closed, b->closed + done,
                (b->nclosed - done) * sizeof(uint64_t));
        b->nclosed -= done;
    }
    if (b->nclosed > 65536) {
        b->nclosed = 0; /* the rebalancer is gone for long: its expiry cleans */
    }
}
