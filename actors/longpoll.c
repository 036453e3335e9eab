/*
 * longpoll.c - the long-polling hold service (spec store 12).
 *
 * The acceptor keeps each suspended PULL_MESSAGE (it owns the client's
 * connection) and sends us only LP_HOLD {id, queue, offset, deadline}.
 * We wake a hold (LP_WAKE back to acceptor.in, which re-runs the pull) as
 * soon as the dispatcher reports (QUEUE_GREW on dispatcher.pub) that its
 * queue's max offset passed the held offset, when a periodic check of the
 * queue window in the control segment shows it (events may be dropped),
 * or when its deadline passes.
 *
 * State is memory only.  If we crash, the acceptor's own safety deadline
 * re-runs the held pulls, so nothing hangs; the supervisor restarts us.
 * Reads the control segment's queue windows; writes nothing shared.
 */
#include "actors/actors.h"

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "net/ipc.h"
#include "proto/catalog.h"

#include <stdlib.h>
#include <string.h>

#define LP_CHECK_INTERVAL_MS 100 /* deadline precision and missed-event check  \
                                  */
#define LP_BUCKETS 4096          /* power of two */

enum { LP_C_HOLDS, LP_C_WAKES, LP_C_TIMEOUTS, LP_C_HELD };

struct lp_hold {
    uint64_t id;
    int64_t  offset;
    int64_t  deadline_ms;
};

/* The holds of one queue. */
struct lp_queue {
    uint32_t         topic_idx;
    int32_t          queue_id;
    struct lp_hold  *h;
    uint32_t         n, cap;
    struct lp_queue *next; /* hash chain */
};

struct lp {
    rmq_actor         *self;
    rmq_ipc            in;   /* LP_HOLD */
    rmq_ipc            grew; /* dispatcher.pub */
    rmq_ipc            to_acceptor;
    struct lp_queue   *buckets[LP_BUCKETS];
    uint64_t           held;
    rmq_msg_lp_wake    wake; /* pending wakes, sent per iteration */
    rmq_msg_queue_grew grew_msg;
    rmq_buf            enc;
    int64_t            next_check_ms;
};

static uint32_t
lp_hash(uint32_t topic_idx, int32_t queue_id)
{
    uint64_t k = ((uint64_t)topic_idx << 32) | (uint32_t)queue_id;

    k *= UINT64_C(0x9E3779B97F4A7C15);
    return (uint32_t)(k >> 40) & (LP_BUCKETS - 1);
}

static struct lp_queue *
lp_queue_get(struct lp *lp, uint32_t topic_idx, int32_t queue_id, bool create)
{
    uint32_t         b = lp_hash(topic_idx, queue_id);
    struct lp_queue *q;

    for (q = lp->buckets[b]; q != NULL; q = q->next) {
        if (q->topic_idx == topic_idx && q->queue_id == queue_id) {
            return q;
        }
    }
    if (!create || (q = calloc(1, sizeof(*q))) == NULL) {
        return NULL;
    }
    q->topic_idx = topic_idx;
    q->queue_id = queue_id;
    q->next = lp->buckets[b];
    lp->buckets[b] = q;
    return q;
}

static void
lp_flush_wakes(struct lp *lp)
{
    if (lp->wake.n == 0) {
        return;
    }
    rmq_buf_reset(&lp->enc);
    rmq_msg_lp_wake_encode(&lp->wake, &lp->enc);
    if (rmq_ipc_send(&lp->to_acceptor, &lp->enc) != 0) {
        /* the acceptor is gone or busy: its own deadlines cover these */
        rmq_log(RMQ_LOG_DEBUG, "lp.wake", "could not send %u wakes",
                lp->wake.n);
    }
    rmq_actor_count(lp->self, LP_C_WAKES, lp->wake.n);
    lp->wake.n = 0;
}

static void
lp_wake(struct lp *lp, uint64_t id)
{
    if (lp->wake.n == RMQ_LP_WAKE_MAX) {
        lp_flush_wakes(lp);
    }
    lp->wake.ids[lp->wake.n++] = id;
}

/* Wake every hold of q that max_offset passed, or whose deadline passed. */
static void
lp_scan_queue(struct lp *lp, struct lp_queue *q, int64_t max_offset,
              int64_t now_ms)
{
    for (uint32_t i = 0; i < q->n;) {
        struct lp_hold *h = &q->h[i];
        bool            grew = max_offset > h->offset;
        bool            late = now_ms >= h->deadline_ms;
        if (grew || late) {
            lp_wake(lp, h->id);
            atomic_store_explicit(&lp->self->ctl.pos->lp_held,
                                  (int64_t)lp->held - 1, memory_order_relaxed);
            if (!grew) {
                rmq_actor_count(lp->self, LP_C_TIMEOUTS, 1);
            }
            q->h[i] = q->h[--q->n];
            lp->held--;
            continue;
        }
        i++;
    }
}

static int64_t
lp_queue_max(struct lp *lp, uint32_t topic_idx, int32_t queue_id)
{
    rmq_topic_entry t;

    if (!rmq_ctl_topic_read(&lp->self->ctl, (int)topic_idx, &t) ||
        queue_id < 0 || (uint32_t)queue_id >= t.queue_cap ||
        t.queue_base + (uint32_t)queue_id >= RMQ_QUEUE_MAX) {
        return -1;
    }
    return atomic_load_explicit(
        &lp->self->ctl.qd[t.queue_base + (uint32_t)queue_id].max_offset,
        memory_order_acquire);
}

static void
lp_on_hold(struct lp *lp, const void *data, size_t len)
{
    rmq_msg_lp_hold  m;
    struct lp_queue *q;

    if (rmq_msg_lp_hold_decode(data, len, &m) != 0) {
        rmq_log(RMQ_LOG_WARN, "lp.hold", "malformed hold request");
        return;
    }
    rmq_actor_count(lp->self, LP_C_HOLDS, 1);
    /* the message may have arrived between the pull and this hold */
    if (lp_queue_max(lp, m.topic_idx, m.queue_id) > m.offset) {
        lp_wake(lp, m.hold_id);
        return;
    }
    q = lp_queue_get(lp, m.topic_idx, m.queue_id, true);
    if (q == NULL) {
        lp_wake(lp, m.hold_id);
        return;
    }
    if (q->n == q->cap) {
        uint32_t        cap = q->cap ? q->cap * 2 : 4;
        struct lp_hold *p = realloc(q->h, cap * sizeof(*p));
        if (p == NULL) {
            lp_wake(lp, m.hold_id);
            return;
        }
        q->h = p;
        q->cap = cap;
    }
    q->h[q->n++] = (struct lp_hold){m.hold_id, m.offset, m.deadline_ms};
    lp->held++;
    atomic_store_explicit(&lp->self->ctl.pos->lp_held, (int64_t)lp->held,
                          memory_order_relaxed);
}

static void
lp_on_grew(struct lp *lp, const void *data, size_t len)
{
    int64_t now = rmq_mono_ms();

    if (lp->held == 0) {
        return; /* nothing held: the event concerns nobody */
    }
    if (rmq_msg_queue_grew_decode(data, len, &lp->grew_msg) != 0) {
        rmq_log(RMQ_LOG_WARN, "lp.grew", "malformed queue event");
        return;
    }
    for (uint32_t i = 0; i < lp->grew_msg.n; i++) {
        const rmq_queue_grew *g = &lp->grew_msg.q[i];
        struct lp_queue *q = lp_queue_get(lp, g->topic_idx, g->queue_id, false);
        if (q != NULL && q->n > 0) {
            lp_scan_queue(lp, q, g->max_offset, now);
        }
    }
}

/* Periodic: deadlines, and growth whose event we may have missed. */
static void
lp_check_all(struct lp *lp, int64_t now)
{
    for (uint32_t b = 0; b < LP_BUCKETS; b++) {
        for (struct lp_queue *q = lp->buckets[b]; q != NULL; q = q->next) {
            if (q->n > 0) {
                lp_scan_queue(lp, q,
                              lp_queue_max(lp, q->topic_idx, q->queue_id), now);
            }
        }
    }
}

static void
lp_drain(struct lp *lp, rmq_ipc *s,
         void (*fn)(struct lp *, const void *, size_t))
{
    nng_msg *m;

    for (int i = 0; i < 256 && rmq_ipc_recv(s, &m) == 0; i++) {
        fn(lp, nng_msg_body(m), nng_msg_len(m));
        nng_msg_free(m);
    }
}

static int
lp_init(rmq_actor *self, struct lp *lp)
{
    memset(lp, 0, sizeof(*lp));
    lp->self = self;
    rmq_buf_init(&lp->enc);
    if (rmq_ipc_open(&lp->in, RMQ_IPC_PULL, self->run_dir, "longpoll", "in") ||
        rmq_ipc_open(&lp->grew, RMQ_IPC_SUB, self->run_dir, "dispatcher",
                     "pub") ||
        rmq_ipc_open(&lp->to_acceptor, RMQ_IPC_PUSH, self->run_dir, "acceptor",
                     "in")) {
        return RMQ_ERR_SYS;
    }
    return 0;
}

void
rmq_longpoll_main(rmq_actor *self)
{
    static struct lp lp;

    if (lp_init(self, &lp) != 0) {
        rmq_actor_exit(self, RMQ_EXIT_TRANSIENT);
    }
    rmq_actor_ready(self);
    while (!self->stop_requested) {
        struct pollfd pf[2] = {{.fd = lp.in.recv_fd, .events = POLLIN},
                               {.fd = lp.grew.recv_fd, .events = POLLIN}};
        int64_t       now = rmq_mono_ms();

        rmq_actor_clear_wakeup(self);
        if (self->reload_requested) {
            rmq_actor_reload(self);
        }
        lp_drain(&lp, &lp.in, lp_on_hold);
        lp_drain(&lp, &lp.grew, lp_on_grew);
        if (now >= lp.next_check_ms) {
            lp_check_all(&lp, now);
            lp.next_check_ms = now + LP_CHECK_INTERVAL_MS;
        }
        lp_flush_wakes(&lp);
        rmq_actor_gauge(self, LP_C_HELD, lp.held);
        /* the dispatcher announces growth only while something is held */
        atomic_store_explicit(&self->ctl.pos->lp_held, (int64_t)lp.held,
                              memory_order_relaxed);
        rmq_actor_wait(self, lp.held > 0 ? lp.next_check_ms : now + 1000, pf,
                       2);
    }
    rmq_actor_exit(self, RMQ_EXIT_OK);
}
