/*
 * msgtime.c - store time of a queued message (msgtime.h).  Runs in the
 * rebalancer process.
 */
#include "broker/msgtime.h"

#include "common/err.h"
#include "common/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MT_OPEN_QUEUES 64 /* consume queues kept mapped */

int
rmq_msgtime_init(rmq_msgtime *m, const char *root, int64_t cl_file_size,
                 int64_t cq_file_size)
{
    memset(m, 0, sizeof(*m));
    m->root = strdup(root);
    m->cl_file_size = cl_file_size;
    m->cq_file_size = cq_file_size;
    return m->root != NULL ? 0 : RMQ_ERR_NOMEM;
}

static void
mt_close(rmq_msgtime *m)
{
    if (m->open) {
        rmq_cq_cache_fini(&m->cqs);
        rmq_cl_close(&m->cl);
        m->open = false;
    }
}

void
rmq_msgtime_fini(rmq_msgtime *m)
{
    mt_close(m);
    free(m->root);
    memset(m, 0, sizeof(*m));
}

static int
mt_open(rmq_msgtime *m, uint64_t store_gen)
{
    char              dir[4096];
    rmq_cl_opts       clo = {0};
    rmq_cq_cache_opts cqo = {0};
    int               rc;

    snprintf(dir, sizeof(dir), "%s/%s", m->root, RMQ_CL_DIR);
    clo.dir = dir;
    clo.file_size = m->cl_file_size;
    clo.writable = false;
    if ((rc = rmq_cl_open(&m->cl, &clo)) != 0) {
        return rc;
    }
    cqo.root = m->root;
    cqo.file_size = m->cq_file_size;
    cqo.writable = false;
    cqo.max_open = MT_OPEN_QUEUES;
    if ((rc = rmq_cq_cache_init(&m->cqs, &cqo)) != 0) {
        rmq_cl_close(&m->cl);
        return rc;
    }
    m->open = true;
    m->store_gen = store_gen;
    return 0;
}

int64_t
rmq_msgtime_get(rmq_msgtime *m, const char *topic, int32_t queue_id,
                int64_t index, const rmq_msgtime_limits *lim)
{
    rmq_cq      *cq;
    rmq_cq_entry e;
    rmq_rec_view v;

    if (index < 0 || index >= lim->queue_max || lim->cl_end <= 0) {
        return 0;
    }
    if (m->open && m->store_gen != lim->store_gen) {
        mt_close(m); /* recovered anew: files may have been replaced */
    }
    if (!m->open && mt_open(m, lim->store_gen) != 0) {
        return 0;
    }
    if (rmq_cq_cache_get(&m->cqs, topic, strlen(topic), queue_id, &cq) != 0 ||
        rmq_cq_get(cq, index, &e) != 0 || !rmq_cq_entry_is_valid(&e) ||
        rmq_cq_entry_is_placeholder(&e)) {
        return 0;
    }
    if (rmq_cl_read(&m->cl, e.offset, lim->cl_end, false, &v) != 0 ||
        v.kind != RMQ_REC_MSG) {
        return 0;
    }
    return v.store_ts;
}
