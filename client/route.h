/*
 * route.h - topic routes (TopicRouteData, spec/remoting-protocol.md 3):
 * parsing the name server's JSON (quoted or bare numeric brokerAddrs keys)
 * into an immutable, reference-counted rmq_route with the derived queue
 * lists producers and consumers use.  A route is shared between threads
 * read-only; only refs and send_index change, atomically.
 */
#ifndef RMQ_CLIENT_ROUTE_H
#define RMQ_CLIENT_ROUTE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RMQ_MASTER_ID 0

typedef struct rmq_broker_addr {
    int64_t id;
    char   *addr;
} rmq_broker_addr;

typedef struct rmq_broker_data {
    char            *name;
    char            *cluster;
    size_t           naddrs;
    rmq_broker_addr *addrs;
} rmq_broker_data;

typedef struct rmq_queue_data {
    char   *broker_name;
    int32_t read_queues;
    int32_t write_queues;
    int32_t perm;
} rmq_queue_data;

/* A message queue of a route; broker points into the route. */
typedef struct rmq_mq {
    const char *broker;
    int32_t     qid;
} rmq_mq;

typedef struct rmq_route {
    atomic_int       refs;
    char            *topic;
    size_t           nbrokers;
    rmq_broker_data *brokers; /* sorted by name */
    size_t           nqdatas;
    rmq_queue_data  *qdatas; /* sorted by broker name */
    size_t           npub;
    rmq_mq          *pub; /* writable queues of brokers with a master */
    size_t           nsub;
    rmq_mq          *sub;          /* readable queues */
    bool             from_default; /* built from TBW102 (auto-creation) */
    int64_t          fetched_ms;   /* monotonic */
    atomic_uint      send_index;   /* round robin over pub */
} rmq_route;

/*
 * Parse the body of a GET_ROUTEINFO_BY_TOPIC answer for topic.  Returns 0
 * with *out (refs 1), or RMQ_CLIENT_ERR_PROTO / _NOMEM.
 */
int rmq_route_parse(const char *topic, const char *json, size_t len,
                    rmq_route **out);
/*
 * A route for topic built from the TBW102 route, with at most max_queues
 * read/write queues per broker (Java: min(defaultTopicQueueNums, read)).
 */
int  rmq_route_from_default(const rmq_route *tbw, const char *topic,
                            int max_queues, rmq_route **out);
void rmq_route_retain(rmq_route *r);
void rmq_route_release(rmq_route *r);
/* The broker data of name, or NULL. */
const rmq_broker_data *rmq_route_broker(const rmq_route *r, const char *name);
/* The address of broker name's master (id 0), or NULL. */
const char *rmq_route_master(const rmq_route *r, const char *name);
/* Whether two routes have the same brokers and queues. */
bool rmq_route_same(const rmq_route *a, const rmq_route *b);

#endif
