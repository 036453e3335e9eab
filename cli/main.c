/*
 * main.c - rmqctl: inspect and operate an rmq broker.
 *
 *   rmqctl [-c FILE | --rundir DIR] [--json] actors
 *   rmqctl [-c FILE | --rundir DIR] [--json] status
 *   rmqctl [-c FILE | --rundir DIR] [--json] actor restart NAME
 *   rmqctl [-c FILE] [-n NAMESRV] [--json] topic|group|consumer|send|
 *          consume|msg|cluster|broker ...          (see rmqctl help)
 *
 * Actor commands talk to the supervisor's control socket
 * (ipc://<runDir>/ctl); the data and admin commands speak the RocketMQ
 * remoting protocol to the name servers and brokers (cli/remote.h).  Exit
 * status is 0 on success and non-zero, with a one-line reason on stderr,
 * on any failure.
 */
#include "cli/rmqctl.h"

#include "common/log.h"
#include "common/util.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct rmqctl_cmd {
    const char *name;
    int (*run)(rmqctl *c);
    const char *usage;
};

static const struct rmqctl_cmd rmqctl_cmds[] = {
    {"actors", rmqctl_cmd_actors, "actors                 list actors"},
    {"status", rmqctl_cmd_status, "status                 supervisor status"},
    {"actor", rmqctl_cmd_actor, "actor restart NAME     restart one actor"},
    {"topic", rmqctl_cmd_topic,
     "topic create -t TOPIC [-r READQ] [-w WRITEQ] [-p PERM] [--order]\n"
     "               [-c CLUSTER | -b BROKER_ADDR]\n"
     "                         create or update a topic on every master\n"
     "  topic delete -t TOPIC [-c CLUSTER]\n"
     "  topic list [-c CLUSTER]\n"
     "  topic route -t TOPIC\n"
     "  topic status -t TOPIC  queue offsets on each broker"},
    {"group", rmqctl_cmd_group,
     "group create -g GROUP [--retry-max N] [--retry-queues N]\n"
     "               [--broadcast true|false] [--consume-enable true|false]\n"
     "               [-c CLUSTER | -b BROKER_ADDR]\n"
     "  group list [-c CLUSTER | -b BROKER_ADDR]"},
    {"consumer", rmqctl_cmd_consumer,
     "consumer progress -g GROUP [-t TOPIC] [-c CLUSTER]\n"
     "                         offsets and lag per queue"},
    {"send", rmqctl_cmd_send,
     "send -t TOPIC [-k KEYS] [--tag TAG] [-p KEY=VALUE]... [--delay LEVEL]\n"
     "               BODY|-    send one message (- reads stdin)"},
    {"consume", rmqctl_cmd_consume,
     "consume -t TOPIC [-g GROUP] [--from-beginning] [-n COUNT]\n"
     "               [--tag EXPR] [--timeout SEC]\n"
     "                         print messages (--json: one object per line)"},
    {"msg", rmqctl_cmd_msg,
     "msg get MSGID           one message by its offset message id"},
    {"cluster", rmqctl_cmd_cluster,
     "cluster list            brokers of every cluster"},
    {"broker", rmqctl_cmd_broker,
     "broker status [-b BROKER_ADDR] [-c CLUSTER]\n"
     "                         broker runtime info"},
};

int
rmqctl_fail(const char *fmt, ...)
{
    va_list ap;

    fputs("rmqctl: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return 1;
}

int
rmqctl_print_json(json_t *v)
{
    char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);

    json_decref(v);
    if (text == NULL) {
        return rmqctl_fail("out of memory");
    }
    puts(text);
    free(text);
    return 0;
}

int
rmqctl_bad_option(const char *cmd, int ch, char *const *argv)
{
    const char *arg = optind > 0 ? argv[optind - 1] : "?";

    if (ch == ':') {
        return rmqctl_fail("%s: option %s needs a value (try rmqctl help)", cmd,
                           arg);
    }
    if (optopt != 0) {
        return rmqctl_fail("%s: unknown option -%c (try rmqctl help)", cmd,
                           optopt);
    }
    return rmqctl_fail("%s: unknown option %s (try rmqctl help)", cmd, arg);
}

int
rmqctl_int_arg(const char *cmd, const char *opt, const char *arg, int32_t *out)
{
    if (rmq_parse_i32(arg, out) != 0) {
        return rmqctl_fail("%s: %s wants a number, not \"%s\"", cmd, opt, arg);
    }
    return 0;
}

void
rmqctl_quiet_log(int level, const char *line, void *arg)
{
    (void)level;
    (void)line;
    (void)arg;
}

const char *
rmqctl_run_dir(const rmqctl *c)
{
    return c->rundir_opt ? c->rundir_opt : c->cfg.supervisor.run_dir;
}

static void
rmqctl_usage(FILE *out)
{
    fprintf(out, "usage: rmqctl [-c FILE] [--rundir DIR] [-n NAMESRV] "
                 "[--json] COMMAND ...\ncommands:\n");
    for (size_t i = 0; i < sizeof(rmqctl_cmds) / sizeof(rmqctl_cmds[0]); i++) {
        fprintf(out, "  %s\n", rmqctl_cmds[i].usage);
    }
    fprintf(out, "name servers: -n \"host:port;host:port\", else NAMESRV_ADDR, "
                 "else broker.namesrvAddr\nof the config (-c FILE or the "
                 "embedded default).  --json anywhere prints JSON.\n");
}

/* Take global options off the front; --json is accepted anywhere. */
static int
rmqctl_parse(rmqctl *c, int argc, char **argv, int *cmd_at)
{
    int i = 1;

    for (; i < argc && argv[i][0] == '-'; i++) {
        if ((strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) &&
            i + 1 < argc) {
            c->config_path = argv[++i];
        } else if (strcmp(argv[i], "--rundir") == 0 && i + 1 < argc) {
            c->rundir_opt = argv[++i];
        } else if ((strcmp(argv[i], "-n") == 0 ||
                    strcmp(argv[i], "--namesrv") == 0) &&
                   i + 1 < argc) {
            c->namesrv_opt = argv[++i];
        } else if (strcmp(argv[i], "--json") == 0) {
            c->json = true;
        } else {
            return -1;
        }
    }
    *cmd_at = i;
    /* strip --json from the command's own arguments */
    int out = i;
    for (int j = i; j < argc; j++) {
        if (strcmp(argv[j], "--json") == 0) {
            c->json = true;
        } else {
            argv[out++] = argv[j];
        }
    }
    return out;
}

int
main(int argc, char **argv)
{
    rmqctl c;
    char   err[512];
    int    cmd_at;
    int    end;
    int    rc;

    memset(&c, 0, sizeof(c));
    rmq_log_init("rmqctl");
    rmq_log_set_level(RMQ_LOG_WARN);
    end = rmqctl_parse(&c, argc, argv, &cmd_at);
    if (end < 0 || cmd_at >= end) {
        rmqctl_usage(stderr);
        return 2;
    }
    rc = c.config_path
             ? rmq_config_load_file(c.config_path, &c.cfg, err, sizeof(err))
             : rmq_config_load_string(rmq_default_conf, "<embedded>", &c.cfg,
                                      err, sizeof(err));
    if (rc != 0) {
        return rmqctl_fail("%s", err);
    }
    c.argc = end - cmd_at - 1;
    c.argv = argv + cmd_at + 1;
    for (size_t i = 0; i < sizeof(rmqctl_cmds) / sizeof(rmqctl_cmds[0]); i++) {
        if (strcmp(argv[cmd_at], rmqctl_cmds[i].name) == 0) {
            return rmqctl_cmds[i].run(&c);
        }
    }
    if (strcmp(argv[cmd_at], "help") == 0) {
        rmqctl_usage(stdout);
        return 0;
    }
    return rmqctl_fail("unknown command \"%s\" (try rmqctl help)",
                       argv[cmd_at]);
}
