/*
 * catalog.h - every message exchanged between rmq processes: its id (never
 * reused), its struct, and one encode/decode pair.  Wire form and
 * validation rules are in msg.h.  New fields go at the end of a struct's
 * field list (older decoders ignore them).
 *
 * Sockets (DESIGN.md section 3): ipc://<runDir>/<owner>.<purpose>.
 *   supervisor.ctl   rep   rmqctl requests (CTL_REQUEST -> CTL_*)
 */
#ifndef RMQ_PROTO_CATALOG_H
#define RMQ_PROTO_CATALOG_H

#include "proto/msg.h"
#include "shm/control.h"

#include <stdbool.h>
#include <stdint.h>

enum rmq_msg_id {
    RMQ_MSG_CTL_REQUEST = 1,
    RMQ_MSG_CTL_RESULT = 2,
    RMQ_MSG_CTL_ACTORS = 3,
    RMQ_MSG_CTL_STATUS = 4,
};

/* rmqctl -> supervisor */
enum rmq_ctl_cmd {
    RMQ_CTL_CMD_ACTORS = 1,  /* -> CTL_ACTORS */
    RMQ_CTL_CMD_STATUS = 2,  /* -> CTL_STATUS */
    RMQ_CTL_CMD_RESTART = 3, /* arg = actor name -> CTL_RESULT */
};

typedef struct rmq_msg_ctl_request {
    uint32_t cmd;
    char     arg[64];
} rmq_msg_ctl_request;

typedef struct rmq_msg_ctl_result {
    int32_t status; /* 0 or an rmq_err */
    char    text[256];
} rmq_msg_ctl_result;

typedef struct rmq_ctl_counter {
    char     name[RMQ_COUNTER_NAME_MAX];
    uint64_t value;
} rmq_ctl_counter;

typedef struct rmq_ctl_actor_info {
    char            name[RMQ_ACTOR_NAME_MAX];
    int32_t         pid;
    char            state[16]; /* "ready", "starting", "backoff", ... */
    uint32_t        restarts;
    int32_t         last_exit; /* exit code, or -signal */
    uint32_t        exits;
    int64_t         start_ms;
    int64_t         heartbeat_ms;
    uint32_t        ncounters;
    rmq_ctl_counter counters[RMQ_COUNTER_MAX];
} rmq_ctl_actor_info;

typedef struct rmq_msg_ctl_actors {
    int64_t            now_ms;
    uint32_t           n;
    rmq_ctl_actor_info actors[RMQ_ACTOR_MAX];
} rmq_msg_ctl_actors;

typedef struct rmq_msg_ctl_status {
    int32_t  pid;
    uint64_t generation;
    char     state[16];
    int64_t  uptime_ms;
    int64_t  ready_after_ms; /* start to all READY; -1 while starting */
    uint32_t actors_total;
    uint32_t actors_ready;
    uint64_t reloads;
    char     config_source[256];
    char     version[32];
    char     run_dir[256];
} rmq_msg_ctl_status;

#define RMQ_MSG_DECLARE(fn, type)                                             \
    extern const rmq_mdesc rmq_mdesc_##fn;                                    \
    int rmq_msg_##fn##_encode(const type *m, rmq_buf *out);                   \
    int rmq_msg_##fn##_decode(const void *data, size_t len, type *m);

RMQ_MSG_DECLARE(ctl_request, rmq_msg_ctl_request)
RMQ_MSG_DECLARE(ctl_result, rmq_msg_ctl_result)
RMQ_MSG_DECLARE(ctl_actors, rmq_msg_ctl_actors)
RMQ_MSG_DECLARE(ctl_status, rmq_msg_ctl_status)

/* Every top-level message layout, for tests and tools. */
extern const rmq_mdesc *const rmq_msg_catalog[];
extern const unsigned          rmq_msg_catalog_len;

#endif
