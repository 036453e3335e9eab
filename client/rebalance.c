/*
 * rebalance.c - the push consumer's queues (push.h): allocation of the
 * group's queues to its instances, a process queue per assigned queue
 * with its start offset and its long-polling pull loop, and offset
 * commits.  Runs on the consumer's I/O thread only, except
 * rmq_push_pq_release (any thread).  An orderly CLUSTERING consumer
 * starts a new process queue only once orderly.c got its lock.
 */
#include "client/push.h"

#include "client/alloc.h"
#include "client/cjson.h"
#include "client/record.h"
#include "common/util.h"
#include "proto/codes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RB_PULL_ERROR_DELAY_MS                                                 \
    3000 /* Java PULL_TIME_DELAY_MILLS_WHEN_EXCEPTION */
#define RB_FLOW_DELAY_MS 50
#define RB_FLOW_LOG_MS 10000
#define RB_PULL_TIMEOUT_MS                                                     \
    30000 /* Java CONSUMER_TIMEOUT_MILLIS_WHEN_SUSPEND                         \
           */

static void pq_pull(push_pq *pq);

/* ---- process queues ---------------------------------------------------- */

void
rmq_push_pq_release(push_pq *pq)
{
    if (pq != NULL && atomic_fetch_sub(&pq->refs, 1) == 1) {
        free(pq->offs);
        free(pq->done);
        free(pq);
    }
}

static push_pq *
pq_new(rmq_push_consumer *pc, push_sub *sub, const char *broker, int32_t qid)
{
    push_pq *pq = calloc(1, sizeof(*pq));

    if (pq == NULL) {
        return NULL;
    }
    atomic_init(&pq->refs, 1); /* the list */
    atomic_init(&pq->dropped, false);
    pq->pc = pc;
    pq->sub = sub;
    snprintf(pq->broker, sizeof(pq->broker), "%s", broker);
    pq->qid = qid;
    pq->next_offset = -1;
    pq->committed = -1;
    pq->locked = !rmq_ord_needs_lock(pc);
    pq->next = pc->pqs;
    pc->pqs = pq;
    return pq;
}

static push_pq *
pq_find(rmq_push_consumer *pc, const push_sub *sub, const char *broker,
        int32_t qid)
{
    for (push_pq *pq = pc->pqs; pq != NULL; pq = pq->next) {
        if (pq->sub == sub && pq->qid == qid &&
            strcmp(pq->broker, broker) == 0) {
            return pq;
        }
    }
    return NULL;
}

static void
pq_unlink(rmq_push_consumer *pc, push_pq *pq)
{
    push_pq **pp = &pc->pqs;

    while (*pp != NULL && *pp != pq) {
        pp = &(*pp)->next;
    }
    if (*pp == pq) {
        *pp = pq->next;
    }
}

static void
pq_cancel_timer(push_pq *pq)
{
    if (pq->timer != 0) {
        rmq_cio_cancel(pq->pc->core.io, pq->timer);
        pq->timer = 0;
        pq->pulling = false;
        rmq_push_pq_release(pq);
    }
}

/* ---- in-flight offsets ------------------------------------------------- */

/* Index of the first in-flight entry >= offset (len when none). */
static size_t
pq_find_offset(const push_pq *pq, int64_t offset)
{
    size_t lo = pq->head, hi = pq->len;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (pq->offs[mid] < offset) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

static int
pq_track_room(push_pq *pq)
{
    size_t   cap;
    int64_t *o;
    uint8_t *d;

    if (pq->head > 0 && pq->len == pq->cap) {
        /* compact: settled entries before head are gone for good */
        memmove(pq->offs, pq->offs + pq->head,
                (pq->len - pq->head) * sizeof(*pq->offs));
        memmove(pq->done, pq->done + pq->head, pq->len - pq->head);
        pq->len -= pq->head;
        pq->head = 0;
    }
    if (pq->len < pq->cap) {
        return 0;
    }
    cap = pq->cap ? pq->cap * 2 : 64;
    o = realloc(pq->offs, cap * sizeof(*o));
    if (o == NULL) {
        return RMQ_CLIENT_ERR_NOMEM;
    }
    pq->offs = o;
    d = realloc(pq->done, cap);
    if (d == NULL) {
        return RMQ_CLIENT_ERR_NOMEM;
    }
    pq->done = d;
    pq->cap = cap;
    return 0;
}

int
rmq_push_pq_track(push_pq *pq, int64_t offset)
{
    size_t at;

    if (pq->len > pq->head && pq->offs[pq->len - 1] >= offset) {
        at = pq_find_offset(pq, offset);
        if (at < pq->len && pq->offs[at] == offset) {
            return RMQ_CLIENT_ERR_INVALID;
        }
    }
    if (pq_track_room(pq) != 0) {
        return RMQ_CLIENT_ERR_NOMEM;
    }
    at = pq_find_offset(pq, offset);
    memmove(pq->offs + at + 1, pq->offs + at,
            (pq->len - at) * sizeof(*pq->offs));
    memmove(pq->done + at + 1, pq->done + at, pq->len - at);
    pq->offs[at] = offset;
    pq->done[at] = 0;
    pq->len++;
    pq->cached++;
    return 0;
}

void
rmq_push_pq_settle(push_pq *pq, int64_t offset)
{
    size_t lo = pq_find_offset(pq, offset);

    if (lo >= pq->len || pq->offs[lo] != offset || pq->done[lo]) {
        return;
    }
    pq->done[lo] = 1;
    pq->cached--;
    while (pq->head < pq->len && pq->done[pq->head]) {
        pq->head++;
    }
    if (pq->head == pq->len) {
        pq->head = pq->len = 0;
    }
}

int64_t
rmq_push_pq_consumed(const push_pq *pq)
{
    if (pq->head < pq->len) {
        return pq->offs[pq->head];
    }
    return pq->ready ? pq->next_offset : -1;
}

/* ---- offsets ----------------------------------------------------------- */

static push_offset *
local_find(rmq_push_consumer *pc, const push_pq *pq)
{
    for (size_t i = 0; i < pc->nlocal; i++) {
        push_offset *o = &pc->local[i];
        if (o->qid == pq->qid && strcmp(o->topic, pq->sub->topic) == 0 &&
            strcmp(o->broker, pq->broker) == 0) {
            return o;
        }
    }
    return NULL;
}

static void
local_store(rmq_push_consumer *pc, const push_pq *pq, int64_t offset)
{
    push_offset *o = local_find(pc, pq);

    if (o == NULL) {
        if (pc->nlocal == pc->local_cap) {
            size_t       cap = pc->local_cap ? pc->local_cap * 2 : 16;
            push_offset *a = realloc(pc->local, cap * sizeof(*a));
            if (a == NULL) {
                return;
            }
            pc->local = a;
            pc->local_cap = cap;
        }
        o = &pc->local[pc->nlocal];
        o->topic = strdup(pq->sub->topic);
        o->broker = strdup(pq->broker);
        if (o->topic == NULL || o->broker == NULL) {
            free(o->topic);
            free(o->broker);
            return;
        }
        o->qid = pq->qid;
        pc->nlocal++;
    }
    o->offset = offset;
}

const char *
rmq_push_pq_master(const push_pq *pq, char *buf, size_t cap)
{
    rmq_route  *r = rmq_core_route_get(&pq->pc->core, pq->sub->topic);
    const char *addr = r != NULL ? rmq_route_master(r, pq->broker) : NULL;

    if (addr != NULL) {
        snprintf(buf, cap, "%s", addr);
    }
    rmq_route_release(r);
    return addr != NULL ? buf : NULL;
}

void
rmq_push_pq_commit(rmq_push_consumer *pc, push_pq *pq)
{
    int64_t      off = rmq_push_pq_consumed(pq);
    char         addr[128], qid[16], offs[24];
    rmq_rcmd_out o;

    if (off < 0 || off == pq->committed) {
        return;
    }
    if (pc->opts.model == RMQ_MODEL_BROADCASTING) {
        local_store(pc, pq, off);
        pq->committed = off;
        return;
    }
    if (rmq_push_pq_master(pq, addr, sizeof(addr)) == NULL) {
        return;
    }
    snprintf(qid, sizeof(qid), "%d", pq->qid);
    snprintf(offs, sizeof(offs), "%lld", (long long)off);
    rmq_rcmd_out_init(&o, RMQ_REQ_UPDATE_CONSUMER_OFFSET, 0, 0);
    rmq_rcmd_out_ext(&o, "consumerGroup", pc->core.group);
    rmq_rcmd_out_ext(&o, "topic", pq->sub->topic);
    rmq_rcmd_out_ext(&o, "queueId", qid);
    rmq_rcmd_out_ext(&o, "commitOffset", offs);
    if (rmq_cio_oneway(pc->core.io, addr, &o, NULL, 0) == 0) {
        pq->committed = off;
    }
}

void
rmq_push_commit_all(rmq_push_consumer *pc)
{
    for (push_pq *pq = pc->pqs; pq != NULL; pq = pq->next) {
        rmq_push_pq_commit(pc, pq);
    }
}

/*
 * Rebalanced away: commit what was consumed, release the lock (orderly;
 * after the commit, so the next owner reads it) and forget the queue.
 * An orderly queue with a message still out finishes that later
 * (rmq_ord_leave).
 */
void
rmq_push_pq_remove(rmq_push_consumer *pc, push_pq *pq)
{
    atomic_store(&pq->dropped, true);
    pq->removed = true;
    pq_cancel_timer(pq);
    pq_unlink(pc, pq);
    rmq_clog(&pc->core.log, RMQ_CLIENT_LOG_INFO, "push.queue",
             "queue %s/%s/%d removed", pq->sub->topic, pq->broker, pq->qid);
    if (pc->opts.orderly && rmq_ord_leave(pq)) {
        return;
    }
    rmq_push_pq_commit(pc, pq);
    if (pc->opts.orderly) {
        rmq_ord_unlock_one(pq);
    }
    rmq_push_pq_release(pq);
}

void
rmq_push_drop_all(rmq_push_consumer *pc)
{
    for (push_pq *pq = pc->pqs; pq != NULL; pq = pq->next) {
        atomic_store(&pq->dropped, true);
        pq_cancel_timer(pq);
        rmq_ord_drop(pq);
    }
}

static void
pq_free_list(push_pq **list)
{
    while (*list != NULL) {
        push_pq *pq = *list;
        *list = pq->next;
        rmq_ord_drop(pq);
        rmq_push_pq_release(pq);
    }
}

void
rmq_push_free_all(rmq_push_consumer *pc)
{
    pq_free_list(&pc->pqs);
    pq_free_list(&pc->dying);
    for (size_t i = 0; i < pc->nlocal; i++) {
        free(pc->local[i].topic);
        free(pc->local[i].broker);
    }
    free(pc->local);
    pc->local = NULL;
    pc->nlocal = pc->local_cap = 0;
}

/* ---- start offsets ----------------------------------------------------- */

static void
pq_set_start(push_pq *pq, int64_t offset)
{
    pq->next_offset = offset;
    pq->ready = true;
    rmq_clog(&pq->pc->core.log, RMQ_CLIENT_LOG_INFO, "push.queue",
             "queue %s/%s/%d starts at offset %lld", pq->sub->topic, pq->broker,
             pq->qid, (long long)offset);
    pq_pull(pq);
}

/* Could not find where to start: forget the queue; the next rebalance
 * tries again. */
static void
pq_fail_start(push_pq *pq, const char *why)
{
    rmq_push_consumer *pc = pq->pc;

    rmq_clog(&pc->core.log, RMQ_CLIENT_LOG_WARN, "push.offset",
             "could not find the start offset of queue %s/%s/%d: %s",
             pq->sub->topic, pq->broker, pq->qid, why);
    if (!pq->removed && !atomic_load(&pq->dropped)) {
        rmq_push_pq_remove(pc, pq);
    }
}

static void
pq_on_offset(rmq_cio *io, int rc, const rmq_rcmd *resp, void *arg)
{
    push_pq *pq = arg;
    int64_t  off;

    if (atomic_load(&pq->dropped)) {
        rmq_push_pq_release(pq);
        return;
    }
    if (rc != 0) {
        pq_fail_start(pq, rmq_client_strerror(rc));
    } else if (resp->code != RMQ_RESP_SUCCESS ||
               rmq_rcmd_ext_i64(resp, "offset", &off) != 0) {
        pq_fail_start(pq, rmq_cerr_resp_name(resp->code));
    } else {
        pq_set_start(pq, off);
    }
    rmq_push_pq_release(pq);
}

/* Ask the master for the queue's max offset (code 30) or the offset of a
 * timestamp (code 29). */
static void
pq_ask_offset(push_pq *pq, int code)
{
    rmq_push_consumer *pc = pq->pc;
    char               addr[128], qid[16], ts[24];
    rmq_rcmd_out       o;

    if (rmq_push_pq_master(pq, addr, sizeof(addr)) == NULL) {
        pq_fail_start(pq, "no master in the route");
        return;
    }
    snprintf(qid, sizeof(qid), "%d", pq->qid);
    snprintf(ts, sizeof(ts), "%lld", (long long)pc->opts.consume_timestamp_ms);
    rmq_rcmd_out_init(&o, code, 0, 0);
    rmq_rcmd_out_ext(&o, "topic", pq->sub->topic);
    rmq_rcmd_out_ext(&o, "queueId", qid);
    if (code == RMQ_REQ_SEARCH_OFFSET_BY_TIMESTAMP) {
        rmq_rcmd_out_ext(&o, "timestamp", ts);
    }
    atomic_fetch_add(&pq->refs, 1);
    rmq_cio_call(pc->core.io, addr, &o, NULL, 0, pc->core.timeout_ms,
                 pq_on_offset, pq);
}

/* No stored offset: consumeFromWhere decides (Java
 * RebalancePushImpl.computePullFromWhere). */
static void
pq_from_where(push_pq *pq)
{
    rmq_push_consumer *pc = pq->pc;

    switch (pc->opts.consume_from) {
    case RMQ_CONSUME_FROM_FIRST_OFFSET:
        pq_set_start(pq, 0);
        break;
    case RMQ_CONSUME_FROM_TIMESTAMP:
        pq_ask_offset(pq, pq->sub->is_retry
                              ? RMQ_REQ_GET_MAX_OFFSET
                              : RMQ_REQ_SEARCH_OFFSET_BY_TIMESTAMP);
        break;
    default:
        if (pq->sub->is_retry) {
            pq_set_start(pq, 0);
        } else {
            pq_ask_offset(pq, RMQ_REQ_GET_MAX_OFFSET);
        }
    }
}

static void
pq_on_query(rmq_cio *io, int rc, const rmq_rcmd *resp, void *arg)
{
    push_pq *pq = arg;
    int64_t  off;

    if (atomic_load(&pq->dropped)) {
        rmq_push_pq_release(pq);
        return;
    }
    if (rc != 0) {
        pq_fail_start(pq, rmq_client_strerror(rc));
    } else if (resp->code == RMQ_RESP_SUCCESS &&
               rmq_rcmd_ext_i64(resp, "offset", &off) == 0 && off >= 0) {
        pq->committed = off;
        pq_set_start(pq, off);
    } else {
        /* 22 (none stored) or any broker error: Java reads -1 */
        pq_from_where(pq);
    }
    rmq_push_pq_release(pq);
}

void
rmq_push_pq_start(push_pq *pq)
{
    rmq_push_consumer *pc = pq->pc;
    char               addr[128], qid[16];
    rmq_rcmd_out       o;

    if (pc->opts.model == RMQ_MODEL_BROADCASTING) {
        push_offset *lo = local_find(pc, pq);
        if (lo != NULL) {
            pq_set_start(pq, lo->offset);
        } else {
            pq_from_where(pq);
        }
        return;
    }
    if (rmq_push_pq_master(pq, addr, sizeof(addr)) == NULL) {
        pq_fail_start(pq, "no master in the route");
        return;
    }
    snprintf(qid, sizeof(qid), "%d", pq->qid);
    rmq_rcmd_out_init(&o, RMQ_REQ_QUERY_CONSUMER_OFFSET, 0, 0);
    rmq_rcmd_out_ext(&o, "consumerGroup", pc->core.group);
    rmq_rcmd_out_ext(&o, "topic", pq->sub->topic);
    rmq_rcmd_out_ext(&o, "queueId", qid);
    if (pc->opts.consume_from == RMQ_CONSUME_FROM_TIMESTAMP &&
        !pq->sub->is_retry) {
        /* a broker answers 0 for a young queue the group never committed
         * (Java 4.x), which would start far before the timestamp; 5.x
         * brokers (and rmq) answer 22 instead when asked so, 4.x ones
         * ignore the field */
        rmq_rcmd_out_ext(&o, "setZeroIfNotFound", "false");
    }
    atomic_fetch_add(&pq->refs, 1);
    rmq_cio_call(pc->core.io, addr, &o, NULL, 0, pc->core.timeout_ms,
                 pq_on_query, pq);
}

/* ---- the pull loop ----------------------------------------------------- */

static void
pq_timer_fired(rmq_cio *io, void *arg)
{
    push_pq *pq = arg;

    pq->timer = 0;
    pq->pulling = false;
    if (!atomic_load(&pq->dropped)) {
        pq_pull(pq);
    }
    rmq_push_pq_release(pq);
}

static void
pq_pull_later(push_pq *pq, int64_t delay_ms)
{
    if (atomic_load(&pq->dropped) || pq->timer != 0) {
        return;
    }
    atomic_fetch_add(&pq->refs, 1);
    pq->pulling = true;
    pq->timer = rmq_cio_after(pq->pc->core.io, delay_ms, pq_timer_fired, pq);
}

/* A pulled message: filter, track, hand to a consume thread. */
static void
pq_take(push_pq *pq, rmq_message_ext *m)
{
    rmq_push_consumer *pc = pq->pc;
    const char        *rt;
    int                rc;

    if (!rmq_tagexpr_match(&pq->sub->expr, rmq_message_ext_get_tags(m)) ||
        m->queue_offset < pq->next_offset) {
        rmq_message_ext_free(m);
        return;
    }
    snprintf(m->broker_name, sizeof(m->broker_name), "%s", pq->broker);
    /* Java resetRetryAndNamespace: show the original topic */
    rt = rmq_plist_get(&m->props, RMQ_PROP_RETRY_TOPIC);
    if (pq->sub->is_retry && rt != NULL &&
        strcmp(m->topic, pc->retry_topic) == 0) {
        rmq_msgext_set_topic(m, rt);
    }
    rc = rmq_push_pq_track(pq, m->queue_offset);
    if (rc != 0) {
        if (rc == RMQ_CLIENT_ERR_NOMEM) {
            rmq_clog(&pc->core.log, RMQ_CLIENT_LOG_ERROR, "push.track",
                     "out of memory tracking a message: it will come again");
        }
        rmq_message_ext_free(m); /* or already in flight */
        return;
    }
    if (pc->opts.orderly) {
        rmq_ord_take(pq, m);
    } else {
        rmq_push_dispatch(pq, m);
    }
}

static void
pq_found(push_pq *pq, const rmq_rcmd *resp)
{
    rmq_message_ext **msgs;
    size_t            n, skipped;

    if (rmq_records_decode(resp->body, resp->body_len, &msgs, &n, &skipped) !=
        0) {
        return;
    }
    if (skipped > 0) {
        rmq_clog(&pq->pc->core.log, RMQ_CLIENT_LOG_WARN, "push.decode",
                 "%zu record(s) pulled from %s/%s/%d could not be decoded",
                 skipped, pq->sub->topic, pq->broker, pq->qid);
    }
    for (size_t i = 0; i < n; i++) {
        pq_take(pq, msgs[i]);
    }
    free(msgs);
}

static void
pq_on_pull(rmq_cio *io, int rc, const rmq_rcmd *resp, void *arg)
{
    push_pq           *pq = arg;
    rmq_push_consumer *pc = pq->pc;
    int64_t            next;

    pq->pulling = false;
    if (atomic_load(&pq->dropped)) {
        rmq_push_pq_release(pq);
        return;
    }
    if (rc != 0 || rmq_rcmd_ext_i64(resp, "nextBeginOffset", &next) != 0 ||
        (resp->code != RMQ_RESP_SUCCESS &&
         resp->code != RMQ_RESP_PULL_NOT_FOUND &&
         resp->code != RMQ_RESP_PULL_RETRY_IMMEDIATELY &&
         resp->code != RMQ_RESP_PULL_OFFSET_MOVED)) {
        rmq_clog(&pc->core.log, RMQ_CLIENT_LOG_INFO, "push.pull",
                 "pull from %s/%s/%d failed: %s%s%s", pq->sub->topic,
                 pq->broker, pq->qid,
                 rc != 0 ? rmq_client_strerror(rc)
                         : rmq_cerr_resp_name(resp->code),
                 rc == 0 && resp->remark ? ": " : "",
                 rc == 0 && resp->remark ? resp->remark : "");
        pq_pull_later(pq, RB_PULL_ERROR_DELAY_MS);
        rmq_push_pq_release(pq);
        return;
    }
    if (resp->code == RMQ_RESP_SUCCESS) {
        pq_found(pq, resp);
    } else if (resp->code == RMQ_RESP_PULL_OFFSET_MOVED) {
        rmq_clog(&pc->core.log, RMQ_CLIENT_LOG_WARN, "push.offset",
                 "offset %lld of %s/%s/%d is illegal: moving to %lld",
                 (long long)pq->next_offset, pq->sub->topic, pq->broker,
                 pq->qid, (long long)next);
    }
    pq->next_offset = next;
    pq_pull(pq);
    rmq_push_pq_release(pq);
}

static void
pq_pull_ext(push_pq *pq, rmq_rcmd_out *o, char (*s)[24])
{
    rmq_push_consumer *pc = pq->pc;
    int64_t            commit = rmq_push_pq_consumed(pq);
    int                sysflag = RMQ_PULL_SUSPEND | RMQ_PULL_SUBSCRIPTION;

    if (pc->opts.model == RMQ_MODEL_CLUSTERING && commit > 0) {
        sysflag |= RMQ_PULL_COMMIT_OFFSET;
    }
    snprintf(s[0], 24, "%d", pq->qid);
    snprintf(s[1], 24, "%lld", (long long)pq->next_offset);
    snprintf(s[2], 24, "%d", pc->opts.pull_batch_size);
    snprintf(s[3], 24, "%d", sysflag);
    snprintf(s[4], 24, "%lld", (long long)(commit > 0 ? commit : 0));
    snprintf(s[5], 24, "%d", pc->opts.suspend_ms);
    snprintf(s[6], 24, "%lld", (long long)pq->sub->version);
    rmq_rcmd_out_init(o, RMQ_REQ_PULL_MESSAGE, 0, 0);
    rmq_rcmd_out_ext(o, "consumerGroup", pc->core.group);
    rmq_rcmd_out_ext(o, "topic", pq->sub->topic);
    rmq_rcmd_out_ext(o, "queueId", s[0]);
    rmq_rcmd_out_ext(o, "queueOffset", s[1]);
    rmq_rcmd_out_ext(o, "maxMsgNums", s[2]);
    rmq_rcmd_out_ext(o, "sysFlag", s[3]);
    rmq_rcmd_out_ext(o, "commitOffset", s[4]);
    rmq_rcmd_out_ext(o, "suspendTimeoutMillis", s[5]);
    rmq_rcmd_out_ext(o, "subscription", pq->sub->expr.text);
    rmq_rcmd_out_ext(o, "subVersion", s[6]);
    rmq_rcmd_out_ext(o, "expressionType", "TAG");
}

static void
pq_pull(push_pq *pq)
{
    rmq_push_consumer *pc = pq->pc;
    char               addr[128], s[7][24];
    rmq_rcmd_out       o;
    int64_t            now;

    if (atomic_load(&pq->dropped) || !pq->ready || pq->pulling) {
        return;
    }
    if (pq->cached > (size_t)pc->opts.max_cached_per_queue) {
        now = rmq_mono_ms();
        if (now - pq->flow_logged_ms > RB_FLOW_LOG_MS) {
            pq->flow_logged_ms = now;
            rmq_clog(&pc->core.log, RMQ_CLIENT_LOG_INFO, "push.flow",
                     "queue %s/%s/%d holds %zu unconsumed messages: pulls "
                     "pause",
                     pq->sub->topic, pq->broker, pq->qid, pq->cached);
        }
        pq_pull_later(pq, RB_FLOW_DELAY_MS);
        return;
    }
    if (rmq_push_pq_master(pq, addr, sizeof(addr)) == NULL) {
        pq_pull_later(pq, RB_PULL_ERROR_DELAY_MS);
        return;
    }
    pq_pull_ext(pq, &o, s);
    atomic_fetch_add(&pq->refs, 1);
    pq->pulling = true;
    rmq_cio_call(pc->core.io, addr, &o, NULL, 0,
                 RMQ_MAX(RB_PULL_TIMEOUT_MS, pc->opts.suspend_ms + 5000),
                 pq_on_pull, pq);
}

/* ---- allocation -------------------------------------------------------- */

typedef struct rb_ctx {
    push_sub  *sub;
    rmq_route *route;
} rb_ctx;

static void rb_after_heartbeat(rmq_core *c, int failures,
                               const rmq_error *first, void *arg);

static void
rb_done(push_sub *sub)
{
    sub->rebalancing = false;
    sub->hb_asked = false;
    if (sub->again && !sub->pc->stopping) {
        sub->again = false;
        rmq_push_rebalance_sub(sub);
    }
}

static bool
rb_assigned(const rmq_route *r, size_t start, size_t count, const char *broker,
            int32_t qid)
{
    for (size_t i = 0; i < count; i++) {
        const rmq_mq *mq = &r->sub[(start + i) % r->nsub];
        if (mq->qid == qid && strcmp(mq->broker, broker) == 0) {
            return true;
        }
    }
    return false;
}

/* A queue newly assigned: start it, or (orderly CLUSTERING) leave it
 * waiting for its lock.  Returns whether it waits. */
static bool
rb_add(push_sub *sub, const rmq_mq *mq)
{
    rmq_push_consumer *pc = sub->pc;
    push_pq           *pq, *dying;

    if (pq_find(pc, sub, mq->broker, mq->qid) != NULL) {
        return false;
    }
    dying = rmq_ord_dying_find(pc, sub, mq->broker, mq->qid);
    if (dying != NULL) {
        /* its last owner here still has a message out: taking it again
         * now could consume two messages of the queue at once */
        dying->rewanted = true;
        return false;
    }
    pq = pq_new(pc, sub, mq->broker, mq->qid);
    if (pq == NULL) {
        return false; /* the next rebalance tries again */
    }
    rmq_clog(&pc->core.log, RMQ_CLIENT_LOG_INFO, "push.queue",
             "queue %s/%s/%d assigned%s", sub->topic, mq->broker, mq->qid,
             pq->locked ? "" : ", waiting for its lock");
    if (pq->locked) {
        rmq_push_pq_start(pq);
        return false;
    }
    return true;
}

/* Make this subscription's process queues the given share of r->sub. */
static void
rb_apply(push_sub *sub, const rmq_route *r, size_t start, size_t count)
{
    rmq_push_consumer *pc = sub->pc;
    push_pq           *pq, *next;
    bool               waiting = false;

    for (pq = pc->pqs; pq != NULL; pq = next) {
        next = pq->next;
        if (pq->sub == sub &&
            !rb_assigned(r, start, count, pq->broker, pq->qid)) {
            rmq_push_pq_remove(pc, pq);
        }
    }
    for (size_t i = 0; i < count; i++) {
        waiting |= rb_add(sub, &r->sub[(start + i) % r->nsub]);
    }
    if (waiting) {
        rmq_ord_lock(pc, false);
    }
}

static int
rb_index(char **ids, size_t n, const char *me)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(ids[i], me) == 0) {
            return (int)i;
        }
    }
    return -1;
}

/*
 * The broker does not know this client (yet, or any more: its rebalancer
 * restarted, or the first heartbeat was lost): heartbeat now and look
 * again, once per rebalance, rather than drop every queue or get nothing
 * until the next periodic heartbeat.  Ends ctx; false when this round
 * already asked (the caller goes on).
 */
static bool
rb_register_again(rb_ctx *ctx, const char *why)
{
    push_sub          *sub = ctx->sub;
    rmq_push_consumer *pc = sub->pc;

    if (sub->hb_asked) {
        return false;
    }
    rmq_clog(&pc->core.log, RMQ_CLIENT_LOG_INFO, "push.rebalance",
             "%s: heartbeat, then rebalance topic %s again", why, sub->topic);
    sub->hb_asked = true;
    rmq_route_release(ctx->route);
    free(ctx);
    rmq_push_heartbeat(pc, rb_after_heartbeat, sub);
    return true;
}

static void
rb_on_cids(rmq_cio *io, int rc, const rmq_rcmd *resp, void *arg)
{
    rb_ctx            *ctx = arg;
    push_sub          *sub = ctx->sub;
    rmq_push_consumer *pc = sub->pc;
    char             **ids = NULL;
    size_t             n = 0, start, count;
    int                me;

    if (pc->stopping) {
        goto done;
    }
    if (rc == 0 && resp->code != RMQ_RESP_SUCCESS &&
        rb_register_again(ctx, "the broker lists no consumer of the group")) {
        return;
    }
    if (rc != 0 || resp->code != RMQ_RESP_SUCCESS ||
        rmq_cjson_consumer_ids(resp->body, resp->body_len, &ids, &n) != 0) {
        rmq_clog(&pc->core.log, RMQ_CLIENT_LOG_WARN, "push.rebalance",
                 "could not list the consumers of the group for topic %s: "
                 "%s%s%s",
                 sub->topic,
                 rc != 0 ? rmq_client_strerror(rc)
                         : rmq_cerr_resp_name(resp->code),
                 rc == 0 && resp->remark != NULL ? ": " : "",
                 rc == 0 && resp->remark != NULL ? resp->remark : "");
        goto done;
    }
    rmq_alloc_sort_ids(ids, n);
    me = rb_index(ids, n, pc->core.client_id);
    if (me < 0) {
        if (rb_register_again(ctx, "this client is not among the consumers "
                                   "of the group")) {
            rmq_cjson_ids_free(ids, n);
            return;
        }
        rmq_clog(&pc->core.log, RMQ_CLIENT_LOG_INFO, "push.rebalance",
                 "this client is not (yet) among the %zu consumers of the "
                 "group",
                 n);
    }
    rmq_alloc_average(ctx->route->nsub, n, me < 0 ? n : (size_t)me, &start,
                      &count);
    rb_apply(sub, ctx->route, start, count);

done:
    rmq_cjson_ids_free(ids, n);
    rmq_route_release(ctx->route);
    free(ctx);
    rb_done(sub);
}

/* Java findBrokerAddrByTopic: any broker of the topic; take the first
 * one with a master. */
static const char *
rb_any_master(const rmq_route *r)
{
    for (size_t i = 0; i < r->nbrokers; i++) {
        const char *addr = rmq_route_master(r, r->brokers[i].name);
        if (addr != NULL) {
            return addr;
        }
    }
    return NULL;
}

static void
rb_on_route(rmq_core *c, int rc, rmq_route *route, const rmq_error *err,
            void *arg)
{
    push_sub          *sub = arg;
    rmq_push_consumer *pc = sub->pc;
    const char        *addr;
    rb_ctx            *ctx;
    rmq_rcmd_out       o;

    if (pc->stopping || rc != 0) {
        if (rc != 0) {
            rmq_clog(&c->log,
                     sub->is_retry ? RMQ_CLIENT_LOG_DEBUG : RMQ_CLIENT_LOG_INFO,
                     "push.rebalance", "%s", err ? err->message : "no route");
        }
        rb_done(sub);
        return;
    }
    if (!rmq_push_heartbeat_covers(pc, route)) {
        /* a topic whose brokers never heard from us (created after start):
         * they must know this consumer before they can list it */
        rmq_push_heartbeat(pc, rb_after_heartbeat, sub);
        return;
    }
    if (pc->opts.model == RMQ_MODEL_BROADCASTING) {
        rb_apply(sub, route, 0, route->nsub);
        rb_done(sub);
        return;
    }
    addr = rb_any_master(route);
    ctx = calloc(1, sizeof(*ctx));
    if (addr == NULL || ctx == NULL) {
        free(ctx);
        rb_done(sub);
        return;
    }
    rmq_route_retain(route);
    ctx->sub = sub;
    ctx->route = route;
    rmq_rcmd_out_init(&o, RMQ_REQ_GET_CONSUMER_LIST_BY_GROUP, 0, 0);
    rmq_rcmd_out_ext(&o, "consumerGroup", c->group);
    rmq_cio_call(c->io, addr, &o, NULL, 0, c->timeout_ms, rb_on_cids, ctx);
}

/* The heartbeat a new route called for is done: look again. */
static void
rb_after_heartbeat(rmq_core *c, int failures, const rmq_error *first, void *arg)
{
    push_sub *sub = arg;

    if (sub->pc->stopping) {
        rb_done(sub);
        return;
    }
    rmq_core_route(c, sub->topic, false, rb_on_route, sub);
}

void
rmq_push_rebalance_sub(push_sub *sub)
{
    if (sub->rebalancing) {
        sub->again = true;
        return;
    }
    sub->rebalancing = true;
    rmq_core_route(&sub->pc->core, sub->topic, false, rb_on_route, sub);
}

void
rmq_push_rebalance_all(rmq_push_consumer *pc)
{
    if (pc->stopping) {
        return;
    }
    for (size_t i = 0; i < pc->nsubs; i++) {
        rmq_push_rebalance_sub(&pc->subs[i]);
    }
}
