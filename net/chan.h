/*
 * chan.h - a message channel between two actors over a Unix
 * SOCK_SEQPACKET socket at <runDir>/<owner>.<purpose>: message
 * boundaries kept, no threads, one system call per message each way.
 *
 * Used for the put path (acceptor/scheduler <-> clwriter), where a batch
 * crosses two processes on every send: NNG's sockets hand every message
 * through its own worker threads (on this machine ~50 us and several
 * context switches per direction), which dominated the cost of small
 * batches.  The messages are the same msgpack PUT_BATCH / PUT_RESULT of
 * proto/catalog.h.  The listener keeps one channel per connected peer;
 * answers go back on the channel the request came on, so a peer that
 * restarts simply connects again and never sees another's answers.
 */
#ifndef RMQ_NET_CHAN_H
#define RMQ_NET_CHAN_H

#include "common/buf.h"

#include <stdbool.h>
#include <stddef.h>

#define RMQ_CHAN_MSG_MAX (1u << 20) /* bytes of one message */

/* Listen at <run_dir>/<owner>.<purpose> (a stale socket file is replaced). */
int rmq_chan_listen(const char *run_dir, const char *owner, const char *purpose,
                    int *lfd);
/* Accept one waiting peer: *fd, or RMQ_ERR_AGAIN. Non-blocking fd. */
int rmq_chan_accept(int lfd, int *fd);
/* Connect to a listener; RMQ_ERR_CLOSED when nobody listens (yet). */
int rmq_chan_connect(const char *run_dir, const char *owner,
                     const char *purpose, int *fd);
/*
 * Send one message; never blocks.  RMQ_ERR_AGAIN when the peer's queue is
 * full, RMQ_ERR_CLOSED when the peer is gone (close the fd).
 */
int rmq_chan_send(int fd, const void *data, size_t len);
/*
 * Receive one message into out (replacing its content); never blocks.
 * RMQ_ERR_AGAIN when none is waiting, RMQ_ERR_CLOSED when the peer is
 * gone, RMQ_ERR_TOOBIG for a message over RMQ_CHAN_MSG_MAX (dropped).
 */
int rmq_chan_recv(int fd, rmq_buf *out);

#endif
