/*
 * record.c - encode, fix up and decode commit-log records (see record.h).
 * Pure functions over caller memory, used by every process that touches
 * the commit log; no shared state.
 */
#include "store/record.h"

#include "common/err.h"
#include "common/util.h"

#include <string.h>

/* Everything before bodyLength, plus the bodyLength field itself. */
static uint32_t
rec_fixed_before_body(uint32_t sysflag)
{
    return rmq_rec_off_body_len(sysflag) + 4;
}

static uint32_t
rec_sysflag_for(const rmq_rec_msg *m)
{
    uint32_t f =
        m->sysflag & ~(uint32_t)(RMQ_SYSFLAG_BORN_V6 | RMQ_SYSFLAG_STORE_V6);

    if (m->born_ip_len == 16) {
        f |= RMQ_SYSFLAG_BORN_V6;
    }
    if (m->store_ip_len == 16) {
        f |= RMQ_SYSFLAG_STORE_V6;
    }
    return f;
}

int
rmq_rec_size(const rmq_rec_msg *m, uint32_t *size)
{
    uint64_t total;

    if ((m->born_ip_len != 4 && m->born_ip_len != 16) ||
        (m->store_ip_len != 4 && m->store_ip_len != 16)) {
        return RMQ_ERR_INVAL;
    }
    if (m->topic == NULL || m->topic_len == 0 ||
        (m->body == NULL && m->body_len > 0) ||
        (m->props == NULL && m->props_len > 0)) {
        return RMQ_ERR_INVAL;
    }
    if (m->topic_len > RMQ_REC_TOPIC_MAX_V1 ||
        m->props_len > RMQ_REC_PROPS_MAX) {
        return RMQ_ERR_TOOBIG;
    }
    total = (uint64_t)rec_fixed_before_body(rec_sysflag_for(m)) + m->body_len +
            1 + m->topic_len + 2 + m->props_len;
    if (total > INT32_MAX) {
        return RMQ_ERR_TOOBIG;
    }
    *size = (uint32_t)total;
    return 0;
}

static uint8_t *
rec_put_host(uint8_t *w, const uint8_t *ip, uint8_t ip_len, int32_t port)
{
    memcpy(w, ip, ip_len);
    rmq_put_be32(w + ip_len, (uint32_t)port);
    return w + ip_len + 4;
}

int
rmq_rec_encode(const rmq_rec_msg *m, void *buf, size_t cap, uint32_t *len)
{
    uint32_t size;
    uint32_t sysflag = rec_sysflag_for(m);
    uint8_t *w = buf;
    int      rc;

    rc = rmq_rec_size(m, &size);
    if (rc != 0) {
        return rc;
    }
    if (cap < size) {
        return RMQ_ERR_FULL;
    }
    rmq_put_be32(w + RMQ_REC_OFF_TOTAL, size);
    rmq_put_be32(w + RMQ_REC_OFF_MAGIC, RMQ_REC_MAGIC_V1);
    rmq_put_be32(w + RMQ_REC_OFF_BODY_CRC, m->body_crc);
    rmq_put_be32(w + RMQ_REC_OFF_QUEUE_ID, (uint32_t)m->queue_id);
    rmq_put_be32(w + RMQ_REC_OFF_FLAG, (uint32_t)m->flag);
    rmq_put_be64(w + RMQ_REC_OFF_QUEUE_OFF, 0);
    rmq_put_be64(w + RMQ_REC_OFF_PHYS_OFF, 0);
    rmq_put_be32(w + RMQ_REC_OFF_SYSFLAG, sysflag);
    rmq_put_be64(w + RMQ_REC_OFF_BORN_TS, (uint64_t)m->born_ts);
    w = rec_put_host(w + RMQ_REC_OFF_BORN_HOST, m->born_ip, m->born_ip_len,
                     m->born_port);
    rmq_put_be64(w, 0); /* storeTimestamp */
    w = rec_put_host(w + 8, m->store_ip, m->store_ip_len, m->store_port);
    rmq_put_be32(w, (uint32_t)m->reconsume_times);
    rmq_put_be64(w + 4, (uint64_t)m->prepared_tx_offset);
    rmq_put_be32(w + 12, m->body_len);
    w += 16;
    if (m->body_len > 0) {
        memcpy(w, m->body, m->body_len);
    }
    w += m->body_len;
    *w++ = (uint8_t)m->topic_len;
    memcpy(w, m->topic, m->topic_len);
    w += m->topic_len;
    rmq_put_be16(w, (uint16_t)m->props_len);
    if (m->props_len > 0) {
        memcpy(w + 2, m->props, m->props_len);
    }
    *len = size;
    return 0;
}

void
rmq_rec_fixup(void *rec, int64_t queue_offset, int64_t phys_offset,
              int64_t store_ts)
{
    uint8_t *b = rec;
    uint32_t sysflag = rmq_be32(b + RMQ_REC_OFF_SYSFLAG);

    rmq_put_be64(b + RMQ_REC_OFF_QUEUE_OFF, (uint64_t)queue_offset);
    rmq_put_be64(b + RMQ_REC_OFF_PHYS_OFF, (uint64_t)phys_offset);
    rmq_put_be64(b + rmq_rec_off_store_ts(sysflag), (uint64_t)store_ts);
}

/* The fields before bodyLength; the caller checked they are readable. */
static void
rec_decode_head(const uint8_t *b, rmq_rec_view *out)
{
    uint32_t sf = rmq_be32(b + RMQ_REC_OFF_SYSFLAG);
    uint32_t sh = rmq_rec_off_store_host(sf);

    out->body_crc = rmq_be32(b + RMQ_REC_OFF_BODY_CRC);
    out->queue_id = (int32_t)rmq_be32(b + RMQ_REC_OFF_QUEUE_ID);
    out->flag = (int32_t)rmq_be32(b + RMQ_REC_OFF_FLAG);
    out->queue_offset = (int64_t)rmq_be64(b + RMQ_REC_OFF_QUEUE_OFF);
    out->phys_offset = (int64_t)rmq_be64(b + RMQ_REC_OFF_PHYS_OFF);
    out->sysflag = sf;
    out->born_ts = (int64_t)rmq_be64(b + RMQ_REC_OFF_BORN_TS);
    out->born_ip = b + RMQ_REC_OFF_BORN_HOST;
    out->born_ip_len = (uint8_t)(rmq_rec_born_host_len(sf) - 4);
    out->born_port = (int32_t)rmq_be32(out->born_ip + out->born_ip_len);
    out->store_ts = (int64_t)rmq_be64(b + rmq_rec_off_store_ts(sf));
    out->store_ip = b + sh;
    out->store_ip_len = (uint8_t)(rmq_rec_store_host_len(sf) - 4);
    out->store_port = (int32_t)rmq_be32(out->store_ip + out->store_ip_len);
    out->reconsume_times = (int32_t)rmq_be32(b + rmq_rec_off_reconsume(sf));
    out->prepared_tx_offset = (int64_t)rmq_be64(b + rmq_rec_off_prepared(sf));
}

/*
 * The variable part: body, topic, properties.  Every length is checked
 * against totalSize before it is used, and the parts must add up to it.
 */
static int
rec_decode_tail(const uint8_t *b, uint32_t total, rmq_rec_view *out)
{
    uint32_t tlen_size = out->magic == RMQ_REC_MAGIC_V2 ? 2 : 1;
    uint64_t pos = rmq_rec_off_body_len(out->sysflag);
    int32_t  body_len = (int32_t)rmq_be32(b + pos);
    int32_t  topic_len;
    int16_t  props_len;

    pos += 4;
    if (body_len < 0 || pos + (uint64_t)body_len + tlen_size > total) {
        return RMQ_ERR_CORRUPT;
    }
    out->body = b + pos;
    out->body_len = (uint32_t)body_len;
    pos += (uint64_t)body_len;
    topic_len = tlen_size == 1 ? (int8_t)b[pos] : (int16_t)rmq_be16(b + pos);
    pos += tlen_size;
    if (topic_len <= 0 || pos + (uint64_t)topic_len + 2 > total) {
        return RMQ_ERR_CORRUPT;
    }
    out->topic = (const char *)b + pos;
    out->topic_len = (uint32_t)topic_len;
    pos += (uint64_t)topic_len;
    props_len = (int16_t)rmq_be16(b + pos);
    pos += 2;
    if (props_len < 0 || pos + (uint64_t)props_len != total) {
        return RMQ_ERR_CORRUPT;
    }
    out->props = (const char *)b + pos;
    out->props_len = (uint32_t)props_len;
    return 0;
}

static int
rec_decode_msg(const uint8_t *b, uint32_t total, bool check_crc,
               rmq_rec_view *out)
{
    int rc;

    /* sysFlag decides the layout, so it must be readable first */
    if (total < RMQ_REC_OFF_SYSFLAG + 4 ||
        total < rec_fixed_before_body(rmq_be32(b + RMQ_REC_OFF_SYSFLAG))) {
        return RMQ_ERR_CORRUPT;
    }
    rec_decode_head(b, out);
    rc = rec_decode_tail(b, total, out);
    if (rc != 0) {
        return rc;
    }
    if (check_crc && rmq_body_crc(out->body, out->body_len) != out->body_crc) {
        return RMQ_ERR_CORRUPT;
    }
    out->kind = RMQ_REC_MSG;
    return 0;
}

static bool
rec_all_zero(const uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (b[i] != 0) {
            return false;
        }
    }
    return true;
}

int
rmq_rec_decode(const void *p, size_t avail, bool check_crc, rmq_rec_view *out)
{
    const uint8_t *b = p;
    uint32_t       total;

    memset(out, 0, sizeof(*out));
    out->rec = b;
    if (avail < RMQ_REC_BLANK_LEN) {
        return RMQ_ERR_CORRUPT; /* a file always leaves room for a BLANK */
    }
    if (rec_all_zero(b, RMQ_REC_BLANK_LEN)) {
        out->kind = RMQ_REC_END;
        return 0;
    }
    total = rmq_be32(b + RMQ_REC_OFF_TOTAL);
    out->magic = rmq_be32(b + RMQ_REC_OFF_MAGIC);
    out->total_size = total;
    if (total < RMQ_REC_BLANK_LEN || total > avail) {
        return RMQ_ERR_CORRUPT;
    }
    if (out->magic == RMQ_REC_MAGIC_BLANK) {
        out->kind = RMQ_REC_BLANK;
        return 0;
    }
    if (out->magic != RMQ_REC_MAGIC_V1 && out->magic != RMQ_REC_MAGIC_V2) {
        return RMQ_ERR_CORRUPT;
    }
    return rec_decode_msg(b, total, check_crc, out);
}

bool
rmq_rec_prop(const char *props, size_t len, const char *key, const char **val,
             uint32_t *val_len)
{
    size_t klen = strlen(key);
    size_t pos = 0;

    while (pos < len) {
        const char *item = props + pos;
        const char *end = memchr(item, '\x02', len - pos);
        size_t      ilen = end != NULL ? (size_t)(end - item) : len - pos;

        if (ilen > klen && memcmp(item, key, klen) == 0 &&
            item[klen] == '\x01') {
            *val = item + klen + 1;
            *val_len = (uint32_t)(ilen - klen - 1);
            return true;
        }
        pos += ilen + 1;
    }
    return false;
}

/* A small positive decimal; -1 when the text is not one. */
static int
rec_parse_level(const char *s, uint32_t len)
{
    int v = 0;

    if (len == 0 || len > 6) {
        return -1;
    }
    for (uint32_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

static bool
rec_is_schedule_topic(const rmq_rec_view *v)
{
    size_t n = sizeof(RMQ_SCHEDULE_TOPIC) - 1;

    return v->topic_len == n && memcmp(v->topic, RMQ_SCHEDULE_TOPIC, n) == 0;
}

int64_t
rmq_rec_tags_code(const rmq_rec_view *v, const int64_t *delay_ms, int levels)
{
    const char *val;
    uint32_t    vlen;

    if (rec_is_schedule_topic(v)) {
        int level = v->queue_id + 1;

        if (rmq_rec_prop(v->props, v->props_len, "DELAY", &val, &vlen)) {
            level = rec_parse_level(val, vlen);
        }
        if (level > 0) {
            if (levels <= 0) {
                return v->store_ts + 1000;
            }
            level = RMQ_MIN(level, levels);
            return v->store_ts + delay_ms[level - 1];
        }
    }
    if (rmq_rec_prop(v->props, v->props_len, "TAGS", &val, &vlen) && vlen > 0) {
        return (int64_t)rmq_java_hash(val, vlen);
    }
    return 0;
}

int
rmq_rec_msgid(const uint8_t *ip, size_t ip_len, int32_t port,
              int64_t phys_offset, char out[RMQ_MSGID_CAP])
{
    uint8_t raw[28];

    if (ip_len != 4 && ip_len != 16) {
        return RMQ_ERR_INVAL;
    }
    memcpy(raw, ip, ip_len);
    rmq_put_be32(raw + ip_len, (uint32_t)port);
    rmq_put_be64(raw + ip_len + 4, (uint64_t)phys_offset);
    rmq_hex_upper(raw, ip_len + 12, out);
    return 0;
}

int
rmq_rec_msgid_decode(const char *id, size_t len, uint8_t ip[16],
                     uint8_t *ip_len, int32_t *port, int64_t *offset)
{
    uint8_t raw[28];
    size_t  n;

    if (len != RMQ_MSGID_V4_LEN && len != RMQ_MSGID_V6_LEN) {
        return RMQ_ERR_INVAL;
    }
    if (rmq_hex_decode(id, len, raw, sizeof(raw)) != (int)(len / 2)) {
        return RMQ_ERR_INVAL;
    }
    n = len / 2 - 12;
    memcpy(ip, raw, n);
    *ip_len = (uint8_t)n;
    *port = (int32_t)rmq_be32(raw + n);
    *offset = (int64_t)rmq_be64(raw + n + 4);
    return 0;
}
