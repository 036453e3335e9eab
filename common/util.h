/*
 * util.h - small pure helpers shared by every process and by librmq:
 * clocks, big-endian byte access, the Java String.hashCode used for tag
 * codes, CRC-32 as RocketMQ stores it, hex, strict number parsing.
 */
#ifndef RMQ_UTIL_H
#define RMQ_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define RMQ_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define RMQ_MIN(a, b) ((a) < (b) ? (a) : (b))
#define RMQ_MAX(a, b) ((a) > (b) ? (a) : (b))
#define RMQ_CACHELINE 64
#define RMQ_UNUSED(x) ((void)(x))

/* Wall clock, Unix epoch milliseconds (store and born timestamps). */
int64_t rmq_now_ms(void);
/* Monotonic clock in milliseconds / microseconds (timeouts, latency). */
int64_t rmq_mono_ms(void);
int64_t rmq_mono_us(void);

/* Big-endian access; p need not be aligned. */
static inline uint16_t
rmq_be16(const void *p)
{
    const uint8_t *b = p;
    return (uint16_t)((b[0] << 8) | b[1]);
}

static inline uint32_t
rmq_be32(const void *p)
{
    const uint8_t *b = p;
    return ((uint32_t)b[0] << 24) | ((uint32_t)b[1] << 16) |
           ((uint32_t)b[2] << 8) | b[3];
}

static inline uint64_t
rmq_be64(const void *p)
{
    const uint8_t *b = p;
    return ((uint64_t)rmq_be32(b) << 32) | rmq_be32(b + 4);
}

static inline void
rmq_put_be16(void *p, uint16_t v)
{
    uint8_t *b = p;
    b[0] = (uint8_t)(v >> 8);
    b[1] = (uint8_t)v;
}

static inline void
rmq_put_be32(void *p, uint32_t v)
{
    uint8_t *b = p;
    b[0] = (uint8_t)(v >> 24);
    b[1] = (uint8_t)(v >> 16);
    b[2] = (uint8_t)(v >> 8);
    b[3] = (uint8_t)v;
}

static inline void
rmq_put_be64(void *p, uint64_t v)
{
    rmq_put_be32(p, (uint32_t)(v >> 32));
    rmq_put_be32((uint8_t *)p + 4, (uint32_t)v);
}

/*
 * Java String.hashCode() of UTF-8 text, computed over its UTF-16 code
 * units (supplementary characters count as a surrogate pair), with 32-bit
 * wrap-around.  Invalid UTF-8 bytes are hashed as U+FFFD, as Java's decoder
 * replaces them.
 */
int32_t rmq_java_hash(const char *s, size_t len);

/* CRC-32 (zlib polynomial) AND 0x7FFFFFFF, as the commit log stores it. */
uint32_t rmq_body_crc(const void *data, size_t len);

/* Uppercase hex of len bytes into out (2*len chars + NUL). */
void rmq_hex_upper(const void *data, size_t len, char *out);
/* Decode hex (either case); returns bytes written or -1. */
int rmq_hex_decode(const char *hex, size_t hexlen, void *out, size_t cap);

/*
 * Strict decimal parsing of a whole string (optional sign, no spaces, no
 * trailing bytes).  Return 0 or RMQ_ERR_RANGE / RMQ_ERR_INVAL.
 */
int rmq_parse_i64(const char *s, int64_t *out);
int rmq_parse_i32(const char *s, int32_t *out);
/* Java Boolean.parseBoolean: true only for case-insensitive "true". */
bool rmq_parse_bool(const char *s);

/*
 * Give the open file fd the length size with its blocks reserved
 * (fallocate), so that stores into a shared mapping of it cannot fault
 * with SIGBUS on a full disk: the full disk shows up here as ENOSPC
 * instead.  Filesystems without fallocate get a sparse ftruncate.
 * Returns 0 or an errno value.
 */
int rmq_file_reserve(int fd, int64_t size);

/* snprintf into a fixed buffer; returns false when truncated. */
bool rmq_strlcpy(char *dst, const char *src, size_t cap);

#endif
