/*
 * rpc.c - blocking remoting client (rpc.h).
 */
#include "net/rpc.h"

#include "common/err.h"
#include "common/util.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int
rpc_resolve(const char *addr, struct addrinfo **out)
{
    char            host[256];
    const char     *colon = strrchr(addr, ':');
    struct addrinfo hints;

    if (colon == NULL || (size_t)(colon - addr) >= sizeof(host)) {
        return RMQ_ERR_INVAL;
    }
    memcpy(host, addr, (size_t)(colon - addr));
    host[colon - addr] = '\0';
    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    return getaddrinfo(host, colon + 1, &hints, out) == 0 ? 0
                                                          : RMQ_ERR_NOTFOUND;
}

int
rmq_rpc_connect(rmq_rpc *r, const char *addr, int timeout_ms)
{
    struct addrinfo *ai = NULL;
    struct pollfd    pf;
    int              one = 1, err = 0;
    socklen_t        el = sizeof(err);
    int              rc;

    memset(r, 0, sizeof(*r));
    r->fd = -1;
    r->timeout_ms = timeout_ms;
    r->next_opaque = 1;
    rmq_buf_init(&r->in);
    rmq_buf_init(&r->out);
    rmq_rcmd_init(&r->resp);
    rmq_strlcpy(r->addr, addr, sizeof(r->addr));
    if ((rc = rpc_resolve(addr, &ai)) != 0) {
        return rc;
    }
    r->fd =
        socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (r->fd < 0 || (connect(r->fd, ai->ai_addr, ai->ai_addrlen) != 0 &&
                      errno != EINPROGRESS)) {
        freeaddrinfo(ai);
        return RMQ_ERR_CLOSED;
    }
    freeaddrinfo(ai);
    pf = (struct pollfd){.fd = r->fd, .events = POLLOUT};
    if (poll(&pf, 1, timeout_ms) != 1 ||
        getsockopt(r->fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0 || err != 0) {
        return err == 0 ? RMQ_ERR_TIMEOUT : RMQ_ERR_CLOSED;
    }
    setsockopt(r->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return 0;
}

void
rmq_rpc_close(rmq_rpc *r)
{
    if (r->fd >= 0) {
        close(r->fd);
    }
    r->fd = -1;
    rmq_buf_free(&r->in);
    rmq_buf_free(&r->out);
    rmq_rcmd_free(&r->resp);
}

/* Wait for the socket with what is left of the deadline. */
static int
rpc_wait(int fd, short ev, int64_t deadline)
{
    struct pollfd pf = {.fd = fd, .events = ev};
    int64_t       left = deadline - rmq_mono_ms();

    if (left <= 0) {
        return RMQ_ERR_TIMEOUT;
    }
    return poll(&pf, 1, (int)left) == 1 ? 0 : RMQ_ERR_TIMEOUT;
}

static int
rpc_write_all(rmq_rpc *r, const uint8_t *p, size_t len, int64_t deadline)
{
    while (len > 0) {
        ssize_t w = send(r->fd, p, len, MSG_NOSIGNAL);
        if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
            if (rpc_wait(r->fd, POLLOUT, deadline) != 0) {
                return RMQ_ERR_TIMEOUT;
            }
            continue;
        }
        if (w <= 0) {
            return RMQ_ERR_CLOSED;
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

int
rmq_rpc_write_raw(rmq_rpc *r, const void *data, size_t len)
{
    return rpc_write_all(r, data, len, rmq_mono_ms() + r->timeout_ms);
}

static int
rpc_send(rmq_rpc *r, rmq_rcmd_out *req, const void *body, uint32_t len)
{
    int rc;

    req->opaque = r->next_opaque++;
    rmq_buf_reset(&r->out);
    rc = rmq_rcmd_encode(req, len, &r->out);
    if (rc == 0 && len > 0) {
        rmq_buf_append(&r->out, body, len);
    }
    if (rc != 0 || r->out.oom) {
        return rc ? rc : RMQ_ERR_NOMEM;
    }
    return rmq_rpc_write_raw(r, r->out.data, r->out.len);
}

int
rmq_rpc_oneway(rmq_rpc *r, rmq_rcmd_out *req, const void *body,
               uint32_t body_len)
{
    req->flag |= RMQ_RFLAG_ONEWAY;
    return rpc_send(r, req, body, body_len);
}

/* Read until one whole frame is at the front of r->in. */
static int
rpc_read_frame(rmq_rpc *r, size_t *frame_len, int64_t deadline)
{
    for (;;) {
        int rc =
            rmq_frame_peek(r->in.data, r->in.len, RMQ_FRAME_MAX, frame_len);
        ssize_t n;

        if (rc != RMQ_ERR_AGAIN) {
            return rc;
        }
        if (rmq_buf_reserve(&r->in, 65536) != 0) {
            return RMQ_ERR_NOMEM;
        }
        n = recv(r->fd, r->in.data + r->in.len, r->in.cap - r->in.len - 1, 0);
        if (n == 0) {
            return RMQ_ERR_CLOSED;
        }
        if (n < 0) {
            if (errno != EAGAIN && errno != EINTR) {
                return RMQ_ERR_CLOSED;
            }
            if (rpc_wait(r->fd, POLLIN, deadline) != 0) {
                return RMQ_ERR_TIMEOUT;
            }
            continue;
        }
        r->in.len += (size_t)n;
    }
}

int
rmq_rpc_call(rmq_rpc *r, rmq_rcmd_out *req, const void *body, uint32_t body_len,
             const rmq_rcmd **resp)
{
    int64_t deadline = rmq_mono_ms() + r->timeout_ms;
    int     rc;

    rmq_buf_consume(&r->in, r->resp_len); /* the previous response */
    r->resp_len = 0;
    req->flag &= ~RMQ_RFLAG_ONEWAY;
    rc = rpc_send(r, req, body, body_len);
    while (rc == 0) {
        size_t len;
        rc = rpc_read_frame(r, &len, deadline);
        if (rc == 0) {
            rc = rmq_rcmd_decode(r->in.data, len, &r->resp);
        }
        if (rc != 0) {
            break;
        }
        if ((r->resp.flag & RMQ_RFLAG_RESPONSE) &&
            r->resp.opaque == req->opaque) {
            r->resp_len = len; /* the body points into r->in: keep it */
            *resp = &r->resp;
            return 0;
        }
        rmq_buf_consume(&r->in, len); /* a server request or a late answer */
    }
    return rc;
}
