/*
 * pull.c - the public pull consumer API (rmq/client.h): queue listing,
 * pulls at an offset, consumer offsets.  Every call is a synchronous
 * request (core.h rpc jobs) run on the I/O thread; records are decoded on
 * the caller's thread.  Safe from many threads; c->mu guards the state.
 *
 * With heartbeat_interval_ms > 0, heartbeats (as a Java pull consumer:
 * CONSUME_ACTIVELY, no subscriptions) go to every broker of the cached
 * routes that often, and at once when a call brought a new route, so the
 * group's consumer list shows this consumer; shutdown unregisters.  Off
 * by default: tools (rmqctl consume) must not join a group.
 */
#include "client/cjson.h"
#include "client/core.h"
#include "client/record.h"
#include "client/tagexpr.h"

#include "common/util.h"
#include "proto/codes.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PULL_DEFAULT_GROUP "DEFAULT_CONSUMER"
#define PULL_DEFAULT_MAX 32

enum pull_state { PULL_NEW, PULL_RUNNING, PULL_STOPPED };

struct rmq_pull_consumer {
    rmq_core        core;
    pthread_mutex_t mu;
    enum pull_state state;
    int             hb_interval_ms;
    atomic_size_t   hb_routes; /* routes known when a heartbeat last went */
    atomic_bool     hb_sent;   /* set by the I/O thread: brokers know us */
};

void
rmq_pull_consumer_opts_init(rmq_pull_consumer_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->group = PULL_DEFAULT_GROUP;
    o->timeout_ms = RMQ_DEFAULT_TIMEOUT_MS;
    o->route_refresh_ms = RMQ_DEFAULT_REFRESH_MS;
    o->log_level = RMQ_CLIENT_LOG_WARN;
}

int
rmq_pull_consumer_new(const rmq_pull_consumer_opts *opts,
                      rmq_pull_consumer **out, rmq_error *err)
{
    rmq_pull_consumer *c;
    rmq_core_cfg       cfg;
    int                rc;

    if (opts == NULL || out == NULL) {
        return rmq_cerr_set(err, RMQ_CLIENT_ERR_INVALID, "opts is NULL");
    }
    c = calloc(1, sizeof(*c));
    if (c == NULL) {
        return rmq_cerr_set(err, RMQ_CLIENT_ERR_NOMEM,
                            "could not allocate a pull consumer");
    }
    cfg =
        (rmq_core_cfg){.kind = "pull consumer",
                       .namesrv_addr = opts->namesrv_addr,
                       .group = opts->group ? opts->group : PULL_DEFAULT_GROUP,
                       .instance_name = opts->instance_name,
                       .timeout_ms = opts->timeout_ms,
                       .route_refresh_ms = opts->route_refresh_ms,
                       .log_fn = opts->log_fn,
                       .log_arg = opts->log_arg,
                       .log_level = opts->log_level};
    if ((rc = rmq_core_init(&c->core, &cfg, err)) != 0) {
        free(c);
        return rc;
    }
    pthread_mutex_init(&c->mu, NULL);
    c->hb_interval_ms = RMQ_MAX(opts->heartbeat_interval_ms, 0);
    atomic_init(&c->hb_routes, 0);
    *out = c;
    return 0;
}

/* ---- heartbeats (I/O thread) ------------------------------------------- */

static void
pull_hb_done(rmq_core *core, int failures, const rmq_error *first, void *arg)
{
    if (failures > 0) {
        rmq_clog(&core->log, RMQ_CLIENT_LOG_WARN, "pull.heartbeat",
                 "%d broker(s) refused a heartbeat (%s)", failures,
                 first->message);
    }
}

static void
pull_heartbeat(rmq_cio *io, void *arg)
{
    rmq_pull_consumer *c = arg;
    rmq_hb_consumer    hc = {.group = c->core.group,
                             .consume_type = "CONSUME_ACTIVELY",
                             .message_model = "CLUSTERING",
                             .consume_from = "CONSUME_FROM_LAST_OFFSET"};
    rmq_buf            body;
    char             **addrs = NULL;
    size_t             n = 0;

    rmq_buf_init(&body);
    if (rmq_core_broker_addrs(&c->core, false, &addrs, &n) == 0 && n > 0 &&
        rmq_cjson_heartbeat(c->core.client_id, RMQ_INNER_PRODUCER_GROUP, &hc,
                            &body) == 0) {
        atomic_store(&c->hb_sent, true);
        rmq_core_fanout(&c->core, addrs, n, RMQ_REQ_HEART_BEAT, NULL, &body,
                        pull_hb_done, c);
    }
    rmq_core_addrs_free(addrs, n);
    rmq_buf_free(&body);
}

static void
pull_start_timers(rmq_cio *io, void *arg)
{
    rmq_pull_consumer *c = arg;

    rmq_cio_every(io, c->hb_interval_ms, pull_heartbeat, c);
}

/* Any thread: heartbeat now if a route came since the last one. */
static void
pull_hb_kick(rmq_pull_consumer *c)
{
    size_t n = 0;

    if (c->hb_interval_ms == 0) {
        return;
    }
    pthread_mutex_lock(&c->core.mu);
    for (size_t i = 0; i < c->core.nroutes; i++) {
        n += c->core.routes[i].route != NULL;
    }
    pthread_mutex_unlock(&c->core.mu);
    if (atomic_exchange(&c->hb_routes, n) != n) {
        rmq_cio_post(c->core.io, pull_heartbeat, c);
    }
}

int
rmq_pull_consumer_start(rmq_pull_consumer *c, rmq_error *err)
{
    int rc;

    if (c == NULL) {
        return rmq_cerr_set(err, RMQ_CLIENT_ERR_INVALID, "consumer is NULL");
    }
    pthread_mutex_lock(&c->mu);
    if (c->state != PULL_NEW) {
        pthread_mutex_unlock(&c->mu);
        return rmq_cerr_set(err, RMQ_CLIENT_ERR_INVALID,
                            "pull consumer was already started");
    }
    rc = rmq_core_start(&c->core, err);
    if (rc == 0) {
        if (c->hb_interval_ms > 0) {
            rmq_cio_post(c->core.io, pull_start_timers, c);
        }
        c->state = PULL_RUNNING;
    }
    pthread_mutex_unlock(&c->mu);
    return rc;
}

int
rmq_pull_consumer_shutdown(rmq_pull_consumer *c, rmq_error *err)
{
    bool was_running;

    if (c == NULL) {
        return rmq_cerr_set(err, RMQ_CLIENT_ERR_INVALID, "consumer is NULL");
    }
    pthread_mutex_lock(&c->mu);
    was_running = c->state == PULL_RUNNING;
    c->state = PULL_STOPPED;
    pthread_mutex_unlock(&c->mu);
    if (was_running && atomic_load(&c->hb_sent)) {
        rmq_core_unregister_sync(&c->core, "consumerGroup", false);
    }
    rmq_core_stop(&c->core);
    return 0;
}

void
rmq_pull_consumer_destroy(rmq_pull_consumer *c)
{
    if (c == NULL) {
        return;
    }
    rmq_pull_consumer_shutdown(c, NULL);
    rmq_core_fini(&c->core);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

static int
pull_check(rmq_pull_consumer *c, const rmq_queue *q, rmq_error *err)
{
    enum pull_state st;

    if (c == NULL) {
        return rmq_cerr_set(err, RMQ_CLIENT_ERR_INVALID, "consumer is NULL");
    }
    pthread_mutex_lock(&c->mu);
    st = c->state;
    pthread_mutex_unlock(&c->mu);
    if (st != PULL_RUNNING) {
        return rmq_cerr_set(err,
                            st == PULL_NEW ? RMQ_CLIENT_ERR_INVALID
                                           : RMQ_CLIENT_ERR_CLOSED,
                            "pull consumer is %s",
                            st == PULL_NEW ? "not started" : "shut down");
    }
    if (q != NULL && (!rmq_core_topic_ok(q->topic) ||
                      q->broker_name[0] == '\0' || q->queue_id < 0)) {
        return rmq_cerr_set(err, RMQ_CLIENT_ERR_INVALID,
                            "queue is not a valid topic/broker/queue id");
    }
    return 0;
}

int
rmq_pull_consumer_fetch_queues(rmq_pull_consumer *c, const char *topic,
                               rmq_queue **queues, size_t *n, rmq_error *err)
{
    rmq_route *route;
    int        rc;

    if ((rc = pull_check(c, NULL, err)) != 0) {
        return rc;
    }
    if (!rmq_core_topic_ok(topic) || queues == NULL || n == NULL) {
        return rmq_cerr_set(err, RMQ_CLIENT_ERR_INVALID,
                            "invalid topic or output");
    }
    if ((rc = rmq_core_route_sync(&c->core, topic, &route, err)) != 0) {
        return rc;
    }
    rc = rmq_core_queues(route, false, queues, n, err);
    rmq_route_release(route);
    pull_hb_kick(c);
    return rc;
}

/* ---- offsets ----------------------------------------------------------- */

/* An rpc to the master of q's broker with topic and queueId set. */
static rmq_rpc *
pull_rpc(rmq_pull_consumer *c, int code, const rmq_queue *q, int timeout_ms)
{
    rmq_rpc *r = rmq_rpc_new(&c->core, code, timeout_ms);

    if (r == NULL || rmq_rpc_target(r, q->topic, q->broker_name) != 0 ||
        rmq_rpc_ext(r, "topic", "%s", q->topic) != 0 ||
        rmq_rpc_ext(r, "queueId", "%d", q->queue_id) != 0) {
        rmq_rpc_release(r);
        return NULL;
    }
    return r;
}

/* Run r and read the ext field "offset" of a successful answer. */
static int
pull_rpc_offset(rmq_pull_consumer *c, rmq_rpc *r, const char *what,
                int64_t *offset, rmq_error *err)
{
    int rc = rmq_rpc_run(r, err);

    pull_hb_kick(c);
    if (rc == 0 && r->resp_code != RMQ_RESP_SUCCESS) {
        rc = rmq_cerr_response(err, what, r->addr, r->resp_code, r->remark);
    }
    if (rc == 0 && offset != NULL) {
        rc = rmq_rpc_resp_i64(r, "offset", offset, err);
    }
    rmq_rpc_release(r);
    return rc;
}

int
rmq_pull_consumer_query_offset(rmq_pull_consumer *c, const rmq_queue *q,
                               int64_t *offset, rmq_error *err)
{
    rmq_rpc *r;
    int      rc;

    if ((rc = pull_check(c, q, err)) != 0) {
        return rc;
    }
    r = pull_rpc(c, RMQ_REQ_QUERY_CONSUMER_OFFSET, q, 0);
    if (r == NULL || rmq_rpc_ext(r, "consumerGroup", "%s", c->core.group)) {
        rmq_rpc_release(r);
        return rmq_cerr_set(err, RMQ_CLIENT_ERR_NOMEM, "out of memory");
    }
    return pull_rpc_offset(c, r, "could not query the consumer offset", offset,
                           err);
}

int
rmq_pull_consumer_commit_offset(rmq_pull_consumer *c, const rmq_queue *q,
                                int64_t offset, rmq_error *err)
{
    rmq_rpc *r;
    int      rc;

    if ((rc = pull_check(c, q, err)) != 0) {
        return rc;
    }
    r = pull_rpc(c, RMQ_REQ_UPDATE_CONSUMER_OFFSET, q, 0);
    if (r == NULL || rmq_rpc_ext(r, "consumerGroup", "%s", c->core.group) ||
        rmq_rpc_ext(r, "commitOffset", "%lld", (long long)offset)) {
        rmq_rpc_release(r);
        return rmq_cerr_set(err, RMQ_CLIENT_ERR_NOMEM, "out of memory");
    }
    return pull_rpc_offset(c, r, "could not commit the consumer offset", NULL,
                           err);
}

static int
pull_simple_offset(rmq_pull_consumer *c, int code, const rmq_queue *q,
                   int64_t *offset, rmq_error *err)
{
    rmq_rpc *r;
    int      rc;

    if ((rc = pull_check(c, q, err)) != 0) {
        return rc;
    }
    if ((r = pull_rpc(c, code, q, 0)) == NULL) {
        return rmq_cerr_set(err, RMQ_CLIENT_ERR_NOMEM, "out of memory");
    }
    return pull_rpc_offset(c, r, "could not read a queue offset", offset, err);
}

int
rmq_pull_consumer_max_offset(rmq_pull_consumer *c, const rmq_queue *q,
                             int64_t *offset, rmq_error *err)
{
    return pull_simple_offset(c, RMQ_REQ_GET_MAX_OFFSET, q, offset, err);
}

int
rmq_pull_consumer_min_offset(rmq_pull_consumer *c, const rmq_queue *q,
                             int64_t *offset, rmq_error *err)
{
    return pull_simple_offset(c, RMQ_REQ_GET_MIN_OFFSET, q, offset, err);
}

int
rmq_pull_consumer_search_offset(rmq_pull_consumer *c, const rmq_queue *q,
                                int64_t timestamp_ms, int64_t *offset,
                                rmq_error *err)
{
    rmq_rpc *r;
    int      rc;

    if ((rc = pull_check(c, q, err)) != 0) {
        return rc;
    }
    r = pull_rpc(c, RMQ_REQ_SEARCH_OFFSET_BY_TIMESTAMP, q, 0);
    if (r == NULL ||
        rmq_rpc_ext(r, "timestamp", "%lld", (long long)timestamp_ms) != 0) {
        rmq_rpc_release(r);
        return rmq_cerr_set(err, RMQ_CLIENT_ERR_NOMEM, "out of memory");
    }
    return pull_rpc_offset(c, r, "could not search an offset by time", offset,
                           err);
}

/* ---- pulling ----------------------------------------------------------- */

void
rmq_pull_result_free(rmq_pull_result *r)
{
    if (r == NULL) {
        return;
    }
    rmq_msgexts_free(r->msgs, r->nmsgs);
    free(r);
}

static int
pull_request_ext(rmq_pull_consumer *c, rmq_rpc *r, const rmq_pull_request *q,
                 const rmq_tagexpr *expr)
{
    int sysflag =
        RMQ_PULL_SUBSCRIPTION | (q->suspend_ms > 0 ? RMQ_PULL_SUSPEND : 0);

    return rmq_rpc_ext(r, "consumerGroup", "%s", c->core.group) ||
           rmq_rpc_ext(r, "queueOffset", "%lld", (long long)q->offset) ||
           rmq_rpc_ext(r, "maxMsgNums", "%d",
                       q->max_msgs > 0 ? q->max_msgs : PULL_DEFAULT_MAX) ||
           rmq_rpc_ext(r, "sysFlag", "%d", sysflag) ||
           rmq_rpc_ext(r, "commitOffset", "0") ||
           rmq_rpc_ext(r, "suspendTimeoutMillis", "%d",
                       q->suspend_ms > 0 ? q->suspend_ms : 0) ||
           rmq_rpc_ext(r, "subscription", "%s", expr->text) ||
           rmq_rpc_ext(r, "subVersion", "%lld", (long long)rmq_now_ms()) ||
           rmq_rpc_ext(r, "expressionType", "TAG");
}

/* Keep the decoded messages whose tag matches (the broker only compared
 * hash codes). */
static void
pull_filter(rmq_pull_result *res, const rmq_tagexpr *expr, const char *broker)
{
    size_t kept = 0;

    for (size_t i = 0; i < res->nmsgs; i++) {
        rmq_message_ext *m = res->msgs[i];
        if (!rmq_tagexpr_match(expr, rmq_message_ext_get_tags(m))) {
            rmq_message_ext_free(m);
            continue;
        }
        snprintf(m->broker_name, sizeof(m->broker_name), "%s", broker);
        res->msgs[kept++] = m;
    }
    res->nmsgs = kept;
}

static int
pull_result(rmq_rpc *r, const rmq_pull_request *q, const rmq_tagexpr *expr,
            rmq_pull_result *res, rmq_error *err)
{
    size_t skipped;
    int    rc;

    switch (r->resp_code) {
    case RMQ_RESP_SUCCESS:
        res->status = RMQ_PULL_FOUND;
        break;
    case RMQ_RESP_PULL_NOT_FOUND:
        res->status = RMQ_PULL_NO_NEW_MSG;
        break;
    case RMQ_RESP_PULL_RETRY_IMMEDIATELY:
        res->status = RMQ_PULL_NO_MATCHED_MSG;
        break;
    case RMQ_RESP_PULL_OFFSET_MOVED:
        res->status = RMQ_PULL_OFFSET_ILLEGAL;
        break;
    default:
        return rmq_cerr_response(err, "could not pull", r->addr, r->resp_code,
                                 r->remark);
    }
    if ((rc = rmq_rpc_resp_i64(r, "nextBeginOffset", &res->next_begin_offset,
                               err)) != 0 ||
        (rc = rmq_rpc_resp_i64(r, "minOffset", &res->min_offset, err)) != 0 ||
        (rc = rmq_rpc_resp_i64(r, "maxOffset", &res->max_offset, err)) != 0) {
        return rc;
    }
    if (res->status != RMQ_PULL_FOUND) {
        return 0;
    }
    if (rmq_records_decode(r->resp_body.data, r->resp_body.len, &res->msgs,
                           &res->nmsgs, &skipped) != 0) {
        return rmq_cerr_set(err, RMQ_CLIENT_ERR_NOMEM,
                            "could not decode pulled messages");
    }
    if (skipped > 0) {
        rmq_clog(&r->core->log, RMQ_CLIENT_LOG_WARN, "pull.decode",
                 "%zu pulled record(s) of %s could not be decoded", skipped,
                 q->queue.topic);
    }
    pull_filter(res, expr, q->queue.broker_name);
    return 0;
}

int
rmq_pull_consumer_pull(rmq_pull_consumer *c, const rmq_pull_request *req,
                       rmq_pull_result **out, rmq_error *err)
{
    rmq_tagexpr      expr;
    rmq_rpc         *r;
    rmq_pull_result *res;
    int              rc;

    if (req == NULL || out == NULL) {
        return rmq_cerr_set(err, RMQ_CLIENT_ERR_INVALID,
                            "pull needs a request and an output");
    }
    if ((rc = pull_check(c, &req->queue, err)) != 0) {
        return rc;
    }
    if (rmq_tagexpr_parse(req->tag_expr, &expr) != 0) {
        return rmq_cerr_set(err, RMQ_CLIENT_ERR_INVALID,
                            "tag expression \"%s\" names no tag",
                            req->tag_expr);
    }
    r = pull_rpc(c, RMQ_REQ_PULL_MESSAGE, &req->queue,
                 c->core.timeout_ms + RMQ_MAX(req->suspend_ms, 0));
    res = calloc(1, sizeof(*res));
    if (r == NULL || res == NULL || pull_request_ext(c, r, req, &expr) != 0) {
        rc = rmq_cerr_set(err, RMQ_CLIENT_ERR_NOMEM, "out of memory");
    } else if ((rc = rmq_rpc_run(r, err)) == 0) {
        rc = pull_result(r, req, &expr, res, err);
        pull_hb_kick(c);
    }
    rmq_rpc_release(r);
    rmq_tagexpr_free(&expr);
    if (rc != 0) {
        rmq_pull_result_free(res);
        return rc;
    }
    *out = res;
    return 0;
}
