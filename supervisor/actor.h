/*
 * actor.h - the actor table and the runtime every actor runs inside.
 *
 * The supervisor forks and at once execs its own binary as
 *   "rmq: <name>" --actor <name> --rundir <dir> --gen <generation>
 * (NNG is not fork-safe; exec gives each actor a clean NNG).  The runner
 * (runner.c) then does the shared set-up: parent-death signal and getppid
 * check, process title, log identity, control segment attach by path,
 * the effective config from the segment, signal flags and a wakeup fd,
 * counter names; then it calls the actor's main.  An actor file holds only
 * its own logic:
 *
 *     void
 *     rmq_flusher_main(rmq_actor *self)
 *     {
 *         ... init ...
 *         rmq_actor_ready(self);
 *         while (!self->stop_requested) {
 *             rmq_actor_clear_wakeup(self);
 *             ... bounded work ...
 *             rmq_actor_wait(self, deadline_ms, NULL, 0);
 *         }
 *         rmq_actor_exit(self, RMQ_EXIT_OK);
 *     }
 *
 * Exit codes: RMQ_EXIT_OK (stopped on request), RMQ_EXIT_TRANSIENT
 * (restart me), RMQ_EXIT_FATAL (bad config, unusable disk: stop the
 * broker).  A signal death is a crash: restarted with backoff.
 */
#ifndef RMQ_SUPERVISOR_ACTOR_H
#define RMQ_SUPERVISOR_ACTOR_H

#include "common/config.h"
#include "shm/control.h"

#include <poll.h>
#include <signal.h>
#include <stdint.h>

enum rmq_exit {
    RMQ_EXIT_OK = 0,
    RMQ_EXIT_TRANSIENT = 1,
    RMQ_EXIT_FATAL = 2,
};

enum rmq_restart_type {
    RMQ_RESTART_PERMANENT = 0, /* always restarted */
    RMQ_RESTART_TRANSIENT = 1, /* restarted unless it exited 0 */
    RMQ_RESTART_TEMPORARY = 2, /* never restarted */
};

enum rmq_shm_access {
    RMQ_SHM_RO = 0, /* reads the store and the control segment */
    RMQ_SHM_RW = 1, /* writes store files or shared positions */
};

/* Which configuration role an actor belongs to. */
enum rmq_actor_role {
    RMQ_ROLE_NAMESRV = 0,
    RMQ_ROLE_BROKER = 1,
    RMQ_ROLE_TEST = 2,
};

/* Actor ids double as slot indexes in the control segment: start order. */
enum rmq_actor_id {
    RMQ_ACTOR_NAMESRV = 0,
    RMQ_ACTOR_CLWRITER,
    RMQ_ACTOR_FLUSHER,
    RMQ_ACTOR_DISPATCHER,
    RMQ_ACTOR_SCHEDULER,
    RMQ_ACTOR_REBALANCER,
    RMQ_ACTOR_LONGPOLL,
    RMQ_ACTOR_TESTACTOR, /* test builds only */
    RMQ_ACTOR_ACCEPTOR,  /* last: the port opens when the rest is ready */
    RMQ_ACTOR__COUNT
};

typedef struct rmq_actor rmq_actor;
typedef void (*rmq_actor_main_fn)(rmq_actor *self);

typedef struct rmq_actor_desc {
    const char        *name;
    rmq_actor_main_fn  main;            /* NULL: not built into this binary */
    int                restart;         /* enum rmq_restart_type */
    int                shm;             /* enum rmq_shm_access */
    int                stop_timeout_ms; /* then SIGKILL */
    int                role;            /* enum rmq_actor_role */
    const char *const *counters;        /* NULL-terminated counter names */
} rmq_actor_desc;

extern const rmq_actor_desc rmq_actor_table[RMQ_ACTOR__COUNT];

/* The actor's id by name, or -1. */
int rmq_actor_lookup(const char *name);

struct rmq_actor {
    int                   id;
    const rmq_actor_desc *desc;
    rmq_ctl               ctl;
    rmq_actor_slot       *slot;
    rmq_config            cfg; /* effective config; re-read on reload */
    char                  run_dir[RMQ_CONFIG_PATH_MAX];
    volatile sig_atomic_t stop_requested;
    volatile sig_atomic_t reload_requested;
    int                   wakeup_fd; /* readable after any signal */
    int64_t               last_beat_ms;
    uint64_t              reload_seen;
};

/* Runner entry: parse actor arguments, set up, run main. Never returns. */
int rmq_runner_main(int argc, char **argv);

/* Mark this process READY in its slot and tell the supervisor. */
void rmq_actor_ready(rmq_actor *self);
/* Record a clean exit (if code is OK) and exit with code. */
void rmq_actor_exit(rmq_actor *self, int code) __attribute__((noreturn));
/* Drain the wakeup fd; call before looking for work. */
void rmq_actor_clear_wakeup(rmq_actor *self);
/*
 * Block until deadline (monotonic ms; <0 = no deadline, capped so the
 * heartbeat stays fresh), a signal, or a readable fd in fds.  Refreshes
 * the heartbeat.  Returns poll's count (0 on timeout).
 */
int rmq_actor_wait(rmq_actor *self, int64_t deadline_ms, struct pollfd *fds,
                   int nfds);
/* Refresh the heartbeat if due; for actors running their own loop. */
void rmq_actor_tick(rmq_actor *self);
/*
 * Re-read the effective config from the control segment into self->cfg
 * (after a SIGHUP).  Clears reload_requested.  Returns 0 or an rmq_err.
 */
int rmq_actor_reload(rmq_actor *self);

static inline void
rmq_actor_count(rmq_actor *self, int counter, uint64_t n)
{
    atomic_fetch_add_explicit(&self->slot->act.s.counters[counter], n,
                              memory_order_relaxed);
}

static inline void
rmq_actor_gauge(rmq_actor *self, int counter, uint64_t v)
{
    atomic_store_explicit(&self->slot->act.s.counters[counter], v,
                          memory_order_relaxed);
}

/* Path of an NNG endpoint: ipc://<runDir>/<owner>.<purpose>. */
void rmq_actor_ipc_url(const char *run_dir, const char *owner,
                       const char *purpose, char *out, size_t cap);

#endif
