/*
 * ring.c - put ring segments (ring.h).  The owner (acceptor, scheduler)
 * creates and writes; clwriter attaches read-only.
 */
#include "shm/ring.h"

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

void
rmq_ring_path(const char *run_dir, const char *owner, char *out, size_t cap)
{
    snprintf(out, cap, "%s/ring.%s", run_dir, owner);
}

/*
 * Size the file and reserve its blocks now: a sparse ring would fault
 * with SIGBUS on a full disk at the first write of a fresh page.
 */
static int
ring_reserve_file(int fd, size_t size, const char *path)
{
    int err;

    err = rmq_file_reserve(fd, (int64_t)size);
    if (err != 0) {
        rmq_log_sys(RMQ_LOG_ERR, "ring.create", err,
                    "cannot reserve put ring \"%s\" (disk full?)", path);
        return RMQ_ERR_SYS;
    }
    return 0;
}

static int
ring_map(const char *path, size_t size, bool writable, rmq_ring *out)
{
    int         fd;
    void       *base;
    struct stat st;

    memset(out, 0, sizeof(*out));
    fd = open(path, (writable ? O_RDWR | O_CREAT : O_RDONLY) | O_CLOEXEC, 0644);
    if (fd < 0) {
        return errno == ENOENT ? RMQ_ERR_NOTFOUND : RMQ_ERR_SYS;
    }
    if (writable && ring_reserve_file(fd, size, path) != 0) {
        close(fd);
        return RMQ_ERR_SYS;
    }
    if (!writable && (fstat(fd, &st) != 0 || (size_t)st.st_size != size)) {
        close(fd);
        return RMQ_ERR_VERSION;
    }
    base = mmap(NULL, size, PROT_READ | (writable ? PROT_WRITE : 0), MAP_SHARED,
                fd, 0);
    close(fd);
    if (base == MAP_FAILED) {
        return RMQ_ERR_SYS;
    }
    out->base = base;
    out->size = size;
    out->writable = writable;
    return 0;
}

int
rmq_ring_create(const char *path, size_t size, rmq_ring *out)
{
    return ring_map(path, size, true, out);
}

int
rmq_ring_attach(const char *path, size_t size, rmq_ring *out)
{
    return ring_map(path, size, false, out);
}

void
rmq_ring_close(rmq_ring *r)
{
    if (r->base != NULL) {
        munmap(r->base, r->size);
    }
    memset(r, 0, sizeof(*r));
}

int
rmq_ring_reserve(rmq_ring *r, size_t len, size_t *off, size_t *cost)
{
    size_t start = r->tail;
    size_t gap = 0;

    if (len == 0 || len > r->size / 2) {
        return RMQ_ERR_TOOBIG;
    }
    if (start + len > r->size) {
        /* skip the tail gap and start again at 0 */
        gap = r->size - start;
        start = 0;
    }
    if (r->used + gap + len > r->size) {
        return RMQ_ERR_FULL;
    }
    r->tail = start + len;
    r->used += gap + len;
    *off = start;
    *cost = gap + len;
    return 0;
}

void
rmq_ring_release(rmq_ring *r, size_t cost)
{
    r->used -= cost <= r->used ? cost : r->used;
    if (r->used == 0) {
        r->tail = 0; /* empty: start over at the front */
    }
}

void
rmq_ring_reset(rmq_ring *r)
{
    r->tail = r->used = 0;
}
