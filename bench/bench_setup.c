/*
 * bench_setup.c - rmq-bench's set-up and bookkeeping requests (bench.h):
 * finding the broker and the topic's queues (name server route, or the
 * broker's topic table with --broker), creating the topic, and reading
 * queue and group offsets.  Blocking calls over net/rpc.h, before and
 * after the measured phase only.
 */
#include "bench/bench.h"

#include "client/route.h"
#include "common/config.h"
#include "common/err.h"
#include "common/util.h"
#include "net/rpc.h"
#include "proto/codes.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SETUP_TIMEOUT_MS 5000
#define SETUP_ROUTE_WAIT_MS 10000

/* One request on a fresh connection; *out is the response (in r). */
static int
setup_call(rmq_rpc *r, const char *addr, rmq_rcmd_out *req,
           const rmq_rcmd **out)
{
    int rc = rmq_rpc_connect(r, addr, SETUP_TIMEOUT_MS);

    if (rc == 0) {
        rc = rmq_rpc_call(r, req, NULL, 0, out);
    }
    if (rc != 0) {
        fprintf(stderr, "rmq-bench: could not reach %s: %s\n", addr,
                rmq_strerror(rc));
    }
    return rc;
}

/* The first address of a "h:p;h:p" list. */
static void
setup_first_addr(const char *list, char *out, size_t cap)
{
    size_t n = strcspn(list, ";");

    if (n >= cap) {
        n = cap - 1;
    }
    memcpy(out, list, n);
    out[n] = '\0';
}

/*
 * The name server route of topic: 0 with *out, RMQ_ERR_NOTFOUND when the
 * name server knows no route, another code when it could not be asked.
 */
static int
setup_route(const char *ns, const char *topic, rmq_route **out)
{
    rmq_rpc         r;
    rmq_rcmd_out    o;
    const rmq_rcmd *resp;
    int             rc;

    rmq_rcmd_out_init(&o, RMQ_REQ_GET_ROUTEINFO_BY_TOPIC, 0, 0);
    rmq_rcmd_out_ext(&o, "topic", topic);
    rc = setup_call(&r, ns, &o, &resp);
    if (rc == 0 && resp->code != RMQ_RESP_SUCCESS) {
        rc = RMQ_ERR_NOTFOUND;
    } else if (rc == 0 && (resp->body == NULL ||
                           rmq_route_parse(topic, (const char *)resp->body,
                                           resp->body_len, out) != 0)) {
        fprintf(stderr, "rmq-bench: bad route for %s from %s\n", topic, ns);
        rc = RMQ_ERR_PROTO;
    }
    rmq_rpc_close(&r);
    return rc;
}

static int
setup_create_topic(const rmq_bench_opts *o, const char *broker)
{
    rmq_rpc         r;
    rmq_rcmd_out    req;
    const rmq_rcmd *resp;
    char            nq[16];
    int             rc;

    snprintf(nq, sizeof(nq), "%d", o->queues);
    rmq_rcmd_out_init(&req, RMQ_REQ_UPDATE_AND_CREATE_TOPIC, 0, 0);
    rmq_rcmd_out_ext(&req, "topic", o->topic);
    rmq_rcmd_out_ext(&req, "defaultTopic", RMQ_TOPIC_TBW102);
    rmq_rcmd_out_ext(&req, "readQueueNums", nq);
    rmq_rcmd_out_ext(&req, "writeQueueNums", nq);
    rmq_rcmd_out_ext(&req, "perm", "6");
    rmq_rcmd_out_ext(&req, "topicFilterType", "SINGLE_TAG");
    rmq_rcmd_out_ext(&req, "topicSysFlag", "0");
    rmq_rcmd_out_ext(&req, "order", "false");
    rc = setup_call(&r, broker, &req, &resp);
    if (rc == 0 && resp->code != RMQ_RESP_SUCCESS) {
        fprintf(stderr,
                "rmq-bench: cannot create topic %s on %s: code %d "
                "%s\n",
                o->topic, broker, resp->code, resp->remark ? resp->remark : "");
        rc = RMQ_ERR_PROTO;
    }
    rmq_rpc_close(&r);
    return rc;
}

/* Take broker and queues from a route: its first broker with a master. */
static int
setup_from_route(const rmq_route *rt, rmq_bench_target *t)
{
    for (size_t i = 0; i < rt->nqdatas; i++) {
        const rmq_queue_data *qd = &rt->qdatas[i];
        const char           *addr = rmq_route_master(rt, qd->broker_name);
        if (addr == NULL) {
            continue;
        }
        rmq_strlcpy(t->broker_addr, addr, sizeof(t->broker_addr));
        rmq_strlcpy(t->broker_name, qd->broker_name, sizeof(t->broker_name));
        t->write_queues = qd->write_queues;
        t->read_queues = qd->read_queues;
        t->nbrokers = (int)rt->nbrokers;
        return 0;
    }
    fprintf(stderr, "rmq-bench: the route of %s has no master broker\n",
            rt->topic);
    return RMQ_ERR_NOTFOUND;
}

/* A broker to create the topic on: the TBW102 route, else the config. */
static int
setup_any_broker(const rmq_bench_opts *o, const char *ns, char *out, size_t cap)
{
    rmq_route       *rt = NULL;
    rmq_bench_target tmp;
    const char      *rundir = rmq_bench_rundir(o);

    if (setup_route(ns, RMQ_TOPIC_TBW102, &rt) == 0 &&
        setup_from_route(rt, &tmp) == 0) {
        rmq_route_release(rt);
        rmq_strlcpy(out, tmp.broker_addr, cap);
        return 0;
    }
    if (rt != NULL) {
        rmq_route_release(rt);
    }
    out[0] = '\0';
    if (rundir != NULL) {
        rmq_bench_procs_broker_addr(rundir, out, cap);
    }
    if (out[0] == '\0') {
        fprintf(stderr,
                "rmq-bench: topic %s has no route and no broker is "
                "known to create it on (use --broker)\n",
                o->topic);
        return RMQ_ERR_NOTFOUND;
    }
    return 0;
}

static int
setup_via_namesrv(const rmq_bench_opts *o, const char *ns, rmq_bench_target *t)
{
    rmq_route *rt = NULL;
    char       broker[RMQ_BENCH_ADDR_MAX];
    int64_t    deadline;
    int        rc = setup_route(ns, o->topic, &rt);

    if (rc == RMQ_ERR_NOTFOUND) {
        if (setup_any_broker(o, ns, broker, sizeof(broker)) != 0 ||
            setup_create_topic(o, broker) != 0) {
            return 1;
        }
        t->created = true;
        /* the broker re-registers at once; wait for the name server */
        deadline = rmq_mono_ms() + SETUP_ROUTE_WAIT_MS;
        while ((rc = setup_route(ns, o->topic, &rt)) == RMQ_ERR_NOTFOUND &&
               rmq_mono_ms() < deadline) {
            usleep(50 * 1000);
        }
    }
    if (rc != 0) {
        fprintf(stderr, "rmq-bench: no route for topic %s from %s\n", o->topic,
                ns);
        return 1;
    }
    rc = setup_from_route(rt, t);
    rmq_route_release(rt);
    return rc;
}

/* The topic's queue counts from the broker's topic table; 17 if absent. */
static int
setup_topic_config(const char *broker, const char *topic, rmq_bench_target *t)
{
    rmq_rpc         r;
    rmq_rcmd_out    o;
    const rmq_rcmd *resp;
    json_t         *doc = NULL, *tc;
    int             rc;

    rmq_rcmd_out_init(&o, RMQ_REQ_GET_ALL_TOPIC_CONFIG, 0, 0);
    rc = setup_call(&r, broker, &o, &resp);
    if (rc == 0 && (resp->code != RMQ_RESP_SUCCESS || resp->body == NULL)) {
        rc = RMQ_ERR_PROTO;
    }
    if (rc == 0) {
        doc = json_loadb((const char *)resp->body, resp->body_len, 0, NULL);
    }
    rmq_rpc_close(&r);
    if (rc != 0 || doc == NULL) {
        fprintf(stderr, "rmq-bench: could not read the topics of %s\n", broker);
        return rc ? rc : RMQ_ERR_PROTO;
    }
    tc = json_object_get(json_object_get(doc, "topicConfigTable"), topic);
    if (tc == NULL) {
        json_decref(doc);
        return RMQ_ERR_NOTFOUND;
    }
    t->read_queues =
        (int)json_integer_value(json_object_get(tc, "readQueueNums"));
    t->write_queues =
        (int)json_integer_value(json_object_get(tc, "writeQueueNums"));
    json_decref(doc);
    return 0;
}

static int
setup_direct(const rmq_bench_opts *o, rmq_bench_target *t)
{
    int rc;

    rmq_strlcpy(t->broker_addr, o->broker, sizeof(t->broker_addr));
    t->nbrokers = 1;
    rc = setup_topic_config(o->broker, o->topic, t);
    if (rc == RMQ_ERR_NOTFOUND) {
        if (setup_create_topic(o, o->broker) != 0) {
            return 1;
        }
        t->created = true;
        rc = setup_topic_config(o->broker, o->topic, t);
    }
    return rc == 0 ? 0 : 1;
}

int
rmq_bench_setup(const rmq_bench_opts *o, rmq_bench_target *t)
{
    char       ns[RMQ_BENCH_ADDR_MAX];
    rmq_config cfg;
    char       err[512];
    int        rc;

    memset(t, 0, sizeof(*t));
    if (o->broker != NULL) {
        rc = setup_direct(o, t);
    } else {
        if (o->namesrv != NULL) {
            setup_first_addr(o->namesrv, ns, sizeof(ns));
        } else if (o->config != NULL &&
                   rmq_config_load_file(o->config, &cfg, err, sizeof(err)) ==
                       0 &&
                   cfg.broker.namesrv_addr[0] != '\0') {
            setup_first_addr(cfg.broker.namesrv_addr, ns, sizeof(ns));
        } else {
            fprintf(stderr, "rmq-bench: say where the broker is: -n NAMESRV, "
                            "--broker ADDR or -c CONFIG\n");
            return 1;
        }
        rc = setup_via_namesrv(o, ns, t);
    }
    if (rc == 0 && (t->write_queues < 1 || t->read_queues < 1 ||
                    t->write_queues > RMQ_BENCH_QUEUES_MAX ||
                    t->read_queues > RMQ_BENCH_QUEUES_MAX)) {
        fprintf(stderr,
                "rmq-bench: topic %s has %d write / %d read queues "
                "(1..%d supported)\n",
                o->topic, t->write_queues, t->read_queues,
                RMQ_BENCH_QUEUES_MAX);
        rc = 1;
    }
    return rc;
}

/* One int64 "offset" answer per read queue of t. */
static int
setup_offsets(const rmq_bench_opts *o, const rmq_bench_target *t, int code,
              int64_t *out)
{
    rmq_rpc         r;
    const rmq_rcmd *resp;
    int             rc = rmq_rpc_connect(&r, t->broker_addr, SETUP_TIMEOUT_MS);

    for (int q = 0; rc == 0 && q < t->read_queues; q++) {
        rmq_rcmd_out req;
        char         qid[16];

        snprintf(qid, sizeof(qid), "%d", q);
        rmq_rcmd_out_init(&req, code, 0, 0);
        if (code == RMQ_REQ_QUERY_CONSUMER_OFFSET) {
            rmq_rcmd_out_ext(&req, "consumerGroup", o->group);
        }
        rmq_rcmd_out_ext(&req, "topic", o->topic);
        rmq_rcmd_out_ext(&req, "queueId", qid);
        rc = rmq_rpc_call(&r, &req, NULL, 0, &resp);
        if (rc != 0) {
            break;
        }
        out[q] = 0;
        if (code == RMQ_REQ_QUERY_CONSUMER_OFFSET &&
            resp->code == RMQ_RESP_QUERY_NOT_FOUND) {
            continue; /* the group never committed this queue */
        }
        if (resp->code != RMQ_RESP_SUCCESS ||
            rmq_rcmd_ext_i64(resp, "offset", &out[q]) != 0) {
            rc = RMQ_ERR_PROTO;
        }
    }
    if (rc != 0) {
        fprintf(stderr,
                "rmq-bench: could not read the offsets of %s at %s: "
                "%s\n",
                o->topic, t->broker_addr, rmq_strerror(rc));
    }
    rmq_rpc_close(&r);
    return rc;
}

int
rmq_bench_max_offsets(const rmq_bench_opts *o, const rmq_bench_target *t,
                      int64_t *out)
{
    return setup_offsets(o, t, RMQ_REQ_GET_MAX_OFFSET, out);
}

int
rmq_bench_group_offsets(const rmq_bench_opts *o, const rmq_bench_target *t,
                        int64_t *out)
{
    return setup_offsets(o, t, RMQ_REQ_QUERY_CONSUMER_OFFSET, out);
}
