/*
 * send.h - sending messages (SEND_MESSAGE_V2 310, SEND_BATCH_MESSAGE 320)
 * for producers and for a push consumer's own retry sends.
 *
 * A send job is prepared on the calling thread (validation, UNIQ_KEY,
 * properties text, compression or batch encoding) and then run on the
 * I/O thread: route lookup (TBW102 fallback for producers), queue choice
 * (round robin over the writable queues of masters; a retry prefers
 * another broker), the request, retries on the codes Java retries
 * (17, 14, 1, 16, 204, 205) and on timeouts/connection errors while time
 * and retries remain.  A fixed queue (ordered sends) is never changed.
 * When it ends, job->done runs on the I/O thread with the outcome in the
 * job; whoever owns the job frees it with rmq_send_job_free.
 */
#ifndef RMQ_CLIENT_SEND_H
#define RMQ_CLIENT_SEND_H

#include "client/core.h"

typedef struct rmq_send_job rmq_send_job;

typedef void (*rmq_send_done_fn)(rmq_send_job *job);

typedef struct rmq_send_cfg {
    const char *group;              /* header a */
    int         timeout_ms;         /* whole send, retries included */
    int         retries;            /* more attempts after the first */
    size_t      compress_threshold; /* 0: never */
    size_t      max_message_size;
    int32_t     reconsume_times; /* header j; -1: 0 */
    int32_t     max_reconsume;   /* header l; -1: not sent */
    bool        oneway;
} rmq_send_cfg;

struct rmq_send_job {
    rmq_sync  sync; /* for synchronous callers */
    rmq_core *core;
    char     *group;
    char     *topic;
    rmq_buf   body;  /* as sent */
    rmq_buf   props; /* properties text as sent (header i) */
    char      msg_id[RMQ_MSG_ID_MAX];
    int32_t   sys_flag;
    int32_t   flag;
    int64_t   born_ms;
    int32_t   reconsume_times;
    int32_t   max_reconsume;
    bool      batch;
    bool      oneway;
    int       count;
    char      fixed_broker[RMQ_BROKER_NAME_MAX]; /* "" : none */
    int       fixed_qid;
    int       retries_left;
    int64_t   deadline_ms; /* monotonic */
    char      last_broker[RMQ_BROKER_NAME_MAX];
    char      cur_broker[RMQ_BROKER_NAME_MAX];
    int       cur_qid;
    char      cur_addr[128];
    /* outcome */
    int              rc;
    rmq_error        err;
    rmq_send_result  res;
    rmq_send_done_fn done;
    void            *done_arg;
    rmq_send_cb      user_cb; /* async sends */
    void            *user_arg;
    /* batches: every message's UNIQ_KEY, and the broker's msgId list */
    char (*batch_ids)[RMQ_MSG_ID_MAX];
    char *offset_ids; /* "id,id,..." as answered, or NULL */
};

/* Caller thread: validate and encode one message. */
int rmq_send_prepare(rmq_core *c, const rmq_send_cfg *cfg,
                     const rmq_message *msg, rmq_send_job **out,
                     rmq_error *err);
/* Caller thread: validate and encode a batch (one topic, no delay). */
int rmq_send_prepare_batch(rmq_core *c, const rmq_send_cfg *cfg,
                           const rmq_message *const *msgs, size_t n,
                           rmq_send_job **out, rmq_error *err);
/*
 * After a batch was stored: the ids of its n messages (n == job->count;
 * offset ids from the broker's comma-separated msgId, "" when missing).
 */
void rmq_send_batch_ids(const rmq_send_job *job, rmq_batch_id *ids, size_t n);
/* Send to this queue only. */
int rmq_send_fix_queue(rmq_send_job *job, const rmq_queue *q, rmq_error *err);
/* I/O thread task: start the job (arg is the job). */
void rmq_send_run(rmq_cio *io, void *arg);
void rmq_send_job_free(rmq_send_job *job);

/* Whether a response code is worth another queue (Java's list). */
bool rmq_send_retryable(int response_code);

#endif
