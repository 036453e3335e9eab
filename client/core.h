/*
 * core.h - what a producer, a pull consumer and a push consumer share: the
 * configuration, the client id, the I/O thread, the name server list, the
 * route cache, UNIQ_KEY generation, synchronous waits and generic broker
 * requests ("rpc" jobs) used by the public API.
 *
 * Threads: the route cache is guarded by core->mu and may be read from
 * any thread; route fetching, heartbeats and requests run on the I/O
 * thread (cio.h); waits use core->sync_mu/sync_cv.
 */
#ifndef RMQ_CLIENT_CORE_H
#define RMQ_CLIENT_CORE_H

#include "client/cerr.h"
#include "client/cio.h"
#include "client/cmsg.h"
#include "client/route.h"
#include "client/uniq.h"
#include "common/buf.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define RMQ_DEFAULT_TIMEOUT_MS 3000
#define RMQ_DEFAULT_REFRESH_MS 30000
#define RMQ_INNER_PRODUCER_GROUP "CLIENT_INNER_PRODUCER"
#define RMQ_DEFAULT_QUEUE_NUMS 4 /* defaultTopicQueueNums */

typedef struct rmq_core_cfg {
    const char *kind;         /* "producer", ... for log lines */
    const char *namesrv_addr; /* "host:port;host:port" */
    const char *group;
    const char *instance_name; /* NULL: "<pid>#<ns>" */
    int         timeout_ms;
    int         route_refresh_ms;
    bool        default_route; /* TOPIC_NOT_EXIST -> TBW102 route */
    rmq_log_fn  log_fn;
    void       *log_arg;
    int         log_level;
} rmq_core_cfg;

typedef struct rmq_core_rentry {
    char      *topic;
    rmq_route *route; /* NULL until fetched */
} rmq_core_rentry;

struct core_fetch;

typedef struct rmq_core {
    rmq_clog           log;
    char              *group;
    char               client_id[160];
    char             **ns; /* name server addresses */
    size_t             nns;
    size_t             ns_cur; /* I/O thread: the one to ask first */
    rmq_cio           *io;
    rmq_uniq           uniq;
    int                timeout_ms;
    int                route_refresh_ms;
    bool               default_route;
    uint64_t           refresh_timer;
    pthread_mutex_t    mu; /* guards routes */
    rmq_core_rentry   *routes;
    size_t             nroutes, routes_cap;
    struct core_fetch *fetches; /* I/O thread: route fetches in flight */
    pthread_mutex_t    sync_mu; /* guards every rmq_sync */
    pthread_cond_t     sync_cv;
} rmq_core;

int  rmq_core_init(rmq_core *c, const rmq_core_cfg *cfg, rmq_error *err);
void rmq_core_fini(rmq_core *c);
/* Start the I/O thread and the route refresh timer. */
int  rmq_core_start(rmq_core *c, rmq_error *err);
void rmq_core_stop(rmq_core *c);

/* ---- synchronous waits ------------------------------------------------- */

/*
 * A job shared by a waiting API thread and the I/O thread: whoever drops
 * the last reference frees it, so a caller that gave up on a timeout never
 * frees memory the I/O thread still uses.
 */
typedef struct rmq_sync {
    bool done;
    int  refs;
} rmq_sync;

void rmq_sync_init(rmq_sync *s); /* done false, refs 2 */
/* Wait until done or the monotonic deadline; returns done. */
bool rmq_core_wait(rmq_core *c, rmq_sync *s, int64_t deadline_ms);
void rmq_core_done(rmq_core *c, rmq_sync *s);
/* Drop one reference; true when it was the last (caller frees). */
bool rmq_core_unref(rmq_core *c, rmq_sync *s);

/* ---- routes ------------------------------------------------------------ */

/* Any thread: the cached route of topic (retained), or NULL. */
rmq_route *rmq_core_route_get(rmq_core *c, const char *topic);
/* Any thread: remember topic so the refresh timer fetches it. */
int rmq_core_route_watch(rmq_core *c, const char *topic);

/* rc 0: route (valid during the call; retain to keep); else err. */
typedef void (*rmq_core_route_fn)(rmq_core *c, int rc, rmq_route *route,
                                  const rmq_error *err, void *arg);
/*
 * I/O thread: the route of topic, from the cache unless refresh, else
 * from the name servers (tried in turn; fetches of one topic are shared).
 * fn may run before this returns (cache hit).
 */
void rmq_core_route(rmq_core *c, const char *topic, bool refresh,
                    rmq_core_route_fn fn, void *arg);
/*
 * Not on the I/O thread: the route of topic (cached or fetched), retained
 * for the caller.  0 or an error code with err.
 */
int rmq_core_route_sync(rmq_core *c, const char *topic, rmq_route **out,
                        rmq_error *err);
/* Public rmq_queue array of a route's pub or sub list (malloc'd). */
int rmq_core_queues(const rmq_route *r, bool pub, rmq_queue **out, size_t *n,
                    rmq_error *err);
/* I/O thread: broker addresses of every cached route (masters only or all),
 * deduplicated; free with rmq_core_addrs_free. */
int  rmq_core_broker_addrs(rmq_core *c, bool masters_only, char ***addrs,
                           size_t *n);
void rmq_core_addrs_free(char **addrs, size_t n);

/* ---- fan-out to brokers ------------------------------------------------ */

typedef void (*rmq_core_fanout_fn)(rmq_core *c, int failures,
                                   const rmq_error *first, void *arg);
/*
 * I/O thread: send the same request to each address; fn (may be NULL) runs
 * once every one answered or failed, with the number of failures
 * (transport errors or a non-zero response code) and the first of them
 * (NULL when none).  With no address fn runs at once.
 */
void rmq_core_fanout(rmq_core *c, char **addrs, size_t n, int code,
                     const rmq_plist *ext, const rmq_buf *body,
                     rmq_core_fanout_fn fn, void *arg);

/*
 * I/O thread: UNREGISTER_CLIENT (clientID and group_key = the group, e.g.
 * "producerGroup" or "consumerGroup") to the brokers of every cached
 * route, masters only or all; fn as for rmq_core_fanout.
 */
void rmq_core_unregister(rmq_core *c, const char *group_key, bool masters_only,
                         rmq_core_fanout_fn fn, void *arg);
/*
 * Not on the I/O thread: rmq_core_unregister, waiting for the answers at
 * most one request timeout (shutdown of a producer or pull consumer).
 */
void rmq_core_unregister_sync(rmq_core *c, const char *group_key,
                              bool masters_only);

/* ---- synchronous broker requests --------------------------------------- */

/*
 * One request for an API thread: to addr, or to the master of broker
 * (from the route of topic).  Build it, run it, read the response, free.
 */
typedef struct rmq_rpc {
    rmq_sync  sync;
    rmq_core *core;
    int       code;
    rmq_plist ext;  /* request ext fields */
    rmq_buf   body; /* request body */
    char     *addr; /* or: */
    char     *topic;
    char     *broker;
    int       timeout_ms;
    bool      oneway;
    /* results, valid after rmq_rpc_run returned 0 */
    int       resp_code;
    char     *remark;
    rmq_plist resp_ext;
    rmq_buf   resp_body;
    int       rc;
    rmq_error err;
} rmq_rpc;

rmq_rpc *rmq_rpc_new(rmq_core *c, int code, int timeout_ms);
/* Address the master of broker in topic's route. */
int rmq_rpc_target(rmq_rpc *r, const char *topic, const char *broker);
int rmq_rpc_ext(rmq_rpc *r, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/*
 * Run and wait (not on the I/O thread).  0 once a response arrived
 * (whatever its code; see resp_code), else an error code in err.
 */
int rmq_rpc_run(rmq_rpc *r, rmq_error *err);
/* Drop the caller's reference. */
void rmq_rpc_release(rmq_rpc *r);
/* Response ext field as int64; 0 or RMQ_CLIENT_ERR_PROTO (with err). */
int rmq_rpc_resp_i64(rmq_rpc *r, const char *key, int64_t *out, rmq_error *err);

/* Build o's ext fields from a plist (pointers into it). */
void rmq_core_out_ext(rmq_rcmd_out *o, const rmq_plist *ext);
/* Copy a response's ext fields into a plist. */
int rmq_core_copy_ext(const rmq_rcmd *resp, rmq_plist *out);

/* ---- helpers ----------------------------------------------------------- */

/* Parse "h:p;h:p" into a malloc'd array; 0 or RMQ_CLIENT_ERR_INVALID. */
int rmq_core_parse_namesrv(const char *list, char ***out, size_t *n);
/* Fill an rmq_queue; 0 or RMQ_CLIENT_ERR_INVALID when a name is too long. */
int rmq_core_queue(rmq_queue *q, const char *topic, const char *broker,
                   int qid);
/* Whether topic is a valid RocketMQ topic name (^[%|a-zA-Z0-9_-]+$, <128). */
bool rmq_core_topic_ok(const char *topic);

#endif
