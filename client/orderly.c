/*
 * orderly.c - orderly consumption for the push consumer (push.h; Java's
 * MessageListenerOrderly).  A process queue's messages go to the consume
 * threads one at a time, in queue-offset order, so each queue is consumed
 * by at most one thread at a time while different queues go in parallel.
 * In CLUSTERING a queue is pulled and consumed only while this client
 * holds its lock on the broker (LOCK_BATCH_MQ 41 / UNLOCK_BATCH_MQ 42,
 * spec remoting 3 and 4.2; the broker's lease is 60 s).
 *
 * Locks.  A queue a rebalance assigns waits (no offset query, no pull)
 * until a LOCK_BATCH_MQ grants it; waiting queues are asked for again
 * every second, and every queue is locked again every 20 s (one request
 * per broker with all its queues).  A lock not renewed for 30 s stops
 * consumption: the broker keeps it 60 s, so no one else can have it yet.
 * A renewal the broker refuses means another client holds the queue: it
 * is removed (its offset committed) and its subscription rebalanced, so
 * it waits for its lock again.  A queue rebalanced away commits its
 * offset and then unlocks, on the same connection, so the next owner
 * reads that offset once it gets the lock; at shutdown every lock goes
 * after the final commit.  A lock granted to a queue this client no
 * longer has (removed while the request was out) is released at once.
 *
 * Failures: see rmq_consume_fn in rmq/client.h (suspend, consume again,
 * then the DLQ with delay level -1).
 *
 * Runs on the consumer's I/O thread only; the callback itself runs on a
 * consume thread (push.c).
 */
#include "client/push.h"

#include "client/cjson.h"
#include "common/util.h"
#include "proto/codes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ORD_LOCK_INTERVAL_MS 20000 /* Java REBALANCE_LOCK_INTERVAL */
#define ORD_LOCK_RETRY_MS 1000     /* queues still waiting for their lock */
#define ORD_LOCK_LIVE_MS 30000     /* Java REBALANCE_LOCK_MAX_LIVE_TIME */

bool
rmq_ord_needs_lock(const rmq_push_consumer *pc)
{
    return pc->opts.orderly && pc->opts.model == RMQ_MODEL_CLUSTERING;
}

/* ---- one queue, one message at a time ---------------------------------- */

static bool
ord_may_consume(const push_pq *pq)
{
    if (atomic_load(&pq->dropped)) {
        return false;
    }
    if (!rmq_ord_needs_lock(pq->pc)) {
        return true;
    }
    return pq->locked && rmq_mono_ms() - pq->lock_ms <= ORD_LOCK_LIVE_MS;
}

/* Hand the head message to a consume thread if the queue may go on. */
static void
ord_kick(push_pq *pq)
{
    push_task *t = pq->ord_head;

    if (t == NULL || pq->ord_state != PUSH_ORD_IDLE || !ord_may_consume(pq)) {
        return;
    }
    pq->ord_head = t->next;
    if (pq->ord_head == NULL) {
        pq->ord_tail = NULL;
    }
    t->next = NULL;
    pq->ord_state = PUSH_ORD_CONSUMING;
    if (rmq_push_submit(t) != 0) {
        /* the pool stopped (shutdown): it stays unconsumed */
        pq->ord_state = PUSH_ORD_IDLE;
        rmq_push_task_free(t);
    }
}

void
rmq_ord_take(push_pq *pq, rmq_message_ext *msg)
{
    push_task *t = rmq_push_task_new(pq, msg);

    if (t == NULL) {
        return;
    }
    if (pq->ord_tail != NULL) {
        pq->ord_tail->next = t;
    } else {
        pq->ord_head = t;
    }
    pq->ord_tail = t;
    ord_kick(pq);
}

static void
ord_push_front(push_pq *pq, push_task *t)
{
    t->next = pq->ord_head;
    pq->ord_head = t;
    if (pq->ord_tail == NULL) {
        pq->ord_tail = t;
    }
}

/* Free the queued messages and stop a suspension. */
static void
ord_free_queued(push_pq *pq)
{
    while (pq->ord_head != NULL) {
        push_task *t = pq->ord_head;
        pq->ord_head = t->next;
        rmq_push_task_free(t);
    }
    pq->ord_tail = NULL;
    if (pq->ord_timer != 0) {
        rmq_cio_cancel(pq->pc->core.io, pq->ord_timer);
        pq->ord_timer = 0;
        pq->ord_state = PUSH_ORD_IDLE;
        rmq_push_pq_release(pq);
    }
}

void
rmq_ord_drop(push_pq *pq)
{
    if (pq->pc->opts.orderly) {
        ord_free_queued(pq);
    }
}

/* ---- dying queues ------------------------------------------------------ */

bool
rmq_ord_leave(push_pq *pq)
{
    rmq_push_consumer *pc = pq->pc;

    ord_free_queued(pq);
    if (pq->ord_state != PUSH_ORD_CONSUMING &&
        pq->ord_state != PUSH_ORD_SENDING_BACK) {
        return false;
    }
    rmq_clog(&pc->core.log, RMQ_CLIENT_LOG_INFO, "push.queue",
             "queue %s/%s/%d goes once its message in progress is done",
             pq->sub->topic, pq->broker, pq->qid);
    pq->next = pc->dying;
    pc->dying = pq;
    return true;
}

push_pq *
rmq_ord_dying_find(rmq_push_consumer *pc, const push_sub *sub,
                   const char *broker, int32_t qid)
{
    for (push_pq *pq = pc->dying; pq != NULL; pq = pq->next) {
        if (pq->sub == sub && pq->qid == qid &&
            strcmp(pq->broker, broker) == 0) {
            return pq;
        }
    }
    return NULL;
}

/* A dying queue's last message is settled: commit, unlock, forget; and
 * if a rebalance wanted the queue meanwhile, rebalance again. */
static void
ord_bury(push_pq *pq)
{
    rmq_push_consumer *pc = pq->pc;
    push_sub          *sub = pq->sub;
    bool               again = pq->rewanted;
    push_pq          **pp = &pc->dying;

    while (*pp != NULL && *pp != pq) {
        pp = &(*pp)->next;
    }
    if (*pp == pq) {
        *pp = pq->next;
    }
    rmq_push_pq_commit(pc, pq);
    rmq_ord_unlock_one(pq);
    rmq_clog(&pc->core.log, RMQ_CLIENT_LOG_INFO, "push.queue",
             "queue %s/%s/%d released", sub->topic, pq->broker, pq->qid);
    rmq_push_pq_release(pq);
    if (again) {
        rmq_push_rebalance_sub(sub);
    }
}

/* pq went back to idle: go on, or finish it if it is dying. */
static void
ord_next(push_pq *pq)
{
    if (pq->removed) {
        ord_bury(pq);
    } else {
        ord_kick(pq);
    }
}

/* ---- outcomes ---------------------------------------------------------- */

static void
ord_settle(push_task *t)
{
    push_pq *pq = t->pq;

    rmq_push_pq_settle(pq, t->msg->queue_offset);
    rmq_push_task_free(t);
    ord_next(pq);
}

static void
ord_resume(rmq_cio *io, void *arg)
{
    push_pq *pq = arg;

    pq->ord_timer = 0;
    pq->ord_state = PUSH_ORD_IDLE;
    ord_kick(pq);
    rmq_push_pq_release(pq);
}

/* The message goes back to the head; the queue waits a moment. */
static void
ord_suspend(push_task *t)
{
    push_pq           *pq = t->pq;
    rmq_push_consumer *pc = pq->pc;

    ord_push_front(pq, t);
    pq->ord_state = PUSH_ORD_SUSPENDED;
    atomic_fetch_add(&pq->refs, 1);
    pq->ord_timer = rmq_cio_after(
        pc->core.io, pc->opts.suspend_current_queue_ms, ord_resume, pq);
}

static void
ord_back_done(rmq_cio *io, int rc, const rmq_rcmd *resp, void *arg)
{
    push_task         *t = arg;
    push_pq           *pq = t->pq;
    rmq_push_consumer *pc = pq->pc;

    pq->ord_state = PUSH_ORD_IDLE;
    if (rc == 0 && resp->code == RMQ_RESP_SUCCESS) {
        rmq_clog(&pc->core.log, RMQ_CLIENT_LOG_WARN, "push.dlq",
                 "message %s of queue %s/%s/%d failed %d times: sent to the "
                 "dead letter queue",
                 t->msg->msg_id, pq->sub->topic, pq->broker, pq->qid,
                 t->msg->reconsume_times + 1);
        ord_settle(t);
        return;
    }
    rmq_clog(&pc->core.log, RMQ_CLIENT_LOG_WARN, "push.dlq",
             "broker did not take message %s for the dead letter queue "
             "(%s): consuming it again in %d ms",
             t->msg->msg_id,
             rc != 0 ? rmq_client_strerror(rc) : rmq_cerr_resp_name(resp->code),
             pc->opts.suspend_current_queue_ms);
    if (pq->removed || atomic_load(&pq->dropped)) {
        rmq_push_task_free(t);
        ord_next(pq);
        return;
    }
    ord_suspend(t);
}

/* Suspended max_reconsume_times times: the DLQ (CLUSTERING), or drop. */
static void
ord_give_up(push_task *t)
{
    push_pq           *pq = t->pq;
    rmq_push_consumer *pc = pq->pc;

    if (pc->opts.model == RMQ_MODEL_BROADCASTING) {
        rmq_clog(&pc->core.log, RMQ_CLIENT_LOG_WARN, "push.consume",
                 "BROADCASTING drops message %s it could not consume",
                 t->msg->msg_id);
        ord_settle(t);
        return;
    }
    pq->ord_state = PUSH_ORD_SENDING_BACK;
    if (rmq_push_send_back(t, -1, ord_back_done) != 0) {
        pq->ord_state = PUSH_ORD_IDLE;
        rmq_clog(&pc->core.log, RMQ_CLIENT_LOG_WARN, "push.dlq",
                 "no master of broker %s to take message %s: consuming it "
                 "again in %d ms",
                 pq->broker, t->msg->msg_id, pc->opts.suspend_current_queue_ms);
        ord_suspend(t);
    }
}

void
rmq_ord_consumed(push_task *t)
{
    push_pq           *pq = t->pq;
    rmq_push_consumer *pc = pq->pc;

    pq->ord_state = PUSH_ORD_IDLE;
    if (!t->skipped && t->status == RMQ_CONSUME_SUCCESS) {
        ord_settle(t);
        return;
    }
    if (t->skipped || pq->removed || atomic_load(&pq->dropped)) {
        /* not consumed here: the next owner or the next start gets it */
        rmq_push_task_free(t);
        ord_next(pq);
        return;
    }
    if (t->msg->reconsume_times >= pc->opts.max_reconsume_times) {
        ord_give_up(t);
        return;
    }
    /* Java counts the attempts on the message itself */
    t->msg->reconsume_times++;
    rmq_clog(&pc->core.log, RMQ_CLIENT_LOG_INFO, "push.consume",
             "queue %s/%s/%d suspended for %d ms: message %s comes again "
             "(attempt %d)",
             pq->sub->topic, pq->broker, pq->qid,
             pc->opts.suspend_current_queue_ms, t->msg->msg_id,
             t->msg->reconsume_times + 1);
    ord_suspend(t);
}

/* ---- lock requests ----------------------------------------------------- */

/* The queues of one broker for one request. */
typedef struct ord_group {
    char          broker[RMQ_BROKER_NAME_MAX];
    char          addr[128];
    rmq_cjson_mq *mqs;
    size_t        n, cap;
} ord_group;

typedef struct ord_groups {
    ord_group *g;
    size_t     n, cap;
} ord_groups;

/* Several requests whose end one callback waits for (unlock at stop). */
typedef struct ord_batch {
    size_t left;
    void (*fn)(void *arg);
    void *arg;
} ord_batch;

/* One request in flight: what it asked for. */
typedef struct ord_call {
    rmq_push_consumer *pc;
    char               addr[128];
    rmq_cjson_mq      *mqs;
    size_t             n;
    ord_batch         *batch;
} ord_call;

static void
ord_batch_step(ord_batch *b)
{
    if (b != NULL && --b->left == 0) {
        b->fn(b->arg);
        free(b);
    }
}

static void
ord_groups_free(ord_groups *gs)
{
    for (size_t i = 0; i < gs->n; i++) {
        rmq_cjson_mqs_free(gs->g[i].mqs, gs->g[i].n);
    }
    free(gs->g);
    memset(gs, 0, sizeof(*gs));
}

static ord_group *
ord_group_of(ord_groups *gs, const char *broker, const char *addr)
{
    ord_group *g;

    for (size_t i = 0; i < gs->n; i++) {
        if (strcmp(gs->g[i].broker, broker) == 0) {
            return &gs->g[i];
        }
    }
    if (gs->n == gs->cap) {
        size_t cap = gs->cap ? gs->cap * 2 : 4;
        g = realloc(gs->g, cap * sizeof(*g));
        if (g == NULL) {
            return NULL;
        }
        gs->g = g;
        gs->cap = cap;
    }
    g = &gs->g[gs->n++];
    memset(g, 0, sizeof(*g));
    snprintf(g->broker, sizeof(g->broker), "%s", broker);
    snprintf(g->addr, sizeof(g->addr), "%s", addr);
    return g;
}

/* Add a queue to the request for its broker.  0 or an error code. */
static int
ord_group_add(ord_groups *gs, const char *topic, const char *broker,
              int32_t qid, const char *addr)
{
    ord_group    *g = ord_group_of(gs, broker, addr);
    rmq_cjson_mq *mq;

    if (g == NULL) {
        return RMQ_CLIENT_ERR_NOMEM;
    }
    if (g->n == g->cap) {
        size_t cap = g->cap ? g->cap * 2 : 8;
        mq = realloc(g->mqs, cap * sizeof(*mq));
        if (mq == NULL) {
            return RMQ_CLIENT_ERR_NOMEM;
        }
        g->mqs = mq;
        g->cap = cap;
    }
    mq = &g->mqs[g->n++];
    mq->topic = strdup(topic);
    mq->broker = strdup(broker);
    mq->qid = qid;
    return mq->topic != NULL && mq->broker != NULL ? 0 : RMQ_CLIENT_ERR_NOMEM;
}

static int
ord_group_add_pq(ord_groups *gs, const push_pq *pq)
{
    char addr[128];

    if (rmq_push_pq_master(pq, addr, sizeof(addr)) == NULL) {
        return RMQ_CLIENT_ERR_NO_ROUTE;
    }
    return ord_group_add(gs, pq->sub->topic, pq->broker, pq->qid, addr);
}

static void
ord_call_free(ord_call *call)
{
    rmq_cjson_mqs_free(call->mqs, call->n);
    free(call);
}

/* Send code (41 or 42) for g; the call takes g's queues.  Returns 0 once
 * sent (fn runs later), else an error code. */
static int
ord_send(rmq_push_consumer *pc, int code, ord_group *g, rmq_cio_done_fn fn,
         ord_batch *batch)
{
    ord_call    *call = calloc(1, sizeof(*call));
    rmq_buf      body;
    rmq_rcmd_out o;

    rmq_buf_init(&body);
    if (call == NULL || rmq_cjson_lock_body(pc->core.group, pc->core.client_id,
                                            g->mqs, g->n, &body) != 0) {
        free(call);
        rmq_buf_free(&body);
        return RMQ_CLIENT_ERR_NOMEM;
    }
    call->pc = pc;
    snprintf(call->addr, sizeof(call->addr), "%s", g->addr);
    call->mqs = g->mqs;
    call->n = g->n;
    call->batch = batch;
    g->mqs = NULL;
    g->n = g->cap = 0;
    rmq_rcmd_out_init(&o, code, 0, 0);
    rmq_cio_call(pc->core.io, call->addr, &o, body.data, (uint32_t)body.len,
                 pc->core.timeout_ms, fn, call);
    rmq_buf_free(&body);
    return 0;
}

static void
ord_on_unlock(rmq_cio *io, int rc, const rmq_rcmd *resp, void *arg)
{
    ord_call          *call = arg;
    rmq_push_consumer *pc = call->pc;

    if (rc != 0 || resp->code != RMQ_RESP_SUCCESS) {
        /* the broker's lease runs out by itself (60 s) */
        rmq_clog(&pc->core.log, RMQ_CLIENT_LOG_INFO, "push.lock",
                 "could not unlock %zu queue(s) on %s: %s", call->n, call->addr,
                 rc != 0 ? rmq_client_strerror(rc)
                         : rmq_cerr_resp_name(resp->code));
    }
    ord_batch_step(call->batch);
    ord_call_free(call);
}

static push_pq *
ord_find(push_pq *list, const rmq_cjson_mq *mq)
{
    for (push_pq *pq = list; pq != NULL; pq = pq->next) {
        if (pq->qid == mq->qid && strcmp(pq->broker, mq->broker) == 0 &&
            strcmp(pq->sub->topic, mq->topic) == 0) {
            return pq;
        }
    }
    return NULL;
}

static bool
ord_mq_in(const rmq_cjson_mq *set, size_t n, const rmq_cjson_mq *mq)
{
    for (size_t i = 0; i < n; i++) {
        if (set[i].qid == mq->qid && strcmp(set[i].broker, mq->broker) == 0 &&
            strcmp(set[i].topic, mq->topic) == 0) {
            return true;
        }
    }
    return false;
}

static void
ord_granted(push_pq *pq)
{
    bool was = pq->locked;

    pq->locked = true;
    pq->lock_ms = rmq_mono_ms();
    if (was) {
        ord_kick(pq); /* it may have stopped on an old lock */
        return;
    }
    rmq_clog(&pq->pc->core.log, RMQ_CLIENT_LOG_INFO, "push.lock",
             "queue %s/%s/%d locked", pq->sub->topic, pq->broker, pq->qid);
    rmq_push_pq_start(pq);
}

/* Another client holds pq now: drop it and wait for the lock again. */
static void
ord_lost(push_pq *pq)
{
    rmq_push_consumer *pc = pq->pc;
    push_sub          *sub = pq->sub;
    bool               busy = pq->ord_state == PUSH_ORD_CONSUMING ||
                pq->ord_state == PUSH_ORD_SENDING_BACK;

    rmq_clog(&pc->core.log, RMQ_CLIENT_LOG_WARN, "push.lock",
             "lost the lock of queue %s/%s/%d: it stops until this client "
             "gets it again",
             sub->topic, pq->broker, pq->qid);
    pq->locked = false; /* not ours to unlock */
    pq->rewanted = true;
    rmq_push_pq_remove(pc, pq);
    if (!busy) {
        rmq_push_rebalance_sub(sub);
    }
}

/* Apply a LOCK_BATCH_MQ answer to the queues it asked for. */
static void
ord_apply_lock(ord_call *call, const rmq_cjson_mq *ok, size_t nok)
{
    rmq_push_consumer *pc = call->pc;
    ord_groups         stray = {0};

    for (size_t i = 0; i < call->n; i++) {
        const rmq_cjson_mq *mq = &call->mqs[i];
        bool                granted = ord_mq_in(ok, nok, mq);
        push_pq            *pq = ord_find(pc->pqs, mq);

        if (pq == NULL || atomic_load(&pq->dropped)) {
            /* removed meanwhile: a lock nobody here will use */
            if (granted && ord_find(pc->dying, mq) == NULL) {
                ord_group_add(&stray, mq->topic, mq->broker, mq->qid,
                              call->addr);
            }
            continue;
        }
        if (granted) {
            ord_granted(pq);
        } else if (pq->locked) {
            ord_lost(pq);
        }
    }
    for (size_t i = 0; i < stray.n; i++) {
        ord_send(pc, RMQ_REQ_UNLOCK_BATCH_MQ, &stray.g[i], ord_on_unlock, NULL);
    }
    ord_groups_free(&stray);
}

static void
ord_on_lock(rmq_cio *io, int rc, const rmq_rcmd *resp, void *arg)
{
    ord_call          *call = arg;
    rmq_push_consumer *pc = call->pc;
    rmq_cjson_mq      *ok = NULL;
    size_t             nok = 0;

    if (pc->stopping) {
        ord_call_free(call); /* the final unlock covers every queue */
        return;
    }
    if (rc != 0 || resp->code != RMQ_RESP_SUCCESS ||
        rmq_cjson_lock_ok(resp->body, resp->body_len, &ok, &nok) != 0) {
        rmq_clog(&pc->core.log, RMQ_CLIENT_LOG_INFO, "push.lock",
                 "could not lock %zu queue(s) on %s: %s", call->n, call->addr,
                 rc != 0 ? rmq_client_strerror(rc)
                 : resp->code != RMQ_RESP_SUCCESS
                     ? rmq_cerr_resp_name(resp->code)
                     : "malformed answer");
    } else {
        ord_apply_lock(call, ok, nok);
    }
    rmq_cjson_mqs_free(ok, nok);
    ord_call_free(call);
}

void
rmq_ord_lock(rmq_push_consumer *pc, bool all)
{
    ord_groups gs = {0};

    if (pc->stopping || !rmq_ord_needs_lock(pc)) {
        return;
    }
    for (push_pq *pq = pc->pqs; pq != NULL; pq = pq->next) {
        if (!atomic_load(&pq->dropped) && (all || !pq->locked)) {
            ord_group_add_pq(&gs, pq); /* no master now: next time */
        }
    }
    for (size_t i = 0; i < gs.n; i++) {
        ord_send(pc, RMQ_REQ_LOCK_BATCH_MQ, &gs.g[i], ord_on_lock, NULL);
    }
    ord_groups_free(&gs);
}

void
rmq_ord_unlock_one(push_pq *pq)
{
    ord_groups gs = {0};

    if (!rmq_ord_needs_lock(pq->pc) || !pq->locked) {
        return;
    }
    if (ord_group_add_pq(&gs, pq) == 0) {
        ord_send(pq->pc, RMQ_REQ_UNLOCK_BATCH_MQ, &gs.g[0], ord_on_unlock,
                 NULL);
    }
    ord_groups_free(&gs);
}

/*
 * Every queue listed or dying, locked or not: a lock request still out
 * for a waiting queue is answered before this one on the same
 * connection, so its lock goes too.
 */
void
rmq_ord_unlock_all(rmq_push_consumer *pc, void (*fn)(void *arg), void *arg)
{
    ord_groups gs = {0};
    ord_batch *b = calloc(1, sizeof(*b));

    for (push_pq *pq = pc->pqs; pq != NULL; pq = pq->next) {
        ord_group_add_pq(&gs, pq);
    }
    for (push_pq *pq = pc->dying; pq != NULL; pq = pq->next) {
        ord_group_add_pq(&gs, pq);
    }
    if (b == NULL) {
        for (size_t i = 0; i < gs.n; i++) {
            ord_send(pc, RMQ_REQ_UNLOCK_BATCH_MQ, &gs.g[i], ord_on_unlock,
                     NULL);
        }
        ord_groups_free(&gs);
        fn(arg);
        return;
    }
    *b = (ord_batch){.left = gs.n + 1, .fn = fn, .arg = arg};
    for (size_t i = 0; i < gs.n; i++) {
        if (ord_send(pc, RMQ_REQ_UNLOCK_BATCH_MQ, &gs.g[i], ord_on_unlock, b) !=
            0) {
            b->left--;
        }
    }
    ord_groups_free(&gs);
    ord_batch_step(b); /* the +1: fn runs once every request answered */
}

static void
ord_lock_all_tick(rmq_cio *io, void *arg)
{
    rmq_ord_lock(arg, true);
}

static void
ord_lock_retry_tick(rmq_cio *io, void *arg)
{
    rmq_ord_lock(arg, false);
}

void
rmq_ord_start(rmq_push_consumer *pc)
{
    pc->timers[3] =
        rmq_cio_every(pc->core.io, ORD_LOCK_INTERVAL_MS, ord_lock_all_tick, pc);
    pc->timers[4] =
        rmq_cio_every(pc->core.io, ORD_LOCK_RETRY_MS, ord_lock_retry_tick, pc);
}
