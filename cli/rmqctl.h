/*
 * rmqctl.h - shared state of the rmqctl tool and the command entry points.
 *
 * Global options come before the command word (-c FILE, --rundir DIR,
 * -n NAMESRV); --json may appear anywhere.  Every command prints a table
 * for people or JSON for scripts, and on failure prints one line
 * "rmqctl: <reason>" on stderr and exits non-zero.
 */
#ifndef RMQ_CLI_RMQCTL_H
#define RMQ_CLI_RMQCTL_H

#include "common/config.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct rmqctl {
    const char *config_path; /* -c */
    const char *rundir_opt;  /* --rundir */
    const char *namesrv_opt; /* -n */
    bool        json;        /* --json */
    rmq_config  cfg;         /* from -c, or the embedded default */
    int         argc;        /* the command's own arguments */
    char      **argv;
} rmqctl;

/* Print "rmqctl: <reason>" to stderr; returns the exit status (1). */
int rmqctl_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/*
 * Print a JSON value to stdout (compact, newline) and free it; returns 0,
 * or 1 after "rmqctl: out of memory" when v is NULL (a failed json_pack).
 */
int rmqctl_print_json(json_t *v);
/* The run directory: --rundir, else the config's supervisor.runDir. */
const char *rmqctl_run_dir(const rmqctl *c);

/*
 * Report a bad option that getopt_long (optstring starting with ':')
 * returned as ch for command cmd; returns the exit status (1).
 */
int rmqctl_bad_option(const char *cmd, int ch, char *const *argv);
/* Parse a whole decimal int32 argument of option opt into *out. */
int rmqctl_int_arg(const char *cmd, const char *opt, const char *arg,
                   int32_t *out);
/*
 * librmq's log_fn for send and consume: drops every line, so nothing but
 * our own one-line reason reaches stderr (failures come back as rmq_error).
 */
void rmqctl_quiet_log(int level, const char *line, void *arg);

/* Commands: each returns the process exit status. */
int rmqctl_cmd_actors(rmqctl *c);
int rmqctl_cmd_status(rmqctl *c);
int rmqctl_cmd_actor(rmqctl *c);
int rmqctl_cmd_topic(rmqctl *c);    /* cmd_topic.c */
int rmqctl_cmd_group(rmqctl *c);    /* cmd_group.c */
int rmqctl_cmd_consumer(rmqctl *c); /* cmd_consumer.c */
int rmqctl_cmd_send(rmqctl *c);     /* cmd_send.c */
int rmqctl_cmd_consume(rmqctl *c);  /* cmd_consume.c */
int rmqctl_cmd_msg(rmqctl *c);      /* cmd_msg.c */
int rmqctl_cmd_cluster(rmqctl *c);  /* cmd_cluster.c */
int rmqctl_cmd_broker(rmqctl *c);   /* cmd_cluster.c */

#endif
