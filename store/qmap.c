/*
 * qmap.c - the (topic, queue id) hash map (see qmap.h).  Process-local;
 * no shared state.
 */
#include "store/qmap.h"

#include "common/err.h"
#include "shm/control.h"

#include <stdlib.h>
#include <string.h>

static uint32_t
qmap_hash(const char *topic, size_t len, int32_t queue_id)
{
    uint32_t h = rmq_ctl_topic_hash(topic, len);

    return h ^ ((uint32_t)queue_id * 0x9E3779B1u);
}

int
rmq_qmap_init(rmq_qmap *m, uint32_t expect)
{
    uint32_t n = 16;

    while (n < expect && n < (1u << 30)) {
        n <<= 1;
    }
    m->buckets = calloc(n, sizeof(*m->buckets));
    if (m->buckets == NULL) {
        return RMQ_ERR_NOMEM;
    }
    m->nbuckets = n;
    m->count = 0;
    return 0;
}

void
rmq_qmap_fini(rmq_qmap *m)
{
    free(m->buckets);
    memset(m, 0, sizeof(*m));
}

int
rmq_qkey_set(rmq_qkey *k, const char *topic, size_t len, int32_t queue_id)
{
    if (len == 0 || len >= RMQ_QKEY_TOPIC_CAP) {
        return RMQ_ERR_INVAL;
    }
    memcpy(k->topic, topic, len);
    k->topic[len] = '\0';
    k->topic_len = (uint32_t)len;
    k->queue_id = queue_id;
    k->hash = qmap_hash(topic, len, queue_id);
    k->next = NULL;
    return 0;
}

rmq_qkey *
rmq_qmap_find(const rmq_qmap *m, const char *topic, size_t len,
              int32_t queue_id)
{
    uint32_t  h = qmap_hash(topic, len, queue_id);
    rmq_qkey *k = m->buckets[h & (m->nbuckets - 1)];

    for (; k != NULL; k = k->next) {
        if (k->hash == h && k->queue_id == queue_id && k->topic_len == len &&
            memcmp(k->topic, topic, len) == 0) {
            return k;
        }
    }
    return NULL;
}

/* Double the table when it is more than full on average. */
static int
qmap_grow(rmq_qmap *m)
{
    uint32_t   n = m->nbuckets * 2;
    rmq_qkey **nb = calloc(n, sizeof(*nb));

    if (nb == NULL) {
        return RMQ_ERR_NOMEM;
    }
    for (uint32_t i = 0; i < m->nbuckets; i++) {
        rmq_qkey *k = m->buckets[i];

        while (k != NULL) {
            rmq_qkey *next = k->next;

            k->next = nb[k->hash & (n - 1)];
            nb[k->hash & (n - 1)] = k;
            k = next;
        }
    }
    free(m->buckets);
    m->buckets = nb;
    m->nbuckets = n;
    return 0;
}

int
rmq_qmap_insert(rmq_qmap *m, rmq_qkey *k)
{
    uint32_t b;

    if (m->count >= m->nbuckets && m->nbuckets < (1u << 30)) {
        int rc = qmap_grow(m);
        if (rc != 0) {
            return rc;
        }
    }
    b = k->hash & (m->nbuckets - 1);
    k->next = m->buckets[b];
    m->buckets[b] = k;
    m->count++;
    return 0;
}

void
rmq_qmap_remove(rmq_qmap *m, rmq_qkey *k)
{
    rmq_qkey **pp = &m->buckets[k->hash & (m->nbuckets - 1)];

    for (; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == k) {
            *pp = k->next;
            k->next = NULL;
            m->count--;
            return;
        }
    }
}
