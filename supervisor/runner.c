/*
 * runner.c - the actor runtime (actor.h).  Runs in every actor process,
 * right after the supervisor's fork+exec, before the actor's own main:
 * parent-death check, process title, log identity, control segment,
 * effective config, signal flags + wakeup fd, heartbeat, READY, clean
 * exit marker.  NNG is first touched by the actor's main, after exec.
 *
 * A crash here is like any actor crash: the supervisor restarts it.
 */
#include "supervisor/actor.h"

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

/* The one actor of this process; signal handlers reach it through here. */
static rmq_actor runner_self;
static int       runner_wakeup_wr = -1;

/*
 * Until READY a helper thread keeps the heartbeat fresh, so a long start
 * (recovering a big store, replaying its tail) is not taken for a hang;
 * startTimeoutSec still bounds the start.
 */
static pthread_t   runner_beat_thread;
static atomic_bool runner_beat_stop;
static bool        runner_beat_running;

static void *
runner_beat_main(void *arg)
{
    rmq_actor *self = arg;

    while (!atomic_load(&runner_beat_stop)) {
        atomic_store_explicit(&self->slot->act.s.heartbeat_ms, rmq_mono_ms(),
                              memory_order_relaxed);
        usleep(200 * 1000);
    }
    return NULL;
}

static void
runner_beat_start(rmq_actor *self)
{
    sigset_t all, old;

    /* signals go to the main thread: the helper blocks them all */
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    runner_beat_running =
        pthread_create(&runner_beat_thread, NULL, runner_beat_main, self) == 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

static void
runner_beat_stop_join(void)
{
    if (runner_beat_running) {
        atomic_store(&runner_beat_stop, true);
        pthread_join(runner_beat_thread, NULL);
        runner_beat_running = false;
    }
}

static void
runner_on_stop(int sig)
{
    int  saved = errno;
    char c = 's';

    runner_self.stop_requested = 1;
    if (write(runner_wakeup_wr, &c, 1) < 0) {
        /* pipe full: a wakeup is already pending */
    }
    errno = saved;
    (void)sig;
}

static void
runner_on_reload(int sig)
{
    int  saved = errno;
    char c = 'r';

    runner_self.reload_requested = 1;
    if (write(runner_wakeup_wr, &c, 1) < 0) {
        /* pipe full: a wakeup is already pending */
    }
    errno = saved;
    (void)sig;
}

struct runner_args {
    const char *name;
    const char *run_dir;
    uint64_t    gen;
    long        ppid;
};

static int
runner_parse_args(int argc, char **argv, struct runner_args *a)
{
    memset(a, 0, sizeof(*a));
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--actor") == 0) {
            a->name = argv[i + 1];
        } else if (strcmp(argv[i], "--rundir") == 0) {
            a->run_dir = argv[i + 1];
        } else if (strcmp(argv[i], "--gen") == 0) {
            a->gen = strtoull(argv[i + 1], NULL, 10);
        } else if (strcmp(argv[i], "--ppid") == 0) {
            a->ppid = strtol(argv[i + 1], NULL, 10);
        } else {
            return RMQ_ERR_INVAL;
        }
    }
    return (a->name && a->run_dir) ? 0 : RMQ_ERR_INVAL;
}

/* Rewrite argv in place so ps shows "rmq: <name>"; set comm too. */
static void
runner_set_title(int argc, char **argv, const char *name)
{
    char  *start = argv[0];
    char  *end = argv[argc - 1] + strlen(argv[argc - 1]);
    char   comm[16];
    size_t room = (size_t)(end - start);

    memset(start, 0, room);
    snprintf(start, room, "rmq: %s", name);
    snprintf(comm, sizeof(comm), "rmq-%s", name);
    prctl(PR_SET_NAME, comm, 0, 0, 0);
}

static int
runner_signals(rmq_actor *self)
{
    int              fds[2];
    struct sigaction sa;
    sigset_t         none;

    if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) {
        return RMQ_ERR_SYS;
    }
    self->wakeup_fd = fds[0];
    runner_wakeup_wr = fds[1];
    memset(&sa, 0, sizeof(sa));
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sa.sa_handler = runner_on_stop;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = runner_on_reload;
    sigaction(SIGHUP, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
    /* the supervisor held HUP/TERM/INT blocked across exec: pending ones
       arrive now, as flags */
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    return 0;
}

static int
runner_load_config(rmq_actor *self)
{
    char *text = rmq_ctl_config_read(&self->ctl);
    char  err[512];
    int   rc;

    if (text == NULL) {
        return RMQ_ERR_NOMEM;
    }
    rc = rmq_config_load_string(text, "<control segment>", &self->cfg, err,
                                sizeof(err));
    free(text);
    if (rc != 0) {
        rmq_log(RMQ_LOG_ERR, "actor.config", "cannot parse config: %s", err);
        return rc;
    }
    rmq_log_set_level(self->cfg.supervisor.log_level);
    return 0;
}

static void
runner_publish_counters(rmq_actor *self)
{
    rmq_slot_act *act = &self->slot->act.s;

    for (int i = 0; i < RMQ_COUNTER_MAX; i++) {
        atomic_store(&act->counters[i], 0);
        act->counter_names[i][0] = '\0';
    }
    for (int i = 0; i < RMQ_COUNTER_MAX && self->desc->counters[i]; i++) {
        rmq_strlcpy(act->counter_names[i], self->desc->counters[i],
                    RMQ_COUNTER_NAME_MAX);
    }
}

static int
runner_setup(rmq_actor *self, const struct runner_args *a)
{
    char path[RMQ_CONFIG_PATH_MAX + 16];
    int  rc;

    snprintf(path, sizeof(path), "%s/%s", a->run_dir, RMQ_CTL_FILE);
    /* every actor writes its own slot half (heartbeat, READY) */
    rc = rmq_ctl_attach(path, true, &self->ctl);
    if (rc != 0) {
        rmq_log(RMQ_LOG_ERR, "actor.attach",
                "cannot attach control segment \"%s\": %s", path,
                rmq_strerror(rc));
        return rc;
    }
    if (a->gen != 0 && self->ctl.hdr->generation != a->gen) {
        rmq_log(RMQ_LOG_ERR, "actor.attach",
                "control segment generation %llu is not ours (%llu)",
                (unsigned long long)self->ctl.hdr->generation,
                (unsigned long long)a->gen);
        return RMQ_ERR_VERSION;
    }
    self->slot = &self->ctl.slots[self->id];
    atomic_store(&self->slot->act.s.ready_pid, 0);
    atomic_store(&self->slot->act.s.clean_pid, 0);
    runner_publish_counters(self);
    rmq_actor_tick(self);
    self->reload_seen = atomic_load(&self->ctl.hdr->reload_count);
    rc = runner_load_config(self);
    if (rc != 0) {
        return rc;
    }
    return runner_signals(self);
}

int
rmq_runner_main(int argc, char **argv)
{
    struct runner_args a;
    rmq_actor         *self = &runner_self;
    int                id;
    int                rc;

    if (runner_parse_args(argc, argv, &a) != 0 ||
        (id = rmq_actor_lookup(a.name)) < 0 ||
        rmq_actor_table[id].main == NULL) {
        fprintf(stderr, "rmq: bad actor arguments\n");
        return RMQ_EXIT_FATAL;
    }
    /* PR_SET_PDEATHSIG was set before exec; the parent may already be gone */
    if (a.ppid != 0 && getppid() != a.ppid) {
        return RMQ_EXIT_OK;
    }
    self->id = id;
    self->desc = &rmq_actor_table[id];
    self->wakeup_fd = -1;
    rmq_log_init(self->desc->name);
    rmq_strlcpy(self->run_dir, a.run_dir, sizeof(self->run_dir));
    /* the title overwrites argv: nothing may point into it afterwards */
    runner_set_title(argc, argv, self->desc->name);
    a.run_dir = self->run_dir;
    a.name = self->desc->name;
    rc = runner_setup(self, &a);
    if (rc != 0) {
        return rc == RMQ_ERR_CONFIG ? RMQ_EXIT_FATAL : RMQ_EXIT_TRANSIENT;
    }
    runner_beat_start(self);
    self->desc->main(self);
    rmq_actor_exit(self, RMQ_EXIT_OK);
}

void
rmq_actor_ready(rmq_actor *self)
{
    runner_beat_stop_join();
    rmq_actor_tick(self);
    atomic_store_explicit(&self->slot->act.s.ready_pid, (int32_t)getpid(),
                          memory_order_release);
    kill(getppid(), SIGUSR1);
    rmq_log(RMQ_LOG_INFO, "actor.ready", "ready");
}

void
rmq_actor_exit(rmq_actor *self, int code)
{
    runner_beat_stop_join();
    if (self->slot != NULL && code == RMQ_EXIT_OK) {
        atomic_store(&self->slot->act.s.clean_pid, (int32_t)getpid());
    }
    exit(code);
}

void
rmq_actor_clear_wakeup(rmq_actor *self)
{
    char junk[64];

    while (read(self->wakeup_fd, junk, sizeof(junk)) > 0) {
    }
}

void
rmq_actor_tick(rmq_actor *self)
{
    int64_t now = rmq_mono_ms();

    if (now - self->last_beat_ms >= 100 || now < self->last_beat_ms) {
        self->last_beat_ms = now;
        atomic_store_explicit(&self->slot->act.s.heartbeat_ms, now,
                              memory_order_relaxed);
    }
}

int
rmq_actor_wait(rmq_actor *self, int64_t deadline_ms, struct pollfd *fds,
               int nfds)
{
    struct pollfd all[16];
    int           n = 0;
    int64_t       wait_ms = 1000; /* cap: keeps the heartbeat fresh */
    int           rc;

    RMQ_ASSERT(nfds >= 0 && nfds < 16);
    if (deadline_ms >= 0) {
        wait_ms = RMQ_MIN(wait_ms, RMQ_MAX(deadline_ms - rmq_mono_ms(), 0));
    }
    all[n++] = (struct pollfd){.fd = self->wakeup_fd, .events = POLLIN};
    for (int i = 0; i < nfds; i++) {
        all[n++] = fds[i];
    }
    rc = (self->stop_requested || self->reload_requested)
             ? 0
             : poll(all, (nfds_t)n, (int)wait_ms);
    for (int i = 0; i < nfds; i++) {
        fds[i].revents = rc > 0 ? all[i + 1].revents : 0;
    }
    rmq_actor_tick(self);
    return rc < 0 ? 0 : rc;
}

int
rmq_actor_reload(rmq_actor *self)
{
    self->reload_requested = 0;
    self->reload_seen = atomic_load(&self->ctl.hdr->reload_count);
    return runner_load_config(self);
}

void
rmq_actor_ipc_url(const char *run_dir, const char *owner, const char *purpose,
                  char *out, size_t cap)
{
    snprintf(out, cap, "ipc://%s/%s.%s", run_dir, owner, purpose);
}
