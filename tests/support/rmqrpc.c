/*
 * rmqrpc.c - remoting helpers for tests (rmqrpc.h).  Runs in a Check test
 * process.
 */
#include "tests/support/rmqrpc.h"

#include "common/err.h"
#include "common/util.h"
#include "proto/codes.h"
#include "tests/support/rmqtest.h"

#include <check.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

void
rmqtest_rpc_connect(rmq_rpc *r, const char *addr, int timeout_ms)
{
    int rc = rmq_rpc_connect(r, addr, rmqtest_scale_ms(timeout_ms));

    ck_assert_msg(rc == 0, "cannot connect to %s: %s", addr, rmq_strerror(rc));
    r->timeout_ms = rmqtest_scale_ms(timeout_ms);
}

const rmq_rcmd *
rmqtest_rpc_call(rmq_rpc *r, rmq_rcmd_out *o, const void *body, uint32_t len)
{
    const rmq_rcmd *resp = NULL;
    int             rc = rmq_rpc_call(r, o, body, len, &resp);

    ck_assert_msg(rc == 0, "request %d to %s: %s", o->code, r->addr,
                  rmq_strerror(rc));
    return resp;
}

const rmq_rcmd *
rmqtest_rpc_simple(rmq_rpc *r, int code, const char *key, const char *value)
{
    rmq_rcmd_out o;

    rmq_rcmd_out_init(&o, code, 0, 0);
    if (key != NULL) {
        rmq_rcmd_out_ext(&o, key, value);
    }
    return rmqtest_rpc_call(r, &o, NULL, 0);
}

const char *
rmqtest_rpc_ext(const rmq_rcmd *c, const char *key)
{
    const char *v = rmq_rcmd_ext(c, key);

    ck_assert_msg(v != NULL, "response %d without %s", c->code, key);
    return v;
}

int64_t
rmqtest_rpc_ext_i64(const rmq_rcmd *c, const char *key)
{
    int64_t v;

    ck_assert_msg(rmq_rcmd_ext_i64(c, key, &v) == 0,
                  "response %d: %s is \"%s\", not a number", c->code, key,
                  rmqtest_rpc_ext(c, key));
    return v;
}

bool
rmqtest_rpc_closed_by_peer(rmq_rpc *r, int timeout_ms)
{
    int64_t deadline = rmq_mono_ms() + rmqtest_scale_ms(timeout_ms);

    for (;;) {
        struct pollfd pf = {.fd = r->fd, .events = POLLIN};
        char          buf[4096];
        int64_t       left = deadline - rmq_mono_ms();
        ssize_t       n;

        if (left <= 0 || poll(&pf, 1, (int)left) != 1) {
            return false;
        }
        n = recv(r->fd, buf, sizeof(buf), 0);
        if (n == 0 || (n < 0 && errno == ECONNRESET)) {
            return true;
        }
        if (n > 0) {
            return false; /* it answered something */
        }
    }
}

int
rmqtest_create_topic(rmq_rpc *r, const char *name, int queues, int perm)
{
    rmq_rcmd_out o;
    char         q[16], p[16];

    snprintf(q, sizeof(q), "%d", queues);
    snprintf(p, sizeof(p), "%d", perm);
    rmq_rcmd_out_init(&o, RMQ_REQ_UPDATE_AND_CREATE_TOPIC, 0, 0);
    rmq_rcmd_out_ext(&o, "topic", name);
    rmq_rcmd_out_ext(&o, "defaultTopic", RMQ_TOPIC_TBW102);
    rmq_rcmd_out_ext(&o, "readQueueNums", q);
    rmq_rcmd_out_ext(&o, "writeQueueNums", q);
    rmq_rcmd_out_ext(&o, "perm", p);
    rmq_rcmd_out_ext(&o, "topicFilterType", "SINGLE_TAG");
    rmq_rcmd_out_ext(&o, "topicSysFlag", "0");
    rmq_rcmd_out_ext(&o, "order", "false");
    return rmqtest_rpc_call(r, &o, NULL, 0)->code;
}

/* Properties as clients send them: key \1 value \2 ... */
static void
rr_props(const rmqtest_msg *m, char *out, size_t cap)
{
    out[0] = '\0';
    if (m->tags != NULL) {
        snprintf(out + strlen(out), cap - strlen(out), "TAGS\001%s\002",
                 m->tags);
    }
    if (m->keys != NULL) {
        snprintf(out + strlen(out), cap - strlen(out), "KEYS\001%s\002",
                 m->keys);
    }
}

const rmq_rcmd *
rmqtest_send(rmq_rpc *r, int code, const rmqtest_msg *m)
{
    static char  qid[16], born[24], flag[16], props[65536];
    bool         v2 = code != RMQ_REQ_SEND_MESSAGE;
    rmq_rcmd_out o;

    snprintf(qid, sizeof(qid), "%d", m->qid);
    snprintf(born, sizeof(born), "%lld",
             (long long)(m->born_ts ? m->born_ts : rmq_now_ms()));
    snprintf(flag, sizeof(flag), "%d", m->flag);
    rr_props(m, props, sizeof(props));
    rmq_rcmd_out_init(&o, code, 0, 0);
    rmq_rcmd_out_ext(&o, v2 ? "a" : "producerGroup", "PG");
    rmq_rcmd_out_ext(&o, v2 ? "b" : "topic", m->topic);
    if (m->default_topic != NULL) {
        rmq_rcmd_out_ext(&o, v2 ? "c" : "defaultTopic", m->default_topic);
    }
    rmq_rcmd_out_ext(&o, v2 ? "d" : "defaultTopicQueueNums", "4");
    rmq_rcmd_out_ext(&o, v2 ? "e" : "queueId", qid);
    rmq_rcmd_out_ext(&o, v2 ? "f" : "sysFlag", "0");
    rmq_rcmd_out_ext(&o, v2 ? "g" : "bornTimestamp", born);
    rmq_rcmd_out_ext(&o, v2 ? "h" : "flag", flag);
    rmq_rcmd_out_ext(&o, v2 ? "i" : "properties", props);
    rmq_rcmd_out_ext(&o, v2 ? "j" : "reconsumeTimes", "0");
    rmq_rcmd_out_ext(&o, v2 ? "k" : "unitMode", "false");
    if (code == RMQ_REQ_SEND_BATCH_MESSAGE) {
        rmq_rcmd_out_ext(&o, "m", "true");
    }
    return rmqtest_rpc_call(r, &o, m->body, m->body_len);
}

const rmq_rcmd *
rmqtest_pull_call(rmq_rpc *r, const rmqtest_pull *p)
{
    static char  qid[16], off[24], max[16], flag[16], susp[24];
    rmq_rcmd_out o;

    snprintf(qid, sizeof(qid), "%d", p->qid);
    snprintf(off, sizeof(off), "%lld", (long long)p->offset);
    snprintf(max, sizeof(max), "%d", p->max ? p->max : 32);
    snprintf(flag, sizeof(flag), "%d",
             RMQ_PULL_SUBSCRIPTION | (p->suspend ? RMQ_PULL_SUSPEND : 0));
    snprintf(susp, sizeof(susp), "%lld",
             (long long)(p->suspend_ms ? p->suspend_ms : 15000));
    rmq_rcmd_out_init(&o, RMQ_REQ_PULL_MESSAGE, 0, 0);
    rmq_rcmd_out_ext(&o, "consumerGroup", "CG");
    rmq_rcmd_out_ext(&o, "topic", p->topic);
    rmq_rcmd_out_ext(&o, "queueId", qid);
    rmq_rcmd_out_ext(&o, "queueOffset", off);
    rmq_rcmd_out_ext(&o, "maxMsgNums", max);
    rmq_rcmd_out_ext(&o, "sysFlag", flag);
    rmq_rcmd_out_ext(&o, "commitOffset", "0");
    rmq_rcmd_out_ext(&o, "suspendTimeoutMillis", susp);
    rmq_rcmd_out_ext(&o, "subscription", p->expr ? p->expr : "*");
    rmq_rcmd_out_ext(&o, "subVersion", "0");
    return rmqtest_rpc_call(r, &o, NULL, 0);
}

int
rmqtest_records(const rmq_rcmd *resp, rmq_rec_view *out, int cap)
{
    size_t off = 0;
    int    n = 0;

    while (off < resp->body_len) {
        ck_assert_msg(n < cap, "more than %d records", cap);
        ck_assert_msg(rmq_rec_decode(resp->body + off, resp->body_len - off,
                                     true, &out[n]) == 0 &&
                          out[n].kind == RMQ_REC_MSG,
                      "a bad record at byte %zu of the body", off);
        off += out[n].total_size;
        n++;
    }
    return n;
}
