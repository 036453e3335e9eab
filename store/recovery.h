/*
 * recovery.h - what clwriter does with the store before it writes
 * (spec/store-format.md 6, 8): take the store lock, look for the abort
 * file, bring the commit log and the consume queues back to a consistent
 * end, and work out where the dispatcher starts and which queue offset
 * each queue continues from.
 *
 * Run by clwriter at every start, before it creates the abort file and
 * before any other actor may trust the store; nothing else writes the
 * store meanwhile (the lock).  It reads the checkpoint and every file
 * under commitlog/ and consumequeue/, and writes: it zeroes the bytes
 * after the last good record (so no stale record can come back after a
 * later crash), deletes later commit-log files, and cuts consume-queue
 * entries that point past the commit-log end.  Bad bytes never make it
 * fail: they are reported, logged and cut off.  Files of the wrong size
 * do (the spec's load rule): that needs an operator.
 *
 * Typical clwriter start:
 *
 *     rmq_store_lock(root, &lockfd);            (RMQ_ERR_BUSY: in use)
 *     rmq_store_recover(&opts, &st);
 *     rmq_cl_open(...writable...); rmq_cl_start(&cl, st.cl_end);
 *     rmq_topics_open(..., rmq_store_state_next_offset, &st);
 *     publish st.cl_min, st.cl_end, st.dispatch_from in the control segment
 *     rmq_store_abort_create(root);
 *     ... serve ...
 *     rmq_store_abort_remove(root) on a clean stop; rmq_store_unlock(lockfd)
 */
#ifndef RMQ_STORE_RECOVERY_H
#define RMQ_STORE_RECOVERY_H

#include "store/qmap.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RMQ_ABORT_FILE "abort"
#define RMQ_LOCK_FILE "lock"

typedef struct rmq_store_opts {
    const char *root;         /* storePathRootDir */
    int64_t     cl_file_size; /* mappedFileSizeCommitLog */
    int64_t     cq_file_size; /* mappedFileSizeConsumeQueue */
    bool        check_crc;    /* checkCRCOnRecover (abnormal always checks) */
    bool        index_safe;   /* messageIndexSafe: safe time <= index time */
} rmq_store_opts;

/* Per queue: where it stands after recovery. */
typedef struct rmq_queue_next {
    char    topic[RMQ_QKEY_TOPIC_CAP];
    int32_t queue_id;
    int64_t cq_min;      /* first live consume-queue index */
    int64_t cq_max;      /* consume-queue entries below are valid */
    int64_t next_offset; /* the next queue offset clwriter assigns */
} rmq_queue_next;

/* Why the commit-log scan stopped. */
enum rmq_cl_stop {
    RMQ_CL_STOP_END = 0, /* zero bytes or no more files: a clean end */
    RMQ_CL_STOP_TORN,    /* bad bytes, nothing valid after them */
    RMQ_CL_STOP_CORRUPT, /* a bad record with valid records after it */
};

typedef struct rmq_store_state {
    bool    abnormal;      /* the abort file was there: last run crashed */
    int64_t cl_min;        /* first commit-log byte on disk */
    int64_t cl_end;        /* end of the last good record: write here */
    int64_t verify_from;   /* where record checking started (file start) */
    int64_t dispatch_from; /* where the dispatcher starts */
    int64_t cq_max_phys;   /* max record end referenced by a CQ */
    int64_t last_store_ms; /* storeTimestamp of the last good record */
    int64_t records_checked;
    /* where and why the scan stopped; stop_* valid unless STOP_END */
    int      stop;        /* enum rmq_cl_stop */
    int64_t  stop_offset; /* physical offset of the first bad byte */
    int64_t  stop_file;   /* start offset (name) of its file */
    char     stop_reason[32];
    uint32_t corrupt_records; /* bad records found (the scan stops at 1) */
    int64_t  dropped_records; /* valid records after it, cut with it */
    int64_t  dropped_bytes;   /* bytes from stop_offset to their end */
    /* sorted by topic, then queue id */
    rmq_queue_next *queues;
    size_t          nqueues;
} rmq_store_state;

/*
 * Exclusive lock on <root>/lock (created, holding "lock"): flock, plus
 * an open-file-description lock on byte 0, which is what a Java broker
 * takes (FileChannel.tryLock maps to POSIX record locks), so the two
 * exclude each other too.  Returns 0 and the fd to keep open, or
 * RMQ_ERR_BUSY ("store already in use").  Creates root if needed.
 */
int  rmq_store_lock(const char *root, int *fd);
void rmq_store_unlock(int fd);

bool rmq_store_abort_exists(const char *root);
/* Create (empty, synced) / remove the abort file. */
int rmq_store_abort_create(const char *root);
int rmq_store_abort_remove(const char *root);

/*
 * Recover the store under o->root (see the file comment): normal
 * recovery without the abort file (checks from the third-to-last
 * commit-log file), abnormal with it (checks, CRC included, from the
 * newest file whose first record was stored before the checkpoint's
 * safe time).  Fills *out (free it with rmq_store_state_free).  Returns
 * 0, or an error for files it cannot use (RMQ_ERR_CORRUPT: wrong size,
 * missing file in the middle; RMQ_ERR_SYS; RMQ_ERR_NOMEM).  May take a
 * while: it reads what it checks.
 */
int  rmq_store_recover(const rmq_store_opts *o, rmq_store_state *out);
void rmq_store_state_free(rmq_store_state *s);

/* The state of topic/queue_id, or NULL if recovery saw nothing of it. */
const rmq_queue_next *rmq_store_state_find(const rmq_store_state *s,
                                           const char *topic, size_t len,
                                           int32_t queue_id);
/* next_offset of topic/queue_id, 0 if unknown (rmq_topics init_offset). */
int64_t rmq_store_state_next_offset(void *state, const char *topic,
                                    int32_t queue_id);

#endif
