/*
 * ctlsock.c - the supervisor's control socket: NNG rep at
 * ipc://<runDir>/ctl, msgpack messages from proto/catalog.h.  rmqctl sends
 * CTL_REQUEST; the answer is CTL_ACTORS, CTL_STATUS or CTL_RESULT.
 * Served from the supervisor's poll loop, one request per wakeup.
 */
#include "supervisor/sup.h"

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "proto/catalog.h"

#include <nng/protocol/reqrep0/rep.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int
rmq_ctlsock_open(rmq_sup *s)
{
    char url[RMQ_CONFIG_PATH_MAX + 16];
    char path[RMQ_CONFIG_PATH_MAX + 16];
    int  rv;

    snprintf(path, sizeof(path), "%s/ctl", s->cfg.supervisor.run_dir);
    snprintf(url, sizeof(url), "ipc://%s", path);
    unlink(path); /* a stale socket from a dead supervisor (we hold the lock) */
    if ((rv = nng_rep0_open(&s->ctlsock)) != 0 ||
        (rv = nng_socket_set_ms(s->ctlsock, NNG_OPT_SENDTIMEO, 1000)) != 0 ||
        (rv = nng_listen(s->ctlsock, url, NULL, 0)) != 0 ||
        (rv = nng_socket_get_int(s->ctlsock, NNG_OPT_RECVFD, &s->ctlsock_fd)) !=
            0) {
        rmq_log(RMQ_LOG_ERR, "ctl.listen", "cannot listen on %s: %s", url,
                nng_strerror(rv));
        return RMQ_ERR_SYS;
    }
    s->ctlsock_open = true;
    return 0;
}

void
rmq_ctlsock_close(rmq_sup *s)
{
    char path[RMQ_CONFIG_PATH_MAX + 16];

    if (!s->ctlsock_open) {
        return;
    }
    nng_close(s->ctlsock);
    s->ctlsock_open = false;
    snprintf(path, sizeof(path), "%s/ctl", s->cfg.supervisor.run_dir);
    unlink(path);
}

static void
ctl_fill_actor(rmq_sup *s, const struct sup_actor *a, rmq_ctl_actor_info *out)
{
    const rmq_slot_sup *sup = &s->ctl.slots[a->id].sup.s;
    rmq_slot_act       *act = &s->ctl.slots[a->id].act.s;

    memset(out, 0, sizeof(*out));
    rmq_strlcpy(out->name, a->desc->name, sizeof(out->name));
    rmq_strlcpy(out->state, rmq_sup_actor_state(s, a), sizeof(out->state));
    out->pid = a->pid > 0 ? a->pid : atomic_load(&sup->pid);
    out->restarts = atomic_load(&sup->restarts);
    out->last_exit = atomic_load(&sup->last_exit);
    out->exits = atomic_load(&sup->exits);
    out->start_ms = atomic_load(&sup->start_ms);
    out->heartbeat_ms = atomic_load(&act->heartbeat_ms);
    for (int c = 0; c < RMQ_COUNTER_MAX && act->counter_names[c][0]; c++) {
        rmq_strlcpy(out->counters[c].name, act->counter_names[c],
                    RMQ_COUNTER_NAME_MAX);
        out->counters[c].value = atomic_load(&act->counters[c]);
        out->ncounters = (uint32_t)c + 1;
    }
}

static void
ctl_actors(rmq_sup *s, rmq_buf *out)
{
    static rmq_msg_ctl_actors m;

    memset(&m, 0, sizeof(m));
    m.now_ms = rmq_mono_ms(); /* heartbeats are monotonic */
    for (int i = 0; i < s->norder && m.n < RMQ_ACTOR_MAX; i++) {
        ctl_fill_actor(s, &s->actors[s->order[i]], &m.actors[m.n++]);
    }
    rmq_msg_ctl_actors_encode(&m, out);
}

static void
ctl_status(rmq_sup *s, rmq_buf *out)
{
    rmq_msg_ctl_status m;

    memset(&m, 0, sizeof(m));
    m.pid = (int32_t)getpid();
    m.generation = s->ctl.hdr->generation;
    rmq_strlcpy(m.state,
                s->stopping ? "stopping"
                            : (s->all_ready ? "running" : "starting"),
                sizeof(m.state));
    m.uptime_ms = rmq_mono_ms() - s->start_ms;
    m.ready_after_ms = s->all_ready ? s->ctl.hdr->ready_ms : -1;
    m.actors_total = (uint32_t)s->norder;
    for (int i = 0; i < s->norder; i++) {
        m.actors_ready += rmq_sup_actor_ready(s, &s->actors[s->order[i]]);
    }
    m.reloads = atomic_load(&s->ctl.hdr->reload_count);
    rmq_strlcpy(m.config_source, s->ctl.hdr->config_source,
                sizeof(m.config_source));
    rmq_strlcpy(m.version, RMQ_VERSION, sizeof(m.version));
    rmq_strlcpy(m.run_dir, s->cfg.supervisor.run_dir, sizeof(m.run_dir));
    rmq_msg_ctl_status_encode(&m, out);
}

static void
ctl_result(rmq_buf *out, int status, const char *text)
{
    rmq_msg_ctl_result r;

    memset(&r, 0, sizeof(r));
    r.status = status;
    rmq_strlcpy(r.text, text, sizeof(r.text));
    rmq_msg_ctl_result_encode(&r, out);
}

static void
ctl_dispatch(rmq_sup *s, const rmq_msg_ctl_request *req, rmq_buf *out)
{
    char why[256];
    int  rc;

    switch (req->cmd) {
    case RMQ_CTL_CMD_ACTORS:
        ctl_actors(s, out);
        break;
    case RMQ_CTL_CMD_STATUS:
        ctl_status(s, out);
        break;
    case RMQ_CTL_CMD_RESTART:
        rc = rmq_sup_restart_actor(s, rmq_actor_lookup(req->arg), why,
                                   sizeof(why));
        ctl_result(out, rc, why);
        break;
    default:
        ctl_result(out, RMQ_ERR_INVAL, "unknown command");
        break;
    }
}

void
rmq_ctlsock_serve(rmq_sup *s)
{
    nng_msg            *msg;
    rmq_msg_ctl_request req;
    rmq_buf             out;
    int                 rv;

    rv = nng_recvmsg(s->ctlsock, &msg, NNG_FLAG_NONBLOCK);
    if (rv != 0) {
        return;
    }
    rmq_buf_init(&out);
    if (rmq_msg_ctl_request_decode(nng_msg_body(msg), nng_msg_len(msg), &req) !=
        0) {
        rmq_log(RMQ_LOG_WARN, "ctl.request", "malformed control request");
        ctl_result(&out, RMQ_ERR_PROTO, "malformed request");
    } else {
        ctl_dispatch(s, &req, &out);
    }
    nng_msg_clear(msg);
    if (out.oom || nng_msg_append(msg, out.data, out.len) != 0 ||
        (rv = nng_sendmsg(s->ctlsock, msg, 0)) != 0) {
        nng_msg_free(msg);
        rmq_log(RMQ_LOG_WARN, "ctl.reply", "could not answer rmqctl");
    }
    rmq_buf_free(&out);
}
