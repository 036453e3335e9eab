/*
 * sendback.c - CONSUMER_SEND_MSG_BACK (36) in the acceptor (spec remoting
 * 5.5): a consumer failed a message; store a copy for redelivery.
 *
 * The original record is read from the commit log at the offset the
 * consumer names.  If it was consumed fewer times than the group allows
 * (maxReconsumeTimes from a version >= 122 client, else the group's
 * retryMaxTimes, 16 by default), the copy goes to %RETRY%<group> through
 * delay level 3 + reconsumeTimes (or the level asked for), i.e. into
 * SCHEDULE_TOPIC_XXXX until the scheduler delivers it; otherwise, or for
 * a negative level, to %DLQ%<group> queue 0 at once.  The copy keeps body,
 * flag, sysFlag, born time and host; reconsumeTimes + 1; properties
 * RETRY_TOPIC (the first topic), ORIGIN_MESSAGE_ID (the first delivery's
 * id) and RECONSUME_TIME.  Missing retry/DLQ topics are created first
 * (the request waits for clwriter).
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

#define SB_DEFAULT_MAX_TIMES 16
#define SB_FIRST_RETRY_LEVEL 3

struct sb_req {
    int32_t opaque;
    int32_t version;
    int64_t offset;
    int32_t delay_level;
    int32_t max_reconsume; /* -1: not given */
    char    group[RMQ_GROUP_NAME_MAX];
    char    origin_id[128];
};

/* What the group allows, with Java's defaults when it is not known. */
struct sb_group {
    int32_t retry_queues;
    int32_t max_times;
};

static void sb_execute(rmq_broker *b, rmq_conn *c, struct sb_req *r,
                       bool after_create);

static void
sb_resume(rmq_broker *b, rmq_parked *p, int status)
{
    struct sb_req *r = p->state;
    rmq_conn      *c = rmq_conns_get(&b->conns, p->conn_id);

    if (c != NULL) {
        if (status != 0) {
            rmq_broker_reply(b, c, r->opaque, false, RMQ_RESP_SYSTEM_ERROR,
                             "could not create the retry topic");
        } else {
            sb_execute(b, c, r, true);
        }
    }
    free(r);
    free(p);
}

/* Create topic (1..n queues, perm) and run the request again after. */
static void
sb_create_and_park(rmq_broker *b, rmq_conn *c, const struct sb_req *r,
                   const char *topic, int32_t queues, int32_t perm)
{
    uint64_t seq =
        rmq_broker_topic_request(b, topic, queues, queues, perm, 0, false);
    rmq_parked    *p = calloc(1, sizeof(*p));
    struct sb_req *copy = malloc(sizeof(*copy));

    if (seq == 0 || p == NULL || copy == NULL) {
        free(p);
        free(copy);
        rmq_broker_reply(b, c, r->opaque, false, RMQ_RESP_SYSTEM_BUSY,
                         "[REJECTREQUEST]the store is not ready");
        return;
    }
    *copy = *r;
    p->topic_seq = seq;
    p->conn_id = c->id;
    p->opaque = r->opaque;
    p->code = RMQ_REQ_CONSUMER_SEND_MSG_BACK;
    p->state = copy;
    p->resume = sb_resume;
    rmq_broker_park(b, p);
}

/* 0, or a response code (*remark set) when the group may not send back. */
static int
sb_group(rmq_broker *b, const char *name, struct sb_group *g,
         const char **remark)
{
    rmq_group_entry e;

    g->retry_queues = 1;
    g->max_times = SB_DEFAULT_MAX_TIMES;
    if (rmq_ctl_group_find(b->ctl, name, &e) >= 0 && e.state == 1) {
        g->retry_queues = e.retry_queue_nums;
        g->max_times = e.retry_max_times;
    } else if (!b->cfg->broker.auto_create_group) {
        *remark = "subscription group not exist";
        return RMQ_RESP_SUBSCRIPTION_GROUP_NOT_EXIST;
    }
    if (!(b->cfg->broker.broker_permission & RMQ_PERM_WRITE)) {
        *remark = "the broker sending message is forbidden";
        return RMQ_RESP_NO_PERMISSION;
    }
    return 0;
}

/* The copy's properties: first topic, first id, count, delay. */
static int
sb_props(rmq_broker *b, const struct sb_req *r, const rmq_rec_view *v,
         const char *target, int32_t qid, int level, rmq_buf *out,
         rmq_delay_target *dt)
{
    rmq_props p;
    char      topic[RMQ_TOPIC_NAME_MAX], id[RMQ_MSGID_CAP], times[16];
    char      lvl[16];
    int       rc = rmq_props_parse(v->props, v->props_len, &p);
    uint32_t  n;

    if (rc != 0) {
        return rc;
    }
    snprintf(topic, sizeof(topic), "%.*s", (int)v->topic_len, v->topic);
    snprintf(times, sizeof(times), "%d", v->reconsume_times + 1);
    snprintf(lvl, sizeof(lvl), "%d", level);
    if (rmq_props_get(&p, "RETRY_TOPIC", &n) == NULL) {
        rmq_props_set(&p, "RETRY_TOPIC", topic);
    }
    if (rmq_props_get(&p, "ORIGIN_MESSAGE_ID", &n) == NULL) {
        if (r->origin_id[0] == '\0') {
            rmq_rec_msgid(v->store_ip, v->store_ip_len, v->store_port,
                          v->phys_offset, id);
        }
        rmq_props_set(&p, "ORIGIN_MESSAGE_ID",
                      r->origin_id[0] ? r->origin_id : id);
    }
    rmq_props_set(&p, "RECONSUME_TIME", times);
    rmq_props_del(&p, "DELAY");
    if (level > 0) {
        rmq_props_set(&p, "DELAY", lvl);
    }
    rc = rmq_delay_rewrite(&p, target, (uint32_t)strlen(target), qid,
                           v->sysflag, b->cfg->broker.delay_level_count, dt);
    if (rc == 0) {
        rmq_props_write(&p, out);
    }
    return rc;
}

static int
sb_store(rmq_broker *b, rmq_conn *c, const struct sb_req *r,
         const rmq_rec_view *v, const char *target, int32_t qid, int level)
{
    rmq_delay_target dt;
    rmq_rec_msg      m;
    rmq_topic_entry  t;
    rmq_buf          props;
    int              tidx, rc;

    rmq_buf_init(&props);
    rc = sb_props(b, r, v, target, qid, level, &props, &dt);
    memset(&m, 0, sizeof(m));
    m.topic = dt.level > 0 ? dt.topic : target;
    m.topic_len = (uint32_t)strlen(m.topic);
    m.queue_id = dt.level > 0 ? dt.queue_id : qid;
    tidx = rmq_broker_topic(b, m.topic, &t);
    if (rc == 0 && tidx < 0) {
        rc = RMQ_ERR_NOTFOUND;
    }
    m.flag = v->flag;
    m.sysflag =
        v->sysflag & ~(uint32_t)(RMQ_MSGF_BORNHOST_V6 | RMQ_MSGF_STOREHOST_V6);
    m.born_ts = v->born_ts;
    memcpy(m.born_ip, v->born_ip, v->born_ip_len);
    m.born_ip_len = v->born_ip_len;
    m.born_port = v->born_port;
    memcpy(m.store_ip, b->host.ip, sizeof(m.store_ip));
    m.store_ip_len = b->host.ip_len;
    m.store_port = b->host.port;
    m.reconsume_times = v->reconsume_times + 1;
    m.body = v->body;
    m.body_len = v->body_len;
    m.body_crc = v->body_crc;
    m.props = (const char *)props.data;
    m.props_len = (uint32_t)props.len;
    if (rc == 0) {
        rc = rmq_broker_put_record(b, c, r->opaque, &m, tidx, 0);
    }
    rmq_buf_free(&props);
    return rc;
}

static void
sb_execute(rmq_broker *b, rmq_conn *c, struct sb_req *r, bool after_create)
{
    char            target[RMQ_TOPIC_NAME_MAX];
    struct sb_group g;
    rmq_topic_entry t;
    rmq_rec_view    v;
    const char     *remark = NULL;
    int64_t         written =
        atomic_load_explicit(&b->ctl->pos->cl_written, memory_order_acquire);
    bool dlq;
    int  code, rc, level;

    code = sb_group(b, r->group, &g, &remark);
    if (code != 0 || g.retry_queues <= 0) {
        rmq_broker_reply(b, c, r->opaque, false, code, remark);
        return; /* retryQueueNums <= 0: the group wants no retries */
    }
    if (r->offset < 0 ||
        rmq_cl_read(&b->cl, r->offset, written, false, &v) != 0 ||
        v.kind != RMQ_REC_MSG) {
        rmq_broker_reply(b, c, r->opaque, false, RMQ_RESP_SYSTEM_ERROR,
                         "look message by offset failed");
        return;
    }
    dlq = r->delay_level < 0 ||
          v.reconsume_times >= ((r->version >= 122 && r->max_reconsume >= 0)
                                    ? r->max_reconsume
                                    : g.max_times);
    snprintf(target, sizeof(target), "%s%s",
             dlq ? RMQ_DLQ_PREFIX : RMQ_RETRY_PREFIX, r->group);
    if (rmq_broker_topic(b, target, &t) < 0) {
        if (after_create) {
            rmq_broker_reply(b, c, r->opaque, false, RMQ_RESP_SYSTEM_ERROR,
                             "the retry topic is missing");
        } else {
            /* DLQ write-only as the issue asks (RocketMQ's PERM_WRITE) */
            sb_create_and_park(b, c, r, target, dlq ? 1 : g.retry_queues,
                               dlq ? RMQ_PERM_WRITE
                                   : RMQ_PERM_READ | RMQ_PERM_WRITE);
        }
        return;
    }
    level =
        dlq ? 0
            : (r->delay_level > 0 ? r->delay_level
                                  : SB_FIRST_RETRY_LEVEL + v.reconsume_times);
    rc = sb_store(b, c, r, &v, target,
                  dlq ? 0 : (int32_t)(b->rr++ % (uint32_t)t.write_queues),
                  level);
    if (rc != 0) {
        rmq_broker_reply(b, c, r->opaque, false, RMQ_RESP_SYSTEM_BUSY,
                         rc == RMQ_ERR_FULL ? "[REJECTREQUEST]system busy"
                                            : "could not store the message");
    }
}

void
rmq_broker_send_back(rmq_broker *b, rmq_conn *c, const rmq_rcmd *cmd)
{
    struct sb_req r;
    const char   *group = rmq_rcmd_ext(cmd, "group");
    const char   *origin = rmq_rcmd_ext(cmd, "originMsgId");

    memset(&r, 0, sizeof(r));
    r.opaque = cmd->opaque;
    r.version = cmd->version;
    r.max_reconsume = -1;
    if (group == NULL || !rmq_strlcpy(r.group, group, sizeof(r.group)) ||
        rmq_rcmd_ext_i64(cmd, "offset", &r.offset) != 0 ||
        rmq_rcmd_ext_i32(cmd, "delayLevel", &r.delay_level) != 0) {
        rmq_broker_replyf(b, c, cmd, RMQ_RESP_SYSTEM_ERROR,
                          "missing or bad field: group, offset or delayLevel");
        return;
    }
    rmq_rcmd_ext_i32(cmd, "maxReconsumeTimes", &r.max_reconsume);
    if (origin != NULL) {
        rmq_strlcpy(r.origin_id, origin, sizeof(r.origin_id));
    }
    sb_execute(b, c, &r, false);
}
