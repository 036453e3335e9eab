/*
 * query.c - read-only questions about the store, answered by the
 * acceptor from the control segment and the store mappings:
 * GET_MAX_OFFSET (30), GET_MIN_OFFSET (31), SEARCH_OFFSET_BY_TIMESTAMP
 * (29), GET_EARLIEST_MSG_STORETIME (32), VIEW_MESSAGE_BY_ID (33) and
 * GET_BROKER_RUNTIME_INFO (28).
 */
#include "broker/broker.h"

#include "common/err.h"
#include "common/json.h"
#include "common/log.h"
#include "common/util.h"
#include "proto/codes.h"
#include "store/topics.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>

/* The topic/queue of a query, or a response code (and a remark). */
static int
query_queue(rmq_broker *b, const rmq_rcmd *cmd, rmq_topic_entry *t,
            int32_t *qid, rmq_queue_d **qd)
{
    const char *topic = rmq_rcmd_ext(cmd, "topic");

    *qd = NULL;
    if (topic == NULL || rmq_rcmd_ext_i32(cmd, "queueId", qid) != 0) {
        return RMQ_RESP_SYSTEM_ERROR;
    }
    if (rmq_broker_topic(b, topic, t) >= 0 && *qid >= 0 &&
        (uint32_t)*qid < t->queue_cap) {
        *qd = &b->ctl->qd[t->queue_base + (uint32_t)*qid];
    }
    return RMQ_RESP_SUCCESS;
}

static void
query_reply_value(rmq_broker *b, rmq_conn *c, const rmq_rcmd *cmd,
                  const char *key, int64_t value)
{
    rmq_rcmd_out o;
    char         v[24];

    if (cmd->flag & RMQ_RFLAG_ONEWAY) {
        return;
    }
    snprintf(v, sizeof(v), "%lld", (long long)value);
    rmq_rcmd_out_init(&o, RMQ_RESP_SUCCESS, cmd->opaque, RMQ_RFLAG_RESPONSE);
    rmq_rcmd_out_ext(&o, key, v);
    rmq_conn_send(c, &o, NULL, 0);
}

void
rmq_broker_get_offset(rmq_broker *b, rmq_conn *c, const rmq_rcmd *cmd)
{
    rmq_topic_entry t;
    rmq_queue_d    *qd;
    int32_t         qid;
    int64_t         v = 0;

    if (query_queue(b, cmd, &t, &qid, &qd) != RMQ_RESP_SUCCESS) {
        rmq_broker_replyf(b, c, cmd, RMQ_RESP_SYSTEM_ERROR,
                          "missing field: topic or queueId");
        return;
    }
    if (qd != NULL) {
        v = cmd->code == RMQ_REQ_GET_MAX_OFFSET
                ? atomic_load_explicit(&qd->max_offset, memory_order_acquire)
                : atomic_load(&qd->min_offset);
    }
    query_reply_value(b, c, cmd, "offset", v);
}

/* Store time of the message at queue offset idx, or -1. */
static int64_t
query_store_time(rmq_broker *b, rmq_cq *cq, int64_t idx)
{
    rmq_cq_entry e;
    rmq_rec_view v;
    int64_t      written =
        atomic_load_explicit(&b->ctl->pos->cl_written, memory_order_acquire);

    if (rmq_cq_get(cq, idx, &e) != 0 || !rmq_cq_entry_is_valid(&e) ||
        rmq_cq_entry_is_placeholder(&e) ||
        rmq_cl_read(&b->cl, e.offset, written, false, &v) != 0 ||
        v.kind != RMQ_REC_MSG) {
        return -1;
    }
    return v.store_ts;
}

int64_t
rmq_broker_offset_by_time(rmq_broker *b, const rmq_topic_entry *t,
                          int32_t queue_id, int64_t ts_ms)
{
    rmq_queue_d *qd = &b->ctl->qd[t->queue_base + (uint32_t)queue_id];
    int64_t      lo = atomic_load(&qd->min_offset);
    int64_t hi = atomic_load_explicit(&qd->max_offset, memory_order_acquire);
    rmq_cq *cq;

    if (hi <= lo || rmq_cq_cache_get(&b->cqs, t->name, strlen(t->name),
                                     queue_id, &cq) != 0) {
        return hi > 0 ? hi : 0;
    }
    /* first offset stored at or after ts: store times grow with offsets */
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        int64_t st = query_store_time(b, cq, mid);
        if (st >= 0 && st >= ts_ms) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    return lo;
}

void
rmq_broker_search_offset(rmq_broker *b, rmq_conn *c, const rmq_rcmd *cmd)
{
    rmq_topic_entry t;
    rmq_queue_d    *qd;
    int32_t         qid;
    int64_t         ts;

    if (query_queue(b, cmd, &t, &qid, &qd) != RMQ_RESP_SUCCESS ||
        rmq_rcmd_ext_i64(cmd, "timestamp", &ts) != 0) {
        rmq_broker_replyf(b, c, cmd, RMQ_RESP_SYSTEM_ERROR,
                          "missing field: topic, queueId or timestamp");
        return;
    }
    query_reply_value(b, c, cmd, "offset",
                      qd ? rmq_broker_offset_by_time(b, &t, qid, ts) : 0);
}

void
rmq_broker_earliest_time(rmq_broker *b, rmq_conn *c, const rmq_rcmd *cmd)
{
    rmq_topic_entry t;
    rmq_queue_d    *qd;
    rmq_cq         *cq;
    int32_t         qid;
    int64_t         ts = -1;

    if (query_queue(b, cmd, &t, &qid, &qd) != RMQ_RESP_SUCCESS) {
        rmq_broker_replyf(b, c, cmd, RMQ_RESP_SYSTEM_ERROR,
                          "missing field: topic or queueId");
        return;
    }
    if (qd != NULL &&
        atomic_load(&qd->max_offset) > atomic_load(&qd->min_offset) &&
        rmq_cq_cache_get(&b->cqs, t.name, strlen(t.name), qid, &cq) == 0) {
        ts = query_store_time(b, cq, atomic_load(&qd->min_offset));
    }
    query_reply_value(b, c, cmd, "timestamp", ts);
}

void
rmq_broker_view_message(rmq_broker *b, rmq_conn *c, const rmq_rcmd *cmd)
{
    int64_t off;
    int64_t written =
        atomic_load_explicit(&b->ctl->pos->cl_written, memory_order_acquire);
    rmq_rec_view v;
    rmq_rcmd_out o;
    struct iovec iov;

    if (rmq_rcmd_ext_i64(cmd, "offset", &off) != 0) {
        rmq_broker_replyf(b, c, cmd, RMQ_RESP_SYSTEM_ERROR,
                          "missing field: offset");
        return;
    }
    if (off < 0 || rmq_cl_read(&b->cl, off, written, false, &v) != 0 ||
        v.kind != RMQ_REC_MSG) {
        rmq_broker_replyf(b, c, cmd, RMQ_RESP_SYSTEM_ERROR,
                          "no message at offset %lld", (long long)off);
        return;
    }
    rmq_rcmd_out_init(&o, RMQ_RESP_SUCCESS, cmd->opaque, RMQ_RFLAG_RESPONSE);
    iov.iov_base = (void *)v.rec;
    iov.iov_len = v.total_size;
    rmq_conn_sendv(c, &o, &iov, 1);
}

static double
query_disk_ratio(const char *path)
{
    struct statvfs s;

    if (statvfs(path, &s) != 0 || s.f_blocks == 0) {
        return 0.0;
    }
    return 1.0 - (double)s.f_bavail / (double)s.f_blocks;
}

static void query_kv(json_t *t, const char *k, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
query_kv(json_t *t, const char *k, const char *fmt, ...)
{
    char    v[128];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(v, sizeof(v), fmt, ap);
    va_end(ap);
    json_object_set_new(t, k, json_string(v));
}

static int64_t
query_earliest_store_ms(rmq_broker *b)
{
    int64_t      min = atomic_load(&b->ctl->pos->cl_min_offset);
    int64_t      written = atomic_load(&b->ctl->pos->cl_written);
    rmq_cl_iter  it;
    rmq_rec_view v;
    int64_t      off;

    rmq_cl_iter_init(&it, &b->cl, min, written, false);
    return rmq_cl_iter_next(&it, &v, &off) == 0 ? v.store_ts : -1;
}

void
rmq_broker_runtime_info(rmq_broker *b, rmq_conn *c, const rmq_rcmd *cmd)
{
    const rmq_stats     *s = &b->stats;
    const rmq_store_pos *p = b->ctl->pos;
    json_t              *t = json_object();
    char                 tps[96];

    query_kv(t, "brokerVersionDesc", "V4_9_8");
    query_kv(t, "brokerVersion", "410");
    query_kv(t, "bootTimestamp", "%lld", (long long)s->boot_ms);
    query_kv(t, "msgPutTotalTodayNow", "%llu", (unsigned long long)s->put_msgs);
    query_kv(t, "msgGetTotalTodayNow", "%llu", (unsigned long long)s->get_msgs);
    query_kv(t, "msgPutTotalTodayMorning", "%llu",
             (unsigned long long)s->put_today_morning);
    query_kv(t, "msgGetTotalTodayMorning", "%llu",
             (unsigned long long)s->get_today_morning);
    query_kv(t, "msgPutTotalYesterdayMorning", "%llu",
             (unsigned long long)s->put_yesterday_morning);
    query_kv(t, "msgGetTotalYesterdayMorning", "%llu",
             (unsigned long long)s->get_yesterday_morning);
    rmq_stats_tps(s, true, tps, sizeof(tps));
    query_kv(t, "putTps", "%s", tps);
    rmq_stats_tps(s, false, tps, sizeof(tps));
    query_kv(t, "getTransferedTps", "%s", tps);
    query_kv(t, "getTotalTps", "%s", tps);
    query_kv(t, "getFoundTps", "%s", tps);
    query_kv(t, "getMissTps", "0.00 0.00 0.00");
    query_kv(t, "commitLogMinOffset", "%lld",
             (long long)RMQ_MAX(atomic_load(&p->cl_min_offset), 0));
    query_kv(t, "commitLogMaxOffset", "%lld",
             (long long)RMQ_MAX(atomic_load(&p->cl_written), 0));
    query_kv(t, "dispatchBehindBytes", "%lld",
             (long long)RMQ_MAX(
                 atomic_load(&p->cl_written) - atomic_load(&p->dispatched), 0));
    query_kv(t, "earliestMessageTimeStamp", "%lld",
             (long long)query_earliest_store_ms(b));
    query_kv(t, "commitLogDiskRatio", "%.4f",
             query_disk_ratio(b->cfg->broker.store_root));
    query_kv(t, "consumeQueueDiskRatio", "%.4f",
             query_disk_ratio(b->cfg->broker.store_root));
    query_kv(t, "putMessageTimesTotal", "%llu",
             (unsigned long long)s->put_msgs);
    query_kv(t, "pageCacheLockTimeMills", "0");
    query_kv(t, "remainTransientStoreBufferNumbs", "0");
    query_kv(t, "scheduleMessageOffset", "%lld",
             (long long)atomic_load(&p->delay_pending));
    query_kv(t, "sendThreadPoolQueueSize", "0");
    query_kv(t, "pullThreadPoolQueueSize", "0");
    rmq_buf_reset(&b->scratch);
    if (rmq_json_append(&b->scratch, json_pack("{s:o}", "table", t),
                        JSON_COMPACT) != 0) {
        rmq_buf_reset(&b->scratch);
        rmq_buf_append_str(&b->scratch, "{}");
    }
    rmq_broker_reply_body(b, c, cmd, &b->scratch);
}
