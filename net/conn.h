/*
 * conn.h - RocketMQ remoting connections over TCP on an rmq_loop.
 *
 * A connection set (rmq_conns) owns listening sockets and connections,
 * both accepted and outbound.  It reads frames, decodes them with the
 * remoting codec and calls on_cmd for each, in arrival order; a malformed
 * or oversized frame closes that connection (one log line) and nothing
 * else.  Output is queued and written with one writev per connection per
 * loop iteration, so many responses share a syscall.  Bodies may be copied
 * into the queue (rmq_conn_send) or referenced in place (rmq_conn_sendv:
 * memory that outlives the write, e.g. commit-log mappings: zero copy).
 *
 * Connections are named by a 64-bit id (slot + generation) so that work
 * finishing after a connection closed (a put result, a held pull) finds
 * out with rmq_conns_get() instead of touching freed memory.  A closed
 * connection is freed only after the current loop iteration.
 *
 * Used by the acceptor and namesrv actors and by librmq.  One thread.
 */
#ifndef RMQ_NET_CONN_H
#define RMQ_NET_CONN_H

#include "common/buf.h"
#include "net/loop.h"
#include "proto/remoting.h"

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

typedef struct rmq_conn  rmq_conn;
typedef struct rmq_conns rmq_conns;

typedef struct rmq_conn_ops {
    /* A decoded frame; cmd (and its body) is valid only during the call. */
    void (*on_cmd)(rmq_conn *c, rmq_rcmd *cmd, void *user);
    /* The connection closed (either side); c is freed after the loop pass. */
    void (*on_close)(rmq_conn *c, void *user);
    /* An outbound connection finished connecting (ok) or failed. */
    void (*on_connect)(rmq_conn *c, bool ok, void *user);
} rmq_conn_ops;

/* One queued piece of output: inside out_buf (ptr NULL) or external. */
typedef struct rmq_outseg {
    const uint8_t *ptr;
    size_t         off; /* into out_buf when ptr is NULL */
    size_t         len;
} rmq_outseg;

struct rmq_conn {
    rmq_io      io;
    uint64_t    id;
    rmq_conns  *set;
    rmq_buf     in;
    rmq_buf     out_buf;
    rmq_outseg *segs;
    uint32_t    nsegs, segs_cap, seg_head;
    size_t      seg_head_done; /* bytes of segs[seg_head] already written */
    size_t      out_pending;   /* bytes queued, not yet written */
    struct sockaddr_storage peer;
    char                    peer_str[64]; /* "ip:port" */
    uint8_t                 peer_ip[16];  /* IPv4 in 4 bytes when mapped */
    int                     peer_ip_len;
    int                     peer_port;
    int64_t                 last_active_ms; /* monotonic */
    bool                    outbound;
    bool                    connecting;
    bool                    closed;
    bool                    read_paused;
    void                   *user; /* the application's per-connection data */
    rmq_conn               *dead_next;
};

struct rmq_conns {
    rmq_loop    *loop;
    rmq_conn_ops ops;
    void        *user;
    rmq_conn   **slots;
    uint32_t    *gens;
    uint32_t     nslots;
    uint32_t    *free_list;
    uint32_t     nfree;
    uint32_t     live;
    rmq_io       reaper;
    rmq_conn    *dead;
    rmq_rcmd     cmd; /* reused for every decoded frame */
    size_t       max_frame;
    size_t       out_high_water; /* stop reading a conn above this */
};

int rmq_conns_init(rmq_conns *s, rmq_loop *loop, const rmq_conn_ops *ops,
                   void *user);
/* Close every connection and free everything. */
void rmq_conns_fini(rmq_conns *s);

/*
 * Listen on host:port (host NULL or "" = all addresses, dual stack).
 * lio must stay valid while listening.  Returns 0 or RMQ_ERR_SYS (port in
 * use: logged).
 */
int  rmq_conns_listen(rmq_conns *s, rmq_io *lio, const char *host, int port);
void rmq_conns_unlisten(rmq_conns *s, rmq_io *lio);
/* Start a non-blocking connect to "host:port"; on_connect reports. */
rmq_conn *rmq_conns_connect(rmq_conns *s, const char *addr);

/* The live connection with this id, or NULL. */
rmq_conn *rmq_conns_get(rmq_conns *s, uint64_t id);
/* Close connections idle longer than idle_ms (monotonic). */
void rmq_conns_sweep_idle(rmq_conns *s, int64_t now_ms, int64_t idle_ms);

void rmq_conn_close(rmq_conn *c, const char *why);

/* Queue a command with a body copied into the connection's buffer. */
int rmq_conn_send(rmq_conn *c, const rmq_rcmd_out *o, const void *body,
                  uint32_t body_len);
/*
 * Queue a command whose body is iov[0..niov): referenced, not copied; the
 * memory must stay valid and unchanged until written (mappings).
 */
int rmq_conn_sendv(rmq_conn *c, const rmq_rcmd_out *o, const struct iovec *iov,
                   int niov);

#endif
