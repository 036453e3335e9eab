/*
 * topics.c - clwriter's side of the topic table (see topics.h): entries,
 * hash index and queue slots in the control segment, and topics.json.
 * Only clwriter calls these; every other process only reads the table.
 */
#include "store/topics.h"

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "store/jsonfile.h"
#include "store/record.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool
rmq_topic_name_valid(const char *name, size_t len)
{
    if (len == 0 || len >= RMQ_TOPIC_NAME_MAX) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        char c = name[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '%' || c == '|' || c == '_' ||
              c == '-')) {
            return false;
        }
    }
    return true;
}

void
rmq_topic_conf_default(rmq_topic_conf *c, const char *name)
{
    memset(c, 0, sizeof(*c));
    rmq_strlcpy(c->name, name, sizeof(c->name));
    c->read_queues = RMQ_TOPIC_QUEUES_DEFAULT;
    c->write_queues = RMQ_TOPIC_QUEUES_DEFAULT;
    c->perm = RMQ_TOPIC_PERM_DEFAULT;
}

/* Seqlock writer: odd while the entry is being changed. */
static void
topics_begin(rmq_topic_entry *e)
{
    uint32_t s = atomic_load_explicit(&e->seq, memory_order_relaxed);

    atomic_store_explicit(&e->seq, s + 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
}

static void
topics_end(rmq_topic_entry *e)
{
    uint32_t s = atomic_load_explicit(&e->seq, memory_order_relaxed);

    atomic_store_explicit(&e->seq, s + 1, memory_order_release);
}

static int
topics_range_cmp(const void *a, const void *b)
{
    const uint32_t *x = a, *y = b;

    return x[0] < y[0] ? -1 : x[0] > y[0];
}

/*
 * First run of need free slots, skipping entry self and, unless
 * with_deleted, deleted topics' slots.  Returns the base or -1.
 */
static int64_t
topics_find_slots(const rmq_ctl *ctl, uint32_t need, int self,
                  bool with_deleted)
{
    static uint32_t used[RMQ_TOPIC_MAX][2]; /* clwriter is one thread */
    uint32_t        n = 0, at = 0;

    for (int i = 0; i < RMQ_TOPIC_MAX; i++) {
        const rmq_topic_entry *e = &ctl->topics[i];

        if (i == self || e->queue_cap == 0 || e->state == RMQ_TOPIC_FREE ||
            (!with_deleted && e->state == RMQ_TOPIC_DELETED)) {
            continue;
        }
        used[n][0] = e->queue_base;
        used[n][1] = e->queue_cap;
        n++;
    }
    qsort(used, n, sizeof(used[0]), topics_range_cmp);
    for (uint32_t i = 0; i < n; i++) {
        if (used[i][0] >= at + need) {
            break;
        }
        at = RMQ_MAX(at, used[i][0] + used[i][1]);
    }
    return at + need <= RMQ_QUEUE_MAX ? (int64_t)at : -1;
}

/*
 * Take back the slots of every deleted topic but self (self is inside
 * its own seqlock write); they get new slots if they are revived.
 */
static void
topics_reclaim_deleted(rmq_ctl *ctl, int self)
{
    for (int i = 0; i < RMQ_TOPIC_MAX; i++) {
        rmq_topic_entry *e = &ctl->topics[i];

        if (i != self && e->state == RMQ_TOPIC_DELETED && e->queue_cap > 0) {
            topics_begin(e);
            e->queue_base = 0;
            e->queue_cap = 0;
            topics_end(e);
        }
    }
    rmq_log(RMQ_LOG_WARN, "topics.slots",
            "queue slots ran out: took back the slots of deleted topics");
}

/*
 * Point entry idx at need slots: in place when they fit, else a new
 * range with the old next offsets carried over.  Fresh slots get the
 * init_offset value.  Called between topics_begin/end.
 */
static int
topics_place_queues(rmq_topics *t, int idx, uint32_t need)
{
    rmq_topic_entry *e = &t->ctl->topics[idx];
    int64_t          keep[RMQ_TOPIC_QUEUES_MAX];
    uint32_t         old_cap = e->queue_cap;
    int64_t          base;

    if (need <= old_cap) {
        return 0;
    }
    base = topics_find_slots(t->ctl, need, idx, true);
    if (base < 0) {
        topics_reclaim_deleted(t->ctl, idx);
        base = topics_find_slots(t->ctl, need, idx, false);
    }
    if (base < 0) {
        return RMQ_ERR_FULL;
    }
    for (uint32_t q = 0; q < old_cap; q++) {
        keep[q] = atomic_load(&t->ctl->qw[e->queue_base + q].next_offset);
    }
    for (uint32_t q = 0; q < need; q++) {
        int64_t v = q < old_cap ? keep[q]
                    : t->init_offset != NULL
                        ? t->init_offset(t->init_arg, e->name, (int32_t)q)
                        : 0;

        atomic_store(&t->ctl->qw[base + q].next_offset, v);
    }
    e->queue_base = (uint32_t)base;
    e->queue_cap = need;
    return 0;
}

/* Publish entry idx under its name in the hash index (once, forever). */
static void
topics_hash_insert(rmq_ctl *ctl, int idx, size_t len)
{
    uint32_t mask = RMQ_TOPIC_HASH - 1;
    uint32_t h = rmq_ctl_topic_hash(ctl->topics[idx].name, len) & mask;

    /* RMQ_TOPIC_HASH > 2 x RMQ_TOPIC_MAX: a free slot always exists */
    while (atomic_load_explicit(&ctl->thash[h], memory_order_relaxed) != 0) {
        h = (h + 1) & mask;
    }
    atomic_store_explicit(&ctl->thash[h], (uint32_t)idx + 1,
                          memory_order_release);
}

static int
topics_free_entry(const rmq_ctl *ctl)
{
    for (int i = 0; i < RMQ_TOPIC_MAX; i++) {
        if (ctl->topics[i].state == RMQ_TOPIC_FREE &&
            ctl->topics[i].name[0] == '\0') {
            return i;
        }
    }
    return -1;
}

static bool
topics_same(const rmq_topic_entry *e, const rmq_topic_conf *c)
{
    return e->state == RMQ_TOPIC_LIVE && e->read_queues == c->read_queues &&
           e->write_queues == c->write_queues && e->perm == c->perm &&
           e->sysflag == c->sysflag && e->flags == c->flags;
}

/* Write c into entry idx (existing or fresh) under the seqlock. */
static int
topics_write_entry(rmq_topics *t, int idx, const rmq_topic_conf *c, size_t len)
{
    rmq_topic_entry *e = &t->ctl->topics[idx];
    uint32_t         need = (uint32_t)RMQ_MAX(c->read_queues, c->write_queues);
    bool             fresh = e->name[0] == '\0';
    int              rc;

    topics_begin(e);
    if (fresh) {
        memcpy(e->name, c->name, len);
        e->name[len] = '\0';
    }
    rc = topics_place_queues(t, idx, need);
    if (rc != 0 && fresh) {
        e->name[0] = '\0'; /* the entry stays free */
    }
    if (rc == 0) {
        e->state = RMQ_TOPIC_LIVE;
        e->read_queues = c->read_queues;
        e->write_queues = c->write_queues;
        e->perm = c->perm;
        e->sysflag = c->sysflag;
        e->flags = c->flags;
    }
    topics_end(e);
    return rc;
}

/* Create or update without bookkeeping; *changed says if it did. */
static int
topics_apply(rmq_topics *t, const rmq_topic_conf *c, bool *changed)
{
    size_t          len = strnlen(c->name, sizeof(c->name));
    rmq_topic_entry snap;
    int             idx, rc;

    *changed = false;
    if (!rmq_topic_name_valid(c->name, len) || c->read_queues < 1 ||
        c->read_queues > RMQ_TOPIC_QUEUES_MAX || c->write_queues < 1 ||
        c->write_queues > RMQ_TOPIC_QUEUES_MAX || c->perm < 0 ||
        c->perm > 0xF) {
        return RMQ_ERR_INVAL;
    }
    idx = rmq_ctl_topic_find(t->ctl, c->name, len, &snap);
    if (idx >= 0 && topics_same(&snap, c)) {
        return 0;
    }
    if (idx < 0) {
        idx = topics_free_entry(t->ctl);
        if (idx < 0) {
            rmq_log(RMQ_LOG_ERR, "topics.full",
                    "cannot create topic \"%s\": the table holds %d topics",
                    c->name, RMQ_TOPIC_MAX);
            return RMQ_ERR_FULL;
        }
        rc = topics_write_entry(t, idx, c, len);
        if (rc == 0) {
            topics_hash_insert(t->ctl, idx, len);
        }
    } else {
        rc = topics_write_entry(t, idx, c, len);
    }
    *changed = rc == 0;
    return rc;
}

static void
topics_changed(rmq_topics *t)
{
    t->dv_counter++;
    t->dv_ms = rmq_now_ms();
    t->dirty = true;
    atomic_fetch_add_explicit(&t->ctl->pos->topics_gen, 1,
                              memory_order_release);
}

int
rmq_topics_put(rmq_topics *t, const rmq_topic_conf *c)
{
    bool changed;
    int  rc = topics_apply(t, c, &changed);

    if (rc == 0 && changed) {
        topics_changed(t);
    }
    return rc;
}

int
rmq_topics_delete(rmq_topics *t, const char *name, size_t len)
{
    rmq_topic_entry  snap;
    rmq_topic_entry *e;
    int              idx = rmq_ctl_topic_find(t->ctl, name, len, &snap);

    if (idx < 0 || snap.state != RMQ_TOPIC_LIVE) {
        return RMQ_ERR_NOTFOUND;
    }
    e = &t->ctl->topics[idx];
    topics_begin(e);
    e->state = RMQ_TOPIC_DELETED;
    topics_end(e);
    topics_changed(t);
    return 0;
}

/* One default topic, created only when not live (the file wins). */
static int
topics_default(rmq_topics *t, const char *name, int32_t queues, int32_t perm)
{
    rmq_topic_conf  c;
    rmq_topic_entry snap;

    if (!rmq_topic_name_valid(name, strlen(name))) {
        rmq_log(RMQ_LOG_WARN, "topics.default",
                "not creating system topic \"%s\": not a valid topic name",
                name);
        return 0;
    }
    if (rmq_ctl_topic_find(t->ctl, name, strlen(name), &snap) >= 0 &&
        snap.state == RMQ_TOPIC_LIVE) {
        return 0;
    }
    rmq_topic_conf_default(&c, name);
    c.read_queues = queues;
    c.write_queues = queues;
    c.perm = perm;
    return rmq_topics_put(t, &c);
}

int
rmq_topics_create_defaults(rmq_topics *t, const rmq_broker_config *cfg)
{
    const int32_t rw = RMQ_PERM_READ | RMQ_PERM_WRITE;
    const int32_t irw = rw | RMQ_PERM_INHERIT;
    int32_t levels = cfg->delay_level_count > 0 ? cfg->delay_level_count : 18;
    char    reply[RMQ_CONFIG_STR_MAX + 16];
    int     rc;

    snprintf(reply, sizeof(reply), "%s%s", cfg->cluster_name,
             RMQ_TOPIC_REPLY_SUFFIX);
    rc = topics_default(t, RMQ_TOPIC_SELF_TEST, 1, rw);
    if (rc == 0 && cfg->auto_create_topic) {
        rc = topics_default(t, RMQ_TOPIC_TBW102, cfg->default_topic_queue_nums,
                            irw);
    }
    if (rc == 0) {
        rc =
            topics_default(t, cfg->cluster_name, RMQ_TOPIC_QUEUES_DEFAULT, irw);
    }
    if (rc == 0) {
        rc = topics_default(t, cfg->broker_name, 1, irw);
    }
    if (rc == 0) {
        rc = topics_default(t, RMQ_TOPIC_OFFSET_MOVED, 1, rw);
    }
    if (rc == 0) {
        rc = topics_default(t, RMQ_SCHEDULE_TOPIC, levels, rw);
    }
    if (rc == 0) {
        rc = topics_default(t, reply, 1, rw);
    }
    return rc;
}

json_t *
rmq_topic_entry_json(const rmq_topic_entry *e)
{
    return json_pack("{s:b,s:i,s:i,s:s,s:s,s:i,s:i}", "order",
                     (e->flags & RMQ_TOPIC_F_ORDER) != 0, "perm", e->perm,
                     "readQueueNums", e->read_queues, "topicFilterType",
                     (e->flags & RMQ_TOPIC_F_MULTI_TAG) ? "MULTI_TAG"
                                                        : "SINGLE_TAG",
                     "topicName", e->name, "topicSysFlag", e->sysflag,
                     "writeQueueNums", e->write_queues);
}

/* {"dataVersion":{...},"topicConfigTable":{...}} of the live topics. */
static json_t *
topics_to_json(const rmq_topics *t)
{
    json_t *table = json_object();
    json_t *root = json_pack("{s:{s:I,s:I},s:o}", "dataVersion", "counter",
                             (json_int_t)t->dv_counter, "timestamp",
                             (json_int_t)t->dv_ms, "topicConfigTable", table);

    if (root == NULL) {
        return NULL;
    }
    for (int i = 0; i < RMQ_TOPIC_MAX; i++) {
        rmq_topic_entry e;

        if (t->ctl->topics[i].state == RMQ_TOPIC_FREE) {
            continue;
        }
        rmq_ctl_topic_read(t->ctl, i, &e);
        if (e.state == RMQ_TOPIC_LIVE &&
            json_object_set_new(table, e.name, rmq_topic_entry_json(&e)) != 0) {
            json_decref(root);
            return NULL;
        }
    }
    return root;
}

int
rmq_topics_save(rmq_topics *t)
{
    json_t *root;
    int     rc;

    if (!t->dirty) {
        return 0;
    }
    root = topics_to_json(t);
    if (root == NULL) {
        return RMQ_ERR_NOMEM;
    }
    rc = rmq_jsonfile_save(t->path, root);
    json_decref(root);
    if (rc == 0) {
        t->dirty = false;
    }
    return rc;
}

static int32_t
topics_json_int(const json_t *o, const char *key, int32_t def)
{
    const json_t *v = json_object_get(o, key);

    if (!json_is_integer(v) || json_integer_value(v) < INT32_MIN ||
        json_integer_value(v) > INT32_MAX) {
        return def;
    }
    return (int32_t)json_integer_value(v);
}

/* One topicConfigTable member into a conf; false when it is not one. */
static bool
topics_conf_from_json(const char *name, const json_t *o, rmq_topic_conf *c)
{
    const char *filter;

    if (!json_is_object(o) || strlen(name) >= sizeof(c->name)) {
        return false;
    }
    rmq_topic_conf_default(c, name);
    c->read_queues = topics_json_int(o, "readQueueNums", c->read_queues);
    c->write_queues = topics_json_int(o, "writeQueueNums", c->write_queues);
    c->perm = topics_json_int(o, "perm", c->perm);
    c->sysflag = topics_json_int(o, "topicSysFlag", 0);
    if (json_is_true(json_object_get(o, "order"))) {
        c->flags |= RMQ_TOPIC_F_ORDER;
    }
    filter = json_string_value(json_object_get(o, "topicFilterType"));
    if (filter != NULL && strcmp(filter, "MULTI_TAG") == 0) {
        c->flags |= RMQ_TOPIC_F_MULTI_TAG;
    }
    return true;
}

static int
topics_load_table(rmq_topics *t, const json_t *table)
{
    const char *name;
    json_t     *o;
    bool        any = false;

    json_object_foreach((json_t *)table, name, o)
    {
        rmq_topic_conf c;
        bool           changed;
        int            rc = RMQ_ERR_INVAL;

        if (topics_conf_from_json(name, o, &c)) {
            rc = topics_apply(t, &c, &changed);
            any |= rc == 0 && changed;
        }
        if (rc == RMQ_ERR_FULL) {
            return rc;
        }
        if (rc != 0) {
            rmq_log(RMQ_LOG_WARN, "topics.load",
                    "skipping topic \"%s\" of \"%s\": not a valid topic", name,
                    t->path);
        }
    }
    if (any) {
        atomic_fetch_add_explicit(&t->ctl->pos->topics_gen, 1,
                                  memory_order_release);
    }
    return 0;
}

int
rmq_topics_open(rmq_topics *t, rmq_ctl *ctl, const char *store_root,
                rmq_topics_init_offset_fn init_offset, void *init_arg)
{
    json_t *root = NULL, *dv;
    int     rc;

    memset(t, 0, sizeof(*t));
    t->ctl = ctl;
    t->init_offset = init_offset;
    t->init_arg = init_arg;
    t->dv_ms = rmq_now_ms();
    snprintf(t->path, sizeof(t->path), "%s/%s", store_root, RMQ_TOPICS_FILE);
    rc = rmq_jsonfile_load(t->path, &root);
    if (rc == RMQ_ERR_NOTFOUND) {
        return 0;
    }
    if (rc != 0) {
        return rc;
    }
    dv = json_object_get(root, "dataVersion");
    if (json_is_integer(json_object_get(dv, "counter"))) {
        t->dv_counter = json_integer_value(json_object_get(dv, "counter"));
    }
    if (json_is_integer(json_object_get(dv, "timestamp"))) {
        t->dv_ms = json_integer_value(json_object_get(dv, "timestamp"));
    }
    rc = topics_load_table(t, json_object_get(root, "topicConfigTable"));
    json_decref(root);
    return rc;
}
