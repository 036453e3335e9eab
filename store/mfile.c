/*
 * mfile.c - the mapped-file queue (see mfile.h): directory scan, lazy
 * mappings, file creation, msync, truncation.  Runs in every store
 * process; each rmq_mfq belongs to one thread.  Touches only the files of
 * its own directory; only a writable queue creates, zeroes or deletes.
 */
#include "store/mfile.h"

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define MFQ_PAGE 4096
#define MFQ_TMP_SUFX ".new"

void
rmq_mfq_path(const rmq_mfq *q, int64_t start, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%020" PRId64, q->dir, start);
}

static bool
mfq_is_name(const char *s)
{
    for (int i = 0; i < RMQ_MFILE_NAME_LEN; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return false;
        }
    }
    return s[RMQ_MFILE_NAME_LEN] == '\0';
}

static int
mfq_cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a;
    int64_t y = *(const int64_t *)b;

    return x < y ? -1 : x > y;
}

/*
 * Failures to create files repeat on every append while a disk is full:
 * one line per second per process says it without flooding the log.
 */
static bool
mfq_log_allowed(void)
{
    static int64_t next_ms;
    int64_t        now = rmq_mono_ms();

    if (now < next_ms) {
        return false;
    }
    next_ms = now + 1000;
    return true;
}

int
rmq_mfq_mkdirs(const char *dir)
{
    char   tmp[PATH_MAX];
    size_t n = strlen(dir);

    if (n == 0 || n >= sizeof(tmp)) {
        return RMQ_ERR_INVAL;
    }
    memcpy(tmp, dir, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (tmp[i] != '/' && tmp[i] != '\0') {
            continue;
        }
        tmp[i] = '\0';
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST) {
            int err = errno;
            if (mfq_log_allowed()) {
                rmq_log_sys(RMQ_LOG_ERR, "mfq.mkdir", err,
                            "could not create directory \"%s\"", tmp);
            }
            return err == ENOSPC ? RMQ_ERR_FULL : RMQ_ERR_SYS;
        }
        tmp[i] = dir[i];
    }
    return 0;
}

/* Add one directory entry to the list; removes a writer's stale temps. */
static int
mfq_list_entry(const rmq_mfq *q, const char *name, int64_t **v, size_t *n,
               size_t *cap)
{
    size_t len = strlen(name);

    if (q->writable && len == RMQ_MFILE_NAME_LEN + strlen(MFQ_TMP_SUFX) &&
        strcmp(name + RMQ_MFILE_NAME_LEN, MFQ_TMP_SUFX) == 0) {
        char path[PATH_MAX];

        snprintf(path, sizeof(path), "%s/%s", q->dir, name);
        unlink(path); /* a creation cut short by a crash */
        return 0;
    }
    if (!mfq_is_name(name)) {
        return 0;
    }
    if (*n == *cap) {
        size_t   ncap = *cap ? *cap * 2 : 16;
        int64_t *nv = realloc(*v, ncap * sizeof(**v));

        if (nv == NULL) {
            return RMQ_ERR_NOMEM;
        }
        *v = nv;
        *cap = ncap;
    }
    (*v)[(*n)++] = strtoll(name, NULL, 10);
    return 0;
}

/* Sorted start offsets of the files in the directory. */
static int
mfq_list(const rmq_mfq *q, int64_t **out, size_t *nout)
{
    DIR           *d;
    struct dirent *de;
    int64_t       *v = NULL;
    size_t         n = 0, cap = 0;
    int            rc = 0;

    d = opendir(q->dir);
    if (d == NULL) {
        *out = NULL;
        *nout = 0;
        if (errno == ENOENT) {
            return 0;
        }
        rmq_log_sys(RMQ_LOG_ERR, "mfq.scan", errno,
                    "could not open directory \"%s\"", q->dir);
        return RMQ_ERR_SYS;
    }
    while (rc == 0 && (de = readdir(d)) != NULL) {
        rc = mfq_list_entry(q, de->d_name, &v, &n, &cap);
    }
    closedir(d);
    if (rc != 0) {
        free(v);
        return rc;
    }
    if (n > 1) {
        qsort(v, n, sizeof(*v), mfq_cmp_i64);
    }
    *out = v;
    *nout = n;
    return 0;
}

/* Each file: a multiple of the size, right after the previous, full size. */
static int
mfq_check(const rmq_mfq *q, const int64_t *v, size_t n)
{
    char        path[PATH_MAX];
    struct stat st;

    for (size_t i = 0; i < n; i++) {
        rmq_mfq_path(q, v[i], path, sizeof(path));
        if (v[i] % q->file_size != 0 ||
            (i > 0 && v[i] != v[i - 1] + q->file_size)) {
            rmq_log(RMQ_LOG_ERR, "mfq.scan",
                    "cannot use \"%s\": its name is not where the previous "
                    "file ends (file size %" PRId64 ")",
                    path, q->file_size);
            return RMQ_ERR_CORRUPT;
        }
        if (stat(path, &st) != 0) {
            rmq_log_sys(RMQ_LOG_ERR, "mfq.scan", errno, "could not stat \"%s\"",
                        path);
            return RMQ_ERR_SYS;
        }
        if ((int64_t)st.st_size != q->file_size) {
            rmq_log(RMQ_LOG_ERR, "mfq.scan",
                    "cannot use \"%s\": size %" PRId64
                    " differs from the configured file size %" PRId64,
                    path, (int64_t)st.st_size, q->file_size);
            return RMQ_ERR_CORRUPT;
        }
    }
    return 0;
}

static int
mfq_reserve(rmq_mfq *q, size_t n)
{
    rmq_mfile *nf;
    size_t     ncap;

    if (n <= q->cap) {
        return 0;
    }
    ncap = RMQ_MAX(n, (size_t)q->cap * 2);
    nf = realloc(q->files, ncap * sizeof(*nf));
    if (nf == NULL) {
        return RMQ_ERR_NOMEM;
    }
    q->files = nf;
    q->cap = (uint32_t)ncap;
    return 0;
}

static void
mfq_unmap(rmq_mfq *q, uint32_t i)
{
    if (q->files[i].base != NULL) {
        munmap(q->files[i].base, (size_t)q->file_size);
        q->files[i].base = NULL;
    }
}

/*
 * Take a fresh sorted list.  Files we know keep their mappings; new
 * files are appended.  If the list no longer continues ours (everything
 * we knew is gone), start over from the list.
 */
static int
mfq_merge(rmq_mfq *q, const int64_t *v, size_t n)
{
    int64_t end = rmq_mfq_max_offset(q);
    size_t  skip = 0;
    int     rc;

    if (q->nfiles > 0 && n > 0 && v[0] > end) {
        for (uint32_t i = 0; i < q->nfiles; i++) {
            mfq_unmap(q, i);
        }
        q->nfiles = 0;
    }
    if (q->nfiles > 0) {
        while (skip < n && v[skip] < end) {
            skip++;
        }
    }
    rc = mfq_reserve(q, q->nfiles + (n - skip));
    if (rc != 0) {
        return rc;
    }
    for (size_t i = skip; i < n; i++) {
        q->files[q->nfiles].start = v[i];
        q->files[q->nfiles].base = NULL;
        q->nfiles++;
    }
    return 0;
}

int
rmq_mfq_rescan(rmq_mfq *q)
{
    int64_t *v = NULL;
    size_t   n = 0;
    int      rc;

    rc = mfq_list(q, &v, &n);
    if (rc == 0) {
        rc = mfq_check(q, v, n);
    }
    if (rc == 0) {
        rc = mfq_merge(q, v, n);
    }
    free(v);
    return rc;
}

int
rmq_mfq_open(rmq_mfq *q, const char *dir, int64_t file_size, bool writable)
{
    int rc;

    memset(q, 0, sizeof(*q));
    if (file_size <= 0) {
        return RMQ_ERR_INVAL;
    }
    q->dir = strdup(dir);
    if (q->dir == NULL) {
        return RMQ_ERR_NOMEM;
    }
    q->file_size = file_size;
    q->writable = writable;
    if (writable) {
        rc = rmq_mfq_mkdirs(dir);
        if (rc != 0) {
            goto fail;
        }
    }
    rc = rmq_mfq_rescan(q);
    if (rc != 0) {
        goto fail;
    }
    return 0;

fail:
    rmq_mfq_close(q);
    return rc;
}

void
rmq_mfq_close(rmq_mfq *q)
{
    for (uint32_t i = 0; i < q->nfiles; i++) {
        mfq_unmap(q, i);
    }
    free(q->files);
    free(q->dir);
    memset(q, 0, sizeof(*q));
}

int64_t
rmq_mfq_min_offset(const rmq_mfq *q)
{
    return q->nfiles > 0 ? q->files[0].start : 0;
}

int64_t
rmq_mfq_max_offset(const rmq_mfq *q)
{
    return q->nfiles > 0 ? q->files[q->nfiles - 1].start + q->file_size : 0;
}

static int
mfq_map(rmq_mfq *q, uint32_t i)
{
    char        path[PATH_MAX];
    struct stat st;
    int         fd, err;
    void       *base;
    int         prot = PROT_READ | (q->writable ? PROT_WRITE : 0);

    rmq_mfq_path(q, q->files[i].start, path, sizeof(path));
    fd = open(path, (q->writable ? O_RDWR : O_RDONLY) | O_CLOEXEC);
    if (fd < 0) {
        err = errno;
        if (err == ENOENT) {
            return RMQ_ERR_NOTFOUND; /* deleted by cleanup meanwhile */
        }
        rmq_log_sys(RMQ_LOG_ERR, "mfq.map", err, "could not open \"%s\"", path);
        return RMQ_ERR_SYS;
    }
    if (fstat(fd, &st) != 0 || (int64_t)st.st_size != q->file_size) {
        close(fd);
        rmq_log(RMQ_LOG_ERR, "mfq.map",
                "cannot map \"%s\": its size is not %" PRId64, path,
                q->file_size);
        return RMQ_ERR_CORRUPT;
    }
    base = mmap(NULL, (size_t)q->file_size, prot, MAP_SHARED, fd, 0);
    err = errno;
    close(fd);
    if (base == MAP_FAILED) {
        rmq_log_sys(RMQ_LOG_ERR, "mfq.map", err, "could not map \"%s\"", path);
        return RMQ_ERR_SYS;
    }
    q->files[i].base = base;
    return 0;
}

/* Index of the file holding off, rescanning once when off is past the end. */
static int
mfq_find(rmq_mfq *q, int64_t off, uint32_t *idx)
{
    int rc;

    if (off >= rmq_mfq_max_offset(q)) {
        rc = rmq_mfq_rescan(q);
        if (rc != 0) {
            return rc;
        }
    }
    if (q->nfiles == 0 || off < q->files[0].start ||
        off >= rmq_mfq_max_offset(q)) {
        return RMQ_ERR_NOTFOUND;
    }
    *idx = (uint32_t)((off - q->files[0].start) / q->file_size);
    return 0;
}

int
rmq_mfq_span(rmq_mfq *q, int64_t off, uint8_t **p, int64_t *avail)
{
    uint32_t   i;
    rmq_mfile *f;
    int        rc;

    rc = mfq_find(q, off, &i);
    if (rc != 0) {
        return rc;
    }
    f = &q->files[i];
    if (f->base == NULL) {
        rc = mfq_map(q, i);
        if (rc != 0) {
            return rc;
        }
    }
    *p = f->base + (off - f->start);
    *avail = f->start + q->file_size - off;
    return 0;
}

int
rmq_mfq_ptr(rmq_mfq *q, int64_t off, size_t len, uint8_t **p)
{
    int64_t avail;
    int     rc;

    rc = rmq_mfq_span(q, off, p, &avail);
    if (rc != 0) {
        return rc;
    }
    return (int64_t)len <= avail ? 0 : RMQ_ERR_RANGE;
}

void
rmq_mfq_sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    if (fd >= 0) {
        if (fsync(fd) != 0) {
            rmq_log_sys(RMQ_LOG_WARN, "mfq.sync", errno,
                        "could not fsync directory \"%s\"", dir);
        }
        close(fd);
    }
}

static int
mfq_create_file(const rmq_mfq *q, int64_t start)
{
    char path[PATH_MAX], tmp[PATH_MAX + 8];
    int  fd, err;

    rmq_mfq_path(q, start, path, sizeof(path));
    snprintf(tmp, sizeof(tmp), "%s%s", path, MFQ_TMP_SUFX);
    fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        err = errno;
        goto fail;
    }
    /*
     * Reserved blocks, not a sparse file: a full disk must fail here, as
     * an error clwriter reports, not as SIGBUS in the middle of an append.
     */
    err = rmq_file_reserve(fd, q->file_size);
    close(fd);
    if (err == 0 && rename(tmp, path) != 0) {
        err = errno;
    }
    if (err != 0) {
        unlink(tmp);
        goto fail;
    }
    rmq_mfq_sync_dir(q->dir);
    return 0;

fail:
    if (mfq_log_allowed()) {
        rmq_log_sys(RMQ_LOG_ERR, "mfq.create", err, "could not create \"%s\"",
                    path);
    }
    return err == ENOSPC ? RMQ_ERR_FULL : RMQ_ERR_SYS;
}

int
rmq_mfq_create(rmq_mfq *q, int64_t start)
{
    int rc;

    if (!q->writable || start < 0 || start % q->file_size != 0 ||
        (q->nfiles > 0 && start != rmq_mfq_max_offset(q))) {
        return RMQ_ERR_INVAL;
    }
    rc = mfq_reserve(q, q->nfiles + 1);
    if (rc != 0) {
        return rc;
    }
    rc = mfq_create_file(q, start);
    if (rc != 0) {
        return rc;
    }
    q->files[q->nfiles].start = start;
    q->files[q->nfiles].base = NULL;
    q->nfiles++;
    return 0;
}

int
rmq_mfq_sync(rmq_mfq *q, int64_t from, int64_t to)
{
    int64_t off = RMQ_MAX(from, rmq_mfq_min_offset(q));

    while (off < to) {
        uint8_t  *p;
        int64_t   avail, len;
        uintptr_t a;
        int       rc = rmq_mfq_span(q, off, &p, &avail);

        if (rc != 0) {
            return rc == RMQ_ERR_NOTFOUND ? 0 : rc;
        }
        len = RMQ_MIN(avail, to - off);
        a = (uintptr_t)p & ~(uintptr_t)(MFQ_PAGE - 1); /* msync wants pages */
        if (msync((void *)a, (size_t)((uintptr_t)p + len - a), MS_SYNC) != 0) {
            rmq_log_sys(RMQ_LOG_ERR, "mfq.sync", errno,
                        "could not msync \"%s\" at %" PRId64, q->dir, off);
            return RMQ_ERR_SYS;
        }
        off += len;
    }
    return 0;
}

/* Zero [from, to) of an open file by pwrite, in bounded chunks. */
static int
mfq_zero_write(int fd, int64_t from, int64_t to)
{
    static const uint8_t zeros[64 * 1024];

    while (from < to) {
        size_t  n = (size_t)RMQ_MIN(to - from, (int64_t)sizeof(zeros));
        ssize_t w = pwrite(fd, zeros, n, (off_t)from);

        if (w <= 0) {
            return w < 0 ? errno : EIO;
        }
        from += w;
    }
    return 0;
}

/*
 * Zero [from, file end) of one file and make it durable.  ZERO_RANGE
 * keeps the blocks allocated and costs no data writes (ext4, xfs); where
 * it is missing, PUNCH_HOLE also reads back as zeros (the range becomes
 * sparse again); pwrite is the last resort.  All three go through the
 * page cache, so every mapping of the file sees the zeros at once.
 */
static int
mfq_zero_tail(const rmq_mfq *q, int64_t start, int64_t from)
{
    char    path[PATH_MAX];
    int     fd, err = 0;
    int64_t len = q->file_size - from;

    rmq_mfq_path(q, start, path, sizeof(path));
    fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        err = errno;
        goto out;
    }
    if (fallocate(fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, (off_t)from,
                  (off_t)len) != 0 &&
        fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)from,
                  (off_t)len) != 0) {
        err = mfq_zero_write(fd, from, q->file_size);
    }
    if (err == 0 && fdatasync(fd) != 0) {
        err = errno;
    }
    close(fd);
out:
    if (err != 0) {
        rmq_log_sys(RMQ_LOG_ERR, "mfq.truncate", err,
                    "could not zero \"%s\" from %" PRId64, path, from);
        return RMQ_ERR_SYS;
    }
    return 0;
}

/* Unmap and delete the last file. */
static int
mfq_delete_last(rmq_mfq *q)
{
    char     path[PATH_MAX];
    uint32_t i = q->nfiles - 1;

    rmq_mfq_path(q, q->files[i].start, path, sizeof(path));
    mfq_unmap(q, i);
    q->nfiles--;
    if (unlink(path) != 0 && errno != ENOENT) {
        rmq_log_sys(RMQ_LOG_ERR, "mfq.truncate", errno,
                    "could not delete \"%s\"", path);
        return RMQ_ERR_SYS;
    }
    rmq_log(RMQ_LOG_INFO, "mfq.truncate", "deleted \"%s\"", path);
    return 0;
}

int
rmq_mfq_truncate(rmq_mfq *q, int64_t off)
{
    int rc = 0;

    if (!q->writable) {
        return RMQ_ERR_INVAL;
    }
    if (off >= rmq_mfq_max_offset(q)) {
        return 0;
    }
    while (rc == 0 && q->nfiles > 0 &&
           q->files[q->nfiles - 1].start > rmq_mfq_file_start(q, off)) {
        rc = mfq_delete_last(q);
    }
    while (rc == 0 && q->nfiles > 0 && off < q->files[0].start) {
        rc = mfq_delete_last(q);
    }
    if (rc == 0 && q->nfiles > 0) {
        int64_t start = q->files[q->nfiles - 1].start;

        rc = mfq_zero_tail(q, start, off - start);
    }
    rmq_mfq_sync_dir(q->dir);
    return rc;
}

void
rmq_mfq_release(rmq_mfq *q, int64_t from, int64_t to)
{
    const int64_t page = 4096;

    for (uint32_t i = 0; i < q->nfiles; i++) {
        const rmq_mfile *f = &q->files[i];
        int64_t          lo = RMQ_MAX(from, f->start);
        int64_t          hi = RMQ_MIN(to, f->start + q->file_size);

        if (f->base == NULL || lo >= hi) {
            continue;
        }
        lo = (lo - f->start + page - 1) / page * page;
        hi = (hi - f->start) / page * page;
        if (hi > lo) {
            madvise(f->base + lo, (size_t)(hi - lo), MADV_DONTNEED);
        }
    }
}

void
rmq_mfq_forget_before(rmq_mfq *q, int64_t off)
{
    uint32_t n = 0;

    while (n < q->nfiles && q->files[n].start + q->file_size <= off) {
        mfq_unmap(q, n);
        n++;
    }
    if (n > 0) {
        memmove(q->files, q->files + n, (q->nfiles - n) * sizeof(*q->files));
        q->nfiles -= n;
    }
}
