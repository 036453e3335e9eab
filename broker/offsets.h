/*
 * offsets.h - consumer offsets (spec remoting 5.4, store-format.md 7): per
 * "topic@group" and queue id, the next queue offset the group will
 * consume.  Also the JSON built from it: consumerOffset.json (and the
 * GET_ALL_CONSUMER_OFFSET body, which is the same text) and ConsumeStats.
 *
 * Owned by the rebalancer (one thread), in memory; the rebalancer saves
 * it (store/jsonfile.h) to <storePathRootDir>/config/consumerOffset.json
 * every
 * flushConsumerOffsetInterval and when it stops, and loads it at start,
 * so a crash loses at most one interval of commits.
 *
 * rmq rule (not Java's): a commit never moves an offset backwards, so a
 * late or duplicated commit from a consumer that lost its queue in a
 * rebalance cannot rewind the group.  A request carrying ext
 * `force=true` (admin offset resets) may move it anywhere.
 */
#ifndef RMQ_BROKER_OFFSETS_H
#define RMQ_BROKER_OFFSETS_H

#include "broker/strmap.h"
#include "common/buf.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#define RMQ_OFFSET_QUEUE_MAX 65536 /* queue ids are below this */

typedef struct rmq_offsets {
    rmq_strmap tg;      /* "topic@group" -> its queues */
    uint64_t   changes; /* bumped on every stored change */
} rmq_offsets;

enum rmq_commit_result {
    RMQ_COMMIT_STORED = 0, /* the offset moved */
    RMQ_COMMIT_SAME = 1,   /* it was already there */
    RMQ_COMMIT_STALE = 2,  /* behind the stored one, not forced: ignored */
};

void rmq_offsets_init(rmq_offsets *o);
void rmq_offsets_fini(rmq_offsets *o);

/* The stored offset, or -1 when there is none. */
int64_t rmq_offsets_query(const rmq_offsets *o, const char *group,
                          const char *topic, int32_t queue_id);
/*
 * Commit offset for (group, topic, queue_id).  *result says what
 * happened.  Returns 0, RMQ_ERR_INVAL (empty or '@'-carrying topic, empty
 * group, queue id out of range, negative offset) or RMQ_ERR_NOMEM.
 */
int rmq_offsets_commit(rmq_offsets *o, const char *group, const char *topic,
                       int32_t queue_id, int64_t offset, bool force,
                       int *result);
/* Forget every offset of group (DELETE_SUBSCRIPTIONGROUP cleanOffset). */
void rmq_offsets_remove_group(rmq_offsets *o, const char *group);
/* Call fn once for every topic group has stored offsets for. */
void rmq_offsets_group_topics(const rmq_offsets *o, const char *group,
                              void (*fn)(void *arg, const char *topic),
                              void *arg);

/*
 * consumerOffset.json as fastjson writes it, bare integer queue keys:
 * {"offsetTable":{"T@G":{0:12,1:7},...}} (keys sorted).
 */
int rmq_offsets_json(const rmq_offsets *o, rmq_buf *out);
/*
 * Replace the whole table with the one in doc, a parsed consumerOffset.json
 * (rmq_jsonfile_load quotes bare keys).  On error the table is unchanged.
 * Returns 0, RMQ_ERR_PROTO (no offsetTable object) or RMQ_ERR_NOMEM.
 * Entries that are not "topic@group" -> {int: int} are skipped.
 */
int rmq_offsets_load_doc(rmq_offsets *o, json_t *doc);
/* The same from text, with bare or quoted integer keys. */
int rmq_offsets_load_json(rmq_offsets *o, const char *text, size_t len);

/* One ConsumeStats row: a MessageQueue and its OffsetWrapper. */
typedef struct rmq_cstats_row {
    const char *topic;
    int32_t     queue_id;
    int64_t     broker_offset;   /* queue max offset */
    int64_t     consumer_offset; /* committed, 0 when none */
    int64_t     last_timestamp;  /* store time at consumer_offset-1, or 0 */
} rmq_cstats_row;

/*
 * ConsumeStats in fastjson's MessageQueue-keyed form:
 * {"consumeTps":0.0,"offsetTable":{{"brokerName":"b","queueId":0,
 * "topic":"t"}:{"brokerOffset":N,"consumerOffset":N,"lastTimestamp":N}}}
 */
int rmq_consume_stats_json(const char *broker_name, const rmq_cstats_row *rows,
                           size_t n, double consume_tps, rmq_buf *out);

#endif
