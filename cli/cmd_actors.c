/*
 * cmd_actors.c - rmqctl commands served by the supervisor's control socket
 * (ipc://<runDir>/ctl): actors, status, actor restart.
 */
#include "cli/rmqctl.h"
#include "cli/table.h"

#include "common/err.h"
#include "common/util.h"
#include "proto/catalog.h"

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One request/reply with the supervisor; reply bytes in *out (nng_free). */
static int
ctl_call(rmqctl *c, const rmq_msg_ctl_request *req, nng_msg **out)
{
    char       url[RMQ_CONFIG_PATH_MAX + 16];
    nng_socket sock;
    nng_msg   *msg = NULL;
    rmq_buf    b;
    int        rv;

    snprintf(url, sizeof(url), "ipc://%s/ctl", rmqctl_run_dir(c));
    rmq_buf_init(&b);
    rmq_msg_ctl_request_encode(req, &b);
    if ((rv = nng_req0_open(&sock)) != 0) {
        rmq_buf_free(&b);
        return rmqctl_fail("cannot open socket: %s", nng_strerror(rv));
    }
    nng_socket_set_ms(sock, NNG_OPT_RECVTIMEO, 5000);
    nng_socket_set_ms(sock, NNG_OPT_SENDTIMEO, 5000);
    rv = nng_dial(sock, url, NULL, 0);
    if (rv != 0) {
        rmq_buf_free(&b);
        nng_close(sock);
        return rmqctl_fail("cannot reach the supervisor at %s: %s (is it "
                           "running?)",
                           url, nng_strerror(rv));
    }
    rv = nng_send(sock, b.data, b.len, 0);
    if (rv == 0) {
        rv = nng_recvmsg(sock, &msg, 0);
    }
    rmq_buf_free(&b);
    nng_close(sock);
    if (rv != 0) {
        return rmqctl_fail("no answer from the supervisor: %s",
                           nng_strerror(rv));
    }
    *out = msg;
    return 0;
}

static void
fmt_duration(int64_t ms, char *out, size_t cap)
{
    if (ms < 0) {
        snprintf(out, cap, "-");
    } else if (ms < 10000) {
        snprintf(out, cap, "%lldms", (long long)ms);
    } else if (ms < 3600 * 1000) {
        snprintf(out, cap, "%llds", (long long)(ms / 1000));
    } else {
        snprintf(out, cap, "%lldh%02lldm", (long long)(ms / 3600000),
                 (long long)(ms / 60000 % 60));
    }
}

static void
fmt_exit(int32_t code, uint32_t exits, char *out, size_t cap)
{
    if (exits == 0) {
        snprintf(out, cap, "-");
    } else if (code < 0) {
        snprintf(out, cap, "signal %d", -code);
    } else {
        snprintf(out, cap, "code %d", code);
    }
}

static void
fmt_counters(const rmq_ctl_actor_info *a, char *out, size_t cap)
{
    size_t n = 0;

    out[0] = '\0';
    for (uint32_t i = 0; i < a->ncounters && n < cap; i++) {
        n += (size_t)snprintf(out + n, cap - n, "%s%s=%llu", i ? " " : "",
                              a->counters[i].name,
                              (unsigned long long)a->counters[i].value);
    }
}

static json_t *
actor_json(const rmq_ctl_actor_info *a, int64_t now_mono, int64_t now_wall)
{
    json_t *counters = json_object();

    for (uint32_t i = 0; i < a->ncounters; i++) {
        json_object_set_new(counters, a->counters[i].name,
                            json_integer((json_int_t)a->counters[i].value));
    }
    return json_pack(
        "{s:s, s:i, s:s, s:I, s:i, s:I, s:o, s:I, s:o}", "name", a->name, "pid",
        a->pid, "state", a->state, "uptime_ms",
        (json_int_t)(a->start_ms ? now_wall - a->start_ms : -1), "restarts",
        a->restarts, "exits", (json_int_t)a->exits, "last_exit",
        a->exits ? json_integer(a->last_exit) : json_null(), "heartbeat_age_ms",
        (json_int_t)(a->heartbeat_ms ? now_mono - a->heartbeat_ms : -1),
        "counters", counters);
}

static int
actors_print(rmqctl *c, const rmq_msg_ctl_actors *m)
{
    static const char *const hdr[] = {"NAME",      "PID",      "STATE",
                                      "UPTIME",    "RESTARTS", "LAST EXIT",
                                      "HEARTBEAT", "COUNTERS"};
    int64_t                  now_wall = rmq_now_ms();
    rmq_table                t;

    if (c->json) {
        json_t *arr = json_array();
        for (uint32_t i = 0; i < m->n; i++) {
            json_array_append_new(
                arr, actor_json(&m->actors[i], m->now_ms, now_wall));
        }
        return rmqctl_print_json(json_pack("{s:o}", "actors", arr));
    }
    rmq_table_init(&t, 8, hdr);
    for (uint32_t i = 0; i < m->n; i++) {
        const rmq_ctl_actor_info *a = &m->actors[i];
        char pid[16], up[32], rs[16], ex[32], hb[32], ctr[512];

        snprintf(pid, sizeof(pid), "%d", a->pid);
        fmt_duration(a->start_ms ? now_wall - a->start_ms : -1, up, sizeof(up));
        snprintf(rs, sizeof(rs), "%u", a->restarts);
        fmt_exit(a->last_exit, a->exits, ex, sizeof(ex));
        fmt_duration(a->heartbeat_ms ? m->now_ms - a->heartbeat_ms : -1, hb,
                     sizeof(hb));
        fmt_counters(a, ctr, sizeof(ctr));
        const char *row[] = {a->name, pid, a->state, up, rs, ex, hb, ctr};
        rmq_table_row(&t, row);
    }
    rmq_table_print(&t, stdout);
    rmq_table_free(&t);
    return 0;
}

int
rmqctl_cmd_actors(rmqctl *c)
{
    static rmq_msg_ctl_actors m;
    rmq_msg_ctl_request       req = {.cmd = RMQ_CTL_CMD_ACTORS};
    nng_msg                  *reply;
    int                       rc;

    if (c->argc != 0) {
        return rmqctl_fail("usage: rmqctl actors");
    }
    if ((rc = ctl_call(c, &req, &reply)) != 0) {
        return rc;
    }
    rc = rmq_msg_ctl_actors_decode(nng_msg_body(reply), nng_msg_len(reply), &m);
    if (rc != 0) {
        nng_msg_free(reply);
        return rmqctl_fail("malformed answer from the supervisor");
    }
    rc = actors_print(c, &m);
    nng_msg_free(reply);
    return rc;
}

static int
status_print(rmqctl *c, const rmq_msg_ctl_status *m)
{
    char up[32], ready[32];

    if (c->json) {
        return rmqctl_print_json(json_pack(
            "{s:i, s:I, s:s, s:I, s:o, s:i, s:i, s:I, s:s, s:s, s:s}", "pid",
            m->pid, "generation", (json_int_t)m->generation, "state", m->state,
            "uptime_ms", (json_int_t)m->uptime_ms, "ready_after_ms",
            m->ready_after_ms >= 0 ? json_integer(m->ready_after_ms)
                                   : json_null(),
            "actors_total", m->actors_total, "actors_ready", m->actors_ready,
            "reloads", (json_int_t)m->reloads, "config", m->config_source,
            "version", m->version, "run_dir", m->run_dir));
    }
    fmt_duration(m->uptime_ms, up, sizeof(up));
    fmt_duration(m->ready_after_ms, ready, sizeof(ready));
    printf("supervisor   pid %d, %s, up %s\n", m->pid, m->state, up);
    printf("actors       %u of %u ready (all ready after %s)\n",
           m->actors_ready, m->actors_total, ready);
    printf("config       %s (reloaded %llu times)\n", m->config_source,
           (unsigned long long)m->reloads);
    printf("run dir      %s\n", m->run_dir);
    printf("version      %s (generation %llu)\n", m->version,
           (unsigned long long)m->generation);
    return 0;
}

int
rmqctl_cmd_status(rmqctl *c)
{
    rmq_msg_ctl_request req = {.cmd = RMQ_CTL_CMD_STATUS};
    rmq_msg_ctl_status  m;
    nng_msg            *reply;
    int                 rc;

    if (c->argc != 0) {
        return rmqctl_fail("usage: rmqctl status");
    }
    if ((rc = ctl_call(c, &req, &reply)) != 0) {
        return rc;
    }
    rc = rmq_msg_ctl_status_decode(nng_msg_body(reply), nng_msg_len(reply), &m);
    nng_msg_free(reply);
    if (rc != 0) {
        return rmqctl_fail("malformed answer from the supervisor");
    }
    return status_print(c, &m);
}

int
rmqctl_cmd_actor(rmqctl *c)
{
    rmq_msg_ctl_request req = {.cmd = RMQ_CTL_CMD_RESTART};
    rmq_msg_ctl_result  res;
    nng_msg            *reply;
    int                 rc;

    if (c->argc != 2 || strcmp(c->argv[0], "restart") != 0) {
        return rmqctl_fail("usage: rmqctl actor restart NAME");
    }
    if (!rmq_strlcpy(req.arg, c->argv[1], sizeof(req.arg))) {
        return rmqctl_fail("actor name too long");
    }
    if ((rc = ctl_call(c, &req, &reply)) != 0) {
        return rc;
    }
    rc = rmq_msg_ctl_result_decode(nng_msg_body(reply), nng_msg_len(reply),
                                   &res);
    nng_msg_free(reply);
    if (rc != 0) {
        return rmqctl_fail("malformed answer from the supervisor");
    }
    if (res.status != 0) {
        return rmqctl_fail("cannot restart %s: %s", req.arg, res.text);
    }
    if (c->json) {
        return rmqctl_print_json(
            json_pack("{s:s, s:s}", "result", "ok", "message", res.text));
    }
    printf("%s\n", res.text);
    return 0;
}
