/*
 * pull.c - PULL_MESSAGE (11) in the acceptor (spec remoting 5.2, store 12).
 *
 * Reads consume-queue entries and the records they point to straight from
 * read-only mappings of the store files, filters by tag hash, and writes
 * the records to the socket from the mapping (writev over iovecs into the
 * commit log: no copy).  A pull that finds nothing new, with the SUSPEND
 * flag, is held: the acceptor keeps the parsed request and tells the
 * longpoll actor (LP_HOLD), which wakes it (LP_WAKE) when the dispatcher
 * reports that the queue grew, or at its deadline; the pull then runs
 * once more and is answered whatever it finds.  A safety sweep re-runs
 * held pulls whose wake never came (longpoll restarting).
 */
#include "broker/broker.h"

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "proto/catalog.h"
#include "proto/codes.h"
#include "store/topics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#define PULL_TAGS_MAX 64
#define PULL_SCAN_MIN 800         /* entries scanned per pull, at least */
#define PULL_SUSPEND_MAX_MS 25000 /* clients give up at 30 s */
#define PULL_SAFETY_MS 3000       /* after the deadline, without a wake */

enum pull_status {
    PULL_FOUND,
    PULL_NO_MATCHED,
    PULL_NO_MESSAGE_IN_QUEUE,
    PULL_OFFSET_TOO_SMALL,
    PULL_OFFSET_OVERFLOW_ONE,
    PULL_OFFSET_OVERFLOW_BADLY,
    PULL_OFFSET_FOUND_NULL,
};

static const char *const pull_status_names[] = {"FOUND",
                                                "NO_MATCHED_MESSAGE",
                                                "NO_MESSAGE_IN_QUEUE",
                                                "OFFSET_TOO_SMALL",
                                                "OFFSET_OVERFLOW_ONE",
                                                "OFFSET_OVERFLOW_BADLY",
                                                "OFFSET_FOUND_NULL"};

/* A tag expression: "*" (everything) or "A || B" as Java hash codes. */
struct pull_filter {
    bool    all;
    int     n;
    int32_t codes[PULL_TAGS_MAX];
};

struct held_pull {
    rmq_pull_req r;
    int64_t      deadline_ms; /* monotonic: when longpoll should wake it */
    bool         local;       /* not with longpoll: our sweep answers it */
};

/* What a store lookup found. */
struct pull_result {
    int          status;
    int64_t      next, min, max;
    struct iovec iov[RMQ_PUT_BATCH_MAX];
    int          niov;
    uint32_t     msgs;
    uint64_t     bytes;
};

static int
pull_parse_filter(const char *expr, struct pull_filter *f)
{
    const char *p = expr;

    memset(f, 0, sizeof(*f));
    while (*p == ' ') {
        p++;
    }
    if (*p == '\0' || strcmp(p, "*") == 0) {
        f->all = true;
        return 0;
    }
    while (*p != '\0') {
        const char *end = strstr(p, "||");
        size_t      len = end ? (size_t)(end - p) : strlen(p);
        while (len > 0 && p[len - 1] == ' ') {
            len--;
        }
        while (len > 0 && *p == ' ') {
            p++;
            len--;
        }
        if (len > 0) {
            if (f->n == PULL_TAGS_MAX) {
                return RMQ_ERR_TOOBIG;
            }
            f->codes[f->n++] = rmq_java_hash(p, len);
        }
        p = end ? end + 2 : p + strlen(p);
    }
    f->all = f->n == 0;
    return 0;
}

static bool
pull_match(const struct pull_filter *f, int64_t tags_code)
{
    if (f->all) {
        return true;
    }
    for (int i = 0; i < f->n; i++) {
        if (f->codes[i] == (int32_t)tags_code) {
            return true;
        }
    }
    return false;
}

static int
pull_parse(const rmq_rcmd *cmd, const rmq_conn *c, rmq_pull_req *r,
           const char **bad)
{
    const char *group = rmq_rcmd_ext(cmd, "consumerGroup");
    const char *topic = rmq_rcmd_ext(cmd, "topic");
    const char *sub = rmq_rcmd_ext(cmd, "subscription");
    const char *etype = rmq_rcmd_ext(cmd, "expressionType");

    memset(r, 0, sizeof(*r));
    r->conn_id = c->id;
    r->opaque = cmd->opaque;
    *bad = group == NULL ? "consumerGroup" : topic == NULL ? "topic" : NULL;
    if (*bad != NULL || !rmq_strlcpy(r->group, group, sizeof(r->group)) ||
        !rmq_strlcpy(r->topic, topic, sizeof(r->topic))) {
        *bad = *bad ? *bad : "consumerGroup or topic";
        return RMQ_ERR_INVAL;
    }
    if (rmq_rcmd_ext_i32(cmd, "queueId", &r->queue_id) != 0 ||
        rmq_rcmd_ext_i64(cmd, "queueOffset", &r->offset) != 0 ||
        rmq_rcmd_ext_i32(cmd, "maxMsgNums", &r->max_msgs) != 0 ||
        rmq_rcmd_ext_i32(cmd, "sysFlag", &r->sysflag) != 0) {
        *bad = "queueId, queueOffset, maxMsgNums or sysFlag";
        return RMQ_ERR_INVAL;
    }
    rmq_rcmd_ext_i64(cmd, "commitOffset", &r->commit_offset);
    if (rmq_rcmd_ext_i64(cmd, "suspendTimeoutMillis", &r->suspend_ms) != 0) {
        r->suspend_ms = 15000;
    }
    rmq_rcmd_ext_i64(cmd, "subVersion", &r->sub_version);
    r->has_expr = sub != NULL;
    if (sub != NULL && !rmq_strlcpy(r->expr, sub, sizeof(r->expr))) {
        *bad = "subscription (too long)";
        return RMQ_ERR_INVAL;
    }
    r->expr_sql = etype != NULL && strcmp(etype, "SQL92") == 0;
    return 0;
}

/* Group, topic, queue and subscription checks: 0 or a response code. */
static int
pull_check(rmq_broker *b, const rmq_pull_req *r, rmq_topic_entry *t, int *tidx,
           struct pull_filter *f, const char **remark)
{
    rmq_group_entry g;
    rmq_sub_entry   sub;
    int             gidx = rmq_ctl_group_find(b->ctl, r->group, &g);
    const char     *expr = r->expr;

    *remark = NULL;
    if (!(b->cfg->broker.broker_permission & RMQ_PERM_READ)) {
        *remark = "the broker pulling message is forbidden";
        return RMQ_RESP_NO_PERMISSION;
    }
    if (gidx < 0 && !b->cfg->broker.auto_create_group) {
        *remark = "subscription group not exist";
        return RMQ_RESP_SUBSCRIPTION_GROUP_NOT_EXIST;
    }
    if (gidx >= 0 && (g.state != 1 || !g.consume_enable)) {
        *remark = "subscription group no permission";
        return RMQ_RESP_NO_PERMISSION;
    }
    *tidx = rmq_broker_topic(b, r->topic, t);
    if (*tidx < 0) {
        *remark = "topic not exist, apply first please!";
        return RMQ_RESP_TOPIC_NOT_EXIST;
    }
    if (!(t->perm & RMQ_PERM_READ)) {
        *remark = "the topic pulling message is forbidden";
        return RMQ_RESP_NO_PERMISSION;
    }
    if (r->queue_id < 0 || r->queue_id >= t->read_queues ||
        (uint32_t)r->queue_id >= t->queue_cap) {
        *remark = "queueId is illegal";
        return RMQ_RESP_SYSTEM_ERROR;
    }
    if (!(r->sysflag & RMQ_PULL_SUBSCRIPTION)) {
        /* no subscription in the request: the one from the heartbeat */
        if (gidx < 0 || rmq_ctl_sub_find(b->ctl, gidx, r->topic, &sub) < 0) {
            *remark = "the consumer's subscription not exist";
            return RMQ_RESP_SUBSCRIPTION_NOT_EXIST;
        }
        if (sub.sub_version < r->sub_version) {
            *remark = "the consumer's subscription not latest";
            return RMQ_RESP_SUBSCRIPTION_NOT_LATEST;
        }
        expr = sub.expr;
    }
    if (r->expr_sql) {
        *remark = "SQL92 filtering is not supported by this broker";
        return RMQ_RESP_SUBSCRIPTION_PARSE_FAILED;
    }
    if (pull_parse_filter(expr, f) != 0) {
        *remark = "cannot parse the subscription";
        return RMQ_RESP_SUBSCRIPTION_PARSE_FAILED;
    }
    return RMQ_RESP_SUCCESS;
}

/* Add one record to the response, merging with the previous when adjacent. */
static void
pull_add(struct pull_result *res, const uint8_t *p, uint32_t len)
{
    struct iovec *last = res->niov ? &res->iov[res->niov - 1] : NULL;

    if (last && (const uint8_t *)last->iov_base + last->iov_len == p) {
        last->iov_len += len;
    } else {
        res->iov[res->niov].iov_base = (void *)p;
        res->iov[res->niov].iov_len = len;
        res->niov++;
    }
    res->msgs++;
    res->bytes += len;
}

/* Walk entries from the request offset, collecting matching records. */
static void
pull_scan(rmq_broker *b, const rmq_pull_req *r, const struct pull_filter *f,
          rmq_cq *cq, struct pull_result *res)
{
    const rmq_broker_config *bc = &b->cfg->broker;
    uint32_t                 want =
        (uint32_t)RMQ_MIN(RMQ_MAX(r->max_msgs, 1),
                          RMQ_MIN(bc->max_transfer_count, RMQ_PUT_BATCH_MAX));
    int64_t written =
        atomic_load_explicit(&b->ctl->pos->cl_written, memory_order_acquire);
    int64_t idx = r->offset;
    int64_t scan_end = RMQ_MIN(res->max, idx + RMQ_MAX(PULL_SCAN_MIN, want));

    while (idx < scan_end && res->msgs < want) {
        const uint8_t *p;
        uint32_t       n;

        if (rmq_cq_entries(cq, idx, (uint32_t)(scan_end - idx), &p, &n) != 0) {
            break;
        }
        for (uint32_t i = 0; i < n && res->msgs < want; i++, idx++) {
            rmq_cq_entry e;
            rmq_rec_view v;
            rmq_cq_entry_decode(p + (size_t)i * RMQ_CQ_ENTRY_SIZE, &e);
            if (rmq_cq_entry_is_placeholder(&e) ||
                !pull_match(f, e.tags_code)) {
                continue;
            }
            if (res->msgs > 0 && res->bytes + (uint32_t)e.size >
                                     (uint64_t)bc->max_transfer_bytes) {
                scan_end = idx; /* full: this one starts the next pull */
                break;
            }
            if (rmq_cl_read(&b->cl, e.offset, written, false, &v) == 0 &&
                v.kind == RMQ_REC_MSG) {
                pull_add(res, v.rec, v.total_size);
            }
        }
    }
    res->next = idx;
    res->status = res->msgs > 0 ? PULL_FOUND : PULL_NO_MATCHED;
}

static void
pull_lookup(rmq_broker *b, const rmq_pull_req *r, const rmq_topic_entry *t,
            const struct pull_filter *f, struct pull_result *res)
{
    rmq_queue_d *qd = &b->ctl->qd[t->queue_base + (uint32_t)r->queue_id];
    rmq_cq      *cq;

    res->max = atomic_load_explicit(&qd->max_offset, memory_order_acquire);
    res->min = atomic_load(&qd->min_offset);
    res->niov = 0;
    res->msgs = 0;
    res->bytes = 0;
    if (res->max == 0) {
        res->status = PULL_NO_MESSAGE_IN_QUEUE;
        res->next = 0;
    } else if (r->offset < res->min) {
        res->status = PULL_OFFSET_TOO_SMALL;
        res->next = res->min;
    } else if (r->offset == res->max) {
        res->status = PULL_OFFSET_OVERFLOW_ONE;
        res->next = r->offset;
    } else if (r->offset > res->max) {
        res->status = PULL_OFFSET_OVERFLOW_BADLY;
        res->next = res->max;
    } else if (rmq_cq_cache_get(&b->cqs, r->topic, strlen(r->topic),
                                r->queue_id, &cq) != 0) {
        res->status = PULL_OFFSET_FOUND_NULL;
        res->next = r->offset;
    } else {
        pull_scan(b, r, f, cq, res);
    }
}

static int
pull_code(const rmq_pull_req *r, int status)
{
    switch (status) {
    case PULL_FOUND:
        return RMQ_RESP_SUCCESS;
    case PULL_NO_MATCHED:
        return RMQ_RESP_PULL_RETRY_IMMEDIATELY;
    case PULL_NO_MESSAGE_IN_QUEUE:
        return r->offset != 0 ? RMQ_RESP_PULL_OFFSET_MOVED
                              : RMQ_RESP_PULL_NOT_FOUND;
    case PULL_OFFSET_OVERFLOW_ONE:
    case PULL_OFFSET_FOUND_NULL:
        return RMQ_RESP_PULL_NOT_FOUND;
    default:
        return RMQ_RESP_PULL_OFFSET_MOVED;
    }
}

static void
pull_respond(rmq_broker *b, rmq_conn *c, const rmq_pull_req *r,
             const struct pull_result *res, int code)
{
    rmq_rcmd_out o;
    char         next[24], min[24], max[24];

    snprintf(next, sizeof(next), "%lld", (long long)res->next);
    snprintf(min, sizeof(min), "%lld", (long long)res->min);
    snprintf(max, sizeof(max), "%lld", (long long)res->max);
    rmq_rcmd_out_init(&o, code, r->opaque, RMQ_RFLAG_RESPONSE);
    o.remark = pull_status_names[res->status];
    rmq_rcmd_out_ext(&o, "nextBeginOffset", next);
    rmq_rcmd_out_ext(&o, "minOffset", min);
    rmq_rcmd_out_ext(&o, "maxOffset", max);
    rmq_rcmd_out_ext(&o, "suggestWhichBrokerId", "0");
    rmq_conn_sendv(c, &o, res->iov, res->niov);
    b->stats.get_msgs += res->msgs;
    b->stats.get_bytes += res->bytes;
    rmq_actor_count(b->self, RMQ_ACC_C_MSGS_OUT, res->msgs);
}

static void
pull_hold(rmq_broker *b, rmq_conn *c, const rmq_pull_req *r, uint32_t tidx)
{
    struct held_pull *h = malloc(sizeof(*h));
    rmq_msg_lp_hold   m;
    int64_t           now = rmq_mono_ms();
    int64_t           wait = b->cfg->broker.long_polling_enable
                                 ? RMQ_MIN(r->suspend_ms, PULL_SUSPEND_MAX_MS)
                                 : b->cfg->broker.short_polling_ms;

    if (h == NULL) {
        return;
    }
    h->r = *r;
    h->deadline_ms = now + RMQ_MAX(wait, 0);
    h->local = false;
    m.hold_id = ++b->hold_seq;
    m.topic_idx = tidx;
    m.queue_id = r->queue_id;
    m.offset = r->offset;
    m.deadline_ms = h->deadline_ms;
    if (rmq_u64map_put(&b->held, m.hold_id, h) != 0) {
        free(h);
        return;
    }
    rmq_buf_reset(&b->scratch);
    rmq_msg_lp_hold_encode(&m, &b->scratch);
    if (!b->cfg->broker.long_polling_enable ||
        rmq_ctl_actor_ready(b->ctl, RMQ_ACTOR_LONGPOLL) == 0 ||
        rmq_ipc_send(&b->to_longpoll, &b->scratch) != 0) {
        /* no long-poll service: our own sweep answers at the deadline */
        h->deadline_ms = now + RMQ_MIN(wait, b->cfg->broker.short_polling_ms);
        h->local = true;
    }
    rmq_actor_gauge(b->self, RMQ_ACC_C_HELD, b->held.n);
    (void)c;
}

/* Run a pull; rerun: woken from a hold (never holds again, no commit). */
static void
pull_execute(rmq_broker *b, rmq_conn *c, const rmq_pull_req *r, bool rerun)
{
    static struct pull_result res; /* one thread: keep it off the stack */
    struct pull_filter        f;
    rmq_topic_entry           t;
    const char               *remark;
    int                       tidx, code;

    code = pull_check(b, r, &t, &tidx, &f, &remark);
    if (code != RMQ_RESP_SUCCESS) {
        rmq_broker_reply(b, c, r->opaque, false, code, remark);
        return;
    }
    if (!rerun && (r->sysflag & RMQ_PULL_COMMIT_OFFSET) &&
        r->commit_offset >= 0) {
        rmq_broker_forward_commit(b, c, r->group, r->topic, r->queue_id,
                                  r->commit_offset);
    }
    pull_lookup(b, r, &t, &f, &res);
    code = pull_code(r, res.status);
    if (code == RMQ_RESP_PULL_NOT_FOUND && !rerun &&
        (r->sysflag & RMQ_PULL_SUSPEND)) {
        pull_hold(b, c, r, (uint32_t)tidx);
        return;
    }
    pull_respond(b, c, r, &res, code);
}

void
rmq_broker_pull(rmq_broker *b, rmq_conn *c, const rmq_rcmd *cmd)
{
    rmq_pull_req r;
    const char  *bad;

    rmq_actor_count(b->self, RMQ_ACC_C_PULLS, 1);
    if (pull_parse(cmd, c, &r, &bad) != 0) {
        rmq_broker_replyf(b, c, cmd, RMQ_RESP_SYSTEM_ERROR,
                          "missing or bad field: %s", bad);
        return;
    }
    pull_execute(b, c, &r, false);
}

static void
pull_wake(rmq_broker *b, uint64_t id)
{
    struct held_pull *h = rmq_u64map_del(&b->held, id);
    rmq_conn         *c;

    if (h == NULL) {
        return; /* answered already, or from a previous acceptor */
    }
    c = rmq_conns_get(&b->conns, h->r.conn_id);
    if (c != NULL) {
        pull_execute(b, c, &h->r, true);
    }
    free(h);
}

void
rmq_broker_on_lp_wake(rmq_broker *b, const void *msg, size_t len)
{
    static rmq_msg_lp_wake w;

    if (rmq_msg_lp_wake_decode(msg, len, &w) != 0) {
        rmq_log(RMQ_LOG_WARN, "acc.wake", "malformed long-poll wake");
        return;
    }
    for (uint32_t i = 0; i < w.n; i++) {
        pull_wake(b, w.ids[i]);
    }
    rmq_actor_gauge(b->self, RMQ_ACC_C_HELD, b->held.n);
}

void
rmq_broker_held_sweep(rmq_broker *b, int64_t now_ms)
{
    uint64_t due[256];
    uint32_t n = 0;
    size_t   pos = 0;
    void    *val;
    uint64_t id;

    while (n < RMQ_ARRAY_LEN(due) &&
           (id = rmq_u64map_next(&b->held, &pos, &val)) != 0) {
        const struct held_pull *h = val;
        if (now_ms >= h->deadline_ms + (h->local ? 0 : PULL_SAFETY_MS) ||
            rmq_conns_get(&b->conns, h->r.conn_id) == NULL) {
            due[n++] = id;
        }
    }
    for (uint32_t i = 0; i < n; i++) {
        pull_wake(b, due[i]);
    }
}
