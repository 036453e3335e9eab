/*
 * remote.h - what rmqctl's data and admin commands share: finding the
 * name servers, one blocking remoting call (net/rpc.h, a fresh connection
 * per call), the cluster's brokers and a topic's route.
 *
 * Every function that can fail returns 0 or -1 and then writes a one-line
 * reason into why (RMQCTL_WHY_MAX bytes), ready for rmqctl_fail("%s").
 */
#ifndef RMQ_CLI_REMOTE_H
#define RMQ_CLI_REMOTE_H

#include "cli/rmqctl.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define RMQCTL_WHY_MAX 512
#define RMQCTL_ADDR_MAX 128
#define RMQCTL_NAME_MAX 256
#define RMQCTL_CONNECT_MS 3000
#define RMQCTL_CALL_MS 10000

/* A response: its code, remark and a NUL-terminated copy of its body. */
typedef struct rmqctl_reply {
    int32_t code;
    char    remark[RMQCTL_WHY_MAX]; /* "" when absent; newlines removed */
    char   *body;                   /* malloc'd; NULL when empty */
    size_t  body_len;
} rmqctl_reply;

void rmqctl_reply_free(rmqctl_reply *r);

/* librmq's name of a response code ("TOPIC_NOT_EXIST"), or "code N". */
const char *rmqctl_code_name(int32_t code);

/*
 * Connect to addr, send request code with ext fields (NULL-terminated
 * key, value list; may be NULL) and body, and wait for the answer.
 * Returns 0 when any answer arrived (look at out->code), -1 when the
 * address could not be reached or did not answer in time.
 */
int rmqctl_call(const char *addr, int32_t code, const char *const *ext,
                const void *body, size_t body_len, rmqctl_reply *out,
                char *why);
/* As rmqctl_call, but any code other than SUCCESS is a failure too. */
int rmqctl_call_ok(const char *addr, int32_t code, const char *const *ext,
                   const void *body, size_t body_len, rmqctl_reply *out,
                   char *why);
/*
 * r's body as JSON (fastjson dialect accepted, a new reference in *out)
 * when r answered SUCCESS; otherwise -1, and why says what who answered
 * or that the body is not JSON.  r is freed either way.
 */
int rmqctl_reply_ok_json(const char *who, rmqctl_reply *r, json_t **out,
                         char *why);
/* As rmqctl_call without a body, wanting SUCCESS and a JSON body. */
int rmqctl_call_json(const char *addr, int32_t code, const char *const *ext,
                     json_t **out, char *why);

/*
 * The name server list "host:port;host:port": -n, else $NAMESRV_ADDR,
 * else the config's broker.namesrvAddr, else the config's embedded name
 * server on 127.0.0.1.  -1 when there is none.
 */
int rmqctl_namesrv_list(const rmqctl *c, char *out, size_t cap, char *why);
/* rmqctl_call to the name servers in order until one answers. */
int rmqctl_ns_call(const rmqctl *c, int32_t code, const char *const *ext,
                   rmqctl_reply *out, char *why);
/* rmqctl_ns_call that also wants SUCCESS and a JSON body. */
int rmqctl_ns_json(const rmqctl *c, int32_t code, const char *const *ext,
                   json_t **out, char *why);

/* One broker address as the name server knows it. */
typedef struct rmqctl_broker {
    char    cluster[RMQCTL_NAME_MAX];
    char    name[RMQCTL_NAME_MAX];
    int64_t id; /* 0 = master */
    char    addr[RMQCTL_ADDR_MAX];
} rmqctl_broker;

typedef struct rmqctl_brokers {
    size_t         n;
    rmqctl_broker *v;
} rmqctl_brokers;

void rmqctl_brokers_free(rmqctl_brokers *b);
/*
 * Every broker address of GET_BROKER_CLUSTER_INFO (106), sorted by
 * cluster, broker name and id; only those of cluster when it is not
 * NULL (an unknown cluster is an error), only masters when masters_only.
 */
int rmqctl_brokers_fetch(const rmqctl *c, const char *cluster,
                         bool masters_only, rmqctl_brokers *out, char *why);
/*
 * Where an admin request goes: the one broker at addr (-b; its name and
 * cluster unknown, id -1) when addr is not NULL, else every master of
 * cluster (NULL: of every cluster).  No broker at all is an error.
 */
int rmqctl_targets(const rmqctl *c, const char *cluster, const char *addr,
                   rmqctl_brokers *out, char *why);

/*
 * The route of topic (105) as TopicRouteData.  A topic the name server
 * does not know is an error whose reason says so.
 */
int rmqctl_route_fetch(const rmqctl *c, const char *topic, json_t **out,
                       char *why);
/*
 * The brokers of a route that serve reads, one per broker name: the
 * master, or the lowest id when the master is gone.  Sorted by name.
 */
int rmqctl_route_brokers(json_t *route, rmqctl_brokers *out, char *why);

/* "2024-05-01 12:00:00.123" in local time, or "-" for ms <= 0. */
void rmqctl_fmt_time(int64_t ms, char *out, size_t cap);
/* "6 RW-" style: the number and R, W, I (inherit) letters. */
void rmqctl_fmt_perm(int perm, char *out, size_t cap);

#endif
