/*
 * sup.h - the supervisor's own state, shared by its files (supervisor.c:
 * spawn/reap/restart/stop; ctlsock.c: rmqctl requests; notify.c: systemd).
 * Lives only in the supervisor process.
 */
#ifndef RMQ_SUPERVISOR_SUP_H
#define RMQ_SUPERVISOR_SUP_H

#include "common/config.h"
#include "shm/control.h"
#include "supervisor/actor.h"
#include "supervisor/policy.h"

#include <limits.h>
#include <nng/nng.h>
#include <stdbool.h>
#include <sys/types.h>

struct sup_actor {
    int                   id;
    const rmq_actor_desc *desc;
    bool                  enabled;
    pid_t                 pid;           /* 0 when not running */
    int                   state;         /* enum rmq_actor_state */
    int64_t               spawned_ms;    /* monotonic */
    int64_t               restart_at_ms; /* monotonic, in BACKOFF */
    int64_t               stop_deadline_ms;
    bool                  kill_sent;
    bool                  restart_requested; /* rmqctl actor restart */
    bool                  was_ready;         /* READY seen for this pid */
    rmq_restart_window    window;
};

typedef struct rmq_sup {
    rmq_config       cfg;
    const char      *config_path; /* NULL: the embedded default */
    char             self_exe[PATH_MAX];
    char             ctl_path[RMQ_CONFIG_PATH_MAX + 16];
    rmq_ctl          ctl;
    int              sigfd;
    int              lock_fd;
    nng_socket       ctlsock;
    int              ctlsock_fd;
    bool             ctlsock_open;
    struct sup_actor actors[RMQ_ACTOR__COUNT];
    int              order[RMQ_ACTOR__COUNT]; /* enabled ids, start order */
    int              norder;
    int              next_start; /* index into order of the next to start */
    bool             all_ready;
    bool             stopping;
    int              exit_code;
    int64_t          start_ms; /* monotonic */
    int64_t          watchdog_usec;
    int64_t          next_watchdog_ms;
    int64_t          next_health_ms;
} rmq_sup;

/* Supervisor exit codes. */
enum {
    RMQ_SUP_EXIT_OK = 0,
    RMQ_SUP_EXIT_FATAL = 1,  /* an actor failed fatally or crash-looped */
    RMQ_SUP_EXIT_CONFIG = 2, /* bad config or start-up error */
};

/* supervisor.c */
int         rmq_sup_run(const rmq_config *cfg, const char *config_path);
bool        rmq_sup_actor_ready(const rmq_sup *s, const struct sup_actor *a);
const char *rmq_sup_actor_state(const rmq_sup *s, const struct sup_actor *a);
int         rmq_sup_restart_actor(rmq_sup *s, int id, char *why, size_t cap);

/* ctlsock.c */
int  rmq_ctlsock_open(rmq_sup *s);
void rmq_ctlsock_serve(rmq_sup *s);
void rmq_ctlsock_close(rmq_sup *s);

/* notify.c: systemd notify protocol; no-op without NOTIFY_SOCKET. */
void    rmq_notify(const char *state);
int64_t rmq_notify_watchdog_usec(void);

#endif
