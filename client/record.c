/*
 * record.c - commit-log record decoding and send-side encodings
 * (record.h).  Pure functions; any thread.  Bytes from the network are
 * validated, never asserted on.
 */
#include "client/record.h"

#include "client/cerr.h"
#include "common/util.h"
#include "proto/codes.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define RECORD_PROPS_MAX 32767
#define RECORD_COMPRESS_LEVEL 5
/* compression type in sysFlag bits 8..10: 0 legacy zlib, 3 zlib */
#define RECORD_COMPRESS_TYPE(sf) (((uint32_t)(sf) >> 8) & 0x7)

/* A bounds-checked reader: any overrun sets bad and yields zeros. */
typedef struct rec_cur {
    const uint8_t *p;
    size_t         len;
    size_t         off;
    bool           bad;
} rec_cur;

static const uint8_t *
rec_take(rec_cur *c, size_t n)
{
    const uint8_t *at;

    if (c->bad || c->len - c->off < n) {
        c->bad = true;
        return NULL;
    }
    at = c->p + c->off;
    c->off += n;
    return at;
}

static uint32_t
rec_u32(rec_cur *c)
{
    const uint8_t *at = rec_take(c, 4);
    return at != NULL ? rmq_be32(at) : 0;
}

static uint64_t
rec_u64(rec_cur *c)
{
    const uint8_t *at = rec_take(c, 8);
    return at != NULL ? rmq_be64(at) : 0;
}

static uint16_t
rec_u16(rec_cur *c)
{
    const uint8_t *at = rec_take(c, 2);
    return at != NULL ? rmq_be16(at) : 0;
}

/* ip (4 or 16 bytes) + int32 port -> "a.b.c.d:port" / "[v6]:port". */
static const uint8_t *
rec_host(rec_cur *c, bool v6, char *out, size_t cap)
{
    const uint8_t *ip = rec_take(c, v6 ? 16 : 4);
    uint32_t       port = rec_u32(c);
    char           text[INET6_ADDRSTRLEN] = "?";

    if (ip == NULL || c->bad) {
        out[0] = '\0';
        return NULL;
    }
    inet_ntop(v6 ? AF_INET6 : AF_INET, ip, text, sizeof(text));
    if (v6) {
        snprintf(out, cap, "[%s]:%u", text, port);
    } else {
        snprintf(out, cap, "%s:%u", text, port);
    }
    return ip;
}

static void
rec_offset_id(char *out, const uint8_t *ip, size_t ip_len, const uint8_t *port,
              uint64_t phys)
{
    uint8_t raw[16 + 4 + 8];

    memcpy(raw, ip, ip_len);
    memcpy(raw + ip_len, port, 4);
    rmq_put_be64(raw + ip_len + 4, phys);
    rmq_hex_upper(raw, ip_len + 12, out);
}

static int
rec_body(rmq_message_ext *m, const uint8_t *body, size_t len)
{
    rmq_buf out;
    int     rc;

    if ((m->sys_flag & RMQ_MSGF_COMPRESSED) == 0) {
        m->body = malloc(len + 1);
        if (m->body == NULL) {
            return RMQ_CLIENT_ERR_NOMEM;
        }
        memcpy(m->body, body, len);
        m->body[len] = '\0'; /* text bodies work as C strings */
        m->body_len = len;
        return 0;
    }
    if (RECORD_COMPRESS_TYPE(m->sys_flag) != 0 &&
        RECORD_COMPRESS_TYPE(m->sys_flag) != 3) {
        return RMQ_CLIENT_ERR_PROTO; /* LZ4 / ZSTD: not supported */
    }
    rmq_buf_init(&out);
    rc = rmq_body_inflate(body, len, RMQ_BODY_INFLATE_MAX, &out);
    if (rc != 0) {
        rmq_buf_free(&out);
        return rc;
    }
    rmq_buf_cstr(&out); /* a NUL after the body, not counted */
    if (out.oom) {
        rmq_buf_free(&out);
        return RMQ_CLIENT_ERR_NOMEM;
    }
    m->body = out.data;
    m->body_len = out.len;
    return 0;
}

/* Fields after the fixed header: body, topic, properties. */
static int
rec_tail(rec_cur *c, rmq_message_ext *m, bool v2)
{
    uint32_t       body_len = rec_u32(c);
    const uint8_t *body = rec_take(c, body_len);
    size_t         topic_len;
    const uint8_t *topic, *props;
    uint16_t       props_len;
    int            rc;

    if (v2) {
        topic_len = rec_u16(c);
    } else {
        const uint8_t *t = rec_take(c, 1);
        topic_len = t != NULL ? t[0] : 0;
    }
    topic = rec_take(c, topic_len);
    props_len = rec_u16(c);
    props = rec_take(c, props_len);
    if (c->bad || topic_len == 0) {
        return RMQ_CLIENT_ERR_PROTO;
    }
    m->topic = strndup((const char *)topic, topic_len);
    if (m->topic == NULL ||
        rmq_plist_parse(&m->props, (const char *)props, props_len) != 0) {
        return RMQ_CLIENT_ERR_NOMEM;
    }
    if ((rc = rec_body(m, body, body_len)) != 0) {
        return rc;
    }
    return 0;
}

static int
rec_fields(rec_cur *c, rmq_message_ext *m, bool v2)
{
    const uint8_t *store_ip;
    const uint8_t *store_port;
    bool           store_v6;

    m->body_crc = (int32_t)rec_u32(c);
    m->queue_id = (int32_t)rec_u32(c);
    m->flag = (int32_t)rec_u32(c);
    m->queue_offset = (int64_t)rec_u64(c);
    m->commitlog_offset = (int64_t)rec_u64(c);
    m->sys_flag = (int32_t)rec_u32(c);
    m->born_timestamp = (int64_t)rec_u64(c);
    rec_host(c, (m->sys_flag & RMQ_MSGF_BORNHOST_V6) != 0, m->born_host,
             sizeof(m->born_host));
    m->store_timestamp = (int64_t)rec_u64(c);
    store_v6 = (m->sys_flag & RMQ_MSGF_STOREHOST_V6) != 0;
    store_ip = rec_host(c, store_v6, m->store_host, sizeof(m->store_host));
    m->reconsume_times = (int32_t)rec_u32(c);
    m->prepared_tx_offset = (int64_t)rec_u64(c);
    if (c->bad) {
        return RMQ_CLIENT_ERR_PROTO;
    }
    store_port = store_ip + (store_v6 ? 16 : 4);
    rec_offset_id(m->offset_msg_id, store_ip, store_v6 ? 16 : 4, store_port,
                  (uint64_t)m->commitlog_offset);
    return rec_tail(c, m, v2);
}

int
rmq_record_decode(const uint8_t *p, size_t len, size_t *used,
                  rmq_message_ext **out)
{
    rec_cur          c = {.p = p, .len = len};
    uint32_t         total, magic;
    rmq_message_ext *m;
    int              rc;

    *used = 0;
    total = rec_u32(&c);
    magic = rec_u32(&c);
    if (c.bad || total < 8 || total > len) {
        return RMQ_CLIENT_ERR_PROTO;
    }
    *used = total;
    if (magic != RMQ_RECORD_MAGIC_V1 && magic != RMQ_RECORD_MAGIC_V2) {
        return RMQ_CLIENT_ERR_PROTO;
    }
    c.len = total; /* a record's fields never run into the next one */
    m = rmq_msgext_alloc();
    if (m == NULL) {
        return RMQ_CLIENT_ERR_NOMEM;
    }
    rc = rec_fields(&c, m, magic == RMQ_RECORD_MAGIC_V2);
    if (rc != 0) {
        rmq_message_ext_free(m);
        return rc;
    }
    rmq_msgext_set_ids(m);
    *out = m;
    return 0;
}

static int
rec_push(rmq_message_ext ***msgs, size_t *n, size_t *cap, rmq_message_ext *m)
{
    if (*n == *cap) {
        size_t            ncap = *cap ? *cap * 2 : 16;
        rmq_message_ext **a = realloc(*msgs, ncap * sizeof(*a));
        if (a == NULL) {
            return RMQ_CLIENT_ERR_NOMEM;
        }
        *msgs = a;
        *cap = ncap;
    }
    (*msgs)[(*n)++] = m;
    return 0;
}

int
rmq_records_decode(const uint8_t *p, size_t len, rmq_message_ext ***msgs,
                   size_t *n, size_t *skipped)
{
    size_t off = 0, cap = 0;

    *msgs = NULL;
    *n = 0;
    *skipped = 0;
    while (off < len) {
        rmq_message_ext *m = NULL;
        size_t           used;
        int              rc = rmq_record_decode(p + off, len - off, &used, &m);

        if (rc == RMQ_CLIENT_ERR_NOMEM ||
            (rc == 0 && rec_push(msgs, n, &cap, m) != 0)) {
            rmq_message_ext_free(m);
            rmq_msgexts_free(*msgs, *n);
            *msgs = NULL;
            *n = 0;
            return RMQ_CLIENT_ERR_NOMEM;
        }
        if (rc != 0) {
            (*skipped)++;
            if (used == 0) {
                break; /* framing lost: the rest cannot be found */
            }
        }
        off += used;
    }
    return 0;
}

void
rmq_msgexts_free(rmq_message_ext **msgs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        rmq_message_ext_free(msgs[i]);
    }
    free(msgs);
}

/* ---- bodies ------------------------------------------------------------ */

int
rmq_body_compress(const void *in, size_t len, rmq_buf *out)
{
    uLong    bound = compressBound((uLong)len);
    uLongf   dlen = bound;
    uint8_t *dst = rmq_buf_extend(out, bound);

    if (dst == NULL) {
        return RMQ_CLIENT_ERR_NOMEM;
    }
    if (compress2(dst, &dlen, in, (uLong)len, RECORD_COMPRESS_LEVEL) != Z_OK) {
        out->len -= bound;
        return RMQ_CLIENT_ERR_NOMEM;
    }
    out->len -= bound - dlen;
    return 0;
}

int
rmq_body_inflate(const void *in, size_t len, size_t max, rmq_buf *out)
{
    z_stream zs;
    int      zr = Z_OK;

    memset(&zs, 0, sizeof(zs));
    if (inflateInit(&zs) != Z_OK) {
        return RMQ_CLIENT_ERR_NOMEM;
    }
    zs.next_in = (Bytef *)in;
    zs.avail_in = (uInt)len;
    while (zr == Z_OK) {
        size_t room = RMQ_MAX(len * 2, (size_t)4096);
        if (out->len + room > max) {
            room = max - out->len;
        }
        if (room == 0 || rmq_buf_reserve(out, room) != 0) {
            zr = room == 0 ? Z_DATA_ERROR : Z_MEM_ERROR;
            break;
        }
        zs.next_out = out->data + out->len;
        zs.avail_out = (uInt)room;
        zr = inflate(&zs, Z_NO_FLUSH);
        out->len += room - zs.avail_out;
        if (zr == Z_BUF_ERROR && zs.avail_out > 0) {
            break; /* input ended before the stream did */
        }
        if (zr == Z_BUF_ERROR) {
            zr = Z_OK;
        }
    }
    inflateEnd(&zs);
    if (zr == Z_STREAM_END) {
        return 0;
    }
    return zr == Z_MEM_ERROR ? RMQ_CLIENT_ERR_NOMEM : RMQ_CLIENT_ERR_PROTO;
}

/* ---- send-side encodings ----------------------------------------------- */

int
rmq_record_props(const rmq_message *m, const char *uniq_key, rmq_buf *out)
{
    size_t start = out->len;

    rmq_plist_write(&m->props, out);
    if (uniq_key != NULL) {
        if (out->len > start) {
            rmq_buf_u8(out, '\x02');
        }
        rmq_buf_printf(out, "%s\x01%s", RMQ_PROP_UNIQ_KEY, uniq_key);
    }
    if (out->len > start) {
        rmq_buf_u8(out, '\x02');
    }
    rmq_buf_printf(out, "%s\x01true", RMQ_PROP_WAIT);
    if (out->oom) {
        return RMQ_CLIENT_ERR_NOMEM;
    }
    return out->len - start > RECORD_PROPS_MAX ? RMQ_CLIENT_ERR_TOO_BIG : 0;
}

static int
rec_batch_one(const rmq_message *m, const char *uniq_key, rmq_buf *props,
              rmq_buf *out)
{
    int rc;

    rmq_buf_reset(props);
    if ((rc = rmq_record_props(m, uniq_key, props)) != 0) {
        return rc;
    }
    if (m->body_len > INT32_MAX - 22 - props->len) {
        return RMQ_CLIENT_ERR_TOO_BIG;
    }
    rmq_buf_be32(out,
                 (uint32_t)(4 + 4 + 4 + 4 + 4 + m->body_len + 2 + props->len));
    rmq_buf_be32(out, 0); /* magic */
    rmq_buf_be32(out, 0); /* bodyCRC: the broker computes it */
    rmq_buf_be32(out, (uint32_t)m->flag);
    rmq_buf_be32(out, (uint32_t)m->body_len);
    rmq_buf_append(out, m->body, m->body_len);
    rmq_buf_be16(out, (uint16_t)props->len);
    rmq_buf_append(out, props->data, props->len);
    return out->oom ? RMQ_CLIENT_ERR_NOMEM : 0;
}

int
rmq_record_batch(const rmq_message *const *msgs, size_t n,
                 const char *const *uniq_keys, rmq_buf *out)
{
    rmq_buf props;
    int     rc = 0;

    rmq_buf_init(&props);
    for (size_t i = 0; i < n && rc == 0; i++) {
        rc = rec_batch_one(msgs[i], uniq_keys != NULL ? uniq_keys[i] : NULL,
                           &props, out);
    }
    rmq_buf_free(&props);
    return rc;
}
