/*
 * delay.c - delay-level rewrites (delay.h).  Runs in the acceptor (send
 * side) and the scheduler (delivery side); pure functions, no shared data.
 */
#include "broker/delay.h"

#include "common/err.h"
#include "common/util.h"

#include <stdio.h>
#include <string.h>

/* A property value as a Java int; RMQ_ERR_INVAL when it is not one. */
static int
delay_parse_int(const char *s, uint32_t len, int32_t *out)
{
    char buf[16];

    if (s == NULL || len == 0 || len >= sizeof(buf)) {
        return RMQ_ERR_INVAL;
    }
    memcpy(buf, s, len);
    buf[len] = '\0';
    return rmq_parse_i32(buf, out);
}

int
rmq_delay_level(const rmq_props *props, int levels)
{
    const char *val;
    uint32_t    len = 0;
    int32_t     n;

    if (levels <= 0) {
        return 0;
    }
    val = rmq_props_get(props, RMQ_PROP_DELAY, &len);
    if (val == NULL || delay_parse_int(val, len, &n) != 0 || n <= 0) {
        return 0;
    }
    return n > levels ? levels : (int)n;
}

int
rmq_delay_rewrite(rmq_props *props, const char *topic, uint32_t topic_len,
                  int32_t queue_id, uint32_t sysflag, int levels,
                  rmq_delay_target *out)
{
    uint32_t len;
    uint32_t added;
    int      level;

    memset(out, 0, sizeof(*out));
    level = rmq_delay_level(props, levels);
    if (level == 0 || !rmq_rec_is_dispatchable(sysflag)) {
        return 0;
    }
    if (topic == NULL || topic_len == 0 || topic_len > RMQ_REC_TOPIC_MAX_V1 ||
        queue_id < 0) {
        return RMQ_ERR_INVAL;
    }
    /* check for room first: a failed rewrite leaves props as they were */
    added = (rmq_props_get(props, RMQ_PROP_REAL_TOPIC, &len) == NULL) +
            (rmq_props_get(props, RMQ_PROP_REAL_QID, &len) == NULL);
    if (props->n + added > RMQ_PROPS_MAX) {
        return RMQ_ERR_TOOBIG;
    }
    snprintf(out->level_text, sizeof(out->level_text), "%d", level);
    snprintf(out->qid_text, sizeof(out->qid_text), "%d", (int)queue_id);
    /*
     * Canonical DELAY text: the dispatcher derives the delivery time from
     * it and reads plain digits only ("+3" or "03" would not be a level).
     */
    if (rmq_props_set(props, RMQ_PROP_DELAY, out->level_text) != 0 ||
        rmq_props_setn(props, RMQ_PROP_REAL_TOPIC,
                       sizeof(RMQ_PROP_REAL_TOPIC) - 1, topic,
                       topic_len) != 0 ||
        rmq_props_set(props, RMQ_PROP_REAL_QID, out->qid_text) != 0) {
        return RMQ_ERR_INVAL; /* a topic holding U+0002: not a topic */
    }
    out->level = level;
    out->topic = RMQ_SCHEDULE_TOPIC;
    out->topic_len = sizeof(RMQ_SCHEDULE_TOPIC) - 1;
    out->queue_id = level - 1;
    return 0;
}

/* ---- delivery side ---------------------------------------------------- */

/* The real topic and queue found while filtering the properties. */
struct delay_real {
    const char *topic;
    uint32_t    topic_len;
    const char *qid;
    uint32_t    qid_len;
};

/* Whether the len bytes at s are exactly name. */
static bool
delay_text_is(const char *s, uint32_t len, const char *name)
{
    size_t n = strlen(name);

    return len == n && memcmp(s, name, n) == 0;
}

/*
 * Copy the well-formed items of props ("key\1value", both non-empty) to
 * out, joined by U+0002, without DELAY; note the last REAL_TOPIC and
 * REAL_QID.  out has room for len bytes, which the result never exceeds.
 */
static uint32_t
delay_filter_props(const char *props, uint32_t len, char *out,
                   struct delay_real *real)
{
    uint32_t pos = 0;
    uint32_t n = 0;

    while (pos < len) {
        const char *item = props + pos;
        const char *end = memchr(item, RMQ_PROP_SEP_ITEM, len - pos);
        uint32_t    ilen = end ? (uint32_t)(end - item) : len - pos;
        const char *kv = memchr(item, RMQ_PROP_SEP_KV, ilen);
        uint32_t    klen = kv ? (uint32_t)(kv - item) : 0;

        pos += ilen + 1;
        if (klen == 0 || klen + 1 >= ilen ||
            delay_text_is(item, klen, RMQ_PROP_DELAY)) {
            continue;
        }
        if (delay_text_is(item, klen, RMQ_PROP_REAL_TOPIC)) {
            real->topic = kv + 1;
            real->topic_len = ilen - klen - 1;
        } else if (delay_text_is(item, klen, RMQ_PROP_REAL_QID)) {
            real->qid = kv + 1;
            real->qid_len = ilen - klen - 1;
        }
        if (n > 0) {
            out[n++] = RMQ_PROP_SEP_ITEM;
        }
        memcpy(out + n, item, ilen);
        n += ilen;
    }
    return n;
}

/* Everything but the topic, queue and properties comes from v as is. */
static void
delay_copy_fields(const rmq_rec_view *v, const rmq_host *host, rmq_rec_msg *m)
{
    memset(m, 0, sizeof(*m));
    m->flag = v->flag;
    m->sysflag = v->sysflag;
    m->born_ts = v->born_ts;
    memcpy(m->born_ip, v->born_ip, v->born_ip_len);
    m->born_ip_len = v->born_ip_len;
    m->born_port = v->born_port;
    memcpy(m->store_ip, host->ip, host->ip_len);
    m->store_ip_len = host->ip_len;
    m->store_port = host->port;
    m->reconsume_times = v->reconsume_times;
    m->prepared_tx_offset = v->prepared_tx_offset;
    m->body = v->body;
    m->body_len = v->body_len;
    m->body_crc = v->body_crc;
}

int
rmq_delay_unwrap(const rmq_rec_view *v, const rmq_host *host,
                 rmq_delay_msg *out)
{
    struct delay_real real = {0};
    uint32_t          plen;
    int32_t           qid;

    if (v->kind != RMQ_REC_MSG || v->props_len > sizeof(out->props) ||
        (v->born_ip_len != 4 && v->born_ip_len != 16) ||
        (host->ip_len != 4 && host->ip_len != 16)) {
        return RMQ_ERR_INVAL;
    }
    plen = delay_filter_props(v->props, v->props_len, out->props, &real);
    if (real.topic == NULL || real.qid == NULL) {
        return RMQ_ERR_NOTFOUND;
    }
    if (real.topic_len > RMQ_REC_TOPIC_MAX_V1 ||
        delay_text_is(real.topic, real.topic_len, RMQ_SCHEDULE_TOPIC) ||
        delay_parse_int(real.qid, real.qid_len, &qid) != 0 || qid < 0) {
        return RMQ_ERR_INVAL;
    }
    if (delay_text_is(real.topic, real.topic_len, RMQ_TOPIC_TRANS_HALF)) {
        return RMQ_ERR_PERM;
    }
    delay_copy_fields(v, host, &out->msg);
    out->msg.topic = real.topic;
    out->msg.topic_len = real.topic_len;
    out->msg.queue_id = qid;
    out->msg.props = out->props;
    out->msg.props_len = plen;
    return 0;
}
