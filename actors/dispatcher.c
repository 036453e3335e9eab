/*
 * dispatcher.c - the consume-queue dispatcher actor (Java's
 * ReputMessageService): the only writer of consume queues.
 *
 * It tails the commit log from its position up to clwriter's published
 * written position (woken by clwriter.pub, polling as a fallback) and for
 * every record of transaction type none/commit writes the 20-byte entry
 * at index queueOffset of its topic/queue (tagsCode = Java hashCode of
 * TAGS, or the delivery time for SCHEDULE_TOPIC_XXXX), raises that
 * queue's max offset in the control segment (release store), and then
 * publishes its own position.  Growth is announced once per pass as
 * coalesced QUEUE_GREW events on dispatcher.pub (long polling).
 *
 * Start: from the published dispatched position when only the dispatcher
 * restarted, else from dispatch_from (set by clwriter's recovery).  An
 * entry's place is fixed by its queue offset, so dispatching a record
 * again writes the same bytes: a crash between writing entries and
 * publishing the position loses and duplicates nothing.
 */
#include "actors/actors.h"

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "net/ipc.h"
#include "proto/catalog.h"
#include "store/commitlog.h"
#include "store/cq.h"

#include <stdio.h>
#include <string.h>

#define DP_PASS_RECORDS 8192 /* bounded work per pass */
#define DP_POLL_MS 20        /* fallback when a WRITTEN event is dropped */

enum { DP_C_RECORDS, DP_C_EVENTS, DP_C_SKIPPED, DP_C_BEHIND };

struct dp {
    rmq_actor         *self;
    rmq_ctl           *ctl;
    rmq_store_pos     *pos;
    rmq_cl             cl;
    rmq_cq_cache       cqs;
    rmq_cl_iter        it;
    rmq_ipc            written; /* clwriter.pub */
    rmq_ipc            pub;     /* dispatcher.pub */
    rmq_msg_queue_grew grew;
    rmq_buf            enc;
    int64_t            store_ms;   /* of the last record dispatched */
    int64_t            released;   /* commit-log mappings dropped below */
    uint64_t           topics_gen; /* of the last topic-state scan */
    bool               stalled;    /* an entry could not be written */
    uint8_t            seen[RMQ_TOPIC_MAX]; /* topic states at that scan */
};

static void
dp_announce(struct dp *d)
{
    if (d->grew.n == 0) {
        return;
    }
    if (atomic_load_explicit(&d->pos->lp_held, memory_order_relaxed) <= 0) {
        /* nobody waits on a queue: no one to tell (longpoll re-checks the
         * windows itself when it registers a pull, and every 100 ms) */
        d->grew.n = 0;
        return;
    }
    rmq_buf_reset(&d->enc);
    rmq_msg_queue_grew_encode(&d->grew, &d->enc);
    rmq_ipc_send(&d->pub, &d->enc);
    rmq_actor_count(d->self, DP_C_EVENTS, 1);
    d->grew.n = 0;
}

/* Remember the newest max of a queue for this pass's event. */
static void
dp_note_growth(struct dp *d, uint32_t topic_idx, int32_t queue_id, int64_t max)
{
    for (uint32_t i = d->grew.n; i > 0; i--) {
        rmq_queue_grew *g = &d->grew.q[i - 1];
        if (g->topic_idx == topic_idx && g->queue_id == queue_id) {
            g->max_offset = max;
            return;
        }
        if (d->grew.n - i >= 8) {
            break; /* look back a little only: events may repeat a queue */
        }
    }
    if (d->grew.n == RMQ_GREW_MAX) {
        dp_announce(d);
    }
    d->grew.q[d->grew.n++] = (rmq_queue_grew){topic_idx, queue_id, max};
}

/*
 * Dispatch one record.  Returns 0 (done, or nothing to do for it) or an
 * error when its entry could not be written (disk full, ...): the record
 * must then be dispatched again later, never skipped.
 */
static int
dp_record(struct dp *d, const rmq_rec_view *v, int64_t phys)
{
    const rmq_broker_config *b = &d->self->cfg.broker;
    rmq_topic_entry          t;
    rmq_queue_d             *qd;
    rmq_cq                  *cq;
    rmq_cq_entry             e;
    int                      idx;

    if (!rmq_rec_is_dispatchable(v->sysflag)) {
        d->store_ms = v->store_ts;
        return 0;
    }
    idx = rmq_ctl_topic_find(d->ctl, v->topic, v->topic_len, &t);
    if (idx < 0 || t.state != RMQ_TOPIC_LIVE || v->queue_id < 0 ||
        (uint32_t)v->queue_id >= t.queue_cap || v->queue_offset < 0) {
        rmq_actor_count(d->self, DP_C_SKIPPED, 1); /* topic deleted since */
        d->store_ms = v->store_ts;
        return 0;
    }
    if (rmq_cq_cache_get(&d->cqs, v->topic, v->topic_len, v->queue_id, &cq) !=
        0) {
        return RMQ_ERR_SYS;
    }
    e.offset = phys;
    e.size = (int32_t)v->total_size;
    e.tags_code = rmq_rec_tags_code(v, b->delay_level_ms, b->delay_level_count);
    if (rmq_cq_put(cq, v->queue_offset, &e) != 0) {
        return RMQ_ERR_SYS;
    }
    d->store_ms = v->store_ts;
    qd = &d->ctl->qd[t.queue_base + (uint32_t)v->queue_id];
    atomic_store_explicit(&qd->last_store_ms, v->store_ts,
                          memory_order_relaxed);
    if (atomic_load_explicit(&qd->max_offset, memory_order_relaxed) <=
        v->queue_offset) {
        atomic_store_explicit(&qd->max_offset, v->queue_offset + 1,
                              memory_order_release);
        dp_note_growth(d, (uint32_t)idx, v->queue_id, v->queue_offset + 1);
    }
    rmq_actor_count(d->self, DP_C_RECORDS, 1);
    return 0;
}

/* One bounded pass; returns true when it stopped before catching up. */
static bool
dp_pass(struct dp *d)
{
    int64_t written =
        atomic_load_explicit(&d->pos->cl_written, memory_order_acquire);
    rmq_rec_view v;
    int64_t      phys;
    int          n = 0;
    int          rc = 0;

    d->it.end = written;
    while (n < DP_PASS_RECORDS &&
           (rc = rmq_cl_iter_next(&d->it, &v, &phys)) == 0) {
        if (dp_record(d, &v, phys) != 0) {
            /* try this record again after a pause: never skip it */
            d->it.pos = phys;
            d->stalled = true;
            rmq_log(RMQ_LOG_ERR, "dispatch.put",
                    "could not write the consume-queue entry of %.*s/%d "
                    "(disk full?): retrying in 1 s",
                    (int)v.topic_len, v.topic, v.queue_id);
            break;
        }
        n++;
    }
    if (rc != 0 && rc != RMQ_ERR_AGAIN) {
        rmq_log(RMQ_LOG_ERR, "dispatch.read",
                "cannot read the commit log at %lld: %s", (long long)d->it.pos,
                rmq_strerror(rc));
    }
    atomic_store(&d->pos->dispatched_store_ms, d->store_ms);
    atomic_store_explicit(&d->pos->dispatched, d->it.pos, memory_order_release);
    rmq_actor_gauge(d->self, DP_C_BEHIND,
                    (uint64_t)RMQ_MAX(written - d->it.pos, 0));
    dp_announce(d);
    if (d->it.pos - d->released >= (INT64_C(64) << 20)) {
        /* read once: keep the resident size at the working set */
        rmq_mfq_release(&d->cl.q, d->released, d->it.pos);
        d->released = d->it.pos;
    }
    return n == DP_PASS_RECORDS;
}

/*
 * A deleted topic's messages must not come back if it is created again:
 * its queues' windows become empty (min = max) when it is deleted, and a
 * revived topic continues from there (its queue offsets keep growing).
 */
static void
dp_watch_topics(struct dp *d)
{
    uint64_t gen = atomic_load(&d->pos->topics_gen);

    if (gen == d->topics_gen) {
        return;
    }
    d->topics_gen = gen;
    for (int i = 0; i < RMQ_TOPIC_MAX && d->ctl->topics[i].state; i++) {
        rmq_topic_entry t;
        if (!rmq_ctl_topic_read(d->ctl, i, &t)) {
            break;
        }
        if (t.state == RMQ_TOPIC_DELETED && d->seen[i] == RMQ_TOPIC_LIVE) {
            for (uint32_t q = 0; q < t.queue_cap; q++) {
                rmq_queue_d *qd = &d->ctl->qd[t.queue_base + q];
                atomic_store(&qd->min_offset, atomic_load(&qd->max_offset));
                rmq_cq_cache_drop(&d->cqs, t.name, strlen(t.name), (int32_t)q);
            }
            rmq_cq_remove_topic(d->self->cfg.broker.store_root, t.name);
            rmq_log(RMQ_LOG_INFO, "dispatch.delete",
                    "topic %s deleted: its consume queues are removed", t.name);
        }
        d->seen[i] = (uint8_t)t.state;
    }
}

static int
dp_init(rmq_actor *self, struct dp *d)
{
    const rmq_broker_config *b = &self->cfg.broker;
    char                     dir[RMQ_CONFIG_PATH_MAX + 16];
    rmq_cl_opts              o = {dir, b->commitlog_file_size, false, 0, false};
    rmq_cq_cache_opts        co = {b->store_root, b->cq_file_size, true, 0};
    int64_t                  from;

    memset(d, 0, sizeof(*d));
    d->self = self;
    d->ctl = &self->ctl;
    d->pos = self->ctl.pos;
    rmq_buf_init(&d->enc);
    if (atomic_load(&d->pos->store_gen) != self->ctl.hdr->generation) {
        rmq_log(RMQ_LOG_ERR, "dispatch.start", "the store is not open yet");
        return RMQ_ERR_AGAIN;
    }
    snprintf(dir, sizeof(dir), "%s/%s", b->store_root, RMQ_CL_DIR);
    if (rmq_cl_open(&d->cl, &o) != 0 || rmq_cq_cache_init(&d->cqs, &co) != 0) {
        return RMQ_ERR_SYS;
    }
    from = atomic_load(&d->pos->dispatched);
    if (from < 0) {
        from = atomic_load(&d->pos->dispatch_from);
    }
    rmq_log(RMQ_LOG_INFO, "dispatch.start", "dispatching from %lld",
            (long long)from);
    rmq_cl_iter_init(&d->it, &d->cl, from, from, false);
    /* topics deleted before this dispatcher started are empty already */
    d->topics_gen = UINT64_MAX;
    for (int i = 0; i < RMQ_TOPIC_MAX; i++) {
        d->seen[i] = (uint8_t)self->ctl.topics[i].state;
    }
    if (rmq_ipc_open(&d->written, RMQ_IPC_SUB, self->run_dir, "clwriter",
                     "pub") ||
        rmq_ipc_open(&d->pub, RMQ_IPC_PUB, self->run_dir, "dispatcher",
                     "pub")) {
        return RMQ_ERR_SYS;
    }
    return 0;
}

static void
dp_drain_events(struct dp *d)
{
    nng_msg *m;

    while (rmq_ipc_recv(&d->written, &m) == 0) {
        nng_msg_free(m); /* a wakeup: the position itself is in shm */
    }
}

void
rmq_dispatcher_main(rmq_actor *self)
{
    static struct dp d;
    bool             more = false;

    if (dp_init(self, &d) != 0) {
        rmq_actor_exit(self, RMQ_EXIT_TRANSIENT);
    }
    /* catch up before serving: readers should see what recovery kept */
    while (dp_pass(&d) && !d.stalled) {
        rmq_actor_tick(self);
    }
    rmq_actor_ready(self);
    while (!self->stop_requested) {
        struct pollfd pf = {.fd = d.written.recv_fd, .events = POLLIN};

        rmq_actor_clear_wakeup(self);
        if (self->reload_requested) {
            rmq_actor_reload(self);
        }
        dp_drain_events(&d);
        dp_watch_topics(&d);
        more = dp_pass(&d);
        if (d.stalled) {
            d.stalled = false;
            rmq_actor_wait(self, rmq_mono_ms() + 1000, NULL, 0);
        } else if (!more) {
            rmq_actor_wait(self, rmq_mono_ms() + DP_POLL_MS, &pf, 1);
        } else {
            rmq_actor_tick(self);
        }
    }
    while (dp_pass(&d) && !d.stalled) {
        /* drain what was written before we were asked to stop */
    }
    rmq_cq_cache_fini(&d.cqs);
    rmq_cl_close(&d.cl);
    rmq_actor_exit(self, RMQ_EXIT_OK);
}
