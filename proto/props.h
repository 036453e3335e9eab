/*
 * props.h - RocketMQ message properties (spec/remoting-protocol.md 6.1):
 * "key U+0001 value U+0002 key U+0001 value ..." in UTF-8.  Parsing
 * tolerates a trailing U+0002, empty items and items without U+0001 (they
 * are skipped).  Serialisation writes Java >= 4.9.3 style (no trailing
 * separator).  Used by the acceptor (send path), the scheduler, librmq and
 * rmqctl.  Pure functions; entries point into the caller's text.
 */
#ifndef RMQ_PROTO_PROPS_H
#define RMQ_PROTO_PROPS_H

#include "common/buf.h"

#include <stddef.h>
#include <stdint.h>

#define RMQ_PROPS_MAX 64        /* entries kept; more is RMQ_ERR_TOOBIG */
#define RMQ_PROPS_MAX_LEN 32767 /* stored properties length limit */

#define RMQ_PROP_SEP_KV '\x01'
#define RMQ_PROP_SEP_ITEM '\x02'

typedef struct rmq_prop {
    const char *key; /* not NUL-terminated: use the lengths */
    const char *value;
    uint32_t    key_len;
    uint32_t    value_len;
} rmq_prop;

typedef struct rmq_props {
    uint32_t n;
    rmq_prop p[RMQ_PROPS_MAX];
} rmq_props;

/*
 * Call fn for each item of text that a parser keeps (non-empty key and
 * value), in order, with pointers into text; stops at and returns the
 * first non-zero fn result, else 0.  rmq_props_parse and librmq's owning
 * property lists both read properties this way.
 */
typedef int rmq_props_item_fn(void *arg, const char *key, size_t klen,
                              const char *value, size_t vlen);
int         rmq_props_each(const char *text, size_t len, rmq_props_item_fn *fn,
                           void *arg);

/*
 * Split text into entries that point into it.  Returns 0, or
 * RMQ_ERR_TOOBIG when there are more than RMQ_PROPS_MAX entries.  Later
 * duplicates of a key replace earlier ones (Java's HashMap semantics).
 */
int rmq_props_parse(const char *text, size_t len, rmq_props *out);
/* The value of key, or NULL (and *len untouched). */
const char *rmq_props_get(const rmq_props *p, const char *key, uint32_t *len);
/*
 * Set (replace or add) key; key and value must outlive p.  Returns 0,
 * RMQ_ERR_TOOBIG when a new key would exceed RMQ_PROPS_MAX, or
 * RMQ_ERR_INVAL for what a parser would drop or split differently (empty
 * key or value, U+0001/U+0002 in the key, U+0002 in the value).
 */
int rmq_props_set(rmq_props *p, const char *key, const char *value);
/* As rmq_props_set with explicit lengths (values from another list). */
int  rmq_props_setn(rmq_props *p, const char *key, uint32_t klen,
                    const char *value, uint32_t vlen);
void rmq_props_del(rmq_props *p, const char *key);
/* Append the serialised form to out (no trailing separator). */
void rmq_props_write(const rmq_props *p, rmq_buf *out);

#endif
