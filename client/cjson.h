/*
 * cjson.h - the JSON bodies librmq builds and reads (jansson):
 * HeartbeatData (HEART_BEAT), GetConsumerListByGroupResponseBody, the
 * lock bodies of LOCK_BATCH_MQ / UNLOCK_BATCH_MQ, and the fastjson
 * bare-key repair used before parsing routes (spec/remoting-protocol.md
 * 1.4 and 3).  Pure functions.
 */
#ifndef RMQ_CLIENT_CJSON_H
#define RMQ_CLIENT_CJSON_H

#include "client/tagexpr.h"
#include "common/buf.h"

#include <stddef.h>
#include <stdint.h>

typedef struct rmq_hb_sub {
    const char        *topic;
    const rmq_tagexpr *expr;
    int64_t            version; /* subVersion, ms */
} rmq_hb_sub;

typedef struct rmq_hb_consumer {
    const char       *group;
    const char       *consume_type;  /* "CONSUME_PASSIVELY" / "..._ACTIVELY" */
    const char       *message_model; /* "CLUSTERING" / "BROADCASTING" */
    const char       *consume_from;  /* "CONSUME_FROM_LAST_OFFSET", ... */
    const rmq_hb_sub *subs;
    size_t            nsubs;
} rmq_hb_consumer;

/*
 * HeartbeatData: {"clientID", "consumerDataSet":[...], "producerDataSet":
 * [{"groupName"}]}, compact, keys sorted as fastjson writes them.
 * producer_group and consumer may be NULL.  Returns 0 or _NOMEM.
 */
int rmq_cjson_heartbeat(const char *client_id, const char *producer_group,
                        const rmq_hb_consumer *consumer, rmq_buf *out);

/*
 * Parse {"consumerIdList":[...]} into a malloc'd array of malloc'd
 * strings.  Returns 0 or RMQ_CLIENT_ERR_PROTO / _NOMEM.
 */
int  rmq_cjson_consumer_ids(const uint8_t *body, size_t len, char ***ids,
                            size_t *n);
void rmq_cjson_ids_free(char **ids, size_t n);

/* A MessageQueue of a lock body. */
typedef struct rmq_cjson_mq {
    char   *topic;
    char   *broker;
    int32_t qid;
} rmq_cjson_mq;

/*
 * LockBatchRequestBody / UnlockBatchRequestBody: {"clientId",
 * "consumerGroup", "mqSet":[{"brokerName","queueId","topic"}...]},
 * compact, keys sorted.  Returns 0 or _NOMEM.
 */
int rmq_cjson_lock_body(const char *group, const char *client_id,
                        const rmq_cjson_mq *mqs, size_t n, rmq_buf *out);

/*
 * Parse the LOCK_BATCH_MQ answer {"lockOKMQSet":[MessageQueue...]} into
 * a malloc'd array (queueId as a number or a numeric string).  An
 * absent or empty set is no queue.  Returns 0 or RMQ_CLIENT_ERR_PROTO /
 * _NOMEM.
 */
int  rmq_cjson_lock_ok(const uint8_t *body, size_t len, rmq_cjson_mq **mqs,
                       size_t *n);
void rmq_cjson_mqs_free(rmq_cjson_mq *mqs, size_t n);

/*
 * Copy JSON text to out, quoting bare numeric object keys ({0:"a"} ->
 * {"0":"a"}), which fastjson writes for maps keyed by numbers.  Strings
 * and array elements are left alone.  Returns 0 or RMQ_CLIENT_ERR_PROTO
 * (nesting deeper than 64) / _NOMEM.
 */
int rmq_cjson_quote_keys(const char *text, size_t len, rmq_buf *out);

#endif
