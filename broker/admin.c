/*
 * admin.c - topic administration in the acceptor: UPDATE_AND_CREATE_TOPIC
 * (17), DELETE_TOPIC_IN_BROKER (215), GET_ALL_TOPIC_CONFIG (21) and
 * GET_TOPIC_STATS_INFO (202).  Creating and deleting are clwriter's job
 * (it owns the topic table): the request is parked until its
 * TOPIC_RESULT comes back, then answered; the name servers hear about the
 * change at once (the registration is poked).
 */
#include "broker/broker.h"

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "proto/codes.h"
#include "store/topics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
admin_resume(rmq_broker *b, rmq_parked *p, int status)
{
    rmq_conn *c = rmq_conns_get(&b->conns, p->conn_id);

    if (c != NULL) {
        bool ok = status == 0 || (p->code == RMQ_REQ_DELETE_TOPIC_IN_BROKER &&
                                  status == RMQ_ERR_NOTFOUND);
        rmq_broker_reply(b, c, p->opaque, false,
                         ok ? RMQ_RESP_SUCCESS : RMQ_RESP_SYSTEM_ERROR,
                         ok ? NULL : rmq_strerror(status));
    }
    free(p);
}

static void
admin_park(rmq_broker *b, rmq_conn *c, const rmq_rcmd *cmd, uint64_t seq)
{
    rmq_parked *p;

    if (seq == 0) {
        rmq_broker_replyf(b, c, cmd, RMQ_RESP_SYSTEM_BUSY,
                          "[REJECTREQUEST]the store is not ready");
        return;
    }
    p = calloc(1, sizeof(*p));
    if (p == NULL) {
        return;
    }
    p->topic_seq = seq;
    p->conn_id = c->id;
    p->opaque = cmd->opaque;
    p->code = cmd->code;
    p->resume = admin_resume;
    rmq_broker_park(b, p);
}

void
rmq_broker_create_topic(rmq_broker *b, rmq_conn *c, const rmq_rcmd *cmd)
{
    const char *topic = rmq_rcmd_ext(cmd, "topic");
    const char *filter = rmq_rcmd_ext(cmd, "topicFilterType");
    int32_t     rq = 16, wq = 16, perm = 6, sysflag = 0;
    uint32_t    flags = 0;

    if (topic == NULL ||
        rmq_rcmd_ext_i32(cmd, "readQueueNums", &rq) == RMQ_ERR_INVAL ||
        rmq_rcmd_ext_i32(cmd, "writeQueueNums", &wq) == RMQ_ERR_INVAL ||
        rmq_rcmd_ext_i32(cmd, "perm", &perm) == RMQ_ERR_INVAL) {
        rmq_broker_replyf(b, c, cmd, RMQ_RESP_SYSTEM_ERROR,
                          "missing or bad field: topic, readQueueNums, "
                          "writeQueueNums or perm");
        return;
    }
    rmq_rcmd_ext_i32(cmd, "topicSysFlag", &sysflag);
    if (!rmq_topic_name_valid(topic, strlen(topic)) ||
        strcmp(topic, b->cfg->broker.cluster_name) == 0) {
        rmq_broker_replyf(b, c, cmd, RMQ_RESP_SYSTEM_ERROR,
                          "the topic[%s] is not valid or conflicts with a "
                          "system name",
                          topic);
        return;
    }
    if (rq < 1 || wq < 1 || rq > RMQ_TOPIC_QUEUES_MAX ||
        wq > RMQ_TOPIC_QUEUES_MAX || perm < 0 || perm > 15) {
        rmq_broker_replyf(b, c, cmd, RMQ_RESP_SYSTEM_ERROR,
                          "queue counts must be 1..%d and perm 0..15",
                          RMQ_TOPIC_QUEUES_MAX);
        return;
    }
    if (rmq_rcmd_ext_bool(cmd, "order")) {
        flags |= RMQ_TOPIC_F_ORDER;
    }
    if (filter != NULL && strcmp(filter, "MULTI_TAG") == 0) {
        flags |= RMQ_TOPIC_F_MULTI_TAG;
    }
    (void)sysflag;
    admin_park(b, c, cmd,
               rmq_broker_topic_request(b, topic, rq, wq, perm, flags, false));
}

void
rmq_broker_delete_topic(rmq_broker *b, rmq_conn *c, const rmq_rcmd *cmd)
{
    const char *topic = rmq_rcmd_ext(cmd, "topic");

    if (topic == NULL) {
        rmq_broker_replyf(b, c, cmd, RMQ_RESP_SYSTEM_ERROR,
                          "missing field: topic");
        return;
    }
    admin_park(b, c, cmd, rmq_broker_topic_request(b, topic, 1, 1, 0, 0, true));
}

void
rmq_broker_all_topics(rmq_broker *b, rmq_conn *c, const rmq_rcmd *cmd)
{
    rmq_buf_reset(&b->scratch);
    if (rmq_reg_topics_json(b->ctl, false, &b->scratch) != 0) {
        rmq_broker_replyf(b, c, cmd, RMQ_RESP_SYSTEM_ERROR, "out of memory");
        return;
    }
    rmq_broker_reply_body(b, c, cmd, &b->scratch);
}

/* TopicStatsTable with fastjson's MessageQueue object keys (spec 1.4). */
void
rmq_broker_topic_stats(rmq_broker *b, rmq_conn *c, const rmq_rcmd *cmd)
{
    const char     *topic = rmq_rcmd_ext(cmd, "topic");
    rmq_topic_entry t;
    rmq_buf        *out = &b->scratch;

    if (topic == NULL || rmq_broker_topic(b, topic, &t) < 0) {
        rmq_broker_replyf(b, c, cmd, RMQ_RESP_TOPIC_NOT_EXIST,
                          "topic[%s] not exist", topic ? topic : "");
        return;
    }
    rmq_buf_reset(out);
    rmq_buf_append_str(out, "{\"offsetTable\":{");
    for (int32_t q = 0; q < t.write_queues && (uint32_t)q < t.queue_cap; q++) {
        const rmq_queue_d *qd = &b->ctl->qd[t.queue_base + (uint32_t)q];
        rmq_buf_printf(
            out,
            "%s{\"brokerName\":\"%s\",\"queueId\":%d,\"topic\":\"%s\"}:"
            "{\"lastUpdateTimestamp\":%lld,\"maxOffset\":%lld,"
            "\"minOffset\":%lld}",
            q ? "," : "", b->cfg->broker.broker_name, q, t.name,
            (long long)atomic_load(&qd->last_store_ms),
            (long long)atomic_load(&qd->max_offset),
            (long long)atomic_load(&qd->min_offset));
    }
    rmq_buf_append_str(out, "}}");
    rmq_broker_reply_body(b, c, cmd, out);
}
