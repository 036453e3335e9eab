/*
 * mfile.h - a mapped-file queue: one directory of fixed-size files, each
 * named by the 20-digit zero-padded logical offset of its first byte
 * (spec/store-format.md 1), which together form one contiguous byte
 * space.  The commit log and every consume queue are one each.
 *
 * Used by every store process.  The single writer of a queue (clwriter
 * for the commit log, the dispatcher for consume queues, recovery) opens
 * it writable: files are mapped PROT_READ|PROT_WRITE and it may create,
 * zero and delete files.  Everyone else opens it read-only: files are
 * mapped PROT_READ, MAP_SHARED, so they see the writer's bytes through
 * the page cache without copies.  A reader must not look past the
 * position the writer publishes in the control segment: bytes beyond it
 * may be half written.
 *
 * Files are mapped lazily, on first access, and stay mapped until the
 * queue is closed, truncated or rmq_mfq_forget_before() drops them (or a
 * rescan finds that every file it knew was deleted and the directory
 * now starts past them), so a pointer returned here stays valid across
 * later calls.  A reader that learns the store was recovered anew (the
 * store generation in the control segment changed) should close and
 * reopen its queues: recovery may delete and re-create files.  File
 * descriptors are closed right after mapping: a process with thousands
 * of consume queues holds mappings, not descriptors.
 *
 * Not thread-safe: one rmq_mfq belongs to one thread.
 */
#ifndef RMQ_STORE_MFILE_H
#define RMQ_STORE_MFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RMQ_MFILE_NAME_LEN 20 /* digits of a file name */

typedef struct rmq_mfile {
    int64_t  start; /* logical offset of the first byte (the name) */
    uint8_t *base;  /* the whole file, or NULL until first used */
} rmq_mfile;

typedef struct rmq_mfq {
    char      *dir;
    int64_t    file_size;
    bool       writable;
    rmq_mfile *files; /* files[i].start == files[0].start + i * file_size */
    uint32_t   nfiles;
    uint32_t   cap;
} rmq_mfq;

/*
 * Open the queue in dir.  Files are sorted by name; a name that is not
 * 20 digits is ignored.  A file whose size differs from file_size, whose
 * name is not a multiple of file_size, or a missing file between two
 * others makes the open fail with RMQ_ERR_CORRUPT and a log line naming
 * the file.  An absent directory is created when writable, else the
 * queue is simply empty.  Maps nothing yet.
 */
int rmq_mfq_open(rmq_mfq *q, const char *dir, int64_t file_size, bool writable);
void rmq_mfq_close(rmq_mfq *q);

/*
 * Read the directory again and add files created since (readers call
 * this when asked for an offset past the last file they know; the span
 * and ptr functions do it themselves).  Known files stay as they are.
 */
int rmq_mfq_rescan(rmq_mfq *q);

/*
 * Pointer to logical offset off and the bytes from there to the end of
 * its file.  Maps the file on first use.  Returns RMQ_ERR_NOTFOUND when
 * no file holds off (after one rescan if off is past the known end).
 */
int rmq_mfq_span(rmq_mfq *q, int64_t off, uint8_t **p, int64_t *avail);
/* As span, for [off, off + len) that must lie in one file (else RANGE). */
int rmq_mfq_ptr(rmq_mfq *q, int64_t off, size_t len, uint8_t **p);

/*
 * Writer: create the file that starts at start, which must be the end
 * of the last file (or any multiple of file_size when the queue is
 * empty).  The file is built under a temporary name and renamed into
 * place, so readers scanning the directory never see it short.  May
 * block on disk I/O; RMQ_ERR_FULL when the disk is full.
 */
int rmq_mfq_create(rmq_mfq *q, int64_t start);

/*
 * Make [from, to) durable: msync(MS_SYNC) of that range of each file it
 * covers.  Works from a read-only mapping too (the flusher's).  Blocks.
 */
int rmq_mfq_sync(rmq_mfq *q, int64_t from, int64_t to);

/*
 * Writer: cut the queue at off.  The rest of the file holding off is
 * zeroed (and synced), so no stale bytes can be read back as data; every
 * later file is deleted.  off below the first file deletes every file;
 * off at or past the end changes nothing.  Blocks on disk I/O.
 */
int rmq_mfq_truncate(rmq_mfq *q, int64_t off);

/*
 * Drop this process's page-table entries for [from, to) (whole pages
 * inside it): the pages stay in the page cache, dirty ones are still
 * written back, and a later access just maps them again.  Keeps the
 * resident size of a long-running process at its working set instead of
 * everything it ever touched.  Never blocks on I/O.
 */
void rmq_mfq_release(rmq_mfq *q, int64_t from, int64_t to);
/* Forget (unmap) files that end at or before off; the files stay. */
void rmq_mfq_forget_before(rmq_mfq *q, int64_t off);

/* Start of the first file and end of the last one; 0 when empty. */
int64_t rmq_mfq_min_offset(const rmq_mfq *q);
int64_t rmq_mfq_max_offset(const rmq_mfq *q);

/* Start of the file that holds off (off rounded down to a file start). */
static inline int64_t
rmq_mfq_file_start(const rmq_mfq *q, int64_t off)
{
    return off - off % q->file_size;
}

/* mkdir -p (mode 0755).  Returns 0 or RMQ_ERR_SYS (logged). */
int rmq_mfq_mkdirs(const char *dir);
/* fsync a directory, so names created or removed in it survive a crash. */
void rmq_mfq_sync_dir(const char *dir);

/* "<dir>/<20 digits>" for the file starting at start. */
void rmq_mfq_path(const rmq_mfq *q, int64_t start, char *out, size_t cap);

#endif
