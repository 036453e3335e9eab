/*
 * ipc.h - NNG sockets between actors: ipc://<runDir>/<owner>.<purpose>.
 * Thin helpers so every actor opens, sends and receives the same way:
 * listeners bind, dialers dial without blocking and redial forever (a
 * restarted peer is found again), receive fds plug into poll/epoll, sends
 * never block the caller's loop.  Each actor opens its sockets after exec
 * (NNG is not fork-safe).
 */
#ifndef RMQ_NET_IPC_H
#define RMQ_NET_IPC_H

#include "common/buf.h"

#include <nng/nng.h>
#include <stdbool.h>

enum rmq_ipc_kind {
    RMQ_IPC_PULL = 1, /* listen: work/replies for this actor */
    RMQ_IPC_PUSH,     /* dial: to another actor's pull */
    RMQ_IPC_PUB,      /* listen: events */
    RMQ_IPC_SUB,      /* dial: another actor's events (all topics) */
};

typedef struct rmq_ipc {
    nng_socket sock;
    int        recv_fd; /* pull/sub: readable when a message waits; else -1 */
    int        kind;
    bool       open;
    char       url[256];
} rmq_ipc;

/* Open a socket of kind at ipc://<run_dir>/<owner>.<purpose>. */
int  rmq_ipc_open(rmq_ipc *s, int kind, const char *run_dir, const char *owner,
                  const char *purpose);
void rmq_ipc_close(rmq_ipc *s);
/*
 * Send b's bytes.  Never blocks: RMQ_ERR_AGAIN when the peer is not there
 * or its queue is full (the caller decides to retry or drop).
 */
int rmq_ipc_send(rmq_ipc *s, const rmq_buf *b);
/* Receive one message without blocking; RMQ_ERR_AGAIN when none. */
int rmq_ipc_recv(rmq_ipc *s, nng_msg **out);
/* Block up to timeout_ms for one message (helpers and tests). */
int rmq_ipc_recv_wait(rmq_ipc *s, nng_msg **out, int timeout_ms);

#endif
