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
 *
 * Orderly consumers (orderly.c) keep a process queue's pulled messages
 * in a list of their own and hand them to the consume threads one at a
 * time, in offset order; in CLUSTERING a queue is pulled and consumed
 * only while its broker lock is held.  A queue rebalanced away while one
 * of its messages is with a consume thread (or being sent back) is
 * "dying": unlisted, but committed and unlocked only once that message
 * is settled, and not taken again meanwhile.
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
    bool               again;    /* another rebalance was asked meanwhile */
    bool               hb_asked; /* this round sent a heartbeat already */
} push_sub;

/*
 * Orderly state of a process queue (orderly.c):
 *   IDLE -> CONSUMING: the head message went to a consume thread;
 *   CONSUMING -> IDLE (consumed), SUSPENDED (the callback asked to wait:
 *     the message is the head again until the timer fires) or
 *     SENDING_BACK (it failed too often: to the DLQ);
 *   SENDING_BACK -> IDLE (sent) or SUSPENDED (the broker did not take it);
 *   SUSPENDED -> IDLE (timer).
 */
enum push_ord_state {
    PUSH_ORD_IDLE,
    PUSH_ORD_CONSUMING,
    PUSH_ORD_SENDING_BACK,
    PUSH_ORD_SUSPENDED,
};

typedef struct push_task push_task;

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
    /* orderly (orderly.c) */
    bool       locked;  /* may be consumed: lock held, or none needed */
    int64_t    lock_ms; /* monotonic: when the broker last granted it */
    int        ord_state;
    push_task *ord_head, *ord_tail; /* pulled, not consumed, in order */
    uint64_t   ord_timer;
    bool       rewanted; /* dying, and assigned to us again meanwhile */
};

/* A BROADCASTING offset kept in memory. */
typedef struct push_offset {
    char   *topic;
    char   *broker;
    int32_t qid;
    int64_t offset;
} push_offset;

/* A message on its way through a consume thread. */
struct push_task {
    push_pq           *pq;
    rmq_message_ext   *msg;
    rmq_consume_status status;
    bool               skipped;
    push_task         *prev, *next; /* waiting (to be consumed again) */
};

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
    push_pq     *dying; /* orderly: removed, a message still out */
    push_offset *local;
    size_t       nlocal, local_cap;
    push_task   *later; /* consume again after a delay */
    bool         stopping;
    size_t       boot_left;
    char       **hb_addrs; /* brokers a heartbeat went to */
    size_t       nhb;
    uint64_t     timers[5];
};

/* rebalance.c, I/O thread */
void rmq_push_rebalance_all(rmq_push_consumer *pc);
/* Rebalance one subscription (again once the one running is done). */
void rmq_push_rebalance_sub(push_sub *sub);
void rmq_push_commit_all(rmq_push_consumer *pc);
/* Commit pq's consumed offset if it changed (oneway, or in memory). */
void rmq_push_pq_commit(rmq_push_consumer *pc, push_pq *pq);
/* Find the start offset of pq, then pull. */
void rmq_push_pq_start(push_pq *pq);
/* Rebalanced away (or lock lost): stop, unlist, commit, unlock, drop. */
void rmq_push_pq_remove(rmq_push_consumer *pc, push_pq *pq);
/* The address of the master of pq's broker into buf, or NULL. */
const char *rmq_push_pq_master(const push_pq *pq, char *buf, size_t cap);
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
/* A task for msg holding a reference on pq, or NULL (msg freed). */
push_task *rmq_push_task_new(push_pq *pq, rmq_message_ext *msg);
void       rmq_push_task_free(push_task *t);
/* Hand t to a consume thread; push_consumed gets it back.  0 or an error
 * (t untouched). */
int rmq_push_submit(push_task *t);
/*
 * CONSUMER_SEND_MSG_BACK (36) of t's message to its queue's master with
 * delay_level (0: the broker decides; -1: the DLQ); fn(arg t) runs with
 * the outcome.  RMQ_CLIENT_ERR_NO_ROUTE when there is no master (fn does
 * not run).
 */
int rmq_push_send_back(push_task *t, int delay_level, rmq_cio_done_fn fn);
/* Heartbeat every broker of the cached routes; fn(arg) when all answered. */
void rmq_push_heartbeat(rmq_push_consumer *pc, rmq_core_fanout_fn fn,
                        void *arg);
/* Whether every broker of r already got a heartbeat from us. */
bool rmq_push_heartbeat_covers(rmq_push_consumer *pc, const rmq_route *r);

/* orderly.c, I/O thread */
/* Whether queues need broker locks (orderly CLUSTERING). */
bool rmq_ord_needs_lock(const rmq_push_consumer *pc);
/* A tracked message pulled for pq: queue it and consume when possible. */
void rmq_ord_take(push_pq *pq, rmq_message_ext *msg);
/* A consume thread is done with t (push_consumed for orderly). */
void rmq_ord_consumed(push_task *t);
/*
 * pq was just unlisted: drop its queued messages.  Returns true when one
 * of them is still out (pq is now dying and finishes later), false when
 * the caller finishes the removal at once.
 */
bool rmq_ord_leave(push_pq *pq);
/* Drop pq's queued messages and timer (shutdown, free). */
void rmq_ord_drop(push_pq *pq);
/* The dying process queue of this queue, or NULL. */
push_pq *rmq_ord_dying_find(rmq_push_consumer *pc, const push_sub *sub,
                            const char *broker, int32_t qid);
/* Lock the queues not locked yet (all: renew every lock too). */
void rmq_ord_lock(rmq_push_consumer *pc, bool all);
/* UNLOCK_BATCH_MQ for pq alone, if this client holds its lock. */
void rmq_ord_unlock_one(push_pq *pq);
/* Release every lock held (shutdown); fn(arg) once all answered. */
void rmq_ord_unlock_all(rmq_push_consumer *pc, void (*fn)(void *arg),
                        void              *arg);
/* The lock timers (after the first rebalance). */
void rmq_ord_start(rmq_push_consumer *pc);

#endif
