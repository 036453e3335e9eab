/*
 * cmd_topic.c - rmqctl topic create|delete|list|route|status, over the
 * remoting protocol (spec/remoting-protocol.md 4.1, 4.2):
 *
 *   create  UPDATE_AND_CREATE_TOPIC (17) to every master of the cluster
 *           (GET_BROKER_CLUSTER_INFO 106) or to -b ADDR, then polls
 *           GET_ROUTEINFO_BY_TOPIC (105) until the name server routes the
 *           topic as asked, so a script can use it right away.  Also
 *           changes an existing topic (queues, perm), as mqadmin
 *           updateTopic does; what -r, -w and -p leave out keeps its
 *           current value (new topics: 8, 8, 6).  --order is not kept.
 *   delete  DELETE_TOPIC_IN_BROKER (215) to every master, then
 *           DELETE_TOPIC_IN_NAMESRV (216) to every name server.
 *   list    GET_ALL_TOPIC_LIST_FROM_NAMESERVER (206), or
 *           GET_TOPICS_BY_CLUSTER (224) with -c.
 *   route   105 as a table of broker addresses and queue counts.
 *   status  GET_TOPIC_STATS_INFO (202) to the broker of each route entry:
 *           min/max offset and last update time per queue.
 */
#include "cli/fastjson.h"
#include "cli/remote.h"
#include "cli/table.h"

#include "common/util.h"
#include "proto/codes.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TOPIC_ROUTE_WAIT_MS 15000

/* Options of every topic subcommand (each uses some of them). */
struct topic_opts {
    const char *topic;
    const char *cluster;
    const char *broker;
    int32_t     read_queues;
    int32_t     write_queues;
    int32_t     perm;
    bool        order;
    unsigned    given; /* TOPIC_GIVEN_* bits: set on the command line */
};

#define TOPIC_GIVEN_READ 0x1
#define TOPIC_GIVEN_WRITE 0x2
#define TOPIC_GIVEN_PERM 0x4

static int
topic_parse(rmqctl *c, const char *cmd, struct topic_opts *o)
{
    static const struct option longopts[] = {
        {"topic", required_argument, NULL, 't'},
        {"cluster", required_argument, NULL, 'c'},
        {"broker", required_argument, NULL, 'b'},
        {"read-queues", required_argument, NULL, 'r'},
        {"write-queues", required_argument, NULL, 'w'},
        {"perm", required_argument, NULL, 'p'},
        {"order", no_argument, NULL, 'o'},
        {NULL, 0, NULL, 0},
    };
    int ch;

    *o = (struct topic_opts){.read_queues = 8, .write_queues = 8, .perm = 6};
    optind = 0;
    opterr = 0;
    while ((ch = getopt_long(c->argc, c->argv, ":t:c:b:r:w:p:o", longopts,
                             NULL)) != -1) {
        int rc = 0;
        switch (ch) {
        case 't':
            o->topic = optarg;
            break;
        case 'c':
            o->cluster = optarg;
            break;
        case 'b':
            o->broker = optarg;
            break;
        case 'o':
            o->order = true;
            break;
        case 'r':
            rc = rmqctl_int_arg(cmd, "-r", optarg, &o->read_queues);
            o->given |= TOPIC_GIVEN_READ;
            break;
        case 'w':
            rc = rmqctl_int_arg(cmd, "-w", optarg, &o->write_queues);
            o->given |= TOPIC_GIVEN_WRITE;
            break;
        case 'p':
            rc = rmqctl_int_arg(cmd, "-p", optarg, &o->perm);
            o->given |= TOPIC_GIVEN_PERM;
            break;
        default:
            return rmqctl_bad_option(cmd, ch, c->argv);
        }
        if (rc != 0) {
            return rc;
        }
    }
    if (optind != c->argc) {
        return rmqctl_fail("%s: unexpected argument \"%s\"", cmd,
                           c->argv[optind]);
    }
    return 0;
}

static int
topic_need(const char *cmd, const struct topic_opts *o)
{
    if (o->topic == NULL || o->topic[0] == '\0') {
        return rmqctl_fail("%s: give the topic with -t TOPIC", cmd);
    }
    return 0;
}

static json_t *
topic_broker_json(const rmqctl_broker *b)
{
    return json_pack("{s:s?, s:s}", "brokerName", b->name[0] ? b->name : NULL,
                     "addr", b->addr);
}

static const char *
topic_broker_label(const rmqctl_broker *b, char *buf, size_t cap)
{
    if (b->name[0] == '\0') {
        snprintf(buf, cap, "%s", b->addr);
    } else {
        snprintf(buf, cap, "%s (%s)", b->name, b->addr);
    }
    return buf;
}

/* The QueueData that the route gives broker_name, or NULL. */
static json_t *
topic_route_qd(json_t *route, const char *broker_name)
{
    json_t *qd;
    size_t  i;

    json_array_foreach(json_object_get(route, "queueDatas"), i, qd)
    {
        const char *n = json_string_value(json_object_get(qd, "brokerName"));
        if (n != NULL && strcmp(n, broker_name) == 0) {
            return qd;
        }
    }
    return NULL;
}

/* ---- create ------------------------------------------------------------- */

/* The QueueData that the route gives the broker at addr, or NULL. */
static json_t *
topic_route_queue_data(json_t *route, const char *addr)
{
    json_t     *bd, *a;
    const char *name = NULL, *id;
    size_t      i;

    json_array_foreach(json_object_get(route, "brokerDatas"), i, bd)
    {
        json_object_foreach(json_object_get(bd, "brokerAddrs"), id, a)
        {
            if (json_is_string(a) && strcmp(json_string_value(a), addr) == 0) {
                name = json_string_value(json_object_get(bd, "brokerName"));
            }
        }
    }
    return name != NULL ? topic_route_qd(route, name) : NULL;
}

static bool
topic_routed_as_asked(json_t *route, const rmqctl_brokers *done,
                      const struct topic_opts *o)
{
    for (size_t i = 0; i < done->n; i++) {
        json_t *qd = topic_route_queue_data(route, done->v[i].addr);
        if (qd == NULL ||
            json_integer_value(json_object_get(qd, "readQueueNums")) !=
                o->read_queues ||
            json_integer_value(json_object_get(qd, "writeQueueNums")) !=
                o->write_queues ||
            json_integer_value(json_object_get(qd, "perm")) != o->perm) {
            return false;
        }
    }
    return true;
}

/* Poll the route until every broker in done serves the topic as asked. */
static int
topic_wait_route(rmqctl *c, const rmqctl_brokers *done,
                 const struct topic_opts *o, char *why)
{
    int64_t         deadline = rmq_mono_ms() + TOPIC_ROUTE_WAIT_MS;
    struct timespec pause = {0, 200 * 1000000L};

    for (;;) {
        json_t *route = NULL;
        bool    ok = rmqctl_route_fetch(c, o->topic, &route, why) == 0 &&
                  topic_routed_as_asked(route, done, o);
        json_decref(route);
        if (ok) {
            return 0;
        }
        if (rmq_mono_ms() >= deadline) {
            snprintf(why, RMQCTL_WHY_MAX,
                     "the brokers took topic \"%.200s\" but the name server "
                     "does not route it as asked after %d s",
                     o->topic, TOPIC_ROUTE_WAIT_MS / 1000);
            return -1;
        }
        nanosleep(&pause, NULL);
    }
}

/* Send 17 to each target; the ones that took it go to *done. */
static int
topic_create_on(const rmqctl_brokers *targets, const struct topic_opts *o,
                rmqctl_brokers *done, char *why)
{
    char        rq[16], wq[16], perm[16];
    const char *ext[] = {"topic",
                         o->topic,
                         "defaultTopic",
                         RMQ_TOPIC_TBW102,
                         "readQueueNums",
                         rq,
                         "writeQueueNums",
                         wq,
                         "perm",
                         perm,
                         "topicFilterType",
                         "SINGLE_TAG",
                         "topicSysFlag",
                         "0",
                         "order",
                         o->order ? "true" : "false",
                         NULL};
    char        first[RMQCTL_WHY_MAX] = "";
    size_t      failed = 0;

    snprintf(rq, sizeof(rq), "%d", o->read_queues);
    snprintf(wq, sizeof(wq), "%d", o->write_queues);
    snprintf(perm, sizeof(perm), "%d", o->perm);
    *done = (rmqctl_brokers){.v = calloc(targets->n, sizeof(rmqctl_broker))};
    for (size_t i = 0; i < targets->n && done->v != NULL; i++) {
        rmqctl_reply r;
        /* the first failure's reason lands in first, later ones in why */
        if (rmqctl_call_ok(targets->v[i].addr, RMQ_REQ_UPDATE_AND_CREATE_TOPIC,
                           ext, NULL, 0, &r, first[0] ? why : first) != 0) {
            failed++;
            continue;
        }
        rmqctl_reply_free(&r);
        done->v[done->n++] = targets->v[i];
    }
    if (failed == 0 && done->v != NULL) {
        return 0;
    }
    snprintf(why, RMQCTL_WHY_MAX,
             "could not create topic \"%.100s\" on %zu "
             "of %zu brokers: %.300s",
             o->topic, failed, targets->n,
             done->v != NULL ? first : "out of memory");
    return -1;
}

/*
 * Updating a topic that exists: what -r, -w and -p leave out stays as
 * the route has it on the first target broker (so `-p 6` alone only
 * changes the perm).  A new topic gets 8, 8 and 6, as with mqadmin.
 */
static void
topic_inherit(rmqctl *c, const rmqctl_brokers *targets, struct topic_opts *o)
{
    json_t *route = NULL, *qd = NULL;
    char    why[RMQCTL_WHY_MAX];

    if (o->given == (TOPIC_GIVEN_READ | TOPIC_GIVEN_WRITE | TOPIC_GIVEN_PERM) ||
        rmqctl_route_fetch(c, o->topic, &route, why) != 0) {
        return;
    }
    for (size_t i = 0; i < targets->n && qd == NULL; i++) {
        qd = topic_route_queue_data(route, targets->v[i].addr);
    }
    if (qd != NULL && !(o->given & TOPIC_GIVEN_READ)) {
        o->read_queues =
            (int32_t)json_integer_value(json_object_get(qd, "readQueueNums"));
    }
    if (qd != NULL && !(o->given & TOPIC_GIVEN_WRITE)) {
        o->write_queues =
            (int32_t)json_integer_value(json_object_get(qd, "writeQueueNums"));
    }
    if (qd != NULL && !(o->given & TOPIC_GIVEN_PERM)) {
        o->perm = (int32_t)json_integer_value(json_object_get(qd, "perm"));
    }
    json_decref(route);
}

static int
topic_create(rmqctl *c)
{
    struct topic_opts o;
    rmqctl_brokers    targets, done = {0};
    char              why[RMQCTL_WHY_MAX], perm[16], label[400];
    int               rc;

    if ((rc = topic_parse(c, "topic create", &o)) != 0 ||
        (rc = topic_need("topic create", &o)) != 0) {
        return rc;
    }
    if (rmqctl_targets(c, o.cluster, o.broker, &targets, why) != 0) {
        return rmqctl_fail("%s", why);
    }
    topic_inherit(c, &targets, &o);
    if (topic_create_on(&targets, &o, &done, why) != 0 ||
        topic_wait_route(c, &done, &o, why) != 0) {
        rmqctl_brokers_free(&targets);
        rmqctl_brokers_free(&done);
        return rmqctl_fail("%s", why);
    }
    rmqctl_fmt_perm(o.perm, perm, sizeof(perm));
    if (c->json) {
        json_t *arr = json_array();
        for (size_t i = 0; i < done.n; i++) {
            json_array_append_new(arr, topic_broker_json(&done.v[i]));
        }
        rc = rmqctl_print_json(json_pack(
            "{s:s, s:i, s:i, s:i, s:b, s:o}", "topic", o.topic, "readQueueNums",
            o.read_queues, "writeQueueNums", o.write_queues, "perm", o.perm,
            "order", o.order, "brokers", arr));
    } else {
        for (size_t i = 0; i < done.n; i++) {
            printf("topic %s on %s: %d read / %d write queues, perm %s%s\n",
                   o.topic,
                   topic_broker_label(&done.v[i], label, sizeof(label)),
                   o.read_queues, o.write_queues, perm,
                   o.order ? ", ordered" : "");
        }
    }
    rmqctl_brokers_free(&targets);
    rmqctl_brokers_free(&done);
    return rc;
}

/* ---- delete ------------------------------------------------------------- */

static int
topic_delete_brokers(const rmqctl_brokers *targets, const char *topic,
                     char *why)
{
    const char  *ext[] = {"topic", topic, NULL};
    rmqctl_reply r;

    for (size_t i = 0; i < targets->n; i++) {
        if (rmqctl_call_ok(targets->v[i].addr, RMQ_REQ_DELETE_TOPIC_IN_BROKER,
                           ext, NULL, 0, &r, why) != 0) {
            return -1;
        }
        rmqctl_reply_free(&r);
    }
    return 0;
}

/* 216 to every name server of the list; their addresses go to ns. */
static int
topic_delete_namesrvs(rmqctl *c, const struct topic_opts *o, json_t *ns,
                      char *why)
{
    const char  *ext[] = {"topic", o->topic, "clusterName", o->cluster, NULL};
    char         list[RMQ_CONFIG_STR_MAX * 4];
    char        *save = NULL;
    rmqctl_reply r;

    if (rmqctl_namesrv_list(c, list, sizeof(list), why) != 0) {
        return -1;
    }
    if (o->cluster == NULL) {
        ext[2] = NULL;
    }
    for (char *a = strtok_r(list, "; ", &save); a != NULL;
         a = strtok_r(NULL, "; ", &save)) {
        if (rmqctl_call_ok(a, RMQ_REQ_DELETE_TOPIC_IN_NAMESRV, ext, NULL, 0, &r,
                           why) != 0) {
            return -1;
        }
        rmqctl_reply_free(&r);
        json_array_append_new(ns, json_string(a));
    }
    return 0;
}

static int
topic_delete_print(rmqctl *c, const char *topic, const rmqctl_brokers *targets,
                   json_t *ns)
{
    char    label[400];
    json_t *brokers, *v;
    size_t  i;

    if (c->json) {
        brokers = json_array();
        for (i = 0; i < targets->n; i++) {
            json_array_append_new(brokers, topic_broker_json(&targets->v[i]));
        }
        return rmqctl_print_json(json_pack("{s:s, s:o, s:O}", "topic", topic,
                                           "brokers", brokers, "namesrvs", ns));
    }
    for (i = 0; i < targets->n; i++) {
        printf("deleted topic %s from broker %s\n", topic,
               topic_broker_label(&targets->v[i], label, sizeof(label)));
    }
    json_array_foreach(ns, i, v)
    {
        printf("deleted topic %s from name server %s\n", topic,
               json_string_value(v));
    }
    return 0;
}

static int
topic_delete(rmqctl *c)
{
    struct topic_opts o;
    rmqctl_brokers    targets;
    char              why[RMQCTL_WHY_MAX];
    json_t           *ns;
    int               rc;

    if ((rc = topic_parse(c, "topic delete", &o)) != 0 ||
        (rc = topic_need("topic delete", &o)) != 0) {
        return rc;
    }
    if (rmqctl_targets(c, o.cluster, o.broker, &targets, why) != 0) {
        return rmqctl_fail("%s", why);
    }
    ns = json_array();
    if (topic_delete_brokers(&targets, o.topic, why) != 0 ||
        topic_delete_namesrvs(c, &o, ns, why) != 0) {
        rc = rmqctl_fail("could not delete topic \"%s\": %s", o.topic, why);
    } else {
        rc = topic_delete_print(c, o.topic, &targets, ns);
    }
    json_decref(ns);
    rmqctl_brokers_free(&targets);
    return rc;
}

/* ---- list --------------------------------------------------------------- */

static int
topic_name_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The names of a TopicList's topicList, sorted, as a new array. */
static json_t *
topic_sorted_names(json_t *list)
{
    size_t       n = json_array_size(list);
    const char **names = calloc(n + 1, sizeof(*names));
    json_t      *out;

    if (names == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        names[i] = json_string_value(json_array_get(list, i));
        names[i] = names[i] ? names[i] : "";
    }
    qsort(names, n, sizeof(*names), topic_name_cmp);
    out = json_array();
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(out, json_string(names[i]));
    }
    free(names);
    return out;
}

static int
topic_list(rmqctl *c)
{
    struct topic_opts o;
    const char       *ext[] = {"cluster", NULL, NULL};
    char              why[RMQCTL_WHY_MAX];
    json_t           *doc, *sorted, *name;
    size_t            i;
    int               rc;

    if ((rc = topic_parse(c, "topic list", &o)) != 0) {
        return rc;
    }
    ext[1] = o.cluster;
    if (rmqctl_ns_json(c,
                       o.cluster ? RMQ_REQ_GET_TOPICS_BY_CLUSTER
                                 : RMQ_REQ_GET_ALL_TOPIC_LIST_FROM_NAMESERVER,
                       o.cluster ? ext : NULL, &doc, why) != 0) {
        return rmqctl_fail("could not list topics: %s", why);
    }
    sorted = topic_sorted_names(json_object_get(doc, "topicList"));
    json_decref(doc);
    if (sorted == NULL) {
        return rmqctl_fail("out of memory");
    }
    if (c->json) {
        return rmqctl_print_json(json_pack("{s:o}", "topics", sorted));
    }
    json_array_foreach(sorted, i, name)
    {
        printf("%s\n", json_string_value(name));
    }
    json_decref(sorted);
    return 0;
}

/* ---- route -------------------------------------------------------------- */

/* One row per broker address: CLUSTER BROKER ID ADDRESS READ WRITE PERM. */
static void
topic_route_rows(json_t *route, rmq_table *t)
{
    json_t     *bd, *addr;
    const char *id;
    size_t      i;

    json_array_foreach(json_object_get(route, "brokerDatas"), i, bd)
    {
        const char *name = json_string_value(json_object_get(bd, "brokerName"));
        json_t     *qd = topic_route_qd(route, name ? name : "");
        char        rq[24], wq[24], perm[16];

        snprintf(rq, sizeof(rq), "%lld",
                 (long long)json_integer_value(
                     json_object_get(qd, "readQueueNums")));
        snprintf(wq, sizeof(wq), "%lld",
                 (long long)json_integer_value(
                     json_object_get(qd, "writeQueueNums")));
        rmqctl_fmt_perm((int)json_integer_value(json_object_get(qd, "perm")),
                        perm, sizeof(perm));
        json_object_foreach(json_object_get(bd, "brokerAddrs"), id, addr)
        {
            const char *row[] = {
                json_string_value(json_object_get(bd, "cluster")),
                name,
                id,
                json_string_value(addr),
                rq,
                wq,
                perm};
            rmq_table_row(t, row);
        }
    }
}

static int
topic_route(rmqctl *c)
{
    static const char *const hdr[] = {"CLUSTER", "BROKER",      "ID",
                                      "ADDRESS", "READ QUEUES", "WRITE QUEUES",
                                      "PERM"};
    struct topic_opts        o;
    char                     why[RMQCTL_WHY_MAX];
    json_t                  *route;
    rmq_table                t;
    int                      rc;

    if ((rc = topic_parse(c, "topic route", &o)) != 0 ||
        (rc = topic_need("topic route", &o)) != 0) {
        return rc;
    }
    if (rmqctl_route_fetch(c, o.topic, &route, why) != 0) {
        return rmqctl_fail("%s", why);
    }
    if (c->json) {
        json_object_set_new(route, "topic", json_string(o.topic));
        return rmqctl_print_json(route);
    }
    rmq_table_init(&t, 7, hdr);
    topic_route_rows(route, &t);
    rmq_table_print(&t, stdout);
    rmq_table_free(&t);
    json_decref(route);
    return 0;
}

/* ---- status ------------------------------------------------------------- */

struct topic_qstat {
    char    broker[RMQCTL_NAME_MAX];
    int32_t queue_id;
    int64_t min_offset;
    int64_t max_offset;
    int64_t last_update_ms;
};

struct topic_stats {
    struct topic_qstat *v;
    size_t              n;
    bool                oom;
};

static void
topic_stats_entry(json_t *key, json_t *value, void *arg)
{
    struct topic_stats *st = arg;
    struct topic_qstat *q;
    const char *b = json_string_value(json_object_get(key, "brokerName"));

    q = realloc(st->v, (st->n + 1) * sizeof(*q));
    if (q == NULL) {
        st->oom = true;
        return;
    }
    st->v = q;
    q = &st->v[st->n++];
    rmq_strlcpy(q->broker, b ? b : "", sizeof(q->broker));
    q->queue_id = (int32_t)json_integer_value(json_object_get(key, "queueId"));
    q->min_offset = json_integer_value(json_object_get(value, "minOffset"));
    q->max_offset = json_integer_value(json_object_get(value, "maxOffset"));
    q->last_update_ms =
        json_integer_value(json_object_get(value, "lastUpdateTimestamp"));
}

static int
topic_qstat_cmp(const void *a, const void *b)
{
    const struct topic_qstat *x = a, *y = b;
    int                       d = strcmp(x->broker, y->broker);

    return d ? d : (x->queue_id > y->queue_id) - (x->queue_id < y->queue_id);
}

/* 202 to each broker of the route; rows into st. */
static int
topic_stats_fetch(rmqctl *c, const char *topic, struct topic_stats *st,
                  char *why)
{
    const char    *ext[] = {"topic", topic, NULL};
    json_t        *route, *doc;
    rmqctl_brokers bs;
    int            rc = 0;

    if (rmqctl_route_fetch(c, topic, &route, why) != 0) {
        return -1;
    }
    rc = rmqctl_route_brokers(route, &bs, why);
    json_decref(route);
    for (size_t i = 0; rc == 0 && i < bs.n; i++) {
        rc = rmqctl_call_json(bs.v[i].addr, RMQ_REQ_GET_TOPIC_STATS_INFO, ext,
                              &doc, why);
        if (rc == 0) {
            rmqctl_json_map_each(json_object_get(doc, "offsetTable"),
                                 topic_stats_entry, st);
            json_decref(doc);
        }
    }
    rmqctl_brokers_free(&bs);
    if (rc == 0 && st->oom) {
        snprintf(why, RMQCTL_WHY_MAX, "out of memory");
        rc = -1;
    }
    if (rc == 0 && st->n > 1) {
        qsort(st->v, st->n, sizeof(st->v[0]), topic_qstat_cmp);
    }
    return rc;
}

static int
topic_status_print(rmqctl *c, const char *topic, const struct topic_stats *st)
{
    static const char *const hdr[] = {"BROKER",     "QUEUE",    "MIN OFFSET",
                                      "MAX OFFSET", "MESSAGES", "LAST UPDATED"};
    rmq_table                t;
    json_t                  *arr = json_array();
    long long                total = 0;

    rmq_table_init(&t, 6, hdr);
    for (size_t i = 0; i < st->n; i++) {
        const struct topic_qstat *q = &st->v[i];
        char                      qid[16], mn[24], mx[24], cnt[24], when[40];
        snprintf(qid, sizeof(qid), "%d", q->queue_id);
        snprintf(mn, sizeof(mn), "%lld", (long long)q->min_offset);
        snprintf(mx, sizeof(mx), "%lld", (long long)q->max_offset);
        snprintf(cnt, sizeof(cnt), "%lld",
                 (long long)(q->max_offset - q->min_offset));
        rmqctl_fmt_time(q->last_update_ms, when, sizeof(when));
        const char *row[] = {q->broker, qid, mn, mx, cnt, when};
        rmq_table_row(&t, row);
        total += q->max_offset - q->min_offset;
        json_array_append_new(
            arr, json_pack("{s:s, s:i, s:I, s:I, s:I}", "brokerName", q->broker,
                           "queueId", q->queue_id, "minOffset",
                           (json_int_t)q->min_offset, "maxOffset",
                           (json_int_t)q->max_offset, "lastUpdateTimestamp",
                           (json_int_t)q->last_update_ms));
    }
    if (c->json) {
        rmq_table_free(&t);
        return rmqctl_print_json(json_pack("{s:s, s:o, s:I}", "topic", topic,
                                           "queues", arr, "messages",
                                           (json_int_t)total));
    }
    json_decref(arr);
    rmq_table_print(&t, stdout);
    rmq_table_free(&t);
    printf("%lld messages in %zu queues\n", total, st->n);
    return 0;
}

static int
topic_status(rmqctl *c)
{
    struct topic_opts  o;
    struct topic_stats st = {0};
    char               why[RMQCTL_WHY_MAX];
    int                rc;

    if ((rc = topic_parse(c, "topic status", &o)) != 0 ||
        (rc = topic_need("topic status", &o)) != 0) {
        return rc;
    }
    if (topic_stats_fetch(c, o.topic, &st, why) != 0) {
        free(st.v);
        return rmqctl_fail("could not read the status of topic \"%s\": %s",
                           o.topic, why);
    }
    rc = topic_status_print(c, o.topic, &st);
    free(st.v);
    return rc;
}

/* ---- dispatch ----------------------------------------------------------- */

int
rmqctl_cmd_topic(rmqctl *c)
{
    static const struct {
        const char *name;
        int (*run)(rmqctl *c);
    } subs[] = {
        {"create", topic_create}, {"delete", topic_delete},
        {"list", topic_list},     {"route", topic_route},
        {"status", topic_status},
    };

    for (size_t i = 0; c->argc > 0 && i < sizeof(subs) / sizeof(subs[0]); i++) {
        if (strcmp(c->argv[0], subs[i].name) == 0) {
            return subs[i].run(c);
        }
    }
    return rmqctl_fail("usage: rmqctl topic create|delete|list|route|status "
                       "... (try rmqctl help)");
}
