/*
 * test_supervisor.c - suite supervisor.supervisor (tag proc): the real
 * rmq-supervisor-test binary with the test actor (RMQ_TESTACTOR=1), each
 * test in a fresh temp dir with free ports, driven through signals, the
 * testactor.mode file, rmqctl and the systemd notify socket.
 *
 * The tests never assume which actors exist: "every actor" means every
 * actor `rmqctl --json actors` lists, so they keep their meaning when the
 * broker actors are built.  The test actor is the one whose behaviour a
 * test steers (crash, hang, fatal exit, slow stop).
 *
 * The "measure" case prints MEASURE: lines (start to READY, restart
 * latency) and asserts nothing about time.
 */
#include "shm/control.h"
#include "tests/support/rmqtest.h"

#include <check.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SUP_READY_MS 10000 /* generous: sanitizer builds start slowly */
#define SUP_EXIT_MS 15000
#define TESTACTOR "testactor"

static rmqtest_broker br;

static void
sup_setup(void)
{
    rmqtest_broker_init(&br, "sup");
}

static void
sup_teardown(void)
{
    rmqtest_broker_fini(&br);
}

/* The test config: a namesrv group and a supervisor group (+ extra keys). */
static void
sup_conf(const char *extra)
{
    rmqtest_write_file(br.conf,
                       "# supervisor test config\n"
                       "namesrv = {\n"
                       "    listenPort = %d;\n"
                       "};\n"
                       "supervisor = {\n"
                       "    runDir = \"%s\";\n"
                       "%s"
                       "};\n",
                       br.ns_port, br.run_dir,
                       extra ? extra
                             : "    restartIntensity = 5;\n"
                               "    restartPeriodSec = 30;\n");
}

/* What the test actor does at its next start. */
static void
sup_mode(const char *mode)
{
    char *p = rmqtest_strf("%s/testactor.mode", br.run_dir);

    mkdir(br.run_dir, 0755);
    rmqtest_write_file(p, "%s\n", mode);
    free(p);
}

/* The end of the supervisor log, for failure messages. */
static const char *
sup_log_tail(void)
{
    static char tail[2048];
    size_t      len;
    char       *text = rmqtest_read_file(br.log, &len);

    snprintf(tail, sizeof(tail), "%s",
             text == NULL
                 ? "(no log)"
                 : text +
                       (len > sizeof(tail) - 1 ? len - (sizeof(tail) - 1) : 0));
    free(text);
    return tail;
}

static void
sup_start_env(const char *const *more_env)
{
    const char *env[8] = {"RMQ_TESTACTOR=1"};
    int         n = 1;

    for (int i = 0; more_env != NULL && more_env[i] != NULL && n < 7; i++) {
        env[n++] = more_env[i];
    }
    env[n] = NULL;
    rmqtest_broker_start(&br, rmqtest_env("RMQ_SUPERVISOR_TEST_BIN"), env);
}

static void
sup_start(void)
{
    sup_start_env(NULL);
}

static void
sup_wait_ready(rmqtest_actors *as)
{
    ck_assert_msg(rmqtest_wait_all_ready(br.conf, SUP_READY_MS, as),
                  "actors not ready; log:\n%s", sup_log_tail());
}

/* Wait for the supervisor to exit; its exit code. */
static int
sup_wait_exit(void)
{
    ck_assert_msg(rmqtest_proc_wait(&br.sup, SUP_EXIT_MS),
                  "supervisor did not exit; log:\n%s", sup_log_tail());
    return rmqtest_exit_code(br.sup.status);
}

static const rmqtest_actor *
sup_find(const rmqtest_actors *as, const char *name)
{
    const rmqtest_actor *a = rmqtest_actor_find(as, name);

    ck_assert_msg(a != NULL, "actor %s not listed", name);
    return a;
}

static bool
sup_same_process(const rmqtest_actor *a, const rmqtest_actor *b)
{
    return a->id.pid == b->id.pid && a->id.start == b->id.start;
}

/* Every actor listed in `before` is gone. */
static void
sup_assert_all_gone(const rmqtest_actors *before)
{
    for (int i = 0; i < before->n; i++) {
        ck_assert_msg(rmqtest_wait_pident_gone(&before->a[i].id, 5000),
                      "%s (pid %d) still runs", before->a[i].name,
                      before->a[i].id.pid);
    }
}

/* Pids of every "started NAME (pid N)" line of the log. */
static int
sup_log_pids(const char *name, rmqtest_pident *out, int max)
{
    char *text = rmqtest_read_file(br.log, NULL);
    char *needle = rmqtest_strf("actor.spawn: started %s (pid ", name);
    int   n = 0;

    for (char *p = text; p && (p = strstr(p, needle)) != NULL && n < max;) {
        p += strlen(needle);
        out[n].pid = (pid_t)strtol(p, NULL, 10);
        out[n].start = 0; /* may be gone already: any process with the pid */
        n++;
    }
    free(needle);
    free(text);
    return n;
}

/* Names in the order their first line containing `what` appears. */
static int
sup_log_order(const char *what, char names[][32], int max)
{
    char *text = rmqtest_read_file(br.log, NULL);
    int   n = 0;

    for (char *p = text; p && (p = strstr(p, what)) != NULL;) {
        char name[32];
        bool seen = false;

        p += strlen(what);
        if (sscanf(p, "%31s", name) != 1) {
            continue;
        }
        for (int i = 0; i < n; i++) {
            seen = seen || strcmp(names[i], name) == 0;
        }
        if (!seen && n < max) {
            strcpy(names[n++], name);
        }
    }
    free(text);
    return n;
}

static json_t *
sup_status(void)
{
    json_t *st = rmqtest_rmqctl_json(br.conf, "status", NULL);

    ck_assert_msg(st != NULL, "rmqctl status failed; log:\n%s", sup_log_tail());
    return st;
}

static long long
sup_json_int(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);

    ck_assert_msg(json_is_integer(v), "%s is not an integer", key);
    return json_integer_value(v);
}

static const char *
sup_json_str(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);

    ck_assert_msg(json_is_string(v), "%s is not a string", key);
    return json_string_value(v);
}

/* ---- start -------------------------------------------------------------- */

START_TEST(test_sup_all_actors_reach_ready)
{
    rmqtest_actors as;
    json_t        *st;

    sup_conf(NULL);
    sup_start();
    sup_wait_ready(&as);
    ck_assert_int_ge(as.n, 1);
    sup_find(&as, TESTACTOR);
    for (int i = 0; i < as.n; i++) {
        ck_assert_str_eq(as.a[i].state, "ready");
        ck_assert_int_gt(as.a[i].id.pid, 0);
        ck_assert_msg(rmqtest_pident_alive(&as.a[i].id), "%s not running",
                      as.a[i].name);
        ck_assert_int_ne(as.a[i].id.pid, br.sup.pid);
    }
    st = sup_status();
    ck_assert_int_eq(sup_json_int(st, "actors_total"), as.n);
    ck_assert_int_eq(sup_json_int(st, "actors_ready"), as.n);
    ck_assert(rmqtest_file_contains(br.log, "supervisor.ready: all"));
    json_decref(st);
}
END_TEST

START_TEST(test_sup_actor_process_title_is_rmq_and_its_name)
{
    rmqtest_actors as;

    sup_conf(NULL);
    sup_start();
    sup_wait_ready(&as);
    for (int i = 0; i < as.n; i++) {
        char *cmd = rmqtest_cmdline(as.a[i].id.pid);
        char *want = rmqtest_strf("rmq: %s", as.a[i].name);
        char *comm_path = rmqtest_strf("/proc/%d/comm", as.a[i].id.pid);
        char *comm = rmqtest_read_file(comm_path, NULL);
        char *want_comm = rmqtest_strf("rmq-%.11s\n", as.a[i].name);

        ck_assert_ptr_nonnull(cmd);
        ck_assert_msg(strncmp(cmd, want, strlen(want)) == 0,
                      "cmdline \"%s\" does not start with \"%s\"", cmd, want);
        ck_assert_ptr_nonnull(comm);
        ck_assert_str_eq(comm, want_comm);
        free(cmd);
        free(want);
        free(comm_path);
        free(comm);
        free(want_comm);
    }
    ck_assert_str_eq(sup_find(&as, TESTACTOR)->name, TESTACTOR);
}
END_TEST

START_TEST(test_sup_actors_json_has_every_field_of_every_actor)
{
    rmqtest_out    r;
    rmqtest_actors as;
    char           why[256] = "";

    sup_conf(NULL);
    sup_start();
    sup_wait_ready(NULL);
    rmqtest_rmqctl(&r, br.conf, "--json", "actors", NULL);
    ck_assert_int_eq(r.code, 0);
    ck_assert_str_eq(r.err, "");
    ck_assert_msg(rmqtest_actors_parse(r.out, &as, why, sizeof(why)) == 0,
                  "%s in %s", why, r.out);
    for (int i = 0; i < as.n; i++) {
        const rmqtest_actor *a = &as.a[i];

        ck_assert_int_eq(a->restarts, 0);
        ck_assert_int_eq(a->exits, 0);
        ck_assert(!a->has_last_exit);
        ck_assert_int_ge(a->uptime_ms, 0);
        ck_assert_int_ge(a->heartbeat_age_ms, 0);
        ck_assert_int_lt(a->heartbeat_age_ms, 10000);
    }
    ck_assert_int_ge(rmqtest_actor_counter(sup_find(&as, TESTACTOR), "loops"),
                     0);
    ck_assert_int_eq(rmqtest_actor_counter(sup_find(&as, TESTACTOR), "reloads"),
                     0);
    /* --json is accepted after the command too */
    rmqtest_out_free(&r);
    rmqtest_rmqctl(&r, br.conf, "actors", "--json", NULL);
    ck_assert_int_eq(r.code, 0);
    ck_assert_int_eq(rmqtest_actors_parse(r.out, &as, why, sizeof(why)), 0);
    rmqtest_out_free(&r);
}
END_TEST

START_TEST(test_sup_actors_table_lists_every_actor)
{
    rmqtest_out    r;
    rmqtest_actors as;

    sup_conf(NULL);
    sup_start();
    sup_wait_ready(&as);
    rmqtest_rmqctl(&r, br.conf, "actors", NULL);
    ck_assert_int_eq(r.code, 0);
    ck_assert_msg(strncmp(r.out, "NAME", 4) == 0, "%s", r.out);
    for (int i = 0; i < as.n; i++) {
        char *row = rmqtest_strf("\n%s ", as.a[i].name);
        ck_assert_msg(strstr(r.out, row) != NULL, "%s missing:\n%s",
                      as.a[i].name, r.out);
        free(row);
    }
    rmqtest_out_free(&r);
}
END_TEST

START_TEST(test_sup_status_json_describes_the_supervisor)
{
    rmqtest_actors as;
    json_t        *st;

    sup_conf(NULL);
    sup_start();
    sup_wait_ready(&as);
    st = sup_status();
    ck_assert_int_eq(sup_json_int(st, "pid"), br.sup.pid);
    ck_assert_str_eq(sup_json_str(st, "state"), "running");
    ck_assert_int_gt(sup_json_int(st, "generation"), 0);
    ck_assert_int_ge(sup_json_int(st, "uptime_ms"), 0);
    ck_assert_int_ge(sup_json_int(st, "ready_after_ms"), 0);
    ck_assert_int_le(sup_json_int(st, "ready_after_ms"),
                     sup_json_int(st, "uptime_ms"));
    ck_assert_int_eq(sup_json_int(st, "actors_total"), as.n);
    ck_assert_int_eq(sup_json_int(st, "actors_ready"), as.n);
    ck_assert_int_eq(sup_json_int(st, "reloads"), 0);
    ck_assert_str_eq(sup_json_str(st, "config"), br.conf);
    ck_assert_str_eq(sup_json_str(st, "run_dir"), br.run_dir);
    ck_assert_str_ne(sup_json_str(st, "version"), "");
    json_decref(st);
}
END_TEST

START_TEST(test_sup_bad_config_exits_2_before_any_actor_starts)
{
    char *ctl = rmqtest_strf("%s/ctl", br.run_dir);
    char *want = rmqtest_strf("%s:7: supervisor.restartIntensity: ", br.conf);

    sup_conf("    restartIntensity = \"many\";\n");
    sup_start();
    ck_assert_int_eq(sup_wait_exit(), 2);
    ck_assert_msg(rmqtest_file_contains(br.log, want), "want \"%s\" in:\n%s",
                  want, sup_log_tail());
    ck_assert(rmqtest_file_contains(br.log, "expected an integer"));
    ck_assert(!rmqtest_file_contains(br.log, "actor.spawn"));
    ck_assert_int_ne(access(ctl, F_OK), 0);
    ck_assert_int_ne(access(br.run_dir, F_OK), 0);
    /* no process was left: we are the subreaper, an actor would be ours */
    ck_assert_int_eq(waitpid(-1, NULL, WNOHANG), -1);
    ck_assert_int_eq(errno, ECHILD);
    free(ctl);
    free(want);
}
END_TEST

START_TEST(test_sup_second_supervisor_on_the_same_run_dir_exits_2)
{
    const char *argv[] = {rmqtest_env("RMQ_SUPERVISOR_TEST_BIN"), "-c", br.conf,
                          NULL};
    const char *env[] = {"RMQ_TESTACTOR=1", NULL};
    char       *log2 = rmqtest_strf("%s/second.log", br.dir);
    rmqtest_actors before, after;
    rmqtest_proc   second;

    sup_conf(NULL);
    sup_start();
    sup_wait_ready(&before);
    rmqtest_spawn(&second, argv, env, log2);
    ck_assert(rmqtest_proc_wait(&second, SUP_EXIT_MS));
    ck_assert_int_eq(rmqtest_exit_code(second.status), 2);
    ck_assert(rmqtest_file_contains(log2, "another supervisor"));
    ck_assert(!rmqtest_file_contains(log2, "actor.spawn"));
    /* the first one is undisturbed */
    ck_assert(rmqtest_wait_all_ready(br.conf, SUP_READY_MS, &after));
    for (int i = 0; i < before.n; i++) {
        ck_assert(
            sup_same_process(&before.a[i], sup_find(&after, before.a[i].name)));
    }
    free(log2);
}
END_TEST

/* rmqctl with nobody listening: non-zero, one "rmqctl: ..." line. */
static void
sup_expect_unreachable(const char *what)
{
    rmqtest_out r;
    const char *nl;

    rmqtest_rmqctl(&r, br.conf, what, NULL);
    ck_assert_int_ne(r.code, 0);
    ck_assert_str_eq(r.out, "");
    ck_assert_msg(strncmp(r.err, "rmqctl: ", 8) == 0, "stderr: %s", r.err);
    nl = strchr(r.err, '\n');
    ck_assert_msg(nl != NULL && nl[1] == '\0', "not one line: %s", r.err);
    ck_assert_ptr_nonnull(strstr(r.err, br.run_dir));
    rmqtest_out_free(&r);
}

START_TEST(test_sup_rmqctl_without_a_supervisor_fails_with_one_line)
{
    sup_conf(NULL);
    sup_expect_unreachable("actors");
    sup_expect_unreachable("status");
    /* and once a supervisor has come and gone */
    sup_start();
    sup_wait_ready(NULL);
    ck_assert(rmqtest_proc_signal_wait(&br.sup, SIGTERM, SUP_EXIT_MS));
    sup_expect_unreachable("actors");
}
END_TEST

/* ---- crashes ------------------------------------------------------------ */

struct sup_restarted {
    const char    *name;
    rmqtest_pident old;
    rmqtest_actors now;
};

static bool
sup_is_restarted(void *arg)
{
    struct sup_restarted *r = arg;
    const rmqtest_actor  *a;

    if (rmqtest_actors_query(br.conf, &r->now) != 0 ||
        !rmqtest_actors_all_ready(&r->now)) {
        return false;
    }
    a = rmqtest_actor_find(&r->now, r->name);
    return a != NULL && a->id.pid != r->old.pid;
}

/* Wait until name runs with a pid other than old and all are ready. */
static void
sup_wait_restarted(const char *name, const rmqtest_pident *old,
                   rmqtest_actors *now)
{
    struct sup_restarted r = {name, *old, {0}};

    ck_assert_msg(rmqtest_wait_until(sup_is_restarted, &r, SUP_READY_MS),
                  "%s was not restarted; log:\n%s", name, sup_log_tail());
    *now = r.now;
}

START_TEST(test_sup_kill9_actor_is_restarted_and_others_keep_pid)
{
    rmqtest_actors before, after;

    sup_conf(NULL);
    sup_start();
    sup_wait_ready(&before);
    /* every actor in turn is the victim; all others must not notice */
    for (int v = 0; v < before.n; v++) {
        const rmqtest_actor *victim = &before.a[v];
        const rmqtest_actor *again;

        ck_assert_int_eq(kill(victim->id.pid, SIGKILL), 0);
        sup_wait_restarted(victim->name, &victim->id, &after);
        ck_assert(rmqtest_wait_pident_gone(&victim->id, 5000));
        again = sup_find(&after, victim->name);
        ck_assert_int_eq(again->restarts, victim->restarts + 1);
        ck_assert_int_eq(again->exits, victim->exits + 1);
        ck_assert(again->has_last_exit);
        ck_assert_int_eq(again->last_exit, -SIGKILL);
        for (int o = 0; o < before.n; o++) {
            const rmqtest_actor *other = sup_find(&after, before.a[o].name);

            if (o == v) {
                continue;
            }
            ck_assert_msg(sup_same_process(&before.a[o], other),
                          "%s was restarted when %s was killed", other->name,
                          victim->name);
            ck_assert_int_eq(other->restarts, before.a[o].restarts);
        }
        ck_assert(rmqtest_broker_running(&br));
        before = after;
    }
    json_t *st = sup_status();
    ck_assert_int_eq(sup_json_int(st, "pid"), br.sup.pid);
    json_decref(st);
}
END_TEST

START_TEST(test_sup_crash_looping_actor_makes_the_supervisor_give_up)
{
    rmqtest_pident pids[64];
    int            n;

    sup_conf("    restartIntensity = 2;\n    restartPeriodSec = 10;\n");
    sup_mode("crash");
    sup_start();
    ck_assert_int_ne(sup_wait_exit(), 0);
    ck_assert_msg(rmqtest_file_contains(br.log,
                                        "supervisor.crashloop: " TESTACTOR
                                        " exited 3 times"),
                  "%s", sup_log_tail());
    ck_assert(rmqtest_file_contains(br.log, "crash loop, giving up"));
    ck_assert(rmqtest_file_contains(br.log, TESTACTOR " is crash-looping"));
    n = sup_log_pids(TESTACTOR, pids, 64);
    ck_assert_int_eq(n, 3); /* the first start and two restarts */
    for (int i = 0; i < n; i++) {
        ck_assert(rmqtest_wait_pident_gone(&pids[i], 5000));
    }
}
END_TEST

START_TEST(test_sup_fatal_exit_2_stops_the_broker_without_restart)
{
    rmqtest_pident pids[8];

    sup_conf(NULL);
    sup_mode("exit2");
    sup_start();
    ck_assert_int_ne(sup_wait_exit(), 0);
    ck_assert(rmqtest_file_contains(br.log, "failed fatally (exit code 2)"));
    ck_assert_int_eq(sup_log_pids(TESTACTOR, pids, 8), 1);
    ck_assert(rmqtest_file_contains(br.log, "supervisor.exit"));
    ck_assert(rmqtest_wait_pident_gone(&pids[0], 5000));
}
END_TEST

START_TEST(test_sup_transient_exit_1_is_restarted)
{
    rmqtest_actors as;
    rmqtest_pident first;

    /* a high intensity: it keeps exiting until the mode file changes */
    sup_conf("    restartIntensity = 20;\n    restartPeriodSec = 30;\n");
    sup_mode("exit1");
    sup_start();
    ck_assert_msg(
        rmqtest_wait_file_contains(br.log, "exited with code 1", SUP_READY_MS),
        "%s", sup_log_tail());
    sup_mode("ok");
    sup_log_pids(TESTACTOR, &first, 1);
    sup_wait_restarted(TESTACTOR, &first, &as);
    ck_assert_int_ge(sup_find(&as, TESTACTOR)->restarts, 1);
    ck_assert(rmqtest_broker_running(&br));
}
END_TEST

START_TEST(test_sup_hung_actor_is_killed_and_restarted)
{
    rmqtest_actors before, after;
    rmqtest_pident hung;

    sup_conf("    heartbeatTimeoutSec = 1;\n");
    sup_mode("hang");
    sup_start();
    sup_wait_ready(&before);
    hung = sup_find(&before, TESTACTOR)->id;
    sup_mode("ok"); /* read at its next start */
    sup_wait_restarted(TESTACTOR, &hung, &after);
    ck_assert(rmqtest_wait_pident_gone(&hung, 5000));
    ck_assert(rmqtest_file_contains(br.log, "heartbeat stale"));
    ck_assert_int_eq(sup_find(&after, TESTACTOR)->restarts, 1);
    ck_assert_int_eq(sup_find(&after, TESTACTOR)->last_exit, -SIGKILL);
    ck_assert(rmqtest_broker_running(&br));
}
END_TEST

START_TEST(test_sup_actor_crashing_before_ready_makes_the_supervisor_give_up)
{
    sup_conf("    restartIntensity = 2;\n    restartPeriodSec = 10;\n");
    sup_mode("crash-early");
    sup_start();
    ck_assert_int_ne(sup_wait_exit(), 0);
    ck_assert_msg(rmqtest_file_contains(br.log,
                                        "supervisor.crashloop: " TESTACTOR
                                        " exited 3 times"),
                  "%s", sup_log_tail());
    ck_assert(!rmqtest_file_contains(br.log, "supervisor.ready"));
}
END_TEST

/* ---- stop --------------------------------------------------------------- */

static void
sup_check_orderly_stop(int sig)
{
    rmqtest_actors as;
    char           started[RMQTEST_ACTORS_MAX][32];
    char           stopped[RMQTEST_ACTORS_MAX][32];
    int            nstart, nstop;
    char          *ctl = rmqtest_strf("%s/ctl", br.run_dir);

    sup_conf(NULL);
    sup_start();
    sup_wait_ready(&as);
    ck_assert_int_eq(access(ctl, F_OK), 0);
    ck_assert(rmqtest_proc_signal_wait(&br.sup, sig, SUP_EXIT_MS));
    ck_assert_int_eq(rmqtest_exit_code(br.sup.status), 0);
    sup_assert_all_gone(&as);
    nstart =
        sup_log_order("actor.spawn: started ", started, RMQTEST_ACTORS_MAX);
    nstop = sup_log_order("actor.stop: stopping ", stopped, RMQTEST_ACTORS_MAX);
    ck_assert_int_eq(nstart, as.n);
    ck_assert_int_eq(nstop, as.n);
    for (int i = 0; i < nstop; i++) {
        ck_assert_msg(strcmp(stopped[i], started[nstart - 1 - i]) == 0,
                      "stop #%d is %s, want %s", i, stopped[i],
                      started[nstart - 1 - i]);
    }
    ck_assert(rmqtest_file_contains(br.log, "exiting with code 0"));
    ck_assert_int_ne(access(ctl, F_OK), 0); /* socket removed */
    free(ctl);
}

START_TEST(test_sup_sigterm_stops_actors_in_reverse_order_and_exits_0)
{
    sup_check_orderly_stop(SIGTERM);
    ck_assert(rmqtest_file_contains(br.log, "stopping all actors: SIGTERM"));
}
END_TEST

START_TEST(test_sup_sigint_stops_actors_in_reverse_order_and_exits_0)
{
    sup_check_orderly_stop(SIGINT);
    ck_assert(rmqtest_file_contains(br.log, "stopping all actors: SIGINT"));
}
END_TEST

START_TEST(test_sup_slow_stopping_actor_is_killed_after_its_stop_timeout)
{
    rmqtest_actors as;

    sup_conf(NULL);
    sup_mode("slowstop");
    sup_start();
    sup_wait_ready(&as);
    ck_assert(rmqtest_proc_signal_wait(&br.sup, SIGTERM, SUP_EXIT_MS));
    ck_assert_int_eq(rmqtest_exit_code(br.sup.status), 0);
    ck_assert(
        rmqtest_file_contains(br.log, "did not stop within its stop timeout"));
    ck_assert(rmqtest_file_contains(br.log, TESTACTOR " (pid "));
    ck_assert(rmqtest_file_contains(br.log, "killed by signal 9"));
    sup_assert_all_gone(&as);
}
END_TEST

START_TEST(test_sup_actor_dies_with_its_supervisor)
{
    rmqtest_actors as;

    sup_conf(NULL);
    sup_start();
    sup_wait_ready(&as);
    ck_assert(rmqtest_proc_signal_wait(&br.sup, SIGKILL, SUP_EXIT_MS));
    sup_assert_all_gone(&as);
}
END_TEST

/* ---- rmqctl actor restart ---------------------------------------------- */

START_TEST(test_sup_rmqctl_restart_gives_a_new_pid_and_is_not_a_crash)
{
    rmqtest_actors before, after;

    /* intensity 1: a second crash within 30 s would be fatal */
    sup_conf("    restartIntensity = 1;\n    restartPeriodSec = 30;\n");
    sup_start();
    sup_wait_ready(&before);
    for (int round = 1; round <= 3; round++) {
        const rmqtest_actor *old = sup_find(&before, TESTACTOR);
        const rmqtest_actor *now;
        json_t              *res;

        res = rmqtest_rmqctl_json(br.conf, "actor", "restart", TESTACTOR, NULL);
        ck_assert_ptr_nonnull(res);
        ck_assert_str_eq(sup_json_str(res, "result"), "ok");
        json_decref(res);
        sup_wait_restarted(TESTACTOR, &old->id, &after);
        ck_assert(rmqtest_wait_pident_gone(&old->id, 5000));
        now = sup_find(&after, TESTACTOR);
        /* counted as a restart, exited cleanly, never as a crash */
        ck_assert_int_eq(now->restarts, round);
        ck_assert_int_eq(now->exits, round);
        ck_assert_int_eq(now->last_exit, 0);
        for (int o = 0; o < before.n; o++) {
            if (strcmp(before.a[o].name, TESTACTOR) != 0) {
                ck_assert(sup_same_process(&before.a[o],
                                           sup_find(&after, before.a[o].name)));
            }
        }
        before = after;
    }
    ck_assert(rmqtest_broker_running(&br));
    ck_assert(!rmqtest_file_contains(br.log, "crashloop"));
}
END_TEST

START_TEST(test_sup_rmqctl_restart_of_an_unknown_actor_fails)
{
    rmqtest_out r;

    sup_conf(NULL);
    sup_start();
    sup_wait_ready(NULL);
    rmqtest_rmqctl(&r, br.conf, "actor", "restart", "nosuchactor", NULL);
    ck_assert_int_ne(r.code, 0);
    ck_assert_msg(strstr(r.err, "no such actor") != NULL, "%s", r.err);
    ck_assert_ptr_eq(strchr(r.err, '\n'), r.err + strlen(r.err) - 1);
    rmqtest_out_free(&r);
}
END_TEST

/* Child: five status requests; exit 0 when all were answered. */
static void
sup_status_child(void)
{
    for (int i = 0; i < 5; i++) {
        json_t *st = rmqtest_rmqctl_json(br.conf, "status", NULL);

        if (st == NULL || !json_is_integer(json_object_get(st, "pid"))) {
            _exit(1);
        }
        json_decref(st);
    }
    _exit(0);
}

START_TEST(test_sup_concurrent_rmqctl_requests_are_all_answered)
{
    enum { CLIENTS = 6 };
    pid_t pids[CLIENTS];

    sup_conf(NULL);
    sup_start();
    sup_wait_ready(NULL);
    for (int i = 0; i < CLIENTS; i++) {
        pids[i] = fork();
        ck_assert_int_ge(pids[i], 0);
        if (pids[i] == 0) {
            sup_status_child();
        }
    }
    for (int i = 0; i < CLIENTS; i++) {
        int status;

        ck_assert_int_eq(waitpid(pids[i], &status, 0), pids[i]);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                      "client %d failed (status %d)", i, status);
    }
    ck_assert(rmqtest_broker_running(&br));
}
END_TEST

/* ---- SIGHUP reload ------------------------------------------------------ */

struct sup_counter {
    const char *actor, *counter;
    long long   want;
};

static bool
sup_counter_is(void *arg)
{
    struct sup_counter  *c = arg;
    rmqtest_actors       as;
    const rmqtest_actor *a;

    if (rmqtest_actors_query(br.conf, &as) != 0) {
        return false;
    }
    a = rmqtest_actor_find(&as, c->actor);
    return a != NULL && rmqtest_actor_counter(a, c->counter) == c->want;
}

START_TEST(test_sup_sighup_with_a_changed_reloadable_key_reaches_the_actors)
{
    rmqtest_actors     before, after;
    struct sup_counter reloaded = {TESTACTOR, "reloads", 1};
    json_t            *st;

    sup_conf("    restartIntensity = 5;\n");
    sup_start();
    sup_wait_ready(&before);
    sup_conf("    restartIntensity = 6;\n");
    ck_assert_int_eq(kill(br.sup.pid, SIGHUP), 0);
    ck_assert_msg(rmqtest_wait_until(sup_counter_is, &reloaded, SUP_READY_MS),
                  "testactor did not reload; log:\n%s", sup_log_tail());
    ck_assert(
        rmqtest_file_contains(br.log, "supervisor.restartIntensity changed"));
    ck_assert(rmqtest_file_contains(br.log, "1 key(s) changed"));
    st = sup_status();
    ck_assert_int_eq(sup_json_int(st, "reloads"), 1);
    json_decref(st);
    /* a reload restarts nobody */
    ck_assert_int_eq(rmqtest_actors_query(br.conf, &after), 0);
    for (int i = 0; i < before.n; i++) {
        ck_assert(
            sup_same_process(&before.a[i], sup_find(&after, before.a[i].name)));
    }
}
END_TEST

START_TEST(test_sup_sighup_with_a_changed_fixed_key_keeps_the_old_value)
{
    struct sup_counter reloaded = {TESTACTOR, "reloads", 1};
    int                old_port = br.ns_port;

    sup_conf(NULL);
    sup_start();
    sup_wait_ready(NULL);
    br.ns_port = rmqtest_free_port();
    sup_conf(NULL);
    ck_assert_int_eq(kill(br.sup.pid, SIGHUP), 0);
    ck_assert(rmqtest_wait_until(sup_counter_is, &reloaded, SUP_READY_MS));
    ck_assert(rmqtest_file_contains(
        br.log, "namesrv.listenPort cannot change at run time"));
    ck_assert(rmqtest_file_contains(br.log, "0 key(s) changed"));
    ck_assert_int_ne(old_port, br.ns_port);
}
END_TEST

START_TEST(test_sup_sighup_with_a_broken_file_keeps_running)
{
    rmqtest_actors before, after;
    char       *want = rmqtest_strf("kept the running config: %s:3:", br.conf);
    rmqtest_out r;
    json_t     *st;

    sup_conf(NULL);
    sup_start();
    sup_wait_ready(&before);
    rmqtest_write_file(br.conf, "namesrv = {\n};\nsupervisor = { oops ;\n");
    ck_assert_int_eq(kill(br.sup.pid, SIGHUP), 0);
    ck_assert_msg(rmqtest_wait_file_contains(br.log, want, SUP_READY_MS),
                  "want \"%s\" in:\n%s", want, sup_log_tail());
    /* rmqctl cannot read the broken file either: name the run dir */
    st = rmqtest_rmqctl_json(NULL, "--rundir", br.run_dir, "status", NULL);
    ck_assert_ptr_nonnull(st);
    ck_assert_str_eq(sup_json_str(st, "state"), "running");
    ck_assert_int_eq(sup_json_int(st, "reloads"), 0);
    json_decref(st);
    rmqtest_rmqctl(&r, NULL, "--rundir", br.run_dir, "--json", "actors", NULL);
    ck_assert_int_eq(r.code, 0);
    ck_assert_int_eq(rmqtest_actors_parse(r.out, &after, NULL, 0), 0);
    rmqtest_out_free(&r);
    for (int i = 0; i < before.n; i++) {
        const rmqtest_actor *a = sup_find(&after, before.a[i].name);

        ck_assert(sup_same_process(&before.a[i], a));
        ck_assert_int_le(rmqtest_actor_counter(a, "reloads"), 0);
    }
    ck_assert(rmqtest_broker_running(&br));
    free(want);
}
END_TEST

/*
 * Regression: a SIGHUP reaching an actor between its fork and the
 * runner's handlers used to kill it (default action), which counted as a
 * crash.  Reload repeatedly while the test actor is being restarted.
 */
START_TEST(test_sup_sighup_during_actor_start_never_kills_the_actor)
{
    rmqtest_actors as;

    sup_conf("    restartIntensity = 2;\n    restartPeriodSec = 30;\n");
    sup_start();
    sup_wait_ready(&as);
    for (int round = 0; round < 20 && rmqtest_broker_running(&br); round++) {
        rmqtest_out     r;
        struct timespec gap = {0, 500 * 1000};

        rmqtest_rmqctl(&r, br.conf, "actor", "restart", TESTACTOR, NULL);
        rmqtest_out_free(&r);
        for (int i = 0; i < 30; i++) {
            kill(br.sup.pid, SIGHUP);
            nanosleep(&gap, NULL); /* spread over the respawn window */
        }
    }
    ck_assert_msg(!rmqtest_file_contains(br.log, "killed by signal 1 "),
                  "an actor died of SIGHUP; log:\n%s", sup_log_tail());
    ck_assert(rmqtest_broker_running(&br));
    sup_wait_ready(&as);
}
END_TEST

/* ---- systemd notify ----------------------------------------------------- */

static int
notify_open(char **path_out)
{
    struct sockaddr_un sa;
    char              *path = rmqtest_strf("%s/notify.sock", br.dir);
    int                fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

    ck_assert_int_ge(fd, 0);
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    ck_assert_uint_lt(strlen(path), sizeof(sa.sun_path));
    strcpy(sa.sun_path, path);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    *path_out = path;
    return fd;
}

/* One datagram (NUL-terminated) within timeout_ms; false on timeout. */
static bool
notify_recv(int fd, char *buf, size_t cap, int timeout_ms)
{
    struct pollfd pf = {fd, POLLIN, 0};
    ssize_t       n;

    if (poll(&pf, 1, rmqtest_scale_ms(timeout_ms)) != 1) {
        return false;
    }
    n = recv(fd, buf, cap - 1, 0);
    if (n < 0) {
        return false;
    }
    buf[n] = '\0';
    return true;
}

/* Start with NOTIFY_SOCKET and up to two more entries; the socket fd. */
static int
notify_start(const char *env1, const char *env2)
{
    char       *path;
    int         fd;
    char       *env_sock;
    const char *env[4];

    fd = notify_open(&path);
    env_sock = rmqtest_strf("NOTIFY_SOCKET=%s", path);
    env[0] = env_sock;
    env[1] = env1;
    env[2] = env1 ? env2 : NULL;
    env[3] = NULL;
    sup_start_env(env);
    free(env_sock);
    free(path);
    return fd;
}

static void
notify_close(int fd)
{
    char *path = rmqtest_strf("%s/notify.sock", br.dir);

    close(fd);
    unlink(path);
    free(path);
}

START_TEST(test_sup_notify_ready_after_all_actors_and_stopping_on_sigterm)
{
    char           msg[256];
    rmqtest_actors as;
    int            fd;

    sup_conf(NULL);
    fd = notify_start(NULL, NULL);
    ck_assert_msg(notify_recv(fd, msg, sizeof(msg), SUP_READY_MS),
                  "no notification; log:\n%s", sup_log_tail());
    ck_assert_str_eq(msg, "READY=1");
    /* READY=1 came only once every actor was ready */
    ck_assert(rmqtest_wait_file_contains(br.log, "supervisor.ready", 5000));
    ck_assert_int_eq(rmqtest_actors_query(br.conf, &as), 0);
    ck_assert(rmqtest_actors_all_ready(&as));
    ck_assert_int_eq(kill(br.sup.pid, SIGTERM), 0);
    ck_assert(notify_recv(fd, msg, sizeof(msg), SUP_EXIT_MS));
    ck_assert_str_eq(msg, "STOPPING=1");
    ck_assert_int_eq(sup_wait_exit(), 0);
    notify_close(fd);
}
END_TEST

START_TEST(test_sup_notify_watchdog_pings_while_heartbeats_are_fresh)
{
    char    msg[256];
    int     pings = 0;
    bool    ready = false;
    int64_t until;
    int     fd;

    sup_conf(NULL);
    fd = notify_start("WATCHDOG_USEC=200000", NULL);
    until = rmqtest_now_ms() + rmqtest_scale_ms(SUP_READY_MS);
    /* a ping every WATCHDOG_USEC / 2 = 100 ms */
    while (pings < 5 && rmqtest_now_ms() < until &&
           notify_recv(fd, msg, sizeof(msg), 2000)) {
        ready = ready || strcmp(msg, "READY=1") == 0;
        pings += strcmp(msg, "WATCHDOG=1") == 0;
    }
    ck_assert_msg(pings >= 5, "only %d WATCHDOG=1; log:\n%s", pings,
                  sup_log_tail());
    ck_assert(ready);
    notify_close(fd);
}
END_TEST

START_TEST(test_sup_notify_watchdog_is_off_for_another_watchdog_pid)
{
    char msg[256];
    int  fd;

    sup_conf(NULL);
    /* WATCHDOG_PID names another process: READY=1, but no pings */
    fd = notify_start("WATCHDOG_USEC=200000", "WATCHDOG_PID=1");
    ck_assert(notify_recv(fd, msg, sizeof(msg), SUP_READY_MS));
    ck_assert_str_eq(msg, "READY=1");
    ck_assert(!notify_recv(fd, msg, sizeof(msg), 600));
    notify_close(fd);
}
END_TEST

START_TEST(test_sup_notify_reaches_an_abstract_socket)
{
    struct sockaddr_un sa;
    socklen_t          len;
    char               name[64];
    char              *env_sock;
    const char        *env[2];
    char               msg[256];
    int                fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

    snprintf(name, sizeof(name), "rmqtest-notify-%d-%lld", (int)getpid(),
             (long long)rmqtest_now_us());
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path + 1, name, strlen(name)); /* leading NUL: abstract */
    len =
        (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(name));
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, len), 0);
    env_sock = rmqtest_strf("NOTIFY_SOCKET=@%s", name);
    env[0] = env_sock;
    env[1] = NULL;
    sup_conf(NULL);
    sup_start_env(env);
    ck_assert_msg(notify_recv(fd, msg, sizeof(msg), SUP_READY_MS),
                  "nothing on @%s; log:\n%s", name, sup_log_tail());
    ck_assert_str_eq(msg, "READY=1");
    close(fd);
    free(env_sock);
}
END_TEST

/*
 * An actor that never becomes READY is killed after startTimeoutSec and
 * restarted; meanwhile the broker reports "starting" and systemd gets no
 * READY=1.
 */
START_TEST(
    test_sup_actor_not_ready_within_start_timeout_is_killed_and_restarted)
{
    char           msg[256];
    rmqtest_actors as;
    json_t        *st;
    int            fd;

    /* 2 s: room for the checks below before the kill, even under load */
    sup_conf("    startTimeoutSec = 2;\n");
    sup_mode("noready");
    fd = notify_start(NULL, NULL);
    ck_assert(rmqtest_wait_file_contains(br.log, "mode noready", SUP_READY_MS));
    sup_mode("ok"); /* for its next start */
    st = sup_status();
    ck_assert_str_eq(sup_json_str(st, "state"), "starting");
    ck_assert(json_is_null(json_object_get(st, "ready_after_ms")));
    ck_assert_int_lt(sup_json_int(st, "actors_ready"),
                     sup_json_int(st, "actors_total"));
    json_decref(st);
    ck_assert_int_eq(rmqtest_actors_query(br.conf, &as), 0);
    ck_assert_str_eq(sup_find(&as, TESTACTOR)->state, "starting");
    ck_assert_msg(!notify_recv(fd, msg, sizeof(msg), 300),
                  "got \"%s\" before the actors were ready", msg);
    ck_assert_msg(notify_recv(fd, msg, sizeof(msg), SUP_READY_MS),
                  "no READY=1 after the restart; log:\n%s", sup_log_tail());
    ck_assert_str_eq(msg, "READY=1");
    ck_assert(
        rmqtest_file_contains(br.log, "not ready within startTimeoutSec"));
    sup_wait_ready(&as);
    ck_assert_int_eq(sup_find(&as, TESTACTOR)->restarts, 1);
    ck_assert_int_eq(sup_find(&as, TESTACTOR)->last_exit, -SIGKILL);
    notify_close(fd);
}
END_TEST

/* ---- measurements (printed, not asserted) ------------------------------- */

static int
measure_cmp(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

    return x < y ? -1 : x > y;
}

static void
measure_print(const char *what, int64_t *us, int n)
{
    qsort(us, (size_t)n, sizeof(*us), measure_cmp);
    printf("MEASURE: %s: min %.2f ms, median %.2f ms, max %.2f ms (n=%d)\n",
           what, us[0] / 1000.0, us[n / 2] / 1000.0, us[n - 1] / 1000.0, n);
    fflush(stdout);
}

/* The slot index of an actor, by name. */
static int
measure_slot(const rmq_ctl *ctl, const char *name)
{
    for (int i = 0; i < RMQ_ACTOR_MAX; i++) {
        if (strcmp(ctl->slots[i].sup.s.name, name) == 0) {
            return i;
        }
    }
    return -1;
}

/* kill -9 the actor in slot; microseconds until its successor is READY. */
static int64_t
measure_restart_us(rmq_ctl *ctl, int slot)
{
    rmq_actor_slot *s = &ctl->slots[slot];
    int32_t         old = atomic_load(&s->sup.s.pid);
    int64_t         t0 = rmqtest_now_us();
    int64_t         limit = t0 + 5000000;

    ck_assert_int_eq(kill(old, SIGKILL), 0);
    for (;;) {
        int32_t pid = atomic_load(&s->sup.s.pid);

        if (pid != old && pid > 0 && atomic_load(&s->act.s.ready_pid) == pid) {
            return rmqtest_now_us() - t0;
        }
        ck_assert_msg(rmqtest_now_us() < limit, "no restart within 5 s");
        struct timespec ts = {0, 50 * 1000};
        nanosleep(&ts, NULL);
    }
}

START_TEST(test_sup_measure_start_to_ready_and_restart_latency)
{
    enum { N = 10 };
    int64_t start_us[N], own_us[N], restart_us[N];
    char    msg[256];
    char   *cpath = rmqtest_strf("%s/%s", br.run_dir, RMQ_CTL_FILE);

    sup_conf(NULL);
    for (int i = 0; i < N; i++) {
        int     fd;
        int64_t t0 = rmqtest_now_us();
        json_t *st;
        rmq_ctl ctl;

        fd = notify_start(NULL, NULL);
        ck_assert(notify_recv(fd, msg, sizeof(msg), SUP_READY_MS));
        start_us[i] = rmqtest_now_us() - t0;
        ck_assert_str_eq(msg, "READY=1");
        st = sup_status();
        own_us[i] = sup_json_int(st, "ready_after_ms") * 1000;
        json_decref(st);
        ck_assert_int_eq(rmq_ctl_attach(cpath, false, &ctl), 0);
        restart_us[i] = measure_restart_us(&ctl, measure_slot(&ctl, TESTACTOR));
        rmq_ctl_detach(&ctl);
        ck_assert(rmqtest_proc_signal_wait(&br.sup, SIGTERM, SUP_EXIT_MS));
        notify_close(fd);
    }
    measure_print("supervisor spawn to READY=1 (fork+exec included)", start_us,
                  N);
    measure_print("supervisor's own ready_after_ms (ms resolution)", own_us, N);
    measure_print("kill -9 " TESTACTOR " to its new pid READY", restart_us, N);
    free(cpath);
}
END_TEST

static TCase *
sup_tcase(Suite *s, const char *name, int timeout_sec)
{
    TCase *tc = tcase_create(name);

    tcase_set_tags(tc, "proc");
    tcase_add_unchecked_fixture(tc, rmqtest_base_setup, rmqtest_base_teardown);
    tcase_add_checked_fixture(tc, sup_setup, sup_teardown);
    tcase_set_timeout(tc, timeout_sec);
    suite_add_tcase(s, tc);
    return tc;
}

static Suite *
supervisor_suite(void)
{
    Suite *s = suite_create("supervisor.supervisor");
    TCase *tc;

    tc = sup_tcase(s, "start", 30);
    tcase_add_test(tc, test_sup_all_actors_reach_ready);
    tcase_add_test(tc, test_sup_actor_process_title_is_rmq_and_its_name);
    tcase_add_test(tc, test_sup_actors_json_has_every_field_of_every_actor);
    tcase_add_test(tc, test_sup_actors_table_lists_every_actor);
    tcase_add_test(tc, test_sup_status_json_describes_the_supervisor);
    tcase_add_test(tc, test_sup_bad_config_exits_2_before_any_actor_starts);
    tcase_add_test(tc, test_sup_second_supervisor_on_the_same_run_dir_exits_2);
    tcase_add_test(tc,
                   test_sup_rmqctl_without_a_supervisor_fails_with_one_line);

    tc = sup_tcase(s, "crash", 40);
    tcase_add_test(tc, test_sup_kill9_actor_is_restarted_and_others_keep_pid);
    tcase_add_test(tc,
                   test_sup_crash_looping_actor_makes_the_supervisor_give_up);
    tcase_add_test(tc, test_sup_fatal_exit_2_stops_the_broker_without_restart);
    tcase_add_test(tc, test_sup_transient_exit_1_is_restarted);
    tcase_add_test(tc, test_sup_hung_actor_is_killed_and_restarted);
    tcase_add_test(
        tc, test_sup_actor_crashing_before_ready_makes_the_supervisor_give_up);
    tcase_add_test(tc, test_sup_actor_dies_with_its_supervisor);

    tc = sup_tcase(s, "stop", 40);
    tcase_add_test(tc,
                   test_sup_sigterm_stops_actors_in_reverse_order_and_exits_0);
    tcase_add_test(tc,
                   test_sup_sigint_stops_actors_in_reverse_order_and_exits_0);
    tcase_add_test(
        tc, test_sup_slow_stopping_actor_is_killed_after_its_stop_timeout);

    tc = sup_tcase(s, "rmqctl", 40);
    tcase_add_test(tc,
                   test_sup_rmqctl_restart_gives_a_new_pid_and_is_not_a_crash);
    tcase_add_test(tc, test_sup_rmqctl_restart_of_an_unknown_actor_fails);
    tcase_add_test(tc, test_sup_concurrent_rmqctl_requests_are_all_answered);

    tc = sup_tcase(s, "reload", 40);
    tcase_add_test(
        tc, test_sup_sighup_with_a_changed_reloadable_key_reaches_the_actors);
    tcase_add_test(
        tc, test_sup_sighup_with_a_changed_fixed_key_keeps_the_old_value);
    tcase_add_test(tc, test_sup_sighup_with_a_broken_file_keeps_running);
    tcase_add_test(tc,
                   test_sup_sighup_during_actor_start_never_kills_the_actor);

    tc = sup_tcase(s, "systemd", 40);
    tcase_add_test(
        tc, test_sup_notify_ready_after_all_actors_and_stopping_on_sigterm);
    tcase_add_test(tc,
                   test_sup_notify_watchdog_pings_while_heartbeats_are_fresh);
    tcase_add_test(tc,
                   test_sup_notify_watchdog_is_off_for_another_watchdog_pid);
    tcase_add_test(tc, test_sup_notify_reaches_an_abstract_socket);
    tcase_add_test(
        tc,
        test_sup_actor_not_ready_within_start_timeout_is_killed_and_restarted);

    tc = sup_tcase(s, "measure", 60);
    tcase_add_test(tc, test_sup_measure_start_to_ready_and_restart_latency);
    return s;
}

int
main(void)
{
    return rmqtest_run_suite(supervisor_suite());
}
