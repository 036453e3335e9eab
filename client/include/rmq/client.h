/*
 * rmq/client.h - librmq, the C client of rmq and of any RocketMQ 4.x
 * broker: producer, pull consumer and push consumer over the RocketMQ
 * remoting protocol (TCP, JSON headers).
 *
 * Link with `pkg-config --libs rmq` (shared or static).  This is the only
 * installed header; every handle is opaque and every type is plain C.
 *
 * Errors.  Every call that can fail returns 0 or an rmq_client_err code
 * and, when err is not NULL, fills *err with the same code and a message
 * saying what was being attempted.  RMQ_CLIENT_ERR_BROKER means a name
 * server or broker answered with a non-success response code: that code is
 * in err->response_code and its remark is in the message.
 *
 * Threading.  Each producer or consumer owns one I/O thread (an epoll loop
 * with its connections to name servers and brokers, by address); API calls
 * hand work to it through a queue and, for synchronous calls, wait on a
 * condition variable with a timeout.  There is no global state: instances
 * are independent and may be created and used from any thread.
 *   - A producer may be used from many threads at once.  Async send
 *     callbacks run on the producer's callback thread(s) (never on the I/O
 *     thread), one at a time per thread; they may call any send function
 *     of any producer, but must not shut down or destroy the producer
 *     that runs them (RMQ_CLIENT_ERR_INVALID).
 *   - A pull consumer may be used from many threads at once.
 *   - A push consumer calls the consume callback on its consume threads
 *     (opts.consume_threads of them), concurrently, one message per call.
 *     An orderly push consumer (opts.orderly) still uses several threads,
 *     but runs at most one callback per queue at a time, in queue-offset
 *     order.  The callback may use producers and pull consumers, but must
 *     not shut down or destroy its own push consumer.
 *   - Queue selectors run on the thread that called the ordered send.
 *   - Messages (rmq_message) belong to their caller: a send copies what
 *     it needs before returning, so a message may be freed or changed
 *     right after any send call; several threads may send the same
 *     message at once as long as nobody changes it meanwhile.  A
 *     rmq_message_ext handed to a callback is valid during the call only
 *     (rmq_message_ext_dup keeps one).
 * Logging goes to opts.log_fn when set, else warnings and errors go to
 * stderr.
 */
#ifndef RMQ_CLIENT_H
#define RMQ_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define RMQ_CLIENT_VERSION "0.1.0"

#define RMQ_ERROR_MESSAGE_MAX 256
#define RMQ_TOPIC_MAX 256 /* buffer sizes, NUL included */
#define RMQ_BROKER_NAME_MAX 128
#define RMQ_MSG_ID_MAX 64 /* 32 hex chars (IPv4), 56 (IPv6) */

/* ---- errors ------------------------------------------------------------ */

enum rmq_client_err {
    RMQ_CLIENT_OK = 0,
    RMQ_CLIENT_ERR_INVALID = 1, /* bad argument or call in a wrong state */
    RMQ_CLIENT_ERR_NOMEM,       /* out of memory */
    RMQ_CLIENT_ERR_TIMEOUT,     /* no answer within the timeout */
    RMQ_CLIENT_ERR_BROKER,      /* an error response code (response_code) */
    RMQ_CLIENT_ERR_NO_ROUTE,    /* the name servers know no route */
    RMQ_CLIENT_ERR_CONNECT,     /* could not connect, or connection lost */
    RMQ_CLIENT_ERR_CLOSED,      /* the instance is shut down */
    RMQ_CLIENT_ERR_PROTO,       /* malformed answer from a server */
    RMQ_CLIENT_ERR_TOO_BIG,     /* message over the size limits */
    RMQ_CLIENT_ERR_SYS,         /* a system call failed (threads, fds) */
};

typedef struct rmq_error {
    int  code;          /* enum rmq_client_err */
    int  response_code; /* RMQ_CLIENT_ERR_BROKER: the server's code */
    char message[RMQ_ERROR_MESSAGE_MAX];
} rmq_error;

/* The name of a code ("timeout"); never NULL. */
const char *rmq_client_strerror(int code);

/* ---- logging ----------------------------------------------------------- */

enum rmq_client_log_level {
    RMQ_CLIENT_LOG_ERROR = 0,
    RMQ_CLIENT_LOG_WARN = 1,
    RMQ_CLIENT_LOG_INFO = 2,
    RMQ_CLIENT_LOG_DEBUG = 3,
};

/* One log line (no trailing newline); may be called from any thread. */
typedef void (*rmq_log_fn)(int level, const char *line, void *arg);

/* ---- messages to send -------------------------------------------------- */

typedef struct rmq_message rmq_message;

/* A message for topic with a copy of body (body_len > 0). */
int  rmq_message_new(const char *topic, const void *body, size_t body_len,
                     rmq_message **out, rmq_error *err);
void rmq_message_free(rmq_message *m);
int  rmq_message_set_body(rmq_message *m, const void *body, size_t body_len,
                          rmq_error *err);
/* One tag (used for filtering); NULL or "" clears it. */
int rmq_message_set_tags(rmq_message *m, const char *tags, rmq_error *err);
/* Business keys, space separated ("k1 k2"); NULL or "" clears them. */
int rmq_message_set_keys(rmq_message *m, const char *keys, rmq_error *err);
/* Delay level 1..18 (1s 5s 10s 30s 1m 2m .. 2h); 0 clears it. */
int rmq_message_set_delay_level(rmq_message *m, int level, rmq_error *err);
/* The int32 user flag stored with the message. */
int rmq_message_set_flag(rmq_message *m, int32_t flag, rmq_error *err);
/*
 * A user property.  Reserved names (TAGS, KEYS, DELAY, UNIQ_KEY, WAIT,
 * RETRY_TOPIC, ...) and keys or values holding U+0001/U+0002 are refused.
 * value NULL removes the property.
 */
int rmq_message_set_property(rmq_message *m, const char *key, const char *value,
                             rmq_error *err);

const char *rmq_message_get_topic(const rmq_message *m);
const char *rmq_message_get_tags(const rmq_message *m); /* NULL: none */
const char *rmq_message_get_keys(const rmq_message *m); /* NULL: none */
const char *rmq_message_get_property(const rmq_message *m, const char *key);
const void *rmq_message_get_body(const rmq_message *m, size_t *len);
int         rmq_message_get_delay_level(const rmq_message *m);

/* ---- received messages ------------------------------------------------- */

typedef struct rmq_message_ext rmq_message_ext;

const char *rmq_message_ext_get_topic(const rmq_message_ext *m);
const char *rmq_message_ext_get_tags(const rmq_message_ext *m); /* or NULL */
const char *rmq_message_ext_get_keys(const rmq_message_ext *m); /* or NULL */
/* The body; a NUL byte (not counted in *len) follows it, so a text body
 * can be used as a C string. */
const void *rmq_message_ext_get_body(const rmq_message_ext *m, size_t *len);
/* A property by name, or NULL. */
const char *rmq_message_ext_get_property(const rmq_message_ext *m,
                                         const char            *key);
size_t      rmq_message_ext_property_count(const rmq_message_ext *m);
/* The i-th property; 0, or RMQ_CLIENT_ERR_INVALID when i is too big. */
int rmq_message_ext_property_at(const rmq_message_ext *m, size_t i,
                                const char **key, const char **value);
/* UNIQ_KEY when the producer set one, else the offset message id. */
const char *rmq_message_ext_get_msg_id(const rmq_message_ext *m);
/* Store host + commit-log offset, as hex (spec 6.4). */
const char *rmq_message_ext_get_offset_msg_id(const rmq_message_ext *m);
const char *rmq_message_ext_get_broker_name(const rmq_message_ext *m);
int32_t     rmq_message_ext_get_queue_id(const rmq_message_ext *m);
int64_t     rmq_message_ext_get_queue_offset(const rmq_message_ext *m);
int64_t     rmq_message_ext_get_commitlog_offset(const rmq_message_ext *m);
int64_t     rmq_message_ext_get_born_timestamp(const rmq_message_ext *m);
int64_t     rmq_message_ext_get_store_timestamp(const rmq_message_ext *m);
const char *rmq_message_ext_get_born_host(const rmq_message_ext *m);
const char *rmq_message_ext_get_store_host(const rmq_message_ext *m);
int32_t     rmq_message_ext_get_reconsume_times(const rmq_message_ext *m);
int32_t     rmq_message_ext_get_flag(const rmq_message_ext *m);
int32_t     rmq_message_ext_get_sys_flag(const rmq_message_ext *m);
/* A copy that outlives a consume callback; free with the next call. */
int  rmq_message_ext_dup(const rmq_message_ext *m, rmq_message_ext **out,
                         rmq_error *err);
void rmq_message_ext_free(rmq_message_ext *m);

/* ---- queues ------------------------------------------------------------ */

typedef struct rmq_queue {
    char topic[RMQ_TOPIC_MAX];
    char broker_name[RMQ_BROKER_NAME_MAX];
    int  queue_id;
} rmq_queue;

/* Free an array returned by a fetch_queues call. */
void rmq_queues_free(rmq_queue *queues);

/* ---- producer ---------------------------------------------------------- */

typedef struct rmq_producer rmq_producer;

typedef struct rmq_producer_opts {
    const char *namesrv_addr;          /* required: "host:port;host:port" */
    const char *group;                 /* "DEFAULT_PRODUCER" */
    const char *instance_name;         /* NULL: "<pid>#<nanoseconds>" */
    int         send_timeout_ms;       /* 3000, whole send incl. retries */
    int         retry_times;           /* 2 more attempts of a sync send */
    int         async_retry_times;     /* 2 more attempts of an async send */
    size_t      compress_threshold;    /* 4096; 0: never compress */
    size_t      max_message_size;      /* 4 MiB, body before compression */
    int         callback_threads;      /* 1: threads running async callbacks */
    int         route_refresh_ms;      /* 30000 */
    int         heartbeat_interval_ms; /* 30000 */
    rmq_log_fn  log_fn;                /* NULL: warnings to stderr */
    void       *log_arg;
    int         log_level; /* RMQ_CLIENT_LOG_WARN */
} rmq_producer_opts;

typedef enum rmq_send_status {
    RMQ_SEND_OK = 0,
    RMQ_SEND_FLUSH_DISK_TIMEOUT = 1,
    RMQ_SEND_FLUSH_SLAVE_TIMEOUT = 2,
    RMQ_SEND_SLAVE_NOT_AVAILABLE = 3,
} rmq_send_status;

typedef struct rmq_send_result {
    rmq_send_status status;
    char            msg_id[RMQ_MSG_ID_MAX];        /* the UNIQ_KEY */
    char            offset_msg_id[RMQ_MSG_ID_MAX]; /* store host + offset */
    rmq_queue       queue;
    int64_t         queue_offset;
    /*
     * Messages stored: 1, or the batch size.  For a batch, msg_id,
     * offset_msg_id and queue_offset are those of the first message; the
     * others follow at queue_offset + 1, + 2, ... (every message's ids:
     * rmq_producer_send_batch_ids).
     */
    int count;
} rmq_send_result;

/* One message of a batch as stored. */
typedef struct rmq_batch_id {
    char    msg_id[RMQ_MSG_ID_MAX];        /* its UNIQ_KEY */
    char    offset_msg_id[RMQ_MSG_ID_MAX]; /* "" if the broker named none */
    int64_t queue_offset;                  /* -1 if unknown */
} rmq_batch_id;

/*
 * Completion of an async send: rc is 0 with res filled, or an error code
 * with err filled (res NULL).  Runs on a callback thread, exactly once for
 * every send_async call that returned 0.
 */
typedef void (*rmq_send_cb)(int rc, const rmq_send_result *res,
                            const rmq_error *err, void *arg);

/* Picks a queue for an ordered send: an index in [0, nqueues). */
typedef int (*rmq_queue_selector)(int nqueues, const rmq_message *msg,
                                  void *arg);

/* Fill opts with the defaults above (namesrv_addr NULL). */
void rmq_producer_opts_init(rmq_producer_opts *opts);
/* Create a producer (nothing connects before start). */
int rmq_producer_new(const rmq_producer_opts *opts, rmq_producer **out,
                     rmq_error *err);
/* Start the I/O and callback threads and the periodic tasks. */
int rmq_producer_start(rmq_producer *p, rmq_error *err);
/*
 * Send and wait for the broker's answer; on failure retries other queues
 * (another broker first) up to opts.retry_times times within the timeout.
 */
int rmq_producer_send(rmq_producer *p, const rmq_message *msg,
                      rmq_send_result *res, rmq_error *err);
/* Send without waiting; cb reports the outcome. */
int rmq_producer_send_async(rmq_producer *p, const rmq_message *msg,
                            rmq_send_cb cb, void *arg, rmq_error *err);
/* Send without an answer (returns once the request is queued). */
int rmq_producer_send_oneway(rmq_producer *p, const rmq_message *msg,
                             rmq_error *err);
/*
 * Send n messages of one topic as one batch (no delay levels); all land
 * in one queue, in order.
 */
int rmq_producer_send_batch(rmq_producer *p, const rmq_message *const *msgs,
                            size_t n, rmq_send_result *res, rmq_error *err);
/*
 * rmq_producer_send_batch that also fills ids[i] (an array of n the
 * caller owns) with the ids and queue offset msgs[i] was stored with.
 */
int rmq_producer_send_batch_ids(rmq_producer *p, const rmq_message *const *msgs,
                                size_t n, rmq_send_result *res,
                                rmq_batch_id *ids, rmq_error *err);
/* Send to this queue (no retry on another queue). */
int rmq_producer_send_to_queue(rmq_producer *p, const rmq_message *msg,
                               const rmq_queue *queue, rmq_send_result *res,
                               rmq_error *err);
/*
 * Ordered send: select(nqueues, msg, arg) picks one of the topic's
 * writable queues (sorted by broker name, then queue id); the message is
 * sent there and never retried on another queue.
 */
int rmq_producer_send_ordered(rmq_producer *p, const rmq_message *msg,
                              rmq_queue_selector select, void *arg,
                              rmq_send_result *res, rmq_error *err);
/* The writable queues of a topic (free with rmq_queues_free). */
int rmq_producer_fetch_queues(rmq_producer *p, const char *topic,
                              rmq_queue **queues, size_t *n, rmq_error *err);
/*
 * Stop: unregister from the brokers, fail sends still in flight with
 * RMQ_CLIENT_ERR_CLOSED (their callbacks run), join the threads.
 * Idempotent.  Later sends fail with RMQ_CLIENT_ERR_CLOSED.
 */
int rmq_producer_shutdown(rmq_producer *p, rmq_error *err);
/* Shut down if needed, then free.  NULL is fine. */
void rmq_producer_destroy(rmq_producer *p);

/* ---- pull consumer ----------------------------------------------------- */

typedef struct rmq_pull_consumer rmq_pull_consumer;

typedef struct rmq_pull_consumer_opts {
    const char *namesrv_addr;  /* required */
    const char *group;         /* "DEFAULT_CONSUMER" */
    const char *instance_name; /* NULL: "<pid>#<nanoseconds>" */
    int         timeout_ms;    /* 3000: offset queries and plain pulls */
    int         route_refresh_ms;
    rmq_log_fn  log_fn;
    void       *log_arg;
    int         log_level;
    /*
     * 0 (default): no heartbeats, so the consumer never shows in (nor
     * disturbs) its group.  > 0: heartbeat the brokers of the topics used
     * that often, and at once when a topic brings new ones, as a Java
     * pull consumer does (CONSUME_ACTIVELY, no subscriptions): the
     * group's consumer list (GET_CONSUMER_LIST_BY_GROUP, admin tools)
     * shows it, and push consumers of the same group count it when they
     * split the queues.  Shutdown unregisters.
     */
    int heartbeat_interval_ms;
} rmq_pull_consumer_opts;

typedef enum rmq_pull_status {
    RMQ_PULL_FOUND = 0,
    RMQ_PULL_NO_NEW_MSG = 1,
    RMQ_PULL_NO_MATCHED_MSG = 2,
    RMQ_PULL_OFFSET_ILLEGAL = 3,
} rmq_pull_status;

typedef struct rmq_pull_request {
    rmq_queue   queue;
    const char *tag_expr;   /* NULL or "*": all; "A || B": those tags */
    int64_t     offset;     /* queue offset to start at */
    int         max_msgs;   /* 1..; 0 means 32 */
    int         suspend_ms; /* > 0: let the broker hold the pull that long */
} rmq_pull_request;

typedef struct rmq_pull_result {
    rmq_pull_status   status;
    int64_t           next_begin_offset;
    int64_t           min_offset;
    int64_t           max_offset;
    size_t            nmsgs;
    rmq_message_ext **msgs; /* owned by the result */
} rmq_pull_result;

void rmq_pull_consumer_opts_init(rmq_pull_consumer_opts *opts);
int  rmq_pull_consumer_new(const rmq_pull_consumer_opts *opts,
                           rmq_pull_consumer **out, rmq_error *err);
int  rmq_pull_consumer_start(rmq_pull_consumer *c, rmq_error *err);
/* The readable queues of a topic (free with rmq_queues_free). */
int rmq_pull_consumer_fetch_queues(rmq_pull_consumer *c, const char *topic,
                                   rmq_queue **queues, size_t *n,
                                   rmq_error *err);
/*
 * Pull up to max_msgs messages from a queue at an offset.  Messages whose
 * tag does not match tag_expr are left out (the broker filters by hash
 * code, the client re-checks the tag).  Free *out with
 * rmq_pull_result_free.
 */
int  rmq_pull_consumer_pull(rmq_pull_consumer *c, const rmq_pull_request *req,
                            rmq_pull_result **out, rmq_error *err);
void rmq_pull_result_free(rmq_pull_result *r);
/* The group's committed offset of a queue; RMQ_CLIENT_ERR_BROKER with
 * response_code 22 when there is none. */
int rmq_pull_consumer_query_offset(rmq_pull_consumer *c, const rmq_queue *q,
                                   int64_t *offset, rmq_error *err);
/* Commit the group's offset of a queue (waits for the broker). */
int rmq_pull_consumer_commit_offset(rmq_pull_consumer *c, const rmq_queue *q,
                                    int64_t offset, rmq_error *err);
/* Next offset to be written in the queue / first offset still stored. */
int rmq_pull_consumer_max_offset(rmq_pull_consumer *c, const rmq_queue *q,
                                 int64_t *offset, rmq_error *err);
int rmq_pull_consumer_min_offset(rmq_pull_consumer *c, const rmq_queue *q,
                                 int64_t *offset, rmq_error *err);
/* The queue offset of the message stored closest to timestamp_ms. */
int rmq_pull_consumer_search_offset(rmq_pull_consumer *c, const rmq_queue *q,
                                    int64_t timestamp_ms, int64_t *offset,
                                    rmq_error *err);
/* Unregister from the brokers, stop the I/O thread.  Idempotent. */
int  rmq_pull_consumer_shutdown(rmq_pull_consumer *c, rmq_error *err);
void rmq_pull_consumer_destroy(rmq_pull_consumer *c);

/* ---- push consumer ----------------------------------------------------- */

typedef struct rmq_push_consumer rmq_push_consumer;

typedef enum rmq_consume_status {
    RMQ_CONSUME_SUCCESS = 0,
    RMQ_CONSUME_RECONSUME_LATER = 1,
    /* the name an orderly consumer uses for the same value */
    RMQ_CONSUME_SUSPEND_CURRENT_QUEUE_A_MOMENT = 1,
} rmq_consume_status;

typedef enum rmq_message_model {
    RMQ_MODEL_CLUSTERING = 0,
    RMQ_MODEL_BROADCASTING = 1,
} rmq_message_model;

typedef enum rmq_consume_from {
    RMQ_CONSUME_FROM_LAST_OFFSET = 0,
    RMQ_CONSUME_FROM_FIRST_OFFSET = 1,
    RMQ_CONSUME_FROM_TIMESTAMP = 2,
} rmq_consume_from;

/*
 * Consume one message (valid only during the call).
 *
 * Concurrent consumers: RECONSUME_LATER (CLUSTERING only) sends it back
 * to the broker, which delivers it again later through %RETRY%<group>
 * (delay level 3 + reconsume times), up to max_reconsume_times, then
 * to %DLQ%<group>.
 *
 * Orderly consumers (opts.orderly, Java's MessageListenerOrderly):
 * SUSPEND_CURRENT_QUEUE_A_MOMENT stops the message's queue for
 * suspend_current_queue_ms, then the same message comes again, with
 * reconsume times one higher (counted by this client, as in Java).  Once
 * it was suspended max_reconsume_times times, the next failure sends it
 * back with delay level -1, straight to %DLQ%<group>, and the queue goes
 * on with the next message; if the broker does not take it, the queue
 * stays suspended and the message comes again.  BROADCASTING drops it
 * instead (with a warning).  Other queues are not held up.
 */
typedef rmq_consume_status (*rmq_consume_fn)(const rmq_message_ext *msg,
                                             void                  *arg);

typedef struct rmq_push_consumer_opts {
    const char       *namesrv_addr;  /* required */
    const char       *group;         /* required: the consumer group */
    const char       *instance_name; /* NULL: "<pid>#<nanoseconds>" */
    rmq_message_model model;         /* CLUSTERING */
    rmq_consume_from  consume_from;  /* LAST_OFFSET, for a group's new queues */
    int64_t           consume_timestamp_ms; /* TIMESTAMP; 0: 30 min ago */
    rmq_consume_fn    on_message;           /* required */
    void             *on_message_arg;
    int               consume_threads;       /* 4 */
    int               pull_batch_size;       /* 32 */
    int               max_cached_per_queue;  /* 1000: then pulls pause */
    int               max_reconsume_times;   /* 16 */
    int               suspend_ms;            /* 15000: broker long polling */
    int               rebalance_interval_ms; /* 20000 */
    int               heartbeat_interval_ms; /* 30000 */
    int               commit_interval_ms;    /* 5000 */
    int               route_refresh_ms;      /* 30000 */
    int               timeout_ms;            /* 3000: non-pull requests */
    rmq_log_fn        log_fn;
    void             *log_arg;
    int               log_level;
    /*
     * Orderly consumption: each queue is consumed by one thread at a time
     * in queue-offset order, and in CLUSTERING only while this client
     * holds the queue's lock on its broker (LOCK_BATCH_MQ, renewed every
     * 20 s; a new queue is pulled only once locked; a queue whose lock is
     * lost stops until it is granted again).  See rmq_consume_fn.
     */
    int orderly;                  /* 0 */
    int suspend_current_queue_ms; /* 1000 */
} rmq_push_consumer_opts;

void rmq_push_consumer_opts_init(rmq_push_consumer_opts *opts);
int  rmq_push_consumer_new(const rmq_push_consumer_opts *opts,
                           rmq_push_consumer **out, rmq_error *err);
/*
 * Subscribe to topic with a tag expression ("*", "A", "A || B"); before
 * start only.  In CLUSTERING, %RETRY%<group> is subscribed automatically.
 */
int rmq_push_consumer_subscribe(rmq_push_consumer *c, const char *topic,
                                const char *tag_expr, rmq_error *err);
/*
 * Start: heartbeat, then allocate queues (average strategy) and pull.
 * Offsets are committed to the broker every commit_interval_ms and on
 * shutdown (CLUSTERING); BROADCASTING keeps them in memory only, for the
 * life of the instance.
 */
int rmq_push_consumer_start(rmq_push_consumer *c, rmq_error *err);
/*
 * Stop pulling, wait for callbacks in progress, commit offsets, release
 * the queue locks (orderly), unregister from the brokers, join the
 * threads.  Idempotent.
 */
int  rmq_push_consumer_shutdown(rmq_push_consumer *c, rmq_error *err);
void rmq_push_consumer_destroy(rmq_push_consumer *c);

#ifdef __cplusplus
}
#endif

#endif
