/*
 * broker.h - the acceptor's state and its request handlers.
 *
 * The acceptor actor (actors/acceptor.c) owns every client connection.
 * Its handlers live in broker/: send.c (SEND_MESSAGE, _V2, _BATCH through
 * the put ring to clwriter), pull.c (PULL_MESSAGE from the shared
 * mappings, long polling), query.c (offsets, timestamps, message by id,
 * runtime info), admin.c (topics), forward.c (codes the rebalancer serves)
 * and sendback.c (CONSUMER_SEND_MSG_BACK).  Everything runs on the
 * acceptor's one thread; nothing here is shared with other processes
 * except through the control segment (read) and NNG messages.
 */
#ifndef RMQ_BROKER_BROKER_H
#define RMQ_BROKER_BROKER_H

#include "broker/host.h"
#include "broker/put.h"
#include "broker/register.h"
#include "common/u64map.h"
#include "net/conn.h"
#include "net/ipc.h"
#include "net/loop.h"
#include "store/commitlog.h"
#include "store/cq.h"
#include "supervisor/actor.h"

#include <stdbool.h>
#include <stdint.h>

/* Counters in the acceptor's control-segment slot. */
enum {
    RMQ_ACC_C_CONNS,
    RMQ_ACC_C_REQUESTS,
    RMQ_ACC_C_PUTS,
    RMQ_ACC_C_PULLS,
    RMQ_ACC_C_MSGS_OUT,
    RMQ_ACC_C_HELD,
    RMQ_ACC_C_ERRORS,
};

/* Rolling counts for GET_BROKER_RUNTIME_INFO (TPS over 10 s, 1 min, 10 min). */
#define RMQ_STATS_SAMPLES 601

typedef struct rmq_stats {
    uint64_t put_msgs, put_bytes, get_msgs, get_bytes;
    uint64_t put_today_morning, get_today_morning; /* totals at midnight */
    uint64_t put_yesterday_morning, get_yesterday_morning;
    int64_t  day;                            /* local day number */
    uint64_t put_samples[RMQ_STATS_SAMPLES]; /* put_msgs, once a second */
    uint64_t get_samples[RMQ_STATS_SAMPLES];
    uint32_t sample_head, nsamples;
    int64_t  next_sample_ms;
    int64_t  boot_ms;
} rmq_stats;

/* A parsed PULL_MESSAGE request, kept as is while the pull is held. */
typedef struct rmq_pull_req {
    uint64_t conn_id;
    int32_t  opaque;
    char     group[RMQ_GROUP_NAME_MAX];
    char     topic[RMQ_TOPIC_NAME_MAX];
    int32_t  queue_id;
    int64_t  offset;
    int32_t  max_msgs;
    int32_t  sysflag;
    int64_t  commit_offset;
    int64_t  suspend_ms;
    char     expr[RMQ_SUB_EXPR_MAX];
    bool     has_expr;
    int64_t  sub_version;
    bool     expr_sql;
} rmq_pull_req;

struct rmq_broker;

/* A request waiting for clwriter to create its topic. */
typedef struct rmq_parked {
    struct rmq_parked *next;
    uint64_t           topic_seq; /* TOPIC_UPDATE it waits for */
    uint64_t           conn_id;
    int32_t            opaque;
    int32_t            code;  /* the request code */
    void              *state; /* handler-owned copy of the request */
    void (*resume)(struct rmq_broker *b, struct rmq_parked *p, int status);
} rmq_parked;

typedef struct rmq_broker {
    rmq_actor        *self;
    const rmq_config *cfg;
    rmq_ctl          *ctl;
    rmq_host          host;
    rmq_loop          loop;
    rmq_conns         conns;
    rmq_io            lio_main, lio_vip, wake_io, in_io, put_io;
    int               put_fd; /* the put channel put_io watches, or -1 */
    rmq_ipc           in;
    rmq_ipc           to_rebalancer;
    rmq_ipc           to_longpoll;
    rmq_ipc           to_clwriter;
    rmq_putc          putc;
    rmq_reg           reg;
    rmq_cl            cl;
    rmq_cq_cache      cqs;
    rmq_u64map        held; /* hold id -> rmq_pull_req (held pull) */
    uint64_t          hold_seq;
    rmq_parked       *parked; /* FIFO of requests waiting for topics */
    rmq_parked      **parked_tail;
    uint64_t          topic_seq;
    uint64_t          fwd_seq;
    int32_t           notify_opaque;
    uint64_t         *closed; /* connections closed, for the rebalancer */
    uint32_t          nclosed, closed_cap;
    rmq_stats         stats;
    rmq_buf           scratch;
    uint32_t          rr; /* round robin for queueId < 0 */
    bool              stopping;
} rmq_broker;

/* acceptor-wide helpers (broker/reply.c) */
void rmq_broker_reply(rmq_broker *b, rmq_conn *c, int32_t opaque, bool oneway,
                      int code, const char *remark);
void rmq_broker_replyf(rmq_broker *b, rmq_conn *c, const rmq_rcmd *cmd,
                       int code, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
void rmq_broker_reply_body(rmq_broker *b, rmq_conn *c, const rmq_rcmd *cmd,
                           const rmq_buf *body);
/* Look up a live topic; returns its index or -1. */
int rmq_broker_topic(rmq_broker *b, const char *name, rmq_topic_entry *t);
/* Ask clwriter to create/update/delete a topic; returns the request seq. */
uint64_t rmq_broker_topic_request(rmq_broker *b, const char *name, int32_t rq,
                                  int32_t wq, int32_t perm, uint32_t flags,
                                  bool remove);
/* Park a request until TOPIC_RESULT seq arrives (takes ownership). */
void rmq_broker_park(rmq_broker *b, rmq_parked *p);
void rmq_broker_on_topic_result(rmq_broker *b, const void *msg, size_t len);
/* Stats */
void rmq_stats_init(rmq_stats *s);
void rmq_stats_tick(rmq_stats *s, int64_t now_ms);
/* "x.xx y.yy z.zz": TPS over 10 s, 1 min and 10 min, Java's format. */
void rmq_stats_tps(const rmq_stats *s, bool put, char *out, size_t cap);

/* send.c */
void rmq_broker_send(rmq_broker *b, rmq_conn *c, const rmq_rcmd *cmd);
void rmq_broker_put_done(void *arg, uint64_t cookie, const rmq_put_res *res);
/*
 * Queue one encoded-to-be record (m) into topic index tidx and answer the
 * request (opaque on c) with the bare result code once it is stored.
 * Returns 0, or an error with nothing queued (the caller answers).
 */
struct rmq_rec_msg;
int rmq_broker_put_record(rmq_broker *b, rmq_conn *c, int32_t opaque,
                          const struct rmq_rec_msg *m, int tidx,
                          uint32_t flags);
/* sendback.c */
void rmq_broker_send_back(rmq_broker *b, rmq_conn *c, const rmq_rcmd *cmd);

/* pull.c */
void rmq_broker_pull(rmq_broker *b, rmq_conn *c, const rmq_rcmd *cmd);
void rmq_broker_on_lp_wake(rmq_broker *b, const void *msg, size_t len);
/* Re-run held pulls past their safety deadline (longpoll may be gone). */
void rmq_broker_held_sweep(rmq_broker *b, int64_t now_ms);

/* query.c */
void rmq_broker_get_offset(rmq_broker *b, rmq_conn *c, const rmq_rcmd *cmd);
void rmq_broker_search_offset(rmq_broker *b, rmq_conn *c, const rmq_rcmd *cmd);
void rmq_broker_earliest_time(rmq_broker *b, rmq_conn *c, const rmq_rcmd *cmd);
void rmq_broker_view_message(rmq_broker *b, rmq_conn *c, const rmq_rcmd *cmd);
void rmq_broker_runtime_info(rmq_broker *b, rmq_conn *c, const rmq_rcmd *cmd);
/* Queue offset of the first message stored at or after ts_ms. */
int64_t rmq_broker_offset_by_time(rmq_broker *b, const rmq_topic_entry *t,
                                  int32_t queue_id, int64_t ts_ms);

/* admin.c */
void rmq_broker_create_topic(rmq_broker *b, rmq_conn *c, const rmq_rcmd *cmd);
void rmq_broker_delete_topic(rmq_broker *b, rmq_conn *c, const rmq_rcmd *cmd);
void rmq_broker_all_topics(rmq_broker *b, rmq_conn *c, const rmq_rcmd *cmd);
void rmq_broker_topic_stats(rmq_broker *b, rmq_conn *c, const rmq_rcmd *cmd);

/* forward.c */
void rmq_broker_forward(rmq_broker *b, rmq_conn *c, const rmq_rcmd *cmd);
/* Forward a one-way UPDATE_CONSUMER_OFFSET (pull's commitOffset). */
void rmq_broker_forward_commit(rmq_broker *b, const rmq_conn *c,
                               const char *group, const char *topic,
                               int32_t queue_id, int64_t offset);
void rmq_broker_on_fwd_response(rmq_broker *b, const void *msg, size_t len);
void rmq_broker_on_notify(rmq_broker *b, const void *msg, size_t len);
void rmq_broker_conn_closed(rmq_broker *b, uint64_t conn_id);
void rmq_broker_flush_closed(rmq_broker *b);

#endif
