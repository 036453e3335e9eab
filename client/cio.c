/*
 * cio.c - the I/O thread of a librmq instance (cio.h).
 *
 * The thread starts in rmq_cio_start and runs until rmq_cio_stop; it owns
 * the loop, the connections, the pending-request table and the timers.
 * The only data shared with other threads is the posted-task queue and
 * the closed flag, guarded by io->mu.  A crash here is a bug: there is no
 * recovery beyond the process.
 */
#include "client/cio.h"

#include "common/err.h"
#include "common/log.h"
#include "common/u64map.h"
#include "common/util.h"
#include "net/conn.h"
#include "net/loop.h"
#include "proto/codes.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define CIO_SWEEP_MS 100 /* request deadline resolution */
#define CIO_IDLE_WAKE_MS 1000
#define CIO_DRAIN_MS 1000 /* writing queued output at stop */
#define CIO_TIMERS_PER_RUN 1024

typedef struct cio_req {
    uint64_t        conn_id;
    int64_t         deadline_ms; /* monotonic */
    rmq_cio_done_fn fn;
    void           *arg;
} cio_req;

/* A completion to run on the next pass (never inside the caller). */
typedef struct cio_failed {
    rmq_cio_done_fn    fn;
    void              *arg;
    int                rc;
    struct cio_failed *next;
} cio_failed;

typedef struct cio_task {
    rmq_cio_task_fn  fn;
    void            *arg;
    struct cio_task *next;
} cio_task;

typedef struct cio_timer {
    uint64_t        id;
    int64_t         due_ms;
    int64_t         interval_ms; /* 0: one-shot */
    rmq_cio_task_fn fn;
    void           *arg;
} cio_timer;

typedef struct cio_peer {
    char    *addr;
    uint64_t conn_id; /* 0: none open */
} cio_peer;

struct rmq_cio {
    rmq_clog          log;
    rmq_loop          loop;
    rmq_conns         conns;
    rmq_io            wake_io;
    int               wake_fd;
    pthread_t         thread;
    bool              started;
    bool              joined;
    atomic_bool       stop_requested;
    bool              stopping; /* I/O thread: no new requests */
    pthread_mutex_t   mu;       /* guards post_* and closed */
    cio_task         *post_head, *post_tail;
    bool              closed;  /* posts refused */
    rmq_u64map        pending; /* opaque -> cio_req */
    int32_t           next_opaque;
    cio_failed       *fail_head, *fail_tail;
    cio_timer        *timers;
    size_t            ntimers, timers_cap;
    uint64_t          next_timer_id;
    cio_peer         *peers;
    size_t            npeers, peers_cap;
    int64_t           next_sweep_ms;
    rmq_cio_server_fn server_fn;
    void             *server_arg;
};

/* ---- completions that run later ---------------------------------------- */

static void
cio_fail_later(rmq_cio *io, rmq_cio_done_fn fn, void *arg, int rc)
{
    cio_failed *f = malloc(sizeof(*f));

    /* Out of memory here would lose a completion: that is a hang for the
     * caller, so treat it as fatal rather than silent. */
    RMQ_ASSERT(f != NULL);
    f->fn = fn;
    f->arg = arg;
    f->rc = rc;
    f->next = NULL;
    if (io->fail_tail != NULL) {
        io->fail_tail->next = f;
    } else {
        io->fail_head = f;
    }
    io->fail_tail = f;
}

static void
cio_run_failed(rmq_cio *io)
{
    while (io->fail_head != NULL) {
        cio_failed *f = io->fail_head;

        io->fail_head = f->next;
        if (io->fail_head == NULL) {
            io->fail_tail = NULL;
        }
        f->fn(io, f->rc, NULL, f->arg);
        free(f);
    }
}

/* Fail every pending request (of one connection, or all when conn_id 0). */
static void
cio_fail_pending(rmq_cio *io, uint64_t conn_id, int rc)
{
    size_t    pos = 0, n = 0;
    uint64_t  key;
    void     *val;
    uint64_t *keys;

    if (io->pending.n == 0) {
        return;
    }
    keys = malloc(io->pending.n * sizeof(*keys));
    RMQ_ASSERT(keys != NULL);
    while ((key = rmq_u64map_next(&io->pending, &pos, &val)) != 0) {
        cio_req *r = val;
        if (conn_id == 0 || r->conn_id == conn_id) {
            keys[n++] = key;
        }
    }
    for (size_t i = 0; i < n; i++) {
        cio_req *r = rmq_u64map_del(&io->pending, keys[i]);
        cio_fail_later(io, r->fn, r->arg, rc);
        free(r);
    }
    free(keys);
}

static void
cio_sweep(rmq_cio *io, int64_t now)
{
    size_t    pos = 0, n = 0;
    uint64_t  key;
    void     *val;
    uint64_t *keys;

    io->next_sweep_ms = now + CIO_SWEEP_MS;
    if (io->pending.n == 0) {
        return;
    }
    keys = malloc(io->pending.n * sizeof(*keys));
    RMQ_ASSERT(keys != NULL);
    while ((key = rmq_u64map_next(&io->pending, &pos, &val)) != 0) {
        if (((cio_req *)val)->deadline_ms <= now) {
            keys[n++] = key;
        }
    }
    for (size_t i = 0; i < n; i++) {
        cio_req *r = rmq_u64map_del(&io->pending, keys[i]);
        cio_fail_later(io, r->fn, r->arg, RMQ_CLIENT_ERR_TIMEOUT);
        free(r);
    }
    free(keys);
}

/* ---- connections ------------------------------------------------------- */

static void
cio_on_close(rmq_conn *c, void *user)
{
    rmq_cio *io = user;

    for (size_t i = 0; i < io->npeers; i++) {
        if (io->peers[i].conn_id == c->id) {
            io->peers[i].conn_id = 0;
            rmq_clog(&io->log, RMQ_CLIENT_LOG_DEBUG, "cio.close",
                     "connection to %s closed", io->peers[i].addr);
        }
    }
    cio_fail_pending(io, c->id, RMQ_CLIENT_ERR_CONNECT);
}

static void
cio_on_connect(rmq_conn *c, bool ok, void *user)
{
    rmq_cio *io = user;

    if (!ok) {
        rmq_clog(&io->log, RMQ_CLIENT_LOG_INFO, "cio.connect",
                 "could not connect to %s", c->peer_str);
    }
}

static void
cio_reply(rmq_conn *c, const rmq_rcmd *req, int code)
{
    rmq_rcmd_out o;

    rmq_rcmd_out_init(&o, code, req->opaque, RMQ_RFLAG_RESPONSE);
    rmq_conn_send(c, &o, NULL, 0);
}

static void
cio_on_cmd(rmq_conn *c, rmq_rcmd *cmd, void *user)
{
    rmq_cio *io = user;
    cio_req *r;
    int      code = RMQ_RESP_REQUEST_CODE_NOT_SUPPORTED;

    if ((cmd->flag & RMQ_RFLAG_RESPONSE) == 0) {
        if (io->server_fn != NULL) {
            code = io->server_fn(io, cmd, c->peer_str, io->server_arg);
        }
        if ((cmd->flag & RMQ_RFLAG_ONEWAY) == 0) {
            cio_reply(c, cmd, code);
        }
        return;
    }
    r = rmq_u64map_del(&io->pending, (uint32_t)cmd->opaque);
    if (r == NULL) {
        return; /* answered after its deadline: dropped */
    }
    r->fn(io, 0, cmd, r->arg);
    free(r);
}

static cio_peer *
cio_peer_find(rmq_cio *io, const char *addr)
{
    cio_peer *p;

    for (size_t i = 0; i < io->npeers; i++) {
        if (strcmp(io->peers[i].addr, addr) == 0) {
            return &io->peers[i];
        }
    }
    if (io->npeers == io->peers_cap) {
        size_t cap = io->peers_cap ? io->peers_cap * 2 : 8;
        p = realloc(io->peers, cap * sizeof(*p));
        if (p == NULL) {
            return NULL;
        }
        io->peers = p;
        io->peers_cap = cap;
    }
    p = &io->peers[io->npeers];
    p->addr = strdup(addr);
    p->conn_id = 0;
    if (p->addr == NULL) {
        return NULL;
    }
    io->npeers++;
    return p;
}

/* The open connection to addr, opening one when there is none. */
static rmq_conn *
cio_conn(rmq_cio *io, const char *addr)
{
    cio_peer *p = cio_peer_find(io, addr);
    rmq_conn *c;

    if (p == NULL) {
        return NULL;
    }
    if (p->conn_id != 0) {
        c = rmq_conns_get(&io->conns, p->conn_id);
        if (c != NULL) {
            return c;
        }
    }
    c = rmq_conns_connect(&io->conns, addr);
    if (c == NULL) {
        rmq_clog(&io->log, RMQ_CLIENT_LOG_INFO, "cio.connect",
                 "could not connect to %s", addr);
        p->conn_id = 0;
        return NULL;
    }
    p->conn_id = c->id;
    return c;
}

static int32_t
cio_opaque(rmq_cio *io)
{
    if (io->next_opaque <= 0 || io->next_opaque == INT32_MAX) {
        io->next_opaque = 1;
    }
    return io->next_opaque++;
}

void
rmq_cio_call(rmq_cio *io, const char *addr, rmq_rcmd_out *o, const void *body,
             uint32_t body_len, int timeout_ms, rmq_cio_done_fn fn, void *arg)
{
    rmq_conn *c;
    cio_req  *r;
    uint64_t  key;
    int       rc;

    if (io->stopping) {
        cio_fail_later(io, fn, arg, RMQ_CLIENT_ERR_CLOSED);
        return;
    }
    c = cio_conn(io, addr);
    r = malloc(sizeof(*r));
    if (c == NULL || r == NULL) {
        free(r);
        cio_fail_later(io, fn, arg,
                       c == NULL ? RMQ_CLIENT_ERR_CONNECT
                                 : RMQ_CLIENT_ERR_NOMEM);
        return;
    }
    o->opaque = cio_opaque(io);
    o->flag = 0;
    key = (uint32_t)o->opaque;
    r->conn_id = c->id;
    r->deadline_ms = rmq_mono_ms() + (timeout_ms > 0 ? timeout_ms : 1);
    r->fn = fn;
    r->arg = arg;
    if (rmq_u64map_put(&io->pending, key, r) != 0) {
        free(r);
        cio_fail_later(io, fn, arg, RMQ_CLIENT_ERR_NOMEM);
        return;
    }
    rc = rmq_conn_send(c, o, body, body_len);
    /* a send that closed the connection already failed r via on_close */
    if (rc != 0 && rmq_u64map_del(&io->pending, key) != NULL) {
        free(r);
        cio_fail_later(io, fn, arg,
                       rc == RMQ_ERR_CLOSED ? RMQ_CLIENT_ERR_CONNECT
                                            : rmq_cerr_from_rmq(rc));
    }
}

int
rmq_cio_oneway(rmq_cio *io, const char *addr, rmq_rcmd_out *o, const void *body,
               uint32_t body_len)
{
    rmq_conn *c;
    int       rc;

    if (io->stopping) {
        return RMQ_CLIENT_ERR_CLOSED;
    }
    c = cio_conn(io, addr);
    if (c == NULL) {
        return RMQ_CLIENT_ERR_CONNECT;
    }
    o->opaque = cio_opaque(io);
    o->flag = RMQ_RFLAG_ONEWAY;
    rc = rmq_conn_send(c, o, body, body_len);
    if (rc != 0) {
        return rc == RMQ_ERR_CLOSED ? RMQ_CLIENT_ERR_CONNECT
                                    : rmq_cerr_from_rmq(rc);
    }
    return 0;
}

/* ---- timers ------------------------------------------------------------ */

static uint64_t
cio_timer_add(rmq_cio *io, int64_t delay_ms, int64_t interval_ms,
              rmq_cio_task_fn fn, void *arg)
{
    cio_timer *t;

    if (io->ntimers == io->timers_cap) {
        size_t cap = io->timers_cap ? io->timers_cap * 2 : 16;
        t = realloc(io->timers, cap * sizeof(*t));
        RMQ_ASSERT(t != NULL); /* a lost timer would stall the client */
        io->timers = t;
        io->timers_cap = cap;
    }
    t = &io->timers[io->ntimers++];
    t->id = ++io->next_timer_id;
    t->due_ms = rmq_mono_ms() + (delay_ms > 0 ? delay_ms : 0);
    t->interval_ms = interval_ms;
    t->fn = fn;
    t->arg = arg;
    return t->id;
}

uint64_t
rmq_cio_after(rmq_cio *io, int64_t delay_ms, rmq_cio_task_fn fn, void *arg)
{
    return cio_timer_add(io, delay_ms, 0, fn, arg);
}

uint64_t
rmq_cio_every(rmq_cio *io, int64_t interval_ms, rmq_cio_task_fn fn, void *arg)
{
    return cio_timer_add(io, interval_ms, interval_ms > 0 ? interval_ms : 1, fn,
                         arg);
}

void
rmq_cio_cancel(rmq_cio *io, uint64_t timer_id)
{
    for (size_t i = 0; i < io->ntimers; i++) {
        if (io->timers[i].id == timer_id) {
            io->timers[i] = io->timers[--io->ntimers];
            return;
        }
    }
}

/* Run due timers, earliest first; fn may add or cancel timers. */
static void
cio_run_timers(rmq_cio *io, int64_t now)
{
    for (int n = 0; n < CIO_TIMERS_PER_RUN; n++) {
        size_t          best = SIZE_MAX;
        rmq_cio_task_fn fn;
        void           *arg;

        for (size_t i = 0; i < io->ntimers; i++) {
            if (io->timers[i].due_ms <= now &&
                (best == SIZE_MAX ||
                 io->timers[i].due_ms < io->timers[best].due_ms)) {
                best = i;
            }
        }
        if (best == SIZE_MAX) {
            return;
        }
        fn = io->timers[best].fn;
        arg = io->timers[best].arg;
        if (io->timers[best].interval_ms > 0) {
            io->timers[best].due_ms = now + io->timers[best].interval_ms;
        } else {
            io->timers[best] = io->timers[--io->ntimers];
        }
        fn(io, arg);
    }
}

/* ---- posted tasks ------------------------------------------------------ */

static void
cio_wake(rmq_cio *io)
{
    uint64_t one = 1;
    ssize_t  w = write(io->wake_fd, &one, sizeof(one));

    (void)w; /* EAGAIN: the counter is already non-zero, the loop wakes */
}

static void
cio_wake_cb(rmq_loop *loop, rmq_io *wio, uint32_t events)
{
    uint64_t v;
    ssize_t  r = read(wio->fd, &v, sizeof(v));

    (void)r;
}

int
rmq_cio_post(rmq_cio *io, rmq_cio_task_fn fn, void *arg)
{
    cio_task *t = malloc(sizeof(*t));

    if (t == NULL) {
        return RMQ_CLIENT_ERR_NOMEM;
    }
    t->fn = fn;
    t->arg = arg;
    t->next = NULL;
    pthread_mutex_lock(&io->mu);
    if (io->closed) {
        pthread_mutex_unlock(&io->mu);
        free(t);
        return RMQ_CLIENT_ERR_CLOSED;
    }
    if (io->post_tail != NULL) {
        io->post_tail->next = t;
    } else {
        io->post_head = t;
    }
    io->post_tail = t;
    pthread_mutex_unlock(&io->mu);
    cio_wake(io);
    return 0;
}

/* Run what was posted; returns false when nothing was.  close_if_empty
 * refuses further posts once the queue is seen empty (at stop). */
static bool
cio_run_posted(rmq_cio *io, bool close_if_empty)
{
    cio_task *list;

    pthread_mutex_lock(&io->mu);
    list = io->post_head;
    io->post_head = io->post_tail = NULL;
    if (list == NULL && close_if_empty) {
        io->closed = true;
    }
    pthread_mutex_unlock(&io->mu);
    if (list == NULL) {
        return false;
    }
    while (list != NULL) {
        cio_task *t = list;
        list = t->next;
        t->fn(io, t->arg);
        free(t);
    }
    return true;
}

/* ---- the thread -------------------------------------------------------- */

static int
cio_wait_ms(rmq_cio *io, int64_t now)
{
    int64_t due = now + CIO_IDLE_WAKE_MS;

    if (io->fail_head != NULL) {
        return 0;
    }
    for (size_t i = 0; i < io->ntimers; i++) {
        due = RMQ_MIN(due, io->timers[i].due_ms);
    }
    if (io->pending.n > 0) {
        due = RMQ_MIN(due, io->next_sweep_ms);
    }
    return due <= now ? 0 : (int)(due - now);
}

static bool
cio_output_pending(rmq_cio *io)
{
    for (uint32_t i = 0; i < io->conns.nslots; i++) {
        rmq_conn *c = io->conns.slots[i];
        if (c != NULL && !c->closed && c->out_pending > 0) {
            return true;
        }
    }
    return false;
}

/* Stop: fail what is pending, run what was posted, write what is queued. */
static void
cio_finish(rmq_cio *io)
{
    int64_t until;

    io->stopping = true;
    io->ntimers = 0;
    cio_fail_pending(io, 0, RMQ_CLIENT_ERR_CLOSED);
    do {
        cio_run_failed(io);
    } while (cio_run_posted(io, true));
    cio_run_failed(io);
    until = rmq_mono_ms() + CIO_DRAIN_MS;
    while (cio_output_pending(io) && rmq_mono_ms() < until) {
        rmq_loop_run_once(&io->loop, 10);
        cio_fail_pending(io, 0, RMQ_CLIENT_ERR_CLOSED);
        cio_run_failed(io);
    }
}

static void *
cio_main(void *arg)
{
    rmq_cio *io = arg;

    while (!atomic_load(&io->stop_requested)) {
        int64_t now = rmq_mono_ms();

        if (rmq_loop_run_once(&io->loop, cio_wait_ms(io, now)) < 0) {
            rmq_clog(&io->log, RMQ_CLIENT_LOG_ERROR, "cio.loop",
                     "epoll failed: %s", strerror(errno));
            usleep(100 * 1000);
        }
        cio_run_posted(io, false);
        cio_run_failed(io);
        now = rmq_mono_ms();
        cio_run_timers(io, now);
        if (now >= io->next_sweep_ms) {
            cio_sweep(io, now);
        }
        cio_run_failed(io);
    }
    cio_finish(io);
    return NULL;
}

/* ---- life cycle -------------------------------------------------------- */

int
rmq_cio_new(const rmq_clog *log, rmq_cio **out)
{
    rmq_conn_ops ops = {.on_cmd = cio_on_cmd,
                        .on_close = cio_on_close,
                        .on_connect = cio_on_connect};
    rmq_cio     *io = calloc(1, sizeof(*io));

    if (io == NULL) {
        return RMQ_CLIENT_ERR_NOMEM;
    }
    io->log = *log;
    io->closed = true;
    io->wake_fd = -1;
    atomic_init(&io->stop_requested, false);
    pthread_mutex_init(&io->mu, NULL);
    rmq_u64map_init(&io->pending);
    if (rmq_loop_init(&io->loop) != 0) {
        io->loop.epfd = -1;
        goto fail;
    }
    rmq_conns_init(&io->conns, &io->loop, &ops, io);
    io->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (io->wake_fd < 0 || rmq_loop_add(&io->loop, &io->wake_io, io->wake_fd,
                                        EPOLLIN, cio_wake_cb, io) != 0) {
        goto fail;
    }
    *out = io;
    return 0;

fail:
    rmq_cio_free(io);
    return RMQ_CLIENT_ERR_SYS;
}

void
rmq_cio_set_server_handler(rmq_cio *io, rmq_cio_server_fn fn, void *arg)
{
    io->server_fn = fn;
    io->server_arg = arg;
}

int
rmq_cio_start(rmq_cio *io)
{
    sigset_t all, old;
    int      rc;

    if (io->started) {
        return RMQ_CLIENT_ERR_INVALID;
    }
    io->closed = false;
    io->next_sweep_ms = rmq_mono_ms() + CIO_SWEEP_MS;
    /* The thread blocks every signal: the application's handlers run on
     * its own threads, and a write to a closed socket fails with EPIPE
     * instead of killing the process with SIGPIPE (a library must not
     * change the process-wide disposition). */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    rc = pthread_create(&io->thread, NULL, cio_main, io);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        io->closed = true;
        return RMQ_CLIENT_ERR_SYS;
    }
    io->started = true;
    return 0;
}

void
rmq_cio_stop(rmq_cio *io)
{
    if (!io->started || io->joined) {
        return;
    }
    RMQ_ASSERT(!rmq_cio_on_thread(io));
    atomic_store(&io->stop_requested, true);
    cio_wake(io);
    pthread_join(io->thread, NULL);
    io->joined = true;
}

void
rmq_cio_free(rmq_cio *io)
{
    if (io == NULL) {
        return;
    }
    rmq_cio_stop(io);
    if (io->loop.epfd >= 0) {
        rmq_conns_fini(&io->conns);
        if (io->wake_fd >= 0) {
            rmq_loop_del(&io->loop, &io->wake_io);
        }
        rmq_loop_fini(&io->loop);
    }
    if (io->wake_fd >= 0) {
        close(io->wake_fd);
    }
    /* on_close above may have queued failures of never-run requests */
    cio_run_failed(io);
    while (io->post_head != NULL) {
        cio_task *t = io->post_head;
        io->post_head = t->next;
        free(t);
    }
    for (size_t i = 0; i < io->npeers; i++) {
        free(io->peers[i].addr);
    }
    free(io->peers);
    free(io->timers);
    rmq_u64map_free(&io->pending);
    pthread_mutex_destroy(&io->mu);
    free(io);
}

bool
rmq_cio_on_thread(const rmq_cio *io)
{
    return io->started && !io->joined &&
           pthread_equal(pthread_self(), io->thread);
}

bool
rmq_cio_stopping(const rmq_cio *io)
{
    return io->stopping;
}
