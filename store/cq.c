/*
 * cq.c - consume queues and the bounded cache of open ones (see cq.h).
 * Writer: the dispatcher (and recovery before it); readers: acceptor,
 * scheduler, rebalancer.  Touches <storeRoot>/consumequeue/ only.
 */
#include "store/cq.h"

#include "common/err.h"
#include "common/log.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>

_Static_assert(offsetof(rmq_cq, key) == 0, "the cache casts keys to queues");

/* A topic from disk must not escape consumequeue/ as a path. */
static bool
cq_topic_is_safe(const char *t, size_t len)
{
    if (len == 0 || len > RMQ_REC_TOPIC_MAX_V1) {
        return false;
    }
    if ((len == 1 && t[0] == '.') || (len == 2 && t[0] == '.' && t[1] == '.')) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        if (t[i] == '/' || t[i] == '\0') {
            return false;
        }
    }
    return true;
}

int
rmq_cq_open(rmq_cq *cq, const char *root, const char *topic, size_t topic_len,
            int32_t queue_id, int64_t file_size, bool writable)
{
    char dir[PATH_MAX];
    int  rc;

    memset(cq, 0, sizeof(*cq));
    if (!cq_topic_is_safe(topic, topic_len) || queue_id < 0 ||
        file_size < RMQ_CQ_ENTRY_SIZE || file_size % RMQ_CQ_ENTRY_SIZE != 0) {
        return RMQ_ERR_INVAL;
    }
    rc = rmq_qkey_set(&cq->key, topic, topic_len, queue_id);
    if (rc != 0) {
        return rc;
    }
    snprintf(dir, sizeof(dir), "%s/%s/%s/%d", root, RMQ_CQ_DIR, cq->key.topic,
             (int)queue_id);
    return rmq_mfq_open(&cq->q, dir, file_size, writable);
}

void
rmq_cq_close(rmq_cq *cq)
{
    rmq_mfq_close(&cq->q);
}

static int64_t
cq_first_index(const rmq_cq *cq)
{
    return rmq_mfq_min_offset(&cq->q) / RMQ_CQ_ENTRY_SIZE;
}

static void
cq_write(uint8_t *p, int64_t offset, int32_t size, int64_t tags_code)
{
    rmq_put_be64(p, (uint64_t)offset);
    rmq_put_be32(p + 8, (uint32_t)size);
    rmq_put_be64(p + 12, (uint64_t)tags_code);
}

/* Create files up to the one holding index. */
static int
cq_grow(rmq_cq *cq, int64_t index)
{
    int64_t off = index * RMQ_CQ_ENTRY_SIZE;
    int     rc = 0;

    if (cq->q.nfiles == 0) {
        return rmq_mfq_create(&cq->q, rmq_mfq_file_start(&cq->q, off));
    }
    if (off < rmq_mfq_min_offset(&cq->q)) {
        return RMQ_ERR_RANGE; /* below the first file: cleaned up */
    }
    while (rc == 0 && rmq_mfq_max_offset(&cq->q) <= off) {
        rc = rmq_mfq_create(&cq->q, rmq_mfq_max_offset(&cq->q));
    }
    return rc;
}

/*
 * Was the entry before index (whose bytes are at p) never written, its
 * offset and size still zero?  Usually it is in the same file, right
 * before p: no lookup.
 */
static bool
cq_prev_is_unwritten(rmq_cq *cq, int64_t index, const uint8_t *p)
{
    uint8_t *prev;

    if ((index * RMQ_CQ_ENTRY_SIZE) % cq->q.file_size != 0) {
        prev = (uint8_t *)p - RMQ_CQ_ENTRY_SIZE;
    } else if (rmq_mfq_ptr(&cq->q, (index - 1) * RMQ_CQ_ENTRY_SIZE,
                           RMQ_CQ_ENTRY_SIZE, &prev) != 0) {
        return false;
    }
    return rmq_be64(prev) == 0 && rmq_be32(prev + 8) == 0;
}

/* Placeholders from index - 1 back to the last written entry. */
static void
cq_fill_gap(rmq_cq *cq, int64_t index)
{
    int64_t  first = cq_first_index(cq);
    int64_t  i = index - 1;
    uint8_t *p;

    while (i >= first &&
           rmq_mfq_ptr(&cq->q, i * RMQ_CQ_ENTRY_SIZE, RMQ_CQ_ENTRY_SIZE, &p) ==
               0 &&
           rmq_be64(p) == 0 && rmq_be32(p + 8) == 0) {
        cq_write(p, 0, RMQ_CQ_PLACEHOLDER, 0);
        i--;
    }
    rmq_log(i >= first ? RMQ_LOG_WARN : RMQ_LOG_INFO, "cq.fill",
            "consume queue %s/%d: %" PRId64 " placeholder entries before "
            "index %" PRId64,
            cq->key.topic, (int)cq->key.queue_id, index - 1 - i, index);
}

int
rmq_cq_put(rmq_cq *cq, int64_t index, const rmq_cq_entry *e)
{
    uint8_t *p;
    int      rc;

    if (index < 0 || !cq->q.writable) {
        return RMQ_ERR_INVAL;
    }
    rc = rmq_mfq_ptr(&cq->q, index * RMQ_CQ_ENTRY_SIZE, RMQ_CQ_ENTRY_SIZE, &p);
    if (rc == RMQ_ERR_NOTFOUND) {
        rc = cq_grow(cq, index);
        if (rc == 0) {
            rc = rmq_mfq_ptr(&cq->q, index * RMQ_CQ_ENTRY_SIZE,
                             RMQ_CQ_ENTRY_SIZE, &p);
        }
    }
    if (rc != 0) {
        return rc;
    }
    if (index > cq_first_index(cq) && cq_prev_is_unwritten(cq, index, p)) {
        cq_fill_gap(cq, index);
    }
    cq_write(p, e->offset, e->size, e->tags_code);
    return 0;
}

int
rmq_cq_get(rmq_cq *cq, int64_t index, rmq_cq_entry *out)
{
    uint8_t *p;
    int      rc;

    if (index < 0) {
        return RMQ_ERR_NOTFOUND;
    }
    rc = rmq_mfq_ptr(&cq->q, index * RMQ_CQ_ENTRY_SIZE, RMQ_CQ_ENTRY_SIZE, &p);
    if (rc != 0) {
        return rc;
    }
    rmq_cq_entry_decode(p, out);
    return 0;
}

int
rmq_cq_entries(rmq_cq *cq, int64_t index, uint32_t max, const uint8_t **p,
               uint32_t *n)
{
    uint8_t *b;
    int64_t  avail;
    int      rc;

    if (index < 0 || max == 0) {
        return RMQ_ERR_INVAL;
    }
    rc = rmq_mfq_span(&cq->q, index * RMQ_CQ_ENTRY_SIZE, &b, &avail);
    if (rc != 0) {
        return rc;
    }
    *p = b;
    *n = (uint32_t)RMQ_MIN((int64_t)max, avail / RMQ_CQ_ENTRY_SIZE);
    return 0;
}

/* Scan file i from its start: first invalid index, end of last real. */
static int
cq_scan_file(rmq_cq *cq, uint32_t i, int64_t *next, int64_t *phys_end)
{
    int64_t        first = cq->q.files[i].start / RMQ_CQ_ENTRY_SIZE;
    int64_t        k = 0;
    const uint8_t *p;
    uint32_t       n;
    int            rc;

    rc = rmq_cq_entries(cq, first, UINT32_MAX, &p, &n);
    if (rc != 0) {
        return rc;
    }
    for (; k < n; k++) {
        rmq_cq_entry e;

        rmq_cq_entry_decode(p + k * RMQ_CQ_ENTRY_SIZE, &e);
        if (!rmq_cq_entry_is_valid(&e)) {
            break;
        }
        if (!rmq_cq_entry_is_placeholder(&e)) {
            *phys_end = e.offset + e.size;
        }
    }
    *next = first + k;
    return 0;
}

int
rmq_cq_last_valid(rmq_cq *cq, int64_t *next, int64_t *phys_end)
{
    *phys_end = 0;
    *next = cq_first_index(cq);
    for (uint32_t i = cq->q.nfiles; i-- > 0;) {
        rmq_cq_entry e;
        int          rc;

        rc = rmq_cq_get(cq, cq->q.files[i].start / RMQ_CQ_ENTRY_SIZE, &e);
        if (rc != 0) {
            return rc;
        }
        if (rmq_cq_entry_is_valid(&e)) {
            return cq_scan_file(cq, i, next, phys_end);
        }
    }
    return 0;
}

int
rmq_cq_truncate(rmq_cq *cq, int64_t index)
{
    return rmq_mfq_truncate(&cq->q, index * RMQ_CQ_ENTRY_SIZE);
}

int
rmq_cq_truncate_phys(rmq_cq *cq, int64_t cl_end, int64_t *next)
{
    int64_t first = cq_first_index(cq);
    int64_t cut = *next;

    /* newest first; placeholders between dropped entries go with them */
    for (int64_t i = *next - 1; i >= first; i--) {
        rmq_cq_entry e;
        int          rc = rmq_cq_get(cq, i, &e);

        if (rc != 0) {
            return rc;
        }
        if (rmq_cq_entry_is_placeholder(&e)) {
            continue;
        }
        if (e.offset + e.size <= cl_end) {
            break;
        }
        cut = i;
    }
    if (cut == *next) {
        return 0;
    }
    rmq_log(RMQ_LOG_WARN, "cq.truncate",
            "consume queue %s/%d: dropping entries %" PRId64 "..%" PRId64
            " that point past the commit-log end %" PRId64,
            cq->key.topic, (int)cq->key.queue_id, cut, *next - 1, cl_end);
    *next = cut;
    return rmq_cq_truncate(cq, cut);
}

int
rmq_cq_min_index(rmq_cq *cq, int64_t cl_min, int64_t next, int64_t *out)
{
    int64_t lo = cq_first_index(cq), hi = next;

    while (lo < hi) {
        int64_t      mid = lo + (hi - lo) / 2;
        rmq_cq_entry e;
        int          rc = rmq_cq_get(cq, mid, &e);

        if (rc != 0) {
            return rc;
        }
        if (!rmq_cq_entry_is_placeholder(&e) && e.offset >= cl_min) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    *out = lo;
    return 0;
}

int
rmq_cq_sync(rmq_cq *cq, int64_t from, int64_t to)
{
    return rmq_mfq_sync(&cq->q, from * RMQ_CQ_ENTRY_SIZE,
                        to * RMQ_CQ_ENTRY_SIZE);
}

int
rmq_cq_cache_init(rmq_cq_cache *c, const rmq_cq_cache_opts *o)
{
    memset(c, 0, sizeof(*c));
    c->max_open = o->max_open > 0 ? o->max_open : RMQ_CQ_CACHE_DEFAULT;
    c->file_size = o->file_size;
    c->writable = o->writable;
    c->root = strdup(o->root);
    if (c->root == NULL) {
        return RMQ_ERR_NOMEM;
    }
    if (rmq_qmap_init(&c->map, c->max_open) != 0) {
        free(c->root);
        return RMQ_ERR_NOMEM;
    }
    return 0;
}

static void
cache_unlink(rmq_cq_cache *c, rmq_cq *cq)
{
    if (cq->lru_prev != NULL) {
        cq->lru_prev->lru_next = cq->lru_next;
    } else {
        c->mru = cq->lru_next;
    }
    if (cq->lru_next != NULL) {
        cq->lru_next->lru_prev = cq->lru_prev;
    } else {
        c->lru = cq->lru_prev;
    }
    cq->lru_prev = cq->lru_next = NULL;
}

static void
cache_push_front(rmq_cq_cache *c, rmq_cq *cq)
{
    cq->lru_prev = NULL;
    cq->lru_next = c->mru;
    if (c->mru != NULL) {
        c->mru->lru_prev = cq;
    }
    c->mru = cq;
    if (c->lru == NULL) {
        c->lru = cq;
    }
}

static void
cache_close(rmq_cq_cache *c, rmq_cq *cq)
{
    cache_unlink(c, cq);
    rmq_qmap_remove(&c->map, &cq->key);
    rmq_cq_close(cq);
    free(cq);
    c->count--;
}

void
rmq_cq_cache_fini(rmq_cq_cache *c)
{
    while (c->mru != NULL) {
        cache_close(c, c->mru);
    }
    rmq_qmap_fini(&c->map);
    free(c->root);
    memset(c, 0, sizeof(*c));
}

int
rmq_cq_cache_get(rmq_cq_cache *c, const char *topic, size_t topic_len,
                 int32_t queue_id, rmq_cq **out)
{
    rmq_qkey *k = rmq_qmap_find(&c->map, topic, topic_len, queue_id);
    rmq_cq   *cq;
    int       rc;

    if (k != NULL) {
        cq = (rmq_cq *)k; /* key is the first member */
        cache_unlink(c, cq);
        cache_push_front(c, cq);
        *out = cq;
        return 0;
    }
    cq = malloc(sizeof(*cq));
    if (cq == NULL) {
        return RMQ_ERR_NOMEM;
    }
    rc = rmq_cq_open(cq, c->root, topic, topic_len, queue_id, c->file_size,
                     c->writable);
    if (rc == 0) {
        rc = rmq_qmap_insert(&c->map, &cq->key);
        if (rc != 0) {
            rmq_cq_close(cq);
        }
    }
    if (rc != 0) {
        free(cq);
        return rc;
    }
    if (c->count >= c->max_open) {
        cache_close(c, c->lru);
        c->evictions++;
    }
    cache_push_front(c, cq);
    c->count++;
    c->opens++;
    *out = cq;
    return 0;
}

void
rmq_cq_cache_drop(rmq_cq_cache *c, const char *topic, size_t topic_len,
                  int32_t queue_id)
{
    rmq_qkey *k = rmq_qmap_find(&c->map, topic, topic_len, queue_id);

    if (k != NULL) {
        cache_close(c, (rmq_cq *)k);
    }
}

static int
cq_rm_tree(const char *path)
{
    DIR           *d = opendir(path);
    struct dirent *e;
    char           child[PATH_MAX];
    int            rc = 0;

    if (d == NULL) {
        return errno == ENOENT ? 0 : RMQ_ERR_SYS;
    }
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) {
            continue;
        }
        snprintf(child, sizeof(child), "%s/%s", path, e->d_name);
        if (e->d_type == DT_DIR) {
            rc |= cq_rm_tree(child);
        } else if (unlink(child) != 0) {
            rc = RMQ_ERR_SYS;
        }
    }
    closedir(d);
    if (rmdir(path) != 0) {
        rc = RMQ_ERR_SYS;
    }
    return rc;
}

int
rmq_cq_remove_topic(const char *root, const char *topic)
{
    char path[PATH_MAX];
    int  rc;

    if (topic[0] == '\0' || strchr(topic, '/') != NULL ||
        strcmp(topic, ".") == 0 || strcmp(topic, "..") == 0) {
        return RMQ_ERR_INVAL;
    }
    snprintf(path, sizeof(path), "%s/%s/%s", root, RMQ_CQ_DIR, topic);
    rc = cq_rm_tree(path);
    if (rc != 0) {
        rmq_log_sys(RMQ_LOG_WARN, "cq.remove", errno,
                    "could not remove all of \"%s\"", path);
    }
    return rc;
}
