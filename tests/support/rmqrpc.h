/*
 * rmqrpc.h - remoting helpers for Check tests that talk to a real broker
 * or name server over TCP, on top of the blocking client (net/rpc.h).
 *
 * Every helper fails the test (ck_abort) on a transport error: a test
 * that wants to see a connection break uses rmq_rpc_* directly.  A
 * response stays valid until the next call on the same rmq_rpc.  Request
 * strings are kept in static buffers until the call returns: one thread.
 */
#ifndef RMQ_TESTS_RMQRPC_H
#define RMQ_TESTS_RMQRPC_H

#include "net/rpc.h"
#include "store/record.h"

#include <stdbool.h>
#include <stdint.h>

/* Connect to "host:port"; calls then time out after timeout_ms (scaled). */
void rmqtest_rpc_connect(rmq_rpc *r, const char *addr, int timeout_ms);
/* Send o with body and return the response. */
const rmq_rcmd *rmqtest_rpc_call(rmq_rpc *r, rmq_rcmd_out *o, const void *body,
                                 uint32_t len);
/* A request with no body and at most one ext field (key NULL: none). */
const rmq_rcmd *rmqtest_rpc_simple(rmq_rpc *r, int code, const char *key,
                                   const char *value);
/* An ext field the response must carry, as text or as a number. */
const char *rmqtest_rpc_ext(const rmq_rcmd *c, const char *key);
int64_t     rmqtest_rpc_ext_i64(const rmq_rcmd *c, const char *key);
/*
 * The peer closes the connection within timeout_ms (EOF or reset)
 * without sending anything first.
 */
bool rmqtest_rpc_closed_by_peer(rmq_rpc *r, int timeout_ms);

/* UPDATE_AND_CREATE_TOPIC (17); returns the response code. */
int rmqtest_create_topic(rmq_rpc *r, const char *name, int queues, int perm);

/* One message to send. */
typedef struct rmqtest_msg {
    const char *topic;
    int32_t     qid; /* < 0: the broker picks */
    const char *tags;
    const char *keys;
    const void *body;
    uint32_t    body_len;
    const char *default_topic; /* NULL: field left out */
    int64_t     born_ts;       /* 0: now */
    int32_t     flag;
} rmqtest_msg;

/*
 * SEND_MESSAGE (10, long field names), SEND_MESSAGE_V2 (310) or
 * SEND_BATCH_MESSAGE (320: the body is the batch encoding), producer
 * group "PG".
 */
const rmq_rcmd *rmqtest_send(rmq_rpc *r, int code, const rmqtest_msg *m);

/* A PULL_MESSAGE of group "CG" whose sysFlag carries SUBSCRIPTION. */
typedef struct rmqtest_pull {
    const char *topic;
    int32_t     qid;
    int64_t     offset;
    int32_t     max;  /* 0: 32 */
    const char *expr; /* NULL: "*" */
    bool        suspend;
    int64_t     suspend_ms; /* 0: 15000 */
} rmqtest_pull;

const rmq_rcmd *rmqtest_pull_call(rmq_rpc *r, const rmqtest_pull *p);
/*
 * The records of a pull (or view) body, CRC checked: views into the
 * response body, at most cap of them (more fails the test).
 */
int rmqtest_records(const rmq_rcmd *resp, rmq_rec_view *out, int cap);

#endif
