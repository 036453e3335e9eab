/*
 * cjson.c - JSON bodies (cjson.h).  Pure; any thread.
 */
#include "client/cjson.h"

#include "client/cerr.h"
#include "common/json.h"

#include <jansson.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define CJSON_DEPTH_MAX 64

/* Request bodies are compact with sorted keys, as the broker's own. */
static int
cjson_append(rmq_buf *out, json_t *doc)
{
    return rmq_json_append(out, doc, JSON_COMPACT | JSON_SORT_KEYS) == 0
               ? 0
               : RMQ_CLIENT_ERR_NOMEM;
}

/* ---- HeartbeatData ----------------------------------------------------- */

static json_t *
cjson_sub(const rmq_hb_sub *s)
{
    json_t *tags = json_array();
    json_t *codes = json_array();

    for (size_t i = 0; tags != NULL && codes != NULL && i < s->expr->n; i++) {
        json_array_append_new(tags, json_string(s->expr->tags[i]));
        json_array_append_new(codes, json_integer(s->expr->codes[i]));
    }
    return json_pack("{s:b, s:o*, s:s, s:s, s:I, s:o*, s:s}", "classFilterMode",
                     0, "codeSet", codes, "expressionType", "TAG", "subString",
                     s->expr->text, "subVersion", (json_int_t)s->version,
                     "tagsSet", tags, "topic", s->topic);
}

static json_t *
cjson_consumer(const rmq_hb_consumer *c)
{
    json_t *subs = json_array();

    for (size_t i = 0; subs != NULL && i < c->nsubs; i++) {
        json_t *s = cjson_sub(&c->subs[i]);
        if (s == NULL || json_array_append_new(subs, s) != 0) {
            json_decref(subs);
            return NULL;
        }
    }
    return json_pack("{s:s, s:s, s:s, s:s, s:o*, s:b}", "consumeFromWhere",
                     c->consume_from, "consumeType", c->consume_type,
                     "groupName", c->group, "messageModel", c->message_model,
                     "subscriptionDataSet", subs, "unitMode", 0);
}

int
rmq_cjson_heartbeat(const char *client_id, const char *producer_group,
                    const rmq_hb_consumer *consumer, rmq_buf *out)
{
    json_t *consumers = json_array();
    json_t *producers = json_array();
    json_t *doc;

    if (consumer != NULL && consumers != NULL) {
        json_array_append_new(consumers, cjson_consumer(consumer));
    }
    if (producer_group != NULL && producers != NULL) {
        json_array_append_new(producers,
                              json_pack("{s:s}", "groupName", producer_group));
    }
    doc = json_pack("{s:s, s:o*, s:o*}", "clientID", client_id,
                    "consumerDataSet", consumers, "producerDataSet", producers);
    return cjson_append(out, doc);
}

/* ---- consumer list ----------------------------------------------------- */

void
rmq_cjson_ids_free(char **ids, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(ids[i]);
    }
    free(ids);
}

int
rmq_cjson_consumer_ids(const uint8_t *body, size_t len, char ***ids, size_t *n)
{
    json_t *doc = json_loadb((const char *)body, len, 0, NULL);
    json_t *list = doc != NULL ? json_object_get(doc, "consumerIdList") : NULL;
    size_t  count, i;
    char  **out;

    *ids = NULL;
    *n = 0;
    if (!json_is_array(list)) {
        json_decref(doc);
        return RMQ_CLIENT_ERR_PROTO;
    }
    count = json_array_size(list);
    out = calloc(count > 0 ? count : 1, sizeof(*out));
    if (out == NULL) {
        json_decref(doc);
        return RMQ_CLIENT_ERR_NOMEM;
    }
    for (i = 0; i < count; i++) {
        const char *s = json_string_value(json_array_get(list, i));
        if (s == NULL || (out[i] = strdup(s)) == NULL) {
            break;
        }
    }
    json_decref(doc);
    if (i < count) {
        rmq_cjson_ids_free(out, i);
        return RMQ_CLIENT_ERR_PROTO;
    }
    *ids = out;
    *n = count;
    return 0;
}

/* ---- lock bodies ------------------------------------------------------- */

int
rmq_cjson_lock_body(const char *group, const char *client_id,
                    const rmq_cjson_mq *mqs, size_t n, rmq_buf *out)
{
    json_t *set = json_array();
    json_t *doc;

    for (size_t i = 0; set != NULL && i < n; i++) {
        json_t *mq =
            json_pack("{s:s, s:I, s:s}", "brokerName", mqs[i].broker, "queueId",
                      (json_int_t)mqs[i].qid, "topic", mqs[i].topic);
        if (mq == NULL || json_array_append_new(set, mq) != 0) {
            json_decref(set);
            return RMQ_CLIENT_ERR_NOMEM;
        }
    }
    doc = json_pack("{s:s, s:s, s:o*}", "clientId", client_id, "consumerGroup",
                    group, "mqSet", set);
    return cjson_append(out, doc);
}

void
rmq_cjson_mqs_free(rmq_cjson_mq *mqs, size_t n)
{
    for (size_t i = 0; mqs != NULL && i < n; i++) {
        free(mqs[i].topic);
        free(mqs[i].broker);
    }
    free(mqs);
}

/* One MessageQueue object; 0, RMQ_CLIENT_ERR_PROTO or _NOMEM. */
static int
cjson_mq(json_t *jm, rmq_cjson_mq *mq)
{
    const char *topic = json_string_value(json_object_get(jm, "topic"));
    const char *broker = json_string_value(json_object_get(jm, "brokerName"));
    json_t     *qid = json_object_get(jm, "queueId");
    json_int_t  v = -1;
    char       *end = NULL;

    if (json_is_integer(qid)) {
        v = json_integer_value(qid);
    } else if (json_is_string(qid) && json_string_value(qid)[0] != '\0') {
        v = strtoll(json_string_value(qid), &end, 10);
        v = *end == '\0' ? v : -1;
    }
    if (topic == NULL || broker == NULL || v < 0 || v > INT32_MAX) {
        return RMQ_CLIENT_ERR_PROTO;
    }
    mq->topic = strdup(topic);
    mq->broker = strdup(broker);
    mq->qid = (int32_t)v;
    return mq->topic != NULL && mq->broker != NULL ? 0 : RMQ_CLIENT_ERR_NOMEM;
}

int
rmq_cjson_lock_ok(const uint8_t *body, size_t len, rmq_cjson_mq **mqs,
                  size_t *n)
{
    json_t       *doc = json_loadb((const char *)body, len, 0, NULL);
    json_t       *set = json_object_get(doc, "lockOKMQSet");
    size_t        count = json_array_size(set), i;
    rmq_cjson_mq *out;
    int           rc = 0;

    *mqs = NULL;
    *n = 0;
    if (!json_is_object(doc) || (set != NULL && !json_is_array(set))) {
        json_decref(doc);
        return RMQ_CLIENT_ERR_PROTO;
    }
    out = calloc(count > 0 ? count : 1, sizeof(*out));
    if (out == NULL) {
        json_decref(doc);
        return RMQ_CLIENT_ERR_NOMEM;
    }
    for (i = 0; i < count && rc == 0; i++) {
        rc = cjson_mq(json_array_get(set, i), &out[i]);
    }
    json_decref(doc);
    if (rc != 0) {
        rmq_cjson_mqs_free(out, i);
        return rc;
    }
    *mqs = out;
    *n = count;
    return 0;
}

/* ---- fastjson bare keys ------------------------------------------------ */

typedef struct qk_state {
    char stack[CJSON_DEPTH_MAX]; /* '{' or '[' */
    int  depth;
    bool want_key; /* in an object, before a key */
} qk_state;

/* Copy a JSON string starting at text[i] == '"'; returns the index after. */
static size_t
qk_string(const char *text, size_t len, size_t i, rmq_buf *out)
{
    size_t start = i++;

    while (i < len && text[i] != '"') {
        i += (text[i] == '\\' && i + 1 < len) ? 2 : 1;
    }
    i = i < len ? i + 1 : len;
    rmq_buf_append(out, text + start, i - start);
    return i;
}

/* A bare key: copy [-]digits quoted; returns the index after it. */
static size_t
qk_bare_key(const char *text, size_t len, size_t i, rmq_buf *out)
{
    size_t start = i;

    if (text[i] == '-') {
        i++;
    }
    while (i < len && text[i] >= '0' && text[i] <= '9') {
        i++;
    }
    rmq_buf_u8(out, '"');
    rmq_buf_append(out, text + start, i - start);
    rmq_buf_u8(out, '"');
    return i;
}

int
rmq_cjson_quote_keys(const char *text, size_t len, rmq_buf *out)
{
    qk_state st = {.depth = 0, .want_key = false};
    size_t   i = 0;

    while (i < len) {
        char ch = text[i];

        if (ch == '"') {
            i = qk_string(text, len, i, out);
            st.want_key = false;
            continue;
        }
        if (st.want_key && (ch == '-' || (ch >= '0' && ch <= '9'))) {
            i = qk_bare_key(text, len, i, out);
            st.want_key = false;
            continue;
        }
        if (ch == '{' || ch == '[') {
            if (st.depth == CJSON_DEPTH_MAX) {
                return RMQ_CLIENT_ERR_PROTO;
            }
            st.stack[st.depth++] = ch;
            st.want_key = ch == '{';
        } else if (ch == '}' || ch == ']') {
            st.depth -= st.depth > 0 ? 1 : 0;
            st.want_key = false;
        } else if (ch == ',') {
            st.want_key = st.depth > 0 && st.stack[st.depth - 1] == '{';
        }
        rmq_buf_u8(out, (uint8_t)ch);
        i++;
    }
    return out->oom ? RMQ_CLIENT_ERR_NOMEM : 0;
}
