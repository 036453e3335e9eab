/*
 * push.c - the public push consumer API (rmq/client.h): life cycle,
 * heartbeats, the consume threads and what happens to a message whose
 * callback asked for RECONSUME_LATER.  Queue allocation, pulls and
 * offsets are in rebalance.c.
 *
 * Threads: API calls (any thread); the I/O thread (everything reached
 * from a posted task, timer or completion); the consume pool, which only
 * runs the application's callback and posts the outcome back.  Start:
 * routes, heartbeat, rebalance, then timers (heartbeat, rebalance,
 * commit, and for orderly consumers the locks).  Shutdown: stop pulling,
 * let running callbacks finish, commit offsets, release the locks
 * (orderly), unregister, stop the I/O thread.  What an orderly consumer
 * does with a message is in orderly.c.
 */
#include "client/push.h"

#include "client/cjson.h"
#include "client/send.h"
#include "common/util.h"
#include "proto/codes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PUSH_RECONSUME_DELAY_MS                                                \
    5000 /* consume again when sending back failed */
#define PUSH_WAIT_GRACE_MS 1000
#define PUSH_DEFAULT_BACK_MS (30 * 60 * 1000)
#define PUSH_SUSPEND_MS 1000 /* Java suspendCurrentQueueTimeMillis */

enum push_state { PUSH_NEW, PUSH_RUNNING, PUSH_STOPPED };

void
rmq_push_consumer_opts_init(rmq_push_consumer_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->model = RMQ_MODEL_CLUSTERING;
    o->consume_from = RMQ_CONSUME_FROM_LAST_OFFSET;
    o->consume_threads = 4;
    o->pull_batch_size = 32;
    o->max_cached_per_queue = 1000;
    o->max_reconsume_times = 16;
    o->suspend_ms = 15000;
    o->rebalance_interval_ms = 20000;
    o->heartbeat_interval_ms = 30000;
    o->commit_interval_ms = 5000;
    o->route_refresh_ms = RMQ_DEFAULT_REFRESH_MS;
    o->timeout_ms = RMQ_DEFAULT_TIMEOUT_MS;
    o->log_level = RMQ_CLIENT_LOG_WARN;
    o->suspend_current_queue_ms = PUSH_SUSPEND_MS;
}

static void
push_fix_opts(rmq_push_consumer_opts *o)
{
    rmq_push_consumer_opts d;

    rmq_push_consumer_opts_init(&d);
    o->consume_threads =
        o->consume_threads > 0 ? o->consume_threads : d.consume_threads;
    o->pull_batch_size =
        o->pull_batch_size > 0 ? o->pull_batch_size : d.pull_batch_size;
    o->max_cached_per_queue = o->max_cached_per_queue > 0
                                  ? o->max_cached_per_queue
                                  : d.max_cached_per_queue;
    o->max_reconsume_times = o->max_reconsume_times > 0 ? o->max_reconsume_times
                                                        : d.max_reconsume_times;
    o->suspend_ms = o->suspend_ms > 0 ? o->suspend_ms : d.suspend_ms;
    o->rebalance_interval_ms = o->rebalance_interval_ms > 0
                                   ? o->rebalance_interval_ms
                                   : d.rebalance_interval_ms;
    o->heartbeat_interval_ms = o->heartbeat_interval_ms > 0
                                   ? o->heartbeat_interval_ms
                                   : d.heartbeat_interval_ms;
    o->commit_interval_ms = o->commit_interval_ms > 0 ? o->commit_interval_ms
                                                      : d.commit_interval_ms;
    o->suspend_current_queue_ms = o->suspend_current_queue_ms > 0
                                      ? o->suspend_current_queue_ms
                                      : d.suspend_current_queue_ms;
    o->orderly = o->orderly != 0;
    if (o->consume_from == RMQ_CONSUME_FROM_TIMESTAMP &&
        o->consume_timestamp_ms <= 0) {
        /* Java's consumeTimestamp default: half an hour ago */
        o->consume_timestamp_ms = rmq_now_ms() - PUSH_DEFAULT_BACK_MS;
    }
}

int
rmq_push_consumer_new(const rmq_push_consumer_opts *opts,
                      rmq_push_consumer **out, rmq_error *err)
{
    rmq_push_consumer *pc;
    rmq_core_cfg       cfg;
    int                rc;

    if (opts == NULL || out == NULL || opts->on_message == NULL ||
        opts->group == NULL || opts->group[0] == '\0') {
        return rmq_cerr_set(err, RMQ_CLIENT_ERR_INVALID,
                            "a push consumer needs opts with a group and an "
                            "on_message callback");
    }
    pc = calloc(1, sizeof(*pc));
    if (pc == NULL) {
        return rmq_cerr_set(err, RMQ_CLIENT_ERR_NOMEM,
                            "could not allocate a push consumer");
    }
    pc->opts = *opts;
    push_fix_opts(&pc->opts);
    cfg = (rmq_core_cfg){.kind = "push consumer",
                         .namesrv_addr = opts->namesrv_addr,
                         .group = opts->group,
                         .instance_name = opts->instance_name,
                         .timeout_ms = opts->timeout_ms,
                         .route_refresh_ms = opts->route_refresh_ms,
                         .log_fn = opts->log_fn,
                         .log_arg = opts->log_arg,
                         .log_level = opts->log_level};
    if ((rc = rmq_core_init(&pc->core, &cfg, err)) != 0) {
        free(pc);
        return rc;
    }
    pc->opts.namesrv_addr = NULL;
    pc->opts.group = pc->core.group;
    pc->opts.instance_name = NULL;
    snprintf(pc->retry_topic, sizeof(pc->retry_topic), "%s%s", RMQ_RETRY_PREFIX,
             pc->core.group);
    pthread_mutex_init(&pc->mu, NULL);
    *out = pc;
    return 0;
}

/* pc->mu held. */
static int
push_add_sub(rmq_push_consumer *pc, const char *topic, const char *expr,
             rmq_error *err)
{
    push_sub *subs, *s;
    int       rc;

    for (size_t i = 0; i < pc->nsubs; i++) {
        if (strcmp(pc->subs[i].topic, topic) == 0) {
            return rmq_cerr_set(err, RMQ_CLIENT_ERR_INVALID,
                                "topic %s is already subscribed", topic);
        }
    }
    subs = realloc(pc->subs, (pc->nsubs + 1) * sizeof(*subs));
    if (subs == NULL) {
        return rmq_cerr_set(err, RMQ_CLIENT_ERR_NOMEM, "out of memory");
    }
    pc->subs = subs;
    s = &subs[pc->nsubs];
    memset(s, 0, sizeof(*s));
    if ((rc = rmq_tagexpr_parse(expr, &s->expr)) != 0) {
        return rmq_cerr_set(err, rc, "tag expression \"%s\" names no tag",
                            expr);
    }
    if ((s->topic = strdup(topic)) == NULL) {
        rmq_tagexpr_free(&s->expr);
        return rmq_cerr_set(err, RMQ_CLIENT_ERR_NOMEM, "out of memory");
    }
    s->pc = pc;
    s->version = rmq_now_ms();
    s->is_retry = strcmp(topic, pc->retry_topic) == 0;
    pc->nsubs++;
    return 0;
}

int
rmq_push_consumer_subscribe(rmq_push_consumer *pc, const char *topic,
                            const char *tag_expr, rmq_error *err)
{
    int rc;

    if (pc == NULL || !rmq_core_topic_ok(topic)) {
        return rmq_cerr_set(err, RMQ_CLIENT_ERR_INVALID,
                            "\"%s\" is not a valid topic name",
                            topic ? topic : "(null)");
    }
    pthread_mutex_lock(&pc->mu);
    if (pc->state != PUSH_NEW) {
        rc =
            rmq_cerr_set(err, RMQ_CLIENT_ERR_INVALID, "subscribe before start");
    } else {
        rc = push_add_sub(pc, topic, tag_expr, err);
    }
    pthread_mutex_unlock(&pc->mu);
    return rc;
}

/* ---- heartbeats (I/O thread) ------------------------------------------- */

static const char *
push_from_name(rmq_consume_from f)
{
    switch (f) {
    case RMQ_CONSUME_FROM_FIRST_OFFSET:
        return "CONSUME_FROM_FIRST_OFFSET";
    case RMQ_CONSUME_FROM_TIMESTAMP:
        return "CONSUME_FROM_TIMESTAMP";
    default:
        return "CONSUME_FROM_LAST_OFFSET";
    }
}

/* Remember the addresses a heartbeat went to (so a rebalance can tell
 * whether a broker knows us yet). */
static void
push_heartbeat_note(rmq_push_consumer *pc, char **addrs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        bool   known = false;
        char **a;

        for (size_t k = 0; k < pc->nhb && !known; k++) {
            known = strcmp(pc->hb_addrs[k], addrs[i]) == 0;
        }
        if (known) {
            continue;
        }
        a = realloc(pc->hb_addrs, (pc->nhb + 1) * sizeof(*a));
        if (a == NULL) {
            return;
        }
        pc->hb_addrs = a;
        if ((a[pc->nhb] = strdup(addrs[i])) != NULL) {
            pc->nhb++;
        }
    }
}

void
rmq_push_heartbeat(rmq_push_consumer *pc, rmq_core_fanout_fn fn, void *arg)
{
    rmq_hb_sub     *subs = calloc(pc->nsubs + 1, sizeof(*subs));
    rmq_hb_consumer hc;
    rmq_buf         body;
    char          **addrs = NULL;
    size_t          n = 0;

    rmq_buf_init(&body);
    for (size_t i = 0; subs != NULL && i < pc->nsubs; i++) {
        subs[i] = (rmq_hb_sub){.topic = pc->subs[i].topic,
                               .expr = &pc->subs[i].expr,
                               .version = pc->subs[i].version};
    }
    hc = (rmq_hb_consumer){
        .group = pc->core.group,
        .consume_type = "CONSUME_PASSIVELY",
        .message_model = pc->opts.model == RMQ_MODEL_BROADCASTING
                             ? "BROADCASTING"
                             : "CLUSTERING",
        .consume_from = push_from_name(pc->opts.consume_from),
        .subs = subs,
        .nsubs = pc->nsubs};
    if (subs == NULL ||
        rmq_cjson_heartbeat(pc->core.client_id, RMQ_INNER_PRODUCER_GROUP, &hc,
                            &body) != 0 ||
        rmq_core_broker_addrs(&pc->core, false, &addrs, &n) != 0) {
        n = 0;
    }
    push_heartbeat_note(pc, addrs, n);
    rmq_core_fanout(&pc->core, addrs, n, RMQ_REQ_HEART_BEAT, NULL, &body, fn,
                    arg);
    rmq_core_addrs_free(addrs, n);
    rmq_buf_free(&body);
    free(subs);
}

bool
rmq_push_heartbeat_covers(rmq_push_consumer *pc, const rmq_route *r)
{
    for (size_t b = 0; b < r->nbrokers; b++) {
        for (size_t i = 0; i < r->brokers[b].naddrs; i++) {
            const char *addr = r->brokers[b].addrs[i].addr;
            bool        known = false;

            for (size_t k = 0; k < pc->nhb && !known; k++) {
                known = strcmp(pc->hb_addrs[k], addr) == 0;
            }
            if (!known) {
                return false;
            }
        }
    }
    return true;
}

static void
push_heartbeat_done(rmq_core *c, int failures, const rmq_error *first,
                    void *arg)
{
    if (failures > 0) {
        rmq_clog(&c->log, RMQ_CLIENT_LOG_WARN, "push.heartbeat",
                 "%d broker(s) refused a heartbeat (%s)", failures,
                 first->message);
    }
}

static void
push_heartbeat_tick(rmq_cio *io, void *arg)
{
    rmq_push_heartbeat(arg, push_heartbeat_done, arg);
}

static void
push_rebalance_tick(rmq_cio *io, void *arg)
{
    rmq_push_rebalance_all(arg);
}

static void
push_commit_tick(rmq_cio *io, void *arg)
{
    rmq_push_commit_all(arg);
}

static void
push_boot_hb_done(rmq_core *c, int failures, const rmq_error *first, void *arg)
{
    rmq_push_consumer *pc = arg;

    if (pc->stopping) {
        return;
    }
    if (failures > 0) {
        rmq_clog(&c->log, RMQ_CLIENT_LOG_WARN, "push.heartbeat",
                 "%d broker(s) refused the first heartbeat (%s)", failures,
                 first->message);
    }
    rmq_push_rebalance_all(pc);
    if (rmq_ord_needs_lock(pc)) {
        rmq_ord_start(pc);
    }
    pc->timers[0] = rmq_cio_every(c->io, pc->opts.heartbeat_interval_ms,
                                  push_heartbeat_tick, pc);
    pc->timers[1] = rmq_cio_every(c->io, pc->opts.rebalance_interval_ms,
                                  push_rebalance_tick, pc);
    pc->timers[2] =
        rmq_cio_every(c->io, pc->opts.commit_interval_ms, push_commit_tick, pc);
}

static void
push_boot_route(rmq_core *c, int rc, rmq_route *route, const rmq_error *err,
                void *arg)
{
    rmq_push_consumer *pc = arg;

    if (rc != 0) {
        rmq_clog(&c->log, RMQ_CLIENT_LOG_INFO, "push.start", "%s",
                 err != NULL ? err->message : "no route");
    }
    if (--pc->boot_left == 0) {
        rmq_push_heartbeat(pc, push_boot_hb_done, pc);
    }
}

/* Start: every subscribed topic's route, then a heartbeat, then the
 * first rebalance and the timers. */
static void
push_boot(rmq_cio *io, void *arg)
{
    rmq_push_consumer *pc = arg;

    pc->boot_left = pc->nsubs;
    for (size_t i = 0; i < pc->nsubs; i++) {
        rmq_core_route_watch(&pc->core, pc->subs[i].topic);
    }
    for (size_t i = 0; i < pc->nsubs; i++) {
        rmq_core_route(&pc->core, pc->subs[i].topic, true, push_boot_route, pc);
    }
}

/* Server requests on our connections: NOTIFY_CONSUMER_IDS_CHANGED. */
static int
push_server_request(rmq_cio *io, const rmq_rcmd *req, const char *peer,
                    void *arg)
{
    rmq_push_consumer *pc = arg;

    if (req->code != RMQ_REQ_NOTIFY_CONSUMER_IDS_CHANGED) {
        return RMQ_RESP_REQUEST_CODE_NOT_SUPPORTED;
    }
    rmq_clog(&pc->core.log, RMQ_CLIENT_LOG_INFO, "push.notify",
             "%s says the group changed: rebalancing", peer);
    rmq_push_rebalance_all(pc);
    return RMQ_RESP_SUCCESS;
}

/* ---- consuming --------------------------------------------------------- */

void
rmq_push_task_free(push_task *t)
{
    rmq_message_ext_free(t->msg);
    rmq_push_pq_release(t->pq);
    free(t);
}

push_task *
rmq_push_task_new(push_pq *pq, rmq_message_ext *msg)
{
    push_task *t = calloc(1, sizeof(*t));

    if (t == NULL) {
        rmq_clog(&pq->pc->core.log, RMQ_CLIENT_LOG_ERROR, "push.track",
                 "out of memory queueing message %s: it stays unconsumed",
                 msg->msg_id);
        rmq_message_ext_free(msg);
        return NULL;
    }
    atomic_fetch_add(&pq->refs, 1);
    t->pq = pq;
    t->msg = msg;
    return t;
}

static void push_consumed(rmq_cio *io, void *arg);

/* Consume thread. */
static void
push_consume(void *arg, bool cancelled)
{
    push_task         *t = arg;
    rmq_push_consumer *pc = t->pq->pc;

    t->skipped = cancelled || atomic_load(&t->pq->dropped);
    if (!t->skipped) {
        t->status = pc->opts.on_message(t->msg, pc->opts.on_message_arg);
    }
    if (rmq_cio_post(pc->core.io, push_consumed, t) != 0) {
        rmq_push_task_free(t);
    }
}

int
rmq_push_submit(push_task *t)
{
    return rmq_pool_submit(t->pq->pc->pool, push_consume, t);
}

void
rmq_push_dispatch(push_pq *pq, rmq_message_ext *msg)
{
    push_task *t = rmq_push_task_new(pq, msg);

    if (t != NULL && rmq_push_submit(t) != 0) {
        rmq_push_task_free(t);
    }
}

static void
push_later_unlink(rmq_push_consumer *pc, push_task *t)
{
    if (t->prev != NULL) {
        t->prev->next = t->next;
    } else if (pc->later == t) {
        pc->later = t->next;
    }
    if (t->next != NULL) {
        t->next->prev = t->prev;
    }
    t->prev = t->next = NULL;
}

static void
push_reconsume(rmq_cio *io, void *arg)
{
    push_task         *t = arg;
    rmq_push_consumer *pc = t->pq->pc;

    push_later_unlink(pc, t);
    if (atomic_load(&t->pq->dropped) ||
        rmq_pool_submit(pc->pool, push_consume, t) != 0) {
        rmq_push_task_free(t);
    }
}

/* Sending back failed twice: consume it here again after a while; its
 * offset stays in flight meanwhile (Java consumeMessageLater). */
static void
push_later(push_task *t)
{
    rmq_push_consumer *pc = t->pq->pc;

    rmq_clog(&pc->core.log, RMQ_CLIENT_LOG_WARN, "push.sendback",
             "could not send message %s back: consuming it again in %d ms",
             t->msg->msg_id, PUSH_RECONSUME_DELAY_MS);
    t->next = pc->later;
    t->prev = NULL;
    if (pc->later != NULL) {
        pc->later->prev = t;
    }
    pc->later = t;
    rmq_cio_after(pc->core.io, PUSH_RECONSUME_DELAY_MS, push_reconsume, t);
}

static void
push_settle(push_task *t)
{
    if (!t->pq->removed) {
        rmq_push_pq_settle(t->pq, t->msg->queue_offset);
    }
    rmq_push_task_free(t);
}

static void
push_retry_done(rmq_send_job *j)
{
    push_task *t = j->done_arg;

    if (j->rc == 0) {
        push_settle(t);
    } else {
        rmq_clog(&t->pq->pc->core.log, RMQ_CLIENT_LOG_INFO, "push.sendback",
                 "%s", j->err.message);
        push_later(t);
    }
    rmq_send_job_free(j);
}

/* The message as ali-ons/Java send it to %RETRY%<group> themselves. */
static int
push_retry_message(rmq_push_consumer *pc, const rmq_message_ext *m,
                   rmq_message *out)
{
    const char *origin = rmq_plist_get(&m->props, RMQ_PROP_ORIGIN_MSG_ID);
    char        delay[16], times[16], maxr[16];

    snprintf(delay, sizeof(delay), "%d", 3 + m->reconsume_times);
    out->topic = strdup(pc->retry_topic);
    out->body = malloc(m->body_len > 0 ? m->body_len : 1);
    out->body_len = m->body_len;
    out->flag = m->flag;
    if (out->topic == NULL || out->body == NULL ||
        rmq_plist_copy(&out->props, &m->props) != 0) {
        return RMQ_CLIENT_ERR_NOMEM;
    }
    memcpy(out->body, m->body, m->body_len);
    /* ali-ons sends the counters as properties; the header carries them
     * too (j, l), which is where Java brokers read them */
    snprintf(times, sizeof(times), "%d", m->reconsume_times + 1);
    snprintf(maxr, sizeof(maxr), "%d", pc->opts.max_reconsume_times);
    if (rmq_plist_set(&out->props, RMQ_PROP_RECONSUME_TIME, times) != 0 ||
        rmq_plist_set(&out->props, RMQ_PROP_MAX_RECONSUME_TIMES, maxr) != 0) {
        return RMQ_CLIENT_ERR_NOMEM;
    }
    if (rmq_plist_get(&out->props, RMQ_PROP_RETRY_TOPIC) == NULL &&
        rmq_plist_set(&out->props, RMQ_PROP_RETRY_TOPIC, m->topic) != 0) {
        return RMQ_CLIENT_ERR_NOMEM;
    }
    if (rmq_plist_set(&out->props, RMQ_PROP_ORIGIN_MSG_ID,
                      origin != NULL ? origin : m->msg_id) != 0 ||
        rmq_plist_set(&out->props, RMQ_PROP_DELAY, delay) != 0) {
        return RMQ_CLIENT_ERR_NOMEM;
    }
    return 0;
}

/* CONSUMER_SEND_MSG_BACK failed: send it to the retry topic ourselves. */
static void
push_retry_send(push_task *t)
{
    rmq_push_consumer *pc = t->pq->pc;
    rmq_message        m = {0};
    rmq_send_cfg       cfg = {.group = RMQ_INNER_PRODUCER_GROUP,
                              .timeout_ms = pc->core.timeout_ms,
                              .retries = 2,
                              .compress_threshold = 4096,
                              .reconsume_times = t->msg->reconsume_times + 1,
                              .max_reconsume = pc->opts.max_reconsume_times};
    rmq_send_job      *j = NULL;
    rmq_error          err;
    int                rc;

    rc = push_retry_message(pc, t->msg, &m);
    if (rc == 0) {
        rc = rmq_send_prepare(&pc->core, &cfg, &m, &j, &err);
    }
    free(m.topic);
    free(m.body);
    rmq_plist_free(&m.props);
    if (rc != 0) {
        push_later(t);
        return;
    }
    j->done = push_retry_done;
    j->done_arg = t;
    rmq_send_run(pc->core.io, j);
}

static void
push_back_done(rmq_cio *io, int rc, const rmq_rcmd *resp, void *arg)
{
    push_task *t = arg;

    if (rc == 0 && resp->code == RMQ_RESP_SUCCESS) {
        push_settle(t);
        return;
    }
    rmq_clog(&t->pq->pc->core.log, RMQ_CLIENT_LOG_INFO, "push.sendback",
             "broker did not take message %s back (%s): sending it to the "
             "retry topic",
             t->msg->msg_id,
             rc != 0 ? rmq_client_strerror(rc)
                     : rmq_cerr_resp_name(resp->code));
    push_retry_send(t);
}

int
rmq_push_send_back(push_task *t, int delay_level, rmq_cio_done_fn fn)
{
    rmq_push_consumer *pc = t->pq->pc;
    const char  *origin = rmq_plist_get(&t->msg->props, RMQ_PROP_ORIGIN_MSG_ID);
    char         addr[128], off[24], maxr[16], delay[16];
    rmq_rcmd_out o;

    if (rmq_push_pq_master(t->pq, addr, sizeof(addr)) == NULL) {
        return RMQ_CLIENT_ERR_NO_ROUTE;
    }
    snprintf(off, sizeof(off), "%lld", (long long)t->msg->commitlog_offset);
    snprintf(maxr, sizeof(maxr), "%d", pc->opts.max_reconsume_times);
    snprintf(delay, sizeof(delay), "%d", delay_level);
    rmq_rcmd_out_init(&o, RMQ_REQ_CONSUMER_SEND_MSG_BACK, 0, 0);
    rmq_rcmd_out_ext(&o, "offset", off);
    rmq_rcmd_out_ext(&o, "group", pc->core.group);
    rmq_rcmd_out_ext(&o, "delayLevel", delay);
    rmq_rcmd_out_ext(&o, "originMsgId",
                     origin != NULL ? origin : t->msg->msg_id);
    rmq_rcmd_out_ext(&o, "originTopic", t->msg->topic);
    rmq_rcmd_out_ext(&o, "unitMode", "false");
    rmq_rcmd_out_ext(&o, "maxReconsumeTimes", maxr);
    rmq_cio_call(pc->core.io, addr, &o, NULL, 0, pc->core.timeout_ms, fn, t);
    return 0;
}

/* I/O thread: a consume thread is done with a message. */
static void
push_consumed(rmq_cio *io, void *arg)
{
    push_task         *t = arg;
    rmq_push_consumer *pc = t->pq->pc;

    if (pc->opts.orderly) {
        rmq_ord_consumed(t);
        return;
    }
    if (t->skipped || t->pq->removed) {
        rmq_push_task_free(t);
        return;
    }
    if (t->status == RMQ_CONSUME_SUCCESS ||
        pc->opts.model == RMQ_MODEL_BROADCASTING) {
        if (t->status != RMQ_CONSUME_SUCCESS) {
            rmq_clog(&pc->core.log, RMQ_CLIENT_LOG_WARN, "push.consume",
                     "BROADCASTING drops message %s it could not consume",
                     t->msg->msg_id);
        }
        push_settle(t);
        return;
    }
    /* RECONSUME_LATER: back to the broker, else to the retry topic */
    if (rmq_push_send_back(t, 0, push_back_done) != 0) {
        push_retry_send(t);
    }
}

/* ---- life cycle -------------------------------------------------------- */

int
rmq_push_consumer_start(rmq_push_consumer *pc, rmq_error *err)
{
    int rc = 0;

    if (pc == NULL) {
        return rmq_cerr_set(err, RMQ_CLIENT_ERR_INVALID, "consumer is NULL");
    }
    pthread_mutex_lock(&pc->mu);
    if (pc->state != PUSH_NEW || pc->nsubs == 0) {
        pthread_mutex_unlock(&pc->mu);
        return rmq_cerr_set(err, RMQ_CLIENT_ERR_INVALID,
                            pc->state != PUSH_NEW
                                ? "push consumer was already started"
                                : "subscribe to a topic before start");
    }
    if (pc->opts.model == RMQ_MODEL_CLUSTERING) {
        rc = push_add_sub(pc, pc->retry_topic, "*", err);
    }
    if (rc == 0 &&
        (rc = rmq_pool_new(pc->opts.consume_threads, &pc->pool)) != 0) {
        rmq_cerr_set(err, rc, "could not start consume threads");
    }
    if (rc == 0) {
        rmq_cio_set_server_handler(pc->core.io, push_server_request, pc);
        rc = rmq_core_start(&pc->core, err);
    }
    if (rc == 0) {
        rmq_cio_post(pc->core.io, push_boot, pc);
        pc->state = PUSH_RUNNING;
    }
    pthread_mutex_unlock(&pc->mu);
    return rc;
}

typedef struct push_call {
    rmq_sync           sync;
    rmq_push_consumer *pc;
} push_call;

static void
push_call_done(push_call *c)
{
    rmq_core *core = &c->pc->core;

    rmq_core_done(core, &c->sync);
    if (rmq_core_unref(core, &c->sync)) {
        free(c);
    }
}

/* Run fn on the I/O thread and wait until it calls push_call_done. */
static void
push_call_run(rmq_push_consumer *pc, rmq_cio_task_fn fn, int timeout_ms)
{
    push_call *c = calloc(1, sizeof(*c));

    if (c == NULL) {
        return;
    }
    c->pc = pc;
    rmq_sync_init(&c->sync);
    if (rmq_cio_post(pc->core.io, fn, c) != 0) {
        free(c);
        return;
    }
    rmq_core_wait(&pc->core, &c->sync, rmq_mono_ms() + timeout_ms);
    if (rmq_core_unref(&pc->core, &c->sync)) {
        free(c);
    }
}

static void
push_stop_pulls(rmq_cio *io, void *arg)
{
    push_call         *c = arg;
    rmq_push_consumer *pc = c->pc;

    pc->stopping = true;
    for (size_t i = 0; i < RMQ_ARRAY_LEN(pc->timers); i++) {
        if (pc->timers[i] != 0) {
            rmq_cio_cancel(io, pc->timers[i]);
            pc->timers[i] = 0;
        }
    }
    rmq_push_drop_all(pc);
    push_call_done(c);
}

static void
push_unreg_done(rmq_core *core, int failures, const rmq_error *first, void *arg)
{
    push_call_done(arg);
}

static void
push_unregister(void *arg)
{
    push_call *c = arg;

    rmq_core_unregister(&c->pc->core, "consumerGroup", false, push_unreg_done,
                        c);
}

/* Commit, then unlock (after the commit on the same connections, so the
 * next owner of a queue reads the final offset), then unregister. */
static void
push_final(rmq_cio *io, void *arg)
{
    push_call         *c = arg;
    rmq_push_consumer *pc = c->pc;

    rmq_push_commit_all(pc);
    if (rmq_ord_needs_lock(pc)) {
        rmq_ord_unlock_all(pc, push_unregister, c);
    } else {
        push_unregister(c);
    }
}

int
rmq_push_consumer_shutdown(rmq_push_consumer *pc, rmq_error *err)
{
    bool was_running;
    int  wait_ms;

    if (pc == NULL) {
        return rmq_cerr_set(err, RMQ_CLIENT_ERR_INVALID, "consumer is NULL");
    }
    if (pc->pool != NULL && rmq_pool_on_thread(pc->pool)) {
        return rmq_cerr_set(err, RMQ_CLIENT_ERR_INVALID,
                            "cannot shut a consumer down from its callback");
    }
    pthread_mutex_lock(&pc->mu);
    was_running = pc->state == PUSH_RUNNING;
    pc->state = PUSH_STOPPED;
    pthread_mutex_unlock(&pc->mu);
    if (!was_running) {
        return 0;
    }
    wait_ms = pc->core.timeout_ms + PUSH_WAIT_GRACE_MS;
    push_call_run(pc, push_stop_pulls, wait_ms);
    /* callbacks running now finish and count; queued ones are skipped
     * and stay uncommitted, to be delivered again */
    rmq_pool_stop(pc->pool, false);
    /* commit, unlock, unregister: up to two answers to wait for */
    push_call_run(pc, push_final, wait_ms + pc->core.timeout_ms);
    rmq_core_stop(&pc->core);
    rmq_clog(&pc->core.log, RMQ_CLIENT_LOG_INFO, "push.stop",
             "push consumer stopped");
    return 0;
}

void
rmq_push_consumer_destroy(rmq_push_consumer *pc)
{
    if (pc == NULL) {
        return;
    }
    rmq_push_consumer_shutdown(pc, NULL);
    /* every thread is gone: what is left is only ours */
    while (pc->later != NULL) {
        push_task *t = pc->later;
        push_later_unlink(pc, t);
        rmq_push_task_free(t);
    }
    rmq_push_free_all(pc);
    rmq_core_addrs_free(pc->hb_addrs, pc->nhb);
    rmq_core_fini(&pc->core);
    rmq_pool_free(pc->pool);
    for (size_t i = 0; i < pc->nsubs; i++) {
        free(pc->subs[i].topic);
        rmq_tagexpr_free(&pc->subs[i].expr);
    }
    free(pc->subs);
    pthread_mutex_destroy(&pc->mu);
    free(pc);
}
