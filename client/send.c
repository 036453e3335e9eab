/*
 * send.c - the send path (send.h).  Preparation runs on the caller's
 * thread; everything from rmq_send_run on runs on the instance's I/O
 * thread.  A job is touched by one thread at a time: the caller until it
 * posts it, then the I/O thread until job->done hands it back.
 */
#include "client/send.h"

#include "client/record.h"
#include "common/util.h"
#include "proto/codes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void send_attempt(rmq_send_job *j);

bool
rmq_send_retryable(int code)
{
    return code == RMQ_RESP_TOPIC_NOT_EXIST ||
           code == RMQ_RESP_SERVICE_NOT_AVAILABLE ||
           code == RMQ_RESP_SYSTEM_ERROR || code == RMQ_RESP_NO_PERMISSION ||
           code == 204 || code == 205;
}

void
rmq_send_job_free(rmq_send_job *j)
{
    if (j == NULL) {
        return;
    }
    rmq_buf_free(&j->body);
    rmq_buf_free(&j->props);
    free(j->topic);
    free(j->group);
    free(j->batch_ids);
    free(j->offset_ids);
    free(j);
}

/* ---- preparation (caller thread) --------------------------------------- */

static rmq_send_job *
send_job_new(rmq_core *c, const rmq_send_cfg *cfg, const char *topic)
{
    rmq_send_job *j = calloc(1, sizeof(*j));

    if (j == NULL) {
        return NULL;
    }
    j->core = c;
    rmq_buf_init(&j->body);
    rmq_buf_init(&j->props);
    j->topic = strdup(topic);
    j->group = strdup(cfg->group);
    if (j->topic == NULL || j->group == NULL) {
        rmq_send_job_free(j);
        return NULL;
    }
    j->born_ms = rmq_now_ms();
    j->reconsume_times = cfg->reconsume_times > 0 ? cfg->reconsume_times : 0;
    j->max_reconsume = cfg->max_reconsume;
    j->oneway = cfg->oneway;
    j->retries_left = cfg->oneway ? 0 : RMQ_MAX(cfg->retries, 0);
    j->deadline_ms =
        rmq_mono_ms() +
        (cfg->timeout_ms > 0 ? cfg->timeout_ms : RMQ_DEFAULT_TIMEOUT_MS);
    j->fixed_qid = -1;
    j->count = 1;
    return j;
}

static int
send_check(const rmq_send_cfg *cfg, const rmq_message *msg, rmq_error *err)
{
    if (msg == NULL) {
        return rmq_cerr_set(err, RMQ_CLIENT_ERR_INVALID, "message is NULL");
    }
    if (!rmq_core_topic_ok(msg->topic)) {
        return rmq_cerr_set(err, RMQ_CLIENT_ERR_INVALID,
                            "topic \"%s\" is not a valid topic name "
                            "([%%|a-zA-Z0-9_-], at most 127)",
                            msg->topic);
    }
    if (msg->body_len == 0) {
        return rmq_cerr_set(err, RMQ_CLIENT_ERR_INVALID,
                            "message body is empty");
    }
    if (cfg->max_message_size > 0 && msg->body_len > cfg->max_message_size) {
        return rmq_cerr_set(err, RMQ_CLIENT_ERR_TOO_BIG,
                            "message body of %zu bytes is over the limit of "
                            "%zu",
                            msg->body_len, cfg->max_message_size);
    }
    return 0;
}

static int
send_encode_body(rmq_send_job *j, const rmq_send_cfg *cfg,
                 const rmq_message *msg)
{
    if (cfg->compress_threshold > 0 &&
        msg->body_len >= cfg->compress_threshold &&
        rmq_body_compress(msg->body, msg->body_len, &j->body) == 0) {
        j->sys_flag |= RMQ_MSGF_COMPRESSED;
        return 0;
    }
    rmq_buf_reset(&j->body);
    rmq_buf_append(&j->body, msg->body, msg->body_len);
    return j->body.oom ? RMQ_CLIENT_ERR_NOMEM : 0;
}

int
rmq_send_prepare(rmq_core *c, const rmq_send_cfg *cfg, const rmq_message *msg,
                 rmq_send_job **out, rmq_error *err)
{
    rmq_send_job *j;
    const char   *have;
    int           rc;

    if ((rc = send_check(cfg, msg, err)) != 0) {
        return rc;
    }
    j = send_job_new(c, cfg, msg->topic);
    if (j == NULL) {
        return rmq_cerr_set(err, RMQ_CLIENT_ERR_NOMEM,
                            "could not allocate a send");
    }
    j->flag = msg->flag;
    /* a message sent again (a consumer's retry) keeps its UNIQ_KEY */
    have = rmq_plist_get(&msg->props, RMQ_PROP_UNIQ_KEY);
    if (have != NULL && strlen(have) < sizeof(j->msg_id)) {
        strcpy(j->msg_id, have);
    } else {
        have = NULL;
        rmq_uniq_next(&c->uniq, j->born_ms, j->msg_id);
    }
    rc = send_encode_body(j, cfg, msg);
    if (rc == 0) {
        rc = rmq_record_props(msg, have != NULL ? NULL : j->msg_id, &j->props);
    }
    if (rc != 0) {
        rmq_send_job_free(j);
        return rmq_cerr_set(err, rc,
                            rc == RMQ_CLIENT_ERR_TOO_BIG
                                ? "message properties are over "
                                  "32767 bytes"
                                : "could not encode the message");
    }
    *out = j;
    return 0;
}

static int
send_check_batch(const rmq_send_cfg *cfg, const rmq_message *const *msgs,
                 size_t n, rmq_error *err)
{
    int rc;

    if (msgs == NULL || n == 0) {
        return rmq_cerr_set(err, RMQ_CLIENT_ERR_INVALID, "batch is empty");
    }
    for (size_t i = 0; i < n; i++) {
        if ((rc = send_check(cfg, msgs[i], err)) != 0) {
            return rc;
        }
        if (strcmp(msgs[i]->topic, msgs[0]->topic) != 0) {
            return rmq_cerr_set(err, RMQ_CLIENT_ERR_INVALID,
                                "a batch holds topics %s and %s: one topic "
                                "only",
                                msgs[0]->topic, msgs[i]->topic);
        }
        if (rmq_message_get_delay_level(msgs[i]) > 0) {
            return rmq_cerr_set(err, RMQ_CLIENT_ERR_INVALID,
                                "batched messages cannot have a delay level");
        }
    }
    if (strncmp(msgs[0]->topic, RMQ_RETRY_PREFIX, strlen(RMQ_RETRY_PREFIX)) ==
        0) {
        return rmq_cerr_set(err, RMQ_CLIENT_ERR_INVALID,
                            "retry topics cannot be sent in batches");
    }
    return 0;
}

int
rmq_send_prepare_batch(rmq_core *c, const rmq_send_cfg *cfg,
                       const rmq_message *const *msgs, size_t n,
                       rmq_send_job **out, rmq_error *err)
{
    rmq_send_job *j;
    char(*ids)[RMQ_MSG_ID_MAX] = NULL;
    const char **idp = NULL;
    int          rc;

    if ((rc = send_check_batch(cfg, msgs, n, err)) != 0) {
        return rc;
    }
    j = send_job_new(c, cfg, msgs[0]->topic);
    ids = calloc(n, sizeof(*ids));
    idp = calloc(n, sizeof(*idp));
    rc = j != NULL && ids != NULL && idp != NULL ? 0 : RMQ_CLIENT_ERR_NOMEM;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        rmq_uniq_next(&c->uniq, j->born_ms, ids[i]);
        idp[i] = ids[i];
    }
    if (rc == 0) {
        /* one batch: header i stays empty, ids go in each message */
        rc = rmq_record_batch(msgs, n, idp, &j->body);
    }
    if (rc == 0 && cfg->max_message_size > 0 &&
        j->body.len > cfg->max_message_size) {
        rc = RMQ_CLIENT_ERR_TOO_BIG;
    }
    if (rc == 0) {
        strcpy(j->msg_id, ids[0]);
        j->batch = true;
        j->count = (int)n;
        j->batch_ids = ids; /* the job keeps them for the result */
        ids = NULL;
    }
    free(ids);
    free(idp);
    if (rc != 0) {
        rmq_send_job_free(j);
        return rmq_cerr_set(err, rc,
                            "could not encode a batch of %zu "
                            "messages: %s",
                            n, rmq_client_strerror(rc));
    }
    *out = j;
    return 0;
}

void
rmq_send_batch_ids(const rmq_send_job *j, rmq_batch_id *ids, size_t n)
{
    const char *next = j->offset_ids;

    for (size_t i = 0; i < n; i++) {
        rmq_batch_id *b = &ids[i];
        size_t        len = 0;

        memset(b, 0, sizeof(*b));
        if (j->batch_ids != NULL && i < (size_t)j->count) {
            snprintf(b->msg_id, sizeof(b->msg_id), "%s", j->batch_ids[i]);
        }
        if (next != NULL) {
            len = strcspn(next, ",");
            snprintf(b->offset_msg_id, sizeof(b->offset_msg_id), "%.*s",
                     (int)len, next);
            next = next[len] == ',' ? next + len + 1 : NULL;
        }
        b->queue_offset =
            j->res.queue_offset >= 0 ? j->res.queue_offset + (int64_t)i : -1;
    }
}

int
rmq_send_fix_queue(rmq_send_job *j, const rmq_queue *q, rmq_error *err)
{
    if (q == NULL || q->queue_id < 0 || q->broker_name[0] == '\0' ||
        strcmp(q->topic, j->topic) != 0) {
        return rmq_cerr_set(err, RMQ_CLIENT_ERR_INVALID,
                            "queue does not belong to topic %s", j->topic);
    }
    strcpy(j->fixed_broker, q->broker_name);
    j->fixed_qid = q->queue_id;
    j->retries_left = 0;
    return 0;
}

/* ---- running (I/O thread) ---------------------------------------------- */

static void
send_finish(rmq_send_job *j, int rc, const rmq_error *err)
{
    j->rc = rc;
    if (rc != 0 && err != NULL && err != &j->err) {
        j->err = *err;
    }
    j->done(j);
}

static void
send_retry_or_finish(rmq_send_job *j)
{
    if (j->fixed_qid < 0 && j->retries_left > 0 &&
        rmq_mono_ms() < j->deadline_ms) {
        j->retries_left--;
        strcpy(j->last_broker, j->cur_broker);
        rmq_clog(&j->core->log, RMQ_CLIENT_LOG_INFO, "send.retry",
                 "retrying a send to topic %s after: %s", j->topic,
                 j->err.message);
        send_attempt(j);
        return;
    }
    send_finish(j, j->err.code, &j->err);
}

static void
send_result(rmq_send_job *j, const rmq_rcmd *resp)
{
    rmq_send_result *r = &j->res;
    const char      *id = rmq_rcmd_ext(resp, "msgId");
    int32_t          qid = j->cur_qid;
    int64_t          off = -1;

    memset(r, 0, sizeof(*r));
    r->status = resp->code == RMQ_RESP_FLUSH_DISK_TIMEOUT
                    ? RMQ_SEND_FLUSH_DISK_TIMEOUT
                : resp->code == RMQ_RESP_FLUSH_SLAVE_TIMEOUT
                    ? RMQ_SEND_FLUSH_SLAVE_TIMEOUT
                : resp->code == RMQ_RESP_SLAVE_NOT_AVAILABLE
                    ? RMQ_SEND_SLAVE_NOT_AVAILABLE
                    : RMQ_SEND_OK;
    strcpy(r->msg_id, j->msg_id);
    if (id != NULL) {
        size_t n = strcspn(id, ",");
        snprintf(r->offset_msg_id, sizeof(r->offset_msg_id), "%.*s", (int)n,
                 id);
        if (j->batch) {
            free(j->offset_ids);
            j->offset_ids = strdup(id); /* NULL: the ids stay "" */
        }
    }
    rmq_rcmd_ext_i32(resp, "queueId", &qid);
    if (rmq_rcmd_ext_i64(resp, "queueOffset", &off) != 0) {
        rmq_clog(&j->core->log, RMQ_CLIENT_LOG_WARN, "send.result",
                 "broker %s stored a message without telling its queue "
                 "offset",
                 j->cur_addr);
    }
    rmq_core_queue(&r->queue, j->topic, j->cur_broker, qid);
    r->queue_offset = off;
    r->count = j->count;
}

static void
send_on_resp(rmq_cio *io, int rc, const rmq_rcmd *resp, void *arg)
{
    rmq_send_job *j = arg;

    if (rc != 0) {
        rmq_cerr_set(&j->err, rc, "could not send to broker %s (%s): %s",
                     j->cur_broker, j->cur_addr, rmq_client_strerror(rc));
        if (rc == RMQ_CLIENT_ERR_CONNECT) {
            rmq_core_route(j->core, j->topic, true, NULL, NULL);
        }
        if (rc == RMQ_CLIENT_ERR_CLOSED) {
            send_finish(j, rc, &j->err);
            return;
        }
        send_retry_or_finish(j);
        return;
    }
    switch (resp->code) {
    case RMQ_RESP_SUCCESS:
    case RMQ_RESP_FLUSH_DISK_TIMEOUT:
    case RMQ_RESP_FLUSH_SLAVE_TIMEOUT:
    case RMQ_RESP_SLAVE_NOT_AVAILABLE:
        send_result(j, resp);
        send_finish(j, 0, NULL);
        return;
    default:
        rmq_cerr_response(&j->err, "could not send a message", j->cur_addr,
                          resp->code, resp->remark);
        if (rmq_send_retryable(resp->code)) {
            send_retry_or_finish(j);
        } else {
            send_finish(j, j->err.code, &j->err);
        }
    }
}

/* The header fields a..m; strings live in s until the request is queued. */
typedef struct send_hdr {
    char d[16], e[16], f[16], g[24], h[16], j[16], l[16];
} send_hdr;

static void
send_build(rmq_send_job *j, rmq_rcmd_out *o, send_hdr *s)
{
    rmq_rcmd_out_init(
        o, j->batch ? RMQ_REQ_SEND_BATCH_MESSAGE : RMQ_REQ_SEND_MESSAGE_V2, 0,
        0);
    snprintf(s->d, sizeof(s->d), "%d", RMQ_DEFAULT_QUEUE_NUMS);
    snprintf(s->e, sizeof(s->e), "%d", j->cur_qid);
    snprintf(s->f, sizeof(s->f), "%d", (int)j->sys_flag);
    snprintf(s->g, sizeof(s->g), "%lld", (long long)j->born_ms);
    snprintf(s->h, sizeof(s->h), "%d", (int)j->flag);
    snprintf(s->j, sizeof(s->j), "%d", (int)j->reconsume_times);
    snprintf(s->l, sizeof(s->l), "%d", (int)j->max_reconsume);
    rmq_rcmd_out_ext(o, "a", j->group);
    rmq_rcmd_out_ext(o, "b", j->topic);
    rmq_rcmd_out_ext(o, "c", RMQ_TOPIC_TBW102);
    rmq_rcmd_out_ext(o, "d", s->d);
    rmq_rcmd_out_ext(o, "e", s->e);
    rmq_rcmd_out_ext(o, "f", s->f);
    rmq_rcmd_out_ext(o, "g", s->g);
    rmq_rcmd_out_ext(o, "h", s->h);
    rmq_rcmd_out_ext(o, "i", rmq_buf_cstr(&j->props));
    rmq_rcmd_out_ext(o, "j", s->j);
    rmq_rcmd_out_ext(o, "k", "false");
    if (j->max_reconsume >= 0) {
        rmq_rcmd_out_ext(o, "l", s->l);
    }
    rmq_rcmd_out_ext(o, "m", j->batch ? "true" : "false");
}

static void
send_request(rmq_send_job *j)
{
    rmq_rcmd_out o;
    send_hdr     s;
    int64_t      left = j->deadline_ms - rmq_mono_ms();
    int          rc;

    send_build(j, &o, &s);
    if (!j->oneway) {
        rmq_cio_call(j->core->io, j->cur_addr, &o, j->body.data,
                     (uint32_t)j->body.len, (int)RMQ_MAX(left, 1), send_on_resp,
                     j);
        return;
    }
    rc = rmq_cio_oneway(j->core->io, j->cur_addr, &o, j->body.data,
                        (uint32_t)j->body.len);
    if (rc != 0) {
        rmq_cerr_set(&j->err, rc, "could not send to broker %s (%s): %s",
                     j->cur_broker, j->cur_addr, rmq_client_strerror(rc));
        send_finish(j, rc, &j->err);
        return;
    }
    memset(&j->res, 0, sizeof(j->res));
    strcpy(j->res.msg_id, j->msg_id);
    rmq_core_queue(&j->res.queue, j->topic, j->cur_broker, j->cur_qid);
    j->res.queue_offset = -1;
    j->res.count = j->count;
    send_finish(j, 0, NULL);
}

/* Java selectOneMessageQueue(lastBrokerName): round robin, another
 * broker than the last one when there is one. */
static const rmq_mq *
send_select(rmq_route *r, const char *last_broker)
{
    for (size_t i = 0; last_broker[0] != '\0' && i < r->npub; i++) {
        unsigned      k = atomic_fetch_add(&r->send_index, 1);
        const rmq_mq *mq = &r->pub[k % r->npub];
        if (strcmp(mq->broker, last_broker) != 0) {
            return mq;
        }
    }
    return &r->pub[atomic_fetch_add(&r->send_index, 1) % r->npub];
}

static void
send_on_route(rmq_core *c, int rc, rmq_route *route, const rmq_error *err,
              void *arg)
{
    rmq_send_job *j = arg;
    const char   *addr;

    if (rc != 0) {
        send_finish(j, rc, err);
        return;
    }
    if (j->fixed_qid >= 0) {
        strcpy(j->cur_broker, j->fixed_broker);
        j->cur_qid = j->fixed_qid;
    } else if (route->npub == 0) {
        rmq_cerr_set(&j->err, RMQ_CLIENT_ERR_NO_ROUTE,
                     "topic %s has no writable queue on a master", j->topic);
        send_finish(j, RMQ_CLIENT_ERR_NO_ROUTE, &j->err);
        return;
    } else {
        const rmq_mq *mq = send_select(route, j->last_broker);
        strcpy(j->cur_broker, mq->broker);
        j->cur_qid = mq->qid;
    }
    addr = rmq_route_master(route, j->cur_broker);
    if (addr == NULL || strlen(addr) >= sizeof(j->cur_addr)) {
        rmq_cerr_set(&j->err, RMQ_CLIENT_ERR_NO_ROUTE,
                     "no master of broker %s for topic %s", j->cur_broker,
                     j->topic);
        send_finish(j, RMQ_CLIENT_ERR_NO_ROUTE, &j->err);
        return;
    }
    strcpy(j->cur_addr, addr);
    send_request(j);
}

static void
send_attempt(rmq_send_job *j)
{
    if (rmq_mono_ms() >= j->deadline_ms) {
        if (j->err.code == 0) {
            rmq_cerr_set(&j->err, RMQ_CLIENT_ERR_TIMEOUT,
                         "send to topic %s timed out", j->topic);
        }
        send_finish(j, j->err.code, &j->err);
        return;
    }
    rmq_core_route(j->core, j->topic, false, send_on_route, j);
}

void
rmq_send_run(rmq_cio *io, void *arg)
{
    rmq_send_job *j = arg;

    rmq_core_route_watch(j->core, j->topic);
    send_attempt(j);
}
