/*
 * cio.h - the I/O thread of one librmq instance (producer or consumer).
 *
 * One thread runs an rmq_loop with the instance's remoting connections
 * (net/conn.h), named by "host:port" and opened lazily on first use; a
 * connection that closes fails its pending requests and is reopened by
 * the next request to that address.  Requests are matched to responses
 * by opaque; a sweep fails those past their deadline.  Other threads hand
 * work over with rmq_cio_post (a mutex-protected queue plus an eventfd in
 * the loop).  One-shot and periodic timers run on the thread too.
 *
 * Everything except rmq_cio_new/start/stop/free/post/on_thread must be
 * called on the I/O thread (from a posted task, a timer, a completion or
 * the server-request hook).  Completions never run inside the call that
 * started the request: a request that cannot even be sent fails on the
 * next loop pass.
 */
#ifndef RMQ_CLIENT_CIO_H
#define RMQ_CLIENT_CIO_H

#include "client/cerr.h"
#include "proto/remoting.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct rmq_cio rmq_cio;

/*
 * A request finished: rc 0 and resp (valid only during the call, body
 * included), or rc RMQ_CLIENT_ERR_TIMEOUT / _CONNECT / _CLOSED and resp
 * NULL.
 */
typedef void (*rmq_cio_done_fn)(rmq_cio *io, int rc, const rmq_rcmd *resp,
                                void *arg);
typedef void (*rmq_cio_task_fn)(rmq_cio *io, void *arg);
/*
 * A request a server sent us (NOTIFY_CONSUMER_IDS_CHANGED, ...).  Returns
 * the response code to answer with when the request is not oneway.
 */
typedef int (*rmq_cio_server_fn)(rmq_cio *io, const rmq_rcmd *req,
                                 const char *peer, void *arg);

int rmq_cio_new(const rmq_clog *log, rmq_cio **out);
/* Before start: who handles server-initiated requests (default: 3). */
void rmq_cio_set_server_handler(rmq_cio *io, rmq_cio_server_fn fn, void *arg);
int  rmq_cio_start(rmq_cio *io);
/*
 * From any thread but the I/O thread: fail pending requests with
 * RMQ_CLIENT_ERR_CLOSED, run the tasks already posted, write what is
 * queued (up to a second), join the thread.  Idempotent.
 */
void rmq_cio_stop(rmq_cio *io);
/* Stop if needed, then free. */
void rmq_cio_free(rmq_cio *io);
bool rmq_cio_on_thread(const rmq_cio *io);
/* True once stop began (I/O thread). */
bool rmq_cio_stopping(const rmq_cio *io);

/*
 * Any thread: run fn(io, arg) on the I/O thread soon.  Returns 0, or
 * RMQ_CLIENT_ERR_CLOSED once the thread has stopped (fn will not run) or
 * was never started, or RMQ_CLIENT_ERR_NOMEM.
 */
int rmq_cio_post(rmq_cio *io, rmq_cio_task_fn fn, void *arg);

/*
 * Send o (code and ext fields set; opaque and flag are filled here) with
 * a copy of body to addr and call fn when the response comes or
 * timeout_ms passes.
 */
void rmq_cio_call(rmq_cio *io, const char *addr, rmq_rcmd_out *o,
                  const void *body, uint32_t body_len, int timeout_ms,
                  rmq_cio_done_fn fn, void *arg);
/* Send o as a oneway request (no response).  Returns 0 once queued. */
int rmq_cio_oneway(rmq_cio *io, const char *addr, rmq_rcmd_out *o,
                   const void *body, uint32_t body_len);

/* Timers: fn runs on the I/O thread.  Ids are never 0. */
uint64_t rmq_cio_after(rmq_cio *io, int64_t delay_ms, rmq_cio_task_fn fn,
                       void *arg);
/* Every interval_ms, the first run after interval_ms. */
uint64_t rmq_cio_every(rmq_cio *io, int64_t interval_ms, rmq_cio_task_fn fn,
                       void *arg);
void     rmq_cio_cancel(rmq_cio *io, uint64_t timer_id);

#endif
