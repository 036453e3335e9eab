/*
 * send.c - SEND_MESSAGE (10), SEND_MESSAGE_V2 (310), SEND_BATCH_MESSAGE
 * (320) in the acceptor (spec remoting 5.1, 6.3).
 *
 * A send is checked (broker writable, topic name, sizes, topic exists or
 * may be auto-created, queue id, permissions), its properties are
 * rewritten as the broker stores them (CLUSTER added, WAIT dropped), and
 * each message is encoded as a whole commit-log record straight into the
 * put ring, with a descriptor queued for clwriter.  The acceptor's loop
 * sends everything queued in one PUT_BATCH per iteration, so sends from
 * many connections share one hop.  The response goes out when clwriter's
 * results for every record of the send are back.  Sends from one
 * connection reach clwriter in arrival order, so per-queue order is the
 * order of arrival.
 */
#include "broker/broker.h"

#include "broker/delay.h"

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "proto/codes.h"
#include "proto/props.h"
#include "store/record.h"
#include "store/topics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SEND_BATCH_MAX_MSGS 1024

/* A parsed send request; pointers into the command (or a parked copy). */
struct send_req {
    int32_t        code;
    int32_t        opaque;
    int32_t        version;
    bool           oneway;
    bool           batch;
    const char    *group;
    const char    *topic;
    const char    *default_topic;
    int32_t        default_qnums;
    int32_t        queue_id;
    int32_t        sysflag;
    int32_t        flag;
    int64_t        born_ts;
    const char    *props;
    int32_t        reconsume;
    int32_t        max_reconsume; /* -1: not given */
    const uint8_t *body;
    uint32_t       body_len;
};

/* One send in flight: answered when all of its records are back. */
struct send_op {
    uint64_t conn_id;
    int32_t  opaque;
    bool     oneway;
    bool     batch;
    bool     plain; /* answer with the code only (send-back) */
    uint32_t nrec, ndone;
    int32_t  status; /* worst rmq_put_status */
    int32_t  queue_id;
    int64_t  first_qoff;
    rmq_buf  ids; /* msgId list */
};

/* ---- parsing ----------------------------------------------------------- */

static const char *
send_field(const rmq_rcmd *cmd, bool v2, const char *letter, const char *name)
{
    return rmq_rcmd_ext(cmd, v2 ? letter : name);
}

static int
send_int(const rmq_rcmd *cmd, bool v2, const char *letter, const char *name,
         int32_t dflt, int32_t *out)
{
    int rc = rmq_rcmd_ext_i32(cmd, v2 ? letter : name, out);

    if (rc == RMQ_ERR_NOTFOUND) {
        *out = dflt;
        return 0;
    }
    return rc;
}

static int
send_parse(const rmq_rcmd *cmd, struct send_req *r, const char **missing)
{
    bool v2 = cmd->code != RMQ_REQ_SEND_MESSAGE;
    int  rc = 0;

    memset(r, 0, sizeof(*r));
    r->code = cmd->code;
    r->opaque = cmd->opaque;
    r->version = cmd->version;
    r->oneway = (cmd->flag & RMQ_RFLAG_ONEWAY) != 0;
    r->group = send_field(cmd, v2, "a", "producerGroup");
    r->topic = send_field(cmd, v2, "b", "topic");
    r->default_topic = send_field(cmd, v2, "c", "defaultTopic");
    r->props = send_field(cmd, v2, "i", "properties");
    r->body = cmd->body;
    r->body_len = cmd->body_len;
    *missing = r->topic == NULL   ? "topic"
               : r->group == NULL ? "producerGroup"
                                  : NULL;
    if (*missing != NULL) {
        return RMQ_ERR_INVAL;
    }
    rc |= send_int(cmd, v2, "d", "defaultTopicQueueNums", 4, &r->default_qnums);
    rc |= send_int(cmd, v2, "e", "queueId", -1, &r->queue_id);
    rc |= send_int(cmd, v2, "f", "sysFlag", 0, &r->sysflag);
    rc |= send_int(cmd, v2, "h", "flag", 0, &r->flag);
    rc |= send_int(cmd, v2, "j", "reconsumeTimes", 0, &r->reconsume);
    rc |= send_int(cmd, v2, "l", "maxReconsumeTimes", -1, &r->max_reconsume);
    if (rmq_rcmd_ext_i64(cmd, v2 ? "g" : "bornTimestamp", &r->born_ts) != 0) {
        r->born_ts = rmq_now_ms();
    }
    r->batch = cmd->code == RMQ_REQ_SEND_BATCH_MESSAGE ||
               rmq_rcmd_ext_bool(cmd, v2 ? "m" : "batch");
    *missing = rc != 0 ? "a number field" : NULL;
    return rc != 0 ? RMQ_ERR_INVAL : 0;
}

/* ---- topic checks (with auto-creation) --------------------------------- */

static bool
send_topic_reserved(const char *topic)
{
    static const char *const reserved[] = {RMQ_TOPIC_SCHEDULE,
                                           "RMQ_SYS_TRANS_HALF_TOPIC",
                                           "RMQ_SYS_TRANS_OP_HALF_TOPIC",
                                           "TRANS_CHECK_MAX_TIME_TOPIC",
                                           "SELF_TEST_TOPIC",
                                           "OFFSET_MOVED_EVENT"};

    for (size_t i = 0; i < RMQ_ARRAY_LEN(reserved); i++) {
        if (strcmp(topic, reserved[i]) == 0) {
            return true;
        }
    }
    return false;
}

static void send_execute(rmq_broker *b, rmq_conn *c, struct send_req *r,
                         bool after_create);

/* A parked copy of a send, owning its strings and body. */
struct send_parked {
    struct send_req r;
    char           *strings[4];
    uint8_t        *body;
};

static void
send_parked_free(struct send_parked *sp)
{
    for (int i = 0; i < 4; i++) {
        free(sp->strings[i]);
    }
    free(sp->body);
    free(sp);
}

static void
send_resume(rmq_broker *b, rmq_parked *p, int status)
{
    struct send_parked *sp = p->state;
    rmq_conn           *c = rmq_conns_get(&b->conns, p->conn_id);

    if (c != NULL) {
        if (status != 0) {
            rmq_broker_reply(b, c, sp->r.opaque, sp->r.oneway,
                             RMQ_RESP_SYSTEM_ERROR,
                             "could not create the topic");
        } else {
            send_execute(b, c, &sp->r, true);
        }
    }
    send_parked_free(sp);
    free(p);
}

static char *
send_dup(const char *s)
{
    return s ? strdup(s) : NULL;
}

/* Keep a copy of the request until clwriter created its topic. */
static void
send_park(rmq_broker *b, rmq_conn *c, const struct send_req *r, uint64_t seq)
{
    struct send_parked *sp = calloc(1, sizeof(*sp));
    rmq_parked         *p = calloc(1, sizeof(*p));

    if (sp == NULL || p == NULL ||
        (r->body_len && (sp->body = malloc(r->body_len)) == NULL)) {
        free(p);
        if (sp) {
            send_parked_free(sp);
        }
        rmq_broker_reply(b, c, r->opaque, r->oneway, RMQ_RESP_SYSTEM_BUSY,
                         "out of memory");
        return;
    }
    sp->r = *r;
    sp->r.group = sp->strings[0] = send_dup(r->group);
    sp->r.topic = sp->strings[1] = send_dup(r->topic);
    sp->r.default_topic = sp->strings[2] = send_dup(r->default_topic);
    sp->r.props = sp->strings[3] = send_dup(r->props);
    if (r->body_len) {
        memcpy(sp->body, r->body, r->body_len);
    }
    sp->r.body = sp->body;
    p->topic_seq = seq;
    p->conn_id = c->id;
    p->opaque = r->opaque;
    p->code = r->code;
    p->state = sp;
    p->resume = send_resume;
    rmq_broker_park(b, p);
}

/*
 * The topic of a send that does not exist yet: create it from the default
 * topic (spec 5.1 item 2) or as a retry/DLQ topic.  Returns true when the
 * request was parked (or answered).
 */
static bool
send_auto_create(rmq_broker *b, rmq_conn *c, const struct send_req *r)
{
    rmq_topic_entry def;
    int32_t         queues, perm;
    uint64_t        seq;

    if (strncmp(r->topic, RMQ_RETRY_PREFIX, strlen(RMQ_RETRY_PREFIX)) == 0) {
        queues = 1;
        perm = RMQ_PERM_READ | RMQ_PERM_WRITE;
    } else if (strncmp(r->topic, RMQ_DLQ_PREFIX, strlen(RMQ_DLQ_PREFIX)) == 0) {
        queues = 1;
        perm = RMQ_PERM_WRITE;
    } else if (b->cfg->broker.auto_create_topic && r->default_topic != NULL &&
               rmq_broker_topic(b, r->default_topic, &def) >= 0 &&
               (def.perm & RMQ_PERM_INHERIT)) {
        queues = RMQ_MAX(1, RMQ_MIN(r->default_qnums, def.write_queues));
        perm = def.perm & ~RMQ_PERM_INHERIT;
    } else {
        return false;
    }
    seq = rmq_broker_topic_request(b, r->topic, queues, queues, perm, 0, false);
    if (seq == 0) {
        rmq_broker_reply(b, c, r->opaque, r->oneway, RMQ_RESP_SYSTEM_BUSY,
                         "[REJECTREQUEST]the store is not ready");
        return true;
    }
    rmq_log(RMQ_LOG_INFO, "acc.autocreate", "creating topic %s (%d queues)",
            r->topic, queues);
    send_park(b, c, r, seq);
    return true;
}

/* ---- encoding ---------------------------------------------------------- */

struct send_ctx {
    rmq_broker      *b;
    rmq_conn        *c;
    struct send_req *r;
    rmq_topic_entry  t;
    int              tidx;
    const char      *store_topic; /* after a delay rewrite */
    int              store_tidx;
    int32_t          store_qid;
    uint32_t         flags; /* RMQ_PUT_F_* */
    rmq_buf          props;
    struct send_op  *op;
};

/*
 * Build the stored properties of one message: its own, the header's (for
 * a batch), CLUSTER; WAIT read and dropped.  The delay rewrite may change
 * the target topic and queue.
 */
static int
send_build_props(struct send_ctx *x, const char *own, uint32_t own_len,
                 const char *extra)
{
    rmq_props        p, hdr;
    rmq_delay_target dt;
    const char      *wait;
    uint32_t         wl;
    int              rc;

    rc = rmq_props_parse(own, own_len, &p);
    if (rc == 0 && extra != NULL) {
        rc = rmq_props_parse(extra, strlen(extra), &hdr);
        for (uint32_t i = 0; rc == 0 && i < hdr.n; i++) {
            rc = rmq_props_setn(&p, hdr.p[i].key, hdr.p[i].key_len,
                                hdr.p[i].value, hdr.p[i].value_len);
        }
    }
    if (rc != 0) {
        return rc;
    }
    wait = rmq_props_get(&p, "WAIT", &wl);
    if (!(wait != NULL && wl == 5 && strncmp(wait, "false", 5) == 0) &&
        x->b->cfg->broker.flush_disk_type == RMQ_FLUSH_SYNC) {
        x->flags |= RMQ_PUT_F_WAIT_FLUSH;
    }
    rmq_props_del(&p, "WAIT");
    rmq_props_set(&p, "CLUSTER", x->b->cfg->broker.cluster_name);
    if (strncmp(x->r->topic, RMQ_DLQ_PREFIX, strlen(RMQ_DLQ_PREFIX)) == 0) {
        rmq_props_del(&p, "DELAY"); /* dead letters are not delayed */
    }
    /* DELAY=n: stored in SCHEDULE_TOPIC_XXXX queue n-1 until it is due */
    rc = rmq_delay_rewrite(&p, x->r->topic, (uint32_t)strlen(x->r->topic),
                           x->store_qid, (uint32_t)x->r->sysflag,
                           x->b->cfg->broker.delay_level_count, &dt);
    if (rc != 0) {
        return rc;
    }
    if (dt.level > 0) {
        x->store_topic = dt.topic;
        x->store_qid = dt.queue_id;
    }
    rmq_buf_reset(&x->props);
    rmq_props_write(&p, &x->props);
    return x->props.len > RMQ_PROPS_MAX_LEN ? RMQ_ERR_TOOBIG : 0;
}

static int
send_encode_one(struct send_ctx *x, const uint8_t *body, uint32_t body_len,
                int32_t flag)
{
    rmq_broker     *b = x->b;
    rmq_topic_entry st;
    rmq_rec_msg     m;
    uint32_t        size;
    uint8_t        *dst;
    int             rc;

    x->store_tidx = x->tidx;
    if (x->store_topic != x->r->topic) {
        x->store_tidx = rmq_broker_topic(b, x->store_topic, &st);
        if (x->store_tidx < 0) {
            return RMQ_ERR_NOTFOUND;
        }
    }
    memset(&m, 0, sizeof(m));
    m.topic = x->store_topic;
    m.topic_len = (uint32_t)strlen(x->store_topic);
    m.queue_id = x->store_qid;
    m.flag = flag;
    m.sysflag = (uint32_t)x->r->sysflag &
                ~(uint32_t)(RMQ_MSGF_BORNHOST_V6 | RMQ_MSGF_STOREHOST_V6);
    if (x->t.flags & RMQ_TOPIC_F_MULTI_TAG) {
        m.sysflag |= RMQ_MSGF_MULTI_TAGS;
    }
    m.born_ts = x->r->born_ts;
    memcpy(m.born_ip, x->c->peer_ip, sizeof(m.born_ip));
    m.born_ip_len = (uint8_t)(x->c->peer_ip_len ? x->c->peer_ip_len : 4);
    m.born_port = x->c->peer_port;
    memcpy(m.store_ip, b->host.ip, sizeof(m.store_ip));
    m.store_ip_len = b->host.ip_len;
    m.store_port = b->host.port;
    m.reconsume_times = x->r->reconsume;
    m.body = body;
    m.body_len = body_len;
    m.body_crc = rmq_body_crc(body, body_len);
    m.props = (const char *)x->props.data;
    m.props_len = (uint32_t)x->props.len;
    rc = rmq_rec_size(&m, &size);
    if (rc != 0) {
        return rc;
    }
    dst = rmq_putc_reserve(&b->putc, size, &rc);
    if (dst == NULL) {
        return rc;
    }
    rc = rmq_rec_encode(&m, dst, size, &size);
    if (rc == 0) {
        rc = rmq_putc_add(&b->putc, (uint32_t)x->store_tidx, x->store_qid,
                          x->flags, (uint64_t)(uintptr_t)x->op);
    }
    if (rc != 0) {
        rmq_putc_unreserve(&b->putc);
        return rc;
    }
    x->op->nrec++;
    return 0;
}

/* Batch body (spec 6.3): totalSize, magic, bodyCRC, flag, body, props. */
static int
send_encode_batch(struct send_ctx *x)
{
    const uint8_t *p = x->r->body;
    const uint8_t *end = p + x->r->body_len;
    int            n = 0;

    while (p < end) {
        uint32_t total, blen;
        uint16_t plen;
        int32_t  flag;
        int      rc;

        if (end - p < 20 || (total = rmq_be32(p)) < 22 ||
            total > (size_t)(end - p) || ++n > SEND_BATCH_MAX_MSGS) {
            return RMQ_ERR_PROTO;
        }
        flag = (int32_t)rmq_be32(p + 12);
        blen = rmq_be32(p + 16);
        if (blen > total - 22) {
            return RMQ_ERR_PROTO;
        }
        plen = rmq_be16(p + 20 + blen);
        if (20u + blen + 2u + plen != total) {
            return RMQ_ERR_PROTO;
        }
        x->flags &= ~(uint32_t)RMQ_PUT_F_WAIT_FLUSH;
        x->store_topic = x->r->topic;
        rc =
            send_build_props(x, (const char *)p + 22 + blen, plen, x->r->props);
        if (rc == 0 && x->store_topic != x->r->topic) {
            rc = RMQ_ERR_INVAL; /* no delay in batches (spec 6.3) */
        }
        if (rc == 0) {
            rc = send_encode_one(x, p + 20, blen, flag);
        }
        if (rc != 0) {
            return rc;
        }
        p += total;
    }
    return n > 0 ? 0 : RMQ_ERR_PROTO;
}

/* ---- the request ------------------------------------------------------- */

static int
send_check(rmq_broker *b, rmq_conn *c, struct send_req *r, struct send_ctx *x,
           bool after_create)
{
    size_t tl = strlen(r->topic);

    if (!(b->cfg->broker.broker_permission & RMQ_PERM_WRITE)) {
        rmq_broker_reply(b, c, r->opaque, r->oneway, RMQ_RESP_NO_PERMISSION,
                         "the broker sending message is forbidden");
        return -1;
    }
    if (!rmq_topic_name_valid(r->topic, tl)) {
        rmq_broker_reply(b, c, r->opaque, r->oneway, RMQ_RESP_SYSTEM_ERROR,
                         "the specified topic is not valid");
        return -1;
    }
    if (send_topic_reserved(r->topic)) {
        rmq_broker_reply(b, c, r->opaque, r->oneway, RMQ_RESP_NO_PERMISSION,
                         "sending to a system topic is forbidden");
        return -1;
    }
    if (r->body_len > (uint32_t)b->cfg->broker.max_message_size && !r->batch) {
        rmq_broker_reply(b, c, r->opaque, r->oneway, RMQ_RESP_MESSAGE_ILLEGAL,
                         "the message body size over max value");
        return -1;
    }
    x->tidx = rmq_broker_topic(b, r->topic, &x->t);
    if (x->tidx < 0) {
        if (after_create || !send_auto_create(b, c, r)) {
            rmq_broker_replyf(
                b, c,
                &(rmq_rcmd){.opaque = r->opaque, .flag = r->oneway ? 2 : 0},
                RMQ_RESP_TOPIC_NOT_EXIST,
                "topic[%s] not exist, apply first please!", r->topic);
        }
        return -1;
    }
    if (!(x->t.perm & RMQ_PERM_WRITE)) {
        rmq_broker_reply(b, c, r->opaque, r->oneway, RMQ_RESP_NO_PERMISSION,
                         "the topic is not writable");
        return -1;
    }
    if (r->queue_id >= RMQ_MAX(x->t.read_queues, x->t.write_queues)) {
        rmq_broker_reply(b, c, r->opaque, r->oneway, RMQ_RESP_SYSTEM_ERROR,
                         "request queueId is illegal");
        return -1;
    }
    if (r->queue_id < 0) {
        r->queue_id = (int32_t)(b->rr++ % (uint32_t)x->t.write_queues);
    }
    return 0;
}

static int
send_error_code(int rc, const char **remark)
{
    switch (rc) {
    case RMQ_ERR_FULL:
        *remark = "[REJECTREQUEST]system busy, start flow control for a while";
        return RMQ_RESP_SYSTEM_BUSY;
    case RMQ_ERR_AGAIN:
        *remark = "[REJECTREQUEST]the store is restarting";
        return RMQ_RESP_SYSTEM_BUSY;
    case RMQ_ERR_NOTFOUND:
        *remark = "the delay topic is missing";
        return RMQ_RESP_SYSTEM_ERROR;
    default:
        *remark = rc == RMQ_ERR_TOOBIG ? "the message is too large"
                                       : "the message is malformed";
        return RMQ_RESP_MESSAGE_ILLEGAL;
    }
}

/*
 * A client sending to %RETRY%<group> itself (ali-ons does when send-back
 * fails): past the group's max reconsume times it goes to %DLQ%<group>
 * queue 0 instead (spec 5.1 item 4).  dlq holds the new name.
 */
static void
send_retry_to_dlq(rmq_broker *b, struct send_req *r, char *dlq, size_t cap)
{
    const char     *group = r->topic + strlen(RMQ_RETRY_PREFIX);
    rmq_group_entry g;
    int32_t         max = 16;

    if (strncmp(r->topic, RMQ_RETRY_PREFIX, strlen(RMQ_RETRY_PREFIX)) != 0) {
        return;
    }
    if (rmq_ctl_group_find(b->ctl, group, &g) >= 0 && g.state == 1) {
        max = g.retry_max_times;
    }
    if (r->version >= 122 && r->max_reconsume >= 0) {
        max = r->max_reconsume;
    }
    if (r->reconsume >= max) {
        snprintf(dlq, cap, "%s%s", RMQ_DLQ_PREFIX, group);
        r->topic = dlq;
        r->queue_id = 0;
        r->sysflag &= ~RMQ_MSGF_TX_MASK;
    }
}

static void
send_execute(rmq_broker *b, rmq_conn *c, struct send_req *r, bool after_create)
{
    struct send_ctx x;
    const char     *remark = NULL;
    char            dlq[RMQ_TOPIC_NAME_MAX + 16];
    int             rc, code;

    send_retry_to_dlq(b, r, dlq, sizeof(dlq));
    memset(&x, 0, sizeof(x));
    x.b = b;
    x.c = c;
    x.r = r;
    if (send_check(b, c, r, &x, after_create) != 0) {
        return;
    }
    x.op = calloc(1, sizeof(*x.op));
    if (x.op == NULL) {
        rmq_broker_reply(b, c, r->opaque, r->oneway, RMQ_RESP_SYSTEM_BUSY,
                         "out of memory");
        return;
    }
    *x.op = (struct send_op){.conn_id = c->id,
                             .opaque = r->opaque,
                             .oneway = r->oneway,
                             .batch = r->batch,
                             .queue_id = r->queue_id,
                             .first_qoff = -1};
    rmq_buf_init(&x.op->ids);
    rmq_buf_init(&x.props);
    x.store_topic = r->topic;
    x.store_qid = r->queue_id;
    if (r->batch) {
        rc = send_encode_batch(&x);
    } else {
        rc = send_build_props(&x, r->props ? r->props : "",
                              r->props ? (uint32_t)strlen(r->props) : 0, NULL);
        if (rc == 0) {
            rc = send_encode_one(&x, r->body, r->body_len, r->flag);
        }
    }
    rmq_buf_free(&x.props);
    if (rc != 0 && x.op->nrec == 0) {
        code = send_error_code(rc, &remark);
        rmq_broker_reply(b, c, r->opaque, r->oneway, code, remark);
        rmq_buf_free(&x.op->ids);
        free(x.op);
        return;
    }
    /* a batch that failed half way is answered with the worst status */
    if (rc != 0) {
        x.op->status = RMQ_PUT_BAD_RECORD;
    }
    rmq_actor_count(b->self, RMQ_ACC_C_PUTS, x.op->nrec);
}

int
rmq_broker_put_record(rmq_broker *b, rmq_conn *c, int32_t opaque,
                      const rmq_rec_msg *m, int tidx, uint32_t flags)
{
    struct send_op *op = calloc(1, sizeof(*op));
    uint32_t        size;
    uint8_t        *dst;
    int             rc;

    if (op == NULL) {
        return RMQ_ERR_NOMEM;
    }
    *op = (struct send_op){.conn_id = c->id,
                           .opaque = opaque,
                           .plain = true,
                           .queue_id = m->queue_id,
                           .first_qoff = -1};
    rmq_buf_init(&op->ids);
    rc = rmq_rec_size(m, &size);
    if (rc == 0 && (dst = rmq_putc_reserve(&b->putc, size, &rc)) != NULL) {
        rc = rmq_rec_encode(m, dst, size, &size);
        if (rc == 0) {
            rc = rmq_putc_add(&b->putc, (uint32_t)tidx, m->queue_id, flags,
                              (uint64_t)(uintptr_t)op);
        }
        if (rc != 0) {
            rmq_putc_unreserve(&b->putc);
        }
    }
    if (rc != 0) {
        rmq_buf_free(&op->ids);
        free(op);
        return rc;
    }
    op->nrec = 1;
    return 0;
}

void
rmq_broker_send(rmq_broker *b, rmq_conn *c, const rmq_rcmd *cmd)
{
    struct send_req r;
    const char     *missing;

    if (send_parse(cmd, &r, &missing) != 0) {
        rmq_broker_replyf(b, c, cmd, RMQ_RESP_SYSTEM_ERROR,
                          "missing or bad field: %s", missing);
        return;
    }
    send_execute(b, c, &r, false);
}

/* ---- results ----------------------------------------------------------- */

static int
send_response_code(int32_t status, const char **remark)
{
    *remark = NULL;
    switch (status) {
    case RMQ_PUT_OK:
        return RMQ_RESP_SUCCESS;
    case RMQ_PUT_FLUSH_TIMEOUT:
        return RMQ_RESP_FLUSH_DISK_TIMEOUT;
    case RMQ_PUT_NO_TOPIC:
        *remark = "the topic was deleted";
        return RMQ_RESP_TOPIC_NOT_EXIST;
    case RMQ_PUT_BAD_RECORD:
        *remark = "the message is malformed";
        return RMQ_RESP_MESSAGE_ILLEGAL;
    default:
        *remark = "the message store is not available, try again";
        return RMQ_RESP_SERVICE_NOT_AVAILABLE;
    }
}

static void
send_answer(rmq_broker *b, struct send_op *op)
{
    rmq_conn    *c = rmq_conns_get(&b->conns, op->conn_id);
    rmq_rcmd_out o;
    char         qid[16], qoff[24];
    const char  *remark;
    int          code = send_response_code(op->status, &remark);

    if (c == NULL || op->oneway) {
        return;
    }
    rmq_rcmd_out_init(&o, code, op->opaque, RMQ_RFLAG_RESPONSE);
    o.remark = remark;
    if (op->plain && code == RMQ_RESP_FLUSH_DISK_TIMEOUT) {
        o.code = RMQ_RESP_SUCCESS; /* stored: the consumer need not care */
    }
    if (!op->plain &&
        (code == RMQ_RESP_SUCCESS || code == RMQ_RESP_FLUSH_DISK_TIMEOUT)) {
        snprintf(qid, sizeof(qid), "%d", op->queue_id);
        snprintf(qoff, sizeof(qoff), "%lld", (long long)op->first_qoff);
        rmq_rcmd_out_ext(&o, "msgId", rmq_buf_cstr(&op->ids));
        rmq_rcmd_out_ext(&o, "queueId", qid);
        rmq_rcmd_out_ext(&o, "queueOffset", qoff);
        rmq_rcmd_out_ext(&o, "MSG_REGION", "DefaultRegion");
        rmq_rcmd_out_ext(&o, "TRACE_ON", "true");
    }
    rmq_conn_send(c, &o, NULL, 0);
}

void
rmq_broker_put_done(void *arg, uint64_t cookie, const rmq_put_res *res)
{
    rmq_broker     *b = arg;
    struct send_op *op = (struct send_op *)(uintptr_t)cookie;
    char            id[RMQ_MSGID_CAP];

    if (res->status > op->status) {
        op->status = res->status;
    }
    if (res->status == RMQ_PUT_OK || res->status == RMQ_PUT_FLUSH_TIMEOUT) {
        if (op->first_qoff < 0) {
            op->first_qoff = res->queue_offset;
        }
        rmq_rec_msgid(b->host.ip, b->host.ip_len, b->host.port,
                      res->phys_offset, id);
        if (op->ids.len > 0) {
            rmq_buf_u8(&op->ids, ',');
        }
        rmq_buf_append_str(&op->ids, id);
        b->stats.put_msgs++;
    }
    if (++op->ndone < op->nrec) {
        return;
    }
    send_answer(b, op);
    rmq_buf_free(&op->ids);
    free(op);
}
