/*
 * offsets.c - the consumer offset table and its JSON (offsets.h).  Runs in
 * the rebalancer process only.
 */
#include "broker/offsets.h"

#include "common/err.h"
#include "common/util.h"
#include "shm/control.h"
#include "store/jsonfile.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OFF_KEY_MAX (RMQ_TOPIC_NAME_MAX + RMQ_GROUP_NAME_MAX + 1)

/* The offsets of one topic@group; offs[q] < 0 when queue q has none. */
struct off_tg {
    char     topic[RMQ_TOPIC_NAME_MAX];
    char     group[RMQ_GROUP_NAME_MAX];
    int64_t *offs;
    uint32_t cap;
};

void
rmq_offsets_init(rmq_offsets *o)
{
    memset(o, 0, sizeof(*o));
    rmq_strmap_init(&o->tg);
}

static void
off_free_map(rmq_strmap *m)
{
    size_t pos = 0;
    void  *v;

    while (rmq_strmap_next(m, &pos, &v) != NULL) {
        struct off_tg *t = v;
        free(t->offs);
        free(t);
    }
    rmq_strmap_free(m);
}

void
rmq_offsets_fini(rmq_offsets *o)
{
    off_free_map(&o->tg);
}

/* "topic@group" into key; false when a part is empty or too long. */
static bool
off_key(const char *group, const char *topic, char *key)
{
    size_t tl = strlen(topic);
    size_t gl = strlen(group);

    if (tl == 0 || gl == 0 || tl >= RMQ_TOPIC_NAME_MAX ||
        gl >= RMQ_GROUP_NAME_MAX || strchr(topic, '@') != NULL) {
        return false;
    }
    memcpy(key, topic, tl);
    key[tl] = '@';
    memcpy(key + tl + 1, group, gl + 1);
    return true;
}

int64_t
rmq_offsets_query(const rmq_offsets *o, const char *group, const char *topic,
                  int32_t queue_id)
{
    char                 key[OFF_KEY_MAX];
    const struct off_tg *t;

    if (!off_key(group, topic, key) || queue_id < 0) {
        return -1;
    }
    t = rmq_strmap_get(&o->tg, key);
    if (t == NULL || (uint32_t)queue_id >= t->cap) {
        return -1;
    }
    return t->offs[queue_id];
}

static struct off_tg *
off_get_or_add(rmq_strmap *m, const char *group, const char *topic)
{
    char           key[OFF_KEY_MAX];
    struct off_tg *t;

    if (!off_key(group, topic, key)) {
        return NULL;
    }
    if ((t = rmq_strmap_get(m, key)) != NULL) {
        return t;
    }
    if ((t = calloc(1, sizeof(*t))) == NULL) {
        return NULL;
    }
    rmq_strlcpy(t->topic, topic, sizeof(t->topic));
    rmq_strlcpy(t->group, group, sizeof(t->group));
    if (rmq_strmap_put(m, key, t) != 0) {
        free(t);
        return NULL;
    }
    return t;
}

/* Make queue_id addressable in t (new slots hold -1). */
static int
off_reserve(struct off_tg *t, int32_t queue_id)
{
    uint32_t cap = t->cap ? t->cap : 8;
    int64_t *p;

    if ((uint32_t)queue_id < t->cap) {
        return 0;
    }
    while (cap <= (uint32_t)queue_id) {
        cap *= 2;
    }
    p = realloc(t->offs, cap * sizeof(*p));
    if (p == NULL) {
        return RMQ_ERR_NOMEM;
    }
    for (uint32_t i = t->cap; i < cap; i++) {
        p[i] = -1;
    }
    t->offs = p;
    t->cap = cap;
    return 0;
}

static int
off_set(rmq_strmap *m, const char *group, const char *topic, int32_t queue_id,
        int64_t offset, struct off_tg **out)
{
    struct off_tg *t;

    if (queue_id < 0 || queue_id >= RMQ_OFFSET_QUEUE_MAX || offset < 0) {
        return RMQ_ERR_INVAL;
    }
    t = off_get_or_add(m, group, topic);
    if (t == NULL) {
        char key[OFF_KEY_MAX];
        return off_key(group, topic, key) ? RMQ_ERR_NOMEM : RMQ_ERR_INVAL;
    }
    if (off_reserve(t, queue_id) != 0) {
        return RMQ_ERR_NOMEM;
    }
    *out = t;
    return 0;
}

int
rmq_offsets_commit(rmq_offsets *o, const char *group, const char *topic,
                   int32_t queue_id, int64_t offset, bool force, int *result)
{
    struct off_tg *t;
    int64_t        old;
    int            rc = off_set(&o->tg, group, topic, queue_id, offset, &t);

    if (rc != 0) {
        return rc;
    }
    old = t->offs[queue_id];
    if (old == offset) {
        *result = RMQ_COMMIT_SAME;
        return 0;
    }
    if (old > offset && !force) {
        *result = RMQ_COMMIT_STALE;
        return 0;
    }
    t->offs[queue_id] = offset;
    o->changes++;
    *result = RMQ_COMMIT_STORED;
    return 0;
}

void
rmq_offsets_remove_group(rmq_offsets *o, const char *group)
{
    char      **doomed = calloc(o->tg.n + 1, sizeof(*doomed));
    size_t      n = 0;
    size_t      pos = 0;
    void       *v;
    const char *key;

    if (doomed == NULL) {
        return;
    }
    while ((key = rmq_strmap_next(&o->tg, &pos, &v)) != NULL) {
        struct off_tg *t = v;
        if (strcmp(t->group, group) == 0) {
            doomed[n++] = (char *)key;
        }
    }
    for (size_t i = 0; i < n; i++) {
        char           key_copy[OFF_KEY_MAX];
        struct off_tg *t;
        /* the map frees its key copy while deleting: look up by ours */
        rmq_strlcpy(key_copy, doomed[i], sizeof(key_copy));
        t = rmq_strmap_del(&o->tg, key_copy);
        if (t != NULL) {
            free(t->offs);
            free(t);
        }
    }
    free(doomed);
    if (n > 0) {
        o->changes++;
    }
}

void
rmq_offsets_group_topics(const rmq_offsets *o, const char               *group,
                         void (*fn)(void *arg, const char *topic), void *arg)
{
    size_t pos = 0;
    void  *v;

    while (rmq_strmap_next(&o->tg, &pos, &v) != NULL) {
        const struct off_tg *t = v;
        if (strcmp(t->group, group) == 0) {
            fn(arg, t->topic);
        }
    }
}

/* ---- JSON ---------------------------------------------------------------- */

/* A JSON string literal of s (escaped as jansson escapes it). */
static void
off_json_str(rmq_buf *out, const char *s)
{
    json_t *v = json_string(s);
    char   *text = v ? json_dumps(v, JSON_ENCODE_ANY) : NULL;

    if (text == NULL) {
        out->oom = true;
    } else {
        rmq_buf_append_str(out, text);
    }
    free(text);
    json_decref(v);
}

static int
off_cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void
off_json_queues(const struct off_tg *t, rmq_buf *out)
{
    bool first = true;

    rmq_buf_u8(out, '{');
    for (uint32_t q = 0; q < t->cap; q++) {
        if (t->offs[q] < 0) {
            continue;
        }
        rmq_buf_printf(out, "%s%u:%lld", first ? "" : ",", q,
                       (long long)t->offs[q]);
        first = false;
    }
    rmq_buf_u8(out, '}');
}

int
rmq_offsets_json(const rmq_offsets *o, rmq_buf *out)
{
    const char **keys = calloc(o->tg.n + 1, sizeof(*keys));
    size_t       n = 0;
    size_t       pos = 0;
    void        *v;
    const char  *key;

    if (keys == NULL) {
        return RMQ_ERR_NOMEM;
    }
    while ((key = rmq_strmap_next(&o->tg, &pos, &v)) != NULL) {
        keys[n++] = key;
    }
    qsort(keys, n, sizeof(*keys), off_cmp_str);
    rmq_buf_append_str(out, "{\"offsetTable\":{");
    for (size_t i = 0; i < n; i++) {
        rmq_buf_append_str(out, i == 0 ? "\n\t" : ",\n\t");
        off_json_str(out, keys[i]);
        rmq_buf_u8(out, ':');
        off_json_queues(rmq_strmap_get(&o->tg, keys[i]), out);
    }
    rmq_buf_append_str(out, n > 0 ? "\n}}\n" : "}}\n");
    free(keys);
    return out->oom ? RMQ_ERR_NOMEM : 0;
}

/* One "topic@group": {qid: offset, ...} entry into m. */
static int
off_load_entry(rmq_strmap *m, const char *key, json_t *queues)
{
    char        topic[RMQ_TOPIC_NAME_MAX];
    const char *at = strchr(key, '@');
    const char *qkey;
    json_t     *val;

    if (at == NULL || !json_is_object(queues) ||
        (size_t)(at - key) >= sizeof(topic)) {
        return 0; /* not ours to judge: skip it */
    }
    memcpy(topic, key, (size_t)(at - key));
    topic[at - key] = '\0';
    json_object_foreach(queues, qkey, val)
    {
        struct off_tg *t;
        int32_t        qid;
        int            rc;
        if (rmq_parse_i32(qkey, &qid) != 0 || !json_is_integer(val)) {
            continue;
        }
        rc = off_set(m, at + 1, topic, qid, json_integer_value(val), &t);
        if (rc == RMQ_ERR_NOMEM) {
            return rc;
        }
        if (rc == 0) {
            t->offs[qid] = json_integer_value(val);
        }
    }
    return 0;
}

int
rmq_offsets_load_doc(rmq_offsets *o, json_t *doc)
{
    json_t     *table = json_object_get(doc, "offsetTable");
    rmq_strmap  fresh;
    const char *key;
    json_t     *queues;
    int         rc = 0;

    if (!json_is_object(table)) {
        return RMQ_ERR_PROTO;
    }
    rmq_strmap_init(&fresh);
    json_object_foreach(table, key, queues)
    {
        if ((rc = off_load_entry(&fresh, key, queues)) != 0) {
            break;
        }
    }
    if (rc != 0) {
        off_free_map(&fresh);
        return rc;
    }
    off_free_map(&o->tg);
    o->tg = fresh;
    return 0;
}

int
rmq_offsets_load_json(rmq_offsets *o, const char *text, size_t len)
{
    char   *quoted;
    size_t  qlen;
    json_t *doc;
    int     rc;

    if (rmq_json_quote_bare_keys(text, len, &quoted, &qlen) != 0) {
        return RMQ_ERR_NOMEM;
    }
    doc = json_loadb(quoted, qlen, 0, NULL);
    free(quoted);
    rc = doc != NULL ? rmq_offsets_load_doc(o, doc) : RMQ_ERR_PROTO;
    json_decref(doc);
    return rc;
}

int
rmq_consume_stats_json(const char *broker_name, const rmq_cstats_row *rows,
                       size_t n, double consume_tps, rmq_buf *out)
{
    rmq_buf_printf(out, "{\"consumeTps\":%.1f,\"offsetTable\":{", consume_tps);
    for (size_t i = 0; i < n; i++) {
        const rmq_cstats_row *r = &rows[i];
        rmq_buf_append_str(out,
                           i == 0 ? "{\"brokerName\":" : ",{\"brokerName\":");
        off_json_str(out, broker_name);
        rmq_buf_printf(out, ",\"queueId\":%d,\"topic\":", r->queue_id);
        off_json_str(out, r->topic);
        rmq_buf_printf(out,
                       "}:{\"brokerOffset\":%lld,\"consumerOffset\":%lld,"
                       "\"lastTimestamp\":%lld}",
                       (long long)r->broker_offset,
                       (long long)r->consumer_offset,
                       (long long)r->last_timestamp);
    }
    rmq_buf_append_str(out, "}}");
    return out->oom ? RMQ_ERR_NOMEM : 0;
}
