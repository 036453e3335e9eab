/*
 * putter.h - a self-contained client of the store actors for tests and
 * the put benchmark: it plays an actor that owns a put ring (by default
 * the test actor's identity, whose ring and ipc://<runDir>/<owner>.in are
 * otherwise unused), creates topics through clwriter, encodes records and
 * puts them through the real put path (rmq_putc), and collects results.
 * Not used by the broker itself.  One thread.
 */
#ifndef RMQ_BROKER_PUTTER_H
#define RMQ_BROKER_PUTTER_H

#include "broker/put.h"
#include "net/ipc.h"
#include "shm/control.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct rmq_putter {
    rmq_ctl         ctl;
    rmq_putc        putc;
    rmq_ipc         in;     /* <owner>.in: PUT_RESULT, TOPIC_RESULT */
    rmq_ipc         to_clw; /* clwriter.in for TOPIC_UPDATE */
    int             owner;
    uint64_t        topic_seq;
    rmq_put_done_fn done;
    void           *done_arg;
    uint8_t         store_ip[4];
    int32_t         store_port;
} rmq_putter;

/* Attach to the broker whose run directory is run_dir, as actor owner. */
int  rmq_putter_open(rmq_putter *p, const char *run_dir, int owner,
                     size_t ring_bytes, rmq_put_done_fn done, void *arg);
void rmq_putter_close(rmq_putter *p);
/* Create (or update) a topic and wait for clwriter's answer. */
int rmq_putter_topic(rmq_putter *p, const char *name, int queues,
                     int timeout_ms);
/*
 * Encode one record (topic, queue, tags, keys, body) into the ring and
 * queue it; cookie comes back in the done callback.  RMQ_ERR_FULL when
 * the ring is full (poll first), RMQ_ERR_NOTFOUND for an unknown topic.
 */
int rmq_putter_put(rmq_putter *p, const char *topic, int32_t queue_id,
                   const char *tags, const char *keys, const void *body,
                   uint32_t body_len, uint32_t flags, uint64_t cookie);
/* Send what is queued, then wait up to timeout_ms for results. */
int rmq_putter_poll(rmq_putter *p, int timeout_ms);

#endif
