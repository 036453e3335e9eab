/*
 * catalog.h - every message exchanged between rmq processes: its id (never
 * reused), its struct, and one encode/decode pair.  Wire form and
 * validation rules are in msg.h.  New fields go at the end of a struct's
 * field list (older decoders ignore them).
 *
 * Sockets (DESIGN.md section 3): ipc://<runDir>/<owner>.<purpose>.
 *   ctl              rep   supervisor: rmqctl requests (CTL_REQUEST -> CTL_*)
 *   clwriter.in      pull  TOPIC_UPDATE from any actor
 *   clwriter.put     chan  PUT_BATCH in, PUT_RESULT back on the same
 *                          channel (net/chan.h: a Unix seqpacket socket,
 *                          not NNG: this hop is on every send)
 *   <actor>.in       pull  each requesting actor's replies and events:
 *                          TOPIC_RESULT, ...
 *   clwriter.pub     pub   POSITION (kind WRITTEN)
 *   flusher.in       pull  FLUSH_REQ from clwriter (SYNC_FLUSH)
 *   flusher.pub      pub   POSITION (kind FLUSHED)
 *   dispatcher.pub   pub   QUEUE_GREW
 *   rebalancer.in    pull  FWD_REQUEST, CONN_CLOSED from the acceptor;
 *                          TOPIC_RESULT from clwriter
 *   acceptor.in      pull  PUT_RESULT, TOPIC_RESULT, FWD_RESPONSE,
 *                          CLIENT_NOTIFY, LP_WAKE
 *   longpoll.in      pull  LP_HOLD from the acceptor
 */
#ifndef RMQ_PROTO_CATALOG_H
#define RMQ_PROTO_CATALOG_H

#include "proto/msg.h"
#include "shm/control.h"

#include <stdbool.h>
#include <stdint.h>

enum rmq_msg_id {
    RMQ_MSG_CTL_REQUEST = 1,
    RMQ_MSG_CTL_RESULT = 2,
    RMQ_MSG_CTL_ACTORS = 3,
    RMQ_MSG_CTL_STATUS = 4,
    RMQ_MSG_PUT_BATCH = 10,
    RMQ_MSG_PUT_RESULT = 11,
    RMQ_MSG_TOPIC_UPDATE = 12,
    RMQ_MSG_TOPIC_RESULT = 13,
    RMQ_MSG_POSITION = 14,
    RMQ_MSG_FLUSH_REQ = 15,
    RMQ_MSG_QUEUE_GREW = 16,
    RMQ_MSG_FWD_REQUEST = 20,
    RMQ_MSG_FWD_RESPONSE = 21,
    RMQ_MSG_CLIENT_NOTIFY = 22,
    RMQ_MSG_CONN_CLOSED = 23,
    RMQ_MSG_LP_HOLD = 24,
    RMQ_MSG_LP_WAKE = 25,
};

/* rmqctl -> supervisor */
enum rmq_ctl_cmd {
    RMQ_CTL_CMD_ACTORS = 1,  /* -> CTL_ACTORS */
    RMQ_CTL_CMD_STATUS = 2,  /* -> CTL_STATUS */
    RMQ_CTL_CMD_RESTART = 3, /* arg = actor name -> CTL_RESULT */
};

typedef struct rmq_msg_ctl_request {
    uint32_t cmd;
    char     arg[64];
} rmq_msg_ctl_request;

typedef struct rmq_msg_ctl_result {
    int32_t status; /* 0 or an rmq_err */
    char    text[256];
} rmq_msg_ctl_result;

typedef struct rmq_ctl_counter {
    char     name[RMQ_COUNTER_NAME_MAX];
    uint64_t value;
} rmq_ctl_counter;

typedef struct rmq_ctl_actor_info {
    char            name[RMQ_ACTOR_NAME_MAX];
    int32_t         pid;
    char            state[16]; /* "ready", "starting", "backoff", ... */
    uint32_t        restarts;
    int32_t         last_exit; /* exit code, or -signal */
    uint32_t        exits;
    int64_t         start_ms;
    int64_t         heartbeat_ms;
    uint32_t        ncounters;
    rmq_ctl_counter counters[RMQ_COUNTER_MAX];
} rmq_ctl_actor_info;

typedef struct rmq_msg_ctl_actors {
    int64_t            now_ms;
    uint32_t           n;
    rmq_ctl_actor_info actors[RMQ_ACTOR_MAX];
} rmq_msg_ctl_actors;

typedef struct rmq_msg_ctl_status {
    int32_t  pid;
    uint64_t generation;
    char     state[16];
    int64_t  uptime_ms;
    int64_t  ready_after_ms; /* start to all READY; -1 while starting */
    uint32_t actors_total;
    uint32_t actors_ready;
    uint64_t reloads;
    char     config_source[256];
    char     version[32];
    char     run_dir[256];
} rmq_msg_ctl_status;

/*
 * Put path.  An actor encodes whole commit-log records into its put ring
 * (shm/ring.h) and sends clwriter one PUT_BATCH naming them; clwriter
 * answers with one PUT_RESULT, results in descriptor order.  writer_pid is
 * the clwriter the sender believes is running: a batch addressed to
 * another (dead) clwriter is refused, so a restarted clwriter never reads
 * ring space its sender already gave up on.
 */
#define RMQ_PUT_BATCH_MAX 1024

#define RMQ_PUT_F_WAIT_FLUSH 0x1 /* SYNC_FLUSH: answer once on disk */

enum rmq_put_status {
    RMQ_PUT_OK = 0,
    RMQ_PUT_FLUSH_TIMEOUT = 1, /* stored, not flushed within syncFlushTimeout */
    RMQ_PUT_BAD_RECORD = 2,    /* descriptor or record malformed */
    RMQ_PUT_NO_TOPIC = 3,      /* topic index not live, or queue out of range */
    RMQ_PUT_STORE_ERROR = 4,   /* disk full, cannot create a file, ... */
    RMQ_PUT_WRONG_WRITER = 5,  /* addressed to another clwriter */
    RMQ_PUT_RING_ERROR = 6,    /* cannot map the sender's ring */
};

typedef struct rmq_put_desc {
    uint64_t ring_off;
    uint32_t len;
    uint32_t topic_idx; /* index in the control segment's topic table */
    int32_t  queue_id;
    uint32_t flags; /* RMQ_PUT_F_* */
} rmq_put_desc;

typedef struct rmq_msg_put_batch {
    uint32_t     owner;      /* actor id of the sender (its ring, its .in) */
    int32_t      writer_pid; /* the clwriter this batch is for */
    uint64_t     seq;
    uint64_t     ring_size;
    uint32_t     n;
    rmq_put_desc d[RMQ_PUT_BATCH_MAX];
} rmq_msg_put_batch;

typedef struct rmq_put_res {
    int32_t status; /* enum rmq_put_status */
    int64_t phys_offset;
    int64_t queue_offset;
} rmq_put_res;

typedef struct rmq_msg_put_result {
    uint64_t    seq;
    int32_t     writer_pid;
    uint32_t    n;
    rmq_put_res r[RMQ_PUT_BATCH_MAX];
} rmq_msg_put_result;

/* Create, update or delete a topic (clwriter owns the topic table). */
typedef struct rmq_msg_topic_update {
    uint32_t owner;
    uint64_t seq;
    char     name[RMQ_TOPIC_NAME_MAX];
    int32_t  read_queues;
    int32_t  write_queues;
    int32_t  perm;
    int32_t  sysflag;
    uint32_t flags; /* RMQ_TOPIC_F_* */
    bool     remove;
} rmq_msg_topic_update;

typedef struct rmq_msg_topic_result {
    uint64_t seq;
    int32_t  status; /* 0 or an rmq_err */
    int32_t  topic_idx;
} rmq_msg_topic_result;

enum rmq_position_kind {
    RMQ_POS_WRITTEN = 1, /* clwriter: records below are complete */
    RMQ_POS_FLUSHED = 2, /* flusher: records below are on disk */
};

typedef struct rmq_msg_position {
    uint32_t kind;
    int64_t  offset;
} rmq_msg_position;

typedef struct rmq_msg_flush_req {
    int64_t offset; /* flush at least up to here */
} rmq_msg_flush_req;

#define RMQ_GREW_MAX 1024

typedef struct rmq_queue_grew {
    uint32_t topic_idx;
    int32_t  queue_id;
    int64_t  max_offset;
} rmq_queue_grew;

typedef struct rmq_msg_queue_grew {
    uint32_t       n;
    rmq_queue_grew q[RMQ_GREW_MAX];
} rmq_msg_queue_grew;

/*
 * Forwarded remoting requests.  The acceptor owns client connections; the
 * codes another actor serves (the rebalancer: heartbeats, consumer lists,
 * offsets, locks, subscription groups) travel as FWD_REQUEST with the
 * request's header fields and body, and come back as FWD_RESPONSE, which
 * the acceptor writes to the connection named by conn_id (if still open).
 * Bytes fields point into the received NNG message.
 */
#define RMQ_FWD_EXT_MAX 32

typedef struct rmq_fwd_ext {
    char      key[64];
    rmq_bytes value;
} rmq_fwd_ext;

typedef struct rmq_msg_fwd_request {
    uint64_t    req_id;
    uint64_t    conn_id;
    char        client_addr[64]; /* "ip:port" of the client */
    int32_t     code;
    int32_t     version;
    int32_t     language;
    uint32_t    flag; /* RMQ_RFLAG_ONEWAY: no response wanted */
    uint32_t    next;
    rmq_fwd_ext ext[RMQ_FWD_EXT_MAX];
    rmq_bytes   body;
} rmq_msg_fwd_request;

typedef struct rmq_msg_fwd_response {
    uint64_t    req_id;
    uint64_t    conn_id;
    int32_t     code;
    char        remark[256];
    uint32_t    next;
    rmq_fwd_ext ext[RMQ_FWD_EXT_MAX];
    rmq_bytes   body;
} rmq_msg_fwd_response;

/* Send a server-initiated one-way request (e.g. code 40) to connections. */
#define RMQ_NOTIFY_CONNS_MAX 1024

typedef struct rmq_msg_client_notify {
    int32_t     code;
    uint32_t    nconns;
    uint64_t    conns[RMQ_NOTIFY_CONNS_MAX];
    uint32_t    next;
    rmq_fwd_ext ext[RMQ_FWD_EXT_MAX];
} rmq_msg_client_notify;

typedef struct rmq_msg_conn_closed {
    uint32_t n;
    uint64_t conns[RMQ_NOTIFY_CONNS_MAX];
} rmq_msg_conn_closed;

/* Long polling: hold a pull until its queue grows past offset or deadline. */
typedef struct rmq_msg_lp_hold {
    uint64_t hold_id;
    uint32_t topic_idx;
    int32_t  queue_id;
    int64_t  offset;      /* wake when max offset > this */
    int64_t  deadline_ms; /* CLOCK_MONOTONIC */
} rmq_msg_lp_hold;

#define RMQ_LP_WAKE_MAX 4096

typedef struct rmq_msg_lp_wake {
    uint32_t n;
    uint64_t ids[RMQ_LP_WAKE_MAX];
} rmq_msg_lp_wake;

#define RMQ_MSG_DECLARE(fn, type)                                              \
    extern const rmq_mdesc rmq_mdesc_##fn;                                     \
    int                    rmq_msg_##fn##_encode(const type *m, rmq_buf *out); \
    int rmq_msg_##fn##_decode(const void *data, size_t len, type *m);

RMQ_MSG_DECLARE(ctl_request, rmq_msg_ctl_request)
RMQ_MSG_DECLARE(ctl_result, rmq_msg_ctl_result)
RMQ_MSG_DECLARE(ctl_actors, rmq_msg_ctl_actors)
RMQ_MSG_DECLARE(ctl_status, rmq_msg_ctl_status)
RMQ_MSG_DECLARE(put_batch, rmq_msg_put_batch)
RMQ_MSG_DECLARE(put_result, rmq_msg_put_result)
RMQ_MSG_DECLARE(topic_update, rmq_msg_topic_update)
RMQ_MSG_DECLARE(topic_result, rmq_msg_topic_result)
RMQ_MSG_DECLARE(position, rmq_msg_position)
RMQ_MSG_DECLARE(flush_req, rmq_msg_flush_req)
RMQ_MSG_DECLARE(queue_grew, rmq_msg_queue_grew)
RMQ_MSG_DECLARE(fwd_request, rmq_msg_fwd_request)
RMQ_MSG_DECLARE(fwd_response, rmq_msg_fwd_response)
RMQ_MSG_DECLARE(client_notify, rmq_msg_client_notify)
RMQ_MSG_DECLARE(conn_closed, rmq_msg_conn_closed)
RMQ_MSG_DECLARE(lp_hold, rmq_msg_lp_hold)
RMQ_MSG_DECLARE(lp_wake, rmq_msg_lp_wake)

/* Every top-level message layout, for tests and tools. */
extern const rmq_mdesc *const rmq_msg_catalog[];
extern const unsigned         rmq_msg_catalog_len;

#endif
