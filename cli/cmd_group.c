/*
 * cmd_group.c - rmqctl group create|list: consumer (subscription) group
 * configs on the brokers (spec/remoting-protocol.md 3, 4.2):
 *
 *   create  UPDATE_AND_CREATE_SUBSCRIPTIONGROUP (200) with a
 *           SubscriptionGroupConfig JSON body to every master of the
 *           cluster, or to -b ADDR.  Replaces an existing config (what
 *           mqadmin updateSubGroup does): unset options take Java's
 *           defaults, not the old values.
 *   list    GET_ALL_SUBSCRIPTIONGROUP_CONFIG (201) from every master: the
 *           subscriptionGroupTable, one row per group and broker.
 */
#include "cli/remote.h"
#include "cli/table.h"

#include "common/util.h"
#include "proto/codes.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct group_opts {
    const char *group;
    const char *cluster;
    const char *broker;
    int32_t     retry_max;      /* retryMaxTimes */
    int32_t     retry_queues;   /* retryQueueNums */
    bool        broadcast;      /* consumeBroadcastEnable */
    bool        consume_enable; /* consumeEnable */
};

static int
group_bool_arg(const char *opt, const char *arg, bool *out)
{
    if (strcmp(arg, "true") == 0 || strcmp(arg, "false") == 0) {
        *out = arg[0] == 't';
        return 0;
    }
    return rmqctl_fail("group create: %s wants true or false, not \"%s\"", opt,
                       arg);
}

static int
group_opt(int ch, struct group_opts *o)
{
    switch (ch) {
    case 'g':
        o->group = optarg;
        return 0;
    case 'c':
        o->cluster = optarg;
        return 0;
    case 'b':
        o->broker = optarg;
        return 0;
    case 'm':
        return rmqctl_int_arg("group create", "--retry-max", optarg,
                              &o->retry_max);
    case 'q':
        return rmqctl_int_arg("group create", "--retry-queues", optarg,
                              &o->retry_queues);
    case 'B':
        return group_bool_arg("--broadcast", optarg, &o->broadcast);
    case 'E':
        return group_bool_arg("--consume-enable", optarg, &o->consume_enable);
    default:
        return -1;
    }
}

static int
group_parse(rmqctl *c, const char *cmd, struct group_opts *o)
{
    static const struct option longopts[] = {
        {"group", required_argument, NULL, 'g'},
        {"cluster", required_argument, NULL, 'c'},
        {"broker", required_argument, NULL, 'b'},
        {"retry-max", required_argument, NULL, 'm'},
        {"retry-queues", required_argument, NULL, 'q'},
        {"broadcast", required_argument, NULL, 'B'},
        {"consume-enable", required_argument, NULL, 'E'},
        {NULL, 0, NULL, 0},
    };
    int ch, rc;

    /* Java's SubscriptionGroupConfig defaults */
    *o = (struct group_opts){.retry_max = 16,
                             .retry_queues = 1,
                             .broadcast = true,
                             .consume_enable = true};
    optind = 0;
    opterr = 0;
    while ((ch = getopt_long(c->argc, c->argv, ":g:c:b:", longopts, NULL)) !=
           -1) {
        if ((rc = group_opt(ch, o)) != 0) {
            return rc < 0 ? rmqctl_bad_option(cmd, ch, c->argv) : rc;
        }
    }
    if (optind != c->argc) {
        return rmqctl_fail("%s: unexpected argument \"%s\"", cmd,
                           c->argv[optind]);
    }
    return 0;
}

static const char *
group_broker_label(const rmqctl_broker *b)
{
    return b->name[0] ? b->name : b->addr;
}

/* ---- create ------------------------------------------------------------- */

static char *
group_config_body(const struct group_opts *o)
{
    json_t *cfg = json_pack(
        "{s:s, s:b, s:b, s:b, s:i, s:i, s:i, s:i, s:b}", "groupName", o->group,
        "consumeEnable", o->consume_enable, "consumeFromMinEnable", 1,
        "consumeBroadcastEnable", o->broadcast, "retryQueueNums",
        o->retry_queues, "retryMaxTimes", o->retry_max, "brokerId", 0,
        "whichBrokerWhenConsumeSlowly", 1, "notifyConsumerIdsChangedEnable", 1);
    char *text = cfg ? json_dumps(cfg, JSON_COMPACT | JSON_SORT_KEYS) : NULL;

    json_decref(cfg);
    return text;
}

/* 200 with body to every target; stops at the first failure. */
static int
group_create_on(const rmqctl_brokers *targets, const char *body, char *why)
{
    rmqctl_reply r;

    for (size_t i = 0; i < targets->n; i++) {
        if (rmqctl_call_ok(targets->v[i].addr,
                           RMQ_REQ_UPDATE_AND_CREATE_SUBSCRIPTIONGROUP, NULL,
                           body, strlen(body), &r, why) != 0) {
            return -1;
        }
        rmqctl_reply_free(&r);
    }
    return 0;
}

static int
group_create_print(rmqctl *c, const struct group_opts *o,
                   const rmqctl_brokers *targets)
{
    json_t *arr;

    if (c->json) {
        arr = json_array();
        for (size_t i = 0; i < targets->n; i++) {
            const rmqctl_broker *b = &targets->v[i];
            json_array_append_new(arr, json_pack("{s:s?, s:s}", "brokerName",
                                                 b->name[0] ? b->name : NULL,
                                                 "addr", b->addr));
        }
        return rmqctl_print_json(json_pack(
            "{s:s, s:b, s:b, s:i, s:i, s:o}", "group", o->group,
            "consumeEnable", o->consume_enable, "consumeBroadcastEnable",
            o->broadcast, "retryQueueNums", o->retry_queues, "retryMaxTimes",
            o->retry_max, "brokers", arr));
    }
    for (size_t i = 0; i < targets->n; i++) {
        printf("group %s on %s (%s): retry max %d, retry queues %d, "
               "broadcast %s, consume %s\n",
               o->group, group_broker_label(&targets->v[i]), targets->v[i].addr,
               o->retry_max, o->retry_queues, o->broadcast ? "on" : "off",
               o->consume_enable ? "on" : "off");
    }
    return 0;
}

static int
group_create(rmqctl *c)
{
    struct group_opts o;
    rmqctl_brokers    targets;
    char              why[RMQCTL_WHY_MAX];
    char             *body;
    int               rc;

    if ((rc = group_parse(c, "group create", &o)) != 0) {
        return rc;
    }
    if (o.group == NULL || o.group[0] == '\0') {
        return rmqctl_fail("group create: give the group with -g GROUP");
    }
    if (rmqctl_targets(c, o.cluster, o.broker, &targets, why) != 0) {
        return rmqctl_fail("%s", why);
    }
    if ((body = group_config_body(&o)) == NULL) {
        rc = rmqctl_fail("out of memory");
    } else if (group_create_on(&targets, body, why) != 0) {
        rc = rmqctl_fail("could not create group \"%s\": %s", o.group, why);
    } else {
        rc = group_create_print(c, &o, &targets);
    }
    free(body);
    rmqctl_brokers_free(&targets);
    return rc;
}

/* ---- list --------------------------------------------------------------- */

/* 201 from one broker: each config, with brokerName added, into rows. */
static int
group_list_one(const rmqctl_broker *b, json_t *rows, char *why)
{
    json_t     *doc, *cfg;
    const char *name;

    if (rmqctl_call_json(b->addr, RMQ_REQ_GET_ALL_SUBSCRIPTIONGROUP_CONFIG,
                         NULL, &doc, why) != 0) {
        return -1;
    }
    json_object_foreach(json_object_get(doc, "subscriptionGroupTable"), name,
                        cfg)
    {
        json_t *row = json_deep_copy(cfg);
        if (!json_is_object(row)) {
            json_decref(row);
            continue;
        }
        json_object_set_new(row, "brokerName",
                            json_string(group_broker_label(b)));
        json_object_set_new(row, "brokerAddr", json_string(b->addr));
        if (json_object_get(row, "groupName") == NULL) {
            json_object_set_new(row, "groupName", json_string(name));
        }
        json_array_append_new(rows, row);
    }
    json_decref(doc);
    return 0;
}

static int
group_row_cmp(const void *a, const void *b)
{
    json_t     *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    const char *gx = json_string_value(json_object_get(x, "groupName"));
    const char *gy = json_string_value(json_object_get(y, "groupName"));
    int         d = strcmp(gx ? gx : "", gy ? gy : "");

    if (d == 0) {
        gx = json_string_value(json_object_get(x, "brokerName"));
        gy = json_string_value(json_object_get(y, "brokerName"));
        d = strcmp(gx ? gx : "", gy ? gy : "");
    }
    return d;
}

/* rows sorted by group, then broker (jansson arrays cannot be sorted). */
static json_t *
group_sorted(json_t *rows)
{
    size_t   n = json_array_size(rows);
    json_t **v = calloc(n + 1, sizeof(*v));
    json_t  *out = json_array();

    for (size_t i = 0; v != NULL && i < n; i++) {
        v[i] = json_array_get(rows, i);
    }
    if (v != NULL) {
        qsort(v, n, sizeof(*v), group_row_cmp);
        for (size_t i = 0; i < n; i++) {
            json_array_append(out, v[i]);
        }
    }
    free(v);
    json_decref(rows);
    return out;
}

static const char *
group_flag(json_t *row, const char *key)
{
    json_t *v = json_object_get(row, key);

    return v == NULL ? "-" : json_is_true(v) ? "true" : "false";
}

static void
group_list_print(json_t *rows)
{
    static const char *const hdr[] = {"GROUP",     "BROKER",       "CONSUME",
                                      "BROADCAST", "RETRY QUEUES", "RETRY MAX"};
    rmq_table                t;
    json_t                  *row;
    size_t                   i;

    rmq_table_init(&t, 6, hdr);
    json_array_foreach(rows, i, row)
    {
        char rq[24], rm[24];
        snprintf(rq, sizeof(rq), "%lld",
                 (long long)json_integer_value(
                     json_object_get(row, "retryQueueNums")));
        snprintf(rm, sizeof(rm), "%lld",
                 (long long)json_integer_value(
                     json_object_get(row, "retryMaxTimes")));
        const char *cells[] = {
            json_string_value(json_object_get(row, "groupName")),
            json_string_value(json_object_get(row, "brokerName")),
            group_flag(row, "consumeEnable"),
            group_flag(row, "consumeBroadcastEnable"),
            rq,
            rm};
        rmq_table_row(&t, cells);
    }
    rmq_table_print(&t, stdout);
    rmq_table_free(&t);
}

static int
group_list(rmqctl *c)
{
    struct group_opts o;
    rmqctl_brokers    targets;
    char              why[RMQCTL_WHY_MAX];
    json_t           *rows;
    int               rc;

    if ((rc = group_parse(c, "group list", &o)) != 0) {
        return rc;
    }
    if (rmqctl_targets(c, o.cluster, o.broker, &targets, why) != 0) {
        return rmqctl_fail("%s", why);
    }
    rows = json_array();
    for (size_t i = 0; i < targets.n && rc == 0; i++) {
        rc = group_list_one(&targets.v[i], rows, why);
    }
    rmqctl_brokers_free(&targets);
    if (rc != 0) {
        json_decref(rows);
        return rmqctl_fail("could not list groups: %s", why);
    }
    rows = group_sorted(rows);
    if (c->json) {
        return rmqctl_print_json(json_pack("{s:o}", "groups", rows));
    }
    group_list_print(rows);
    json_decref(rows);
    return 0;
}

int
rmqctl_cmd_group(rmqctl *c)
{
    if (c->argc > 0 && strcmp(c->argv[0], "create") == 0) {
        return group_create(c);
    }
    if (c->argc > 0 && strcmp(c->argv[0], "list") == 0) {
        return group_list(c);
    }
    return rmqctl_fail("usage: rmqctl group create|list ... (try rmqctl "
                       "help)");
}
