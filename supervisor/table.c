/*
 * table.c - the one actor table, in start order (stop runs in reverse).
 * Read by the supervisor (what to spawn, how to restart, how long a stop
 * may take) and by the runner (which main to call).
 */
#include "actors/actors.h"
#include "supervisor/actor.h"

#include <string.h>

#ifdef RMQ_WITH_TESTACTOR
#define TESTACTOR_MAIN rmq_testactor_main
#else
#define TESTACTOR_MAIN NULL
#endif

static const char *const no_counters[] = {NULL};
static const char *const test_counters[] = {"loops", "reloads", NULL};
static const char *const lp_counters[] = {"holds", "wakes", "timeouts",
                                          "held", NULL};
static const char *const ns_counters[] = {"requests", "registers", "routes",
                                          "errors", "conns", NULL};
static const char *const rb_counters[] = {"requests", "groups", "clients",
                                          "notifies", "errors", NULL};

/* name, entry, restart type, shm access, stop timeout (ms), role, counters */
const rmq_actor_desc rmq_actor_table[RMQ_ACTOR__COUNT] = {
    [RMQ_ACTOR_NAMESRV] = {"namesrv", rmq_namesrv_main, RMQ_RESTART_PERMANENT,
                           RMQ_SHM_RO, 5000, RMQ_ROLE_NAMESRV, ns_counters},
    [RMQ_ACTOR_CLWRITER] = {"clwriter", NULL, RMQ_RESTART_PERMANENT,
                            RMQ_SHM_RW, 10000, RMQ_ROLE_BROKER, no_counters},
    [RMQ_ACTOR_FLUSHER] = {"flusher", NULL, RMQ_RESTART_PERMANENT, RMQ_SHM_RW,
                           30000, RMQ_ROLE_BROKER, no_counters},
    [RMQ_ACTOR_DISPATCHER] = {"dispatcher", NULL, RMQ_RESTART_PERMANENT,
                              RMQ_SHM_RW, 10000, RMQ_ROLE_BROKER, no_counters},
    [RMQ_ACTOR_SCHEDULER] = {"scheduler", NULL, RMQ_RESTART_PERMANENT,
                             RMQ_SHM_RW, 5000, RMQ_ROLE_BROKER, no_counters},
    [RMQ_ACTOR_REBALANCER] = {"rebalancer", rmq_rebalancer_main,
                              RMQ_RESTART_PERMANENT, RMQ_SHM_RO, 5000,
                              RMQ_ROLE_BROKER, rb_counters},
    [RMQ_ACTOR_LONGPOLL] = {"longpoll", rmq_longpoll_main,
                            RMQ_RESTART_PERMANENT, RMQ_SHM_RO, 5000,
                            RMQ_ROLE_BROKER, lp_counters},
    [RMQ_ACTOR_TESTACTOR] = {"testactor", TESTACTOR_MAIN,
                             RMQ_RESTART_PERMANENT, RMQ_SHM_RO, 2000,
                             RMQ_ROLE_TEST, test_counters},
    [RMQ_ACTOR_ACCEPTOR] = {"acceptor", NULL, RMQ_RESTART_PERMANENT,
                            RMQ_SHM_RO, 10000, RMQ_ROLE_BROKER, no_counters},
};

int
rmq_actor_lookup(const char *name)
{
    for (int i = 0; i < RMQ_ACTOR__COUNT; i++) {
        if (strcmp(rmq_actor_table[i].name, name) == 0) {
            return i;
        }
    }
    return -1;
}
