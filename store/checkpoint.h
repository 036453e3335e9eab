/*
 * checkpoint.h - the 4096-byte <storeRoot>/checkpoint file
 * (spec/store-format.md 5): big-endian int64 store timestamps of the last
 * flushed commit-log message (offset 0), consume-queue entry (8) and full
 * index file (16), plus the 5.x master-flushed and confirm offsets (24,
 * 32).  The flusher writes it (after a consume-queue full flush, when an
 * index file fills, at shutdown); recovery reads it to find the safe
 * time of an abnormal restart.  The values lag reality on purpose.
 */
#ifndef RMQ_STORE_CHECKPOINT_H
#define RMQ_STORE_CHECKPOINT_H

#include <stdbool.h>
#include <stdint.h>

#define RMQ_CKPT_FILE "checkpoint"
#define RMQ_CKPT_SIZE 4096

typedef struct rmq_ckpt {
    int64_t physic_ms;      /* physicMsgTimestamp */
    int64_t logics_ms;      /* logicsMsgTimestamp */
    int64_t index_ms;       /* indexMsgTimestamp */
    int64_t master_flushed; /* 5.x masterFlushedOffset; 0 in 4.x */
    int64_t confirm_offset; /* 5.x confirmPhyOffset; 0 in 4.x */
} rmq_ckpt;

/*
 * Read path.  Returns 0, RMQ_ERR_NOTFOUND when there is no file (*out
 * zeroed), RMQ_ERR_SYS when it cannot be read.  A file shorter than
 * 4096 bytes reads as if zero-padded (Java maps, and so extends, it).
 */
int rmq_ckpt_read(const char *path, rmq_ckpt *out);
/*
 * Write the fields in place (bytes past offset 40 are kept), 4096 bytes,
 * then fdatasync.  Creates the file.  Blocks on disk I/O.
 */
int rmq_ckpt_write(const char *path, const rmq_ckpt *cp);
/*
 * Recovery's safe time: min(physic, logics) - 3000 ms, not below 0; with
 * index_safe (messageIndexSafe) also at most indexMsgTimestamp.
 */
int64_t rmq_ckpt_safe_ms(const rmq_ckpt *cp, bool index_safe);

#endif
