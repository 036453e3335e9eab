/*
 * cq.h - consume queues (spec/store-format.md 3): one mapped-file queue
 * of 20-byte entries (int64 commitLogOffset, int32 size, int64 tagsCode,
 * big-endian) per topic and queue id, at
 * <storeRoot>/consumequeue/<topic>/<queueId>/.  Entry n lives at byte
 * n * 20, so writing an entry is idempotent: re-dispatching a record
 * writes the same 20 bytes at the same place.
 *
 * The dispatcher is the only writer (recovery before it); the acceptor,
 * scheduler and rebalancer read.  Readers must not read past the max
 * offset the dispatcher publishes (rmq_queue_d.max_offset).  The cache
 * keeps a bounded number of queues open (mappings, no descriptors) for a
 * process that serves many topics and queues.
 *
 * One rmq_cq / rmq_cq_cache belongs to one thread.
 */
#ifndef RMQ_STORE_CQ_H
#define RMQ_STORE_CQ_H

#include "common/util.h"
#include "store/mfile.h"
#include "store/qmap.h"

#include <stdbool.h>
#include <stdint.h>

#define RMQ_CQ_DIR "consumequeue"
#define RMQ_CQ_ENTRY_SIZE 20
#define RMQ_CQ_FILE_SIZE 6000000      /* 300,000 entries */
#define RMQ_CQ_PLACEHOLDER 0x7FFFFFFF /* size of a pre-blank entry */
#define RMQ_CQ_CACHE_DEFAULT 1024

typedef struct rmq_cq_entry {
    int64_t offset;    /* commit-log physical offset */
    int32_t size;      /* record size */
    int64_t tags_code; /* tag hash, or delivery time (schedule topic) */
} rmq_cq_entry;

static inline void
rmq_cq_entry_decode(const uint8_t *p, rmq_cq_entry *e)
{
    e->offset = (int64_t)rmq_be64(p);
    e->size = (int32_t)rmq_be32(p + 8);
    e->tags_code = (int64_t)rmq_be64(p + 12);
}

/* What recovery accepts as written (Java: offset >= 0 && size > 0). */
static inline bool
rmq_cq_entry_is_valid(const rmq_cq_entry *e)
{
    return e->offset >= 0 && e->size > 0;
}

/*
 * Placeholder written before the first real entry of a queue whose
 * first index is not at its file start: (0, 0x7FFFFFFF, 0).  Valid for
 * recovery, never a message for readers.
 */
static inline bool
rmq_cq_entry_is_placeholder(const rmq_cq_entry *e)
{
    return e->offset == 0 && e->size == RMQ_CQ_PLACEHOLDER && e->tags_code == 0;
}

typedef struct rmq_cq {
    rmq_qkey       key; /* topic and queue id; the cache's hash key */
    rmq_mfq        q;
    struct rmq_cq *lru_prev; /* cache only: towards most recently used */
    struct rmq_cq *lru_next;
} rmq_cq;

/*
 * Open the queue of topic/queue_id under root (the store root).  The
 * topic must be usable as a directory name (no '/', not "." or "..",
 * 1..127 bytes) else RMQ_ERR_INVAL: it may come from a record on disk.
 * file_size must be a multiple of 20.  Readers of a queue that has no
 * directory yet get an empty queue that finds files created later.
 */
int  rmq_cq_open(rmq_cq *cq, const char *root, const char *topic,
                 size_t topic_len, int32_t queue_id, int64_t file_size,
                 bool writable);
void rmq_cq_close(rmq_cq *cq);

/*
 * Writer: store e at index (a 20-byte store into the mapping).  Creates
 * the file when index is past the last one.  If the entry before index
 * was never written (the queue starts at index, or a hole), the gap back
 * to the first file's start is filled with placeholders so recovery's
 * scan does not stop there (Java's fillPreBlank).  May block on disk I/O
 * only when it creates a file.
 */
int rmq_cq_put(rmq_cq *cq, int64_t index, const rmq_cq_entry *e);

/* Entry at index; RMQ_ERR_NOTFOUND when no file holds it. */
int rmq_cq_get(rmq_cq *cq, int64_t index, rmq_cq_entry *out);
/*
 * Pointer to up to max raw entries from index on, all in one file: *n
 * is how many (>= 1).  No copy; decode with rmq_cq_entry_decode.
 */
int rmq_cq_entries(rmq_cq *cq, int64_t index, uint32_t max, const uint8_t **p,
                   uint32_t *n);

/*
 * The end of the valid entries: the newest file whose first entry is
 * valid is scanned from its start to the first invalid entry.  *next is
 * the index after the last valid entry (the first file's first index if
 * none is valid, 0 for an empty queue); *phys_end is offset + size of
 * the last valid real entry, 0 if there is none.  Reads only.
 */
int rmq_cq_last_valid(rmq_cq *cq, int64_t *next, int64_t *phys_end);

/*
 * Writer: zero every entry from index on (the rest of its file, synced)
 * and delete later files.
 */
int rmq_cq_truncate(rmq_cq *cq, int64_t index);

/*
 * Writer, recovery: of the valid entries below next, drop those whose
 * record does not end at or before cl_end (offset + size > cl_end);
 * placeholders stay.  Updates *next (and truncates) when it drops any.
 */
int rmq_cq_truncate_phys(rmq_cq *cq, int64_t cl_end, int64_t *next);

/*
 * First index below next whose entry is a real entry at or after the
 * commit-log min offset (binary search: entries are in offset order).
 * *out = next when there is none.
 */
int rmq_cq_min_index(rmq_cq *cq, int64_t cl_min, int64_t next, int64_t *out);

/* Make entries [from, to) durable (flusher).  Blocks. */
int rmq_cq_sync(rmq_cq *cq, int64_t from, int64_t to);

/* A bounded LRU set of open consume queues. */
typedef struct rmq_cq_cache {
    rmq_qmap map;
    rmq_cq  *mru; /* most recently used */
    rmq_cq  *lru; /* least recently used: evicted first */
    uint32_t count;
    uint32_t max_open;
    char    *root;
    int64_t  file_size;
    bool     writable;
    uint64_t opens; /* cache misses */
    uint64_t evictions;
} rmq_cq_cache;

typedef struct rmq_cq_cache_opts {
    const char *root;      /* store root */
    int64_t     file_size; /* mappedFileSizeConsumeQueue */
    bool        writable;  /* dispatcher */
    uint32_t    max_open;  /* 0 = RMQ_CQ_CACHE_DEFAULT */
} rmq_cq_cache_opts;

int  rmq_cq_cache_init(rmq_cq_cache *c, const rmq_cq_cache_opts *o);
void rmq_cq_cache_fini(rmq_cq_cache *c);
/*
 * The open queue for topic/queue_id, opening it (and closing the least
 * recently used one when max_open are open) if needed.  The pointer is
 * valid until the next get or drop on this cache.
 */
int rmq_cq_cache_get(rmq_cq_cache *c, const char *topic, size_t topic_len,
                     int32_t queue_id, rmq_cq **out);
/*
 * Writer (dispatcher): delete every consume-queue file of a topic (its
 * topic was deleted).  Readers that still map a file keep reading it until
 * they drop it.  Returns 0 or RMQ_ERR_SYS (logged).
 */
int rmq_cq_remove_topic(const char *root, const char *topic);
/* Close topic/queue_id if it is open (say, its topic was deleted). */
void rmq_cq_cache_drop(rmq_cq_cache *c, const char *topic, size_t topic_len,
                       int32_t queue_id);

#endif
