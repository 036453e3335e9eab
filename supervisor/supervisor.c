/*
 * supervisor.c - the rmq-supervisor process: creates the control segment,
 * forks+execs the actors of the table in start order (each must be READY
 * before the next starts), reaps them, restarts them one_for_one with
 * backoff under a per-actor intensity limit, stops them in reverse order
 * on SIGTERM/SIGINT, reloads the config on SIGHUP, serves rmqctl on
 * ipc://<runDir>/ctl and speaks the systemd notify protocol.
 *
 * It never maps the store and never takes a lock in shared memory.  If it
 * dies, every actor dies with it (PR_SET_PDEATHSIG), and the next start
 * replaces the control segment.
 *
 * One loop, one wait point: poll on a signalfd (CHLD, TERM, INT, HUP,
 * USR1 = "an actor became READY") and the control socket, with a timeout
 * from the earliest pending deadline.
 */
#include "supervisor/sup.h"

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define SUP_HEALTH_INTERVAL_MS 500

static bool
sup_actor_wanted(const rmq_config *cfg, const rmq_actor_desc *d)
{
    if (d->main == NULL) {
        return false;
    }
    switch (d->role) {
    case RMQ_ROLE_NAMESRV:
        return cfg->has_namesrv && cfg->namesrv.enabled;
    case RMQ_ROLE_BROKER:
        return cfg->has_broker;
    case RMQ_ROLE_TEST:
        /* the test actor runs only when a test asks for it */
        return getenv("RMQ_TESTACTOR") != NULL;
    }
    return false;
}

static rmq_slot_sup *
sup_slot(rmq_sup *s, const struct sup_actor *a)
{
    return &s->ctl.slots[a->id].sup.s;
}

static void
sup_set_state(rmq_sup *s, struct sup_actor *a, int state)
{
    a->state = state;
    atomic_store(&sup_slot(s, a)->state, (uint32_t)state);
}

bool
rmq_sup_actor_ready(const rmq_sup *s, const struct sup_actor *a)
{
    const rmq_actor_slot *slot = &s->ctl.slots[a->id];

    return a->pid > 0 && a->state == RMQ_ASTATE_RUNNING &&
           atomic_load_explicit(&((rmq_actor_slot *)slot)->act.s.ready_pid,
                                memory_order_acquire) == a->pid;
}

const char *
rmq_sup_actor_state(const rmq_sup *s, const struct sup_actor *a)
{
    if (a->state == RMQ_ASTATE_RUNNING) {
        return rmq_sup_actor_ready(s, a) ? "ready" : "starting";
    }
    return rmq_actor_state_name((unsigned)a->state);
}

/* Build argv before fork: the child may only call async-signal-safe code. */
struct sup_argv {
    char  title[64], gen[32], ppid[32];
    char *argv[12];
};

static void
sup_build_argv(rmq_sup *s, const struct sup_actor *a, struct sup_argv *v)
{
    snprintf(v->title, sizeof(v->title), "rmq: %s", a->desc->name);
    snprintf(v->gen, sizeof(v->gen), "%" PRIu64, s->ctl.hdr->generation);
    snprintf(v->ppid, sizeof(v->ppid), "%ld", (long)getpid());
    v->argv[0] = v->title;
    v->argv[1] = "--actor";
    v->argv[2] = (char *)a->desc->name;
    v->argv[3] = "--rundir";
    v->argv[4] = s->cfg.supervisor.run_dir;
    v->argv[5] = "--gen";
    v->argv[6] = v->gen;
    v->argv[7] = "--ppid";
    v->argv[8] = v->ppid;
    v->argv[9] = NULL;
}

static int
sup_spawn(rmq_sup *s, struct sup_actor *a)
{
    struct sup_argv v;
    pid_t           parent = getpid();
    pid_t           pid;
    rmq_slot_sup   *slot = sup_slot(s, a);

    sup_build_argv(s, a, &v);
    pid = fork();
    if (pid < 0) {
        rmq_log_sys(RMQ_LOG_ERR, "actor.spawn", errno, "could not fork %s",
                    a->desc->name);
        return RMQ_ERR_SYS;
    }
    if (pid == 0) {
        sigset_t held;

        /* child: only async-signal-safe calls until exec (NNG threads!) */
        /*
         * SIGHUP/SIGTERM/SIGINT stay blocked across exec: until the runner
         * installs its handlers (and unblocks everything) their default
         * action would kill the new actor, e.g. when a reload races with a
         * restart.  Blocked, they stay pending and arrive as flags.
         */
        sigemptyset(&held);
        sigaddset(&held, SIGHUP);
        sigaddset(&held, SIGTERM);
        sigaddset(&held, SIGINT);
        sigprocmask(SIG_SETMASK, &held, NULL);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) {
            _exit(RMQ_EXIT_OK);
        }
        execv(s->self_exe, v.argv);
        _exit(127);
    }
    a->pid = pid;
    a->spawned_ms = rmq_mono_ms();
    a->kill_sent = false;
    a->was_ready = false;
    atomic_store(&slot->pid, pid);
    atomic_store(&slot->start_ms, rmq_now_ms());
    sup_set_state(s, a, RMQ_ASTATE_RUNNING);
    rmq_log(RMQ_LOG_INFO, "actor.spawn", "started %s (pid %ld)", a->desc->name,
            (long)pid);
    return 0;
}

static void
sup_begin_shutdown(rmq_sup *s, int exit_code, const char *why)
{
    if (s->stopping) {
        return;
    }
    s->stopping = true;
    s->exit_code = exit_code;
    atomic_store(&s->ctl.hdr->sup_state, RMQ_SUP_STOPPING);
    rmq_notify("STOPPING=1");
    rmq_log(exit_code == 0 ? RMQ_LOG_INFO : RMQ_LOG_ERR, "supervisor.stop",
            "stopping all actors: %s", why);
}

static void
sup_describe_exit(int status, char *out, size_t cap, int *code)
{
    if (WIFEXITED(status)) {
        *code = WEXITSTATUS(status);
        snprintf(out, cap, "exited with code %d", *code);
    } else {
        *code = -WTERMSIG(status);
        snprintf(out, cap, "killed by signal %d (%s)", WTERMSIG(status),
                 strsignal(WTERMSIG(status)));
    }
}

static bool
sup_should_restart(const struct sup_actor *a, int code)
{
    switch (a->desc->restart) {
    case RMQ_RESTART_PERMANENT:
        return true;
    case RMQ_RESTART_TRANSIENT:
        return code != RMQ_EXIT_OK;
    default:
        return false;
    }
}

static void
sup_schedule_restart(rmq_sup *s, struct sup_actor *a)
{
    int64_t now = rmq_mono_ms();
    int     intensity = s->cfg.supervisor.restart_intensity;
    int     period = s->cfg.supervisor.restart_period_sec;
    char    why[200];

    if (rmq_policy_record(&a->window, now, intensity, period)) {
        rmq_log(RMQ_LOG_ERR, "supervisor.crashloop",
                "%s exited %u times within %d s (restartIntensity %d): "
                "crash loop, giving up",
                a->desc->name, rmq_policy_recent(&a->window, now, period),
                period, intensity);
        snprintf(why, sizeof(why), "%s is crash-looping", a->desc->name);
        sup_set_state(s, a, RMQ_ASTATE_STOPPED);
        sup_begin_shutdown(s, RMQ_SUP_EXIT_FATAL, why);
        return;
    }
    a->restart_at_ms = now + rmq_policy_backoff_ms(&a->window, now, period);
    sup_set_state(s, a, RMQ_ASTATE_BACKOFF);
    rmq_log(RMQ_LOG_WARN, "actor.restart", "restarting %s in %lld ms",
            a->desc->name, (long long)(a->restart_at_ms - now));
}

static void
sup_on_exit(rmq_sup *s, struct sup_actor *a, int status)
{
    rmq_slot_sup *slot = sup_slot(s, a);
    char          what[96];
    char          why[200];
    int           code;

    sup_describe_exit(status, what, sizeof(what), &code);
    atomic_store(&slot->last_exit, code);
    atomic_store(&slot->exit_ms, rmq_now_ms());
    atomic_fetch_add(&slot->exits, 1);
    rmq_log(s->stopping || code == 0 ? RMQ_LOG_INFO : RMQ_LOG_WARN,
            "actor.exit", "%s (pid %ld) %s", a->desc->name, (long)a->pid, what);
    a->pid = 0;
    if (s->stopping) {
        sup_set_state(s, a, RMQ_ASTATE_STOPPED);
        return;
    }
    if (a->restart_requested) {
        a->restart_requested = false;
        a->restart_at_ms = rmq_mono_ms();
        sup_set_state(s, a, RMQ_ASTATE_BACKOFF);
        return;
    }
    if (code == RMQ_EXIT_FATAL) {
        snprintf(why, sizeof(why), "%s failed fatally (exit code 2)",
                 a->desc->name);
        sup_set_state(s, a, RMQ_ASTATE_STOPPED);
        sup_begin_shutdown(s, RMQ_SUP_EXIT_FATAL, why);
        return;
    }
    if (!sup_should_restart(a, code)) {
        sup_set_state(s, a, RMQ_ASTATE_STOPPED);
        return;
    }
    sup_schedule_restart(s, a);
}

static struct sup_actor *
sup_find_pid(rmq_sup *s, pid_t pid)
{
    for (int i = 0; i < RMQ_ACTOR__COUNT; i++) {
        if (s->actors[i].pid == pid) {
            return &s->actors[i];
        }
    }
    return NULL;
}

static void
sup_reap(rmq_sup *s)
{
    int   status;
    pid_t pid;

    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        struct sup_actor *a = sup_find_pid(s, pid);

        if (a != NULL) {
            sup_on_exit(s, a, status);
        }
    }
}

static void
sup_reload(rmq_sup *s)
{
    rmq_config next;
    char       err[512];
    char      *text;
    int        changed;

    if (s->config_path == NULL) {
        rmq_log(RMQ_LOG_INFO, "config.reload",
                "running on the embedded default config: nothing to reload");
        return;
    }
    if (rmq_config_load_file(s->config_path, &next, err, sizeof(err)) != 0) {
        rmq_log(RMQ_LOG_ERR, "config.reload", "kept the running config: %s",
                err);
        return;
    }
    changed = rmq_config_apply_reload(&s->cfg, &next);
    rmq_log_set_level(s->cfg.supervisor.log_level);
    text = rmq_config_to_string(&s->cfg);
    if (text == NULL || rmq_ctl_config_write(&s->ctl, text) != 0) {
        rmq_log(RMQ_LOG_ERR, "config.reload", "could not publish the config");
        free(text);
        return;
    }
    free(text);
    atomic_fetch_add(&s->ctl.hdr->reload_count, 1);
    for (int i = 0; i < s->norder; i++) {
        struct sup_actor *a = &s->actors[s->order[i]];
        if (a->pid > 0) {
            kill(a->pid, SIGHUP);
        }
    }
    rmq_log(RMQ_LOG_INFO, "config.reload", "reloaded %s: %d key(s) changed",
            s->config_path, changed);
}

static void
sup_read_signals(rmq_sup *s)
{
    struct signalfd_siginfo si;

    while (read(s->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        switch (si.ssi_signo) {
        case SIGCHLD:
            sup_reap(s);
            break;
        case SIGTERM:
        case SIGINT:
            sup_begin_shutdown(s, RMQ_SUP_EXIT_OK,
                               si.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT");
            break;
        case SIGHUP:
            sup_reload(s);
            break;
        default: /* SIGUSR1: an actor became READY; checked below */
            break;
        }
    }
    sup_reap(s); /* CHLD signals coalesce; never miss an exit */
}

/* Start the next actor once everything before it is READY. */
static void
sup_start_next(rmq_sup *s)
{
    while (s->next_start < s->norder) {
        struct sup_actor *prev =
            s->next_start > 0 ? &s->actors[s->order[s->next_start - 1]] : NULL;

        if (prev != NULL && !rmq_sup_actor_ready(s, prev)) {
            return;
        }
        if (sup_spawn(s, &s->actors[s->order[s->next_start]]) != 0) {
            sup_begin_shutdown(s, RMQ_SUP_EXIT_FATAL, "could not fork");
            return;
        }
        s->next_start++;
        return;
    }
}

static void
sup_check_all_ready(rmq_sup *s)
{
    if (s->all_ready || s->next_start < s->norder) {
        return;
    }
    for (int i = 0; i < s->norder; i++) {
        if (!rmq_sup_actor_ready(s, &s->actors[s->order[i]])) {
            return;
        }
    }
    s->all_ready = true;
    s->ctl.hdr->ready_ms = rmq_mono_ms() - s->start_ms;
    atomic_store(&s->ctl.hdr->sup_state, RMQ_SUP_RUNNING);
    rmq_notify("READY=1");
    rmq_log(RMQ_LOG_INFO, "supervisor.ready", "all %d actors ready in %lld ms",
            s->norder, (long long)s->ctl.hdr->ready_ms);
}

static void
sup_kill(struct sup_actor *a, int sig, const char *why)
{
    rmq_log(RMQ_LOG_WARN, "actor.kill", "killing %s (pid %ld): %s",
            a->desc->name, (long)a->pid, why);
    kill(a->pid, sig);
    a->kill_sent = true;
}

/* Hung or stuck-at-start actors are killed; their exit restarts them. */
static void
sup_check_health(rmq_sup *s, int64_t now)
{
    int64_t hb_limit = (int64_t)s->cfg.supervisor.heartbeat_timeout_sec * 1000;
    int64_t start_limit = (int64_t)s->cfg.supervisor.start_timeout_sec * 1000;

    for (int i = 0; i < s->norder; i++) {
        struct sup_actor *a = &s->actors[s->order[i]];
        int64_t           hb;

        if (a->pid <= 0 || a->state != RMQ_ASTATE_RUNNING || a->kill_sent) {
            continue;
        }
        if (rmq_sup_actor_ready(s, a)) {
            a->was_ready = true;
        } else if (now - a->spawned_ms > start_limit) {
            sup_kill(a, SIGKILL, "not ready within startTimeoutSec");
            continue;
        }
        hb = atomic_load(&s->ctl.slots[a->id].act.s.heartbeat_ms);
        if (now - a->spawned_ms > hb_limit && now - hb > hb_limit) {
            sup_kill(a, SIGKILL, "heartbeat stale beyond heartbeatTimeoutSec");
        }
    }
}

static bool
sup_heartbeats_fresh(rmq_sup *s, int64_t now)
{
    int64_t limit = (int64_t)s->cfg.supervisor.heartbeat_timeout_sec * 1000;

    for (int i = 0; i < s->norder; i++) {
        struct sup_actor *a = &s->actors[s->order[i]];
        if (a->pid > 0 &&
            now - atomic_load(&s->ctl.slots[a->id].act.s.heartbeat_ms) >
                limit) {
            return false;
        }
    }
    return true;
}

static void
sup_restart_due(rmq_sup *s, int64_t now)
{
    for (int i = 0; i < s->next_start; i++) {
        struct sup_actor *a = &s->actors[s->order[i]];

        if (a->state == RMQ_ASTATE_BACKOFF && now >= a->restart_at_ms) {
            atomic_fetch_add(&sup_slot(s, a)->restarts, 1);
            if (sup_spawn(s, a) != 0) {
                a->restart_at_ms = now + 1000;
            }
        }
    }
}

/* Stop actors one at a time, in reverse start order. */
static void
sup_stop_step(rmq_sup *s, int64_t now)
{
    for (int i = s->next_start - 1; i >= 0; i--) {
        struct sup_actor *a = &s->actors[s->order[i]];

        if (a->pid <= 0) {
            if (a->state != RMQ_ASTATE_STOPPED) {
                sup_set_state(s, a, RMQ_ASTATE_STOPPED);
            }
            continue;
        }
        if (a->state != RMQ_ASTATE_STOPPING) {
            sup_set_state(s, a, RMQ_ASTATE_STOPPING);
            a->stop_deadline_ms = now + a->desc->stop_timeout_ms;
            rmq_log(RMQ_LOG_INFO, "actor.stop", "stopping %s (pid %ld)",
                    a->desc->name, (long)a->pid);
            kill(a->pid, SIGTERM);
        } else if (now >= a->stop_deadline_ms && !a->kill_sent) {
            sup_kill(a, SIGKILL, "did not stop within its stop timeout");
        }
        return; /* wait for this one before the next */
    }
}

static bool
sup_all_stopped(const rmq_sup *s)
{
    for (int i = 0; i < s->norder; i++) {
        if (s->actors[s->order[i]].pid > 0) {
            return false;
        }
    }
    return true;
}

static int64_t
sup_next_deadline(rmq_sup *s, int64_t now)
{
    int64_t next = now + SUP_HEALTH_INTERVAL_MS;

    for (int i = 0; i < s->norder; i++) {
        struct sup_actor *a = &s->actors[s->order[i]];
        if (a->state == RMQ_ASTATE_BACKOFF) {
            next = RMQ_MIN(next, a->restart_at_ms);
        }
        if (a->state == RMQ_ASTATE_STOPPING && !a->kill_sent) {
            next = RMQ_MIN(next, a->stop_deadline_ms);
        }
    }
    if (s->watchdog_usec > 0) {
        next = RMQ_MIN(next, s->next_watchdog_ms);
    }
    return next;
}

static void
sup_tick(rmq_sup *s)
{
    int64_t now = rmq_mono_ms();

    if (s->stopping) {
        sup_stop_step(s, now);
        return;
    }
    sup_restart_due(s, now);
    sup_start_next(s);
    sup_check_all_ready(s);
    if (now >= s->next_health_ms) {
        sup_check_health(s, now);
        s->next_health_ms = now + SUP_HEALTH_INTERVAL_MS;
    }
    if (s->watchdog_usec > 0 && now >= s->next_watchdog_ms) {
        if (sup_heartbeats_fresh(s, now)) {
            rmq_notify("WATCHDOG=1");
        }
        s->next_watchdog_ms = now + s->watchdog_usec / 2000;
    }
}

static int
sup_loop(rmq_sup *s)
{
    for (;;) {
        struct pollfd pf[2];
        int           n = 0;
        int64_t       now;

        sup_tick(s);
        if (s->stopping && sup_all_stopped(s)) {
            return s->exit_code;
        }
        now = rmq_mono_ms();
        pf[n++] = (struct pollfd){.fd = s->sigfd, .events = POLLIN};
        if (s->ctlsock_open) {
            pf[n++] = (struct pollfd){.fd = s->ctlsock_fd, .events = POLLIN};
        }
        if (poll(pf, (nfds_t)n,
                 (int)RMQ_MAX(sup_next_deadline(s, now) - now, 0)) < 0 &&
            errno != EINTR) {
            rmq_log_sys(RMQ_LOG_ERR, "supervisor.poll", errno, "poll failed");
            sleep(1);
        }
        sup_read_signals(s);
        if (s->ctlsock_open && n > 1 && (pf[1].revents & POLLIN)) {
            rmq_ctlsock_serve(s);
        }
    }
}

int
rmq_sup_restart_actor(rmq_sup *s, int id, char *why, size_t cap)
{
    struct sup_actor *a;

    if (id < 0 || !s->actors[id].enabled) {
        snprintf(why, cap, "no such actor running here");
        return RMQ_ERR_NOTFOUND;
    }
    a = &s->actors[id];
    if (s->stopping) {
        snprintf(why, cap, "the supervisor is stopping");
        return RMQ_ERR_BUSY;
    }
    if (a->state == RMQ_ASTATE_BACKOFF) {
        a->restart_at_ms = rmq_mono_ms();
        snprintf(why, cap, "%s restarts now", a->desc->name);
        return 0;
    }
    if (a->pid <= 0) {
        snprintf(why, cap, "%s is not running (%s)", a->desc->name,
                 rmq_sup_actor_state(s, a));
        return RMQ_ERR_BUSY;
    }
    a->restart_requested = true;
    kill(a->pid, SIGTERM);
    snprintf(why, cap, "restarting %s (pid %ld)", a->desc->name, (long)a->pid);
    rmq_log(RMQ_LOG_INFO, "actor.restart", "%s requested by rmqctl", why);
    return 0;
}

static int
sup_prepare_rundir(rmq_sup *s)
{
    char path[RMQ_CONFIG_PATH_MAX + 32];
    char cmd[RMQ_CONFIG_PATH_MAX + 32];

    snprintf(cmd, sizeof(cmd), "%s", s->cfg.supervisor.run_dir);
    /* mkdir -p */
    for (char *p = cmd + 1; *p != '\0'; p++) {
        if (*p == '/') {
            *p = '\0';
            mkdir(cmd, 0755);
            *p = '/';
        }
    }
    if (mkdir(cmd, 0755) != 0 && errno != EEXIST) {
        rmq_log_sys(RMQ_LOG_ERR, "supervisor.rundir", errno,
                    "cannot create run directory \"%s\"", cmd);
        return RMQ_ERR_SYS;
    }
    snprintf(path, sizeof(path), "%s/supervisor.lock",
             s->cfg.supervisor.run_dir);
    s->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (s->lock_fd < 0 || flock(s->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        rmq_log_sys(RMQ_LOG_ERR, "supervisor.lock", errno,
                    "cannot lock \"%s\": is another supervisor using this "
                    "runDir?",
                    path);
        return RMQ_ERR_BUSY;
    }
    return 0;
}

static int
sup_init_ctl(rmq_sup *s)
{
    char *text;
    int   rc;

    snprintf(s->ctl_path, sizeof(s->ctl_path), "%s/%s",
             s->cfg.supervisor.run_dir, RMQ_CTL_FILE);
    rc = rmq_ctl_create(s->ctl_path, &s->ctl);
    if (rc != 0) {
        return rc;
    }
    text = rmq_config_to_string(&s->cfg);
    rc = text ? rmq_ctl_config_write(&s->ctl, text) : RMQ_ERR_NOMEM;
    free(text);
    if (rc != 0) {
        rmq_log(RMQ_LOG_ERR, "supervisor.config", "cannot publish config: %s",
                rmq_strerror(rc));
        return rc;
    }
    rmq_strlcpy(s->ctl.hdr->config_source,
                s->config_path ? s->config_path : "<embedded>",
                sizeof(s->ctl.hdr->config_source));
    for (int i = 0; i < RMQ_ACTOR__COUNT; i++) {
        struct sup_actor *a = &s->actors[i];
        a->id = i;
        a->desc = &rmq_actor_table[i];
        a->enabled = sup_actor_wanted(&s->cfg, a->desc);
        rmq_strlcpy(s->ctl.slots[i].sup.s.name, a->desc->name,
                    RMQ_ACTOR_NAME_MAX);
        s->ctl.slots[i].sup.s.restart_type = (uint32_t)a->desc->restart;
        sup_set_state(s, a, a->enabled ? RMQ_ASTATE_WAITING : RMQ_ASTATE_NONE);
        if (a->enabled) {
            s->order[s->norder++] = i;
        }
    }
    s->ctl.hdr->actor_count = RMQ_ACTOR__COUNT;
    return 0;
}

static int
sup_init_signals(rmq_sup *s)
{
    sigset_t set;

    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGUSR1);
    sigprocmask(SIG_BLOCK, &set, NULL);
    s->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    return s->sigfd < 0 ? RMQ_ERR_SYS : 0;
}

/*
 * Thousands of client connections need as many descriptors: raise the
 * soft limit to the hard one (actors inherit it).  Not fatal.
 */
static void
sup_raise_nofile(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
            rmq_log_sys(RMQ_LOG_WARN, "supervisor.nofile", errno,
                        "could not raise the open-file limit");
        }
    }
}

static int
sup_init(rmq_sup *s)
{
    ssize_t n =
        readlink("/proc/self/exe", s->self_exe, sizeof(s->self_exe) - 1);
    int rc;

    if (n <= 0) {
        return RMQ_ERR_SYS;
    }
    s->self_exe[n] = '\0';
    s->start_ms = rmq_mono_ms();
    sup_raise_nofile();
    rc = sup_init_signals(s);
    if (rc == 0) {
        rc = sup_prepare_rundir(s);
    }
    if (rc == 0) {
        rc = sup_init_ctl(s);
    }
    if (rc == 0) {
        rc = rmq_ctlsock_open(s);
    }
    s->watchdog_usec = rmq_notify_watchdog_usec();
    s->next_watchdog_ms = s->start_ms;
    return rc;
}

int
rmq_sup_run(const rmq_config *cfg, const char *config_path)
{
    static rmq_sup s; /* large; one per process */
    int            rc;

    memset(&s, 0, sizeof(s));
    s.cfg = *cfg;
    s.config_path = config_path;
    s.sigfd = -1;
    s.lock_fd = -1;
    rmq_log_set_level(cfg->supervisor.log_level);
    rmq_log(RMQ_LOG_INFO, "supervisor.start",
            "rmq %s starting (config %s, runDir %s)", RMQ_VERSION,
            config_path ? config_path : "<embedded>", cfg->supervisor.run_dir);
    if (sup_init(&s) != 0) {
        rmq_log(RMQ_LOG_ERR, "supervisor.start", "cannot start");
        return RMQ_SUP_EXIT_CONFIG;
    }
    rc = sup_loop(&s);
    rmq_ctlsock_close(&s);
    rmq_log(rc == 0 ? RMQ_LOG_INFO : RMQ_LOG_ERR, "supervisor.exit",
            "all actors stopped; exiting with code %d", rc);
    return rc;
}
