/*
 * chan.c - Unix SOCK_SEQPACKET message channels (chan.h).
 */
#include "net/chan.h"

#include "common/err.h"
#include "common/log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define CHAN_SNDBUF (4 << 20) /* room for many batches in flight */

static int
chan_addr(const char *run_dir, const char *owner, const char *purpose,
          struct sockaddr_un *sa)
{
    int n;

    memset(sa, 0, sizeof(*sa));
    sa->sun_family = AF_UNIX;
    n = snprintf(sa->sun_path, sizeof(sa->sun_path), "%s/%s.%s", run_dir, owner,
                 purpose);
    return (n < 0 || (size_t)n >= sizeof(sa->sun_path)) ? RMQ_ERR_TOOBIG : 0;
}

static int
chan_socket(void)
{
    int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int sz = CHAN_SNDBUF;

    if (fd >= 0) {
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
    }
    return fd;
}

int
rmq_chan_listen(const char *run_dir, const char *owner, const char *purpose,
                int *lfd)
{
    struct sockaddr_un sa;
    int                fd;

    if (chan_addr(run_dir, owner, purpose, &sa) != 0) {
        rmq_log(RMQ_LOG_ERR, "chan.listen", "socket path too long in %s",
                run_dir);
        return RMQ_ERR_TOOBIG;
    }
    fd = chan_socket();
    if (fd < 0) {
        return RMQ_ERR_SYS;
    }
    unlink(sa.sun_path); /* a stale socket of a previous run */
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
        listen(fd, 64) != 0) {
        rmq_log_sys(RMQ_LOG_ERR, "chan.listen", errno,
                    "cannot listen on \"%s\"", sa.sun_path);
        close(fd);
        return RMQ_ERR_SYS;
    }
    *lfd = fd;
    return 0;
}

int
rmq_chan_accept(int lfd, int *fd)
{
    int c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

    if (c < 0) {
        return (errno == EAGAIN || errno == EINTR) ? RMQ_ERR_AGAIN
                                                   : RMQ_ERR_SYS;
    }
    *fd = c;
    return 0;
}

int
rmq_chan_connect(const char *run_dir, const char *owner, const char *purpose,
                 int *fd)
{
    struct sockaddr_un sa;
    int                c;

    if (chan_addr(run_dir, owner, purpose, &sa) != 0) {
        return RMQ_ERR_TOOBIG;
    }
    c = chan_socket();
    if (c < 0) {
        return RMQ_ERR_SYS;
    }
    /* a Unix connect completes at once, or fails (no listener yet) */
    if (connect(c, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        close(c);
        return RMQ_ERR_CLOSED;
    }
    *fd = c;
    return 0;
}

int
rmq_chan_send(int fd, const void *data, size_t len)
{
    ssize_t w = send(fd, data, len, MSG_NOSIGNAL | MSG_DONTWAIT);

    if (w == (ssize_t)len) {
        return 0;
    }
    if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
        return RMQ_ERR_AGAIN;
    }
    return w < 0 && errno == EMSGSIZE ? RMQ_ERR_TOOBIG : RMQ_ERR_CLOSED;
}

int
rmq_chan_recv(int fd, rmq_buf *out)
{
    ssize_t r;

    rmq_buf_reset(out);
    if (rmq_buf_reserve(out, RMQ_CHAN_MSG_MAX) != 0) {
        return RMQ_ERR_NOMEM;
    }
    r = recv(fd, out->data, RMQ_CHAN_MSG_MAX, MSG_DONTWAIT | MSG_TRUNC);
    if (r < 0) {
        return (errno == EAGAIN || errno == EINTR) ? RMQ_ERR_AGAIN
                                                   : RMQ_ERR_CLOSED;
    }
    if (r == 0) {
        return RMQ_ERR_CLOSED;
    }
    if ((size_t)r > RMQ_CHAN_MSG_MAX) {
        return RMQ_ERR_TOOBIG;
    }
    out->len = (size_t)r;
    return 0;
}
