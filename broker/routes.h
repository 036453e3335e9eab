/*
 * routes.h - the name server's route registry (spec remoting 4.1,
 * RouteInfoManager): clusters, broker names with their address per broker
 * id, the queue data each master reports per topic, and broker liveness.
 * Pure in-memory logic used by the namesrv actor; JSON bodies built with
 * jansson in the dialect clients parse (compact, quoted numeric keys,
 * both arrays always present).
 */
#ifndef RMQ_BROKER_ROUTES_H
#define RMQ_BROKER_ROUTES_H

#include "common/buf.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct rmq_routes rmq_routes;

/* One registration, as REGISTER_BROKER carries it. */
typedef struct rmq_route_topic {
    char    name[128];
    int32_t read_queues;
    int32_t write_queues;
    int32_t perm;
    int32_t sysflag;
} rmq_route_topic;

typedef struct rmq_route_reg {
    const char            *cluster;
    const char            *broker_name;
    const char            *broker_addr;
    const char            *ha_addr;
    int64_t                broker_id;
    int64_t                dv_counter; /* DataVersion */
    int64_t                dv_timestamp;
    uint64_t               conn_id; /* connection it came on */
    uint32_t               ntopics;
    const rmq_route_topic *topics;
} rmq_route_reg;

rmq_routes *rmq_routes_new(void);
void        rmq_routes_free(rmq_routes *r);

/*
 * Register (or refresh) a broker.  Only a master (id 0) replaces the
 * queue data of its topics, and only when its data version changed or it
 * is new.  *master_addr is set for a slave whose master is known.
 */
int rmq_routes_register(rmq_routes *r, const rmq_route_reg *reg, int64_t now_ms,
                        const char **master_addr);
void rmq_routes_unregister(rmq_routes *r, const char *cluster,
                           const char *broker_name, const char *broker_addr,
                           int64_t broker_id);
/* Drop brokers not refreshed for expire_ms, or registered over conn_id. */
int  rmq_routes_expire(rmq_routes *r, int64_t now_ms, int64_t expire_ms);
void rmq_routes_conn_closed(rmq_routes *r, uint64_t conn_id);
/* Remove a topic's queue data (of one cluster's brokers, or all). */
void rmq_routes_delete_topic(rmq_routes *r, const char *topic,
                             const char *cluster);

/* TopicRouteData JSON; RMQ_ERR_NOTFOUND when no route. */
int rmq_routes_topic_json(rmq_routes *r, const char *topic, rmq_buf *out);
/* ClusterInfo JSON. */
int rmq_routes_cluster_json(rmq_routes *r, rmq_buf *out);
/* TopicList JSON (all topics, or those of one cluster). */
int rmq_routes_topics_json(rmq_routes *r, const char *cluster, rmq_buf *out);

#endif
