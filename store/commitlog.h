/*
 * commitlog.h - the commit log (spec/store-format.md 2): a mapped-file
 * queue of records, appended by one writer and read in place by many.
 *
 * Writer side (clwriter only; recovery before it): append encoded
 * records, each copied once into the mapping and fixed up in place
 * (queueOffset, physicalOffset, storeTimestamp); a record that does not
 * fit in the current file with 8 bytes to spare ends the file with a
 * BLANK record and goes to offset 0 of the next file, so a record never
 * spans files.  rmq_cl_maintain(), called between batches, creates the
 * next file ahead of need and pre-faults a window of pages ahead of the
 * write position, so an append is a memcpy and a few stores: no system
 * call, no allocation, no page fault on a fresh page.  Publishing the
 * new position (release store into the control segment) is the caller's
 * job, once per batch.
 *
 * Reader side (dispatcher, acceptor, replicator, scheduler, indexer):
 * decode the record at a physical offset, or iterate from an offset to
 * an end, straight from read-only mappings.  Readers pass the end they
 * may read up to (the published written position) and never look past
 * it.
 *
 * One rmq_cl belongs to one thread.
 */
#ifndef RMQ_STORE_COMMITLOG_H
#define RMQ_STORE_COMMITLOG_H

#include "store/mfile.h"
#include "store/prefault.h"
#include "store/record.h"

#include <stdbool.h>
#include <stdint.h>

#define RMQ_CL_DIR "commitlog"
#define RMQ_CL_FILE_SIZE (INT64_C(1) << 30)
#define RMQ_CL_PREFAULT_DEFAULT (INT64_C(4) << 20)

typedef struct rmq_cl_opts {
    const char *dir;       /* <storeRoot>/commitlog */
    int64_t     file_size; /* mappedFileSizeCommitLog */
    bool        writable;  /* clwriter and recovery only */
    /*
     * Writer: bytes kept faulted in ahead of the write position; 0 turns
     * pre-faulting off.  A few MiB: enough for the puts between two
     * maintain calls, small enough to keep an idle broker's RSS small.
     */
    int64_t prefault_bytes;
    /*
     * Writer: fault pages in on a background thread (clwriter), so the
     * appending thread never pays for a fresh page; else maintain does it.
     */
    bool background_prefault;
} rmq_cl_opts;

typedef struct rmq_cl {
    rmq_mfq q;
    int64_t prefault_bytes;
    /* writer only */
    int64_t  write_pos;   /* next byte to write; -1 before rmq_cl_start */
    uint8_t *cur;         /* mapping of the file holding write_pos */
    int64_t  cur_start;   /* its first offset */
    int64_t  prefault_to; /* pages below this offset are faulted in */
    int64_t  start_pos;   /* write_pos at start: the window grows from it */
    rmq_prefaulter *pf;   /* background pre-faulting, or NULL */
} rmq_cl;

int  rmq_cl_open(rmq_cl *cl, const rmq_cl_opts *o);
void rmq_cl_close(rmq_cl *cl);

/*
 * Writer: continue writing at pos (from recovery; everything from pos to
 * the end of its file must be zero).  Creates the file holding pos when
 * it does not exist yet.  May block on disk I/O.
 */
int rmq_cl_start(rmq_cl *cl, int64_t pos);

/* Writer: the next byte to write. */
static inline int64_t
rmq_cl_write_pos(const rmq_cl *cl)
{
    return cl->write_pos;
}

/*
 * Writer: append one encoded record of len bytes (rmq_rec_encode output;
 * its totalSize must equal len) and fix up its queue offset, physical
 * offset and store timestamp.  Returns 0 and the record's physical
 * offset, RMQ_ERR_PROTO when the bytes are not a valid record,
 * RMQ_ERR_TOOBIG when it can never fit in a file, or an error from
 * creating the next file (only when maintain did not create it ahead).
 */
int rmq_cl_append(rmq_cl *cl, const void *rec, uint32_t len,
                  int64_t queue_offset, int64_t store_ts, int64_t *phys);

/*
 * Writer (slave replication): append bytes copied verbatim from the
 * master's commit log at offset off, which must be the write position.
 * They must not cross the end of the current file; at the end of a file
 * writing continues at the start of the next one.
 */
int rmq_cl_append_raw(rmq_cl *cl, int64_t off, const void *data, size_t len);

/*
 * Writer, between batches: create the next file once the write position
 * is past half of the current one (or the pre-fault window reaches the
 * file end), and pre-fault up to 1 MiB more of the window per call.
 * Cheap when there is nothing to do.  May block on disk I/O while it
 * creates a file.
 */
int rmq_cl_maintain(rmq_cl *cl);

/* Make [from, to) durable (flusher).  Blocks. */
int rmq_cl_sync(rmq_cl *cl, int64_t from, int64_t to);

/*
 * Reader: decode the record at off (a record boundary) without copying.
 * end is the first byte the caller may not read (the published written
 * position).  Returns 0 with kind RMQ_REC_MSG or RMQ_REC_BLANK,
 * RMQ_ERR_AGAIN when off >= end or the record is not entirely below end,
 * RMQ_ERR_NOTFOUND when no file holds off, RMQ_ERR_CORRUPT for bad
 * bytes (zero bytes below end included).
 */
int rmq_cl_read(rmq_cl *cl, int64_t off, int64_t end, bool check_crc,
                rmq_rec_view *out);

/* Reader: walk records from one offset to an end, skipping BLANKs. */
typedef struct rmq_cl_iter {
    rmq_cl *cl;
    int64_t pos; /* next record to read (record boundary) */
    int64_t end; /* stop here; the caller may raise it between calls */
    bool    check_crc;
} rmq_cl_iter;

void rmq_cl_iter_init(rmq_cl_iter *it, rmq_cl *cl, int64_t from, int64_t end,
                      bool check_crc);
/*
 * Next message record: 0 with *off its physical offset, RMQ_ERR_AGAIN at
 * the end, or the errors of rmq_cl_read with it->pos left at the record
 * that failed.
 */
int rmq_cl_iter_next(rmq_cl_iter *it, rmq_rec_view *out, int64_t *off);

/* Start of the first file / end of the last file; 0 when empty. */
static inline int64_t
rmq_cl_min_offset(const rmq_cl *cl)
{
    return rmq_mfq_min_offset(&cl->q);
}

static inline int64_t
rmq_cl_max_offset(const rmq_cl *cl)
{
    return rmq_mfq_max_offset(&cl->q);
}

#endif
