/*
 * ring.h - a put ring: the shared segment through which an actor hands
 * encoded commit-log records to clwriter without copying them over a
 * socket.  One ring per producing actor (acceptor, scheduler), a file at
 * <runDir>/ring.<owner>.
 *
 * Layout: [0, size) record bytes; no header.  Writer: the owner only; it
 * allocates space FIFO and frees it when clwriter's results come back
 * (results come back in order), so no head/tail words need to be shared.
 * Reader: clwriter maps it read-only and copies records out of it at the
 * (offset, length) named by the NNG descriptors.
 *
 * The owner reuses the existing file (same inode) across its own restarts
 * so clwriter's mapping stays valid; a size change is detected by clwriter
 * through the size carried in every batch.
 */
#ifndef RMQ_SHM_RING_H
#define RMQ_SHM_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct rmq_ring {
    uint8_t *base;
    size_t   size;
    bool     writable;
    /* owner-side allocator state (owner memory, not shared) */
    size_t tail; /* next free byte */
    size_t used; /* bytes in use, including skipped wrap gaps */
} rmq_ring;

/* Path of the ring of actor `owner`. */
void rmq_ring_path(const char *run_dir, const char *owner, char *out,
                   size_t cap);
/* Owner: create or reuse the ring file, sized to size bytes. */
int rmq_ring_create(const char *path, size_t size, rmq_ring *out);
/* clwriter: map an existing ring read-only. */
int  rmq_ring_attach(const char *path, size_t size, rmq_ring *out);
void rmq_ring_close(rmq_ring *r);

/*
 * Owner: reserve len contiguous bytes; returns their offset through *off
 * and what the reservation consumed (len plus any wrap gap) through *cost,
 * or RMQ_ERR_FULL when there is no room until earlier records are freed.
 * Space is freed in the same order it was reserved.
 */
int rmq_ring_reserve(rmq_ring *r, size_t len, size_t *off, size_t *cost);
/* Owner: free the oldest reservations, whose costs add up to cost. */
void rmq_ring_release(rmq_ring *r, size_t cost);
/* Owner: drop every reservation. */
void rmq_ring_reset(rmq_ring *r);

#endif
