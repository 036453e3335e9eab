/*
 * cmd_consumer.c - rmqctl consumer progress -g GROUP [-t TOPIC]: how far
 * a consumer group is behind, per queue (mqadmin consumerProgress).
 *
 * GET_CONSUME_STATS (208) to every master of the cluster (or to the
 * brokers of TOPIC's route with -t), whose ConsumeStats body is keyed by
 * fastjson MessageQueue objects (cli/fastjson.h), and
 * GET_CONSUMER_CONNECTION_LIST (203) to the same brokers to tell whether
 * the group has clients online.  Offsets are shown either way: a group
 * whose clients are gone still has committed offsets and a lag.  A broker
 * that answers 208 with CONSUMER_NOT_ONLINE (206; Java brokers never do,
 * rmq's neither) contributes no rows and is reported as such.  A group
 * with no committed offset anywhere is an error, as in mqadmin.
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

struct cons_row {
    char    topic[RMQCTL_NAME_MAX];
    char    broker[RMQCTL_NAME_MAX];
    int32_t queue_id;
    int64_t broker_offset;
    int64_t consumer_offset;
    int64_t last_ms;
};

struct cons_stats {
    struct cons_row *v;
    size_t           n;
    bool             oom;
    double           tps;
    int              clients; /* most connections any broker reported */
    int              offline; /* brokers that said CONSUMER_NOT_ONLINE to 208 */
};

static void
cons_entry(json_t *key, json_t *value, void *arg)
{
    struct cons_stats *st = arg;
    struct cons_row   *r = realloc(st->v, (st->n + 1) * sizeof(*r));
    const char        *t = json_string_value(json_object_get(key, "topic"));
    const char *b = json_string_value(json_object_get(key, "brokerName"));

    if (r == NULL) {
        st->oom = true;
        return;
    }
    st->v = r;
    r = &st->v[st->n++];
    rmq_strlcpy(r->topic, t ? t : "", sizeof(r->topic));
    rmq_strlcpy(r->broker, b ? b : "", sizeof(r->broker));
    r->queue_id = (int32_t)json_integer_value(json_object_get(key, "queueId"));
    r->broker_offset =
        json_integer_value(json_object_get(value, "brokerOffset"));
    r->consumer_offset =
        json_integer_value(json_object_get(value, "consumerOffset"));
    r->last_ms = json_integer_value(json_object_get(value, "lastTimestamp"));
}

static int
cons_row_cmp(const void *a, const void *b)
{
    const struct cons_row *x = a, *y = b;
    int                    d = strcmp(x->topic, y->topic);

    if (d == 0) {
        d = strcmp(x->broker, y->broker);
    }
    return d ? d : (x->queue_id > y->queue_id) - (x->queue_id < y->queue_id);
}

/* 203: how many clients of the group this broker sees (0: not online). */
static void
cons_clients(const char *addr, const char *group, struct cons_stats *st)
{
    const char *ext[] = {"consumerGroup", group, NULL};
    json_t     *doc;
    char        why[RMQCTL_WHY_MAX];
    int         n;

    if (rmqctl_call_json(addr, RMQ_REQ_GET_CONSUMER_CONNECTION_LIST, ext, &doc,
                         why) != 0) {
        return; /* 206 CONSUMER_NOT_ONLINE, no answer or no body: nobody */
    }
    n = (int)json_array_size(json_object_get(doc, "connectionSet"));
    st->clients = n > st->clients ? n : st->clients;
    json_decref(doc);
}

/* 208 to one broker; its rows into st. */
static int
cons_stats_one(const char *addr, const char *group, const char *topic,
               struct cons_stats *st, char *why)
{
    const char  *ext[] = {"consumerGroup", group, "topic", topic, NULL};
    rmqctl_reply r;
    json_t      *doc;

    if (topic == NULL) {
        ext[2] = NULL;
    }
    if (rmqctl_call(addr, RMQ_REQ_GET_CONSUME_STATS, ext, NULL, 0, &r, why) !=
        0) {
        return -1;
    }
    if (r.code == RMQ_RESP_CONSUMER_NOT_ONLINE) {
        st->offline++;
        rmqctl_reply_free(&r);
        return 0;
    }
    if (rmqctl_reply_ok_json(addr, &r, &doc, why) != 0) {
        return -1;
    }
    rmqctl_json_map_each(json_object_get(doc, "offsetTable"), cons_entry, st);
    st->tps += json_number_value(json_object_get(doc, "consumeTps"));
    json_decref(doc);
    return 0;
}

/* The brokers to ask: those of topic's route, or every master. */
static int
cons_brokers(rmqctl *c, const char *topic, const char *cluster,
             rmqctl_brokers *out, char *why)
{
    json_t *route;
    int     rc;

    if (topic == NULL) {
        return rmqctl_targets(c, cluster, NULL, out, why);
    }
    if (rmqctl_route_fetch(c, topic, &route, why) != 0) {
        return -1;
    }
    rc = rmqctl_route_brokers(route, out, why);
    json_decref(route);
    return rc;
}

static json_t *
cons_json(const char *group, const struct cons_stats *st, long long lag)
{
    json_t *arr = json_array();

    for (size_t i = 0; i < st->n; i++) {
        const struct cons_row *r = &st->v[i];
        json_array_append_new(
            arr,
            json_pack("{s:s, s:s, s:i, s:I, s:I, s:I, s:I}", "topic", r->topic,
                      "brokerName", r->broker, "queueId", r->queue_id,
                      "brokerOffset", (json_int_t)r->broker_offset,
                      "consumerOffset", (json_int_t)r->consumer_offset, "lag",
                      (json_int_t)(r->broker_offset - r->consumer_offset),
                      "lastTimestamp", (json_int_t)r->last_ms));
    }
    return json_pack("{s:s, s:b, s:i, s:o, s:I, s:f}", "group", group, "online",
                     st->clients > 0, "clients", st->clients, "queues", arr,
                     "totalLag", (json_int_t)lag, "consumeTps", st->tps);
}

static void
cons_print(const char *group, const struct cons_stats *st, long long lag)
{
    static const char *const hdr[] = {
        "TOPIC",           "BROKER", "QUEUE",        "BROKER OFFSET",
        "CONSUMER OFFSET", "LAG",    "LAST CONSUMED"};
    rmq_table t;

    rmq_table_init(&t, 7, hdr);
    for (size_t i = 0; i < st->n; i++) {
        const struct cons_row *r = &st->v[i];
        char                   q[16], bo[24], co[24], lg[24], when[40];
        snprintf(q, sizeof(q), "%d", r->queue_id);
        snprintf(bo, sizeof(bo), "%lld", (long long)r->broker_offset);
        snprintf(co, sizeof(co), "%lld", (long long)r->consumer_offset);
        snprintf(lg, sizeof(lg), "%lld",
                 (long long)(r->broker_offset - r->consumer_offset));
        rmqctl_fmt_time(r->last_ms, when, sizeof(when));
        const char *row[] = {r->topic, r->broker, q, bo, co, lg, when};
        rmq_table_row(&t, row);
    }
    rmq_table_print(&t, stdout);
    rmq_table_free(&t);
    printf("group %s: total lag %lld, consume TPS %.1f, ", group, lag, st->tps);
    if (st->clients > 0) {
        printf("%d client(s) online\n", st->clients);
    } else {
        printf("not online (no client connected)\n");
    }
}

static int
cons_parse(rmqctl *c, const char **group, const char **topic,
           const char **cluster)
{
    static const struct option longopts[] = {
        {"group", required_argument, NULL, 'g'},
        {"topic", required_argument, NULL, 't'},
        {"cluster", required_argument, NULL, 'c'},
        {NULL, 0, NULL, 0},
    };
    int ch;

    optind = 0;
    opterr = 0;
    while ((ch = getopt_long(c->argc, c->argv, ":g:t:c:", longopts, NULL)) !=
           -1) {
        switch (ch) {
        case 'g':
            *group = optarg;
            break;
        case 't':
            *topic = optarg;
            break;
        case 'c':
            *cluster = optarg;
            break;
        default:
            return rmqctl_bad_option("consumer progress", ch, c->argv);
        }
    }
    if (optind != c->argc) {
        return rmqctl_fail("consumer progress: unexpected argument \"%s\"",
                           c->argv[optind]);
    }
    if (*group == NULL || (*group)[0] == '\0') {
        return rmqctl_fail("consumer progress: give the group with -g GROUP");
    }
    return 0;
}

static int
cons_progress(rmqctl *c)
{
    const char       *group = NULL, *topic = NULL, *cluster = NULL;
    struct cons_stats st = {0};
    rmqctl_brokers    bs = {0};
    char              why[RMQCTL_WHY_MAX];
    long long         lag = 0;
    int               rc;

    if ((rc = cons_parse(c, &group, &topic, &cluster)) != 0) {
        return rc;
    }
    rc = cons_brokers(c, topic, cluster, &bs, why) == 0 ? 0 : -1;
    for (size_t i = 0; rc == 0 && i < bs.n; i++) {
        rc = cons_stats_one(bs.v[i].addr, group, topic, &st, why);
        cons_clients(bs.v[i].addr, group, &st);
    }
    rmqctl_brokers_free(&bs);
    if (rc == 0 && st.oom) {
        snprintf(why, RMQCTL_WHY_MAX, "out of memory");
        rc = -1;
    } else if (rc == 0 && st.n == 0) {
        snprintf(why, RMQCTL_WHY_MAX, "it has no committed offset%s%.200s%s",
                 topic ? " for topic " : "", topic ? topic : "",
                 st.offline ? " (a broker answered CONSUMER_NOT_ONLINE)" : "");
        rc = -1;
    }
    if (rc != 0) {
        free(st.v);
        return rmqctl_fail("no progress of consumer group \"%s\": %s", group,
                           why);
    }
    qsort(st.v, st.n, sizeof(st.v[0]), cons_row_cmp);
    for (size_t i = 0; i < st.n; i++) {
        lag += st.v[i].broker_offset - st.v[i].consumer_offset;
    }
    if (c->json) {
        rc = rmqctl_print_json(cons_json(group, &st, lag));
    } else {
        cons_print(group, &st, lag);
    }
    free(st.v);
    return rc;
}

int
rmqctl_cmd_consumer(rmqctl *c)
{
    if (c->argc > 0 && strcmp(c->argv[0], "progress") == 0) {
        return cons_progress(c);
    }
    return rmqctl_fail("usage: rmqctl consumer progress -g GROUP [-t TOPIC] "
                       "(try rmqctl help)");
}
