/*
 * cmsg.h - librmq's message objects: rmq_message (to send) and
 * rmq_message_ext (received), and the owned property list both use.
 *
 * Properties follow spec/remoting-protocol.md 6.1.  The list owns copies
 * of its keys and values and has no entry limit (proto/props.h keeps at
 * most 64 entries pointing into a text, which suits the broker, not a
 * client that hands messages to applications).  Not thread-safe: one
 * owner at a time; a message being sent is only read.
 */
#ifndef RMQ_CLIENT_CMSG_H
#define RMQ_CLIENT_CMSG_H

#include "common/buf.h"
#include "rmq/client.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Well-known property names (spec 6.1). */
#define RMQ_PROP_TAGS "TAGS"
#define RMQ_PROP_KEYS "KEYS"
#define RMQ_PROP_WAIT "WAIT"
#define RMQ_PROP_DELAY "DELAY"
#define RMQ_PROP_UNIQ_KEY "UNIQ_KEY"
#define RMQ_PROP_RETRY_TOPIC "RETRY_TOPIC"
#define RMQ_PROP_ORIGIN_MSG_ID "ORIGIN_MESSAGE_ID"
#define RMQ_PROP_RECONSUME_TIME "RECONSUME_TIME"
#define RMQ_PROP_MAX_RECONSUME_TIMES "MAX_RECONSUME_TIMES"

typedef struct rmq_plist {
    size_t n, cap;
    char **keys;
    char **vals;
} rmq_plist;

void rmq_plist_free(rmq_plist *l);
/* Set (replace or append) a copy of key/value; 0 or RMQ_CLIENT_ERR_NOMEM. */
int rmq_plist_setn(rmq_plist *l, const char *key, size_t klen, const char *val,
                   size_t vlen);
int rmq_plist_set(rmq_plist *l, const char *key, const char *val);
const char *rmq_plist_get(const rmq_plist *l, const char *key);
void        rmq_plist_del(rmq_plist *l, const char *key);
int         rmq_plist_copy(rmq_plist *dst, const rmq_plist *src);
/*
 * Parse "k\1v\2k\1v..." as Java does: empty items, items without U+0001
 * and items with an empty key or value are skipped; a later duplicate
 * replaces an earlier one.  Returns 0 or RMQ_CLIENT_ERR_NOMEM.
 */
int rmq_plist_parse(rmq_plist *l, const char *text, size_t len);
/* Append "k\1v\2k\1v" (no trailing separator, like Java >= 4.9.3). */
void rmq_plist_write(const rmq_plist *l, rmq_buf *out);
/* Whether an application may set this key (not a reserved name). */
bool rmq_plist_is_reserved(const char *key);

struct rmq_message {
    char     *topic;
    uint8_t  *body;
    size_t    body_len;
    int32_t   flag;
    rmq_plist props; /* TAGS, KEYS, DELAY and user properties */
};

struct rmq_message_ext {
    char     *topic;
    uint8_t  *body;
    size_t    body_len;
    rmq_plist props;
    int32_t   queue_id;
    int32_t   flag;
    int32_t   sys_flag;
    int32_t   body_crc;
    int32_t   reconsume_times;
    int64_t   queue_offset;
    int64_t   commitlog_offset;
    int64_t   born_timestamp;
    int64_t   store_timestamp;
    int64_t   prepared_tx_offset;
    char      born_host[64]; /* "ip:port" ("[v6]:port" for IPv6) */
    char      store_host[64];
    char      msg_id[RMQ_MSG_ID_MAX];
    char      offset_msg_id[RMQ_MSG_ID_MAX];
    char      broker_name[RMQ_BROKER_NAME_MAX];
};

/* A new empty message_ext (calloc'd) or NULL. */
rmq_message_ext *rmq_msgext_alloc(void);
/* msg_id = UNIQ_KEY when present, else offset_msg_id. */
void rmq_msgext_set_ids(rmq_message_ext *m);
/* Replace the topic with a copy of topic. */
int rmq_msgext_set_topic(rmq_message_ext *m, const char *topic);

#endif
