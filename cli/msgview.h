/*
 * msgview.h - one received message as rmqctl prints it, whether it came
 * from a pull (consume: librmq's rmq_message_ext) or from a raw commit-log
 * record (msg get: store/record.h).  rmqctl only.
 *
 * People get a block of aligned "name  value" lines ending in a blank
 * line; --json gets one compact object (consume prints one per line):
 *
 *   {"topic","brokerName"|null,"queueId","queueOffset","commitLogOffset",
 *    "msgId","offsetMsgId","tags"|null,"keys"|null,"properties":{k:v},
 *    "reconsumeTimes","flag","sysFlag","bornTimestamp","bornHost",
 *    "storeTimestamp","storeHost","bodyLength","bodyEncoding":"text"|"hex",
 *    "body"}
 *
 * The body is text when it is valid UTF-8 without control characters
 * other than tab, CR and LF; otherwise uppercase hex.
 */
#ifndef RMQ_CLI_MSGVIEW_H
#define RMQ_CLI_MSGVIEW_H

#include "proto/props.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>

typedef struct rmqctl_msg {
    const char    *topic;
    const char    *broker_name; /* NULL when unknown */
    int32_t        queue_id;
    int64_t        queue_offset;
    int64_t        commitlog_offset;
    const char    *msg_id;        /* UNIQ_KEY, else the offset id */
    const char    *offset_msg_id; /* store host + commit-log offset */
    const char    *tags;          /* NULL when none */
    const char    *keys;          /* NULL when none */
    rmq_props      props;         /* every property, as stored */
    int32_t        reconsume_times;
    int32_t        flag;
    int32_t        sysflag;
    int64_t        born_ms;
    const char    *born_host;
    int64_t        store_ms;
    const char    *store_host;
    const uint8_t *body;
    size_t         body_len;
} rmqctl_msg;

/* The JSON object above (new reference; NULL when out of memory). */
json_t *rmqctl_msg_json(const rmqctl_msg *m);
/* The block for people, then a blank line. */
void rmqctl_msg_print(const rmqctl_msg *m, FILE *out);

#endif
