/*
 * remote.c - see remote.h.  rmqctl only: blocking calls, one connection
 * per call (admin commands make a handful of calls; simple beats fast).
 */
#include "cli/remote.h"

#include "cli/fastjson.h"
#include "client/cerr.h"
#include "common/err.h"
#include "common/util.h"
#include "net/rpc.h"
#include "proto/codes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- calls -------------------------------------------------------------- */

const char *
rmqctl_code_name(int32_t code)
{
    static char other[32];
    const char *name = rmq_cerr_resp_name(code);

    if (strcmp(name, "?") != 0) {
        return name;
    }
    snprintf(other, sizeof(other), "code %d", code);
    return other;
}

void
rmqctl_reply_free(rmqctl_reply *r)
{
    free(r->body);
    memset(r, 0, sizeof(*r));
}

static const char *
remote_transport_error(int rc)
{
    switch (rc) {
    case RMQ_ERR_TIMEOUT:
        return "timed out";
    case RMQ_ERR_CLOSED:
        return "connection refused or closed";
    case RMQ_ERR_NOTFOUND:
        return "unknown host";
    case RMQ_ERR_INVAL:
        return "not a host:port address";
    default:
        return rmq_strerror(rc);
    }
}

/* Copy what we keep of a response: remark on one line, body + NUL. */
static int
remote_keep(const rmq_rcmd *resp, rmqctl_reply *out)
{
    size_t n = 0;

    out->code = resp->code;
    if (resp->remark != NULL) {
        for (const char *p = resp->remark; *p && n + 1 < sizeof(out->remark);
             p++) {
            out->remark[n++] = (*p == '\n' || *p == '\r') ? ' ' : *p;
        }
    }
    out->remark[n] = '\0';
    if (resp->body_len > 0) {
        out->body = malloc(resp->body_len + 1);
        if (out->body == NULL) {
            return RMQ_ERR_NOMEM;
        }
        memcpy(out->body, resp->body, resp->body_len);
        out->body[resp->body_len] = '\0';
        out->body_len = resp->body_len;
    }
    return 0;
}

int
rmqctl_call(const char *addr, int32_t code, const char *const *ext,
            const void *body, size_t body_len, rmqctl_reply *out, char *why)
{
    rmq_rpc         rpc;
    rmq_rcmd_out    req;
    const rmq_rcmd *resp;
    int             rc;

    memset(out, 0, sizeof(*out));
    rc = rmq_rpc_connect(&rpc, addr, RMQCTL_CONNECT_MS);
    if (rc != 0) {
        rmq_rpc_close(&rpc);
        snprintf(why, RMQCTL_WHY_MAX, "could not connect to %s: %s", addr,
                 remote_transport_error(rc));
        return -1;
    }
    rpc.timeout_ms = RMQCTL_CALL_MS;
    rmq_rcmd_out_init(&req, code, 0, 0);
    for (size_t i = 0; ext != NULL && ext[i] != NULL; i += 2) {
        rmq_rcmd_out_ext(&req, ext[i], ext[i + 1]);
    }
    rc = rmq_rpc_call(&rpc, &req, body, (uint32_t)body_len, &resp);
    if (rc == 0) {
        rc = remote_keep(resp, out);
    }
    rmq_rpc_close(&rpc);
    if (rc != 0) {
        snprintf(why, RMQCTL_WHY_MAX, "no answer from %s to request %d: %s",
                 addr, code, remote_transport_error(rc));
        rmqctl_reply_free(out);
        return -1;
    }
    return 0;
}

/*
 * 0 when r answered SUCCESS; otherwise why says what who answered, r is
 * freed and the result is -1.
 */
static int
remote_reply_ok(const char *who, rmqctl_reply *r, char *why)
{
    if (r->code == RMQ_RESP_SUCCESS) {
        return 0;
    }
    snprintf(why, RMQCTL_WHY_MAX, "%s answered %s%s%s", who,
             rmqctl_code_name(r->code), r->remark[0] ? ": " : "", r->remark);
    rmqctl_reply_free(r);
    return -1;
}

int
rmqctl_call_ok(const char *addr, int32_t code, const char *const *ext,
               const void *body, size_t body_len, rmqctl_reply *out, char *why)
{
    if (rmqctl_call(addr, code, ext, body, body_len, out, why) != 0) {
        return -1;
    }
    return remote_reply_ok(addr, out, why);
}

int
rmqctl_reply_ok_json(const char *who, rmqctl_reply *r, json_t **out, char *why)
{
    int rc = 0;

    if (remote_reply_ok(who, r, why) != 0) {
        return -1;
    }
    if (r->body == NULL || rmqctl_json_load(r->body, r->body_len, out) != 0) {
        snprintf(why, RMQCTL_WHY_MAX,
                 "%s answered with a body that is not JSON", who);
        rc = -1;
    }
    rmqctl_reply_free(r);
    return rc;
}

int
rmqctl_call_json(const char *addr, int32_t code, const char *const *ext,
                 json_t **out, char *why)
{
    rmqctl_reply r;

    if (rmqctl_call(addr, code, ext, NULL, 0, &r, why) != 0) {
        return -1;
    }
    return rmqctl_reply_ok_json(addr, &r, out, why);
}

/* ---- name servers ------------------------------------------------------- */

int
rmqctl_namesrv_list(const rmqctl *c, char *out, size_t cap, char *why)
{
    const char *env = getenv("NAMESRV_ADDR");
    const char *v = NULL;

    if (c->namesrv_opt != NULL) {
        v = c->namesrv_opt;
    } else if (env != NULL && env[0] != '\0') {
        v = env;
    } else if (c->cfg.has_broker && c->cfg.broker.namesrv_addr[0] != '\0') {
        v = c->cfg.broker.namesrv_addr;
    } else if (c->cfg.has_namesrv && c->cfg.namesrv.enabled) {
        snprintf(out, cap, "127.0.0.1:%d", c->cfg.namesrv.listen_port);
        return 0;
    }
    if (v == NULL || strspn(v, " ;") == strlen(v)) {
        snprintf(why, RMQCTL_WHY_MAX,
                 "no name server: give -n HOST:PORT, set NAMESRV_ADDR or "
                 "broker.namesrvAddr in the config");
        return -1;
    }
    if (!rmq_strlcpy(out, v, cap)) {
        snprintf(why, RMQCTL_WHY_MAX, "name server list too long");
        return -1;
    }
    return 0;
}

int
rmqctl_ns_call(const rmqctl *c, int32_t code, const char *const *ext,
               rmqctl_reply *out, char *why)
{
    char  list[RMQ_CONFIG_STR_MAX * 4];
    char  first[RMQCTL_WHY_MAX] = "";
    char *save = NULL;

    if (rmqctl_namesrv_list(c, list, sizeof(list), why) != 0) {
        return -1;
    }
    for (char *a = strtok_r(list, "; ", &save); a != NULL;
         a = strtok_r(NULL, "; ", &save)) {
        if (rmqctl_call(a, code, ext, NULL, 0, out, why) == 0) {
            return 0;
        }
        if (first[0] == '\0') {
            memcpy(first, why, sizeof(first));
        }
    }
    snprintf(why, RMQCTL_WHY_MAX, "no name server answered (%.400s)", first);
    return -1;
}

int
rmqctl_ns_json(const rmqctl *c, int32_t code, const char *const *ext,
               json_t **out, char *why)
{
    rmqctl_reply r;

    if (rmqctl_ns_call(c, code, ext, &r, why) != 0) {
        return -1;
    }
    return rmqctl_reply_ok_json("the name server", &r, out, why);
}

/* ---- brokers ------------------------------------------------------------ */

void
rmqctl_brokers_free(rmqctl_brokers *b)
{
    free(b->v);
    b->v = NULL;
    b->n = 0;
}

static int
remote_broker_add(rmqctl_brokers *b, const char *cluster, const char *name,
                  int64_t id, const char *addr)
{
    rmqctl_broker *v = realloc(b->v, (b->n + 1) * sizeof(*v));

    if (v == NULL) {
        return -1;
    }
    b->v = v;
    v = &b->v[b->n++];
    memset(v, 0, sizeof(*v));
    rmq_strlcpy(v->cluster, cluster ? cluster : "", sizeof(v->cluster));
    rmq_strlcpy(v->name, name ? name : "", sizeof(v->name));
    v->id = id;
    rmq_strlcpy(v->addr, addr ? addr : "", sizeof(v->addr));
    return 0;
}

static int
remote_broker_cmp(const void *a, const void *b)
{
    const rmqctl_broker *x = a, *y = b;
    int                  d = strcmp(x->cluster, y->cluster);

    if (d == 0) {
        d = strcmp(x->name, y->name);
    }
    if (d == 0) {
        d = (x->id > y->id) - (x->id < y->id);
    }
    return d;
}

/* Add the addresses of one BrokerData ({cluster, brokerName, brokerAddrs}). */
static int
remote_broker_data(json_t *bd, const char *cluster, bool masters_only,
                   rmqctl_brokers *out)
{
    const char *name = json_string_value(json_object_get(bd, "brokerName"));
    const char *cl = json_string_value(json_object_get(bd, "cluster"));
    const char *id;
    json_t     *addr;
    int64_t     n;

    if (cluster != NULL && (cl == NULL || strcmp(cl, cluster) != 0)) {
        return 0;
    }
    json_object_foreach(json_object_get(bd, "brokerAddrs"), id, addr)
    {
        if (rmq_parse_i64(id, &n) != 0 || !json_is_string(addr) ||
            (masters_only && n != 0)) {
            continue;
        }
        if (remote_broker_add(out, cl, name, n, json_string_value(addr)) != 0) {
            return -1;
        }
    }
    return 0;
}

int
rmqctl_brokers_fetch(const rmqctl *c, const char *cluster, bool masters_only,
                     rmqctl_brokers *out, char *why)
{
    json_t     *info;
    json_t     *bd;
    const char *name;
    int         rc = 0;

    memset(out, 0, sizeof(*out));
    if (rmqctl_ns_json(c, RMQ_REQ_GET_BROKER_CLUSTER_INFO, NULL, &info, why) !=
        0) {
        return -1;
    }
    if (cluster != NULL &&
        json_object_get(json_object_get(info, "clusterAddrTable"), cluster) ==
            NULL) {
        snprintf(why, RMQCTL_WHY_MAX,
                 "the name server knows no cluster "
                 "\"%.200s\"",
                 cluster);
        json_decref(info);
        return -1;
    }
    json_object_foreach(json_object_get(info, "brokerAddrTable"), name, bd)
    {
        if (rc == 0) {
            rc = remote_broker_data(bd, cluster, masters_only, out);
        }
    }
    json_decref(info);
    if (rc != 0) {
        snprintf(why, RMQCTL_WHY_MAX, "out of memory");
        rmqctl_brokers_free(out);
        return -1;
    }
    if (out->n > 1) {
        qsort(out->v, out->n, sizeof(out->v[0]), remote_broker_cmp);
    }
    return 0;
}

int
rmqctl_targets(const rmqctl *c, const char *cluster, const char *addr,
               rmqctl_brokers *out, char *why)
{
    memset(out, 0, sizeof(*out));
    if (addr != NULL) {
        if (strchr(addr, ':') == NULL) {
            snprintf(why, RMQCTL_WHY_MAX,
                     "broker address \"%.200s\" is not host:port", addr);
            return -1;
        }
        if (remote_broker_add(out, "", "", -1, addr) != 0) {
            snprintf(why, RMQCTL_WHY_MAX, "out of memory");
            return -1;
        }
        return 0;
    }
    if (rmqctl_brokers_fetch(c, cluster, true, out, why) != 0) {
        return -1;
    }
    if (out->n == 0) {
        snprintf(why, RMQCTL_WHY_MAX,
                 "the name server knows no master broker%s%.200s%s",
                 cluster ? " in cluster \"" : "", cluster ? cluster : "",
                 cluster ? "\"" : "");
        rmqctl_brokers_free(out);
        return -1;
    }
    return 0;
}

/* ---- routes ------------------------------------------------------------- */

int
rmqctl_route_fetch(const rmqctl *c, const char *topic, json_t **out, char *why)
{
    const char  *ext[] = {"topic", topic, NULL};
    rmqctl_reply r;

    if (rmqctl_ns_call(c, RMQ_REQ_GET_ROUTEINFO_BY_TOPIC, ext, &r, why) != 0) {
        return -1;
    }
    if (r.code == RMQ_RESP_TOPIC_NOT_EXIST ||
        (r.code == RMQ_RESP_SUCCESS && r.body == NULL)) {
        snprintf(why, RMQCTL_WHY_MAX,
                 "topic \"%.200s\" does not exist (the "
                 "name server has no route for it)",
                 topic);
        rmqctl_reply_free(&r);
        return -1;
    }
    return rmqctl_reply_ok_json("the name server", &r, out, why);
}

int
rmqctl_route_brokers(json_t *route, rmqctl_brokers *out, char *why)
{
    json_t *bd;
    size_t  i;

    memset(out, 0, sizeof(*out));
    json_array_foreach(json_object_get(route, "brokerDatas"), i, bd)
    {
        rmqctl_brokers all = {0};
        if (remote_broker_data(bd, NULL, false, &all) != 0) {
            rmqctl_brokers_free(&all);
            goto nomem;
        }
        if (all.n == 0) {
            continue;
        }
        /* lowest id first: the master when there is one */
        qsort(all.v, all.n, sizeof(all.v[0]), remote_broker_cmp);
        if (remote_broker_add(out, all.v[0].cluster, all.v[0].name, all.v[0].id,
                              all.v[0].addr) != 0) {
            rmqctl_brokers_free(&all);
            goto nomem;
        }
        rmqctl_brokers_free(&all);
    }
    if (out->n > 1) {
        qsort(out->v, out->n, sizeof(out->v[0]), remote_broker_cmp);
    }
    return 0;

nomem:
    snprintf(why, RMQCTL_WHY_MAX, "out of memory");
    rmqctl_brokers_free(out);
    return -1;
}

/* ---- formatting --------------------------------------------------------- */

void
rmqctl_fmt_time(int64_t ms, char *out, size_t cap)
{
    time_t    t = (time_t)(ms / 1000);
    struct tm tm;
    char      buf[32];

    if (ms <= 0 || localtime_r(&t, &tm) == NULL) {
        snprintf(out, cap, "-");
        return;
    }
    strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", &tm);
    snprintf(out, cap, "%s.%03d", buf, (int)(ms % 1000));
}

void
rmqctl_fmt_perm(int perm, char *out, size_t cap)
{
    snprintf(out, cap, "%d %c%c%c", perm, (perm & RMQ_PERM_READ) ? 'R' : '-',
             (perm & RMQ_PERM_WRITE) ? 'W' : '-',
             (perm & RMQ_PERM_INHERIT) ? 'I' : '-');
}
