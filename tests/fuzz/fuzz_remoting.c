/*
 * fuzz_remoting.c - libFuzzer harness for the remoting codec
 * (proto/remoting.h).  Built only with -DRMQ_FUZZ=ON; runs as a
 * stand-alone fuzzer process, touches no shared data.
 *
 * The first input byte picks a mode, the rest is the payload:
 *   0  a receive stream: frames are peeked and decoded one after another,
 *      as a connection would, until peek asks for more bytes or refuses;
 *   1  a JSON header, wrapped in a frame here (so mutations need not keep
 *      the length words right);
 *   2  a ROCKETMQ binary header, wrapped likewise.
 * Every decode is checked against the jansson-only decoder (same result,
 * same fields), and every command that decodes is encoded again and must
 * decode back to the same fields.  Any disagreement aborts.
 */
#include "proto/remoting.h"

#include "common/buf.h"
#include "common/err.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Reused across inputs, like a connection's command and buffers. */
static rmq_rcmd fz_cmd;
static rmq_rcmd fz_slow;
static rmq_rcmd fz_back;
static rmq_buf  fz_frame;
static rmq_buf  fz_enc;
static bool     fz_ready;

static void
fz_check(bool ok)
{
    if (!ok) {
        abort();
    }
}

static bool
fz_str_eq(const char *a, const char *b)
{
    if (a == NULL || b == NULL) {
        return a == b;
    }
    return strcmp(a, b) == 0;
}

/* Same header fields and the same ext map (order may differ). */
static void
fz_same_header(const rmq_rcmd *a, const rmq_rcmd *b)
{
    fz_check(a->code == b->code && a->language == b->language &&
             a->version == b->version && a->opaque == b->opaque &&
             a->flag == b->flag);
    fz_check(fz_str_eq(a->remark, b->remark));
    fz_check(a->next == b->next);
    for (uint32_t i = 0; i < a->next; i++) {
        const char *v = rmq_rcmd_ext(b, a->ext[i].key);

        fz_check(v != NULL && strcmp(v, a->ext[i].value) == 0);
        fz_check(strlen(a->ext[i].key) == a->ext[i].key_len);
        fz_check(strlen(a->ext[i].value) == a->ext[i].value_len);
    }
}

/* Encode c again (with its body appended) and decode that. */
static void
fz_reencode(const rmq_rcmd *c)
{
    static rmq_rcmd_out o;
    int                 rc;

    rmq_rcmd_out_init(&o, c->code, c->opaque, c->flag);
    o.version = c->version;
    o.language = c->language;
    o.remark = c->remark;
    for (uint32_t i = 0; i < c->next; i++) {
        rmq_rcmd_out_ext(&o, c->ext[i].key, c->ext[i].value);
    }
    rmq_buf_reset(&fz_enc);
    rc = rmq_rcmd_encode(&o, c->body_len, &fz_enc);
    if (rc == RMQ_ERR_TOOBIG) {
        return;
    }
    fz_check(rc == 0);
    rmq_buf_append(&fz_enc, c->body, c->body_len);
    fz_check(rmq_rcmd_decode(fz_enc.data, fz_enc.len, &fz_back) == 0);
    fz_same_header(c, &fz_back);
    fz_check(fz_back.body_len == c->body_len);
    fz_check(c->body_len == 0 ||
             memcmp(fz_back.body, c->body, c->body_len) == 0);
    fz_check(rmq_rcmd_decode_jansson(fz_enc.data, fz_enc.len, &fz_slow) == 0);
    fz_same_header(c, &fz_slow);
}

static void
fz_decode_frame(const uint8_t *frame, size_t len)
{
    int rc = rmq_rcmd_decode(frame, len, &fz_cmd);
    int rc_slow = rmq_rcmd_decode_jansson(frame, len, &fz_slow);

    fz_check(rc == 0 || rc == RMQ_ERR_PROTO || rc == RMQ_ERR_NOMEM);
    fz_check(rc == rc_slow);
    if (rc != 0) {
        fz_check(fz_cmd.next == 0 && fz_cmd.remark == NULL);
        return;
    }
    fz_same_header(&fz_cmd, &fz_slow);
    fz_check(fz_cmd.body_len == 0
                 ? fz_cmd.body == NULL
                 : fz_cmd.body == frame + len - fz_cmd.body_len);
    fz_reencode(&fz_cmd);
}

static void
fz_stream(const uint8_t *data, size_t size)
{
    size_t off = 0;

    while (off < size) {
        size_t flen = 0;
        int rc = rmq_frame_peek(data + off, size - off, RMQ_FRAME_MAX, &flen);

        if (rc != 0) {
            fz_check(rc == RMQ_ERR_AGAIN || rc == RMQ_ERR_TOOBIG ||
                     rc == RMQ_ERR_PROTO);
            return;
        }
        fz_check(flen >= 8 && flen <= size - off);
        fz_decode_frame(data + off, flen);
        off += flen;
    }
}

/* Wrap a header in a frame without a body. */
static void
fz_wrapped(uint8_t type, const uint8_t *hdr, size_t len)
{
    size_t flen = 0;

    if (len >= 0xFFFFFF) {
        return;
    }
    rmq_buf_reset(&fz_frame);
    rmq_buf_be32(&fz_frame, (uint32_t)(4 + len));
    rmq_buf_be32(&fz_frame, ((uint32_t)type << 24) | (uint32_t)len);
    rmq_buf_append(&fz_frame, hdr, len);
    fz_check(!fz_frame.oom);
    fz_check(rmq_frame_peek(fz_frame.data, fz_frame.len, RMQ_FRAME_MAX,
                            &flen) == 0 &&
             flen == fz_frame.len);
    fz_decode_frame(fz_frame.data, fz_frame.len);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!fz_ready) {
        rmq_rcmd_init(&fz_cmd);
        rmq_rcmd_init(&fz_slow);
        rmq_rcmd_init(&fz_back);
        rmq_buf_init(&fz_frame);
        rmq_buf_init(&fz_enc);
        fz_ready = true;
    }
    if (size == 0) {
        return 0;
    }
    switch (data[0] % 3) {
    case 0:
        fz_stream(data + 1, size - 1);
        break;
    case 1:
        fz_wrapped(RMQ_SERIALIZE_JSON, data + 1, size - 1);
        break;
    default:
        fz_wrapped(RMQ_SERIALIZE_ROCKETMQ, data + 1, size - 1);
        break;
    }
    return 0;
}
