/*
 * rmqtest.h - helpers for multi-process tests (Check suites under tests/).
 *
 * A test starts real programs (rmq-supervisor, rmqctl, ...) in a fresh
 * temp directory, waits for conditions with a bounded poll, and must never
 * leave a process behind, even when an assertion fails.  Check's fork mode
 * ends a failing test with _exit() and skips its teardown, so cleanup does
 * not rely on teardown alone:
 *
 *   - every spawned program gets PR_SET_PDEATHSIG(SIGKILL): it dies with
 *     the test process, and rmq actors die with their supervisor;
 *   - it runs in its own process group, and the test process is a child
 *     subreaper, so orphaned grandchildren (actors whose supervisor died)
 *     become our children: rmqtest_kill_all() finds and kills them, and a
 *     dead one shows up as a zombie of ours rather than lingering;
 *   - temp dirs live under one base directory per TCase, created and
 *     removed by an unchecked fixture (rmqtest_base_setup/teardown) that
 *     runs in Check's parent process, so even a killed test's dir goes
 *     away (set RMQTEST_KEEP=1 to keep it for a post-mortem); that
 *     process is a subreaper too, and its teardown kills and reaps
 *     whatever a dead test process left behind.
 *
 * Helpers that cannot go on (cannot fork, cannot create a dir) fail the
 * test with ck_abort_msg().  Timeouts are multiplied by
 * CK_TIMEOUT_MULTIPLIER when set (sanitizer runs are slower).
 *
 * Environment from ctest (tests/CMakeLists.txt): RMQ_SUPERVISOR_BIN,
 * RMQ_SUPERVISOR_TEST_BIN, RMQCTL_BIN, RMQ_SOURCE_DIR, RMQ_BUILD_DIR.
 */
#ifndef RMQ_TESTS_RMQTEST_H
#define RMQ_TESTS_RMQTEST_H

#include <check.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* ---- suites and fixtures ---------------------------------------------- */

/* Run one suite (honours CK_RUN_CASE, CK_INCLUDE_TAGS, ...); exit status. */
int rmqtest_run_suite(Suite *s);
/* Unchecked fixture pair: a base dir holding every temp dir of a TCase. */
void rmqtest_base_setup(void);
void rmqtest_base_teardown(void);

/* A required environment variable (fails the test when unset). */
const char *rmqtest_env(const char *name);
/* A timeout scaled by CK_TIMEOUT_MULTIPLIER. */
int rmqtest_scale_ms(int ms);

/* ---- files and directories -------------------------------------------- */

/* A fresh empty directory (malloc'd path), under the base dir if any. */
char *rmqtest_mkdtemp(const char *tag);
/* rm -rf; 0 or -1.  Does not follow symlinks. */
int rmqtest_rm_rf(const char *path);
/* malloc'd printf result. */
char *rmqtest_strf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Write a file from a printf-style template (fails the test on error). */
void rmqtest_write_file(const char *path, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Whole file as a NUL-terminated malloc'd string; NULL if unreadable. */
char *rmqtest_read_file(const char *path, size_t *len_out);
/* Number of lines of the file that contain needle (0 if no file). */
int  rmqtest_file_count(const char *path, const char *needle);
bool rmqtest_file_contains(const char *path, const char *needle);
/* Wait until some line of the file contains needle. */
bool rmqtest_wait_file_contains(const char *path, const char *needle,
                                int timeout_ms);

/* ---- ports ------------------------------------------------------------- */

/* A loopback TCP port that was free a moment ago. */
int rmqtest_free_port(void);
/* A broker port P with P-2 (fast port) and P+1 (HA port) free too. */
int rmqtest_free_broker_port(void);

/* ---- waiting ----------------------------------------------------------- */

typedef bool (*rmqtest_cond_fn)(void *arg);
/*
 * Poll cond every few milliseconds until it returns true (-> true) or
 * timeout_ms (scaled) has passed (-> false, after one last try).
 */
bool rmqtest_wait_until(rmqtest_cond_fn cond, void *arg, int timeout_ms);
/* Monotonic milliseconds / microseconds. */
int64_t rmqtest_now_ms(void);
int64_t rmqtest_now_us(void);

/* ---- processes --------------------------------------------------------- */

typedef struct rmqtest_proc {
    pid_t pid;    /* 0: never started */
    bool  reaped; /* waitpid done; status valid */
    int   status; /* raw waitpid status */
} rmqtest_proc;

/*
 * Start argv[0] (a path) with argv, stdin from /dev/null, stdout and
 * stderr appended to log_path (NULL: /dev/null).  env lists "NAME=VALUE"
 * entries to set and "NAME" entries to unset (NULL-terminated, may be
 * NULL); NOTIFY_SOCKET, WATCHDOG_USEC, WATCHDOG_PID, JOURNAL_STREAM and
 * RMQ_TESTACTOR are unset unless env sets them.  Own process group,
 * parent-death signal, registered for rmqtest_kill_all().
 */
void rmqtest_spawn(rmqtest_proc *p, const char *const argv[],
                   const char *const env[], const char *log_path);
/* Reap p if it has exited, waiting up to timeout_ms; true once reaped. */
bool rmqtest_proc_wait(rmqtest_proc *p, int timeout_ms);
/* Send sig to p and wait for its exit; true once reaped. */
bool rmqtest_proc_signal_wait(rmqtest_proc *p, int sig, int timeout_ms);
/* Exit code of a waitpid status, or 128 + signal number. */
int rmqtest_exit_code(int status);
/* SIGKILL every registered process group and our orphans, then reap. */
void rmqtest_kill_all(void);

/* A process identity that survives pid reuse: pid + kernel start time. */
typedef struct rmqtest_pident {
    pid_t              pid;
    unsigned long long start; /* /proc/<pid>/stat field 22; 0 = unknown */
} rmqtest_pident;

/* Identity of a live pid now (start 0 when it does not exist). */
rmqtest_pident rmqtest_pident_of(pid_t pid);
/* True while that very process exists and is not a zombie. */
bool rmqtest_pident_alive(const rmqtest_pident *id);
/* Wait until it is gone (exited, zombie, or pid reused). */
bool rmqtest_wait_pident_gone(const rmqtest_pident *id, int timeout_ms);
/* /proc/<pid>/cmdline with NULs turned into spaces (malloc'd) or NULL. */
char *rmqtest_cmdline(pid_t pid);

/* ---- running a tool ---------------------------------------------------- */

typedef struct rmqtest_out {
    int   status; /* raw waitpid status */
    int   code;   /* rmqtest_exit_code(status); -1 if it timed out */
    char *out;    /* stdout, NUL-terminated */
    char *err;    /* stderr, NUL-terminated */
} rmqtest_out;

/* Run argv to completion, capturing output; kill it after timeout_ms. */
void rmqtest_run(rmqtest_out *r, const char *const argv[],
                 const char *const env[], int timeout_ms);
/* rmqctl -c conf ARGS... (NULL-terminated), through RMQCTL_BIN. */
void rmqtest_rmqctl(rmqtest_out *r, const char *conf, ...)
    __attribute__((sentinel));
void rmqtest_out_free(rmqtest_out *r);
/* rmqctl -c conf --json ARGS...: parsed stdout, or NULL on any failure. */
json_t *rmqtest_rmqctl_json(const char *conf, ...) __attribute__((sentinel));

/* ---- actors as rmqctl reports them ------------------------------------- */

#define RMQTEST_ACTORS_MAX 32
#define RMQTEST_COUNTERS_MAX 16

typedef struct rmqtest_actor {
    char           name[32];
    rmqtest_pident id; /* pid and its start time when listed */
    char           state[16];
    long long      uptime_ms;
    long long      restarts;
    long long      exits;
    bool           has_last_exit;
    long long      last_exit;
    long long      heartbeat_age_ms;
    int            ncounters;
    char           counter_name[RMQTEST_COUNTERS_MAX][32];
    long long      counter[RMQTEST_COUNTERS_MAX];
} rmqtest_actor;

typedef struct rmqtest_actors {
    int           n;
    rmqtest_actor a[RMQTEST_ACTORS_MAX];
} rmqtest_actors;

/*
 * Parse `rmqctl --json actors` output strictly (every key present with
 * its type).  Returns 0, or -1 with a reason in why.
 */
int rmqtest_actors_parse(const char *json_text, rmqtest_actors *out, char *why,
                         size_t whycap);
/* Run rmqctl --json actors and parse it; 0 or -1. */
int rmqtest_actors_query(const char *conf, rmqtest_actors *out);
const rmqtest_actor *rmqtest_actor_find(const rmqtest_actors *as,
                                        const char           *name);
/* A counter's value, or -1 when the actor has no such counter. */
long long rmqtest_actor_counter(const rmqtest_actor *a, const char *name);
/* At least one actor, and every listed actor has a pid and is "ready". */
bool rmqtest_actors_all_ready(const rmqtest_actors *as);
/* Poll rmqctl until all actors are ready; last listing in *out. */
bool rmqtest_wait_all_ready(const char *conf, int timeout_ms,
                            rmqtest_actors *out);

/* ---- a broker under test ---------------------------------------------- */

typedef struct rmqtest_broker {
    char        *dir;     /* fresh temp dir */
    char        *run_dir; /* <dir>/run (not created) */
    char        *conf;    /* <dir>/rmq.conf */
    char        *log;     /* <dir>/supervisor.log: stdout + stderr */
    int          port;    /* broker listenPort P (P-2, P+1 free) */
    int          ns_port; /* name server port */
    rmqtest_proc sup;
} rmqtest_broker;

/* Temp dir, paths and free ports (no config written, nothing started). */
void rmqtest_broker_init(rmqtest_broker *b, const char *tag);
/* Start bin -c b->conf with env (see rmqtest_spawn). */
void rmqtest_broker_start(rmqtest_broker *b, const char *bin,
                          const char *const env[]);
/* Kill everything left and free the struct (the dir goes with the base). */
void rmqtest_broker_fini(rmqtest_broker *b);
/* The supervisor's pid is alive (not exited, not reaped). */
bool rmqtest_broker_running(rmqtest_broker *b);
/*
 * kill -9 the whole tree at once (the supervisor's process group: the
 * supervisor and every actor) and wait until each of them is gone, so
 * nothing holds the store any more.  The store keeps its abort file.
 */
void rmqtest_broker_kill_tree(rmqtest_broker *b);

/* ---- one broker for a whole TCase ---------------------------------------- */

/*
 * rmq-supervisor ($RMQ_SUPERVISOR_BIN) with its embedded name server, on
 * free loopback ports and a temp store, started by an unchecked fixture
 * in Check's parent process and shared by the tests of a TCase.  A broker
 * that does not come up leaves why set, so every test fails at once with
 * the reason and the log path (rmqtest_suite_need) without waiting again.
 */
typedef struct rmqtest_suite_broker {
    rmqtest_broker b;
    bool           inited;
    char           ns[64];   /* "127.0.0.1:<name server port>" */
    char           addr[64]; /* "127.0.0.1:<broker port>" */
    char           why[512]; /* set when it could not be started */
} rmqtest_suite_broker;

/*
 * Write the configuration (cluster DefaultCluster, broker-a, id 0, the
 * ports, store under the temp dir, plus broker_extra: more settings inside
 * broker = {...}, each ending in ";\n"), start it and wait up to
 * start_ms (scaled) for ready (NULL: every actor READY).  ready is called
 * with sb; it should return true at once when the supervisor has exited.
 */
void rmqtest_suite_start(rmqtest_suite_broker *sb, const char *tag,
                         const char *broker_extra, rmqtest_cond_fn ready,
                         int start_ms);
void rmqtest_suite_stop(rmqtest_suite_broker *sb);
/* Every test starts here: fail at once when there is no broker. */
void rmqtest_suite_need(const rmqtest_suite_broker *sb);

/* A name no other test (or earlier run) uses: "<tag>_<pid>_<usec>". */
void rmqtest_unique_name(char *out, size_t cap, const char *tag);

/* ---- the control segment of a broker under test ----------------------- */

/* shm/control.h (not included here: client headers clash with it) */
struct rmq_ctl;

/*
 * Every actor the supervisor in ctl runs (slots not NONE) is READY, and
 * the supervisor says RUNNING.
 */
bool rmqtest_ctl_all_ready(const struct rmq_ctl *ctl);
/*
 * Attach <run_dir>/control read-write once supervisor sup_pid runs and
 * all its actors are READY (a stale segment of an earlier supervisor is
 * detached and looked for again).  true with *ctl attached (detach with
 * rmq_ctl_detach); false on timeout with nothing attached.
 */
bool rmqtest_ctl_wait_ready(const char *run_dir, pid_t sup_pid, int timeout_ms,
                            struct rmq_ctl *ctl);
/*
 * kill -9 actor id (an enum rmq_actor_id) and wait until its successor
 * is READY.  Returns the new pid, or 0 on timeout.
 */
pid_t rmqtest_ctl_kill_actor(const struct rmq_ctl *ctl, int id, int timeout_ms);
/* The READY pid of actor id, or 0. */
pid_t rmqtest_ctl_actor_pid(const struct rmq_ctl *ctl, int id);

/* ---- logs -------------------------------------------------------------- */

/* The last few KiB of a file, for failure messages (static buffer). */
const char *rmqtest_file_tail(const char *path);
/*
 * Fail the test when a line of the log is a sanitizer report (ASan,
 * UBSan, LSan): an actor that dies of one is restarted, so a test could
 * pass without this check.
 */
void rmqtest_assert_no_sanitizer_report(const char *path);

#endif
