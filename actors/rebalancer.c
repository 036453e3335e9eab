/*
 * rebalancer.c - the rebalancer actor: consumer groups, change
 * notifications, ordered-queue locks, consumer offsets and subscription
 * group configs (spec remoting 4.2, 5.3, 5.4).
 *
 * The acceptor owns client connections and forwards the requests we serve
 * as FWD_REQUEST on our PULL socket ipc://<runDir>/rebalancer.in; we
 * answer FWD_RESPONSE (unless the request was oneway) and send
 * CLIENT_NOTIFY (NOTIFY_CONSUMER_IDS_CHANGED) on a PUSH socket to
 * acceptor.in.  CONN_CLOSED tells us a client connection went away.
 * Retry topics %RETRY%<group> are created by clwriter: TOPIC_UPDATE to
 * clwriter.in, TOPIC_RESULT back on rebalancer.in.  A heartbeat is
 * answered only once everything it asked for is recorded, including its
 * retry topics (or RB_TOPIC_WAIT_MS passed): clients ask for the consumer
 * list right after the heartbeat returns.
 *
 * Served: HEART_BEAT 34, UNREGISTER_CLIENT 35, GET_CONSUMER_LIST_BY_GROUP
 * 38, QUERY_CONSUMER_OFFSET 14, UPDATE_CONSUMER_OFFSET 15 (rmq extension:
 * ext force=true lets an admin move an offset backwards; otherwise a
 * commit behind the stored offset is ignored), LOCK_BATCH_MQ 41,
 * UNLOCK_BATCH_MQ 42, UPDATE_AND_CREATE_SUBSCRIPTIONGROUP 200,
 * GET_ALL_SUBSCRIPTIONGROUP_CONFIG 201, DELETE_SUBSCRIPTIONGROUP 207
 * (cleanOffset=true also drops the group's offsets),
 * GET_CONSUMER_CONNECTION_LIST 203, GET_CONSUME_STATS 208,
 * GET_ALL_CONSUMER_OFFSET 43; anything else REQUEST_CODE_NOT_SUPPORTED.
 *
 * Start: load config/consumerOffset.json and config/subscriptionGroup.json
 * (with .bak fallback; both unreadable is fatal, as in Java), adopt and
 * republish the control segment's group and subscription regions, READY.
 * Stop (SIGTERM): drain what is queued, save offsets, exit 0.  Offsets are
 * also saved every flushConsumerOffsetInterval, so a crash loses at most
 * that much; clients (memory only) re-register within their 30 s
 * heartbeat, and subscriptions published before the crash stay until
 * channelExpiredTimeout unless their group comes back.
 *
 * Shared data: writes the control segment's group and subscription
 * regions and groups_gen/subs_gen (single writer, broker/subgroups.c);
 * reads the topic table, queue windows and store positions, and maps
 * consume queues and the commit log read-only for GET_CONSUME_STATS's
 * lastTimestamp (broker/msgtime.c).
 */
#include "actors/actors.h"

#include "broker/groups.h"
#include "broker/locks.h"
#include "broker/msgtime.h"
#include "broker/offsets.h"
#include "broker/subgroups.h"
#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "net/ipc.h"
#include "proto/catalog.h"
#include "proto/codes.h"
#include "proto/remoting.h"
#include "store/jsonfile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RB_DRAIN_MAX 256          /* messages per loop pass */
#define RB_FINAL_DRAIN_MAX 100000 /* at stop: what the acceptor left queued */
#define RB_TOPIC_WAIT_MS 1000     /* a heartbeat waits this long for topics */
#define RB_TOPIC_RETRY_MS 30000   /* no new wait for a topic that failed */
#define RB_SCAN_MAX_MS 10000      /* expiry scan period (Java: 10 s) */
#define RB_WAIT_TOPICS_MAX 8      /* retry topics one reply waits for */
#define RB_GAUGES_MS 1000         /* groups/clients gauges refresh */
#define RB_EXT_MAX 8
#define RB_OFFSETS_FILE "consumerOffset.json"
#define RB_SUBGROUPS_FILE "subscriptionGroup.json"

enum { RB_C_REQUESTS, RB_C_GROUPS, RB_C_CLIENTS, RB_C_NOTIFIES, RB_C_ERRORS };

/* A retry-topic creation sent to clwriter. */
struct rb_create {
    char     topic[RMQ_TOPIC_NAME_MAX];
    uint64_t seq;
    int64_t  deadline_ms; /* pending until answered or this passes */
    int64_t  done_ms;     /* 0 while pending */
};

/* A heartbeat reply held until its retry topics exist. */
struct rb_waiter {
    uint64_t req_id;
    uint64_t conn_id;
    int64_t  deadline_ms;
    uint32_t nseqs;
    uint64_t seqs[RB_WAIT_TOPICS_MAX];
};

/* A response being built. */
struct rb_reply {
    int32_t  code;
    char     remark[256];
    uint32_t next;
    char     ext_key[RB_EXT_MAX][32];
    char     ext_val[RB_EXT_MAX][32];
    rmq_buf *body;
    bool     deferred; /* sent later (heartbeat waiting for topics) */
};

struct rb {
    rmq_actor            *self;
    rmq_ipc               in;
    rmq_ipc               to_acceptor;
    rmq_ipc               to_clwriter;
    rmq_groups            groups;
    rmq_offsets           offsets;
    rmq_locks             locks;
    rmq_subgroups        *subgroups;
    rmq_msgtime           msgtime;
    char                  offsets_path[RMQ_CONFIG_PATH_MAX + 64];
    char                  subgroups_path[RMQ_CONFIG_PATH_MAX + 64];
    uint64_t              offsets_saved; /* offsets.changes at the last save */
    struct rb_create     *creates;
    uint32_t              ncreates, creates_cap;
    struct rb_waiter     *waiters;
    uint32_t              nwaiters, waiters_cap;
    uint64_t              topic_seq;
    int64_t               next_scan_ms;
    int64_t               next_flush_ms;
    int64_t               prune_at_ms; /* 0 once done */
    int64_t               next_gauges_ms;
    bool                  gauges_dirty;
    rmq_msg_fwd_request   req;
    rmq_msg_fwd_response  resp;
    rmq_msg_client_notify notify;
    rmq_msg_conn_closed   closed;
    rmq_msg_topic_result  tres;
    rmq_buf               body;
    rmq_buf               enc;
};

/* ---- small helpers ----------------------------------------------------- */

/* Copy ext value key of req into dst (NUL-terminated); false if absent. */
static bool
rb_ext(const rmq_msg_fwd_request *req, const char *key, char *dst, size_t cap)
{
    for (uint32_t i = 0; i < req->next; i++) {
        const rmq_fwd_ext *e = &req->ext[i];
        if (strcmp(e->key, key) == 0) {
            if (e->value.len >= cap) {
                return false;
            }
            memcpy(dst, e->value.ptr, e->value.len);
            dst[e->value.len] = '\0';
            return true;
        }
    }
    return false;
}

static void
rb_fail(struct rb_reply *r, int32_t code, const char *fmt, const char *arg)
{
    r->code = code;
    snprintf(r->remark, sizeof(r->remark), fmt, arg);
}

/* Finish a reply whose body a builder wrote: 0 on success, 1 if it failed. */
static void
rb_body_done(struct rb_reply *r, int rc)
{
    if (rc != 0) {
        rb_fail(r, RMQ_RESP_SYSTEM_ERROR, "could not build the body: %s",
                rmq_strerror(rc));
        return;
    }
    r->code = RMQ_RESP_SUCCESS;
}

/* A required (NN) string field; on absence the reply says which. */
static bool
rb_need(const rmq_msg_fwd_request *req, const char *key, char *dst, size_t cap,
        struct rb_reply *r)
{
    if (rb_ext(req, key, dst, cap) && dst[0] != '\0') {
        return true;
    }
    rb_fail(r, RMQ_RESP_SYSTEM_ERROR, "the custom field <%s> is null", key);
    return false;
}

static bool
rb_need_i64(const rmq_msg_fwd_request *req, const char *key, int64_t *out,
            struct rb_reply *r)
{
    char text[32];

    if (!rb_need(req, key, text, sizeof(text), r)) {
        return false;
    }
    if (rmq_parse_i64(text, out) != 0) {
        rb_fail(r, RMQ_RESP_SYSTEM_ERROR,
                "the custom field <%s> is not a "
                "number",
                key);
        return false;
    }
    return true;
}

static bool
rb_need_i32(const rmq_msg_fwd_request *req, const char *key, int32_t *out,
            struct rb_reply *r)
{
    int64_t v;

    if (!rb_need_i64(req, key, &v, r)) {
        return false;
    }
    if (v < INT32_MIN || v > INT32_MAX) {
        rb_fail(r, RMQ_RESP_SYSTEM_ERROR,
                "the custom field <%s> is out of "
                "range",
                key);
        return false;
    }
    *out = (int32_t)v;
    return true;
}

static bool
rb_ext_bool(const rmq_msg_fwd_request *req, const char *key)
{
    char text[16];

    return rb_ext(req, key, text, sizeof(text)) && rmq_parse_bool(text);
}

static void
rb_reply_ext(struct rb_reply *r, const char *key, int64_t value)
{
    if (r->next < RB_EXT_MAX) {
        rmq_strlcpy(r->ext_key[r->next], key, sizeof(r->ext_key[0]));
        snprintf(r->ext_val[r->next], sizeof(r->ext_val[0]), "%lld",
                 (long long)value);
        r->next++;
    }
}

static bool
rb_is_oneway(const rmq_msg_fwd_request *req)
{
    return (req->flag & RMQ_RFLAG_ONEWAY) != 0;
}

static void
rb_send(struct rb *rb, rmq_ipc *to, const char *what)
{
    if (rmq_ipc_send(to, &rb->enc) != 0) {
        rmq_actor_count(rb->self, RB_C_ERRORS, 1);
        rmq_log(RMQ_LOG_WARN, "rb.send", "could not send %s to %s", what,
                to->url);
    }
}

static void
rb_send_response(struct rb *rb, uint64_t req_id, uint64_t conn_id,
                 const struct rb_reply *r)
{
    rmq_msg_fwd_response *m = &rb->resp;

    memset(m, 0, sizeof(*m));
    m->req_id = req_id;
    m->conn_id = conn_id;
    m->code = r->code;
    rmq_strlcpy(m->remark, r->remark, sizeof(m->remark));
    for (uint32_t i = 0; i < r->next; i++) {
        rmq_strlcpy(m->ext[i].key, r->ext_key[i], sizeof(m->ext[i].key));
        m->ext[i].value.ptr = (const uint8_t *)r->ext_val[i];
        m->ext[i].value.len = (uint32_t)strlen(r->ext_val[i]);
    }
    m->next = r->next;
    if (r->body != NULL && r->body->len > 0) {
        m->body.ptr = r->body->data;
        m->body.len = (uint32_t)r->body->len;
    }
    rmq_buf_reset(&rb->enc);
    if (rmq_msg_fwd_response_encode(m, &rb->enc) != 0) {
        rmq_actor_count(rb->self, RB_C_ERRORS, 1);
        return;
    }
    rb_send(rb, &rb->to_acceptor, "response");
}

/* The groups/clients gauges walk the registry: at most once a second. */
static void
rb_update_gauges(struct rb *rb)
{
    rb->gauges_dirty = true;
}

static void
rb_refresh_gauges(struct rb *rb, int64_t now)
{
    uint32_t ngroups, nconns;

    if (!rb->gauges_dirty || now < rb->next_gauges_ms) {
        return;
    }
    rmq_groups_count(&rb->groups, &ngroups, &nconns);
    rmq_actor_gauge(rb->self, RB_C_GROUPS, ngroups);
    rmq_actor_gauge(rb->self, RB_C_CLIENTS, nconns);
    rb->gauges_dirty = false;
    rb->next_gauges_ms = now + RB_GAUGES_MS;
}

/* ---- notifications and shm ----------------------------------------------- */

/* NOTIFY_CONSUMER_IDS_CHANGED to every connection of grp. */
static void
rb_notify_group(struct rb *rb, const rmq_group *grp)
{
    rmq_msg_client_notify *n = &rb->notify;
    uint32_t               i = 0;

    while (i < grp->nclients) {
        memset(n, 0, sizeof(*n));
        n->code = RMQ_REQ_NOTIFY_CONSUMER_IDS_CHANGED;
        rmq_strlcpy(n->ext[0].key, "consumerGroup", sizeof(n->ext[0].key));
        n->ext[0].value.ptr = (const uint8_t *)grp->name;
        n->ext[0].value.len = (uint32_t)strlen(grp->name);
        n->next = 1;
        for (; i < grp->nclients && n->nconns < RMQ_NOTIFY_CONNS_MAX; i++) {
            n->conns[n->nconns++] = grp->clients[i].conn_id;
        }
        rmq_buf_reset(&rb->enc);
        if (rmq_msg_client_notify_encode(n, &rb->enc) == 0) {
            rb_send(rb, &rb->to_acceptor, "notification");
            rmq_actor_count(rb->self, RB_C_NOTIFIES, 1);
        }
    }
}

static bool
rb_notify_enabled(struct rb *rb, const char *group)
{
    const rmq_sgconf *c = rmq_subgroups_find(rb->subgroups, group);

    return c == NULL || c->notify_ids_changed;
}

/* Publish the consumer group's current subscriptions (none if gone). */
static void
rb_publish_subs(struct rb *rb, const char *group)
{
    const rmq_group *grp = rmq_groups_consumer(&rb->groups, group);
    rmq_sub_pub     *pub = NULL;
    uint32_t         n = grp != NULL ? grp->nsubs : 0;
    int              rc;

    if (n > 0 && (pub = calloc(n, sizeof(*pub))) == NULL) {
        return;
    }
    for (uint32_t i = 0; i < n; i++) {
        const rmq_sub_data *s = &grp->subs[i];
        pub[i] = (rmq_sub_pub){s->topic, s->sub_string, s->sub_version,
                               strcmp(s->expr_type, "SQL92") == 0 ? 1u : 0u};
    }
    rc = rmq_subgroups_publish_subs(rb->subgroups, group, pub, n);
    if (rc != 0 && rc != RMQ_ERR_NOTFOUND) {
        rmq_actor_count(rb->self, RB_C_ERRORS, 1);
    }
    free(pub);
}

/* A consumer group lost connections (closed, expired, unregistered). */
static void
rb_on_group_event(void *arg, const char *group, const rmq_group *grp)
{
    struct rb *rb = arg;

    if (grp == NULL) {
        /* last member gone: its subscriptions go with it, as in Java */
        rmq_subgroups_publish_subs(rb->subgroups, group, NULL, 0);
        return;
    }
    if (rb_notify_enabled(rb, group)) {
        rb_notify_group(rb, grp);
    }
}

/* ---- retry topics and held heartbeat replies ----------------------------- */

static struct rb_create *
rb_create_find(struct rb *rb, const char *topic)
{
    for (uint32_t i = 0; i < rb->ncreates; i++) {
        if (strcmp(rb->creates[i].topic, topic) == 0) {
            return &rb->creates[i];
        }
    }
    return NULL;
}

static bool
rb_topic_exists(struct rb *rb, const char *topic)
{
    rmq_topic_entry t;

    return rmq_ctl_topic_find(&rb->self->ctl, topic, strlen(topic), &t) >= 0 &&
           t.state == RMQ_TOPIC_LIVE;
}

static struct rb_create *
rb_create_add(struct rb *rb, const char *topic)
{
    struct rb_create *c;

    if (rb->ncreates == rb->creates_cap) {
        uint32_t          cap = rb->creates_cap ? rb->creates_cap * 2 : 8;
        struct rb_create *p = realloc(rb->creates, cap * sizeof(*p));
        if (p == NULL) {
            return NULL;
        }
        rb->creates = p;
        rb->creates_cap = cap;
    }
    c = &rb->creates[rb->ncreates++];
    memset(c, 0, sizeof(*c));
    rmq_strlcpy(c->topic, topic, sizeof(c->topic));
    return c;
}

/* TOPIC_UPDATE for %RETRY%<group>; false when it could not be sent. */
static bool
rb_send_topic_update(struct rb *rb, struct rb_create *c, int32_t queues,
                     bool unit_mode)
{
    rmq_msg_topic_update m;

    memset(&m, 0, sizeof(m));
    m.owner = RMQ_ACTOR_REBALANCER;
    m.seq = ++rb->topic_seq;
    rmq_strlcpy(m.name, c->topic, sizeof(m.name));
    m.read_queues = queues;
    m.write_queues = queues;
    m.perm = RMQ_PERM_READ | RMQ_PERM_WRITE;
    m.sysflag = unit_mode ? 0x2 : 0; /* TopicSysFlag UNIT_SUB */
    c->seq = m.seq;
    rmq_buf_reset(&rb->enc);
    return rmq_msg_topic_update_encode(&m, &rb->enc) == 0 &&
           rmq_ipc_send(&rb->to_clwriter, &rb->enc) == 0;
}

/*
 * Make sure %RETRY%<group> exists.  Returns the seq of a pending creation
 * the heartbeat reply should wait for, or 0 when there is nothing to wait
 * for (exists, failed recently, or clwriter unreachable).
 */
static uint64_t
rb_ensure_retry_topic(struct rb *rb, const char *group, int32_t queues,
                      bool unit_mode)
{
    char              topic[RMQ_TOPIC_NAME_MAX];
    struct rb_create *c;
    int64_t           now = rmq_mono_ms();

    if (snprintf(topic, sizeof(topic), "%s%s", RMQ_RETRY_PREFIX, group) >=
            (int)sizeof(topic) ||
        rb_topic_exists(rb, topic)) {
        return 0;
    }
    c = rb_create_find(rb, topic);
    if (c != NULL && c->done_ms == 0) {
        return c->seq;
    }
    if (c != NULL && now - c->done_ms < RB_TOPIC_RETRY_MS) {
        return 0;
    }
    if (c == NULL && (c = rb_create_add(rb, topic)) == NULL) {
        return 0;
    }
    c->done_ms = 0;
    c->deadline_ms = now + RB_TOPIC_WAIT_MS;
    if (!rb_send_topic_update(rb, c, queues, unit_mode)) {
        rmq_log(RMQ_LOG_WARN, "rb.topic",
                "could not ask clwriter to create \"%s\"", topic);
        c->done_ms = now;
        return 0;
    }
    return c->seq;
}

static bool
rb_seq_pending(struct rb *rb, uint64_t seq)
{
    for (uint32_t i = 0; i < rb->ncreates; i++) {
        if (rb->creates[i].seq == seq) {
            return rb->creates[i].done_ms == 0;
        }
    }
    return false;
}

static int
rb_hold_reply(struct rb *rb, const rmq_msg_fwd_request *req,
              const uint64_t *seqs, uint32_t nseqs)
{
    struct rb_waiter *w;

    if (rb->nwaiters == rb->waiters_cap) {
        uint32_t          cap = rb->waiters_cap ? rb->waiters_cap * 2 : 16;
        struct rb_waiter *p = realloc(rb->waiters, cap * sizeof(*p));
        if (p == NULL) {
            return RMQ_ERR_NOMEM;
        }
        rb->waiters = p;
        rb->waiters_cap = cap;
    }
    w = &rb->waiters[rb->nwaiters++];
    memset(w, 0, sizeof(*w));
    w->req_id = req->req_id;
    w->conn_id = req->conn_id;
    w->deadline_ms = rmq_mono_ms() + RB_TOPIC_WAIT_MS;
    w->nseqs = nseqs;
    memcpy(w->seqs, seqs, nseqs * sizeof(seqs[0]));
    return 0;
}

/* Answer every held heartbeat whose topics are done or whose time is up. */
static void
rb_release_waiters(struct rb *rb, int64_t now)
{
    struct rb_reply ok = {.code = RMQ_RESP_SUCCESS};

    for (uint32_t i = 0; i < rb->nwaiters;) {
        struct rb_waiter *w = &rb->waiters[i];
        bool              ready = true;
        for (uint32_t j = 0; j < w->nseqs && ready; j++) {
            ready = !rb_seq_pending(rb, w->seqs[j]);
        }
        if (!ready && now < w->deadline_ms) {
            i++;
            continue;
        }
        rb_send_response(rb, w->req_id, w->conn_id, &ok);
        rb->waiters[i] = rb->waiters[--rb->nwaiters];
    }
}

/* Creations past their deadline count as failed; old ones are forgotten. */
static void
rb_expire_creates(struct rb *rb, int64_t now)
{
    for (uint32_t i = 0; i < rb->ncreates;) {
        struct rb_create *c = &rb->creates[i];
        if (c->done_ms == 0 && now >= c->deadline_ms) {
            rmq_log(RMQ_LOG_WARN, "rb.topic",
                    "clwriter did not create \"%s\" within %d ms", c->topic,
                    RB_TOPIC_WAIT_MS);
            c->done_ms = now;
        }
        if (c->done_ms != 0 && now - c->done_ms >= RB_TOPIC_RETRY_MS) {
            rb->creates[i] = rb->creates[--rb->ncreates];
            continue;
        }
        i++;
    }
}

static void
rb_on_topic_result(struct rb *rb, const void *data, size_t len)
{
    if (rmq_msg_topic_result_decode(data, len, &rb->tres) != 0) {
        rmq_log(RMQ_LOG_WARN, "rb.topic", "malformed topic result");
        rmq_actor_count(rb->self, RB_C_ERRORS, 1);
        return;
    }
    for (uint32_t i = 0; i < rb->ncreates; i++) {
        struct rb_create *c = &rb->creates[i];
        if (c->seq != rb->tres.seq || c->done_ms != 0) {
            continue;
        }
        c->done_ms = rmq_mono_ms();
        if (rb->tres.status != 0) {
            rmq_log(RMQ_LOG_WARN, "rb.topic",
                    "clwriter could not create "
                    "\"%s\": %s",
                    c->topic, rmq_strerror(rb->tres.status));
        } else {
            /* created: a later heartbeat finds it in the topic table */
            rb->creates[i] = rb->creates[--rb->ncreates];
        }
        break;
    }
    rb_release_waiters(rb, rmq_mono_ms());
}

/* ---- HEART_BEAT, UNREGISTER_CLIENT, consumer list ---------------------- */

static bool
rb_is_sys_group(const char *group)
{
    /* Java auto-creates these even when autoCreateSubscriptionGroup is off */
    return strncmp(group, "CID_RMQ_SYS_", 12) == 0;
}

/* One ConsumerData; returns a retry-topic seq to wait for, or 0. */
static uint64_t
rb_register_consumer(struct rb *rb, const rmq_client_ref *cl,
                     const rmq_hb_consumer *c, int64_t now)
{
    bool auto_create =
        rb->self->cfg.broker.auto_create_group || rb_is_sys_group(c->group);
    bool              created = false;
    const rmq_sgconf *conf;
    const rmq_group  *grp;
    unsigned          changed = 0;
    uint64_t          seq = 0;

    conf = rmq_subgroups_find_or_create(rb->subgroups, c->group, auto_create,
                                        &created);
    if (conf != NULL && conf->retry_queue_nums > 0) {
        seq = rb_ensure_retry_topic(rb, c->group, conf->retry_queue_nums,
                                    c->unit_mode);
    }
    if (rmq_groups_register_consumer(&rb->groups, cl, c, now, &changed) != 0) {
        rmq_actor_count(rb->self, RB_C_ERRORS, 1);
        return seq;
    }
    if ((changed & RMQ_GRP_SUBS_CHANGED) || created) {
        rb_publish_subs(rb, c->group);
    }
    grp = rmq_groups_consumer(&rb->groups, c->group);
    if (changed != 0 && grp != NULL && rb_notify_enabled(rb, c->group)) {
        rb_notify_group(rb, grp);
    }
    return seq;
}

static void
rb_heart_beat(struct rb *rb, const rmq_msg_fwd_request *req, struct rb_reply *r)
{
    rmq_heartbeat  hb;
    rmq_client_ref cl;
    uint64_t       seqs[RB_WAIT_TOPICS_MAX];
    uint32_t       nseqs = 0;
    int64_t        now = rmq_mono_ms();

    if (rmq_heartbeat_parse(req->body.ptr, req->body.len, &hb, r->remark,
                            sizeof(r->remark)) != 0) {
        r->code = RMQ_RESP_SYSTEM_ERROR;
        rmq_heartbeat_free(&hb);
        return;
    }
    cl = (rmq_client_ref){req->conn_id, hb.client_id, req->client_addr,
                          req->language, req->version};
    for (uint32_t i = 0; i < hb.nproducers; i++) {
        rmq_groups_register_producer(&rb->groups, &cl, hb.producers[i], now);
    }
    for (uint32_t i = 0; i < hb.nconsumers; i++) {
        uint64_t seq = rb_register_consumer(rb, &cl, &hb.consumers[i], now);
        if (seq != 0 && nseqs < RB_WAIT_TOPICS_MAX) {
            seqs[nseqs++] = seq;
        }
    }
    rmq_heartbeat_free(&hb);
    rb_update_gauges(rb);
    r->code = RMQ_RESP_SUCCESS;
    if (nseqs > 0 && !rb_is_oneway(req) &&
        rb_hold_reply(rb, req, seqs, nseqs) == 0) {
        r->deferred = true;
    }
}

static void
rb_unregister_client(struct rb *rb, const rmq_msg_fwd_request *req,
                     struct rb_reply *r)
{
    char client_id[RMQ_CLIENT_ID_MAX];
    char group[RMQ_GROUP_NAME_MAX];

    if (!rb_need(req, "clientID", client_id, sizeof(client_id), r)) {
        return;
    }
    /* by connection, as Java does; by clientID if it used another one */
    if (rb_ext(req, "producerGroup", group, sizeof(group)) && group[0] &&
        !rmq_groups_unregister(&rb->groups, false, group, req->conn_id, NULL,
                               NULL, NULL)) {
        rmq_groups_unregister(&rb->groups, false, group, 0, client_id, NULL,
                              NULL);
    }
    if (rb_ext(req, "consumerGroup", group, sizeof(group)) && group[0] &&
        !rmq_groups_unregister(&rb->groups, true, group, req->conn_id, NULL,
                               rb_on_group_event, rb)) {
        rmq_groups_unregister(&rb->groups, true, group, 0, client_id,
                              rb_on_group_event, rb);
    }
    rb_update_gauges(rb);
    r->code = RMQ_RESP_SUCCESS;
}

/*
 * The online consumer group named by ext consumerGroup, or NULL with the
 * reply set: a missing field, or no connection (code and fmt say how).
 */
static const rmq_group *
rb_online_group(struct rb *rb, const rmq_msg_fwd_request *req,
                struct rb_reply *r, int32_t code, const char *fmt)
{
    char             group[RMQ_GROUP_NAME_MAX];
    const rmq_group *grp;

    if (!rb_need(req, "consumerGroup", group, sizeof(group), r)) {
        return NULL;
    }
    grp = rmq_groups_consumer(&rb->groups, group);
    if (grp == NULL || grp->nclients == 0) {
        rb_fail(r, code, fmt, group);
        return NULL;
    }
    return grp;
}

static void
rb_consumer_list(struct rb *rb, const rmq_msg_fwd_request *req,
                 struct rb_reply *r)
{
    const rmq_group *grp = rb_online_group(rb, req, r, RMQ_RESP_SYSTEM_ERROR,
                                           "no consumer for this group, %s");

    if (grp != NULL) {
        rb_body_done(r, rmq_groups_consumer_list_json(grp, r->body));
    }
}

/* ---- offsets ------------------------------------------------------------- */

/* The queue's window from the control segment; false if unknown. */
static bool
rb_queue_window(struct rb *rb, const char *topic, int32_t queue_id,
                int64_t *min, int64_t *max, int64_t *last_ms)
{
    rmq_topic_entry    t;
    const rmq_queue_d *q;

    if (rmq_ctl_topic_find(&rb->self->ctl, topic, strlen(topic), &t) < 0 ||
        t.state != RMQ_TOPIC_LIVE || queue_id < 0 ||
        (uint32_t)queue_id >= t.queue_cap ||
        t.queue_base + (uint32_t)queue_id >= RMQ_QUEUE_MAX) {
        return false;
    }
    q = &rb->self->ctl.qd[t.queue_base + (uint32_t)queue_id];
    *max = atomic_load_explicit(&q->max_offset, memory_order_acquire);
    *min = atomic_load_explicit(&q->min_offset, memory_order_acquire);
    *last_ms = atomic_load_explicit(&q->last_store_ms, memory_order_acquire);
    return true;
}

static void
rb_query_offset(struct rb *rb, const rmq_msg_fwd_request *req,
                struct rb_reply *r)
{
    char    group[RMQ_GROUP_NAME_MAX], topic[RMQ_TOPIC_NAME_MAX], flag[16];
    int32_t qid;
    int64_t off, min = 0, max = 0, last = 0;

    if (!rb_need(req, "consumerGroup", group, sizeof(group), r) ||
        !rb_need(req, "topic", topic, sizeof(topic), r) ||
        !rb_need_i32(req, "queueId", &qid, r)) {
        return;
    }
    off = rmq_offsets_query(&rb->offsets, group, topic, qid);
    /* no offset yet: a young queue (min 0; Java also for unknown queues)
     * is read from its start so a new group misses nothing, unless the
     * client says setZeroIfNotFound=false (RocketMQ 5.x; librmq does for
     * CONSUME_FROM_TIMESTAMP, which must not start at 0) */
    if (off < 0 && rb_ext(req, "setZeroIfNotFound", flag, sizeof(flag)) &&
        !rmq_parse_bool(flag)) {
        rb_fail(r, RMQ_RESP_QUERY_NOT_FOUND, "%s",
                "Not found, do not set to zero, maybe this group boot first");
        return;
    }
    if (off < 0 &&
        (!rb_queue_window(rb, topic, qid, &min, &max, &last) || min <= 0)) {
        off = 0;
    }
    if (off < 0) {
        rb_fail(r, RMQ_RESP_QUERY_NOT_FOUND, "%s",
                "Not found, V3_0_6_SNAPSHOT maybe this group consumer boot "
                "first");
        return;
    }
    r->code = RMQ_RESP_SUCCESS;
    rb_reply_ext(r, "offset", off);
}

static void
rb_update_offset(struct rb *rb, const rmq_msg_fwd_request *req,
                 struct rb_reply *r)
{
    char    group[RMQ_GROUP_NAME_MAX], topic[RMQ_TOPIC_NAME_MAX];
    int32_t qid;
    int64_t off;
    int     result;
    bool    force = rb_ext_bool(req, "force");

    if (!rb_need(req, "consumerGroup", group, sizeof(group), r) ||
        !rb_need(req, "topic", topic, sizeof(topic), r) ||
        !rb_need_i32(req, "queueId", &qid, r) ||
        !rb_need_i64(req, "commitOffset", &off, r)) {
        return;
    }
    if (rmq_offsets_commit(&rb->offsets, group, topic, qid, off, force,
                           &result) != 0) {
        rb_fail(r, RMQ_RESP_SYSTEM_ERROR, "%s", "invalid offset commit");
        return;
    }
    if (result == RMQ_COMMIT_STALE) {
        rmq_log(RMQ_LOG_DEBUG, "rb.offset",
                "ignored stale commit %s@%s/%d -> %lld", topic, group, qid,
                (long long)off);
    } else if (force && result == RMQ_COMMIT_STORED) {
        rmq_log(RMQ_LOG_INFO, "rb.offset", "forced offset %s@%s/%d -> %lld",
                topic, group, qid, (long long)off);
    }
    r->code = RMQ_RESP_SUCCESS;
}

static void
rb_all_offsets(struct rb *rb, const rmq_msg_fwd_request *req,
               struct rb_reply *r)
{
    rb_body_done(r, rmq_offsets_json(&rb->offsets, r->body));
}

static int
rb_save_offsets(struct rb *rb)
{
    rmq_buf b;
    int     rc;

    rmq_buf_init(&b);
    rc = rmq_offsets_json(&rb->offsets, &b);
    if (rc == 0) {
        rc = rmq_jsonfile_write(rb->offsets_path, (const char *)b.data, b.len);
    }
    rmq_buf_free(&b);
    if (rc == 0) {
        rb->offsets_saved = rb->offsets.changes;
    } else {
        rmq_actor_count(rb->self, RB_C_ERRORS, 1);
    }
    return rc;
}

/* ---- GET_CONSUME_STATS --------------------------------------------------- */

struct rb_stats {
    struct rb      *rb;
    const char     *group;
    rmq_cstats_row *rows;
    size_t          n, cap;
    char (*topics)[RMQ_TOPIC_NAME_MAX]; /* row topics live here */
    size_t ntopics;
};

/*
 * lastTimestamp: store time of the message at consumer_offset - 1.  When
 * that is the queue's newest message the dispatcher has published its
 * time; otherwise read it from the consume queue and the commit log.
 */
static int64_t
rb_last_timestamp(struct rb *rb, const char *topic, int32_t queue_id,
                  int64_t consumer_offset, int64_t max, int64_t last_ms)
{
    const rmq_ctl     *ctl = &rb->self->ctl;
    rmq_msgtime_limits lim;

    if (consumer_offset <= 0) {
        return 0;
    }
    if (consumer_offset == max && last_ms > 0) {
        return last_ms;
    }
    lim.queue_max = max;
    lim.cl_end =
        atomic_load_explicit(&ctl->pos->cl_written, memory_order_acquire);
    lim.store_gen =
        atomic_load_explicit(&ctl->pos->store_gen, memory_order_acquire);
    if (lim.store_gen != ctl->hdr->generation) {
        return 0; /* the store is not open in this generation yet */
    }
    return rmq_msgtime_get(&rb->msgtime, topic, queue_id, consumer_offset - 1,
                           &lim);
}

static void
rb_stats_topic(void *arg, const char *topic)
{
    struct rb_stats *st = arg;
    rmq_topic_entry  t;
    const rmq_group *grp = rmq_groups_consumer(&st->rb->groups, st->group);
    char            *name;

    /* Java: skip topics unknown here, and topics an online group does not
     * subscribe to */
    if (rmq_ctl_topic_find(&st->rb->self->ctl, topic, strlen(topic), &t) < 0 ||
        t.state != RMQ_TOPIC_LIVE ||
        (grp != NULL && grp->nsubs > 0 && rmq_group_sub(grp, topic) == NULL)) {
        return;
    }
    if (st->n + (size_t)t.read_queues > st->cap) {
        size_t          cap = (st->n + (size_t)t.read_queues) * 2;
        rmq_cstats_row *p = realloc(st->rows, cap * sizeof(*p));
        if (p == NULL) {
            return;
        }
        st->rows = p;
        st->cap = cap;
    }
    name = st->topics[st->ntopics++];
    rmq_strlcpy(name, topic, RMQ_TOPIC_NAME_MAX);
    for (int32_t q = 0; q < t.read_queues; q++) {
        rmq_cstats_row *row = &st->rows[st->n++];
        int64_t         min = 0, max = 0, last = 0;
        int64_t off = rmq_offsets_query(&st->rb->offsets, st->group, name, q);
        rb_queue_window(st->rb, name, q, &min, &max, &last);
        row->topic = name;
        row->queue_id = q;
        row->broker_offset = max > 0 ? max : 0;
        row->consumer_offset = off > 0 ? off : 0;
        row->last_timestamp =
            rb_last_timestamp(st->rb, name, q, row->consumer_offset, max, last);
    }
}

static void
rb_count_topic(void *arg, const char *topic)
{
    (void)topic;
    (*(size_t *)arg)++;
}

static void
rb_consume_stats(struct rb *rb, const rmq_msg_fwd_request *req,
                 struct rb_reply *r)
{
    char            group[RMQ_GROUP_NAME_MAX];
    char            topic[RMQ_TOPIC_NAME_MAX] = "";
    struct rb_stats st = {.rb = rb, .group = group};
    size_t          ntopics = 1;

    if (!rb_need(req, "consumerGroup", group, sizeof(group), r)) {
        return;
    }
    rb_ext(req, "topic", topic, sizeof(topic));
    if (topic[0] == '\0') {
        ntopics = 0;
        rmq_offsets_group_topics(&rb->offsets, group, rb_count_topic, &ntopics);
    }
    st.topics = calloc(ntopics + 1, sizeof(*st.topics));
    if (st.topics == NULL) {
        rb_fail(r, RMQ_RESP_SYSTEM_ERROR, "%s", "out of memory");
        return;
    }
    if (topic[0] != '\0') {
        rb_stats_topic(&st, topic);
    } else {
        rmq_offsets_group_topics(&rb->offsets, group, rb_stats_topic, &st);
    }
    rb_body_done(r, rmq_consume_stats_json(rb->self->cfg.broker.broker_name,
                                           st.rows, st.n, 0.0, r->body));
    free(st.rows);
    free(st.topics);
}

/* ---- locks --------------------------------------------------------------- */

static void
rb_lock(struct rb *rb, const rmq_msg_fwd_request *req, struct rb_reply *r)
{
    rmq_lock_req lr;
    bool        *locked = NULL;
    int          rc;

    if (rmq_lock_req_parse(req->body.ptr, req->body.len, &lr, r->remark,
                           sizeof(r->remark)) != 0) {
        r->code = RMQ_RESP_SYSTEM_ERROR;
        rmq_lock_req_free(&lr);
        return;
    }
    locked = calloc(lr.n + 1, sizeof(*locked));
    rc = locked == NULL ? RMQ_ERR_NOMEM
                        : rmq_locks_try(&rb->locks, lr.group, lr.client_id,
                                        lr.mqs, lr.n, rmq_mono_ms(), locked);
    if (rc == 0) {
        rc = rmq_lock_result_json(lr.mqs, locked, lr.n, r->body);
    }
    rb_body_done(r, rc);
    free(locked);
    rmq_lock_req_free(&lr);
}

static void
rb_unlock(struct rb *rb, const rmq_msg_fwd_request *req, struct rb_reply *r)
{
    rmq_lock_req lr;

    if (rmq_lock_req_parse(req->body.ptr, req->body.len, &lr, r->remark,
                           sizeof(r->remark)) != 0) {
        r->code = RMQ_RESP_SYSTEM_ERROR;
        rmq_lock_req_free(&lr);
        return;
    }
    rmq_locks_unlock(&rb->locks, lr.group, lr.client_id, lr.mqs, lr.n);
    rmq_lock_req_free(&lr);
    r->code = RMQ_RESP_SUCCESS;
}

/* ---- subscription group admin ------------------------------------------- */

static void
rb_update_subgroup(struct rb *rb, const rmq_msg_fwd_request *req,
                   struct rb_reply *r)
{
    rmq_sgconf c;
    int        rc;

    if (rmq_sgconf_parse(req->body.ptr, req->body.len, &c, r->remark,
                         sizeof(r->remark)) != 0) {
        r->code = RMQ_RESP_SYSTEM_ERROR;
        return;
    }
    rc = rmq_subgroups_update(rb->subgroups, &c);
    if (rc == RMQ_ERR_NOMEM || rc == RMQ_ERR_INVAL) {
        rb_fail(r, RMQ_RESP_SYSTEM_ERROR, "cannot update group: %s",
                rmq_strerror(rc));
        return;
    }
    rmq_log(RMQ_LOG_INFO, "rb.group", "subscription group \"%s\" updated",
            c.name);
    /* consumers may have registered before the group had an entry */
    if (rmq_groups_consumer(&rb->groups, c.name) != NULL) {
        rb_publish_subs(rb, c.name);
    }
    r->code = RMQ_RESP_SUCCESS;
}

static void
rb_all_subgroups(struct rb *rb, const rmq_msg_fwd_request *req,
                 struct rb_reply *r)
{
    rb_body_done(r, rmq_subgroups_json(rb->subgroups, false, r->body));
}

static void
rb_delete_subgroup(struct rb *rb, const rmq_msg_fwd_request *req,
                   struct rb_reply *r)
{
    char group[RMQ_GROUP_NAME_MAX];

    if (!rb_need(req, "groupName", group, sizeof(group), r)) {
        return;
    }
    if (rmq_subgroups_delete(rb->subgroups, group) == 0) {
        rmq_log(RMQ_LOG_INFO, "rb.group", "subscription group \"%s\" deleted",
                group);
    }
    /* cleanOffset (5.x), removeOffset (some 4.x tools) */
    if (rb_ext_bool(req, "cleanOffset") || rb_ext_bool(req, "removeOffset")) {
        rmq_offsets_remove_group(&rb->offsets, group);
    }
    r->code = RMQ_RESP_SUCCESS;
}

static void
rb_connection_list(struct rb *rb, const rmq_msg_fwd_request *req,
                   struct rb_reply *r)
{
    const rmq_group *grp =
        rb_online_group(rb, req, r, RMQ_RESP_CONSUMER_NOT_ONLINE,
                        "the consumer group[%s] not online");

    if (grp != NULL) {
        rb_body_done(r, rmq_groups_connection_json(grp, r->body));
    }
}

/* ---- dispatch ------------------------------------------------------------ */

typedef void (*rb_handler)(struct rb *rb, const rmq_msg_fwd_request *req,
                           struct rb_reply *r);

static const struct {
    int32_t    code;
    rb_handler fn;
} rb_handlers[] = {
    {RMQ_REQ_HEART_BEAT, rb_heart_beat},
    {RMQ_REQ_UNREGISTER_CLIENT, rb_unregister_client},
    {RMQ_REQ_GET_CONSUMER_LIST_BY_GROUP, rb_consumer_list},
    {RMQ_REQ_QUERY_CONSUMER_OFFSET, rb_query_offset},
    {RMQ_REQ_UPDATE_CONSUMER_OFFSET, rb_update_offset},
    {RMQ_REQ_LOCK_BATCH_MQ, rb_lock},
    {RMQ_REQ_UNLOCK_BATCH_MQ, rb_unlock},
    {RMQ_REQ_UPDATE_AND_CREATE_SUBSCRIPTIONGROUP, rb_update_subgroup},
    {RMQ_REQ_GET_ALL_SUBSCRIPTIONGROUP_CONFIG, rb_all_subgroups},
    {RMQ_REQ_DELETE_SUBSCRIPTIONGROUP, rb_delete_subgroup},
    {RMQ_REQ_GET_CONSUMER_CONNECTION_LIST, rb_connection_list},
    {RMQ_REQ_GET_CONSUME_STATS, rb_consume_stats},
    {RMQ_REQ_GET_ALL_CONSUMER_OFFSET, rb_all_offsets},
};

static void
rb_on_request(struct rb *rb, const void *data, size_t len)
{
    rmq_msg_fwd_request *req = &rb->req;
    struct rb_reply      r = {.code = RMQ_RESP_REQUEST_CODE_NOT_SUPPORTED,
                              .body = &rb->body};
    rb_handler           fn = NULL;

    if (rmq_msg_fwd_request_decode(data, len, req) != 0) {
        rmq_log(RMQ_LOG_WARN, "rb.request", "malformed forwarded request");
        rmq_actor_count(rb->self, RB_C_ERRORS, 1);
        return;
    }
    rmq_actor_count(rb->self, RB_C_REQUESTS, 1);
    rmq_buf_reset(&rb->body);
    for (size_t i = 0; i < RMQ_ARRAY_LEN(rb_handlers) && fn == NULL; i++) {
        if (rb_handlers[i].code == req->code) {
            fn = rb_handlers[i].fn;
        }
    }
    if (fn != NULL) {
        fn(rb, req, &r);
    } else {
        snprintf(r.remark, sizeof(r.remark), " request type %d not supported",
                 req->code);
    }
    if (r.code != RMQ_RESP_SUCCESS) {
        rmq_actor_count(rb->self, RB_C_ERRORS, 1);
    }
    if (!r.deferred && !rb_is_oneway(req)) {
        rb_send_response(rb, req->req_id, req->conn_id, &r);
    }
}

static void
rb_on_conn_closed(struct rb *rb, const void *data, size_t len)
{
    if (rmq_msg_conn_closed_decode(data, len, &rb->closed) != 0) {
        rmq_log(RMQ_LOG_WARN, "rb.closed", "malformed connection event");
        rmq_actor_count(rb->self, RB_C_ERRORS, 1);
        return;
    }
    for (uint32_t i = 0; i < rb->closed.n; i++) {
        rmq_groups_conn_closed(&rb->groups, rb->closed.conns[i],
                               rb_on_group_event, rb);
    }
    rb_update_gauges(rb);
}

static void
rb_on_message(struct rb *rb, const void *data, size_t len)
{
    uint16_t id;

    if (rmq_msg_peek_id(data, len, &id) != 0) {
        rmq_actor_count(rb->self, RB_C_ERRORS, 1);
        return;
    }
    switch (id) {
    case RMQ_MSG_FWD_REQUEST:
        rb_on_request(rb, data, len);
        break;
    case RMQ_MSG_CONN_CLOSED:
        rb_on_conn_closed(rb, data, len);
        break;
    case RMQ_MSG_TOPIC_RESULT:
        rb_on_topic_result(rb, data, len);
        break;
    default:
        rmq_log(RMQ_LOG_WARN, "rb.msg", "unexpected message id %u", id);
        rmq_actor_count(rb->self, RB_C_ERRORS, 1);
    }
}

static void
rb_drain(struct rb *rb, uint32_t max)
{
    nng_msg *m;

    for (uint32_t i = 0; i < max && rmq_ipc_recv(&rb->in, &m) == 0; i++) {
        rb_on_message(rb, nng_msg_body(m), nng_msg_len(m));
        nng_msg_free(m);
    }
}

/* ---- timers -------------------------------------------------------------- */

static int64_t
rb_scan_period(const struct rb *rb)
{
    return RMQ_MAX(100, RMQ_MIN(RB_SCAN_MAX_MS,
                                rb->self->cfg.broker.channel_expired_ms / 2));
}

static bool
rb_group_is_online(void *arg, const char *group)
{
    struct rb *rb = arg;

    return rmq_groups_consumer(&rb->groups, group) != NULL;
}

static void
rb_timers(struct rb *rb, int64_t now)
{
    if (now >= rb->next_scan_ms) {
        if (rmq_groups_expire(&rb->groups, now,
                              rb->self->cfg.broker.channel_expired_ms,
                              rb_on_group_event, rb) > 0) {
            rb_update_gauges(rb);
        }
        rmq_locks_expire(&rb->locks, now);
        rb->next_scan_ms = now + rb_scan_period(rb);
    }
    if (rb->prune_at_ms != 0 && now >= rb->prune_at_ms) {
        /* subscriptions adopted from before a restart whose group did
         * not come back within channelExpiredTimeout */
        rmq_subgroups_prune_subs(rb->subgroups, rb_group_is_online, rb);
        rb->prune_at_ms = 0;
    }
    if (now >= rb->next_flush_ms) {
        if (rb->offsets.changes != rb->offsets_saved) {
            rb_save_offsets(rb);
        }
        rb->next_flush_ms = now + rb->self->cfg.broker.flush_offset_interval_ms;
    }
    rb_expire_creates(rb, now);
    rb_release_waiters(rb, now);
    rb_refresh_gauges(rb, now);
}

static int64_t
rb_next_deadline(const struct rb *rb)
{
    int64_t d = RMQ_MIN(rb->next_scan_ms, rb->next_flush_ms);

    if (rb->gauges_dirty) {
        d = RMQ_MIN(d, rb->next_gauges_ms);
    }
    if (rb->prune_at_ms != 0) {
        d = RMQ_MIN(d, rb->prune_at_ms);
    }
    for (uint32_t i = 0; i < rb->nwaiters; i++) {
        d = RMQ_MIN(d, rb->waiters[i].deadline_ms);
    }
    for (uint32_t i = 0; i < rb->ncreates; i++) {
        if (rb->creates[i].done_ms == 0) {
            d = RMQ_MIN(d, rb->creates[i].deadline_ms);
        }
    }
    return d;
}

/* ---- start and stop ------------------------------------------------------ */

/*
 * consumerOffset.json, or its .bak when the file is damaged or is JSON
 * of another shape.  Missing both is an empty table.
 */
static int
rb_load_offsets(struct rb *rb)
{
    char    bak[sizeof(rb->offsets_path) + 8];
    json_t *doc = NULL;
    int     rc = rmq_jsonfile_load(rb->offsets_path, &doc);

    if (rc == 0 &&
        (rc = rmq_offsets_load_doc(&rb->offsets, doc)) == RMQ_ERR_PROTO) {
        json_decref(doc);
        doc = NULL;
        snprintf(bak, sizeof(bak), "%s.bak", rb->offsets_path);
        rc = rmq_jsonfile_load(bak, &doc);
        rc = rc == 0 ? rmq_offsets_load_doc(&rb->offsets, doc) : rc;
    }
    json_decref(doc);
    return rc == RMQ_ERR_NOTFOUND ? 0 : rc;
}

static int
rb_load(struct rb *rb)
{
    const char *root = rb->self->cfg.broker.store_root;
    int         rc;

    snprintf(rb->offsets_path, sizeof(rb->offsets_path), "%s/config/%s", root,
             RB_OFFSETS_FILE);
    snprintf(rb->subgroups_path, sizeof(rb->subgroups_path), "%s/config/%s",
             root, RB_SUBGROUPS_FILE);
    rc = rb_load_offsets(rb);
    if (rc != 0) {
        rmq_log(RMQ_LOG_ERR, "rb.load", "cannot load \"%s\" or its .bak: %s",
                rb->offsets_path, rmq_strerror(rc));
        return RMQ_ERR_CORRUPT;
    }
    rb->offsets_saved = rb->offsets.changes;
    rc = rmq_subgroups_open(&rb->subgroups, &rb->self->ctl, rb->subgroups_path);
    if (rc != 0) {
        rmq_log(RMQ_LOG_ERR, "rb.load", "cannot load \"%s\" or its .bak: %s",
                rb->subgroups_path, rmq_strerror(rc));
        return rc == RMQ_ERR_NOMEM ? rc : RMQ_ERR_CORRUPT;
    }
    rmq_log(RMQ_LOG_INFO, "rb.load", "%zu offset entries, %u groups loaded",
            rb->offsets.tg.n, rmq_subgroups_count(rb->subgroups));
    return 0;
}

static int
rb_init(rmq_actor *self, struct rb *rb)
{
    int     rc;
    int64_t now = rmq_mono_ms();

    rb->self = self;
    rmq_groups_init(&rb->groups);
    rmq_offsets_init(&rb->offsets);
    rmq_locks_init(&rb->locks, RMQ_LOCK_LEASE_MS);
    rmq_buf_init(&rb->body);
    rmq_buf_init(&rb->enc);
    if ((rc = rb_load(rb)) != 0 ||
        (rc = rmq_msgtime_init(&rb->msgtime, self->cfg.broker.store_root,
                               self->cfg.broker.commitlog_file_size,
                               self->cfg.broker.cq_file_size)) != 0) {
        return rc;
    }
    if (rmq_ipc_open(&rb->in, RMQ_IPC_PULL, self->run_dir, "rebalancer",
                     "in") ||
        rmq_ipc_open(&rb->to_acceptor, RMQ_IPC_PUSH, self->run_dir, "acceptor",
                     "in") ||
        rmq_ipc_open(&rb->to_clwriter, RMQ_IPC_PUSH, self->run_dir, "clwriter",
                     "in")) {
        return RMQ_ERR_SYS;
    }
    rb->next_scan_ms = now + rb_scan_period(rb);
    rb->next_flush_ms = now + self->cfg.broker.flush_offset_interval_ms;
    rb->prune_at_ms = now + self->cfg.broker.channel_expired_ms;
    /* seqs of an earlier incarnation may still be answered: start apart */
    rb->topic_seq = (uint64_t)rmq_now_ms() << 16;
    return 0;
}

static void
rb_fini(struct rb *rb)
{
    rmq_ipc_close(&rb->in);
    rmq_ipc_close(&rb->to_acceptor);
    rmq_ipc_close(&rb->to_clwriter);
    rmq_subgroups_close(rb->subgroups);
    rmq_msgtime_fini(&rb->msgtime);
    rmq_groups_fini(&rb->groups);
    rmq_offsets_fini(&rb->offsets);
    rmq_locks_fini(&rb->locks);
    rmq_buf_free(&rb->body);
    rmq_buf_free(&rb->enc);
    free(rb->creates);
    free(rb->waiters);
}

void
rmq_rebalancer_main(rmq_actor *self)
{
    static struct rb rb;
    int              rc = rb_init(self, &rb);

    if (rc != 0) {
        rb_fini(&rb);
        rmq_actor_exit(self, rc == RMQ_ERR_CORRUPT ? RMQ_EXIT_FATAL
                                                   : RMQ_EXIT_TRANSIENT);
    }
    rmq_actor_ready(self);
    while (!self->stop_requested) {
        struct pollfd pf = {.fd = rb.in.recv_fd, .events = POLLIN};

        rmq_actor_clear_wakeup(self);
        if (self->reload_requested) {
            rmq_actor_reload(self);
        }
        rb_drain(&rb, RB_DRAIN_MAX);
        rb_timers(&rb, rmq_mono_ms());
        rmq_actor_wait(self, rb_next_deadline(&rb), &pf, 1);
    }
    /* the acceptor stops first: take the commits it left queued */
    rb_drain(&rb, RB_FINAL_DRAIN_MAX);
    rc = rb_save_offsets(&rb);
    rmq_log(rc == 0 ? RMQ_LOG_INFO : RMQ_LOG_ERR, "rb.stop",
            "offsets %s \"%s\"", rc == 0 ? "saved to" : "could not be saved to",
            rb.offsets_path);
    rb_fini(&rb);
    rmq_actor_exit(self, RMQ_EXIT_OK);
}
