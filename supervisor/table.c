/*
 * table.c - the one actor table, in start order (stop runs in reverse).
 * Read by the supervisor (what to spawn, how to restart, how long a stop
 * may take), by the runner (which main to call), and by tools and tests
 * (names of actors, rings and sockets).
 *
 * It is built into the core library, which tools link without any actor
 * code, so the entry points are weak references: NULL unless the program
 * links the actor (the daemon links actors/; the test daemon also links
 * the test actor).  A NULL entry is an actor this binary cannot run.
 */
#include "actors/actors.h"
#include "supervisor/actor.h"

#include <string.h>

#pragma weak rmq_namesrv_main
#pragma weak rmq_clwriter_main
#pragma weak rmq_flusher_main
#pragma weak rmq_dispatcher_main
#pragma weak rmq_scheduler_main
#pragma weak rmq_rebalancer_main
#pragma weak rmq_longpoll_main
#pragma weak rmq_acceptor_main
#pragma weak rmq_testactor_main

#define TESTACTOR_MAIN rmq_testactor_main

static const char *const test_counters[] = {"loops", "reloads", NULL};
static const char *const cl_counters[] = {"puts",   "batches", "bytes",
                                          "errors", "topics",  NULL};
static const char *const fl_counters[] = {"flushes", "bytes", "cq_syncs",
                                          "errors", NULL};
static const char *const dp_counters[] = {"records", "events", "skipped",
                                          "behind", NULL};
static const char *const acc_counters[] = {
    "conns", "requests", "puts", "pulls", "msgs_out", "held", "errors", NULL};
static const char *const lp_counters[] = {"holds", "wakes", "timeouts", "held",
                                          NULL};
static const char *const sch_counters[] = {"delivered", "pending", "skipped",
                                           "retries",   "errors",  NULL};
static const char *const ns_counters[] = {"requests", "registers", "routes",
                                          "errors",   "conns",     NULL};
static const char *const rb_counters[] = {"requests", "groups", "clients",
                                          "notifies", "errors", NULL};

/* name, entry, restart type, shm access, stop timeout (ms), role, counters */
const rmq_actor_desc rmq_actor_table[RMQ_ACTOR__COUNT] = {
    [RMQ_ACTOR_NAMESRV] = {"namesrv", rmq_namesrv_main, RMQ_RESTART_PERMANENT,
                           RMQ_SHM_RO, 5000, RMQ_ROLE_NAMESRV, ns_counters},
    [RMQ_ACTOR_CLWRITER] = {"clwriter", rmq_clwriter_main,
                            RMQ_RESTART_PERMANENT, RMQ_SHM_RW, 10000,
                            RMQ_ROLE_BROKER, cl_counters},
    [RMQ_ACTOR_FLUSHER] = {"flusher", rmq_flusher_main, RMQ_RESTART_PERMANENT,
                           RMQ_SHM_RW, 30000, RMQ_ROLE_BROKER, fl_counters},
    [RMQ_ACTOR_DISPATCHER] = {"dispatcher", rmq_dispatcher_main,
                              RMQ_RESTART_PERMANENT, RMQ_SHM_RW, 10000,
                              RMQ_ROLE_BROKER, dp_counters},
    [RMQ_ACTOR_SCHEDULER] = {"scheduler", rmq_scheduler_main,
                             RMQ_RESTART_PERMANENT, RMQ_SHM_RW, 5000,
                             RMQ_ROLE_BROKER, sch_counters},
    [RMQ_ACTOR_REBALANCER] = {"rebalancer", rmq_rebalancer_main,
                              RMQ_RESTART_PERMANENT, RMQ_SHM_RW, 5000,
                              RMQ_ROLE_BROKER, rb_counters},
    [RMQ_ACTOR_LONGPOLL] = {"longpoll", rmq_longpoll_main,
                            RMQ_RESTART_PERMANENT, RMQ_SHM_RO, 5000,
                            RMQ_ROLE_BROKER, lp_counters},
    [RMQ_ACTOR_TESTACTOR] = {"testactor", TESTACTOR_MAIN, RMQ_RESTART_PERMANENT,
                             RMQ_SHM_RO, 2000, RMQ_ROLE_TEST, test_counters},
    [RMQ_ACTOR_ACCEPTOR] = {"acceptor", rmq_acceptor_main,
                            RMQ_RESTART_PERMANENT, RMQ_SHM_RO, 10000,
                            RMQ_ROLE_BROKER, acc_counters},
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
