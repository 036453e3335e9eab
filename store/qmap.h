/*
 * qmap.h - a hash map keyed by (topic, queue id), intrusive: the caller's
 * struct embeds an rmq_qkey and the map links those, so lookups allocate
 * nothing and items never move.  Used by the consume-queue cache
 * (dispatcher, acceptor) and by recovery.  Process-local, one thread.
 */
#ifndef RMQ_STORE_QMAP_H
#define RMQ_STORE_QMAP_H

#include "store/record.h"

#include <stddef.h>
#include <stdint.h>

#define RMQ_QKEY_TOPIC_CAP (RMQ_REC_TOPIC_MAX_V1 + 1)

typedef struct rmq_qkey {
    struct rmq_qkey *next; /* hash chain */
    uint32_t         hash;
    int32_t          queue_id;
    uint32_t         topic_len;
    char             topic[RMQ_QKEY_TOPIC_CAP]; /* NUL-terminated */
} rmq_qkey;

typedef struct rmq_qmap {
    rmq_qkey **buckets;
    uint32_t   nbuckets; /* power of two */
    uint32_t   count;
} rmq_qmap;

int rmq_qmap_init(rmq_qmap *m, uint32_t expect);
/* Frees the table only; the items belong to the caller. */
void rmq_qmap_fini(rmq_qmap *m);

/* Fill a key; RMQ_ERR_INVAL for an empty topic or one over 127 bytes. */
int rmq_qkey_set(rmq_qkey *k, const char *topic, size_t len, int32_t queue_id);

rmq_qkey *rmq_qmap_find(const rmq_qmap *m, const char *topic, size_t len,
                        int32_t queue_id);
/* Link a key set with rmq_qkey_set and not in the map; may grow (NOMEM). */
int  rmq_qmap_insert(rmq_qmap *m, rmq_qkey *k);
void rmq_qmap_remove(rmq_qmap *m, rmq_qkey *k);

#endif
