/*
 * putter.c - store-actor client for tests and benchmarks (putter.h).
 */
#include "broker/putter.h"

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "proto/props.h"
#include "store/record.h"
#include "supervisor/actor.h"

#include <poll.h>
#include <stdio.h>
#include <string.h>

int
rmq_putter_open(rmq_putter *p, const char *run_dir, int owner,
                size_t ring_bytes, rmq_put_done_fn done, void *arg)
{
    char path[RMQ_CONFIG_PATH_MAX + 16];
    int  rc;

    memset(p, 0, sizeof(*p));
    p->owner = owner;
    p->done = done;
    p->done_arg = arg;
    p->store_ip[0] = 127;
    p->store_ip[3] = 1;
    p->store_port = 10911;
    snprintf(path, sizeof(path), "%s/%s", run_dir, RMQ_CTL_FILE);
    rc = rmq_ctl_attach(path, false, &p->ctl);
    if (rc != 0) {
        return rc;
    }
    rc = rmq_ipc_open(&p->in, RMQ_IPC_PULL, run_dir,
                      rmq_actor_table[owner].name, "in");
    if (rc == 0) {
        rc = rmq_ipc_open(&p->to_clw, RMQ_IPC_PUSH, run_dir, "clwriter", "in");
    }
    if (rc == 0) {
        rc =
            rmq_putc_open(&p->putc, &p->ctl, run_dir, owner, ring_bytes, 30000);
    }
    return rc;
}

void
rmq_putter_close(rmq_putter *p)
{
    rmq_putc_close(&p->putc);
    rmq_ipc_close(&p->in);
    rmq_ipc_close(&p->to_clw);
    rmq_ctl_detach(&p->ctl);
}

int
rmq_putter_topic(rmq_putter *p, const char *name, int queues, int timeout_ms)
{
    rmq_msg_topic_update u;
    rmq_msg_topic_result r;
    rmq_buf              b;
    int64_t              deadline = rmq_mono_ms() + timeout_ms;
    int                  rc;

    memset(&u, 0, sizeof(u));
    u.owner = (uint32_t)p->owner;
    u.seq = ++p->topic_seq;
    rmq_strlcpy(u.name, name, sizeof(u.name));
    u.read_queues = u.write_queues = queues;
    u.perm = 6;
    rmq_buf_init(&b);
    rmq_msg_topic_update_encode(&u, &b);
    while ((rc = rmq_ipc_send(&p->to_clw, &b)) == RMQ_ERR_AGAIN &&
           rmq_mono_ms() < deadline) {
        poll(NULL, 0, 5);
    }
    rmq_buf_free(&b);
    while (rc == 0) {
        nng_msg *m;
        uint16_t id;
        int64_t  left = deadline - rmq_mono_ms();
        if (left <= 0 || rmq_ipc_recv_wait(&p->in, &m, (int)left) != 0) {
            return RMQ_ERR_TIMEOUT;
        }
        if (rmq_msg_peek_id(nng_msg_body(m), nng_msg_len(m), &id) == 0 &&
            id == RMQ_MSG_TOPIC_RESULT &&
            rmq_msg_topic_result_decode(nng_msg_body(m), nng_msg_len(m), &r) ==
                0 &&
            r.seq == u.seq) {
            nng_msg_free(m);
            return r.status;
        }
        nng_msg_free(m);
    }
    return rc;
}

int
rmq_putter_put(rmq_putter *p, const char *topic, int32_t queue_id,
               const char *tags, const char *keys, const void *body,
               uint32_t body_len, uint32_t flags, uint64_t cookie)
{
    rmq_topic_entry t;
    rmq_rec_msg     m;
    rmq_props       props = {0};
    rmq_buf         pb;
    uint32_t        size;
    uint8_t        *dst;
    int             idx, rc;

    idx = rmq_ctl_topic_find(&p->ctl, topic, strlen(topic), &t);
    if (idx < 0 || t.state != RMQ_TOPIC_LIVE) {
        return RMQ_ERR_NOTFOUND;
    }
    rmq_buf_init(&pb);
    if (tags != NULL) {
        rmq_props_set(&props, "TAGS", tags);
    }
    if (keys != NULL) {
        rmq_props_set(&props, "KEYS", keys);
    }
    rmq_props_write(&props, &pb);
    memset(&m, 0, sizeof(m));
    m.topic = topic;
    m.topic_len = (uint32_t)strlen(topic);
    m.queue_id = queue_id;
    m.born_ts = rmq_now_ms();
    m.born_ip_len = 4;
    memcpy(m.born_ip, p->store_ip, 4);
    m.store_ip_len = 4;
    memcpy(m.store_ip, p->store_ip, 4);
    m.store_port = p->store_port;
    m.body = body;
    m.body_len = body_len;
    m.body_crc = rmq_body_crc(body, body_len);
    m.props = (const char *)pb.data;
    m.props_len = (uint32_t)pb.len;
    rc = rmq_rec_size(&m, &size);
    if (rc == 0 && (dst = rmq_putc_reserve(&p->putc, size, &rc)) != NULL) {
        rc = rmq_rec_encode(&m, dst, size, &size);
        if (rc == 0) {
            rc = rmq_putc_add(&p->putc, (uint32_t)idx, queue_id, flags, cookie);
        }
        if (rc != 0) {
            rmq_putc_unreserve(&p->putc); /* else its ring space leaks */
        }
    }
    rmq_buf_free(&pb);
    return rc;
}

int
rmq_putter_poll(rmq_putter *p, int timeout_ms)
{
    struct pollfd pf = {.fd = -1, .events = POLLIN};
    uint32_t      before;

    rmq_putc_flush(&p->putc);
    rmq_putc_check(&p->putc, p->done, p->done_arg);
    pf.fd = rmq_putc_fd(&p->putc);
    before = rmq_putc_inflight(&p->putc);
    if (poll(&pf, 1, timeout_ms) <= 0) {
        return 0;
    }
    rmq_putc_poll(&p->putc, p->done, p->done_arg);
    rmq_putc_flush(&p->putc);
    return (int)(before - RMQ_MIN(before, rmq_putc_inflight(&p->putc)));
}
