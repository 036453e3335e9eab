/*
 * push.h - internals of the push consumer, shared by push.c (public API,
 * life cycle, heartbeats, consume threads, sending failed messages back)
 * and rebalance.c (queue allocation, process queues, pull loops,
 * offsets).
 *
 * A process queue (push_pq) is one message queue assigned to this
 * instance.  Its fields belong to the I/O thread except refs and dropped,
 * which consume threads read: refs counts the list, a pending pull or
 * timer, and every message handed to a consume thread.  The in-flight
 * set holds the queue offsets pulled but not yet consumed, in order; the
 * offset committed is the smallest of them (or the next pull offset when
 * none), so a crash never skips a message that was not consumed.
 */
#ifndef RMQ_CLIENT_PUSH_H
#define RMQ_CLIENT_PUSH_H

#include "client/core.h"
#include "client/pool.h"
#include "client/tagexpr.h"

#include <stdatomic.h>

typedef struct rmq_push_consumer rmq_push_consumer;

typedef struct push_sub {
    rmq_push_consumer *pc;
    char              *topic;
    rmq_tagexpr        expr;
    int64_t            version;  /* subVersion */
    bool               is_retry; /* %RETRY%<group> */
    bool               rebalancing;
    bool               again; /* another rebalance was asked meanwhile */
} push_sub;

typedef struct push_pq push_pq;
struct push_pq {
    atomic_int         refs;
    atomic_bool        dropped; /* stop pulling; skip queued messages */
    rmq_push_consumer *pc;
    push_sub          *sub;
    char               broker[RMQ_BROKER_NAME_MAX];
    int32_t            qid;
    bool               removed; /* rebalanced away: results do not count */
    bool               ready;   /* start offset known */
    bool               pulling; /* a pull or a delayed pull is pending */
    int64_t            next_offset;
    int64_t            committed; /* last offset committed / stored */
    int64_t           *offs;      /* in-flight offsets, ascending */
    uint8_t           *done;
    size_t             head, len, cap;
    size_t             cached; /* in flight, not done */
    uint64_t           timer;
    int64_t            flow_logged_ms;
    push_pq           *next;
};

/* A BROADCASTING offset kept in memory. */
typedef struct push_offset {
    char   *topic;
    char   *broker;
    int32_t qid;
    int64_t offset;
} push_offset;

/* A message on its way through a consume thread. */
typedef struct push_task {
    push_pq           *pq;
    rmq_message_ext   *msg;
    rmq_consume_status status;
    bool               skipped;
    struct push_task  *prev, *next; /* waiting to be consumed again */
} push_task;

struct rmq_push_consumer {
    rmq_core               core;
    rmq_push_consumer_opts opts; /* strings point into core or subs */
    rmq_pool              *pool;
    pthread_mutex_t        mu; /* guards state and subs before start */
    int                    state;
    push_sub              *subs; /* fixed once started */
    size_t                 nsubs;
    char                   retry_topic[RMQ_TOPIC_MAX];
    /* I/O thread */
    push_pq     *pqs;
    push_offset *local;
    size_t       nlocal, local_cap;
    push_task   *later; /* consume again after a delay */
    bool         stopping;
    size_t       boot_left;
    char       **hb_addrs; /* brokers a heartbeat went to */
    size_t       nhb;
    uint64_t     timers[3];
};

/* rebalance.c, I/O thread */
void rmq_push_rebalance_all(rmq_push_consumer *pc);
void rmq_push_commit_all(rmq_push_consumer *pc);
/* Stop pulling every queue (shutdown); they stay listed for the commit. */
void rmq_push_drop_all(rmq_push_consumer *pc);
/* Forget every queue (after the threads stopped). */
void rmq_push_free_all(rmq_push_consumer *pc);
/*
 * Add offset to the in-flight set, kept sorted (offsets normally come in
 * order; a broker moving an illegal offset back may break that).  Returns
 * 0, RMQ_CLIENT_ERR_INVALID when it is already in flight, or _NOMEM.
 */
int rmq_push_pq_track(push_pq *pq, int64_t offset);
/* A message at offset was consumed (or settled otherwise). */
void rmq_push_pq_settle(push_pq *pq, int64_t offset);
/* The offset to commit: the smallest still in flight, else the next pull
 * offset (-1 before the start offset is known). */
int64_t rmq_push_pq_consumed(const push_pq *pq);
/* Any thread. */
void rmq_push_pq_release(push_pq *pq);

/* push.c, I/O thread: hand a pulled message to the consume threads. */
void rmq_push_dispatch(push_pq *pq, rmq_message_ext *msg);
/* Heartbeat every broker of the cached routes; fn(arg) when all answered. */
void rmq_push_heartbeat(rmq_push_consumer *pc, rmq_core_fanout_fn fn,
                        void *arg);
/* Whether every broker of r already got a heartbeat from us. */
bool rmq_push_heartbeat_covers(rmq_push_consumer *pc, const rmq_route *r);

#endif
