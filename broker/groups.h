/*
 * groups.h - the producer and consumer groups that clients announce in
 * HEART_BEAT (spec remoting 3 HeartbeatData, 5.3): which connections
 * belong to each group, with their clientID, address, language and
 * version, and each consumer group's subscriptions.  Also the JSON bodies
 * built from it: GetConsumerListByGroupResponseBody and
 * ConsumerConnection.
 *
 * Memory only, owned by the rebalancer (one thread).  A connection stays
 * in a group until the client unregisters, its connection closes, or it
 * sends no heartbeat for channelExpiredTimeout.  Subscriptions are per
 * group, as in Java: the latest heartbeat of any member replaces a
 * topic's subscription when its subVersion is larger and drops topics it
 * no longer lists.  The rebalancer restarting forgets everything until
 * the clients' next heartbeats (every 30 s).
 */
#ifndef RMQ_BROKER_GROUPS_H
#define RMQ_BROKER_GROUPS_H

#include "broker/strmap.h"
#include "common/buf.h"
#include "shm/control.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#define RMQ_CLIENT_ID_MAX 256
#define RMQ_CLIENT_ADDR_MAX 64
#define RMQ_HB_GROUPS_MAX 1024 /* per heartbeat and kind */
#define RMQ_HB_SUBS_MAX 1024   /* per consumer group */

/* One SubscriptionData as a consumer reported it. */
typedef struct rmq_sub_data {
    char    topic[RMQ_TOPIC_NAME_MAX];
    char   *sub_string;    /* subString, "*" = everything */
    char    expr_type[16]; /* "TAG" (default) or "SQL92" */
    int64_t sub_version;
    json_t *json; /* normalised SubscriptionData, for ConsumerConnection */
} rmq_sub_data;

/* One ConsumerData of a heartbeat. */
typedef struct rmq_hb_consumer {
    char          group[RMQ_GROUP_NAME_MAX];
    char          consume_type[32];       /* CONSUME_PASSIVELY / _ACTIVELY */
    char          message_model[32];      /* CLUSTERING / BROADCASTING */
    char          consume_from_where[64]; /* CONSUME_FROM_LAST_OFFSET, ... */
    bool          unit_mode;
    uint32_t      nsubs;
    rmq_sub_data *subs;
} rmq_hb_consumer;

/* A parsed HeartbeatData body. */
typedef struct rmq_heartbeat {
    char     client_id[RMQ_CLIENT_ID_MAX];
    uint32_t nproducers;
    char (*producers)[RMQ_GROUP_NAME_MAX];
    uint32_t         nconsumers;
    rmq_hb_consumer *consumers;
} rmq_heartbeat;

/*
 * Parse a HEART_BEAT body.  Returns 0, or RMQ_ERR_PROTO when it is not
 * JSON, is not an object, or has no clientID (remark names the problem).
 * Malformed group or subscription entries are skipped, not fatal.
 * Free with rmq_heartbeat_free even on error.
 */
int  rmq_heartbeat_parse(const void *body, size_t len, rmq_heartbeat *out,
                         char *remark, size_t remark_cap);
void rmq_heartbeat_free(rmq_heartbeat *hb);

/* The connection a request came from. */
typedef struct rmq_client_ref {
    uint64_t    conn_id;
    const char *client_id;
    const char *client_addr; /* "ip:port" */
    int32_t     language;    /* enum rmq_language */
    int32_t     version;
} rmq_client_ref;

typedef struct rmq_gclient {
    uint64_t conn_id;
    char     client_id[RMQ_CLIENT_ID_MAX];
    char     client_addr[RMQ_CLIENT_ADDR_MAX];
    int32_t  language;
    int32_t  version;
    int64_t  last_ms; /* last heartbeat, caller's clock */
} rmq_gclient;

/* One group with at least one connection.  Read-only for callers. */
typedef struct rmq_group {
    char          name[RMQ_GROUP_NAME_MAX];
    char          consume_type[32];
    char          message_model[32];
    char          consume_from_where[64];
    bool          unit_mode;
    uint32_t      nclients, clients_cap;
    rmq_gclient  *clients; /* in registration order */
    uint32_t      nsubs, subs_cap;
    rmq_sub_data *subs; /* consumer groups only */
} rmq_group;

typedef struct rmq_groups {
    rmq_strmap consumers; /* name -> rmq_group */
    rmq_strmap producers; /* name -> rmq_group */
} rmq_groups;

/* What a registration changed (bits). */
#define RMQ_GRP_CLIENTS_CHANGED 0x1 /* a connection joined */
#define RMQ_GRP_SUBS_CHANGED 0x2    /* a topic added, dropped or changed */

/*
 * Called for each consumer group whose connection set shrank: grp is the
 * group as it is now, or NULL when its last connection left and the group
 * is gone.  The callback must not change the registry.
 */
typedef void (*rmq_group_event_fn)(void *arg, const char *group,
                                   const rmq_group *grp);

void rmq_groups_init(rmq_groups *g);
void rmq_groups_fini(rmq_groups *g);

/*
 * Record consumer group c for the client's connection at now_ms (a
 * heartbeat): join or refresh the connection, take the group's consume
 * type, model and where-from, update subscriptions.  *changed gets
 * RMQ_GRP_* bits.  A subscription replaced by a larger subVersion counts
 * as a change only when its expression differs.  Returns 0 or
 * RMQ_ERR_NOMEM.
 */
int rmq_groups_register_consumer(rmq_groups *g, const rmq_client_ref *cl,
                                 const rmq_hb_consumer *c, int64_t now_ms,
                                 unsigned *changed);
int rmq_groups_register_producer(rmq_groups *g, const rmq_client_ref *cl,
                                 const char *group, int64_t now_ms);

/*
 * UNREGISTER_CLIENT: remove from group every connection that is conn_id
 * or carries client_id (may be NULL).  For a consumer group, fn reports
 * the change.  Returns true when something was removed.
 */
bool rmq_groups_unregister(rmq_groups *g, bool consumer, const char *group,
                           uint64_t conn_id, const char *client_id,
                           rmq_group_event_fn fn, void *arg);
/* A connection closed: remove it from every group (fn per consumer group). */
void rmq_groups_conn_closed(rmq_groups *g, uint64_t conn_id,
                            rmq_group_event_fn fn, void *arg);
/*
 * Remove connections whose last heartbeat is more than timeout_ms before
 * now_ms (fn per consumer group).  Returns how many were removed.
 */
uint32_t rmq_groups_expire(rmq_groups *g, int64_t now_ms, int64_t timeout_ms,
                           rmq_group_event_fn fn, void *arg);

const rmq_group *rmq_groups_consumer(const rmq_groups *g, const char *name);
const rmq_group *rmq_groups_producer(const rmq_groups *g, const char *name);
/* The group's subscription to topic, or NULL. */
const rmq_sub_data *rmq_group_sub(const rmq_group *grp, const char *topic);
/* Groups online, and distinct connections among them. */
void rmq_groups_count(const rmq_groups *g, uint32_t *groups, uint32_t *conns);

/* {"consumerIdList":[...]}: clientIDs as sent, each once, join order. */
int rmq_groups_consumer_list_json(const rmq_group *grp, rmq_buf *out);
/* ConsumerConnection (spec 3) of a consumer group. */
int rmq_groups_connection_json(const rmq_group *grp, rmq_buf *out);

#endif
