/*
 * u64map.c - see u64map.h.
 */
#include "common/u64map.h"

#include "common/err.h"

#include <stdlib.h>
#include <string.h>

static size_t
map_slot(uint64_t key, size_t cap)
{
    key ^= key >> 33;
    key *= UINT64_C(0xff51afd7ed558ccd);
    key ^= key >> 33;
    return (size_t)key & (cap - 1);
}

void
rmq_u64map_init(rmq_u64map *m)
{
    memset(m, 0, sizeof(*m));
}

void
rmq_u64map_free(rmq_u64map *m)
{
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof(*m));
}

static int
map_grow(rmq_u64map *m)
{
    rmq_u64map bigger;
    size_t     cap = m->cap ? m->cap * 2 : 64;

    bigger.keys = calloc(cap, sizeof(uint64_t));
    bigger.vals = calloc(cap, sizeof(void *));
    bigger.cap = cap;
    bigger.n = 0;
    if (bigger.keys == NULL || bigger.vals == NULL) {
        free(bigger.keys);
        free(bigger.vals);
        return RMQ_ERR_NOMEM;
    }
    for (size_t i = 0; i < m->cap; i++) {
        if (m->keys[i] != 0) {
            rmq_u64map_put(&bigger, m->keys[i], m->vals[i]);
        }
    }
    free(m->keys);
    free(m->vals);
    *m = bigger;
    return 0;
}

int
rmq_u64map_put(rmq_u64map *m, uint64_t key, void *val)
{
    size_t i;

    if ((m->n + 1) * 2 > m->cap && map_grow(m) != 0) {
        return RMQ_ERR_NOMEM;
    }
    for (i = map_slot(key, m->cap);; i = (i + 1) & (m->cap - 1)) {
        if (m->keys[i] == key) {
            m->vals[i] = val;
            return 0;
        }
        if (m->keys[i] == 0) {
            m->keys[i] = key;
            m->vals[i] = val;
            m->n++;
            return 0;
        }
    }
}

void *
rmq_u64map_get(const rmq_u64map *m, uint64_t key)
{
    if (m->cap == 0 || key == 0) {
        return NULL;
    }
    for (size_t i = map_slot(key, m->cap);; i = (i + 1) & (m->cap - 1)) {
        if (m->keys[i] == key) {
            return m->vals[i];
        }
        if (m->keys[i] == 0) {
            return NULL;
        }
    }
}

void *
rmq_u64map_del(rmq_u64map *m, uint64_t key)
{
    size_t i, j;
    void  *val;

    if (m->cap == 0 || key == 0) {
        return NULL;
    }
    for (i = map_slot(key, m->cap); m->keys[i] != key;
         i = (i + 1) & (m->cap - 1)) {
        if (m->keys[i] == 0) {
            return NULL;
        }
    }
    val = m->vals[i];
    m->keys[i] = 0;
    m->n--;
    /* shift later members of the probe run back into the hole */
    for (j = (i + 1) & (m->cap - 1); m->keys[j] != 0;
         j = (j + 1) & (m->cap - 1)) {
        size_t home = map_slot(m->keys[j], m->cap);
        int    between =
            (j > i) ? (home <= i || home > j) : (home <= i && home > j);
        if (between) {
            m->keys[i] = m->keys[j];
            m->vals[i] = m->vals[j];
            m->keys[j] = 0;
            i = j;
        }
    }
    return val;
}

uint64_t
rmq_u64map_next(const rmq_u64map *m, size_t *pos, void **val)
{
    for (; *pos < m->cap; (*pos)++) {
        if (m->keys[*pos] != 0) {
            *val = m->vals[*pos];
            return m->keys[(*pos)++];
        }
    }
    return 0;
}
