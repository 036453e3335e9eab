/*
 * put.h - the sending side of the put path (DESIGN.md section 2 "put
 * rings"), used by the acceptor, the scheduler and tests.
 *
 * The caller reserves room in its put ring, encodes a whole commit-log
 * record there, and adds a descriptor to the pending batch.  flush() sends
 * everything pending as ONE message (PUT_BATCH, msgpack) to clwriter over
 * a channel (net/chan.h, <runDir>/clwriter.put).  Results come back on the
 * same channel, in order: the caller watches rmq_putc_fd() in its loop and
 * calls rmq_putc_poll(); each result carries the caller's cookie and frees
 * its ring space.
 *
 * If clwriter restarts, batches sent to the old process never get an
 * answer: rmq_putc_check notices (clwriter pid changed, or no answer within
 * the deadline) and fails every outstanding put, so the caller can tell
 * its clients the put failed (nothing acknowledged is ever lost: only
 * clwriter-confirmed puts are acknowledged).
 */
#ifndef RMQ_BROKER_PUT_H
#define RMQ_BROKER_PUT_H

#include "common/config.h"
#include "proto/catalog.h"
#include "shm/control.h"
#include "shm/ring.h"

#include <stdbool.h>
#include <stdint.h>

typedef void (*rmq_put_done_fn)(void *arg, uint64_t cookie,
                                const rmq_put_res *res);

struct rmq_putc_batch {
    uint64_t  seq;
    uint32_t  n;
    size_t    cost; /* ring bytes to release */
    int32_t   writer_pid;
    int64_t   sent_ms; /* monotonic */
    uint64_t *cookies; /* n entries */
};

typedef struct rmq_putc {
    const rmq_ctl         *ctl;
    int                    owner; /* actor id */
    rmq_ring               ring;
    char                   run_dir[RMQ_CONFIG_PATH_MAX];
    int                    fd;        /* channel to clwriter, -1 if none */
    int32_t                fd_writer; /* the clwriter it is connected to */
    rmq_buf                in;        /* received result */
    rmq_msg_put_batch     *pending;
    uint64_t              *pending_cookies;
    size_t                 pending_cost;
    size_t                 reserved_cost; /* of the last reserve, not added */
    size_t                 reserved_off;
    uint32_t               reserved_len;
    uint64_t               next_seq;
    struct rmq_putc_batch *inflight; /* FIFO ring of batches */
    uint32_t               inflight_cap, inflight_head, inflight_n;
    int64_t                timeout_ms;
    uint32_t               max_inflight; /* batches clwriter works on at once */
    rmq_buf                enc;
} rmq_putc;

/*
 * Create the ring <runDir>/ring.<owner name> and the socket to clwriter.
 * timeout_ms: how long a batch may wait for its result before everything
 * outstanding is failed (must exceed syncFlushTimeout).
 */
int  rmq_putc_open(rmq_putc *p, const rmq_ctl *ctl, const char *run_dir,
                   int owner, size_t ring_bytes, int64_t timeout_ms);
void rmq_putc_close(rmq_putc *p);

/*
 * Reserve len bytes for one record; returns a pointer to encode into, or
 * NULL when the ring has no room now (RMQ_ERR_FULL in *err) or the record
 * can never fit (RMQ_ERR_TOOBIG).  Must be followed by rmq_putc_add.
 */
uint8_t *rmq_putc_reserve(rmq_putc *p, uint32_t len, int *err);
/* Queue the record just reserved; flushes first if the batch is full. */
int rmq_putc_add(rmq_putc *p, uint32_t topic_idx, int32_t queue_id,
                 uint32_t flags, uint64_t cookie);
/* Give back the last reservation without sending it. */
void rmq_putc_unreserve(rmq_putc *p);
/*
 * Send the pending batch.  Returns 0, RMQ_ERR_AGAIN when no clwriter is
 * ready or its queue is full (the batch stays pending; call again).
 *
 * While max_inflight batches are unanswered the pending one keeps growing
 * instead (unless it is half full): under load clwriter then gets one big
 * batch per round trip rather than many small ones, each of which costs
 * thread wake-ups in NNG and in clwriter; an idle sender still sends at
 * once.  This is group commit at the first hop.
 */
int      rmq_putc_flush(rmq_putc *p);
bool     rmq_putc_has_pending(const rmq_putc *p);
uint32_t rmq_putc_inflight(const rmq_putc *p);

/* The channel to watch for results (readable), or -1 (not connected). */
int rmq_putc_fd(const rmq_putc *p);
/*
 * Read every result that arrived and call done(cookie, res) per record.
 * Never blocks.  A channel that closed (clwriter gone) fails what was in
 * flight on it: clwriter never reads those records after closing it.
 */
void rmq_putc_poll(rmq_putc *p, rmq_put_done_fn done, void *arg);
/* Deliver one PUT_RESULT message; calls done(cookie, res) per record. */
int rmq_putc_on_result(rmq_putc *p, const void *msg, size_t len,
                       rmq_put_done_fn done, void *arg);
/*
 * Fail outstanding batches addressed to a clwriter that is gone, or that
 * waited past the timeout.  Call from the caller's timer (e.g. every
 * 100 ms).
 */
void rmq_putc_check(rmq_putc *p, rmq_put_done_fn done, void *arg);

/* The pid of the READY clwriter, or 0. */
int32_t rmq_putc_writer_pid(const rmq_ctl *ctl);

#endif
