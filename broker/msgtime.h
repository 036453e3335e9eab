/*
 * msgtime.h - the store time of the message at a consume-queue index,
 * read from the store files (consume-queue entry, then the commit-log
 * record it points to): GET_CONSUME_STATS's lastTimestamp.
 *
 * Read-only mappings (store/cq.h, store/commitlog.h), opened on first
 * use and reopened when the store generation in the control segment
 * changes (a new recovery may have replaced files).  Owned by one thread
 * (the rebalancer); touches no shared memory itself: the caller passes
 * the published positions it may read up to.
 */
#ifndef RMQ_BROKER_MSGTIME_H
#define RMQ_BROKER_MSGTIME_H

#include "store/commitlog.h"
#include "store/cq.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct rmq_msgtime {
    char        *root; /* storePathRootDir */
    int64_t      cl_file_size;
    int64_t      cq_file_size;
    bool         open;
    uint64_t     store_gen; /* generation the mappings were opened in */
    rmq_cl       cl;
    rmq_cq_cache cqs;
} rmq_msgtime;

/* Nothing is opened yet.  Returns 0 or RMQ_ERR_NOMEM. */
int  rmq_msgtime_init(rmq_msgtime *m, const char *root, int64_t cl_file_size,
                      int64_t cq_file_size);
void rmq_msgtime_fini(rmq_msgtime *m);

/* Where a read may go: the positions the store writers published. */
typedef struct rmq_msgtime_limits {
    int64_t  queue_max; /* the queue's dispatched max offset */
    int64_t  cl_end;    /* commit log written position */
    uint64_t store_gen; /* store generation (reopen when it moves) */
} rmq_msgtime_limits;

/*
 * Store timestamp (ms) of topic/queue_id's message at index, or 0 when
 * there is none to read (index out of the dispatched window, files
 * missing, placeholder entry, record past cl_end).  Never blocks on
 * anything but page faults.
 */
int64_t rmq_msgtime_get(rmq_msgtime *m, const char *topic, int32_t queue_id,
                        int64_t index, const rmq_msgtime_limits *lim);

#endif
