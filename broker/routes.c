/*
 * routes.c - the name server's route registry (routes.h).  namesrv actor
 * only; small linear tables (tens of brokers, thousands of topics).
 */
#include "broker/routes.h"

#include "common/err.h"
#include "common/json.h"
#include "common/log.h"
#include "common/util.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define RT_NAME 128
#define RT_ADDRS 16

struct rt_addr {
    int64_t id;
    char    addr[RT_NAME];
};

struct rt_broker { /* one broker name: a master and its slaves */
    char           cluster[RT_NAME];
    char           name[RT_NAME];
    struct rt_addr addrs[RT_ADDRS];
    int            naddrs;
};

struct rt_live { /* one registered broker address */
    char     addr[RT_NAME];
    char     ha_addr[RT_NAME];
    char     broker_name[RT_NAME];
    int64_t  last_ms;
    int64_t  dv_counter, dv_timestamp;
    uint64_t conn_id;
};

struct rt_qdata {
    char    broker_name[RT_NAME];
    int32_t read_queues, write_queues, perm, sysflag;
};

struct rt_topic {
    char             name[RT_NAME];
    struct rt_qdata *q;
    int              nq;
};

struct rmq_routes {
    struct rt_broker *brokers;
    int               nbrokers, cap_brokers;
    struct rt_live   *lives;
    int               nlives, cap_lives;
    struct rt_topic  *topics;
    int               ntopics, cap_topics;
};

/* Grow an array of elements of size sz to hold one more. */
static int
rt_grow(void **arr, int *cap, int n, size_t sz)
{
    void *p;
    int   c;

    if (n < *cap) {
        return 0;
    }
    c = *cap ? *cap * 2 : 16;
    p = realloc(*arr, (size_t)c * sz);
    if (p == NULL) {
        return RMQ_ERR_NOMEM;
    }
    *arr = p;
    *cap = c;
    return 0;
}

rmq_routes *
rmq_routes_new(void)
{
    return calloc(1, sizeof(rmq_routes));
}

void
rmq_routes_free(rmq_routes *r)
{
    if (r == NULL) {
        return;
    }
    for (int i = 0; i < r->ntopics; i++) {
        free(r->topics[i].q);
    }
    free(r->topics);
    free(r->brokers);
    free(r->lives);
    free(r);
}

static struct rt_broker *
rt_broker_find(rmq_routes *r, const char *name)
{
    for (int i = 0; i < r->nbrokers; i++) {
        if (strcmp(r->brokers[i].name, name) == 0) {
            return &r->brokers[i];
        }
    }
    return NULL;
}

static struct rt_live *
rt_live_find(rmq_routes *r, const char *addr)
{
    for (int i = 0; i < r->nlives; i++) {
        if (strcmp(r->lives[i].addr, addr) == 0) {
            return &r->lives[i];
        }
    }
    return NULL;
}

static struct rt_topic *
rt_topic_find(rmq_routes *r, const char *name)
{
    for (int i = 0; i < r->ntopics; i++) {
        if (strcmp(r->topics[i].name, name) == 0) {
            return &r->topics[i];
        }
    }
    return NULL;
}

static void
rt_topic_remove_at(rmq_routes *r, int i)
{
    free(r->topics[i].q);
    r->topics[i] = r->topics[--r->ntopics];
}

/* Drop a broker name's queue data from every topic (and empty topics). */
static void
rt_drop_queue_data(rmq_routes *r, const char *broker_name, const char *only)
{
    for (int i = 0; i < r->ntopics; i++) {
        struct rt_topic *t = &r->topics[i];
        if (only != NULL && strcmp(t->name, only) != 0) {
            continue;
        }
        for (int j = 0; j < t->nq; j++) {
            if (strcmp(t->q[j].broker_name, broker_name) == 0) {
                t->q[j--] = t->q[--t->nq];
            }
        }
        if (t->nq == 0) {
            rt_topic_remove_at(r, i--);
        }
    }
}

static struct rt_broker *
rt_broker_get(rmq_routes *r, const char *cluster, const char *name)
{
    struct rt_broker *b = rt_broker_find(r, name);

    if (b == NULL) {
        if (rt_grow((void **)&r->brokers, &r->cap_brokers, r->nbrokers,
                    sizeof(*b)) != 0) {
            return NULL;
        }
        b = &r->brokers[r->nbrokers++];
        memset(b, 0, sizeof(*b));
        rmq_strlcpy(b->name, name, sizeof(b->name));
    }
    rmq_strlcpy(b->cluster, cluster, sizeof(b->cluster));
    return b;
}

/* brokerAddrs[id] = addr, first removing any other id with that address. */
static int
rt_broker_set_addr(struct rt_broker *b, int64_t id, const char *addr)
{
    for (int i = 0; i < b->naddrs; i++) {
        if (strcmp(b->addrs[i].addr, addr) == 0 && b->addrs[i].id != id) {
            b->addrs[i--] = b->addrs[--b->naddrs];
        }
    }
    for (int i = 0; i < b->naddrs; i++) {
        if (b->addrs[i].id == id) {
            rmq_strlcpy(b->addrs[i].addr, addr, RT_NAME);
            return 0;
        }
    }
    if (b->naddrs == RT_ADDRS) {
        return RMQ_ERR_FULL;
    }
    b->addrs[b->naddrs].id = id;
    rmq_strlcpy(b->addrs[b->naddrs].addr, addr, RT_NAME);
    b->naddrs++;
    return 0;
}

static int
rt_put_queue_data(rmq_routes *r, const char *broker_name,
                  const rmq_route_topic *tc)
{
    struct rt_topic *t = rt_topic_find(r, tc->name);
    struct rt_qdata *q = NULL;

    if (t == NULL) {
        if (rt_grow((void **)&r->topics, &r->cap_topics, r->ntopics,
                    sizeof(*t)) != 0) {
            return RMQ_ERR_NOMEM;
        }
        t = &r->topics[r->ntopics++];
        memset(t, 0, sizeof(*t));
        rmq_strlcpy(t->name, tc->name, sizeof(t->name));
    }
    for (int j = 0; j < t->nq; j++) {
        if (strcmp(t->q[j].broker_name, broker_name) == 0) {
            q = &t->q[j];
        }
    }
    if (q == NULL) {
        struct rt_qdata *p = realloc(t->q, (size_t)(t->nq + 1) * sizeof(*p));
        if (p == NULL) {
            return RMQ_ERR_NOMEM;
        }
        t->q = p;
        q = &t->q[t->nq++];
        rmq_strlcpy(q->broker_name, broker_name, sizeof(q->broker_name));
    }
    q->read_queues = tc->read_queues;
    q->write_queues = tc->write_queues;
    q->perm = tc->perm;
    q->sysflag = tc->sysflag;
    return 0;
}

/* A master's registration: its topics become exactly the ones it lists. */
static int
rt_replace_topics(rmq_routes *r, const rmq_route_reg *reg)
{
    for (int i = 0; i < r->ntopics; i++) {
        bool listed = false;
        for (uint32_t k = 0; k < reg->ntopics && !listed; k++) {
            listed = strcmp(r->topics[i].name, reg->topics[k].name) == 0;
        }
        if (!listed) {
            int  before = r->ntopics;
            char name[RT_NAME];
            /* a copy: removing the topic moves another one into its slot */
            rmq_strlcpy(name, r->topics[i].name, sizeof(name));
            rt_drop_queue_data(r, reg->broker_name, name);
            i -= before - r->ntopics; /* a removed topic shifted the array */
        }
    }
    for (uint32_t k = 0; k < reg->ntopics; k++) {
        int rc = rt_put_queue_data(r, reg->broker_name, &reg->topics[k]);
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

static struct rt_live *
rt_live_get(rmq_routes *r, const char *addr, bool *is_new)
{
    struct rt_live *l = rt_live_find(r, addr);

    *is_new = l == NULL;
    if (l == NULL) {
        if (rt_grow((void **)&r->lives, &r->cap_lives, r->nlives, sizeof(*l)) !=
            0) {
            return NULL;
        }
        l = &r->lives[r->nlives++];
        memset(l, 0, sizeof(*l));
        rmq_strlcpy(l->addr, addr, sizeof(l->addr));
        l->dv_counter = -1;
    }
    return l;
}

int
rmq_routes_register(rmq_routes *r, const rmq_route_reg *reg, int64_t now_ms,
                    const char **master_addr)
{
    struct rt_broker *b = rt_broker_get(r, reg->cluster, reg->broker_name);
    struct rt_live   *l;
    bool              is_new, changed;
    int               rc;

    *master_addr = NULL;
    if (b == NULL || rt_broker_set_addr(b, reg->broker_id, reg->broker_addr)) {
        return RMQ_ERR_NOMEM;
    }
    l = rt_live_get(r, reg->broker_addr, &is_new);
    if (l == NULL) {
        return RMQ_ERR_NOMEM;
    }
    changed = is_new || l->dv_counter != reg->dv_counter ||
              l->dv_timestamp != reg->dv_timestamp;
    l->last_ms = now_ms;
    l->conn_id = reg->conn_id;
    l->dv_counter = reg->dv_counter;
    l->dv_timestamp = reg->dv_timestamp;
    rmq_strlcpy(l->ha_addr, reg->ha_addr ? reg->ha_addr : "", RT_NAME);
    rmq_strlcpy(l->broker_name, reg->broker_name, RT_NAME);
    if (reg->broker_id == 0 && changed) {
        rc = rt_replace_topics(r, reg);
        if (rc != 0) {
            return rc;
        }
    }
    for (int i = 0; reg->broker_id != 0 && i < b->naddrs; i++) {
        if (b->addrs[i].id == 0) {
            *master_addr = b->addrs[i].addr;
        }
    }
    return 0;
}

/* Remove one broker address everywhere it appears. */
static void
rt_remove_addr(rmq_routes *r, const char *addr)
{
    for (int i = 0; i < r->nbrokers; i++) {
        struct rt_broker *b = &r->brokers[i];
        for (int j = 0; j < b->naddrs; j++) {
            if (strcmp(b->addrs[j].addr, addr) == 0) {
                b->addrs[j--] = b->addrs[--b->naddrs];
            }
        }
        if (b->naddrs == 0) {
            rt_drop_queue_data(r, b->name, NULL);
            r->brokers[i--] = r->brokers[--r->nbrokers];
        }
    }
    for (int i = 0; i < r->nlives; i++) {
        if (strcmp(r->lives[i].addr, addr) == 0) {
            r->lives[i--] = r->lives[--r->nlives];
        }
    }
}

void
rmq_routes_unregister(rmq_routes *r, const char *cluster,
                      const char *broker_name, const char *broker_addr,
                      int64_t broker_id)
{
    (void)cluster;
    (void)broker_name;
    (void)broker_id;
    rt_remove_addr(r, broker_addr);
}

int
rmq_routes_expire(rmq_routes *r, int64_t now_ms, int64_t expire_ms)
{
    int n = 0;

    for (int i = 0; i < r->nlives; i++) {
        if (now_ms - r->lives[i].last_ms > expire_ms) {
            char addr[RT_NAME];
            rmq_strlcpy(addr, r->lives[i].addr, sizeof(addr));
            rmq_log(RMQ_LOG_WARN, "ns.expire",
                    "broker %s silent for %lld ms: removed", addr,
                    (long long)(now_ms - r->lives[i].last_ms));
            rt_remove_addr(r, addr);
            i = -1; /* arrays changed: rescan */
            n++;
        }
    }
    return n;
}

void
rmq_routes_conn_closed(rmq_routes *r, uint64_t conn_id)
{
    for (int i = 0; i < r->nlives; i++) {
        if (r->lives[i].conn_id == conn_id) {
            char addr[RT_NAME];
            rmq_strlcpy(addr, r->lives[i].addr, sizeof(addr));
            rmq_log(RMQ_LOG_INFO, "ns.disconnect",
                    "broker %s disconnected: removed", addr);
            rt_remove_addr(r, addr);
            i = -1;
        }
    }
}

void
rmq_routes_delete_topic(rmq_routes *r, const char *topic, const char *cluster)
{
    for (int i = 0; i < r->ntopics; i++) {
        if (strcmp(r->topics[i].name, topic) != 0) {
            continue;
        }
        if (cluster == NULL || cluster[0] == '\0') {
            rt_topic_remove_at(r, i);
            return;
        }
        for (int b = 0; b < r->nbrokers; b++) {
            if (strcmp(r->brokers[b].cluster, cluster) == 0) {
                rt_drop_queue_data(r, r->brokers[b].name, topic);
            }
        }
        return;
    }
}

static json_t *
rt_broker_json(const struct rt_broker *b)
{
    json_t *addrs = json_object();
    char    id[24];

    for (int i = 0; i < b->naddrs; i++) {
        snprintf(id, sizeof(id), "%lld", (long long)b->addrs[i].id);
        json_object_set_new(addrs, id, json_string(b->addrs[i].addr));
    }
    return json_pack("{s:o, s:s, s:s}", "brokerAddrs", addrs, "brokerName",
                     b->name, "cluster", b->cluster);
}

static int
rt_dump(json_t *doc, rmq_buf *out)
{
    /* compact, sorted, ASCII: what Go's string splitting and JSON2 accept */
    return rmq_json_append(out, doc,
                           JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
}

int
rmq_routes_topic_json(rmq_routes *r, const char *topic, rmq_buf *out)
{
    struct rt_topic *t = rt_topic_find(r, topic);
    json_t          *qds, *bds;

    if (t == NULL || t->nq == 0) {
        return RMQ_ERR_NOTFOUND;
    }
    qds = json_array();
    bds = json_array();
    for (int j = 0; j < t->nq; j++) {
        const struct rt_qdata  *q = &t->q[j];
        const struct rt_broker *b = rt_broker_find(r, q->broker_name);
        json_array_append_new(
            qds, json_pack("{s:s, s:i, s:i, s:i, s:i}", "brokerName",
                           q->broker_name, "perm", q->perm, "readQueueNums",
                           q->read_queues, "topicSysFlag", q->sysflag,
                           "writeQueueNums", q->write_queues));
        if (b != NULL) {
            json_array_append_new(bds, rt_broker_json(b));
        }
    }
    if (json_array_size(bds) == 0) {
        json_decref(qds);
        json_decref(bds);
        return RMQ_ERR_NOTFOUND;
    }
    return rt_dump(json_pack("{s:o, s:{}, s:o}", "brokerDatas", bds,
                             "filterServerTable", "queueDatas", qds),
                   out);
}

int
rmq_routes_cluster_json(rmq_routes *r, rmq_buf *out)
{
    json_t *addr_table = json_object();
    json_t *clusters = json_object();

    for (int i = 0; i < r->nbrokers; i++) {
        const struct rt_broker *b = &r->brokers[i];
        json_t                 *names = json_object_get(clusters, b->cluster);

        json_object_set_new(addr_table, b->name, rt_broker_json(b));
        if (names == NULL) {
            names = json_array();
            json_object_set_new(clusters, b->cluster, names);
        }
        json_array_append_new(names, json_string(b->name));
    }
    return rt_dump(json_pack("{s:o, s:o}", "brokerAddrTable", addr_table,
                             "clusterAddrTable", clusters),
                   out);
}

static bool
rt_topic_in_cluster(rmq_routes *r, const struct rt_topic *t,
                    const char *cluster)
{
    for (int j = 0; j < t->nq; j++) {
        const struct rt_broker *b = rt_broker_find(r, t->q[j].broker_name);
        if (b != NULL && strcmp(b->cluster, cluster) == 0) {
            return true;
        }
    }
    return false;
}

int
rmq_routes_topics_json(rmq_routes *r, const char *cluster, rmq_buf *out)
{
    json_t *list = json_array();

    for (int i = 0; i < r->ntopics; i++) {
        if (cluster != NULL && cluster[0] != '\0' &&
            !rt_topic_in_cluster(r, &r->topics[i], cluster)) {
            continue;
        }
        json_array_append_new(list, json_string(r->topics[i].name));
    }
    return rt_dump(json_pack("{s:o}", "topicList", list), out);
}
