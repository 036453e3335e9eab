/*
 * loop.h - a small single-threaded epoll loop.  Each watched fd has an
 * rmq_io embedded in its owner; epoll hands the rmq_io back and the loop
 * calls its callback.  Level-triggered.  Used by the acceptor and namesrv
 * actors and by librmq's I/O thread; one loop per thread, no globals.
 *
 * Deferred work: rmq_loop_defer() queues an owner to be called once at the
 * end of the current iteration (after all ready fds were served), which is
 * how connections coalesce many responses into one writev.
 */
#ifndef RMQ_NET_LOOP_H
#define RMQ_NET_LOOP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/epoll.h>

typedef struct rmq_loop rmq_loop;
typedef struct rmq_io   rmq_io;

typedef void (*rmq_io_fn)(rmq_loop *loop, rmq_io *io, uint32_t events);

struct rmq_io {
    int       fd;
    uint32_t  events; /* EPOLLIN / EPOLLOUT currently watched */
    rmq_io_fn fn;
    void     *arg;
    bool      deferred;
    rmq_io   *defer_next;
};

struct rmq_loop {
    int     epfd;
    rmq_io *defer_head; /* deferred calls, in the order they were asked */
    rmq_io *defer_tail;
    bool    in_dispatch;
};

int rmq_loop_init(rmq_loop *loop);
/* A callback that does nothing: for fds that only need to wake the loop. */
void rmq_loop_noop(rmq_loop *loop, rmq_io *io, uint32_t events);
void rmq_loop_fini(rmq_loop *loop);

/* Watch io->fd for events, calling fn(loop, io, revents) when ready. */
int rmq_loop_add(rmq_loop *loop, rmq_io *io, int fd, uint32_t events,
                 rmq_io_fn fn, void *arg);
int rmq_loop_mod(rmq_loop *loop, rmq_io *io, uint32_t events);
/* Stop watching (does not close the fd); safe inside a callback. */
void rmq_loop_del(rmq_loop *loop, rmq_io *io);
/*
 * Call io->fn(loop, io, 0) once at the end of this iteration (or the next
 * one when called outside dispatch), in the order of the first request:
 * a connection asked to flush first writes first.  Idempotent until it
 * runs.
 */
void rmq_loop_defer(rmq_loop *loop, rmq_io *io);
/* Forget a pending deferral (an owner about to be freed). */
void rmq_loop_undefer(rmq_loop *loop, rmq_io *io);

/*
 * Wait up to timeout_ms (-1 forever) and serve ready fds, then deferred
 * calls.  Returns the number of fds served, or -1 on an epoll error.
 */
int rmq_loop_run_once(rmq_loop *loop, int timeout_ms);

#endif
