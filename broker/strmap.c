/*
 * strmap.c - see strmap.h.
 */
#include "broker/strmap.h"

#include "common/err.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static uint32_t
strmap_hash(const char *key)
{
    uint32_t h = 2166136261u; /* FNV-1a */

    for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
        h = (h ^ *p) * 16777619u;
    }
    return h;
}

void
rmq_strmap_init(rmq_strmap *m)
{
    memset(m, 0, sizeof(*m));
}

void
rmq_strmap_free(rmq_strmap *m)
{
    for (size_t i = 0; i < m->cap; i++) {
        free(m->keys[i]);
    }
    free(m->keys);
    free(m->vals);
    free(m->hashes);
    memset(m, 0, sizeof(*m));
}

/* Slot of key, or of the empty slot where it would go. */
static size_t
strmap_find(const rmq_strmap *m, const char *key, uint32_t h)
{
    size_t i = h & (m->cap - 1);

    while (m->keys[i] != NULL &&
           (m->hashes[i] != h || strcmp(m->keys[i], key) != 0)) {
        i = (i + 1) & (m->cap - 1);
    }
    return i;
}

static int
strmap_grow(rmq_strmap *m)
{
    size_t     cap = m->cap ? m->cap * 2 : 16;
    char     **keys = calloc(cap, sizeof(*keys));
    void     **vals = calloc(cap, sizeof(*vals));
    uint32_t  *hashes = calloc(cap, sizeof(*hashes));
    rmq_strmap old = *m;

    if (keys == NULL || vals == NULL || hashes == NULL) {
        free(keys);
        free(vals);
        free(hashes);
        return RMQ_ERR_NOMEM;
    }
    m->keys = keys;
    m->vals = vals;
    m->hashes = hashes;
    m->cap = cap;
    for (size_t i = 0; i < old.cap; i++) {
        if (old.keys[i] != NULL) {
            size_t j = strmap_find(m, old.keys[i], old.hashes[i]);
            m->keys[j] = old.keys[i];
            m->vals[j] = old.vals[i];
            m->hashes[j] = old.hashes[i];
        }
    }
    free(old.keys);
    free(old.vals);
    free(old.hashes);
    return 0;
}

int
rmq_strmap_put(rmq_strmap *m, const char *key, void *val)
{
    uint32_t h = strmap_hash(key);
    size_t   i;
    char    *copy;

    if ((m->n + 1) * 2 > m->cap && strmap_grow(m) != 0) {
        return RMQ_ERR_NOMEM;
    }
    i = strmap_find(m, key, h);
    if (m->keys[i] != NULL) {
        m->vals[i] = val;
        return 0;
    }
    copy = strdup(key);
    if (copy == NULL) {
        return RMQ_ERR_NOMEM;
    }
    m->keys[i] = copy;
    m->vals[i] = val;
    m->hashes[i] = h;
    m->n++;
    return 0;
}

void *
rmq_strmap_get(const rmq_strmap *m, const char *key)
{
    size_t i;

    if (m->cap == 0) {
        return NULL;
    }
    i = strmap_find(m, key, strmap_hash(key));
    return m->keys[i] != NULL ? m->vals[i] : NULL;
}

void *
rmq_strmap_del(rmq_strmap *m, const char *key)
{
    size_t i, j;
    void  *val;

    if (m->cap == 0) {
        return NULL;
    }
    i = strmap_find(m, key, strmap_hash(key));
    if (m->keys[i] == NULL) {
        return NULL;
    }
    val = m->vals[i];
    free(m->keys[i]);
    m->keys[i] = NULL;
    m->n--;
    /* move later members of the probe run back over the hole */
    for (j = (i + 1) & (m->cap - 1); m->keys[j] != NULL;
         j = (j + 1) & (m->cap - 1)) {
        size_t home = m->hashes[j] & (m->cap - 1);
        bool   movable =
            (j > i) ? (home <= i || home > j) : (home <= i && home > j);
        if (movable) {
            m->keys[i] = m->keys[j];
            m->vals[i] = m->vals[j];
            m->hashes[i] = m->hashes[j];
            m->keys[j] = NULL;
            i = j;
        }
    }
    return val;
}

const char *
rmq_strmap_next(const rmq_strmap *m, size_t *pos, void **val)
{
    for (; *pos < m->cap; (*pos)++) {
        if (m->keys[*pos] != NULL) {
            *val = m->vals[*pos];
            return m->keys[(*pos)++];
        }
    }
    return NULL;
}
