/*
 * loop.c - epoll loop with end-of-iteration deferred calls (loop.h).
 */
#include "net/loop.h"

#include "common/err.h"
#include "common/log.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#define LOOP_BATCH 256

int
rmq_loop_init(rmq_loop *loop)
{
    memset(loop, 0, sizeof(*loop));
    loop->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (loop->epfd < 0) {
        rmq_log_sys(RMQ_LOG_ERR, "loop.init", errno, "cannot create epoll");
        return RMQ_ERR_SYS;
    }
    return 0;
}

void
rmq_loop_noop(rmq_loop *loop, rmq_io *io, uint32_t events)
{
    (void)loop;
    (void)io;
    (void)events;
}

void
rmq_loop_fini(rmq_loop *loop)
{
    if (loop->epfd >= 0) {
        close(loop->epfd);
    }
    loop->epfd = -1;
}

int
rmq_loop_add(rmq_loop *loop, rmq_io *io, int fd, uint32_t events, rmq_io_fn fn,
             void *arg)
{
    struct epoll_event ev = {.events = events, .data.ptr = io};

    io->fd = fd;
    io->events = events;
    io->fn = fn;
    io->arg = arg;
    io->deferred = false;
    io->defer_next = NULL;
    if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
        return RMQ_ERR_SYS;
    }
    return 0;
}

int
rmq_loop_mod(rmq_loop *loop, rmq_io *io, uint32_t events)
{
    struct epoll_event ev = {.events = events, .data.ptr = io};

    if (io->events == events) {
        return 0;
    }
    if (epoll_ctl(loop->epfd, EPOLL_CTL_MOD, io->fd, &ev) != 0) {
        return RMQ_ERR_SYS;
    }
    io->events = events;
    return 0;
}

void
rmq_loop_del(rmq_loop *loop, rmq_io *io)
{
    if (io->fd >= 0) {
        epoll_ctl(loop->epfd, EPOLL_CTL_DEL, io->fd, NULL);
    }
    rmq_loop_undefer(loop, io);
}

void
rmq_loop_defer(rmq_loop *loop, rmq_io *io)
{
    if (io->deferred) {
        return;
    }
    io->deferred = true;
    io->defer_next = NULL;
    if (loop->defer_tail != NULL) {
        loop->defer_tail->defer_next = io;
    } else {
        loop->defer_head = io;
    }
    loop->defer_tail = io;
}

void
rmq_loop_undefer(rmq_loop *loop, rmq_io *io)
{
    rmq_io **pp = &loop->defer_head;

    if (!io->deferred) {
        return;
    }
    rmq_io *prev = NULL;

    while (*pp != NULL) {
        if (*pp == io) {
            *pp = io->defer_next;
            if (loop->defer_tail == io) {
                loop->defer_tail = prev;
            }
            break;
        }
        prev = *pp;
        pp = &(*pp)->defer_next;
    }
    io->deferred = false;
    io->defer_next = NULL;
}

static void
loop_run_deferred(rmq_loop *loop)
{
    /* callbacks may defer again: those run on the next pass of this loop */
    for (int pass = 0; pass < 4 && loop->defer_head != NULL; pass++) {
        rmq_io *list = loop->defer_head;

        loop->defer_head = NULL;
        loop->defer_tail = NULL;
        while (list != NULL) {
            rmq_io *io = list;
            list = io->defer_next;
            io->deferred = false;
            io->defer_next = NULL;
            io->fn(loop, io, 0);
        }
    }
}

int
rmq_loop_run_once(rmq_loop *loop, int timeout_ms)
{
    struct epoll_event evs[LOOP_BATCH];
    int                n;

    if (loop->defer_head != NULL) {
        timeout_ms = 0;
    }
    n = epoll_wait(loop->epfd, evs, LOOP_BATCH, timeout_ms);
    if (n < 0) {
        if (errno == EINTR) {
            n = 0;
        } else {
            return -1;
        }
    }
    loop->in_dispatch = true;
    for (int i = 0; i < n; i++) {
        rmq_io *io = evs[i].data.ptr;
        io->fn(loop, io, evs[i].events);
    }
    loop_run_deferred(loop);
    loop->in_dispatch = false;
    return n;
}
