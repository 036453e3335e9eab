/*
 * util.c - see util.h.  Small helpers, any process.
 */
#include "common/util.h"

#include "common/err.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

int64_t
rmq_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
rmq_mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
rmq_mono_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Decode one UTF-8 sequence at s[*i]; invalid input yields U+FFFD. */
static uint32_t
util_utf8_next(const unsigned char *s, size_t len, size_t *i)
{
    unsigned char c = s[*i];
    uint32_t      cp;
    size_t        need;

    if (c < 0x80) {
        (*i)++;
        return c;
    }
    if (c >= 0xC2 && c <= 0xDF) {
        need = 1;
        cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 2;
        cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 3;
        cp = c & 0x07;
    } else {
        (*i)++;
        return 0xFFFD;
    }
    if (*i + need >= len) {
        (*i)++;
        return 0xFFFD;
    }
    for (size_t k = 1; k <= need; k++) {
        if ((s[*i + k] & 0xC0) != 0x80) {
            (*i)++;
            return 0xFFFD;
        }
        cp = (cp << 6) | (s[*i + k] & 0x3F);
    }
    if ((need == 2 && cp < 0x800) || (need == 3 && cp < 0x10000) ||
        cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
        (*i)++;
        return 0xFFFD;
    }
    *i += need + 1;
    return cp;
}

int32_t
rmq_java_hash(const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    uint32_t             h = 0;
    size_t               i = 0;

    while (i < len) {
        uint32_t cp = util_utf8_next(u, len, &i);
        if (cp >= 0x10000) {
            cp -= 0x10000;
            h = 31 * h + (0xD800 + (cp >> 10));
            h = 31 * h + (0xDC00 + (cp & 0x3FF));
        } else {
            h = 31 * h + cp;
        }
    }
    return (int32_t)h;
}

uint32_t
rmq_body_crc(const void *data, size_t len)
{
    uLong crc = crc32(0L, Z_NULL, 0);

    while (len > 0) {
        uInt chunk = len > (1u << 30) ? (1u << 30) : (uInt)len;
        crc = crc32(crc, data, chunk);
        data = (const uint8_t *)data + chunk;
        len -= chunk;
    }
    return (uint32_t)crc & 0x7FFFFFFFu;
}

void
rmq_hex_upper(const void *data, size_t len, char *out)
{
    static const char digits[] = "0123456789ABCDEF";
    const uint8_t    *b = data;

    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[b[i] >> 4];
        out[2 * i + 1] = digits[b[i] & 0xF];
    }
    out[2 * len] = '\0';
}

static int
util_hexval(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

int
rmq_hex_decode(const char *hex, size_t hexlen, void *out, size_t cap)
{
    uint8_t *b = out;

    if (hexlen % 2 != 0 || hexlen / 2 > cap) {
        return -1;
    }
    for (size_t i = 0; i < hexlen / 2; i++) {
        int hi = util_hexval(hex[2 * i]);
        int lo = util_hexval(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            return -1;
        }
        b[i] = (uint8_t)(hi << 4 | lo);
    }
    return (int)(hexlen / 2);
}

int
rmq_parse_i64(const char *s, int64_t *out)
{
    char     *end;
    long long v;

    /* like Java's Long.parseLong: optional sign (+ or -), digits only */
    if (s == NULL || *s == '\0' || *s == ' ' || *s == '\t' ||
        ((*s == '+' || *s == '-') && (s[1] < '0' || s[1] > '9'))) {
        return RMQ_ERR_INVAL;
    }
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno == ERANGE) {
        return RMQ_ERR_RANGE;
    }
    if (*end != '\0' || end == s) {
        return RMQ_ERR_INVAL;
    }
    *out = v;
    return 0;
}

int
rmq_parse_i32(const char *s, int32_t *out)
{
    int64_t v;
    int     rc = rmq_parse_i64(s, &v);

    if (rc != 0) {
        return rc;
    }
    if (v < INT32_MIN || v > INT32_MAX) {
        return RMQ_ERR_RANGE;
    }
    *out = (int32_t)v;
    return 0;
}

bool
rmq_parse_bool(const char *s)
{
    return s != NULL && strcasecmp(s, "true") == 0;
}

bool
rmq_strlcpy(char *dst, const char *src, size_t cap)
{
    size_t n = strlen(src);

    if (cap == 0) {
        return false;
    }
    if (n >= cap) {
        memcpy(dst, src, cap - 1);
        dst[cap - 1] = '\0';
        return false;
    }
    memcpy(dst, src, n + 1);
    return true;
}

int
rmq_file_reserve(int fd, int64_t size)
{
    if (fallocate(fd, 0, 0, (off_t)size) == 0) {
        return 0;
    }
    if (errno != EOPNOTSUPP && errno != ENOSYS) {
        return errno;
    }
    return ftruncate(fd, (off_t)size) == 0 ? 0 : errno;
}
