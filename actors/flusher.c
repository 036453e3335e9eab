/*
 * flusher.c - the flusher actor: makes the commit log durable and says so.
 *
 * ASYNC_FLUSH: every flushIntervalCommitLog it syncs what clwriter wrote
 * when at least flushCommitLogLeastPages pages are dirty (everything once
 * flushCommitLogThoroughInterval passed).  SYNC_FLUSH: clwriter sends
 * FLUSH_REQ {offset}; one sync covers everything written so far, so every
 * waiter behind it is answered by one call (group commit).  After a sync
 * it publishes cl_flushed (release store) and a FLUSHED event on
 * flusher.pub, which wakes clwriter to answer its waiting senders.
 *
 * Every flushIntervalConsumeQueue, when the dispatcher moved, it syncs
 * the store's file system (consume queues included) and writes the
 * checkpoint file (physic/logics store timestamps of what is durable).
 * At stop it flushes everything and writes the checkpoint once more.
 *
 * Maps the commit log read-only; writes cl_flushed and the checkpoint.
 * A crash loses nothing: the next flusher starts from cl_flushed.
 */
#include "actors/actors.h"

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "net/ipc.h"
#include "proto/catalog.h"
#include "store/checkpoint.h"
#include "store/commitlog.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define FL_PAGE 4096

enum { FL_C_FLUSHES, FL_C_BYTES, FL_C_CQ_SYNCS, FL_C_ERRORS };

struct fl {
    rmq_actor     *self;
    rmq_store_pos *pos;
    rmq_cl         cl;
    rmq_ipc        in;
    rmq_ipc        pub;
    int            root_fd;
    char           ckpt_path[RMQ_CONFIG_PATH_MAX + 32];
    rmq_ckpt       ckpt;
    int64_t        flushed;
    int64_t        wanted;        /* highest FLUSH_REQ offset */
    int64_t        next_flush_ms; /* ASYNC timer */
    int64_t        last_thorough_ms;
    int64_t        next_cq_ms;
    int64_t        cq_dispatched; /* dispatched position at the last CQ sync */
    rmq_buf        enc;
};

static void
fl_announce(struct fl *f)
{
    rmq_msg_position p = {.kind = RMQ_POS_FLUSHED, .offset = f->flushed};

    rmq_buf_reset(&f->enc);
    rmq_msg_position_encode(&p, &f->enc);
    rmq_ipc_send(&f->pub, &f->enc);
}

/* Sync [flushed, written) and publish.  Returns 0 or an error (logged). */
static int
fl_flush(struct fl *f, int64_t written)
{
    int64_t store_ms = atomic_load(&f->pos->cl_last_store_ms);
    int     rc;

    if (written <= f->flushed) {
        return 0;
    }
    rc = rmq_cl_sync(&f->cl, f->flushed, written);
    if (rc != 0) {
        rmq_actor_count(f->self, FL_C_ERRORS, 1);
        rmq_log(RMQ_LOG_ERR, "flush.sync",
                "could not sync the commit log "
                "[%lld, %lld): %s",
                (long long)f->flushed, (long long)written, rmq_strerror(rc));
        return rc;
    }
    rmq_actor_count(f->self, FL_C_FLUSHES, 1);
    rmq_actor_count(f->self, FL_C_BYTES, (uint64_t)(written - f->flushed));
    f->flushed = written;
    f->ckpt.physic_ms = store_ms;
    atomic_store(&f->pos->cl_flushed_store_ms, store_ms);
    atomic_fetch_add(&f->pos->flushes, 1);
    atomic_store_explicit(&f->pos->cl_flushed, written, memory_order_release);
    fl_announce(f);
    return 0;
}

static bool
fl_async_due(struct fl *f, int64_t written, int64_t now)
{
    const rmq_broker_config *b = &f->self->cfg.broker;
    int64_t                  dirty = written - f->flushed;

    if (now < f->next_flush_ms) {
        return false;
    }
    /* the timer moves on even when nothing is dirty: the loop sleeps on it */
    f->next_flush_ms = now + b->flush_interval_cl_ms;
    if (dirty <= 0) {
        return false;
    }
    if (now - f->last_thorough_ms >= b->flush_cl_thorough_ms) {
        f->last_thorough_ms = now;
        return true;
    }
    return dirty >= (int64_t)b->flush_cl_least_pages * FL_PAGE;
}

/* Consume queues and the checkpoint, when the dispatcher moved. */
static void
fl_sync_cqs(struct fl *f, int64_t now, bool force)
{
    int64_t dispatched = atomic_load(&f->pos->dispatched);
    int64_t logics_ms = atomic_load(&f->pos->dispatched_store_ms);

    if (!force && now < f->next_cq_ms) {
        return;
    }
    f->next_cq_ms = now + f->self->cfg.broker.flush_interval_cq_ms;
    if (!force && dispatched == f->cq_dispatched) {
        return; /* nothing new: check again at the next interval */
    }
    f->cq_dispatched = dispatched;
    /* the consume queues are many small mappings: one syncfs covers them */
    if (syncfs(f->root_fd) != 0) {
        rmq_log_sys(RMQ_LOG_WARN, "flush.cq", errno,
                    "could not sync the store file system");
        return;
    }
    rmq_actor_count(f->self, FL_C_CQ_SYNCS, 1);
    f->ckpt.logics_ms = RMQ_MIN(logics_ms, f->ckpt.physic_ms);
    if (rmq_ckpt_write(f->ckpt_path, &f->ckpt) != 0) {
        rmq_log(RMQ_LOG_WARN, "flush.ckpt", "could not write the checkpoint");
    }
}

static void
fl_drain(struct fl *f)
{
    nng_msg          *m;
    rmq_msg_flush_req req;

    while (rmq_ipc_recv(&f->in, &m) == 0) {
        if (rmq_msg_flush_req_decode(nng_msg_body(m), nng_msg_len(m), &req) ==
            0) {
            f->wanted = RMQ_MAX(f->wanted, req.offset);
        }
        nng_msg_free(m);
    }
}

static int
fl_init(rmq_actor *self, struct fl *f)
{
    const rmq_broker_config *b = &self->cfg.broker;
    char                     dir[RMQ_CONFIG_PATH_MAX + 16];
    rmq_cl_opts              o = {dir, b->commitlog_file_size, false, 0, false};

    memset(f, 0, sizeof(*f));
    f->self = self;
    f->pos = self->ctl.pos;
    rmq_buf_init(&f->enc);
    if (atomic_load(&f->pos->store_gen) != self->ctl.hdr->generation) {
        rmq_log(RMQ_LOG_ERR, "flush.start", "the store is not open yet");
        return RMQ_ERR_AGAIN;
    }
    snprintf(dir, sizeof(dir), "%s/%s", b->store_root, RMQ_CL_DIR);
    snprintf(f->ckpt_path, sizeof(f->ckpt_path), "%s/%s", b->store_root,
             RMQ_CKPT_FILE);
    rmq_ckpt_read(f->ckpt_path, &f->ckpt);
    f->root_fd = open(b->store_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (f->root_fd < 0 || rmq_cl_open(&f->cl, &o) != 0) {
        return RMQ_ERR_SYS;
    }
    f->flushed = atomic_load(&f->pos->cl_flushed);
    if (f->flushed < 0) {
        /* first flusher of this run: make everything recovered durable */
        f->flushed = atomic_load(&f->pos->cl_min_offset);
    }
    f->cq_dispatched = -2;
    f->last_thorough_ms = rmq_mono_ms();
    if (rmq_ipc_open(&f->in, RMQ_IPC_PULL, self->run_dir, "flusher", "in") ||
        rmq_ipc_open(&f->pub, RMQ_IPC_PUB, self->run_dir, "flusher", "pub")) {
        return RMQ_ERR_SYS;
    }
    return 0;
}

void
rmq_flusher_main(rmq_actor *self)
{
    static struct fl f;
    bool             sync_mode;

    if (fl_init(self, &f) != 0) {
        rmq_actor_exit(self, RMQ_EXIT_TRANSIENT);
    }
    fl_flush(&f,
             atomic_load_explicit(&f.pos->cl_written, memory_order_acquire));
    atomic_store_explicit(&f.pos->cl_flushed, f.flushed, memory_order_release);
    rmq_actor_ready(self);
    while (!self->stop_requested) {
        struct pollfd pf = {.fd = f.in.recv_fd, .events = POLLIN};
        int64_t       now = rmq_mono_ms();
        int64_t       written;

        rmq_actor_clear_wakeup(self);
        if (self->reload_requested) {
            rmq_actor_reload(self);
        }
        sync_mode = self->cfg.broker.flush_disk_type == RMQ_FLUSH_SYNC;
        fl_drain(&f);
        written =
            atomic_load_explicit(&f.pos->cl_written, memory_order_acquire);
        if (f.wanted > f.flushed || fl_async_due(&f, written, now)) {
            /* one sync for everything written so far: group commit */
            fl_flush(&f, written);
        }
        fl_sync_cqs(&f, now, false);
        rmq_actor_wait(self,
                       sync_mode ? now + 100
                                 : RMQ_MIN(f.next_flush_ms, f.next_cq_ms),
                       &pf, 1);
    }
    fl_flush(&f,
             atomic_load_explicit(&f.pos->cl_written, memory_order_acquire));
    fl_sync_cqs(&f, rmq_mono_ms(), true);
    rmq_cl_close(&f.cl);
    close(f.root_fd);
    rmq_actor_exit(self, RMQ_EXIT_OK);
}
