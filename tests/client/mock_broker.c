/*
 * mock_broker.c - the in-process name server + two brokers of
 * mock_broker.h.  Compiled into test_mock.c by #include (CMake builds
 * only tests/<area>/test_*.c).  Runs one thread with an epoll loop and
 * three connection sets; every request is handled under m->mu.
 */
#include "mock_broker.h"

#include "common/buf.h"
#include "common/util.h"
#include "net/conn.h"
#include "net/loop.h"
#include "proto/codes.h"
#include "proto/remoting.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <stdarg.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MOCK_HOLD_MS 300 /* a held pull is answered 19 after this */
#define MOCK_MAX 4096

typedef struct mmsg {
    char     topic[160];
    int      qid;
    int64_t  qoff;
    int64_t  phys;
    int32_t  flag, sysflag, reconsume;
    int64_t  born;
    uint8_t *body;
    size_t   blen;
    char    *props;
} mmsg;

typedef struct mtopic {
    char name[160];
    int  qa, qb;
} mtopic;

typedef struct mclient {
    int      server;
    char     group[128];
    char     id[160];
    uint64_t conn;
} mclient;

typedef struct moffset {
    int       server;
    char      key[400]; /* group|topic|qid */
    long long off;
} moffset;

typedef struct mheld {
    int      server;
    uint64_t conn;
    int32_t  opaque;
    char     topic[160];
    int      qid;
    int64_t  offset;
    int      max;
    int64_t  deadline;
} mheld;

typedef struct mpuller {
    int      server;
    char     topic[160];
    int      qid;
    uint64_t conn;
} mpuller;

typedef struct msaved {
    uint32_t n;
    char    *keys[RMQ_RCMD_EXT_MAX];
    char    *vals[RMQ_RCMD_EXT_MAX];
} msaved;

typedef struct mserver {
    mock     *m;
    int       id;
    int       port;
    char      addr[32];
    rmq_conns conns;
    rmq_io    lio;
    int       fail_code;
    bool      silent;
    bool      drop; /* close every connection on the next pass */
    int64_t   phys_next;
    int       counts[512];
} mserver;

struct mock {
    pthread_mutex_t mu;
    pthread_t       thread;
    atomic_bool     stop;
    rmq_loop        loop;
    mserver         srv[3];
    mtopic          topics[64];
    int             ntopics;
    mmsg           *msgs;
    int             nmsgs;
    mclient         clients[64];
    int             nclients;
    moffset         offsets[256];
    int             noffsets;
    mheld           held[256];
    int             nheld;
    mpuller         pullers[128];
    int             npullers;
    bool            fail_sendback;
    bool            no_retry_routes;
    msaved          saved[512]; /* ext fields of the last request per code */
};

/* ---- helpers ----------------------------------------------------------- */

static int
mock_free_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t          len = sizeof(a);
    int                fd = socket(AF_INET, SOCK_STREAM, 0), port;

    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd, (struct sockaddr *)&a, sizeof(a));
    getsockname(fd, (struct sockaddr *)&a, &len);
    port = ntohs(a.sin_port);
    close(fd);
    return port;
}

static mtopic *
mock_find_topic(mock *m, const char *name)
{
    for (int i = 0; i < m->ntopics; i++) {
        if (strcmp(m->topics[i].name, name) == 0) {
            return &m->topics[i];
        }
    }
    return NULL;
}

static void
mock_topic_locked(mock *m, const char *topic, int qa, int qb)
{
    mtopic *t = mock_find_topic(m, topic);

    if (t == NULL && m->ntopics < 64) {
        t = &m->topics[m->ntopics++];
        snprintf(t->name, sizeof(t->name), "%s", topic);
    }
    if (t != NULL) {
        t->qa = qa;
        t->qb = qb;
    }
}

/* A reply under construction: ext values live in vals. */
typedef struct mreply {
    rmq_rcmd_out o;
    char         vals[10][96];
    int          nv;
} mreply;

static void
mr_init(mreply *r, const rmq_rcmd *req, int code)
{
    rmq_rcmd_out_init(&r->o, code, req->opaque, RMQ_RFLAG_RESPONSE);
    r->nv = 0;
}

static void __attribute__((format(printf, 3, 4)))
mr_ext(mreply *r, const char *key, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(r->vals[r->nv], sizeof(r->vals[0]), fmt, ap);
    va_end(ap);
    rmq_rcmd_out_ext(&r->o, key, r->vals[r->nv]);
    r->nv++;
}

static void
mr_send(rmq_conn *c, mreply *r, const void *body, size_t len)
{
    rmq_conn_send(c, &r->o, body, (uint32_t)len);
}

static void
mock_simple(rmq_conn *c, const rmq_rcmd *req, int code)
{
    mreply r;

    mr_init(&r, req, code);
    mr_send(c, &r, NULL, 0);
}

static const char *
mock_ext(const rmq_rcmd *req, const char *key)
{
    const char *v = rmq_rcmd_ext(req, key);
    return v != NULL ? v : "";
}

static long long
mock_ext_ll(const rmq_rcmd *req, const char *key)
{
    return atoll(mock_ext(req, key));
}

/* ---- name server ------------------------------------------------------- */

static void
mock_route(mock *m, rmq_conn *c, const rmq_rcmd *req)
{
    const char *topic = mock_ext(req, "topic");
    mtopic     *t = mock_find_topic(m, topic);
    mtopic      retry = {.qa = 1, .qb = 1};
    rmq_buf     b;
    mreply      r;

    if (t == NULL && strncmp(topic, "%RETRY%", 7) == 0 && !m->no_retry_routes) {
        t = &retry;
    }
    if (t == NULL || (t->qa == 0 && t->qb == 0)) {
        mr_init(&r, req, RMQ_RESP_TOPIC_NOT_EXIST);
        r.o.remark = "No topic route info in name server for the topic";
        mr_send(c, &r, NULL, 0);
        return;
    }
    rmq_buf_init(&b);
    /* broker-b uses fastjson's bare numeric keys */
    rmq_buf_printf(&b, "{\"brokerDatas\":[");
    if (t->qa > 0) {
        rmq_buf_printf(&b,
                       "{\"brokerAddrs\":{\"0\":\"%s\"},\"brokerName\":"
                       "\"broker-a\",\"cluster\":\"C\"}%s",
                       m->srv[MOCK_A].addr, t->qb > 0 ? "," : "");
    }
    if (t->qb > 0) {
        rmq_buf_printf(&b,
                       "{\"brokerAddrs\":{0:\"%s\"},\"brokerName\":"
                       "\"broker-b\",\"cluster\":\"C\"}",
                       m->srv[MOCK_B].addr);
    }
    rmq_buf_printf(&b, "],\"filterServerTable\":{},\"queueDatas\":[");
    if (t->qa > 0) {
        rmq_buf_printf(&b,
                       "{\"brokerName\":\"broker-a\",\"perm\":6,"
                       "\"readQueueNums\":%d,\"writeQueueNums\":%d}%s",
                       t->qa, t->qa, t->qb > 0 ? "," : "");
    }
    if (t->qb > 0) {
        rmq_buf_printf(&b,
                       "{\"brokerName\":\"broker-b\",\"perm\":6,"
                       "\"readQueueNums\":%d,\"writeQueueNums\":%d}",
                       t->qb, t->qb);
    }
    rmq_buf_printf(&b, "]}");
    mr_init(&r, req, 0);
    mr_send(c, &r, b.data, b.len);
    rmq_buf_free(&b);
}

/* ---- storing ----------------------------------------------------------- */

static int64_t
mock_qmax(mock *m, int server, const char *topic, int qid)
{
    int64_t n = 0;

    for (int i = 0; i < m->nmsgs; i++) {
        mmsg *x = &m->msgs[i];
        if (x->qid == qid && strcmp(x->topic, topic) == 0 &&
            ((x->phys >> 40) == server)) {
            n++;
        }
    }
    return n;
}

/* Store one message on a broker; phys carries the server in bits 40+. */
static mmsg *
mock_store(mock *m, mserver *s, const char *topic, int qid, const void *body,
           size_t blen, const char *props)
{
    mmsg *x;

    if (m->nmsgs == MOCK_MAX) {
        return NULL;
    }
    x = &m->msgs[m->nmsgs];
    memset(x, 0, sizeof(*x));
    snprintf(x->topic, sizeof(x->topic), "%s", topic);
    x->qid = qid;
    x->qoff = mock_qmax(m, s->id, topic, qid);
    x->phys = ((int64_t)s->id << 40) | s->phys_next;
    s->phys_next += 100;
    x->body = malloc(blen ? blen : 1);
    memcpy(x->body, body, blen);
    x->blen = blen;
    x->props = strdup(props);
    x->born = rmq_now_ms();
    m->nmsgs++;
    return x;
}

static void
mock_offset_id(const mserver *s, int64_t phys, char *out)
{
    uint8_t raw[16];

    raw[0] = 127;
    raw[1] = 0;
    raw[2] = 0;
    raw[3] = 1;
    rmq_put_be32(raw + 4, (uint32_t)s->port);
    rmq_put_be64(raw + 8, (uint64_t)phys);
    rmq_hex_upper(raw, 16, out);
}

static void
mock_send(mock *m, mserver *s, rmq_conn *c, const rmq_rcmd *req)
{
    const char *topic = mock_ext(req, "b");
    int         qid = atoi(mock_ext(req, "e"));
    bool        batch = req->code == RMQ_REQ_SEND_BATCH_MESSAGE;
    mmsg       *first = NULL, *x;
    char        id[40];
    mreply      r;
    size_t      off = 0;

    if (s->silent) {
        return;
    }
    if (s->fail_code != 0) {
        mr_init(&r, req, s->fail_code);
        r.o.remark = "mock failure";
        mr_send(c, &r, NULL, 0);
        return;
    }
    qid = qid < 0 ? 0 : qid;
    if (!batch) {
        first = mock_store(m, s, topic, qid, req->body, req->body_len,
                           mock_ext(req, "i"));
        if (first != NULL) {
            first->flag = atoi(mock_ext(req, "h"));
            first->sysflag = atoi(mock_ext(req, "f"));
            first->reconsume = atoi(mock_ext(req, "j"));
        }
    }
    while (batch && off + 22 <= req->body_len) {
        const uint8_t *p = req->body + off;
        uint32_t       total = rmq_be32(p), blen = rmq_be32(p + 16);
        uint16_t       plen = rmq_be16(p + 20 + blen);
        char          *props = strndup((const char *)p + 22 + blen, plen);

        x = mock_store(m, s, topic, qid, p + 20, blen, props);
        if (x != NULL) {
            x->flag = (int32_t)rmq_be32(p + 12);
        }
        first = first != NULL ? first : x;
        free(props);
        off += total;
    }
    if (first == NULL) {
        mock_simple(c, req, RMQ_RESP_MESSAGE_ILLEGAL);
        return;
    }
    if (mock_find_topic(m, topic) == NULL &&
        strcmp(mock_ext(req, "c"), "TBW102") == 0) {
        /* auto creation, as a broker registering the new topic */
        mock_topic_locked(m, topic, s->id == MOCK_A ? 4 : 0,
                          s->id == MOCK_B ? 4 : 0);
    }
    mock_offset_id(s, first->phys, id);
    mr_init(&r, req, 0);
    mr_ext(&r, "msgId", "%s", id);
    mr_ext(&r, "queueId", "%d", qid);
    mr_ext(&r, "queueOffset", "%lld", (long long)first->qoff);
    mr_send(c, &r, NULL, 0);
}

/* ---- pulling ----------------------------------------------------------- */

static void
mock_record(const mserver *s, const mmsg *x, rmq_buf *b)
{
    size_t tlen = strlen(x->topic), plen = strlen(x->props);
    size_t total = 91 + x->blen + tlen + plen;

    rmq_buf_be32(b, (uint32_t)total);
    rmq_buf_be32(b, 0xDAA320A7u);
    rmq_buf_be32(b, 0);
    rmq_buf_be32(b, (uint32_t)x->qid);
    rmq_buf_be32(b, (uint32_t)x->flag);
    rmq_buf_be64(b, (uint64_t)x->qoff);
    rmq_buf_be64(b, (uint64_t)x->phys);
    rmq_buf_be32(b, (uint32_t)x->sysflag);
    rmq_buf_be64(b, (uint64_t)x->born);
    rmq_buf_append(b, "\x7f\x00\x00\x01", 4);
    rmq_buf_be32(b, 40000);
    rmq_buf_be64(b, (uint64_t)x->born + 1);
    rmq_buf_append(b, "\x7f\x00\x00\x01", 4);
    rmq_buf_be32(b, (uint32_t)s->port);
    rmq_buf_be32(b, (uint32_t)x->reconsume);
    rmq_buf_be64(b, 0);
    rmq_buf_be32(b, (uint32_t)x->blen);
    rmq_buf_append(b, x->body, x->blen);
    rmq_buf_u8(b, (uint8_t)tlen);
    rmq_buf_append(b, x->topic, tlen);
    rmq_buf_be16(b, (uint16_t)plen);
    rmq_buf_append(b, x->props, plen);
}

/* Answer a pull if there is something to say; false to keep holding. */
static bool
mock_pull_answer(mock *m, mserver *s, rmq_conn *c, int32_t opaque,
                 const char *topic, int qid, int64_t offset, int max,
                 bool final)
{
    int64_t  qmax = mock_qmax(m, s->id, topic, qid), next = offset;
    rmq_rcmd req = {.opaque = opaque};
    rmq_buf  b;
    mreply   r;
    int      code, n = 0;

    rmq_buf_init(&b);
    for (int i = 0; i < m->nmsgs && n < max; i++) {
        mmsg *x = &m->msgs[i];
        if ((x->phys >> 40) == s->id && x->qid == qid && x->qoff >= offset &&
            strcmp(x->topic, topic) == 0) {
            mock_record(s, x, &b);
            next = x->qoff + 1;
            n++;
        }
    }
    if (n > 0) {
        code = 0;
    } else if (offset > qmax) {
        code = RMQ_RESP_PULL_OFFSET_MOVED;
        next = qmax;
    } else if (!final) {
        rmq_buf_free(&b);
        return false;
    } else {
        code = RMQ_RESP_PULL_NOT_FOUND;
    }
    mr_init(&r, &req, code);
    mr_ext(&r, "nextBeginOffset", "%lld", (long long)next);
    mr_ext(&r, "minOffset", "0");
    mr_ext(&r, "maxOffset", "%lld", (long long)qmax);
    mr_ext(&r, "suggestWhichBrokerId", "0");
    mr_send(c, &r, b.data, b.len);
    rmq_buf_free(&b);
    return true;
}

static void mock_set_offset(mock *m, int server, const char *group,
                            const char *topic, int qid, long long off);

static void
mock_note_puller(mock *m, int server, const char *topic, int qid, uint64_t conn)
{
    for (int i = 0; i < m->npullers; i++) {
        if (m->pullers[i].server == server && m->pullers[i].qid == qid &&
            strcmp(m->pullers[i].topic, topic) == 0) {
            m->pullers[i].conn = conn;
            return;
        }
    }
    if (m->npullers < 128) {
        mpuller *p = &m->pullers[m->npullers++];
        p->server = server;
        snprintf(p->topic, sizeof(p->topic), "%s", topic);
        p->qid = qid;
        p->conn = conn;
    }
}

static void
mock_pull(mock *m, mserver *s, rmq_conn *c, const rmq_rcmd *req)
{
    const char *topic = mock_ext(req, "topic");
    int         qid = atoi(mock_ext(req, "queueId"));
    int64_t     offset = mock_ext_ll(req, "queueOffset");
    int         max = atoi(mock_ext(req, "maxMsgNums"));
    int         flags = atoi(mock_ext(req, "sysFlag"));
    mheld      *h;

    mock_note_puller(m, s->id, topic, qid, c->id);
    if (flags & RMQ_PULL_COMMIT_OFFSET) {
        mock_set_offset(m, s->id, mock_ext(req, "consumerGroup"), topic, qid,
                        mock_ext_ll(req, "commitOffset"));
    }
    if (mock_pull_answer(m, s, c, req->opaque, topic, qid, offset, max,
                         (flags & RMQ_PULL_SUSPEND) == 0 || m->nheld == 256)) {
        return;
    }
    h = &m->held[m->nheld++];
    h->server = s->id;
    h->conn = c->id;
    h->opaque = req->opaque;
    snprintf(h->topic, sizeof(h->topic), "%s", topic);
    h->qid = qid;
    h->offset = offset;
    h->max = max;
    h->deadline = rmq_mono_ms() + MOCK_HOLD_MS;
}

static void
mock_run_held(mock *m)
{
    int64_t now = rmq_mono_ms();

    for (int i = 0; i < m->nheld;) {
        mheld    *h = &m->held[i];
        mserver  *s = &m->srv[h->server];
        rmq_conn *c = rmq_conns_get(&s->conns, h->conn);

        if (c == NULL ||
            mock_pull_answer(m, s, c, h->opaque, h->topic, h->qid, h->offset,
                             h->max, now >= h->deadline)) {
            m->held[i] = m->held[--m->nheld];
            continue;
        }
        i++;
    }
}

/* ---- offsets ----------------------------------------------------------- */

static moffset *
mock_find_offset(mock *m, int server, const char *group, const char *topic,
                 int qid, bool create)
{
    char key[400];

    snprintf(key, sizeof(key), "%s|%s|%d", group, topic, qid);
    for (int i = 0; i < m->noffsets; i++) {
        if (m->offsets[i].server == server &&
            strcmp(m->offsets[i].key, key) == 0) {
            return &m->offsets[i];
        }
    }
    if (!create || m->noffsets == 256) {
        return NULL;
    }
    m->offsets[m->noffsets].server = server;
    snprintf(m->offsets[m->noffsets].key, sizeof(key), "%s", key);
    return &m->offsets[m->noffsets++];
}

static void
mock_set_offset(mock *m, int server, const char *group, const char *topic,
                int qid, long long off)
{
    moffset *o = mock_find_offset(m, server, group, topic, qid, true);

    if (o != NULL) {
        o->off = off;
    }
}

static void
mock_offsets(mock *m, mserver *s, rmq_conn *c, const rmq_rcmd *req)
{
    const char *topic = mock_ext(req, "topic");
    const char *group = mock_ext(req, "consumerGroup");
    int         qid = atoi(mock_ext(req, "queueId"));
    moffset    *o;
    mreply      r;

    switch (req->code) {
    case RMQ_REQ_QUERY_CONSUMER_OFFSET:
        o = mock_find_offset(m, s->id, group, topic, qid, false);
        if (o == NULL) {
            mock_simple(c, req, RMQ_RESP_QUERY_NOT_FOUND);
            return;
        }
        mr_init(&r, req, 0);
        mr_ext(&r, "offset", "%lld", o->off);
        break;
    case RMQ_REQ_UPDATE_CONSUMER_OFFSET:
        mock_set_offset(m, s->id, group, topic, qid,
                        mock_ext_ll(req, "commitOffset"));
        mr_init(&r, req, 0);
        break;
    case RMQ_REQ_GET_MAX_OFFSET:
        mr_init(&r, req, 0);
        mr_ext(&r, "offset", "%lld",
               (long long)mock_qmax(m, s->id, topic, qid));
        break;
    default: /* 31 min, 29 by time: always the start */
        mr_init(&r, req, 0);
        mr_ext(&r, "offset", "0");
    }
    if ((req->flag & RMQ_RFLAG_ONEWAY) == 0) {
        mr_send(c, &r, NULL, 0);
    }
}

/* ---- consumer groups --------------------------------------------------- */

static void
mock_notify(mock *m, mserver *s, const char *group)
{
    for (int i = 0; i < m->nclients; i++) {
        mclient     *cl = &m->clients[i];
        rmq_conn    *c = rmq_conns_get(&s->conns, cl->conn);
        rmq_rcmd_out o;

        if (cl->server != s->id || strcmp(cl->group, group) != 0 || c == NULL) {
            continue;
        }
        rmq_rcmd_out_init(&o, RMQ_REQ_NOTIFY_CONSUMER_IDS_CHANGED, 1000 + i,
                          RMQ_RFLAG_ONEWAY);
        rmq_rcmd_out_ext(&o, "consumerGroup", group);
        rmq_conn_send(c, &o, NULL, 0);
    }
}

static bool
mock_add_client(mock *m, mserver *s, const char *group, const char *id,
                uint64_t conn)
{
    mclient *cl;

    for (int i = 0; i < m->nclients; i++) {
        cl = &m->clients[i];
        if (cl->server == s->id && strcmp(cl->group, group) == 0 &&
            strcmp(cl->id, id) == 0) {
            cl->conn = conn;
            return false;
        }
    }
    if (m->nclients == 64) {
        return false;
    }
    cl = &m->clients[m->nclients++];
    cl->server = s->id;
    snprintf(cl->group, sizeof(cl->group), "%s", group);
    snprintf(cl->id, sizeof(cl->id), "%s", id);
    cl->conn = conn;
    return true;
}

static void
mock_heartbeat(mock *m, mserver *s, rmq_conn *c, const rmq_rcmd *req)
{
    json_t *doc = json_loadb((const char *)req->body, req->body_len, 0, NULL);
    const char *id = json_string_value(json_object_get(doc, "clientID"));
    json_t     *set = json_object_get(doc, "consumerDataSet");
    size_t      i;
    json_t     *cd;

    json_array_foreach(set, i, cd)
    {
        const char *g = json_string_value(json_object_get(cd, "groupName"));
        if (g != NULL && id != NULL && mock_add_client(m, s, g, id, c->id)) {
            mock_notify(m, s, g);
        }
    }
    json_decref(doc);
    mock_simple(c, req, doc != NULL ? 0 : RMQ_RESP_SYSTEM_ERROR);
}

static void
mock_unregister(mock *m, mserver *s, rmq_conn *c, const rmq_rcmd *req)
{
    const char *id = mock_ext(req, "clientID");
    const char *g = mock_ext(req, "consumerGroup");

    for (int i = 0; i < m->nclients;) {
        if (m->clients[i].server == s->id &&
            strcmp(m->clients[i].id, id) == 0) {
            m->clients[i] = m->clients[--m->nclients];
            continue;
        }
        i++;
    }
    if (g[0] != '\0') {
        mock_notify(m, s, g);
    }
    mock_simple(c, req, 0);
}

static void
mock_consumers(mock *m, mserver *s, rmq_conn *c, const rmq_rcmd *req)
{
    const char *g = mock_ext(req, "consumerGroup");
    json_t     *ids = json_array(), *doc;
    char       *text;
    mreply      r;

    for (int i = 0; i < m->nclients; i++) {
        if (m->clients[i].server == s->id &&
            strcmp(m->clients[i].group, g) == 0) {
            json_array_append_new(ids, json_string(m->clients[i].id));
        }
    }
    doc = json_pack("{s:o}", "consumerIdList", ids);
    text = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    mr_init(&r, req, 0);
    mr_send(c, &r, text, strlen(text));
    free(text);
}

/* CONSUMER_SEND_MSG_BACK: straight into %RETRY%<group> (no delay here). */
static void
mock_sendback(mock *m, mserver *s, rmq_conn *c, const rmq_rcmd *req)
{
    int64_t phys = mock_ext_ll(req, "offset");
    char    topic[160];
    rmq_buf props;
    mmsg   *orig = NULL, *x;

    if (m->fail_sendback) {
        mock_simple(c, req, RMQ_RESP_SYSTEM_ERROR);
        return;
    }
    for (int i = 0; i < m->nmsgs && orig == NULL; i++) {
        orig = m->msgs[i].phys == phys ? &m->msgs[i] : NULL;
    }
    if (orig == NULL) {
        mock_simple(c, req, RMQ_RESP_SYSTEM_ERROR);
        return;
    }
    rmq_buf_init(&props);
    rmq_buf_append_str(&props, orig->props);
    if (strstr(orig->props, "RETRY_TOPIC\x01") == NULL) {
        rmq_buf_printf(&props, "\x02RETRY_TOPIC\x01%s", orig->topic);
    }
    snprintf(topic, sizeof(topic), "%%RETRY%%%s", mock_ext(req, "group"));
    x = mock_store(m, s, topic, 0, orig->body, orig->blen,
                   rmq_buf_cstr(&props));
    if (x != NULL) {
        x->reconsume = orig->reconsume + 1;
        x->sysflag = orig->sysflag;
        x->flag = orig->flag;
    }
    rmq_buf_free(&props);
    mock_simple(c, req, 0);
}

/* ---- dispatch ---------------------------------------------------------- */

static void
mock_save(mock *m, const rmq_rcmd *req)
{
    msaved *sv = &m->saved[req->code];

    for (uint32_t i = 0; i < sv->n; i++) {
        free(sv->keys[i]);
        free(sv->vals[i]);
    }
    sv->n = 0;
    for (uint32_t i = 0; i < req->next && i < RMQ_RCMD_EXT_MAX; i++) {
        sv->keys[i] = strdup(req->ext[i].key);
        sv->vals[i] = strdup(req->ext[i].value);
        sv->n = i + 1;
    }
}

static void
mock_on_cmd(rmq_conn *c, rmq_rcmd *req, void *user)
{
    mserver *s = user;
    mock    *m = s->m;

    if (req->flag & RMQ_RFLAG_RESPONSE) {
        return;
    }
    pthread_mutex_lock(&m->mu);
    if (req->code >= 0 && req->code < 512) {
        s->counts[req->code]++;
        mock_save(m, req);
    }
    switch (req->code) {
    case RMQ_REQ_GET_ROUTEINFO_BY_TOPIC:
        mock_route(m, c, req);
        break;
    case RMQ_REQ_SEND_MESSAGE_V2:
    case RMQ_REQ_SEND_BATCH_MESSAGE:
        mock_send(m, s, c, req);
        break;
    case RMQ_REQ_PULL_MESSAGE:
        mock_pull(m, s, c, req);
        break;
    case RMQ_REQ_QUERY_CONSUMER_OFFSET:
    case RMQ_REQ_UPDATE_CONSUMER_OFFSET:
    case RMQ_REQ_GET_MAX_OFFSET:
    case RMQ_REQ_GET_MIN_OFFSET:
    case RMQ_REQ_SEARCH_OFFSET_BY_TIMESTAMP:
        mock_offsets(m, s, c, req);
        break;
    case RMQ_REQ_HEART_BEAT:
        mock_heartbeat(m, s, c, req);
        break;
    case RMQ_REQ_UNREGISTER_CLIENT:
        mock_unregister(m, s, c, req);
        break;
    case RMQ_REQ_GET_CONSUMER_LIST_BY_GROUP:
        mock_consumers(m, s, c, req);
        break;
    case RMQ_REQ_CONSUMER_SEND_MSG_BACK:
        mock_sendback(m, s, c, req);
        break;
    default:
        if ((req->flag & RMQ_RFLAG_ONEWAY) == 0) {
            mock_simple(c, req, RMQ_RESP_REQUEST_CODE_NOT_SUPPORTED);
        }
    }
    pthread_mutex_unlock(&m->mu);
}

static void
mock_on_close(rmq_conn *c, void *user)
{
    (void)c;
    (void)user;
}

static void *
mock_main(void *arg)
{
    mock *m = arg;

    while (!atomic_load(&m->stop)) {
        rmq_loop_run_once(&m->loop, 10);
        pthread_mutex_lock(&m->mu);
        mock_run_held(m);
        for (int i = 0; i < 3; i++) {
            mserver *s = &m->srv[i];
            for (uint32_t k = 0; s->drop && k < s->conns.nslots; k++) {
                if (s->conns.slots[k] != NULL) {
                    rmq_conn_close(s->conns.slots[k], "dropped by the test");
                }
            }
            s->drop = false;
        }
        pthread_mutex_unlock(&m->mu);
    }
    return NULL;
}

/* ---- public ------------------------------------------------------------ */

mock *
mock_start(void)
{
    rmq_conn_ops ops = {.on_cmd = mock_on_cmd, .on_close = mock_on_close};
    mock        *m = calloc(1, sizeof(*m));

    pthread_mutex_init(&m->mu, NULL);
    m->msgs = calloc(MOCK_MAX, sizeof(*m->msgs));
    rmq_loop_init(&m->loop);
    for (int i = 0; i < 3; i++) {
        mserver *s = &m->srv[i];
        s->m = m;
        s->id = i;
        s->phys_next = 1000;
        rmq_conns_init(&s->conns, &m->loop, &ops, s);
        for (int tries = 0; tries < 20; tries++) {
            s->port = mock_free_port();
            if (rmq_conns_listen(&s->conns, &s->lio, "127.0.0.1", s->port) ==
                0) {
                break;
            }
            s->port = 0;
        }
        snprintf(s->addr, sizeof(s->addr), "127.0.0.1:%d", s->port);
    }
    mock_topic_locked(m, "TBW102", 8, 0);
    pthread_create(&m->thread, NULL, mock_main, m);
    return m;
}

void
mock_stop(mock *m)
{
    atomic_store(&m->stop, true);
    pthread_join(m->thread, NULL);
    for (int i = 0; i < 3; i++) {
        rmq_conns_unlisten(&m->srv[i].conns, &m->srv[i].lio);
        rmq_conns_fini(&m->srv[i].conns);
    }
    rmq_loop_fini(&m->loop);
    for (int i = 0; i < m->nmsgs; i++) {
        free(m->msgs[i].body);
        free(m->msgs[i].props);
    }
    for (int i = 0; i < 512; i++) {
        for (uint32_t k = 0; k < m->saved[i].n; k++) {
            free(m->saved[i].keys[k]);
            free(m->saved[i].vals[k]);
        }
    }
    free(m->msgs);
    pthread_mutex_destroy(&m->mu);
    free(m);
}

const char *
mock_addr(mock *m, int server)
{
    return m->srv[server].addr;
}

void
mock_topic(mock *m, const char *topic, int qa, int qb)
{
    pthread_mutex_lock(&m->mu);
    mock_topic_locked(m, topic, qa, qb);
    pthread_mutex_unlock(&m->mu);
}

void
mock_fail_sends(mock *m, int server, int code)
{
    pthread_mutex_lock(&m->mu);
    m->srv[server].fail_code = code;
    pthread_mutex_unlock(&m->mu);
}

void
mock_silent(mock *m, int server, bool silent)
{
    pthread_mutex_lock(&m->mu);
    m->srv[server].silent = silent;
    pthread_mutex_unlock(&m->mu);
}

void
mock_retry_routes(mock *m, bool on)
{
    pthread_mutex_lock(&m->mu);
    m->no_retry_routes = !on;
    pthread_mutex_unlock(&m->mu);
}

void
mock_drop_conns(mock *m, int server)
{
    pthread_mutex_lock(&m->mu);
    m->srv[server].drop = true;
    pthread_mutex_unlock(&m->mu);
}

void
mock_fail_sendback(mock *m, bool fail)
{
    pthread_mutex_lock(&m->mu);
    m->fail_sendback = fail;
    pthread_mutex_unlock(&m->mu);
}

int
mock_count(mock *m, int server, int code)
{
    int n;

    pthread_mutex_lock(&m->mu);
    n = m->srv[server].counts[code];
    pthread_mutex_unlock(&m->mu);
    return n;
}

bool
mock_last_ext(mock *m, int code, const char *key, char *out, int cap)
{
    bool found = false;

    pthread_mutex_lock(&m->mu);
    for (uint32_t i = 0; i < m->saved[code].n; i++) {
        if (strcmp(m->saved[code].keys[i], key) == 0) {
            snprintf(out, (size_t)cap, "%s", m->saved[code].vals[i]);
            found = true;
        }
    }
    pthread_mutex_unlock(&m->mu);
    return found;
}

int
mock_stored(mock *m, const char *topic)
{
    int n = 0;

    pthread_mutex_lock(&m->mu);
    for (int i = 0; i < m->nmsgs; i++) {
        n += strcmp(m->msgs[i].topic, topic) == 0;
    }
    pthread_mutex_unlock(&m->mu);
    return n;
}

int
mock_queue_len(mock *m, int server, const char *topic, int qid)
{
    int n;

    pthread_mutex_lock(&m->mu);
    n = (int)mock_qmax(m, server, topic, qid);
    pthread_mutex_unlock(&m->mu);
    return n;
}

long long
mock_offset(mock *m, int server, const char *group, const char *topic, int qid)
{
    moffset  *o;
    long long off;

    pthread_mutex_lock(&m->mu);
    o = mock_find_offset(m, server, group, topic, qid, false);
    off = o != NULL ? o->off : -1;
    pthread_mutex_unlock(&m->mu);
    return off;
}

int
mock_pullers(mock *m, int server, const char *topic)
{
    uint64_t seen[128];
    int      n = 0;

    pthread_mutex_lock(&m->mu);
    for (int i = 0; i < m->npullers; i++) {
        bool dup = false;
        if (m->pullers[i].server != server ||
            strcmp(m->pullers[i].topic, topic) != 0) {
            continue;
        }
        for (int k = 0; k < n; k++) {
            dup = dup || seen[k] == m->pullers[i].conn;
        }
        if (!dup) {
            seen[n++] = m->pullers[i].conn;
        }
    }
    pthread_mutex_unlock(&m->mu);
    return n;
}

int
mock_group_size(mock *m, int server, const char *group)
{
    int n = 0;

    pthread_mutex_lock(&m->mu);
    for (int i = 0; i < m->nclients; i++) {
        n += m->clients[i].server == server &&
             strcmp(m->clients[i].group, group) == 0;
    }
    pthread_mutex_unlock(&m->mu);
    return n;
}

int
mock_first_sysflag(mock *m, const char *topic)
{
    int f = -1;

    pthread_mutex_lock(&m->mu);
    for (int i = 0; i < m->nmsgs && f < 0; i++) {
        if (strcmp(m->msgs[i].topic, topic) == 0) {
            f = m->msgs[i].sysflag;
        }
    }
    pthread_mutex_unlock(&m->mu);
    return f;
}
