/*
 * buf.h - a growable byte buffer with big-endian appenders.  Used to build
 * frames, JSON text and records.  Owned by one thread; no shared state.
 * Appends never fail silently: a failed growth sets buf->oom and later
 * appends do nothing, so a caller can append many pieces and check once.
 */
#ifndef RMQ_BUF_H
#define RMQ_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct rmq_buf {
    uint8_t *data;
    size_t   len;
    size_t   cap;
    bool     oom;
} rmq_buf;

void rmq_buf_init(rmq_buf *b);
void rmq_buf_free(rmq_buf *b);
void rmq_buf_reset(rmq_buf *b);
/* Make room for n more bytes; returns 0 or RMQ_ERR_NOMEM. */
int rmq_buf_reserve(rmq_buf *b, size_t n);
/* Returns a pointer to n new bytes at the end (uninitialised), or NULL. */
uint8_t *rmq_buf_extend(rmq_buf *b, size_t n);
void     rmq_buf_append(rmq_buf *b, const void *p, size_t n);
void     rmq_buf_append_str(rmq_buf *b, const char *s);
void     rmq_buf_printf(rmq_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void rmq_buf_u8(rmq_buf *b, uint8_t v);
void rmq_buf_be16(rmq_buf *b, uint16_t v);
void rmq_buf_be32(rmq_buf *b, uint32_t v);
void rmq_buf_be64(rmq_buf *b, uint64_t v);
/* Drop the first n bytes, moving the rest to the front. */
void rmq_buf_consume(rmq_buf *b, size_t n);
/* NUL-terminate without counting the NUL in len. */
const char *rmq_buf_cstr(rmq_buf *b);

#endif
