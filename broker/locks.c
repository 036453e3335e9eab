/*
 * locks.c - queue locks for orderly consumers (locks.h).  Runs in the
 * rebalancer process only.
 */
#include "broker/locks.h"

#include "common/err.h"
#include "common/json.h"
#include "common/util.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOCK_KEY_MAX                                                           \
    (RMQ_GROUP_NAME_MAX + RMQ_TOPIC_NAME_MAX + RMQ_BROKER_NAME_MAX + 16)

struct lock_entry {
    char    client_id[RMQ_CLIENT_ID_MAX];
    int64_t renewed_ms;
};

static void
lock_remark(char *remark, size_t cap, const char *text)
{
    if (remark != NULL && cap > 0) {
        rmq_strlcpy(remark, text, cap);
    }
}

static bool
lock_json_str(json_t *obj, const char *key, char *dst, size_t cap)
{
    json_t *v = json_object_get(obj, key);

    return json_is_string(v) && rmq_strlcpy(dst, json_string_value(v), cap);
}

static bool
lock_parse_mq(json_t *jm, rmq_mq *mq)
{
    json_t *qid = json_object_get(jm, "queueId");
    int32_t q;

    if (!json_is_object(jm) ||
        !lock_json_str(jm, "topic", mq->topic, sizeof(mq->topic)) ||
        !lock_json_str(jm, "brokerName", mq->broker_name,
                       sizeof(mq->broker_name))) {
        return false;
    }
    if (json_is_integer(qid)) {
        json_int_t v = json_integer_value(qid);
        if (v < 0 || v > INT32_MAX) {
            return false;
        }
        mq->queue_id = (int32_t)v;
        return true;
    }
    if (json_is_string(qid) && rmq_parse_i32(json_string_value(qid), &q) == 0 &&
        q >= 0) {
        mq->queue_id = q;
        return true;
    }
    return false;
}

int
rmq_lock_req_parse(const void *body, size_t len, rmq_lock_req *out,
                   char *remark, size_t remark_cap)
{
    json_t *doc = json_loadb(body, len, 0, NULL);
    json_t *set = json_object_get(doc, "mqSet");
    size_t  i;
    json_t *jm;
    int     rc = RMQ_ERR_PROTO;

    memset(out, 0, sizeof(*out));
    if (!json_is_object(doc) ||
        !lock_json_str(doc, "consumerGroup", out->group, sizeof(out->group)) ||
        !lock_json_str(doc, "clientId", out->client_id,
                       sizeof(out->client_id))) {
        lock_remark(remark, remark_cap,
                    "lock body needs consumerGroup and clientId");
        goto done;
    }
    if (json_is_array(set) && json_array_size(set) > RMQ_LOCK_BATCH_MAX) {
        lock_remark(remark, remark_cap, "too many queues in one lock request");
        goto done;
    }
    if (json_is_array(set) && json_array_size(set) > 0) {
        out->mqs = calloc(json_array_size(set), sizeof(*out->mqs));
        if (out->mqs == NULL) {
            lock_remark(remark, remark_cap, "out of memory");
            rc = RMQ_ERR_NOMEM;
            goto done;
        }
    }
    json_array_foreach(set, i, jm)
    {
        if (!lock_parse_mq(jm, &out->mqs[out->n])) {
            lock_remark(remark, remark_cap, "malformed MessageQueue in mqSet");
            goto done;
        }
        out->n++;
    }
    rc = 0;

done:
    json_decref(doc);
    return rc;
}

void
rmq_lock_req_free(rmq_lock_req *r)
{
    free(r->mqs);
    memset(r, 0, sizeof(*r));
}

void
rmq_locks_init(rmq_locks *l, int64_t lease_ms)
{
    rmq_strmap_init(&l->map);
    l->lease_ms = lease_ms;
}

void
rmq_locks_fini(rmq_locks *l)
{
    size_t pos = 0;
    void  *v;

    while (rmq_strmap_next(&l->map, &pos, &v) != NULL) {
        free(v);
    }
    rmq_strmap_free(&l->map);
}

/* The map key; '\001' cannot appear in topic or group names. */
static void
lock_key(const char *group, const rmq_mq *mq, char *key)
{
    snprintf(key, LOCK_KEY_MAX, "%s\001%s\001%s\001%d", group, mq->topic,
             mq->broker_name, mq->queue_id);
}

static bool
lock_is_live(const rmq_locks *l, const struct lock_entry *e, int64_t now_ms)
{
    /* Java: expired when more than the lease passed since renewal */
    return now_ms - e->renewed_ms <= l->lease_ms;
}

static int
lock_one(rmq_locks *l, const char *group, const char *client_id,
         const rmq_mq *mq, int64_t now_ms, bool *locked)
{
    char               key[LOCK_KEY_MAX];
    struct lock_entry *e;

    lock_key(group, mq, key);
    e = rmq_strmap_get(&l->map, key);
    if (e == NULL) {
        e = calloc(1, sizeof(*e));
        if (e == NULL || rmq_strmap_put(&l->map, key, e) != 0) {
            free(e);
            *locked = false;
            return RMQ_ERR_NOMEM;
        }
    } else if (strcmp(e->client_id, client_id) != 0 &&
               lock_is_live(l, e, now_ms)) {
        *locked = false; /* someone else holds it */
        return 0;
    }
    rmq_strlcpy(e->client_id, client_id, sizeof(e->client_id));
    e->renewed_ms = now_ms;
    *locked = true;
    return 0;
}

int
rmq_locks_try(rmq_locks *l, const char *group, const char *client_id,
              const rmq_mq *mqs, uint32_t n, int64_t now_ms, bool *locked)
{
    for (uint32_t i = 0; i < n; i++) {
        int rc = lock_one(l, group, client_id, &mqs[i], now_ms, &locked[i]);
        if (rc != 0) {
            for (uint32_t j = i + 1; j < n; j++) {
                locked[j] = false;
            }
            return rc;
        }
    }
    return 0;
}

void
rmq_locks_unlock(rmq_locks *l, const char *group, const char *client_id,
                 const rmq_mq *mqs, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        char               key[LOCK_KEY_MAX];
        struct lock_entry *e;

        lock_key(group, &mqs[i], key);
        e = rmq_strmap_get(&l->map, key);
        if (e != NULL && strcmp(e->client_id, client_id) == 0) {
            free(rmq_strmap_del(&l->map, key));
        }
    }
}

const char *
rmq_locks_owner(const rmq_locks *l, const char *group, const rmq_mq *mq,
                int64_t now_ms)
{
    char                     key[LOCK_KEY_MAX];
    const struct lock_entry *e;

    lock_key(group, mq, key);
    e = rmq_strmap_get(&l->map, key);
    return e != NULL && lock_is_live(l, e, now_ms) ? e->client_id : NULL;
}

uint32_t
rmq_locks_expire(rmq_locks *l, int64_t now_ms)
{
    char      **doomed = calloc(l->map.n + 1, sizeof(*doomed));
    uint32_t    n = 0;
    size_t      pos = 0;
    void       *v;
    const char *key;

    if (doomed == NULL) {
        return 0;
    }
    while ((key = rmq_strmap_next(&l->map, &pos, &v)) != NULL) {
        if (!lock_is_live(l, v, now_ms)) {
            doomed[n++] = strdup(key);
        }
    }
    for (uint32_t i = 0; i < n; i++) {
        if (doomed[i] != NULL) {
            free(rmq_strmap_del(&l->map, doomed[i]));
        }
        free(doomed[i]);
    }
    free(doomed);
    return n;
}

int
rmq_lock_result_json(const rmq_mq *mqs, const bool *locked, uint32_t n,
                     rmq_buf *out)
{
    json_t *set = json_array();

    for (uint32_t i = 0; set != NULL && i < n; i++) {
        if (locked[i]) {
            json_array_append_new(set, json_pack("{s:s,s:i,s:s}", "brokerName",
                                                 mqs[i].broker_name, "queueId",
                                                 (int)mqs[i].queue_id, "topic",
                                                 mqs[i].topic));
        }
    }
    return rmq_json_append(out, json_pack("{s:o}", "lockOKMQSet", set),
                           JSON_COMPACT | JSON_SORT_KEYS);
}
