/*
 * topics.h - the topic table: <storeRoot>/config/topics.json (spec
 * store-format.md 7) and its live copy in the control segment
 * (shm/control.h: rmq_topic_entry[], the hash index, the queue arrays).
 *
 * Writer side only, run by clwriter, the one writer of the topic table
 * and of topics.json: load the file at start, create the default system
 * topics, create/update/revive and delete topics, save the file.  Each
 * entry is written under its seqlock; a new entry is published in the
 * hash index (release store) only once it is complete, and topics_gen
 * is bumped after every change so other actors re-read.  Readers in any
 * process use rmq_ctl_topic_find()/rmq_ctl_topic_read() (shm/control.c).
 *
 * Queue slots: a topic owns queue_cap consecutive slots of the queue
 * arrays from queue_base (cap = max(read, write) queues when allocated).
 * A deleted topic keeps its entry (names never change) and its slots, so
 * re-creating it revives both.  A topic that grows past its cap moves to
 * a new range; so do slots reclaimed from deleted topics when the arrays
 * are full.  Fresh slots get next_offset from the init_offset callback
 * (clwriter passes its recovery results) or 0.  rmq_queue_d belongs to
 * the dispatcher: it must re-publish min/max offsets for a topic whose
 * queue_base changed (it sees topics_gen move).
 */
#ifndef RMQ_STORE_TOPICS_H
#define RMQ_STORE_TOPICS_H

#include "common/config.h"
#include "shm/control.h"

#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RMQ_TOPICS_FILE "config/topics.json" /* under the store root */

/* PermName bits. */
#define RMQ_PERM_PRIORITY 0x8
#define RMQ_PERM_READ 0x4
#define RMQ_PERM_WRITE 0x2
#define RMQ_PERM_INHERIT 0x1

#define RMQ_TOPIC_QUEUES_MAX 1024
#define RMQ_TOPIC_QUEUES_DEFAULT 16 /* TopicConfig defaults */
#define RMQ_TOPIC_PERM_DEFAULT (RMQ_PERM_READ | RMQ_PERM_WRITE)

#define RMQ_TOPIC_TBW102 "TBW102"
#define RMQ_TOPIC_SELF_TEST "SELF_TEST_TOPIC"
#define RMQ_TOPIC_OFFSET_MOVED "OFFSET_MOVED_EVENT"
#define RMQ_TOPIC_REPLY_SUFFIX "_REPLY_TOPIC"

/* One TopicConfig. */
typedef struct rmq_topic_conf {
    char     name[RMQ_TOPIC_NAME_MAX];
    int32_t  read_queues;  /* readQueueNums, 1..1024 */
    int32_t  write_queues; /* writeQueueNums, 1..1024 */
    int32_t  perm;         /* RMQ_PERM_* */
    int32_t  sysflag;      /* topicSysFlag */
    uint32_t flags;        /* RMQ_TOPIC_F_ORDER, RMQ_TOPIC_F_MULTI_TAG */
} rmq_topic_conf;

/* next_offset for a fresh queue slot of topic/queue_id. */
typedef int64_t (*rmq_topics_init_offset_fn)(void *arg, const char *topic,
                                             int32_t queue_id);

/* clwriter's handle on the table and the file. */
typedef struct rmq_topics {
    rmq_ctl *ctl;
    char     path[PATH_MAX]; /* <storeRoot>/config/topics.json */
    int64_t  dv_counter;     /* dataVersion.counter */
    int64_t  dv_ms;          /* dataVersion.timestamp */
    bool     dirty;          /* changed since the last save */
    rmq_topics_init_offset_fn init_offset;
    void                     *init_arg;
} rmq_topics;

/* Topic name rule of the send path: ^[%|a-zA-Z0-9_-]+$, <= 127 bytes. */
bool rmq_topic_name_valid(const char *name, size_t len);
/* TopicConfig(name) defaults: 16/16 queues, perm 6, SINGLE_TAG. */
void rmq_topic_conf_default(rmq_topic_conf *c, const char *name);

/*
 * Load topics.json (or its .bak) into the table and remember its
 * dataVersion.  A missing file is an empty table; an entry that is not
 * valid is logged and skipped.  init_offset may be NULL.  Returns 0,
 * RMQ_ERR_CORRUPT when neither file parses, RMQ_ERR_FULL when the table
 * cannot hold them.
 */
int rmq_topics_open(rmq_topics *t, rmq_ctl *ctl, const char *store_root,
                    rmq_topics_init_offset_fn init_offset, void *init_arg);

/*
 * Create, update or revive a topic.  Returns 0 (also when nothing
 * changed), RMQ_ERR_INVAL for a bad name, queue count or perm,
 * RMQ_ERR_FULL when no entry or queue slots are left.  A change bumps
 * dataVersion and topics_gen and marks the file dirty.
 */
int rmq_topics_put(rmq_topics *t, const rmq_topic_conf *c);
/* Mark a topic deleted.  RMQ_ERR_NOTFOUND if it is not live. */
int rmq_topics_delete(rmq_topics *t, const char *name, size_t len);
/*
 * The topics a broker creates at start when they do not exist:
 * SELF_TEST_TOPIC, TBW102 (autoCreateTopicEnable), <cluster>,
 * <brokerName>, OFFSET_MOVED_EVENT, SCHEDULE_TOPIC_XXXX (one queue per
 * delay level), <cluster>_REPLY_TOPIC.  A name from the configuration
 * that is not a valid topic is logged and skipped.
 */
int rmq_topics_create_defaults(rmq_topics *t, const rmq_broker_config *cfg);
/* Write topics.json when dirty.  Blocks on disk I/O. */
int rmq_topics_save(rmq_topics *t);
/*
 * One TopicConfig as JSON (topics.json entries, and the broker's
 * registration body); a new reference or NULL.
 */
json_t *rmq_topic_entry_json(const rmq_topic_entry *e);

#endif
