/*
 * locks.h - ordered-consumption queue locks (LOCK_BATCH_MQ 41,
 * UNLOCK_BATCH_MQ 42; spec remoting 3 lock bodies).  One owner clientId
 * per (group, topic, brokerName, queueId); a lock is a lease of 60 s
 * (Java's rocketmq.broker.rebalance.lockMaxLiveTime) that the owner renews
 * by locking again (orderly consumers do so every 20 s).  An expired lock
 * goes to whoever asks next.
 *
 * Memory only, owned by the rebalancer (one thread); the caller passes
 * the clock (monotonic ms), so tests can move time.  A rebalancer restart
 * forgets every lock: owners re-lock within 20 s; for that window another
 * client may take a queue, which Java also allows after a broker restart.
 */
#ifndef RMQ_BROKER_LOCKS_H
#define RMQ_BROKER_LOCKS_H

#include "broker/groups.h"
#include "broker/strmap.h"
#include "common/buf.h"
#include "shm/control.h"

#include <stdbool.h>
#include <stdint.h>

#define RMQ_LOCK_LEASE_MS 60000
#define RMQ_BROKER_NAME_MAX 256
#define RMQ_LOCK_BATCH_MAX 4096 /* queues per request */

typedef struct rmq_mq {
    char    topic[RMQ_TOPIC_NAME_MAX];
    char    broker_name[RMQ_BROKER_NAME_MAX];
    int32_t queue_id;
} rmq_mq;

/* LockBatchRequestBody / UnlockBatchRequestBody. */
typedef struct rmq_lock_req {
    char     group[RMQ_GROUP_NAME_MAX];
    char     client_id[RMQ_CLIENT_ID_MAX];
    uint32_t n;
    rmq_mq  *mqs;
} rmq_lock_req;

/*
 * Parse {"consumerGroup":g,"clientId":c,"mqSet":[{"topic","brokerName",
 * "queueId"}...]}.  Returns 0 or RMQ_ERR_PROTO (remark says why).
 * Free with rmq_lock_req_free even on error.
 */
int  rmq_lock_req_parse(const void *body, size_t len, rmq_lock_req *out,
                        char *remark, size_t remark_cap);
void rmq_lock_req_free(rmq_lock_req *r);

typedef struct rmq_locks {
    rmq_strmap map; /* group/topic/broker/queue -> owner and renewal time */
    int64_t    lease_ms;
} rmq_locks;

void rmq_locks_init(rmq_locks *l, int64_t lease_ms);
void rmq_locks_fini(rmq_locks *l);
/*
 * Lock (or renew) each of mqs for client_id in group at now_ms.
 * locked[i] tells whether client_id holds mqs[i] afterwards.  Returns 0
 * or RMQ_ERR_NOMEM.
 */
int rmq_locks_try(rmq_locks *l, const char *group, const char *client_id,
                  const rmq_mq *mqs, uint32_t n, int64_t now_ms, bool *locked);
/* Release those of mqs that client_id holds; others stay as they are. */
void rmq_locks_unlock(rmq_locks *l, const char *group, const char *client_id,
                      const rmq_mq *mqs, uint32_t n);
/* Owner of a live lock, or NULL (free or expired). */
const char *rmq_locks_owner(const rmq_locks *l, const char *group,
                            const rmq_mq *mq, int64_t now_ms);
/* Forget expired locks (bounded memory); returns how many. */
uint32_t rmq_locks_expire(rmq_locks *l, int64_t now_ms);

/* {"lockOKMQSet":[MessageQueue...]} of the mqs with locked[i] set. */
int rmq_lock_result_json(const rmq_mq *mqs, const bool *locked, uint32_t n,
                         rmq_buf *out);

#endif
