/*
 * pool.h - a small fixed thread pool with a FIFO task queue: the async
 * send callback threads of a producer and the consume threads of a push
 * consumer.  Tasks run in submission order per thread pick-up; a task
 * still queued at stop is either run or cancelled, never dropped.
 */
#ifndef RMQ_CLIENT_POOL_H
#define RMQ_CLIENT_POOL_H

#include <stdbool.h>

typedef struct rmq_pool rmq_pool;

/* cancelled: the pool stopped before the task ran; clean up only. */
typedef void (*rmq_pool_fn)(void *arg, bool cancelled);

int rmq_pool_new(int nthreads, rmq_pool **out);
/* Any thread.  0, or RMQ_CLIENT_ERR_CLOSED after stop / _NOMEM. */
int rmq_pool_submit(rmq_pool *p, rmq_pool_fn fn, void *arg);
/*
 * Refuse new tasks, then run (run_queued) or cancel what is queued, wait
 * for running tasks and join.  Not from a pool thread.  Idempotent.
 */
void rmq_pool_stop(rmq_pool *p, bool run_queued);
void rmq_pool_free(rmq_pool *p);
bool rmq_pool_on_thread(rmq_pool *p);
/* Tasks queued, not yet started. */
int rmq_pool_queued(rmq_pool *p);

#endif
