/*
 * acceptor.c - the client-facing actor: RocketMQ remoting over TCP on
 * listenPort and listenPort-2 (the "VIP" port of older Java clients).
 *
 * One epoll loop serves every connection.  Frames are decoded in arrival
 * order and dispatched by request code to the handlers in broker/: sends
 * go through the put ring to clwriter (one PUT_BATCH per loop pass for
 * everything received in it), pulls are served from the shared mappings,
 * group and offset requests are forwarded to the rebalancer, suspended
 * pulls are held with the longpoll actor's help.  Replies from other
 * actors arrive on ipc://<runDir>/acceptor.in.  It registers the broker
 * with the name servers (broker/register.c).
 *
 * Starts last, so the port opens only when everything behind it is
 * ready.  A crash closes every client connection; clients reconnect and
 * retry, and only puts clwriter confirmed were ever acknowledged.  On stop
 * it unregisters, closes the ports, waits briefly for puts in flight to
 * be answered, and exits.  Reads the control segment (topics, queue
 * windows, groups) and maps the store read-only.
 */
#include "actors/actors.h"

#include "broker/broker.h"
#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "proto/catalog.h"
#include "proto/codes.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define ACC_TICK_MS 100
#define ACC_SWEEP_MS 10000
#define ACC_DRAIN_MS 3000 /* at stop: wait this long for put results */
#define ACC_IPC_DRAIN_MAX 256

typedef void (*acc_handler)(rmq_broker *b, rmq_conn *c, const rmq_rcmd *cmd);

struct acc_route {
    int32_t     code;
    acc_handler fn;
};

static const struct acc_route acc_routes[] = {
    {RMQ_REQ_SEND_MESSAGE, rmq_broker_send},
    {RMQ_REQ_SEND_MESSAGE_V2, rmq_broker_send},
    {RMQ_REQ_SEND_BATCH_MESSAGE, rmq_broker_send},
    {RMQ_REQ_PULL_MESSAGE, rmq_broker_pull},
    {RMQ_REQ_CONSUMER_SEND_MSG_BACK, rmq_broker_send_back},
    {RMQ_REQ_GET_MAX_OFFSET, rmq_broker_get_offset},
    {RMQ_REQ_GET_MIN_OFFSET, rmq_broker_get_offset},
    {RMQ_REQ_SEARCH_OFFSET_BY_TIMESTAMP, rmq_broker_search_offset},
    {RMQ_REQ_GET_EARLIEST_MSG_STORETIME, rmq_broker_earliest_time},
    {RMQ_REQ_VIEW_MESSAGE_BY_ID, rmq_broker_view_message},
    {RMQ_REQ_GET_BROKER_RUNTIME_INFO, rmq_broker_runtime_info},
    {RMQ_REQ_UPDATE_AND_CREATE_TOPIC, rmq_broker_create_topic},
    {RMQ_REQ_DELETE_TOPIC_IN_BROKER, rmq_broker_delete_topic},
    {RMQ_REQ_GET_ALL_TOPIC_CONFIG, rmq_broker_all_topics},
    {RMQ_REQ_GET_TOPIC_STATS_INFO, rmq_broker_topic_stats},
    /* served by the rebalancer */
    {RMQ_REQ_HEART_BEAT, rmq_broker_forward},
    {RMQ_REQ_UNREGISTER_CLIENT, rmq_broker_forward},
    {RMQ_REQ_GET_CONSUMER_LIST_BY_GROUP, rmq_broker_forward},
    {RMQ_REQ_QUERY_CONSUMER_OFFSET, rmq_broker_forward},
    {RMQ_REQ_UPDATE_CONSUMER_OFFSET, rmq_broker_forward},
    {RMQ_REQ_LOCK_BATCH_MQ, rmq_broker_forward},
    {RMQ_REQ_UNLOCK_BATCH_MQ, rmq_broker_forward},
    {RMQ_REQ_UPDATE_AND_CREATE_SUBSCRIPTIONGROUP, rmq_broker_forward},
    {RMQ_REQ_GET_ALL_SUBSCRIPTIONGROUP_CONFIG, rmq_broker_forward},
    {RMQ_REQ_DELETE_SUBSCRIPTIONGROUP, rmq_broker_forward},
    {RMQ_REQ_GET_CONSUMER_CONNECTION_LIST, rmq_broker_forward},
    {RMQ_REQ_GET_CONSUME_STATS, rmq_broker_forward},
    {RMQ_REQ_GET_ALL_CONSUMER_OFFSET, rmq_broker_forward},
};

static void
acc_on_cmd(rmq_conn *c, rmq_rcmd *cmd, void *user)
{
    rmq_broker *b = user;

    if (cmd->flag & RMQ_RFLAG_RESPONSE) {
        rmq_reg_on_response(&b->reg, c, cmd);
        return; /* clients' answers to our notifications are not needed */
    }
    rmq_actor_count(b->self, RMQ_ACC_C_REQUESTS, 1);
    for (size_t i = 0; i < RMQ_ARRAY_LEN(acc_routes); i++) {
        if (acc_routes[i].code == cmd->code) {
            acc_routes[i].fn(b, c, cmd);
            return;
        }
    }
    rmq_broker_replyf(b, c, cmd, RMQ_RESP_REQUEST_CODE_NOT_SUPPORTED,
                      " request type %d not supported", cmd->code);
}

static void
acc_on_close(rmq_conn *c, void *user)
{
    rmq_broker *b = user;

    if (c->user == &b->reg) {
        rmq_reg_on_close(&b->reg, c);
        return;
    }
    rmq_broker_conn_closed(b, c->id);
}

static void
acc_on_connect(rmq_conn *c, bool ok, void *user)
{
    rmq_broker *b = user;

    rmq_reg_on_connect(&b->reg, c, ok);
}

/* acceptor.in: results and requests from the other actors. */
static void
acc_on_ipc(rmq_loop *loop, rmq_io *io, uint32_t events)
{
    rmq_broker *b = io->arg;
    nng_msg    *m;

    for (int i = 0; i < ACC_IPC_DRAIN_MAX && rmq_ipc_recv(&b->in, &m) == 0;
         i++) {
        const void *body = nng_msg_body(m);
        size_t      len = nng_msg_len(m);
        uint16_t    id = 0;

        rmq_msg_peek_id(body, len, &id);
        switch (id) {
        case RMQ_MSG_TOPIC_RESULT:
            rmq_broker_on_topic_result(b, body, len);
            break;
        case RMQ_MSG_FWD_RESPONSE:
            rmq_broker_on_fwd_response(b, body, len);
            break;
        case RMQ_MSG_CLIENT_NOTIFY:
            rmq_broker_on_notify(b, body, len);
            break;
        case RMQ_MSG_LP_WAKE:
            rmq_broker_on_lp_wake(b, body, len);
            break;
        default:
            rmq_log(RMQ_LOG_WARN, "acc.ipc", "unexpected message %u", id);
            break;
        }
        nng_msg_free(m);
    }
}

static void
acc_on_wake(rmq_loop *loop, rmq_io *io, uint32_t events)
{
    rmq_actor_clear_wakeup(io->arg); /* the flags are checked by the loop */
}

static void
acc_on_put_results(rmq_loop *loop, rmq_io *io, uint32_t events)
{
    rmq_broker *b = io->arg;

    rmq_putc_poll(&b->putc, rmq_broker_put_done, b);
}

/* Watch the put channel the put client has now (it reconnects). */
static void
acc_watch_put_channel(rmq_broker *b)
{
    int fd = rmq_putc_fd(&b->putc);

    if (fd == b->put_fd) {
        return;
    }
    if (b->put_fd >= 0) {
        rmq_loop_del(&b->loop, &b->put_io);
    }
    b->put_fd = fd;
    if (fd >= 0) {
        rmq_loop_add(&b->loop, &b->put_io, fd, EPOLLIN, acc_on_put_results, b);
    }
}

static int
acc_open_ipc(rmq_broker *b)
{
    const char *rd = b->self->run_dir;

    if (rmq_ipc_open(&b->in, RMQ_IPC_PULL, rd, "acceptor", "in") ||
        rmq_ipc_open(&b->to_rebalancer, RMQ_IPC_PUSH, rd, "rebalancer", "in") ||
        rmq_ipc_open(&b->to_longpoll, RMQ_IPC_PUSH, rd, "longpoll", "in") ||
        rmq_ipc_open(&b->to_clwriter, RMQ_IPC_PUSH, rd, "clwriter", "in")) {
        return RMQ_ERR_SYS;
    }
    return rmq_loop_add(&b->loop, &b->in_io, b->in.recv_fd, EPOLLIN, acc_on_ipc,
                        b);
}

static int
acc_open_store(rmq_broker *b)
{
    const rmq_broker_config *bc = &b->cfg->broker;
    char                     dir[RMQ_CONFIG_PATH_MAX + 16];
    rmq_cl_opts       o = {dir, bc->commitlog_file_size, false, 0, false};
    rmq_cq_cache_opts co = {bc->store_root, bc->cq_file_size, false, 0};

    snprintf(dir, sizeof(dir), "%s/%s", bc->store_root, RMQ_CL_DIR);
    if (rmq_cl_open(&b->cl, &o) != 0 || rmq_cq_cache_init(&b->cqs, &co) != 0) {
        return RMQ_ERR_SYS;
    }
    return rmq_putc_open(&b->putc, b->ctl, b->self->run_dir, RMQ_ACTOR_ACCEPTOR,
                         (size_t)bc->put_ring_bytes,
                         (int64_t)bc->sync_flush_timeout_ms + 10000);
}

static int
acc_listen(rmq_broker *b)
{
    static const rmq_conn_ops ops = {.on_cmd = acc_on_cmd,
                                     .on_close = acc_on_close,
                                     .on_connect = acc_on_connect};
    int                       port = b->cfg->broker.listen_port;

    rmq_conns_init(&b->conns, &b->loop, &ops, b);
    b->conns.max_frame = RMQ_FRAME_MAX;
    if (rmq_conns_listen(&b->conns, &b->lio_main, NULL, port) != 0 ||
        rmq_conns_listen(&b->conns, &b->lio_vip, NULL, port - 2) != 0) {
        return RMQ_ERR_SYS;
    }
    rmq_log(RMQ_LOG_INFO, "acc.listen",
            "serving RocketMQ clients on ports %d and %d as %s", port, port - 2,
            b->host.addr);
    return 0;
}

static int
acc_init(rmq_actor *self, rmq_broker *b)
{
    int rc;

    memset(b, 0, sizeof(*b));
    b->self = self;
    b->cfg = &self->cfg;
    b->ctl = &self->ctl;
    b->lio_main.fd = b->lio_vip.fd = -1;
    b->put_fd = -1;
    b->parked_tail = &b->parked;
    b->hold_seq = (uint64_t)getpid() << 32;
    rmq_buf_init(&b->scratch);
    rmq_u64map_init(&b->held);
    rmq_stats_init(&b->stats);
    if (atomic_load(&b->ctl->pos->store_gen) != b->ctl->hdr->generation) {
        rmq_log(RMQ_LOG_ERR, "acc.start", "the store is not open yet");
        return RMQ_ERR_AGAIN;
    }
    rc = rmq_host_resolve(&b->cfg->broker, &b->host);
    if (rc == 0) {
        rc = rmq_loop_init(&b->loop);
    }
    if (rc == 0) {
        rc = acc_open_store(b);
    }
    if (rc == 0) {
        rc = acc_open_ipc(b);
    }
    if (rc == 0) {
        rc = rmq_loop_add(&b->loop, &b->wake_io, self->wakeup_fd, EPOLLIN,
                          acc_on_wake, self);
    }
    if (rc == 0) {
        rc = acc_listen(b);
    }
    if (rc == 0) {
        rc = rmq_reg_init(&b->reg, b->cfg, b->ctl, &b->conns, b->host.ip_str);
    }
    return rc;
}

static void
acc_tick(rmq_broker *b, int64_t *next_sweep)
{
    int64_t now = rmq_mono_ms();

    rmq_putc_check(&b->putc, rmq_broker_put_done, b);
    rmq_reg_tick(&b->reg, now);
    rmq_broker_held_sweep(b, now);
    rmq_broker_flush_closed(b);
    rmq_stats_tick(&b->stats, rmq_now_ms());
    if (now >= *next_sweep) {
        int64_t written = atomic_load(&b->ctl->pos->cl_written);
        rmq_conns_sweep_idle(&b->conns, now,
                             (int64_t)b->cfg->broker.channel_idle_sec * 1000);
        /* old reads (a backlog drained long ago) need not stay mapped */
        rmq_mfq_release(&b->cl.q, 0, written - (INT64_C(256) << 20));
        *next_sweep = now + ACC_SWEEP_MS;
    }
    rmq_actor_gauge(b->self, RMQ_ACC_C_CONNS, b->conns.live);
}

/* Stop: no new work, answer what is in flight, leave the name servers. */
static void
acc_stop(rmq_broker *b)
{
    int64_t deadline = rmq_mono_ms() + ACC_DRAIN_MS;

    rmq_reg_unregister(&b->reg);
    rmq_conns_unlisten(&b->conns, &b->lio_main);
    rmq_conns_unlisten(&b->conns, &b->lio_vip);
    while (
        (rmq_putc_inflight(&b->putc) > 0 || rmq_putc_has_pending(&b->putc)) &&
        rmq_mono_ms() < deadline) {
        rmq_putc_flush(&b->putc);
        acc_watch_put_channel(b);
        rmq_loop_run_once(&b->loop, 10);
        rmq_putc_check(&b->putc, rmq_broker_put_done, b);
    }
    rmq_loop_run_once(&b->loop, 0); /* write the last answers */
    rmq_conns_fini(&b->conns);
}

void
rmq_acceptor_main(rmq_actor *self)
{
    static rmq_broker b;
    int64_t           next_tick = 0, next_sweep = 0;

    if (acc_init(self, &b) != 0) {
        rmq_log(RMQ_LOG_ERR, "acc.start", "cannot start the acceptor");
        rmq_actor_exit(self, RMQ_EXIT_TRANSIENT);
    }
    rmq_reg_tick(&b.reg, rmq_mono_ms());
    rmq_actor_ready(self);
    while (!self->stop_requested) {
        int64_t now = rmq_mono_ms();

        if (self->reload_requested) {
            rmq_actor_reload(self);
        }
        rmq_loop_run_once(&b.loop, (int)RMQ_MAX(next_tick - now, 0));
        /* everything received in this pass goes to clwriter as one batch */
        rmq_putc_flush(&b.putc);
        acc_watch_put_channel(&b);
        if (rmq_mono_ms() >= next_tick) {
            acc_tick(&b, &next_sweep);
            next_tick = rmq_mono_ms() + ACC_TICK_MS;
        }
        rmq_actor_tick(self);
    }
    acc_stop(&b);
    rmq_actor_exit(self, RMQ_EXIT_OK);
}
