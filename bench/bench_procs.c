/*
 * bench_procs.c - the broker's processes as rmq-bench reports them
 * (bench.h): pids from the control segment (<runDir>/control, attached
 * read-only: the supervisor's pid from its header, every actor's from
 * its slot), memory from /proc/<pid>/status and smaps_rollup.
 *
 * RSS counts the pages of the shared store mappings in every process
 * that touched them, so the sum of RSS over processes overstates what
 * the broker uses; PSS splits shared pages between their users and sums
 * correctly.  Both are reported.
 */
#include "bench/bench.h"

#include "common/config.h"
#include "common/util.h"
#include "shm/control.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *
rmq_bench_rundir(const rmq_bench_opts *o)
{
    static rmq_config cfg;
    char              err[512];

    if (o->rundir != NULL) {
        return o->rundir;
    }
    if (o->config != NULL &&
        rmq_config_load_file(o->config, &cfg, err, sizeof(err)) == 0) {
        return cfg.supervisor.run_dir;
    }
    return NULL;
}

/* "Key:   1234 kB" lines of a /proc file; -1 for keys not found. */
static void
procs_read_kib(const char *path, const char *const *keys, int64_t *vals, int n)
{
    FILE *f = fopen(path, "r");
    char  line[256];

    for (int i = 0; i < n; i++) {
        vals[i] = -1;
    }
    if (f == NULL) {
        return;
    }
    while (fgets(line, sizeof(line), f) != NULL) {
        for (int i = 0; i < n; i++) {
            size_t kl = strlen(keys[i]);
            if (strncmp(line, keys[i], kl) == 0 && line[kl] == ':') {
                vals[i] = strtoll(line + kl + 1, NULL, 10);
            }
        }
    }
    fclose(f);
}

static void
procs_add(rmq_bench_procs *out, const char *name, int32_t pid)
{
    static const char *const st_keys[] = {"VmRSS", "VmHWM", "RssAnon",
                                          "RssFile", "RssShmem"};
    static const char *const sm_keys[] = {"Pss"};
    rmq_bench_proc          *p;
    char                     path[64];
    int64_t                  v[5];

    if (out->n >= RMQ_BENCH_PROCS_MAX || pid <= 0) {
        return;
    }
    p = &out->p[out->n++];
    memset(p, 0, sizeof(*p));
    rmq_strlcpy(p->name, name, sizeof(p->name));
    p->pid = pid;
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    procs_read_kib(path, st_keys, v, 5);
    p->rss_kib = v[0];
    p->hwm_kib = v[1];
    p->anon_kib = v[2];
    p->file_kib = v[3];
    p->shmem_kib = v[4];
    snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", (int)pid);
    procs_read_kib(path, sm_keys, &p->pss_kib, 1);
}

/* The configuration the supervisor published; false without a broker. */
static bool
procs_broker_config(const rmq_ctl *ctl, rmq_config *cfg)
{
    char *text = rmq_ctl_config_read(ctl);
    char  err[256];
    bool  ok =
        text != NULL &&
        rmq_config_load_string(text, "<control>", cfg, err, sizeof(err)) == 0 &&
        cfg->has_broker;

    free(text);
    return ok;
}

/* flushDiskType of the running broker. */
static void
procs_flush_type(const rmq_ctl *ctl, char *out, size_t cap)
{
    rmq_config cfg;

    rmq_strlcpy(out, "unknown", cap);
    if (procs_broker_config(ctl, &cfg)) {
        rmq_strlcpy(out,
                    cfg.broker.flush_disk_type == RMQ_FLUSH_SYNC
                        ? "SYNC_FLUSH"
                        : "ASYNC_FLUSH",
                    cap);
    }
}

void
rmq_bench_procs_sample(const char *rundir, rmq_bench_procs *out)
{
    char    path[RMQ_CONFIG_PATH_MAX + 16];
    rmq_ctl ctl;
    int     rc;

    memset(out, 0, sizeof(*out));
    if (rundir == NULL) {
        snprintf(out->why, sizeof(out->why),
                 "no run directory (give -c CONFIG or --rundir DIR)");
        return;
    }
    snprintf(path, sizeof(path), "%s/%s", rundir, RMQ_CTL_FILE);
    rc = rmq_ctl_attach(path, false, &ctl);
    if (rc != 0) {
        snprintf(out->why, sizeof(out->why),
                 "cannot attach the control segment %s", path);
        return;
    }
    out->found = true;
    procs_flush_type(&ctl, out->flush, sizeof(out->flush));
    procs_add(out, "supervisor", ctl.hdr->supervisor_pid);
    for (uint32_t i = 0; i < ctl.hdr->actor_count && i < RMQ_ACTOR_MAX; i++) {
        const rmq_slot_sup *s = &ctl.slots[i].sup.s;
        char                name[RMQ_ACTOR_NAME_MAX + 1];

        if (atomic_load(&s->state) == RMQ_ASTATE_NONE) {
            continue; /* not part of this broker */
        }
        memcpy(name, s->name, RMQ_ACTOR_NAME_MAX);
        name[RMQ_ACTOR_NAME_MAX] = '\0';
        procs_add(out, name, atomic_load(&s->pid));
    }
    rmq_ctl_detach(&ctl);
}

void
rmq_bench_procs_broker_addr(const char *rundir, char *out, size_t cap)
{
    char       path[RMQ_CONFIG_PATH_MAX + 16];
    rmq_ctl    ctl;
    rmq_config cfg;

    out[0] = '\0';
    snprintf(path, sizeof(path), "%s/%s", rundir, RMQ_CTL_FILE);
    if (rmq_ctl_attach(path, false, &ctl) != 0) {
        return;
    }
    if (procs_broker_config(&ctl, &cfg)) {
        snprintf(out, cap, "%s:%d",
                 cfg.broker.broker_ip1[0] ? cfg.broker.broker_ip1 : "127.0.0.1",
                 (int)cfg.broker.listen_port);
    }
    rmq_ctl_detach(&ctl);
}
