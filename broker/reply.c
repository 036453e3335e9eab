/*
 * reply.c - small pieces every acceptor handler uses: responses, topic
 * lookup, topic requests to clwriter with their parked requests, and the
 * put/get statistics behind GET_BROKER_RUNTIME_INFO.  Acceptor only.
 */
#include "broker/broker.h"

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "proto/catalog.h"
#include "proto/codes.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void
rmq_broker_reply(rmq_broker *b, rmq_conn *c, int32_t opaque, bool oneway,
                 int code, const char *remark)
{
    rmq_rcmd_out o;

    if (oneway || c == NULL) {
        return;
    }
    if (code != RMQ_RESP_SUCCESS) {
        rmq_actor_count(b->self, RMQ_ACC_C_ERRORS, 1);
    }
    rmq_rcmd_out_init(&o, code, opaque, RMQ_RFLAG_RESPONSE);
    o.remark = remark;
    rmq_conn_send(c, &o, NULL, 0);
}

void
rmq_broker_replyf(rmq_broker *b, rmq_conn *c, const rmq_rcmd *cmd, int code,
                  const char *fmt, ...)
{
    char    remark[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(remark, sizeof(remark), fmt, ap);
    va_end(ap);
    rmq_broker_reply(b, c, cmd->opaque, (cmd->flag & RMQ_RFLAG_ONEWAY) != 0,
                     code, remark[0] ? remark : NULL);
}

void
rmq_broker_reply_body(rmq_broker *b, rmq_conn *c, const rmq_rcmd *cmd,
                      const rmq_buf *body)
{
    rmq_rcmd_out o;

    if (cmd->flag & RMQ_RFLAG_ONEWAY) {
        return;
    }
    rmq_rcmd_out_init(&o, RMQ_RESP_SUCCESS, cmd->opaque, RMQ_RFLAG_RESPONSE);
    rmq_conn_send(c, &o, body->data, (uint32_t)body->len);
}

int
rmq_broker_topic(rmq_broker *b, const char *name, rmq_topic_entry *t)
{
    int idx = rmq_ctl_topic_find(b->ctl, name, strlen(name), t);

    return (idx >= 0 && t->state == RMQ_TOPIC_LIVE) ? idx : -1;
}

uint64_t
rmq_broker_topic_request(rmq_broker *b, const char *name, int32_t rq,
                         int32_t wq, int32_t perm, uint32_t flags, bool remove)
{
    rmq_msg_topic_update u;

    memset(&u, 0, sizeof(u));
    u.owner = RMQ_ACTOR_ACCEPTOR;
    u.seq = ++b->topic_seq;
    rmq_strlcpy(u.name, name, sizeof(u.name));
    u.read_queues = rq;
    u.write_queues = wq;
    u.perm = perm;
    u.flags = flags;
    u.remove = remove;
    rmq_buf_reset(&b->scratch);
    rmq_msg_topic_update_encode(&u, &b->scratch);
    if (rmq_ipc_send(&b->to_clwriter, &b->scratch) != 0) {
        return 0; /* clwriter not there: the caller answers busy */
    }
    return u.seq;
}

void
rmq_broker_park(rmq_broker *b, rmq_parked *p)
{
    p->next = NULL;
    *b->parked_tail = p;
    b->parked_tail = &p->next;
}

void
rmq_broker_on_topic_result(rmq_broker *b, const void *msg, size_t len)
{
    rmq_msg_topic_result r;
    rmq_parked         **pp = &b->parked;

    if (rmq_msg_topic_result_decode(msg, len, &r) != 0) {
        rmq_log(RMQ_LOG_WARN, "acc.topic", "malformed topic result");
        return;
    }
    /* resume in arrival order everything that waited for this request */
    while (*pp != NULL) {
        rmq_parked *p = *pp;
        if (p->topic_seq != r.seq) {
            pp = &p->next;
            continue;
        }
        *pp = p->next;
        if (b->parked_tail == &p->next) {
            b->parked_tail = pp;
        }
        p->resume(b, p, r.status);
    }
    rmq_reg_poke(&b->reg); /* the name servers should hear about it now */
}

/* ---- statistics -------------------------------------------------------- */

static int64_t
stats_local_day(void)
{
    time_t    now = time(NULL);
    struct tm tm;

    localtime_r(&now, &tm);
    return (int64_t)tm.tm_year * 400 + tm.tm_yday;
}

void
rmq_stats_init(rmq_stats *s)
{
    memset(s, 0, sizeof(*s));
    s->day = stats_local_day();
    s->boot_ms = rmq_now_ms();
}

void
rmq_stats_tick(rmq_stats *s, int64_t now_ms)
{
    int64_t day;

    if (now_ms < s->next_sample_ms) {
        return;
    }
    s->next_sample_ms = now_ms + 1000;
    s->put_samples[s->sample_head] = s->put_msgs;
    s->get_samples[s->sample_head] = s->get_msgs;
    s->sample_head = (s->sample_head + 1) % RMQ_STATS_SAMPLES;
    if (s->nsamples < RMQ_STATS_SAMPLES) {
        s->nsamples++;
    }
    day = stats_local_day();
    if (day != s->day) {
        s->day = day;
        s->put_yesterday_morning = s->put_today_morning;
        s->get_yesterday_morning = s->get_today_morning;
        s->put_today_morning = s->put_msgs;
        s->get_today_morning = s->get_msgs;
    }
}

static double
stats_rate(const rmq_stats *s, bool put, uint32_t secs)
{
    const uint64_t *v = put ? s->put_samples : s->get_samples;
    uint32_t        n = RMQ_MIN(secs, s->nsamples - 1);
    uint32_t        newest, oldest;

    if (s->nsamples < 2 || n == 0) {
        return 0.0;
    }
    newest = (s->sample_head + RMQ_STATS_SAMPLES - 1) % RMQ_STATS_SAMPLES;
    oldest = (newest + RMQ_STATS_SAMPLES - n) % RMQ_STATS_SAMPLES;
    return (double)(v[newest] - v[oldest]) / (double)n;
}

void
rmq_stats_tps(const rmq_stats *s, bool put, char *out, size_t cap)
{
    snprintf(out, cap, "%.2f %.2f %.2f", stats_rate(s, put, 10),
             stats_rate(s, put, 60), stats_rate(s, put, 600));
}
