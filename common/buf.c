/*
 * buf.c - see buf.h.
 */
#include "common/buf.h"

#include "common/err.h"
#include "common/util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
rmq_buf_init(rmq_buf *b)
{
    memset(b, 0, sizeof(*b));
}

void
rmq_buf_free(rmq_buf *b)
{
    free(b->data);
    memset(b, 0, sizeof(*b));
}

void
rmq_buf_reset(rmq_buf *b)
{
    b->len = 0;
    b->oom = false;
}

int
rmq_buf_reserve(rmq_buf *b, size_t n)
{
    size_t   want;
    uint8_t *p;

    if (b->oom) {
        return RMQ_ERR_NOMEM;
    }
    if (b->cap - b->len > n) {
        return 0;
    }
    want = b->cap ? b->cap : 256;
    while (want - b->len <= n) {
        if (want > SIZE_MAX / 2) {
            b->oom = true;
            return RMQ_ERR_NOMEM;
        }
        want *= 2;
    }
    p = realloc(b->data, want);
    if (p == NULL) {
        b->oom = true;
        return RMQ_ERR_NOMEM;
    }
    b->data = p;
    b->cap = want;
    return 0;
}

uint8_t *
rmq_buf_extend(rmq_buf *b, size_t n)
{
    uint8_t *p;

    if (rmq_buf_reserve(b, n) != 0) {
        return NULL;
    }
    p = b->data + b->len;
    b->len += n;
    return p;
}

void
rmq_buf_append(rmq_buf *b, const void *p, size_t n)
{
    uint8_t *dst = rmq_buf_extend(b, n);

    if (dst != NULL && n > 0) {
        memcpy(dst, p, n);
    }
}

void
rmq_buf_append_str(rmq_buf *b, const char *s)
{
    rmq_buf_append(b, s, strlen(s));
}

void
rmq_buf_printf(rmq_buf *b, const char *fmt, ...)
{
    va_list ap;
    int     n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || rmq_buf_reserve(b, (size_t)n + 1) != 0) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void
rmq_buf_u8(rmq_buf *b, uint8_t v)
{
    rmq_buf_append(b, &v, 1);
}

void
rmq_buf_be16(rmq_buf *b, uint16_t v)
{
    uint8_t *p = rmq_buf_extend(b, 2);

    if (p != NULL) {
        rmq_put_be16(p, v);
    }
}

void
rmq_buf_be32(rmq_buf *b, uint32_t v)
{
    uint8_t *p = rmq_buf_extend(b, 4);

    if (p != NULL) {
        rmq_put_be32(p, v);
    }
}

void
rmq_buf_be64(rmq_buf *b, uint64_t v)
{
    uint8_t *p = rmq_buf_extend(b, 8);

    if (p != NULL) {
        rmq_put_be64(p, v);
    }
}

void
rmq_buf_consume(rmq_buf *b, size_t n)
{
    if (n >= b->len) {
        b->len = 0;
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
}

const char *
rmq_buf_cstr(rmq_buf *b)
{
    if (rmq_buf_reserve(b, 1) != 0) {
        return "";
    }
    b->data[b->len] = '\0';
    return (const char *)b->data;
}
