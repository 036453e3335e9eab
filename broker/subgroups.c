/*
 * subgroups.c - subscription group configs, their file, and the control
 * segment's group and subscription regions (subgroups.h).  Runs in the
 * rebalancer process only, the single writer of those regions.
 */
#include "broker/subgroups.h"

#include "common/err.h"
#include "common/json.h"
#include "common/log.h"
#include "common/util.h"
#include "store/jsonfile.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

/* Java's SubscriptionGroupManager pre-seeds these. */
static const char *const sg_seeds[] = {
    "TOOLS_CONSUMER",     "FILTERSRV_CONSUMER", "SELF_TEST_C_GROUP",
    "CID_ONS-HTTP-PROXY", "CID_ONSAPI_PULL",    "CID_ONSAPI_PERMISSION",
    "CID_ONSAPI_OWNER",
};

/* One group name that has a config, a control-segment entry, or both. */
struct sg_entry {
    rmq_sgconf conf;
    bool       live;    /* has a config */
    int32_t    shm_idx; /* group entry index, -1 = none yet */
    uint32_t  *subs;    /* its subscription rows (any state) */
    uint32_t   nsubs, subs_cap;
};

struct rmq_subgroups {
    rmq_ctl          *ctl;  /* NULL: publish nothing */
    char             *path; /* NULL: load and save nothing */
    rmq_strmap        byname;
    struct sg_entry **by_idx;     /* [RMQ_GROUP_MAX], when ctl */
    uint32_t          next_group; /* first free group entry */
    uint32_t          next_sub;   /* first free subscription row */
    uint32_t          nlive;
    int64_t           dv_counter;
    int64_t           dv_timestamp;
};

/* ---- configs ------------------------------------------------------------- */

void
rmq_sgconf_defaults(rmq_sgconf *c, const char *name)
{
    memset(c, 0, sizeof(*c));
    rmq_strlcpy(c->name, name, sizeof(c->name));
    c->consume_enable = true;
    c->consume_from_min_enable = true;
    c->consume_broadcast_enable = true;
    c->notify_ids_changed = true;
    c->retry_queue_nums = 1;
    c->retry_max_times = 16;
    c->broker_id = 0;
    c->which_broker_when_slow = 1;
}

static void
sg_json_bool(json_t *o, const char *key, bool *dst)
{
    json_t *v = json_object_get(o, key);

    if (json_is_boolean(v)) {
        *dst = json_is_true(v);
    } else if (json_is_string(v)) {
        *dst = rmq_parse_bool(json_string_value(v));
    }
}

static void
sg_json_i64(json_t *o, const char *key, int64_t *dst)
{
    json_t *v = json_object_get(o, key);
    int64_t x;

    if (json_is_integer(v)) {
        *dst = json_integer_value(v);
    } else if (json_is_string(v) &&
               rmq_parse_i64(json_string_value(v), &x) == 0) {
        *dst = x;
    }
}

static void
sg_json_i32(json_t *o, const char *key, int32_t *dst)
{
    int64_t x = *dst;

    sg_json_i64(o, key, &x);
    if (x >= INT32_MIN && x <= INT32_MAX) {
        *dst = (int32_t)x;
    }
}

/* A SubscriptionGroupConfig object; name_hint when it has no groupName. */
static int
sg_conf_from_json(json_t *o, const char *name_hint, rmq_sgconf *c)
{
    json_t     *jn = json_object_get(o, "groupName");
    const char *name = json_is_string(jn) ? json_string_value(jn) : name_hint;

    if (!json_is_object(o) || name == NULL || name[0] == '\0' ||
        strlen(name) >= RMQ_GROUP_NAME_MAX) {
        return RMQ_ERR_PROTO;
    }
    rmq_sgconf_defaults(c, name);
    sg_json_bool(o, "consumeEnable", &c->consume_enable);
    sg_json_bool(o, "consumeFromMinEnable", &c->consume_from_min_enable);
    sg_json_bool(o, "consumeBroadcastEnable", &c->consume_broadcast_enable);
    sg_json_bool(o, "notifyConsumerIdsChangedEnable", &c->notify_ids_changed);
    sg_json_bool(o, "consumeMessageOrderly", &c->orderly);
    sg_json_i32(o, "retryQueueNums", &c->retry_queue_nums);
    sg_json_i32(o, "retryMaxTimes", &c->retry_max_times);
    sg_json_i64(o, "brokerId", &c->broker_id);
    sg_json_i64(o, "whichBrokerWhenConsumeSlowly", &c->which_broker_when_slow);
    return 0;
}

int
rmq_sgconf_parse(const void *body, size_t len, rmq_sgconf *out, char *remark,
                 size_t remark_cap)
{
    json_t *doc = json_loadb(body, len, 0, NULL);
    int     rc = sg_conf_from_json(doc, NULL, out);

    json_decref(doc);
    if (rc != 0 && remark != NULL) {
        rmq_strlcpy(remark,
                    doc == NULL ? "body is not JSON"
                                : "SubscriptionGroupConfig needs a "
                                  "groupName",
                    remark_cap);
    }
    return rc;
}

static json_t *
sg_conf_to_json(const rmq_sgconf *c)
{
    json_t *o = json_pack(
        "{s:I,s:b,s:b,s:b,s:s,s:b,s:i,s:i,s:I}", "brokerId",
        (json_int_t)c->broker_id, "consumeBroadcastEnable",
        c->consume_broadcast_enable, "consumeEnable", c->consume_enable,
        "consumeFromMinEnable", c->consume_from_min_enable, "groupName",
        c->name, "notifyConsumerIdsChangedEnable", c->notify_ids_changed,
        "retryMaxTimes", (int)c->retry_max_times, "retryQueueNums",
        (int)c->retry_queue_nums, "whichBrokerWhenConsumeSlowly",
        (json_int_t)c->which_broker_when_slow);

    /* a 5.x field: written only when set, so 4.x files stay identical */
    if (o != NULL && c->orderly) {
        json_object_set_new(o, "consumeMessageOrderly", json_true());
    }
    return o;
}

/* ---- control segment: group entries ------------------------------------- */

/* Begin a write; an odd seq is a write a crash cut short: finish it. */
static void
sg_seq_begin(_Atomic uint32_t *seq)
{
    if ((atomic_load(seq) & 1) == 0) {
        rmq_ctl_seq_begin(seq);
    }
}

static void
sg_bump(_Atomic uint64_t *gen)
{
    atomic_fetch_add_explicit(gen, 1, memory_order_release);
}

/* Put name -> idx in the group hash index unless it is there. */
static void
sg_hash_ensure(rmq_subgroups *sg, const char *name, uint32_t idx)
{
    uint32_t mask = RMQ_GROUP_HASH - 1;
    uint32_t h = rmq_ctl_topic_hash(name, strlen(name)) & mask;

    for (uint32_t probe = 0; probe < RMQ_GROUP_HASH; probe++) {
        _Atomic uint32_t *slot = &sg->ctl->ghash[(h + probe) & mask];
        uint32_t          v = atomic_load_explicit(slot, memory_order_relaxed);
        if (v == idx + 1) {
            return;
        }
        if (v == 0) {
            atomic_store_explicit(slot, idx + 1, memory_order_release);
            return;
        }
    }
}

static void
sg_write_group(rmq_group_entry *g, const struct sg_entry *e, bool fresh)
{
    sg_seq_begin(&g->seq);
    if (fresh) {
        memset(g->name, 0, sizeof(g->name));
        rmq_strlcpy(g->name, e->conf.name, sizeof(g->name));
    }
    g->consume_enable = e->conf.consume_enable;
    g->consume_from_min_enable = e->conf.consume_from_min_enable;
    g->consume_broadcast_enable = e->conf.consume_broadcast_enable;
    g->notify_ids_changed_enable = e->conf.notify_ids_changed;
    g->retry_queue_nums = e->conf.retry_queue_nums;
    g->retry_max_times = e->conf.retry_max_times;
    g->broker_id = e->conf.broker_id;
    g->which_broker_when_slow = e->conf.which_broker_when_slow;
    g->flags = e->conf.orderly ? RMQ_GROUP_F_ORDERLY : 0;
    /* readers test state before taking the seqlock: fields first */
    atomic_thread_fence(memory_order_release);
    g->state = e->live ? 1 : 2;
    rmq_ctl_seq_end(&g->seq);
}

/*
 * Publish e's config (or its deletion).  A new entry goes into the hash
 * index only after it is complete.  0, or RMQ_ERR_FULL when the region
 * has no room for a new group.
 */
static int
sg_publish_group(rmq_subgroups *sg, struct sg_entry *e)
{
    bool fresh = false;

    if (sg->ctl == NULL) {
        return 0;
    }
    if (e->shm_idx < 0) {
        if (sg->next_group >= RMQ_GROUP_MAX) {
            rmq_log(RMQ_LOG_ERR, "rb.shm",
                    "cannot publish group \"%s\": group region full (%d)",
                    e->conf.name, RMQ_GROUP_MAX);
            return RMQ_ERR_FULL;
        }
        e->shm_idx = (int32_t)sg->next_group++;
        sg->by_idx[e->shm_idx] = e;
        fresh = true;
    }
    sg_write_group(&sg->ctl->groups[e->shm_idx], e, fresh);
    if (fresh) {
        sg_hash_ensure(sg, e->conf.name, (uint32_t)e->shm_idx);
    }
    sg_bump(&sg->ctl->pos->groups_gen);
    return 0;
}

/* ---- control segment: subscription rows ---------------------------------- */

static int
sg_entry_add_row(struct sg_entry *e, uint32_t row)
{
    if (e->nsubs == e->subs_cap) {
        uint32_t  cap = e->subs_cap ? e->subs_cap * 2 : 4;
        uint32_t *p = realloc(e->subs, cap * sizeof(*p));
        if (p == NULL) {
            return RMQ_ERR_NOMEM;
        }
        e->subs = p;
        e->subs_cap = cap;
    }
    e->subs[e->nsubs++] = row;
    return 0;
}

/* Write row: p's subscription (live), or removed when p is NULL. */
static void
sg_write_sub(rmq_sub_entry *s, uint32_t group_idx, const rmq_sub_pub *p,
             bool fresh)
{
    sg_seq_begin(&s->seq);
    if (fresh) {
        memset(s->topic, 0, sizeof(s->topic));
        rmq_strlcpy(s->topic, p->topic, sizeof(s->topic));
        s->group_idx = group_idx;
    }
    if (p != NULL) {
        memset(s->expr, 0, sizeof(s->expr));
        rmq_strlcpy(s->expr, p->expr, sizeof(s->expr));
        s->sub_version = p->sub_version;
        s->expr_type = p->expr_type;
    }
    /* linear scans test state and topic before taking the seqlock: a new
     * row must show its topic before it shows state 1 */
    atomic_thread_fence(memory_order_release);
    s->state = p != NULL ? 1 : 2;
    rmq_ctl_seq_end(&s->seq);
}

static bool
sg_sub_same(const rmq_sub_entry *s, const rmq_sub_pub *p)
{
    return s->state == 1 && s->sub_version == p->sub_version &&
           s->expr_type == p->expr_type && strcmp(s->expr, p->expr) == 0;
}

/*
 * What can be published of p: an expression too long for the row becomes
 * "*" for TAG (clients filter tags again themselves), and is left out
 * for SQL92 (false).
 */
static bool
sg_sub_fit(const rmq_sub_pub *p, rmq_sub_pub *out)
{
    *out = *p;
    if (strlen(p->topic) >= RMQ_TOPIC_NAME_MAX) {
        return false;
    }
    if (strlen(p->expr) < RMQ_SUB_EXPR_MAX) {
        return true;
    }
    rmq_log(RMQ_LOG_WARN, "rb.shm",
            "subscription expression of topic \"%s\" too long to publish "
            "(%zu bytes)",
            p->topic, strlen(p->expr));
    out->expr = "*";
    return p->expr_type == 0;
}

static const rmq_sub_pub *
sg_find_pub(const rmq_sub_pub *fit, const bool *ok, uint32_t n,
            const char *topic)
{
    for (uint32_t i = 0; i < n; i++) {
        if (ok[i] && strcmp(fit[i].topic, topic) == 0) {
            return &fit[i];
        }
    }
    return NULL;
}

static bool
sg_has_row(const rmq_subgroups *sg, const struct sg_entry *e, const char *topic)
{
    for (uint32_t i = 0; i < e->nsubs; i++) {
        if (strcmp(sg->ctl->subs[e->subs[i]].topic, topic) == 0) {
            return true;
        }
    }
    return false;
}

/* Rewrite e's existing rows to match the wanted set; returns changes. */
static uint32_t
sg_update_rows(rmq_subgroups *sg, struct sg_entry *e, const rmq_sub_pub *fit,
               const bool *ok, uint32_t n)
{
    uint32_t changes = 0;

    for (uint32_t i = 0; i < e->nsubs; i++) {
        rmq_sub_entry     *s = &sg->ctl->subs[e->subs[i]];
        const rmq_sub_pub *p = sg_find_pub(fit, ok, n, s->topic);
        if (p != NULL && !sg_sub_same(s, p)) {
            sg_write_sub(s, (uint32_t)e->shm_idx, p, false);
            changes++;
        } else if (p == NULL && s->state == 1) {
            sg_write_sub(s, (uint32_t)e->shm_idx, NULL, false);
            changes++;
        }
    }
    return changes;
}

/* New rows for wanted topics e has no row for; returns changes. */
static uint32_t
sg_add_rows(rmq_subgroups *sg, struct sg_entry *e, const rmq_sub_pub *fit,
            const bool *ok, uint32_t n, int *rc)
{
    uint32_t changes = 0;

    for (uint32_t i = 0; i < n; i++) {
        uint32_t row;
        if (!ok[i] || sg_has_row(sg, e, fit[i].topic)) {
            continue;
        }
        if (sg->next_sub >= RMQ_SUB_MAX) {
            rmq_log(RMQ_LOG_ERR, "rb.shm",
                    "cannot publish subscription %s/%s: region full (%d)",
                    e->conf.name, fit[i].topic, RMQ_SUB_MAX);
            *rc = RMQ_ERR_FULL;
            continue;
        }
        row = sg->next_sub;
        if (sg_entry_add_row(e, row) != 0) {
            *rc = RMQ_ERR_NOMEM;
            continue;
        }
        sg->next_sub++;
        sg_write_sub(&sg->ctl->subs[row], (uint32_t)e->shm_idx, &fit[i], true);
        changes++;
    }
    return changes;
}

int
rmq_subgroups_publish_subs(rmq_subgroups *sg, const char *group,
                           const rmq_sub_pub *subs, uint32_t n)
{
    struct sg_entry *e = rmq_strmap_get(&sg->byname, group);
    rmq_sub_pub     *fit;
    bool            *ok;
    uint32_t         changes;
    int              rc = 0;

    if (sg->ctl == NULL) {
        return 0;
    }
    if (e == NULL || e->shm_idx < 0) {
        return RMQ_ERR_NOTFOUND;
    }
    fit = calloc(n + 1, sizeof(*fit));
    ok = calloc(n + 1, sizeof(*ok));
    if (fit == NULL || ok == NULL) {
        free(fit);
        free(ok);
        return RMQ_ERR_NOMEM;
    }
    for (uint32_t i = 0; i < n; i++) {
        ok[i] = sg_sub_fit(&subs[i], &fit[i]);
    }
    changes = sg_update_rows(sg, e, fit, ok, n);
    changes += sg_add_rows(sg, e, fit, ok, n, &rc);
    if (changes > 0) {
        sg_bump(&sg->ctl->pos->subs_gen);
    }
    free(fit);
    free(ok);
    return rc;
}

void
rmq_subgroups_prune_subs(rmq_subgroups *sg,
                         bool (*keep)(void *arg, const char *group), void *arg)
{
    size_t pos = 0;
    void  *v;

    if (sg->ctl == NULL) {
        return;
    }
    while (rmq_strmap_next(&sg->byname, &pos, &v) != NULL) {
        struct sg_entry *e = v;
        if (e->nsubs > 0 && e->shm_idx >= 0 && !keep(arg, e->conf.name)) {
            rmq_subgroups_publish_subs(sg, e->conf.name, NULL, 0);
        }
    }
}

/* ---- the table ----------------------------------------------------------- */

static struct sg_entry *
sg_entry_get_or_add(rmq_subgroups *sg, const char *name)
{
    struct sg_entry *e = rmq_strmap_get(&sg->byname, name);

    if (e != NULL) {
        return e;
    }
    e = calloc(1, sizeof(*e));
    if (e == NULL) {
        return NULL;
    }
    rmq_sgconf_defaults(&e->conf, name);
    e->shm_idx = -1;
    if (rmq_strmap_put(&sg->byname, name, e) != 0) {
        free(e);
        return NULL;
    }
    return e;
}

/* Set name's config in memory (no publish, no save). */
static struct sg_entry *
sg_put_conf(rmq_subgroups *sg, const rmq_sgconf *c)
{
    struct sg_entry *e = sg_entry_get_or_add(sg, c->name);

    if (e == NULL) {
        return NULL;
    }
    if (!e->live) {
        sg->nlive++;
    }
    e->conf = *c;
    e->live = true;
    return e;
}

static void
sg_next_version(rmq_subgroups *sg)
{
    sg->dv_counter++;
    sg->dv_timestamp = rmq_now_ms();
}

const rmq_sgconf *
rmq_subgroups_find(const rmq_subgroups *sg, const char *name)
{
    const struct sg_entry *e = rmq_strmap_get(&sg->byname, name);

    return e != NULL && e->live ? &e->conf : NULL;
}

int
rmq_subgroups_update(rmq_subgroups *sg, const rmq_sgconf *c)
{
    struct sg_entry *e;
    int              rc, save_rc;

    if (c->name[0] == '\0') {
        return RMQ_ERR_INVAL;
    }
    e = sg_put_conf(sg, c);
    if (e == NULL) {
        return RMQ_ERR_NOMEM;
    }
    sg_next_version(sg);
    rc = sg_publish_group(sg, e);
    save_rc = rmq_subgroups_save(sg);
    return rc != 0 ? rc : save_rc;
}

const rmq_sgconf *
rmq_subgroups_find_or_create(rmq_subgroups *sg, const char *name, bool create,
                             bool *created)
{
    const rmq_sgconf *c = rmq_subgroups_find(sg, name);
    rmq_sgconf        fresh;

    *created = false;
    if (c != NULL || !create || name[0] == '\0' ||
        strlen(name) >= RMQ_GROUP_NAME_MAX) {
        return c;
    }
    rmq_sgconf_defaults(&fresh, name);
    if (rmq_subgroups_update(sg, &fresh) == RMQ_ERR_NOMEM) {
        return NULL;
    }
    *created = true;
    return rmq_subgroups_find(sg, name);
}

int
rmq_subgroups_delete(rmq_subgroups *sg, const char *name)
{
    struct sg_entry *e = rmq_strmap_get(&sg->byname, name);

    if (e == NULL || !e->live) {
        return RMQ_ERR_NOTFOUND;
    }
    /* the entry stays (readers may hold its index): state 2, not freed */
    e->live = false;
    sg->nlive--;
    sg_next_version(sg);
    sg_publish_group(sg, e);
    return rmq_subgroups_save(sg);
}

uint32_t
rmq_subgroups_count(const rmq_subgroups *sg)
{
    return sg->nlive;
}

int
rmq_subgroups_shm_index(const rmq_subgroups *sg, const char *name)
{
    const struct sg_entry *e = rmq_strmap_get(&sg->byname, name);

    return e != NULL ? e->shm_idx : -1;
}

/* ---- JSON file ----------------------------------------------------------- */

/* {"dataVersion":{...},"subscriptionGroupTable":{...}} of the live configs. */
static json_t *
sg_doc(const rmq_subgroups *sg)
{
    json_t *table = json_object();
    size_t  pos = 0;
    void   *v;

    while (table != NULL && rmq_strmap_next(&sg->byname, &pos, &v) != NULL) {
        const struct sg_entry *e = v;
        if (e->live) {
            json_object_set_new(table, e->conf.name, sg_conf_to_json(&e->conf));
        }
    }
    return json_pack("{s:{s:I,s:I},s:o}", "dataVersion", "counter",
                     (json_int_t)sg->dv_counter, "timestamp",
                     (json_int_t)sg->dv_timestamp, "subscriptionGroupTable",
                     table);
}

int
rmq_subgroups_json(const rmq_subgroups *sg, bool pretty, rmq_buf *out)
{
    return rmq_json_append(out, sg_doc(sg),
                           JSON_SORT_KEYS |
                               (pretty ? JSON_INDENT(2) : JSON_COMPACT));
}

int
rmq_subgroups_save(rmq_subgroups *sg)
{
    json_t *doc;
    int     rc;

    if (sg->path == NULL) {
        return 0;
    }
    doc = sg_doc(sg);
    if (doc == NULL) {
        return RMQ_ERR_NOMEM;
    }
    rc = rmq_jsonfile_save(sg->path, doc);
    json_decref(doc);
    return rc;
}

/*
 * Put the configs of a parsed subscriptionGroup.json into sg.  Returns
 * RMQ_ERR_PROTO, changing nothing, when it has no table.
 */
static int
sg_apply_doc(rmq_subgroups *sg, json_t *doc)
{
    json_t     *table = json_object_get(doc, "subscriptionGroupTable");
    json_t     *dv = json_object_get(doc, "dataVersion");
    const char *name;
    json_t     *jc;
    rmq_sgconf  c;

    if (!json_is_object(table)) {
        return RMQ_ERR_PROTO;
    }
    json_object_foreach(table, name, jc)
    {
        if (sg_conf_from_json(jc, name, &c) == 0 &&
            sg_put_conf(sg, &c) == NULL) {
            return RMQ_ERR_NOMEM;
        }
    }
    sg_json_i64(dv, "counter", &sg->dv_counter);
    sg_json_i64(dv, "timestamp", &sg->dv_timestamp);
    return 0;
}

/* Seeds, then the file on top (Java keeps seeds the file lacks). */
static int
sg_load(rmq_subgroups *sg)
{
    char       bak[4096 + 8];
    json_t    *doc = NULL;
    rmq_sgconf c;
    int        rc;

    for (size_t i = 0; i < RMQ_ARRAY_LEN(sg_seeds); i++) {
        rmq_sgconf_defaults(&c, sg_seeds[i]);
        if (sg_put_conf(sg, &c) == NULL) {
            return RMQ_ERR_NOMEM;
        }
    }
    if (sg->path == NULL) {
        return 0;
    }
    rc = rmq_jsonfile_load(sg->path, &doc);
    if (rc == 0 && (rc = sg_apply_doc(sg, doc)) == RMQ_ERR_PROTO) {
        /* JSON, but not a subscription group file: try the copy */
        json_decref(doc);
        doc = NULL;
        snprintf(bak, sizeof(bak), "%s.bak", sg->path);
        rc = rmq_jsonfile_load(bak, &doc);
        rc = rc == 0 ? sg_apply_doc(sg, doc) : rc;
    }
    json_decref(doc);
    if (rc == RMQ_ERR_NOTFOUND) {
        return 0;
    }
    return rc == RMQ_ERR_PROTO ? RMQ_ERR_CORRUPT : rc;
}

/* ---- open / close: adopting a live segment ------------------------------- */

/* Group entries a previous rebalancer of this segment published. */
static int
sg_adopt_groups(rmq_subgroups *sg)
{
    for (uint32_t i = 0; i < RMQ_GROUP_MAX; i++) {
        rmq_group_entry *g = &sg->ctl->groups[i];
        struct sg_entry *e;
        char             name[RMQ_GROUP_NAME_MAX];

        if (g->state == 0) {
            sg->next_group = i;
            return 0;
        }
        memcpy(name, g->name, sizeof(name));
        name[sizeof(name) - 1] = '\0';
        e = rmq_strmap_get(&sg->byname, name);
        if (e != NULL || name[0] == '\0') {
            continue; /* cannot happen; keep the first */
        }
        if ((e = sg_entry_get_or_add(sg, name)) == NULL) {
            return RMQ_ERR_NOMEM;
        }
        e->shm_idx = (int32_t)i;
        sg->by_idx[i] = e;
        /* the crash may have come between the entry and its index slot */
        sg_hash_ensure(sg, name, i);
    }
    sg->next_group = RMQ_GROUP_MAX;
    return 0;
}

/* Subscription rows: kept (clients will confirm them), torn ones removed. */
static int
sg_adopt_subs(rmq_subgroups *sg)
{
    for (uint32_t i = 0; i < RMQ_SUB_MAX; i++) {
        rmq_sub_entry   *s = &sg->ctl->subs[i];
        struct sg_entry *e;
        bool             torn = (atomic_load(&s->seq) & 1) != 0;

        if (s->state == 0) {
            sg->next_sub = i;
            return 0;
        }
        e = s->group_idx < RMQ_GROUP_MAX ? sg->by_idx[s->group_idx] : NULL;
        if (torn || e == NULL) {
            sg_write_sub(s, s->group_idx, NULL, false);
        }
        if (e != NULL && sg_entry_add_row(e, i) != 0) {
            return RMQ_ERR_NOMEM;
        }
    }
    sg->next_sub = RMQ_SUB_MAX;
    return 0;
}

/* A free entry right after the used ones may hold a torn first write. */
static void
sg_fix_free_seqs(rmq_subgroups *sg)
{
    if (sg->next_group < RMQ_GROUP_MAX &&
        (atomic_load(&sg->ctl->groups[sg->next_group].seq) & 1) != 0) {
        rmq_ctl_seq_end(&sg->ctl->groups[sg->next_group].seq);
    }
    if (sg->next_sub < RMQ_SUB_MAX &&
        (atomic_load(&sg->ctl->subs[sg->next_sub].seq) & 1) != 0) {
        rmq_ctl_seq_end(&sg->ctl->subs[sg->next_sub].seq);
    }
}

static int
sg_attach(rmq_subgroups *sg)
{
    int rc;

    sg->by_idx = calloc(RMQ_GROUP_MAX, sizeof(*sg->by_idx));
    if (sg->by_idx == NULL) {
        return RMQ_ERR_NOMEM;
    }
    if ((rc = sg_adopt_groups(sg)) != 0 || (rc = sg_adopt_subs(sg)) != 0) {
        return rc;
    }
    sg_fix_free_seqs(sg);
    return 0;
}

/* Every name gets its entry rewritten: live configs 1, the rest 2. */
static void
sg_publish_all(rmq_subgroups *sg)
{
    size_t pos = 0;
    void  *v;

    while (rmq_strmap_next(&sg->byname, &pos, &v) != NULL) {
        sg_publish_group(sg, v);
    }
    sg_bump(&sg->ctl->pos->subs_gen);
}

int
rmq_subgroups_open(rmq_subgroups **out, rmq_ctl *ctl, const char *path)
{
    rmq_subgroups *sg = calloc(1, sizeof(*sg));
    int            rc;

    *out = NULL;
    if (sg == NULL) {
        return RMQ_ERR_NOMEM;
    }
    rmq_strmap_init(&sg->byname);
    sg->ctl = ctl;
    if (path != NULL && (sg->path = strdup(path)) == NULL) {
        rmq_subgroups_close(sg);
        return RMQ_ERR_NOMEM;
    }
    /* adopt first: names already published keep their indexes */
    if ((ctl != NULL && (rc = sg_attach(sg)) != 0) || (rc = sg_load(sg)) != 0) {
        rmq_subgroups_close(sg);
        return rc;
    }
    if (ctl != NULL) {
        sg_publish_all(sg);
    }
    *out = sg;
    return 0;
}

void
rmq_subgroups_close(rmq_subgroups *sg)
{
    size_t pos = 0;
    void  *v;

    if (sg == NULL) {
        return;
    }
    while (rmq_strmap_next(&sg->byname, &pos, &v) != NULL) {
        struct sg_entry *e = v;
        free(e->subs);
        free(e);
    }
    rmq_strmap_free(&sg->byname);
    free(sg->by_idx);
    free(sg->path);
    free(sg);
}
