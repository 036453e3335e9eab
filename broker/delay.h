/*
 * delay.h - delay levels (spec/store-format.md 13, remoting-protocol.md
 * 5.1 item 7): the two rewrites a delayed message goes through.
 *
 * Send side (the acceptor's SEND_MESSAGE and CONSUMER_SEND_MSG_BACK
 * paths): a message with DELAY=n > 0 and transaction type none or commit
 * is stored in SCHEDULE_TOPIC_XXXX queue n-1 (n clamped to the number of
 * levels) with its real topic and queue in the REAL_TOPIC and REAL_QID
 * properties.  The dispatcher then gives its consume-queue entry the
 * delivery time as tagsCode.
 *
 * Delivery side (the scheduler): once due, the schedule-topic record is
 * rebuilt as a record of its real topic and queue (same body, flags, born
 * time and host, reconsume times; properties minus DELAY) and put again.
 *
 * Pure functions over caller memory: no shared state, no allocation, no
 * system calls.  Records and properties come from clients or from disk:
 * every field is checked, nothing is asserted.
 */
#ifndef RMQ_BROKER_DELAY_H
#define RMQ_BROKER_DELAY_H

#include "broker/host.h"
#include "proto/props.h"
#include "store/record.h"

#include <stdint.h>

#ifndef RMQ_PROP_DELAY
#define RMQ_PROP_DELAY "DELAY"
#endif
#ifndef RMQ_PROP_REAL_TOPIC
#define RMQ_PROP_REAL_TOPIC "REAL_TOPIC"
#endif
#ifndef RMQ_PROP_REAL_QID
#define RMQ_PROP_REAL_QID "REAL_QID"
#endif
#ifndef RMQ_TOPIC_TRANS_HALF
#define RMQ_TOPIC_TRANS_HALF "RMQ_SYS_TRANS_HALF_TOPIC"
#endif

/*
 * Where a delayed message is stored.  The rewritten properties point into
 * level_text and qid_text, so this must outlive them (until they are
 * written out with rmq_props_write).
 */
typedef struct rmq_delay_target {
    int         level; /* 1..levels; 0: the message is not delayed */
    const char *topic; /* RMQ_SCHEDULE_TOPIC */
    uint32_t    topic_len;
    int32_t     queue_id;       /* level - 1 */
    char        level_text[12]; /* the stored DELAY value */
    char        qid_text[12];   /* the stored REAL_QID value */
} rmq_delay_target;

/*
 * The delay level a message asks for: its DELAY property as a decimal
 * (Java's Integer.parseInt: optional sign, digits), clamped to levels.
 * 0 (no delay) when DELAY is absent, not a number, <= 0, or levels <= 0.
 */
int rmq_delay_level(const rmq_props *props, int levels);

/*
 * Send side: if the message (topic, queue_id, sysflag, props) must be
 * delayed, rewrite props to what is stored -- DELAY=<level> (clamped,
 * canonical decimal), REAL_TOPIC=<topic>, REAL_QID=<queue_id>, each
 * replacing an existing value in place or appended at the end, every
 * other property untouched -- and fill *out (level > 0) with the schedule
 * topic and queue to store it in.  Otherwise leave props alone and set
 * out->level = 0.  Only transaction types none and commit are delayed.
 *
 * props keeps pointers into topic and *out: both must outlive props.
 * Returns 0, RMQ_ERR_INVAL (topic empty or longer than 127 bytes, or
 * queue_id < 0 while the message is delayed), or RMQ_ERR_TOOBIG when
 * props has no room for the added keys (props unchanged then).
 */
int rmq_delay_rewrite(rmq_props *props, const char *topic, uint32_t topic_len,
                      int32_t queue_id, uint32_t sysflag, int levels,
                      rmq_delay_target *out);

/*
 * Delivery side: the record to put for one due schedule-topic record.
 * msg is ready for rmq_rec_size() and rmq_rec_encode() (straight into
 * the reserved put-ring space); its pointers refer into the view's record
 * (topic name, body) and into props here, so the record must stay mapped
 * and this struct must not move until the encode.
 */
typedef struct rmq_delay_msg {
    rmq_rec_msg msg;
    char        props[RMQ_REC_PROPS_MAX]; /* the properties minus DELAY */
} rmq_delay_msg;

/*
 * Build the delivery of the decoded schedule-topic record v: topic =
 * REAL_TOPIC, queue = REAL_QID, the same body and bodyCRC, flag, sysFlag,
 * born timestamp and host, reconsumeTimes and preparedTransactionOffset;
 * store host = host; properties = v's well-formed items in order, without
 * DELAY, joined by U+0002 with no trailing separator (TAGS stays, so the
 * dispatcher recomputes the tag hash; REAL_TOPIC and REAL_QID stay, as
 * Java keeps them).  When a key repeats, the last value counts (Java's
 * HashMap).
 *
 * Returns 0, RMQ_ERR_NOTFOUND when REAL_TOPIC or REAL_QID is missing,
 * RMQ_ERR_INVAL when either is invalid (REAL_TOPIC longer than 127 bytes
 * or the schedule topic itself, REAL_QID not a non-negative int32, v not
 * a message record), or RMQ_ERR_PERM when REAL_TOPIC is the transaction
 * half topic (Java drops such messages).  The caller checks that the
 * topic exists and has the queue.
 */
int rmq_delay_unwrap(const rmq_rec_view *v, const rmq_host *host,
                     rmq_delay_msg *out);

#endif
