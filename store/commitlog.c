/*
 * commitlog.c - commit-log append (clwriter), file roll, create-ahead and
 * pre-faulting, and in-place reads (every reader).  See commitlog.h.
 * Touches the files under <storeRoot>/commitlog only; positions are
 * published by the callers.
 */
#include "store/commitlog.h"

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define CL_PAGE 4096
#define CL_PREFAULT_STEP (INT64_C(1) << 20) /* per maintain call */

int
rmq_cl_open(rmq_cl *cl, const rmq_cl_opts *o)
{
    int rc;

    memset(cl, 0, sizeof(*cl));
    if (o->file_size <= RMQ_REC_BLANK_LEN || o->prefault_bytes < 0) {
        return RMQ_ERR_INVAL;
    }
    rc = rmq_mfq_open(&cl->q, o->dir, o->file_size, o->writable);
    if (rc != 0) {
        return rc;
    }
    cl->prefault_bytes = o->prefault_bytes;
    cl->write_pos = -1;
    if (o->writable && o->background_prefault && o->prefault_bytes > 0) {
        cl->pf = malloc(sizeof(*cl->pf));
        if (cl->pf == NULL || rmq_prefaulter_start(cl->pf) != 0) {
            free(cl->pf);
            cl->pf = NULL; /* fall back to faulting in from maintain */
        }
    }
    return 0;
}

void
rmq_cl_close(rmq_cl *cl)
{
    if (cl->pf != NULL) {
        rmq_prefaulter_stop(cl->pf); /* before the mappings go away */
        free(cl->pf);
    }
    rmq_mfq_close(&cl->q);
    memset(cl, 0, sizeof(*cl));
    cl->write_pos = -1;
}

/* Make the file starting at start current, creating it if needed. */
static int
cl_enter_file(rmq_cl *cl, int64_t start)
{
    uint8_t *p;
    int      rc;

    while (rmq_mfq_max_offset(&cl->q) <= start) {
        int64_t next = cl->q.nfiles > 0 ? rmq_mfq_max_offset(&cl->q) : start;

        rc = rmq_mfq_create(&cl->q, next);
        if (rc != 0) {
            return rc;
        }
    }
    rc = rmq_mfq_ptr(&cl->q, start, (size_t)cl->q.file_size, &p);
    if (rc != 0) {
        return rc;
    }
    cl->cur = p;
    cl->cur_start = start;
    return 0;
}

int
rmq_cl_start(rmq_cl *cl, int64_t pos)
{
    int rc;

    if (!cl->q.writable || pos < 0 ||
        (cl->q.nfiles > 0 && pos < rmq_mfq_min_offset(&cl->q))) {
        return RMQ_ERR_INVAL;
    }
    rc = cl_enter_file(cl, rmq_mfq_file_start(&cl->q, pos));
    if (rc != 0) {
        return rc;
    }
    cl->write_pos = pos;
    cl->prefault_to = pos;
    cl->start_pos = pos;
    return 0;
}

/*
 * End the current file with a BLANK record (maxBlank = bytes left,
 * spec 2.3) and move to the start of the next file.  The rest of the
 * old file stays zero.
 */
static int
cl_roll(rmq_cl *cl)
{
    int64_t  file_end = cl->cur_start + cl->q.file_size;
    uint8_t *dst = cl->cur + (cl->write_pos - cl->cur_start);
    int      rc;

    if (rmq_mfq_max_offset(&cl->q) <= file_end) {
        rmq_log(RMQ_LOG_INFO, "cl.roll",
                "next commit-log file was not created ahead; creating it "
                "inside an append");
    }
    rc = cl_enter_file(cl, file_end);
    if (rc != 0) {
        return rc;
    }
    /* raw (replicated) bytes may have filled the file to its last byte */
    if (file_end - cl->write_pos >= RMQ_REC_BLANK_LEN) {
        rmq_put_be32(dst, (uint32_t)(file_end - cl->write_pos));
        rmq_put_be32(dst + 4, RMQ_REC_MAGIC_BLANK);
    }
    cl->write_pos = file_end;
    return 0;
}

int
rmq_cl_append(rmq_cl *cl, const void *rec, uint32_t len, int64_t queue_offset,
              int64_t store_ts, int64_t *phys)
{
    rmq_rec_view v;
    uint8_t     *dst;
    int          rc;

    if (cl->cur == NULL) {
        return RMQ_ERR_INVAL;
    }
    /* bytes from another process: a bad record must never reach disk */
    if (rmq_rec_decode(rec, len, false, &v) != 0 || v.kind != RMQ_REC_MSG ||
        v.total_size != len) {
        return RMQ_ERR_PROTO;
    }
    if ((int64_t)len + RMQ_REC_BLANK_LEN > cl->q.file_size) {
        return RMQ_ERR_TOOBIG;
    }
    if ((int64_t)len + RMQ_REC_BLANK_LEN >
        cl->cur_start + cl->q.file_size - cl->write_pos) {
        rc = cl_roll(cl);
        if (rc != 0) {
            return rc;
        }
    }
    dst = cl->cur + (cl->write_pos - cl->cur_start);
    memcpy(dst, rec, len);
    rmq_rec_fixup(dst, queue_offset, cl->write_pos, store_ts);
    *phys = cl->write_pos;
    cl->write_pos += len;
    return 0;
}

int
rmq_cl_append_raw(rmq_cl *cl, int64_t off, const void *data, size_t len)
{
    int64_t file_end;
    int     rc;

    if (cl->cur == NULL || off != cl->write_pos) {
        return RMQ_ERR_INVAL;
    }
    file_end = cl->cur_start + cl->q.file_size;
    if (cl->write_pos == file_end) {
        rc = cl_enter_file(cl, file_end);
        if (rc != 0) {
            return rc;
        }
        file_end += cl->q.file_size;
    }
    if ((int64_t)len > file_end - cl->write_pos) {
        return RMQ_ERR_RANGE;
    }
    memcpy(cl->cur + (cl->write_pos - cl->cur_start), data, len);
    cl->write_pos += (int64_t)len;
    return 0;
}

/*
 * The pre-fault window: prefault_bytes, but never more than what was
 * written since start, so an idle broker keeps no pages it does not use.
 */
static int64_t
cl_window(const rmq_cl *cl)
{
    return RMQ_MIN(cl->prefault_bytes,
                   RMQ_MAX(cl->write_pos - cl->start_pos, CL_PAGE));
}

/* Pre-fault the next slice of [write_pos, write_pos + window). */
static void
cl_prefault(rmq_cl *cl)
{
    int64_t want = cl->write_pos + cl_window(cl);
    int64_t from = RMQ_MAX(cl->prefault_to, cl->write_pos);
    int64_t step = cl->pf ? CL_PREFAULT_STEP / 4 : CL_PREFAULT_STEP;
    int64_t to;

    from -= from % CL_PAGE;
    if (cl->pf == NULL) {
        want = RMQ_MIN(want, from + CL_PREFAULT_STEP);
    }
    while (from < want) {
        uint8_t *p;
        int64_t  avail;

        if (rmq_mfq_span(&cl->q, from, &p, &avail) != 0) {
            break; /* the next file is not there yet */
        }
        to = RMQ_MIN(RMQ_MIN(want, from + avail), from + step);
        if (cl->pf == NULL) {
            rmq_populate(p, (size_t)(to - from));
        } else if (!rmq_prefaulter_post(cl->pf, p, (size_t)(to - from))) {
            break; /* the thread is behind: try again on the next call */
        }
        from = to;
    }
    cl->prefault_to = RMQ_MAX(cl->prefault_to, from);
}

int
rmq_cl_maintain(rmq_cl *cl)
{
    int64_t file_end;
    int     rc;

    if (cl->cur == NULL) {
        return RMQ_ERR_INVAL;
    }
    file_end = cl->cur_start + cl->q.file_size;
    if (rmq_mfq_max_offset(&cl->q) == file_end &&
        (cl->write_pos - cl->cur_start >= cl->q.file_size / 2 ||
         cl->write_pos + cl->prefault_bytes > file_end)) {
        rc = rmq_mfq_create(&cl->q, file_end);
        if (rc != 0) {
            return rc;
        }
    }
    if (cl->prefault_bytes > 0 &&
        cl->prefault_to < cl->write_pos + cl_window(cl)) {
        cl_prefault(cl);
    }
    return 0;
}

int
rmq_cl_sync(rmq_cl *cl, int64_t from, int64_t to)
{
    return rmq_mfq_sync(&cl->q, from, to);
}

int
rmq_cl_read(rmq_cl *cl, int64_t off, int64_t end, bool check_crc,
            rmq_rec_view *out)
{
    uint8_t *p;
    int64_t  avail;
    int      rc;

    if (off >= end) {
        return RMQ_ERR_AGAIN;
    }
    rc = rmq_mfq_span(&cl->q, off, &p, &avail);
    if (rc != 0) {
        return rc;
    }
    /* a BLANK's size runs to the end of the file, past end: let it */
    rc = rmq_rec_decode(p, (size_t)avail, check_crc, out);
    if (rc != 0 || out->kind == RMQ_REC_END) {
        return RMQ_ERR_CORRUPT;
    }
    if (out->kind == RMQ_REC_MSG && off + out->total_size > end) {
        return RMQ_ERR_AGAIN;
    }
    return 0;
}

void
rmq_cl_iter_init(rmq_cl_iter *it, rmq_cl *cl, int64_t from, int64_t end,
                 bool check_crc)
{
    it->cl = cl;
    it->pos = from;
    it->end = end;
    it->check_crc = check_crc;
}

int
rmq_cl_iter_next(rmq_cl_iter *it, rmq_rec_view *out, int64_t *off)
{
    for (;;) {
        int rc = rmq_cl_read(it->cl, it->pos, it->end, it->check_crc, out);

        if (rc != 0) {
            return rc;
        }
        if (out->kind == RMQ_REC_BLANK) {
            it->pos =
                rmq_mfq_file_start(&it->cl->q, it->pos) + it->cl->q.file_size;
            continue;
        }
        *off = it->pos;
        it->pos += out->total_size;
        return 0;
    }
}
