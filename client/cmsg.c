/*
 * cmsg.c - message objects and their property lists (cmsg.h).  Pure data
 * structures; runs on whatever thread owns the message.
 */
#include "client/cmsg.h"

#include "client/cerr.h"
#include "common/util.h"
#include "proto/props.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CMSG_DELAY_MAX 18

/* MessageConst names an application may not set (Java's STRING_HASH_SET,
 * plus what the broker adds). */
static const char *const cmsg_reserved[] = {
    "TRACE_ON",
    "MSG_REGION",
    "KEYS",
    "TAGS",
    "WAIT",
    "DELAY",
    "RETRY_TOPIC",
    "REAL_TOPIC",
    "REAL_QID",
    "TRAN_MSG",
    "PGROUP",
    "MIN_OFFSET",
    "MAX_OFFSET",
    "BUYER_ID",
    "ORIGIN_MESSAGE_ID",
    "TRANSFER_FLAG",
    "CORRECTION_FLAG",
    "MQ2_FLAG",
    "RECONSUME_TIME",
    "UNIQ_KEY",
    "MAX_RECONSUME_TIMES",
    "CONSUME_START_TIME",
    "TRAN_PREPARED_QUEUE_OFFSET",
    "TRANSACTION_CHECK_TIMES",
    "CHECK_IMMUNITY_TIME_IN_SECONDS",
    "CLUSTER",
    "INSTANCE_ID",
    "CORRELATION_ID",
    "REPLY_TO_CLIENT",
    "TTL",
    "ARRIVE_TIME",
    "PUSH_REPLY_TIME",
    "MSG_TYPE",
    "INNER_MULTI_DISPATCH",
    "INNER_MULTI_QUEUE_OFFSET",
};

/* ---- property lists ---------------------------------------------------- */

void
rmq_plist_free(rmq_plist *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->keys[i]);
        free(l->vals[i]);
    }
    free(l->keys);
    free(l->vals);
    memset(l, 0, sizeof(*l));
}

static long
plist_find(const rmq_plist *l, const char *key, size_t klen)
{
    for (size_t i = 0; i < l->n; i++) {
        if (strncmp(l->keys[i], key, klen) == 0 && l->keys[i][klen] == '\0') {
            return (long)i;
        }
    }
    return -1;
}

static int
plist_grow(rmq_plist *l)
{
    size_t cap = l->cap ? l->cap * 2 : 8;
    char **k = realloc(l->keys, cap * sizeof(*k));

    if (k == NULL) {
        return RMQ_CLIENT_ERR_NOMEM;
    }
    l->keys = k;
    k = realloc(l->vals, cap * sizeof(*k));
    if (k == NULL) {
        return RMQ_CLIENT_ERR_NOMEM;
    }
    l->vals = k;
    l->cap = cap;
    return 0;
}

int
rmq_plist_setn(rmq_plist *l, const char *key, size_t klen, const char *val,
               size_t vlen)
{
    long  i = plist_find(l, key, klen);
    char *v = strndup(val, vlen);
    char *k;

    if (v == NULL) {
        return RMQ_CLIENT_ERR_NOMEM;
    }
    if (i >= 0) {
        free(l->vals[i]);
        l->vals[i] = v;
        return 0;
    }
    k = strndup(key, klen);
    if (k == NULL || (l->n == l->cap && plist_grow(l) != 0)) {
        free(k);
        free(v);
        return RMQ_CLIENT_ERR_NOMEM;
    }
    l->keys[l->n] = k;
    l->vals[l->n] = v;
    l->n++;
    return 0;
}

int
rmq_plist_set(rmq_plist *l, const char *key, const char *val)
{
    return rmq_plist_setn(l, key, strlen(key), val, strlen(val));
}

const char *
rmq_plist_get(const rmq_plist *l, const char *key)
{
    long i = plist_find(l, key, strlen(key));

    return i >= 0 ? l->vals[i] : NULL;
}

void
rmq_plist_del(rmq_plist *l, const char *key)
{
    long i = plist_find(l, key, strlen(key));

    if (i < 0) {
        return;
    }
    free(l->keys[i]);
    free(l->vals[i]);
    memmove(&l->keys[i], &l->keys[i + 1],
            (l->n - (size_t)i - 1) * sizeof(char *));
    memmove(&l->vals[i], &l->vals[i + 1],
            (l->n - (size_t)i - 1) * sizeof(char *));
    l->n--;
}

int
rmq_plist_copy(rmq_plist *dst, const rmq_plist *src)
{
    for (size_t i = 0; i < src->n; i++) {
        if (rmq_plist_set(dst, src->keys[i], src->vals[i]) != 0) {
            return RMQ_CLIENT_ERR_NOMEM;
        }
    }
    return 0;
}

static int
plist_parse_item(void *arg, const char *key, size_t klen, const char *value,
                 size_t vlen)
{
    return rmq_plist_setn(arg, key, klen, value, vlen);
}

int
rmq_plist_parse(rmq_plist *l, const char *text, size_t len)
{
    return rmq_props_each(text, len, plist_parse_item, l) == 0
               ? 0
               : RMQ_CLIENT_ERR_NOMEM;
}

void
rmq_plist_write(const rmq_plist *l, rmq_buf *out)
{
    for (size_t i = 0; i < l->n; i++) {
        if (i > 0) {
            rmq_buf_u8(out, RMQ_PROP_SEP_ITEM);
        }
        rmq_buf_append_str(out, l->keys[i]);
        rmq_buf_u8(out, RMQ_PROP_SEP_KV);
        rmq_buf_append_str(out, l->vals[i]);
    }
}

bool
rmq_plist_is_reserved(const char *key)
{
    for (size_t i = 0; i < RMQ_ARRAY_LEN(cmsg_reserved); i++) {
        if (strcmp(cmsg_reserved[i], key) == 0) {
            return true;
        }
    }
    return false;
}

/* ---- rmq_message ------------------------------------------------------- */

static bool
cmsg_has_separator(const char *s)
{
    return strchr(s, '\x01') != NULL || strchr(s, '\x02') != NULL;
}

int
rmq_message_new(const char *topic, const void *body, size_t body_len,
                rmq_message **out, rmq_error *err)
{
    rmq_message *m;

    if (topic == NULL || topic[0] == '\0' || out == NULL) {
        return rmq_cerr_set(err, RMQ_CLIENT_ERR_INVALID,
                            "cannot create a message without a topic");
    }
    if (strlen(topic) >= RMQ_TOPIC_MAX) {
        return rmq_cerr_set(err, RMQ_CLIENT_ERR_INVALID,
                            "topic is longer than %d bytes", RMQ_TOPIC_MAX - 1);
    }
    m = calloc(1, sizeof(*m));
    if (m == NULL || (m->topic = strdup(topic)) == NULL) {
        free(m);
        return rmq_cerr_set(err, RMQ_CLIENT_ERR_NOMEM,
                            "could not allocate a message");
    }
    if (rmq_message_set_body(m, body, body_len, err) != 0) {
        rmq_message_free(m);
        return err != NULL ? err->code : RMQ_CLIENT_ERR_INVALID;
    }
    *out = m;
    return 0;
}

void
rmq_message_free(rmq_message *m)
{
    if (m == NULL) {
        return;
    }
    free(m->topic);
    free(m->body);
    rmq_plist_free(&m->props);
    free(m);
}

int
rmq_message_set_body(rmq_message *m, const void *body, size_t body_len,
                     rmq_error *err)
{
    uint8_t *copy;

    if (m == NULL || (body == NULL && body_len > 0)) {
        return rmq_cerr_set(err, RMQ_CLIENT_ERR_INVALID, "body is NULL");
    }
    copy = malloc(body_len > 0 ? body_len : 1);
    if (copy == NULL) {
        return rmq_cerr_set(err, RMQ_CLIENT_ERR_NOMEM,
                            "could not allocate a body of %zu bytes", body_len);
    }
    if (body_len > 0) {
        memcpy(copy, body, body_len);
    }
    free(m->body);
    m->body = copy;
    m->body_len = body_len;
    return 0;
}

/* Set or clear a system property after checking its value. */
static int
cmsg_set_sys(rmq_message *m, const char *key, const char *val, rmq_error *err)
{
    if (m == NULL) {
        return rmq_cerr_set(err, RMQ_CLIENT_ERR_INVALID, "message is NULL");
    }
    if (val == NULL || val[0] == '\0') {
        rmq_plist_del(&m->props, key);
        return 0;
    }
    if (cmsg_has_separator(val)) {
        return rmq_cerr_set(err, RMQ_CLIENT_ERR_INVALID,
                            "%s holds a U+0001 or U+0002 character", key);
    }
    if (rmq_plist_set(&m->props, key, val) != 0) {
        return rmq_cerr_set(err, RMQ_CLIENT_ERR_NOMEM,
                            "could not set property %s", key);
    }
    return 0;
}

int
rmq_message_set_tags(rmq_message *m, const char *tags, rmq_error *err)
{
    return cmsg_set_sys(m, RMQ_PROP_TAGS, tags, err);
}

int
rmq_message_set_keys(rmq_message *m, const char *keys, rmq_error *err)
{
    return cmsg_set_sys(m, RMQ_PROP_KEYS, keys, err);
}

int
rmq_message_set_delay_level(rmq_message *m, int level, rmq_error *err)
{
    char text[16];

    if (level < 0 || level > CMSG_DELAY_MAX) {
        return rmq_cerr_set(err, RMQ_CLIENT_ERR_INVALID,
                            "delay level %d is not in 0..%d", level,
                            CMSG_DELAY_MAX);
    }
    snprintf(text, sizeof(text), "%d", level);
    return cmsg_set_sys(m, RMQ_PROP_DELAY, level == 0 ? NULL : text, err);
}

int
rmq_message_set_flag(rmq_message *m, int32_t flag, rmq_error *err)
{
    if (m == NULL) {
        return rmq_cerr_set(err, RMQ_CLIENT_ERR_INVALID, "message is NULL");
    }
    m->flag = flag;
    return 0;
}

int
rmq_message_set_property(rmq_message *m, const char *key, const char *value,
                         rmq_error *err)
{
    if (m == NULL || key == NULL || key[0] == '\0') {
        return rmq_cerr_set(err, RMQ_CLIENT_ERR_INVALID,
                            "property name is empty");
    }
    if (rmq_plist_is_reserved(key)) {
        return rmq_cerr_set(err, RMQ_CLIENT_ERR_INVALID,
                            "property name %s is reserved", key);
    }
    if (cmsg_has_separator(key)) {
        return rmq_cerr_set(err, RMQ_CLIENT_ERR_INVALID,
                            "property name holds a U+0001 or U+0002 character");
    }
    return cmsg_set_sys(m, key, value, err);
}

const char *
rmq_message_get_topic(const rmq_message *m)
{
    return m->topic;
}

const char *
rmq_message_get_tags(const rmq_message *m)
{
    return rmq_plist_get(&m->props, RMQ_PROP_TAGS);
}

const char *
rmq_message_get_keys(const rmq_message *m)
{
    return rmq_plist_get(&m->props, RMQ_PROP_KEYS);
}

const char *
rmq_message_get_property(const rmq_message *m, const char *key)
{
    return rmq_plist_get(&m->props, key);
}

const void *
rmq_message_get_body(const rmq_message *m, size_t *len)
{
    if (len != NULL) {
        *len = m->body_len;
    }
    return m->body;
}

int
rmq_message_get_delay_level(const rmq_message *m)
{
    const char *v = rmq_plist_get(&m->props, RMQ_PROP_DELAY);
    int32_t     level = 0;

    if (v != NULL && rmq_parse_i32(v, &level) != 0) {
        level = 0;
    }
    return level;
}

/* ---- rmq_message_ext --------------------------------------------------- */

rmq_message_ext *
rmq_msgext_alloc(void)
{
    return calloc(1, sizeof(rmq_message_ext));
}

void
rmq_msgext_set_ids(rmq_message_ext *m)
{
    const char *uniq = rmq_plist_get(&m->props, RMQ_PROP_UNIQ_KEY);

    if (uniq != NULL && strlen(uniq) < sizeof(m->msg_id)) {
        strcpy(m->msg_id, uniq);
    } else {
        strcpy(m->msg_id, m->offset_msg_id);
    }
}

int
rmq_msgext_set_topic(rmq_message_ext *m, const char *topic)
{
    char *t = strdup(topic);

    if (t == NULL) {
        return RMQ_CLIENT_ERR_NOMEM;
    }
    free(m->topic);
    m->topic = t;
    return 0;
}

void
rmq_message_ext_free(rmq_message_ext *m)
{
    if (m == NULL) {
        return;
    }
    free(m->topic);
    free(m->body);
    rmq_plist_free(&m->props);
    free(m);
}

int
rmq_message_ext_dup(const rmq_message_ext *m, rmq_message_ext **out,
                    rmq_error *err)
{
    rmq_message_ext *d = rmq_msgext_alloc();

    if (d == NULL) {
        goto oom;
    }
    *d = *m;
    memset(&d->props, 0, sizeof(d->props));
    d->topic = strdup(m->topic);
    d->body = malloc(m->body_len + 1);
    if (d->topic == NULL || d->body == NULL ||
        rmq_plist_copy(&d->props, &m->props) != 0) {
        goto oom;
    }
    memcpy(d->body, m->body, m->body_len);
    d->body[m->body_len] = '\0';
    *out = d;
    return 0;

oom:
    if (d != NULL) {
        rmq_message_ext_free(d);
    }
    return rmq_cerr_set(err, RMQ_CLIENT_ERR_NOMEM, "could not copy a message");
}

const char *
rmq_message_ext_get_topic(const rmq_message_ext *m)
{
    return m->topic;
}

const char *
rmq_message_ext_get_tags(const rmq_message_ext *m)
{
    return rmq_plist_get(&m->props, RMQ_PROP_TAGS);
}

const char *
rmq_message_ext_get_keys(const rmq_message_ext *m)
{
    return rmq_plist_get(&m->props, RMQ_PROP_KEYS);
}

const void *
rmq_message_ext_get_body(const rmq_message_ext *m, size_t *len)
{
    if (len != NULL) {
        *len = m->body_len;
    }
    return m->body;
}

const char *
rmq_message_ext_get_property(const rmq_message_ext *m, const char *key)
{
    return rmq_plist_get(&m->props, key);
}

size_t
rmq_message_ext_property_count(const rmq_message_ext *m)
{
    return m->props.n;
}

int
rmq_message_ext_property_at(const rmq_message_ext *m, size_t i,
                            const char **key, const char **value)
{
    if (i >= m->props.n) {
        return RMQ_CLIENT_ERR_INVALID;
    }
    *key = m->props.keys[i];
    *value = m->props.vals[i];
    return 0;
}

const char *
rmq_message_ext_get_msg_id(const rmq_message_ext *m)
{
    return m->msg_id;
}

const char *
rmq_message_ext_get_offset_msg_id(const rmq_message_ext *m)
{
    return m->offset_msg_id;
}

const char *
rmq_message_ext_get_broker_name(const rmq_message_ext *m)
{
    return m->broker_name;
}

int32_t
rmq_message_ext_get_queue_id(const rmq_message_ext *m)
{
    return m->queue_id;
}

int64_t
rmq_message_ext_get_queue_offset(const rmq_message_ext *m)
{
    return m->queue_offset;
}

int64_t
rmq_message_ext_get_commitlog_offset(const rmq_message_ext *m)
{
    return m->commitlog_offset;
}

int64_t
rmq_message_ext_get_born_timestamp(const rmq_message_ext *m)
{
    return m->born_timestamp;
}

int64_t
rmq_message_ext_get_store_timestamp(const rmq_message_ext *m)
{
    return m->store_timestamp;
}

const char *
rmq_message_ext_get_born_host(const rmq_message_ext *m)
{
    return m->born_host;
}

const char *
rmq_message_ext_get_store_host(const rmq_message_ext *m)
{
    return m->store_host;
}

int32_t
rmq_message_ext_get_reconsume_times(const rmq_message_ext *m)
{
    return m->reconsume_times;
}

int32_t
rmq_message_ext_get_flag(const rmq_message_ext *m)
{
    return m->flag;
}

int32_t
rmq_message_ext_get_sys_flag(const rmq_message_ext *m)
{
    return m->sys_flag;
}

void
rmq_queues_free(rmq_queue *queues)
{
    free(queues);
}
