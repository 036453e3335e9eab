/*
 * recovery.c - store lock, abort file, and start-up recovery of the
 * commit log and consume queues (see recovery.h).  Run by clwriter at
 * start, before anything is written; holds the store lock, so nothing
 * else writes the files meanwhile.  Touches commitlog/, consumequeue/,
 * checkpoint, abort and lock under the store root.
 */
#include "store/recovery.h"

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "store/checkpoint.h"
#include "store/commitlog.h"
#include "store/cq.h"
#include "store/mfile.h"
#include "store/record.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

/* ---- lock and abort files ------------------------------------------- */

static int
rcv_try_lock(int fd)
{
    struct flock fl;

    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        return errno;
    }
    memset(&fl, 0, sizeof(fl));
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    fl.l_start = 0;
    fl.l_len = 1;
    return fcntl(fd, F_OFD_SETLK, &fl) == 0 ? 0 : errno;
}

int
rmq_store_lock(const char *root, int *fd_out)
{
    char path[PATH_MAX];
    int  fd, err;

    (void)rmq_mfq_mkdirs(root);
    snprintf(path, sizeof(path), "%s/%s", root, RMQ_LOCK_FILE);
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        rmq_log_sys(RMQ_LOG_ERR, "store.lock", errno,
                    "could not open lock file \"%s\"", path);
        return RMQ_ERR_SYS;
    }
    err = rcv_try_lock(fd);
    if (err != 0) {
        close(fd);
        if (err == EWOULDBLOCK || err == EAGAIN || err == EACCES) {
            rmq_log(RMQ_LOG_ERR, "store.lock",
                    "store already in use: another process holds \"%s\"", path);
            return RMQ_ERR_BUSY;
        }
        rmq_log_sys(RMQ_LOG_ERR, "store.lock", err, "could not lock \"%s\"",
                    path);
        return RMQ_ERR_SYS;
    }
    if (pwrite(fd, "lock", 4, 0) != 4) {
        rmq_log_sys(RMQ_LOG_WARN, "store.lock", errno, "could not write \"%s\"",
                    path);
    }
    *fd_out = fd;
    return 0;
}

void
rmq_store_unlock(int fd)
{
    if (fd >= 0) {
        close(fd); /* releases both locks */
    }
}

static void
rcv_abort_path(const char *root, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s", root, RMQ_ABORT_FILE);
}

bool
rmq_store_abort_exists(const char *root)
{
    char path[PATH_MAX];

    rcv_abort_path(root, path, sizeof(path));
    return access(path, F_OK) == 0;
}

int
rmq_store_abort_create(const char *root)
{
    char path[PATH_MAX];
    int  fd;

    rcv_abort_path(root, path, sizeof(path));
    fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        rmq_log_sys(RMQ_LOG_ERR, "store.abort", errno,
                    "could not create \"%s\"", path);
        return RMQ_ERR_SYS;
    }
    close(fd);
    rmq_mfq_sync_dir(root);
    return 0;
}

int
rmq_store_abort_remove(const char *root)
{
    char path[PATH_MAX];

    rcv_abort_path(root, path, sizeof(path));
    if (unlink(path) != 0 && errno != ENOENT) {
        rmq_log_sys(RMQ_LOG_ERR, "store.abort", errno,
                    "could not remove \"%s\"", path);
        return RMQ_ERR_SYS;
    }
    rmq_mfq_sync_dir(root);
    return 0;
}

/* ---- recovery context ------------------------------------------------ */

typedef struct rcv_queue {
    rmq_qkey key; /* first: the map links it */
    int64_t  cq_min;
    int64_t  cq_max;
    int64_t  cl_next; /* 1 + highest queue offset seen in the log */
} rcv_queue;

typedef struct rcv_ctx {
    const rmq_store_opts *o;
    rmq_store_state      *st;
    rmq_cl                cl;
    rmq_qmap              map;
    rcv_queue           **qs;
    size_t                nq, capq;
} rcv_ctx;

/* The entry of topic/queue_id, created on first use. */
static int
rcv_queue_get(rcv_ctx *c, const char *topic, size_t len, int32_t qid,
              rcv_queue **out)
{
    rmq_qkey  *k = rmq_qmap_find(&c->map, topic, len, qid);
    rcv_queue *q;

    if (k != NULL) {
        *out = (rcv_queue *)k;
        return 0;
    }
    if (c->nq == c->capq) {
        size_t      ncap = c->capq ? c->capq * 2 : 256;
        rcv_queue **nq = realloc(c->qs, ncap * sizeof(*nq));

        if (nq == NULL) {
            return RMQ_ERR_NOMEM;
        }
        c->qs = nq;
        c->capq = ncap;
    }
    q = calloc(1, sizeof(*q));
    if (q == NULL) {
        return RMQ_ERR_NOMEM;
    }
    if (rmq_qkey_set(&q->key, topic, len, qid) != 0) {
        free(q);
        return RMQ_ERR_INVAL;
    }
    if (rmq_qmap_insert(&c->map, &q->key) != 0) {
        free(q);
        return RMQ_ERR_NOMEM;
    }
    c->qs[c->nq++] = q;
    *out = q;
    return 0;
}

static void
rcv_ctx_free(rcv_ctx *c)
{
    for (size_t i = 0; i < c->nq; i++) {
        free(c->qs[i]);
    }
    free(c->qs);
    rmq_qmap_fini(&c->map);
    rmq_cl_close(&c->cl);
}

/* ---- commit log ------------------------------------------------------ */

/*
 * Check the record at pos.  Besides rmq_rec_decode's checks, a message
 * must carry its own position as physicalOffset (a record that does not
 * is not where its writer put it).  *why names the failure.
 */
static int
rcv_check(const uint8_t *p, int64_t avail, int64_t pos, bool crc,
          rmq_rec_view *v, const char **why)
{
    int rc = rmq_rec_decode(p, (size_t)avail, crc, v);

    if (rc == 0 && v->kind == RMQ_REC_MSG && v->phys_offset != pos) {
        *why = "wrong physical offset";
        return RMQ_ERR_CORRUPT;
    }
    if (rc == 0) {
        return 0;
    }
    if (crc && rmq_rec_decode(p, (size_t)avail, false, v) == 0 &&
        v->kind == RMQ_REC_MSG) {
        *why = "body CRC mismatch";
    } else if (avail >= 8 && rmq_be32(p + 4) != RMQ_REC_MAGIC_V1 &&
               rmq_be32(p + 4) != RMQ_REC_MAGIC_V2 &&
               rmq_be32(p + 4) != RMQ_REC_MAGIC_BLANK) {
        *why = "bad magic";
    } else {
        *why = "bad length";
    }
    return RMQ_ERR_CORRUPT;
}

/* Where a walk over checked records stopped. */
typedef struct rcv_walk {
    int64_t     pos;     /* after the last good record */
    int64_t     records; /* good records seen */
    int64_t     last_store_ms;
    const char *why; /* NULL: a clean end; else the failed check */
} rcv_walk;

/*
 * Check records from pos on, through BLANKs into the next file, up to
 * zero bytes, the end of the files or the first bad record.  After a
 * BLANK in the last file the walk stays at the BLANK (as Java does): the
 * writer rolls again from there.
 */
static int
rcv_walk_from(rmq_cl *cl, int64_t pos, bool crc, rcv_walk *w)
{
    memset(w, 0, sizeof(*w));
    for (;;) {
        uint8_t     *p;
        int64_t      avail;
        rmq_rec_view v;
        int          rc = rmq_mfq_span(&cl->q, pos, &p, &avail);

        if (rc != 0 || rcv_check(p, avail, pos, crc, &v, &w->why) != 0 ||
            v.kind == RMQ_REC_END) {
            w->pos = pos;
            return rc == RMQ_ERR_NOTFOUND ? 0 : rc;
        }
        if (v.kind == RMQ_REC_BLANK) {
            int64_t next = rmq_mfq_file_start(&cl->q, pos) + cl->q.file_size;

            if (next >= rmq_mfq_max_offset(&cl->q)) {
                w->pos = pos;
                return 0;
            }
            pos = next;
            continue;
        }
        w->records++;
        w->last_store_ms = v.store_ts;
        pos += v.total_size;
    }
}

/*
 * After bad bytes at pos, where a good record starts again in the same
 * file: right after the bad record when its length is readable, else at
 * the next v1 magic whose record checks out with its own offset.  -1 if
 * nothing does.
 */
static int64_t
rcv_resync(const uint8_t *p, int64_t avail, int64_t pos)
{
    static const uint8_t magic[4] = {0xDA, 0xA3, 0x20, 0xA7};
    const uint8_t       *end = p + avail;
    const uint8_t       *hit = p + 5;
    rmq_rec_view         v;
    const char          *why;

    if (rmq_rec_decode(p, (size_t)avail, false, &v) == 0 &&
        v.kind == RMQ_REC_MSG) {
        return pos + v.total_size;
    }
    while (hit < end &&
           (hit = memmem(hit, (size_t)(end - hit), magic, 4)) != NULL) {
        const uint8_t *r = hit - 4;
        int64_t        at = pos + (r - p);

        if (rcv_check(r, end - r, at, true, &v, &why) == 0 &&
            v.kind == RMQ_REC_MSG) {
            return at;
        }
        hit++;
    }
    return -1;
}

/* Fill the stop report: why, where, and what is lost behind it. */
static void
rcv_report(rcv_ctx *c, const rcv_walk *bad)
{
    rmq_store_state *st = c->st;
    char             path[PATH_MAX];
    uint8_t         *p;
    int64_t          avail, at = -1;
    rcv_walk         after = {0};

    st->stop_offset = bad->pos;
    st->stop_file = rmq_mfq_file_start(&c->cl.q, bad->pos);
    st->corrupt_records = 1;
    rmq_strlcpy(st->stop_reason, bad->why, sizeof(st->stop_reason));
    if (rmq_mfq_span(&c->cl.q, bad->pos, &p, &avail) == 0) {
        at = rcv_resync(p, avail, bad->pos);
    }
    if (at >= 0 && rcv_walk_from(&c->cl, at, true, &after) == 0 &&
        after.records > 0) {
        st->dropped_records = after.records;
        st->dropped_bytes = after.pos - bad->pos;
    }
    st->stop = st->dropped_records > 0 ? RMQ_CL_STOP_CORRUPT : RMQ_CL_STOP_TORN;
    rmq_mfq_path(&c->cl.q, st->stop_file, path, sizeof(path));
    rmq_log(st->stop == RMQ_CL_STOP_CORRUPT ? RMQ_LOG_ERR : RMQ_LOG_WARN,
            "cl.recover",
            "%s in commit-log file \"%s\" at offset %" PRId64
            " of the file (physical %" PRId64 "): %s; truncating there%s"
            " (%" PRId64 " later records, %" PRId64 " bytes, dropped)",
            st->stop == RMQ_CL_STOP_CORRUPT ? "corrupt record" : "torn tail",
            path, bad->pos - st->stop_file, bad->pos, bad->why,
            st->stop == RMQ_CL_STOP_CORRUPT ? ", data after it is lost" : "",
            st->dropped_records, st->dropped_bytes);
}

/* Normal restart: check the last three files (spec 8.2). */
static int64_t
rcv_start_normal(const rmq_cl *cl)
{
    uint32_t n = cl->q.nfiles;

    return n == 0 ? 0 : cl->q.files[n >= 3 ? n - 3 : 0].start;
}

/* Does file i start with a message stored at or before safe_ms? */
static bool
rcv_file_is_safe(rmq_cl *cl, uint32_t i, int64_t safe_ms)
{
    uint8_t     *p;
    int64_t      avail;
    rmq_rec_view v;

    if (rmq_mfq_span(&cl->q, cl->q.files[i].start, &p, &avail) != 0 ||
        rmq_rec_decode(p, (size_t)avail, false, &v) != 0) {
        return false;
    }
    return v.kind == RMQ_REC_MSG && v.store_ts != 0 && v.store_ts <= safe_ms;
}

/* Crash restart: the newest file that starts before the safe time. */
static int64_t
rcv_start_abnormal(rcv_ctx *c)
{
    char     path[PATH_MAX];
    rmq_ckpt cp;
    int64_t  safe;

    snprintf(path, sizeof(path), "%s/%s", c->o->root, RMQ_CKPT_FILE);
    (void)rmq_ckpt_read(path, &cp); /* missing: zeros, so first file */
    safe = rmq_ckpt_safe_ms(&cp, c->o->index_safe);
    for (uint32_t i = c->cl.q.nfiles; i-- > 0;) {
        if (rcv_file_is_safe(&c->cl, i, safe)) {
            return c->cl.q.files[i].start;
        }
    }
    return rmq_cl_min_offset(&c->cl);
}

static int
rcv_commitlog(rcv_ctx *c)
{
    rmq_store_state *st = c->st;
    rmq_cl_opts      co = {0};
    char             dir[PATH_MAX];
    rcv_walk         w;
    int              rc;

    snprintf(dir, sizeof(dir), "%s/%s", c->o->root, RMQ_CL_DIR);
    co.dir = dir;
    co.file_size = c->o->cl_file_size;
    co.writable = true;
    rc = rmq_cl_open(&c->cl, &co);
    if (rc != 0) {
        return rc;
    }
    st->cl_min = rmq_cl_min_offset(&c->cl);
    st->verify_from =
        st->abnormal ? rcv_start_abnormal(c) : rcv_start_normal(&c->cl);
    rc = rcv_walk_from(&c->cl, st->verify_from, st->abnormal || c->o->check_crc,
                       &w);
    if (rc != 0) {
        return rc;
    }
    st->cl_end = w.pos;
    st->last_store_ms = w.last_store_ms;
    st->records_checked = w.records;
    if (w.why != NULL) {
        rcv_report(c, &w);
    }
    /* zero what follows the end, drop later files: nothing stale stays */
    return rmq_mfq_truncate(&c->cl.q, st->cl_end);
}

/* ---- consume queues -------------------------------------------------- */

/* Bytes after next that a crash may have left: later files, or junk. */
static bool
rcv_cq_has_stale(rmq_cq *cq, int64_t next)
{
    rmq_cq_entry e;
    int64_t      off = next * RMQ_CQ_ENTRY_SIZE;

    if (rmq_mfq_max_offset(&cq->q) >
        rmq_mfq_file_start(&cq->q, off) + cq->q.file_size) {
        return true;
    }
    return rmq_cq_get(cq, next, &e) == 0 &&
           (e.offset != 0 || e.size != 0 || e.tags_code != 0);
}

/* Cut entries past the log end, and stale bytes after the last entry. */
static int
rcv_cut_cq(rcv_ctx *c, rmq_cq *cq, int64_t *next, int64_t *phys_end)
{
    int64_t before = *next;
    bool    stale = c->st->abnormal || rcv_cq_has_stale(cq, *next);
    int     rc = rmq_cq_truncate_phys(cq, c->st->cl_end, next);

    if (rc == 0 && *next == before && stale) {
        rc = rmq_cq_truncate(cq, *next);
    }
    if (rc == 0 && *next != before) {
        rc = rmq_cq_last_valid(cq, next, phys_end);
    }
    return rc;
}

static int
rcv_one_cq(rcv_ctx *c, const char *topic, int32_t qid)
{
    rmq_cq     cq;
    rcv_queue *q;
    int64_t    next = 0, end = 0, min = 0;
    int        rc;

    rc = rmq_cq_open(&cq, c->o->root, topic, strlen(topic), qid,
                     c->o->cq_file_size, true);
    if (rc == RMQ_ERR_INVAL) {
        rmq_log(RMQ_LOG_WARN, "cq.recover",
                "skipping consume queue %s/%d: not a usable topic", topic,
                (int)qid);
        return 0;
    }
    if (rc != 0) {
        return rc;
    }
    rc = rmq_cq_last_valid(&cq, &next, &end);
    if (rc == 0) {
        rc = rcv_cut_cq(c, &cq, &next, &end);
    }
    if (rc == 0) {
        rc = rmq_cq_min_index(&cq, c->st->cl_min, next, &min);
    }
    if (rc == 0) {
        rc = rcv_queue_get(c, topic, strlen(topic), qid, &q);
    }
    if (rc == 0) {
        q->cq_min = min;
        q->cq_max = next;
        c->st->cq_max_phys = RMQ_MAX(c->st->cq_max_phys, end);
    }
    rmq_cq_close(&cq);
    return rc;
}

static int
rcv_topic_dir(rcv_ctx *c, const char *base, const char *topic)
{
    char           dir[PATH_MAX];
    DIR           *d;
    struct dirent *de;
    int            rc = 0;

    snprintf(dir, sizeof(dir), "%s/%s", base, topic);
    d = opendir(dir);
    if (d == NULL) {
        return 0; /* a stray file, not a topic */
    }
    while (rc == 0 && (de = readdir(d)) != NULL) {
        int32_t qid;

        if (de->d_name[0] == '.') {
            continue;
        }
        if (rmq_parse_i32(de->d_name, &qid) != 0 || qid < 0) {
            rmq_log(RMQ_LOG_WARN, "cq.recover",
                    "skipping \"%s/%s\": not a queue id", dir, de->d_name);
            continue;
        }
        rc = rcv_one_cq(c, topic, qid);
    }
    closedir(d);
    return rc;
}

static int
rcv_cqs(rcv_ctx *c)
{
    char           base[PATH_MAX];
    DIR           *d;
    struct dirent *de;
    int            rc = 0;

    snprintf(base, sizeof(base), "%s/%s", c->o->root, RMQ_CQ_DIR);
    d = opendir(base);
    if (d == NULL) {
        if (errno == ENOENT) {
            return 0;
        }
        rmq_log_sys(RMQ_LOG_ERR, "cq.recover", errno, "could not open \"%s\"",
                    base);
        return RMQ_ERR_SYS;
    }
    while (rc == 0 && (de = readdir(d)) != NULL) {
        if (de->d_name[0] != '.') {
            rc = rcv_topic_dir(c, base, de->d_name);
        }
    }
    closedir(d);
    return rc;
}

/* ---- dispatcher start and next queue offsets ------------------------- */

static void
rcv_dispatch_from(rcv_ctx *c)
{
    rmq_store_state *st = c->st;
    int64_t          d = RMQ_MAX(st->cq_max_phys, st->cl_min);

    /* after a crash, records from the checked file on are re-dispatched */
    if (st->abnormal) {
        d = RMQ_MIN(d, st->verify_from);
    }
    st->dispatch_from = RMQ_MIN(RMQ_MAX(d, st->cl_min), st->cl_end);
}

/*
 * Records not yet in any consume queue still hold queue offsets: the
 * next offset of a queue is past the highest one among them.
 */
static int
rcv_cl_offsets(rcv_ctx *c)
{
    rmq_cl_iter  it;
    rmq_rec_view v;
    int64_t      off;
    int          rc;

    rmq_cl_iter_init(&it, &c->cl, c->st->dispatch_from, c->st->cl_end, false);
    while ((rc = rmq_cl_iter_next(&it, &v, &off)) == 0) {
        rcv_queue *q;

        if (!rmq_rec_is_dispatchable(v.sysflag)) {
            continue; /* prepared/rollback: queue offset 0, not counted */
        }
        rc = rcv_queue_get(c, v.topic, v.topic_len, v.queue_id, &q);
        if (rc == RMQ_ERR_NOMEM) {
            return rc;
        }
        if (rc == 0) {
            q->cl_next = RMQ_MAX(q->cl_next, v.queue_offset + 1);
        }
    }
    if (rc != RMQ_ERR_AGAIN) {
        rmq_log(RMQ_LOG_WARN, "cl.recover",
                "could not read the commit log at %" PRId64
                " while counting queue offsets: %s",
                it.pos, rmq_strerror(rc));
    }
    return 0;
}

static int
rcv_queue_cmp(const void *a, const void *b)
{
    const rmq_queue_next *x = a, *y = b;
    int                   r = strcmp(x->topic, y->topic);

    if (r != 0) {
        return r;
    }
    return x->queue_id < y->queue_id ? -1 : x->queue_id > y->queue_id;
}

static int
rcv_build_state(rcv_ctx *c)
{
    rmq_store_state *st = c->st;

    st->queues = calloc(c->nq > 0 ? c->nq : 1, sizeof(*st->queues));
    if (st->queues == NULL) {
        return RMQ_ERR_NOMEM;
    }
    for (size_t i = 0; i < c->nq; i++) {
        const rcv_queue *q = c->qs[i];
        rmq_queue_next  *o = &st->queues[i];

        memcpy(o->topic, q->key.topic, q->key.topic_len + 1);
        o->queue_id = q->key.queue_id;
        o->cq_min = q->cq_min;
        o->cq_max = q->cq_max;
        o->next_offset = RMQ_MAX(q->cq_max, q->cl_next);
    }
    st->nqueues = c->nq;
    qsort(st->queues, st->nqueues, sizeof(*st->queues), rcv_queue_cmp);
    return 0;
}

int
rmq_store_recover(const rmq_store_opts *o, rmq_store_state *out)
{
    rcv_ctx c;
    int     rc;

    memset(out, 0, sizeof(*out));
    memset(&c, 0, sizeof(c));
    c.o = o;
    c.st = out;
    out->abnormal = rmq_store_abort_exists(o->root);
    out->stop_offset = -1;
    out->stop_file = -1;
    rc = rmq_qmap_init(&c.map, 1024);
    if (rc == 0) {
        rc = rcv_commitlog(&c);
    }
    if (rc == 0) {
        rc = rcv_cqs(&c);
    }
    if (rc == 0) {
        rcv_dispatch_from(&c);
        rc = rcv_cl_offsets(&c);
    }
    if (rc == 0) {
        rc = rcv_build_state(&c);
    }
    rcv_ctx_free(&c);
    if (rc != 0) {
        rmq_store_state_free(out);
        return rc;
    }
    rmq_log(RMQ_LOG_INFO, "store.recover",
            "%s recovery: commit log %" PRId64 "..%" PRId64
            ", checked from %" PRId64 " (%" PRId64
            " records), dispatch from %" PRId64 ", %zu queues",
            out->abnormal ? "abnormal" : "normal", out->cl_min, out->cl_end,
            out->verify_from, out->records_checked, out->dispatch_from,
            out->nqueues);
    return 0;
}

void
rmq_store_state_free(rmq_store_state *s)
{
    free(s->queues);
    s->queues = NULL;
    s->nqueues = 0;
}

const rmq_queue_next *
rmq_store_state_find(const rmq_store_state *s, const char *topic, size_t len,
                     int32_t queue_id)
{
    rmq_queue_next key;

    if (len == 0 || len >= sizeof(key.topic)) {
        return NULL;
    }
    memcpy(key.topic, topic, len);
    key.topic[len] = '\0';
    key.queue_id = queue_id;
    return bsearch(&key, s->queues, s->nqueues, sizeof(*s->queues),
                   rcv_queue_cmp);
}

int64_t
rmq_store_state_next_offset(void *state, const char *topic, int32_t queue_id)
{
    const rmq_queue_next *q =
        rmq_store_state_find(state, topic, strlen(topic), queue_id);

    return q != NULL ? q->next_offset : 0;
}
