/*
 * u64map.h - an open-addressing hash map from non-zero uint64 keys to
 * pointers (held pulls by id, in-flight requests by opaque, ...).  Grows
 * as needed; deletion uses backward shifting, so no tombstones.  One
 * owner thread; no shared state.
 */
#ifndef RMQ_U64MAP_H
#define RMQ_U64MAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct rmq_u64map {
    uint64_t *keys; /* 0 = empty */
    void    **vals;
    size_t    cap; /* power of two */
    size_t    n;
} rmq_u64map;

void rmq_u64map_init(rmq_u64map *m);
void rmq_u64map_free(rmq_u64map *m);
/* Insert or replace; key must not be 0.  Returns 0 or RMQ_ERR_NOMEM. */
int   rmq_u64map_put(rmq_u64map *m, uint64_t key, void *val);
void *rmq_u64map_get(const rmq_u64map *m, uint64_t key);
/* Remove and return the value, or NULL when absent. */
void *rmq_u64map_del(rmq_u64map *m, uint64_t key);
/* Iterate: call with *pos = 0; returns 0 when done. */
uint64_t rmq_u64map_next(const rmq_u64map *m, size_t *pos, void **val);

#endif
