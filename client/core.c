/*
 * core.c - state shared by every librmq instance type (core.h).
 *
 * Runs partly on API threads (init, waits, the route cache) and partly
 * on the instance's I/O thread (route fetching, fan-out, rpc jobs); each
 * function says which.  Shared data: the route cache under c->mu and
 * every rmq_sync under c->sync_mu.
 */
#include "client/core.h"

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "proto/codes.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CORE_WAIT_GRACE_MS 1000

typedef struct fetch_waiter {
    rmq_core_route_fn fn;
    void             *arg;
} fetch_waiter;

/* One GET_ROUTEINFO_BY_TOPIC in flight, shared by everyone asking. */
typedef struct core_fetch {
    rmq_core          *core;
    char              *topic;
    bool               via_default; /* asking for TBW102 on topic's behalf */
    size_t             tries;       /* name servers tried */
    fetch_waiter      *w;
    size_t             nw, wcap;
    struct core_fetch *next;
} core_fetch;

/* ---- helpers ----------------------------------------------------------- */

int
rmq_core_parse_namesrv(const char *list, char ***out, size_t *n)
{
    char  *copy, *save = NULL, *tok;
    char **arr = NULL;
    size_t cnt = 0;
    int    rc = 0;

    *out = NULL;
    *n = 0;
    if (list == NULL || (copy = strdup(list)) == NULL) {
        return RMQ_CLIENT_ERR_INVALID;
    }
    for (tok = strtok_r(copy, "; ", &save); tok != NULL && rc == 0;
         tok = strtok_r(NULL, "; ", &save)) {
        char **a = realloc(arr, (cnt + 1) * sizeof(*a));
        if (strchr(tok, ':') == NULL || a == NULL) {
            rc = RMQ_CLIENT_ERR_INVALID;
            arr = a != NULL ? a : arr;
            break;
        }
        arr = a;
        if ((arr[cnt] = strdup(tok)) == NULL) {
            rc = RMQ_CLIENT_ERR_NOMEM;
            break;
        }
        cnt++;
    }
    free(copy);
    if (rc == 0 && cnt == 0) {
        rc = RMQ_CLIENT_ERR_INVALID;
    }
    if (rc != 0) {
        rmq_core_addrs_free(arr, cnt);
        return rc;
    }
    *out = arr;
    *n = cnt;
    return 0;
}

int
rmq_core_queue(rmq_queue *q, const char *topic, const char *broker, int qid)
{
    memset(q, 0, sizeof(*q));
    if (!rmq_strlcpy(q->topic, topic, sizeof(q->topic)) ||
        !rmq_strlcpy(q->broker_name, broker, sizeof(q->broker_name))) {
        return RMQ_CLIENT_ERR_INVALID;
    }
    q->queue_id = qid;
    return 0;
}

bool
rmq_core_topic_ok(const char *topic)
{
    size_t len = topic != NULL ? strlen(topic) : 0;

    if (len == 0 || len > 127) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        char ch = topic[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              (ch >= '0' && ch <= '9') || ch == '%' || ch == '|' || ch == '_' ||
              ch == '-')) {
            return false;
        }
    }
    return true;
}

void
rmq_core_addrs_free(char **addrs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(addrs[i]);
    }
    free(addrs);
}

void
rmq_core_out_ext(rmq_rcmd_out *o, const rmq_plist *ext)
{
    for (size_t i = 0; i < ext->n && o->next < RMQ_RCMD_EXT_MAX; i++) {
        rmq_rcmd_out_ext(o, ext->keys[i], ext->vals[i]);
    }
}

int
rmq_core_copy_ext(const rmq_rcmd *resp, rmq_plist *out)
{
    for (uint32_t i = 0; i < resp->next; i++) {
        if (rmq_plist_setn(out, resp->ext[i].key, resp->ext[i].key_len,
                           resp->ext[i].value, resp->ext[i].value_len) != 0) {
            return RMQ_CLIENT_ERR_NOMEM;
        }
    }
    return 0;
}

/* ---- life cycle -------------------------------------------------------- */

static int
core_identity(rmq_core *c, const rmq_core_cfg *cfg)
{
    uint8_t ip[16];
    size_t  ip_len;
    char    ip_text[64];
    char    inst[96];
    int32_t code;

    rmq_client_ip(ip, &ip_len, ip_text, sizeof(ip_text));
    if (cfg->instance_name != NULL && cfg->instance_name[0] != '\0') {
        snprintf(inst, sizeof(inst), "%s", cfg->instance_name);
    } else {
        /* Java 4.9: pid#nanoTime, so two instances in a process differ */
        snprintf(inst, sizeof(inst), "%d#%lld", (int)getpid(),
                 (long long)rmq_mono_us() * 1000);
    }
    if (snprintf(c->client_id, sizeof(c->client_id), "%s@%s", ip_text, inst) >=
        (int)sizeof(c->client_id)) {
        return RMQ_CLIENT_ERR_INVALID;
    }
    code = rmq_java_hash(c->client_id, strlen(c->client_id));
    rmq_uniq_init(&c->uniq, ip, ip_len, (uint32_t)getpid(), code);
    snprintf(c->log.ident, sizeof(c->log.ident), "%s %s", cfg->kind, c->group);
    return 0;
}

int
rmq_core_init(rmq_core *c, const rmq_core_cfg *cfg, rmq_error *err)
{
    pthread_condattr_t ca;
    int                rc;

    memset(c, 0, sizeof(*c));
    c->log.fn = cfg->log_fn;
    c->log.arg = cfg->log_arg;
    c->log.level = cfg->log_level;
    c->timeout_ms =
        cfg->timeout_ms > 0 ? cfg->timeout_ms : RMQ_DEFAULT_TIMEOUT_MS;
    c->route_refresh_ms = cfg->route_refresh_ms > 0 ? cfg->route_refresh_ms
                                                    : RMQ_DEFAULT_REFRESH_MS;
    c->default_route = cfg->default_route;
    pthread_mutex_init(&c->mu, NULL);
    pthread_mutex_init(&c->sync_mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&c->sync_cv, &ca);
    pthread_condattr_destroy(&ca);
    rc = rmq_core_parse_namesrv(cfg->namesrv_addr, &c->ns, &c->nns);
    if (rc != 0) {
        rmq_core_fini(c);
        return rmq_cerr_set(err, rc,
                            "name server list \"%s\" is not "
                            "\"host:port;host:port\"",
                            cfg->namesrv_addr ? cfg->namesrv_addr : "(null)");
    }
    c->group = strdup(cfg->group);
    if (c->group == NULL || core_identity(c, cfg) != 0) {
        rmq_core_fini(c);
        return rmq_cerr_set(err, RMQ_CLIENT_ERR_INVALID,
                            "could not build the client id");
    }
    if ((rc = rmq_cio_new(&c->log, &c->io)) != 0) {
        rmq_core_fini(c);
        return rmq_cerr_set(err, rc, "could not create the I/O thread state");
    }
    return 0;
}

static void
core_fetch_free(core_fetch *f)
{
    free(f->topic);
    free(f->w);
    free(f);
}

void
rmq_core_fini(rmq_core *c)
{
    rmq_cio_free(c->io); /* stops the thread first */
    c->io = NULL;
    while (c->fetches != NULL) {
        core_fetch *f = c->fetches;
        c->fetches = f->next;
        core_fetch_free(f);
    }
    for (size_t i = 0; i < c->nroutes; i++) {
        free(c->routes[i].topic);
        rmq_route_release(c->routes[i].route);
    }
    free(c->routes);
    rmq_core_addrs_free(c->ns, c->nns);
    if (c->group != NULL) {
        rmq_uniq_fini(&c->uniq);
    }
    free(c->group);
    pthread_mutex_destroy(&c->mu);
    pthread_mutex_destroy(&c->sync_mu);
    pthread_cond_destroy(&c->sync_cv);
    memset(c, 0, sizeof(*c));
}

static void
core_refresh(rmq_cio *io, void *arg)
{
    rmq_core *c = arg;
    char    **topics;
    size_t    n = 0;

    pthread_mutex_lock(&c->mu);
    topics = calloc(c->nroutes + 1, sizeof(*topics));
    for (size_t i = 0; topics != NULL && i < c->nroutes; i++) {
        if ((topics[n] = strdup(c->routes[i].topic)) != NULL) {
            n++;
        }
    }
    pthread_mutex_unlock(&c->mu);
    for (size_t i = 0; i < n; i++) {
        rmq_core_route(c, topics[i], true, NULL, NULL);
    }
    rmq_core_addrs_free(topics, n);
}

static void
core_start_timers(rmq_cio *io, void *arg)
{
    rmq_core *c = arg;

    c->refresh_timer = rmq_cio_every(io, c->route_refresh_ms, core_refresh, c);
}

int
rmq_core_start(rmq_core *c, rmq_error *err)
{
    int rc = rmq_cio_start(c->io);

    if (rc != 0) {
        return rmq_cerr_set(err, rc, "could not start the I/O thread");
    }
    rmq_cio_post(c->io, core_start_timers, c);
    rmq_clog(&c->log, RMQ_CLIENT_LOG_INFO, "client.start",
             "started as %s, name servers %s%s", c->client_id, c->ns[0],
             c->nns > 1 ? " ..." : "");
    return 0;
}

void
rmq_core_stop(rmq_core *c)
{
    if (c->io != NULL) {
        rmq_cio_stop(c->io);
    }
}

/* ---- synchronous waits ------------------------------------------------- */

void
rmq_sync_init(rmq_sync *s)
{
    s->done = false;
    s->refs = 2;
}

bool
rmq_core_wait(rmq_core *c, rmq_sync *s, int64_t deadline_ms)
{
    struct timespec ts;
    bool            done;

    ts.tv_sec = deadline_ms / 1000;
    ts.tv_nsec = (deadline_ms % 1000) * 1000000;
    pthread_mutex_lock(&c->sync_mu);
    while (!s->done) {
        if (pthread_cond_timedwait(&c->sync_cv, &c->sync_mu, &ts) ==
            ETIMEDOUT) {
            break;
        }
    }
    done = s->done;
    pthread_mutex_unlock(&c->sync_mu);
    return done;
}

void
rmq_core_done(rmq_core *c, rmq_sync *s)
{
    pthread_mutex_lock(&c->sync_mu);
    s->done = true;
    pthread_cond_broadcast(&c->sync_cv);
    pthread_mutex_unlock(&c->sync_mu);
}

bool
rmq_core_unref(rmq_core *c, rmq_sync *s)
{
    bool last;

    pthread_mutex_lock(&c->sync_mu);
    last = --s->refs == 0;
    pthread_mutex_unlock(&c->sync_mu);
    return last;
}

/* ---- route cache ------------------------------------------------------- */

/* c->mu held. */
static rmq_core_rentry *
core_route_entry(rmq_core *c, const char *topic, bool create)
{
    rmq_core_rentry *e;

    for (size_t i = 0; i < c->nroutes; i++) {
        if (strcmp(c->routes[i].topic, topic) == 0) {
            return &c->routes[i];
        }
    }
    if (!create) {
        return NULL;
    }
    if (c->nroutes == c->routes_cap) {
        size_t cap = c->routes_cap ? c->routes_cap * 2 : 8;
        e = realloc(c->routes, cap * sizeof(*e));
        if (e == NULL) {
            return NULL;
        }
        c->routes = e;
        c->routes_cap = cap;
    }
    e = &c->routes[c->nroutes];
    e->topic = strdup(topic);
    e->route = NULL;
    if (e->topic == NULL) {
        return NULL;
    }
    c->nroutes++;
    return e;
}

rmq_route *
rmq_core_route_get(rmq_core *c, const char *topic)
{
    rmq_core_rentry *e;
    rmq_route       *r = NULL;

    pthread_mutex_lock(&c->mu);
    e = core_route_entry(c, topic, false);
    if (e != NULL && e->route != NULL) {
        r = e->route;
        rmq_route_retain(r);
    }
    pthread_mutex_unlock(&c->mu);
    return r;
}

int
rmq_core_route_watch(rmq_core *c, const char *topic)
{
    rmq_core_rentry *e;

    pthread_mutex_lock(&c->mu);
    e = core_route_entry(c, topic, true);
    pthread_mutex_unlock(&c->mu);
    return e != NULL ? 0 : RMQ_CLIENT_ERR_NOMEM;
}

/*
 * Store r for topic unless an equal route is cached; returns the route
 * now cached (retained for the caller) and releases r if unused.
 */
static rmq_route *
core_route_put(rmq_core *c, const char *topic, rmq_route *r)
{
    rmq_core_rentry *e;
    rmq_route       *keep = r;

    pthread_mutex_lock(&c->mu);
    e = core_route_entry(c, topic, true);
    if (e != NULL && e->route != NULL && rmq_route_same(e->route, r)) {
        keep = e->route;
        rmq_route_release(r);
    } else if (e != NULL) {
        if (e->route != NULL) {
            rmq_clog(&c->log, RMQ_CLIENT_LOG_INFO, "route.change",
                     "route of topic %s changed", topic);
        }
        rmq_route_release(e->route);
        e->route = r;
    }
    /* not cached (no memory for the entry): the caller still gets r */
    if (e != NULL) {
        rmq_route_retain(keep);
    }
    pthread_mutex_unlock(&c->mu);
    return keep;
}

/* ---- route fetching (I/O thread) --------------------------------------- */

static void core_fetch_send(core_fetch *f);

static void
core_fetch_finish(core_fetch *f, int rc, rmq_route *route, const rmq_error *err)
{
    rmq_core    *c = f->core;
    core_fetch **pp = &c->fetches;

    while (*pp != NULL && *pp != f) {
        pp = &(*pp)->next;
    }
    if (*pp == f) {
        *pp = f->next;
    }
    for (size_t i = 0; i < f->nw; i++) {
        if (f->w[i].fn != NULL) {
            f->w[i].fn(c, rc, route, err, f->w[i].arg);
        }
    }
    rmq_route_release(route);
    core_fetch_free(f);
}

/* A route body arrived for f: parse it, derive a default route, cache. */
static void
core_fetch_parse(core_fetch *f, const rmq_rcmd *resp)
{
    rmq_core  *c = f->core;
    rmq_route *r = NULL, *d = NULL;
    rmq_error  err;
    int        rc;

    rc = rmq_route_parse(f->via_default ? RMQ_TOPIC_TBW102 : f->topic,
                         (const char *)resp->body, resp->body_len, &r);
    if (rc == 0 && f->via_default) {
        rc = rmq_route_from_default(r, f->topic, RMQ_DEFAULT_QUEUE_NUMS, &d);
        rmq_route_release(r);
        r = d;
    }
    if (rc != 0) {
        rmq_cerr_set(&err, rc,
                     "could not parse the route of topic %s "
                     "from %s",
                     f->topic, c->ns[c->ns_cur]);
        rmq_clog(&c->log, RMQ_CLIENT_LOG_WARN, "route.parse", "%s",
                 err.message);
        core_fetch_finish(f, rc, NULL, &err);
        return;
    }
    core_fetch_finish(f, 0, core_route_put(c, f->topic, r), NULL);
}

static void
core_fetch_answer(core_fetch *f, const rmq_rcmd *resp)
{
    rmq_core *c = f->core;
    rmq_error err;
    bool      none = resp->code == RMQ_RESP_TOPIC_NOT_EXIST ||
                (resp->code == RMQ_RESP_SUCCESS && resp->body_len == 0);

    if (resp->code == RMQ_RESP_SUCCESS && !none) {
        core_fetch_parse(f, resp);
        return;
    }
    if (none && c->default_route && !f->via_default &&
        strcmp(f->topic, RMQ_TOPIC_TBW102) != 0) {
        /* Java/ali-ons: send through TBW102 and let the broker create it */
        f->via_default = true;
        f->tries = 0;
        core_fetch_send(f);
        return;
    }
    rmq_cerr_response(&err, "could not get the route of a topic",
                      c->ns[c->ns_cur], resp->code, resp->remark);
    if (none) {
        snprintf(err.message, sizeof(err.message),
                 "no route for topic %s%s in name server %s", f->topic,
                 f->via_default ? " (nor for TBW102)" : "", c->ns[c->ns_cur]);
        err.code = RMQ_CLIENT_ERR_NO_ROUTE;
    }
    core_fetch_finish(f, err.code, NULL, &err);
}

static void
core_fetch_done(rmq_cio *io, int rc, const rmq_rcmd *resp, void *arg)
{
    core_fetch *f = arg;
    rmq_core   *c = f->core;
    rmq_error   err;

    if (rc == 0) {
        core_fetch_answer(f, resp);
        return;
    }
    rmq_clog(&c->log, RMQ_CLIENT_LOG_INFO, "route.fetch",
             "could not ask name server %s for topic %s: %s", c->ns[c->ns_cur],
             f->topic, rmq_client_strerror(rc));
    c->ns_cur = (c->ns_cur + 1) % c->nns;
    if (++f->tries < c->nns && rc != RMQ_CLIENT_ERR_CLOSED) {
        core_fetch_send(f);
        return;
    }
    rmq_cerr_set(&err, rc,
                 "could not get the route of topic %s from any "
                 "name server (last %s): %s",
                 f->topic, c->ns[(c->ns_cur + c->nns - 1) % c->nns],
                 rmq_client_strerror(rc));
    core_fetch_finish(f, rc, NULL, &err);
}

static void
core_fetch_send(core_fetch *f)
{
    rmq_core    *c = f->core;
    rmq_rcmd_out o;

    rmq_rcmd_out_init(&o, RMQ_REQ_GET_ROUTEINFO_BY_TOPIC, 0, 0);
    rmq_rcmd_out_ext(&o, "topic", f->via_default ? RMQ_TOPIC_TBW102 : f->topic);
    rmq_cio_call(c->io, c->ns[c->ns_cur], &o, NULL, 0, c->timeout_ms,
                 core_fetch_done, f);
}

static int
core_fetch_wait(core_fetch *f, rmq_core_route_fn fn, void *arg)
{
    if (f->nw == f->wcap) {
        size_t        cap = f->wcap ? f->wcap * 2 : 4;
        fetch_waiter *w = realloc(f->w, cap * sizeof(*w));
        if (w == NULL) {
            return RMQ_CLIENT_ERR_NOMEM;
        }
        f->w = w;
        f->wcap = cap;
    }
    f->w[f->nw].fn = fn;
    f->w[f->nw].arg = arg;
    f->nw++;
    return 0;
}

void
rmq_core_route(rmq_core *c, const char *topic, bool refresh,
               rmq_core_route_fn fn, void *arg)
{
    core_fetch *f;
    rmq_error   err;

    if (!refresh) {
        rmq_route *r = rmq_core_route_get(c, topic);
        if (r != NULL) {
            if (fn != NULL) {
                fn(c, 0, r, NULL, arg);
            }
            rmq_route_release(r);
            return;
        }
    }
    for (f = c->fetches; f != NULL; f = f->next) {
        if (strcmp(f->topic, topic) == 0) {
            break;
        }
    }
    if (f == NULL) {
        f = calloc(1, sizeof(*f));
        if (f == NULL || (f->topic = strdup(topic)) == NULL) {
            free(f);
            f = NULL;
        } else {
            f->core = c;
            f->next = c->fetches;
            c->fetches = f;
            core_fetch_send(f);
        }
    }
    if (f == NULL || core_fetch_wait(f, fn, arg) != 0) {
        if (fn != NULL) {
            rmq_cerr_set(&err, RMQ_CLIENT_ERR_NOMEM,
                         "could not fetch the route of topic %s", topic);
            fn(c, RMQ_CLIENT_ERR_NOMEM, NULL, &err, arg);
        }
    }
}

/* A synchronous route lookup: shared by the caller and the I/O thread. */
typedef struct core_route_job {
    rmq_sync   sync;
    rmq_core  *core;
    char      *topic;
    rmq_route *route;
    int        rc;
    rmq_error  err;
} core_route_job;

static void
core_route_job_release(core_route_job *j)
{
    if (rmq_core_unref(j->core, &j->sync)) {
        rmq_route_release(j->route);
        free(j->topic);
        free(j);
    }
}

static void
core_route_job_done(rmq_core *c, int rc, rmq_route *route, const rmq_error *err,
                    void *arg)
{
    core_route_job *j = arg;

    j->rc = rc;
    if (rc == 0) {
        rmq_route_retain(route);
        j->route = route;
    } else if (err != NULL) {
        j->err = *err;
    }
    rmq_core_done(c, &j->sync);
    core_route_job_release(j);
}

static void
core_route_job_run(rmq_cio *io, void *arg)
{
    core_route_job *j = arg;

    rmq_core_route_watch(j->core, j->topic);
    rmq_core_route(j->core, j->topic, false, core_route_job_done, j);
}

int
rmq_core_route_sync(rmq_core *c, const char *topic, rmq_route **out,
                    rmq_error *err)
{
    core_route_job *j;
    int             rc;

    if ((*out = rmq_core_route_get(c, topic)) != NULL) {
        return 0;
    }
    j = calloc(1, sizeof(*j));
    if (j == NULL || (j->topic = strdup(topic)) == NULL) {
        free(j);
        return rmq_cerr_set(err, RMQ_CLIENT_ERR_NOMEM,
                            "could not look up topic %s", topic);
    }
    j->core = c;
    rmq_sync_init(&j->sync);
    if ((rc = rmq_cio_post(c->io, core_route_job_run, j)) != 0) {
        free(j->topic);
        free(j);
        return rmq_cerr_set(err, rc, "the client is not running");
    }
    if (!rmq_core_wait(c, &j->sync,
                       rmq_mono_ms() +
                           (int64_t)c->timeout_ms * (int64_t)c->nns +
                           CORE_WAIT_GRACE_MS)) {
        rc = rmq_cerr_set(err, RMQ_CLIENT_ERR_TIMEOUT,
                          "no route for topic %s in time", topic);
    } else if ((rc = j->rc) != 0) {
        rmq_cerr_copy(err, &j->err);
    } else {
        rmq_route_retain(j->route);
        *out = j->route;
    }
    core_route_job_release(j);
    return rc;
}

int
rmq_core_queues(const rmq_route *r, bool pub, rmq_queue **out, size_t *n,
                rmq_error *err)
{
    size_t        cnt = pub ? r->npub : r->nsub;
    const rmq_mq *mqs = pub ? r->pub : r->sub;
    rmq_queue    *qs = calloc(cnt > 0 ? cnt : 1, sizeof(*qs));

    if (qs == NULL) {
        return rmq_cerr_set(err, RMQ_CLIENT_ERR_NOMEM,
                            "could not list the queues of topic %s", r->topic);
    }
    for (size_t i = 0; i < cnt; i++) {
        rmq_core_queue(&qs[i], r->topic, mqs[i].broker, mqs[i].qid);
    }
    *out = qs;
    *n = cnt;
    return 0;
}

static int
core_addr_add(char ***addrs, size_t *n, const char *addr)
{
    char **a;

    for (size_t i = 0; i < *n; i++) {
        if (strcmp((*addrs)[i], addr) == 0) {
            return 0;
        }
    }
    a = realloc(*addrs, (*n + 1) * sizeof(*a));
    if (a == NULL) {
        return RMQ_CLIENT_ERR_NOMEM;
    }
    *addrs = a;
    if ((a[*n] = strdup(addr)) == NULL) {
        return RMQ_CLIENT_ERR_NOMEM;
    }
    (*n)++;
    return 0;
}

int
rmq_core_broker_addrs(rmq_core *c, bool masters_only, char ***addrs, size_t *n)
{
    int rc = 0;

    *addrs = NULL;
    *n = 0;
    pthread_mutex_lock(&c->mu);
    for (size_t i = 0; i < c->nroutes && rc == 0; i++) {
        const rmq_route *r = c->routes[i].route;
        for (size_t b = 0; r != NULL && b < r->nbrokers && rc == 0; b++) {
            for (size_t k = 0; k < r->brokers[b].naddrs && rc == 0; k++) {
                const rmq_broker_addr *a = &r->brokers[b].addrs[k];
                if (!masters_only || a->id == RMQ_MASTER_ID) {
                    rc = core_addr_add(addrs, n, a->addr);
                }
            }
        }
    }
    pthread_mutex_unlock(&c->mu);
    return rc;
}

/* ---- fan-out ----------------------------------------------------------- */

typedef struct core_fanout {
    rmq_core          *core;
    size_t             left;
    int                failures;
    int                code;
    rmq_error          first; /* the first failure */
    rmq_core_fanout_fn fn;
    void              *arg;
} core_fanout;

/* One request of a fan-out: knows its address for the error report. */
typedef struct fanout_call {
    core_fanout *f;
    char         addr[128];
} fanout_call;

static void
core_fanout_note(core_fanout *f, const char *addr, int rc, const rmq_rcmd *resp)
{
    rmq_error e;

    if (rc != 0) {
        rmq_cerr_set(&e, rc, "request %d to %s failed: %s", f->code, addr,
                     rmq_client_strerror(rc));
    } else {
        rmq_cerr_response(&e, "request failed", addr, resp->code, resp->remark);
    }
    rmq_clog(&f->core->log, RMQ_CLIENT_LOG_DEBUG, "client.fanout", "%s",
             e.message);
    if (f->failures++ == 0) {
        f->first = e;
    }
}

static void
core_fanout_done(rmq_cio *io, int rc, const rmq_rcmd *resp, void *arg)
{
    fanout_call *call = arg;
    core_fanout *f = call->f;

    if (rc != 0 || resp->code != RMQ_RESP_SUCCESS) {
        core_fanout_note(f, call->addr, rc, resp);
    }
    free(call);
    if (--f->left == 0) {
        if (f->fn != NULL) {
            f->fn(f->core, f->failures, f->failures > 0 ? &f->first : NULL,
                  f->arg);
        }
        free(f);
    }
}

void
rmq_core_fanout(rmq_core *c, char **addrs, size_t n, int code,
                const rmq_plist *ext, const rmq_buf *body,
                rmq_core_fanout_fn fn, void *arg)
{
    core_fanout *f = n > 0 ? calloc(1, sizeof(*f)) : NULL;

    if (f == NULL) {
        if (fn != NULL) {
            fn(c, (int)n, NULL, arg);
        }
        return;
    }
    *f =
        (core_fanout){.core = c, .left = n, .code = code, .fn = fn, .arg = arg};
    for (size_t i = 0; i < n; i++) {
        fanout_call *call = calloc(1, sizeof(*call));
        rmq_rcmd_out o;

        RMQ_ASSERT(call != NULL); /* a lost call would hang the fan-out */
        call->f = f;
        snprintf(call->addr, sizeof(call->addr), "%s", addrs[i]);
        rmq_rcmd_out_init(&o, code, 0, 0);
        if (ext != NULL) {
            rmq_core_out_ext(&o, ext);
        }
        rmq_cio_call(c->io, addrs[i], &o, body ? body->data : NULL,
                     body ? (uint32_t)body->len : 0, c->timeout_ms,
                     core_fanout_done, call);
    }
}

/* ---- unregistering ----------------------------------------------------- */

void
rmq_core_unregister(rmq_core *c, const char *group_key, bool masters_only,
                    rmq_core_fanout_fn fn, void *arg)
{
    rmq_plist ext = {0};
    char    **addrs = NULL;
    size_t    n = 0;

    if (rmq_plist_set(&ext, "clientID", c->client_id) != 0 ||
        rmq_plist_set(&ext, group_key, c->group) != 0 ||
        rmq_core_broker_addrs(c, masters_only, &addrs, &n) != 0) {
        rmq_core_addrs_free(addrs, n);
        addrs = NULL;
        n = 0; /* nothing sent: fn runs at once */
    }
    rmq_core_fanout(c, addrs, n, RMQ_REQ_UNREGISTER_CLIENT, &ext, NULL, fn,
                    arg);
    rmq_core_addrs_free(addrs, n);
    rmq_plist_free(&ext);
}

typedef struct core_unreg {
    rmq_sync    sync;
    rmq_core   *core;
    const char *group_key;
    bool        masters_only;
} core_unreg;

static void
core_unreg_done(rmq_core *c, int failures, const rmq_error *first, void *arg)
{
    core_unreg *u = arg;

    (void)failures; /* leaving anyway: brokers expire a silent client */
    (void)first;
    rmq_core_done(c, &u->sync);
    if (rmq_core_unref(c, &u->sync)) {
        free(u);
    }
}

static void
core_unreg_run(rmq_cio *io, void *arg)
{
    core_unreg *u = arg;

    (void)io;
    rmq_core_unregister(u->core, u->group_key, u->masters_only, core_unreg_done,
                        u);
}

void
rmq_core_unregister_sync(rmq_core *c, const char *group_key, bool masters_only)
{
    core_unreg *u = calloc(1, sizeof(*u));

    if (u == NULL) {
        return;
    }
    *u = (core_unreg){
        .core = c, .group_key = group_key, .masters_only = masters_only};
    rmq_sync_init(&u->sync);
    if (rmq_cio_post(c->io, core_unreg_run, u) != 0) {
        free(u);
        return;
    }
    rmq_core_wait(c, &u->sync,
                  rmq_mono_ms() + c->timeout_ms + CORE_WAIT_GRACE_MS);
    if (rmq_core_unref(c, &u->sync)) {
        free(u);
    }
}

/* ---- rpc jobs ---------------------------------------------------------- */

rmq_rpc *
rmq_rpc_new(rmq_core *c, int code, int timeout_ms)
{
    rmq_rpc *r = calloc(1, sizeof(*r));

    if (r == NULL) {
        return NULL;
    }
    r->core = c;
    r->code = code;
    r->timeout_ms = timeout_ms > 0 ? timeout_ms : c->timeout_ms;
    r->sync.refs = 1;
    rmq_buf_init(&r->body);
    rmq_buf_init(&r->resp_body);
    return r;
}

static void
rpc_free(rmq_rpc *r)
{
    rmq_plist_free(&r->ext);
    rmq_plist_free(&r->resp_ext);
    rmq_buf_free(&r->body);
    rmq_buf_free(&r->resp_body);
    free(r->addr);
    free(r->topic);
    free(r->broker);
    free(r->remark);
    free(r);
}

void
rmq_rpc_release(rmq_rpc *r)
{
    if (r != NULL && rmq_core_unref(r->core, &r->sync)) {
        rpc_free(r);
    }
}

int
rmq_rpc_target(rmq_rpc *r, const char *topic, const char *broker)
{
    free(r->topic);
    free(r->broker);
    r->topic = strdup(topic);
    r->broker = strdup(broker);
    return r->topic != NULL && r->broker != NULL ? 0 : RMQ_CLIENT_ERR_NOMEM;
}

int
rmq_rpc_ext(rmq_rpc *r, const char *key, const char *fmt, ...)
{
    char    val[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(val, sizeof(val), fmt, ap);
    va_end(ap);
    return rmq_plist_set(&r->ext, key, val);
}

static void
rpc_finish(rmq_rpc *r, int rc, const rmq_error *err)
{
    r->rc = rc;
    if (rc != 0 && err != NULL) {
        r->err = *err;
    }
    rmq_core_done(r->core, &r->sync);
    rmq_rpc_release(r);
}

static void
rpc_done(rmq_cio *io, int rc, const rmq_rcmd *resp, void *arg)
{
    rmq_rpc  *r = arg;
    rmq_error err;

    if (rc != 0) {
        rmq_cerr_set(&err, rc, "request %d to %s failed: %s", r->code, r->addr,
                     rmq_client_strerror(rc));
        rpc_finish(r, rc, &err);
        return;
    }
    r->resp_code = resp->code;
    r->remark = resp->remark != NULL ? strdup(resp->remark) : NULL;
    if (rmq_core_copy_ext(resp, &r->resp_ext) != 0 ||
        (resp->body_len > 0 &&
         (rmq_buf_append(&r->resp_body, resp->body, resp->body_len),
          r->resp_body.oom))) {
        rmq_cerr_set(&err, RMQ_CLIENT_ERR_NOMEM,
                     "could not keep the answer of %s", r->addr);
        rpc_finish(r, RMQ_CLIENT_ERR_NOMEM, &err);
        return;
    }
    rpc_finish(r, 0, NULL);
}

static void
rpc_send(rmq_rpc *r)
{
    rmq_rcmd_out o;
    rmq_error    err;
    int          rc;

    rmq_rcmd_out_init(&o, r->code, 0, 0);
    rmq_core_out_ext(&o, &r->ext);
    if (!r->oneway) {
        rmq_cio_call(r->core->io, r->addr, &o, r->body.data,
                     (uint32_t)r->body.len, r->timeout_ms, rpc_done, r);
        return;
    }
    rc = rmq_cio_oneway(r->core->io, r->addr, &o, r->body.data,
                        (uint32_t)r->body.len);
    rmq_cerr_set(&err, rc, "could not send request %d to %s: %s", r->code,
                 r->addr, rmq_client_strerror(rc));
    rpc_finish(r, rc, &err);
}

static void
rpc_on_route(rmq_core *c, int rc, rmq_route *route, const rmq_error *err,
             void *arg)
{
    rmq_rpc    *r = arg;
    const char *addr;
    rmq_error   e;

    if (rc != 0) {
        rpc_finish(r, rc, err);
        return;
    }
    addr = rmq_route_master(route, r->broker);
    if (addr == NULL || (r->addr = strdup(addr)) == NULL) {
        rmq_cerr_set(&e, RMQ_CLIENT_ERR_NO_ROUTE,
                     "no master of broker %s in the route of topic %s",
                     r->broker, r->topic);
        rpc_finish(r, RMQ_CLIENT_ERR_NO_ROUTE, &e);
        return;
    }
    rpc_send(r);
}

static void
rpc_task(rmq_cio *io, void *arg)
{
    rmq_rpc *r = arg;

    if (r->addr != NULL) {
        rpc_send(r);
        return;
    }
    rmq_core_route(r->core, r->topic, false, rpc_on_route, r);
}

int
rmq_rpc_run(rmq_rpc *r, rmq_error *err)
{
    rmq_core *c = r->core;
    int64_t   deadline;
    int       rc;

    pthread_mutex_lock(&c->sync_mu);
    r->sync.refs++;
    r->sync.done = false;
    pthread_mutex_unlock(&c->sync_mu);
    rc = rmq_cio_post(c->io, rpc_task, r);
    if (rc != 0) {
        rmq_core_unref(c, &r->sync);
        return rmq_cerr_set(err, rc, "the client is not running");
    }
    /* a route lookup may come first: allow for both timeouts */
    deadline =
        rmq_mono_ms() + r->timeout_ms + c->timeout_ms + CORE_WAIT_GRACE_MS;
    if (!rmq_core_wait(c, &r->sync, deadline)) {
        return rmq_cerr_set(err, RMQ_CLIENT_ERR_TIMEOUT,
                            "request %d got no answer in time", r->code);
    }
    if (r->rc != 0) {
        return rmq_cerr_copy(err, &r->err);
    }
    return 0;
}

int
rmq_rpc_resp_i64(rmq_rpc *r, const char *key, int64_t *out, rmq_error *err)
{
    const char *v = rmq_plist_get(&r->resp_ext, key);

    if (v == NULL || rmq_parse_i64(v, out) != 0) {
        return rmq_cerr_set(err, RMQ_CLIENT_ERR_PROTO,
                            "answer to request %d from %s lacks a valid %s",
                            r->code, r->addr ? r->addr : "?", key);
    }
    return 0;
}
