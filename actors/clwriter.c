/*
 * clwriter.c - the commit-log writer actor: the ONLY writer of the commit
 * log and of the topic table.
 *
 * Start: takes the store lock.  On a full start (the store is not open in
 * this control-segment generation) it runs recovery (store/recovery.h:
 * normal, or abnormal when the abort file says the last run crashed),
 * loads topics.json and the default topics, publishes the recovered
 * positions and consume-queue windows, and creates the abort file.  When
 * only clwriter restarted (the supervisor kept the segment), it resumes
 * from the published written position instead: bytes a crashed append may
 * have left past it (up to cl_hwm) are zeroed, and next queue offsets are
 * recomputed from the dispatched queue windows plus the records not yet
 * dispatched, so nothing is lost or assigned twice.
 *
 * Serve: PUT_BATCH messages arrive on channels (net/chan.h) accepted at
 * <runDir>/clwriter.put, one per sending actor; they name records
 * already encoded in the sender's put ring; each is copied once into the
 * commit log with its queue offset, physical offset and store timestamp,
 * then the written position is published (release store) and the results
 * go back on the same channel as one PUT_RESULT.  TOPIC_UPDATE arrives on
 * ipc://<runDir>/clwriter.in (NNG) and is answered on <sender>.in.  ASYNC_FLUSH
 * answers at once; SYNC_FLUSH asks the flusher and answers once cl_flushed
 * covers the batch, or FLUSH_TIMEOUT after syncFlushTimeout.  TOPIC_UPDATE
 * creates, changes or deletes a topic and saves topics.json.
 *
 * Stop: answers what it has, removes the abort file when everything
 * written was flushed and dispatched (else the next start recovers
 * abnormally, which is safe), releases the lock.
 */
#include "actors/actors.h"

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "net/chan.h"
#include "net/ipc.h"
#include "proto/catalog.h"
#include "shm/ring.h"
#include "store/commitlog.h"
#include "store/recovery.h"
#include "store/topics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CLW_DRAIN_MAX 64 /* messages per pass before answering */
#define CLW_PEERS_MAX 8  /* senders on the put channel */
#define CLW_WAITERS_MAX 4096
#define CLW_IDLE_WAIT_MS 100
#define CLW_PREFAULT_BYTES                                                     \
    (INT64_C(32) << 20) /* ~0.1 s of writes at full speed */

enum { CLW_C_PUTS, CLW_C_BATCHES, CLW_C_BYTES, CLW_C_ERRORS, CLW_C_TOPICS };

/* A sender connected on the put channel. */
struct clw_peer {
    int      fd;  /* -1: free */
    uint32_t gen; /* bumped when the slot is reused */
};

/* A batch answered once the flusher's position covers need. */
struct clw_waiter {
    uint32_t            peer;
    uint32_t            peer_gen;
    int64_t             need;
    int64_t             deadline_ms;
    rmq_msg_put_result *res; /* malloc'd */
};

struct clw {
    rmq_actor         *self;
    rmq_ctl           *ctl;
    rmq_store_pos     *pos;
    rmq_cl             cl;
    rmq_topics         topics;
    int                lock_fd;
    rmq_ipc            in;
    rmq_ipc            pub;
    rmq_ipc            to_flusher;
    rmq_ipc            flushed;
    rmq_ipc            reply[RMQ_ACTOR__COUNT]; /* TOPIC_RESULT */
    int                put_lfd;                 /* clwriter.put */
    struct clw_peer    peers[CLW_PEERS_MAX];
    rmq_buf            rx;
    rmq_ring           rings[RMQ_ACTOR__COUNT];
    rmq_msg_put_batch  batch;
    rmq_msg_put_result res;
    struct clw_waiter  waiters[CLW_WAITERS_MAX];
    uint32_t           wait_head, nwait;
    int64_t            flush_asked; /* highest FLUSH_REQ sent */
    rmq_buf            enc;
    bool               sync_flush;
    bool               appended; /* since the last WRITTEN event */
    int64_t            released; /* page-table entries dropped below */
    uint64_t           append_errors;
    int64_t            next_error_log_ms;
};

/* ---- sockets to the actors we answer ---------------------------------- */

static rmq_ipc *
clw_reply_sock(struct clw *w, uint32_t owner)
{
    rmq_ipc *s;

    if (owner >= RMQ_ACTOR__COUNT) {
        return NULL;
    }
    s = &w->reply[owner];
    if (!s->open && rmq_ipc_open(s, RMQ_IPC_PUSH, w->self->run_dir,
                                 rmq_actor_table[owner].name, "in") != 0) {
        return NULL;
    }
    return s;
}

static void
clw_send(struct clw *w, uint32_t owner)
{
    rmq_ipc *s = clw_reply_sock(w, owner);

    if (s == NULL || rmq_ipc_send(s, &w->enc) != 0) {
        /* the requester is gone; it fails its own outstanding work */
        rmq_log(RMQ_LOG_DEBUG, "cl.reply", "could not answer %s",
                owner < RMQ_ACTOR__COUNT ? rmq_actor_table[owner].name : "?");
    }
}

static void
clw_peer_close(struct clw *w, uint32_t i)
{
    if (w->peers[i].fd >= 0) {
        close(w->peers[i].fd);
    }
    w->peers[i].fd = -1;
    w->peers[i].gen++;
}

/*
 * Answer on peer i's channel.  A sender that does not read for a long
 * while (stopped) loses its channel: it then fails what it had in flight,
 * and connects again.
 */
static void
clw_send_result(struct clw *w, uint32_t i, const rmq_msg_put_result *r)
{
    int rc;

    if (i >= CLW_PEERS_MAX || w->peers[i].fd < 0) {
        return; /* gone meanwhile */
    }
    rmq_buf_reset(&w->enc);
    rmq_msg_put_result_encode(r, &w->enc);
    for (int tries = 0; tries < 20; tries++) {
        rc = rmq_chan_send(w->peers[i].fd, w->enc.data, w->enc.len);
        if (rc != RMQ_ERR_AGAIN) {
            break;
        }
        struct pollfd pf = {.fd = w->peers[i].fd, .events = POLLOUT};
        poll(&pf, 1, 10);
    }
    if (rc != 0) {
        rmq_log(RMQ_LOG_WARN, "cl.reply",
                "dropping a put channel that takes no answers: %s",
                rmq_strerror(rc));
        clw_peer_close(w, i);
    }
}

static rmq_ring *
clw_ring(struct clw *w, uint32_t owner, uint64_t size)
{
    rmq_ring *r = &w->rings[owner];
    char      path[RMQ_CONFIG_PATH_MAX + 64];

    if (r->base != NULL && r->size == size) {
        return r;
    }
    rmq_ring_close(r);
    rmq_ring_path(w->self->run_dir, rmq_actor_table[owner].name, path,
                  sizeof(path));
    if (rmq_ring_attach(path, size, r) != 0) {
        rmq_log(RMQ_LOG_ERR, "cl.ring", "cannot map put ring \"%s\"", path);
        return NULL;
    }
    return r;
}

/* ---- appending -------------------------------------------------------- */

/* Where a record of len bytes appended at pos ends (after a file roll). */
static int64_t
clw_landing_end(int64_t pos, uint32_t len, int64_t file_size)
{
    int64_t in_file = pos % file_size;

    if (in_file + len + RMQ_REC_BLANK_LEN > file_size) {
        pos += file_size - in_file;
    }
    return pos + len;
}

/* One line per second at most: a full disk fails every append. */
static void
clw_log_append_error(struct clw *w, int rc)
{
    int64_t now = rmq_mono_ms();

    w->append_errors++;
    if (now < w->next_error_log_ms) {
        return;
    }
    rmq_log(RMQ_LOG_WARN, "cl.append",
            "could not append %llu record(s) in the last second: %s",
            (unsigned long long)w->append_errors, rmq_strerror(rc));
    w->append_errors = 0;
    w->next_error_log_ms = now + 1000;
}

static int32_t
clw_append_one(struct clw *w, const rmq_ring *ring, const rmq_put_desc *d,
               int64_t store_ts, rmq_put_res *out)
{
    const rmq_topic_entry *t;
    rmq_queue_w           *qw;
    int64_t                qoff;
    int                    rc;

    out->phys_offset = -1;
    out->queue_offset = -1;
    if (d->topic_idx >= RMQ_TOPIC_MAX || d->len == 0 ||
        d->ring_off > ring->size || d->len > ring->size - d->ring_off) {
        return RMQ_PUT_BAD_RECORD;
    }
    t = &w->ctl->topics[d->topic_idx];
    if (t->state != RMQ_TOPIC_LIVE || d->queue_id < 0 ||
        (uint32_t)d->queue_id >= t->queue_cap) {
        return RMQ_PUT_NO_TOPIC;
    }
    qw = &w->ctl->qw[t->queue_base + (uint32_t)d->queue_id];
    qoff = atomic_load_explicit(&qw->next_offset, memory_order_relaxed);
    /* anything a crash in the copy below leaves behind is below hwm */
    atomic_store_explicit(
        &w->pos->cl_hwm,
        clw_landing_end(rmq_cl_write_pos(&w->cl), d->len, w->cl.q.file_size),
        memory_order_relaxed);
    rc = rmq_cl_append(&w->cl, ring->base + d->ring_off, d->len, qoff, store_ts,
                       &out->phys_offset);
    if (rc != 0) {
        clw_log_append_error(w, rc);
        return rc == RMQ_ERR_PROTO || rc == RMQ_ERR_TOOBIG
                   ? RMQ_PUT_BAD_RECORD
                   : RMQ_PUT_STORE_ERROR;
    }
    atomic_store_explicit(&qw->next_offset, qoff + 1, memory_order_relaxed);
    out->queue_offset = qoff;
    return RMQ_PUT_OK;
}

static void
clw_publish(struct clw *w, int64_t store_ts)
{
    atomic_store_explicit(&w->pos->cl_last_store_ms, store_ts,
                          memory_order_relaxed);
    atomic_store_explicit(&w->pos->cl_written, rmq_cl_write_pos(&w->cl),
                          memory_order_release);
}

static void
clw_fail_all(rmq_msg_put_result *r, uint32_t n, int32_t status)
{
    r->n = n;
    for (uint32_t i = 0; i < n; i++) {
        r->r[i] = (rmq_put_res){status, -1, -1};
    }
}

static void
clw_ask_flush(struct clw *w, int64_t need)
{
    rmq_msg_flush_req req = {.offset = need};

    if (need <= w->flush_asked) {
        return;
    }
    rmq_buf_reset(&w->enc);
    rmq_msg_flush_req_encode(&req, &w->enc);
    if (rmq_ipc_send(&w->to_flusher, &w->enc) == 0) {
        w->flush_asked = need;
    }
}

/* SYNC_FLUSH: park the results until the flusher covers the batch. */
static void
clw_park(struct clw *w, uint32_t peer, int64_t need)
{
    struct clw_waiter *q;

    if (w->nwait == CLW_WAITERS_MAX) {
        clw_send_result(w, peer, &w->res); /* cannot wait: answer now */
        return;
    }
    q = &w->waiters[(w->wait_head + w->nwait) % CLW_WAITERS_MAX];
    q->res = malloc(sizeof(*q->res));
    if (q->res == NULL) {
        clw_send_result(w, peer, &w->res);
        return;
    }
    memcpy(q->res, &w->res, sizeof(*q->res));
    q->peer = peer;
    q->peer_gen = w->peers[peer].gen;
    q->need = need;
    q->deadline_ms = rmq_mono_ms() + w->self->cfg.broker.sync_flush_timeout_ms;
    w->nwait++;
    clw_ask_flush(w, need);
}

static bool
clw_batch_waits(const rmq_msg_put_batch *b)
{
    for (uint32_t i = 0; i < b->n; i++) {
        if (b->d[i].flags & RMQ_PUT_F_WAIT_FLUSH) {
            return true;
        }
    }
    return false;
}

static void
clw_on_put(struct clw *w, uint32_t peer, const void *data, size_t len)
{
    rmq_msg_put_batch *b = &w->batch;
    rmq_ring          *ring;
    int64_t            now = rmq_now_ms();

    if (rmq_msg_put_batch_decode(data, len, b) != 0 ||
        b->owner >= RMQ_ACTOR__COUNT) {
        rmq_log(RMQ_LOG_WARN, "cl.put", "malformed put batch dropped");
        return;
    }
    w->res.seq = b->seq;
    w->res.writer_pid = (int32_t)getpid();
    if (b->writer_pid != (int32_t)getpid()) {
        clw_fail_all(&w->res, b->n, RMQ_PUT_WRONG_WRITER);
    } else if ((ring = clw_ring(w, b->owner, b->ring_size)) == NULL) {
        clw_fail_all(&w->res, b->n, RMQ_PUT_RING_ERROR);
    } else {
        w->res.n = b->n;
        for (uint32_t i = 0; i < b->n; i++) {
            w->res.r[i].status =
                clw_append_one(w, ring, &b->d[i], now, &w->res.r[i]);
            rmq_actor_count(w->self,
                            w->res.r[i].status == RMQ_PUT_OK ? CLW_C_PUTS
                                                             : CLW_C_ERRORS,
                            1);
            rmq_actor_count(w->self, CLW_C_BYTES, b->d[i].len);
        }
        clw_publish(w, now);
        w->appended = true;
        atomic_fetch_add_explicit(&w->pos->puts_total, b->n,
                                  memory_order_relaxed);
    }
    rmq_actor_count(w->self, CLW_C_BATCHES, 1);
    if (w->sync_flush && clw_batch_waits(b) && b->writer_pid == getpid()) {
        clw_park(w, peer, rmq_cl_write_pos(&w->cl));
        return;
    }
    clw_send_result(w, peer, &w->res);
}

/* Answer parked SYNC_FLUSH batches the flusher has covered or that timed out.
 */
static void
clw_release_waiters(struct clw *w)
{
    int64_t flushed =
        atomic_load_explicit(&w->pos->cl_flushed, memory_order_acquire);
    int64_t now = rmq_mono_ms();

    while (w->nwait > 0) {
        struct clw_waiter *q = &w->waiters[w->wait_head];
        if (q->need > flushed && now < q->deadline_ms) {
            if (q->need > w->flush_asked) {
                clw_ask_flush(w, q->need); /* the flusher may have restarted */
            }
            break;
        }
        if (q->need > flushed) {
            for (uint32_t i = 0; i < q->res->n; i++) {
                if (q->res->r[i].status == RMQ_PUT_OK) {
                    q->res->r[i].status = RMQ_PUT_FLUSH_TIMEOUT;
                }
            }
        }
        if (w->peers[q->peer].gen == q->peer_gen) {
            clw_send_result(w, q->peer, q->res);
        }
        free(q->res);
        w->wait_head = (w->wait_head + 1) % CLW_WAITERS_MAX;
        w->nwait--;
    }
}

/* ---- topics ------------------------------------------------------------ */

static void
clw_on_topic(struct clw *w, const void *data, size_t len)
{
    rmq_msg_topic_update u;
    rmq_msg_topic_result r = {0};
    rmq_topic_entry      snap;
    rmq_topic_conf       c;

    if (rmq_msg_topic_update_decode(data, len, &u) != 0) {
        rmq_log(RMQ_LOG_WARN, "cl.topic", "malformed topic update dropped");
        return;
    }
    r.seq = u.seq;
    if (u.remove) {
        r.status = rmq_topics_delete(&w->topics, u.name, strlen(u.name));
    } else {
        memset(&c, 0, sizeof(c));
        rmq_strlcpy(c.name, u.name, sizeof(c.name));
        c.read_queues = u.read_queues;
        c.write_queues = u.write_queues;
        c.perm = u.perm;
        c.sysflag = u.sysflag;
        c.flags = u.flags;
        r.status = rmq_topics_put(&w->topics, &c);
    }
    if (r.status == 0 && rmq_topics_save(&w->topics) != 0) {
        rmq_log(RMQ_LOG_ERR, "cl.topic", "could not save topics.json");
    }
    r.topic_idx = rmq_ctl_topic_find(w->ctl, u.name, strlen(u.name), &snap);
    rmq_log(RMQ_LOG_INFO, "cl.topic", "%s topic %s: %s",
            u.remove ? "delete" : "create/update", u.name,
            rmq_strerror(r.status));
    rmq_actor_count(w->self, CLW_C_TOPICS, 1);
    rmq_buf_reset(&w->enc);
    rmq_msg_topic_result_encode(&r, &w->enc);
    clw_send(w, u.owner);
}

static void
clw_drain(struct clw *w)
{
    nng_msg *m;

    for (int i = 0; i < CLW_DRAIN_MAX && rmq_ipc_recv(&w->in, &m) == 0; i++) {
        uint16_t id = 0;

        rmq_msg_peek_id(nng_msg_body(m), nng_msg_len(m), &id);
        if (id == RMQ_MSG_TOPIC_UPDATE) {
            clw_on_topic(w, nng_msg_body(m), nng_msg_len(m));
        } else {
            rmq_log(RMQ_LOG_WARN, "cl.recv", "unexpected message %u", id);
        }
        nng_msg_free(m);
    }
    while (rmq_ipc_recv(&w->flushed, &m) == 0) {
        nng_msg_free(m); /* only a wakeup: the position is in shm */
    }
}

static void
clw_accept_peers(struct clw *w)
{
    int fd;

    while (rmq_chan_accept(w->put_lfd, &fd) == 0) {
        uint32_t i = 0;
        while (i < CLW_PEERS_MAX && w->peers[i].fd >= 0) {
            i++;
        }
        if (i == CLW_PEERS_MAX) {
            rmq_log(RMQ_LOG_WARN, "cl.peers", "too many put channels: refused");
            close(fd);
            continue;
        }
        w->peers[i].fd = fd;
    }
}

/* Put batches from every sender, a bounded number per pass. */
static void
clw_drain_peers(struct clw *w)
{
    for (uint32_t i = 0; i < CLW_PEERS_MAX; i++) {
        for (int n = 0; n < CLW_DRAIN_MAX && w->peers[i].fd >= 0; n++) {
            uint16_t id = 0;
            int      rc = rmq_chan_recv(w->peers[i].fd, &w->rx);
            if (rc == RMQ_ERR_AGAIN) {
                break;
            }
            if (rc != 0) {
                clw_peer_close(w, i); /* the sender went away */
                break;
            }
            rmq_msg_peek_id(w->rx.data, w->rx.len, &id);
            if (id == RMQ_MSG_PUT_BATCH) {
                clw_on_put(w, i, w->rx.data, w->rx.len);
            } else {
                rmq_log(RMQ_LOG_WARN, "cl.recv", "unexpected message %u", id);
            }
        }
    }
}

static void
clw_announce(struct clw *w)
{
    rmq_msg_position p = {.kind = RMQ_POS_WRITTEN,
                          .offset = rmq_cl_write_pos(&w->cl)};

    if (!w->appended) {
        return;
    }
    w->appended = false;
    rmq_buf_reset(&w->enc);
    rmq_msg_position_encode(&p, &w->enc);
    rmq_ipc_send(&w->pub, &w->enc); /* no subscriber is fine */
}

/*
 * Written pages stay in the page cache for readers, but this process need
 * not keep them mapped: drop the mappings well behind the write position
 * so the writer's resident size stays at its working set.
 */
static void
clw_release_behind(struct clw *w)
{
    int64_t keep_from = rmq_cl_write_pos(&w->cl) - (INT64_C(16) << 20);

    if (keep_from - w->released >= (INT64_C(64) << 20)) {
        rmq_mfq_release(&w->cl.q, w->released, keep_from);
        w->released = keep_from;
    }
}

/* ---- start and stop ---------------------------------------------------- */

static void
clw_log_recovery(const rmq_store_state *st)
{
    rmq_log(RMQ_LOG_INFO, "cl.recover",
            "%s recovery: commit log [%lld, %lld), %lld records checked, "
            "dispatch from %lld",
            st->abnormal ? "abnormal" : "normal", (long long)st->cl_min,
            (long long)st->cl_end, (long long)st->records_checked,
            (long long)st->dispatch_from);
    if (st->stop == RMQ_CL_STOP_CORRUPT) {
        rmq_log(RMQ_LOG_ERR, "cl.corrupt",
                "corrupt record in commit-log file %020lld at offset %lld "
                "(%s): cut there, %lld later records (%lld bytes) dropped",
                (long long)st->stop_file,
                (long long)(st->stop_offset - st->stop_file), st->stop_reason,
                (long long)st->dropped_records, (long long)st->dropped_bytes);
    } else if (st->stop == RMQ_CL_STOP_TORN) {
        rmq_log(RMQ_LOG_WARN, "cl.torn",
                "torn tail in commit-log file %020lld at offset %lld (%s): "
                "truncated and zeroed",
                (long long)st->stop_file,
                (long long)(st->stop_offset - st->stop_file), st->stop_reason);
    }
}

/* Full start only: the dispatcher's queue windows from recovery. */
static void
clw_publish_windows(struct clw *w, const rmq_store_state *st)
{
    for (int i = 0; i < RMQ_TOPIC_MAX; i++) {
        const rmq_topic_entry *t = &w->ctl->topics[i];
        if (t->state == RMQ_TOPIC_FREE) {
            break;
        }
        for (uint32_t q = 0; t->state == RMQ_TOPIC_LIVE && q < t->queue_cap;
             q++) {
            const rmq_queue_next *n =
                rmq_store_state_find(st, t->name, strlen(t->name), (int32_t)q);
            rmq_queue_d *d = &w->ctl->qd[t->queue_base + q];
            atomic_store(&d->min_offset, n ? n->cq_min : 0);
            atomic_store_explicit(&d->max_offset, n ? n->cq_max : 0,
                                  memory_order_release);
        }
    }
}

static int
clw_open_log(struct clw *w)
{
    const rmq_broker_config *b = &w->self->cfg.broker;
    char                     dir[RMQ_CONFIG_PATH_MAX + 16];
    rmq_cl_opts              o;

    snprintf(dir, sizeof(dir), "%s/%s", b->store_root, RMQ_CL_DIR);
    o.dir = dir;
    o.file_size = b->commitlog_file_size;
    o.writable = true;
    o.prefault_bytes = CLW_PREFAULT_BYTES;
    o.background_prefault = true;
    return rmq_cl_open(&w->cl, &o);
}

static int
clw_full_start(struct clw *w)
{
    const rmq_broker_config *b = &w->self->cfg.broker;
    rmq_store_opts  o = {b->store_root, b->commitlog_file_size, b->cq_file_size,
                         b->check_crc_on_recover, false};
    rmq_store_state st;
    int             rc;

    rc = rmq_store_recover(&o, &st);
    if (rc != 0) {
        rmq_log(RMQ_LOG_ERR, "cl.recover", "cannot recover the store: %s",
                rmq_strerror(rc));
        return rc;
    }
    clw_log_recovery(&st);
    rc = clw_open_log(w);
    if (rc == 0) {
        rc = rmq_cl_start(&w->cl, st.cl_end);
    }
    if (rc == 0) {
        rc = rmq_topics_open(&w->topics, w->ctl, b->store_root,
                             rmq_store_state_next_offset, &st);
    }
    if (rc == 0) {
        rc = rmq_topics_create_defaults(&w->topics, b);
    }
    /* the recovery state dies with this frame: later topics start at 0 */
    w->topics.init_offset = NULL;
    w->topics.init_arg = NULL;
    if (rc == 0) {
        rmq_topics_save(&w->topics);
        clw_publish_windows(w, &st);
        atomic_store(&w->pos->cl_min_offset, st.cl_min);
        atomic_store(&w->pos->cl_hwm, st.cl_end);
        atomic_store(&w->pos->dispatch_from, st.dispatch_from);
        atomic_store(&w->pos->cl_last_store_ms, st.last_store_ms);
        atomic_store_explicit(&w->pos->cl_written, st.cl_end,
                              memory_order_release);
    }
    rmq_store_state_free(&st);
    return rc;
}

/* Zero what a crashed append may have left between written and hwm. */
static void
clw_zero_tail(struct clw *w, int64_t from, int64_t to)
{
    while (from < to) {
        uint8_t *p;
        int64_t  avail;

        if (rmq_mfq_span(&w->cl.q, from, &p, &avail) != 0) {
            return; /* no file there: nothing was written */
        }
        avail = RMQ_MIN(avail, to - from);
        memset(p, 0, (size_t)avail);
        from += avail;
    }
}

/*
 * Next queue offsets after a clwriter-only restart: the dispatched
 * windows, raised by every record written but not dispatched yet.
 */
static void
clw_recompute_offsets(struct clw *w, int64_t written)
{
    int64_t from =
        atomic_load_explicit(&w->pos->dispatched, memory_order_acquire);
    rmq_cl_iter  it;
    rmq_rec_view v;
    int64_t      off;

    if (from < 0) {
        from = atomic_load(&w->pos->dispatch_from);
    }
    for (int i = 0; i < RMQ_TOPIC_MAX && w->ctl->topics[i].state; i++) {
        const rmq_topic_entry *t = &w->ctl->topics[i];
        for (uint32_t q = 0; q < t->queue_cap; q++) {
            atomic_store(
                &w->ctl->qw[t->queue_base + q].next_offset,
                atomic_load_explicit(&w->ctl->qd[t->queue_base + q].max_offset,
                                     memory_order_acquire));
        }
    }
    rmq_cl_iter_init(&it, &w->cl, from, written, false);
    while (rmq_cl_iter_next(&it, &v, &off) == 0) {
        rmq_topic_entry snap;
        int idx = rmq_ctl_topic_find(w->ctl, v.topic, v.topic_len, &snap);
        if (idx < 0 || v.queue_id < 0 ||
            (uint32_t)v.queue_id >= snap.queue_cap ||
            !rmq_rec_is_dispatchable(v.sysflag)) {
            continue;
        }
        rmq_queue_w *qw = &w->ctl->qw[snap.queue_base + (uint32_t)v.queue_id];
        if (atomic_load(&qw->next_offset) <= v.queue_offset) {
            atomic_store(&qw->next_offset, v.queue_offset + 1);
        }
    }
}

static int
clw_resume(struct clw *w)
{
    int64_t written = atomic_load(&w->pos->cl_written);
    int64_t hwm = atomic_load(&w->pos->cl_hwm);
    int     rc;

    rmq_log(RMQ_LOG_INFO, "cl.resume",
            "resuming at %lld (zeroing %lld bytes a crash may have left)",
            (long long)written, (long long)RMQ_MAX(hwm - written, 0));
    rc = clw_open_log(w);
    if (rc != 0) {
        return rc;
    }
    clw_zero_tail(w, written, hwm);
    atomic_store(&w->pos->cl_hwm, written);
    rc = rmq_cl_start(&w->cl, written);
    if (rc == 0) {
        rc = rmq_topics_open(&w->topics, w->ctl, w->self->cfg.broker.store_root,
                             NULL, NULL);
    }
    if (rc == 0) {
        clw_recompute_offsets(w, written);
    }
    return rc;
}

static int
clw_open_sockets(struct clw *w)
{
    const char *rd = w->self->run_dir;

    rmq_buf_init(&w->enc);
    rmq_buf_init(&w->rx);
    for (uint32_t i = 0; i < CLW_PEERS_MAX; i++) {
        w->peers[i].fd = -1;
    }
    if (rmq_chan_listen(rd, "clwriter", "put", &w->put_lfd) != 0 ||
        rmq_ipc_open(&w->in, RMQ_IPC_PULL, rd, "clwriter", "in") ||
        rmq_ipc_open(&w->pub, RMQ_IPC_PUB, rd, "clwriter", "pub") ||
        rmq_ipc_open(&w->to_flusher, RMQ_IPC_PUSH, rd, "flusher", "in") ||
        rmq_ipc_open(&w->flushed, RMQ_IPC_SUB, rd, "flusher", "pub")) {
        return RMQ_ERR_SYS;
    }
    return 0;
}

static int
clw_start(rmq_actor *self, struct clw *w)
{
    const char *root = self->cfg.broker.store_root;
    bool        resume;
    int         rc;

    memset(w, 0, sizeof(*w));
    w->self = self;
    w->ctl = &self->ctl;
    w->pos = self->ctl.pos;
    w->lock_fd = -1;
    w->put_lfd = -1;
    w->sync_flush = self->cfg.broker.flush_disk_type == RMQ_FLUSH_SYNC;
    rc = rmq_store_lock(root, &w->lock_fd);
    if (rc != 0) {
        rmq_log(RMQ_LOG_ERR, "cl.lock",
                "cannot lock the store \"%s\": already in use", root);
        return rc;
    }
    resume = atomic_load(&w->pos->store_gen) == w->ctl->hdr->generation;
    rc = resume ? clw_resume(w) : clw_full_start(w);
    if (rc == 0 && !resume) {
        rc = rmq_store_abort_create(root);
    }
    if (rc == 0) {
        rc = clw_open_sockets(w);
    }
    if (rc == 0) {
        atomic_store_explicit(&w->pos->store_gen, w->ctl->hdr->generation,
                              memory_order_release);
    }
    return rc;
}

static void
clw_stop(struct clw *w)
{
    const char *root = w->self->cfg.broker.store_root;
    int64_t     written = rmq_cl_write_pos(&w->cl);

    w->flush_asked = INT64_MAX; /* no more flush requests */
    while (w->nwait > 0) {
        w->waiters[w->wait_head].deadline_ms = 0;
        clw_release_waiters(w);
    }
    rmq_topics_save(&w->topics);
    if (atomic_load(&w->pos->cl_flushed) >= written &&
        atomic_load(&w->pos->dispatched) >= written) {
        rmq_store_abort_remove(root);
        rmq_log(RMQ_LOG_INFO, "cl.stop", "clean stop at %lld",
                (long long)written);
    } else {
        rmq_log(RMQ_LOG_WARN, "cl.stop",
                "stopping with unflushed or undispatched records (written "
                "%lld, flushed %lld, dispatched %lld): the next start "
                "recovers abnormally",
                (long long)written, (long long)atomic_load(&w->pos->cl_flushed),
                (long long)atomic_load(&w->pos->dispatched));
    }
    rmq_cl_close(&w->cl);
    rmq_store_unlock(w->lock_fd);
}

void
rmq_clwriter_main(rmq_actor *self)
{
    static struct clw w;
    int               rc;

    rc = clw_start(self, &w);
    if (rc != 0) {
        rmq_actor_exit(self, rc == RMQ_ERR_BUSY || rc == RMQ_ERR_CORRUPT
                                 ? RMQ_EXIT_FATAL
                                 : RMQ_EXIT_TRANSIENT);
    }
    rmq_actor_ready(self);
    while (!self->stop_requested) {
        struct pollfd pf[3 + CLW_PEERS_MAX];
        int           npf = 0;
        int64_t       deadline;

        rmq_actor_clear_wakeup(self);
        if (self->reload_requested) {
            rmq_actor_reload(self);
        }
        clw_accept_peers(&w);
        clw_drain_peers(&w);
        clw_drain(&w);
        clw_release_waiters(&w);
        clw_announce(&w);
        rmq_cl_maintain(&w.cl);
        clw_release_behind(&w);
        deadline = rmq_mono_ms() + (w.nwait > 0 ? 5 : CLW_IDLE_WAIT_MS);
        pf[npf++] = (struct pollfd){.fd = w.in.recv_fd, .events = POLLIN};
        pf[npf++] = (struct pollfd){.fd = w.flushed.recv_fd, .events = POLLIN};
        pf[npf++] = (struct pollfd){.fd = w.put_lfd, .events = POLLIN};
        for (uint32_t i = 0; i < CLW_PEERS_MAX; i++) {
            if (w.peers[i].fd >= 0) {
                pf[npf++] =
                    (struct pollfd){.fd = w.peers[i].fd, .events = POLLIN};
            }
        }
        rmq_actor_wait(self, deadline, pf, npf);
    }
    clw_stop(&w);
    rmq_actor_exit(self, RMQ_EXIT_OK);
}
