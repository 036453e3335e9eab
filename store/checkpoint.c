/*
 * checkpoint.c - read and write <storeRoot>/checkpoint (see
 * checkpoint.h).  Written by the flusher only, read by clwriter's
 * recovery; plain pread/pwrite, no mapping kept.
 */
#include "store/checkpoint.h"

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

int
rmq_ckpt_read(const char *path, rmq_ckpt *out)
{
    uint8_t b[RMQ_CKPT_SIZE] = {0};
    int     fd;
    ssize_t n;

    memset(out, 0, sizeof(*out));
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) {
            return RMQ_ERR_NOTFOUND;
        }
        rmq_log_sys(RMQ_LOG_ERR, "ckpt.read", errno, "could not open \"%s\"",
                    path);
        return RMQ_ERR_SYS;
    }
    n = pread(fd, b, sizeof(b), 0);
    close(fd);
    if (n < 0) {
        rmq_log_sys(RMQ_LOG_ERR, "ckpt.read", errno, "could not read \"%s\"",
                    path);
        return RMQ_ERR_SYS;
    }
    out->physic_ms = (int64_t)rmq_be64(b);
    out->logics_ms = (int64_t)rmq_be64(b + 8);
    out->index_ms = (int64_t)rmq_be64(b + 16);
    out->master_flushed = (int64_t)rmq_be64(b + 24);
    out->confirm_offset = (int64_t)rmq_be64(b + 32);
    return 0;
}

int
rmq_ckpt_write(const char *path, const rmq_ckpt *cp)
{
    uint8_t b[RMQ_CKPT_SIZE] = {0};
    int     fd, err = 0;

    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        err = errno;
        goto fail;
    }
    if (pread(fd, b, sizeof(b), 0) < 0) {
        memset(b, 0, sizeof(b));
    }
    rmq_put_be64(b, (uint64_t)cp->physic_ms);
    rmq_put_be64(b + 8, (uint64_t)cp->logics_ms);
    rmq_put_be64(b + 16, (uint64_t)cp->index_ms);
    rmq_put_be64(b + 24, (uint64_t)cp->master_flushed);
    rmq_put_be64(b + 32, (uint64_t)cp->confirm_offset);
    errno = 0;
    if (pwrite(fd, b, sizeof(b), 0) != (ssize_t)sizeof(b)) {
        err = errno != 0 ? errno : EIO;
    } else if (fdatasync(fd) != 0) {
        err = errno;
    }
    close(fd);
    if (err == 0) {
        return 0;
    }
fail:
    rmq_log_sys(RMQ_LOG_ERR, "ckpt.write", err, "could not write \"%s\"", path);
    return RMQ_ERR_SYS;
}

int64_t
rmq_ckpt_safe_ms(const rmq_ckpt *cp, bool index_safe)
{
    int64_t min = RMQ_MIN(cp->physic_ms, cp->logics_ms) - 3000;

    if (min < 0) {
        min = 0;
    }
    if (index_safe) {
        min = RMQ_MIN(min, cp->index_ms);
    }
    return min;
}
