/*
 * route.c - TopicRouteData parsing and derived queue lists (route.h).
 * Pure apart from the atomic reference count; any thread.
 */
#include "client/route.h"

#include "client/cerr.h"
#include "client/cjson.h"
#include "common/buf.h"
#include "common/util.h"
#include "proto/codes.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static void
route_free(rmq_route *r)
{
    for (size_t i = 0; i < r->nbrokers; i++) {
        for (size_t j = 0; j < r->brokers[i].naddrs; j++) {
            free(r->brokers[i].addrs[j].addr);
        }
        free(r->brokers[i].addrs);
        free(r->brokers[i].name);
        free(r->brokers[i].cluster);
    }
    for (size_t i = 0; i < r->nqdatas; i++) {
        free(r->qdatas[i].broker_name);
    }
    free(r->brokers);
    free(r->qdatas);
    free(r->pub);
    free(r->sub);
    free(r->topic);
    free(r);
}

void
rmq_route_retain(rmq_route *r)
{
    atomic_fetch_add(&r->refs, 1);
}

void
rmq_route_release(rmq_route *r)
{
    if (r != NULL && atomic_fetch_sub(&r->refs, 1) == 1) {
        route_free(r);
    }
}

static rmq_route *
route_alloc(const char *topic)
{
    rmq_route *r = calloc(1, sizeof(*r));

    if (r == NULL) {
        return NULL;
    }
    atomic_init(&r->refs, 1);
    atomic_init(&r->send_index, 0);
    r->fetched_ms = rmq_mono_ms();
    r->topic = strdup(topic);
    if (r->topic == NULL) {
        free(r);
        return NULL;
    }
    return r;
}

const rmq_broker_data *
rmq_route_broker(const rmq_route *r, const char *name)
{
    for (size_t i = 0; i < r->nbrokers; i++) {
        if (strcmp(r->brokers[i].name, name) == 0) {
            return &r->brokers[i];
        }
    }
    return NULL;
}

const char *
rmq_route_master(const rmq_route *r, const char *name)
{
    const rmq_broker_data *b = rmq_route_broker(r, name);

    for (size_t i = 0; b != NULL && i < b->naddrs; i++) {
        if (b->addrs[i].id == RMQ_MASTER_ID) {
            return b->addrs[i].addr;
        }
    }
    return NULL;
}

/* ---- parsing ----------------------------------------------------------- */

static int
route_addrs(json_t *obj, rmq_broker_data *b)
{
    const char *key;
    json_t     *val;

    if (!json_is_object(obj)) {
        return RMQ_CLIENT_ERR_PROTO;
    }
    b->addrs = calloc(json_object_size(obj) + 1, sizeof(*b->addrs));
    if (b->addrs == NULL) {
        return RMQ_CLIENT_ERR_NOMEM;
    }
    json_object_foreach(obj, key, val)
    {
        rmq_broker_addr *a = &b->addrs[b->naddrs];
        if (!json_is_string(val) || rmq_parse_i64(key, &a->id) != 0) {
            return RMQ_CLIENT_ERR_PROTO;
        }
        a->addr = strdup(json_string_value(val));
        if (a->addr == NULL) {
            return RMQ_CLIENT_ERR_NOMEM;
        }
        b->naddrs++;
    }
    return 0;
}

static int
route_brokers(json_t *arr, rmq_route *r)
{
    if (!json_is_array(arr)) {
        return RMQ_CLIENT_ERR_PROTO;
    }
    r->brokers = calloc(json_array_size(arr) + 1, sizeof(*r->brokers));
    if (r->brokers == NULL) {
        return RMQ_CLIENT_ERR_NOMEM;
    }
    for (size_t i = 0; i < json_array_size(arr); i++) {
        json_t     *bd = json_array_get(arr, i);
        const char *name = json_string_value(json_object_get(bd, "brokerName"));
        const char *cluster = json_string_value(json_object_get(bd, "cluster"));
        rmq_broker_data *b = &r->brokers[r->nbrokers];
        int              rc;

        if (name == NULL) {
            return RMQ_CLIENT_ERR_PROTO;
        }
        r->nbrokers++;
        b->name = strdup(name);
        b->cluster = strdup(cluster != NULL ? cluster : "");
        if (b->name == NULL || b->cluster == NULL) {
            return RMQ_CLIENT_ERR_NOMEM;
        }
        if ((rc = route_addrs(json_object_get(bd, "brokerAddrs"), b)) != 0) {
            return rc;
        }
    }
    return 0;
}

static int
route_int(json_t *obj, const char *key, int32_t *out)
{
    json_t *v = json_object_get(obj, key);

    if (!json_is_integer(v)) {
        return RMQ_CLIENT_ERR_PROTO;
    }
    *out = (int32_t)json_integer_value(v);
    return 0;
}

static int
route_qdatas(json_t *arr, rmq_route *r)
{
    if (!json_is_array(arr)) {
        return RMQ_CLIENT_ERR_PROTO;
    }
    r->qdatas = calloc(json_array_size(arr) + 1, sizeof(*r->qdatas));
    if (r->qdatas == NULL) {
        return RMQ_CLIENT_ERR_NOMEM;
    }
    for (size_t i = 0; i < json_array_size(arr); i++) {
        json_t     *qd = json_array_get(arr, i);
        const char *name = json_string_value(json_object_get(qd, "brokerName"));
        rmq_queue_data *q = &r->qdatas[r->nqdatas];

        if (name == NULL || route_int(qd, "readQueueNums", &q->read_queues) ||
            route_int(qd, "writeQueueNums", &q->write_queues) ||
            route_int(qd, "perm", &q->perm) || q->read_queues < 0 ||
            q->write_queues < 0 || q->read_queues > 65536 ||
            q->write_queues > 65536) {
            return RMQ_CLIENT_ERR_PROTO;
        }
        r->nqdatas++;
        if ((q->broker_name = strdup(name)) == NULL) {
            return RMQ_CLIENT_ERR_NOMEM;
        }
    }
    return 0;
}

static int
route_cmp_broker(const void *a, const void *b)
{
    return strcmp(((const rmq_broker_data *)a)->name,
                  ((const rmq_broker_data *)b)->name);
}

static int
route_cmp_qdata(const void *a, const void *b)
{
    return strcmp(((const rmq_queue_data *)a)->broker_name,
                  ((const rmq_queue_data *)b)->broker_name);
}

/* Java topicRouteData2TopicPublishInfo / ...SubscribeInfo. */
static int
route_derive(rmq_route *r)
{
    size_t npub = 0, nsub = 0;

    qsort(r->brokers, r->nbrokers, sizeof(*r->brokers), route_cmp_broker);
    qsort(r->qdatas, r->nqdatas, sizeof(*r->qdatas), route_cmp_qdata);
    for (size_t i = 0; i < r->nqdatas; i++) {
        npub += (size_t)r->qdatas[i].write_queues;
        nsub += (size_t)r->qdatas[i].read_queues;
    }
    r->pub = calloc(npub + 1, sizeof(*r->pub));
    r->sub = calloc(nsub + 1, sizeof(*r->sub));
    if (r->pub == NULL || r->sub == NULL) {
        return RMQ_CLIENT_ERR_NOMEM;
    }
    for (size_t i = 0; i < r->nqdatas; i++) {
        const rmq_queue_data *q = &r->qdatas[i];
        bool has_master = rmq_route_master(r, q->broker_name) != NULL;

        for (int32_t k = 0;
             (q->perm & RMQ_PERM_WRITE) && has_master && k < q->write_queues;
             k++) {
            r->pub[r->npub++] = (rmq_mq){.broker = q->broker_name, .qid = k};
        }
        for (int32_t k = 0; (q->perm & RMQ_PERM_READ) && k < q->read_queues;
             k++) {
            r->sub[r->nsub++] = (rmq_mq){.broker = q->broker_name, .qid = k};
        }
    }
    return 0;
}

static int
route_from_doc(json_t *doc, rmq_route *r)
{
    int rc;

    if (!json_is_object(doc)) {
        return RMQ_CLIENT_ERR_PROTO;
    }
    if ((rc = route_brokers(json_object_get(doc, "brokerDatas"), r)) != 0 ||
        (rc = route_qdatas(json_object_get(doc, "queueDatas"), r)) != 0) {
        return rc;
    }
    return route_derive(r);
}

int
rmq_route_parse(const char *topic, const char *json, size_t len,
                rmq_route **out)
{
    rmq_buf    fixed;
    json_t    *doc = NULL;
    rmq_route *r = route_alloc(topic);
    int        rc;

    rmq_buf_init(&fixed);
    if (r == NULL) {
        return RMQ_CLIENT_ERR_NOMEM;
    }
    rc = rmq_cjson_quote_keys(json, len, &fixed);
    if (rc == 0) {
        doc = json_loadb((const char *)fixed.data, fixed.len, 0, NULL);
        rc = doc != NULL ? route_from_doc(doc, r) : RMQ_CLIENT_ERR_PROTO;
    }
    json_decref(doc);
    rmq_buf_free(&fixed);
    if (rc != 0) {
        route_free(r);
        return rc;
    }
    *out = r;
    return 0;
}

/* ---- TBW102 fallback --------------------------------------------------- */

static int
route_copy_brokers(const rmq_route *src, rmq_route *r)
{
    r->brokers = calloc(src->nbrokers + 1, sizeof(*r->brokers));
    if (r->brokers == NULL) {
        return RMQ_CLIENT_ERR_NOMEM;
    }
    for (size_t i = 0; i < src->nbrokers; i++) {
        const rmq_broker_data *s = &src->brokers[i];
        rmq_broker_data       *b = &r->brokers[r->nbrokers++];

        b->name = strdup(s->name);
        b->cluster = strdup(s->cluster);
        b->addrs = calloc(s->naddrs + 1, sizeof(*b->addrs));
        if (b->name == NULL || b->cluster == NULL || b->addrs == NULL) {
            return RMQ_CLIENT_ERR_NOMEM;
        }
        for (size_t j = 0; j < s->naddrs; j++) {
            b->addrs[j].id = s->addrs[j].id;
            if ((b->addrs[j].addr = strdup(s->addrs[j].addr)) == NULL) {
                return RMQ_CLIENT_ERR_NOMEM;
            }
            b->naddrs++;
        }
    }
    return 0;
}

int
rmq_route_from_default(const rmq_route *tbw, const char *topic, int max_queues,
                       rmq_route **out)
{
    rmq_route *r = route_alloc(topic);
    int        rc;

    if (r == NULL) {
        return RMQ_CLIENT_ERR_NOMEM;
    }
    r->from_default = true;
    rc = route_copy_brokers(tbw, r);
    r->qdatas = calloc(tbw->nqdatas + 1, sizeof(*r->qdatas));
    if (rc == 0 && r->qdatas == NULL) {
        rc = RMQ_CLIENT_ERR_NOMEM;
    }
    for (size_t i = 0; rc == 0 && i < tbw->nqdatas; i++) {
        rmq_queue_data *q = &r->qdatas[r->nqdatas++];
        int32_t n = RMQ_MIN((int32_t)max_queues, tbw->qdatas[i].read_queues);

        *q = tbw->qdatas[i];
        q->read_queues = q->write_queues = n;
        q->broker_name = strdup(tbw->qdatas[i].broker_name);
        rc = q->broker_name != NULL ? 0 : RMQ_CLIENT_ERR_NOMEM;
    }
    if (rc == 0) {
        rc = route_derive(r);
    }
    if (rc != 0) {
        route_free(r);
        return rc;
    }
    *out = r;
    return 0;
}

static bool
route_same_broker(const rmq_broker_data *a, const rmq_broker_data *b)
{
    if (strcmp(a->name, b->name) != 0 || a->naddrs != b->naddrs) {
        return false;
    }
    for (size_t i = 0; i < a->naddrs; i++) {
        bool found = false;
        for (size_t j = 0; j < b->naddrs && !found; j++) {
            found = a->addrs[i].id == b->addrs[j].id &&
                    strcmp(a->addrs[i].addr, b->addrs[j].addr) == 0;
        }
        if (!found) {
            return false;
        }
    }
    return true;
}

bool
rmq_route_same(const rmq_route *a, const rmq_route *b)
{
    if (a->nbrokers != b->nbrokers || a->nqdatas != b->nqdatas ||
        a->from_default != b->from_default) {
        return false;
    }
    for (size_t i = 0; i < a->nbrokers; i++) {
        if (!route_same_broker(&a->brokers[i], &b->brokers[i])) {
            return false;
        }
    }
    for (size_t i = 0; i < a->nqdatas; i++) {
        const rmq_queue_data *x = &a->qdatas[i], *y = &b->qdatas[i];
        if (strcmp(x->broker_name, y->broker_name) != 0 ||
            x->read_queues != y->read_queues ||
            x->write_queues != y->write_queues || x->perm != y->perm) {
            return false;
        }
    }
    return true;
}
