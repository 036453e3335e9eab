/*
 * main.c - rmq-supervisor entry point.
 *
 *   rmq-supervisor [-c FILE] [-p]       run the broker (foreground)
 *   rmq-supervisor --actor NAME ...     (internal) run one actor
 *
 * Without -c the embedded default configuration (etc/rmq.conf) is used.
 * -p prints the effective configuration, every key with its value, and
 * exits.  A bad configuration exits 2 before anything starts.
 */
#include "common/config.h"
#include "common/log.h"
#include "supervisor/actor.h"
#include "supervisor/sup.h"

#include <stdio.h>
#include <string.h>

static void
main_usage(FILE *out)
{
    fprintf(out,
            "usage: rmq-supervisor [-c FILE] [-p]\n"
            "  -c FILE   configuration file (default: the embedded default)\n"
            "  -p        print the effective configuration and exit\n"
            "  -V        print the version and exit\n");
}

int
main(int argc, char **argv)
{
    const char *path = NULL;
    bool        print = false;
    rmq_config  cfg;
    char        err[512];
    int         rc;

    if (argc > 1 && strcmp(argv[1], "--actor") == 0) {
        return rmq_runner_main(argc, argv);
    }
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-c") == 0 && i + 1 < argc) {
            path = argv[++i];
        } else if (strcmp(argv[i], "-p") == 0) {
            print = true;
        } else if (strcmp(argv[i], "-V") == 0) {
            printf("rmq-supervisor %s\n", RMQ_VERSION);
            return 0;
        } else if (strcmp(argv[i], "-h") == 0 ||
                   strcmp(argv[i], "--help") == 0) {
            main_usage(stdout);
            return 0;
        } else {
            main_usage(stderr);
            return RMQ_SUP_EXIT_CONFIG;
        }
    }
    rmq_log_init("supervisor");
    rc = path ? rmq_config_load_file(path, &cfg, err, sizeof(err))
              : rmq_config_load_string(rmq_default_conf, "<embedded>", &cfg,
                                       err, sizeof(err));
    if (rc != 0) {
        rmq_log(RMQ_LOG_ERR, "config.invalid", "%s", err);
        return RMQ_SUP_EXIT_CONFIG;
    }
    if (print) {
        rmq_config_print(&cfg, stdout);
        return 0;
    }
    return rmq_sup_run(&cfg, path);
}
