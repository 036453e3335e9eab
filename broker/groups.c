/*
 * groups.c - the client group registry and HeartbeatData parsing
 * (groups.h).  Runs in the rebalancer process only.
 */
#include "broker/groups.h"

#include "common/err.h"
#include "common/json.h"
#include "common/log.h"
#include "common/u64map.h"
#include "common/util.h"
#include "proto/remoting.h"

#include <stdlib.h>
#include <string.h>

/* ---- HeartbeatData parsing -------------------------------------------- */

static void
hb_set_remark(char *remark, size_t cap, const char *text)
{
    if (remark != NULL && cap > 0) {
        rmq_strlcpy(remark, text, cap);
    }
}

/* A JSON string member copied into dst; false when absent or too long. */
static bool
hb_str(json_t *obj, const char *key, char *dst, size_t cap)
{
    json_t *v = json_object_get(obj, key);

    dst[0] = '\0';
    if (!json_is_string(v)) {
        return false;
    }
    return rmq_strlcpy(dst, json_string_value(v), cap);
}

static int64_t
hb_i64(json_t *obj, const char *key, int64_t dflt)
{
    json_t *v = json_object_get(obj, key);
    int64_t x;

    if (json_is_integer(v)) {
        return json_integer_value(v);
    }
    if (json_is_real(v)) {
        return (int64_t)json_real_value(v);
    }
    if (json_is_string(v) && rmq_parse_i64(json_string_value(v), &x) == 0) {
        return x;
    }
    return dflt;
}

static bool
hb_bool(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);

    if (json_is_string(v)) {
        return rmq_parse_bool(json_string_value(v));
    }
    return json_is_true(v);
}

/* The array member key, filtered to elements of the wanted JSON type. */
static json_t *
hb_typed_array(json_t *obj, const char *key, json_type type)
{
    json_t *in = json_object_get(obj, key);
    json_t *out = json_array();
    size_t  i;
    json_t *v;

    if (out == NULL || !json_is_array(in)) {
        return out;
    }
    json_array_foreach(in, i, v)
    {
        if (json_typeof(v) == type) {
            json_array_append(out, v);
        }
    }
    return out;
}

/*
 * One SubscriptionData.  Its normalised JSON holds the fields Java's
 * SubscriptionData has, with Java's defaults (expressionType TAG).
 */
static int
hb_parse_sub(json_t *js, rmq_sub_data *s)
{
    json_t     *sub_string = json_object_get(js, "subString");
    const char *text;

    memset(s, 0, sizeof(*s));
    if (!json_is_object(js) ||
        !hb_str(js, "topic", s->topic, sizeof(s->topic)) || !s->topic[0]) {
        return RMQ_ERR_PROTO;
    }
    text = json_is_string(sub_string) ? json_string_value(sub_string) : "*";
    if (text[0] == '\0') {
        text = "*";
    }
    if (!hb_str(js, "expressionType", s->expr_type, sizeof(s->expr_type)) ||
        s->expr_type[0] == '\0') {
        strcpy(s->expr_type, "TAG");
    }
    s->sub_version = hb_i64(js, "subVersion", 0);
    s->sub_string = strdup(text);
    s->json = json_pack("{s:s,s:s,s:s,s:I,s:b,s:o,s:o}", "topic", s->topic,
                        "subString", text, "expressionType", s->expr_type,
                        "subVersion", (json_int_t)s->sub_version,
                        "classFilterMode", hb_bool(js, "classFilterMode"),
                        "tagsSet", hb_typed_array(js, "tagsSet", JSON_STRING),
                        "codeSet", hb_typed_array(js, "codeSet", JSON_INTEGER));
    if (s->sub_string == NULL || s->json == NULL) {
        return RMQ_ERR_NOMEM;
    }
    return 0;
}

static void
sub_data_free(rmq_sub_data *s)
{
    free(s->sub_string);
    json_decref(s->json);
    memset(s, 0, sizeof(*s));
}

static int
hb_parse_consumer(json_t *jc, rmq_hb_consumer *c)
{
    json_t *subs = json_object_get(jc, "subscriptionDataSet");
    size_t  i;
    json_t *js;

    memset(c, 0, sizeof(*c));
    if (!json_is_object(jc) ||
        !hb_str(jc, "groupName", c->group, sizeof(c->group)) ||
        c->group[0] == '\0') {
        return RMQ_ERR_PROTO;
    }
    hb_str(jc, "consumeType", c->consume_type, sizeof(c->consume_type));
    hb_str(jc, "messageModel", c->message_model, sizeof(c->message_model));
    hb_str(jc, "consumeFromWhere", c->consume_from_where,
           sizeof(c->consume_from_where));
    c->unit_mode = hb_bool(jc, "unitMode");
    if (!json_is_array(subs) || json_array_size(subs) == 0) {
        return 0;
    }
    c->subs = calloc(RMQ_MIN(json_array_size(subs), RMQ_HB_SUBS_MAX),
                     sizeof(*c->subs));
    if (c->subs == NULL) {
        return RMQ_ERR_NOMEM;
    }
    json_array_foreach(subs, i, js)
    {
        int rc;
        if (c->nsubs == RMQ_HB_SUBS_MAX) {
            break;
        }
        rc = hb_parse_sub(js, &c->subs[c->nsubs]);
        if (rc == RMQ_ERR_NOMEM) {
            return rc;
        }
        if (rc != 0) {
            sub_data_free(&c->subs[c->nsubs]);
            continue; /* a subscription without a topic: skip it */
        }
        c->nsubs++;
    }
    return 0;
}

static int
hb_parse_producers(json_t *arr, rmq_heartbeat *hb)
{
    size_t  i;
    json_t *jp;

    if (!json_is_array(arr) || json_array_size(arr) == 0) {
        return 0;
    }
    hb->producers = calloc(RMQ_MIN(json_array_size(arr), RMQ_HB_GROUPS_MAX),
                           sizeof(*hb->producers));
    if (hb->producers == NULL) {
        return RMQ_ERR_NOMEM;
    }
    json_array_foreach(arr, i, jp)
    {
        char *name;
        if (hb->nproducers == RMQ_HB_GROUPS_MAX) {
            break;
        }
        name = hb->producers[hb->nproducers];
        if (json_is_object(jp) &&
            hb_str(jp, "groupName", name, RMQ_GROUP_NAME_MAX) && name[0]) {
            hb->nproducers++;
        }
    }
    return 0;
}

static int
hb_parse_consumers(json_t *arr, rmq_heartbeat *hb)
{
    size_t  i;
    json_t *jc;

    if (!json_is_array(arr) || json_array_size(arr) == 0) {
        return 0;
    }
    hb->consumers = calloc(RMQ_MIN(json_array_size(arr), RMQ_HB_GROUPS_MAX),
                           sizeof(*hb->consumers));
    if (hb->consumers == NULL) {
        return RMQ_ERR_NOMEM;
    }
    json_array_foreach(arr, i, jc)
    {
        rmq_hb_consumer *c = &hb->consumers[hb->nconsumers];
        int              rc;
        if (hb->nconsumers == RMQ_HB_GROUPS_MAX) {
            break;
        }
        rc = hb_parse_consumer(jc, c);
        hb->nconsumers++; /* counted so that free releases its subs */
        if (rc == RMQ_ERR_NOMEM) {
            return rc;
        }
        if (rc != 0) {
            hb->nconsumers--;
            memset(c, 0, sizeof(*c));
        }
    }
    return 0;
}

int
rmq_heartbeat_parse(const void *body, size_t len, rmq_heartbeat *out,
                    char *remark, size_t remark_cap)
{
    json_t *doc;
    int     rc;

    memset(out, 0, sizeof(*out));
    doc = json_loadb(body, len, 0, NULL);
    if (!json_is_object(doc)) {
        json_decref(doc);
        hb_set_remark(remark, remark_cap, "heartbeat body is not JSON");
        return RMQ_ERR_PROTO;
    }
    if (!hb_str(doc, "clientID", out->client_id, sizeof(out->client_id)) ||
        out->client_id[0] == '\0') {
        json_decref(doc);
        hb_set_remark(remark, remark_cap, "heartbeat without clientID");
        return RMQ_ERR_PROTO;
    }
    rc = hb_parse_producers(json_object_get(doc, "producerDataSet"), out);
    if (rc == 0) {
        rc = hb_parse_consumers(json_object_get(doc, "consumerDataSet"), out);
    }
    json_decref(doc);
    if (rc != 0) {
        hb_set_remark(remark, remark_cap, "out of memory");
    }
    return rc;
}

void
rmq_heartbeat_free(rmq_heartbeat *hb)
{
    for (uint32_t i = 0; i < hb->nconsumers; i++) {
        rmq_hb_consumer *c = &hb->consumers[i];
        for (uint32_t j = 0; j < c->nsubs; j++) {
            sub_data_free(&c->subs[j]);
        }
        free(c->subs);
    }
    free(hb->consumers);
    free(hb->producers);
    memset(hb, 0, sizeof(*hb));
}

/* ---- registry ---------------------------------------------------------- */

void
rmq_groups_init(rmq_groups *g)
{
    rmq_strmap_init(&g->consumers);
    rmq_strmap_init(&g->producers);
}

static void
group_free(rmq_group *grp)
{
    for (uint32_t i = 0; i < grp->nsubs; i++) {
        sub_data_free(&grp->subs[i]);
    }
    free(grp->subs);
    free(grp->clients);
    free(grp);
}

static void
groups_free_map(rmq_strmap *m)
{
    size_t pos = 0;
    void  *v;

    while (rmq_strmap_next(m, &pos, &v) != NULL) {
        group_free(v);
    }
    rmq_strmap_free(m);
}

void
rmq_groups_fini(rmq_groups *g)
{
    groups_free_map(&g->consumers);
    groups_free_map(&g->producers);
}

static rmq_group *
groups_get_or_add(rmq_strmap *m, const char *name)
{
    rmq_group *grp = rmq_strmap_get(m, name);

    if (grp != NULL) {
        return grp;
    }
    grp = calloc(1, sizeof(*grp));
    if (grp == NULL) {
        return NULL;
    }
    rmq_strlcpy(grp->name, name, sizeof(grp->name));
    if (rmq_strmap_put(m, name, grp) != 0) {
        free(grp);
        return NULL;
    }
    return grp;
}

/*
 * Join or refresh the connection.  Returns 1 when it joined, 0 when it
 * was there already, or RMQ_ERR_NOMEM (negated).
 */
static int
group_touch_client(rmq_group *grp, const rmq_client_ref *cl, int64_t now_ms)
{
    rmq_gclient *c = NULL;
    int          joined = 0;

    for (uint32_t i = 0; i < grp->nclients && c == NULL; i++) {
        if (grp->clients[i].conn_id == cl->conn_id) {
            c = &grp->clients[i];
        }
    }
    if (c == NULL) {
        if (grp->nclients == grp->clients_cap) {
            uint32_t     cap = grp->clients_cap ? grp->clients_cap * 2 : 4;
            rmq_gclient *p = realloc(grp->clients, cap * sizeof(*p));
            if (p == NULL) {
                return -RMQ_ERR_NOMEM;
            }
            grp->clients = p;
            grp->clients_cap = cap;
        }
        c = &grp->clients[grp->nclients++];
        memset(c, 0, sizeof(*c));
        c->conn_id = cl->conn_id;
        joined = 1;
    }
    /* a reused connection may carry another clientID: take the newest */
    rmq_strlcpy(c->client_id, cl->client_id ? cl->client_id : "",
                sizeof(c->client_id));
    rmq_strlcpy(c->client_addr, cl->client_addr ? cl->client_addr : "",
                sizeof(c->client_addr));
    c->language = cl->language;
    c->version = cl->version;
    c->last_ms = now_ms;
    return joined;
}

static rmq_sub_data *
group_find_sub(rmq_group *grp, const char *topic)
{
    for (uint32_t i = 0; i < grp->nsubs; i++) {
        if (strcmp(grp->subs[i].topic, topic) == 0) {
            return &grp->subs[i];
        }
    }
    return NULL;
}

static int
sub_data_copy(rmq_sub_data *dst, const rmq_sub_data *src)
{
    memcpy(dst->topic, src->topic, sizeof(dst->topic));
    memcpy(dst->expr_type, src->expr_type, sizeof(dst->expr_type));
    dst->sub_version = src->sub_version;
    dst->sub_string = strdup(src->sub_string);
    dst->json = json_deep_copy(src->json);
    if (dst->sub_string == NULL || dst->json == NULL) {
        sub_data_free(dst);
        return RMQ_ERR_NOMEM;
    }
    return 0;
}

static bool
sub_data_same_expr(const rmq_sub_data *a, const rmq_sub_data *b)
{
    return strcmp(a->sub_string, b->sub_string) == 0 &&
           strcmp(a->expr_type, b->expr_type) == 0;
}

/* Add or replace one subscription; sets *changed when the filter moved. */
static int
group_put_sub(rmq_group *grp, const rmq_sub_data *s, bool *changed)
{
    rmq_sub_data *old = group_find_sub(grp, s->topic);
    rmq_sub_data  fresh;

    if (old != NULL && s->sub_version <= old->sub_version) {
        return 0;
    }
    memset(&fresh, 0, sizeof(fresh));
    if (sub_data_copy(&fresh, s) != 0) {
        return RMQ_ERR_NOMEM;
    }
    if (old != NULL) {
        *changed = *changed || !sub_data_same_expr(old, &fresh);
        sub_data_free(old);
        *old = fresh;
        return 0;
    }
    if (grp->nsubs == grp->subs_cap) {
        uint32_t      cap = grp->subs_cap ? grp->subs_cap * 2 : 4;
        rmq_sub_data *p = realloc(grp->subs, cap * sizeof(*p));
        if (p == NULL) {
            sub_data_free(&fresh);
            return RMQ_ERR_NOMEM;
        }
        grp->subs = p;
        grp->subs_cap = cap;
    }
    grp->subs[grp->nsubs++] = fresh;
    *changed = true;
    return 0;
}

static bool
hb_lists_topic(const rmq_hb_consumer *c, const char *topic)
{
    for (uint32_t i = 0; i < c->nsubs; i++) {
        if (strcmp(c->subs[i].topic, topic) == 0) {
            return true;
        }
    }
    return false;
}

/* Drop the group's topics the heartbeat no longer lists. */
static void
group_drop_unlisted(rmq_group *grp, const rmq_hb_consumer *c, bool *changed)
{
    for (uint32_t i = 0; i < grp->nsubs;) {
        if (hb_lists_topic(c, grp->subs[i].topic)) {
            i++;
            continue;
        }
        sub_data_free(&grp->subs[i]);
        memmove(&grp->subs[i], &grp->subs[i + 1],
                (grp->nsubs - i - 1) * sizeof(grp->subs[0]));
        grp->nsubs--;
        *changed = true;
    }
}

int
rmq_groups_register_consumer(rmq_groups *g, const rmq_client_ref *cl,
                             const rmq_hb_consumer *c, int64_t now_ms,
                             unsigned *changed)
{
    rmq_group *grp = groups_get_or_add(&g->consumers, c->group);
    bool       subs_changed = false;
    int        joined;

    *changed = 0;
    if (grp == NULL) {
        return RMQ_ERR_NOMEM;
    }
    joined = group_touch_client(grp, cl, now_ms);
    if (joined < 0) {
        return -joined;
    }
    memcpy(grp->consume_type, c->consume_type, sizeof(grp->consume_type));
    memcpy(grp->message_model, c->message_model, sizeof(grp->message_model));
    memcpy(grp->consume_from_where, c->consume_from_where,
           sizeof(grp->consume_from_where));
    grp->unit_mode = c->unit_mode;
    for (uint32_t i = 0; i < c->nsubs; i++) {
        if (group_put_sub(grp, &c->subs[i], &subs_changed) != 0) {
            return RMQ_ERR_NOMEM;
        }
    }
    group_drop_unlisted(grp, c, &subs_changed);
    *changed = (joined ? RMQ_GRP_CLIENTS_CHANGED : 0) |
               (subs_changed ? RMQ_GRP_SUBS_CHANGED : 0);
    return 0;
}

int
rmq_groups_register_producer(rmq_groups *g, const rmq_client_ref *cl,
                             const char *group, int64_t now_ms)
{
    rmq_group *grp = groups_get_or_add(&g->producers, group);
    int        rc;

    if (grp == NULL) {
        return RMQ_ERR_NOMEM;
    }
    rc = group_touch_client(grp, cl, now_ms);
    return rc < 0 ? -rc : 0;
}

/* What to remove from a group's connections. */
struct group_filter {
    uint64_t    conn_id;          /* 0 = none */
    const char *client_id;        /* NULL = none */
    int64_t     expire_before_ms; /* INT64_MIN = none */
};

static bool
group_filter_match(const struct group_filter *f, const rmq_gclient *c)
{
    return (f->conn_id != 0 && c->conn_id == f->conn_id) ||
           (f->client_id != NULL && strcmp(c->client_id, f->client_id) == 0) ||
           c->last_ms < f->expire_before_ms;
}

static uint32_t
group_remove_clients(rmq_group *grp, const struct group_filter *f)
{
    uint32_t kept = 0;
    uint32_t removed;

    for (uint32_t i = 0; i < grp->nclients; i++) {
        if (!group_filter_match(f, &grp->clients[i])) {
            grp->clients[kept++] = grp->clients[i];
        }
    }
    removed = grp->nclients - kept;
    grp->nclients = kept;
    return removed;
}

/* Apply f to the group named; drop it when left empty.  Returns removals. */
static uint32_t
groups_remove_one(rmq_strmap *m, const char *name, const struct group_filter *f,
                  rmq_group_event_fn fn, void *arg)
{
    rmq_group *grp = rmq_strmap_get(m, name);
    uint32_t   n;

    if (grp == NULL || (n = group_remove_clients(grp, f)) == 0) {
        return 0;
    }
    if (grp->nclients > 0) {
        if (fn != NULL) {
            fn(arg, grp->name, grp);
        }
        return n;
    }
    rmq_strmap_del(m, grp->name);
    if (fn != NULL) {
        fn(arg, grp->name, NULL);
    }
    group_free(grp);
    return n;
}

/*
 * Apply f to every group of m.  Groups left empty are deleted after the
 * walk (the map must not change during it); fn reports each change.
 */
static uint32_t
groups_remove_all(rmq_strmap *m, const struct group_filter *f,
                  rmq_group_event_fn fn, void *arg)
{
    rmq_group **doomed = calloc(m->n + 1, sizeof(*doomed));
    uint32_t    ndoomed = 0;
    uint32_t    total = 0;
    size_t      pos = 0;
    void       *v;

    if (doomed == NULL) {
        return 0; /* out of memory: try again at the next scan */
    }
    while (rmq_strmap_next(m, &pos, &v) != NULL) {
        rmq_group *grp = v;
        uint32_t   n = group_remove_clients(grp, f);
        total += n;
        if (n > 0 && grp->nclients == 0) {
            doomed[ndoomed++] = grp;
        } else if (n > 0 && fn != NULL) {
            fn(arg, grp->name, grp);
        }
    }
    for (uint32_t i = 0; i < ndoomed; i++) {
        rmq_strmap_del(m, doomed[i]->name);
        if (fn != NULL) {
            fn(arg, doomed[i]->name, NULL);
        }
        group_free(doomed[i]);
    }
    free(doomed);
    return total;
}

bool
rmq_groups_unregister(rmq_groups *g, bool consumer, const char *group,
                      uint64_t conn_id, const char *client_id,
                      rmq_group_event_fn fn, void *arg)
{
    struct group_filter f = {conn_id, client_id, INT64_MIN};

    if (client_id != NULL && client_id[0] == '\0') {
        f.client_id = NULL;
    }
    return groups_remove_one(consumer ? &g->consumers : &g->producers, group,
                             &f, consumer ? fn : NULL, arg) > 0;
}

void
rmq_groups_conn_closed(rmq_groups *g, uint64_t conn_id, rmq_group_event_fn fn,
                       void *arg)
{
    struct group_filter f = {conn_id, NULL, INT64_MIN};

    if (conn_id == 0) {
        return;
    }
    groups_remove_all(&g->consumers, &f, fn, arg);
    groups_remove_all(&g->producers, &f, NULL, NULL);
}

uint32_t
rmq_groups_expire(rmq_groups *g, int64_t now_ms, int64_t timeout_ms,
                  rmq_group_event_fn fn, void *arg)
{
    struct group_filter f = {0, NULL, now_ms - timeout_ms};

    return groups_remove_all(&g->consumers, &f, fn, arg) +
           groups_remove_all(&g->producers, &f, NULL, NULL);
}

const rmq_group *
rmq_groups_consumer(const rmq_groups *g, const char *name)
{
    return rmq_strmap_get(&g->consumers, name);
}

const rmq_group *
rmq_groups_producer(const rmq_groups *g, const char *name)
{
    return rmq_strmap_get(&g->producers, name);
}

const rmq_sub_data *
rmq_group_sub(const rmq_group *grp, const char *topic)
{
    return group_find_sub((rmq_group *)grp, topic);
}

static void
groups_count_map(const rmq_strmap *m, rmq_u64map *conns)
{
    size_t pos = 0;
    void  *v;

    while (rmq_strmap_next(m, &pos, &v) != NULL) {
        const rmq_group *grp = v;
        for (uint32_t i = 0; i < grp->nclients; i++) {
            if (grp->clients[i].conn_id != 0) {
                rmq_u64map_put(conns, grp->clients[i].conn_id, (void *)1);
            }
        }
    }
}

void
rmq_groups_count(const rmq_groups *g, uint32_t *groups, uint32_t *conns)
{
    rmq_u64map seen;

    rmq_u64map_init(&seen);
    groups_count_map(&g->consumers, &seen);
    groups_count_map(&g->producers, &seen);
    *groups = (uint32_t)(g->consumers.n + g->producers.n);
    *conns = (uint32_t)seen.n;
    rmq_u64map_free(&seen);
}

/* ---- JSON bodies -------------------------------------------------------- */

static int
groups_dump(json_t *doc, rmq_buf *out)
{
    return rmq_json_append(out, doc, JSON_COMPACT | JSON_SORT_KEYS);
}

static bool
json_array_has_string(json_t *arr, const char *s)
{
    size_t  i;
    json_t *v;

    json_array_foreach(arr, i, v)
    {
        if (strcmp(json_string_value(v), s) == 0) {
            return true;
        }
    }
    return false;
}

int
rmq_groups_consumer_list_json(const rmq_group *grp, rmq_buf *out)
{
    json_t *ids = json_array();

    if (ids == NULL) {
        return RMQ_ERR_NOMEM;
    }
    for (uint32_t i = 0; i < grp->nclients; i++) {
        const char *id = grp->clients[i].client_id;
        /* one connection per broker is normal; a duplicate id would give
         * clients' average allocation a member that consumes nothing */
        if (!json_array_has_string(ids, id)) {
            json_array_append_new(ids, json_string(id));
        }
    }
    return groups_dump(json_pack("{s:o}", "consumerIdList", ids), out);
}

static json_t *
groups_connection_set(const rmq_group *grp)
{
    json_t *set = json_array();

    for (uint32_t i = 0; set != NULL && i < grp->nclients; i++) {
        const rmq_gclient *c = &grp->clients[i];
        json_array_append_new(set, json_pack("{s:s,s:s,s:s,s:i}", "clientId",
                                             c->client_id, "clientAddr",
                                             c->client_addr, "language",
                                             rmq_language_name(c->language),
                                             "version", (int)c->version));
    }
    return set;
}

int
rmq_groups_connection_json(const rmq_group *grp, rmq_buf *out)
{
    json_t *doc = json_object();
    json_t *subs = json_object();

    if (doc == NULL || subs == NULL) {
        json_decref(doc);
        json_decref(subs);
        return RMQ_ERR_NOMEM;
    }
    for (uint32_t i = 0; i < grp->nsubs; i++) {
        json_object_set(subs, grp->subs[i].topic, grp->subs[i].json);
    }
    json_object_set_new(doc, "connectionSet", groups_connection_set(grp));
    json_object_set_new(doc, "subscriptionTable", subs);
    /* fastjson leaves out what Java holds as null */
    if (grp->consume_type[0]) {
        json_object_set_new(doc, "consumeType", json_string(grp->consume_type));
    }
    if (grp->message_model[0]) {
        json_object_set_new(doc, "messageModel",
                            json_string(grp->message_model));
    }
    if (grp->consume_from_where[0]) {
        json_object_set_new(doc, "consumeFromWhere",
                            json_string(grp->consume_from_where));
    }
    return groups_dump(doc, out);
}
