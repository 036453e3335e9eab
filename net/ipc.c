/*
 * ipc.c - NNG socket helpers (ipc.h).  Any actor, after exec.
 */
#include "net/ipc.h"

#include "common/err.h"
#include "common/log.h"

#include <nng/protocol/pipeline0/pull.h>
#include <nng/protocol/pipeline0/push.h>
#include <nng/protocol/pubsub0/pub.h>
#include <nng/protocol/pubsub0/sub.h>
#include <stdio.h>
#include <string.h>

static int
ipc_open_kind(rmq_ipc *s)
{
    switch (s->kind) {
    case RMQ_IPC_PULL:
        return nng_pull0_open(&s->sock);
    case RMQ_IPC_PUSH:
        return nng_push0_open(&s->sock);
    case RMQ_IPC_PUB:
        return nng_pub0_open(&s->sock);
    case RMQ_IPC_SUB:
        return nng_sub0_open(&s->sock);
    }
    return NNG_EINVAL;
}

static int
ipc_connect(rmq_ipc *s)
{
    int rv;

    if (s->kind == RMQ_IPC_PULL || s->kind == RMQ_IPC_PUB) {
        return nng_listen(s->sock, s->url, NULL, 0);
    }
    if (s->kind == RMQ_IPC_SUB) {
        rv = nng_socket_set(s->sock, NNG_OPT_SUB_SUBSCRIBE, "", 0);
        if (rv != 0) {
            return rv;
        }
    }
    /* non-blocking dial: NNG keeps redialling until the peer is there */
    nng_socket_set_ms(s->sock, NNG_OPT_RECONNMINT, 10);
    nng_socket_set_ms(s->sock, NNG_OPT_RECONNMAXT, 200);
    return nng_dial(s->sock, s->url, NULL, NNG_FLAG_NONBLOCK);
}

int
rmq_ipc_open(rmq_ipc *s, int kind, const char *run_dir, const char *owner,
             const char *purpose)
{
    int rv;

    memset(s, 0, sizeof(*s));
    s->kind = kind;
    s->recv_fd = -1;
    snprintf(s->url, sizeof(s->url), "ipc://%s/%s.%s", run_dir, owner, purpose);
    if ((rv = ipc_open_kind(s)) != 0) {
        goto fail;
    }
    s->open = true;
    if (kind == RMQ_IPC_PUSH) {
        nng_socket_set_int(s->sock, NNG_OPT_SENDBUF, 1024);
    } else {
        nng_socket_set_int(s->sock, NNG_OPT_RECVBUF, 1024);
    }
    if ((rv = ipc_connect(s)) != 0) {
        goto fail;
    }
    if ((kind == RMQ_IPC_PULL || kind == RMQ_IPC_SUB) &&
        (rv = nng_socket_get_int(s->sock, NNG_OPT_RECVFD, &s->recv_fd)) != 0) {
        goto fail;
    }
    return 0;

fail:
    rmq_log(RMQ_LOG_ERR, "ipc.open", "cannot open %s: %s", s->url,
            nng_strerror(rv));
    rmq_ipc_close(s);
    return RMQ_ERR_SYS;
}

void
rmq_ipc_close(rmq_ipc *s)
{
    if (s->open) {
        nng_close(s->sock);
    }
    s->open = false;
    s->recv_fd = -1;
}

int
rmq_ipc_send(rmq_ipc *s, const rmq_buf *b)
{
    int rv;

    if (b->oom) {
        return RMQ_ERR_NOMEM;
    }
    rv = nng_send(s->sock, b->data, b->len, NNG_FLAG_NONBLOCK);
    if (rv == NNG_EAGAIN) {
        return RMQ_ERR_AGAIN;
    }
    return rv == 0 ? 0 : RMQ_ERR_SYS;
}

int
rmq_ipc_recv(rmq_ipc *s, nng_msg **out)
{
    int rv = nng_recvmsg(s->sock, out, NNG_FLAG_NONBLOCK);

    if (rv == NNG_EAGAIN) {
        return RMQ_ERR_AGAIN;
    }
    return rv == 0 ? 0 : RMQ_ERR_SYS;
}

int
rmq_ipc_recv_wait(rmq_ipc *s, nng_msg **out, int timeout_ms)
{
    int rv;

    nng_socket_set_ms(s->sock, NNG_OPT_RECVTIMEO, timeout_ms);
    rv = nng_recvmsg(s->sock, out, 0);
    if (rv == NNG_ETIMEDOUT) {
        return RMQ_ERR_TIMEOUT;
    }
    return rv == 0 ? 0 : RMQ_ERR_SYS;
}
