/*
 * bench_consume.c - rmq-bench's consumer (bench.h): pipelined
 * PULL_MESSAGE requests over every read queue of the topic, one
 * outstanding pull per queue as real clients keep (maxMsgNums 32 unless
 * told otherwise), spread over one or more connections.  Runs on the
 * benchmark's one loop thread.
 *
 * Pulls carry SUBSCRIPTION ("*") and SUSPEND, as a push consumer's do:
 * a queue with nothing new is held by the broker (long polling) and
 * answered when a message arrives, which is what the e2e mode measures.
 * Records are decoded in place (store/record.h) to count them, to check
 * that every queue's offsets arrive in sequence, and to read the stamp
 * (bench.h) that gives the end-to-end latency of this run's messages.
 *
 * Draining: a queue is done once its next offset reaches its target (the
 * max offset when the run started).  Following (e2e): queues never end.
 */
#include "bench/bench.h"

#include "common/util.h"
#include "proto/codes.h"
#include "store/record.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CONS_QBITS                                                             \
    11 /* opaque bits naming the queue: > RMQ_BENCH_QUEUES_MAX                 \
        */
#define CONS_RETRY_US 1000000 /* after an error response */
#define CONS_DRAIN_SUSPEND_MS "1000"
#define CONS_FOLLOW_SUSPEND_MS "15000"

struct cconn;

struct cqueue {
    int32_t       qid;
    int64_t       next;   /* offset of the next pull */
    int64_t       to;     /* done at this offset; -1 = follow */
    int64_t       expect; /* queue offset the next record should have */
    bool          pulling;
    bool          done;
    int32_t       opaque;
    uint32_t      seq;
    int64_t       retry_at_us; /* 0 = no retry pending */
    struct cconn *cc;
};

struct cconn {
    rmq_bench_conn_hdr hdr; /* first: the connection's user pointer */
    rmq_bench_cons    *cs;
    rmq_conn          *c; /* NULL once closed */
    bool               connecting;
};

struct rmq_bench_cons {
    rmq_bench      *b;
    rmq_bench_side *side;
    struct cqueue  *q;
    int             nq;
    struct cconn   *cc;
    int             ncc;
    bool            running;
    bool            e2e;
    int             ndone;
    char            batch[16];
    uint64_t        stamped;
    uint64_t        pulls, empty, seq_errors;
    int64_t         last_data_us;
    int64_t         next_retry_us; /* earliest retry_at_us; 0 = none */
};

static void
cons_note_retry(rmq_bench_cons *cs, int64_t at_us)
{
    if (cs->next_retry_us == 0 || at_us < cs->next_retry_us) {
        cs->next_retry_us = at_us;
    }
}

/* Pull q again after a pause: its last pull failed (rmq_bench_cons_tick). */
static void
cons_retry_later(rmq_bench_cons *cs, struct cqueue *q, int64_t now_us)
{
    q->retry_at_us = now_us + CONS_RETRY_US;
    cons_note_retry(cs, q->retry_at_us);
}

static void
cons_pull(struct cqueue *q)
{
    rmq_bench_cons *cs = q->cc->cs;
    rmq_rcmd_out    o;
    char            qid[16], off[24];
    int32_t         opaque;

    if (q->cc->c == NULL || q->pulling || q->done || !cs->running) {
        return;
    }
    opaque =
        (int32_t)((((uint32_t)++q->seq << CONS_QBITS) | (uint32_t)(q - cs->q)) &
                  0x7FFFFFFFu);
    snprintf(qid, sizeof(qid), "%d", q->qid);
    snprintf(off, sizeof(off), "%lld", (long long)q->next);
    rmq_rcmd_out_init(&o, RMQ_REQ_PULL_MESSAGE, opaque, 0);
    rmq_rcmd_out_ext(&o, "consumerGroup", cs->b->o.group);
    rmq_rcmd_out_ext(&o, "topic", cs->b->o.topic);
    rmq_rcmd_out_ext(&o, "queueId", qid);
    rmq_rcmd_out_ext(&o, "queueOffset", off);
    rmq_rcmd_out_ext(&o, "maxMsgNums", cs->batch);
    rmq_rcmd_out_ext(&o, "sysFlag", "6"); /* SUSPEND | SUBSCRIPTION */
    rmq_rcmd_out_ext(&o, "commitOffset", "0");
    rmq_rcmd_out_ext(&o, "suspendTimeoutMillis",
                     cs->e2e ? CONS_FOLLOW_SUSPEND_MS : CONS_DRAIN_SUSPEND_MS);
    rmq_rcmd_out_ext(&o, "subscription", "*");
    rmq_rcmd_out_ext(&o, "subVersion", "0");
    rmq_rcmd_out_ext(&o, "expressionType", "TAG");
    if (rmq_conn_send(q->cc->c, &o, NULL, 0) != 0) {
        rmq_bench_errs_add(&cs->side->errs, RMQ_BENCH_ERR_SEND, 1);
        cons_retry_later(cs, q, rmq_mono_us());
        return;
    }
    q->opaque = opaque;
    q->pulling = true;
    q->retry_at_us = 0;
    cs->side->requests++;
    if (cs->side->start_us == 0) {
        cs->side->start_us = rmq_mono_us();
    }
}

/* A record of this run: count it, and its latency in e2e mode. */
static void
cons_stamp(rmq_bench_cons *cs, const rmq_rec_view *v, int64_t now)
{
    if (v->body_len < RMQ_BENCH_STAMP_LEN ||
        memcmp(v->body, RMQ_BENCH_STAMP_MAGIC, 4) != 0 ||
        rmq_be32(v->body + 4) != cs->b->nonce) {
        return;
    }
    cs->stamped++;
    if (cs->e2e) {
        rmq_bench_hist_add(&cs->side->lat,
                           now - (int64_t)rmq_be64(v->body + 8));
    }
}

static void
cons_records(rmq_bench_cons *cs, struct cqueue *q, const rmq_rcmd *cmd,
             int64_t now)
{
    const uint8_t *p = cmd->body;
    size_t         left = cmd->body_len;
    bool           verify = cs->b->o.verify_crc;

    while (left > 0) {
        rmq_rec_view v;
        if (rmq_rec_decode(p, left, verify, &v) != 0 || v.kind != RMQ_REC_MSG) {
            rmq_bench_errs_add(&cs->side->errs, RMQ_BENCH_ERR_BADREC, 1);
            return;
        }
        cs->side->msgs++;
        cs->side->bytes += v.body_len;
        if (v.queue_id != q->qid || v.queue_offset != q->expect) {
            cs->seq_errors++;
        }
        q->expect = v.queue_offset + 1;
        cons_stamp(cs, &v, now);
        p += v.total_size;
        left -= v.total_size;
    }
}

static void
cons_check_done(rmq_bench_cons *cs, struct cqueue *q)
{
    if (q->to >= 0 && q->next >= q->to && !q->done) {
        q->done = true;
        cs->ndone++;
    }
}

/* Where the next pull starts, from a response's nextBeginOffset. */
static void
cons_advance(rmq_bench_cons *cs, struct cqueue *q, const rmq_rcmd *cmd,
             bool moved)
{
    int64_t nb;

    if (rmq_rcmd_ext_i64(cmd, "nextBeginOffset", &nb) != 0) {
        rmq_bench_errs_add(&cs->side->errs, RMQ_BENCH_ERR_BADRESP, 1);
        cons_retry_later(cs, q, rmq_mono_us());
        return;
    }
    q->next = nb;
    if (moved) {
        q->expect = nb;
    }
    cons_check_done(cs, q);
    cons_pull(q);
}

void
rmq_bench_cons_on_cmd(rmq_bench *b, void *conn_user, rmq_rcmd *cmd)
{
    struct cconn   *cc = conn_user;
    rmq_bench_cons *cs = cc->cs;
    uint32_t        idx = (uint32_t)cmd->opaque & ((1u << CONS_QBITS) - 1);
    struct cqueue  *q;
    int64_t         now;

    if ((cmd->flag & RMQ_RFLAG_RESPONSE) == 0 || idx >= (uint32_t)cs->nq) {
        return;
    }
    q = &cs->q[idx];
    if (!q->pulling || q->opaque != cmd->opaque) {
        return;
    }
    q->pulling = false;
    now = rmq_mono_us();
    cs->pulls++;
    cs->side->end_us = now;
    switch (cmd->code) {
    case RMQ_RESP_SUCCESS:
        cons_records(cs, q, cmd, now);
        cs->last_data_us = now;
        cons_advance(cs, q, cmd, false);
        break;
    case RMQ_RESP_PULL_NOT_FOUND:
    case RMQ_RESP_PULL_RETRY_IMMEDIATELY:
        cs->empty++;
        cons_advance(cs, q, cmd, false);
        break;
    case RMQ_RESP_PULL_OFFSET_MOVED:
        cs->empty++;
        cons_advance(cs, q, cmd, true);
        break;
    default:
        rmq_bench_errs_add(&cs->side->errs, cmd->code, 1);
        cons_retry_later(cs, q, now);
        break;
    }
}

void
rmq_bench_cons_on_close(rmq_bench *b, void *conn_user)
{
    struct cconn   *cc = conn_user;
    rmq_bench_cons *cs = cc->cs;

    if (cc->c == NULL) {
        return;
    }
    cc->c = NULL;
    cc->connecting = false;
    for (int i = 0; i < cs->nq; i++) {
        if (cs->q[i].cc == cc && cs->q[i].pulling) {
            cs->q[i].pulling = false;
            rmq_bench_errs_add(&cs->side->errs, RMQ_BENCH_ERR_CLOSED, 1);
        }
    }
    if (cs->running) {
        fprintf(stderr, "rmq-bench: consumer connection to %s closed\n",
                b->t.broker_addr);
        b->failed = true;
    }
}

void
rmq_bench_cons_on_connect(rmq_bench *b, void *conn_user, bool ok)
{
    struct cconn *cc = conn_user;

    cc->connecting = false;
    if (!ok) {
        fprintf(stderr, "rmq-bench: could not connect to %s\n",
                b->t.broker_addr);
    }
}

/*
 * Retry queues whose last pull failed, once their pause is over.  Runs
 * after every loop pass, so it looks at the queues only when the earliest
 * pending retry is due.
 */
void
rmq_bench_cons_tick(rmq_bench *b, int64_t now_us)
{
    rmq_bench_cons *cs = b->cons;

    if (cs == NULL || cs->next_retry_us == 0 || now_us < cs->next_retry_us) {
        return;
    }
    cs->next_retry_us = 0;
    for (int i = 0; i < cs->nq; i++) {
        struct cqueue *q = &cs->q[i];
        if (q->retry_at_us == 0) {
            continue;
        }
        if (now_us < q->retry_at_us) {
            cons_note_retry(cs, q->retry_at_us);
            continue;
        }
        q->retry_at_us = 0;
        cons_pull(q);
    }
}

static int
cons_conns(rmq_bench_cons *cs)
{
    rmq_bench *b = cs->b;

    cs->ncc = b->o.consume_conns < cs->nq ? b->o.consume_conns : cs->nq;
    cs->cc = calloc((size_t)cs->ncc, sizeof(*cs->cc));
    if (cs->cc == NULL) {
        return -1;
    }
    for (int i = 0; i < cs->ncc; i++) {
        struct cconn *cc = &cs->cc[i];
        cc->hdr.kind = RMQ_BENCH_CONN_CONSUMER;
        cc->cs = cs;
        cc->c = rmq_conns_connect(&b->conns, b->t.broker_addr);
        if (cc->c == NULL) {
            fprintf(stderr, "rmq-bench: cannot connect to %s\n",
                    b->t.broker_addr);
            return -1;
        }
        cc->c->user = cc;
        cc->connecting = true;
    }
    return 0;
}

int
rmq_bench_cons_start(rmq_bench *b, const int64_t *from, const int64_t *to)
{
    rmq_bench_cons *cs = calloc(1, sizeof(*cs));

    if (cs == NULL) {
        return -1;
    }
    b->cons = cs;
    cs->b = b;
    cs->side = &b->cs;
    cs->e2e = to == NULL;
    cs->nq = b->t.read_queues;
    snprintf(cs->batch, sizeof(cs->batch), "%d", b->o.pull_batch);
    cs->q = calloc((size_t)cs->nq, sizeof(*cs->q));
    if (cs->q == NULL || cons_conns(cs) != 0) {
        return -1;
    }
    for (int i = 0; i < cs->nq; i++) {
        struct cqueue *q = &cs->q[i];
        q->qid = i;
        q->next = q->expect = from[i];
        q->to = to ? to[i] : -1;
        q->cc = &cs->cc[i % cs->ncc];
        cons_check_done(cs, q);
    }
    return 0;
}

bool
rmq_bench_cons_connected(const rmq_bench *b, int *up)
{
    const rmq_bench_cons *cs = b->cons;
    bool                  all = true;

    *up = 0;
    for (int i = 0; i < cs->ncc; i++) {
        all = all && !cs->cc[i].connecting;
        *up += cs->cc[i].c != NULL && !cs->cc[i].connecting;
    }
    return all;
}

void
rmq_bench_cons_go(rmq_bench *b)
{
    rmq_bench_cons *cs = b->cons;

    cs->running = true;
    cs->last_data_us = rmq_mono_us();
    for (int i = 0; i < cs->nq; i++) {
        cons_pull(&cs->q[i]);
    }
}

bool
rmq_bench_cons_done(const rmq_bench *b)
{
    return b->cons->ndone == b->cons->nq;
}

uint64_t
rmq_bench_cons_stamped(const rmq_bench *b)
{
    return b->cons ? b->cons->stamped : 0;
}

double
rmq_bench_cons_idle_s(const rmq_bench *b)
{
    return (double)(rmq_mono_us() - b->cons->last_data_us) / 1e6;
}

void
rmq_bench_cons_stats(const rmq_bench *b, uint64_t *pulls, uint64_t *empty,
                     uint64_t *seq_errors)
{
    const rmq_bench_cons *cs = b->cons;

    *pulls = cs ? cs->pulls : 0;
    *empty = cs ? cs->empty : 0;
    *seq_errors = cs ? cs->seq_errors : 0;
}

void
rmq_bench_cons_fini(rmq_bench *b)
{
    rmq_bench_cons *cs = b->cons;

    if (cs == NULL) {
        return;
    }
    cs->running = false;
    for (int i = 0; i < cs->ncc; i++) {
        if (cs->cc[i].c != NULL) {
            rmq_conn *c = cs->cc[i].c;
            cs->cc[i].c = NULL;
            rmq_conn_close(c, "benchmark done");
        }
    }
    free(cs->q);
    free(cs->cc);
    free(cs);
    b->cons = NULL;
}
