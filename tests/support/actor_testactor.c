/*
 * actor_testactor.c - a test-only actor, built only into
 * rmq-supervisor-test and run only when RMQ_TESTACTOR is set.  It lets the
 * supervisor tests exercise crash, hang, fatal-exit and slow-stop handling
 * with a real process.  At every start it reads its mode from
 * <runDir>/testactor.mode (first word; missing file = "ok"):
 *
 *   ok          run normally until asked to stop
 *   crash       become READY, then abort()
 *   crash-early abort() before READY
 *   exit1       become READY, then exit 1 (transient failure)
 *   exit2       become READY, then exit 2 (fatal)
 *   hang        become READY, then stop heartbeating (signals blocked)
 *   slowstop    ignore SIGTERM: the supervisor must SIGKILL it
 *   noready     keep heartbeating but never become READY (start timeout)
 */
#include "actors/actors.h"
#include "common/log.h"
#include "common/util.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void
testactor_mode(rmq_actor *self, char *mode, size_t cap)
{
    char  path[RMQ_CONFIG_PATH_MAX + 32];
    FILE *f;

    snprintf(mode, cap, "ok");
    snprintf(path, sizeof(path), "%s/testactor.mode", self->run_dir);
    f = fopen(path, "r");
    if (f != NULL) {
        if (fscanf(f, "%31s", mode) != 1) {
            snprintf(mode, cap, "ok");
        }
        fclose(f);
    }
}

static void
testactor_hang(void)
{
    sigset_t all;

    sigfillset(&all);
    sigprocmask(SIG_BLOCK, &all, NULL);
    for (;;) {
        pause();
    }
}

/* Alive and heartbeating, stoppable, but never READY. */
static void
testactor_never_ready(rmq_actor *self)
{
    while (!self->stop_requested) {
        rmq_actor_clear_wakeup(self);
        rmq_actor_wait(self, rmq_mono_ms() + 200, NULL, 0);
    }
    rmq_actor_exit(self, RMQ_EXIT_OK);
}

void
rmq_testactor_main(rmq_actor *self)
{
    char mode[32];

    testactor_mode(self, mode, sizeof(mode));
    rmq_log(RMQ_LOG_INFO, "testactor.mode", "mode %s", mode);
    if (strcmp(mode, "crash-early") == 0) {
        abort();
    }
    if (strcmp(mode, "noready") == 0) {
        testactor_never_ready(self);
    }
    rmq_actor_ready(self);
    if (strcmp(mode, "crash") == 0) {
        abort();
    }
    if (strcmp(mode, "exit1") == 0) {
        rmq_actor_exit(self, RMQ_EXIT_TRANSIENT);
    }
    if (strcmp(mode, "exit2") == 0) {
        rmq_actor_exit(self, RMQ_EXIT_FATAL);
    }
    if (strcmp(mode, "hang") == 0) {
        testactor_hang();
    }
    for (;;) {
        rmq_actor_clear_wakeup(self);
        if (self->stop_requested && strcmp(mode, "slowstop") != 0) {
            break;
        }
        if (self->reload_requested) {
            rmq_actor_reload(self);
            rmq_actor_count(self, 1, 1);
        }
        rmq_actor_count(self, 0, 1);
        self->stop_requested = 0;
        rmq_actor_wait(self, rmq_mono_ms() + 200, NULL, 0);
    }
    rmq_actor_exit(self, RMQ_EXIT_OK);
}
