/*
 * bench_produce.c - rmq-bench's producer connections (bench.h).  Runs on
 * the benchmark's one loop thread.
 *
 * Each connection keeps up to `window` SEND_MESSAGE_V2 requests
 * outstanding (1 = sync: send, wait for the answer, send again) and
 * sends the next one from the response handler, so the requests a loop
 * pass produces leave in one writev per connection (net/conn.h).  The
 * request header is built once per connection; a send only rewrites the
 * opaque, the queue id, the born timestamp and the UNIQ_KEY counter in
 * that connection's buffers, then encodes into the connection's output
 * buffer together with a copy of the one shared body.  Nothing is
 * allocated per message.
 *
 * Latency is taken from queueing the request (it is written at the end
 * of the same loop pass) to handling its response, in monotonic
 * microseconds.  Opaques carry the window slot in their low bits, so a
 * response finds its send time without a search.
 */
#include "bench/bench.h"

#include "common/util.h"
#include "proto/codes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PROD_GROUP "rmq-bench-producer"
#define PROD_UNIQ_DIGITS 12 /* hex digits of the per-connection counter */

struct pslot {
    int64_t sent_us;
    int32_t opaque;
    bool    busy;
};

struct pconn {
    rmq_bench_conn_hdr hdr; /* first: the connection's user pointer */
    rmq_bench_prod    *p;
    rmq_conn          *c; /* NULL once closed */
    bool               connecting;
    uint32_t           inflight;
    uint32_t           seq;
    struct pslot      *slots; /* window of them */
    uint32_t          *free;  /* stack of free slot indexes */
    uint32_t           nfree;
    rmq_rcmd_out       o; /* the SEND_MESSAGE_V2 header */
    uint32_t           ext_e, ext_g, ext_i;
    char               e[16]; /* queueId */
    char               g[24]; /* bornTimestamp */
    int64_t            g_ms;
    char               props[256];
    uint32_t           uniq_at; /* where the counter digits start */
    uint64_t           uniq_seq;
};

struct rmq_bench_prod {
    rmq_bench      *b;
    rmq_bench_side *side;
    struct pconn   *pc;
    int             n;
    uint32_t        window;
    uint32_t        wbits; /* bits of an opaque that hold the slot */
    uint8_t        *body;
    uint32_t        body_len;
    char            topic[RMQ_BENCH_NAME_MAX];
    char            d[16]; /* defaultTopicQueueNums */
    bool            running;
    uint64_t        limit; /* stop after this many OK sends; 0 = none */
    uint64_t        inflight;
    uint32_t        rr; /* round robin over the write queues */
    int             nqueues;
    int64_t         wall0_ms; /* wall clock at mono0_us: born timestamps */
    int64_t         mono0_us;
};

/* Decimal text of a non-negative value; returns its length. */
static uint32_t
prod_utoa(char *out, uint64_t v)
{
    char     tmp[24];
    uint32_t n = 0, len;

    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    len = n;
    for (uint32_t i = 0; i < len; i++) {
        out[i] = tmp[--n];
    }
    out[len] = '\0';
    return len;
}

/*
 * Properties as a Java producer sends them: UNIQ_KEY (32 hex: client
 * ip, pid, a per-connection id, then the counter patched per send),
 * WAIT=true, and TAGS when asked for.
 */
static void
prod_props(struct pconn *pc, int idx)
{
    const rmq_bench_opts *o = &pc->p->b->o;
    int                   n = 0;

    pc->props[0] = '\0';
    if (o->uniq_key) {
        n = snprintf(pc->props, sizeof(pc->props), "UNIQ_KEY\001%08X%04X%08X",
                     0x7F000001u, (unsigned)getpid() & 0xFFFFu,
                     pc->p->b->nonce ^ (uint32_t)idx);
        pc->uniq_at = (uint32_t)n;
        memset(pc->props + n, '0', PROD_UNIQ_DIGITS);
        n += PROD_UNIQ_DIGITS;
        pc->props[n++] = '\002';
    }
    n += snprintf(pc->props + n, sizeof(pc->props) - (size_t)n, "WAIT\001true");
    if (o->tag != NULL) {
        snprintf(pc->props + n, sizeof(pc->props) - (size_t)n, "\002TAGS\001%s",
                 o->tag);
    }
}

/* The header fields a..m; only e, g and i change afterwards. */
static void
prod_header(struct pconn *pc)
{
    rmq_bench_prod *p = pc->p;
    rmq_rcmd_out   *o = &pc->o;

    rmq_rcmd_out_init(o, RMQ_REQ_SEND_MESSAGE_V2, 0, 0);
    strcpy(pc->e, "0");
    strcpy(pc->g, "0");
    rmq_rcmd_out_ext(o, "a", PROD_GROUP);
    rmq_rcmd_out_ext(o, "b", p->topic);
    rmq_rcmd_out_ext(o, "c", "TBW102");
    rmq_rcmd_out_ext(o, "d", p->d);
    pc->ext_e = o->next;
    rmq_rcmd_out_ext(o, "e", pc->e);
    rmq_rcmd_out_ext(o, "f", "0");
    pc->ext_g = o->next;
    rmq_rcmd_out_ext(o, "g", pc->g);
    rmq_rcmd_out_ext(o, "h", "0");
    pc->ext_i = o->next;
    rmq_rcmd_out_ext(o, "i", pc->props);
    rmq_rcmd_out_ext(o, "j", "0");
    rmq_rcmd_out_ext(o, "k", "false");
    rmq_rcmd_out_ext(o, "m", "false");
}

/* now_us: the send's monotonic time; born = wall clock derived from it. */
static void
prod_patch(struct pconn *pc, int32_t qid, int64_t now_us)
{
    rmq_rcmd_out *o = &pc->o;
    int64_t       ms = pc->p->wall0_ms + (now_us - pc->p->mono0_us) / 1000;

    o->ext[pc->ext_e].value_len = prod_utoa(pc->e, (uint64_t)qid);
    if (ms != pc->g_ms) {
        pc->g_ms = ms;
        o->ext[pc->ext_g].value_len = prod_utoa(pc->g, (uint64_t)ms);
    }
    if (pc->p->b->o.uniq_key) {
        static const char hex[] = "0123456789ABCDEF";
        uint64_t          v = ++pc->uniq_seq;
        char             *d = pc->props + pc->uniq_at;
        for (int i = PROD_UNIQ_DIGITS - 1; i >= 0; i--, v >>= 4) {
            d[i] = hex[v & 0xF];
        }
    }
}

static bool
prod_want_more(const rmq_bench_prod *p)
{
    if (!p->running) {
        return false;
    }
    if (p->limit == 0) {
        return true;
    }
    /* errors are retried, but a broker that fails everything stops us */
    return p->side->msgs + p->inflight < p->limit &&
           p->side->errs.total <= p->limit;
}

/* Queue one send on pc; false when it could not be queued. */
static bool
prod_send(struct pconn *pc)
{
    rmq_bench_prod *p = pc->p;
    uint32_t        slot = pc->free[--pc->nfree];
    int32_t         opaque;
    int64_t         now;

    opaque =
        (int32_t)((((uint32_t)++pc->seq << p->wbits) | slot) & 0x7FFFFFFFu);
    now = rmq_mono_us();
    prod_patch(pc, (int32_t)(p->rr++ % (uint32_t)p->nqueues), now);
    if (p->body_len >= RMQ_BENCH_STAMP_LEN) {
        rmq_put_be64(p->body + 8, (uint64_t)now);
    }
    pc->o.opaque = opaque;
    p->side->requests++;
    if (rmq_conn_send(pc->c, &pc->o, p->body, p->body_len) != 0) {
        pc->free[pc->nfree++] = slot;
        rmq_bench_errs_add(&p->side->errs, RMQ_BENCH_ERR_SEND, 1);
        return false;
    }
    pc->slots[slot] =
        (struct pslot){.sent_us = now, .opaque = opaque, .busy = true};
    pc->inflight++;
    p->inflight++;
    if (p->side->start_us == 0) {
        p->side->start_us = now;
    }
    return true;
}

static void
prod_fill(struct pconn *pc)
{
    while (pc->c != NULL && pc->inflight < pc->p->window &&
           prod_want_more(pc->p)) {
        if (!prod_send(pc)) {
            break;
        }
    }
}

void
rmq_bench_prod_on_cmd(rmq_bench *b, void *conn_user, rmq_rcmd *cmd)
{
    struct pconn   *pc = conn_user;
    rmq_bench_prod *p = pc->p;
    uint32_t        slot = (uint32_t)cmd->opaque & ((1u << p->wbits) - 1);
    struct pslot   *s;
    int64_t         now;

    if ((cmd->flag & RMQ_RFLAG_RESPONSE) == 0 || slot >= p->window) {
        return; /* a request from the broker, or not ours */
    }
    s = &pc->slots[slot];
    if (!s->busy || s->opaque != cmd->opaque) {
        return;
    }
    now = rmq_mono_us();
    s->busy = false;
    pc->free[pc->nfree++] = slot;
    pc->inflight--;
    p->inflight--;
    if (cmd->code == RMQ_RESP_SUCCESS) {
        p->side->msgs++;
        p->side->bytes += p->body_len;
        rmq_bench_hist_add(&p->side->lat, now - s->sent_us);
    } else {
        rmq_bench_errs_add(&p->side->errs, cmd->code, 1);
    }
    p->side->end_us = now;
    prod_fill(pc);
}

/* The sends still outstanding on pc are lost: count them as code. */
static void
prod_abandon(struct pconn *pc, int32_t code)
{
    rmq_bench_prod *p = pc->p;

    for (uint32_t i = 0; i < p->window; i++) {
        if (pc->slots[i].busy) {
            pc->slots[i].busy = false;
            pc->free[pc->nfree++] = i;
        }
    }
    rmq_bench_errs_add(&p->side->errs, code, pc->inflight);
    p->inflight -= pc->inflight;
    pc->inflight = 0;
}

void
rmq_bench_prod_on_close(rmq_bench *b, void *conn_user)
{
    struct pconn *pc = conn_user;

    if (pc->c == NULL) {
        return;
    }
    if (!pc->connecting && b->prod != NULL && pc->p->running) {
        fprintf(stderr, "rmq-bench: producer connection %d to %s closed\n",
                (int)(pc - pc->p->pc), b->t.broker_addr);
    }
    pc->c = NULL;
    pc->connecting = false;
    prod_abandon(pc, RMQ_BENCH_ERR_CLOSED);
}

void
rmq_bench_prod_on_connect(rmq_bench *b, void *conn_user, bool ok)
{
    struct pconn *pc = conn_user;

    pc->connecting = false;
    if (!ok) {
        fprintf(stderr, "rmq-bench: could not connect to %s\n",
                b->t.broker_addr);
        return; /* on_close follows */
    }
    prod_fill(pc);
}

static int
prod_conn_init(rmq_bench_prod *p, struct pconn *pc, int idx)
{
    pc->hdr.kind = RMQ_BENCH_CONN_PRODUCER;
    pc->p = p;
    pc->slots = calloc(p->window, sizeof(*pc->slots));
    pc->free = calloc(p->window, sizeof(*pc->free));
    if (pc->slots == NULL || pc->free == NULL) {
        return -1;
    }
    for (uint32_t i = 0; i < p->window; i++) {
        pc->free[pc->nfree++] = p->window - 1 - i;
    }
    prod_props(pc, idx);
    prod_header(pc);
    pc->c = rmq_conns_connect(&p->b->conns, p->b->t.broker_addr);
    if (pc->c == NULL) {
        fprintf(stderr, "rmq-bench: cannot connect to %s\n",
                p->b->t.broker_addr);
        return -1;
    }
    pc->c->user = pc;
    pc->connecting = true;
    return 0;
}

static bool
prod_body(rmq_bench_prod *p)
{
    const rmq_bench_opts *o = &p->b->o;

    p->body_len = (uint32_t)o->size;
    p->body = malloc(p->body_len);
    if (p->body == NULL) {
        return false;
    }
    for (uint32_t i = 0; i < p->body_len; i++) {
        p->body[i] = (uint8_t)('a' + i % 26);
    }
    if (p->body_len >= RMQ_BENCH_STAMP_LEN) {
        memcpy(p->body, RMQ_BENCH_STAMP_MAGIC, 4);
        rmq_put_be32(p->body + 4, p->b->nonce);
    }
    return true;
}

int
rmq_bench_prod_start(rmq_bench *b, rmq_bench_side *side, uint64_t limit)
{
    rmq_bench_prod *p = calloc(1, sizeof(*p));

    if (p == NULL) {
        return -1;
    }
    b->prod = p;
    p->b = b;
    p->side = side;
    p->limit = limit;
    p->mono0_us = rmq_mono_us();
    p->wall0_ms = rmq_now_ms();
    p->n = b->o.conns;
    p->window = (uint32_t)b->o.window;
    while ((1u << p->wbits) < p->window) {
        p->wbits++;
    }
    p->nqueues = b->t.write_queues;
    rmq_strlcpy(p->topic, b->o.topic, sizeof(p->topic));
    snprintf(p->d, sizeof(p->d), "%d", b->o.queues);
    p->pc = calloc((size_t)p->n, sizeof(*p->pc));
    if (p->pc == NULL || !prod_body(p)) {
        return -1;
    }
    for (int i = 0; i < p->n; i++) {
        if (prod_conn_init(p, &p->pc[i], i) != 0) {
            return -1;
        }
    }
    return 0;
}

bool
rmq_bench_prod_connected(const rmq_bench *b, int *up)
{
    const rmq_bench_prod *p = b->prod;
    bool                  all = true;

    *up = 0;
    for (int i = 0; i < p->n; i++) {
        all = all && !p->pc[i].connecting;
        *up += p->pc[i].c != NULL && !p->pc[i].connecting;
    }
    return all;
}

void
rmq_bench_prod_go(rmq_bench *b)
{
    rmq_bench_prod *p = b->prod;

    p->running = true;
    for (int i = 0; i < p->n; i++) {
        if (!p->pc[i].connecting) {
            prod_fill(&p->pc[i]);
        }
    }
}

void
rmq_bench_prod_stop(rmq_bench *b)
{
    b->prod->running = false;
}

uint64_t
rmq_bench_prod_inflight(const rmq_bench *b)
{
    return b->prod ? b->prod->inflight : 0;
}

bool
rmq_bench_prod_done(const rmq_bench *b)
{
    const rmq_bench_prod *p = b->prod;
    int                   up;

    if (p->inflight > 0) {
        return false;
    }
    rmq_bench_prod_connected(b, &up);
    return (p->limit > 0 && !prod_want_more(p)) || up == 0;
}

void
rmq_bench_prod_fini(rmq_bench *b)
{
    rmq_bench_prod *p = b->prod;

    if (p == NULL) {
        return;
    }
    for (int i = 0; i < p->n; i++) {
        struct pconn *pc = &p->pc[i];
        if (pc->slots != NULL) {
            prod_abandon(pc, RMQ_BENCH_ERR_TIMEOUT);
        }
        if (pc->c != NULL) {
            rmq_conn *c = pc->c;
            pc->c = NULL; /* on_close: nothing left to count */
            rmq_conn_close(c, "benchmark done");
        }
        free(pc->slots);
        free(pc->free);
    }
    free(p->pc);
    free(p->body);
    free(p);
    b->prod = NULL;
}
