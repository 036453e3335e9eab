/*
 * put.c - sending side of the put path (put.h).  Runs in the acceptor,
 * the scheduler and tests; reads the control segment to learn which
 * clwriter is running.
 */
#include "broker/put.h"

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "net/chan.h"
#include "supervisor/actor.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PUTC_INFLIGHT_MAX 4096

int32_t
rmq_putc_writer_pid(const rmq_ctl *ctl)
{
    return rmq_ctl_actor_ready(ctl, RMQ_ACTOR_CLWRITER);
}

int
rmq_putc_open(rmq_putc *p, const rmq_ctl *ctl, const char *run_dir, int owner,
              size_t ring_bytes, int64_t timeout_ms)
{
    char path[RMQ_CONFIG_PATH_MAX + 64];
    int  rc;

    memset(p, 0, sizeof(*p));
    p->fd = -1;
    rmq_strlcpy(p->run_dir, run_dir, sizeof(p->run_dir));
    rmq_buf_init(&p->in);
    p->ctl = ctl;
    p->owner = owner;
    p->timeout_ms = timeout_ms;
    p->max_inflight = 1;
    /* seqs carry our pid: a result meant for a previous owner of this
     * ring (queued for a dead process) can never match one of ours */
    p->next_seq = ((uint64_t)getpid() << 32) | 1;
    rmq_buf_init(&p->enc);
    rmq_ring_path(run_dir, rmq_actor_table[owner].name, path, sizeof(path));
    rc = rmq_ring_create(path, ring_bytes, &p->ring);
    if (rc != 0) {
        return rc;
    }
    p->pending = calloc(1, sizeof(*p->pending));
    p->pending_cookies = calloc(RMQ_PUT_BATCH_MAX, sizeof(uint64_t));
    p->inflight_cap = PUTC_INFLIGHT_MAX;
    p->inflight = calloc(p->inflight_cap, sizeof(*p->inflight));
    if (p->pending == NULL || p->pending_cookies == NULL ||
        p->inflight == NULL) {
        rmq_putc_close(p);
        return RMQ_ERR_NOMEM;
    }
    return 0;
}

void
rmq_putc_close(rmq_putc *p)
{
    if (p->inflight != NULL) {
        for (uint32_t i = 0; i < p->inflight_cap; i++) {
            free(p->inflight[i].cookies);
        }
    }
    free(p->inflight);
    free(p->pending);
    free(p->pending_cookies);
    if (p->fd >= 0) {
        close(p->fd);
    }
    rmq_ring_close(&p->ring);
    rmq_buf_free(&p->enc);
    rmq_buf_free(&p->in);
    memset(p, 0, sizeof(*p));
    p->fd = -1;
}

int
rmq_putc_fd(const rmq_putc *p)
{
    return p->fd;
}

/* A channel to the clwriter now running (connect again after a restart). */
static int
putc_channel(rmq_putc *p, int32_t writer)
{
    if (p->fd >= 0 && p->fd_writer == writer) {
        return 0;
    }
    if (p->fd >= 0) {
        close(p->fd);
        p->fd = -1;
    }
    if (rmq_chan_connect(p->run_dir, "clwriter", "put", &p->fd) != 0) {
        p->fd = -1;
        return RMQ_ERR_AGAIN;
    }
    p->fd_writer = writer;
    return 0;
}

uint8_t *
rmq_putc_reserve(rmq_putc *p, uint32_t len, int *err)
{
    size_t off, cost;
    int    rc = rmq_ring_reserve(&p->ring, len, &off, &cost);

    if (rc != 0) {
        *err = rc;
        return NULL;
    }
    p->reserved_off = off;
    p->reserved_len = len;
    p->reserved_cost = cost;
    return p->ring.base + off;
}

void
rmq_putc_unreserve(rmq_putc *p)
{
    /* only the newest reservation can be undone: roll the tail back */
    p->ring.tail = p->reserved_off;
    p->ring.used -= p->reserved_cost;
    if (p->ring.used == 0) {
        p->ring.tail = 0;
    }
    p->reserved_cost = 0;
    p->reserved_len = 0;
}

int
rmq_putc_add(rmq_putc *p, uint32_t topic_idx, int32_t queue_id, uint32_t flags,
             uint64_t cookie)
{
    rmq_put_desc *d;

    if (p->pending->n == RMQ_PUT_BATCH_MAX && rmq_putc_flush(p) != 0) {
        return RMQ_ERR_AGAIN;
    }
    d = &p->pending->d[p->pending->n];
    d->ring_off = p->reserved_off;
    d->len = p->reserved_len;
    d->topic_idx = topic_idx;
    d->queue_id = queue_id;
    d->flags = flags;
    p->pending_cookies[p->pending->n++] = cookie;
    p->pending_cost += p->reserved_cost;
    p->reserved_cost = 0;
    return 0;
}

bool
rmq_putc_has_pending(const rmq_putc *p)
{
    return p->pending->n > 0;
}

uint32_t
rmq_putc_inflight(const rmq_putc *p)
{
    return p->inflight_n;
}

int
rmq_putc_flush(rmq_putc *p)
{
    struct rmq_putc_batch *b;
    int32_t                writer = rmq_putc_writer_pid(p->ctl);
    uint32_t               slot;
    int                    rc;

    if (p->pending->n == 0) {
        return 0;
    }
    if (writer == 0 || p->inflight_n == p->inflight_cap) {
        return RMQ_ERR_AGAIN;
    }
    if (p->inflight_n >= p->max_inflight &&
        p->pending->n < RMQ_PUT_BATCH_MAX / 2) {
        return RMQ_ERR_AGAIN; /* let it grow until an answer comes back */
    }
    p->pending->owner = (uint32_t)p->owner;
    p->pending->writer_pid = writer;
    p->pending->seq = p->next_seq;
    p->pending->ring_size = p->ring.size;
    if (putc_channel(p, writer) != 0) {
        return RMQ_ERR_AGAIN;
    }
    rmq_buf_reset(&p->enc);
    rc = rmq_msg_put_batch_encode(p->pending, &p->enc);
    if (rc == 0) {
        rc = p->enc.oom ? RMQ_ERR_NOMEM
                        : rmq_chan_send(p->fd, p->enc.data, p->enc.len);
    }
    if (rc == RMQ_ERR_CLOSED) {
        close(p->fd); /* that clwriter is gone: the next flush reconnects */
        p->fd = -1;
        return RMQ_ERR_AGAIN;
    }
    if (rc != 0) {
        return rc == RMQ_ERR_AGAIN ? rc : RMQ_ERR_SYS;
    }
    slot = (p->inflight_head + p->inflight_n) % p->inflight_cap;
    b = &p->inflight[slot];
    free(b->cookies);
    b->cookies = malloc(p->pending->n * sizeof(uint64_t));
    if (b->cookies != NULL) {
        memcpy(b->cookies, p->pending_cookies,
               p->pending->n * sizeof(uint64_t));
    }
    b->seq = p->next_seq++;
    b->n = p->pending->n;
    b->cost = p->pending_cost;
    b->writer_pid = writer;
    b->sent_ms = rmq_mono_ms();
    p->inflight_n++;
    p->pending->n = 0;
    p->pending_cost = 0;
    return 0;
}

/* Complete the oldest in-flight batch with per-record results. */
static void
putc_complete(rmq_putc *p, const rmq_put_res *res, int32_t fail_status,
              rmq_put_done_fn done, void *arg)
{
    struct rmq_putc_batch *b = &p->inflight[p->inflight_head];

    for (uint32_t i = 0; i < b->n; i++) {
        rmq_put_res r = {
            .status = fail_status, .phys_offset = -1, .queue_offset = -1};
        done(arg, b->cookies ? b->cookies[i] : 0, res ? &res[i] : &r);
    }
    rmq_ring_release(&p->ring, b->cost);
    free(b->cookies);
    b->cookies = NULL;
    p->inflight_head = (p->inflight_head + 1) % p->inflight_cap;
    p->inflight_n--;
}

static bool
putc_is_inflight(const rmq_putc *p, uint64_t seq)
{
    for (uint32_t i = 0; i < p->inflight_n; i++) {
        if (p->inflight[(p->inflight_head + i) % p->inflight_cap].seq == seq) {
            return true;
        }
    }
    return false;
}

int
rmq_putc_on_result(rmq_putc *p, const void *msg, size_t len,
                   rmq_put_done_fn done, void *arg)
{
    static rmq_msg_put_result r; /* large; one per process, one thread */
    int                       rc = rmq_msg_put_result_decode(msg, len, &r);

    if (rc != 0) {
        rmq_log(RMQ_LOG_WARN, "put.result", "malformed put result");
        return rc;
    }
    if (!putc_is_inflight(p, r.seq)) {
        return 0; /* a stale answer: for a batch we gave up on, or not ours */
    }
    /* results arrive in order: batches before this one were lost */
    while (p->inflight_n > 0) {
        struct rmq_putc_batch *b = &p->inflight[p->inflight_head];
        if (b->seq == r.seq) {
            putc_complete(p, r.n == b->n ? r.r : NULL, RMQ_PUT_BAD_RECORD, done,
                          arg);
            return 0;
        }
        putc_complete(p, NULL, RMQ_PUT_WRONG_WRITER, done, arg);
    }
    return 0;
}

void
rmq_putc_poll(rmq_putc *p, rmq_put_done_fn done, void *arg)
{
    int rc;

    while (p->fd >= 0 && (rc = rmq_chan_recv(p->fd, &p->in)) != RMQ_ERR_AGAIN) {
        if (rc == 0) {
            rmq_putc_on_result(p, p->in.data, p->in.len, done, arg);
            continue;
        }
        if (rc == RMQ_ERR_TOOBIG) {
            continue; /* dropped; the batch it answered fails below */
        }
        /* closed: nothing sent on this channel will be answered or read */
        close(p->fd);
        p->fd = -1;
        while (p->inflight_n > 0) {
            putc_complete(p, NULL, RMQ_PUT_WRONG_WRITER, done, arg);
        }
    }
}

void
rmq_putc_check(rmq_putc *p, rmq_put_done_fn done, void *arg)
{
    /*
     * The supervisor changes the slot's pid only after reaping the old
     * process, so a different pid proves the batch's clwriter is dead and
     * will never read its ring space again.  A slow but live clwriter is
     * never given up on (it may still read the ring); a hung one is killed
     * by the supervisor's heartbeat check, which lands here.  Batches are
     * FIFO and a writer's pid never comes back, so the batches of dead
     * writers are all at the head: stop at the first one the current
     * writer has, even behind failed ones (it will answer it, and may be
     * copying its records out of the ring right now).
     */
    int32_t writer = atomic_load(&p->ctl->slots[RMQ_ACTOR_CLWRITER].sup.s.pid);
    int64_t now = rmq_mono_ms();
    bool    failed = false;

    while (p->inflight_n > 0) {
        struct rmq_putc_batch *b = &p->inflight[p->inflight_head];
        bool                   gone = b->writer_pid != writer;
        if (!gone) {
            if (now - b->sent_ms > p->timeout_ms) {
                rmq_log(RMQ_LOG_WARN, "put.slow",
                        "clwriter has not answered put batch %llu for %lld ms",
                        (unsigned long long)b->seq,
                        (long long)(now - b->sent_ms));
                b->sent_ms = now;
            }
            break;
        }
        if (!failed) {
            rmq_log(RMQ_LOG_WARN, "put.lost",
                    "failing the put batches of clwriter %d: it is gone",
                    (int)b->writer_pid);
        }
        failed = true;
        putc_complete(p, NULL, RMQ_PUT_WRONG_WRITER, done, arg);
    }
}
