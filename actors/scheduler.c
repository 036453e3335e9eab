/*
 * scheduler.c - the scheduler actor: delivers delayed messages
 * (spec/store-format.md 13, Java's ScheduleMessageService).
 *
 * A message sent with DELAY=n is stored in SCHEDULE_TOPIC_XXXX queue n-1
 * (broker/delay.h); the dispatcher gives its consume-queue entry the
 * delivery time as tagsCode.  For each level the scheduler walks that
 * queue from its progress offset up to the max offset the dispatcher
 * publishes.  When an entry is due (its delivery time, corrected to now
 * when it lies further ahead than one full level delay, is not in the
 * future) it reads the record, rebuilds it for its real topic and queue
 * (rmq_delay_unwrap) straight into its put ring and puts it through
 * clwriter (broker/put.h); results come back on scheduler.in.  Only an OK
 * result advances the level's offset.  Each level keeps at most ONE put in
 * flight, and levels proceed in parallel: a crash can therefore repeat at
 * most the one in-flight message of each level, and loses none.  Entries
 * that are not due yet are looked at again when they are (waits are capped
 * at 100 ms, which is also how often new entries are noticed).  A put that
 * fails because clwriter restarted is retried; a record that cannot be
 * read or rebuilt is logged with its offset and skipped.
 *
 * Start: the store must be open in this generation (clwriter starts
 * first).  When the control segment already holds this generation's
 * progress (delay_gen: only the scheduler restarted) it resumes from
 * delay_offset[]; otherwise it loads <storeRoot>/config/delayOffset.json
 * (missing: all 0; bare or quoted integer keys) and publishes it.
 *
 * Stop: waits briefly for the puts in flight, then saves delayOffset.json
 * (also saved every flushDelayOffsetInterval while offsets move).  A crash
 * of the whole broker loses the control segment: the next start repeats
 * what was delivered since the last save, as Java does.
 *
 * Shared data: writes the scheduler group of rmq_store_pos (delay_offset[]
 * with release stores, delay_gen, delay_pending) and its own put ring
 * <runDir>/ring.scheduler; reads the topic table, the queue windows, the
 * commit log and the schedule topic's consume queues (read-only maps).
 */
#include "actors/actors.h"

#include "broker/delay.h"
#include "broker/host.h"
#include "broker/put.h"
#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "net/ipc.h"
#include "proto/catalog.h"
#include "store/commitlog.h"
#include "store/cq.h"
#include "store/jsonfile.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SCH_POLL_MS 100  /* longest wait: new entries are seen this fast */
#define SCH_RETRY_MS 200 /* after a put lost to a clwriter restart */
#define SCH_ERROR_WAIT_MS 1000  /* after a store error: do not flood the log */
#define SCH_MARGIN_MS 1000      /* beyond one level delay, a time is bogus */
#define SCH_SKIP_MAX 256        /* entries skipped per level and pass */
#define SCH_STOP_WAIT_MS 1000   /* at stop, for results of puts in flight */
#define SCH_PUT_TIMEOUT_MS 5000 /* an unanswered put is put again */
#define SCH_LEVELS RMQ_DELAY_LEVEL_MAX
#define SCH_DELAY_FILE "delayOffset.json"

enum {
    SCH_C_DELIVERED,
    SCH_C_PENDING,
    SCH_C_SKIPPED,
    SCH_C_RETRIES,
    SCH_C_ERRORS,
};

/* What one look at a level's next entry led to. */
enum sch_step {
    SCH_STEP_IDLE, /* nothing to do now: no entry, not due, or waiting */
    SCH_STEP_SKIP, /* the entry was skipped: look at the next one */
    SCH_STEP_SENT, /* a put is in flight */
};

struct sch_level {
    int      level; /* 1-based; queue level-1 of the schedule topic */
    int64_t  delay_ms;
    rmq_cq   cq;
    bool     cq_open;
    int64_t  offset;     /* next entry to deliver == delay_offset[level-1] */
    bool     inflight;   /* the put of entry `offset` awaits its result */
    uint32_t put_seq;    /* which put of this level the result must name */
    int64_t  sent_mono;  /* when it was queued */
    int64_t  phys;       /* commit-log offset of that entry, for logs */
    int64_t  retry_mono; /* no new attempt before this (monotonic ms) */
    int64_t  due_ms; /* wall-clock due time of the entry at offset; 0 none */
};

struct sch {
    rmq_actor       *self;
    rmq_ctl         *ctl;
    rmq_store_pos   *pos;
    rmq_cl           cl;
    rmq_putc         putc;
    rmq_host         host;
    int              nlevels; /* levels walked */
    struct sch_level lv[SCH_LEVELS];
    rmq_topic_entry  sched; /* the schedule topic, re-read every pass */
    int              sched_idx;
    char             json_path[RMQ_CONFIG_PATH_MAX + 64];
    bool             dirty;        /* offsets moved since the last save */
    int64_t          next_save_ms; /* monotonic */
    int64_t          next_check_ms;
    rmq_delay_msg    dm;
};

/* ---- progress --------------------------------------------------------- */

static void
sch_publish(struct sch *s, struct sch_level *l)
{
    atomic_store_explicit(&s->pos->delay_offset[l->level - 1], l->offset,
                          memory_order_release);
    s->dirty = true;
}

/* The entry at l->offset is done with (delivered or skipped). */
static void
sch_advance(struct sch *s, struct sch_level *l)
{
    l->offset++;
    l->due_ms = 0;
    sch_publish(s, l);
}

static int
sch_save(struct sch *s)
{
    json_t *table = json_object();
    json_t *root = json_pack("{s:o}", "offsetTable", table);
    int     rc;

    if (root == NULL) {
        return RMQ_ERR_NOMEM;
    }
    for (int i = 0; i < SCH_LEVELS; i++) {
        int64_t off = atomic_load(&s->pos->delay_offset[i]);
        char    key[12];

        /* levels beyond ours keep what the file said (Java keeps them) */
        if (i < s->nlevels || off != 0) {
            snprintf(key, sizeof(key), "%d", i + 1);
            json_object_set_new(table, key, json_integer((json_int_t)off));
        }
    }
    rc = rmq_jsonfile_save(s->json_path, root);
    json_decref(root);
    if (rc != 0) {
        rmq_log(RMQ_LOG_WARN, "sched.save", "could not save \"%s\": %s",
                s->json_path, rmq_strerror(rc));
        return rc;
    }
    s->dirty = false;
    return 0;
}

static void
sch_maybe_save(struct sch *s, int64_t now)
{
    if (now < s->next_save_ms) {
        return;
    }
    s->next_save_ms = now + s->self->cfg.broker.flush_delay_offset_interval_ms;
    if (s->dirty) {
        sch_save(s);
    }
}

/* One "level": offset pair of the offsetTable into delay_offset[]. */
static void
sch_load_entry(struct sch *s, const char *key, const json_t *val)
{
    int32_t level;

    if (rmq_parse_i32(key, &level) != 0 || level < 1 || level > SCH_LEVELS ||
        !json_is_integer(val) || json_integer_value(val) < 0) {
        rmq_log(RMQ_LOG_WARN, "sched.load",
                "ignoring entry \"%s\" of %s: not a level and an offset", key,
                SCH_DELAY_FILE);
        return;
    }
    atomic_store(&s->pos->delay_offset[level - 1],
                 (int64_t)json_integer_value(val));
}

/* Full start: delayOffset.json into delay_offset[] (missing file: all 0). */
static int
sch_load(struct sch *s)
{
    json_t     *root = NULL;
    json_t     *table;
    const char *key;
    json_t     *val;
    int         rc;

    for (int i = 0; i < SCH_LEVELS; i++) {
        atomic_store(&s->pos->delay_offset[i], 0);
    }
    rc = rmq_jsonfile_load(s->json_path, &root);
    if (rc == RMQ_ERR_NOTFOUND) {
        rmq_log(RMQ_LOG_INFO, "sched.load",
                "no %s: every level starts at offset 0", SCH_DELAY_FILE);
        return 0;
    }
    if (rc != 0) {
        rmq_log(RMQ_LOG_ERR, "sched.load",
                "cannot load \"%s\" (nor its .bak): %s; fix or remove it",
                s->json_path, rmq_strerror(rc));
        return RMQ_ERR_CORRUPT;
    }
    table = json_object_get(root, "offsetTable");
    if (table != NULL && !json_is_object(table)) {
        rmq_log(RMQ_LOG_WARN, "sched.load",
                "offsetTable of \"%s\" is not an object: ignored",
                s->json_path);
        table = NULL;
    }
    json_object_foreach(table, key, val)
    {
        sch_load_entry(s, key, val);
    }
    json_decref(root);
    return 0;
}

/* ---- the schedule topic and its queues ------------------------------- */

/* Re-read the schedule topic; false while it does not exist. */
static bool
sch_refresh_topic(struct sch *s)
{
    if (s->sched_idx >= 0 &&
        rmq_ctl_topic_read(s->ctl, s->sched_idx, &s->sched) &&
        s->sched.state == RMQ_TOPIC_LIVE) {
        return true;
    }
    s->sched_idx = rmq_ctl_topic_find(
        s->ctl, RMQ_SCHEDULE_TOPIC, sizeof(RMQ_SCHEDULE_TOPIC) - 1, &s->sched);
    return s->sched_idx >= 0 && s->sched.state == RMQ_TOPIC_LIVE;
}

/* The published window of a level's queue; false when it has none. */
static bool
sch_window(const struct sch *s, const struct sch_level *l, int64_t *min,
           int64_t *max)
{
    const rmq_queue_d *qd;

    if (s->sched_idx < 0 || (uint32_t)l->level > s->sched.queue_cap) {
        return false;
    }
    qd = &s->ctl->qd[s->sched.queue_base + (uint32_t)(l->level - 1)];
    *max = atomic_load_explicit(&qd->max_offset, memory_order_acquire);
    *min = atomic_load_explicit(&qd->min_offset, memory_order_relaxed);
    return true;
}

/*
 * Full start only: progress from a file may point past what the store
 * holds (a commit-log tail cut by recovery, a file from another store);
 * new messages would get those offsets again and be skipped.
 */
static void
sch_clamp_to_store(struct sch *s)
{
    for (int i = 0; i < s->nlevels; i++) {
        struct sch_level *l = &s->lv[i];
        int64_t           min, max;

        if (sch_window(s, l, &min, &max) && l->offset > max) {
            rmq_log(RMQ_LOG_WARN, "sched.clamp",
                    "level %d: saved offset %lld is past the queue end %lld; "
                    "continuing there",
                    l->level, (long long)l->offset, (long long)max);
            l->offset = max;
            sch_publish(s, l);
        }
    }
}

static int
sch_open_queues(struct sch *s)
{
    const rmq_broker_config *b = &s->self->cfg.broker;

    for (int i = 0; i < s->nlevels; i++) {
        struct sch_level *l = &s->lv[i];
        int rc = rmq_cq_open(&l->cq, b->store_root, RMQ_SCHEDULE_TOPIC,
                             sizeof(RMQ_SCHEDULE_TOPIC) - 1, l->level - 1,
                             b->cq_file_size, false);
        if (rc != 0) {
            rmq_log(RMQ_LOG_ERR, "sched.start",
                    "cannot open the consume queue of level %d: %s", l->level,
                    rmq_strerror(rc));
            return rc;
        }
        l->cq_open = true;
    }
    return 0;
}

/* ---- delivering one entry --------------------------------------------- */

/* Log why the entry at l->offset is skipped, and skip it. */
static enum sch_step
sch_skip(struct sch *s, struct sch_level *l, int64_t phys, const char *msgid,
         const char *why)
{
    rmq_log(RMQ_LOG_ERR, msgid,
            "skipping level %d offset %lld (commit log %lld): %s", l->level,
            (long long)l->offset, (long long)phys, why);
    rmq_actor_count(s->self, SCH_C_SKIPPED, 1);
    sch_advance(s, l);
    return SCH_STEP_SKIP;
}

/* The schedule record of entry e, decoded in place. */
static int
sch_read_record(struct sch *s, const rmq_cq_entry *e, rmq_rec_view *v)
{
    int64_t written =
        atomic_load_explicit(&s->pos->cl_written, memory_order_acquire);
    int rc = rmq_cl_read(&s->cl, e->offset, written, false, v);

    if (rc != 0) {
        return rc;
    }
    if (v->kind != RMQ_REC_MSG || v->total_size != (uint32_t)e->size ||
        v->topic_len != sizeof(RMQ_SCHEDULE_TOPIC) - 1 ||
        memcmp(v->topic, RMQ_SCHEDULE_TOPIC, v->topic_len) != 0) {
        return RMQ_ERR_CORRUPT;
    }
    return 0;
}

/* A put's cookie names its level and which put of the level it is. */
static uint64_t
sch_cookie(const struct sch_level *l)
{
    return ((uint64_t)l->put_seq << 8) | (uint64_t)(l->level - 1);
}

/* Encode the rebuilt message into the ring and queue its put. */
static enum sch_step
sch_put(struct sch *s, struct sch_level *l, int64_t phys, uint32_t topic_idx)
{
    uint32_t size, len;
    uint8_t *dst;
    int      rc;

    rc = rmq_rec_size(&s->dm.msg, &size);
    if (rc != 0) {
        return sch_skip(s, l, phys, "sched.rebuild", rmq_strerror(rc));
    }
    dst = rmq_putc_reserve(&s->putc, size, &rc);
    if (dst == NULL && rc == RMQ_ERR_FULL) {
        l->retry_mono = rmq_mono_ms() + 10; /* room comes with results */
        return SCH_STEP_IDLE;
    }
    if (dst == NULL) {
        return sch_skip(s, l, phys, "sched.rebuild", "too big for the ring");
    }
    rc = rmq_rec_encode(&s->dm.msg, dst, size, &len);
    l->put_seq++;
    if (rc == 0) {
        rc = rmq_putc_add(&s->putc, topic_idx, s->dm.msg.queue_id, 0,
                          sch_cookie(l));
    }
    if (rc != 0) {
        rmq_putc_unreserve(&s->putc);
        l->retry_mono = rmq_mono_ms() + SCH_RETRY_MS;
        return SCH_STEP_IDLE;
    }
    l->inflight = true;
    l->phys = phys;
    l->sent_mono = rmq_mono_ms();
    return SCH_STEP_SENT;
}

/* Read, rebuild and put the due entry e. */
static enum sch_step
sch_deliver(struct sch *s, struct sch_level *l, const rmq_cq_entry *e)
{
    rmq_topic_entry t;
    rmq_rec_view    v;
    int             idx, rc;

    rc = sch_read_record(s, e, &v);
    if (rc == RMQ_ERR_AGAIN) {
        l->retry_mono = rmq_mono_ms() + SCH_RETRY_MS; /* not written yet?! */
        return SCH_STEP_IDLE;
    }
    if (rc != 0) {
        return sch_skip(s, l, e->offset, "sched.read", rmq_strerror(rc));
    }
    rc = rmq_delay_unwrap(&v, &s->host, &s->dm);
    if (rc == RMQ_ERR_PERM) {
        return sch_skip(s, l, e->offset, "sched.drop",
                        "its real topic is the transaction half topic");
    }
    if (rc != 0) {
        return sch_skip(s, l, e->offset, "sched.rebuild",
                        rc == RMQ_ERR_NOTFOUND
                            ? "no REAL_TOPIC or REAL_QID property"
                            : "bad REAL_TOPIC or REAL_QID property");
    }
    idx = rmq_ctl_topic_find(s->ctl, s->dm.msg.topic, s->dm.msg.topic_len, &t);
    if (idx < 0 || t.state != RMQ_TOPIC_LIVE ||
        (uint32_t)s->dm.msg.queue_id >= t.queue_cap) {
        return sch_skip(s, l, e->offset, "sched.topic",
                        "its real topic or queue does not exist");
    }
    return sch_put(s, l, e->offset, (uint32_t)idx);
}

/* The delivery time of an entry, as Java corrects it. */
static int64_t
sch_due(const struct sch_level *l, int64_t tags_code, int64_t now)
{
    return tags_code > now + l->delay_ms + SCH_MARGIN_MS ? now : tags_code;
}

/*
 * A put clwriter never answers: its batch was lost on the way (sent into
 * the connection of a clwriter that had just died, say) while the
 * clwriter it was addressed to lives on, so rmq_putc_check never fails
 * it.  Put the entry again; the old put stays with rmq_putc, and a later
 * answer to it is ignored (its cookie is stale).  If it was only slow,
 * the message is stored twice: a repeat, never a loss.
 */
static void
sch_check_stuck(struct sch *s, struct sch_level *l, int64_t now_mono)
{
    if (!l->inflight || now_mono - l->sent_mono < SCH_PUT_TIMEOUT_MS) {
        return;
    }
    rmq_log(RMQ_LOG_WARN, "sched.resend",
            "no answer for level %d offset %lld after %lld ms; putting it "
            "again",
            l->level, (long long)l->offset,
            (long long)(now_mono - l->sent_mono));
    rmq_actor_count(s->self, SCH_C_RETRIES, 1);
    l->inflight = false;
}

/* Look at the entry at l->offset: skip it, put it, or wait for it. */
static enum sch_step
sch_step(struct sch *s, struct sch_level *l, int64_t now_mono)
{
    rmq_cq_entry e;
    int64_t      min, max, due, now;
    int          rc;

    l->due_ms = 0;
    sch_check_stuck(s, l, now_mono);
    if (l->inflight || now_mono < l->retry_mono ||
        !sch_window(s, l, &min, &max)) {
        return SCH_STEP_IDLE;
    }
    if (l->offset < min) {
        rmq_log(RMQ_LOG_WARN, "sched.skip",
                "level %d: entries %lld..%lld were deleted before delivery",
                l->level, (long long)l->offset, (long long)min - 1);
        l->offset = min;
        sch_publish(s, l);
    }
    if (l->offset >= max) {
        return SCH_STEP_IDLE;
    }
    rc = rmq_cq_get(&l->cq, l->offset, &e);
    if (rc != 0) {
        rmq_log(RMQ_LOG_ERR, "sched.cq",
                "could not read level %d offset %lld: %s", l->level,
                (long long)l->offset, rmq_strerror(rc));
        rmq_actor_count(s->self, SCH_C_ERRORS, 1);
        l->retry_mono = now_mono + SCH_ERROR_WAIT_MS;
        return SCH_STEP_IDLE;
    }
    if (rmq_cq_entry_is_placeholder(&e)) {
        sch_advance(s, l); /* not a message */
        return SCH_STEP_SKIP;
    }
    if (!rmq_cq_entry_is_valid(&e)) {
        return sch_skip(s, l, e.offset, "sched.cq", "invalid entry");
    }
    now = rmq_now_ms();
    due = sch_due(l, e.tags_code, now);
    if (due > now) {
        l->due_ms = due;
        return SCH_STEP_IDLE;
    }
    return sch_deliver(s, l, &e);
}

static void
sch_run_levels(struct sch *s)
{
    int64_t now = rmq_mono_ms();

    for (int i = 0; i < s->nlevels; i++) {
        for (int n = 0; n < SCH_SKIP_MAX; n++) {
            if (sch_step(s, &s->lv[i], now) != SCH_STEP_SKIP) {
                break;
            }
        }
    }
    if (rmq_putc_has_pending(&s->putc)) {
        rmq_putc_flush(&s->putc); /* AGAIN: no clwriter now; next pass */
    }
}

/* ---- results ---------------------------------------------------------- */

static void
sch_on_done(void *arg, uint64_t cookie, const rmq_put_res *res)
{
    struct sch       *s = arg;
    int               i = (int)(cookie & 0xff);
    struct sch_level *l;

    if (i >= s->nlevels || !s->lv[i].inflight ||
        (uint32_t)(cookie >> 8) != s->lv[i].put_seq) {
        return; /* an older put of the level: given up on */
    }
    l = &s->lv[i];
    l->inflight = false;
    switch (res->status) {
    case RMQ_PUT_OK:
    case RMQ_PUT_FLUSH_TIMEOUT: /* stored */
        rmq_actor_count(s->self, SCH_C_DELIVERED, 1);
        sch_advance(s, l);
        break;
    case RMQ_PUT_NO_TOPIC:
    case RMQ_PUT_BAD_RECORD:
        rmq_actor_count(s->self, SCH_C_ERRORS, 1);
        sch_skip(s, l, l->phys, "sched.deliver",
                 res->status == RMQ_PUT_NO_TOPIC
                     ? "clwriter says the real topic or queue does not exist"
                     : "clwriter refused the record");
        break;
    case RMQ_PUT_STORE_ERROR:
        rmq_log(RMQ_LOG_ERR, "sched.deliver",
                "could not store level %d offset %lld; retrying", l->level,
                (long long)l->offset);
        rmq_actor_count(s->self, SCH_C_ERRORS, 1);
        l->retry_mono = rmq_mono_ms() + SCH_ERROR_WAIT_MS;
        break;
    default: /* clwriter restarted: the put may or may not have landed */
        rmq_actor_count(s->self, SCH_C_RETRIES, 1);
        l->retry_mono = rmq_mono_ms() + SCH_RETRY_MS;
        break;
    }
}

static void
sch_drain_results(struct sch *s)
{
    rmq_putc_poll(&s->putc, sch_on_done, s);
    if (rmq_mono_ms() >= s->next_check_ms) {
        rmq_putc_check(&s->putc, sch_on_done, s);
        s->next_check_ms = rmq_mono_ms() + SCH_POLL_MS;
    }
}

/* ---- the loop ----------------------------------------------------------- */

static void
sch_gauge(struct sch *s)
{
    int64_t pending = 0;

    for (int i = 0; i < s->nlevels; i++) {
        int64_t min, max;

        if (sch_window(s, &s->lv[i], &min, &max) && max > s->lv[i].offset) {
            pending += max - s->lv[i].offset;
        }
    }
    atomic_store_explicit(&s->pos->delay_pending, pending,
                          memory_order_relaxed);
    rmq_actor_gauge(s->self, SCH_C_PENDING, (uint64_t)pending);
}

/* Monotonic deadline of the next pass: a due time, a retry, a save. */
static int64_t
sch_deadline(const struct sch *s)
{
    int64_t now = rmq_mono_ms();
    int64_t wall = rmq_now_ms();
    int64_t d = now + SCH_POLL_MS;

    if (rmq_putc_has_pending(&s->putc)) {
        d = now + 10; /* clwriter was not there: try again soon */
    }
    for (int i = 0; i < s->nlevels; i++) {
        const struct sch_level *l = &s->lv[i];
        if (l->due_ms > 0) {
            d = RMQ_MIN(d, now + RMQ_MAX(l->due_ms - wall, 0));
        }
        if (!l->inflight && l->retry_mono > now) {
            d = RMQ_MIN(d, l->retry_mono);
        }
    }
    return RMQ_MIN(d, s->next_save_ms);
}

/* Stop: give the puts in flight a moment to land, so none is repeated. */
static void
sch_finish_inflight(rmq_actor *self, struct sch *s)
{
    int64_t end = rmq_mono_ms() + SCH_STOP_WAIT_MS;

    rmq_putc_flush(&s->putc);
    while (rmq_putc_inflight(&s->putc) > 0 && rmq_mono_ms() < end) {
        struct pollfd pf = {.fd = rmq_putc_fd(&s->putc), .events = POLLIN};

        rmq_actor_clear_wakeup(self); /* the stop signal left it readable */
        rmq_actor_wait(self, RMQ_MIN(end, rmq_mono_ms() + 20), &pf, 1);
        sch_drain_results(s);
    }
}

/* ---- start and stop ----------------------------------------------------- */

static void
sch_init_levels(struct sch *s)
{
    const rmq_broker_config *b = &s->self->cfg.broker;

    s->nlevels = RMQ_MIN(b->delay_level_count, SCH_LEVELS);
    if (s->sched_idx >= 0 && (uint32_t)s->nlevels > s->sched.queue_cap) {
        rmq_log(RMQ_LOG_WARN, "sched.start",
                "%s has %u queues for %d delay levels: levels above %u are "
                "not delivered",
                RMQ_SCHEDULE_TOPIC, s->sched.queue_cap, s->nlevels,
                s->sched.queue_cap);
    }
    for (int i = 0; i < s->nlevels; i++) {
        s->lv[i].level = i + 1;
        s->lv[i].delay_ms = b->delay_level_ms[i];
        s->lv[i].offset = atomic_load(&s->pos->delay_offset[i]);
    }
}

/* Progress: resume from the segment, or load the file (full start). */
static int
sch_init_progress(struct sch *s)
{
    uint64_t gen = s->ctl->hdr->generation;
    int      rc;

    if (atomic_load_explicit(&s->pos->delay_gen, memory_order_acquire) == gen) {
        sch_init_levels(s);
        rmq_log(RMQ_LOG_INFO, "sched.resume",
                "resuming %d levels from the control segment", s->nlevels);
        return 0;
    }
    rc = sch_load(s);
    if (rc != 0) {
        return rc;
    }
    sch_init_levels(s);
    sch_clamp_to_store(s);
    atomic_store_explicit(&s->pos->delay_gen, gen, memory_order_release);
    return 0;
}

static int
sch_open(rmq_actor *self, struct sch *s)
{
    const rmq_broker_config *b = &self->cfg.broker;
    char                     dir[RMQ_CONFIG_PATH_MAX + 16];
    rmq_cl_opts o = {.dir = dir, .file_size = b->commitlog_file_size};
    size_t      ring = (size_t)RMQ_MAX(b->put_ring_bytes,
                                       2 * ((int64_t)b->max_message_size + 65536));
    int         rc;

    snprintf(dir, sizeof(dir), "%s/%s", b->store_root, RMQ_CL_DIR);
    if (rmq_cl_open(&s->cl, &o) != 0) {
        return RMQ_ERR_SYS;
    }
    rc = rmq_putc_open(&s->putc, s->ctl, self->run_dir, self->id, ring, 30000);
    /*
     * Batch numbers must not repeat those of a previous scheduler, or a
     * late answer to its last batch would be taken for one of ours.
     */
    s->putc.next_seq = (uint64_t)rmq_now_ms() * 1000;
    return rc;
}

static int
sch_init(rmq_actor *self, struct sch *s)
{
    const rmq_broker_config *b = &self->cfg.broker;
    int                      rc;

    memset(s, 0, sizeof(*s));
    s->self = self;
    s->ctl = &self->ctl;
    s->pos = self->ctl.pos;
    s->sched_idx = -1;
    snprintf(s->json_path, sizeof(s->json_path), "%s/config/%s", b->store_root,
             SCH_DELAY_FILE);
    if (atomic_load(&s->pos->store_gen) != s->ctl->hdr->generation) {
        rmq_log(RMQ_LOG_ERR, "sched.start", "the store is not open yet");
        return RMQ_ERR_AGAIN;
    }
    rc = rmq_host_resolve(b, &s->host);
    if (rc == 0) {
        rc = sch_open(self, s);
    }
    if (rc != 0) {
        return rc;
    }
    sch_refresh_topic(s);
    rc = sch_init_progress(s);
    if (rc == 0) {
        rc = sch_open_queues(s);
    }
    return rc;
}

static void
sch_log_start(const struct sch *s)
{
    char   text[512];
    size_t n = 0;

    text[0] = '\0';
    for (int i = 0; i < s->nlevels && n < sizeof(text) - 32; i++) {
        n += (size_t)snprintf(text + n, sizeof(text) - n, "%s%d:%lld",
                              i ? " " : "", s->lv[i].level,
                              (long long)s->lv[i].offset);
    }
    rmq_log(RMQ_LOG_INFO, "sched.start", "delivering %d levels from offsets %s",
            s->nlevels, text);
}

static void
sch_fini(struct sch *s)
{
    for (int i = 0; i < s->nlevels; i++) {
        if (s->lv[i].cq_open) {
            rmq_cq_close(&s->lv[i].cq);
        }
    }
    rmq_putc_close(&s->putc);
    rmq_cl_close(&s->cl);
}

void
rmq_scheduler_main(rmq_actor *self)
{
    static struct sch s; /* large (the rebuild buffer): not on the stack */
    int               rc;

    rc = sch_init(self, &s);
    if (rc != 0) {
        rmq_actor_exit(self, rc == RMQ_ERR_CONFIG || rc == RMQ_ERR_CORRUPT
                                 ? RMQ_EXIT_FATAL
                                 : RMQ_EXIT_TRANSIENT);
    }
    sch_log_start(&s);
    s.next_save_ms =
        rmq_mono_ms() + self->cfg.broker.flush_delay_offset_interval_ms;
    rmq_actor_ready(self);
    while (!self->stop_requested) {
        struct pollfd pf = {.fd = -1, .events = POLLIN};

        rmq_actor_clear_wakeup(self);
        if (self->reload_requested) {
            rmq_actor_reload(self);
        }
        sch_drain_results(&s);
        sch_refresh_topic(&s);
        sch_run_levels(&s);
        sch_gauge(&s);
        sch_maybe_save(&s, rmq_mono_ms());
        pf.fd = rmq_putc_fd(&s.putc); /* results of the puts */
        rmq_actor_wait(self, sch_deadline(&s), &pf, 1);
    }
    sch_finish_inflight(self, &s);
    sch_gauge(&s);
    sch_save(&s);
    rmq_log(RMQ_LOG_INFO, "sched.stop", "stopped; %lld delayed messages wait",
            (long long)atomic_load(&s.pos->delay_pending));
    sch_fini(&s);
    rmq_actor_exit(self, RMQ_EXIT_OK);
}
