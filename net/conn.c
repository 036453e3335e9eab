/*
 * conn.c - remoting connections (conn.h).
 */
#include "net/conn.h"

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CONN_READ_CHUNK (64 * 1024)
#define CONN_READ_BUDGET (512 * 1024) /* per connection per iteration */
#define CONN_IOV_MAX 64
#define CONN_OUT_HIGH (32u * 1024 * 1024)

static void conn_io(rmq_loop *loop, rmq_io *io, uint32_t events);

/* Deferred after each iteration: free the connections closed in it. */
static void
conns_reap(rmq_loop *loop, rmq_io *io, uint32_t events)
{
    rmq_conns *s = io->arg;

    while (s->dead != NULL) {
        rmq_conn *c = s->dead;
        s->dead = c->dead_next;
        rmq_buf_free(&c->in);
        rmq_buf_free(&c->out_buf);
        free(c->segs);
        free(c);
    }
}

int
rmq_conns_init(rmq_conns *s, rmq_loop *loop, const rmq_conn_ops *ops,
               void *user)
{
    memset(s, 0, sizeof(*s));
    s->loop = loop;
    s->ops = *ops;
    s->user = user;
    s->max_frame = RMQ_FRAME_MAX;
    s->out_high_water = CONN_OUT_HIGH;
    s->reaper.fd = -1;
    s->reaper.fn = conns_reap;
    s->reaper.arg = s;
    rmq_rcmd_init(&s->cmd);
    return 0;
}

void
rmq_conns_fini(rmq_conns *s)
{
    for (uint32_t i = 0; i < s->nslots; i++) {
        if (s->slots[i] != NULL) {
            rmq_conn_close(s->slots[i], "shutting down");
        }
    }
    rmq_loop_undefer(s->loop, &s->reaper);
    conns_reap(s->loop, &s->reaper, 0);
    free(s->slots);
    free(s->gens);
    free(s->free_list);
    rmq_rcmd_free(&s->cmd);
    memset(s, 0, sizeof(*s));
}

static int
conns_grow(rmq_conns *s)
{
    uint32_t   n = s->nslots ? s->nslots * 2 : 64;
    rmq_conn **slots = realloc(s->slots, n * sizeof(*slots));
    uint32_t  *gens, *fl;

    if (slots == NULL) {
        return RMQ_ERR_NOMEM;
    }
    s->slots = slots;
    gens = realloc(s->gens, n * sizeof(*gens));
    if (gens == NULL) {
        return RMQ_ERR_NOMEM;
    }
    s->gens = gens;
    fl = realloc(s->free_list, n * sizeof(*fl));
    if (fl == NULL) {
        return RMQ_ERR_NOMEM;
    }
    s->free_list = fl;
    for (uint32_t i = s->nslots; i < n; i++) {
        s->slots[i] = NULL;
        s->gens[i] = 1;
        s->free_list[s->nfree++] = n - 1 - (i - s->nslots);
    }
    s->nslots = n;
    return 0;
}

static void
conn_peer_describe(rmq_conn *c)
{
    char host[INET6_ADDRSTRLEN] = "?";

    if (c->peer.ss_family == AF_INET) {
        struct sockaddr_in *a = (struct sockaddr_in *)&c->peer;
        memcpy(c->peer_ip, &a->sin_addr, 4);
        c->peer_ip_len = 4;
        c->peer_port = ntohs(a->sin_port);
    } else if (c->peer.ss_family == AF_INET6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&c->peer;
        /* IPv4-mapped peers are IPv4 to the protocol (spec 6.5) */
        if (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr)) {
            memcpy(c->peer_ip, &a->sin6_addr.s6_addr[12], 4);
            c->peer_ip_len = 4;
        } else {
            memcpy(c->peer_ip, &a->sin6_addr, 16);
            c->peer_ip_len = 16;
        }
        c->peer_port = ntohs(a->sin6_port);
    }
    if (c->peer_ip_len > 0) {
        inet_ntop(c->peer_ip_len == 4 ? AF_INET : AF_INET6, c->peer_ip, host,
                  sizeof(host));
    }
    snprintf(c->peer_str, sizeof(c->peer_str), "%s:%d", host, c->peer_port);
}

static rmq_conn *
conns_add(rmq_conns *s, int fd, bool outbound)
{
    rmq_conn *c;
    uint32_t  slot;

    if (s->nfree == 0 && conns_grow(s) != 0) {
        return NULL;
    }
    c = calloc(1, sizeof(*c));
    if (c == NULL) {
        return NULL;
    }
    slot = s->free_list[--s->nfree];
    s->slots[slot] = c;
    c->id = ((uint64_t)s->gens[slot] << 32) | slot;
    c->set = s;
    c->outbound = outbound;
    c->last_active_ms = rmq_mono_ms();
    rmq_buf_init(&c->in);
    rmq_buf_init(&c->out_buf);
    if (rmq_loop_add(s->loop, &c->io, fd, outbound ? EPOLLOUT : EPOLLIN,
                     conn_io, c) != 0) {
        s->slots[slot] = NULL;
        s->free_list[s->nfree++] = slot;
        free(c);
        return NULL;
    }
    s->live++;
    return c;
}

rmq_conn *
rmq_conns_get(rmq_conns *s, uint64_t id)
{
    uint32_t  slot = (uint32_t)id;
    rmq_conn *c;

    if (slot >= s->nslots) {
        return NULL;
    }
    c = s->slots[slot];
    return (c != NULL && c->id == id && !c->closed) ? c : NULL;
}

void
rmq_conn_close(rmq_conn *c, const char *why)
{
    rmq_conns *s = c->set;
    uint32_t   slot = (uint32_t)c->id;

    if (c->closed) {
        return;
    }
    c->closed = true;
    rmq_log(RMQ_LOG_DEBUG, "conn.close", "closing %s: %s", c->peer_str, why);
    rmq_loop_del(s->loop, &c->io);
    close(c->io.fd);
    c->io.fd = -1;
    if (s->ops.on_close != NULL) {
        s->ops.on_close(c, s->user);
    }
    s->slots[slot] = NULL;
    s->gens[slot]++;
    s->free_list[s->nfree++] = slot;
    s->live--;
    c->dead_next = s->dead;
    s->dead = c;
    rmq_loop_defer(s->loop, &s->reaper);
}

static void
conn_update_events(rmq_conn *c)
{
    uint32_t ev = 0;

    if (c->connecting) {
        ev = EPOLLOUT;
    } else {
        if (!c->read_paused) {
            ev |= EPOLLIN;
        }
        if (c->out_pending > 0) {
            ev |= EPOLLOUT;
        }
    }
    rmq_loop_mod(c->set->loop, &c->io, ev);
}

/* Write as much queued output as the socket takes. */
static int
conn_flush(rmq_conn *c)
{
    while (c->seg_head < c->nsegs) {
        struct iovec iov[CONN_IOV_MAX];
        int          n = 0;
        ssize_t      w;

        for (uint32_t i = c->seg_head; i < c->nsegs && n < CONN_IOV_MAX; i++) {
            const rmq_outseg *sg = &c->segs[i];
            const uint8_t *base = sg->ptr ? sg->ptr : c->out_buf.data + sg->off;
            size_t         skip = i == c->seg_head ? c->seg_head_done : 0;
            iov[n].iov_base = (void *)(base + skip);
            iov[n].iov_len = sg->len - skip;
            n++;
        }
        /* sendmsg with MSG_NOSIGNAL: a closed peer must not raise SIGPIPE
         * in a program that links librmq and handles no signals */
        struct msghdr mh = {.msg_iov = iov, .msg_iovlen = (size_t)n};
        w = sendmsg(c->io.fd, &mh, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EAGAIN || errno == EINTR) {
                break;
            }
            return RMQ_ERR_CLOSED;
        }
        c->out_pending -= (size_t)w;
        while (w > 0) {
            rmq_outseg *sg = &c->segs[c->seg_head];
            size_t      left = sg->len - c->seg_head_done;
            if ((size_t)w < left) {
                c->seg_head_done += (size_t)w;
                break;
            }
            w -= (ssize_t)left;
            c->seg_head++;
            c->seg_head_done = 0;
        }
    }
    if (c->seg_head == c->nsegs) {
        c->seg_head = c->nsegs = 0;
        c->seg_head_done = 0;
        rmq_buf_reset(&c->out_buf);
    }
    if (c->read_paused && c->out_pending < c->set->out_high_water / 2) {
        c->read_paused = false;
    }
    conn_update_events(c);
    return 0;
}

static void
conn_process_input(rmq_conn *c)
{
    rmq_conns *s = c->set;
    size_t     off = 0;

    while (!c->closed && !c->read_paused) {
        size_t frame_len;
        int rc = rmq_frame_peek(c->in.data + off, c->in.len - off, s->max_frame,
                                &frame_len);
        if (rc == RMQ_ERR_AGAIN) {
            break;
        }
        if (rc == 0) {
            rc = rmq_rcmd_decode(c->in.data + off, frame_len, &s->cmd);
        }
        if (rc != 0) {
            rmq_log(RMQ_LOG_WARN, "conn.frame",
                    "malformed frame from %s (%s): closing the connection",
                    c->peer_str, rmq_strerror(rc));
            rmq_conn_close(c, "malformed frame");
            return;
        }
        off += frame_len;
        s->ops.on_cmd(c, &s->cmd, s->user);
    }
    if (!c->closed) {
        rmq_buf_consume(&c->in, off);
        if (c->in.len == 0 && c->in.cap > (1u << 20)) {
            rmq_buf_free(&c->in); /* give back the room a big frame took */
        }
    }
}

static void
conn_read(rmq_conn *c)
{
    size_t budget = CONN_READ_BUDGET;

    while (budget > 0 && !c->closed && !c->read_paused) {
        uint8_t *p;
        ssize_t  r;

        if (rmq_buf_reserve(&c->in, CONN_READ_CHUNK) != 0) {
            rmq_conn_close(c, "out of memory");
            return;
        }
        p = c->in.data + c->in.len;
        r = read(c->io.fd, p, c->in.cap - c->in.len - 1);
        if (r == 0) {
            rmq_conn_close(c, "peer closed");
            return;
        }
        if (r < 0) {
            if (errno != EAGAIN && errno != EINTR) {
                rmq_conn_close(c, strerror(errno));
            }
            break;
        }
        c->in.len += (size_t)r;
        budget -= RMQ_MIN((size_t)r, budget);
        c->last_active_ms = rmq_mono_ms();
        conn_process_input(c);
        if ((size_t)r < CONN_READ_CHUNK) {
            break;
        }
    }
}

static void
conn_finish_connect(rmq_conn *c)
{
    int       err = 0;
    socklen_t len = sizeof(err);

    getsockopt(c->io.fd, SOL_SOCKET, SO_ERROR, &err, &len);
    c->connecting = false;
    if (err != 0) {
        if (c->set->ops.on_connect != NULL) {
            c->set->ops.on_connect(c, false, c->set->user);
        }
        rmq_conn_close(c, strerror(err));
        return;
    }
    conn_update_events(c);
    if (c->set->ops.on_connect != NULL) {
        c->set->ops.on_connect(c, true, c->set->user);
    }
}

static void
conn_io(rmq_loop *loop, rmq_io *io, uint32_t events)
{
    rmq_conn *c = io->arg;

    if (c->closed) {
        return;
    }
    if (c->connecting) {
        if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) {
            conn_finish_connect(c);
        }
        return;
    }
    if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
        conn_read(c);
    }
    /* events == 0: a deferred flush at the end of the iteration */
    if (!c->closed && (events == 0 || (events & EPOLLOUT)) &&
        c->out_pending > 0 && conn_flush(c) != 0) {
        rmq_conn_close(c, "write failed");
    }
}

static int
conn_push_seg(rmq_conn *c, const uint8_t *ptr, size_t off, size_t len)
{
    if (len == 0) {
        return 0;
    }
    if (c->nsegs == c->segs_cap) {
        uint32_t    cap = c->segs_cap ? c->segs_cap * 2 : 8;
        rmq_outseg *p = realloc(c->segs, cap * sizeof(*p));
        if (p == NULL) {
            return RMQ_ERR_NOMEM;
        }
        c->segs = p;
        c->segs_cap = cap;
    }
    /* merge with the previous piece of out_buf when contiguous */
    if (ptr == NULL && c->nsegs > c->seg_head) {
        rmq_outseg *prev = &c->segs[c->nsegs - 1];
        if (prev->ptr == NULL && prev->off + prev->len == off) {
            prev->len += len;
            c->out_pending += len;
            return 0;
        }
    }
    c->segs[c->nsegs++] = (rmq_outseg){.ptr = ptr, .off = off, .len = len};
    c->out_pending += len;
    return 0;
}

static int
conn_queue(rmq_conn *c, const rmq_rcmd_out *o, const void *body,
           uint32_t body_len, const struct iovec *iov, int niov)
{
    size_t   start = c->out_buf.len;
    uint32_t total = body_len;
    int      rc;

    if (c->closed) {
        return RMQ_ERR_CLOSED;
    }
    for (int i = 0; i < niov; i++) {
        total += (uint32_t)iov[i].iov_len;
    }
    rc = rmq_rcmd_encode(o, total, &c->out_buf);
    if (rc == 0 && body_len > 0) {
        rmq_buf_append(&c->out_buf, body, body_len);
        rc = c->out_buf.oom ? RMQ_ERR_NOMEM : 0;
    }
    if (rc != 0) {
        c->out_buf.len = start;
        return rc;
    }
    rc = conn_push_seg(c, NULL, start, c->out_buf.len - start);
    for (int i = 0; rc == 0 && i < niov; i++) {
        rc = conn_push_seg(c, iov[i].iov_base, 0, iov[i].iov_len);
    }
    if (rc != 0) {
        rmq_conn_close(c, "out of memory");
        return rc;
    }
    if (c->out_pending > c->set->out_high_water && !c->read_paused) {
        c->read_paused = true; /* the peer does not read: stop reading it */
        conn_update_events(c);
    }
    rmq_loop_defer(c->set->loop, &c->io);
    return 0;
}

int
rmq_conn_send(rmq_conn *c, const rmq_rcmd_out *o, const void *body,
              uint32_t body_len)
{
    return conn_queue(c, o, body, body_len, NULL, 0);
}

int
rmq_conn_sendv(rmq_conn *c, const rmq_rcmd_out *o, const struct iovec *iov,
               int niov)
{
    return conn_queue(c, o, NULL, 0, iov, niov);
}

static void
conns_set_sockopts(int fd)
{
    int one = 1;

    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static void
conns_accept(rmq_loop *loop, rmq_io *lio, uint32_t events)
{
    rmq_conns *s = lio->arg;

    for (int i = 0; i < 64; i++) {
        struct sockaddr_storage ss;
        socklen_t               sl = sizeof(ss);
        int       fd = accept4(lio->fd, (struct sockaddr *)&ss, &sl,
                               SOCK_NONBLOCK | SOCK_CLOEXEC);
        rmq_conn *c;

        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE) {
                rmq_log_sys(RMQ_LOG_WARN, "conn.accept", errno,
                            "could not accept a connection");
            }
            return;
        }
        conns_set_sockopts(fd);
        c = conns_add(s, fd, false);
        if (c == NULL) {
            close(fd);
            continue;
        }
        c->peer = ss;
        conn_peer_describe(c);
    }
}

int
rmq_conns_listen(rmq_conns *s, rmq_io *lio, const char *host, int port)
{
    struct sockaddr_in6 a6;
    int                 fd, one = 1, zero = 0;

    fd = socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return RMQ_ERR_SYS;
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
    memset(&a6, 0, sizeof(a6));
    a6.sin6_family = AF_INET6;
    a6.sin6_port = htons((uint16_t)port);
    a6.sin6_addr = in6addr_any;
    if (host != NULL && host[0] != '\0') {
        struct in_addr v4;
        if (inet_pton(AF_INET, host, &v4) == 1) {
            /* an IPv4 address as an IPv4-mapped IPv6 one */
            memset(&a6.sin6_addr, 0, sizeof(a6.sin6_addr));
            a6.sin6_addr.s6_addr[10] = 0xff;
            a6.sin6_addr.s6_addr[11] = 0xff;
            memcpy(&a6.sin6_addr.s6_addr[12], &v4, 4);
        } else if (inet_pton(AF_INET6, host, &a6.sin6_addr) != 1) {
            close(fd);
            return RMQ_ERR_INVAL;
        }
    }
    if (bind(fd, (struct sockaddr *)&a6, sizeof(a6)) != 0 ||
        listen(fd, 4096) != 0) {
        rmq_log_sys(RMQ_LOG_ERR, "conn.listen", errno,
                    "cannot listen on port %d", port);
        close(fd);
        return RMQ_ERR_SYS;
    }
    if (rmq_loop_add(s->loop, lio, fd, EPOLLIN, conns_accept, s) != 0) {
        close(fd);
        return RMQ_ERR_SYS;
    }
    return 0;
}

void
rmq_conns_unlisten(rmq_conns *s, rmq_io *lio)
{
    if (lio->fd >= 0) {
        rmq_loop_del(s->loop, lio);
        close(lio->fd);
        lio->fd = -1;
    }
}

static int
conns_resolve(const char *addr, struct sockaddr_storage *ss, socklen_t *sl)
{
    char            host[256];
    const char     *colon = strrchr(addr, ':');
    struct addrinfo hints, *res = NULL;
    size_t          hl;

    if (colon == NULL || colon == addr) {
        return RMQ_ERR_INVAL;
    }
    hl = (size_t)(colon - addr);
    if (hl >= sizeof(host)) {
        return RMQ_ERR_INVAL;
    }
    memcpy(host, addr, hl);
    host[hl] = '\0';
    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    if (getaddrinfo(host, colon + 1, &hints, &res) != 0 || res == NULL) {
        return RMQ_ERR_NOTFOUND;
    }
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *sl = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

rmq_conn *
rmq_conns_connect(rmq_conns *s, const char *addr)
{
    struct sockaddr_storage ss;
    socklen_t               sl;
    rmq_conn               *c;
    int                     fd;

    if (conns_resolve(addr, &ss, &sl) != 0) {
        return NULL;
    }
    fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return NULL;
    }
    conns_set_sockopts(fd);
    if (connect(fd, (struct sockaddr *)&ss, sl) != 0 && errno != EINPROGRESS) {
        close(fd);
        return NULL;
    }
    c = conns_add(s, fd, true);
    if (c == NULL) {
        close(fd);
        return NULL;
    }
    c->connecting = true;
    c->peer = ss;
    conn_peer_describe(c);
    return c;
}

void
rmq_conns_sweep_idle(rmq_conns *s, int64_t now_ms, int64_t idle_ms)
{
    for (uint32_t i = 0; i < s->nslots; i++) {
        rmq_conn *c = s->slots[i];
        if (c != NULL && !c->closed && now_ms - c->last_active_ms > idle_ms) {
            rmq_conn_close(c, "idle");
        }
    }
}
