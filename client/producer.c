/*
 * producer.c - the public producer API (rmq/client.h).
 *
 * Threads: API calls come from any number of application threads; each
 * send is prepared on the caller's thread and handed to the I/O thread
 * (send.c).  Async outcomes go to the callback pool, so a slow callback
 * never stalls the I/O thread.  Started in rmq_producer_start, stopped in
 * rmq_producer_shutdown: unregister (35), stop the I/O thread (which
 * fails what is in flight), then run the remaining callbacks.  p->mu
 * guards the state.
 */
#include "client/core.h"
#include "client/cjson.h"
#include "client/pool.h"
#include "client/send.h"

#include "common/util.h"
#include "proto/codes.h"

#include <stdlib.h>
#include <string.h>

#define PROD_DEFAULT_GROUP "DEFAULT_PRODUCER"
#define PROD_DEFAULT_MAX_SIZE (4u * 1024 * 1024)
#define PROD_DEFAULT_COMPRESS 4096
#define PROD_WAIT_GRACE_MS 1000

enum prod_state { PROD_NEW, PROD_RUNNING, PROD_STOPPED };

struct rmq_producer {
    rmq_core          core;
    rmq_producer_opts opts; /* strings point into core */
    rmq_pool         *cb_pool;
    pthread_mutex_t   mu;
    enum prod_state   state;
};

void
rmq_producer_opts_init(rmq_producer_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->group = PROD_DEFAULT_GROUP;
    o->send_timeout_ms = RMQ_DEFAULT_TIMEOUT_MS;
    o->retry_times = 2;
    o->async_retry_times = 2;
    o->compress_threshold = PROD_DEFAULT_COMPRESS;
    o->max_message_size = PROD_DEFAULT_MAX_SIZE;
    o->callback_threads = 1;
    o->route_refresh_ms = RMQ_DEFAULT_REFRESH_MS;
    o->heartbeat_interval_ms = 30000;
    o->log_level = RMQ_CLIENT_LOG_WARN;
}

int
rmq_producer_new(const rmq_producer_opts *opts, rmq_producer **out,
                 rmq_error *err)
{
    rmq_producer *p;
    rmq_core_cfg  cfg;
    int           rc;

    if (opts == NULL || out == NULL) {
        return rmq_cerr_set(err, RMQ_CLIENT_ERR_INVALID, "opts is NULL");
    }
    p = calloc(1, sizeof(*p));
    if (p == NULL) {
        return rmq_cerr_set(err, RMQ_CLIENT_ERR_NOMEM,
                            "could not allocate a producer");
    }
    p->opts = *opts;
    cfg =
        (rmq_core_cfg){.kind = "producer",
                       .namesrv_addr = opts->namesrv_addr,
                       .group = opts->group ? opts->group : PROD_DEFAULT_GROUP,
                       .instance_name = opts->instance_name,
                       .timeout_ms = opts->send_timeout_ms,
                       .route_refresh_ms = opts->route_refresh_ms,
                       .default_route = true,
                       .log_fn = opts->log_fn,
                       .log_arg = opts->log_arg,
                       .log_level = opts->log_level};
    if ((rc = rmq_core_init(&p->core, &cfg, err)) != 0) {
        free(p);
        return rc;
    }
    p->opts.namesrv_addr = NULL;
    p->opts.group = p->core.group;
    p->opts.instance_name = NULL;
    if (p->opts.send_timeout_ms <= 0) {
        p->opts.send_timeout_ms = RMQ_DEFAULT_TIMEOUT_MS;
    }
    if (p->opts.heartbeat_interval_ms <= 0) {
        p->opts.heartbeat_interval_ms = 30000;
    }
    pthread_mutex_init(&p->mu, NULL);
    *out = p;
    return 0;
}

/* ---- heartbeats and unregistering (I/O thread) ------------------------- */

static void
prod_heartbeat(rmq_cio *io, void *arg)
{
    rmq_producer *p = arg;
    rmq_buf       body;
    char        **addrs;
    size_t        n;

    rmq_buf_init(&body);
    if (rmq_core_broker_addrs(&p->core, true, &addrs, &n) == 0 &&
        rmq_cjson_heartbeat(p->core.client_id, p->core.group, NULL, &body) ==
            0) {
        rmq_core_fanout(&p->core, addrs, n, RMQ_REQ_HEART_BEAT, NULL, &body,
                        NULL, NULL);
    }
    rmq_core_addrs_free(addrs, n);
    rmq_buf_free(&body);
}

static void
prod_start_timers(rmq_cio *io, void *arg)
{
    rmq_producer *p = arg;

    rmq_cio_every(io, p->opts.heartbeat_interval_ms, prod_heartbeat, p);
}

/* ---- life cycle -------------------------------------------------------- */

int
rmq_producer_start(rmq_producer *p, rmq_error *err)
{
    int rc;

    if (p == NULL) {
        return rmq_cerr_set(err, RMQ_CLIENT_ERR_INVALID, "producer is NULL");
    }
    pthread_mutex_lock(&p->mu);
    if (p->state != PROD_NEW) {
        pthread_mutex_unlock(&p->mu);
        return rmq_cerr_set(err, RMQ_CLIENT_ERR_INVALID,
                            "producer was already started");
    }
    rc = rmq_pool_new(p->opts.callback_threads, &p->cb_pool);
    if (rc != 0) {
        pthread_mutex_unlock(&p->mu);
        return rmq_cerr_set(err, rc, "could not start callback threads");
    }
    if ((rc = rmq_core_start(&p->core, err)) != 0) {
        rmq_pool_free(p->cb_pool);
        p->cb_pool = NULL;
        pthread_mutex_unlock(&p->mu);
        return rc;
    }
    rmq_cio_post(p->core.io, prod_start_timers, p);
    p->state = PROD_RUNNING;
    pthread_mutex_unlock(&p->mu);
    return 0;
}

int
rmq_producer_shutdown(rmq_producer *p, rmq_error *err)
{
    bool was_running;

    if (p == NULL) {
        return rmq_cerr_set(err, RMQ_CLIENT_ERR_INVALID, "producer is NULL");
    }
    if (p->cb_pool != NULL && rmq_pool_on_thread(p->cb_pool)) {
        return rmq_cerr_set(err, RMQ_CLIENT_ERR_INVALID,
                            "cannot shut a producer down from its own "
                            "callback");
    }
    pthread_mutex_lock(&p->mu);
    was_running = p->state == PROD_RUNNING;
    p->state = PROD_STOPPED;
    pthread_mutex_unlock(&p->mu);
    if (!was_running) {
        return 0;
    }
    rmq_core_unregister_sync(&p->core, "producerGroup", true);
    /* stopping the I/O thread completes every send in flight (CLOSED);
     * their callbacks are queued on the pool, which then runs them all */
    rmq_core_stop(&p->core);
    rmq_pool_stop(p->cb_pool, true);
    rmq_clog(&p->core.log, RMQ_CLIENT_LOG_INFO, "producer.stop",
             "producer stopped");
    return 0;
}

void
rmq_producer_destroy(rmq_producer *p)
{
    if (p == NULL) {
        return;
    }
    rmq_producer_shutdown(p, NULL);
    rmq_core_fini(&p->core);
    rmq_pool_free(p->cb_pool);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

/* ---- sending ----------------------------------------------------------- */

static int
prod_check_running(rmq_producer *p, rmq_error *err)
{
    enum prod_state st;

    if (p == NULL) {
        return rmq_cerr_set(err, RMQ_CLIENT_ERR_INVALID, "producer is NULL");
    }
    pthread_mutex_lock(&p->mu);
    st = p->state;
    pthread_mutex_unlock(&p->mu);
    if (st == PROD_NEW) {
        return rmq_cerr_set(err, RMQ_CLIENT_ERR_INVALID,
                            "producer is not started");
    }
    if (st == PROD_STOPPED) {
        return rmq_cerr_set(err, RMQ_CLIENT_ERR_CLOSED,
                            "producer is shut down");
    }
    return 0;
}

static void
prod_cfg(rmq_producer *p, rmq_send_cfg *cfg, int retries, bool oneway)
{
    *cfg = (rmq_send_cfg){.group = p->core.group,
                          .timeout_ms = p->opts.send_timeout_ms,
                          .retries = retries,
                          .compress_threshold = p->opts.compress_threshold,
                          .max_message_size = p->opts.max_message_size,
                          .reconsume_times = -1,
                          .max_reconsume = -1,
                          .oneway = oneway};
}

/* A started producer's job for one message, or an error in err. */
static int
prod_prepare(rmq_producer *p, const rmq_message *msg, int retries, bool oneway,
             rmq_send_job **j, rmq_error *err)
{
    rmq_send_cfg cfg;
    int          rc;

    if ((rc = prod_check_running(p, err)) != 0) {
        return rc;
    }
    prod_cfg(p, &cfg, retries, oneway);
    return rmq_send_prepare(&p->core, &cfg, msg, j, err);
}

static void
prod_sync_done(rmq_send_job *j)
{
    rmq_core_done(j->core, &j->sync);
    if (rmq_core_unref(j->core, &j->sync)) {
        rmq_send_job_free(j);
    }
}

/* Hand a prepared job to the I/O thread and wait for its outcome. */
static int
prod_run_sync(rmq_producer *p, rmq_send_job *j, rmq_send_result *res,
              rmq_batch_id *ids, rmq_error *err)
{
    int64_t deadline = j->deadline_ms +
                       (int64_t)p->core.timeout_ms * (int64_t)p->core.nns +
                       PROD_WAIT_GRACE_MS;
    int rc;

    rmq_sync_init(&j->sync);
    j->done = prod_sync_done;
    if ((rc = rmq_cio_post(p->core.io, rmq_send_run, j)) != 0) {
        rmq_send_job_free(j);
        return rmq_cerr_set(err, RMQ_CLIENT_ERR_CLOSED,
                            "producer is shut down");
    }
    if (!rmq_core_wait(&p->core, &j->sync, deadline)) {
        rc = rmq_cerr_set(err, RMQ_CLIENT_ERR_TIMEOUT,
                          "send to topic %s got no outcome in time", j->topic);
    } else if ((rc = j->rc) != 0) {
        rmq_cerr_copy(err, &j->err);
    } else {
        if (res != NULL) {
            *res = j->res;
        }
        if (ids != NULL) {
            rmq_send_batch_ids(j, ids, (size_t)j->count);
        }
    }
    if (rmq_core_unref(&p->core, &j->sync)) {
        rmq_send_job_free(j);
    }
    return rc;
}

int
rmq_producer_send(rmq_producer *p, const rmq_message *msg, rmq_send_result *res,
                  rmq_error *err)
{
    rmq_send_job *j;
    int           rc;

    if ((rc = prod_prepare(p, msg, p->opts.retry_times, false, &j, err)) != 0) {
        return rc;
    }
    return prod_run_sync(p, j, res, NULL, err);
}

int
rmq_producer_send_oneway(rmq_producer *p, const rmq_message *msg,
                         rmq_error *err)
{
    rmq_send_job *j;
    int           rc;

    if ((rc = prod_prepare(p, msg, 0, true, &j, err)) != 0) {
        return rc;
    }
    return prod_run_sync(p, j, NULL, NULL, err);
}

int
rmq_producer_send_batch_ids(rmq_producer *p, const rmq_message *const *msgs,
                            size_t n, rmq_send_result *res, rmq_batch_id *ids,
                            rmq_error *err)
{
    rmq_send_cfg  cfg;
    rmq_send_job *j;
    int           rc;

    if ((rc = prod_check_running(p, err)) != 0) {
        return rc;
    }
    prod_cfg(p, &cfg, p->opts.retry_times, false);
    if ((rc = rmq_send_prepare_batch(&p->core, &cfg, msgs, n, &j, err)) != 0) {
        return rc;
    }
    return prod_run_sync(p, j, res, ids, err);
}

int
rmq_producer_send_batch(rmq_producer *p, const rmq_message *const *msgs,
                        size_t n, rmq_send_result *res, rmq_error *err)
{
    return rmq_producer_send_batch_ids(p, msgs, n, res, NULL, err);
}

int
rmq_producer_send_to_queue(rmq_producer *p, const rmq_message *msg,
                           const rmq_queue *queue, rmq_send_result *res,
                           rmq_error *err)
{
    rmq_send_job *j;
    int           rc;

    if ((rc = prod_prepare(p, msg, 0, false, &j, err)) != 0) {
        return rc;
    }
    if ((rc = rmq_send_fix_queue(j, queue, err)) != 0) {
        rmq_send_job_free(j);
        return rc;
    }
    return prod_run_sync(p, j, res, NULL, err);
}

int
rmq_producer_send_ordered(rmq_producer *p, const rmq_message *msg,
                          rmq_queue_selector select, void *arg,
                          rmq_send_result *res, rmq_error *err)
{
    rmq_route *route;
    rmq_queue  q;
    int        rc, idx;

    if ((rc = prod_check_running(p, err)) != 0) {
        return rc;
    }
    if (msg == NULL || select == NULL) {
        return rmq_cerr_set(err, RMQ_CLIENT_ERR_INVALID,
                            "ordered send needs a message and a selector");
    }
    if ((rc = rmq_core_route_sync(&p->core, msg->topic, &route, err)) != 0) {
        return rc;
    }
    if (route->npub == 0) {
        rmq_route_release(route);
        return rmq_cerr_set(err, RMQ_CLIENT_ERR_NO_ROUTE,
                            "topic %s has no writable queue", msg->topic);
    }
    idx = select((int)route->npub, msg, arg);
    if (idx < 0 || (size_t)idx >= route->npub) {
        rmq_route_release(route);
        return rmq_cerr_set(err, RMQ_CLIENT_ERR_INVALID,
                            "selector picked queue %d of %zu", idx,
                            route->npub);
    }
    rc = rmq_core_queue(&q, msg->topic, route->pub[idx].broker,
                        route->pub[idx].qid);
    rmq_route_release(route);
    if (rc != 0) {
        return rmq_cerr_set(err, rc, "broker name is too long");
    }
    return rmq_producer_send_to_queue(p, msg, &q, res, err);
}

/* ---- async ------------------------------------------------------------- */

static void
prod_async_cb(void *arg, bool cancelled)
{
    rmq_send_job *j = arg;

    /* a cancelled callback still reports: every accepted send does */
    (void)cancelled;
    if (j->rc == 0) {
        j->user_cb(0, &j->res, NULL, j->user_arg);
    } else {
        j->user_cb(j->rc, NULL, &j->err, j->user_arg);
    }
    rmq_send_job_free(j);
}

/* I/O thread: the outcome goes to a callback thread. */
static void
prod_async_done(rmq_send_job *j)
{
    rmq_producer *p = j->done_arg;

    if (rmq_pool_submit(p->cb_pool, prod_async_cb, j) != 0) {
        prod_async_cb(j, true); /* no pool left: report from here */
    }
}

int
rmq_producer_send_async(rmq_producer *p, const rmq_message *msg, rmq_send_cb cb,
                        void *arg, rmq_error *err)
{
    rmq_send_job *j;
    int           rc;

    if (cb == NULL) {
        return rmq_cerr_set(err, RMQ_CLIENT_ERR_INVALID,
                            "async send needs a callback");
    }
    rc = prod_prepare(p, msg, p->opts.async_retry_times, false, &j, err);
    if (rc != 0) {
        return rc;
    }
    j->done = prod_async_done;
    j->done_arg = p;
    j->user_cb = cb;
    j->user_arg = arg;
    if (rmq_cio_post(p->core.io, rmq_send_run, j) != 0) {
        rmq_send_job_free(j);
        return rmq_cerr_set(err, RMQ_CLIENT_ERR_CLOSED,
                            "producer is shut down");
    }
    return 0;
}

int
rmq_producer_fetch_queues(rmq_producer *p, const char *topic,
                          rmq_queue **queues, size_t *n, rmq_error *err)
{
    rmq_route *route;
    int        rc;

    if ((rc = prod_check_running(p, err)) != 0) {
        return rc;
    }
    if (!rmq_core_topic_ok(topic) || queues == NULL || n == NULL) {
        return rmq_cerr_set(err, RMQ_CLIENT_ERR_INVALID,
                            "invalid topic or output");
    }
    if ((rc = rmq_core_route_sync(&p->core, topic, &route, err)) != 0) {
        return rc;
    }
    rc = rmq_core_queues(route, true, queues, n, err);
    rmq_route_release(route);
    return rc;
}
