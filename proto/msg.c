/*
 * msg.c - generic msgpack encode/decode over rmq_mdesc layouts (msg.h).
 * Encoding uses msgpack-c's packer writing into an rmq_buf; decoding uses
 * msgpack_unpack_next and walks the object tree, checking every field.
 */
#include "proto/msg.h"

#include "common/err.h"

#include <msgpack.h>
#include <stdbool.h>
#include <string.h>

static int
msg_buf_write(void *data, const char *p, size_t n)
{
    rmq_buf *b = data;

    rmq_buf_append(b, p, n);
    return b->oom ? -1 : 0;
}

static void msg_pack_struct(msgpack_packer *pk, const rmq_mdesc *d,
                            const void *msg, bool with_id);

static void
msg_pack_field(msgpack_packer *pk, const rmq_mfield *f, const char *base)
{
    const void *p = base + f->offset;
    uint32_t    n;

    switch (f->type) {
    case RMQ_MF_U32:
        msgpack_pack_uint32(pk, *(const uint32_t *)p);
        break;
    case RMQ_MF_I32:
        msgpack_pack_int32(pk, *(const int32_t *)p);
        break;
    case RMQ_MF_U64:
        msgpack_pack_uint64(pk, *(const uint64_t *)p);
        break;
    case RMQ_MF_I64:
        msgpack_pack_int64(pk, *(const int64_t *)p);
        break;
    case RMQ_MF_BOOL:
        if (*(const bool *)p) {
            msgpack_pack_true(pk);
        } else {
            msgpack_pack_false(pk);
        }
        break;
    case RMQ_MF_STR:
        n = (uint32_t)strnlen(p, f->size);
        msgpack_pack_str(pk, n);
        msgpack_pack_str_body(pk, p, n);
        break;
    case RMQ_MF_BIN: {
        const rmq_bytes *b = p;
        msgpack_pack_bin(pk, b->len);
        msgpack_pack_bin_body(pk, b->ptr, b->len);
        break;
    }
    case RMQ_MF_ARRAY:
        n = *(const uint32_t *)(base + f->count_off);
        n = n > f->max ? f->max : n;
        msgpack_pack_array(pk, n);
        for (uint32_t i = 0; i < n; i++) {
            msg_pack_struct(pk, f->elem, (const char *)p + (size_t)i * f->size,
                            false);
        }
        break;
    case RMQ_MF_U64S:
        n = *(const uint32_t *)(base + f->count_off);
        n = n > f->max ? f->max : n;
        msgpack_pack_array(pk, n);
        for (uint32_t i = 0; i < n; i++) {
            msgpack_pack_uint64(pk, ((const uint64_t *)p)[i]);
        }
        break;
    }
}

static void
msg_pack_struct(msgpack_packer *pk, const rmq_mdesc *d, const void *msg,
                bool with_id)
{
    msgpack_pack_array(pk, d->nfields + (with_id ? 1u : 0u));
    if (with_id) {
        msgpack_pack_uint16(pk, d->id);
    }
    for (uint16_t i = 0; i < d->nfields; i++) {
        msg_pack_field(pk, &d->fields[i], msg);
    }
}

int
rmq_msg_encode(const rmq_mdesc *d, const void *msg, rmq_buf *out)
{
    msgpack_packer pk;

    msgpack_packer_init(&pk, out, msg_buf_write);
    msg_pack_struct(&pk, d, msg, true);
    return out->oom ? RMQ_ERR_NOMEM : 0;
}

static int msg_unpack_struct(const msgpack_object *o, const rmq_mdesc *d,
                             void *msg, bool with_id);

static int
msg_get_int(const msgpack_object *o, int64_t lo, uint64_t hi, bool *neg,
            uint64_t *mag)
{
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
        *neg = false;
        *mag = o->via.u64;
        return o->via.u64 <= hi ? 0 : RMQ_ERR_PROTO;
    }
    if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        *neg = true;
        *mag = (uint64_t)o->via.i64;
        return o->via.i64 >= lo ? 0 : RMQ_ERR_PROTO;
    }
    return RMQ_ERR_PROTO;
}

static int
msg_unpack_scalar(const msgpack_object *o, const rmq_mfield *f, void *p)
{
    bool     neg;
    uint64_t v;

    switch (f->type) {
    case RMQ_MF_U32:
        if (msg_get_int(o, 0, UINT32_MAX, &neg, &v) != 0) {
            return RMQ_ERR_PROTO;
        }
        *(uint32_t *)p = (uint32_t)v;
        return 0;
    case RMQ_MF_I32:
        if (msg_get_int(o, INT32_MIN, INT32_MAX, &neg, &v) != 0) {
            return RMQ_ERR_PROTO;
        }
        *(int32_t *)p = (int32_t)(int64_t)v;
        return 0;
    case RMQ_MF_U64:
        if (msg_get_int(o, 0, UINT64_MAX, &neg, &v) != 0) {
            return RMQ_ERR_PROTO;
        }
        *(uint64_t *)p = v;
        return 0;
    case RMQ_MF_I64:
        if (msg_get_int(o, INT64_MIN, INT64_MAX, &neg, &v) != 0) {
            return RMQ_ERR_PROTO;
        }
        *(int64_t *)p = (int64_t)v;
        return 0;
    case RMQ_MF_BOOL:
        if (o->type != MSGPACK_OBJECT_BOOLEAN) {
            return RMQ_ERR_PROTO;
        }
        *(bool *)p = o->via.boolean;
        return 0;
    }
    return RMQ_ERR_PROTO;
}

static int
msg_unpack_field(const msgpack_object *o, const rmq_mfield *f, char *base)
{
    void    *p = base + f->offset;
    uint32_t n;

    switch (f->type) {
    case RMQ_MF_STR:
        if (o->type != MSGPACK_OBJECT_STR || o->via.str.size >= f->size) {
            return RMQ_ERR_PROTO;
        }
        /* msgpack-c gives an empty string a NULL ptr: no mem* calls on it */
        if (o->via.str.size > 0) {
            if (memchr(o->via.str.ptr, '\0', o->via.str.size) != NULL) {
                return RMQ_ERR_PROTO;
            }
            memcpy(p, o->via.str.ptr, o->via.str.size);
        }
        ((char *)p)[o->via.str.size] = '\0';
        return 0;
    case RMQ_MF_BIN:
        if (o->type != MSGPACK_OBJECT_BIN || o->via.bin.size > f->max) {
            return RMQ_ERR_PROTO;
        }
        ((rmq_bytes *)p)->ptr = (const uint8_t *)o->via.bin.ptr;
        ((rmq_bytes *)p)->len = o->via.bin.size;
        return 0;
    case RMQ_MF_ARRAY:
    case RMQ_MF_U64S:
        if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size > f->max) {
            return RMQ_ERR_PROTO;
        }
        n = o->via.array.size;
        *(uint32_t *)(base + f->count_off) = n;
        for (uint32_t i = 0; i < n; i++) {
            const msgpack_object *e = &o->via.array.ptr[i];
            int                   rc =
                f->type == RMQ_MF_ARRAY
                                      ? msg_unpack_struct(e, f->elem,
                                                          (char *)p + (size_t)i * f->size, false)
                                      : msg_unpack_scalar(e, &(rmq_mfield){.type = RMQ_MF_U64},
                                                          (uint64_t *)p + i);
            if (rc != 0) {
                return rc;
            }
        }
        return 0;
    default:
        return msg_unpack_scalar(o, f, p);
    }
}

static int
msg_unpack_struct(const msgpack_object *o, const rmq_mdesc *d, void *msg,
                  bool with_id)
{
    uint32_t skip = with_id ? 1 : 0;

    if (o->type != MSGPACK_OBJECT_ARRAY ||
        o->via.array.size < d->nfields + skip) {
        return RMQ_ERR_PROTO;
    }
    if (with_id &&
        (o->via.array.ptr[0].type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
         o->via.array.ptr[0].via.u64 != d->id)) {
        return RMQ_ERR_PROTO;
    }
    for (uint16_t i = 0; i < d->nfields; i++) {
        int rc =
            msg_unpack_field(&o->via.array.ptr[i + skip], &d->fields[i], msg);
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

int
rmq_msg_decode(const rmq_mdesc *d, const void *data, size_t len, void *msg)
{
    msgpack_unpacked      up;
    size_t                off = 0;
    msgpack_unpack_return r;
    int                   rc;

    if (len > RMQ_MSG_MAX_BYTES) {
        return RMQ_ERR_TOOBIG;
    }
    memset(msg, 0, d->struct_size);
    msgpack_unpacked_init(&up);
    r = msgpack_unpack_next(&up, data, len, &off);
    if (r != MSGPACK_UNPACK_SUCCESS || off != len) {
        rc = RMQ_ERR_PROTO;
    } else {
        rc = msg_unpack_struct(&up.data, d, msg, true);
    }
    msgpack_unpacked_destroy(&up);
    if (rc != 0) {
        memset(msg, 0, d->struct_size);
    }
    return rc;
}

int
rmq_msg_peek_id(const void *data, size_t len, uint16_t *id)
{
    const uint8_t *p = data;
    size_t         hdr;

    /* fixarray / array16 / array32 header, then a positive integer id */
    if (len < 2) {
        return RMQ_ERR_PROTO;
    }
    if ((p[0] & 0xF0) == 0x90) {
        hdr = 1;
    } else if (p[0] == 0xDC) {
        hdr = 3;
    } else if (p[0] == 0xDD) {
        hdr = 5;
    } else {
        return RMQ_ERR_PROTO;
    }
    if (len <= hdr) {
        return RMQ_ERR_PROTO;
    }
    if (p[hdr] <= 0x7F) {
        *id = p[hdr];
        return 0;
    }
    if (p[hdr] == 0xCC && len >= hdr + 2) {
        *id = p[hdr + 1];
        return 0;
    }
    if (p[hdr] == 0xCD && len >= hdr + 3) {
        *id = (uint16_t)(p[hdr + 1] << 8 | p[hdr + 2]);
        return 0;
    }
    return RMQ_ERR_PROTO;
}
