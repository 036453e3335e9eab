/*
 * cmd_cluster.c - rmqctl cluster list and broker status.
 *
 *   cluster list   GET_BROKER_CLUSTER_INFO (106) from the name server: one
 *                  row per broker address; each broker that answers
 *                  GET_BROKER_RUNTIME_INFO (28) within a few seconds adds
 *                  its version, TPS and today's message counts.
 *   broker status  28 to -b ADDR, or to every broker of the cluster (-c),
 *                  printed as its KVTable sorted by key.
 */
#include "cli/remote.h"
#include "cli/table.h"

#include "proto/codes.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 28 to addr: the KVTable's "table" object (new reference) or NULL. */
static json_t *
cluster_runtime(const char *addr, char *why)
{
    json_t *doc, *table;

    if (rmqctl_call_json(addr, RMQ_REQ_GET_BROKER_RUNTIME_INFO, NULL, &doc,
                         why) != 0) {
        return NULL;
    }
    table = json_object_get(doc, "table");
    if (!json_is_object(table)) {
        snprintf(why, RMQCTL_WHY_MAX, "%s answered a KVTable without table",
                 addr);
        json_decref(doc);
        return NULL;
    }
    json_incref(table);
    json_decref(doc);
    return table;
}

/* The first number of a runtime value ("12.5 11.0 9.8" -> 12.5). */
static double
cluster_num(json_t *table, const char *key)
{
    const char *v = json_string_value(json_object_get(table, key));

    return v ? strtod(v, NULL) : 0.0;
}

static json_t *
cluster_broker_json(const rmqctl_broker *b, json_t *rt)
{
    json_t *o = json_pack("{s:s, s:s, s:I, s:s, s:b}", "cluster", b->cluster,
                          "brokerName", b->name, "brokerId", (json_int_t)b->id,
                          "addr", b->addr, "reachable", rt != NULL);
    const char *version =
        rt ? json_string_value(json_object_get(rt, "brokerVersionDesc")) : NULL;

    json_object_set_new(o, "version",
                        version ? json_string(version) : json_null());
    json_object_set_new(
        o, "putTps", rt ? json_real(cluster_num(rt, "putTps")) : json_null());
    json_object_set_new(o, "getTps",
                        rt ? json_real(cluster_num(rt, "getTransferedTps"))
                           : json_null());
    json_object_set_new(
        o, "msgPutTotalTodayNow",
        rt ? json_integer((json_int_t)cluster_num(rt, "msgPutTotalTodayNow"))
           : json_null());
    json_object_set_new(
        o, "msgGetTotalTodayNow",
        rt ? json_integer((json_int_t)cluster_num(rt, "msgGetTotalTodayNow"))
           : json_null());
    return o;
}

static void
cluster_row(rmq_table *t, json_t *b)
{
    char id[24], put[24] = "-", get[24] = "-", pt[24] = "-", gt[24] = "-";
    const char *version = json_string_value(json_object_get(b, "version"));

    snprintf(id, sizeof(id), "%lld",
             (long long)json_integer_value(json_object_get(b, "brokerId")));
    if (json_is_true(json_object_get(b, "reachable"))) {
        snprintf(put, sizeof(put), "%.2f",
                 json_real_value(json_object_get(b, "putTps")));
        snprintf(get, sizeof(get), "%.2f",
                 json_real_value(json_object_get(b, "getTps")));
        snprintf(pt, sizeof(pt), "%lld",
                 (long long)json_integer_value(
                     json_object_get(b, "msgPutTotalTodayNow")));
        snprintf(gt, sizeof(gt), "%lld",
                 (long long)json_integer_value(
                     json_object_get(b, "msgGetTotalTodayNow")));
    }
    const char *row[] = {json_string_value(json_object_get(b, "cluster")),
                         json_string_value(json_object_get(b, "brokerName")),
                         id,
                         json_string_value(json_object_get(b, "addr")),
                         version ? version : "unreachable",
                         put,
                         get,
                         pt,
                         gt};
    rmq_table_row(t, row);
}

static int
cluster_list(rmqctl *c)
{
    static const char *const hdr[] = {"CLUSTER", "BROKER",    "ID",
                                      "ADDRESS", "VERSION",   "PUT TPS",
                                      "GET TPS", "PUT TODAY", "GET TODAY"};
    rmqctl_brokers           bs;
    char                     why[RMQCTL_WHY_MAX];
    json_t                  *arr, *b;
    rmq_table                t;
    size_t                   i;

    if (c->argc != 1) {
        return rmqctl_fail("usage: rmqctl cluster list");
    }
    if (rmqctl_brokers_fetch(c, NULL, false, &bs, why) != 0) {
        return rmqctl_fail("could not list the cluster: %s", why);
    }
    arr = json_array();
    for (i = 0; i < bs.n; i++) {
        json_t *rt = cluster_runtime(bs.v[i].addr, why);
        json_array_append_new(arr, cluster_broker_json(&bs.v[i], rt));
        json_decref(rt);
    }
    rmqctl_brokers_free(&bs);
    if (c->json) {
        return rmqctl_print_json(json_pack("{s:o}", "brokers", arr));
    }
    rmq_table_init(&t, 9, hdr);
    json_array_foreach(arr, i, b)
    {
        cluster_row(&t, b);
    }
    rmq_table_print(&t, stdout);
    rmq_table_free(&t);
    json_decref(arr);
    return 0;
}

/* ---- broker status ------------------------------------------------------ */

static int
cluster_key_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void
cluster_kv_print(json_t *table)
{
    static const char *const hdr[] = {"KEY", "VALUE"};
    size_t                   n = json_object_size(table), i = 0;
    const char             **keys = calloc(n + 1, sizeof(*keys));
    const char              *k;
    json_t                  *v;
    rmq_table                t;

    if (keys == NULL) {
        return;
    }
    json_object_foreach(table, k, v)
    {
        keys[i++] = k;
    }
    qsort(keys, n, sizeof(*keys), cluster_key_cmp);
    rmq_table_init(&t, 2, hdr);
    for (i = 0; i < n; i++) {
        const char *s = json_string_value(json_object_get(table, keys[i]));
        const char *row[] = {keys[i], s ? s : ""};
        rmq_table_row(&t, row);
    }
    rmq_table_print(&t, stdout);
    rmq_table_free(&t);
    free(keys);
}

static int
broker_parse(rmqctl *c, const char **addr, const char **cluster)
{
    static const struct option longopts[] = {
        {"broker", required_argument, NULL, 'b'},
        {"cluster", required_argument, NULL, 'c'},
        {NULL, 0, NULL, 0},
    };
    int ch;

    optind = 0;
    opterr = 0;
    while ((ch = getopt_long(c->argc, c->argv, ":b:c:", longopts, NULL)) !=
           -1) {
        switch (ch) {
        case 'b':
            *addr = optarg;
            break;
        case 'c':
            *cluster = optarg;
            break;
        default:
            return rmqctl_bad_option("broker status", ch, c->argv);
        }
    }
    if (optind != c->argc) {
        return rmqctl_fail("broker status: unexpected argument \"%s\"",
                           c->argv[optind]);
    }
    return 0;
}

/* Every broker address of the cluster (all ids), or the one of -b. */
static int
broker_targets(rmqctl *c, const char *addr, const char *cluster,
               rmqctl_brokers *out, char *why)
{
    if (addr != NULL) {
        return rmqctl_targets(c, NULL, addr, out, why);
    }
    if (rmqctl_brokers_fetch(c, cluster, false, out, why) != 0) {
        return -1;
    }
    if (out->n == 0) {
        snprintf(why, RMQCTL_WHY_MAX, "the name server knows no broker");
        return -1;
    }
    return 0;
}

static int
broker_status(rmqctl *c)
{
    const char    *addr = NULL, *cluster = NULL;
    rmqctl_brokers bs;
    char           why[RMQCTL_WHY_MAX];
    json_t        *arr;
    int            rc;

    if ((rc = broker_parse(c, &addr, &cluster)) != 0) {
        return rc;
    }
    if (broker_targets(c, addr, cluster, &bs, why) != 0) {
        return rmqctl_fail("%s", why);
    }
    arr = json_array();
    for (size_t i = 0; i < bs.n; i++) {
        const rmqctl_broker *b = &bs.v[i];
        json_t              *rt = cluster_runtime(b->addr, why);
        if (rt == NULL) {
            rmqctl_brokers_free(&bs);
            json_decref(arr);
            return rmqctl_fail("could not read the status of broker %s: %s",
                               b->addr, why);
        }
        if (!c->json) {
            if (bs.n > 1) {
                printf("%s%s %lld (%s)\n", i ? "\n" : "", b->name,
                       (long long)b->id, b->addr);
            }
            cluster_kv_print(rt);
        }
        json_array_append_new(
            arr, json_pack("{s:s?, s:o, s:s, s:o}", "brokerName",
                           b->name[0] ? b->name : NULL, "brokerId",
                           b->id >= 0 ? json_integer(b->id) : json_null(),
                           "addr", b->addr, "table", rt));
    }
    rmqctl_brokers_free(&bs);
    if (c->json) {
        return rmqctl_print_json(json_pack("{s:o}", "brokers", arr));
    }
    json_decref(arr);
    return 0;
}

int
rmqctl_cmd_cluster(rmqctl *c)
{
    if (c->argc > 0 && strcmp(c->argv[0], "list") == 0) {
        return cluster_list(c);
    }
    return rmqctl_fail("usage: rmqctl cluster list");
}

int
rmqctl_cmd_broker(rmqctl *c)
{
    if (c->argc > 0 && strcmp(c->argv[0], "status") == 0) {
        return broker_status(c);
    }
    return rmqctl_fail("usage: rmqctl broker status [-b BROKER_ADDR] "
                       "[-c CLUSTER]");
}
