/*
 * strmap.h - an open-addressing hash map from NUL-terminated string keys
 * to pointers (group names, "topic@group" offset keys, lock keys).  The
 * map owns a copy of each key; values belong to the caller.  Grows as
 * needed; deletion uses backward shifting, so no tombstones.  One owner
 * thread; no shared state.  Used by the rebalancer's modules.
 */
#ifndef RMQ_BROKER_STRMAP_H
#define RMQ_BROKER_STRMAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct rmq_strmap {
    char    **keys; /* NULL = empty slot */
    void    **vals;
    uint32_t *hashes;
    size_t    cap; /* power of two, or 0 before the first put */
    size_t    n;
} rmq_strmap;

void rmq_strmap_init(rmq_strmap *m);
/* Free the map and its key copies (not the values). */
void rmq_strmap_free(rmq_strmap *m);
/* Insert or replace.  Returns 0 or RMQ_ERR_NOMEM. */
int   rmq_strmap_put(rmq_strmap *m, const char *key, void *val);
void *rmq_strmap_get(const rmq_strmap *m, const char *key);
/* Remove and return the value, or NULL when absent. */
void *rmq_strmap_del(rmq_strmap *m, const char *key);
/*
 * Iterate: start with *pos = 0; returns the next key (and its value in
 * *val) or NULL when done.  The map must not change during a walk.
 */
const char *rmq_strmap_next(const rmq_strmap *m, size_t *pos, void **val);

#endif
