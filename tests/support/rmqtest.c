/*
 * rmqtest.c - helpers for multi-process tests (see rmqtest.h).  Runs in a
 * Check test process (usually Check's forked child); the unchecked fixture
 * pair runs in Check's parent.  Spawned programs are tracked by process
 * group in a small table local to the test process.
 */
#include "tests/support/rmqtest.h"

#include "shm/control.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define RT_GROUPS_MAX 64

/* Process groups this test started; leader_reaped once we waited it. */
static struct {
    pid_t pgid;
    bool  leader_reaped;
} rt_groups[RT_GROUPS_MAX];
static int   rt_ngroups;
static char *rt_base; /* per-TCase base dir (set in Check's parent) */

/* ---- suites and fixtures ---------------------------------------------- */

int
rmqtest_run_suite(Suite *s)
{
    SRunner *sr = srunner_create(s);
    int      failed;

    srunner_run_all(sr, CK_ENV);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}

static const char *
rt_tmp_root(void)
{
    const char *t = getenv("TMPDIR");

    return (t != NULL && t[0] == '/') ? t : "/tmp";
}

static void rt_kill_children(bool only_our_groups);
static void rt_reap_children(int timeout_ms);

void
rmqtest_base_setup(void)
{
    char *tmpl = rmqtest_strf("%s/rmqtest-XXXXXX", rt_tmp_root());

    /* a test that dies (failed assertion, timeout) leaves its children to
       us rather than to init: the teardown below kills and reaps them */
    prctl(PR_SET_CHILD_SUBREAPER, 1);

    if (mkdtemp(tmpl) == NULL) {
        ck_abort_msg("cannot create base dir %s: %s", tmpl, strerror(errno));
    }
    rt_base = tmpl;
}

void
rmqtest_base_teardown(void)
{
    rt_kill_children(false);
    rt_reap_children(5000);
    if (rt_base == NULL) {
        return;
    }
    if (getenv("RMQTEST_KEEP") != NULL) {
        fprintf(stderr, "rmqtest: kept %s\n", rt_base);
    } else {
        rmqtest_rm_rf(rt_base);
    }
    free(rt_base);
    rt_base = NULL;
}

const char *
rmqtest_env(const char *name)
{
    const char *v = getenv(name);

    if (v == NULL || v[0] == '\0') {
        ck_abort_msg("environment variable %s is not set (run through ctest)",
                     name);
    }
    return v;
}

int
rmqtest_scale_ms(int ms)
{
    const char *m = getenv("CK_TIMEOUT_MULTIPLIER");
    double      f = m ? strtod(m, NULL) : 1.0;

    return f > 1.0 ? (int)(ms * f) : ms;
}

/* ---- files and directories -------------------------------------------- */

char *
rmqtest_strf(const char *fmt, ...)
{
    va_list ap;
    char   *s = NULL;

    va_start(ap, fmt);
    if (vasprintf(&s, fmt, ap) < 0) {
        s = NULL;
    }
    va_end(ap);
    ck_assert_msg(s != NULL, "out of memory");
    return s;
}

char *
rmqtest_mkdtemp(const char *tag)
{
    char *tmpl =
        rmqtest_strf("%s/%s-XXXXXX", rt_base ? rt_base : rt_tmp_root(), tag);

    if (mkdtemp(tmpl) == NULL) {
        ck_abort_msg("cannot create temp dir %s: %s", tmpl, strerror(errno));
    }
    return tmpl;
}

static int
rt_rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path) == 0 || errno == ENOENT ? 0 : -1;
}

int
rmqtest_rm_rf(const char *path)
{
    if (path == NULL) {
        return 0;
    }
    return nftw(path, rt_rm_one, 16, FTW_DEPTH | FTW_PHYS) == 0 ||
                   errno == ENOENT
               ? 0
               : -1;
}

void
rmqtest_write_file(const char *path, const char *fmt, ...)
{
    va_list ap;
    FILE   *f = fopen(path, "w");
    int     rc;

    ck_assert_msg(f != NULL, "cannot write %s: %s", path, strerror(errno));
    va_start(ap, fmt);
    rc = vfprintf(f, fmt, ap);
    va_end(ap);
    ck_assert_msg(fclose(f) == 0 && rc >= 0, "cannot write %s", path);
}

char *
rmqtest_read_file(const char *path, size_t *len_out)
{
    FILE  *f = fopen(path, "r");
    char  *buf = NULL;
    size_t len = 0;
    size_t cap = 0;
    size_t n;

    if (f == NULL) {
        return NULL;
    }
    do {
        if (cap - len < 4096) {
            cap = cap ? cap * 2 : 8192;
            buf = realloc(buf, cap);
            ck_assert_msg(buf != NULL, "out of memory");
        }
        n = fread(buf + len, 1, cap - len - 1, f);
        len += n;
    } while (n > 0);
    fclose(f);
    buf[len] = '\0';
    if (len_out != NULL) {
        *len_out = len;
    }
    return buf;
}

int
rmqtest_file_count(const char *path, const char *needle)
{
    char *text = rmqtest_read_file(path, NULL);
    int   n = 0;

    for (char *line = text; line != NULL && *line != '\0';) {
        char *nl = strchr(line, '\n');

        if (nl != NULL) {
            *nl = '\0';
        }
        n += strstr(line, needle) != NULL;
        line = nl ? nl + 1 : NULL;
    }
    free(text);
    return n;
}

bool
rmqtest_file_contains(const char *path, const char *needle)
{
    return rmqtest_file_count(path, needle) > 0;
}

struct rt_file_needle {
    const char *path;
    const char *needle;
};

static bool
rt_file_has(void *arg)
{
    struct rt_file_needle *fn = arg;

    return rmqtest_file_contains(fn->path, fn->needle);
}

bool
rmqtest_wait_file_contains(const char *path, const char *needle, int timeout_ms)
{
    struct rt_file_needle fn = {path, needle};

    return rmqtest_wait_until(rt_file_has, &fn, timeout_ms);
}

/* ---- ports ------------------------------------------------------------- */

/* Bind 127.0.0.1:port (0 = any); returns the bound port or -1. */
static int
rt_bind_port(int port)
{
    struct sockaddr_in sa;
    socklen_t          len = sizeof(sa);
    int                fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int                got = -1;

    if (fd < 0) {
        return -1;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = htons((uint16_t)port);
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
        getsockname(fd, (struct sockaddr *)&sa, &len) == 0) {
        got = ntohs(sa.sin_port);
    }
    close(fd);
    return got;
}

int
rmqtest_free_port(void)
{
    int port = rt_bind_port(0);

    ck_assert_msg(port > 0, "cannot find a free loopback port");
    return port;
}

int
rmqtest_free_broker_port(void)
{
    for (int i = 0; i < 200; i++) {
        int p = rmqtest_free_port();

        if (p - 2 >= 1024 && p + 1 <= 65535 && rt_bind_port(p - 2) == p - 2 &&
            rt_bind_port(p + 1) == p + 1 && rt_bind_port(p) == p) {
            return p;
        }
    }
    ck_abort_msg("cannot find a free broker port (P, P-2, P+1)");
    return -1;
}

/* ---- waiting ----------------------------------------------------------- */

int64_t
rmqtest_now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t
rmqtest_now_ms(void)
{
    return rmqtest_now_us() / 1000;
}

static void
rt_sleep_us(int64_t us)
{
    struct timespec ts = {(time_t)(us / 1000000), (long)(us % 1000000) * 1000};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

bool
rmqtest_wait_until(rmqtest_cond_fn cond, void *arg, int timeout_ms)
{
    int64_t deadline =
        rmqtest_now_us() + (int64_t)rmqtest_scale_ms(timeout_ms) * 1000;
    int64_t step = 1000;

    for (;;) {
        int64_t left;

        if (cond(arg)) {
            return true;
        }
        left = deadline - rmqtest_now_us();
        if (left <= 0) {
            return cond(arg);
        }
        rt_sleep_us(step < left ? step : left);
        step = step * 2 > 20000 ? 20000 : step * 2;
    }
}

/* ---- processes --------------------------------------------------------- */

static void
rt_register_group(pid_t pgid)
{
    ck_assert_msg(rt_ngroups < RT_GROUPS_MAX, "too many spawned processes");
    rt_groups[rt_ngroups].pgid = pgid;
    rt_groups[rt_ngroups].leader_reaped = false;
    rt_ngroups++;
}

static void
rt_mark_reaped(pid_t pid)
{
    for (int i = 0; i < rt_ngroups; i++) {
        if (rt_groups[i].pgid == pid) {
            rt_groups[i].leader_reaped = true;
        }
    }
}

/* Child side of a spawn: environment edits (single-threaded parent). */
static void
rt_child_env(const char *const env[])
{
    static const char *const scrub[] = {"NOTIFY_SOCKET", "WATCHDOG_USEC",
                                        "WATCHDOG_PID",  "JOURNAL_STREAM",
                                        "RMQ_TESTACTOR", NULL};

    for (int i = 0; scrub[i] != NULL; i++) {
        unsetenv(scrub[i]);
    }
    for (int i = 0; env != NULL && env[i] != NULL; i++) {
        char *eq = strchr(env[i], '=');

        if (eq == NULL) {
            unsetenv(env[i]);
        } else {
            char name[128];
            snprintf(name, sizeof(name), "%.*s", (int)(eq - env[i]), env[i]);
            setenv(name, eq + 1, 1);
        }
    }
}

/* Child side: stdio, no inherited fds, die with the test. */
static void
rt_child_setup(pid_t parent, int out_fd, int err_fd)
{
    sigset_t none;
    int      in = open("/dev/null", O_RDONLY);

    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) {
        _exit(127);
    }
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    dup2(in, 0);
    dup2(out_fd, 1);
    dup2(err_fd, 2);
    if (syscall(SYS_close_range, 3, ~0U, 0) != 0) {
        for (int fd = 3; fd < 1024; fd++) {
            close(fd);
        }
    }
}

static void
rt_become_subreaper(void)
{
    /* orphaned actors are re-parented to us: we can see and reap them */
    prctl(PR_SET_CHILD_SUBREAPER, 1);
}

void
rmqtest_spawn(rmqtest_proc *p, const char *const argv[],
              const char *const env[], const char *log_path)
{
    pid_t parent = getpid();
    pid_t pid;
    int   fd;

    rt_become_subreaper();
    fd = log_path
             ? open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644)
             : open("/dev/null", O_WRONLY | O_CLOEXEC);
    ck_assert_msg(fd >= 0, "cannot open %s", log_path ? log_path : "/dev/null");
    fflush(stdout);
    fflush(stderr);
    pid = fork();
    ck_assert_msg(pid >= 0, "fork failed: %s", strerror(errno));
    if (pid == 0) {
        setpgid(0, 0);
        rt_child_setup(parent, fd, fd);
        rt_child_env(env);
        execv(argv[0], (char *const *)argv);
        fprintf(stderr, "rmqtest: cannot exec %s: %s\n", argv[0],
                strerror(errno));
        _exit(127);
    }
    close(fd);
    setpgid(pid, pid); /* both sides: no window without the group */
    memset(p, 0, sizeof(*p));
    p->pid = pid;
    rt_register_group(pid);
}

int
rmqtest_exit_code(int status)
{
    if (WIFEXITED(status)) {
        return WEXITSTATUS(status);
    }
    if (WIFSIGNALED(status)) {
        return 128 + WTERMSIG(status);
    }
    return -1;
}

bool
rmqtest_proc_wait(rmqtest_proc *p, int timeout_ms)
{
    int64_t deadline = rmqtest_now_ms() + rmqtest_scale_ms(timeout_ms);

    if (p->pid <= 0 || p->reaped) {
        return p->reaped;
    }
    for (;;) {
        pid_t r = waitpid(p->pid, &p->status, WNOHANG);

        if (r == p->pid) {
            p->reaped = true;
            rt_mark_reaped(p->pid);
            return true;
        }
        if (r < 0 && errno != EINTR) {
            return false;
        }
        if (rmqtest_now_ms() >= deadline) {
            return false;
        }
        rt_sleep_us(2000);
    }
}

bool
rmqtest_proc_signal_wait(rmqtest_proc *p, int sig, int timeout_ms)
{
    if (p->pid <= 0 || p->reaped) {
        return p->reaped;
    }
    kill(p->pid, sig);
    return rmqtest_proc_wait(p, timeout_ms);
}

/* Fields of /proc/<pid>/stat we use; false when the pid does not exist. */
struct rt_stat {
    char               state;
    pid_t              ppid;
    pid_t              pgrp;
    unsigned long long start;
};

static bool
rt_read_stat(pid_t pid, struct rt_stat *st)
{
    char    path[64];
    char    buf[1024];
    char   *p;
    int     fd;
    ssize_t n;
    int     ppid, pgrp;

    snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return false;
    }
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0) {
        return false;
    }
    buf[n] = '\0';
    p = strrchr(buf, ')'); /* comm may hold spaces and parentheses */
    if (p == NULL ||
        sscanf(p + 1,
               " %c %d %d %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s "
               "%*s %*s %*s %*s %*s %llu",
               &st->state, &ppid, &pgrp, &st->start) != 4) {
        return false;
    }
    st->ppid = ppid;
    st->pgrp = pgrp;
    return true;
}

rmqtest_pident
rmqtest_pident_of(pid_t pid)
{
    rmqtest_pident id = {pid, 0};
    struct rt_stat st;

    if (pid > 0 && rt_read_stat(pid, &st) && st.state != 'Z' &&
        st.state != 'X') {
        id.start = st.start;
    }
    return id;
}

bool
rmqtest_pident_alive(const rmqtest_pident *id)
{
    rmqtest_pident now = rmqtest_pident_of(id->pid);

    return id->pid > 0 && now.start != 0 &&
           (id->start == 0 || now.start == id->start);
}

static bool
rt_pident_gone(void *arg)
{
    return !rmqtest_pident_alive(arg);
}

bool
rmqtest_wait_pident_gone(const rmqtest_pident *id, int timeout_ms)
{
    return rmqtest_wait_until(rt_pident_gone, (void *)id, timeout_ms);
}

char *
rmqtest_cmdline(pid_t pid)
{
    char   path[64];
    char  *text;
    size_t len;

    snprintf(path, sizeof(path), "/proc/%ld/cmdline", (long)pid);
    text = rmqtest_read_file(path, &len);
    for (size_t i = 0; text != NULL && i < len; i++) {
        if (text[i] == '\0') {
            text[i] = ' ';
        }
    }
    return text;
}

static bool
rt_is_our_group(pid_t pgrp)
{
    for (int i = 0; i < rt_ngroups; i++) {
        if (rt_groups[i].pgid == pgrp) {
            return true;
        }
    }
    return false;
}

/*
 * SIGKILL our own children (orphans re-parented to us included), all of
 * them or only those in a process group this test started.
 */
static void
rt_kill_children(bool only_our_groups)
{
    DIR           *d = opendir("/proc");
    struct dirent *e;

    if (d == NULL) {
        return;
    }
    while ((e = readdir(d)) != NULL) {
        struct rt_stat st;
        pid_t          pid = (pid_t)strtol(e->d_name, NULL, 10);

        if (pid > 0 && rt_read_stat(pid, &st) && st.ppid == getpid() &&
            (!only_our_groups || rt_is_our_group(st.pgrp))) {
            kill(pid, SIGKILL);
        }
    }
    closedir(d);
}

/* Reap children until none is left (ECHILD) or timeout_ms passed. */
static void
rt_reap_children(int timeout_ms)
{
    int64_t deadline = rmqtest_now_ms() + timeout_ms;

    for (;;) {
        int   status;
        pid_t r = waitpid(-1, &status, WNOHANG);

        if (r > 0) {
            rt_mark_reaped(r);
            continue;
        }
        if (r < 0 || rmqtest_now_ms() >= deadline) {
            return; /* ECHILD: nothing of ours is left */
        }
        rt_kill_children(true);
        rt_sleep_us(2000);
    }
}

void
rmqtest_kill_all(void)
{
    /* an unreaped leader keeps its pgid from being reused: killpg is safe */
    for (int i = 0; i < rt_ngroups; i++) {
        if (!rt_groups[i].leader_reaped) {
            killpg(rt_groups[i].pgid, SIGKILL);
        }
    }
    rt_kill_children(true);
    rt_reap_children(5000);
    rt_ngroups = 0;
}

/* ---- running a tool ---------------------------------------------------- */

struct rt_sink {
    char  *data;
    size_t len, cap;
};

static bool
rt_drain(int fd, struct rt_sink *s)
{
    char    buf[4096];
    ssize_t n = read(fd, buf, sizeof(buf));

    if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
        return true;
    }
    if (n <= 0) {
        return false;
    }
    if (s->len + (size_t)n + 1 > s->cap) {
        s->cap = (s->len + (size_t)n + 1) * 2;
        s->data = realloc(s->data, s->cap);
        ck_assert_msg(s->data != NULL, "out of memory");
    }
    memcpy(s->data + s->len, buf, (size_t)n);
    s->len += (size_t)n;
    s->data[s->len] = '\0';
    return true;
}

static char *
rt_sink_take(struct rt_sink *s)
{
    return s->data ? s->data : strdup("");
}

/* Read both pipes until EOF or the deadline; false on timeout. */
static bool
rt_collect(int out_fd, int err_fd, struct rt_sink *out, struct rt_sink *err,
           int64_t deadline)
{
    bool out_open = true;
    bool err_open = true;

    while (out_open || err_open) {
        struct pollfd pf[2] = {{out_open ? out_fd : -1, POLLIN, 0},
                               {err_open ? err_fd : -1, POLLIN, 0}};
        int64_t       left = deadline - rmqtest_now_ms();

        if (left <= 0) {
            return false;
        }
        if (poll(pf, 2, (int)left) < 0 && errno != EINTR) {
            return false;
        }
        if (pf[0].revents != 0) {
            out_open = rt_drain(out_fd, out);
        }
        if (pf[1].revents != 0) {
            err_open = rt_drain(err_fd, err);
        }
    }
    return true;
}

void
rmqtest_run(rmqtest_out *r, const char *const argv[], const char *const env[],
            int timeout_ms)
{
    int            po[2], pe[2];
    pid_t          parent = getpid();
    pid_t          pid;
    struct rt_sink out = {0}, err = {0};
    int64_t        deadline = rmqtest_now_ms() + rmqtest_scale_ms(timeout_ms);
    bool           done;

    memset(r, 0, sizeof(*r));
    ck_assert_msg(pipe2(po, O_CLOEXEC) == 0 && pipe2(pe, O_CLOEXEC) == 0,
                  "pipe failed");
    fflush(stdout);
    fflush(stderr);
    pid = fork();
    ck_assert_msg(pid >= 0, "fork failed: %s", strerror(errno));
    if (pid == 0) {
        rt_child_setup(parent, po[1], pe[1]);
        rt_child_env(env);
        execv(argv[0], (char *const *)argv);
        fprintf(stderr, "rmqtest: cannot exec %s: %s\n", argv[0],
                strerror(errno));
        _exit(127);
    }
    close(po[1]);
    close(pe[1]);
    done = rt_collect(po[0], pe[0], &out, &err, deadline);
    close(po[0]);
    close(pe[0]);
    if (!done) {
        kill(pid, SIGKILL);
    }
    while (waitpid(pid, &r->status, 0) < 0 && errno == EINTR) {
    }
    r->code = done ? rmqtest_exit_code(r->status) : -1;
    r->out = rt_sink_take(&out);
    r->err = rt_sink_take(&err);
}

void
rmqtest_out_free(rmqtest_out *r)
{
    free(r->out);
    free(r->err);
    memset(r, 0, sizeof(*r));
}

#define RT_ARGS_MAX 32

/* argv = RMQCTL_BIN [-c conf] [first] va-args... NULL */
static void
rt_rmqctl_argv(const char **argv, const char *conf, const char *first,
               va_list ap)
{
    int         n = 0;
    const char *a;

    argv[n++] = rmqtest_env("RMQCTL_BIN");
    if (conf != NULL) {
        argv[n++] = "-c";
        argv[n++] = conf;
    }
    if (first != NULL) {
        argv[n++] = first;
    }
    while ((a = va_arg(ap, const char *)) != NULL) {
        ck_assert_msg(n < RT_ARGS_MAX - 1, "too many rmqctl arguments");
        argv[n++] = a;
    }
    argv[n] = NULL;
}

void
rmqtest_rmqctl(rmqtest_out *r, const char *conf, ...)
{
    const char *argv[RT_ARGS_MAX];
    va_list     ap;

    va_start(ap, conf);
    rt_rmqctl_argv(argv, conf, NULL, ap);
    va_end(ap);
    rmqtest_run(r, argv, NULL, 15000);
}

json_t *
rmqtest_rmqctl_json(const char *conf, ...)
{
    const char  *argv[RT_ARGS_MAX];
    rmqtest_out  r;
    va_list      ap;
    json_t      *v = NULL;
    json_error_t jerr;

    va_start(ap, conf);
    rt_rmqctl_argv(argv, conf, "--json", ap);
    va_end(ap);
    rmqtest_run(&r, argv, NULL, 15000);
    if (r.code == 0) {
        v = json_loads(r.out, 0, &jerr);
    }
    rmqtest_out_free(&r);
    return v;
}

/* ---- actors ------------------------------------------------------------ */

static int
rt_fail(char *why, size_t cap, const char *fmt, const char *what)
{
    if (why != NULL) {
        snprintf(why, cap, fmt, what);
    }
    return -1;
}

static bool
rt_get_int(json_t *o, const char *key, long long *out)
{
    json_t *v = json_object_get(o, key);

    if (!json_is_integer(v)) {
        return false;
    }
    *out = json_integer_value(v);
    return true;
}

static bool
rt_get_str(json_t *o, const char *key, char *out, size_t cap)
{
    json_t *v = json_object_get(o, key);

    if (!json_is_string(v) || strlen(json_string_value(v)) >= cap) {
        return false;
    }
    strcpy(out, json_string_value(v));
    return true;
}

static int
rt_parse_counters(json_t *o, rmqtest_actor *a, char *why, size_t cap)
{
    json_t     *c = json_object_get(o, "counters");
    const char *key;
    json_t     *val;

    if (!json_is_object(c)) {
        return rt_fail(why, cap, "%s: counters is not an object", a->name);
    }
    json_object_foreach(c, key, val)
    {
        if (!json_is_integer(val) || a->ncounters >= RMQTEST_COUNTERS_MAX ||
            strlen(key) >= sizeof(a->counter_name[0])) {
            return rt_fail(why, cap, "%s: bad counter", a->name);
        }
        strcpy(a->counter_name[a->ncounters], key);
        a->counter[a->ncounters++] = json_integer_value(val);
    }
    return 0;
}

static int
rt_parse_actor(json_t *o, rmqtest_actor *a, char *why, size_t cap)
{
    long long pid;
    json_t   *le;

    memset(a, 0, sizeof(*a));
    if (!json_is_object(o) ||
        !rt_get_str(o, "name", a->name, sizeof(a->name))) {
        return rt_fail(why, cap, "%s", "actor without a name");
    }
    if (!rt_get_int(o, "pid", &pid) ||
        !rt_get_str(o, "state", a->state, sizeof(a->state)) ||
        !rt_get_int(o, "uptime_ms", &a->uptime_ms) ||
        !rt_get_int(o, "restarts", &a->restarts) ||
        !rt_get_int(o, "exits", &a->exits) ||
        !rt_get_int(o, "heartbeat_age_ms", &a->heartbeat_age_ms)) {
        return rt_fail(why, cap, "%s: a key is missing or mistyped", a->name);
    }
    le = json_object_get(o, "last_exit");
    if (json_is_integer(le)) {
        a->has_last_exit = true;
        a->last_exit = json_integer_value(le);
    } else if (!json_is_null(le)) {
        return rt_fail(why, cap, "%s: last_exit is neither int nor null",
                       a->name);
    }
    a->id = rmqtest_pident_of((pid_t)pid);
    return rt_parse_counters(o, a, why, cap);
}

int
rmqtest_actors_parse(const char *json_text, rmqtest_actors *out, char *why,
                     size_t whycap)
{
    json_error_t jerr;
    json_t      *root = json_loads(json_text, 0, &jerr);
    json_t      *arr = json_object_get(root, "actors");
    int          rc = 0;

    memset(out, 0, sizeof(*out));
    if (!json_is_array(arr) || json_array_size(arr) > RMQTEST_ACTORS_MAX) {
        json_decref(root);
        return rt_fail(why, whycap, "%s", "no \"actors\" array");
    }
    for (size_t i = 0; i < json_array_size(arr) && rc == 0; i++) {
        rc = rt_parse_actor(json_array_get(arr, i), &out->a[i], why, whycap);
        out->n++;
    }
    json_decref(root);
    return rc;
}

int
rmqtest_actors_query(const char *conf, rmqtest_actors *out)
{
    rmqtest_out r;
    int         rc = -1;

    rmqtest_rmqctl(&r, conf, "--json", "actors", NULL);
    if (r.code == 0) {
        rc = rmqtest_actors_parse(r.out, out, NULL, 0);
    }
    rmqtest_out_free(&r);
    return rc;
}

const rmqtest_actor *
rmqtest_actor_find(const rmqtest_actors *as, const char *name)
{
    for (int i = 0; i < as->n; i++) {
        if (strcmp(as->a[i].name, name) == 0) {
            return &as->a[i];
        }
    }
    return NULL;
}

long long
rmqtest_actor_counter(const rmqtest_actor *a, const char *name)
{
    for (int i = 0; i < a->ncounters; i++) {
        if (strcmp(a->counter_name[i], name) == 0) {
            return a->counter[i];
        }
    }
    return -1;
}

bool
rmqtest_actors_all_ready(const rmqtest_actors *as)
{
    for (int i = 0; i < as->n; i++) {
        if (as->a[i].id.pid <= 0 || strcmp(as->a[i].state, "ready") != 0) {
            return false;
        }
    }
    return as->n > 0;
}

struct rt_ready {
    const char     *conf;
    rmqtest_actors *out;
};

static bool
rt_all_ready(void *arg)
{
    struct rt_ready *r = arg;

    return rmqtest_actors_query(r->conf, r->out) == 0 &&
           rmqtest_actors_all_ready(r->out);
}

bool
rmqtest_wait_all_ready(const char *conf, int timeout_ms, rmqtest_actors *out)
{
    rmqtest_actors  tmp;
    struct rt_ready r = {conf, out ? out : &tmp};

    return rmqtest_wait_until(rt_all_ready, &r, timeout_ms);
}

/* ---- a broker under test ---------------------------------------------- */

void
rmqtest_broker_init(rmqtest_broker *b, const char *tag)
{
    memset(b, 0, sizeof(*b));
    b->dir = rmqtest_mkdtemp(tag);
    b->run_dir = rmqtest_strf("%s/run", b->dir);
    b->conf = rmqtest_strf("%s/rmq.conf", b->dir);
    b->log = rmqtest_strf("%s/supervisor.log", b->dir);
    b->port = rmqtest_free_broker_port();
    do {
        b->ns_port = rmqtest_free_port();
    } while (b->ns_port >= b->port - 2 && b->ns_port <= b->port + 1);
}

void
rmqtest_broker_start(rmqtest_broker *b, const char *bin,
                     const char *const env[])
{
    const char *argv[] = {bin, "-c", b->conf, NULL};

    rmqtest_spawn(&b->sup, argv, env, b->log);
}

bool
rmqtest_broker_running(rmqtest_broker *b)
{
    return b->sup.pid > 0 && !rmqtest_proc_wait(&b->sup, 0);
}

void
rmqtest_broker_fini(rmqtest_broker *b)
{
    rmqtest_kill_all();
    if (rt_base == NULL && getenv("RMQTEST_KEEP") == NULL) {
        rmqtest_rm_rf(b->dir);
    }
    free(b->dir);
    free(b->run_dir);
    free(b->conf);
    free(b->log);
    memset(b, 0, sizeof(*b));
}

/* ---- one broker for a whole TCase ---------------------------------------- */

static bool
rt_suite_all_ready(void *arg)
{
    rmqtest_suite_broker *sb = arg;
    rmqtest_actors        as;

    return !rmqtest_broker_running(&sb->b) ||
           (rmqtest_actors_query(sb->b.conf, &as) == 0 &&
            rmqtest_actors_all_ready(&as));
}

void
rmqtest_suite_start(rmqtest_suite_broker *sb, const char *tag,
                    const char *broker_extra, rmqtest_cond_fn ready,
                    int start_ms)
{
    const char *bin = getenv("RMQ_SUPERVISOR_BIN");

    memset(sb, 0, sizeof(*sb));
    rmqtest_base_setup();
    if (bin == NULL) {
        snprintf(sb->why, sizeof(sb->why),
                 "RMQ_SUPERVISOR_BIN is not set (run through ctest)");
        return;
    }
    rmqtest_broker_init(&sb->b, tag);
    sb->inited = true;
    snprintf(sb->ns, sizeof(sb->ns), "127.0.0.1:%d", sb->b.ns_port);
    snprintf(sb->addr, sizeof(sb->addr), "127.0.0.1:%d", sb->b.port);
    rmqtest_write_file(sb->b.conf,
                       "broker = {\n"
                       "    brokerClusterName = \"DefaultCluster\";\n"
                       "    brokerName = \"broker-a\";\n"
                       "    brokerId = 0;\n"
                       "    brokerIP1 = \"127.0.0.1\";\n"
                       "    listenPort = %d;\n"
                       "    namesrvAddr = \"%s\";\n"
                       "    storePathRootDir = \"%s/store\";\n"
                       "%s"
                       "};\n"
                       "namesrv = {\n    enabled = true;\n"
                       "    listenPort = %d;\n};\n"
                       "supervisor = {\n    runDir = \"%s\";\n};\n",
                       sb->b.port, sb->ns, sb->b.dir,
                       broker_extra != NULL ? broker_extra : "", sb->b.ns_port,
                       sb->b.run_dir);
    rmqtest_broker_start(&sb->b, bin, NULL);
    if (rmqtest_wait_until(ready != NULL ? ready : rt_suite_all_ready, sb,
                           start_ms) &&
        rmqtest_broker_running(&sb->b)) {
        return;
    }
    snprintf(sb->why, sizeof(sb->why),
             "no broker at %s (name server %s) within %d ms%s; supervisor "
             "log: %s (kept with RMQTEST_KEEP=1)",
             sb->addr, sb->ns, rmqtest_scale_ms(start_ms),
             rmqtest_broker_running(&sb->b) ? "" : " (supervisor exited)",
             sb->b.log);
}

void
rmqtest_suite_stop(rmqtest_suite_broker *sb)
{
    if (sb->inited) {
        rmqtest_broker_fini(&sb->b);
        sb->inited = false;
    }
    rmqtest_base_teardown();
}

void
rmqtest_suite_need(const rmqtest_suite_broker *sb)
{
    ck_assert_msg(sb->why[0] == '\0', "%s", sb->why);
}

void
rmqtest_unique_name(char *out, size_t cap, const char *tag)
{
    snprintf(out, cap, "%s_%d_%lld", tag, (int)getpid(),
             (long long)(rmqtest_now_us() % 1000000));
}

/* Processes of group pgid other than zombies; zombies of ours reaped. */
static int
rt_group_alive(pid_t pgid)
{
    DIR           *d = opendir("/proc");
    struct dirent *e;
    int            alive = 0;

    if (d == NULL) {
        return 0;
    }
    while ((e = readdir(d)) != NULL) {
        struct rt_stat st;
        pid_t          pid = (pid_t)strtol(e->d_name, NULL, 10);

        if (pid <= 0 || !rt_read_stat(pid, &st) || st.pgrp != pgid) {
            continue;
        }
        if (st.state == 'Z' || st.state == 'X') {
            if (st.ppid == getpid()) {
                int status;
                waitpid(pid, &status, WNOHANG);
            }
            continue;
        }
        kill(pid, SIGKILL);
        alive++;
    }
    closedir(d);
    return alive;
}

void
rmqtest_broker_kill_tree(rmqtest_broker *b)
{
    pid_t   pgid = b->sup.pid;
    int64_t deadline = rmqtest_now_ms() + rmqtest_scale_ms(10000);

    ck_assert_msg(rmqtest_broker_running(b), "no supervisor to kill");
    /* the leader is not reaped yet: the group id cannot have been reused */
    ck_assert_int_eq(killpg(pgid, SIGKILL), 0);
    ck_assert_msg(rmqtest_proc_wait(&b->sup, 10000), "supervisor survived");
    while (rt_group_alive(pgid) > 0) {
        ck_assert_msg(rmqtest_now_ms() < deadline,
                      "actors of supervisor %ld survived kill -9", (long)pgid);
        rt_sleep_us(2000);
    }
}

/* ---- the control segment ----------------------------------------------- */

bool
rmqtest_ctl_all_ready(const rmq_ctl *ctl)
{
    int n = 0;

    if (atomic_load(&ctl->hdr->sup_state) != RMQ_SUP_RUNNING) {
        return false;
    }
    for (int i = 0; i < RMQ_ACTOR_MAX; i++) {
        const rmq_actor_slot *a = &ctl->slots[i];

        if (atomic_load(&a->sup.s.state) == RMQ_ASTATE_NONE) {
            continue;
        }
        if (rmq_ctl_actor_ready(ctl, i) == 0) {
            return false;
        }
        n++;
    }
    return n > 0;
}

bool
rmqtest_ctl_wait_ready(const char *run_dir, pid_t sup_pid, int timeout_ms,
                       rmq_ctl *ctl)
{
    char   *path = rmqtest_strf("%s/%s", run_dir, RMQ_CTL_FILE);
    int64_t deadline = rmqtest_now_ms() + rmqtest_scale_ms(timeout_ms);
    bool    attached = false;

    for (;;) {
        if (!attached && rmq_ctl_attach(path, true, ctl) == 0) {
            attached = true;
        }
        if (attached && ctl->hdr->supervisor_pid != sup_pid) {
            rmq_ctl_detach(ctl); /* an earlier supervisor's segment */
            attached = false;
        }
        if (attached && rmqtest_ctl_all_ready(ctl)) {
            free(path);
            return true;
        }
        if (rmqtest_now_ms() >= deadline) {
            break;
        }
        rt_sleep_us(5000);
    }
    if (attached) {
        rmq_ctl_detach(ctl);
    }
    free(path);
    return false;
}

pid_t
rmqtest_ctl_actor_pid(const rmq_ctl *ctl, int id)
{
    return rmq_ctl_actor_ready(ctl, id);
}

pid_t
rmqtest_ctl_kill_actor(const rmq_ctl *ctl, int id, int timeout_ms)
{
    const rmq_actor_slot *a = &ctl->slots[id];
    pid_t                 old = atomic_load(&a->sup.s.pid);
    int64_t deadline = rmqtest_now_ms() + rmqtest_scale_ms(timeout_ms);

    ck_assert_msg(old > 0 && kill(old, SIGKILL) == 0, "cannot kill actor %d",
                  id);
    for (;;) {
        pid_t pid = rmq_ctl_actor_ready(ctl, id);

        if (pid != 0 && pid != old) {
            return pid;
        }
        if (rmqtest_now_ms() >= deadline) {
            return 0;
        }
        rt_sleep_us(2000);
    }
}

/* ---- logs -------------------------------------------------------------- */

const char *
rmqtest_file_tail(const char *path)
{
    static char tail[3072];
    FILE       *f = fopen(path, "r");
    long        size;
    size_t      n;

    if (f == NULL) {
        return "(no file)";
    }
    fseek(f, 0, SEEK_END);
    size = ftell(f);
    fseek(f, size > (long)sizeof(tail) - 1 ? size - (long)sizeof(tail) + 1 : 0,
          SEEK_SET);
    n = fread(tail, 1, sizeof(tail) - 1, f);
    tail[n] = '\0';
    fclose(f);
    return tail;
}

void
rmqtest_assert_no_sanitizer_report(const char *path)
{
    static const char *const bad[] = {"Sanitizer", "runtime error:"};
    FILE                    *f = fopen(path, "r");
    char                     line[1024];

    if (f == NULL) {
        return;
    }
    while (fgets(line, sizeof(line), f) != NULL) {
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
            if (strstr(line, bad[i]) != NULL) {
                fclose(f);
                ck_abort_msg("sanitizer report in %s: %s", path, line);
            }
        }
    }
    fclose(f);
}
