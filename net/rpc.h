/*
 * rpc.h - a blocking RocketMQ remoting client: one TCP connection, one
 * request at a time, a timeout on every call.  For command-line tools
 * (rmqctl's admin commands) and tests, where simple beats fast; clients
 * that need throughput use librmq or net/conn.h.  Frames sent by the
 * server on its own (NOTIFY_CONSUMER_IDS_CHANGED, ...) are skipped.
 */
#ifndef RMQ_NET_RPC_H
#define RMQ_NET_RPC_H

#include "common/buf.h"
#include "proto/remoting.h"

#include <stddef.h>
#include <stdint.h>

typedef struct rmq_rpc {
    int      fd;
    int      timeout_ms;
    int32_t  next_opaque;
    rmq_buf  in;  /* received bytes */
    rmq_buf  out; /* the request being sent */
    size_t   resp_len;
    rmq_rcmd resp; /* the last response; valid until the next call */
    char     addr[128];
} rmq_rpc;

/* Connect to "host:port" within timeout_ms.  0 or RMQ_ERR_CLOSED/SYS. */
int  rmq_rpc_connect(rmq_rpc *r, const char *addr, int timeout_ms);
void rmq_rpc_close(rmq_rpc *r);
/*
 * Send req (opaque assigned here) with body, wait for its response.
 * Returns 0 and *resp (body included), RMQ_ERR_TIMEOUT, RMQ_ERR_CLOSED
 * (the server closed the connection) or RMQ_ERR_PROTO (bad frame).
 */
int rmq_rpc_call(rmq_rpc *r, rmq_rcmd_out *req, const void *body,
                 uint32_t body_len, const rmq_rcmd **resp);
/* Send a one-way request (flag 2); no response is read. */
int rmq_rpc_oneway(rmq_rpc *r, rmq_rcmd_out *req, const void *body,
                   uint32_t body_len);
/* Write raw bytes (tests: garbage, truncated frames). */
int rmq_rpc_write_raw(rmq_rpc *r, const void *data, size_t len);

#endif
