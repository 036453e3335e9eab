/*
 * props.c - message properties text (props.h; spec remoting-protocol.md
 * 6.1).  Runs in whichever process handles messages (acceptor send path,
 * scheduler, librmq, rmqctl); pure functions over caller-owned text, no
 * shared data.
 *
 * Parsing follows Java's MessageDecoder.string2messageProperties: items
 * are separated by U+0002, key and value by the first U+0001 of the item,
 * and an item is kept only when both key and value are non-empty.  Later
 * duplicates replace earlier ones, as in Java's HashMap.
 */
#include "proto/props.h"

#include "common/err.h"

#include <string.h>

static int
props_find(const rmq_props *p, const char *key, size_t klen)
{
    for (uint32_t i = 0; i < p->n; i++) {
        if (p->p[i].key_len == klen && memcmp(p->p[i].key, key, klen) == 0) {
            return (int)i;
        }
    }
    return -1;
}

/* Add or replace without validating (the parser's items are valid). */
static int
props_put(rmq_props *p, const char *key, uint32_t klen, const char *value,
          uint32_t vlen)
{
    int       i = props_find(p, key, klen);
    rmq_prop *e;

    if (i < 0) {
        if (p->n >= RMQ_PROPS_MAX) {
            return RMQ_ERR_TOOBIG;
        }
        i = (int)p->n++;
    }
    e = &p->p[i];
    e->key = key;
    e->key_len = klen;
    e->value = value;
    e->value_len = vlen;
    return 0;
}

int
rmq_props_each(const char *text, size_t len, rmq_props_item_fn *fn, void *arg)
{
    size_t pos = 0;
    int    rc;

    while (pos < len) {
        const char *sep = memchr(text + pos, RMQ_PROP_SEP_ITEM, len - pos);
        size_t      end = sep != NULL ? (size_t)(sep - text) : len;
        const char *item = text + pos;
        const char *kv = memchr(item, RMQ_PROP_SEP_KV, end - pos);
        size_t      klen = kv != NULL ? (size_t)(kv - item) : 0;

        /* kept only as "key\x01value" with both sides non-empty */
        if (klen > 0 && pos + klen + 1 < end) {
            rc = fn(arg, item, klen, kv + 1, end - pos - klen - 1);
            if (rc != 0) {
                return rc;
            }
        }
        pos = end + 1;
    }
    return 0;
}

static int
props_parse_item(void *arg, const char *key, size_t klen, const char *value,
                 size_t vlen)
{
    return props_put(arg, key, (uint32_t)klen, value, (uint32_t)vlen);
}

int
rmq_props_parse(const char *text, size_t len, rmq_props *out)
{
    out->n = 0;
    return rmq_props_each(text, len, props_parse_item, out);
}

const char *
rmq_props_get(const rmq_props *p, const char *key, uint32_t *len)
{
    int i = props_find(p, key, strlen(key));

    if (i < 0) {
        return NULL;
    }
    *len = p->p[i].value_len;
    return p->p[i].value;
}

/*
 * Set key (klen bytes) to value (vlen bytes), both outliving p.  Returns
 * RMQ_ERR_INVAL for what could not be read back (an empty key or value, a
 * key holding a separator, a value holding U+0002) and RMQ_ERR_TOOBIG when
 * a new key would exceed RMQ_PROPS_MAX.
 */
int
rmq_props_setn(rmq_props *p, const char *key, uint32_t klen, const char *value,
               uint32_t vlen)
{
    if (klen == 0 || vlen == 0 || memchr(key, RMQ_PROP_SEP_KV, klen) != NULL ||
        memchr(key, RMQ_PROP_SEP_ITEM, klen) != NULL ||
        memchr(value, RMQ_PROP_SEP_ITEM, vlen) != NULL) {
        return RMQ_ERR_INVAL;
    }
    return props_put(p, key, klen, value, vlen);
}

int
rmq_props_set(rmq_props *p, const char *key, const char *value)
{
    return rmq_props_setn(p, key, (uint32_t)strlen(key), value,
                          (uint32_t)strlen(value));
}

void
rmq_props_del(rmq_props *p, const char *key)
{
    int i = props_find(p, key, strlen(key));

    if (i < 0) {
        return;
    }
    /* keep the order: written properties then read in the order they came */
    memmove(&p->p[i], &p->p[i + 1], (p->n - (uint32_t)i - 1) * sizeof(p->p[0]));
    p->n--;
}

void
rmq_props_write(const rmq_props *p, rmq_buf *out)
{
    for (uint32_t i = 0; i < p->n; i++) {
        if (i > 0) {
            rmq_buf_u8(out, RMQ_PROP_SEP_ITEM);
        }
        rmq_buf_append(out, p->p[i].key, p->p[i].key_len);
        rmq_buf_u8(out, RMQ_PROP_SEP_KV);
        rmq_buf_append(out, p->p[i].value, p->p[i].value_len);
    }
}
